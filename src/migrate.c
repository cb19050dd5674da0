/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include "migrate.h"
#include "mounts.h"
#include "paths.h"
#include "procs.h"
#include "units.h"

#define DEFAULT_DATA_ROOT "/var/lib/docker"
#define UNIT_JOB_TIMEOUT_USEC (180ull * 1000000ull)
#define DOCKERD_EXIT_TIMEOUT_USEC (30ull * 1000000ull)
#define DEFAULT_START_TIMEOUT_USEC (120ull * 1000000ull)

/* Stopping the socket as well as the service matters: a stopped service
 * with a listening socket is woken by the next docker CLI call. */
static const char *const docker_units_stop_order[] = { DOCKER_SOCKET, DOCKER_SERVICE, NULL };
static const char *const docker_units_start_order[] = { DOCKER_SOCKET, DOCKER_SERVICE, NULL };

static const char *const stage_names[_STAGE_MAX] = {
        [STAGE_DISCOVER] = "discover",
        [STAGE_CHECK] = "check",
        [STAGE_STOP] = "stop",
        [STAGE_COPY] = "copy",
        [STAGE_VERIFY] = "verify",
        [STAGE_CONFIGURE] = "configure",
        [STAGE_START] = "start",
        [STAGE_CONFIRM] = "confirm",
        [STAGE_ROLLBACK] = "rollback",
        [STAGE_DONE] = "done",
};

const char *migrate_stage_to_string(MigrateStage s) {
        return s >= 0 && s < _STAGE_MAX ? stage_names[s] : "unknown";
}

static void announce(const MigrateOptions *opts, MigrateStage stage, const char *what) {
        if (opts->on_stage)
                opts->on_stage(stage, what, opts->userdata);
}

void migrate_plan_free(MigratePlan *p) {
        if (!p)
                return;
        free(p->source);
        free(p->target);
        free(p->config_path);
        free(p->config_real_path);
        free(p->backup_path);
        daemon_config_free(p->config);
        engine_info_free(p->engine);
        target_filesystem_done(&p->target_fs);
        check_list_done(&p->checks);
        free(p);
}

void migrate_result_done(MigrateResult *r) {
        if (!r)
                return;
        free(r->message);
        free(r->rollback_message);
        engine_info_free(r->engine_after);
        *r = (MigrateResult) {};
}

static char *make_backup_path(const char *config_real_path) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;

        if (!gmtime_r(&now, &tm) || strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm) == 0)
                return NULL;
        return strdup_printf("%s.docker-dataroot-%s.bak", config_real_path, stamp);
}

static int plan_config(MigratePlan *p, const MigrateOptions *opts, const char *config_from_flag) {
        DaemonConfigError error = {};
        int r;

        p->config_path = strdup(opts->config_path ? opts->config_path
                                : config_from_flag ? config_from_flag
                                                   : DAEMON_CONFIG_DEFAULT_PATH);
        if (!p->config_path)
                return -ENOMEM;

        r = daemon_config_resolve_path(p->config_path, &p->config_real_path);
        if (r < 0)
                return check_add(&p->checks, "config-valid", CHECK_REFUSE,
                                 "Check the path given with --config.", "cannot resolve %s: %s",
                                 p->config_path, strerror(-r));

        p->backup_path = make_backup_path(p->config_real_path);
        if (!p->backup_path)
                return -ENOMEM;

        r = daemon_config_load(p->config_path, &p->config, &error);
        if (r == -EBADMSG) {
                if (error.line > 0)
                        return check_add(&p->checks, "config-valid", CHECK_REFUSE,
                                         "Fix the file (dockerd refuses it too at its next start), then run again.",
                                         "%s line %u column %u: %s", p->config_path, error.line,
                                         error.column, error.message);
                return check_add(&p->checks, "config-valid", CHECK_REFUSE,
                                 "Fix the file (dockerd refuses it too at its next start), then run again.",
                                 "%s: %s", p->config_path, error.message);
        }
        if (r < 0)
                return check_add(&p->checks, "config-valid", CHECK_REFUSE,
                                 "Check that the file is readable.", "cannot read %s: %s", p->config_path,
                                 strerror(-r));

        if (!p->config->existed)
                return check_add(&p->checks, "config-valid", CHECK_OK, NULL,
                                 "%s does not exist; it will be created", p->config_path);
        if (!streq(p->config_path, p->config_real_path))
                return check_add(&p->checks, "config-valid", CHECK_WARN,
                                 "If a configuration manager owns that file, record the new data-root there too.",
                                 "%s is a symlink; %s will be changed", p->config_path,
                                 p->config_real_path);
        return check_add(&p->checks, "config-valid", CHECK_OK, NULL, "%s is valid JSON", p->config_path);
}

static int plan_engine(MigratePlan *p) {
        _cleanup_free_ char *socket_path = NULL;
        int r;

        r = engine_socket_path(&socket_path);
        if (r < 0)
                return check_add(&p->checks, "engine-running", CHECK_REFUSE,
                                 "Unset DOCKER_HOST or point it at the local engine's unix:// socket.",
                                 "DOCKER_HOST='%s' is not a unix socket", getenv("DOCKER_HOST"));

        r = engine_get_info(socket_path, &p->engine);
        if (r < 0)
                return check_add(&p->checks, "engine-running", CHECK_REFUSE,
                                 "Start Docker (systemctl start docker) so its data-root can be confirmed.",
                                 "the Docker engine at %s did not answer: %s", socket_path, strerror(-r));
        if (!p->engine->root_dir || p->engine->root_dir[0] != '/')
                return check_add(&p->checks, "engine-running", CHECK_REFUSE,
                                 "Check the Docker engine's health (docker info).",
                                 "the engine at %s reports no DockerRootDir", socket_path);

        p->source = strdup(p->engine->root_dir);
        if (!p->source)
                return -ENOMEM;
        return check_add(&p->checks, "engine-running", CHECK_OK, NULL,
                         "Docker %s answers at %s; data-root %s, storage driver %s",
                         p->engine->server_version ? p->engine->server_version : "?", socket_path,
                         p->engine->root_dir, p->engine->driver ? p->engine->driver : "?");
}

/* The engine and daemon.json must agree on the data-root: when they do not,
 * something else (a --data-root flag) sets it and our edit would not take. */
static int plan_consistency(MigratePlan *p) {
        const char *configured = NULL;
        int r;

        if (!p->config || !p->source)
                return 0;
        r = daemon_config_get_data_root(p->config, &configured);
        if (r < 0)
                return check_add(&p->checks, "data-root-consistent", CHECK_REFUSE,
                                 "Make \"data-root\" a string naming a directory.",
                                 "%s: \"data-root\" is not a string", p->config_path);

        const char *expected = configured ? configured : DEFAULT_DATA_ROOT;
        _cleanup_free_ char *expected_real = realpath(expected, NULL);
        if (streq(expected, p->source) || (expected_real && streq(expected_real, p->source))) {
                if (configured)
                        return check_add(&p->checks, "data-root-consistent", CHECK_OK, NULL,
                                         "%s and the engine agree on %s", p->config_path, p->source);
                return check_add(&p->checks, "data-root-consistent", CHECK_OK, NULL,
                                 "%s sets no data-root; the engine uses the default %s", p->config_path,
                                 p->source);
        }

        return check_add(&p->checks, "data-root-consistent", CHECK_REFUSE,
                         "Find what sets the data-root (a --data-root flag in docker.service or "
                         "/etc/default/docker), remove it, restart Docker, and run again.",
                         "%s says %s but the running engine uses %s", p->config_path, expected, p->source);
}

/* Reads what systemd runs: the unit must exist, and its effective
 * ExecStart (drop-ins included) must not set the data-root itself. A
 * --config-file flag names the daemon.json dockerd really reads. */
static int plan_systemd(MigratePlan *p, char **ret_config_from_flag) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *state = NULL;
        char ***exec_start = NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return check_add(&p->checks, "systemd", CHECK_REFUSE,
                                 "docker-dataroot needs a system running systemd with docker.service.",
                                 "cannot connect to the system bus: %s", strerror(-r));
        r = units_get_active_state(bus, DOCKER_SERVICE, &state, &error);
        if (r < 0)
                return check_add(&p->checks, "systemd", CHECK_REFUSE,
                                 "docker-dataroot manages Docker through systemd's docker.service.",
                                 "cannot read the state of %s: %s", DOCKER_SERVICE,
                                 error.message ? error.message : strerror(-r));
        r = check_add(&p->checks, "systemd", CHECK_OK, NULL, "%s is %s", DOCKER_SERVICE, state);
        if (r < 0)
                return r;

        _cleanup_free_ char *snap_state = NULL;
        sd_bus_error_free(&error);
        if (units_get_active_state(bus, "snap.docker.dockerd.service", &snap_state, &error) >= 0 &&
            streq(snap_state, "active")) {
                r = check_add(&p->checks, "docker-snap", CHECK_REFUSE,
                              "The snap keeps its data under /var/snap/docker and ignores /etc/docker; move "
                              "it with the snap's own configuration instead.",
                              "Docker runs as a snap (snap.docker.dockerd.service is active)");
                if (r < 0)
                        return r;
        }

        sd_bus_error_free(&error);
        r = units_get_exec_start(bus, DOCKER_SERVICE, &exec_start, &error);
        if (r < 0)
                return check_add(&p->checks, "data-root-flag", CHECK_REFUSE,
                                 "Check docker.service with 'systemctl cat docker.service'.",
                                 "cannot read ExecStart of %s: %s", DOCKER_SERVICE,
                                 error.message ? error.message : strerror(-r));

        _cleanup_free_ char *flag = NULL;
        for (size_t i = 0; exec_start && exec_start[i] && r >= 0; i++) {
                if (!flag && checks_find_data_root_flag(exec_start[i], &flag) < 0)
                        r = -ENOMEM;
                if (!*ret_config_from_flag && checks_find_config_file_flag(exec_start[i], ret_config_from_flag) < 0)
                        r = -ENOMEM;
        }
        units_exec_start_free(exec_start);
        if (r < 0)
                return r;
        if (flag)
                return check_add(&p->checks, "data-root-flag", CHECK_REFUSE,
                                 "Remove the flag from docker.service (see 'systemctl cat docker.service' for the "
                                 "drop-in that adds it), run 'systemctl daemon-reload', restart Docker, and run "
                                 "again; dockerd refuses to start when a flag and daemon.json both set it.",
                                 "docker.service runs dockerd with '%s'", flag);

        static const char *const env_files[] = { "/etc/default/docker", "/etc/sysconfig/docker" };
        for (size_t i = 0; i < ELEMENTSOF(env_files); i++) {
                unsigned line = 0;
                if (checks_env_file_data_root_flag(env_files[i], &line) <= 0)
                        continue;
                _cleanup_free_ char *remedy = strdup_printf(
                        "Remove the flag from %s line %u, restart Docker, and run again.", env_files[i], line);
                if (!remedy)
                        return -ENOMEM;
                return check_add(&p->checks, "data-root-flag", CHECK_REFUSE, remedy,
                                 "%s line %u sets the data-root with a flag", env_files[i], line);
        }
        return check_add(&p->checks, "data-root-flag", CHECK_OK, NULL,
                         "no --data-root, --graph or -g flag in docker.service or its environment files");
}

static bool json_array_has_string(const cJSON *array, const char *needle) {
        const cJSON *item;
        cJSON_ArrayForEach(item, array) {
                if (cJSON_IsString(item) && strstr(item->valuestring, needle))
                        return true;
                if (cJSON_IsArray(item) && json_array_has_string(item, needle))
                        return true;
        }
        return false;
}

/* Installations where moving /var/lib/docker is the wrong fix. */
static int plan_installation(MigratePlan *p) {
        const cJSON *raw = p->engine ? p->engine->raw : NULL;
        int r;

        if (!raw)
                return 0;
        if (json_array_has_string(cJSON_GetObjectItemCaseSensitive(raw, "SecurityOptions"), "name=rootless"))
                return check_add(&p->checks, "docker-rootless", CHECK_REFUSE,
                                 "Rootless Docker keeps its data in ~/.local/share/docker; set \"data-root\" in "
                                 "~/.config/docker/daemon.json and restart the user's docker.service instead.",
                                 "the engine runs rootless");
        const cJSON *os = cJSON_GetObjectItemCaseSensitive(raw, "OperatingSystem");
        if (cJSON_IsString(os) && strstr(os->valuestring, "Docker Desktop"))
                return check_add(&p->checks, "docker-desktop", CHECK_REFUSE,
                                 "Docker Desktop keeps its data in a virtual machine disk; move it in Docker "
                                 "Desktop's settings (Resources > Advanced).",
                                 "the engine is Docker Desktop");

        bool snapshotter = json_array_has_string(cJSON_GetObjectItemCaseSensitive(raw, "DriverStatus"),
                                                 "io.containerd.snapshotter");
        if (!snapshotter && p->config) {
                const cJSON *features = cJSON_GetObjectItemCaseSensitive(p->config->root, "features");
                snapshotter = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(features, "containerd-snapshotter"));
        }
        if (snapshotter)
                return check_add(&p->checks, "containerd-snapshotter", CHECK_REFUSE,
                                 "Images live under containerd's root (/var/lib/containerd), which \"data-root\" "
                                 "does not move; move containerd's \"root\" in /etc/containerd/config.toml too, "
                                 "or switch the image store off first.",
                                 "the engine uses the containerd image store");

        const cJSON *live_restore = p->config ? cJSON_GetObjectItemCaseSensitive(p->config->root, "live-restore")
                                              : NULL;
        if (cJSON_IsTrue(live_restore) && p->engine->containers_running > 0)
                return check_add(&p->checks, "live-restore", CHECK_REFUSE,
                                 "Stop the containers first (docker stop $(docker ps -q)): with live-restore they "
                                 "would keep running on the old data-root while dockerd is stopped.",
                                 "\"live-restore\" is on and %ld container(s) are running",
                                 p->engine->containers_running);

        r = check_add(&p->checks, "installation", CHECK_OK, NULL,
                      "system Docker managed by systemd, image store in the data-root");
        return r;
}

static int plan_source(MigratePlan *p) {
        int r;

        if (!p->source)
                return 0;
        r = tree_size(p->source, &p->source_size);
        if (r < 0)
                return check_add(&p->checks, "source-readable", CHECK_REFUSE,
                                 "Run as root; check the data-root with 'ls -la'.", "cannot size %s: %s",
                                 p->source, strerror(-r));
        char buf[32];
        return check_add(&p->checks, "source-readable", CHECK_OK, NULL,
                         "%s: %" PRIu64 " entries, %s allocated", p->source, p->source_size.entries,
                         format_bytes(p->source_size.allocated_bytes, buf, sizeof buf));
}

static int plan_containers(MigratePlan *p) {
        if (!p->engine)
                return 0;
        if (p->engine->containers_running > 0)
                return check_add(&p->checks, "running-containers", CHECK_WARN,
                                 "They are stopped with Docker and start again only if their restart "
                                 "policy says so.",
                                 "%ld container(s) running; they will be stopped", p->engine->containers_running);
        return check_add(&p->checks, "running-containers", CHECK_OK, NULL, "no container is running");
}

int migrate_plan(const MigrateOptions *opts, MigratePlan **ret) {
        _cleanup_(migrate_plan_freep) MigratePlan *p = calloc(1, sizeof(MigratePlan));
        int r;

        if (!p)
                return -ENOMEM;

        announce(opts, STAGE_DISCOVER, "reading daemon.json and asking the Docker engine");
        if (geteuid() != 0) {
                r = check_add(&p->checks, "root", CHECK_REFUSE, "Run it as root (sudo).",
                              "running as uid %u; stopping Docker and copying its data needs root",
                              (unsigned) geteuid());
                if (r < 0)
                        return r;
        }
        _cleanup_free_ char *config_from_flag = NULL;
        r = plan_systemd(p, &config_from_flag);
        if (r < 0)
                return r;
        r = plan_config(p, opts, config_from_flag);
        if (r < 0)
                return r;
        if (config_from_flag && !opts->config_path) {
                r = check_add(&p->checks, "config-file-flag", CHECK_WARN, NULL,
                              "docker.service runs dockerd with --config-file %s; that file is used",
                              config_from_flag);
                if (r < 0)
                        return r;
        }
        r = plan_engine(p);
        if (r < 0)
                return r;
        r = plan_consistency(p);
        if (r < 0)
                return r;
        r = plan_installation(p);
        if (r < 0)
                return r;

        announce(opts, STAGE_CHECK, "checking the target");
        r = checks_target_path(&p->checks, opts->target, p->source, &p->target);
        if (r < 0)
                return r;

        if (p->target && p->source && streq(p->target, p->source)) {
                /* Asking for the current root is a success with nothing to do,
                 * so provisioning scripts can run the same command twice. */
                p->nothing_to_do = true;
                check_list_done(&p->checks);
                r = check_add(&p->checks, "nothing-to-do", CHECK_OK, NULL, "%s already is Docker's data-root",
                              p->target);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(p);
                return 0;
        }

        r = plan_source(p);
        if (r < 0)
                return r;
        if (p->target) {
                r = checks_target_filesystem(&p->checks, p->target, opts->mountinfo_path,
                                             p->source_size.allocated_bytes, p->source_size.inodes,
                                             &p->target_fs);
                if (r < 0)
                        return r;
                if (p->target_fs.mountpoint) {
                        r = checks_boot_mount(&p->checks, p->target_fs.mountpoint, NULL);
                        if (r < 0)
                                return r;
                }
        }
        r = plan_containers(p);
        if (r < 0)
                return r;
        if (p->engine && p->engine->driver) {
                r = check_add(&p->checks, "storage-driver", CHECK_OK, NULL, "%s, kept as it is",
                              p->engine->driver);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- execution ---- */

typedef struct Run {
        MigratePlan *plan;
        const MigrateOptions *opts;
        MigrateResult *result;
        sd_bus *bus;
        bool docker_stopped;
} Run;

_printf_(4, 5) static int fail(Run *run, MigrateStage stage, int error, const char *fmt, ...) {
        va_list ap;
        char *message = NULL;

        va_start(ap, fmt);
        if (vasprintf(&message, fmt, ap) < 0)
                message = NULL;
        va_end(ap);

        run->result->failed_stage = stage;
        run->result->error = error < 0 ? error : -EIO;
        free(run->result->message);
        run->result->message = message;
        return run->result->error;
}

static int wait_for_no_dockerd(void) {
        uint64_t deadline = now_usec() + DOCKERD_EXIT_TIMEOUT_USEC;

        for (;;) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0;
                int r = procs_find_by_comm("/proc", "dockerd", &pids, &n);
                if (r < 0)
                        return r;
                /* A dockerd in another PID namespace (Docker in Docker, a
                 * nested test engine) serves another data-root. */
                size_t ours = 0;
                for (size_t i = 0; i < n; i++) {
                        int own = procs_in_own_pid_namespace("/proc", pids[i]);
                        /* unknown counts as ours: better refuse than copy under a live daemon */
                        if (own > 0 || (own < 0 && own != -ENOENT))
                                ours++;
                }
                if (ours == 0)
                        return 0;
                if (now_usec() > deadline)
                        return -EBUSY;
                usleep(100 * 1000);
        }
}

static int stage_stop(Run *run) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        announce(run->opts, STAGE_STOP, "stopping docker.socket and docker.service");
        r = units_stop(run->bus, docker_units_stop_order, UNIT_JOB_TIMEOUT_USEC, &error);
        /* From here on Docker may be down: every failure path starts it again. */
        run->docker_stopped = true;
        if (r < 0)
                return fail(run, STAGE_STOP, r, "Failed to stop Docker: %s",
                            error.message ? error.message : strerror(-r));

        for (const char *const *u = docker_units_stop_order; *u; u++) {
                _cleanup_free_ char *state = NULL;
                sd_bus_error_free(&error);
                r = units_get_active_state(run->bus, *u, &state, &error);
                if (r < 0)
                        return fail(run, STAGE_STOP, r, "Failed to read the state of %s: %s", *u,
                                    error.message ? error.message : strerror(-r));
                if (!streq(state, "inactive") && !streq(state, "failed"))
                        return fail(run, STAGE_STOP, -EBUSY, "%s is still %s after the stop job finished",
                                    *u, state);
        }

        r = wait_for_no_dockerd();
        if (r == -EBUSY)
                return fail(run, STAGE_STOP, r,
                            "a dockerd process is still running outside docker.service; stop it first");
        if (r < 0)
                return fail(run, STAGE_STOP, r, "Failed to scan /proc for dockerd: %s", strerror(-r));

        _cleanup_free_ char *leftover = NULL;
        r = checks_mounts_below(run->opts->mountinfo_path, run->plan->source, &leftover);
        if (r < 0)
                return fail(run, STAGE_STOP, r, "Failed to read the mount table: %s", strerror(-r));
        if (r > 0)
                return fail(run, STAGE_STOP, -EBUSY,
                            "%d mount(s) remain below %s after Docker stopped (first: %s); a copy would "
                            "read through them. Unmount them (umount) and run again",
                            r, run->plan->source, leftover);
        return 0;
}

static int mkdir_parents(const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        for (char *slash = strchr(copy + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
                *slash = 0;
                if (mkdir(copy, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                *slash = '/';
        }
        return 0;
}

static int stage_copy(Run *run) {
        CopyOptions copy_opts = {
                .jobs = run->opts->jobs,
                .on_error = run->opts->on_copy_error,
                .on_warning = run->opts->on_copy_warning,
                .userdata = run->opts->userdata,
                .progress = run->opts->progress,
        };
        int r;

        announce(run->opts, STAGE_COPY, run->plan->target);
        r = mkdir_parents(run->plan->target);
        if (r < 0)
                return fail(run, STAGE_COPY, r, "Failed to create the parents of '%s': %s", run->plan->target,
                            strerror(-r));

        uint64_t start = now_usec();
        r = copy_tree(run->plan->source, run->plan->target, &copy_opts, &run->result->copy_stats);
        run->result->copy_usec = now_usec() - start;
        run->result->target_written = true;
        if (r < 0)
                return fail(run, STAGE_COPY, r, "Failed to copy '%s' to '%s': %s (%" PRIu64 " entries failed)",
                            run->plan->source, run->plan->target, strerror(-r),
                            run->result->copy_stats.errors);
        return 0;
}

static int stage_verify(Run *run) {
        VerifyOptions verify_opts = {
                .content = run->opts->verify_content,
                .jobs = run->opts->jobs,
                .on_difference = run->opts->on_difference,
                .userdata = run->opts->userdata,
        };
        int r;

        announce(run->opts, STAGE_VERIFY,
                 run->opts->verify_content ? "comparing metadata and content" : "comparing metadata");
        r = verify_trees(run->plan->source, run->plan->target, &verify_opts, &run->result->verify_stats);
        if (r < 0)
                return fail(run, STAGE_VERIFY, r, "Failed to compare '%s' with '%s': %s", run->plan->source,
                            run->plan->target, strerror(-r));
        if (run->result->verify_stats.differences > 0)
                return fail(run, STAGE_VERIFY, -EIO, "the copy differs from the source in %" PRIu64 " place(s)",
                            run->result->verify_stats.differences);
        return 0;
}

static int stage_configure(Run *run) {
        MigratePlan *p = run->plan;
        _cleanup_free_ char *text = NULL;
        int r;

        announce(run->opts, STAGE_CONFIGURE, p->config_real_path);
        if (p->config->existed) {
                r = daemon_config_write_backup(p->config, p->backup_path);
                if (r < 0)
                        return fail(run, STAGE_CONFIGURE, r, "Failed to write backup '%s': %s", p->backup_path,
                                    strerror(-r));
        }
        r = daemon_config_set_data_root(p->config, p->target);
        if (r >= 0)
                r = daemon_config_render(p->config, &text);
        if (r < 0)
                return fail(run, STAGE_CONFIGURE, r, "Failed to prepare the new daemon.json: %s", strerror(-r));

        r = daemon_config_write_atomic(p->config_real_path, text, p->config->existed ? &p->config->st : NULL);
        if (r < 0)
                return fail(run, STAGE_CONFIGURE, r, "Failed to write '%s': %s", p->config_real_path,
                            strerror(-r));
        run->result->config_changed = true;
        return 0;
}

static int start_docker(Run *run, sd_bus_error *error) {
        return units_start(run->bus, docker_units_start_order, UNIT_JOB_TIMEOUT_USEC, error);
}

static int wait_engine(Run *run, EngineInfo **ret) {
        _cleanup_free_ char *socket_path = NULL;
        int r = engine_socket_path(&socket_path);
        if (r < 0)
                return r;
        uint64_t timeout = run->opts->start_timeout_usec ? run->opts->start_timeout_usec
                                                         : DEFAULT_START_TIMEOUT_USEC;
        return engine_wait_info(socket_path, timeout, ret);
}

static int stage_start_and_confirm(Run *run) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        MigratePlan *p = run->plan;
        EngineInfo *after;
        int r;

        announce(run->opts, STAGE_START, "starting docker.socket and docker.service");
        r = start_docker(run, &error);
        if (r < 0)
                return fail(run, STAGE_START, r, "Failed to start Docker on the new data-root: %s",
                            error.message ? error.message : strerror(-r));

        announce(run->opts, STAGE_CONFIRM, "asking the engine for its data-root");
        r = wait_engine(run, &run->result->engine_after);
        if (r < 0)
                return fail(run, STAGE_CONFIRM, r, "the Docker engine did not answer after the restart: %s",
                            strerror(-r));
        after = run->result->engine_after;

        if (!after->root_dir || !streq(after->root_dir, p->target))
                return fail(run, STAGE_CONFIRM, -EIO, "the engine reports data-root '%s', not '%s'",
                            after->root_dir ? after->root_dir : "(none)", p->target);
        if (!after->driver || !p->engine->driver || !streq(after->driver, p->engine->driver))
                return fail(run, STAGE_CONFIRM, -EIO, "the storage driver changed from '%s' to '%s'",
                            p->engine->driver ? p->engine->driver : "(none)",
                            after->driver ? after->driver : "(none)");
        if (after->images != p->engine->images || after->containers != p->engine->containers)
                return fail(run, STAGE_CONFIRM, -EIO,
                            "the engine sees %ld image(s) and %ld container(s), it had %ld and %ld",
                            after->images, after->containers, p->engine->images, p->engine->containers);
        return 0;
}

static int restore_config(Run *run) {
        MigratePlan *p = run->plan;

        if (!run->result->config_changed)
                return 0;
        if (p->config->existed) {
                int r = daemon_config_write_atomic(p->config_real_path, p->config->original, &p->config->st);
                if (r < 0)
                        return r;
        } else if (unlink(p->config_real_path) < 0 && errno != ENOENT)
                return negative_errno();
        run->result->config_changed = false;
        return 0;
}

static int rollback(Run *run) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(engine_info_freep) EngineInfo *info = NULL;
        MigratePlan *p = run->plan;
        MigrateResult *res = run->result;
        int r;

        announce(run->opts, STAGE_ROLLBACK, "restoring daemon.json and starting Docker on the old data-root");

        r = restore_config(run);
        if (r < 0) {
                res->rollback_message = strdup_printf(
                        "Failed to restore '%s': %s. Docker is stopped. Restore it by hand: "
                        "cp -p '%s' '%s' && systemctl start docker.socket docker.service",
                        p->config_real_path, strerror(-r), p->backup_path, p->config_real_path);
                return r;
        }

        /* Docker may be half up on the target; stop it so it rereads the
         * restored file. */
        r = units_stop(run->bus, docker_units_stop_order, UNIT_JOB_TIMEOUT_USEC, &error);
        if (r >= 0)
                r = wait_for_no_dockerd();
        sd_bus_error_free(&error);
        if (r >= 0)
                r = start_docker(run, &error);
        if (r < 0) {
                res->rollback_message = strdup_printf(
                        "daemon.json is restored, but Docker could not be started again: %s. "
                        "Run: systemctl start docker.socket docker.service; journalctl -u docker.service",
                        error.message ? error.message : strerror(-r));
                return r;
        }

        r = wait_engine(run, &info);
        if (r < 0) {
                res->rollback_message = strdup_printf(
                        "daemon.json is restored and docker.service started, but the engine does not "
                        "answer: %s. See: journalctl -u docker.service", strerror(-r));
                return r;
        }
        if (!info->root_dir || !streq(info->root_dir, p->source)) {
                res->rollback_message = strdup_printf(
                        "Docker runs again but reports data-root '%s' instead of '%s'. Check %s.",
                        info->root_dir ? info->root_dir : "(none)", p->source, p->config_real_path);
                return -EIO;
        }
        return 0;
}

int migrate_execute(MigratePlan *plan, const MigrateOptions *opts, MigrateResult *ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        Run run = { .plan = plan, .opts = opts, .result = ret };
        int r;

        *ret = (MigrateResult) { .outcome = MIGRATE_DONE };
        if (check_list_refused(&plan->checks) || !plan->target || !plan->config || !plan->engine)
                return -EINVAL;

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                fail(&run, STAGE_STOP, r, "Failed to connect to the system bus: %s", strerror(-r));
                ret->outcome = MIGRATE_ROLLED_BACK;
                return r;
        }
        run.bus = bus;

        r = stage_stop(&run);
        if (r >= 0)
                r = stage_copy(&run);
        if (r >= 0)
                r = stage_verify(&run);
        if (r >= 0)
                r = stage_configure(&run);
        if (r >= 0)
                r = stage_start_and_confirm(&run);
        if (r >= 0) {
                announce(opts, STAGE_DONE, plan->target);
                return 0;
        }

        ret->outcome = rollback(&run) < 0 ? MIGRATE_ROLLBACK_FAILED : MIGRATE_ROLLED_BACK;
        return ret->error;
}
