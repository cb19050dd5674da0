/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "checks.h"
#include "containerd_config.h"
#include "copy.h"
#include "daemon_config.h"
#include "engine.h"
#include "journal.h"
#include "verify.h"

/* The straight line a migration walks; each stage is announced through
 * on_stage so the CLI can show where it is. */
typedef enum MigrateStage {
        STAGE_DISCOVER,
        STAGE_CHECK,
        STAGE_STOP,
        STAGE_COPY,
        STAGE_VERIFY,
        STAGE_CONFIGURE,
        STAGE_START,
        STAGE_CONFIRM,
        STAGE_ROLLBACK,
        STAGE_DONE,
        _STAGE_MAX,
} MigrateStage;

const char *migrate_stage_to_string(MigrateStage s);

typedef struct MigrateOptions {
        const char *target;
        const char *config_path;      /* NULL: DAEMON_CONFIG_DEFAULT_PATH */
        const char *mountinfo_path;   /* NULL: /proc/self/mountinfo */
        unsigned jobs;                /* 0: copy_default_jobs() */
        bool verify_content;
        /* Give docker.service RequiresMountsFor=TARGET in a drop-in, so it
         * never starts before the target's filesystem is mounted. */
        bool add_mount_dependency;
        /* Move containerd's root too (its image store holds the images when
         * the engine uses the containerd snapshotter), to containerd_root
         * (NULL: "containerd" next to the target). */
        bool include_containerd;
        const char *containerd_root;
        uint64_t start_timeout_usec;  /* 0: 120 s */

        /* Called by the CLI layer to show progress; all may be NULL. */
        void (*on_stage)(MigrateStage stage, const char *what, void *userdata);
        copy_report_fn on_copy_error;
        copy_report_fn on_copy_warning;
        verify_difference_fn on_difference;
        /* Which tree the reports above are about from now on (Docker's, then
         * containerd's): their relpaths are relative to src_root. */
        void (*on_tree)(const char *src_root, void *userdata);
        CopyProgress *progress;
        void *userdata;

        /* The record of this migration: read-only for planning, locked for
         * execution. May be NULL (then nothing is recorded or resumed). */
        Journal *journal;
        /* Set by the CLI's signal handling: stop at the next safe point. */
        const atomic_int *cancel;
} MigrateOptions;

/* Everything discover and check learned; nothing on the system has been
 * changed while building it. */
typedef struct MigratePlan {
        char *source;                 /* current data-root (DockerRootDir) */
        char *target;                 /* normalized target, NULL when refused */
        char *config_path;            /* daemon.json as named */
        char *config_real_path;       /* where its bytes live (symlink resolved) */
        char *backup_path;            /* where the backup will be written */
        DaemonConfig *config;         /* NULL when it could not be read */
        EngineInfo *engine;           /* NULL when the engine did not answer */
        TreeSize source_size;
        TargetFilesystem target_fs;
        CheckList checks;
        bool nothing_to_do;           /* target already is the data-root */
        bool resume;                  /* finishing an interrupted migration */
        bool recopy;                  /* resume, but the source ran again: copy and verify anew */
        bool containerd_recopy;       /* ... because containerd ran from its old root again */
        char *resume_stage;           /* where the interrupted run stopped */

        /* containerd's part, when its root moves too */
        bool containerd;
        char *containerd_source;      /* the root containerd runs from */
        char *containerd_target;      /* normalized, NULL when refused */
        char *containerd_config_path; /* config.toml as named */
        char *containerd_config_real_path;
        char *containerd_backup_path;
        ContainerdConfig *containerd_config; /* NULL when it could not be read */
        TreeSize containerd_size;
        TargetFilesystem containerd_target_fs;
} MigratePlan;

void migrate_plan_free(MigratePlan *p);
DEFINE_POINTER_CLEANUP(MigratePlan, migrate_plan_freep, migrate_plan_free)

/* Discover and check. Returns <0 only when the checks themselves could not
 * run; refusals are results in plan->checks. */
int migrate_plan(const MigrateOptions *opts, MigratePlan **ret);

typedef enum MigrateOutcome {
        MIGRATE_DONE,                 /* Docker runs on the target, verified */
        MIGRATE_ROLLED_BACK,          /* failed; Docker runs on the source again */
        MIGRATE_ROLLBACK_FAILED,      /* failed and the way back failed too */
        MIGRATE_INTERRUPTED,          /* a signal: Docker runs on the old root, resumable */
} MigrateOutcome;

typedef struct MigrateResult {
        MigrateOutcome outcome;
        MigrateStage failed_stage;    /* when not done */
        int error;                    /* negative errno of the failure */
        char *message;                /* what failed, in words */
        char *rollback_message;       /* when the rollback failed: how */
        bool config_changed;          /* daemon.json now names the target */
        bool target_written;          /* the copy at the target exists */
        CopyStats copy_stats;
        VerifyStats verify_stats;
        CopyStats containerd_copy_stats;
        VerifyStats containerd_verify_stats;
        uint64_t copy_usec;
        EngineInfo *engine_after;
} MigrateResult;

void migrate_result_done(MigrateResult *r);

/* Stop, copy, verify, configure, start, confirm, and roll back on any
 * failure after the stop. Only call with a plan that has no refusals. */
int migrate_execute(MigratePlan *plan, const MigrateOptions *opts, MigrateResult *ret);

/* containerd's part of a recorded migration, for migrate_restore. */
typedef struct ContainerdRestore {
        const char *config_path;      /* where config.toml's bytes live */
        bool config_existed;
        const char *backup_path;      /* NULL when config.toml did not exist */
        const char *root;             /* the old root containerd must run from again */
        const char *moved_root;       /* where the migration put it */
        const char *mount_dropin;     /* containerd.service's drop-in the migration wrote, or NULL */
} ContainerdRestore;

/* Puts back what a recorded migration changed: daemon.json from its backup
 * (or removes the one the migration created), and with containerd (may be
 * NULL) config.toml the same way; then restarts containerd and Docker and
 * confirms they run on the old roots. Used by rollback after a failure and
 * by the rollback command. *ret_message explains a failure. */
int migrate_restore(sd_bus *bus, const char *config_path, bool config_existed, const char *backup_path,
                    const char *mount_dropin, const char *source, const ContainerdRestore *containerd,
                    uint64_t start_timeout_usec, char **ret_message);

/* Whether a containerd process of this PID namespace holds a file open
 * below dir (its metadata database, once it runs from there): 1 yes, 0 no,
 * -ESRCH when no containerd runs. *ret_pid is the process looked at. */
int migrate_containerd_uses(const char *dir, pid_t *ret_pid);

/* Whether containerd ran from root (the recorded old or new root of the
 * migration in j) since the migration stopped it, so that root holds data
 * no copy has: a containerd runs from there now, or its metadata database
 * changed since the mark the journal keeps of it (the old root's at the
 * stop, the new root's after the copy). The new root counts only once
 * config.toml may have named it. 1 yes, 0 no, <0 when that cannot be
 * told. */
int migrate_containerd_ran_from(const Journal *j, const char *root);

/* The same for Docker: whether it ran on root (the recorded source or
 * target of the migration in j) since the migration stopped it: the engine
 * reports root now (engine_root, may be NULL), or the top of root changed
 * since the journal's mark of it (path_top_mark(); the source's at the
 * stop, the target's after the copy). The target counts only once
 * daemon.json may have named it. 1 yes, 0 no, <0 when that cannot be
 * told. */
int migrate_docker_ran_from(const Journal *j, const char *root, const char *engine_root);

/* Where --add-mount-dependency writes docker.service's drop-in. */
#define MOUNT_DROPIN_PATH "/etc/systemd/system/docker.service.d/50-docker-dataroot-mount.conf"
/* ... and containerd.service's, when containerd's root moves too. */
#define CONTAINERD_MOUNT_DROPIN_PATH "/etc/systemd/system/containerd.service.d/50-docker-dataroot-mount.conf"
