/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "units.h"

#define SYSTEMD_SERVICE "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define MANAGER_INTERFACE "org.freedesktop.systemd1.Manager"
#define UNIT_INTERFACE "org.freedesktop.systemd1.Unit"
#define SERVICE_INTERFACE "org.freedesktop.systemd1.Service"
#define JOB_INTERFACE "org.freedesktop.systemd1.Job"
#define UNIT_PATH_PREFIX "/org/freedesktop/systemd1/unit"

#define ERROR_NO_SUCH_UNIT "org.freedesktop.systemd1.NoSuchUnit"
#define ERROR_NO_SUCH_JOB "org.freedesktop.systemd1.NoSuchJob"
#define ERROR_ALREADY_SUBSCRIBED "org.freedesktop.systemd1.AlreadySubscribed"

typedef enum UnitsAction {
        UNITS_STOP,
        UNITS_START,
} UnitsAction;

/* One JobRemoved signal seen. */
typedef struct RemovedJob {
        char *path;
        char *result;
} RemovedJob;

typedef struct JobWatch {
        RemovedJob *removed;
        size_t n_removed;
        size_t allocated;
        int error; /* from the signal handler, which cannot return one */
} JobWatch;

/* The job queued for one unit of the caller's list. */
typedef struct UnitJob {
        char *path;           /* NULL when there is nothing to wait for */
        char *vanished_state; /* ActiveState when the job vanished unseen */
} UnitJob;

typedef struct UnitJobs {
        UnitJob *jobs;
        size_t n;
} UnitJobs;

static void job_watch_done(JobWatch *w) {
        for (size_t i = 0; i < w->n_removed; i++) {
                free(w->removed[i].path);
                free(w->removed[i].result);
        }
        free(w->removed);
}

static void unit_jobs_done(UnitJobs *u) {
        for (size_t i = 0; i < u->n; i++) {
                free(u->jobs[i].path);
                free(u->jobs[i].vanished_state);
        }
        free(u->jobs);
}

/* Hands a D-Bus error over to the caller's error (which may be NULL). */
static int keep_error(sd_bus_error *dest, const sd_bus_error *src, int r) {
        if (dest && sd_bus_error_is_set(src))
                (void) sd_bus_error_copy(dest, src);
        return r;
}

static const char *job_watch_result(const JobWatch *w, const char *path) {
        for (size_t i = 0; i < w->n_removed; i++)
                if (streq(w->removed[i].path, path))
                        return w->removed[i].result;
        return NULL;
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        JobWatch *w = userdata;
        uint32_t id;
        const char *path, *unit, *result;
        (void) ret_error;

        /* Not systemd's signature: not a signal we can use. */
        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        if (job_watch_result(w, path))
                return 0;

        if (w->n_removed == w->allocated) {
                size_t want = MAX(w->allocated * 2, (size_t) 8);
                RemovedJob *bigger = reallocarray(w->removed, want, sizeof(RemovedJob));
                if (!bigger) {
                        w->error = -ENOMEM;
                        return 0;
                }
                w->removed = bigger;
                w->allocated = want;
        }
        RemovedJob job = { .path = strdup(path), .result = strdup(result) };
        if (!job.path || !job.result) {
                free(job.path);
                free(job.result);
                w->error = -ENOMEM;
                return 0;
        }
        w->removed[w->n_removed++] = job;
        return 0;
}

/* sd_bus_call() bounded by an absolute deadline. */
static int call_until(sd_bus *bus, sd_bus_message *m, uint64_t deadline, sd_bus_error *error,
                      sd_bus_message **reply) {
        uint64_t left = usec_left(deadline);
        if (left == 0)
                return sd_bus_error_set_errno(error, -ETIMEDOUT);
        return sd_bus_call(bus, m, left, error, reply);
}

/* systemd emits JobRemoved on the system bus only to subscribed clients. */
static int subscribe(sd_bus *bus, uint64_t deadline, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        int r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_SERVICE, SYSTEMD_PATH, MANAGER_INTERFACE,
                                               "Subscribe");
        if (r < 0)
                return r;
        r = call_until(bus, m, deadline, &e, NULL);
        if (r < 0 && !sd_bus_error_has_name(&e, ERROR_ALREADY_SUBSCRIBED))
                return keep_error(error, &e, r);
        return 0;
}

static int queue_job(sd_bus *bus, const char *method, const char *unit, uint64_t deadline,
                     sd_bus_error *error, char **ret_path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

        int r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_SERVICE, SYSTEMD_PATH, MANAGER_INTERFACE,
                                               method);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", unit, "replace");
        if (r < 0)
                return r;
        r = call_until(bus, m, deadline, error, &reply);
        if (r < 0)
                return r;

        const char *path;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        *ret_path = copy;
        return 0;
}

/* systemd refuses to start a unit that hit its start rate limit
 * (docker.service allows 3 starts a minute) until its failed state is reset,
 * and a rollback right after a failed start must still bring Docker back.
 * Best effort: a unit that is not loaded or not failed needs nothing, and a
 * real problem shows in the start job anyway. */
static void reset_failed(sd_bus *bus, const char *unit, uint64_t deadline) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        if (sd_bus_message_new_method_call(bus, &m, SYSTEMD_SERVICE, SYSTEMD_PATH, MANAGER_INTERFACE,
                                           "ResetFailedUnit") < 0)
                return;
        if (sd_bus_message_append(m, "s", unit) < 0)
                return;
        (void) call_until(bus, m, deadline, NULL, NULL);
}

/* 1 when the job object is still there, 0 when systemd no longer knows it,
 * negative when that cannot be told. */
static int job_exists(sd_bus *bus, const char *path, uint64_t deadline) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        int r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_SERVICE, path,
                                               "org.freedesktop.DBus.Properties", "Get");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", JOB_INTERFACE, "State");
        if (r < 0)
                return r;
        r = call_until(bus, m, deadline, &e, NULL);
        if (r >= 0)
                return 1;
        if (sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_OBJECT) ||
            sd_bus_error_has_name(&e, ERROR_NO_SUCH_JOB))
                return 0;
        return r;
}

/* Dispatches what has already arrived, without waiting. */
static int drain(sd_bus *bus, const JobWatch *watch) {
        for (;;) {
                int r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return r;
                if (watch->error < 0)
                        return watch->error;
                if (r == 0)
                        return 0;
        }
}

static bool job_pending(const UnitJob *job, const JobWatch *watch) {
        return job->path && !job->vanished_state && !job_watch_result(watch, job->path);
}

static bool any_pending(const UnitJobs *jobs, const JobWatch *watch) {
        for (size_t i = 0; i < jobs->n; i++)
                if (job_pending(&jobs->jobs[i], watch))
                        return true;
        return false;
}

static bool state_reached(UnitsAction action, const char *state) {
        if (action == UNITS_STOP)
                return streq(state, "inactive") || streq(state, "failed");
        return streq(state, "active");
}

static int units_run(sd_bus *bus, UnitsAction action, const char *const *units, uint64_t timeout_usec,
                     sd_bus_error *error) {
        const char *method = action == UNITS_STOP ? "StopUnit" : "StartUnit";
        const char *verb = action == UNITS_STOP ? "stop" : "start";
        int r;

        if (!bus || !units)
                return -EINVAL;

        uint64_t deadline = deadline_after(timeout_usec);
        _cleanup_(job_watch_done) JobWatch watch = {};
        _cleanup_(unit_jobs_done) UnitJobs jobs = {};
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;

        while (units[jobs.n])
                jobs.n++;
        jobs.jobs = calloc(MAX(jobs.n, (size_t) 1), sizeof(UnitJob));
        if (!jobs.jobs)
                return -ENOMEM;

        /* Watch before any job exists, or a job that ends at once is missed.
         * On a bus the sender match makes dbus-daemon pass on systemd's
         * signals only; a direct connection has nobody else to hear. */
        r = sd_bus_match_signal(bus, &slot, sd_bus_is_bus_client(bus) > 0 ? SYSTEMD_SERVICE : NULL,
                                SYSTEMD_PATH, MANAGER_INTERFACE, "JobRemoved", on_job_removed, &watch);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to watch systemd's jobs: %m");

        r = subscribe(bus, deadline, error);
        if (r < 0)
                return r;

        /* All before the first start: starting one unit may pull in another. */
        if (action == UNITS_START)
                for (size_t i = 0; i < jobs.n; i++)
                        reset_failed(bus, units[i], deadline);

        for (size_t i = 0; i < jobs.n; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                r = queue_job(bus, method, units[i], deadline, &e, &jobs.jobs[i].path);
                /* Nothing to stop is what stopping wants. */
                if (r < 0 && action == UNITS_STOP && sd_bus_error_has_name(&e, ERROR_NO_SUCH_UNIT))
                        continue;
                if (r < 0)
                        return keep_error(error, &e, r);
        }

        r = drain(bus, &watch);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to read systemd's answers: %m");

        /* A job that is already gone should have left its signal behind.
         * If it did not, the unit's state tells how it ended. */
        for (size_t i = 0; i < jobs.n; i++) {
                UnitJob *job = &jobs.jobs[i];
                if (!job_pending(job, &watch))
                        continue;
                if (job_exists(bus, job->path, deadline) != 0)
                        continue; /* running, or unknown: wait for the signal */

                r = drain(bus, &watch);
                if (r < 0)
                        return sd_bus_error_set_errnof(error, r, "Failed to read systemd's answers: %m");
                if (!job_pending(job, &watch))
                        continue;
                r = units_get_active_state(bus, units[i], &job->vanished_state, error);
                if (r < 0)
                        return r;
        }

        while (any_pending(&jobs, &watch)) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return sd_bus_error_set_errnof(error, r, "Failed to read systemd's answers: %m");
                if (watch.error < 0)
                        return watch.error;
                if (r > 0)
                        continue;

                uint64_t left = usec_left(deadline);
                if (left == 0)
                        break;
                r = sd_bus_wait(bus, left);
                if (r < 0 && r != -EINTR)
                        return sd_bus_error_set_errnof(error, r, "Failed to read systemd's answers: %m");
        }

        /* Report the first unit of the list that went wrong. */
        for (size_t i = 0; i < jobs.n; i++) {
                const UnitJob *job = &jobs.jobs[i];
                if (!job->path)
                        continue;
                const char *result = job_watch_result(&watch, job->path);
                if (result && !streq(result, "done")) {
                        sd_bus_error_setf(error, SD_BUS_ERROR_IO_ERROR,
                                          "The %s job of %s ended with result '%s'.", verb, units[i],
                                          result);
                        return -EIO;
                }
                if (!result && job->vanished_state && !state_reached(action, job->vanished_state)) {
                        sd_bus_error_setf(error, SD_BUS_ERROR_IO_ERROR,
                                          "The %s job of %s vanished without a result, and the unit is %s.",
                                          verb, units[i], job->vanished_state);
                        return -EIO;
                }
        }
        for (size_t i = 0; i < jobs.n; i++)
                if (job_pending(&jobs.jobs[i], &watch)) {
                        sd_bus_error_setf(error, SD_BUS_ERROR_TIMEOUT,
                                          "Timed out waiting for the %s job of %s.", verb, units[i]);
                        return -ETIMEDOUT;
                }
        return 0;
}

int units_stop(sd_bus *bus, const char *const *units, uint64_t timeout_usec, sd_bus_error *error) {
        return units_run(bus, UNITS_STOP, units, timeout_usec, error);
}

int units_start(sd_bus *bus, const char *const *units, uint64_t timeout_usec, sd_bus_error *error) {
        return units_run(bus, UNITS_START, units, timeout_usec, error);
}

int units_get_active_state(sd_bus *bus, const char *unit, char **ret, sd_bus_error *error) {
        if (!bus || !unit || !ret)
                return -EINVAL;

        _cleanup_free_ char *path = NULL;
        int r = sd_bus_path_encode(UNIT_PATH_PREFIX, unit, &path);
        if (r < 0)
                return r;

        char *state = NULL;
        r = sd_bus_get_property_string(bus, SYSTEMD_SERVICE, path, UNIT_INTERFACE, "ActiveState", error,
                                       &state);
        if (r < 0)
                return r;
        *ret = state;
        return 0;
}

void units_exec_start_free(char ***argvs) {
        if (!argvs)
                return;
        for (char ***argv = argvs; *argv; argv++)
                strv_freep(argv);
        free(argvs);
}

static inline void units_exec_start_freep(char ****argvs) {
        units_exec_start_free(*argvs);
}

int units_get_exec_start(sd_bus *bus, const char *unit, char ****ret, sd_bus_error *error) {
        if (!bus || !unit || !ret)
                return -EINVAL;

        _cleanup_free_ char *path = NULL;
        int r = sd_bus_path_encode(UNIT_PATH_PREFIX, unit, &path);
        if (r < 0)
                return r;

        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        r = sd_bus_get_property(bus, SYSTEMD_SERVICE, path, SERVICE_INTERFACE, "ExecStart", error, &reply,
                                "a(sasbttttuii)");
        if (r < 0)
                return r;

        r = sd_bus_message_enter_container(reply, 'a', "(sasbttttuii)");
        if (r < 0)
                return r;

        _cleanup_(units_exec_start_freep) char ***argvs = calloc(1, sizeof(char **));
        if (!argvs)
                return -ENOMEM;
        size_t n = 0;

        for (;;) {
                r = sd_bus_message_enter_container(reply, 'r', "sasbttttuii");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;

                const char *binary;
                r = sd_bus_message_read(reply, "s", &binary);
                if (r < 0)
                        return r;
                _cleanup_strv_free_ char **argv = NULL;
                r = sd_bus_message_read_strv(reply, &argv);
                if (r < 0)
                        return r;
                /* An empty argv comes back as NULL, which would end the list. */
                if (!argv) {
                        argv = calloc(1, sizeof(char *));
                        if (!argv)
                                return -ENOMEM;
                }
                /* ignore_errors, timestamps, PIDs, exit code and status */
                r = sd_bus_message_skip(reply, "bttttuii");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;

                char ***bigger = reallocarray(argvs, n + 2, sizeof(char **));
                if (!bigger)
                        return -ENOMEM;
                argvs = bigger;
                argvs[n++] = TAKE_PTR(argv);
                argvs[n] = NULL;
        }

        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(argvs);
        return (int) MIN(n, (size_t) INT32_MAX);
}

int units_reload(sd_bus *bus, sd_bus_error *error) {
        if (!bus)
                return -EINVAL;
        /* Reload returns once the manager has reread every unit file. */
        return sd_bus_call_method(bus, SYSTEMD_SERVICE, SYSTEMD_PATH, MANAGER_INTERFACE, "Reload", error, NULL,
                                  "");
}
