/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdatomic.h>
#include <stdint.h>

#include "util.h"

/* Live counters, written by the workers and readable from any thread (a
 * progress display samples them). */
typedef struct CopyProgress {
        _Atomic uint64_t entries_done;
        _Atomic uint64_t bytes_done;
} CopyProgress;

/* relpath is relative to the tree's top ("." for the top itself);
 * operation names what failed ("open", "setxattr security.capability",
 * ...); error is a negative errno. The engine calls these one at a time
 * (under its own lock), from any worker thread. */
typedef void (*copy_report_fn)(const char *relpath, const char *operation, int error, void *userdata);

typedef struct CopyOptions {
        unsigned jobs;              /* worker threads; 0 = copy_default_jobs() */
        copy_report_fn on_error;    /* an entry could not be copied faithfully */
        copy_report_fn on_warning;  /* e.g. a mount point skipped, an xattr the target refuses */
        void *userdata;
        CopyProgress *progress;     /* may be NULL */
        /* dst may already hold part of this copy (an interrupted run): keep
         * entries that are complete, redo the rest. Kept are regular files
         * (one link) whose type, mode, owner, size and mtime match, mtime
         * being the copy's last step; all else is removed and copied again.
         * Entries of dst missing in src are left alone. */
        bool resume;
        /* When it becomes non-zero the workers stop at the next entry or
         * chunk of a large file (unfinished files are removed) and
         * copy_tree returns -ECANCELED. May be NULL. */
        const atomic_int *cancel;
} CopyOptions;

typedef struct CopyStats {
        uint64_t regular_files;
        uint64_t directories;       /* including the top */
        uint64_t symlinks;
        uint64_t devices;           /* char + block, incl. overlay whiteouts */
        uint64_t fifos;
        uint64_t sockets;
        uint64_t hardlinks;         /* extra links made with linkat() */
        uint64_t bytes;             /* data bytes written or cloned */
        uint64_t errors;
        uint64_t warnings;
        uint64_t skipped_mounts;
        uint64_t kept;              /* resume: complete files of the interrupted run kept */
} CopyStats;

/* 32 workers, or 8 per CPU when that is more, at most 64: the copy waits
 * on the devices far more than on the CPUs (measured: see copy.c). */
unsigned copy_default_jobs(void);

/* Copies the tree at src to dst, which must be absent (it is created; its
 * parent must exist) or an empty directory (-ENOTEMPTY otherwise, unless
 * resuming); dst
 * inside src is -EINVAL. src itself may be a symlink (followed); nothing
 * below it is followed. Preserves types, bytes, holes, numeric owner,
 * modes incl. setuid/setgid/sticky, every xattr incl. POSIX ACLs (through
 * libacl) and security.capability, hardlinks of every non-directory,
 * device numbers, symlink targets and nanosecond atime/mtime; directory
 * metadata is finished after its children. Regular files above a few MiB
 * that cannot be cloned are copied in chunks by several workers; their
 * metadata is set once, after the last chunk. src is only read (O_NOATIME).
 * Does not cross mount points below src (a different mount id; btrfs
 * subvolumes are not mounts and are copied): each is a warning and
 * counted in skipped_mounts. A target that refuses security.selinux or
 * btrfs.* xattrs gives a warning; any other failure on an entry is
 * reported through on_error with its path, a regular file whose data
 * failed is removed again, and the copy goes on; the result is then -EIO.
 * Ends with syncfs() on dst, also when cancelled (-ECANCELED), so that a
 * resume can trust what it finds. Raises the RLIMIT_NOFILE soft limit to the
 * hard one while it runs. */
int copy_tree(const char *src, const char *dst, const CopyOptions *opts, CopyStats *ret_stats);

/* A fast parallel walk that sizes a tree for the free-space check and for
 * progress totals (CopyProgress ends at entries and apparent_bytes);
 * hardlinked inodes are counted once. Skips mount points as copy_tree
 * does. Returns the first error met, if any. */
typedef struct TreeSize {
        uint64_t entries;           /* every name, including the top */
        uint64_t inodes;            /* distinct inodes */
        uint64_t apparent_bytes;    /* sum of st_size of distinct regular files */
        uint64_t allocated_bytes;   /* sum of st_blocks*512 of distinct inodes */
} TreeSize;
int tree_size(const char *path, TreeSize *ret);
