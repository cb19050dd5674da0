/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/* Normalizes an absolute path: collapses "//" and "/./", drops a trailing
 * "/". Refuses relative paths (-EINVAL) and ".." components (-EINVAL),
 * because a target must be named without any indirection. */
int path_normalize_absolute(const char *path, char **ret);

/* Walks every component of an absolute, normalized path with lstat().
 * Returns 1 and the first component that is a symlink in *ret_component,
 * 0 when none is (components that do not exist yet end the walk), <0 on
 * another error (e.g. -EACCES, -ENOTDIR with *ret_component set to the
 * component that is not a directory). */
int path_find_symlink_component(const char *path, char **ret_component);

/* True when child equals parent or lies below it (both normalized). */
bool path_is_same_or_below(const char *parent, const char *child);

/* Deepest existing ancestor of a normalized path (the path itself if it
 * exists). */
int path_existing_ancestor(const char *path, char **ret);

/* 1 when path does not exist, 0 when it is an empty directory,
 * -ENOTEMPTY when it is a directory with entries, -ENOTDIR when it is
 * anything else. */
int path_check_absent_or_empty_dir(const char *path);
