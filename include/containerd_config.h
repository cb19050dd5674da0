/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "util.h"

/* containerd's config.toml, read and edited only as far as its top-level
 * "root" key goes. There is no TOML library for C in Debian 12, and a full
 * parser would be a larger risk than the edit itself: this module reads the
 * part before the first table header line by line, understands exactly the
 * forms containerd's own files use there, and refuses everything else with
 * the line it could not be sure about. Everything after the first table is
 * never interpreted, and every byte but the root value is kept. */

#define CONTAINERD_SERVICE "containerd.service"
#define CONTAINERD_CONFIG_DEFAULT_PATH "/etc/containerd/config.toml"
#define CONTAINERD_DEFAULT_ROOT "/var/lib/containerd"
#define CONTAINERD_CONFIG_MAX_SIZE (4u * 1024u * 1024u)
/* containerd's metadata database, below its root: it writes it whenever
 * it starts and whenever anything in its store changes. */
#define CONTAINERD_METADATA_DB "io.containerd.metadata.v1.bolt/meta.db"

typedef struct ContainerdConfigError {
        unsigned line;        /* 1-based; 0 when the problem has no line */
        char message[160];
} ContainerdConfigError;

typedef struct ContainerdConfig {
        char *path;           /* as given to load (may be a symlink) */
        bool existed;         /* false: no file, containerd runs on its defaults */
        struct stat st;       /* of the file, when it existed */
        char *original;       /* exact bytes ("" when absent) */
        size_t original_size;
        char *root;           /* the top-level root, NULL when not set */
        unsigned root_line;   /* its line, 0 when not set */
        size_t value_start;   /* byte range of root's value, quotes included */
        size_t value_end;
        size_t insert_at;     /* where a root line goes when there is none */
        char **imports;       /* the top-level imports array, NULL-terminated (never NULL) */
} ContainerdConfig;

/* Reads the top level of text (size bytes, need not be NUL-terminated).
 * -EBADMSG with *err (which may be NULL) for anything it cannot be sure
 * about: a byte order mark, NUL bytes, a lone carriage return, multi-line
 * strings or arrays, dotted keys, a key or value it does not recognize,
 * text after a value, root set twice, root that is not a basic string
 * without escapes or a literal string, or a root that is not absolute. */
int containerd_config_parse(const char *text, size_t size, ContainerdConfig **ret, ContainerdConfigError *err);

/* Loads and parses path (through a symlink). A missing file is not an
 * error: existed=false, no root, no imports. Other errors as read_full_file
 * (-EFBIG above CONTAINERD_CONFIG_MAX_SIZE). */
int containerd_config_load(const char *path, ContainerdConfig **ret, ContainerdConfigError *err);
void containerd_config_free(ContainerdConfig *c);
DEFINE_POINTER_CLEANUP(ContainerdConfig, containerd_config_freep, containerd_config_free)

/* The root containerd uses with this file: root, else its default. */
const char *containerd_config_effective_root(const ContainerdConfig *c);

/* The same, normalized (path_normalize_absolute()), for comparing with
 * other paths: "/var/lib/containerd/" is "/var/lib/containerd". -EINVAL
 * when it is relative or has a ".." component. */
int containerd_config_normalized_root(const ContainerdConfig *c, char **ret);

/* Whether root can be written as a TOML string without escapes: absolute,
 * no quote of either kind, no backslash, no control character. */
bool containerd_config_root_is_plain(const char *root);

/* The file's text with root set: the value replaced in place (same quote
 * style), or a line 'root = "ROOT"' inserted after the last top-level key
 * (before the first table when there is none, at the end when there is no
 * table), with the file's own line ending. -EINVAL when root is not plain. */
int containerd_config_with_root(const ContainerdConfig *c, const char *root, char **ret_text, size_t *ret_size);

/* Writes the exact original bytes, mode and owner to backup_path
 * atomically, never over another file: 0 when backup_path already holds
 * these bytes, -EEXIST when it holds others, -ENOENT when the file did not
 * exist. */
int containerd_config_write_backup(const ContainerdConfig *c, const char *backup_path);

/* Replaces path (through a symlink) with text atomically, keeping the
 * original's mode and owner; a new file gets 0644 root:root. */
int containerd_config_write(const ContainerdConfig *c, const char *path, const char *text, size_t size);

/* The first line besides the top level's root that names a path under dir
 * (e.g. a snapshotter's "root_path = /var/lib/containerd/x"): such paths do
 * not move with root. Comments (from an unquoted '#' to the end of the
 * line) do not count. 0 when none. */
unsigned containerd_config_line_naming(const ContainerdConfig *c, const char *dir);

/* Of the files the imports array names (relative to the directory of
 * config_real_path, with glob patterns), the first that sets a top-level
 * root or cannot be read with certainty: 1 with *ret_file, and *err when
 * it could not be parsed (err->line 0 and an empty message when it sets
 * root at ret_line). 0 when none. */
int containerd_config_check_imports(const ContainerdConfig *c, const char *config_real_path, char **ret_file,
                                    unsigned *ret_line, ContainerdConfigError *err);

/* In one containerd argv (argv[0] the binary): the value of --config / -c
 * (Go's flag syntax: one or two dashes, "=value" or the next word). */
int containerd_find_config_flag(char *const *argv, char **ret_path);

/* In one containerd argv: --root in any of Go's forms, as written (with
 * its value). 1 and *ret_flag, 0 when absent. */
int containerd_find_root_flag(char *const *argv, char **ret_flag);
