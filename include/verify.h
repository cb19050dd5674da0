/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* relpath relative to the trees' tops ("." for the tops), what names the
 * property ("missing in copy", "mode", "xattr trusted.overlay.opaque",
 * "hardlinks", "content", ...), detail shows both values. Called one at a
 * time. */
typedef void (*verify_difference_fn)(const char *relpath, const char *what, const char *detail,
                                     void *userdata);

typedef struct VerifyOptions {
        bool content;               /* compare the bytes of regular files too */
        unsigned jobs;              /* 0 = default */
        verify_difference_fn on_difference;
        void *userdata;
} VerifyOptions;

typedef struct VerifyStats {
        uint64_t entries;           /* entries compared */
        uint64_t differences;
        uint64_t bytes_compared;    /* with content */
} VerifyStats;

/* Compares tree a (the original) with tree b (the copy): names (raw bytes),
 * type, mode, uid/gid, size, symlink target, device numbers, every xattr
 * (which covers POSIX ACLs), the hardlink structure, mtime to the
 * nanosecond (atime and ctime cannot be kept and are ignored), and with
 * content the bytes and holes do not count. Entries of a on another
 * filesystem than a's top are skipped, as copy_tree skips them. Returns 0
 * when the comparison ran (differences are counted in *ret and reported),
 * <0 when it could not run. */
int verify_trees(const char *a, const char *b, const VerifyOptions *opts, VerifyStats *ret);
