/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* relpath is relative to the trees' tops ("." for the tops), as raw bytes
 * (it may hold newlines or invalid UTF-8: the caller escapes it). what
 * names the property and is one of:
 *   "missing in copy", "extra in copy"   detail: the entry's type
 *   "type"                               "directory != symlink"
 *   "mode"                               "0755 != 0700" (all 12 bits)
 *   "uid", "gid"                         "0 != 1000"
 *   "size"                               "4096 != 4095"
 *   "symlink target"                     "\"a\" != \"b\""
 *   "device"                             "1:3 != 1:5"
 *   "nlink"                              "2 != 1"
 *   "hardlinks"                          which name the inode is shared with
 *   "mtime"                              "1700000000.123456789 != 1700000000.000000000"
 *   "xattr NAME"                         both values, or "absent"; ACLs as text
 *   "content"                            "first difference at byte 123"
 *   "unreadable"                         "original: open: Permission denied"
 * Names and values inside what and detail are quoted and escaped
 * (\xNN), so both are printable ASCII. Called one at a time. */
typedef void (*verify_difference_fn)(const char *relpath, const char *what, const char *detail,
                                     void *userdata);

typedef struct VerifyOptions {
        bool content;               /* compare the bytes of regular files too */
        unsigned jobs;              /* 0 = default */
        verify_difference_fn on_difference;
        void *userdata;
        /* When it becomes non-zero the walk stops and verify_trees returns
         * -ECANCELED. May be NULL. */
        const atomic_int *cancel;
} VerifyOptions;

typedef struct VerifyStats {
        uint64_t entries;           /* entries compared */
        uint64_t differences;
        uint64_t bytes_compared;    /* with content */
} VerifyStats;

/* Compares tree a (the original) with tree b (the copy): names (raw bytes),
 * type, mode, uid/gid, size, symlink target, device numbers, every xattr
 * (POSIX ACLs compared as ACLs through libacl), the hardlink structure and
 * link counts, mtime to the nanosecond (atime and ctime cannot be kept and
 * are ignored), and with content the bytes (holes read as zeros). An entry
 * that cannot be read is a difference ("unreadable"), never equal. Entries
 * of a on another filesystem than a's top are skipped, as copy_tree skips
 * them; the tops themselves are compared. opts may be NULL. Returns 0 when
 * the comparison ran (differences are counted in *ret and reported), <0
 * when it could not run: a or b cannot be opened as directories, -EINVAL
 * when they are the same directory, -ENOMEM; *ret is set only on success.
 * Needs /proc mounted (xattrs are read through /proc/self/fd). */
int verify_trees(const char *a, const char *b, const VerifyOptions *opts, VerifyStats *ret);
