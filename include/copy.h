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
         * entries that are complete, redo the rest. */
        bool resume;
        /* When it becomes non-zero the workers stop at the next entry and
         * copy_tree returns -ECANCELED. May be NULL. */
        const atomic_int *cancel;
} CopyOptions;

typedef struct CopyStats {
        uint64_t regular_files;
        uint64_t directories;
        uint64_t symlinks;
        uint64_t devices;           /* char + block, incl. overlay whiteouts */
        uint64_t fifos;
        uint64_t sockets;
        uint64_t hardlinks;         /* extra links made with linkat() */
        uint64_t bytes;             /* data bytes written or cloned */
        uint64_t errors;
        uint64_t warnings;
        uint64_t skipped_mounts;
} CopyStats;

unsigned copy_default_jobs(void);

/* Copies the tree at src to dst, which must be absent (it is created; its
 * parent must exist) or an empty directory. Preserves types, bytes, holes,
 * numeric owner, modes incl. setuid/setgid/sticky, every xattr incl. POSIX
 * ACLs and security.capability, hardlinks, device numbers, symlink targets
 * and nanosecond timestamps; directory timestamps are set after their
 * children. src is only read. Does not cross into other filesystems below
 * src (reported as warnings). Every failing entry is reported through
 * on_error and the copy goes on; the result is then -EIO. Ends with
 * syncfs() on dst. */
int copy_tree(const char *src, const char *dst, const CopyOptions *opts, CopyStats *ret_stats);

/* A fast walk that sizes a tree for the free-space check and for progress
 * totals; hardlinked inodes are counted once. Stays on src's filesystem. */
typedef struct TreeSize {
        uint64_t entries;           /* every name, including the top */
        uint64_t inodes;            /* distinct inodes */
        uint64_t apparent_bytes;    /* sum of st_size of distinct regular files */
        uint64_t allocated_bytes;   /* sum of st_blocks*512 of distinct inodes */
} TreeSize;
int tree_size(const char *path, TreeSize *ret);
