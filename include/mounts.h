/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* What the mount table and statfs say about the filesystem that holds a
 * path. */
typedef struct MountInfo {
        char *mountpoint;     /* target of the mount entry */
        char *source;         /* e.g. /dev/loop3 ("none" when the table has none) */
        char *fstype;         /* e.g. "xfs" */
        char *options;        /* full option string, VFS + fs options */
        char *fs_root;        /* root of the mount within its fs ("/" unless bind) */
        dev_t devno;          /* st_dev of the filesystem */
        bool read_only;       /* "ro" on the mount (VFS) or on the superblock */
} MountInfo;

void mount_info_free(MountInfo *m);
DEFINE_POINTER_CLEANUP(MountInfo, mount_info_freep, mount_info_free)

/* Finds the mount entry that holds path in a mountinfo file (NULL means
 * /proc/self/mountinfo). Path need not exist (the caller passes the deepest
 * existing ancestor for real checks); it must be absolute and is normalized
 * first (-EINVAL for relative paths or ".."). Pure text processing, so unit
 * tests feed fixed mountinfo files:
 *  - with mount IDs (mountinfo format) the walk follows the kernel: from
 *    the top mount on "/" down through every prefix of path, entering a
 *    mount only when it is attached to the mount reached so far, and taking
 *    the top of a stack of mounts on the same target. A mount hidden under
 *    a later over-mount of one of its parents is therefore never returned;
 *  - without IDs (fstab-like files) the last entry whose target is the
 *    longest component-prefix of path wins.
 * -ENOENT when nothing matches, -EBADMSG when a line cannot be parsed. */
int mounts_find(const char *mountinfo_path, const char *path, MountInfo **ret);

/* Space on the filesystem holding path (which must exist), from statvfs. */
typedef struct FsSpace {
        uint64_t free_bytes;   /* f_bavail * f_frsize */
        uint64_t total_bytes;  /* f_blocks * f_frsize */
        uint64_t free_inodes;  /* f_favail; 0 with has_inode_limit false on btrfs */
        bool has_inode_limit;
        unsigned long magic;   /* statfs f_type */
} FsSpace;
int mounts_get_space(const char *path, FsSpace *ret);

/* 1 when a and b are on the same filesystem (same st_dev, following
 * symlinks), 0 when not, <0 when one cannot be stat()ed. Subvolumes of one
 * btrfs have distinct st_dev and count as different. */
int mounts_same_filesystem(const char *a, const char *b);

/* Whether a filesystem type can hold overlay2's upper layers:
 * refuses network, fuse, overlay, RAM-backed, read-only, non-Unix and
 * kernel pseudo types. Returns NULL when fit (also for types it does not
 * know, e.g. a new local filesystem), else a short reason for the user
 * ("tmpfs is emptied at every reboot"). A NULL or empty fstype is unfit. */
const char *mounts_unfit_reason(const char *fstype);
