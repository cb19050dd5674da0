/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "util.h"

#define DAEMON_CONFIG_DEFAULT_PATH "/etc/docker/daemon.json"
#define DAEMON_CONFIG_MAX_SIZE (4u * 1024u * 1024u)

/* Where and why a daemon.json could not be read. line and column are
 * 1-based; 0 when the problem has no position (e.g. top level is not an
 * object). */
typedef struct DaemonConfigError {
        unsigned line;
        unsigned column;
        char message[160];
} DaemonConfigError;

typedef struct DaemonConfig {
        char *path;        /* the path given to load (may be a symlink) */
        bool existed;      /* false: file absent, root is an empty object */
        struct stat st;    /* of the file, when it existed (mode/owner kept) */
        char *original;    /* exact original bytes ("" when absent) */
        cJSON *root;       /* the parsed top-level object */
} DaemonConfig;

/* Loads and parses path. An absent file is not an error: existed=false and
 * an empty object. Invalid JSON, a top-level value that is not an object,
 * a UTF-8 BOM or comments yield -EBADMSG with *err filled. */
int daemon_config_load(const char *path, DaemonConfig **ret, DaemonConfigError *err);
void daemon_config_free(DaemonConfig *c);
DEFINE_POINTER_CLEANUP(DaemonConfig, daemon_config_freep, daemon_config_free)

/* The configured data-root: "data-root", else the obsolete "graph", else
 * NULL. -EBADMSG when the key exists but is not a string. */
int daemon_config_get_data_root(const DaemonConfig *c, const char **ret);

/* Sets "data-root" (in place when present, appended otherwise) and drops
 * "graph"; every other key keeps its value and position. */
int daemon_config_set_data_root(DaemonConfig *c, const char *data_root);

/* The document as text: formatted, ending with a newline. */
int daemon_config_render(const DaemonConfig *c, char **ret);

/* The path the bytes really live at: path itself, or the final target when
 * path is a symlink (managed elsewhere; we write through it). */
int daemon_config_resolve_path(const char *path, char **ret);

/* Replaces the file at path with text atomically: temp file in the same
 * directory, fsync, rename, fsync of the directory. Mode and owner come
 * from like (when non-NULL), else 0644 root:root. Creates the directory
 * (0755) when missing. */
int daemon_config_write_atomic(const char *path, const char *text, const struct stat *like);

/* Writes the exact original bytes (with mode and owner) to backup_path
 * atomically. Returns -EEXIST if backup_path exists and differs. */
int daemon_config_write_backup(const DaemonConfig *c, const char *backup_path);
