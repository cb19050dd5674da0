/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include "containers.h"
#include "migrate.h"
#include "mounts.h"
#include "paths.h"
#include "procs.h"
#include "remove.h"
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
        free(p->resume_stage);
        daemon_config_free(p->config);
        engine_info_free(p->engine);
        target_filesystem_done(&p->target_fs);
        check_list_done(&p->checks);
        free(p->containerd_source);
        free(p->containerd_target);
        free(p->containerd_config_path);
        free(p->containerd_config_real_path);
        free(p->containerd_backup_path);
        containerd_config_free(p->containerd_config);
        target_filesystem_done(&p->containerd_target_fs);
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
        if (p->config->original[strspn(p->config->original, " \t\r\n")] == 0)
                return check_add(&p->checks, "config-valid", CHECK_WARN,
                                 "Nothing to do: the migration writes valid JSON. Note that a rollback puts the "
                                 "empty file back.",
                                 "%s is empty; dockerd 20.10 refuses an empty file at its next start", p->config_path);
        if (!streq(p->config_path, p->config_real_path))
                return check_add(&p->checks, "config-valid", CHECK_WARN,
                                 "If a configuration manager owns that file, record the new data-root there too.",
                                 "%s is a symlink; %s will be changed", p->config_path,
                                 p->config_real_path);
        return check_add(&p->checks, "config-valid", CHECK_OK, NULL, "%s is valid JSON", p->config_path);
}

/* An interrupted migration is finished with the same target, or undone
 * with 'rollback'; starting another one on top would lose track of the
 * first. */
static int plan_journal(MigratePlan *p, const MigrateOptions *opts) {
        Journal *j = opts->journal;
        if (!j)
                return 0;
        const char *outcome = journal_get_string(j, "outcome");
        if (outcome && streq(outcome, "rollback-failed"))
                return check_add(&p->checks, "pending-migration", CHECK_REFUSE,
                                 "Run 'docker-dataroot rollback' (it needs what the state file records), then run "
                                 "again.",
                                 "the rollback of the migration to %s failed; %s records what to restore",
                                 journal_get_string(j, "target") ? journal_get_string(j, "target") : "?",
                                 journal_path(j));
        if (!journal_is_unfinished(j))
                return 0;

        const char *pending = journal_get_string(j, "target");
        /* Where it stopped, not the rollback that followed. */
        const char *stage = journal_get_string(j, "failed_stage") ?: journal_get_string(j, "stage");
        _cleanup_free_ char *wanted = NULL;
        if (!pending || path_normalize_absolute(opts->target, &wanted) < 0 || !streq(wanted, pending)) {
                _cleanup_free_ char *remedy = strdup_printf(
                        "Finish it with 'docker-dataroot migrate %s' or undo it with 'docker-dataroot "
                        "rollback', then run again.", pending ? pending : "TARGET");
                if (!remedy)
                        return -ENOMEM;
                return check_add(&p->checks, "pending-migration", CHECK_REFUSE, remedy,
                                 "an interrupted migration to %s (stopped during %s) is recorded in %s",
                                 pending ? pending : "?", stage ? stage : "?", journal_path(j));
        }

        /* Half of containerd's move cannot be dropped or added midway. */
        const char *recorded_containerd = journal_get_string(j, "containerd_target");
        _cleanup_free_ char *wanted_containerd = NULL;
        if (opts->containerd_root && path_normalize_absolute(opts->containerd_root, &wanted_containerd) < 0)
                wanted_containerd = NULL;
        bool other_root = recorded_containerd && wanted_containerd && !streq(recorded_containerd, wanted_containerd);
        if (!!recorded_containerd != opts->include_containerd || other_root) {
                _cleanup_free_ char *remedy = strdup_printf(
                        "Run it again as it was started: docker-dataroot migrate%s%s%s %s (or undo it with "
                        "'docker-dataroot rollback').", recorded_containerd ? " --include-containerd" : "",
                        recorded_containerd ? " --containerd-root " : "",
                        recorded_containerd ? recorded_containerd : "", pending);
                if (!remedy)
                        return -ENOMEM;
                if (other_root)
                        return check_add(&p->checks, "pending-migration", CHECK_REFUSE, remedy,
                                         "the interrupted migration to %s moves containerd's root to %s, not %s",
                                         pending, recorded_containerd, wanted_containerd);
                return check_add(&p->checks, "pending-migration", CHECK_REFUSE, remedy,
                                 "the interrupted migration to %s was started %s --include-containerd", pending,
                                 recorded_containerd ? "with" : "without");
        }

        p->resume = true;
        p->resume_stage = strdup(stage ? stage : "?");
        if (!p->resume_stage)
                return -ENOMEM;
        return check_add(&p->checks, "pending-migration", CHECK_WARN,
                         "Nothing to do: this run finishes it.",
                         "resuming the interrupted migration to %s (it stopped during %s)", pending,
                         p->resume_stage);
}

/* While resuming, Docker may still be stopped: the journal remembers what
 * the engine said before. */
static int engine_info_from_journal(const Journal *j, EngineInfo **ret) {
        _cleanup_(engine_info_freep) EngineInfo *info = calloc(1, sizeof(EngineInfo));
        const char *source = journal_get_string(j, "source");
        const char *driver = journal_get_string(j, "driver");

        if (!info)
                return -ENOMEM;
        if (!source || !driver)
                return -EBADMSG;
        info->root_dir = strdup(source);
        info->driver = strdup(driver);
        if (!info->root_dir || !info->driver)
                return -ENOMEM;
        info->images = journal_get_long(j, "images");
        info->containers = journal_get_long(j, "containers");
        info->containers_running = 0;
        *ret = TAKE_PTR(info);
        return 0;
}

static int plan_engine(MigratePlan *p, const MigrateOptions *opts) {
        _cleanup_free_ char *socket_path = NULL;
        int r;

        r = engine_socket_path(&socket_path);
        if (r < 0)
                return check_add(&p->checks, "engine-running", CHECK_REFUSE,
                                 "Unset DOCKER_HOST or point it at the local engine's unix:// socket.",
                                 "DOCKER_HOST='%s' is not a unix socket", getenv("DOCKER_HOST") ? getenv("DOCKER_HOST") : "");

        r = engine_get_info(socket_path, &p->engine);
        if (r < 0 && p->resume) {
                r = engine_info_from_journal(opts->journal, &p->engine);
                if (r < 0)
                        return check_add(&p->checks, "engine-running", CHECK_REFUSE,
                                         "Run 'docker-dataroot rollback', which needs only the state file's backup path.",
                                         "the engine is down and %s is incomplete", journal_path(opts->journal));
                p->source = strdup(p->engine->root_dir);
                if (!p->source)
                        return -ENOMEM;
                /* Stopped now does not mean stopped since: a reboot may have
                 * started it on either root, and someone stopped it again. */
                const char *target = journal_get_string(opts->journal, "target");
                const char *recopy = journal_get_string(opts->journal, "recopy");
                /* Without the mark of the stop (a kill before it was taken, or
                 * a journal of an older build) nothing can be told. */
                if (!journal_get_string(opts->journal, "source_mark"))
                        return check_add(&p->checks, "engine-running", CHECK_REFUSE,
                                         "Run 'docker-dataroot rollback' (without --remove-target), then start the "
                                         "migration again.",
                                         "Docker is stopped, and %s holds no mark of %s from the stop: whether Docker "
                                         "ran on it since cannot be told", journal_path(opts->journal), p->source);
                int on_source = migrate_docker_ran_from(opts->journal, p->source, NULL);
                int on_target = target ? migrate_docker_ran_from(opts->journal, target, NULL) : 0;
                if (on_source < 0 || on_target < 0)
                        return check_add(&p->checks, "engine-running", CHECK_REFUSE,
                                         "Run as root, or undo the interrupted migration with 'docker-dataroot rollback'.",
                                         "Docker is stopped, and whether it ran since the interrupted run cannot be "
                                         "told: %s", strerror(-(on_source < 0 ? on_source : on_target)));
                /* A copy anew that was cut short is still owed. */
                bool stale = on_source > 0 || (recopy && !streq(recopy, "done"));
                if (stale && on_target > 0)
                        return check_add(&p->checks, "engine-running", CHECK_REFUSE,
                                         "Run 'docker-dataroot rollback' without --remove-target: Docker runs on the "
                                         "old data-root again and the target is left as it is. Keep what you need of "
                                         "it, remove it by hand, and start the migration again.",
                                         "Docker is stopped, but since the interrupted run it ran on both %s and %s "
                                         "(%s): each holds data the other lacks",
                                         p->source, target,
                                         on_source > 0 ? "their top-level entries changed"
                                                       : "a copy anew is owed to the first");
                if (stale) {
                        p->recopy = true;
                        return check_add(&p->checks, "engine-running", CHECK_OK, NULL,
                                         "Docker is stopped, but it ran on %s since the interrupted run (%s): the "
                                         "copy is made anew", p->source,
                                         on_source > 0 ? "its top-level entries changed"
                                                       : "an earlier run began copying anew");
                }
                if (on_target > 0)
                        return check_add(&p->checks, "engine-running", CHECK_OK, NULL,
                                         "Docker is stopped; it ran on the target %s since daemon.json named it, and "
                                         "not on %s; resuming", target, p->source);
                return check_add(&p->checks, "engine-running", CHECK_OK, NULL,
                                 "Docker is stopped (interrupted migration) and did not run on %s since; resuming",
                                 p->source);
        }
        if (r == -EACCES)
                return check_add(&p->checks, "engine-running", CHECK_REFUSE, "Run it as root (sudo).",
                                 "no permission to talk to the Docker engine at %s", socket_path);
        if (r < 0)
                return check_add(&p->checks, "engine-running", CHECK_REFUSE,
                                 "Start Docker (systemctl start docker) so its data-root can be confirmed.",
                                 "the Docker engine at %s did not answer: %s", socket_path, strerror(-r));
        if (!p->engine->root_dir || p->engine->root_dir[0] != '/')
                return check_add(&p->checks, "engine-running", CHECK_REFUSE,
                                 "Check the Docker engine's health (docker info).",
                                 "the engine at %s reports no DockerRootDir", socket_path);

        if (p->resume) {
                /* The engine's live answer stands (counts, running containers,
                 * installation checks); the source is the recorded one. If
                 * Docker ran on it meanwhile, the copy so far is stale. */
                const char *recorded = journal_get_string(opts->journal, "source");
                const char *target = journal_get_string(opts->journal, "target");
                const char *stage = journal_get_string(opts->journal, "stage");
                if (!recorded || !target)
                        return -EBADMSG;
                const char *recopy = journal_get_string(opts->journal, "recopy");
                if (streq(p->engine->root_dir, recorded) || (stage && streq(stage, "rollback")) ||
                    (recopy && !streq(recopy, "done"))) {
                        p->recopy = true;
                        /* A copy anew clears the target: only while nothing
                         * but the copy wrote there. */
                        r = migrate_docker_ran_from(opts->journal, target, NULL);
                        if (r != 0)
                                return check_add(&p->checks, "engine-running", CHECK_REFUSE,
                                                 "Run 'docker-dataroot rollback' without --remove-target, keep what "
                                                 "you need of the target, remove it by hand, and start again.",
                                                 "Docker runs on %s now, but it ran on the target %s since daemon.json "
                                                 "named it%s%s: each holds data the other lacks", recorded, target,
                                                 r < 0 ? ", or that cannot be told: " : "", r < 0 ? strerror(-r) : "");
                } else if (!streq(p->engine->root_dir, target))
                        return check_add(&p->checks, "engine-running", CHECK_REFUSE,
                                         "Run 'docker-dataroot rollback' and start over.",
                                         "the engine runs on %s, neither the recorded source %s nor the target %s",
                                         p->engine->root_dir, recorded, target);
                p->source = strdup(recorded);
                if (!p->source)
                        return -ENOMEM;
                return check_add(&p->checks, "engine-running", CHECK_OK, NULL,
                                 "Docker %s answers at %s on %s; resuming the move of %s",
                                 p->engine->server_version ? p->engine->server_version : "?", socket_path,
                                 p->engine->root_dir, p->source);
        }

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
        if (p->resume && p->target && streq(expected, p->target))
                return check_add(&p->checks, "data-root-consistent", CHECK_OK, NULL,
                                 "%s already names %s (the interrupted run got that far)", p->config_path,
                                 p->target);
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
static int plan_installation(MigratePlan *p, const MigrateOptions *opts) {
        const cJSON *raw = p->engine ? p->engine->raw : NULL;
        int r;

        if (raw && json_array_has_string(cJSON_GetObjectItemCaseSensitive(raw, "SecurityOptions"), "name=rootless"))
                return check_add(&p->checks, "docker-rootless", CHECK_REFUSE,
                                 "Rootless Docker keeps its data in ~/.local/share/docker; set \"data-root\" in "
                                 "~/.config/docker/daemon.json and restart the user's docker.service instead.",
                                 "the engine runs rootless");
        /* A rootless install is invisible to the system engine's API: its
         * user unit or its data give it away. */
        _cleanup_free_ char *rootless = NULL;
        r = checks_find_rootless(NULL, &rootless);
        if (r < 0)
                return r;
        if (r > 0 && !p->engine)
                return check_add(&p->checks, "docker-rootless", CHECK_REFUSE,
                                 "rootless Docker: run dockerd-rootless's own procedure / set \"data-root\" in "
                                 "~/.config/docker/daemon.json and restart the user's docker.service.",
                                 "no system Docker engine answers, and %s belongs to a rootless Docker", rootless);
        if (r > 0) {
                r = check_add(&p->checks, "docker-rootless", CHECK_WARN,
                              "Nothing to do for the system engine; move the rootless one with \"data-root\" in "
                              "that user's ~/.config/docker/daemon.json if it needs room too.",
                              "%s belongs to a rootless Docker; only the system engine is moved", rootless);
                if (r < 0)
                        return r;
        }
        if (!raw)
                return 0;
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
        if (snapshotter && !opts->include_containerd)
                return check_add(&p->checks, "containerd-snapshotter", CHECK_REFUSE,
                                 "Images live under containerd's root (/var/lib/containerd), which \"data-root\" "
                                 "does not move; add --include-containerd to move containerd's \"root\" (in "
                                 "/etc/containerd/config.toml) too, or switch the image store off first.",
                                 "the engine uses the containerd image store");
        if (opts->include_containerd) {
                r = check_add(&p->checks, "containerd-snapshotter", CHECK_OK, NULL,
                              snapshotter ? "the engine uses the containerd image store; containerd's root moves too"
                                          : "the engine keeps its images in the data-root; containerd's root moves "
                                            "too, as asked (--include-containerd)");
                if (r < 0)
                        return r;
        }

        /* The engine's own word counts: dockerd keeps live-restore on after
         * the key left daemon.json, until it restarts. */
        const cJSON *live_restore = p->config ? cJSON_GetObjectItemCaseSensitive(p->config->root, "live-restore")
                                              : NULL;
        bool live = cJSON_IsTrue(live_restore) ||
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(raw, "LiveRestoreEnabled"));
        if (live && p->engine->containers_running > 0)
                return check_add(&p->checks, "live-restore", CHECK_REFUSE,
                                 "Stop the containers first (docker stop $(docker ps -q)): with live-restore they "
                                 "would keep running on the old data-root while dockerd is stopped.",
                                 "\"live-restore\" is on and %ld container(s) are running",
                                 p->engine->containers_running);

        r = check_add(&p->checks, "installation", CHECK_OK, NULL,
                      snapshotter ? "system Docker managed by systemd, image store under containerd's root"
                                  : "system Docker managed by systemd, image store in the data-root");
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

/* ---- containerd's root (--include-containerd) ---- */

int migrate_containerd_uses(const char *dir, pid_t *ret_pid) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r = procs_find_by_comm("/proc", "containerd", &pids, &n);
        if (r < 0)
                return r;

        bool seen = false;
        for (size_t i = 0; i < n; i++) {
                /* A containerd in another PID namespace (a nested engine)
                 * serves another root. */
                if (procs_in_own_pid_namespace("/proc", pids[i]) <= 0)
                        continue;
                seen = true;
                if (ret_pid)
                        *ret_pid = pids[i];
                char fd_dir[64];
                snprintf(fd_dir, sizeof fd_dir, "/proc/%d/fd", (int) pids[i]);
                _cleanup_closedir_ DIR *d = opendir(fd_dir);
                /* gone meanwhile: it uses nothing; unreadable: it may */
                if (!d && (errno == ENOENT || errno == ESRCH))
                        continue;
                if (!d)
                        return negative_errno();
                struct dirent *de;
                while ((de = readdir(d))) {
                        char link[PATH_MAX];
                        ssize_t len = readlinkat(dirfd(d), de->d_name, link, sizeof link - 1);
                        if (len <= 0)
                                continue;
                        link[len] = 0;
                        if (link[0] == '/' && path_is_same_or_below(dir, link))
                                return 1;
                }
        }
        return seen ? 0 : -ESRCH;
}

/* The mark of a containerd root: its metadata database's modification
 * time, or "none". The copy keeps the time, so a copy and its source carry
 * the same mark until containerd writes to one of them. */
static int containerd_mark(const char *root, char **ret) {
        _cleanup_free_ char *path = strdup_printf("%s/%s", root, CONTAINERD_METADATA_DB);
        struct stat st;

        if (!path)
                return -ENOMEM;
        if (stat(path, &st) < 0) {
                if (errno != ENOENT)
                        return negative_errno();
                *ret = strdup("none");
        } else
                *ret = strdup_printf("%lld.%09ld", (long long) st.st_mtim.tv_sec, (long) st.st_mtim.tv_nsec);
        return *ret ? 0 : -ENOMEM;
}

typedef int (*MarkFunction)(const char *root, char **ret);

static int record_mark(Journal *j, const char *key, const char *root, MarkFunction mark_of) {
        _cleanup_free_ char *mark = NULL;
        if (!j)
                return 0;
        int r = mark_of(root, &mark);
        if (r < 0)
                return r;
        return journal_set_string(j, key, mark);
}

static int record_containerd_mark(Journal *j, const char *key, const char *root) {
        return record_mark(j, key, root, containerd_mark);
}

/* Docker's counterpart: the top of its data-root, which every dockerd
 * start changes (it renames its tmp directory and opens its databases). */
static int record_docker_mark(Journal *j, const char *key, const char *root) {
        return record_mark(j, key, root, path_top_mark);
}

/* 1 when root's mark differs from the one the journal keeps under key (or
 * there is none: then it cannot be told that nothing changed), 0 when
 * equal or root is gone. */
static int mark_moved(const Journal *j, const char *key, const char *root, MarkFunction mark_of) {
        _cleanup_free_ char *now = NULL;
        int r = mark_of(root, &now);
        if (r < 0)
                return r;
        if (streq(now, "none"))
                return 0;
        const char *recorded = journal_get_string(j, key);
        return !recorded || !streq(recorded, now);
}

int migrate_docker_ran_from(const Journal *j, const char *root, const char *engine_root) {
        if (!j || !root)
                return -EINVAL;
        if (engine_root && streq(engine_root, root))
                return 1;
        const char *target = journal_get_string(j, "target");
        bool is_target = target && streq(target, root);
        /* Until daemon.json named the target, and while a copy anew (with
         * daemon.json restored) rewrites it, nothing but the copy writes
         * there. */
        const char *copying = journal_get_string(j, "recopy");
        if (is_target && (!journal_get_string(j, "config_written") || (copying && streq(copying, "clearing"))))
                return 0;
        return mark_moved(j, is_target ? "target_mark" : "source_mark", root, path_top_mark);
}

int migrate_containerd_ran_from(const Journal *j, const char *root) {
        int r = migrate_containerd_uses(root, NULL);
        if (r != 0 && r != -ESRCH)
                return r;
        if (!j)
                return -EINVAL;

        const char *moved = journal_get_string(j, "containerd_target");
        bool is_new_root = moved && streq(moved, root);
        /* Until config.toml named the new root, nothing but the copy wrote
         * there (a copy cut short carries no mark of its own yet). */
        if (is_new_root && !journal_get_string(j, "containerd_config_written"))
                return 0;
        return mark_moved(j, is_new_root ? "containerd_target_mark" : "containerd_source_mark", root, containerd_mark);
}

/* 1 when a and b are the same directory or one holds the other, by name or
 * through a bind mount or a symlink (judged on what exists of each: a
 * directory yet to be made lies where its closest existing ancestor is). */
static int paths_nested(const char *a, const char *b) {
        if (path_is_same_or_below(a, b) || path_is_same_or_below(b, a))
                return 1;
        const char *pair[2][2] = { { a, b }, { b, a } };
        for (size_t i = 0; i < 2; i++) {
                _cleanup_free_ char *existing = NULL;
                int r = path_existing_ancestor(pair[i][0], &existing);
                if (r < 0)
                        return r;
                r = path_inode_same_or_below(pair[i][1], existing);
                if (r == -ENOENT)
                        continue;
                if (r != 0)
                        return r;
        }
        return 0;
}

/* Sets the status, evidence and remedy of the check already recorded as
 * id: a later finding (e.g. nesting with Docker's own trees) overrides it. */
_printf_(5, 6) static int override_check(CheckList *l, const char *id, CheckStatus status, const char *remedy,
                                         const char *evidence_fmt, ...) {
        CheckResult *c = NULL;
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i].id, id))
                        c = &l->items[i];
        if (!c)
                return -ENOENT;

        va_list ap;
        char *evidence = NULL;
        va_start(ap, evidence_fmt);
        int r = vasprintf(&evidence, evidence_fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        char *remedy_copy = remedy ? strdup(remedy) : NULL;
        if (remedy && !remedy_copy) {
                free(evidence);
                return -ENOMEM;
        }
        free(c->evidence);
        free(c->remedy);
        c->evidence = evidence;
        c->remedy = remedy_copy;
        c->status = status;
        return 0;
}

/* The value of a Go flag (-name or --name, "=value" or the next word). */
static const char *go_flag_value(char *const *argv, const char *name) {
        size_t n = strlen(name);
        for (size_t i = 1; argv[i]; i++) {
                const char *a = argv[i];
                if (a[0] != '-')
                        continue;
                a += a[1] == '-' ? 2 : 1;
                if (strncmp(a, name, n) != 0)
                        continue;
                if (a[n] == '=')
                        return a + n + 1;
                if (a[n] == 0)
                        return argv[i + 1];
        }
        return NULL;
}

/* Docker's own containerd namespaces: its containers' ("moby") and its
 * managed plugins' ("plugins.moby"), unless daemon.json names others;
 * userns-remap adds ".UID.GID". */
static bool namespace_is_dockers(const MigratePlan *p, const char *ns) {
        const char *keys[] = { "containerd-namespace", "containerd-plugins-namespace" };
        const char *defaults[] = { "moby", "plugins.moby" };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const cJSON *v = p->config && p->config->root ? cJSON_GetObjectItemCaseSensitive(p->config->root, keys[i])
                                                               : NULL;
                const char *name = cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : defaults[i];
                size_t n = strlen(name);
                if (strncmp(ns, name, n) == 0 && (ns[n] == 0 || ns[n] == '.'))
                        return true;
        }
        return false;
}

/* Other users of containerd would lose their containers' data with the
 * move, or keep writing to the old root during the copy: a containerd
 * that is not containerd.service's (k3s runs its own, with the same
 * name), or a shim of a namespace other than Docker's "moby". Found now,
 * they are a refusal; after the stop they would be a rollback. */
static int plan_containerd_other_clients(MigratePlan *p, sd_bus *bus) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *unit_path = NULL;
        uint32_t main_pid = 0;
        int r;

        r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", CONTAINERD_SERVICE, &unit_path);
        if (r < 0)
                return r;
        r = sd_bus_get_property_trivial(bus, "org.freedesktop.systemd1", unit_path, "org.freedesktop.systemd1.Service",
                                        "MainPID", &error, 'u', &main_pid);
        if (r < 0)
                return check_add(&p->checks, "containerd-other-clients", CHECK_REFUSE,
                                 "Check containerd.service with 'systemctl status containerd.service'.",
                                 "cannot read the main process of %s: %s", CONTAINERD_SERVICE,
                                 error.message ? error.message : strerror(-r));

        static const char *const names[] = { "containerd", "containerd-shim" };
        for (size_t k = 0; k < ELEMENTSOF(names); k++) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0;
                r = procs_find_by_comm("/proc", names[k], &pids, &n);
                if (r < 0)
                        return check_add(&p->checks, "containerd-other-clients", CHECK_REFUSE, "Run as root.",
                                         "cannot list the processes: %s", strerror(-r));
                for (size_t i = 0; i < n; i++) {
                        int own = procs_in_own_pid_namespace("/proc", pids[i]);
                        if (own == 0 || own == -ENOENT)
                                continue;
                        if (k == 0 && (uint32_t) pids[i] == main_pid)
                                continue;
                        if (k == 0)
                                return check_add(&p->checks, "containerd-other-clients", CHECK_REFUSE,
                                                 "Stop that containerd (and what runs it, e.g. k3s) first, or move "
                                                 "its root by its own means.",
                                                 "containerd (pid %d) runs outside %s (main pid %u)", (int) pids[i],
                                                 CONTAINERD_SERVICE, (unsigned) main_pid);
                        _cleanup_strv_free_ char **argv = NULL;
                        r = procs_get_cmdline("/proc", pids[i], &argv);
                        if (r == -ENOENT)
                                continue;
                        if (r < 0)
                                return check_add(&p->checks, "containerd-other-clients", CHECK_REFUSE,
                                                 "Run as root.", "cannot read the arguments of %s (pid %d): %s",
                                                 names[k], (int) pids[i], strerror(-r));
                        const char *ns = r > 0 ? go_flag_value(argv, "namespace") : NULL;
                        if (r > 0 && (!ns || !namespace_is_dockers(p, ns)))
                                return check_add(&p->checks, "containerd-other-clients", CHECK_REFUSE,
                                                 "Stop those containers first (ctr, nerdctl, Kubernetes): they use "
                                                 "containerd's root, and their shims would keep it busy.",
                                                 "containerd-shim (pid %d) serves the containerd namespace '%s', "
                                                 "not one of Docker's ('moby', 'plugins.moby' or what daemon.json's "
                                                 "containerd-namespace keys name)", (int) pids[i],
                                                 ns ? ns : "(none given)");
                }
        }
        return check_add(&p->checks, "containerd-other-clients", CHECK_OK, NULL,
                         "containerd.service's containerd and Docker's shims are its only users");
}

/* containerd.service must run containerd, with no --root of its own; a
 * --config flag names the config.toml to edit. */
static int plan_containerd_service(MigratePlan *p, char **ret_config_from_flag) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *state = NULL, *root_flag = NULL;
        char ***exec_start = NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = units_get_active_state(bus, CONTAINERD_SERVICE, &state, &error);
        if (r < 0)
                return check_add(&p->checks, "containerd-service", CHECK_REFUSE,
                                 "--include-containerd needs containerd run by systemd's containerd.service.",
                                 "cannot read the state of %s: %s", CONTAINERD_SERVICE,
                                 error.message ? error.message : strerror(-r));
        /* The interrupted run may have stopped it. */
        if (!streq(state, "active") && !p->resume)
                return check_add(&p->checks, "containerd-service", CHECK_REFUSE,
                                 "Start it (systemctl start containerd.service) or check that Docker really uses "
                                 "it, then run again.",
                                 "%s is %s, not active", CONTAINERD_SERVICE, state);

        sd_bus_error_free(&error);
        r = units_get_exec_start(bus, CONTAINERD_SERVICE, &exec_start, &error);
        if (r < 0)
                return check_add(&p->checks, "containerd-service", CHECK_REFUSE,
                                 "Check containerd.service with 'systemctl cat containerd.service'.",
                                 "cannot read ExecStart of %s: %s", CONTAINERD_SERVICE,
                                 error.message ? error.message : strerror(-r));
        r = 0;
        for (size_t i = 0; exec_start && exec_start[i] && r >= 0; i++) {
                if (!root_flag && containerd_find_root_flag(exec_start[i], &root_flag) < 0)
                        r = -ENOMEM;
                if (r >= 0 && !*ret_config_from_flag &&
                    containerd_find_config_flag(exec_start[i], ret_config_from_flag) < 0)
                        r = -ENOMEM;
        }
        units_exec_start_free(exec_start);
        if (r < 0)
                return r;
        r = check_add(&p->checks, "containerd-service", CHECK_OK, NULL, "%s is %s", CONTAINERD_SERVICE, state);
        if (r >= 0)
                r = plan_containerd_other_clients(p, bus);
        if (r < 0)
                return r;
        if (root_flag)
                return check_add(&p->checks, "containerd-root-flag", CHECK_REFUSE,
                                 "Remove the --root flag from containerd.service (see 'systemctl cat "
                                 "containerd.service' for the drop-in that adds it), run 'systemctl "
                                 "daemon-reload', restart containerd, and run again: the root is then set in "
                                 "config.toml, which the migration edits.",
                                 "containerd.service runs containerd with '%s'", root_flag);
        return check_add(&p->checks, "containerd-root-flag", CHECK_OK, NULL,
                         "no --root flag in containerd.service");
}

static int plan_containerd_config(MigratePlan *p, const char *config_from_flag) {
        ContainerdConfigError error = {};
        int r;

        p->containerd_config_path = strdup(config_from_flag ? config_from_flag : CONTAINERD_CONFIG_DEFAULT_PATH);
        if (!p->containerd_config_path)
                return -ENOMEM;
        r = daemon_config_resolve_path(p->containerd_config_path, &p->containerd_config_real_path);
        if (r < 0)
                return check_add(&p->checks, "containerd-config", CHECK_REFUSE,
                                 "Check the path of containerd's configuration.", "cannot resolve %s: %s",
                                 p->containerd_config_path, strerror(-r));
        p->containerd_backup_path = make_backup_path(p->containerd_config_real_path);
        if (!p->containerd_backup_path)
                return -ENOMEM;

        r = containerd_config_load(p->containerd_config_path, &p->containerd_config, &error);
        if (r == -EBADMSG)
                return check_add(&p->checks, "containerd-config", CHECK_REFUSE,
                                 "docker-dataroot edits only what it can read with certainty: set \"root\" in "
                                 "that file by hand (stop Docker and containerd, copy the tree with "
                                 "'docker-dataroot copy'), or simplify that line, and run again.",
                                 "%s line %u: %s", p->containerd_config_path, error.line, error.message);
        if (r < 0)
                return check_add(&p->checks, "containerd-config", CHECK_REFUSE, "Check that the file is readable.",
                                 "cannot read %s: %s", p->containerd_config_path, strerror(-r));

        _cleanup_free_ char *import = NULL;
        unsigned import_line = 0;
        error = (ContainerdConfigError) {};
        r = containerd_config_check_imports(p->containerd_config, p->containerd_config_real_path, &import,
                                            &import_line, &error);
        if (r < 0)
                return r;
        if (r > 0 && error.message[0])
                return check_add(&p->checks, "containerd-config", CHECK_REFUSE,
                                 "Simplify the imported file, or set \"root\" by hand.",
                                 "%s imports %s, which cannot be read with certainty (line %u: %s)",
                                 p->containerd_config_path, import, error.line, error.message);
        if (r > 0)
                return check_add(&p->checks, "containerd-config", CHECK_REFUSE,
                                 "Set \"root\" only in the main config.toml, restart containerd, and run again.",
                                 "%s imports %s, which sets \"root\" on line %u: an edit of the main file would "
                                 "not take", p->containerd_config_path, import, import_line);

        const ContainerdConfig *c = p->containerd_config;
        if (!c->existed)
                return check_add(&p->checks, "containerd-config", CHECK_OK, NULL,
                                 "%s does not exist: containerd uses %s; it will be created with only \"root\"",
                                 p->containerd_config_path, CONTAINERD_DEFAULT_ROOT);
        if (!c->root)
                return check_add(&p->checks, "containerd-config", CHECK_OK, NULL,
                                 "%s sets no top-level \"root\": containerd uses %s; a \"root\" line will be added",
                                 p->containerd_config_path, CONTAINERD_DEFAULT_ROOT);
        return check_add(&p->checks, "containerd-config", CHECK_OK, NULL, "%s line %u: root = %s",
                         p->containerd_config_path, c->root_line, c->root);
}

/* Docker's engine tells whether Docker ran on its old root since the
 * interrupted run; containerd's own evidence tells the same of containerd
 * (a reboot starts it from whichever root config.toml names by then). Its
 * copy is redone when it ran from the old root. When it ran from its new
 * root while Docker ran on the old one (or from both roots), the two
 * daemons' data diverged: no copy in either direction keeps all of it. */
static int plan_containerd_resume(MigratePlan *p, const MigrateOptions *opts, const char *configured,
                                  const char *recorded, const char *target) {
        const char *docker_target = journal_get_string(opts->journal, "target");
        int from_source = migrate_containerd_ran_from(opts->journal, recorded);
        int from_target = migrate_containerd_ran_from(opts->journal, target);
        if (from_source < 0 || from_target < 0)
                return check_add(&p->checks, "containerd-root-consistent", CHECK_REFUSE,
                                 "Run as root, or undo the interrupted migration with 'docker-dataroot rollback'.",
                                 "cannot tell whether containerd ran since the interrupted run: %s",
                                 strerror(-(from_source < 0 ? from_source : from_target)));

        const char *data_root = NULL;
        bool docker_on_source = p->recopy;
        bool docker_on_target = docker_target && p->engine && p->engine->root_dir &&
                                streq(p->engine->root_dir, docker_target);
        bool docker_named_target = docker_target && p->config &&
                                   daemon_config_get_data_root(p->config, &data_root) > 0 &&
                                   streq(data_root, docker_target);
        _cleanup_free_ char *remedy = strdup_printf(
                "Run 'docker-dataroot rollback' without --remove-target: both daemons run from their old roots "
                "again and %s is left as it is, with what containerd wrote there. Keep what you need of it, "
                "remove it by hand, and start the migration again.", target);
        if (!remedy)
                return -ENOMEM;

        if (from_target && from_source)
                return check_add(&p->checks, "containerd-root-consistent", CHECK_REFUSE, remedy,
                                 "since the interrupted run containerd ran from both %s and %s: each holds data "
                                 "the other lacks", recorded, target);
        if (from_target && docker_on_source)
                return check_add(&p->checks, "containerd-root-consistent", CHECK_REFUSE, remedy,
                                 "since the interrupted run containerd ran from its new root %s while Docker ran "
                                 "on its old data-root %s: their data diverged", target, p->source ? p->source : "?");
        if (from_source && (docker_on_target || docker_named_target || streq(configured, target)))
                return check_add(&p->checks, "containerd-root-consistent", CHECK_REFUSE, remedy,
                                 "since the interrupted run containerd ran from its old root %s while %s names the "
                                 "new one%s: their data diverged", recorded,
                                 streq(configured, target) ? p->containerd_config_path : p->config_path,
                                 docker_on_target ? " and Docker runs there" : "");
        if (from_source) {
                /* Docker's target is nobody's live data while daemon.json
                 * and config.toml still name the old roots: both are copied
                 * anew, as after a rollback. */
                p->recopy = true;
                p->containerd_recopy = true;
                return check_add(&p->checks, "containerd-root-consistent", CHECK_WARN,
                                 "Nothing to do: the copies are made anew.",
                                 "containerd ran from %s since the interrupted run: its copy is stale", recorded);
        }
        if (from_target)
                return check_add(&p->checks, "containerd-root-consistent", CHECK_OK, NULL,
                                 "containerd already ran from its new root %s, and Docker does not run on %s; "
                                 "resuming", target, p->source ? p->source : "?");
        return check_add(&p->checks, "containerd-root-consistent", CHECK_OK, NULL,
                         "resuming the move of containerd's root %s (it did not run since)", recorded);
}

/* Where containerd runs from now. The running process is the truth, as
 * the engine is for Docker: a root set some other way would make the edit
 * of config.toml moot. */
static int plan_containerd_source(MigratePlan *p, const MigrateOptions *opts) {
        const char *configured = containerd_config_effective_root(p->containerd_config);
        int r;

        if (p->resume) {
                const char *recorded = journal_get_string(opts->journal, "containerd_source");
                const char *target = journal_get_string(opts->journal, "containerd_target");
                if (!recorded || !target)
                        return -EBADMSG;
                p->containerd_source = strdup(recorded);
                if (!p->containerd_source)
                        return -ENOMEM;
                _cleanup_free_ char *configured_normalized = NULL;
                if (containerd_config_normalized_root(p->containerd_config, &configured_normalized) >= 0)
                        configured = configured_normalized;
                if (!streq(configured, recorded) && !streq(configured, target))
                        return check_add(&p->checks, "containerd-root-consistent", CHECK_REFUSE,
                                         "Run 'docker-dataroot rollback' and start over.",
                                         "%s names %s, neither the recorded root %s nor the target %s",
                                         p->containerd_config_path, configured, recorded, target);
                return plan_containerd_resume(p, opts, configured, recorded, target);
        }

        _cleanup_free_ char *normalized = NULL;
        if (path_normalize_absolute(configured, &normalized) < 0)
                return check_add(&p->checks, "containerd-root-consistent", CHECK_REFUSE,
                                 "Name containerd's root as an absolute path without '..'.",
                                 "containerd's root '%s' is not a plain absolute path", configured);
        pid_t pid = 0;
        r = migrate_containerd_uses(normalized, &pid);
        if (r == -ESRCH)
                return check_add(&p->checks, "containerd-root-consistent", CHECK_REFUSE,
                                 "Start containerd.service, then run again.", "no containerd process runs");
        if (r < 0)
                return check_add(&p->checks, "containerd-root-consistent", CHECK_REFUSE,
                                 "Run as root.", "cannot look at containerd's open files: %s", strerror(-r));
        if (r == 0)
                return check_add(&p->checks, "containerd-root-consistent", CHECK_REFUSE,
                                 "Find what sets containerd's root (a flag, an imported file), remove it, restart "
                                 "containerd, and run again.",
                                 "containerd (pid %d) holds no file open below %s, the root %s names",
                                 (int) pid, normalized, p->containerd_config_path);
        p->containerd_source = TAKE_PTR(normalized);
        return check_add(&p->checks, "containerd-root-consistent", CHECK_OK, NULL,
                         "containerd (pid %d) runs from %s", (int) pid, p->containerd_source);
}

/* The new root: named by --containerd-root, else "containerd" next to the
 * target, so both land on the same (new) filesystem. */
static char *containerd_wanted_root(const MigratePlan *p, const MigrateOptions *opts) {
        if (p->resume)
                return strdup(journal_get_string(opts->journal, "containerd_target"));
        if (opts->containerd_root)
                return strdup(opts->containerd_root);
        const char *slash = strrchr(p->target, '/');
        return slash == p->target ? strdup("/containerd")
                                  : strdup_printf("%.*s/containerd", (int) (slash - p->target), p->target);
}

static int plan_containerd_target(MigratePlan *p, const MigrateOptions *opts) {
        _cleanup_free_ char *wanted = containerd_wanted_root(p, opts);
        int r;

        if (!wanted)
                return -ENOMEM;

        p->checks.id_prefix = "containerd-";
        r = checks_target_path(&p->checks, wanted, p->containerd_source, &p->containerd_target);
        p->checks.id_prefix = NULL;
        if (r < 0 || !p->containerd_target)
                return r;

        const char *t = p->containerd_target, *clash = NULL;
        int nested = paths_nested(t, p->source);
        if (nested != 0)
                clash = p->source;
        else if ((nested = paths_nested(t, p->target)) != 0)
                clash = p->target;
        if (nested < 0) {
                r = override_check(&p->checks, "containerd-target-nesting", CHECK_REFUSE, "Run as root.",
                                   "cannot tell whether %s and %s overlap: %s", t, clash, strerror(-nested));
                if (r < 0)
                        return r;
        } else if (clash) {
                r = override_check(&p->checks, "containerd-target-nesting", CHECK_REFUSE,
                                   "Choose containerd's new root apart from Docker's trees (--containerd-root DIR).",
                                   "%s and %s are nested: containerd's root and Docker's data-root must be apart",
                                   t, clash);
                if (r < 0)
                        return r;
        }
        if (!containerd_config_root_is_plain(t)) {
                r = check_add(&p->checks, "containerd-config", CHECK_REFUSE,
                              "Choose a path without quotes, backslashes or control characters.",
                              "%s cannot be written into config.toml without escapes", t);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Docker's trees must lie apart from containerd's old root, or the copy
 * would write into a source tree and removing that old root by hand, as
 * the tool suggests afterwards, would remove Docker's data. */
static int plan_containerd_source_nesting(MigratePlan *p) {
        const char *docker_trees[] = { p->source, p->target };
        for (size_t i = 0; i < ELEMENTSOF(docker_trees); i++) {
                if (!docker_trees[i])
                        continue;
                int nested = paths_nested(docker_trees[i], p->containerd_source);
                if (nested < 0)
                        return check_add(&p->checks, "containerd-source-nesting", CHECK_REFUSE, "Run as root.",
                                         "cannot tell whether %s and containerd's root %s overlap: %s",
                                         docker_trees[i], p->containerd_source, strerror(-nested));
                if (nested > 0)
                        return check_add(&p->checks, "containerd-source-nesting", CHECK_REFUSE,
                                         i == 0 ? "Move Docker's data-root out of containerd's root first (or "
                                                  "containerd's root out of it), without --include-containerd."
                                                : "Choose a TARGET outside containerd's root.",
                                         "%s %s and containerd's root %s are the same directory or one holds "
                                         "the other", i == 0 ? "Docker's data-root" : "TARGET", docker_trees[i],
                                         p->containerd_source);
        }
        return check_add(&p->checks, "containerd-source-nesting", CHECK_OK, NULL,
                         "containerd's root %s lies apart from Docker's trees", p->containerd_source);
}

static int plan_containerd_other_paths(MigratePlan *p) {
        if (!p->containerd_config || !p->containerd_source)
                return 0;
        unsigned line = containerd_config_line_naming(p->containerd_config, p->containerd_source);
        if (line == 0)
                return 0;
        /* Debian's own file puts the opt plugin's path there (binaries, no
         * open file): a warning, but one that says what fails otherwise. */
        return check_add(&p->checks, "containerd-other-paths", CHECK_WARN,
                         "Only \"root\" moves; that path stays. If containerd keeps a file open there (a "
                         "snapshotter's root_path, a plugin's database), the check after its start fails and the "
                         "whole move is rolled back: point such a path outside the old root first. A path that "
                         "holds no open file (the opt plugin's binaries) may stay, and the old root must then be "
                         "kept.",
                         "%s line %u names a path below %s besides \"root\"", p->containerd_config_path, line,
                         p->containerd_source);
}

/* Everything about containerd but its target's filesystem, which is
 * checked together with Docker's (they may share the space). */
static int plan_containerd(MigratePlan *p, const MigrateOptions *opts) {
        _cleanup_free_ char *config_from_flag = NULL;
        int r;

        if (!opts->include_containerd)
                return 0;
        p->containerd = true;

        r = plan_containerd_service(p, &config_from_flag);
        if (r < 0)
                return r;
        const CheckResult *service = check_list_find(&p->checks, "containerd-service");
        if (service && service->status == CHECK_REFUSE)
                return 0;
        if (p->resume && journal_get_string(opts->journal, "containerd_config")) {
                /* the recorded real path: a resumed run edits the same file */
                free(config_from_flag);
                config_from_flag = strdup(journal_get_string(opts->journal, "containerd_config"));
                if (!config_from_flag)
                        return -ENOMEM;
        }
        r = plan_containerd_config(p, config_from_flag);
        if (r < 0 || !p->containerd_config)
                return r;
        r = plan_containerd_source(p, opts);
        if (r < 0 || !p->containerd_source)
                return r;
        r = plan_containerd_source_nesting(p);
        if (r < 0)
                return r;
        r = plan_containerd_other_paths(p);
        if (r < 0)
                return r;
        if (p->target) {
                r = plan_containerd_target(p, opts);
                if (r < 0)
                        return r;
        }

        r = tree_size(p->containerd_source, &p->containerd_size);
        if (r < 0)
                return check_add(&p->checks, "containerd-source-readable", CHECK_REFUSE,
                                 "Run as root; check containerd's root with 'ls -la'.", "cannot size %s: %s",
                                 p->containerd_source, strerror(-r));
        char buf[32];
        return check_add(&p->checks, "containerd-source-readable", CHECK_OK, NULL,
                         "%s: %" PRIu64 " entries, %s allocated", p->containerd_source, p->containerd_size.entries,
                         format_bytes(p->containerd_size.allocated_bytes, buf, sizeof buf));
}

/* 1 when the two targets will land on the same filesystem. */
static int targets_share_filesystem(const char *a, const char *b) {
        _cleanup_free_ char *ancestor_a = NULL, *ancestor_b = NULL;
        if (path_existing_ancestor(a, &ancestor_a) < 0 || path_existing_ancestor(b, &ancestor_b) < 0)
                return 0;
        return mounts_same_filesystem(ancestor_a, ancestor_b) > 0;
}

static int plan_containerd_filesystem(MigratePlan *p, const MigrateOptions *opts, uint64_t needed_bytes,
                                      uint64_t needed_inodes) {
        int r;

        p->checks.id_prefix = "containerd-";
        r = checks_target_filesystem(&p->checks, p->containerd_target, opts->mountinfo_path, needed_bytes,
                                     needed_inodes, &p->containerd_target_fs);
        if (r >= 0 && p->containerd_target_fs.mountpoint)
                r = checks_boot_mount(&p->checks, p->containerd_target_fs.mountpoint, NULL);
        p->checks.id_prefix = NULL;
        if (r < 0)
                return r;

        const CheckResult *mounted = check_list_find(&p->checks, "containerd-target-mounted");
        if (!opts->containerd_root && !p->resume && mounted && mounted->status == CHECK_REFUSE &&
            strstr(mounted->evidence, "root filesystem")) {
                _cleanup_free_ char *evidence = strdup(mounted->evidence);
                if (!evidence)
                        return -ENOMEM;
                return override_check(&p->checks, "containerd-target-mounted", CHECK_REFUSE,
                                      "The default place for containerd's root, next to TARGET, is on the root "
                                      "filesystem: name a directory on the new filesystem with --containerd-root "
                                      "DIR.", "%s", evidence);
        }
        return 0;
}

/* TARGET already is Docker's data-root. With --include-containerd that is
 * nothing to do only when containerd's root is where the move would have
 * put it: containerd is moved with Docker, never alone. 1 when refused
 * (the checks say why), 0 when there is nothing to do. */
static int plan_containerd_in_place(MigratePlan *p, const MigrateOptions *opts) {
        static const char *const ids[] = { "containerd-service", "containerd-root-flag", "containerd-config" };
        _cleanup_free_ char *config_from_flag = NULL, *wanted = NULL, *configured = NULL;
        int r;

        r = plan_containerd_service(p, &config_from_flag);
        if (r >= 0 && !check_list_find(&p->checks, "containerd-config"))
                r = plan_containerd_config(p, config_from_flag);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                const CheckResult *c = check_list_find(&p->checks, ids[i]);
                if (c && c->status == CHECK_REFUSE)
                        return 1;
        }
        if (!p->containerd_config)
                return 1;

        const char *root = containerd_config_effective_root(p->containerd_config);
        _cleanup_free_ char *wanted_raw = containerd_wanted_root(p, opts);
        if (!wanted_raw)
                return -ENOMEM;
        if (path_normalize_absolute(root, &configured) >= 0 && path_normalize_absolute(wanted_raw, &wanted) >= 0 &&
            streq(configured, wanted))
                return 0;
        _cleanup_free_ char *remedy = strdup_printf(
                "docker-dataroot moves containerd's root only together with Docker's data-root. Run it without "
                "--include-containerd (nothing to do), or move containerd by hand: stop docker.socket, "
                "docker.service and containerd.service, 'docker-dataroot copy %s %s', set root in %s, start them.",
                root, wanted ? wanted : wanted_raw, p->containerd_config_path);
        if (!remedy)
                return -ENOMEM;
        r = check_add(&p->checks, "containerd-in-place", CHECK_REFUSE, remedy,
                      "%s already is Docker's data-root, but containerd's root is %s, not %s", p->target, root,
                      wanted ? wanted : wanted_raw);
        return r < 0 ? r : 1;
}

/* The interrupted run's partial copy is what a resume completes. */
static void accept_partial_copy(CheckList *l) {
        for (size_t i = 0; i < l->n; i++) {
                CheckResult *c = &l->items[i];
                if ((!streq(c->id, "target-empty") && !streq(c->id, "containerd-target-empty")) ||
                    c->status != CHECK_REFUSE || !strstr(c->evidence, "not empty"))
                        continue;
                char *evidence = strdup("holds the partial copy of the interrupted migration; it will be completed");
                if (!evidence)
                        return;
                free(c->evidence);
                free(c->remedy);
                c->evidence = evidence;
                c->remedy = NULL;
                c->status = CHECK_OK;
        }
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
                r = check_add(&p->checks, "config-file-flag", CHECK_WARN,
                              "Nothing to do; pass --config to name another file on purpose.",
                              "docker.service runs dockerd with --config-file %s; that file is used",
                              config_from_flag);
                if (r < 0)
                        return r;
        }
        r = plan_journal(p, opts);
        if (r < 0)
                return r;
        r = plan_engine(p, opts);
        if (r < 0)
                return r;
        if (p->resume) {
                p->target = strdup(journal_get_string(opts->journal, "target"));
                if (!p->target)
                        return -ENOMEM;
        }
        r = plan_consistency(p);
        if (r < 0)
                return r;
        r = plan_installation(p, opts);
        if (r < 0)
                return r;

        announce(opts, STAGE_CHECK, "checking the target");
        free(p->target);
        p->target = NULL;
        r = checks_target_path(&p->checks, opts->target, p->source, &p->target);
        if (r < 0)
                return r;
        if (p->resume)
                accept_partial_copy(&p->checks);

        if (!p->resume && p->target && p->source && streq(p->target, p->source)) {
                /* Asking for the current root is a success with nothing to do,
                 * so provisioning scripts can run the same command twice. */
                if (opts->include_containerd) {
                        r = plan_containerd_in_place(p, opts);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                *ret = TAKE_PTR(p);
                                return 0;
                        }
                }
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
        r = plan_containerd(p, opts);
        if (r < 0)
                return r;
        if (p->resume)
                accept_partial_copy(&p->checks);

        /* A resumed copy needs room only for what is still missing. */
        TreeSize done = {}, containerd_done = {};
        if (p->resume && p->target)
                (void) tree_size(p->target, &done);
        if (p->resume && p->containerd_target)
                (void) tree_size(p->containerd_target, &containerd_done);
        uint64_t bytes = p->source_size.allocated_bytes, inodes = p->source_size.inodes;
        bytes = bytes > done.allocated_bytes ? bytes - done.allocated_bytes : 0;
        inodes = inodes > done.inodes ? inodes - done.inodes : 0;
        uint64_t containerd_bytes = p->containerd_size.allocated_bytes, containerd_inodes = p->containerd_size.inodes;
        containerd_bytes = containerd_bytes > containerd_done.allocated_bytes
                                   ? containerd_bytes - containerd_done.allocated_bytes : 0;
        containerd_inodes = containerd_inodes > containerd_done.inodes ? containerd_inodes - containerd_done.inodes : 0;
        /* Two trees bound for one filesystem need room for both. */
        if (p->target && p->containerd_target && targets_share_filesystem(p->target, p->containerd_target)) {
                bytes += containerd_bytes;
                inodes += containerd_inodes;
                containerd_bytes = bytes;
                containerd_inodes = inodes;
        }

        /* Through a symlink the filesystem checks would describe the link's
         * filesystem, not the data's: one refusal is enough. */
        const CheckResult *symlink_check = check_list_find(&p->checks, "target-symlink");
        if (p->target && !(symlink_check && symlink_check->status == CHECK_REFUSE)) {
                r = checks_target_filesystem(&p->checks, p->target, opts->mountinfo_path, bytes, inodes,
                                             &p->target_fs);
                if (r < 0)
                        return r;
                if (p->target_fs.mountpoint) {
                        r = checks_boot_mount(&p->checks, p->target_fs.mountpoint, NULL);
                        if (r < 0)
                                return r;
                }
        }
        const CheckResult *containerd_symlink = check_list_find(&p->checks, "containerd-target-symlink");
        if (p->containerd_target && !(containerd_symlink && containerd_symlink->status == CHECK_REFUSE)) {
                r = plan_containerd_filesystem(p, opts, containerd_bytes, containerd_inodes);
                if (r < 0)
                        return r;
        }
        if (p->target && p->source) {
                r = checks_selinux(&p->checks, NULL, p->source, p->target);
                if (r < 0)
                        return r;
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
        bool config_existed;          /* before the migration touched it */
        bool mount_dropin_written;
        bool containerd_mount_dropin_written;
        bool containerd_config_existed; /* before the migration touched it */
        /* The copy completed one an interrupted run left: after a power cut
         * its files may have the right size and times but lost data. */
        bool copy_resumed;
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

static bool cancelled(const Run *run) {
        return run->opts->cancel && atomic_load(run->opts->cancel) != 0;
}

/* The crash test (test/e2e/crash.sh) needs the process to die at exact
 * points, e.g. between the rename of daemon.json and the restart, which no
 * timing can hit reliably. DOCKER_DATAROOT_TEST_CRASH_AT=enter:copy (or
 * complete:configure, ...) makes the run SIGKILL itself right after the
 * journal records that step: exactly what a power cut there leaves. */
static void crash_point_for_tests(const char *event, const char *stage) {
        const char *want = getenv("DOCKER_DATAROOT_TEST_CRASH_AT");
        if (!want)
                return;
        size_t n = strlen(event);
        if (strncmp(want, event, n) == 0 && want[n] == ':' && streq(want + n + 1, stage))
                (void) raise(SIGKILL);
}

static int journal_step(Run *run, MigrateStage stage, bool completed) {
        Journal *j = run->opts->journal;
        if (!j)
                return 0;
        const char *name = migrate_stage_to_string(stage);
        int r = completed ? journal_complete(j, name) : journal_enter(j, name);
        if (r < 0)
                return fail(run, stage, r, "Failed to record the %s stage in '%s': %s", name, journal_path(j),
                            strerror(-r));
        crash_point_for_tests(completed ? "complete" : "enter", name);
        return 0;
}

/* Stages the interrupted run already finished are not done again. */
static bool already_done(const Run *run, MigrateStage stage) {
        return run->plan->resume && !run->plan->recopy && run->opts->journal &&
               journal_is_completed(run->opts->journal, migrate_stage_to_string(stage));
}

/* comm names what must be gone: "dockerd", "containerd", or the shims
 * ("containerd-shim" is what the kernel keeps of containerd-shim-runc-v2). */
static int wait_for_no_process(const char *comm) {
        uint64_t deadline = now_usec() + DOCKERD_EXIT_TIMEOUT_USEC;

        for (;;) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0;
                int r = procs_find_by_comm("/proc", comm, &pids, &n);
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

static int wait_for_no_dockerd(void) {
        return wait_for_no_process("dockerd");
}

static const char *const containerd_units[] = { CONTAINERD_SERVICE, NULL };

/* After Docker: containerd must not write to its root during the copy, and
 * its shims (containers outside Docker) must be gone too. */
static int stop_containerd(Run *run) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *state = NULL;
        int r;

        r = units_stop(run->bus, containerd_units, UNIT_JOB_TIMEOUT_USEC, &error);
        if (r < 0)
                return fail(run, STAGE_STOP, r, "Failed to stop containerd: %s",
                            error.message ? error.message : strerror(-r));
        sd_bus_error_free(&error);
        r = units_get_active_state(run->bus, CONTAINERD_SERVICE, &state, &error);
        if (r < 0)
                return fail(run, STAGE_STOP, r, "Failed to read the state of %s: %s", CONTAINERD_SERVICE,
                            error.message ? error.message : strerror(-r));
        if (!streq(state, "inactive") && !streq(state, "failed"))
                return fail(run, STAGE_STOP, -EBUSY, "%s is still %s after the stop job finished",
                            CONTAINERD_SERVICE, state);
        r = wait_for_no_process("containerd");
        if (r == -EBUSY)
                return fail(run, STAGE_STOP, r,
                            "a containerd process is still running outside containerd.service; stop it first");
        if (r >= 0)
                r = wait_for_no_process("containerd-shim");
        if (r == -EBUSY)
                return fail(run, STAGE_STOP, r,
                            "containerd-shim processes still run after Docker and containerd stopped: containers "
                            "outside Docker (ctr, nerdctl, Kubernetes) use containerd's root; stop them first");
        if (r < 0)
                return fail(run, STAGE_STOP, r, "Failed to scan /proc for containerd: %s", strerror(-r));

        _cleanup_free_ char *leftover = NULL;
        r = checks_mounts_below(run->opts->mountinfo_path, run->plan->containerd_source, &leftover);
        if (r < 0)
                return fail(run, STAGE_STOP, r, "Failed to read the mount table: %s", strerror(-r));
        if (r > 0)
                return fail(run, STAGE_STOP, -EBUSY,
                            "%d mount(s) remain below %s after containerd stopped (first: %s); a copy would "
                            "read through them. Unmount them (umount) and run again",
                            r, run->plan->containerd_source, leftover);

        /* The old root's mark from the first stop stays until a new copy
         * carries the current one: a resume compares with it. */
        Journal *j = run->opts->journal;
        if (j && (run->plan->recopy || !journal_get_string(j, "containerd_source_mark"))) {
                r = record_containerd_mark(j, "containerd_source_mark", run->plan->containerd_source);
                if (r < 0)
                        return fail(run, STAGE_STOP, r, "Failed to record the state of %s in '%s': %s",
                                    run->plan->containerd_source, journal_path(j), strerror(-r));
        }
        return 0;
}

static int stage_stop(Run *run) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        announce(run->opts, STAGE_STOP, run->plan->containerd
                                                ? "stopping docker.socket, docker.service, then containerd.service"
                                                : "stopping docker.socket and docker.service");
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

        /* What a resume compares with to tell whether Docker ran on the
         * source since: taken at the first stop, and anew when the copy is
         * redone from this state. */
        Journal *j = run->opts->journal;
        if (j && run->plan->recopy) {
                /* The new mark makes the source look untouched: a run cut
                 * short from here on must still know the copy is stale. */
                r = journal_set_string(j, "recopy", "yes");
                if (r < 0)
                        return fail(run, STAGE_STOP, r, "Failed to record the copy anew in '%s': %s",
                                    journal_path(j), strerror(-r));
        }
        if (j && (run->plan->recopy || !journal_get_string(j, "source_mark"))) {
                r = record_docker_mark(j, "source_mark", run->plan->source);
                if (r < 0)
                        return fail(run, STAGE_STOP, r, "Failed to record the state of %s in '%s': %s",
                                    run->plan->source, journal_path(j), strerror(-r));
        }
        if (run->plan->containerd)
                return stop_containerd(run);
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

static void announce_tree(const Run *run, const char *src_root) {
        if (run->opts->on_tree)
                run->opts->on_tree(src_root, run->opts->userdata);
}

static int copy_containerd(Run *run, const CopyOptions *copy_opts) {
        MigratePlan *p = run->plan;
        int r;

        if (p->recopy) {
                RemoveStats removed = {};
                r = remove_tree(p->containerd_target, true, NULL, NULL, &removed);
                if (r < 0 && r != -ENOENT)
                        return fail(run, STAGE_COPY, r, "Failed to clear the stale copy at '%s': %s",
                                    p->containerd_target, strerror(-r));
        }
        r = mkdir_parents(p->containerd_target);
        if (r < 0)
                return fail(run, STAGE_COPY, r, "Failed to create the parents of '%s': %s", p->containerd_target,
                            strerror(-r));
        announce_tree(run, p->containerd_source);
        uint64_t start = now_usec();
        r = copy_tree(p->containerd_source, p->containerd_target, copy_opts, &run->result->containerd_copy_stats);
        run->result->copy_usec += now_usec() - start;
        announce_tree(run, p->source);
        if (r == -ECANCELED)
                return fail(run, STAGE_COPY, r, "Interrupted during the copy of containerd's root");
        if (r < 0)
                return fail(run, STAGE_COPY, r, "Failed to copy '%s' to '%s': %s (%" PRIu64 " entries failed)",
                            p->containerd_source, p->containerd_target, strerror(-r),
                            run->result->containerd_copy_stats.errors);

        /* What a resume compares with: both roots as they are now, equal. */
        Journal *j = run->opts->journal;
        r = record_containerd_mark(j, "containerd_source_mark", p->containerd_source);
        if (r >= 0)
                r = record_containerd_mark(j, "containerd_target_mark", p->containerd_target);
        if (r < 0)
                return fail(run, STAGE_COPY, r, "Failed to record the state of the copy in '%s': %s",
                            j ? journal_path(j) : "?", strerror(-r));
        return 0;
}

/* The target's mark, while nothing but the copy wrote there: once
 * daemon.json named it, a changed mark is Docker's own writing. */
static int record_target_mark(Run *run, MigrateStage stage) {
        Journal *j = run->opts->journal;
        if (!j || journal_get_string(j, "config_written"))
                return 0;
        int r = record_docker_mark(j, "target_mark", run->plan->target);
        if (r < 0)
                return fail(run, stage, r, "Failed to record the state of the copy in '%s': %s",
                            journal_path(j), strerror(-r));
        return 0;
}

static int stage_copy(Run *run) {
        CopyOptions copy_opts = {
                .jobs = run->opts->jobs,
                .on_error = run->opts->on_copy_error,
                .on_warning = run->opts->on_copy_warning,
                .userdata = run->opts->userdata,
                .progress = run->opts->progress,
                .cancel = run->opts->cancel,
        };
        int r;

        if (already_done(run, STAGE_COPY))
                return 0;
        run->copy_resumed = run->plan->resume && !run->plan->recopy;
        copy_opts.resume = run->copy_resumed;
        announce(run->opts, STAGE_COPY,
                 run->plan->containerd_recopy ? "containerd ran from its old root since the interrupted run: "
                                                "copying anew"
                 : run->plan->recopy  ? "Docker ran on the source since the interrupted run: copying anew"
                 : run->copy_resumed ? "completing the interrupted copy"
                                     : run->plan->target);
        r = journal_step(run, STAGE_COPY, false);
        if (r < 0)
                return r;
        if (run->copy_resumed && run->opts->journal) {
                /* Must outlive this run too: a later resume that skips the
                 * copy still owes the content check. */
                r = journal_set_string(run->opts->journal, "verify_content", "yes");
                if (r < 0)
                        return fail(run, STAGE_COPY, r, "Failed to record the resume in '%s': %s",
                                    journal_path(run->opts->journal), strerror(-r));
        }
        if (run->plan->recopy && run->plan->containerd && run->opts->journal) {
                /* The plan judged this; containerd may have run since. */
                r = migrate_containerd_ran_from(run->opts->journal, run->plan->containerd_target);
                if (r != 0)
                        return fail(run, STAGE_COPY, r < 0 ? r : -EBUSY,
                                    "containerd ran from %s since the interrupted run%s%s; it holds data no copy has "
                                    "and is not cleared. Run 'docker-dataroot rollback' without --remove-target",
                                    run->plan->containerd_target, r < 0 ? ", or that cannot be told: " : "",
                                    r < 0 ? strerror(-r) : "");
        }
        if (run->plan->recopy && run->opts->journal) {
                r = migrate_docker_ran_from(run->opts->journal, run->plan->target, NULL);
                if (r != 0)
                        return fail(run, STAGE_COPY, r < 0 ? r : -EBUSY,
                                    "Docker ran on %s since the interrupted run%s%s; it holds data no copy has and "
                                    "is not cleared. Run 'docker-dataroot rollback' without --remove-target",
                                    run->plan->target, r < 0 ? ", or that cannot be told: " : "",
                                    r < 0 ? strerror(-r) : "");
        }
        if (run->plan->recopy && run->opts->journal) {
                r = journal_set_string(run->opts->journal, "recopy", "clearing");
                if (r < 0)
                        return fail(run, STAGE_COPY, r, "Failed to record the copy anew in '%s': %s",
                                    journal_path(run->opts->journal), strerror(-r));
        }
        if (run->plan->recopy) {
                /* Everything in the target is this migration's own copy (it was
                 * absent or empty when the migration began), and stale. */
                RemoveStats removed = {};
                r = remove_tree(run->plan->target, true, NULL, NULL, &removed);
                if (r < 0 && r != -ENOENT)
                        return fail(run, STAGE_COPY, r, "Failed to clear the stale copy at '%s': %s",
                                    run->plan->target, strerror(-r));
        }
        r = mkdir_parents(run->plan->target);
        if (r < 0)
                return fail(run, STAGE_COPY, r, "Failed to create the parents of '%s': %s", run->plan->target,
                            strerror(-r));

        uint64_t start = now_usec();
        r = copy_tree(run->plan->source, run->plan->target, &copy_opts, &run->result->copy_stats);
        run->result->copy_usec = now_usec() - start;
        run->result->target_written = true;
        if (r == -ECANCELED)
                return fail(run, STAGE_COPY, r, "Interrupted during the copy");
        if (r < 0)
                return fail(run, STAGE_COPY, r, "Failed to copy '%s' to '%s': %s (%" PRIu64 " entries failed)",
                            run->plan->source, run->plan->target, strerror(-r),
                            run->result->copy_stats.errors);
        /* A fresh copy, whatever the journal said of the tree before. */
        r = record_docker_mark(run->opts->journal, "target_mark", run->plan->target);
        if (r < 0)
                return fail(run, STAGE_COPY, r, "Failed to record the state of the copy in '%s': %s",
                            journal_path(run->opts->journal), strerror(-r));
        if (run->plan->containerd) {
                if (cancelled(run))
                        return fail(run, STAGE_COPY, -ECANCELED, "Interrupted during the copy");
                r = copy_containerd(run, &copy_opts);
                if (r < 0)
                        return r;
        }
        if (run->plan->recopy && run->opts->journal) {
                r = journal_set_string(run->opts->journal, "recopy", "done");
                if (r < 0)
                        return fail(run, STAGE_COPY, r, "Failed to record the copy in '%s': %s",
                                    journal_path(run->opts->journal), strerror(-r));
        }
        return journal_step(run, STAGE_COPY, true);
}

static int stage_verify(Run *run) {
        VerifyOptions verify_opts = {
                .content = run->opts->verify_content || run->copy_resumed ||
                           (run->opts->journal && journal_get_string(run->opts->journal, "verify_content")),
                .jobs = run->opts->jobs,
                .on_difference = run->opts->on_difference,
                .userdata = run->opts->userdata,
                .cancel = run->opts->cancel,
        };
        int r;

        if (already_done(run, STAGE_VERIFY))
                return 0;
        announce(run->opts, STAGE_VERIFY,
                 verify_opts.content ? "comparing metadata and content" : "comparing metadata");
        r = journal_step(run, STAGE_VERIFY, false);
        if (r < 0)
                return r;
        r = verify_trees(run->plan->source, run->plan->target, &verify_opts, &run->result->verify_stats);
        if (r == -ECANCELED)
                return fail(run, STAGE_VERIFY, r, "Interrupted during the verification");
        if (r < 0)
                return fail(run, STAGE_VERIFY, r, "Failed to compare '%s' with '%s': %s", run->plan->source,
                            run->plan->target, strerror(-r));
        if (run->result->verify_stats.differences > 0)
                return fail(run, STAGE_VERIFY, -EIO, "the copy differs from the source in %" PRIu64 " place(s)",
                            run->result->verify_stats.differences);
        if (run->plan->containerd) {
                MigratePlan *p = run->plan;
                announce_tree(run, p->containerd_source);
                r = verify_trees(p->containerd_source, p->containerd_target, &verify_opts,
                                 &run->result->containerd_verify_stats);
                announce_tree(run, p->source);
                if (r == -ECANCELED)
                        return fail(run, STAGE_VERIFY, r, "Interrupted during the verification");
                if (r < 0)
                        return fail(run, STAGE_VERIFY, r, "Failed to compare '%s' with '%s': %s",
                                    p->containerd_source, p->containerd_target, strerror(-r));
                if (run->result->containerd_verify_stats.differences > 0)
                        return fail(run, STAGE_VERIFY, -EIO,
                                    "the copy of containerd's root differs from the source in %" PRIu64 " place(s)",
                                    run->result->containerd_verify_stats.differences);
        }
        return journal_step(run, STAGE_VERIFY, true);
}

static void remember_first_path(const char *path, const char *operation, int error, void *userdata) {
        char **first = userdata;
        (void) operation;
        (void) error;
        if (!*first)
                *first = strdup(path);
}

/* Unit files split RequiresMountsFor= on white space and expand %
 * specifiers: only plain paths are written, the rest is refused. */
static bool path_is_unit_safe(const char *path) {
        return path[strcspn(path, " \t\n\"'\\%;")] == 0;
}

/* The drop-in at path makes a unit wait for the mount holding dir; the
 * journal records it (under key) before it exists, so a rollback after a
 * crash removes it. */
static int write_mount_dropin(Run *run, const char *path, const char *dir, const char *daemon, const char *key,
                              bool *written) {
        int r;

        if (!path_is_unit_safe(dir))
                return fail(run, STAGE_CONFIGURE, -EINVAL,
                            "'%s' holds characters a unit file cannot take plainly; add RequiresMountsFor= by hand",
                            dir);
        _cleanup_free_ char *text = strdup_printf(
                "# Written by docker-dataroot: %s's root is on this mount, so %s\n"
                "# must not start before it (or it would start on an empty directory).\n"
                "[Unit]\nRequiresMountsFor=%s\n", daemon, daemon, dir);
        if (!text)
                return fail(run, STAGE_CONFIGURE, -ENOMEM, "Failed to prepare '%s': out of memory", path);
        if (run->opts->journal) {
                r = journal_set_string(run->opts->journal, key, path);
                if (r < 0)
                        return fail(run, STAGE_CONFIGURE, r, "Failed to record the drop-in in the journal: %s",
                                    strerror(-r));
        }
        r = write_file_atomic(path, text, strlen(text), NULL, true);
        if (r < 0)
                return fail(run, STAGE_CONFIGURE, r, "Failed to write '%s': %s", path, strerror(-r));
        *written = true;
        return 0;
}

/* containerd's too when its root moves: docker.service waiting for the
 * mount does not hold back containerd, which would start first and make
 * its new root on the directory under the mount point. */
static int add_mount_dropins(Run *run) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = write_mount_dropin(run, MOUNT_DROPIN_PATH, run->plan->target, "Docker", "mount_dropin",
                               &run->mount_dropin_written);
        if (r >= 0 && run->plan->containerd)
                r = write_mount_dropin(run, CONTAINERD_MOUNT_DROPIN_PATH, run->plan->containerd_target, "containerd",
                                       "containerd_mount_dropin", &run->containerd_mount_dropin_written);
        if (r < 0)
                return r;
        r = units_reload(run->bus, &error);
        if (r < 0)
                return fail(run, STAGE_CONFIGURE, r, "Failed to reload systemd after writing '%s': %s",
                            MOUNT_DROPIN_PATH, error.message ? error.message : strerror(-r));
        return 0;
}

/* The bytes the migration writes when config.toml did not exist: only the
 * root. */
static int containerd_created_text(const char *root, char **ret_text, size_t *ret_size) {
        _cleanup_(containerd_config_freep) ContainerdConfig *empty = NULL;
        int r = containerd_config_parse("", 0, &empty, NULL);
        if (r < 0)
                return r;
        return containerd_config_with_root(empty, root, ret_text, ret_size);
}

/* config.toml gets the new root. Read again first: an edit made during the
 * copy is kept, as long as the file can still be read with certainty and
 * still means what the plan checked. */
static int configure_containerd(Run *run) {
        MigratePlan *p = run->plan;
        _cleanup_(containerd_config_freep) ContainerdConfig *fresh = NULL;
        ContainerdConfigError error = {};
        _cleanup_free_ char *text = NULL, *created = NULL, *import = NULL;
        size_t size = 0, created_size = 0;
        unsigned import_line = 0;
        int r;

        r = containerd_config_load(p->containerd_config_path, &fresh, &error);
        if (r == -EBADMSG)
                return fail(run, STAGE_CONFIGURE, r, "%s changed during the copy and can no longer be edited "
                            "safely (line %u: %s)", p->containerd_config_path, error.line, error.message);
        if (r < 0)
                return fail(run, STAGE_CONFIGURE, r, "Failed to read '%s' again: %s", p->containerd_config_path,
                            strerror(-r));

        r = containerd_created_text(p->containerd_target, &created, &created_size);
        if (r < 0)
                return fail(run, STAGE_CONFIGURE, r, "Failed to prepare the new '%s': %s",
                            p->containerd_config_real_path, strerror(-r));
        /* A file that appeared meanwhile would get no backup and be removed
         * by a rollback; one that vanished would lose its backup's meaning.
         * Only the interrupted run's own creation is expected. */
        bool own_creation = !run->containerd_config_existed && fresh->existed &&
                            fresh->original_size == created_size &&
                            memcmp(fresh->original, created, created_size) == 0;
        if (fresh->existed != run->containerd_config_existed && !own_creation)
                return fail(run, STAGE_CONFIGURE, -EBUSY, "%s was %s during the copy; it is left as it is",
                            p->containerd_config_path, fresh->existed ? "created" : "removed");
        _cleanup_free_ char *normalized_root = NULL;
        const char *root = containerd_config_effective_root(fresh);
        if (containerd_config_normalized_root(fresh, &normalized_root) >= 0)
                root = normalized_root;
        if (!streq(root, p->containerd_source) && !streq(root, p->containerd_target))
                return fail(run, STAGE_CONFIGURE, -EBUSY, "%s names the root %s since the copy began, neither %s "
                            "nor %s; it is left as it is", p->containerd_config_path, root, p->containerd_source,
                            p->containerd_target);
        error = (ContainerdConfigError) {};
        r = containerd_config_check_imports(fresh, p->containerd_config_real_path, &import, &import_line, &error);
        if (r < 0)
                return fail(run, STAGE_CONFIGURE, r, "Failed to read the files %s imports: %s",
                            p->containerd_config_path, strerror(-r));
        if (r > 0)
                return fail(run, STAGE_CONFIGURE, -EBUSY, "%s imports %s since the copy began, which %s; %s is "
                            "left as it is", p->containerd_config_path, import,
                            error.message[0] ? "cannot be read with certainty" : "sets \"root\"",
                            p->containerd_config_path);
        containerd_config_free(p->containerd_config);
        p->containerd_config = TAKE_PTR(fresh);

        /* The first backup stays the original: a resumed run finds its own. */
        if (run->containerd_config_existed && (!p->resume || access(p->containerd_backup_path, F_OK) < 0)) {
                r = containerd_config_write_backup(p->containerd_config, p->containerd_backup_path);
                if (r < 0)
                        return fail(run, STAGE_CONFIGURE, r, "Failed to write backup '%s': %s",
                                    p->containerd_backup_path, strerror(-r));
        }
        if (own_creation || !p->containerd_config->existed) {
                text = TAKE_PTR(created);
                size = created_size;
        } else {
                r = containerd_config_with_root(p->containerd_config, p->containerd_target, &text, &size);
                if (r < 0)
                        return fail(run, STAGE_CONFIGURE, r, "Failed to prepare the new '%s': %s",
                                    p->containerd_config_real_path, strerror(-r));
        }
        /* From here on containerd may start from the new root (a reboot):
         * what it writes there is no copy's to throw away. */
        if (run->opts->journal) {
                r = journal_set_string(run->opts->journal, "containerd_config_written", "yes");
                if (r < 0)
                        return fail(run, STAGE_CONFIGURE, r, "Failed to record the edit of '%s' in '%s': %s",
                                    p->containerd_config_real_path, journal_path(run->opts->journal),
                                    strerror(-r));
        }
        r = containerd_config_write(p->containerd_config, p->containerd_config_real_path, text, size);
        if (r < 0)
                return fail(run, STAGE_CONFIGURE, r, "Failed to write '%s': %s", p->containerd_config_real_path,
                            strerror(-r));
        crash_point_for_tests("containerd-config", migrate_stage_to_string(STAGE_CONFIGURE));
        return 0;
}

static int stage_configure(Run *run) {
        MigratePlan *p = run->plan;
        _cleanup_free_ char *text = NULL;
        int r;

        announce(run->opts, STAGE_CONFIGURE, p->containerd ? p->containerd_config_real_path : p->config_real_path);
        r = journal_step(run, STAGE_CONFIGURE, false);
        if (r < 0)
                return r;
        if (p->containerd) {
                r = configure_containerd(run);
                if (r < 0)
                        return r;
                announce(run->opts, STAGE_CONFIGURE, p->config_real_path);
        }

        /* The copy may have taken hours: an edit made to daemon.json meanwhile
         * is kept (merged into, and backed up) rather than overwritten. */
        _cleanup_(daemon_config_freep) DaemonConfig *fresh = NULL;
        DaemonConfigError error = {};
        r = daemon_config_load(p->config_path, &fresh, &error);
        if (r == -EBADMSG)
                return fail(run, STAGE_CONFIGURE, r, "%s changed during the copy and is no longer valid JSON "
                            "(line %u column %u: %s)", p->config_path, error.line, error.column, error.message);
        if (r < 0)
                return fail(run, STAGE_CONFIGURE, r, "Failed to read '%s' again: %s", p->config_path, strerror(-r));
        if (fresh->existed != p->config->existed || fresh->original_size != p->config->original_size ||
            memcmp(fresh->original, p->config->original, fresh->original_size) != 0) {
                daemon_config_free(p->config);
                p->config = TAKE_PTR(fresh);
        }
        /* A resumed run may find its own backup: the original stays the
         * first one written. */
        if (run->config_existed && (!p->resume || access(p->backup_path, F_OK) < 0)) {
                r = daemon_config_write_backup(p->config, p->backup_path);
                if (r < 0)
                        return fail(run, STAGE_CONFIGURE, r, "Failed to write backup '%s': %s", p->backup_path,
                                    strerror(-r));
        }
        /* Before daemon.json names the target: containers there must not
         * point back at the old tree. */
        _cleanup_free_ char *first_failed = NULL;
        unsigned mounts = 0;
        r = containers_rewrite_volume_sources(p->target, p->source, remember_first_path, &first_failed, &mounts);
        if (r < 0)
                return fail(run, STAGE_CONFIGURE, r, "Failed to point the containers' volume mounts at '%s' (first: "
                            "'%s'): %s", p->target, first_failed ? first_failed : "?", strerror(-r));

        r = daemon_config_set_data_root(p->config, p->target);
        if (r >= 0)
                r = daemon_config_render(p->config, &text);
        if (r < 0)
                return fail(run, STAGE_CONFIGURE, r, "Failed to prepare the new daemon.json: %s", strerror(-r));

        /* From here on Docker may start on the target (a reboot): what it
         * writes there is no copy's to throw away. */
        r = record_target_mark(run, STAGE_CONFIGURE);
        if (r < 0)
                return r;
        if (run->opts->journal)
                r = journal_set_string(run->opts->journal, "config_written", "yes");
        if (r < 0)
                return fail(run, STAGE_CONFIGURE, r, "Failed to record the edit of '%s' in '%s': %s",
                            p->config_real_path, journal_path(run->opts->journal), strerror(-r));
        r = daemon_config_write_atomic(p->config_real_path, text, p->config->existed ? &p->config->st : NULL);
        if (r < 0)
                return fail(run, STAGE_CONFIGURE, r, "Failed to write '%s': %s", p->config_real_path,
                            strerror(-r));
        run->result->config_changed = true;

        if (run->opts->add_mount_dependency) {
                r = add_mount_dropins(run);
                if (r < 0)
                        return r;
        }
        return journal_step(run, STAGE_CONFIGURE, true);
}

static int start_docker(sd_bus *bus, sd_bus_error *error) {
        return units_start(bus, docker_units_start_order, UNIT_JOB_TIMEOUT_USEC, error);
}

static int wait_engine(uint64_t timeout_usec, EngineInfo **ret) {
        _cleanup_free_ char *socket_path = NULL;
        int r = engine_socket_path(&socket_path);
        if (r < 0)
                return r;
        return engine_wait_info(socket_path, timeout_usec ? timeout_usec : DEFAULT_START_TIMEOUT_USEC, ret);
}

/* containerd.service's start job ends once containerd is ready (Type=notify),
 * its metadata database open: it must be open below want, and nothing
 * below avoid. */
static int wait_containerd_root(const char *want, const char *avoid, char **ret_message) {
        uint64_t deadline = now_usec() + DOCKERD_EXIT_TIMEOUT_USEC;
        pid_t pid = 0;
        int uses_want, uses_avoid;

        for (;;) {
                uses_want = migrate_containerd_uses(want, &pid);
                uses_avoid = uses_want > 0 && avoid ? migrate_containerd_uses(avoid, &pid) : 0;
                if (uses_want > 0 && uses_avoid == 0)
                        return 0;
                if (now_usec() > deadline)
                        break;
                usleep(200 * 1000);
        }
        int error = uses_want < 0 && uses_want != -ESRCH ? uses_want : uses_avoid < 0 ? uses_avoid : 0;
        if (uses_want == -ESRCH)
                *ret_message = strdup("no containerd process runs after containerd.service started");
        else if (error < 0)
                *ret_message = strdup_printf("cannot look at the open files of containerd (pid %d): %s", (int) pid,
                                             strerror(-error));
        else if (uses_want == 0)
                *ret_message = strdup_printf("containerd (pid %d) holds no file open below %s", (int) pid, want);
        else
                *ret_message = strdup_printf("containerd (pid %d) still holds files open below %s", (int) pid, avoid);
        return uses_want < 0 ? uses_want : error < 0 ? error : -EIO;
}

static int start_containerd(sd_bus *bus, sd_bus_error *error) {
        return units_start(bus, containerd_units, UNIT_JOB_TIMEOUT_USEC, error);
}

static int stage_start_and_confirm(Run *run) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        MigratePlan *p = run->plan;
        EngineInfo *after;
        int r;

        announce(run->opts, STAGE_START, p->containerd ? "starting containerd.service, then docker.socket and "
                                                         "docker.service"
                                                       : "starting docker.socket and docker.service");
        r = journal_step(run, STAGE_START, false);
        if (r < 0)
                return r;
        if (p->containerd) {
                _cleanup_free_ char *message = NULL;
                r = start_containerd(run->bus, &error);
                if (r < 0)
                        return fail(run, STAGE_START, r, "Failed to start containerd on the new root: %s",
                                    error.message ? error.message : strerror(-r));
                r = wait_containerd_root(p->containerd_target, p->containerd_source, &message);
                if (r < 0)
                        return fail(run, STAGE_START, r, "containerd does not run from %s: %s", p->containerd_target,
                                    message ? message : strerror(-r));
        }
        r = start_docker(run->bus, &error);
        if (r < 0)
                return fail(run, STAGE_START, r, "Failed to start Docker on the new data-root: %s",
                            error.message ? error.message : strerror(-r));
        r = journal_step(run, STAGE_START, true);
        if (r < 0)
                return r;

        announce(run->opts, STAGE_CONFIRM, "asking the engine for its data-root");
        r = journal_step(run, STAGE_CONFIRM, false);
        if (r < 0)
                return r;
        r = wait_engine(run->opts->start_timeout_usec, &run->result->engine_after);
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
        return journal_step(run, STAGE_CONFIRM, true);
}

/* A configuration file back to its original bytes: from the backup, which
 * is written before the file is first changed, so it exists whenever a
 * change may have happened. A file that did not exist is removed; with
 * created (the bytes the migration writes then) only while it holds them,
 * since one that appeared otherwise is not the migration's. */
static int restore_config(const char *config_path, bool config_existed, const char *backup_path, size_t max_size,
                          const char *created, size_t created_size) {
        if (!config_existed && created) {
                _cleanup_free_ char *current = NULL;
                size_t current_size = 0;
                int r = read_full_file(config_path, max_size, &current, &current_size);
                if (r == -ENOENT)
                        return 0;
                if (r < 0)
                        return r;
                if (current_size != created_size || memcmp(current, created, created_size) != 0)
                        return 0;
        }
        if (!config_existed) {
                if (unlink(config_path) < 0 && errno != ENOENT)
                        return negative_errno();
                return 0;
        }
        if (!backup_path)
                return -EINVAL;

        _cleanup_free_ char *original = NULL, *current = NULL;
        size_t original_size = 0, current_size = 0;
        struct stat st;
        int r = read_full_file(backup_path, max_size, &original, &original_size);
        if (r == -ENOENT)
                return 0; /* never got as far as changing it */
        if (r < 0)
                return r;
        if (stat(backup_path, &st) < 0)
                return negative_errno();
        if (read_full_file(config_path, max_size, &current, &current_size) >= 0 &&
            current_size == original_size && memcmp(current, original, original_size) == 0)
                return 0;
        return write_file_atomic(config_path, original, original_size, &st, true);
}

int migrate_restore(sd_bus *bus, const char *config_path, bool config_existed, const char *backup_path,
                    const char *mount_dropin, const char *source, const ContainerdRestore *containerd,
                    uint64_t start_timeout_usec, char **ret_message) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(engine_info_freep) EngineInfo *info = NULL;
        int r;

        const char *dropins[] = { mount_dropin, containerd ? containerd->mount_dropin : NULL };
        bool removed = false;
        for (size_t i = 0; i < ELEMENTSOF(dropins); i++) {
                if (!dropins[i])
                        continue;
                if (unlink(dropins[i]) < 0 && errno != ENOENT) {
                        r = negative_errno();
                        *ret_message = strdup_printf("Failed to remove '%s': %s. Docker is stopped; remove it, run "
                                                     "systemctl daemon-reload, then restore daemon.json from '%s'",
                                                     dropins[i], strerror(-r),
                                                     backup_path ? backup_path : "its backup");
                        return r;
                }
                removed = true;
        }
        if (removed) {
                r = units_reload(bus, &error);
                if (r < 0) {
                        *ret_message = strdup_printf("Removed '%s' but systemd could not reload: %s. Run: "
                                                     "systemctl daemon-reload",
                                                     mount_dropin ? mount_dropin : containerd->mount_dropin,
                                                     error.message ? error.message : strerror(-r));
                        return r;
                }
        }

        r = restore_config(config_path, config_existed, backup_path, DAEMON_CONFIG_MAX_SIZE, NULL, 0);
        if (r < 0) {
                *ret_message = strdup_printf(
                        "Failed to restore '%s': %s. Docker is stopped. Restore it by hand: "
                        "cp -p '%s' '%s' && systemctl start docker.socket docker.service",
                        config_path, strerror(-r), backup_path ? backup_path : "(backup)", config_path);
                return r;
        }

        if (containerd) {
                _cleanup_free_ char *created = NULL;
                size_t created_size = 0;
                r = containerd_created_text(containerd->moved_root, &created, &created_size);
                if (r >= 0)
                        r = restore_config(containerd->config_path, containerd->config_existed,
                                           containerd->backup_path, CONTAINERD_CONFIG_MAX_SIZE, created,
                                           created_size);
                if (r < 0) {
                        *ret_message = strdup_printf(
                                "Failed to restore '%s': %s. Docker and containerd are stopped. Restore it by "
                                "hand: cp -p '%s' '%s' && systemctl start containerd.service docker.socket "
                                "docker.service", containerd->config_path, strerror(-r),
                                containerd->backup_path ? containerd->backup_path : "(backup)",
                                containerd->config_path);
                        return r;
                }
        }

        /* Docker may be half up on the target; stop it so it rereads the
         * restored file. */
        r = units_stop(bus, docker_units_stop_order, UNIT_JOB_TIMEOUT_USEC, &error);
        if (r >= 0)
                r = wait_for_no_dockerd();
        /* containerd too, after Docker, and back before Docker. */
        if (r >= 0 && containerd) {
                sd_bus_error_free(&error);
                r = units_stop(bus, containerd_units, UNIT_JOB_TIMEOUT_USEC, &error);
                if (r >= 0)
                        r = wait_for_no_process("containerd");
                if (r >= 0) {
                        sd_bus_error_free(&error);
                        r = start_containerd(bus, &error);
                }
                if (r < 0) {
                        *ret_message = strdup_printf(
                                "config.toml and daemon.json are restored, but containerd could not be restarted: "
                                "%s. Run: systemctl restart containerd.service; systemctl start docker.socket "
                                "docker.service; journalctl -u containerd.service",
                                error.message ? error.message : strerror(-r));
                        return r;
                }
                _cleanup_free_ char *message = NULL;
                r = wait_containerd_root(containerd->root, containerd->moved_root, &message);
                if (r < 0) {
                        *ret_message = strdup_printf(
                                "config.toml is restored and containerd.service started, but containerd does not "
                                "run from %s: %s. Docker is stopped. Check %s.", containerd->root,
                                message ? message : strerror(-r), containerd->config_path);
                        return r;
                }
        }
        if (r >= 0) {
                sd_bus_error_free(&error);
                r = start_docker(bus, &error);
        }
        if (r < 0) {
                *ret_message = strdup_printf(
                        "daemon.json is restored, but Docker could not be restarted: %s. "
                        "Run: systemctl start docker.socket docker.service; journalctl -u docker.service",
                        error.message ? error.message : strerror(-r));
                return r;
        }

        r = wait_engine(start_timeout_usec, &info);
        if (r < 0) {
                *ret_message = strdup_printf(
                        "daemon.json is restored and docker.service started, but the engine does not "
                        "answer: %s. See: journalctl -u docker.service", strerror(-r));
                return r;
        }
        if (!info->root_dir || !streq(info->root_dir, source)) {
                *ret_message = strdup_printf("Docker runs again but reports data-root '%s' instead of '%s'. Check %s.",
                                             info->root_dir ? info->root_dir : "(none)", source, config_path);
                return -EIO;
        }
        return 0;
}

static int rollback(Run *run) {
        MigratePlan *p = run->plan;

        announce(run->opts, STAGE_ROLLBACK, "restoring daemon.json and starting Docker on the old data-root");
        /* Once Docker starts on the source again, the copy is stale: a run
         * resuming from here must copy anew. */
        if (run->opts->journal) {
                (void) journal_set_string(run->opts->journal, "failed_stage",
                                          migrate_stage_to_string(run->result->failed_stage));
                (void) journal_enter(run->opts->journal, migrate_stage_to_string(STAGE_ROLLBACK));
        }
        const char *dropin = run->mount_dropin_written ? MOUNT_DROPIN_PATH
                             : run->opts->journal ? journal_get_string(run->opts->journal, "mount_dropin")
                                                  : NULL;
        ContainerdRestore containerd = {
                .config_path = p->containerd_config_real_path,
                .config_existed = run->containerd_config_existed,
                .backup_path = run->containerd_config_existed ? p->containerd_backup_path : NULL,
                .root = p->containerd_source,
                .moved_root = p->containerd_target,
                .mount_dropin = run->containerd_mount_dropin_written ? CONTAINERD_MOUNT_DROPIN_PATH
                                : run->opts->journal ? journal_get_string(run->opts->journal, "containerd_mount_dropin")
                                                     : NULL,
        };
        int r = migrate_restore(run->bus, p->config_real_path, run->config_existed, p->backup_path, dropin,
                                p->source, p->containerd ? &containerd : NULL, run->opts->start_timeout_usec,
                                &run->result->rollback_message);
        if (r >= 0)
                run->result->config_changed = false;
        return r;
}

/* The counts that confirm compares are taken last thing before the stop,
 * not at planning time: the prompt may have waited, containers may have
 * come and gone. */
static void refresh_engine_counts(Run *run) {
        _cleanup_(engine_info_freep) EngineInfo *now = NULL;
        if (wait_engine(1, &now) < 0 || !now->root_dir || !run->plan->engine->root_dir ||
            !streq(now->root_dir, run->plan->engine->root_dir))
                return;
        run->plan->engine->images = now->images;
        run->plan->engine->containers = now->containers;
}

int migrate_execute(MigratePlan *plan, const MigrateOptions *opts, MigrateResult *ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        Run run = { .plan = plan, .opts = opts, .result = ret };
        Journal *j = opts->journal;
        int r;

        *ret = (MigrateResult) { .outcome = MIGRATE_DONE };
        if (check_list_refused(&plan->checks) || !plan->target || !plan->config || !plan->engine)
                return -EINVAL;

        run.config_existed = plan->resume && j ? journal_get_bool(j, "config_existed") : plan->config->existed;
        if (plan->resume && j && journal_get_string(j, "backup")) {
                char *backup = strdup(journal_get_string(j, "backup"));
                if (!backup)
                        return -ENOMEM;
                free(plan->backup_path);
                plan->backup_path = backup;
        }
        if (plan->containerd) {
                if (!plan->containerd_source || !plan->containerd_target || !plan->containerd_config)
                        return -EINVAL;
                run.containerd_config_existed = plan->resume && j ? journal_get_bool(j, "containerd_config_existed")
                                                                  : plan->containerd_config->existed;
                if (plan->resume && j && journal_get_string(j, "containerd_backup")) {
                        char *backup = strdup(journal_get_string(j, "containerd_backup"));
                        if (!backup)
                                return -ENOMEM;
                        free(plan->containerd_backup_path);
                        plan->containerd_backup_path = backup;
                }
        }

        if (j && !plan->resume) {
                JournalStart start = {
                        .source = plan->source,
                        .target = plan->target,
                        .config_path = plan->config_real_path,
                        .config_existed = plan->config->existed,
                        .backup_path = plan->config->existed ? plan->backup_path : NULL,
                        .driver = plan->engine->driver,
                        .images = plan->engine->images,
                        .containers = plan->engine->containers,
                };
                if (plan->containerd) {
                        start.containerd_source = plan->containerd_source;
                        start.containerd_target = plan->containerd_target;
                        start.containerd_config_path = plan->containerd_config_real_path;
                        start.containerd_config_existed = plan->containerd_config->existed;
                        start.containerd_backup_path = plan->containerd_config->existed ? plan->containerd_backup_path
                                                                                        : NULL;
                }
                r = journal_begin(j, &start);
                if (r < 0) {
                        fail(&run, STAGE_CHECK, r, "Failed to write the state file '%s': %s", journal_path(j),
                             strerror(-r));
                        ret->outcome = MIGRATE_ROLLED_BACK;
                        return r;
                }
        }

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                fail(&run, STAGE_STOP, r, "Failed to connect to the system bus: %s", strerror(-r));
                ret->outcome = MIGRATE_ROLLED_BACK;
                if (j)
                        (void) journal_finish(j, "rolled-back");
                return r;
        }
        run.bus = bus;

        refresh_engine_counts(&run);
        r = journal_step(&run, STAGE_STOP, false);
        if (r >= 0)
                r = stage_stop(&run);
        if (r >= 0)
                r = journal_step(&run, STAGE_STOP, true);
        if (r >= 0 && cancelled(&run))
                r = fail(&run, STAGE_STOP, -ECANCELED, "Interrupted after Docker was stopped");
        if (r >= 0)
                r = stage_copy(&run);
        if (r >= 0 && cancelled(&run))
                r = fail(&run, STAGE_COPY, -ECANCELED, "Interrupted after the copy");
        if (r >= 0)
                r = stage_verify(&run);
        if (r >= 0 && cancelled(&run))
                r = fail(&run, STAGE_VERIFY, -ECANCELED, "Interrupted after the verification");
        /* From here on a signal no longer stops the run: the data is verified
         * and finishing takes seconds, while stopping now would leave more to
         * undo. */
        if (r >= 0)
                r = stage_configure(&run);
        if (r >= 0)
                r = stage_start_and_confirm(&run);
        if (r >= 0) {
                if (j)
                        (void) journal_finish(j, "done");
                announce(opts, STAGE_DONE, plan->target);
                return 0;
        }

        bool interrupted = ret->error == -ECANCELED;
        if (rollback(&run) < 0)
                ret->outcome = MIGRATE_ROLLBACK_FAILED;
        else
                ret->outcome = interrupted ? MIGRATE_INTERRUPTED : MIGRATE_ROLLED_BACK;
        if (j)
                (void) journal_finish(j, ret->outcome == MIGRATE_ROLLBACK_FAILED ? "rollback-failed"
                                         : interrupted                           ? "interrupted"
                                                                                 : "rolled-back");
        return ret->error;
}
