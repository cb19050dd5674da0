/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * make-tree: writes a tree for the copy benchmarks. Every name, size, byte,
 * owner, mode, timestamp and xattr is drawn from one seeded PRNG, so the same
 * arguments give the same tree on any filesystem, and a run can be repeated.
 *
 * Shapes:
 *   docker  a data-root as Docker's overlay2 driver leaves it: image and
 *           container layers with whiteouts, opaque directories, hardlinks,
 *           capabilities, ACLs; volumes (a PostgreSQL data directory, sparse
 *           images); container logs; image and buildkit metadata.
 *   large   a few big files of random bytes: a pure streaming test.
 *   wide    one directory with N entries.
 *   deep    a chain of N directories, far deeper than PATH_MAX.
 *
 * A bench tool, not a library module: it prints its own errors.
 */

#include <endian.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>

#include "util.h"

#define KiB UINT64_C(1024)
#define MiB (KiB * 1024)
#define GiB (MiB * 1024)

/* Mid-2023, when the oldest layers of the tree were "built". */
#define EPOCH_BASE ((time_t) 1685577600)
#define DAY ((uint32_t) 86400)

#define WRITE_BUFFER_SIZE ((size_t) (4 * MiB))

typedef enum Shape {
        SHAPE_DOCKER,
        SHAPE_LARGE,
        SHAPE_WIDE,
        SHAPE_DEEP,
} Shape;

/* ---- PRNG: xoshiro256** seeded through splitmix64 ---- */

typedef struct Rng {
        uint64_t s[4];
} Rng;

static uint64_t splitmix64(uint64_t *state) {
        uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static void rng_seed(Rng *r, uint64_t seed) {
        for (size_t i = 0; i < ELEMENTSOF(r->s); i++)
                r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl64(uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(Rng *r) {
        uint64_t *s = r->s;
        uint64_t result = rotl64(s[1] * 5, 7) * 9;
        uint64_t t = s[1] << 17;

        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl64(s[3], 45);
        return result;
}

/* Uniform in [0, n); n > 0. The multiply keeps the bias far below what a
 * benchmark could notice, without a rejection loop. */
static uint64_t rng_below(Rng *r, uint64_t n) {
        return (uint64_t) (((unsigned __int128) rng_next(r) * n) >> 64);
}

static uint64_t rng_range(Rng *r, uint64_t lo, uint64_t hi) {
        return lo + rng_below(r, hi - lo + 1);
}

/* True with a probability of ppm parts per million. */
static bool rng_ppm(Rng *r, uint32_t ppm) {
        return rng_below(r, 1000000) < ppm;
}

/* Roughly log-uniform in [lo, hi] (lo >= 1): a power-of-two bucket first,
 * then a value inside it. File sizes spread like this over decades. */
static uint64_t rng_log_uniform(Rng *r, uint64_t lo, uint64_t hi) {
        lo = MAX(lo, UINT64_C(1));
        if (hi <= lo)
                return lo;
        unsigned lo_bits = 64 - (unsigned) __builtin_clzll(lo);
        unsigned hi_bits = 64 - (unsigned) __builtin_clzll(hi);
        unsigned bits = lo_bits + (unsigned) rng_below(r, hi_bits - lo_bits + 1);
        uint64_t bucket_lo = UINT64_C(1) << (bits - 1);
        uint64_t bucket_hi = bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
        bucket_lo = MAX(bucket_lo, lo);
        bucket_hi = MIN(bucket_hi, hi);
        return rng_range(r, bucket_lo, bucket_hi);
}

/* Little-endian whatever the host: the same bytes on every machine. */
static void fill_random(Rng *r, uint8_t *buf, size_t size) {
        size_t i = 0;

        for (; i + 8 <= size; i += 8) {
                uint64_t v = htole64(rng_next(r));
                memcpy(buf + i, &v, 8);
        }
        if (i < size) {
                uint64_t v = htole64(rng_next(r));
                memcpy(buf + i, &v, size - i);
        }
}

/* Printable lines, for logs and JSON-ish metadata: text lets a filesystem or
 * a tool that compresses behave as it would on the real thing. */
static void fill_text(Rng *r, uint8_t *buf, size_t size) {
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789 \":,{}_-.";
        size_t line_left = 0;

        fill_random(r, buf, size);
        for (size_t i = 0; i < size; i++) {
                if (line_left == 0) {
                        line_left = 40 + buf[i] % 160;
                        buf[i] = '\n';
                        continue;
                }
                buf[i] = (uint8_t) alphabet[buf[i] % (sizeof(alphabet) - 1)];
                line_left--;
        }
}

/* ---- growable lists ---- */

typedef struct PathList {
        char **items;
        size_t n;
        size_t allocated;
} PathList;

static int pathlist_add(PathList *l, const char *s) {
        if (l->n == l->allocated) {
                size_t allocated = MAX(l->allocated * 2, (size_t) 64);
                char **items = reallocarray(l->items, allocated, sizeof(char *));
                if (!items)
                        return -ENOMEM;
                l->items = items;
                l->allocated = allocated;
        }
        l->items[l->n] = strdup(s);
        if (!l->items[l->n])
                return -ENOMEM;
        l->n++;
        return 0;
}

static void pathlist_done(PathList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->items[i]);
        free(l->items);
        *l = (PathList) {};
}

/* A directory's timestamps can only be fixed once nothing is created in it
 * any more, so they are remembered and set at the very end. */
typedef struct DirTime {
        char *relpath;
        struct timespec mtime;
} DirTime;

typedef struct Counters {
        uint64_t files;
        uint64_t dirs;
        uint64_t symlinks;
        uint64_t hardlinks;
        uint64_t whiteouts;         /* incl. the links of shared whiteouts */
        uint64_t whiteout_links;
        uint64_t devices;
        uint64_t fifos;
        uint64_t sockets;
        uint64_t apparent_bytes;
        uint64_t written_bytes;
        uint64_t xattr_files;
        uint64_t acl_entries;
} Counters;

typedef struct Tree {
        int root_fd;
        Rng rng;
        uint8_t *buf;
        uint64_t max_file_size;     /* 0 = no cap */
        DirTime *dirs;
        size_t n_dirs;
        size_t allocated_dirs;
        Counters count;
} Tree;

/* Metadata every entry gets. */
typedef struct Meta {
        mode_t mode;                /* permission bits incl. setuid/setgid/sticky */
        uid_t uid;
        gid_t gid;
        struct timespec mtime;
} Meta;

/* Metadata only some entries get. */
typedef struct Extras {
        const char *acl_access;     /* text form */
        const char *acl_default;    /* directories only */
        bool no_acls;               /* drop ACLs inherited from the parent's default ACL */
        bool capability;            /* cap_net_raw+ep, as on ping */
        bool opaque;                /* trusted.overlay.opaque=y */
        bool user_xattrs;
        bool text;                  /* content is printable lines */
} Extras;

static const Extras no_extras = {};

/* Every path and string formatted here is bounded by construction: one that
 * does not fit is a bug in this program, not a condition to handle. */
_printf_(3, 4) static void format_path(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        int n = vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= size) {
                fprintf(stderr, "make-tree: internal error: '%s...' does not fit %zu bytes\n", buf, size);
                abort();
        }
}

static int log_error_errno(int error, const char *what, const char *path) {
        fprintf(stderr, "make-tree: %s '%s': %s\n", what, path, strerror(-error));
        return error;
}

static Meta meta_at(Tree *t, mode_t mode, uid_t uid, gid_t gid, time_t base, uint32_t spread_seconds) {
        return (Meta) {
                .mode = mode,
                .uid = uid,
                .gid = gid,
                .mtime = {
                        .tv_sec = base + (time_t) rng_below(&t->rng, spread_seconds + 1),
                        .tv_nsec = (long) rng_below(&t->rng, 1000000000),
                },
        };
}

static int remember_dir_time(Tree *t, const char *relpath, struct timespec mtime) {
        if (t->n_dirs == t->allocated_dirs) {
                size_t allocated = MAX(t->allocated_dirs * 2, (size_t) 1024);
                DirTime *dirs = reallocarray(t->dirs, allocated, sizeof(DirTime));
                if (!dirs)
                        return -ENOMEM;
                t->dirs = dirs;
                t->allocated_dirs = allocated;
        }
        char *copy = strdup(relpath);
        if (!copy)
                return -ENOMEM;
        t->dirs[t->n_dirs++] = (DirTime) { .relpath = copy, .mtime = mtime };
        return 0;
}

/* ---- metadata beyond mode and owner ---- */

static int set_capability(int fd) {
        struct vfs_cap_data cap = {
                .magic_etc = htole32(VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE),
                .data[0].permitted = htole32(UINT32_C(1) << CAP_NET_RAW),
        };

        if (fsetxattr(fd, "security.capability", &cap, XATTR_CAPS_SZ_2, 0) < 0)
                return negative_errno();
        return 0;
}

static int set_acl_text(int fd, acl_type_t type, const char *text) {
        _cleanup_(acl_freep) acl_t acl = acl_from_text(text);
        if (!acl)
                return negative_errno();

        if (type == ACL_TYPE_ACCESS) {
                if (acl_set_fd(fd, acl) < 0)
                        return negative_errno();
                return 0;
        }
        /* libacl sets a default ACL by name only; the fd's magic link names
         * exactly this directory. */
        char proc_path[64];
        format_path(proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
        if (acl_set_file(proc_path, type, acl) < 0)
                return negative_errno();
        return 0;
}

static int set_user_xattrs(Tree *t, int fd) {
        static const char hex[] = "0123456789abcdef";
        char digest[65], comment[256];

        for (size_t i = 0; i < 64; i++)
                digest[i] = hex[rng_below(&t->rng, 16)];
        digest[64] = '\0';
        if (fsetxattr(fd, "user.checksum.sha256", digest, 64, 0) < 0)
                return negative_errno();

        size_t len = (size_t) rng_range(&t->rng, 1, sizeof comment);
        fill_text(&t->rng, (uint8_t *) comment, len);
        if (fsetxattr(fd, "user.comment", comment, len, 0) < 0)
                return negative_errno();

        /* An empty value is legal and easy to lose. */
        if (rng_ppm(&t->rng, 300000) && fsetxattr(fd, "user.flag", "", 0, 0) < 0)
                return negative_errno();
        return 0;
}

/* chown() clears setuid/setgid and security.capability, so the order is:
 * owner, then mode, then xattrs. */
static int apply_meta(Tree *t, int fd, bool is_dir, const Meta *m, const Extras *x) {
        int r;

        if (fchown(fd, m->uid, m->gid) < 0)
                return negative_errno();
        if (fchmod(fd, m->mode) < 0)
                return negative_errno();

        bool counted = false;
        if (x->opaque) {
                if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
                        return negative_errno();
                counted = true;
        }
        if (x->user_xattrs) {
                r = set_user_xattrs(t, fd);
                if (r < 0)
                        return r;
                counted = true;
        }
        if (x->capability) {
                r = set_capability(fd);
                if (r < 0)
                        return r;
                counted = true;
        }
        if (x->no_acls) {
                if (fremovexattr(fd, "system.posix_acl_access") < 0 && errno != ENODATA)
                        return negative_errno();
                if (is_dir && fremovexattr(fd, "system.posix_acl_default") < 0 && errno != ENODATA)
                        return negative_errno();
        }
        if (x->acl_access) {
                r = set_acl_text(fd, ACL_TYPE_ACCESS, x->acl_access);
                if (r < 0)
                        return r;
                t->count.acl_entries++;
        }
        if (is_dir && x->acl_default) {
                r = set_acl_text(fd, ACL_TYPE_DEFAULT, x->acl_default);
                if (r < 0)
                        return r;
        }
        if (counted)
                t->count.xattr_files++;
        return 0;
}

/* ---- entries ---- */

static int write_content(Tree *t, int fd, uint64_t size, bool text) {
        Rng content;

        /* Its own stream: the bytes of one file do not shift the names and
         * sizes of all later ones when a size changes. */
        rng_seed(&content, rng_next(&t->rng));
        while (size > 0) {
                size_t n = (size_t) MIN(size, (uint64_t) WRITE_BUFFER_SIZE);
                if (text)
                        fill_text(&content, t->buf, n);
                else
                        fill_random(&content, t->buf, n);
                int r = write_all(fd, t->buf, n);
                if (r < 0)
                        return r;
                size -= n;
                t->count.written_bytes += n;
        }
        return 0;
}

static uint64_t cap_size(const Tree *t, uint64_t size) {
        return t->max_file_size > 0 ? MIN(size, t->max_file_size) : size;
}

/* A regular file of size random (or text) bytes at dirfd/path. */
static int make_file_at(Tree *t, int dirfd, const char *path, uint64_t size, const Meta *m, const Extras *x) {
        _cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();

        size = cap_size(t, size);
        int r = write_content(t, fd, size, x->text);
        if (r < 0)
                return r;
        r = apply_meta(t, fd, false, m, x);
        if (r < 0)
                return r;
        struct timespec times[2] = { m->mtime, m->mtime };
        if (futimens(fd, times) < 0)
                return negative_errno();
        t->count.files++;
        t->count.apparent_bytes += size;
        return 0;
}

static int make_file(Tree *t, const char *relpath, uint64_t size, const Meta *m, const Extras *x) {
        int r = make_file_at(t, t->root_fd, relpath, size, m, x);
        if (r < 0 && r != -EEXIST)
                return log_error_errno(r, "Failed to create file", relpath);
        return r;
}

typedef struct Extent {
        uint64_t offset;
        uint64_t length;
} Extent;

/* Data only in the extents, holes everywhere else, apparent size size. */
static int make_sparse_file(Tree *t, const char *relpath, uint64_t size, const Extent *extents, size_t n_extents,
                            const Meta *m) {
        _cleanup_close_ int fd = openat(t->root_fd, relpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                                        0600);
        if (fd < 0)
                return log_error_errno(negative_errno(), "Failed to create file", relpath);

        for (size_t i = 0; i < n_extents; i++) {
                if (lseek(fd, (off_t) extents[i].offset, SEEK_SET) < 0)
                        return log_error_errno(negative_errno(), "Failed to seek in", relpath);
                int r = write_content(t, fd, extents[i].length, false);
                if (r < 0)
                        return log_error_errno(r, "Failed to write", relpath);
        }
        if (ftruncate(fd, (off_t) size) < 0)
                return log_error_errno(negative_errno(), "Failed to size", relpath);
        int r = apply_meta(t, fd, false, m, &no_extras);
        if (r < 0)
                return log_error_errno(r, "Failed to set metadata of", relpath);
        struct timespec times[2] = { m->mtime, m->mtime };
        if (futimens(fd, times) < 0)
                return log_error_errno(negative_errno(), "Failed to set times of", relpath);
        t->count.files++;
        t->count.apparent_bytes += size;
        return 0;
}

/* Creates the directory and applies its metadata, but leaves the times to
 * the caller. On success *ret_fd (if given) holds an fd of the directory. */
static int make_dir_at(Tree *t, int dirfd, const char *path, const Meta *m, const Extras *x, int *ret_fd) {
        if (mkdirat(dirfd, path, 0700) < 0)
                return negative_errno();

        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        int r = apply_meta(t, fd, true, m, x);
        if (r < 0)
                return r;
        t->count.dirs++;
        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        return 0;
}

static int make_dir(Tree *t, const char *relpath, const Meta *m, const Extras *x) {
        int r = make_dir_at(t, t->root_fd, relpath, m, x, NULL);
        if (r == -EEXIST)
                return r;
        if (r < 0)
                return log_error_errno(r, "Failed to create directory", relpath);
        r = remember_dir_time(t, relpath, m->mtime);
        if (r < 0)
                return log_error_errno(r, "Failed to remember", relpath);
        return 0;
}

/* For entries that cannot be opened: symlinks, devices, fifos, sockets. */
static int chown_nofollow(Tree *t, const char *relpath, const Meta *m) {
        if (fchownat(t->root_fd, relpath, m->uid, m->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        return 0;
}

static int set_times_nofollow(Tree *t, const char *relpath, const Meta *m) {
        struct timespec times[2] = { m->mtime, m->mtime };
        if (utimensat(t->root_fd, relpath, times, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        return 0;
}

static int make_symlink(Tree *t, const char *target, const char *relpath, const Meta *m) {
        if (symlinkat(target, t->root_fd, relpath) < 0) {
                int r = negative_errno();
                return r == -EEXIST ? r : log_error_errno(r, "Failed to create symlink", relpath);
        }
        int r = chown_nofollow(t, relpath, m);
        if (r >= 0)
                r = set_times_nofollow(t, relpath, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set metadata of", relpath);
        t->count.symlinks++;
        return 0;
}

/* Whiteouts (char 0:0), other devices, fifos and sockets: mknod makes all
 * of them, and a socket inode needs no listener to exist. */
static int make_node(Tree *t, const char *relpath, mode_t type, dev_t dev, const Meta *m) {
        if (mknodat(t->root_fd, relpath, type | (m->mode & 07777), dev) < 0) {
                int r = negative_errno();
                return r == -EEXIST ? r : log_error_errno(r, "Failed to create node", relpath);
        }
        int r = chown_nofollow(t, relpath, m);
        if (r < 0)
                return log_error_errno(r, "Failed to chown", relpath);
        /* After chown, which clears setuid/setgid. fchmodat() cannot skip
         * symlinks, but this is no symlink. */
        if (fchmodat(t->root_fd, relpath, m->mode & 07777, 0) < 0)
                return log_error_errno(negative_errno(), "Failed to chmod", relpath);
        r = set_times_nofollow(t, relpath, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set times of", relpath);
        if (type == S_IFCHR && dev == makedev(0, 0))
                t->count.whiteouts++;
        else if (type == S_IFCHR || type == S_IFBLK)
                t->count.devices++;
        else if (type == S_IFIFO)
                t->count.fifos++;
        else if (type == S_IFSOCK)
                t->count.sockets++;
        return 0;
}

static int make_hardlink(Tree *t, const char *existing, const char *relpath) {
        if (linkat(t->root_fd, existing, t->root_fd, relpath, 0) < 0) {
                int r = negative_errno();
                return r == -EEXIST ? r : log_error_errno(r, "Failed to link", relpath);
        }
        return 0;
}

/* Creates every missing component of relpath as a directory with meta. */
static int make_dirs(Tree *t, const char *relpath, const Meta *m, PathList *created) {
        char path[PATH_MAX];

        if (strlen(relpath) >= sizeof path)
                return log_error_errno(-ENAMETOOLONG, "Path too long", relpath);
        strcpy(path, relpath);
        for (char *slash = path;; slash++) {
                slash = strchr(slash, '/');
                if (slash)
                        *slash = '\0';
                int r = make_dir(t, path, m, &no_extras);
                if (r < 0 && r != -EEXIST)
                        return r;
                if (r >= 0 && created) {
                        r = pathlist_add(created, path);
                        if (r < 0)
                                return r;
                }
                if (!slash)
                        return 0;
                *slash = '/';
        }
}

static int set_dir_times(Tree *t) {
        for (size_t i = 0; i < t->n_dirs; i++) {
                struct timespec times[2] = { t->dirs[i].mtime, t->dirs[i].mtime };
                if (utimensat(t->root_fd, t->dirs[i].relpath, times, AT_SYMLINK_NOFOLLOW) < 0)
                        return log_error_errno(negative_errno(), "Failed to set times of", t->dirs[i].relpath);
        }
        return 0;
}

/* ---- names ---- */

static const char *const syllables[] = {
        "lib", "core", "net", "ssl", "x", "data", "py", "gtk", "font", "conf", "util", "bin",
        "share", "doc", "man", "locale", "zone", "cache", "mod", "pkg", "perl", "node", "re", "base",
        "io", "sys", "sh", "av", "gl", "log", "term", "crypt", "db", "http", "xml", "z", "ev", "uv",
        "proto", "tls", "gnu", "pam", "dbus", "icu", "bz", "lz", "ma", "pcre", "ffi", "std",
};

static const char *const extensions[] = {
        "", "", "", ".so", ".so.1", ".so.6", ".py", ".pyc", ".h", ".c", ".txt", ".gz", ".json", ".js",
        ".mo", ".conf", ".pem", ".html", ".xml", ".rb", ".pm", ".png", ".svg", ".md", ".go", ".a",
};

static void random_name(Tree *t, char *buf, size_t size, bool with_extension) {
        size_t len = 0;
        unsigned n = (unsigned) rng_range(&t->rng, 1, 3);

        buf[0] = '\0';
        for (unsigned i = 0; i < n; i++) {
                static const char *const separators[] = { "", "", "-", "_" };
                const char *sep = i == 0 ? "" : separators[rng_below(&t->rng, ELEMENTSOF(separators))];
                const char *s = syllables[rng_below(&t->rng, ELEMENTSOF(syllables))];
                len += (size_t) snprintf(buf + len, size - len, "%s%s", sep, s);
        }
        if (rng_ppm(&t->rng, 300000))
                len += (size_t) snprintf(buf + len, size - len, "%u", (unsigned) rng_below(&t->rng, 100));
        if (with_extension)
                format_path(buf + len, size - len, "%s", extensions[rng_below(&t->rng, ELEMENTSOF(extensions))]);
}

static void random_hex(Tree *t, char *buf, size_t len) {
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < len; i++)
                buf[i] = hex[rng_below(&t->rng, 16)];
        buf[len] = '\0';
}

/* The 26-character names of overlay2/l/ symlinks. */
static void random_short_id(Tree *t, char *buf) {
        static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        for (size_t i = 0; i < 26; i++)
                buf[i] = chars[rng_below(&t->rng, sizeof(chars) - 1)];
        buf[26] = '\0';
}

/* ---- the docker shape ---- */

typedef enum LayerKind {
        LAYER_BASE,         /* the first layer of an image: a distribution */
        LAYER_IMAGE,        /* a later image layer (RUN, COPY) */
        LAYER_INIT,         /* a container's -init layer */
        LAYER_CONTAINER,    /* a container's writable layer */
} LayerKind;

typedef struct Layer {
        char id[72];
        char short_id[27];
        char chain_id[65];
        int parent;         /* index, or -1 */
        bool has_child;
        bool remapped;      /* owned by 100000+ ids, as under userns-remap */
        LayerKind kind;
        time_t created;
        uint64_t entries;   /* non-directory entries to put in diff/ */
} Layer;

typedef struct Docker {
        Tree *t;
        Layer *layers;
        size_t n_layers;
        size_t n_image_layers;
        PathList global_pool;       /* files any later layer may link to */
        uint64_t global_seen;
} Docker;

static const uint32_t other_ids[] = { 1, 2, 8, 33, 42, 100, 101, 102, 999, 1000, 65534 };

/* Reservoir sampling: a bounded, uniformly drawn set of link candidates. */
static int pool_offer(Tree *t, PathList *pool, size_t capacity, uint64_t *seen, const char *relpath) {
        (*seen)++;
        if (pool->n < capacity)
                return pathlist_add(pool, relpath);
        uint64_t slot = rng_below(&t->rng, *seen);
        if (slot < capacity) {
                char *copy = strdup(relpath);
                if (!copy)
                        return -ENOMEM;
                free(pool->items[slot]);
                pool->items[slot] = copy;
        }
        return 0;
}

/* Sizes like a distribution image: most files small, a long tail. */
static uint64_t image_file_size(Tree *t) {
        uint64_t p = rng_below(&t->rng, 100000);
        if (p < 4000)
                return 0;
        if (p < 99090)
                return rng_log_uniform(&t->rng, 64, 16 * KiB - 1);
        if (p < 99990)
                return rng_log_uniform(&t->rng, 16 * KiB, MiB - 1);
        return rng_log_uniform(&t->rng, MiB, 64 * MiB);
}

static uid_t layer_owner(const Layer *layer, uint32_t id) {
        return (uid_t) (layer->remapped ? 100000 + id : id);
}

static mode_t random_file_mode(Tree *t, const char *dir) {
        uint64_t p = rng_below(&t->rng, 100000);
        bool in_bin = strstr(dir, "/bin") || strstr(dir, "/sbin");

        if (p < 40)
                return 04755;
        if (p < 70)
                return 02755;
        if (p < 1000)
                return 0600;
        if (p < 1500)
                return 0444;
        if (p < 2000)
                return 0640;
        if (in_bin || p < 15000)
                return 0755;
        return 0644;
}

static mode_t random_dir_mode(Tree *t) {
        uint64_t p = rng_below(&t->rng, 100000);
        if (p < 200)
                return 01777;
        if (p < 500)
                return 02775;
        if (p < 1500)
                return 0750;
        if (p < 3500)
                return 0700;
        return 0755;
}

/* Numeric ids only: names would depend on the host's /etc/group. */
static const char *const acl_dir_access = "u::rwx,g::r-x,g:4:r-x,u:1000:rwx,m::rwx,o::r-x";
static const char *const acl_dir_default = "u::rwx,g::r-x,g:4:r-x,m::r-x,o::r-x";
static const char *const acl_file_access = "u::rw-,u:1000:rw-,g::r--,m::rw-,o::r--";

typedef struct DiffState {
        Docker *d;
        const Layer *layer;
        PathList dirs;              /* relpaths of this layer's directories */
        size_t current;             /* where files are being put now */
        PathList local_pool;
        uint64_t local_seen;
        char whiteout_source[PATH_MAX]; /* links of a shared whiteout, or "" */
} DiffState;

static void diff_state_done(DiffState *s) {
        pathlist_done(&s->dirs);
        pathlist_done(&s->local_pool);
}

static Meta layer_meta(DiffState *s, mode_t mode, uint32_t id) {
        Tree *t = s->d->t;
        uid_t owner = layer_owner(s->layer, id);
        /* Files come from packages built up to two years before the layer. */
        return meta_at(t, mode, owner, owner, s->layer->created - 730 * (time_t) DAY, 730 * DAY);
}

static uint32_t random_owner_id(Tree *t) {
        if (rng_ppm(&t->rng, 30000))
                return other_ids[rng_below(&t->rng, ELEMENTSOF(other_ids))];
        return 0;
}

static int diff_add_dir(DiffState *s, const char *relpath, const Meta *m, const Extras *x) {
        int r = make_dir(s->d->t, relpath, m, x);
        if (r < 0)
                return r;
        r = pathlist_add(&s->dirs, relpath);
        if (r < 0)
                return r;
        s->current = s->dirs.n - 1;
        return 0;
}

/* Like make_dirs(), and the layer may put files into the new ones. */
static int diff_add_dirs(DiffState *s, const char *relpath, const Meta *m) {
        PathList created = {};
        int r = make_dirs(s->d->t, relpath, m, &created);
        for (size_t i = 0; r >= 0 && i < created.n; i++)
                r = pathlist_add(&s->dirs, created.items[i]);
        pathlist_done(&created);
        return r;
}

/* A new directory below one of the layer's directories. */
static int diff_new_dir(DiffState *s) {
        Tree *t = s->d->t;
        char name[64], path[PATH_MAX];
        size_t parent = rng_ppm(&t->rng, 500000) ? s->current : (size_t) rng_below(&t->rng, s->dirs.n);

        for (unsigned attempt = 0; attempt < 8; attempt++) {
                random_name(t, name, sizeof name, false);
                int len = snprintf(path, sizeof path, "%s/%s", s->dirs.items[parent], name);
                if (len < 0 || (size_t) len >= sizeof path - 256)
                        return 0;  /* deep enough: stay */
                Extras x = {};
                if (s->layer->kind != LAYER_BASE && rng_ppm(&t->rng, 20000))
                        x.opaque = true;
                if (rng_ppm(&t->rng, 2000)) {
                        x.acl_access = acl_dir_access;
                        x.acl_default = acl_dir_default;
                }
                uint32_t id = random_owner_id(t);
                Meta m = layer_meta(s, random_dir_mode(t), id);
                int r = diff_add_dir(s, path, &m, &x);
                if (r != -EEXIST)
                        return r;
        }
        return 0;
}

static int diff_add_file(DiffState *s, const char *dir, uint64_t size, const Extras *x_in) {
        Tree *t = s->d->t;
        char name[64], path[PATH_MAX];

        for (;;) {
                random_name(t, name, sizeof name, true);
                format_path(path, sizeof path, "%s/%s", dir, name);
                Extras x = *x_in;
                if (rng_ppm(&t->rng, 5000))
                        x.user_xattrs = true;
                if (rng_ppm(&t->rng, 200))
                        x.capability = true;
                if (rng_ppm(&t->rng, 300))
                        x.acl_access = acl_file_access;
                uint32_t id = random_owner_id(t);
                Meta m = layer_meta(s, random_file_mode(t, dir), id);
                int r = make_file(t, path, size, &m, &x);
                if (r == -EEXIST)
                        continue;
                if (r < 0)
                        return r;
                r = pool_offer(t, &s->local_pool, 64, &s->local_seen, path);
                if (r < 0)
                        return r;
                return pool_offer(t, &s->d->global_pool, 256, &s->d->global_seen, path);
        }
}

static int diff_add_whiteout(DiffState *s, const char *dir) {
        Tree *t = s->d->t;
        char name[64], path[PATH_MAX];

        for (;;) {
                random_name(t, name, sizeof name, true);
                format_path(path, sizeof path, "%s/%s", dir, name);
                int r;
                if (s->whiteout_source[0]) {
                        /* overlayfs links new whiteouts to one it keeps in
                         * work/work, so they share one inode. */
                        r = make_hardlink(t, s->whiteout_source, path);
                        if (r >= 0) {
                                t->count.whiteouts++;
                                t->count.whiteout_links++;
                        }
                } else {
                        Meta m = layer_meta(s, 0, 0);
                        r = make_node(t, path, S_IFCHR, makedev(0, 0), &m);
                }
                if (r != -EEXIST)
                        return r;
        }
}

static int diff_add_symlink(DiffState *s, const char *dir) {
        Tree *t = s->d->t;
        char name[64], path[PATH_MAX], target[PATH_MAX];

        for (;;) {
                random_name(t, name, sizeof name, true);
                format_path(path, sizeof path, "%s/%s", dir, name);
                uint64_t p = rng_below(&t->rng, 3);
                if (p == 0 && s->local_pool.n > 0) {
                        /* absolute, as seen inside the container */
                        const char *in_layer = s->local_pool.items[rng_below(&t->rng, s->local_pool.n)];
                        const char *diff = strstr(in_layer, "/diff/");
                        format_path(target, sizeof target, "/%s", diff ? diff + 6 : in_layer);
                } else if (p == 1) {
                        char other[64];
                        random_name(t, other, sizeof other, true);
                        format_path(target, sizeof target, "../lib/%s", other);
                } else {
                        random_name(t, target, sizeof target, true);
                }
                Meta m = layer_meta(s, 0777, 0);
                int r = make_symlink(t, target, path, &m);
                if (r != -EEXIST)
                        return r;
        }
}

static int diff_add_hardlink(DiffState *s, const char *dir, const PathList *pool) {
        Tree *t = s->d->t;
        char path[PATH_MAX];
        const char *existing = pool->items[rng_below(&t->rng, pool->n)];
        const char *base = strrchr(existing, '/');

        base = base ? base + 1 : existing;
        for (unsigned n = 0;; n++) {
                if (n == 0)
                        format_path(path, sizeof path, "%s/%s", dir, base);
                else
                        format_path(path, sizeof path, "%s/%s.%u", dir, base, n);
                int r = make_hardlink(t, existing, path);
                if (r >= 0)
                        t->count.hardlinks++;
                if (r != -EEXIST)
                        return r;
        }
}

static const char *const distro_dirs[] = {
        "bin", "boot", "dev", "etc", "etc/apt", "etc/default", "etc/ssl/certs", "home", "lib", "media", "mnt",
        "opt", "proc", "root", "run", "sbin", "srv", "sys", "tmp", "usr", "usr/bin", "usr/sbin", "usr/lib",
        "usr/lib/x86_64-linux-gnu", "usr/include", "usr/local", "usr/share", "usr/share/doc",
        "usr/share/locale", "usr/share/zoneinfo", "usr/share/man/man1", "var", "var/cache", "var/lib",
        "var/lib/dpkg/info", "var/log", "var/mail", "var/tmp",
};

static const char *const later_dirs[] = {
        "usr/local/lib/python3.11/site-packages", "app", "app/node_modules", "opt/app/lib", "var/lib/apt/lists",
        "etc/nginx/conf.d", "usr/share/java", "srv/www/static", "usr/local/bin", "root/.cache/pip",
};

/* What makes a layer a distribution: fixed paths with the metadata that
 * matters to a copy (setuid, sticky, capabilities, a hardlink farm). */
static int populate_base_skeleton(DiffState *s, uint64_t *budget) {
        Tree *t = s->d->t;
        const char *diff = s->dirs.items[0];
        char path[PATH_MAX];
        int r;

        for (size_t i = 0; i < ELEMENTSOF(distro_dirs); i++) {
                mode_t mode = streq(distro_dirs[i], "tmp") || streq(distro_dirs[i], "var/tmp") ? 01777 :
                              streq(distro_dirs[i], "root") ? 0700 :
                              streq(distro_dirs[i], "var/mail") ? 02775 : 0755;
                gid_t gid = streq(distro_dirs[i], "var/mail") ? 8 : 0;
                Meta m = layer_meta(s, mode, 0);
                m.gid = layer_owner(s->layer, gid);
                format_path(path, sizeof path, "%s/%s", diff, distro_dirs[i]);
                if (streq(distro_dirs[i], "bin") || streq(distro_dirs[i], "sbin") || streq(distro_dirs[i], "lib")) {
                        char target[32];
                        format_path(target, sizeof target, "usr/%s", distro_dirs[i]);
                        r = make_symlink(t, target, path, &m);
                        if (r < 0)
                                return r;
                        continue;
                }
                /* Mount points at run time: nothing is ever put there. */
                if (streq(distro_dirs[i], "proc") || streq(distro_dirs[i], "sys") || streq(distro_dirs[i], "dev"))
                        r = make_dir(t, path, &m, &no_extras);
                else
                        r = diff_add_dirs(s, path, &m);
                if (r < 0)
                        return r;
        }

        /* journald's directory carries ACLs on real systems. */
        format_path(path, sizeof path, "%s/var/log/journal", diff);
        Meta m = layer_meta(s, 02755, 0);
        Extras acl = { .acl_access = acl_dir_access, .acl_default = acl_dir_default };
        r = diff_add_dir(s, path, &m, &acl);
        if (r < 0)
                return r;
        /* Below a default ACL, entries inherit it, unless they were moved
         * in (mv keeps their own) or had it removed: a copy must not let
         * the default ACL of its new parent win over what the original
         * has. */
        char journal_file[PATH_MAX];
        format_path(journal_file, sizeof journal_file, "%s/var/log/journal/moved-in.log", diff);
        m = layer_meta(s, 0640, 0);
        Extras no_acls = { .no_acls = true };
        r = make_file(t, journal_file, 4 * KiB, &m, &no_acls);
        if (r < 0)
                return r;
        format_path(journal_file, sizeof journal_file, "%s/var/log/journal/no-default-acl", diff);
        m = layer_meta(s, 0755, 0);
        r = make_dir(t, journal_file, &m, &no_acls);
        if (r < 0)
                return r;
        *budget -= MIN(*budget, (uint64_t) 1);

        struct {
                const char *name;
                mode_t mode;
                gid_t gid;
                bool capability;
        } special[] = {
                { "usr/bin/ping", 0755, 0, true },
                { "usr/bin/passwd", 04755, 0, false },
                { "usr/bin/su", 04755, 0, false },
                { "usr/bin/chage", 02755, 42, false },
                { "usr/bin/newuidmap", 04755, 0, true },
        };
        for (size_t i = 0; i < ELEMENTSOF(special); i++) {
                format_path(path, sizeof path, "%s/%s", diff, special[i].name);
                m = layer_meta(s, special[i].mode, 0);
                m.gid = layer_owner(s->layer, special[i].gid);
                Extras x = { .capability = special[i].capability };
                r = make_file(t, path, rng_log_uniform(&t->rng, 16 * KiB, 128 * KiB), &m, &x);
                if (r < 0)
                        return r;
                *budget -= MIN(*budget, (uint64_t) 1);
        }

        /* git installs one binary under a hundred names. */
        format_path(path, sizeof path, "%s/usr/lib/git-core", diff);
        m = layer_meta(s, 0755, 0);
        r = diff_add_dir(s, path, &m, &no_extras);
        if (r < 0)
                return r;
        char git[PATH_MAX];
        format_path(git, sizeof git, "%s/usr/lib/git-core/git", diff);
        m = layer_meta(s, 0755, 0);
        r = make_file(t, git, rng_log_uniform(&t->rng, MiB, 4 * MiB), &m, &no_extras);
        if (r < 0)
                return r;
        uint64_t links = MIN(MAX(s->layer->entries / 200, (uint64_t) 4), (uint64_t) 150);
        for (uint64_t i = 0; i < links && *budget > 0; i++) {
                format_path(path, sizeof path, "%s/usr/lib/git-core/git-%s%" PRIu64, diff,
                         syllables[rng_below(&t->rng, ELEMENTSOF(syllables))], i);
                r = make_hardlink(t, git, path);
                if (r < 0)
                        return r;
                t->count.hardlinks++;
                (*budget)--;
        }

        /* Names tools get wrong: whitespace, control characters, bytes that
         * are not UTF-8, a leading dash, glob characters, 255 bytes. */
        format_path(path, sizeof path, "%s/usr/share/odd names", diff);
        m = layer_meta(s, 0755, 0);
        r = diff_add_dir(s, path, &m, &no_extras);
        if (r < 0)
                return r;
        char long_name[256];
        memset(long_name, 'n', 255);
        long_name[255] = '\0';
        const char *odd[] = {
                "with space", "tab\there", "new\nline", "back\\slash", "-leading-dash", "\xff\xfe-not-utf8-\xe9",
                "\xc3\xbcnic\xc3\xb6" "de-\xe5\x90\x8d", "*?[glob]", ".hidden", "trailing space ", long_name,
        };
        for (size_t i = 0; i < ELEMENTSOF(odd); i++) {
                format_path(path, sizeof path, "%s/usr/share/odd names/%s", diff, odd[i]);
                m = layer_meta(s, 0644, 0);
                r = make_file(t, path, rng_below(&t->rng, 4 * KiB), &m, &no_extras);
                if (r < 0)
                        return r;
                *budget -= MIN(*budget, (uint64_t) 1);
        }
        return 0;
}

static int populate_later_skeleton(DiffState *s, uint64_t *budget) {
        Tree *t = s->d->t;
        const char *diff = s->dirs.items[0];
        char path[PATH_MAX];
        int r;

        unsigned n = (unsigned) rng_range(&t->rng, 1, 3);
        for (unsigned i = 0; i < n; i++) {
                const char *sub = later_dirs[rng_below(&t->rng, ELEMENTSOF(later_dirs))];
                format_path(path, sizeof path, "%s/%s", diff, sub);
                Meta m = layer_meta(s, 0755, 0);
                r = diff_add_dirs(s, path, &m);
                if (r < 0)
                        return r;
        }

        /* "RUN rm -rf x && mkdir x" leaves an opaque directory, "RUN rm"
         * a whiteout: every layer above a base has both. */
        char name[64];
        format_path(path, sizeof path, "%s/etc", diff);
        Meta m = layer_meta(s, 0755, 0);
        r = make_dirs(t, path, &m, NULL);
        if (r < 0)
                return r;
        for (;;) {
                random_name(t, name, sizeof name, false);
                format_path(path, sizeof path, "%s/etc/%s.d", diff, name);
                m = layer_meta(s, 0755, 0);
                Extras opaque = { .opaque = true };
                r = diff_add_dir(s, path, &m, &opaque);
                if (r != -EEXIST)
                        break;
        }
        if (r < 0)
                return r;
        r = diff_add_whiteout(s, path);
        if (r < 0)
                return r;
        *budget -= MIN(*budget, (uint64_t) 1);
        return 0;
}

/* Extra setup of a container's layers: what the runtime leaves behind. */
static int populate_container_skeleton(DiffState *s, const char *layer_dir, uint64_t *budget) {
        Tree *t = s->d->t;
        const char *diff = s->dirs.items[0];
        char path[PATH_MAX];
        int r;

        /* The whiteout overlayfs keeps in its work directory, linked by
         * every whiteout it makes: they all share one inode. */
        format_path(path, sizeof path, "%s/work/work", layer_dir);
        Meta m = layer_meta(s, 0, 0);
        r = make_dir(t, path, &m, &no_extras);
        if (r < 0)
                return r;
        format_path(s->whiteout_source, sizeof s->whiteout_source, "%s/work/work/#%x", layer_dir,
                 (unsigned) rng_range(&t->rng, 0x10, 0xfff));
        m = layer_meta(s, 0, 0);
        r = make_node(t, s->whiteout_source, S_IFCHR, makedev(0, 0), &m);
        if (r < 0)
                return r;

        static const char *const dirs[] = { "etc", "tmp", "run", "var/lib/app", "root" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                format_path(path, sizeof path, "%s/%s", diff, dirs[i]);
                m = layer_meta(s, streq(dirs[i], "tmp") ? 01777 : streq(dirs[i], "root") ? 0700 : 0755, 0);
                r = diff_add_dirs(s, path, &m);
                if (r < 0)
                        return r;
        }

        /* A directory removed and made again while the container ran. */
        format_path(path, sizeof path, "%s/var/lib/app/cache", diff);
        m = layer_meta(s, 0755, 0);
        Extras opaque = { .opaque = true };
        r = diff_add_dir(s, path, &m, &opaque);
        if (r < 0)
                return r;

        struct {
                const char *name;
                mode_t type;
                mode_t mode;
        } nodes[] = {
                { "run/initctl", S_IFIFO, 0600 },
                { "run/app.sock", S_IFSOCK, 0755 },
                { "tmp/.X11-unix-fifo", S_IFIFO, 0666 },
        };
        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                format_path(path, sizeof path, "%s/%s", diff, nodes[i].name);
                m = layer_meta(s, nodes[i].mode, 0);
                r = make_node(t, path, nodes[i].type, 0, &m);
                if (r < 0)
                        return r;
                *budget -= MIN(*budget, (uint64_t) 1);
        }
        return 0;
}

static int populate_init_layer(DiffState *s, const char *layer_dir) {
        Tree *t = s->d->t;
        const char *diff = s->dirs.items[0];
        char path[PATH_MAX];
        int r;

        format_path(path, sizeof path, "%s/work/work", layer_dir);
        Meta m = layer_meta(s, 0, 0);
        r = make_dir(t, path, &m, &no_extras);
        if (r < 0)
                return r;

        static const char *const dirs[] = { "dev", "dev/pts", "dev/shm", "etc" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                format_path(path, sizeof path, "%s/%s", diff, dirs[i]);
                m = layer_meta(s, 0755, 0);
                r = make_dir(t, path, &m, &no_extras);
                if (r < 0)
                        return r;
        }
        /* Docker creates these empty, as mount points for bind mounts. */
        static const char *const files[] = { ".dockerenv", "dev/console", "etc/hostname", "etc/hosts",
                                             "etc/resolv.conf" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                format_path(path, sizeof path, "%s/%s", diff, files[i]);
                m = layer_meta(s, 0755, 0);
                r = make_file(t, path, 0, &m, &no_extras);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int populate_diff(DiffState *s, uint64_t budget) {
        Tree *t = s->d->t;
        LayerKind kind = s->layer->kind;
        uint32_t whiteout_ppm = kind == LAYER_CONTAINER ? 20000 : kind == LAYER_IMAGE ? 3000 : 0;
        int r;

        while (budget > 0) {
                if (rng_ppm(&t->rng, 80000)) {
                        r = diff_new_dir(s);
                        if (r < 0)
                                return r;
                }
                size_t dir_index = rng_ppm(&t->rng, 700000) ? s->current : (size_t) rng_below(&t->rng, s->dirs.n);
                const char *dir = s->dirs.items[dir_index];
                uint64_t p = rng_below(&t->rng, 1000000);

                if (p < whiteout_ppm)
                        r = diff_add_whiteout(s, dir);
                else if (p < whiteout_ppm + 30000)
                        r = diff_add_symlink(s, dir);
                else if (p < whiteout_ppm + 40000 && s->local_pool.n > 0)
                        r = diff_add_hardlink(s, dir, &s->local_pool);
                else if (p < whiteout_ppm + 40500 && kind != LAYER_BASE && s->d->global_pool.n > 0)
                        r = diff_add_hardlink(s, dir, &s->d->global_pool);
                else
                        r = diff_add_file(s, dir, image_file_size(t), &no_extras);
                if (r < 0)
                        return r;
                budget--;
        }
        return 0;
}

/* A file with exactly these bytes. */
static int make_file_with(Tree *t, const char *relpath, const char *content, const Meta *m) {
        _cleanup_close_ int fd = openat(t->root_fd, relpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                                        0600);
        if (fd < 0)
                return log_error_errno(negative_errno(), "Failed to create file", relpath);
        size_t len = strlen(content);
        int r = write_all(fd, content, len);
        if (r < 0)
                return log_error_errno(r, "Failed to write", relpath);
        r = apply_meta(t, fd, false, m, &no_extras);
        if (r < 0)
                return log_error_errno(r, "Failed to set metadata of", relpath);
        struct timespec times[2] = { m->mtime, m->mtime };
        if (futimens(fd, times) < 0)
                return log_error_errno(negative_errno(), "Failed to set times of", relpath);
        t->count.files++;
        t->count.apparent_bytes += len;
        t->count.written_bytes += len;
        return 0;
}

static int make_layer(Docker *d, size_t index) {
        Tree *t = d->t;
        Layer *layer = &d->layers[index];
        char layer_dir[PATH_MAX], path[PATH_MAX];
        int r;

        format_path(layer_dir, sizeof layer_dir, "overlay2/%s", layer->id);
        Meta m = meta_at(t, 0710, 0, 0, layer->created, 60);
        r = make_dir(t, layer_dir, &m, &no_extras);
        if (r < 0)
                return r;

        format_path(path, sizeof path, "%s/link", layer_dir);
        m = meta_at(t, 0644, 0, 0, layer->created, 60);
        r = make_file_with(t, path, layer->short_id, &m);
        if (r < 0)
                return r;

        if (layer->parent >= 0) {
                /* The lower layers, nearest first, by their short names. */
                _cleanup_free_ char *lower = NULL;
                size_t len = 0;
                for (int p = layer->parent; p >= 0; p = d->layers[p].parent) {
                        char *grown = realloc(lower, len + 32);
                        if (!grown)
                                return -ENOMEM;
                        lower = grown;
                        len += (size_t) sprintf(lower + len, "%sl/%s", len > 0 ? ":" : "", d->layers[p].short_id);
                }
                format_path(path, sizeof path, "%s/lower", layer_dir);
                r = make_file_with(t, path, lower, &m);
                if (r < 0)
                        return r;
                format_path(path, sizeof path, "%s/work", layer_dir);
                m = meta_at(t, 0700, 0, 0, layer->created, 60);
                r = make_dir(t, path, &m, &no_extras);
                if (r < 0)
                        return r;
        }
        if (layer->kind == LAYER_BASE || layer->kind == LAYER_IMAGE) {
                format_path(path, sizeof path, "%s/committed", layer_dir);
                m = meta_at(t, 0600, 0, 0, layer->created, 60);
                r = make_file(t, path, 0, &m, &no_extras);
                if (r < 0)
                        return r;
        }

        char target[PATH_MAX];
        format_path(path, sizeof path, "overlay2/l/%s", layer->short_id);
        format_path(target, sizeof target, "../%s/diff", layer->id);
        m = meta_at(t, 0777, 0, 0, layer->created, 60);
        r = make_symlink(t, target, path, &m);
        if (r < 0)
                return r;

        _cleanup_(diff_state_done) DiffState s = { .d = d, .layer = layer };
        format_path(path, sizeof path, "%s/diff", layer_dir);
        uid_t owner = layer_owner(layer, 0);
        m = meta_at(t, 0755, owner, owner, layer->created, 60);
        r = diff_add_dir(&s, path, &m, &no_extras);
        if (r < 0)
                return r;

        uint64_t budget = layer->entries;
        switch (layer->kind) {
        case LAYER_BASE:
                r = populate_base_skeleton(&s, &budget);
                break;
        case LAYER_IMAGE:
                r = populate_later_skeleton(&s, &budget);
                break;
        case LAYER_CONTAINER:
                r = populate_container_skeleton(&s, layer_dir, &budget);
                break;
        case LAYER_INIT:
                return populate_init_layer(&s, layer_dir);
        }
        if (r < 0)
                return r;
        return populate_diff(&s, budget);
}

static void random_digest(Tree *t, char *buf, size_t size) {
        char hex[65];
        random_hex(t, hex, 64);
        format_path(buf, size, "sha256:%s", hex);
}

/* image/overlay2: what maps images and layers to overlay2 directories. */
static int make_image_db(Docker *d, const size_t *containers, size_t n_containers) {
        Tree *t = d->t;
        char path[PATH_MAX], text[512];
        int r;

        static const char *const dirs[] = {
                "image", "image/overlay2", "image/overlay2/distribution",
                "image/overlay2/distribution/diffid-by-digest", "image/overlay2/distribution/diffid-by-digest/sha256",
                "image/overlay2/distribution/v2metadata-by-diffid",
                "image/overlay2/distribution/v2metadata-by-diffid/sha256", "image/overlay2/imagedb",
                "image/overlay2/imagedb/content", "image/overlay2/imagedb/content/sha256",
                "image/overlay2/imagedb/metadata", "image/overlay2/imagedb/metadata/sha256",
                "image/overlay2/layerdb", "image/overlay2/layerdb/mounts", "image/overlay2/layerdb/sha256",
                "image/overlay2/layerdb/tmp",
        };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                Meta m = meta_at(t, 0700, 0, 0, EPOCH_BASE, 365 * DAY);
                r = make_dir(t, dirs[i], &m, &no_extras);
                if (r < 0)
                        return r;
        }

        size_t n_images = 0;
        for (size_t i = 0; i < d->n_image_layers; i++) {
                Layer *layer = &d->layers[i];
                Meta m = meta_at(t, 0700, 0, 0, layer->created, 60);
                format_path(path, sizeof path, "image/overlay2/layerdb/sha256/%s", layer->chain_id);
                r = make_dir(t, path, &m, &no_extras);
                if (r < 0)
                        return r;

                m = meta_at(t, 0644, 0, 0, layer->created, 60);
                format_path(path, sizeof path, "image/overlay2/layerdb/sha256/%s/cache-id", layer->chain_id);
                r = make_file_with(t, path, layer->id, &m);
                if (r < 0)
                        return r;
                format_path(path, sizeof path, "image/overlay2/layerdb/sha256/%s/diff", layer->chain_id);
                random_digest(t, text, sizeof text);
                r = make_file_with(t, path, text, &m);
                if (r < 0)
                        return r;
                format_path(path, sizeof path, "image/overlay2/layerdb/sha256/%s/size", layer->chain_id);
                format_path(text, sizeof text, "%" PRIu64, layer->entries * 9000);
                r = make_file_with(t, path, text, &m);
                if (r < 0)
                        return r;
                if (layer->parent >= 0) {
                        format_path(path, sizeof path, "image/overlay2/layerdb/sha256/%s/parent", layer->chain_id);
                        format_path(text, sizeof text, "sha256:%s", d->layers[layer->parent].chain_id);
                        r = make_file_with(t, path, text, &m);
                        if (r < 0)
                                return r;
                }
                format_path(path, sizeof path, "image/overlay2/layerdb/sha256/%s/tar-split.json.gz", layer->chain_id);
                r = make_file(t, path, layer->entries * 60 + 200, &m, &no_extras);
                if (r < 0)
                        return r;

                char digest[80];
                random_digest(t, digest, sizeof digest);
                format_path(path, sizeof path, "image/overlay2/distribution/diffid-by-digest/sha256/%s", digest + 7);
                random_digest(t, text, sizeof text);
                r = make_file_with(t, path, text, &m);
                if (r < 0)
                        return r;

                if (layer->has_child)
                        continue;
                /* The top of a chain is an image. */
                n_images++;
                char image_id[65];
                random_hex(t, image_id, 64);
                format_path(path, sizeof path, "image/overlay2/imagedb/content/sha256/%s", image_id);
                m = meta_at(t, 0600, 0, 0, layer->created, 60);
                Extras text_content = { .text = true };
                r = make_file(t, path, rng_range(&t->rng, 2 * KiB, 16 * KiB), &m, &text_content);
                if (r < 0)
                        return r;
                format_path(path, sizeof path, "image/overlay2/imagedb/metadata/sha256/%s", image_id);
                m = meta_at(t, 0700, 0, 0, layer->created, 60);
                r = make_dir(t, path, &m, &no_extras);
                if (r < 0)
                        return r;
                format_path(path, sizeof path, "image/overlay2/imagedb/metadata/sha256/%s/lastUpdated", image_id);
                m = meta_at(t, 0600, 0, 0, layer->created, 60);
                r = make_file_with(t, path, "2024-01-15T10:11:12.123456789Z", &m);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < n_containers; i++) {
                const Layer *upper = &d->layers[containers[i]];
                const Layer *init = &d->layers[upper->parent];
                char mount[65];
                random_hex(t, mount, 64);
                format_path(path, sizeof path, "image/overlay2/layerdb/mounts/%s", mount);
                Meta m = meta_at(t, 0700, 0, 0, upper->created, 60);
                r = make_dir(t, path, &m, &no_extras);
                if (r < 0)
                        return r;
                m = meta_at(t, 0644, 0, 0, upper->created, 60);
                format_path(path, sizeof path, "image/overlay2/layerdb/mounts/%s/init-id", mount);
                r = make_file_with(t, path, init->id, &m);
                if (r < 0)
                        return r;
                format_path(path, sizeof path, "image/overlay2/layerdb/mounts/%s/mount-id", mount);
                r = make_file_with(t, path, upper->id, &m);
                if (r < 0)
                        return r;
                format_path(path, sizeof path, "image/overlay2/layerdb/mounts/%s/parent", mount);
                format_path(text, sizeof text, "sha256:%s", d->layers[init->parent].chain_id);
                r = make_file_with(t, path, text, &m);
                if (r < 0)
                        return r;
        }

        Meta m = meta_at(t, 0600, 0, 0, EPOCH_BASE + 400 * (time_t) DAY, DAY);
        Extras text_content = { .text = true };
        return make_file(t, "image/overlay2/repositories.json", 64 + n_images * 300, &m, &text_content);
}

static int make_container_dirs(Docker *d, size_t n_containers, uint64_t log_bytes) {
        Tree *t = d->t;
        char path[PATH_MAX], cid[65];
        int r;

        Meta m = meta_at(t, 0710, 0, 0, EPOCH_BASE + 400 * (time_t) DAY, DAY);
        r = make_dir(t, "containers", &m, &no_extras);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n_containers; i++) {
                random_hex(t, cid, 64);
                time_t created = EPOCH_BASE + 300 * (time_t) DAY + (time_t) rng_below(&t->rng, 100 * DAY);
                format_path(path, sizeof path, "containers/%s", cid);
                m = meta_at(t, 0710, 0, 0, created, 60);
                r = make_dir(t, path, &m, &no_extras);
                if (r < 0)
                        return r;

                Extras text_content = { .text = true };
                /* Logs vary a lot: a chatty service, a quiet job. */
                uint64_t share = log_bytes / n_containers;
                uint64_t size = rng_log_uniform(&t->rng, MAX(share / 16, (uint64_t) 1), share * 3 / 2 + 1);
                format_path(path, sizeof path, "containers/%s/%s-json.log", cid, cid);
                m = meta_at(t, 0640, 0, 0, created + 30 * (time_t) DAY, DAY);
                r = make_file(t, path, size, &m, &text_content);
                if (r < 0)
                        return r;
                if (i == 0) {
                        format_path(path, sizeof path, "containers/%s/%s-json.log.1", cid, cid);
                        m = meta_at(t, 0640, 0, 0, created + 20 * (time_t) DAY, DAY);
                        r = make_file(t, path, share, &m, &text_content);
                        if (r < 0)
                                return r;
                }
                struct {
                        const char *name;
                        uint64_t size;
                        mode_t mode;
                } files[] = {
                        { "config.v2.json", rng_range(&t->rng, 3 * KiB, 9 * KiB), 0600 },
                        { "hostconfig.json", rng_range(&t->rng, 1300, 2000), 0600 },
                        { "hostname", 13, 0644 },
                        { "hosts", 174, 0644 },
                        { "resolv.conf", rng_range(&t->rng, 60, 300), 0644 },
                        { "resolv.conf.hash", 71, 0644 },
                };
                for (size_t j = 0; j < ELEMENTSOF(files); j++) {
                        format_path(path, sizeof path, "containers/%s/%s", cid, files[j].name);
                        m = meta_at(t, files[j].mode, 0, 0, created, 600);
                        r = make_file(t, path, files[j].size, &m, &text_content);
                        if (r < 0)
                                return r;
                }
                static const char *const subdirs[] = { "mounts", "checkpoints" };
                for (size_t j = 0; j < ELEMENTSOF(subdirs); j++) {
                        format_path(path, sizeof path, "containers/%s/%s", cid, subdirs[j]);
                        m = meta_at(t, 0700, 0, 0, created, 600);
                        r = make_dir(t, path, &m, &no_extras);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Relation files are 8 KiB pages; the biggest stop at 1 GiB segments. */
static uint64_t relation_size(Tree *t, uint64_t *budget) {
        uint64_t p = rng_below(&t->rng, 1000), size;

        if (p < 300)
                size = 0;
        else if (p < 750)
                size = 8 * KiB;
        else if (p < 990)
                size = 8 * KiB * rng_log_uniform(&t->rng, 2, 64);
        else
                size = rng_log_uniform(&t->rng, MiB, GiB) / (8 * KiB) * (8 * KiB);
        if (size > *budget)
                size = MIN(*budget, 8 * KiB);
        *budget -= size;
        return size;
}

static int make_pgdata(Docker *d, const char *data, uint64_t n_entries, uint64_t bytes) {
        Tree *t = d->t;
        char path[PATH_MAX];
        const uid_t postgres = 999;
        const time_t initdb = EPOCH_BASE + 200 * (time_t) DAY;
        int r;

        static const char *const dirs[] = {
                "base", "global", "pg_commit_ts", "pg_dynshmem", "pg_logical", "pg_logical/mappings",
                "pg_logical/snapshots", "pg_multixact", "pg_multixact/members", "pg_multixact/offsets",
                "pg_notify", "pg_replslot", "pg_serial", "pg_snapshots", "pg_stat", "pg_stat_tmp", "pg_subtrans",
                "pg_tblspc", "pg_twophase", "pg_wal", "pg_wal/archive_status", "pg_xact",
        };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                format_path(path, sizeof path, "%s/%s", data, dirs[i]);
                Meta m = meta_at(t, 0700, postgres, postgres, initdb, 200 * DAY);
                r = make_dir(t, path, &m, &no_extras);
                if (r < 0)
                        return r;
        }

        Extras text_content = { .text = true };
        struct {
                const char *name;
                uint64_t size;
                bool text;
        } fixed[] = {
                { "postgresql.conf", 29 * KiB + 700, true },
                { "postgresql.auto.conf", 88, true },
                { "pg_hba.conf", 4 * KiB + 800, true },
                { "pg_ident.conf", 1636, true },
                { "postmaster.opts", 36, true },
                { "global/pg_control", 8 * KiB, false },
                { "global/pg_filenode.map", 512, false },
                { "pg_xact/0000", 8 * KiB * rng_range(&t->rng, 1, 32), false },
                { "pg_multixact/members/0000", 8 * KiB, false },
                { "pg_multixact/offsets/0000", 8 * KiB, false },
                { "pg_subtrans/0000", 8 * KiB * rng_range(&t->rng, 1, 8), false },
                { "pg_logical/replorigin_checkpoint", 8, false },
        };
        format_path(path, sizeof path, "%s/PG_VERSION", data);
        Meta m = meta_at(t, 0600, postgres, postgres, initdb, 60);
        r = make_file_with(t, path, "15\n", &m);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++) {
                format_path(path, sizeof path, "%s/%s", data, fixed[i].name);
                m = meta_at(t, 0600, postgres, postgres, initdb, 300 * DAY);
                r = make_file(t, path, fixed[i].size, &m, fixed[i].text ? &text_content : &no_extras);
                if (r < 0)
                        return r;
        }

        /* WAL segments are 16 MiB each, always fully written. */
        uint64_t wal_segments = MAX(bytes / 4 / (16 * MiB), (uint64_t) 1);
        for (uint64_t i = 0; i < wal_segments; i++) {
                format_path(path, sizeof path, "%s/pg_wal/0000000100000000000000%02" PRIX64, data, i + 1);
                m = meta_at(t, 0600, postgres, postgres, initdb + 300 * (time_t) DAY, 10 * DAY);
                r = make_file(t, path, 16 * MiB, &m, &no_extras);
                if (r < 0)
                        return r;
        }
        uint64_t budget = bytes - MIN(bytes, wal_segments * 16 * MiB);

        unsigned n_databases = 3 + (unsigned) (n_entries / 4000);
        static const unsigned fixed_oids[] = { 1, 4, 5 };
        for (unsigned i = 0; i < n_databases; i++) {
                unsigned oid = i < ELEMENTSOF(fixed_oids) ? fixed_oids[i] : 16384 + i;
                format_path(path, sizeof path, "%s/base/%u", data, oid);
                m = meta_at(t, 0700, postgres, postgres, initdb, 300 * DAY);
                r = make_dir(t, path, &m, &no_extras);
                if (r < 0)
                        return r;
        }

        unsigned relfilenode = 16385;
        for (uint64_t i = 0; i < n_entries;) {
                unsigned oid = (unsigned) rng_below(&t->rng, n_databases);
                oid = oid < ELEMENTSOF(fixed_oids) ? fixed_oids[oid] : 16384 + oid;
                uint64_t size = relation_size(t, &budget);
                relfilenode += (unsigned) rng_range(&t->rng, 1, 5);
                format_path(path, sizeof path, "%s/base/%u/%u", data, oid, relfilenode);
                m = meta_at(t, 0600, postgres, postgres, initdb, 300 * DAY);
                r = make_file(t, path, size, &m, &no_extras);
                if (r < 0)
                        return r;
                i++;
                /* Tables (not indexes) grow a free space map and a
                 * visibility map once they hold data. */
                if (size >= 16 * KiB && rng_ppm(&t->rng, 400000)) {
                        format_path(path, sizeof path, "%s/base/%u/%u_fsm", data, oid, relfilenode);
                        r = make_file(t, path, 24 * KiB, &m, &no_extras);
                        if (r < 0)
                                return r;
                        format_path(path, sizeof path, "%s/base/%u/%u_vm", data, oid, relfilenode);
                        r = make_file(t, path, 8 * KiB, &m, &no_extras);
                        if (r < 0)
                                return r;
                        i += 2;
                }
        }
        return 0;
}

static int make_volumes(Docker *d, uint64_t n_entries, uint64_t bytes) {
        Tree *t = d->t;
        char path[PATH_MAX], name[65];
        const time_t created = EPOCH_BASE + 200 * (time_t) DAY;
        int r;

        Meta m = meta_at(t, 0701, 0, 0, created, DAY);
        r = make_dir(t, "volumes", &m, &no_extras);
        if (r < 0)
                return r;
        /* Docker's quota support leaves a block device node here. */
        m = meta_at(t, 0600, 0, 0, created, DAY);
        r = make_node(t, "volumes/backingFsBlockDev", S_IFBLK, makedev(254, 0), &m);
        if (r < 0)
                return r;
        m = meta_at(t, 0600, 0, 0, created + 300 * (time_t) DAY, DAY);
        r = make_file(t, "volumes/metadata.db", 32 * KiB, &m, &no_extras);
        if (r < 0)
                return r;

        static const char *const named[] = { "pgdata", "vmdisk", "backup" };
        for (size_t i = 0; i < ELEMENTSOF(named); i++) {
                format_path(path, sizeof path, "volumes/%s", named[i]);
                m = meta_at(t, 0701, 0, 0, created, DAY);
                r = make_dir(t, path, &m, &no_extras);
                if (r < 0)
                        return r;
                bool pg = streq(named[i], "pgdata");
                format_path(path, sizeof path, "volumes/%s/_data", named[i]);
                m = meta_at(t, pg ? 0700 : 0755, pg ? 999 : 0, pg ? 999 : 0, created, DAY);
                r = make_dir(t, path, &m, &no_extras);
                if (r < 0)
                        return r;
        }
        r = make_pgdata(d, "volumes/pgdata/_data", n_entries, bytes * 3 / 4);
        if (r < 0)
                return r;

        /* Sparse: a VM disk with a few written regions, a preallocated
         * image that is one hole, a file whose data is only at its end. */
        uint64_t apparent = cap_size(t, MIN(MAX(n_entries * 100 * KiB, 64 * MiB), GiB));
        Extent disk[] = {
                { 0, MIN(MiB, apparent) },
                { apparent / 3, MIN(256 * KiB, apparent - apparent / 3) },
                { apparent / 2, MIN(4 * MiB, apparent - apparent / 2) },
                { apparent - MIN(64 * KiB, apparent), MIN(64 * KiB, apparent) },
        };
        m = meta_at(t, 0644, 0, 0, created + 100 * (time_t) DAY, DAY);
        r = make_sparse_file(t, "volumes/vmdisk/_data/disk.raw", apparent, disk, ELEMENTSOF(disk), &m);
        if (r < 0)
                return r;
        m = meta_at(t, 0644, 0, 0, created + 100 * (time_t) DAY, DAY);
        r = make_sparse_file(t, "volumes/vmdisk/_data/preallocated.img", apparent / 4, NULL, 0, &m);
        if (r < 0)
                return r;
        Extent tail[] = { { apparent / 8 - MIN(MiB, apparent / 8), MIN(MiB, apparent / 8) } };
        m = meta_at(t, 0644, 0, 0, created + 100 * (time_t) DAY, DAY);
        r = make_sparse_file(t, "volumes/vmdisk/_data/tail-only.bin", apparent / 8, tail, ELEMENTSOF(tail), &m);
        if (r < 0)
                return r;

        /* The big plain files of a backup volume. */
        m = meta_at(t, 0640, 0, 0, created + 300 * (time_t) DAY, DAY);
        r = make_file(t, "volumes/backup/_data/pgdump.sql.gz", bytes / 8, &m, &no_extras);
        if (r < 0)
                return r;
        m = meta_at(t, 0640, 0, 0, created + 300 * (time_t) DAY, DAY);
        r = make_file(t, "volumes/backup/_data/base.tar", bytes / 8, &m, &no_extras);
        if (r < 0)
                return r;

        /* Anonymous volumes of a service run under userns-remap. */
        unsigned n_anonymous = 2 + (unsigned) (n_entries / 2000);
        for (unsigned i = 0; i < n_anonymous; i++) {
                random_hex(t, name, 64);
                format_path(path, sizeof path, "volumes/%s", name);
                m = meta_at(t, 0701, 0, 0, created, 100 * DAY);
                r = make_dir(t, path, &m, &no_extras);
                if (r < 0)
                        return r;
                format_path(path, sizeof path, "volumes/%s/_data", name);
                m = meta_at(t, 0755, 100999, 100999, created, 100 * DAY);
                r = make_dir(t, path, &m, &no_extras);
                if (r < 0)
                        return r;
                unsigned n_files = (unsigned) rng_range(&t->rng, 1, 8);
                for (unsigned j = 0; j < n_files; j++) {
                        char file[PATH_MAX];
                        format_path(file, sizeof file, "%s/appendonly-%u.aof", path, j);
                        m = meta_at(t, 0644, 100999, 100999, created, 100 * DAY);
                        r = make_file(t, file, rng_log_uniform(&t->rng, 1, 256 * KiB), &m, &no_extras);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* The rest of a data-root: buildkit's databases, network and plugin
 * state, empty directories Docker creates at start. */
static int make_misc(Docker *d) {
        Tree *t = d->t;
        const time_t started = EPOCH_BASE + 400 * (time_t) DAY;
        int r;

        static const struct {
                const char *path;
                mode_t mode;
        } dirs[] = {
                { "buildkit", 0711 }, { "buildkit/content", 0700 }, { "buildkit/content/ingest", 0700 },
                { "buildkit/executor", 0711 }, { "network", 0750 }, { "network/files", 0750 },
                { "plugins", 0700 }, { "plugins/storage", 0700 }, { "plugins/storage/ingest", 0700 },
                { "plugins/tmp", 0700 }, { "runtimes", 0700 }, { "swarm", 0700 }, { "tmp", 0700 },
        };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                Meta m = meta_at(t, dirs[i].mode, 0, 0, started, DAY);
                r = make_dir(t, dirs[i].path, &m, &no_extras);
                if (r < 0)
                        return r;
        }
        static const char *const dbs[] = {
                "buildkit/cache.db", "buildkit/containerdmeta.db", "buildkit/history.db",
                "buildkit/metadata_v2.db", "buildkit/snapshots.db", "network/files/local-kv.db",
        };
        for (size_t i = 0; i < ELEMENTSOF(dbs); i++) {
                Meta m = meta_at(t, 0644, 0, 0, started, DAY);
                r = make_file(t, dbs[i], 16 * KiB * rng_range(&t->rng, 1, 16), &m, &no_extras);
                if (r < 0)
                        return r;
        }
        char uuid[40], hex[33];
        random_hex(t, hex, 32);
        format_path(uuid, sizeof uuid, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
        Meta m = meta_at(t, 0600, 0, 0, EPOCH_BASE, DAY);
        return make_file_with(t, "engine-id", uuid, &m);
}

static int make_docker(Tree *t, uint64_t files) {
        _cleanup_free_ Layer *layers = NULL;
        _cleanup_free_ size_t *containers = NULL;
        Docker d = { .t = t };
        int r;

        /* How the entries are shared out: mostly image layers, as on a
         * real host; volumes, containers and metadata take the rest. */
        uint64_t volume_entries = files * 5 / 100;
        uint64_t container_entries = files * 2 / 100;
        uint64_t image_entries = files - volume_entries - container_entries;
        size_t n_image_layers = (size_t) MIN(MAX(files / 4500, (uint64_t) 2), (uint64_t) 64);
        size_t n_containers = 2 + (size_t) (files / 25000);
        uint64_t volume_bytes = files * 2 * KiB;
        uint64_t log_bytes = files * 256;

        d.n_image_layers = n_image_layers;
        d.n_layers = n_image_layers + 2 * n_containers;
        layers = calloc(d.n_layers, sizeof(Layer));
        containers = calloc(n_containers, sizeof(size_t));
        if (!layers || !containers)
                return -ENOMEM;
        d.layers = layers;

        /* Image layers: chains of a base and later layers; a new base now
         * and then starts another image family. */
        uint64_t total_weight = 0;
        uint64_t *weights = calloc(n_image_layers, sizeof(uint64_t));
        if (!weights)
                return -ENOMEM;
        for (size_t i = 0; i < n_image_layers; i++) {
                Layer *l = &layers[i];
                random_hex(t, l->id, 64);
                random_short_id(t, l->short_id);
                random_hex(t, l->chain_id, 64);
                l->parent = i == 0 || rng_ppm(&t->rng, 150000) ? -1 : (int) i - 1;
                if (l->parent >= 0)
                        layers[l->parent].has_child = true;
                l->kind = l->parent < 0 ? LAYER_BASE : LAYER_IMAGE;
                l->remapped = rng_ppm(&t->rng, 100000);
                l->created = EPOCH_BASE + (time_t) (i * 5 * DAY);
                weights[i] = (l->kind == LAYER_BASE ? 12 : 1) * rng_range(&t->rng, 1, 8);
                total_weight += weights[i];
        }
        for (size_t i = 0; i < n_image_layers; i++)
                layers[i].entries = MAX(image_entries * weights[i] / total_weight, (uint64_t) 40);
        free(weights);

        /* Containers: an -init layer and a writable layer on top of an
         * image's top layer. */
        for (size_t c = 0; c < n_containers; c++) {
                size_t image;
                do
                        image = (size_t) rng_below(&t->rng, n_image_layers);
                while (layers[image].has_child);
                for (size_t k = 0; k < 2; k++) {
                        size_t index = n_image_layers + 2 * c + k;
                        Layer *l = &layers[index];
                        random_hex(t, l->id, 64);
                        random_short_id(t, l->short_id);
                        random_hex(t, l->chain_id, 64);
                        if (k == 0)
                                strcat(l->id, "-init");
                        l->parent = k == 0 ? (int) image : (int) index - 1;
                        l->kind = k == 0 ? LAYER_INIT : LAYER_CONTAINER;
                        l->remapped = layers[image].remapped;
                        l->created = EPOCH_BASE + 300 * (time_t) DAY + (time_t) (c * DAY);
                        l->entries = k == 0 ? 5 : MAX(container_entries / n_containers, (uint64_t) 10);
                }
                containers[c] = n_image_layers + 2 * c + 1;
        }

        Meta m = meta_at(t, 0710, 0, 0, EPOCH_BASE + 400 * (time_t) DAY, DAY);
        r = make_dir(t, "overlay2", &m, &no_extras);
        if (r < 0)
                return r;
        m = meta_at(t, 0700, 0, 0, EPOCH_BASE + 400 * (time_t) DAY, DAY);
        r = make_dir(t, "overlay2/l", &m, &no_extras);
        if (r < 0)
                return r;
        for (size_t i = 0; i < d.n_layers; i++) {
                r = make_layer(&d, i);
                if (r < 0)
                        goto finish;
        }
        r = make_image_db(&d, containers, n_containers);
        if (r < 0)
                goto finish;
        r = make_container_dirs(&d, n_containers, log_bytes);
        if (r < 0)
                goto finish;
        r = make_volumes(&d, volume_entries, volume_bytes);
        if (r < 0)
                goto finish;
        r = make_misc(&d);
finish:
        pathlist_done(&d.global_pool);
        return r;
}

/* ---- the other shapes ---- */

static int make_large(Tree *t, uint64_t files, uint64_t size) {
        char name[64];

        for (uint64_t i = 0; i < files; i++) {
                format_path(name, sizeof name, "blob-%04" PRIu64 ".bin", i);
                Meta m = meta_at(t, 0644, 0, 0, EPOCH_BASE, 365 * DAY);
                int r = make_file(t, name, size, &m, &no_extras);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int make_wide(Tree *t, uint64_t files, uint64_t size) {
        char name[64];

        for (uint64_t i = 0; i < files; i++) {
                /* Hash-like names, as in a cache or a maildir: what a
                 * directory index sees in practice. */
                format_path(name, sizeof name, "%016" PRIx64 "-%07" PRIu64, rng_next(&t->rng), i);
                Meta m = meta_at(t, 0644, 0, 0, EPOCH_BASE, 365 * DAY);
                int r = make_file(t, name, size, &m, &no_extras);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Paths below the top grow far past PATH_MAX, so everything goes through
 * directory fds. */
static int make_deep(Tree *t, uint64_t depth) {
        _cleanup_free_ struct timespec *times = calloc(depth, sizeof(struct timespec));
        _cleanup_close_ int fd = -EBADF;
        char name[32];
        int r;

        if (!times)
                return -ENOMEM;
        fd = fcntl(t->root_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        for (uint64_t i = 0; i < depth; i++) {
                format_path(name, sizeof name, "level-%05" PRIu64, i);
                Meta m = meta_at(t, 0755, 0, 0, EPOCH_BASE, 365 * DAY);
                _cleanup_close_ int child = -EBADF;
                r = make_dir_at(t, fd, name, &m, &no_extras, &child);
                if (r < 0)
                        return log_error_errno(r, "Failed to create directory at depth", name);
                times[i] = m.mtime;
                m = meta_at(t, 0644, 0, 0, EPOCH_BASE, 365 * DAY);
                r = make_file_at(t, child, "data", rng_range(&t->rng, 1, 512), &m, &no_extras);
                if (r < 0)
                        return log_error_errno(r, "Failed to create file at depth", name);
                closep(&fd);
                fd = TAKE_FD(child);
        }

        /* Now that nothing changes any more, walk down again to set the
         * directories' times. */
        closep(&fd);
        fd = fcntl(t->root_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        for (uint64_t i = 0; i < depth; i++) {
                format_path(name, sizeof name, "level-%05" PRIu64, i);
                int child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (child < 0)
                        return log_error_errno(negative_errno(), "Failed to open directory at depth", name);
                closep(&fd);
                fd = child;
                struct timespec ts[2] = { times[i], times[i] };
                if (futimens(fd, ts) < 0)
                        return log_error_errno(negative_errno(), "Failed to set times at depth", name);
        }
        return 0;
}

/* ---- command line ---- */

static int parse_size(const char *s, uint64_t *ret) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *s == '-')
                return -EINVAL;
        uint64_t factor = 1;
        switch (*end) {
        case '\0':
                break;
        case 'k': case 'K':
                factor = KiB;
                break;
        case 'm': case 'M':
                factor = MiB;
                break;
        case 'g': case 'G':
                factor = GiB;
                break;
        case 't': case 'T':
                factor = GiB * 1024;
                break;
        default:
                return -EINVAL;
        }
        if (*end != '\0' && end[1] != '\0')
                return -EINVAL;
        if (v > UINT64_MAX / factor)
                return -ERANGE;
        *ret = (uint64_t) v * factor;
        return 0;
}

static void help(void) {
        printf("make-tree [OPTIONS] DIR\n\n"
               "Writes a deterministic test tree into DIR (created if missing; must be empty).\n"
               "Same arguments, same tree. Needs root (mknod, trusted.* xattrs, chown).\n\n"
               "  --shape docker|large|wide|deep  what to write (default docker)\n"
               "  --files N             docker: about N entries (default 200000, ~2 GiB)\n"
               "                        large: N files (default 4); wide: N entries (default\n"
               "                        100000); deep: N levels (default 1000)\n"
               "  --seed S              PRNG seed (default 1)\n"
               "  --file-size SIZE      large: size of each file (default 1G);\n"
               "                        wide: size of each file (default 0)\n"
               "  --max-file-size SIZE  docker: no file larger than SIZE (for many small files)\n"
               "SIZE takes K, M, G, T suffixes (powers of 1024).\n");
}

int main(int argc, char *argv[]) {
        enum { ARG_SEED = 0x100, ARG_SHAPE, ARG_FILES, ARG_FILE_SIZE, ARG_MAX_FILE_SIZE };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "files", required_argument, NULL, ARG_FILES },
                { "seed", required_argument, NULL, ARG_SEED },
                { "shape", required_argument, NULL, ARG_SHAPE },
                { "file-size", required_argument, NULL, ARG_FILE_SIZE },
                { "max-file-size", required_argument, NULL, ARG_MAX_FILE_SIZE },
                {},
        };
        Shape shape = SHAPE_DOCKER;
        uint64_t files = 0, seed = 1, file_size = UINT64_MAX, max_file_size = 0;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_FILES:
                        if (parse_size(optarg, &files) < 0 || files == 0) {
                                fprintf(stderr, "make-tree: bad --files '%s'\n", optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                case ARG_SEED:
                        if (parse_size(optarg, &seed) < 0) {
                                fprintf(stderr, "make-tree: bad --seed '%s'\n", optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                case ARG_SHAPE:
                        if (streq(optarg, "docker"))
                                shape = SHAPE_DOCKER;
                        else if (streq(optarg, "large"))
                                shape = SHAPE_LARGE;
                        else if (streq(optarg, "wide"))
                                shape = SHAPE_WIDE;
                        else if (streq(optarg, "deep"))
                                shape = SHAPE_DEEP;
                        else {
                                fprintf(stderr, "make-tree: unknown shape '%s'\n", optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                case ARG_FILE_SIZE:
                        if (parse_size(optarg, &file_size) < 0) {
                                fprintf(stderr, "make-tree: bad --file-size '%s'\n", optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                case ARG_MAX_FILE_SIZE:
                        if (parse_size(optarg, &max_file_size) < 0 || max_file_size == 0) {
                                fprintf(stderr, "make-tree: bad --max-file-size '%s'\n", optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                default:
                        return EXIT_FAILURE;
                }
        }
        if (optind != argc - 1) {
                fprintf(stderr, "make-tree: expected one DIR. See --help.\n");
                return EXIT_FAILURE;
        }
        const char *dir = argv[optind];

        static const uint64_t default_files[] = {
                [SHAPE_DOCKER] = 200000, [SHAPE_LARGE] = 4, [SHAPE_WIDE] = 100000, [SHAPE_DEEP] = 1000,
        };
        if (files == 0)
                files = default_files[shape];
        if (file_size == UINT64_MAX)
                file_size = shape == SHAPE_LARGE ? GiB : 0;

        /* Modes are set exactly, whatever the caller's umask. */
        umask(0);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                fprintf(stderr, "make-tree: cannot create '%s': %m\n", dir);
                return EXIT_FAILURE;
        }
        _cleanup_close_ int root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (root_fd < 0) {
                fprintf(stderr, "make-tree: cannot open '%s': %m\n", dir);
                return EXIT_FAILURE;
        }
        /* Never write into a tree that holds anything already: a wrong
         * argument must not mix generated files into real data. */
        _cleanup_closedir_ DIR *listing = fdopendir(fcntl(root_fd, F_DUPFD_CLOEXEC, 3));
        if (!listing) {
                fprintf(stderr, "make-tree: cannot read '%s': %m\n", dir);
                return EXIT_FAILURE;
        }
        for (struct dirent *de; (de = readdir(listing));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        fprintf(stderr, "make-tree: '%s' is not empty, refusing.\n", dir);
                        return EXIT_FAILURE;
                }

        Tree t = { .root_fd = root_fd, .max_file_size = max_file_size };
        rng_seed(&t.rng, seed);
        t.buf = malloc(WRITE_BUFFER_SIZE);
        if (!t.buf) {
                fprintf(stderr, "make-tree: out of memory\n");
                return EXIT_FAILURE;
        }

        uint64_t start = now_usec();
        Meta top = meta_at(&t, shape == SHAPE_DOCKER ? 0710 : 0755, 0, 0, EPOCH_BASE + 400 * (time_t) DAY, DAY);
        r = apply_meta(&t, root_fd, true, &top, &no_extras);
        if (r < 0)
                log_error_errno(r, "Failed to set metadata of", dir);
        if (r >= 0) {
                switch (shape) {
                case SHAPE_DOCKER:
                        r = make_docker(&t, files);
                        break;
                case SHAPE_LARGE:
                        r = make_large(&t, files, file_size);
                        break;
                case SHAPE_WIDE:
                        r = make_wide(&t, files, file_size);
                        break;
                case SHAPE_DEEP:
                        r = make_deep(&t, files);
                        break;
                }
        }
        if (r >= 0)
                r = set_dir_times(&t);
        if (r >= 0) {
                struct timespec times[2] = { top.mtime, top.mtime };
                if (futimens(root_fd, times) < 0)
                        r = log_error_errno(negative_errno(), "Failed to set times of", dir);
        }
        for (size_t i = 0; i < t.n_dirs; i++)
                free(t.dirs[i].relpath);
        free(t.dirs);
        free(t.buf);
        if (r < 0) {
                fprintf(stderr, "make-tree: failed: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }

        /* One line, key=value, for scripts. */
        const Counters *n = &t.count;
        printf("entries=%" PRIu64 " files=%" PRIu64 " dirs=%" PRIu64 " symlinks=%" PRIu64 " hardlinks=%" PRIu64
               " whiteouts=%" PRIu64 " whiteout_links=%" PRIu64 " devices=%" PRIu64 " fifos=%" PRIu64
               " sockets=%" PRIu64 " xattr_files=%" PRIu64 " acls=%" PRIu64 " apparent_bytes=%" PRIu64
               " written_bytes=%" PRIu64 " seconds=%.1f\n",
               1 + n->files + n->dirs + n->symlinks + n->hardlinks + n->whiteouts + n->devices + n->fifos +
                       n->sockets,
               n->files, n->dirs, n->symlinks, n->hardlinks, n->whiteouts, n->whiteout_links, n->devices,
               n->fifos, n->sockets,
               n->xattr_files, n->acl_entries, n->apparent_bytes, n->written_bytes,
               (double) (now_usec() - start) / 1e6);
        return EXIT_SUCCESS;
}
