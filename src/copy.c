/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The copy engine. A pool of workers takes directories from a bounded LIFO
 * stack; a directory is read in batches of entries (one getdents64 call
 * each), so several workers can share a wide directory and no worker ever
 * holds a whole listing. Each directory node counts what still depends on
 * it (its own listing plus its unfinished subdirectories); whoever drops
 * that count to zero sets the directory's last metadata and propagates to
 * the parent. Large regular files go back to the same pool as chunks, so
 * a directory of a few big files is not copied by one worker alone. Only
 * *at() calls relative to open directory fds are used, so depth and path
 * length are unlimited. */

#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "copy.h"

#define JOBS_MAX 64U
#define DENTS_BUFFER_SIZE (16U * 1024U)
/* One per worker, page-aligned, reused for every file: few calls per
 * chunk. Across filesystems every worker's buffer gets touched, so more
 * than 32 workers get half of it each: 64 stay under the 64 MiB memory goal
 * with their xattr buffers. */
#define DATA_BUFFER_SIZE (1024U * 1024U)
#define DATA_BUFFER_SIZE_MANY_JOBS (512U * 1024U)
/* Bytes per copy_file_range() call: big enough to be cheap, small enough
 * that progress moves during a multi-GiB file. */
#define COPY_CALL_SIZE (8U * 1024U * 1024U)
/* A regular file above this size is not copied by the worker that met it
 * in a directory listing but handed to the pool in chunks, so that a
 * directory of a few big files keeps every worker busy. */
#define LARGE_FILE_MIN (8ULL * 1024U * 1024U)
#define LARGE_CHUNK_SIZE (32ULL * 1024U * 1024U)
/* Workers on one file at a time: writers of one inode queue on its lock
 * (and spin there, burning CPU), so more do not make it faster. */
#define LARGE_FILE_WORKERS 2U
#define QUEUE_MAX 256U
#define LINK_SHARDS 64U
#define METHOD_CACHE_SIZE 8U
/* "/proc/self/fd/" + an int + "/" + a name + NUL */
#define PROC_FD_PATH_MAX (14U + 11U + 1U + NAME_MAX + 1U)

#define STATX_WANTED                                                                           \
        (STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_UID | STATX_GID | STATX_ATIME |        \
         STATX_MTIME | STATX_INO | STATX_SIZE | STATX_BLOCKS | STATX_MNT_ID)

typedef enum WalkMode {
        WALK_COPY,
        WALK_SIZE,
} WalkMode;

typedef enum CopyMethod {
        COPY_METHOD_CLONE,
        COPY_METHOD_COPY_FILE_RANGE,
        COPY_METHOD_READ_WRITE,
} CopyMethod;

typedef struct DirNode DirNode;
struct DirNode {
        DirNode *parent;
        char *name;                     /* NULL for the top */
        int src_fd;                     /* open while anyone reads the listing */
        int dst_fd;                     /* open until the directory is finished */
        pthread_mutex_t read_lock;      /* one getdents64() at a time */
        bool exhausted;
        atomic_uint src_users;          /* the listing itself + workers holding a batch */
        atomic_uint pending;            /* the listing + unfinished subdirectories */
        mode_t mode;
        struct timespec times[2];
        acl_t default_acl;              /* set last, or the children would inherit it */
};

typedef enum LinkState {
        LINK_CREATING,
        LINK_DONE,
        LINK_FAILED,
} LinkState;

typedef struct LinkEntry LinkEntry;
struct LinkEntry {
        LinkEntry *next;
        dev_t dev;
        ino_t ino;
        uint32_t nlink;
        uint32_t seen;
        uint32_t waiters;
        LinkState state;
        char *dst_relpath;              /* the first copy, relative to the destination top */
        int dst_path_fd;                /* O_PATH fd instead, when that path is too long */
};

typedef struct LinkShard {
        pthread_mutex_t lock;
        pthread_cond_t changed;
        LinkEntry **buckets;
        size_t n_buckets;
        size_t n_entries;
} LinkShard;

/* A regular file copied by several workers, one chunk each. It holds one
 * of its directory's pending references (so the directory's times are set
 * after it) and, for an inode with several names, the link entry the other
 * names wait on. Whoever finishes the last chunk sets the metadata. */
typedef struct LargeFile LargeFile;
struct LargeFile {
        LargeFile *next;                /* in the walk's list while chunks are left to hand out */
        DirNode *dir;
        char *name;
        LinkEntry *link;                /* NULL for a single name */
        struct statx sx;
        int src_fd;
        int dst_fd;
        uint32_t n_chunks;
        uint32_t next_chunk;            /* under the walk's queue lock */
        unsigned running;               /* chunks being copied; under the queue lock */
        atomic_uint chunks_left;
        _Atomic uint64_t bytes_written;
        atomic_int error;               /* the first failure of any chunk */
        const char *failed_op;          /* written only by the chunk that set error */
};

typedef struct MethodCacheEntry {
        dev_t src_dev;
        CopyMethod method;
} MethodCacheEntry;

typedef struct Walk Walk;

typedef struct Worker {
        Walk *walk;
        pthread_t thread;
        bool started;
        bool active;
        DirNode **local;                /* directories this worker took on when the stack was full */
        size_t n_local;
        size_t local_allocated;
        char *dents;
        char *data;
        size_t data_size;
        char *xattr_names;
        char *xattr_value;
        MethodCacheEntry methods[METHOD_CACHE_SIZE];
        size_t n_methods;
} Worker;

typedef struct Counters {
        _Atomic uint64_t regular_files;
        _Atomic uint64_t directories;
        _Atomic uint64_t symlinks;
        _Atomic uint64_t devices;
        _Atomic uint64_t fifos;
        _Atomic uint64_t sockets;
        _Atomic uint64_t hardlinks;
        _Atomic uint64_t bytes;
        _Atomic uint64_t errors;
        _Atomic uint64_t warnings;
        _Atomic uint64_t skipped_mounts;
        _Atomic uint64_t kept;
        _Atomic uint64_t entries;
        _Atomic uint64_t inodes;
        _Atomic uint64_t apparent_bytes;
        _Atomic uint64_t allocated_bytes;
} Counters;

struct Walk {
        WalkMode mode;
        const CopyOptions *opts;
        bool have_mnt_id;
        uint64_t top_mnt_id;
        dev_t top_dev;
        int dst_top_fd;

        pthread_mutex_t queue_lock;
        pthread_cond_t queue_changed;
        DirNode **queue;
        size_t n_queue;
        size_t queue_max;
        unsigned active_workers;
        bool finished;
        LargeFile *large_head;          /* oldest first: finished files free their fds */
        LargeFile *large_tail;
        unsigned large_in_flight;
        unsigned large_max;

        pthread_mutex_t report_lock;
        atomic_int first_error;
        Counters counters;

        LinkShard shards[LINK_SHARDS];

        Worker *workers;
        unsigned n_workers;
};

#define COUNT(w, field, n) atomic_fetch_add_explicit(&(w)->counters.field, (n), memory_order_relaxed)
#define COUNTER(w, field) atomic_load_explicit(&(w)->counters.field, memory_order_relaxed)

/* A copy waits on the devices far more than it computes: each worker
 * mostly waits on one cold read or metadata update, and the device serves
 * many at once. Measured on the 2-CPU development VM (docs/benchmarks.md,
 * 217k-entry data-root, cold cache, ext4 to ext4): 8 workers 13.4 s, 16:
 * 11.5 s, 32: 9.4 s, 64: no faster, at the same CPU time. So 32, and more
 * only where there are CPUs to drive more requests. */
unsigned copy_default_jobs(void) {
        unsigned ncpu = 0;
        cpu_set_t set;

        if (sched_getaffinity(0, sizeof(set), &set) == 0)
                ncpu = (unsigned) CPU_COUNT(&set);
        if (ncpu == 0) {
                long n = sysconf(_SC_NPROCESSORS_ONLN);
                ncpu = n > 0 ? (unsigned) n : 1;
        }
        return MIN(MAX(8 * ncpu, 32U), JOBS_MAX);
}

/* ---- reporting ---------------------------------------------------------- */

/* The path of name inside dir relative to the top ("." for the top). Built
 * only when needed: it may be longer than PATH_MAX. */
static char *relpath_of(const DirNode *dir, const char *name) {
        size_t len = 0, parts = 0;

        if (name) {
                len += strlen(name);
                parts++;
        }
        for (const DirNode *d = dir; d && d->name; d = d->parent) {
                len += strlen(d->name);
                parts++;
        }
        if (parts == 0)
                return strdup(".");
        len += parts - 1;

        char *path = malloc(len + 1);
        if (!path)
                return NULL;
        char *end = path + len;
        *end = 0;
        if (name) {
                size_t l = strlen(name);
                end -= l;
                memcpy(end, name, l);
                if (dir && dir->name)
                        *--end = '/';
        }
        for (const DirNode *d = dir; d && d->name; d = d->parent) {
                size_t l = strlen(d->name);
                end -= l;
                memcpy(end, d->name, l);
                if (d->parent && d->parent->name)
                        *--end = '/';
        }
        return path;
}

static void report(Walk *w, bool warning, const DirNode *dir, const char *name, const char *operation,
                   int error) {
        if (warning)
                COUNT(w, warnings, 1);
        else {
                int none = 0;
                COUNT(w, errors, 1);
                atomic_compare_exchange_strong(&w->first_error, &none, error);
        }

        copy_report_fn fn = warning ? w->opts->on_warning : w->opts->on_error;
        if (!fn)
                return;

        _cleanup_free_ char *relpath = relpath_of(dir, name);
        pthread_mutex_lock(&w->report_lock);
        fn(relpath ? relpath : "(path unknown: out of memory)", operation, error, w->opts->userdata);
        pthread_mutex_unlock(&w->report_lock);
}

static bool cancelled(const Walk *w) {
        return w->opts->cancel && atomic_load_explicit(w->opts->cancel, memory_order_relaxed) != 0;
}

static void progress_add(Walk *w, uint64_t entries, uint64_t bytes) {
        CopyProgress *p = w->opts->progress;

        if (!p)
                return;
        if (entries > 0)
                atomic_fetch_add_explicit(&p->entries_done, entries, memory_order_relaxed);
        if (bytes > 0)
                atomic_fetch_add_explicit(&p->bytes_done, bytes, memory_order_relaxed);
}

/* ---- small helpers ------------------------------------------------------ */

static void proc_fd_path(char buf[static PROC_FD_PATH_MAX], int fd) {
        snprintf(buf, PROC_FD_PATH_MAX, "/proc/self/fd/%i", fd);
}

/* Opens an entry of the source read-only without touching its atime (the
 * flag needs ownership or CAP_FOWNER; without them the open goes on
 * without it). */
static int open_source_at(int dir_fd, const char *name, int flags) {
        flags |= O_RDONLY | O_CLOEXEC | O_NOCTTY;

        int fd = openat(dir_fd, name, flags | O_NOATIME);
        if (fd < 0 && errno == EPERM)
                fd = openat(dir_fd, name, flags);
        return fd < 0 ? negative_errno() : fd;
}

static void statx_times(const struct statx *sx, struct timespec times[static 2]) {
        times[0] = (struct timespec) { .tv_sec = sx->stx_atime.tv_sec, .tv_nsec = sx->stx_atime.tv_nsec };
        times[1] = (struct timespec) { .tv_sec = sx->stx_mtime.tv_sec, .tv_nsec = sx->stx_mtime.tv_nsec };
        if (!(sx->stx_mask & STATX_ATIME))
                times[0].tv_nsec = UTIME_OMIT;
        if (!(sx->stx_mask & STATX_MTIME))
                times[1].tv_nsec = UTIME_OMIT;
}

static dev_t statx_dev(const struct statx *sx) {
        return makedev(sx->stx_dev_major, sx->stx_dev_minor);
}

/* A mount point is detected by its mount id, not by st_dev: btrfs
 * subvolumes have their own st_dev but are part of the tree and must be
 * copied. st_dev is the fallback on kernels without STATX_MNT_ID. */
static bool on_other_mount(const Walk *w, const struct statx *sx) {
        if (w->have_mnt_id && (sx->stx_mask & STATX_MNT_ID))
                return sx->stx_mnt_id != w->top_mnt_id;
        return statx_dev(sx) != w->top_dev;
}

static int pwrite_all(int fd, const char *buf, size_t size, uint64_t offset) {
        while (size > 0) {
                ssize_t n = pwrite(fd, buf, size, (off_t) offset);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        return -EIO;
                buf += n;
                size -= (size_t) n;
                offset += (uint64_t) n;
        }
        return 0;
}

/* ---- xattrs and ACLs ---------------------------------------------------- */

/* How xattr and ACL calls reach an inode: through its fd when there is one
 * (regular files, directories), else by the path /proc/self/fd/<dir>/<name>
 * used with the l* calls, which neither follow a symlink nor open a
 * device. */
typedef struct InodeRef {
        int fd;
        char path[PROC_FD_PATH_MAX];
} InodeRef;

static void inode_ref_init(InodeRef *ref, int fd, int dir_fd, const char *name) {
        ref->fd = fd;
        if (fd < 0)
                snprintf(ref->path, sizeof(ref->path), "/proc/self/fd/%i/%s", dir_fd, name);
        else
                ref->path[0] = 0;
}

static ssize_t ref_listxattr(const InodeRef *ref, char *buf, size_t size) {
        return ref->fd >= 0 ? flistxattr(ref->fd, buf, size) : llistxattr(ref->path, buf, size);
}

static ssize_t ref_getxattr(const InodeRef *ref, const char *name, void *buf, size_t size) {
        return ref->fd >= 0 ? fgetxattr(ref->fd, name, buf, size) : lgetxattr(ref->path, name, buf, size);
}

static int ref_setxattr(const InodeRef *ref, const char *name, const void *value, size_t size) {
        return ref->fd >= 0 ? fsetxattr(ref->fd, name, value, size, 0)
                            : lsetxattr(ref->path, name, value, size, 0);
}

/* Refusing these loses neither data nor permissions: the SELinux label is
 * given again by policy, btrfs.* are tuning properties of one filesystem. */
static bool refusal_is_warning(const char *name) {
        return streq(name, "security.selinux") || strncmp(name, "btrfs.", 6) == 0;
}

/* Copies every xattr except the POSIX ACLs, which go through libacl; tells
 * which ACLs the source has. */
static void copy_xattrs(Worker *wk, const DirNode *dir, const char *name, const InodeRef *src,
                        const InodeRef *dst, bool *ret_access_acl, bool *ret_default_acl) {
        Walk *w = wk->walk;
        char op[XATTR_NAME_MAX + 32];

        *ret_access_acl = *ret_default_acl = false;

        ssize_t list_size = ref_listxattr(src, wk->xattr_names, XATTR_LIST_MAX);
        if (list_size < 0) {
                if (errno != EOPNOTSUPP)
                        report(w, false, dir, name, "listxattr", negative_errno());
                return;
        }

        for (const char *x = wk->xattr_names; x < wk->xattr_names + list_size; x += strlen(x) + 1) {
                if (streq(x, "system.posix_acl_access")) {
                        *ret_access_acl = true;
                        continue;
                }
                if (streq(x, "system.posix_acl_default")) {
                        *ret_default_acl = true;
                        continue;
                }
                /* XFS shows its on-disk form of the same ACLs to root. */
                if (streq(x, "trusted.SGI_ACL_FILE") || streq(x, "trusted.SGI_ACL_DEFAULT"))
                        continue;

                ssize_t value_size = ref_getxattr(src, x, wk->xattr_value, XATTR_SIZE_MAX);
                if (value_size < 0) {
                        if (errno == ENODATA)
                                continue;
                        int r = negative_errno();
                        snprintf(op, sizeof(op), "getxattr %s", x);
                        report(w, false, dir, name, op, r);
                        continue;
                }
                if (ref_setxattr(dst, x, wk->xattr_value, (size_t) value_size) < 0) {
                        int r = negative_errno();
                        snprintf(op, sizeof(op), "setxattr %s", x);
                        report(w, r == -EOPNOTSUPP && refusal_is_warning(x), dir, name, op, r);
                }
        }
}

static void copy_access_acl(Walk *w, const DirNode *dir, const char *name, const InodeRef *src,
                            const InodeRef *dst) {
        _cleanup_(acl_freep) acl_t acl = src->fd >= 0 ? acl_get_fd(src->fd)
                                                      : acl_get_file(src->path, ACL_TYPE_ACCESS);
        if (!acl) {
                report(w, false, dir, name, "acl_get access", negative_errno());
                return;
        }
        int r = dst->fd >= 0 ? acl_set_fd(dst->fd, acl) : acl_set_file(dst->path, ACL_TYPE_ACCESS, acl);
        if (r < 0)
                report(w, false, dir, name, "acl_set access", negative_errno());
}

/* The first steps of the metadata, for every type: owner (chown clears
 * setuid/setgid and security.capability, so it comes before them), then
 * xattrs and the access ACL (which rewrites the group bits of the mode, so
 * the mode comes after). */
static void copy_owner_and_xattrs(Worker *wk, const DirNode *dir, const char *name,
                                  const struct statx *sx, int src_fd, int dst_fd,
                                  bool *ret_default_acl) {
        Walk *w = wk->walk;
        InodeRef src, dst;
        bool access_acl;
        int r;

        if (dst_fd >= 0)
                r = fchown(dst_fd, sx->stx_uid, sx->stx_gid);
        else
                r = fchownat(dir->dst_fd, name, sx->stx_uid, sx->stx_gid, AT_SYMLINK_NOFOLLOW);
        if (r < 0)
                report(w, false, dir, name, "chown", negative_errno());

        /* The directory's source fd is not read when the inode has its
         * own: a large file finishes after the listing closed it. */
        inode_ref_init(&src, src_fd, src_fd < 0 && dir ? dir->src_fd : -1, name);
        inode_ref_init(&dst, dst_fd, dst_fd < 0 && dir ? dir->dst_fd : -1, name);
        copy_xattrs(wk, dir, name, &src, &dst, &access_acl, ret_default_acl);
        if (access_acl)
                copy_access_acl(w, dir, name, &src, &dst);
}

/* Metadata of a non-directory, all of it, in the order that keeps each
 * step from undoing an earlier one. src_fd/dst_fd are -1 for inodes that
 * are not opened (symlinks, devices, fifos, sockets). */
static void copy_metadata(Worker *wk, const DirNode *dir, const char *name, const struct statx *sx,
                          int src_fd, int dst_fd) {
        Walk *w = wk->walk;
        struct timespec times[2];
        bool default_acl;
        int r;

        copy_owner_and_xattrs(wk, dir, name, sx, src_fd, dst_fd, &default_acl);

        /* Linux has no symlink modes. */
        if (!S_ISLNK(sx->stx_mode)) {
                mode_t mode = sx->stx_mode & 07777;
                r = dst_fd >= 0 ? fchmod(dst_fd, mode) : fchmodat(dir->dst_fd, name, mode, 0);
                if (r < 0)
                        report(w, false, dir, name, "chmod", negative_errno());
        }

        statx_times(sx, times);
        r = dst_fd >= 0 ? futimens(dst_fd, times)
                        : utimensat(dir->dst_fd, name, times, AT_SYMLINK_NOFOLLOW);
        if (r < 0)
                report(w, false, dir, name, "utimensat", negative_errno());
}

/* ---- file data ---------------------------------------------------------- */

/* The best method known to work from this source filesystem to the
 * destination; each worker keeps its own small cache, so no lock. */
static CopyMethod *method_slot(Worker *wk, dev_t src_dev) {
        for (size_t i = 0; i < wk->n_methods; i++)
                if (wk->methods[i].src_dev == src_dev)
                        return &wk->methods[i].method;

        size_t i = wk->n_methods < METHOD_CACHE_SIZE ? wk->n_methods++ : 0;
        wk->methods[i] = (MethodCacheEntry) { .src_dev = src_dev, .method = COPY_METHOD_CLONE };
        return &wk->methods[i].method;
}

/* Errors that mean "this pair of filesystems cannot do it", as opposed to
 * a failure of this one file. */
static bool clone_unsupported(int error) {
        return error == EXDEV || error == EOPNOTSUPP || error == ENOTTY || error == ENOSYS;
}

static bool copy_file_range_unsupported(int error) {
        return error == EXDEV || error == EOPNOTSUPP || error == ENOSYS || error == EINVAL;
}

/* Copies [start, end) at the same offsets. */
static int copy_range(Worker *wk, int src_fd, int dst_fd, uint64_t start, uint64_t end,
                      CopyMethod *file_method, CopyMethod *cached_method, const char **ret_op) {
        uint64_t pos = start;

        while (pos < end) {
                size_t want = (size_t) MIN(end - pos, (uint64_t) COPY_CALL_SIZE);
                ssize_t n;

                /* A multi-GiB file must not hold up a cancel. */
                if (cancelled(wk->walk))
                        return -ECANCELED;

                if (*file_method == COPY_METHOD_COPY_FILE_RANGE) {
                        loff_t in = (loff_t) pos, out = (loff_t) pos;

                        n = copy_file_range(src_fd, &in, dst_fd, &out, want, 0);
                        if (n < 0) {
                                if (errno == EINTR)
                                        continue;
                                if (!copy_file_range_unsupported(errno)) {
                                        *ret_op = "copy_file_range";
                                        return negative_errno();
                                }
                                *file_method = COPY_METHOD_READ_WRITE;
                                if (*cached_method < COPY_METHOD_READ_WRITE)
                                        *cached_method = COPY_METHOD_READ_WRITE;
                                continue;
                        }
                        if (n == 0) {
                                /* Some filesystems stop early; read() tells
                                 * whether the file really ended. */
                                *file_method = COPY_METHOD_READ_WRITE;
                                continue;
                        }
                } else {
                        n = pread(src_fd, wk->data, MIN(want, wk->data_size), (off_t) pos);
                        if (n < 0) {
                                if (errno == EINTR)
                                        continue;
                                *ret_op = "read";
                                return negative_errno();
                        }
                        if (n == 0) {
                                *ret_op = "read (file shrank while copying)";
                                return -EIO;
                        }
                        int r = pwrite_all(dst_fd, wk->data, (size_t) n, pos);
                        if (r < 0) {
                                *ret_op = "write";
                                return r;
                        }
                }
                pos += (uint64_t) n;
                progress_add(wk->walk, 0, (uint64_t) n);
        }
        return 0;
}

/* 1 when the whole file was cloned, 0 when its bytes must be copied (the
 * destination is then still empty), <0 on error. */
static int try_clone(Worker *wk, int src_fd, int dst_fd, const struct statx *sx, const char **ret_op) {
        CopyMethod *cached = method_slot(wk, statx_dev(sx));

        if (*cached != COPY_METHOD_CLONE)
                return 0;
        if (ioctl(dst_fd, FICLONE, src_fd) >= 0)
                return 1;
        if (clone_unsupported(errno))
                *cached = COPY_METHOD_COPY_FILE_RANGE;
        else if (ftruncate(dst_fd, 0) < 0) {
                /* A clone that failed halfway must not leave shared extents behind. */
                *ret_op = "ftruncate";
                return negative_errno();
        }
        return 0;
}

/* The final size first: writes below EOF do not make xfs allocate ahead of
 * them, which a later ftruncate() would keep inside the file, and a
 * trailing hole needs it anyway. Big sources are read in order. */
static int prepare_data_copy(int src_fd, int dst_fd, const struct statx *sx, const char **ret_op) {
        if (ftruncate(dst_fd, (off_t) sx->stx_size) < 0) {
                *ret_op = "ftruncate";
                return negative_errno();
        }
        if (sx->stx_size > DATA_BUFFER_SIZE)
                (void) posix_fadvise(src_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        return 0;
}

/* Copies the data segments of [start, end) of the source, leaving its holes
 * as holes; the destination already has its final size. */
static int copy_segments(Worker *wk, int src_fd, int dst_fd, const struct statx *sx, uint64_t start,
                         uint64_t end, uint64_t *ret_bytes, const char **ret_op) {
        CopyMethod *cached = method_slot(wk, statx_dev(sx));
        CopyMethod method = MAX(*cached, COPY_METHOD_COPY_FILE_RANGE);
        uint64_t offset = start, written = 0;
        int r;

        while (offset < end) {
                off_t data = lseek(src_fd, (off_t) offset, SEEK_DATA), hole;

                if (data < 0) {
                        if (errno == ENXIO)
                                break;          /* nothing but a hole up to the end */
                        if (errno != EINVAL && errno != EOPNOTSUPP) {
                                *ret_op = "lseek SEEK_DATA";
                                return negative_errno();
                        }
                        data = (off_t) offset;  /* no hole support: all of it is data */
                        hole = (off_t) end;
                } else {
                        if ((uint64_t) data >= end)
                                break;
                        hole = lseek(src_fd, data, SEEK_HOLE);
                        if (hole < 0) {
                                *ret_op = "lseek SEEK_HOLE";
                                return negative_errno();
                        }
                }
                uint64_t stop = (uint64_t) hole > (uint64_t) data ? MIN((uint64_t) hole, end) : end;

                progress_add(wk->walk, 0, (uint64_t) data - offset);
                r = copy_range(wk, src_fd, dst_fd, (uint64_t) data, stop, &method, cached, ret_op);
                if (r < 0)
                        return r;
                written += stop - (uint64_t) data;
                offset = stop;
        }

        progress_add(wk->walk, 0, end - MIN(offset, end));
        *ret_bytes = written;
        return 0;
}

/* ---- non-directories ---------------------------------------------------- */

static LargeFile *large_file_new(DirNode *dir, const char *name, const struct statx *sx, LinkEntry *link);
static bool large_file_reserve(Worker *wk);
static void large_file_unreserve(Walk *w);
static void large_file_queue(Worker *wk, LargeFile *lf);
static bool chunk_help(Worker *wk);

/* 0 when the file is complete, 1 when its data went to the pool in chunks
 * (whoever copies the last one finishes the file and releases the names
 * waiting to link to it), <0 on failure (reported, nothing left behind). */
static int create_regular(Worker *wk, DirNode *dir, const char *name, const struct statx *sx, int *src_fd,
                          LinkEntry *link) {
        Walk *w = wk->walk;
        const char *failed_op = "copy";
        uint64_t bytes = 0;
        int r;

        _cleanup_close_ int dst_fd = openat(dir->dst_fd, name,
                                            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                                            0600);
        if (dst_fd < 0) {
                r = negative_errno();
                report(w, false, dir, name, "create", r);
                return r;
        }

        if (sx->stx_size > 0) {
                r = try_clone(wk, *src_fd, dst_fd, sx, &failed_op);
                if (r > 0) {
                        progress_add(w, 0, sx->stx_size);
                        bytes = sx->stx_size;
                } else if (r == 0) {
                        r = prepare_data_copy(*src_fd, dst_fd, sx, &failed_op);
                        if (r >= 0 && sx->stx_size > LARGE_FILE_MIN && large_file_reserve(wk)) {
                                LargeFile *lf = large_file_new(dir, name, sx, link);
                                if (lf) {
                                        lf->src_fd = TAKE_FD(*src_fd);
                                        lf->dst_fd = TAKE_FD(dst_fd);
                                        large_file_queue(wk, lf);
                                        return 1;
                                }
                                large_file_unreserve(w);
                                /* Out of memory: this worker copies it alone. */
                        }
                        if (r >= 0)
                                r = copy_segments(wk, *src_fd, dst_fd, sx, 0, sx->stx_size, &bytes, &failed_op);
                }
                if (r < 0) {
                        if (r != -ECANCELED)
                                report(w, false, dir, name, failed_op, r);
                        /* A partial file must not pass for a copy; removing
                         * it also gives the space back to the other entries. */
                        (void) unlinkat(dir->dst_fd, name, 0);
                        return r;
                }
        }

        copy_metadata(wk, dir, name, sx, *src_fd, dst_fd);

        /* Network filesystems report write errors only here. */
        if (close(TAKE_FD(dst_fd)) < 0) {
                r = negative_errno();
                report(w, false, dir, name, "close", r);
                /* Its times are final already: a resume must not keep it. */
                (void) unlinkat(dir->dst_fd, name, 0);
                return r;
        }

        COUNT(w, regular_files, 1);
        COUNT(w, bytes, bytes);
        progress_add(w, 1, 0);
        return 0;
}

static int create_symlink(Worker *wk, DirNode *dir, const char *name, const struct statx *sx) {
        Walk *w = wk->walk;
        _cleanup_free_ char *target = NULL;
        int r;

        for (size_t allocated = MAX((size_t) sx->stx_size + 1, (size_t) 64);; allocated *= 2) {
                if (allocated > 1024U * 1024U) {
                        report(w, false, dir, name, "readlink", -ENAMETOOLONG);
                        return -ENAMETOOLONG;
                }
                free(target);
                target = malloc(allocated);
                if (!target) {
                        report(w, false, dir, name, "readlink", -ENOMEM);
                        return -ENOMEM;
                }
                ssize_t n = readlinkat(dir->src_fd, name, target, allocated);
                if (n < 0) {
                        r = negative_errno();
                        report(w, false, dir, name, "readlink", r);
                        return r;
                }
                if ((size_t) n < allocated) {
                        target[n] = 0;
                        break;
                }
        }

        if (symlinkat(target, dir->dst_fd, name) < 0) {
                r = negative_errno();
                report(w, false, dir, name, "symlink", r);
                return r;
        }
        copy_metadata(wk, dir, name, sx, -1, -1);
        COUNT(w, symlinks, 1);
        progress_add(w, 1, 0);
        return 0;
}

static int create_special(Worker *wk, DirNode *dir, const char *name, const struct statx *sx) {
        Walk *w = wk->walk;
        mode_t type = sx->stx_mode & S_IFMT;
        dev_t rdev = 0;

        if (S_ISCHR(type) || S_ISBLK(type))
                rdev = makedev(sx->stx_rdev_major, sx->stx_rdev_minor);

        if (mknodat(dir->dst_fd, name, type | 0600, rdev) < 0) {
                int r = negative_errno();
                report(w, false, dir, name, "mknod", r);
                return r;
        }
        copy_metadata(wk, dir, name, sx, -1, -1);

        if (S_ISFIFO(type))
                COUNT(w, fifos, 1);
        else if (S_ISSOCK(type))
                COUNT(w, sockets, 1);
        else
                COUNT(w, devices, 1);
        progress_add(w, 1, 0);
        return 0;
}

/* Creates the inode complete with data and metadata. <0 when it could not
 * be created (already reported); metadata failures are reported but the
 * inode counts as created. 1 for a large file that the pool finishes. */
static int create_nondir(Worker *wk, DirNode *dir, const char *name, const struct statx *sx, int *src_fd,
                         LinkEntry *link) {
        switch (sx->stx_mode & S_IFMT) {
        case S_IFREG:
                return create_regular(wk, dir, name, sx, src_fd, link);
        case S_IFLNK:
                return create_symlink(wk, dir, name, sx);
        case S_IFCHR:
        case S_IFBLK:
        case S_IFIFO:
        case S_IFSOCK:
                return create_special(wk, dir, name, sx);
        default:
                report(wk->walk, false, dir, name, "unknown file type", -EBADF);
                return -EBADF;
        }
}

/* Resuming an interrupted copy: 1 when name already holds a complete copy
 * of the source file (kept), 0 when the name is free (a partial or stale
 * entry is removed first), <0 on error (reported). */
static int resume_check(Worker *wk, DirNode *dir, const char *name, const struct statx *sx) {
        Walk *w = wk->walk;
        struct stat st;
        int r;

        if (fstatat(dir->dst_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                r = negative_errno();
                report(w, false, dir, name, "stat copy", r);
                return r;
        }

        /* The times are the last step of a copy, so matching times mean the
         * rest was done too; a name of a hardlinked inode is always redone,
         * that is simpler than finding its links. A crash can lose data
         * whose metadata survived: no blocks at all for data is not kept. */
        if (S_ISREG(sx->stx_mode) && sx->stx_nlink == 1 && st.st_nlink == 1 &&
            st.st_mode == (mode_t) sx->stx_mode && st.st_uid == sx->stx_uid && st.st_gid == sx->stx_gid &&
            (uint64_t) st.st_size == sx->stx_size && st.st_mtim.tv_sec == sx->stx_mtime.tv_sec &&
            st.st_mtim.tv_nsec == (long) sx->stx_mtime.tv_nsec && !(st.st_blocks == 0 && sx->stx_blocks > 0)) {
                COUNT(w, kept, 1);
                COUNT(w, regular_files, 1);
                progress_add(w, 1, sx->stx_size);
                return 1;
        }

        if (S_ISDIR(st.st_mode)) {
                report(w, false, dir, name, "replace a directory left in the copy", -EISDIR);
                return -EISDIR;
        }
        if (unlinkat(dir->dst_fd, name, 0) < 0) {
                r = negative_errno();
                report(w, false, dir, name, "remove partial copy", r);
                return r;
        }
        return 0;
}

/* ---- hardlinks ---------------------------------------------------------- */

static uint64_t link_hash(dev_t dev, ino_t ino) {
        uint64_t h = (uint64_t) ino * UINT64_C(0x9E3779B97F4A7C15);
        return h ^ ((uint64_t) dev * UINT64_C(0xC2B2AE3D27D4EB4F)) ^ (h >> 29);
}

static LinkShard *link_shard(Walk *w, dev_t dev, ino_t ino) {
        return &w->shards[link_hash(dev, ino) % LINK_SHARDS];
}

static LinkEntry **link_bucket(LinkShard *s, dev_t dev, ino_t ino) {
        return &s->buckets[(link_hash(dev, ino) / LINK_SHARDS) % s->n_buckets];
}

static LinkEntry *link_find(LinkShard *s, dev_t dev, ino_t ino) {
        if (s->n_buckets == 0)
                return NULL;
        for (LinkEntry *e = *link_bucket(s, dev, ino); e; e = e->next)
                if (e->dev == dev && e->ino == ino)
                        return e;
        return NULL;
}

static LinkEntry *link_add(LinkShard *s, dev_t dev, ino_t ino, uint32_t nlink) {
        if (s->n_entries >= s->n_buckets * 2) {
                size_t n = s->n_buckets > 0 ? s->n_buckets * 2 : 64;
                LinkEntry **buckets = calloc(n, sizeof(LinkEntry *));
                if (!buckets && s->n_buckets == 0)
                        return NULL;
                if (buckets) {
                        LinkEntry **old = s->buckets;
                        size_t n_old = s->n_buckets;

                        s->buckets = buckets;
                        s->n_buckets = n;
                        for (size_t i = 0; i < n_old; i++)
                                while (old[i]) {
                                        LinkEntry *e = old[i];
                                        old[i] = e->next;
                                        LinkEntry **b = link_bucket(s, e->dev, e->ino);
                                        e->next = *b;
                                        *b = e;
                                }
                        free(old);
                }
        }

        LinkEntry *e = calloc(1, sizeof(LinkEntry));
        if (!e)
                return NULL;
        *e = (LinkEntry) {
                .dev = dev,
                .ino = ino,
                .nlink = nlink,
                .seen = 1,
                .state = LINK_CREATING,
                .dst_path_fd = -1,
        };
        LinkEntry **b = link_bucket(s, dev, ino);
        e->next = *b;
        *b = e;
        s->n_entries++;
        return e;
}

/* Every name of the inode has been met: nobody needs the entry any more. */
static void link_maybe_drop(LinkShard *s, LinkEntry *e) {
        if (e->seen < e->nlink || e->waiters > 0 || e->state == LINK_CREATING)
                return;
        for (LinkEntry **p = link_bucket(s, e->dev, e->ino); *p; p = &(*p)->next)
                if (*p == e) {
                        *p = e->next;
                        break;
                }
        s->n_entries--;
        free(e->dst_relpath);
        if (e->dst_path_fd >= 0)
                (void) close(e->dst_path_fd);
        free(e);
}

static int link_to_first(Walk *w, const LinkEntry *e, DirNode *dir, const char *name) {
        int r;

        if (e->dst_relpath)
                r = linkat(w->dst_top_fd, e->dst_relpath, dir->dst_fd, name, 0);
        else {
                char path[PROC_FD_PATH_MAX];
                proc_fd_path(path, e->dst_path_fd);
                r = linkat(AT_FDCWD, path, dir->dst_fd, name, AT_SYMLINK_FOLLOW);
        }
        return r < 0 ? negative_errno() : 0;
}

/* The first name's copy is complete (r >= 0) or failed: the names waiting
 * for it may go on. */
static void link_entry_finish(Walk *w, LinkEntry *e, DirNode *dir, const char *name, int r) {
        LinkShard *s = link_shard(w, e->dev, e->ino);
        _cleanup_free_ char *relpath = NULL;
        _cleanup_close_ int path_fd = -1;

        if (r >= 0) {
                relpath = relpath_of(dir, name);
                if (!relpath || strlen(relpath) >= PATH_MAX) {
                        free(relpath);
                        relpath = NULL;
                        path_fd = openat(dir->dst_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                        if (path_fd < 0) {
                                r = negative_errno();
                                report(w, false, dir, name, "open O_PATH (hardlink)", r);
                        }
                }
        }

        pthread_mutex_lock(&s->lock);
        e->state = r >= 0 ? LINK_DONE : LINK_FAILED;
        e->dst_relpath = TAKE_PTR(relpath);
        e->dst_path_fd = TAKE_FD(path_fd);
        pthread_cond_broadcast(&s->changed);
        link_maybe_drop(s, e);
        pthread_mutex_unlock(&s->lock);
}

/* A non-directory with more than one name. The first name met creates the
 * inode; the others wait until it is complete (data and metadata) and link
 * to it. Waiting cannot deadlock: creating an inode never waits, and a
 * waiter copies queued chunks of large files before it sleeps, so the
 * chunks of the inode it waits for always find a worker. */
static void handle_linked(Worker *wk, DirNode *dir, const char *name, const struct statx *sx, int *src_fd) {
        Walk *w = wk->walk;
        dev_t dev = statx_dev(sx);
        ino_t ino = (ino_t) sx->stx_ino;
        LinkShard *s = link_shard(w, dev, ino);
        int r;

        pthread_mutex_lock(&s->lock);
        LinkEntry *e = link_find(s, dev, ino);
        if (!e) {
                e = link_add(s, dev, ino, sx->stx_nlink);
                if (!e) {
                        pthread_mutex_unlock(&s->lock);
                        report(w, false, dir, name, "hardlink table", -ENOMEM);
                        (void) create_nondir(wk, dir, name, sx, src_fd, NULL);
                        return;
                }
        } else {
                e->seen++;
                e->waiters++;
                while (e->state == LINK_CREATING) {
                        pthread_mutex_unlock(&s->lock);
                        bool helped = chunk_help(wk);
                        pthread_mutex_lock(&s->lock);
                        if (!helped && e->state == LINK_CREATING)
                                pthread_cond_wait(&s->changed, &s->lock);
                }
                e->waiters--;

                if (e->state == LINK_DONE) {
                        r = link_to_first(w, e, dir, name);
                        link_maybe_drop(s, e);
                        pthread_mutex_unlock(&s->lock);
                        if (r < 0)
                                report(w, false, dir, name, "link", r);
                        else {
                                COUNT(w, hardlinks, 1);
                                progress_add(w, 1, 0);
                        }
                        return;
                }
                /* The first copy failed (and was reported): this name
                 * tries again and the later ones link to it; after a
                 * cancel nobody does (the copy is abandoned anyway). */
                if (cancelled(w)) {
                        link_maybe_drop(s, e);
                        pthread_mutex_unlock(&s->lock);
                        return;
                }
                e->state = LINK_CREATING;
        }
        pthread_mutex_unlock(&s->lock);

        r = create_nondir(wk, dir, name, sx, src_fd, e);
        if (r != 1)
                link_entry_finish(w, e, dir, name, r);
}

/* tree_size(): true for the first name of an inode met. */
static bool link_first_sighting(Walk *w, const struct statx *sx) {
        dev_t dev = statx_dev(sx);
        ino_t ino = (ino_t) sx->stx_ino;
        LinkShard *s = link_shard(w, dev, ino);
        bool first = false;

        pthread_mutex_lock(&s->lock);
        LinkEntry *e = link_find(s, dev, ino);
        if (e)
                e->seen++;
        else {
                first = true;
                e = link_add(s, dev, ino, sx->stx_nlink);
        }
        if (e) {
                e->state = LINK_DONE;
                link_maybe_drop(s, e);
        }
        pthread_mutex_unlock(&s->lock);
        return first;
}

/* ---- directories -------------------------------------------------------- */

static void dir_node_free(DirNode *n) {
        if (n->src_fd >= 0)
                (void) close(n->src_fd);
        if (n->dst_fd >= 0)
                (void) close(n->dst_fd);
        if (n->default_acl)
                (void) acl_free(n->default_acl);
        pthread_mutex_destroy(&n->read_lock);
        free(n->name);
        free(n);
}

static DirNode *dir_node_new(DirNode *parent, const char *name, const struct statx *sx) {
        DirNode *n = calloc(1, sizeof(DirNode));
        if (!n)
                return NULL;
        if (name) {
                n->name = strdup(name);
                if (!n->name) {
                        free(n);
                        return NULL;
                }
        }
        n->parent = parent;
        n->src_fd = n->dst_fd = -1;
        pthread_mutex_init(&n->read_lock, NULL);
        atomic_init(&n->src_users, 1);
        atomic_init(&n->pending, 1);
        n->mode = sx->stx_mode & 07777;
        statx_times(sx, n->times);
        return n;
}

/* All children are done: the default ACL (any earlier and the children
 * would have inherited it), then the mode (after the ACLs, which rewrite
 * it), then the times (every change above moves them). */
static void dir_finish(Walk *w, DirNode *n) {
        if (w->mode != WALK_COPY || n->dst_fd < 0)
                return;

        if (n->default_acl) {
                char path[PROC_FD_PATH_MAX];
                proc_fd_path(path, n->dst_fd);
                if (acl_set_file(path, ACL_TYPE_DEFAULT, n->default_acl) < 0)
                        report(w, false, n->parent, n->name, "acl_set default", negative_errno());
        }
        if (fchmod(n->dst_fd, n->mode) < 0)
                report(w, false, n->parent, n->name, "chmod", negative_errno());
        if (futimens(n->dst_fd, n->times) < 0)
                report(w, false, n->parent, n->name, "utimensat", negative_errno());
}

/* Drops one dependency; the last one finishes the directory and goes on
 * upwards (a loop, not recursion: trees can be deep). */
static void dir_node_unref(Walk *w, DirNode *n) {
        while (n && atomic_fetch_sub(&n->pending, 1) == 1) {
                DirNode *parent = n->parent;

                dir_finish(w, n);
                dir_node_free(n);
                n = parent;
        }
}

static void dir_node_release_source(Walk *w, DirNode *n) {
        if (atomic_fetch_sub(&n->src_users, 1) != 1)
                return;
        if (n->src_fd >= 0) {
                (void) close(n->src_fd);
                n->src_fd = -1;
        }
        dir_node_unref(w, n);
}

/* The stack is LIFO so the walk goes depth first and few directories are
 * open at once. When it is full the worker keeps the directory for itself. */
static void schedule(Worker *wk, DirNode *n) {
        Walk *w = wk->walk;

        pthread_mutex_lock(&w->queue_lock);
        if (w->n_queue < w->queue_max) {
                w->queue[w->n_queue++] = n;
                pthread_cond_signal(&w->queue_changed);
                pthread_mutex_unlock(&w->queue_lock);
                return;
        }
        pthread_mutex_unlock(&w->queue_lock);

        if (wk->n_local >= wk->local_allocated) {
                size_t allocated = MAX(wk->local_allocated * 2, (size_t) 16);
                DirNode **local = realloc(wk->local, allocated * sizeof(DirNode *));
                if (!local) {
                        report(w, false, n->parent, n->name, "queue directory", -ENOMEM);
                        n->exhausted = true;
                        dir_node_release_source(w, n);
                        return;
                }
                wk->local = local;
                wk->local_allocated = allocated;
        }
        wk->local[wk->n_local++] = n;
}

static void unqueue(Walk *w, DirNode *n) {
        pthread_mutex_lock(&w->queue_lock);
        for (size_t i = w->n_queue; i > 0; i--)
                if (w->queue[i - 1] == n) {
                        memmove(w->queue + i - 1, w->queue + i, (w->n_queue - i) * sizeof(DirNode *));
                        w->n_queue--;
                        break;
                }
        pthread_mutex_unlock(&w->queue_lock);
}

/* Owner, xattrs and access ACL now; default ACL, mode and times when the
 * children are done (dir_finish). */
static void copy_dir_early(Worker *wk, const DirNode *parent, const char *name, const struct statx *sx,
                           int src_fd, int dst_fd, acl_t *ret_default_acl) {
        bool default_acl;

        copy_owner_and_xattrs(wk, parent, name, sx, src_fd, dst_fd, &default_acl);
        if (default_acl) {
                char path[PROC_FD_PATH_MAX];
                proc_fd_path(path, src_fd);
                *ret_default_acl = acl_get_file(path, ACL_TYPE_DEFAULT);
                if (!*ret_default_acl)
                        report(wk->walk, false, parent, name, "acl_get default", negative_errno());
        }
}

/* The copy of a directory: created, or on resume the one an interrupted
 * run left (a non-directory in its way is replaced). Returns an fd. */
static int make_dst_dir(Walk *w, DirNode *parent, const char *name, const char **ret_op) {
        bool existed = false;
        int fd;

        if (mkdirat(parent->dst_fd, name, 0700) < 0) {
                if (errno != EEXIST || !w->opts->resume) {
                        *ret_op = "mkdir";
                        return negative_errno();
                }
                existed = true;
        }
        fd = openat(parent->dst_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && existed && (errno == ENOTDIR || errno == ELOOP)) {
                existed = false;
                if (unlinkat(parent->dst_fd, name, 0) < 0 || mkdirat(parent->dst_fd, name, 0700) < 0) {
                        *ret_op = "replace with a directory";
                        return negative_errno();
                }
                fd = openat(parent->dst_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0) {
                *ret_op = "open copy";
                return negative_errno();
        }

        if (existed) {
                /* A finished directory of the interrupted run has its default
                 * ACL already, which new children would inherit. */
                char path[PROC_FD_PATH_MAX];
                proc_fd_path(path, fd);
                if (acl_delete_def_file(path) < 0 && errno != EOPNOTSUPP && errno != ENODATA) {
                        int r = negative_errno();
                        (void) close(fd);
                        *ret_op = "acl_delete default";
                        return r;
                }
        }
        return fd;
}

static void count_size(Walk *w, const struct statx *sx) {
        COUNT(w, inodes, 1);
        COUNT(w, allocated_bytes, sx->stx_blocks * 512);
        if (S_ISREG(sx->stx_mode))
                COUNT(w, apparent_bytes, sx->stx_size);
}

static void handle_dir(Worker *wk, DirNode *parent, const char *name, const struct statx *sx, int fd) {
        Walk *w = wk->walk;
        _cleanup_close_ int src_fd = fd, dst_fd = -1;
        _cleanup_(acl_freep) acl_t default_acl = NULL;

        if (w->mode == WALK_COPY) {
                const char *failed_op = NULL;
                dst_fd = make_dst_dir(w, parent, name, &failed_op);
                if (dst_fd < 0) {
                        report(w, false, parent, name, failed_op, dst_fd);
                        return;
                }
                copy_dir_early(wk, parent, name, sx, src_fd, dst_fd, &default_acl);
        } else {
                COUNT(w, entries, 1);
                count_size(w, sx);
        }

        DirNode *n = dir_node_new(parent, name, sx);
        if (!n) {
                report(w, false, parent, name, "allocate", -ENOMEM);
                return;
        }
        n->src_fd = TAKE_FD(src_fd);
        n->dst_fd = TAKE_FD(dst_fd);
        n->default_acl = TAKE_PTR(default_acl);
        atomic_fetch_add(&parent->pending, 1);

        if (w->mode == WALK_COPY) {
                COUNT(w, directories, 1);
                progress_add(w, 1, 0);
        }
        schedule(wk, n);
}

static void handle_entry(Worker *wk, DirNode *dir, const char *name, unsigned char d_type) {
        Walk *w = wk->walk;
        bool copying = w->mode == WALK_COPY;
        _cleanup_close_ int src_fd = -1;
        struct statx sx;

        /* Regular files (when copying) and directories get opened anyway:
         * stat the fd and save a path lookup. */
        bool open_first = d_type == DT_DIR || (copying && d_type == DT_REG);
        if (open_first) {
                src_fd = open_source_at(dir->src_fd, name, O_NOFOLLOW | (d_type == DT_DIR ? O_DIRECTORY : 0));
                if (src_fd < 0) {
                        report(w, false, dir, name, "open", src_fd);
                        return;
                }
                if (statx(src_fd, "", AT_EMPTY_PATH, STATX_WANTED, &sx) < 0) {
                        report(w, false, dir, name, "statx", negative_errno());
                        return;
                }
        } else if (statx(dir->src_fd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_WANTED, &sx) < 0) {
                report(w, false, dir, name, "statx", negative_errno());
                return;
        }

        if (on_other_mount(w, &sx)) {
                COUNT(w, skipped_mounts, 1);
                report(w, true, dir, name, "cross into another mount (left out)", -EXDEV);
                return;
        }

        if (!open_first && (S_ISDIR(sx.stx_mode) || (copying && S_ISREG(sx.stx_mode)))) {
                src_fd = open_source_at(dir->src_fd, name, O_NOFOLLOW);
                if (src_fd < 0) {
                        report(w, false, dir, name, "open", src_fd);
                        return;
                }
        }

        if (copying && w->opts->resume && !S_ISDIR(sx.stx_mode) && resume_check(wk, dir, name, &sx) != 0)
                return;

        if (S_ISDIR(sx.stx_mode))
                handle_dir(wk, dir, name, &sx, TAKE_FD(src_fd));
        else if (!copying) {
                COUNT(w, entries, 1);
                if (sx.stx_nlink <= 1 || link_first_sighting(w, &sx))
                        count_size(w, &sx);
        } else if (sx.stx_nlink > 1)
                handle_linked(wk, dir, name, &sx, &src_fd);
        else
                (void) create_nondir(wk, dir, name, &sx, &src_fd, NULL);
}

/* ---- large files -------------------------------------------------------- */

static void large_file_free(LargeFile *lf) {
        if (lf->src_fd >= 0)
                (void) close(lf->src_fd);
        if (lf->dst_fd >= 0)
                (void) close(lf->dst_fd);
        free(lf->name);
        free(lf);
}

static LargeFile *large_file_new(DirNode *dir, const char *name, const struct statx *sx, LinkEntry *link) {
        LargeFile *lf = calloc(1, sizeof(LargeFile));
        if (!lf)
                return NULL;
        lf->name = strdup(name);
        if (!lf->name) {
                free(lf);
                return NULL;
        }
        lf->dir = dir;
        lf->link = link;
        lf->sx = *sx;
        lf->src_fd = lf->dst_fd = -1;
        lf->n_chunks = (uint32_t) ((sx->stx_size + LARGE_CHUNK_SIZE - 1) / LARGE_CHUNK_SIZE);
        atomic_init(&lf->chunks_left, lf->n_chunks);
        atomic_fetch_add(&dir->pending, 1);
        return lf;
}

/* After the last chunk: the metadata once, in the order copy_metadata()
 * keeps, then the names waiting to link, then the directory. */
static void large_file_finish(Worker *wk, LargeFile *lf) {
        Walk *w = wk->walk;
        DirNode *dir = lf->dir;
        int r = atomic_load(&lf->error);

        if (r >= 0) {
                copy_metadata(wk, dir, lf->name, &lf->sx, lf->src_fd, lf->dst_fd);
                /* Network filesystems report write errors only here. */
                if (close(TAKE_FD(lf->dst_fd)) < 0) {
                        r = negative_errno();
                        report(w, false, dir, lf->name, "close", r);
                        (void) unlinkat(dir->dst_fd, lf->name, 0);
                } else {
                        COUNT(w, regular_files, 1);
                        COUNT(w, bytes, atomic_load(&lf->bytes_written));
                        progress_add(w, 1, 0);
                }
        } else {
                if (r != -ECANCELED)
                        report(w, false, dir, lf->name, lf->failed_op ? lf->failed_op : "copy", r);
                /* A partial file must not pass for a copy. */
                (void) unlinkat(dir->dst_fd, lf->name, 0);
        }

        if (lf->link)
                link_entry_finish(w, lf->link, dir, lf->name, r);

        pthread_mutex_lock(&w->queue_lock);
        w->large_in_flight--;
        pthread_mutex_unlock(&w->queue_lock);

        dir_node_unref(w, dir);
        large_file_free(lf);
}

static void large_file_fail(LargeFile *lf, int error, const char *operation) {
        int none = 0;
        if (atomic_compare_exchange_strong(&lf->error, &none, error))
                lf->failed_op = operation;
}

static void chunk_run(Worker *wk, LargeFile *lf, uint32_t index) {
        uint64_t start = (uint64_t) index * LARGE_CHUNK_SIZE;
        uint64_t end = MIN(start + LARGE_CHUNK_SIZE, (uint64_t) lf->sx.stx_size);

        /* After a failure or a cancel the other chunks only count down. */
        if (atomic_load(&lf->error) == 0) {
                const char *failed_op = "copy";
                uint64_t bytes = 0;
                int r = cancelled(wk->walk) ? -ECANCELED
                                            : copy_segments(wk, lf->src_fd, lf->dst_fd, &lf->sx, start, end,
                                                            &bytes, &failed_op);
                if (r < 0)
                        large_file_fail(lf, r, failed_op);
                else {
                        atomic_fetch_add(&lf->bytes_written, bytes);
                        /* Starts the writeback of the chunk now instead of
                         * at the dirty limits, and keeps neither side's
                         * pages: measured 4 x 1 GiB in 3.9-4.1 s at 1.6 CPU
                         * s instead of 4.3-8.0 s at 3.3-11.6 CPU s. */
                        (void) posix_fadvise(lf->src_fd, (off_t) start, (off_t) (end - start), POSIX_FADV_DONTNEED);
                        (void) posix_fadvise(lf->dst_fd, (off_t) start, (off_t) (end - start), POSIX_FADV_DONTNEED);
                }
        }

        Walk *w = wk->walk;
        pthread_mutex_lock(&w->queue_lock);
        lf->running--;
        if (lf->next_chunk < lf->n_chunks)
                pthread_cond_signal(&w->queue_changed);
        pthread_mutex_unlock(&w->queue_lock);

        if (atomic_fetch_sub(&lf->chunks_left, 1) == 1)
                large_file_finish(wk, lf);
}

/* Takes the next chunk of the oldest large file that has room for one more
 * worker, under the queue lock. */
static bool chunk_take_locked(Walk *w, LargeFile **ret_file, uint32_t *ret_index) {
        LargeFile *prev = NULL, *lf = w->large_head;

        while (lf && lf->running >= LARGE_FILE_WORKERS) {
                prev = lf;
                lf = lf->next;
        }
        if (!lf)
                return false;
        *ret_file = lf;
        *ret_index = lf->next_chunk++;
        lf->running++;
        if (lf->next_chunk >= lf->n_chunks) {
                if (prev)
                        prev->next = lf->next;
                else
                        w->large_head = lf->next;
                if (w->large_tail == lf)
                        w->large_tail = prev;
                lf->next = NULL;
        }
        return true;
}

static bool chunk_available_locked(const Walk *w) {
        for (const LargeFile *lf = w->large_head; lf; lf = lf->next)
                if (lf->running < LARGE_FILE_WORKERS)
                        return true;
        return false;
}

/* Copies one queued chunk, if there is one. */
static bool chunk_help(Worker *wk) {
        Walk *w = wk->walk;
        LargeFile *lf;
        uint32_t index;

        pthread_mutex_lock(&w->queue_lock);
        bool taken = chunk_take_locked(w, &lf, &index);
        if (taken && !wk->active) {
                wk->active = true;
                w->active_workers++;
        }
        pthread_mutex_unlock(&w->queue_lock);
        if (taken)
                chunk_run(wk, lf, index);
        return taken;
}

/* A place for one more large file in flight. Every one holds two fds and
 * its directory's: while all places are taken, copy queued chunks; when
 * there are none to copy, false, and the caller copies the file alone. */
static bool large_file_reserve(Worker *wk) {
        Walk *w = wk->walk;

        for (;;) {
                pthread_mutex_lock(&w->queue_lock);
                bool room = w->large_in_flight < w->large_max;
                if (room)
                        w->large_in_flight++;
                pthread_mutex_unlock(&w->queue_lock);
                if (room)
                        return true;
                if (!chunk_help(wk))
                        return false;
        }
}

static void large_file_unreserve(Walk *w) {
        pthread_mutex_lock(&w->queue_lock);
        w->large_in_flight--;
        pthread_mutex_unlock(&w->queue_lock);
}

/* Hands the chunks of a file with a reserved place to the pool. */
static void large_file_queue(Worker *wk, LargeFile *lf) {
        Walk *w = wk->walk;

        pthread_mutex_lock(&w->queue_lock);
        if (w->large_tail)
                w->large_tail->next = lf;
        else
                w->large_head = lf;
        w->large_tail = lf;
        pthread_cond_broadcast(&w->queue_changed);
        pthread_mutex_unlock(&w->queue_lock);
}

/* ---- workers ------------------------------------------------------------ */

/* Reads the next batch of n's entries: >0 bytes, 0 at the end, <0 error.
 * *ret_first_end tells the one caller that met the end first. */
static ssize_t read_batch(Worker *wk, DirNode *n, bool *ret_first_end) {
        ssize_t r = 0;

        *ret_first_end = false;
        pthread_mutex_lock(&n->read_lock);
        if (!n->exhausted) {
                /* Cancelling ends every listing early; the directories
                 * still get finished on the way out. */
                r = cancelled(wk->walk) ? 0 : getdents64(n->src_fd, wk->dents, DENTS_BUFFER_SIZE);
                if (r <= 0) {
                        if (r < 0)
                                r = negative_errno();
                        n->exhausted = true;
                        *ret_first_end = true;
                        unqueue(wk->walk, n);
                }
        }
        pthread_mutex_unlock(&n->read_lock);
        return r;
}

static void process_batch(Worker *wk, DirNode *n, size_t size) {
        for (size_t offset = 0; offset < size;) {
                struct dirent64 *de = (struct dirent64 *) (wk->dents + offset);

                offset += de->d_reclen;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (cancelled(wk->walk))
                        break;
                handle_entry(wk, n, de->d_name, de->d_type);
        }
}

/* Work from the shared queue: a chunk of a large file, else the top of the
 * directory stack with a reference for one batch. False when everything is
 * done: nothing is queued and no worker is busy (a busy one could still
 * queue more). */
static bool queue_take(Worker *wk, DirNode **ret_dir, LargeFile **ret_file, uint32_t *ret_index) {
        Walk *w = wk->walk;
        bool found = false;

        pthread_mutex_lock(&w->queue_lock);
        for (;;) {
                if (w->finished)
                        break;
                if (w->n_queue > 0 || chunk_available_locked(w)) {
                        if (!wk->active) {
                                wk->active = true;
                                w->active_workers++;
                        }
                        if (!chunk_take_locked(w, ret_file, ret_index)) {
                                DirNode *n = w->queue[w->n_queue - 1];
                                /* Safe: a stacked node still holds its listing reference. */
                                atomic_fetch_add(&n->src_users, 1);
                                *ret_dir = n;
                        }
                        found = true;
                        break;
                }
                if (wk->active) {
                        wk->active = false;
                        if (--w->active_workers == 0) {
                                w->finished = true;
                                pthread_cond_broadcast(&w->queue_changed);
                                break;
                        }
                }
                pthread_cond_wait(&w->queue_changed, &w->queue_lock);
        }
        pthread_mutex_unlock(&w->queue_lock);
        return found;
}

static void *worker_main(void *userdata) {
        Worker *wk = userdata;
        Walk *w = wk->walk;

        for (;;) {
                /* Chunks first: a finished large file gives back its fds
                 * and its directory. */
                if (chunk_help(wk))
                        continue;

                bool local = wk->n_local > 0, first_end;
                DirNode *n = NULL;
                if (local)
                        n = wk->local[wk->n_local - 1];
                else {
                        LargeFile *lf = NULL;
                        uint32_t index;
                        if (!queue_take(wk, &n, &lf, &index))
                                break;
                        if (lf) {
                                chunk_run(wk, lf, index);
                                continue;
                        }
                }

                ssize_t r = read_batch(wk, n, &first_end);
                if (r > 0)
                        process_batch(wk, n, (size_t) r);
                else {
                        if (r < 0)
                                report(w, false, n->parent, n->name, "getdents", (int) r);
                        if (local)
                                wk->n_local--;
                        if (first_end)
                                dir_node_release_source(w, n);
                }
                if (!local)
                        dir_node_release_source(w, n);
        }
        return NULL;
}

static void walk_done(Walk *w) {
        for (unsigned i = 0; i < w->n_workers; i++) {
                Worker *wk = &w->workers[i];
                free(wk->local);
                free(wk->dents);
                free(wk->data);
                free(wk->xattr_names);
                free(wk->xattr_value);
        }
        free(w->workers);
        free(w->queue);
        for (size_t i = 0; i < LINK_SHARDS; i++) {
                LinkShard *s = &w->shards[i];
                for (size_t b = 0; b < s->n_buckets; b++)
                        while (s->buckets[b]) {
                                LinkEntry *e = s->buckets[b];
                                s->buckets[b] = e->next;
                                free(e->dst_relpath);
                                if (e->dst_path_fd >= 0)
                                        (void) close(e->dst_path_fd);
                                free(e);
                        }
                free(s->buckets);
                pthread_mutex_destroy(&s->lock);
                pthread_cond_destroy(&s->changed);
        }
        pthread_mutex_destroy(&w->queue_lock);
        pthread_cond_destroy(&w->queue_changed);
        pthread_mutex_destroy(&w->report_lock);
}

static int walk_init(Walk *w, WalkMode mode, const CopyOptions *opts, unsigned jobs) {
        *w = (Walk) {
                .mode = mode,
                .opts = opts,
                .dst_top_fd = -1,
        };
        pthread_mutex_init(&w->queue_lock, NULL);
        pthread_cond_init(&w->queue_changed, NULL);
        pthread_mutex_init(&w->report_lock, NULL);
        for (size_t i = 0; i < LINK_SHARDS; i++) {
                pthread_mutex_init(&w->shards[i].lock, NULL);
                pthread_cond_init(&w->shards[i].changed, NULL);
        }

        w->queue = calloc(QUEUE_MAX, sizeof(DirNode *));
        w->workers = calloc(jobs, sizeof(Worker));
        if (!w->queue || !w->workers) {
                walk_done(w);
                return -ENOMEM;
        }
        w->queue_max = QUEUE_MAX;

        for (unsigned i = 0; i < jobs; i++) {
                Worker *wk = &w->workers[i];

                wk->walk = w;
                wk->dents = malloc(DENTS_BUFFER_SIZE);
                if (mode == WALK_COPY) {
                        wk->data_size = jobs > 32 ? DATA_BUFFER_SIZE_MANY_JOBS : DATA_BUFFER_SIZE;
                        wk->data = aligned_alloc(4096, wk->data_size);
                        wk->xattr_names = malloc(XATTR_LIST_MAX);
                        wk->xattr_value = malloc(XATTR_SIZE_MAX);
                }
                if (!wk->dents ||
                    (mode == WALK_COPY && (!wk->data || !wk->xattr_names || !wk->xattr_value))) {
                        w->n_workers = i + 1;
                        walk_done(w);
                        return -ENOMEM;
                }
        }
        w->n_workers = jobs;
        w->large_max = 2 * jobs;
        return 0;
}

/* Every queued or pending directory holds one or two fds: lift the soft
 * limit to the hard one for the walk, and size the stack to what is left. */
static void raise_fd_limit(struct rlimit *ret_saved, size_t *ret_queue_max, unsigned *large_max) {
        struct rlimit rl;

        *ret_queue_max = QUEUE_MAX;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        *ret_saved = rl;
        if (rl.rlim_cur < rl.rlim_max) {
                struct rlimit raised = { .rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max };
                if (setrlimit(RLIMIT_NOFILE, &raised) >= 0)
                        rl = raised;
        }
        if (rl.rlim_cur != RLIM_INFINITY) {
                /* Large files in flight hold about 3 fds each (their two and
                 * a directory's), stacked directories about 8 with their
                 * workers' open ones; 64 stay for the rest. */
                size_t budget = rl.rlim_cur > 64 ? (size_t) rl.rlim_cur - 64 : 0;
                *large_max = (unsigned) MIN((size_t) *large_max, MAX((size_t) 1, budget / 4 / 3));
                budget -= MIN(budget, (size_t) *large_max * 3);
                *ret_queue_max = MIN((size_t) QUEUE_MAX, MAX((size_t) 8, budget / 8));
        }
}

/* Runs the walk from top (owned) with the calling thread as one of the
 * workers. */
static void walk_run(Walk *w, DirNode *top) {
        struct rlimit saved = { .rlim_cur = RLIM_INFINITY };

        raise_fd_limit(&saved, &w->queue_max, &w->large_max);
        w->queue[w->n_queue++] = top;

        for (unsigned i = 1; i < w->n_workers; i++)
                w->workers[i].started =
                        pthread_create(&w->workers[i].thread, NULL, worker_main, &w->workers[i]) == 0;
        (void) worker_main(&w->workers[0]);
        for (unsigned i = 1; i < w->n_workers; i++)
                if (w->workers[i].started)
                        (void) pthread_join(w->workers[i].thread, NULL);

        if (saved.rlim_cur != RLIM_INFINITY)
                (void) setrlimit(RLIMIT_NOFILE, &saved);
}

/* ---- entry points ------------------------------------------------------- */

static int open_top(const char *path) {
        return open_source_at(AT_FDCWD, path, O_DIRECTORY);
}

/* 1 when the directory has no entries. */
static int dir_is_empty(int fd) {
        _cleanup_close_ int dir_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char buf[4096] __attribute__((aligned(8)));

        if (dir_fd < 0)
                return negative_errno();
        for (;;) {
                ssize_t n = getdents64(dir_fd, buf, sizeof(buf));
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        return 1;
                for (size_t offset = 0; offset < (size_t) n;) {
                        struct dirent64 *de = (struct dirent64 *) (buf + offset);
                        offset += de->d_reclen;
                        if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                                return 0;
                }
        }
}

/* 1 when the directory at fd is dev:ino or below it: the copy would then
 * walk into itself. */
static int dir_is_below(int fd, dev_t dev, ino_t ino) {
        _cleanup_close_ int cur = fcntl(fd, F_DUPFD_CLOEXEC, 3);

        if (cur < 0)
                return negative_errno();
        for (unsigned depth = 0; depth < 65536; depth++) {
                struct stat st, up_st;

                if (fstat(cur, &st) < 0)
                        return negative_errno();
                if (st.st_dev == dev && st.st_ino == ino)
                        return 1;

                int up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (up < 0)
                        return negative_errno();
                if (fstat(up, &up_st) < 0) {
                        int r = negative_errno();
                        (void) close(up);
                        return r;
                }
                (void) close(cur);
                cur = up;
                if (up_st.st_dev == st.st_dev && up_st.st_ino == st.st_ino)
                        return 0;       /* the root */
        }
        return -ELOOP;
}

/* The top is opened following symlinks: /var/lib/docker may be one. */
static int stat_top(int fd, Walk *w, struct statx *ret) {
        if (statx(fd, "", AT_EMPTY_PATH, STATX_WANTED, ret) < 0)
                return negative_errno();
        w->have_mnt_id = ret->stx_mask & STATX_MNT_ID;
        w->top_mnt_id = ret->stx_mnt_id;
        w->top_dev = statx_dev(ret);
        return 0;
}

int copy_tree(const char *src, const char *dst, const CopyOptions *opts, CopyStats *ret_stats) {
        static const CopyOptions no_options = { 0 };
        struct statx top_sx;
        bool created = false;
        Walk w;
        int r;

        if (!src || !dst)
                return -EINVAL;
        if (!opts)
                opts = &no_options;

        _cleanup_close_ int src_fd = open_top(src);
        if (src_fd < 0)
                return src_fd;

        if (mkdir(dst, 0700) >= 0)
                created = true;
        else if (errno != EEXIST)
                return negative_errno();

        _cleanup_close_ int dst_fd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dst_fd < 0) {
                r = negative_errno();
                goto fail;
        }
        if (!created && !opts->resume) {
                r = dir_is_empty(dst_fd);
                if (r <= 0) {
                        r = r < 0 ? r : -ENOTEMPTY;
                        goto fail;
                }
        }

        unsigned jobs = MIN(opts->jobs > 0 ? opts->jobs : copy_default_jobs(), JOBS_MAX);
        r = walk_init(&w, WALK_COPY, opts, jobs);
        if (r < 0)
                goto fail;

        r = stat_top(src_fd, &w, &top_sx);
        if (r >= 0) {
                r = dir_is_below(dst_fd, statx_dev(&top_sx), (ino_t) top_sx.stx_ino);
                if (r > 0)
                        r = -EINVAL;
        }
        if (r < 0) {
                walk_done(&w);
                goto fail;
        }
        w.dst_top_fd = dst_fd;

        DirNode *top = dir_node_new(NULL, NULL, &top_sx);
        if (!top) {
                walk_done(&w);
                r = -ENOMEM;
                goto fail;
        }
        top->src_fd = TAKE_FD(src_fd);
        top->dst_fd = fcntl(dst_fd, F_DUPFD_CLOEXEC, 3);
        if (top->dst_fd < 0) {
                r = negative_errno();
                dir_node_free(top);
                walk_done(&w);
                goto fail;
        }

        if (!created) {
                /* An inherited default ACL would give every copied entry an
                 * ACL its source does not have; the source's own is set at
                 * the end. */
                char path[PROC_FD_PATH_MAX];
                proc_fd_path(path, top->dst_fd);
                if (acl_delete_def_file(path) < 0 && errno != EOPNOTSUPP && errno != ENODATA)
                        report(&w, false, NULL, NULL, "acl_delete default", negative_errno());
        }
        copy_dir_early(&w.workers[0], NULL, NULL, &top_sx, top->src_fd, top->dst_fd, &top->default_acl);
        COUNT(&w, directories, 1);
        progress_add(&w, 1, 0);

        walk_run(&w, top);

        if (syncfs(dst_fd) < 0)
                report(&w, false, NULL, NULL, "syncfs", negative_errno());

        if (ret_stats)
                *ret_stats = (CopyStats) {
                        .regular_files = COUNTER(&w, regular_files),
                        .directories = COUNTER(&w, directories),
                        .symlinks = COUNTER(&w, symlinks),
                        .devices = COUNTER(&w, devices),
                        .fifos = COUNTER(&w, fifos),
                        .sockets = COUNTER(&w, sockets),
                        .hardlinks = COUNTER(&w, hardlinks),
                        .bytes = COUNTER(&w, bytes),
                        .errors = COUNTER(&w, errors),
                        .warnings = COUNTER(&w, warnings),
                        .skipped_mounts = COUNTER(&w, skipped_mounts),
                        .kept = COUNTER(&w, kept),
                };
        r = cancelled(&w) ? -ECANCELED : COUNTER(&w, errors) > 0 ? -EIO : 0;
        walk_done(&w);
        return r;

fail:
        if (created)
                (void) rmdir(dst);
        return r;
}

int tree_size(const char *path, TreeSize *ret) {
        static const CopyOptions no_options = { 0 };
        struct statx top_sx;
        Walk w;
        int r;

        if (!path || !ret)
                return -EINVAL;

        _cleanup_close_ int src_fd = open_top(path);
        if (src_fd < 0)
                return src_fd;

        r = walk_init(&w, WALK_SIZE, &no_options, copy_default_jobs());
        if (r < 0)
                return r;
        r = stat_top(src_fd, &w, &top_sx);
        if (r < 0) {
                walk_done(&w);
                return r;
        }

        DirNode *top = dir_node_new(NULL, NULL, &top_sx);
        if (!top) {
                walk_done(&w);
                return -ENOMEM;
        }
        top->src_fd = TAKE_FD(src_fd);
        COUNT(&w, entries, 1);
        count_size(&w, &top_sx);

        walk_run(&w, top);

        r = atomic_load(&w.first_error);
        if (r >= 0)
                *ret = (TreeSize) {
                        .entries = COUNTER(&w, entries),
                        .inodes = COUNTER(&w, inodes),
                        .apparent_bytes = COUNTER(&w, apparent_bytes),
                        .allocated_bytes = COUNTER(&w, allocated_bytes),
                };
        walk_done(&w);
        return r;
}
