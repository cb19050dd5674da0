/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "util.h"

/* The record a migration keeps of itself, so that an interrupted run can be
 * resumed or rolled back by a later one: one small JSON file written
 * atomically in the state directory, next to a lock file that keeps a
 * second instance out. */

typedef struct Journal Journal;

#define JOURNAL_STATE_FILE "state.json"
#define JOURNAL_LOCK_FILE "lock"

/* Creates the state directory (0700) when missing, takes the lock without
 * waiting (-EBUSY when another instance holds it) and loads the state left
 * by an earlier run, if any. read_only (for --dry-run and status) only
 * loads: it creates nothing, takes no lock, and writes fail with -EROFS.
 * A state file that cannot be parsed is -EBADMSG: it is never silently
 * ignored. */
int journal_open(const char *state_dir, bool read_only, Journal **ret);
void journal_free(Journal *j);
DEFINE_POINTER_CLEANUP(Journal, journal_freep, journal_free)

/* Where the state file lives, for messages. */
const char *journal_path(const Journal *j);

/* The loaded or current state; NULL when there is none. */
const cJSON *journal_state(const Journal *j);

/* Starts a new record (replacing any old one) and writes it. */
typedef struct JournalStart {
        const char *source;
        const char *target;
        const char *config_path;      /* where daemon.json's bytes live */
        bool config_existed;
        const char *backup_path;      /* NULL when config did not exist */
        const char *driver;
        long images;
        long containers;
        /* With --include-containerd: containerd's root moves too. NULL
         * containerd_source means it does not. */
        const char *containerd_source;
        const char *containerd_target;
        const char *containerd_config_path;   /* where config.toml's bytes live */
        bool containerd_config_existed;
        const char *containerd_backup_path;   /* NULL when config.toml did not exist */
} JournalStart;
int journal_begin(Journal *j, const JournalStart *start);

/* Records entering and finishing a stage; each call writes the file. */
int journal_enter(Journal *j, const char *stage);
int journal_complete(Journal *j, const char *stage);
bool journal_is_completed(const Journal *j, const char *stage);

/* outcome: "done", "rolled-back", "rollback-failed", "interrupted",
 * "cleaned-up". */
int journal_finish(Journal *j, const char *outcome);

/* Records one more fact (e.g. a file the migration wrote) and writes. */
int journal_set_string(Journal *j, const char *key, const char *value);

/* Convenience getters on the state; NULL / false / -1 when absent. */
const char *journal_get_string(const Journal *j, const char *key);
bool journal_get_bool(const Journal *j, const char *key);
long journal_get_long(const Journal *j, const char *key);

/* True when a migration started and neither finished nor was rolled back. */
bool journal_is_unfinished(const Journal *j);

/* 1 while a docker-dataroot holds the lock in state_dir, 0 when none does
 * (a "running" record is then an interrupted run), <0 on error. */
int journal_lock_is_held(const char *state_dir);
