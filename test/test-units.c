/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <pthread.h>
#include <sys/socket.h>
#include <systemd/sd-id128.h>

#include "tests.h"
#include "units.h"
#include "util.h"

#define JOB_PATH_PREFIX "/org/freedesktop/systemd1/job"
#define UNIT_PATH_PREFIX "/org/freedesktop/systemd1/unit"

/* When the fake systemd says a job is over. */
typedef enum JobTiming {
        JOB_LATER,        /* JobRemoved a little after the method reply */
        JOB_BEFORE_REPLY, /* JobRemoved even before the method reply */
        JOB_AFTER_REPLY,  /* right behind the reply */
        JOB_NEVER,        /* the job hangs */
        JOB_VANISH,       /* the job ends but its signal is lost */
} JobTiming;

typedef struct FakeUnit {
        const char *name;
        const char *active_state;
        const char *job_result; /* what every job of this unit ends with */
        JobTiming timing;
        bool service;                     /* has the Service interface */
        bool start_limit_hit;             /* starts fail until ResetFailedUnit */
        const char *const *exec_start[4]; /* its ExecStart argvs */
} FakeUnit;

#define FAKE_UNIT(n, state, result, t) \
        { .name = (n), .active_state = (state), .job_result = (result), .timing = (t) }

typedef struct FakeJob {
        char path[64];
        uint32_t id;
        FakeUnit *unit;
        bool stop;
        bool active;
        uint64_t due;
} FakeJob;

/* Everything below is touched only by the server thread while it runs;
 * the test reads it after joining. */
typedef struct FakeSystemd {
        FakeUnit *units;
        size_t n_units;
        FakeJob jobs[32];
        size_t n_jobs;
        uint32_t next_id;
        unsigned n_subscribe;
        unsigned n_reset_failed;
        unsigned n_reload;
        bool subscribed;
        uint64_t job_delay_usec;
        /* Plays dbus-daemon too: the client is a bus client, and signals
         * reach it only through a match rule it added (AddMatch). */
        bool bus_mode;
        unsigned n_job_matches;

        int server_fd;
        pthread_t thread;
        sd_bus *client;
} FakeSystemd;

static FakeUnit *fake_find_unit(FakeSystemd *f, const char *name) {
        for (size_t i = 0; i < f->n_units; i++)
                if (streq(f->units[i].name, name))
                        return &f->units[i];
        return NULL;
}

static int fake_finish_job(sd_bus *bus, FakeSystemd *f, FakeJob *job, bool emit) {
        job->active = false;
        if (!job->stop && job->unit->start_limit_hit) {
                job->unit->job_result = "failed";
                job->unit->active_state = "failed";
        }
        if (streq(job->unit->job_result, "done"))
                job->unit->active_state = job->stop ? "inactive" : "active";
        /* Like systemd on the system bus: only subscribers hear of jobs,
         * and dbus-daemon passes a signal on only to matching clients. */
        if (!emit || !f->subscribed || (f->bus_mode && f->n_job_matches == 0))
                return 0;
        return sd_bus_emit_signal(bus, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                  "JobRemoved", "uoss", job->id, job->path, job->unit->name,
                                  job->unit->job_result);
}

static int fake_queue_job(sd_bus_message *m, FakeSystemd *f, bool stop, sd_bus_error *error) {
        sd_bus *bus = sd_bus_message_get_bus(m);
        const char *name, *mode;
        int r = sd_bus_message_read(m, "ss", &name, &mode);
        if (r < 0)
                return r;
        if (!streq(mode, "replace"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unexpected job mode %s.", mode);

        FakeUnit *unit = fake_find_unit(f, name);
        if (!unit)
                return sd_bus_error_setf(error, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not found.",
                                         name);
        if (f->n_jobs == ELEMENTSOF(f->jobs))
                return sd_bus_error_set(error, SD_BUS_ERROR_LIMITS_EXCEEDED, "Too many jobs.");

        FakeJob *job = &f->jobs[f->n_jobs++];
        *job = (FakeJob) { .id = ++f->next_id, .unit = unit, .stop = stop, .active = true };
        snprintf(job->path, sizeof(job->path), JOB_PATH_PREFIX "/%" PRIu32, job->id);

        switch (unit->timing) {
        case JOB_BEFORE_REPLY:
                r = fake_finish_job(bus, f, job, true);
                if (r < 0)
                        return r;
                return sd_bus_reply_method_return(m, "o", job->path);
        case JOB_AFTER_REPLY:
        case JOB_VANISH:
                r = sd_bus_reply_method_return(m, "o", job->path);
                if (r < 0)
                        return r;
                return fake_finish_job(bus, f, job, unit->timing == JOB_AFTER_REPLY);
        case JOB_LATER:
                job->due = now_usec() + f->job_delay_usec;
                return sd_bus_reply_method_return(m, "o", job->path);
        case JOB_NEVER:
                job->due = UINT64_MAX;
                return sd_bus_reply_method_return(m, "o", job->path);
        }
        abort();
}

static int method_stop_unit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return fake_queue_job(m, userdata, true, error);
}

static int method_start_unit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return fake_queue_job(m, userdata, false, error);
}

static int method_subscribe(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeSystemd *f = userdata;
        f->n_subscribe++;
        if (f->subscribed)
                return sd_bus_error_set(error, "org.freedesktop.systemd1.AlreadySubscribed",
                                        "Client is already subscribed.");
        f->subscribed = true;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_reset_failed_unit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeSystemd *f = userdata;
        const char *name;

        int r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        f->n_reset_failed++;
        FakeUnit *unit = fake_find_unit(f, name);
        if (!unit)
                return sd_bus_error_setf(error, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded.",
                                         name);
        unit->start_limit_hit = false;
        if (streq(unit->active_state, "failed"))
                unit->active_state = "inactive";
        return sd_bus_reply_method_return(m, NULL);
}

static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeSystemd *f = userdata;
        (void) error;
        f->n_reload++;
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("StopUnit", "ss", "o", method_stop_unit, 0),
        SD_BUS_METHOD("StartUnit", "ss", "o", method_start_unit, 0),
        SD_BUS_METHOD("Subscribe", "", "", method_subscribe, 0),
        SD_BUS_METHOD("ResetFailedUnit", "s", "", method_reset_failed_unit, 0),
        SD_BUS_METHOD("Reload", "", "", method_reload, 0),
        SD_BUS_SIGNAL("JobRemoved", "uoss", 0),
        SD_BUS_VTABLE_END
};

static int method_hello(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) userdata;
        (void) error;
        return sd_bus_reply_method_return(m, "s", ":1.2");
}

static bool is_job_removed_match(const char *match) {
        return strstr(match, "member='JobRemoved'") && strstr(match, "type='signal'");
}

static int method_add_match(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeSystemd *f = userdata;
        const char *match;
        (void) error;

        int r = sd_bus_message_read(m, "s", &match);
        if (r < 0)
                return r;
        if (is_job_removed_match(match))
                f->n_job_matches++;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_remove_match(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeSystemd *f = userdata;
        const char *match;
        (void) error;

        int r = sd_bus_message_read(m, "s", &match);
        if (r < 0)
                return r;
        if (is_job_removed_match(match) && f->n_job_matches > 0)
                f->n_job_matches--;
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable dbus_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Hello", "", "s", method_hello, 0),
        SD_BUS_METHOD("AddMatch", "s", "", method_add_match, 0),
        SD_BUS_METHOD("RemoveMatch", "s", "", method_remove_match, 0),
        SD_BUS_VTABLE_END
};

static int find_unit(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                     sd_bus_error *error) {
        FakeSystemd *f = userdata;
        (void) bus;
        (void) error;

        _cleanup_free_ char *name = NULL;
        if (sd_bus_path_decode(path, UNIT_PATH_PREFIX, &name) <= 0)
                return 0;
        FakeUnit *unit = fake_find_unit(f, name);
        if (!unit)
                return 0;
        if (streq(interface, "org.freedesktop.systemd1.Service") && !unit->service)
                return 0;
        *found = unit;
        return 1;
}

static int property_active_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        FakeUnit *unit = userdata;
        (void) bus;
        (void) path;
        (void) interface;
        (void) property;
        (void) error;
        return sd_bus_message_append(reply, "s", unit->active_state);
}

static int property_exec_start(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        FakeUnit *unit = userdata;
        (void) bus;
        (void) path;
        (void) interface;
        (void) property;
        (void) error;

        int r = sd_bus_message_open_container(reply, 'a', "(sasbttttuii)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(unit->exec_start) && unit->exec_start[i]; i++) {
                const char *const *argv = unit->exec_start[i];
                r = sd_bus_message_open_container(reply, 'r', "sasbttttuii");
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "s", argv[0] ? argv[0] : "/bin/true");
                if (r < 0)
                        return r;
                r = sd_bus_message_append_strv(reply, (char **) argv);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "bttttuii", false, UINT64_C(1), UINT64_C(2), UINT64_C(3),
                                          UINT64_C(4), (uint32_t) 1234, (int32_t) 0, (int32_t) 0);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static const sd_bus_vtable unit_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("ActiveState", "s", property_active_state, 0, 0),
        SD_BUS_VTABLE_END
};

static const sd_bus_vtable service_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("ExecStart", "a(sasbttttuii)", property_exec_start, 0, 0),
        SD_BUS_VTABLE_END
};

static int find_job(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                    sd_bus_error *error) {
        FakeSystemd *f = userdata;
        (void) bus;
        (void) interface;
        (void) error;

        for (size_t i = 0; i < f->n_jobs; i++)
                if (f->jobs[i].active && streq(f->jobs[i].path, path)) {
                        *found = &f->jobs[i];
                        return 1;
                }
        return 0;
}

static int property_job_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        (void) bus;
        (void) path;
        (void) interface;
        (void) property;
        (void) userdata;
        (void) error;
        return sd_bus_message_append(reply, "s", "running");
}

static const sd_bus_vtable job_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("State", "s", property_job_state, 0, 0),
        SD_BUS_VTABLE_END
};

static void *fake_run(void *userdata) {
        FakeSystemd *f = userdata;
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        sd_id128_t id;

        ASSERT_OK(sd_bus_new(&bus));
        ASSERT_OK(sd_bus_set_fd(bus, f->server_fd, f->server_fd));
        ASSERT_OK(sd_id128_randomize(&id));
        ASSERT_OK(sd_bus_set_server(bus, 1, id));
        ASSERT_OK(sd_bus_set_anonymous(bus, 1));
        if (f->bus_mode) {
                /* What dbus-daemon would put in as systemd's unique name. */
                ASSERT_OK(sd_bus_set_sender(bus, ":1.1"));
                ASSERT_OK(sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                                   dbus_vtable, f));
        }
        ASSERT_OK(sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", manager_vtable, f));
        ASSERT_OK(sd_bus_add_fallback_vtable(bus, NULL, UNIT_PATH_PREFIX, "org.freedesktop.systemd1.Unit",
                                             unit_vtable, find_unit, f));
        ASSERT_OK(sd_bus_add_fallback_vtable(bus, NULL, UNIT_PATH_PREFIX, "org.freedesktop.systemd1.Service",
                                             service_vtable, find_unit, f));
        ASSERT_OK(sd_bus_add_fallback_vtable(bus, NULL, JOB_PATH_PREFIX, "org.freedesktop.systemd1.Job",
                                             job_vtable, find_job, f));
        ASSERT_OK(sd_bus_start(bus));

        /* Until the client hangs up. */
        for (;;) {
                int r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break;

                uint64_t now = now_usec(), next = UINT64_MAX;
                for (size_t i = 0; i < f->n_jobs; i++) {
                        FakeJob *job = &f->jobs[i];
                        if (!job->active || job->due == UINT64_MAX)
                                continue;
                        if (job->due <= now)
                                ASSERT_OK(fake_finish_job(bus, f, job, true));
                        else
                                next = MIN(next, job->due);
                }
                if (r > 0)
                        continue;

                r = sd_bus_wait(bus, next == UINT64_MAX ? UINT64_MAX : next - now);
                if (r < 0 && r != -EINTR)
                        break;
        }
        return NULL;
}

static void fake_start(FakeSystemd *f, FakeUnit *units, size_t n_units, bool bus_mode) {
        *f = (FakeSystemd) {
                .units = units,
                .n_units = n_units,
                .job_delay_usec = 50000,
                .bus_mode = bus_mode,
        };

        int fds[2];
        ASSERT_TRUE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        f->server_fd = fds[0];
        ASSERT_TRUE(pthread_create(&f->thread, NULL, fake_run, f) == 0);

        ASSERT_OK(sd_bus_new(&f->client));
        ASSERT_OK(sd_bus_set_fd(f->client, fds[1], fds[1]));
        ASSERT_OK(sd_bus_set_bus_client(f->client, bus_mode));
        ASSERT_OK(sd_bus_start(f->client));
}

static void fake_stop(FakeSystemd *f) {
        f->client = sd_bus_flush_close_unref(f->client);
        ASSERT_TRUE(pthread_join(f->thread, NULL) == 0);
}

static void assert_state(sd_bus *bus, const char *unit, const char *expected) {
        _cleanup_free_ char *state = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        ASSERT_OK(units_get_active_state(bus, unit, &state, &error));
        ASSERT_STREQ(state, expected);
}

static const char *const docker_units[] = { DOCKER_SOCKET, DOCKER_SERVICE, NULL };

static void test_stop_start(bool bus_mode) {
        FakeUnit units[] = {
                FAKE_UNIT(DOCKER_SOCKET, "active", "done", JOB_LATER),
                FAKE_UNIT(DOCKER_SERVICE, "active", "done", JOB_LATER),
        };
        FakeSystemd f;
        fake_start(&f, units, ELEMENTSOF(units), bus_mode);

        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t start = now_usec();
        ASSERT_EQ(units_stop(f.client, docker_units, 5000000, &error), 0);
        ASSERT_FALSE(sd_bus_error_is_set(&error));
        /* It really waited for the jobs. */
        ASSERT_TRUE(now_usec() - start >= 50000);
        assert_state(f.client, DOCKER_SOCKET, "inactive");
        assert_state(f.client, DOCKER_SERVICE, "inactive");

        /* Again on the same connection, which is already subscribed. */
        ASSERT_EQ(units_start(f.client, docker_units, 5000000, &error), 0);
        assert_state(f.client, DOCKER_SOCKET, "active");
        assert_state(f.client, DOCKER_SERVICE, "active");

        /* An error is optional. */
        ASSERT_EQ(units_stop(f.client, docker_units, 5000000, NULL), 0);

        static const char *const none[] = { NULL };
        ASSERT_EQ(units_stop(f.client, none, 5000000, &error), 0);

        fake_stop(&f);
        ASSERT_EQ(f.n_jobs, 6);
        ASSERT_EQ(f.n_subscribe, 4);
        ASSERT_EQ(f.n_reset_failed, 2);
        /* every match rule added was removed again */
        ASSERT_EQ(f.n_job_matches, 0);
}

static void test_job_fails(bool bus_mode) {
        FakeUnit units[] = {
                FAKE_UNIT(DOCKER_SOCKET, "active", "done", JOB_LATER),
                FAKE_UNIT(DOCKER_SERVICE, "active", "failed", JOB_LATER),
                FAKE_UNIT("containerd.service", "active", "dependency", JOB_LATER),
        };
        FakeSystemd f;
        fake_start(&f, units, ELEMENTSOF(units), bus_mode);

        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        ASSERT_EQ(units_stop(f.client, docker_units, 5000000, &error), -EIO);
        ASSERT_TRUE(sd_bus_error_has_name(&error, SD_BUS_ERROR_IO_ERROR));
        fprintf(stderr, "job failure: %s\n", error.message);
        ASSERT_TRUE(strstr(error.message, DOCKER_SERVICE));
        ASSERT_TRUE(strstr(error.message, "'failed'"));
        ASSERT_TRUE(strstr(error.message, "stop"));
        sd_bus_error_free(&error);

        /* The first unit of the list that went wrong is the one named. */
        static const char *const list[] = { "containerd.service", DOCKER_SERVICE, NULL };
        ASSERT_EQ(units_start(f.client, list, 5000000, &error), -EIO);
        ASSERT_TRUE(strstr(error.message, "containerd.service"));
        ASSERT_TRUE(strstr(error.message, "'dependency'"));
        ASSERT_TRUE(strstr(error.message, "start"));

        fake_stop(&f);
}

static void test_immediate(bool bus_mode) {
        /* Jobs that end before, or right with, the method reply. */
        FakeUnit units[] = {
                FAKE_UNIT(DOCKER_SOCKET, "active", "done", JOB_BEFORE_REPLY),
                FAKE_UNIT(DOCKER_SERVICE, "active", "done", JOB_AFTER_REPLY),
                FAKE_UNIT("other.service", "active", "canceled", JOB_BEFORE_REPLY),
        };
        FakeSystemd f;
        fake_start(&f, units, ELEMENTSOF(units), bus_mode);

        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t start = now_usec();
        ASSERT_EQ(units_stop(f.client, docker_units, 5000000, &error), 0);
        ASSERT_TRUE(now_usec() - start < 2000000);
        assert_state(f.client, DOCKER_SOCKET, "inactive");
        assert_state(f.client, DOCKER_SERVICE, "inactive");

        static const char *const other[] = { "other.service", NULL };
        ASSERT_EQ(units_stop(f.client, other, 5000000, &error), -EIO);
        ASSERT_TRUE(strstr(error.message, "other.service"));
        ASSERT_TRUE(strstr(error.message, "'canceled'"));

        fake_stop(&f);
}

static void test_vanished(bool bus_mode) {
        /* The job is gone and its signal was lost: the unit state decides. */
        FakeUnit units[] = {
                FAKE_UNIT(DOCKER_SOCKET, "active", "done", JOB_VANISH),
                FAKE_UNIT(DOCKER_SERVICE, "inactive", "failed", JOB_VANISH),
        };
        FakeSystemd f;
        fake_start(&f, units, ELEMENTSOF(units), bus_mode);

        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        static const char *const socket_unit[] = { DOCKER_SOCKET, NULL };
        static const char *const service_unit[] = { DOCKER_SERVICE, NULL };
        ASSERT_EQ(units_stop(f.client, socket_unit, 5000000, &error), 0);
        ASSERT_EQ(units_start(f.client, service_unit, 5000000, &error), -EIO);
        fprintf(stderr, "vanished job: %s\n", error.message);
        ASSERT_TRUE(strstr(error.message, DOCKER_SERVICE));
        ASSERT_TRUE(strstr(error.message, "inactive"));

        fake_stop(&f);
}

static void test_start_limit(bool bus_mode) {
        /* docker.service failed and hit its start rate limit: starting it
         * again, as a rollback does, must work. */
        FakeUnit units[] = {
                FAKE_UNIT(DOCKER_SOCKET, "failed", "done", JOB_LATER),
                FAKE_UNIT(DOCKER_SERVICE, "failed", "done", JOB_LATER),
        };
        units[1].start_limit_hit = true;
        FakeSystemd f;
        fake_start(&f, units, ELEMENTSOF(units), bus_mode);

        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        ASSERT_EQ(units_start(f.client, docker_units, 5000000, &error), 0);
        assert_state(f.client, DOCKER_SOCKET, "active");
        assert_state(f.client, DOCKER_SERVICE, "active");

        /* Stopping resets nothing. */
        ASSERT_EQ(units_stop(f.client, docker_units, 5000000, &error), 0);
        fake_stop(&f);
        ASSERT_EQ(f.n_reset_failed, 2);
}

static void test_timeout(bool bus_mode) {
        FakeUnit units[] = {
                FAKE_UNIT(DOCKER_SOCKET, "active", "done", JOB_LATER),
                FAKE_UNIT(DOCKER_SERVICE, "active", "done", JOB_NEVER),
        };
        FakeSystemd f;
        fake_start(&f, units, ELEMENTSOF(units), bus_mode);

        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t start = now_usec();
        ASSERT_EQ(units_stop(f.client, docker_units, 300000, &error), -ETIMEDOUT);
        uint64_t elapsed = now_usec() - start;
        ASSERT_TRUE(elapsed >= 250000 && elapsed < 3000000);
        ASSERT_TRUE(sd_bus_error_has_name(&error, SD_BUS_ERROR_TIMEOUT));
        ASSERT_TRUE(strstr(error.message, DOCKER_SERVICE));
        /* the job that did end is not blamed */
        ASSERT_FALSE(strstr(error.message, DOCKER_SOCKET));

        fake_stop(&f);
}

static void test_no_such_unit(bool bus_mode) {
        FakeUnit units[] = {
                FAKE_UNIT(DOCKER_SERVICE, "active", "done", JOB_LATER),
        };
        FakeSystemd f;
        fake_start(&f, units, ELEMENTSOF(units), bus_mode);

        /* Nothing to stop is fine... */
        static const char *const list[] = { "ddr-missing.service", DOCKER_SERVICE, NULL };
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        ASSERT_EQ(units_stop(f.client, list, 5000000, &error), 0);
        ASSERT_FALSE(sd_bus_error_is_set(&error));
        assert_state(f.client, DOCKER_SERVICE, "inactive");

        /* ...nothing to start is not, and systemd's error is kept. */
        int r = units_start(f.client, list, 5000000, &error);
        ASSERT_TRUE(r < 0);
        ASSERT_TRUE(sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit"));
        ASSERT_EQ(r, -sd_bus_error_get_errno(&error));
        ASSERT_TRUE(strstr(error.message, "ddr-missing.service"));
        sd_bus_error_free(&error);

        /* Properties of a unit the fake does not know. */
        char *state = (char *) "untouched";
        ASSERT_TRUE(units_get_active_state(f.client, "ddr-missing.service", &state, &error) < 0);
        ASSERT_STREQ(state, "untouched");

        fake_stop(&f);
}

static void test_exec_start(bool bus_mode) {
        static const char *const dockerd[] = { "/usr/sbin/dockerd", "-H", "fd://",
                                               "--containerd=/run/containerd/containerd.sock", NULL };
        static const char *const second[] = { "/bin/echo", "with space", "", "ünïcode", NULL };
        static const char *const empty[] = { NULL };
        FakeUnit units[] = {
                { .name = DOCKER_SERVICE, .active_state = "active", .job_result = "done", .service = true,
                  .exec_start = { dockerd, second, empty } },
                { .name = DOCKER_SOCKET, .active_state = "active", .job_result = "done" },
                { .name = "oneshot.service", .active_state = "inactive", .job_result = "done",
                  .service = true },
        };
        FakeSystemd f;
        fake_start(&f, units, ELEMENTSOF(units), bus_mode);

        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char ***argvs = NULL;
        ASSERT_EQ(units_get_exec_start(f.client, DOCKER_SERVICE, &argvs, &error), 3);
        ASSERT_TRUE(argvs[0] && argvs[1] && argvs[2] && !argvs[3]);
        for (size_t i = 0; dockerd[i]; i++)
                ASSERT_STREQ(argvs[0][i], dockerd[i]);
        ASSERT_TRUE(argvs[0][4] == NULL);
        for (size_t i = 0; second[i]; i++)
                ASSERT_STREQ(argvs[1][i], second[i]);
        ASSERT_TRUE(argvs[1][4] == NULL);
        /* an empty argv stays in the list instead of ending it */
        ASSERT_TRUE(argvs[2][0] == NULL);
        units_exec_start_free(argvs);
        units_exec_start_free(NULL);

        /* daemon-reload reaches the manager */
        ASSERT_OK(units_reload(f.client, &error));

        /* No ExecStart= at all: an empty list. */
        ASSERT_EQ(units_get_exec_start(f.client, "oneshot.service", &argvs, &error), 0);
        ASSERT_TRUE(argvs && argvs[0] == NULL);
        units_exec_start_free(argvs);

        /* A socket has no ExecStart: the D-Bus error is passed on. */
        argvs = (char ***) 1;
        ASSERT_TRUE(units_get_exec_start(f.client, DOCKER_SOCKET, &argvs, &error) < 0);
        ASSERT_TRUE(sd_bus_error_is_set(&error));
        fprintf(stderr, "ExecStart of a socket: %s: %s\n", error.name, error.message);
        ASSERT_TRUE(argvs == (char ***) 1);

        fake_stop(&f);
        ASSERT_EQ(f.n_reload, 1);
}

/* Against a real systemd and docker.io (the e2e harness sets this up). */
static void test_real_systemd(void) {
        const char *real = getenv("DDR_TEST_REAL_SYSTEMD");
        if (!real || !streq(real, "1"))
                return;

        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        ASSERT_OK(sd_bus_open_system(&bus));

        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t start = now_usec();
        int r = units_stop(bus, docker_units, 120 * 1000000ULL, &error);
        if (r < 0)
                fprintf(stderr, "units_stop: %s\n", error.message);
        ASSERT_OK(r);
        fprintf(stderr, "real stop took %" PRIu64 " ms\n", (now_usec() - start) / 1000);
        assert_state(bus, DOCKER_SOCKET, "inactive");
        assert_state(bus, DOCKER_SERVICE, "inactive");

        /* Already stopped, and not even there: both fine. */
        static const char *const missing[] = { DOCKER_SERVICE, "ddr-no-such-unit.service", NULL };
        ASSERT_OK(units_stop(bus, missing, 60 * 1000000ULL, &error));
        assert_state(bus, "ddr-no-such-unit.service", "inactive");

        start = now_usec();
        r = units_start(bus, docker_units, 120 * 1000000ULL, &error);
        if (r < 0)
                fprintf(stderr, "units_start: %s\n", error.message);
        ASSERT_OK(r);
        fprintf(stderr, "real start took %" PRIu64 " ms\n", (now_usec() - start) / 1000);
        assert_state(bus, DOCKER_SOCKET, "active");
        assert_state(bus, DOCKER_SERVICE, "active");

        char ***argvs = NULL;
        ASSERT_TRUE(ASSERT_OK(units_get_exec_start(bus, DOCKER_SERVICE, &argvs, &error)) >= 1);
        bool mentions_dockerd = false;
        for (char ***argv = argvs; *argv; argv++)
                for (char **arg = *argv; *arg; arg++) {
                        fprintf(stderr, "%s%s", arg == *argv ? "ExecStart: " : " ", *arg);
                        if (strstr(*arg, "dockerd"))
                                mentions_dockerd = true;
                }
        fprintf(stderr, "\n");
        units_exec_start_free(argvs);
        ASSERT_TRUE(mentions_dockerd);

        ASSERT_OK(units_reload(bus, &error));

        /* Starting what does not exist fails with systemd's own words. */
        static const char *const bogus[] = { "ddr-no-such-unit.service", NULL };
        r = units_start(bus, bogus, 60 * 1000000ULL, &error);
        fprintf(stderr, "start of a missing unit: %d %s: %s\n", r, error.name, error.message);
        ASSERT_TRUE(r < 0);
        ASSERT_TRUE(sd_bus_error_is_set(&error));
}

int main(void) {
        /* A direct connection (like systemd's private socket), then a bus. */
        for (int bus_mode = 0; bus_mode <= 1; bus_mode++) {
                test_stop_start(bus_mode);
                test_job_fails(bus_mode);
                test_immediate(bus_mode);
                test_vanished(bus_mode);
                test_start_limit(bus_mode);
                test_timeout(bus_mode);
                test_no_such_unit(bus_mode);
                test_exec_start(bus_mode);
        }
        test_real_systemd();
        return 0;
}
