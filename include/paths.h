/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/* Normalizes an absolute path: collapses "//" and "/./", drops a trailing
 * "/". Refuses relative paths (-EINVAL) and ".." components (-EINVAL),
 * because a target must be named without any indirection. */
int path_normalize_absolute(const char *path, char **ret);

/* Walks every component of an absolute path (normalized first) with
 * lstat(), from "/" downwards. Returns 1 and the first component that is a
 * symlink in *ret_component, 0 when none is (components that do not exist
 * yet end the walk), <0 on another error: -ENOTDIR when a component that
 * has more below it is not a directory, or the lstat() error (e.g.
 * -EACCES); in both cases *ret_component names the component at fault.
 * ret_component may be NULL. */
int path_find_symlink_component(const char *path, char **ret_component);

/* True when child equals parent or lies below it, component-wise: "/a/bc"
 * is not below "/a/b". Both must be normalized. */
bool path_is_same_or_below(const char *parent, const char *child);

/* Deepest existing ancestor of an absolute path (normalized first; the
 * path itself if it exists). Only ENOENT moves the walk upwards; any other
 * lstat() error (-EACCES, -ENOTDIR, ...) is returned. */
int path_existing_ancestor(const char *path, char **ret);

/* 1 when path does not exist, 0 when it is an empty directory,
 * -ENOTEMPTY when it is a directory with entries (hidden ones count),
 * -ENOTDIR when it is anything else, including a symlink to a directory. */
int path_check_absent_or_empty_dir(const char *path);

/* Whether the directory child is the directory parent itself or lies below
 * it, judged by device and inode while walking up from child through "..":
 * unlike path_is_same_or_below(), this sees through bind mounts and
 * symlinks. 1 yes, 0 no, <0 when either cannot be opened. */
int path_inode_same_or_below(const char *parent, const char *child);

/* A fingerprint of the directory dir (its inode) and its direct entries
 * (names, inode numbers, change and modification times, sizes), as text:
 * equal fingerprints mean no entry at the top of the tree was replaced or
 * changed, and none of the top-level directories gained or lost one. A daemon
 * starting on its root changes it (dockerd renames its tmp directory,
 * creates its top-level directories' files). "none" when dir does not
 * exist. */
int path_top_mark(const char *dir, char **ret);
