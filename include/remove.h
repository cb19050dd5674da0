/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Called for every entry that could not be removed; relpath is relative to
 * the top, error a negative errno. */
typedef void (*remove_report_fn)(const char *relpath, const char *operation, int error, void *userdata);

typedef struct RemoveStats {
        uint64_t entries;     /* entries removed */
        uint64_t errors;
        uint64_t skipped_mounts;
} RemoveStats;

/* Removes everything below the absolute directory path, and path itself
 * unless keep_top (or unless it is a mount point, which is kept and
 * emptied). Never follows symlinks and never enters another filesystem
 * (mount points below path are reported and left alone). Uses only *at()
 * calls, so depth and path length do not matter. Refuses "/" (-EPERM).
 * Returns -EIO when any entry could not be removed. */
int remove_tree(const char *path, bool keep_top, remove_report_fn on_error, void *userdata, RemoveStats *ret);
