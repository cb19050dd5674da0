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
        char *source;         /* e.g. /dev/loop3 */
        char *fstype;         /* e.g. "xfs" */
        char *options;        /* full option string, VFS + fs options */
        char *fs_root;        /* root of the mount within its fs ("/" unless bind) */
        dev_t devno;          /* st_dev of the filesystem */
        bool read_only;
} MountInfo;

void mount_info_free(MountInfo *m);
DEFINE_POINTER_CLEANUP(MountInfo, mount_info_freep, mount_info_free)


/* Finds the mount entry that holds path in a mountinfo file (NULL means
 * /proc/self/mountinfo): the last-mounted entry whose target is the longest
 * prefix of path. Path need not exist (the caller passes the deepest
 * existing ancestor for real checks). Pure text processing, so unit tests
 * feed fixed mountinfo files. -ENOENT when nothing matches. */
int mounts_find(const char *mountinfo_path, const char *path, MountInfo **ret);

/* Space on the filesystem holding path (which must exist), from statvfs. */
typedef struct FsSpace {
        uint64_t free_bytes;   /* f_bavail * f_frsize */
        uint64_t total_bytes;
        uint64_t free_inodes;  /* 0 with has_inode_limit false on btrfs */
        bool has_inode_limit;
        unsigned long magic;   /* statfs f_type */
} FsSpace;
int mounts_get_space(const char *path, FsSpace *ret);

/* True when a and b are on the same filesystem (st_dev). */
int mounts_same_filesystem(const char *a, const char *b);

/* Whether a filesystem type can hold overlay2's upper layers:
 * refuses network, fuse, overlay, and RAM-backed types. Returns NULL when
 * fit, else a short reason ("tmpfs is emptied at every reboot"). */
const char *mounts_unfit_reason(const char *fstype);
