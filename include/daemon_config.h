/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "util.h"

#define DAEMON_CONFIG_DEFAULT_PATH "/etc/docker/daemon.json"
#define DAEMON_CONFIG_MAX_SIZE (4u * 1024u * 1024u)

/* Where and why a daemon.json could not be read. line and column are
 * 1-based (the column counts characters, a tab as one); 0 when the problem
 * has no position (e.g. the file could not be read). */
typedef struct DaemonConfigError {
        unsigned line;
        unsigned column;
        char message[160];
} DaemonConfigError;

typedef struct DaemonConfig {
        char *path;           /* the path given to load (may be a symlink) */
        bool existed;         /* false: file absent, root is an empty object */
        struct stat st;       /* of the file, when it existed (mode/owner kept) */
        char *original;       /* exact original bytes ("" when absent) */
        size_t original_size;
        cJSON *root;          /* the parsed top-level object */
} DaemonConfig;

/* Loads and parses path (through a symlink). An absent file is not an
 * error: existed=false and an empty object. A file holding only whitespace
 * loads as an empty object too (existed=true; dockerd 20.10 refuses such a
 * file with "EOF", 23.0 and later accept it).
 *
 * The syntax is checked as strictly as dockerd's Go decoder does, and then
 * some: -EBADMSG with *err filled (err may be NULL) for invalid JSON, text
 * after the top-level object, a top level that is not an object, a UTF-8
 * BOM, comments, duplicate keys at any level, "\u0000" in a string (cJSON
 * would silently cut the string there), unpaired UTF-16 surrogates,
 * control characters inside strings, and nesting deeper than 512 levels.
 * Other errors (-EACCES, -EISDIR, -EFBIG above DAEMON_CONFIG_MAX_SIZE,
 * -EAGAIN when the file changed while it was read: retry) leave *err
 * alone.
 *
 * Every number in the tree keeps its literal text in valuestring (its type
 * stays cJSON_Number), so that render writes it back byte for byte: cJSON
 * alone would print 9007199254740991 as 9.00719925474099e+15 and 1e400 as
 * null. */
int daemon_config_load(const char *path, DaemonConfig **ret, DaemonConfigError *err);
void daemon_config_free(DaemonConfig *c);
DEFINE_POINTER_CLEANUP(DaemonConfig, daemon_config_freep, daemon_config_free)

/* The configured data-root: "data-root", else the obsolete "graph" (keys
 * match case-sensitively, as dockerd's do). Returns 1 with *ret pointing
 * into the tree when set, 0 with *ret = NULL when neither key is there,
 * -EBADMSG when the key that applies is not a string. dockerd refuses a
 * file with both keys; here "data-root" simply wins. */
int daemon_config_get_data_root(const DaemonConfig *c, const char **ret);

/* Sets "data-root" to an absolute path (-EINVAL otherwise): in place when
 * present, else at the position of "graph", else appended. Drops "graph";
 * every other key keeps its value and position. On failure the tree is
 * unchanged. */
int daemon_config_set_data_root(DaemonConfig *c, const char *data_root);

/* The document as text: two-space indentation, ending with a newline.
 * Strings come out with cJSON's escaping (same values, maybe other escapes:
 * "\/" becomes "/", "\u00e9" becomes raw UTF-8); numbers as written. */
int daemon_config_render(const DaemonConfig *c, char **ret);

/* The path the bytes really live at: path itself when it is not a symlink
 * (or does not exist), else the canonical final target. A dangling symlink
 * resolves to realpath(dir of its final target) + its basename, so a write
 * creates the target; -ENOENT when that directory is missing too, -ELOOP
 * after 40 links. */
int daemon_config_resolve_path(const char *path, char **ret);

/* Replaces the file at path with text atomically: temp file
 * ".<name>.XXXXXX" in the same directory, fsync, rename, fsync of the
 * directory. Writes through a symlinked path to its target, so the link
 * stays a link. Mode and owner come from like (when non-NULL), else 0644
 * root:root. Creates missing directories (0755). On failure the temp file
 * is removed and the target left as it was -- except when only the final
 * fsync of the directory fails: the new file is in place then, but maybe
 * not durable, and the error is returned. */
int daemon_config_write_atomic(const char *path, const char *text, const struct stat *like);

/* Writes the exact original bytes (with their mode and owner) to
 * backup_path atomically, never replacing an existing file. 0 when
 * backup_path already holds exactly these bytes, -EEXIST when it holds
 * anything else, -ENOENT when the config did not exist (nothing to back
 * up: a rollback must delete daemon.json instead). */
int daemon_config_write_backup(const DaemonConfig *c, const char *backup_path);

/* The atomic writer behind daemon_config_write_atomic(), for any small
 * file that must be either old or new after a crash (the journal too):
 * follows a symlinked path, creates missing parents (0755), writes a temp
 * file with like's mode and owner (0644 root:root when NULL), fsyncs,
 * renames (replace=false: -EEXIST when path exists) and fsyncs the
 * directory. */
int write_file_atomic(const char *path, const void *data, size_t size, const struct stat *like, bool replace);

/* Keeps original at backup_path, written once with write_file_atomic (no
 * replace): 0 when backup_path holds exactly these bytes afterwards (also
 * when an earlier run wrote it), -EEXIST when it holds anything else. */
int write_backup_once(const char *backup_path, const void *original, size_t size, const struct stat *like);
