/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Builds source trees holding every kind of entry and metadata the copy
 * engine must keep, copies them (same filesystem, across loop-mounted
 * ext4/xfs/btrfs/tmpfs, clones on xfs and btrfs, onto a full tmpfs) and
 * checks the copies with its own walk, independent of the engine. Runs in
 * a child in a private mount namespace: whatever happens, its mounts go
 * away with it and the loop devices (autoclear) with them. */

#include <fcntl.h>
#include <pthread.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sched.h>
#include <sys/acl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "tests.h"
#include "copy.h"

#define WIDE_LOCAL 20000
#define WIDE_LOOP 2000
#define DEEP_LEVELS 300
#define LINK_GROUPS 200
#define IMAGE_SIZE (512LL * 1024 * 1024)
#define MAX_XATTRS 64
#define MAX_REPORTS 64

/* ---- small helpers ------------------------------------------------------ */

static void proc_path(char *buf, size_t size, int dir_fd, const char *name) {
        if (name)
                snprintf(buf, size, "/proc/self/fd/%i/%s", dir_fd, name);
        else
                snprintf(buf, size, "/proc/self/fd/%i", dir_fd);
}

static int open_dir_at(int dir_fd, const char *name) {
        int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
        if (fd < 0)
                fprintf(stderr, "open %s: %m\n", name);
        ASSERT_TRUE(fd >= 0);
        return fd;
}

static int make_dir_at(int dir_fd, const char *name, mode_t mode) {
        ASSERT_TRUE(mkdirat(dir_fd, name, mode) >= 0);
        ASSERT_TRUE(fchmodat(dir_fd, name, mode, 0) >= 0);
        return open_dir_at(dir_fd, name);
}

static void write_file_at(int dir_fd, const char *name, const void *data, size_t size) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(write_all(fd, data, size));
}

static void random_bytes(void *buf, size_t size) {
        for (size_t done = 0; done < size;) {
                ssize_t n = getrandom((char *) buf + done, size - done, 0);
                ASSERT_TRUE(n > 0);
                done += (size_t) n;
        }
}

static void random_file_at(int dir_fd, const char *name, size_t size) {
        _cleanup_free_ char *data = malloc(size);
        ASSERT_TRUE(data);
        random_bytes(data, size);
        write_file_at(dir_fd, name, data, size);
}

static void set_xattr_at(int dir_fd, const char *name, const char *xattr, const void *value, size_t size) {
        char path[512];
        proc_path(path, sizeof(path), dir_fd, name);
        if (lsetxattr(path, xattr, value, size, 0) < 0)
                fprintf(stderr, "setxattr %s %s: %m\n", name, xattr);
        ASSERT_TRUE(lsetxattr(path, xattr, value, size, 0) >= 0);
}

static void set_acl_at(int dir_fd, const char *name, acl_type_t type, const char *text) {
        char path[512];
        proc_path(path, sizeof(path), dir_fd, name);
        _cleanup_(acl_freep) acl_t acl = acl_from_text(text);
        ASSERT_TRUE(acl);
        ASSERT_TRUE(acl_set_file(path, type, acl) >= 0);
}

static void set_times_at(int dir_fd, const char *name, time_t sec, long nsec) {
        struct timespec ts[2] = {
                { .tv_sec = sec - 1000, .tv_nsec = nsec / 3 },
                { .tv_sec = sec, .tv_nsec = nsec },
        };
        ASSERT_TRUE(utimensat(dir_fd, name, ts, AT_SYMLINK_NOFOLLOW) >= 0);
}

static int run(const char *command) {
        int r = system(command);
        if (r != 0)
                fprintf(stderr, "command failed (%i): %s\n", r, command);
        return r == 0 ? 0 : -EIO;
}

static bool have_program(const char *name) {
        char command[256];
        snprintf(command, sizeof(command), "command -v %s >/dev/null 2>&1", name);
        return system(command) == 0;
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Names of a directory, sorted by raw bytes. */
static char **list_dir(int dir_fd, size_t *ret_n) {
        _cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOATIME);
        char buf[32768] __attribute__((aligned(8)));
        char **names = NULL;
        size_t n = 0, allocated = 0;

        ASSERT_TRUE(fd >= 0);
        for (;;) {
                ssize_t size = getdents64(fd, buf, sizeof(buf));
                ASSERT_TRUE(size >= 0);
                if (size == 0)
                        break;
                for (ssize_t offset = 0; offset < size;) {
                        struct dirent64 *de = (struct dirent64 *) (buf + offset);
                        offset += de->d_reclen;
                        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                                continue;
                        if (n + 1 >= allocated) {
                                allocated = allocated ? allocated * 2 : 64;
                                names = realloc(names, allocated * sizeof(char *));
                                ASSERT_TRUE(names);
                        }
                        names[n] = strdup(de->d_name);
                        ASSERT_TRUE(names[n]);
                        n++;
                }
        }
        if (!names) {
                names = calloc(1, sizeof(char *));
                ASSERT_TRUE(names);
        }
        names[n] = NULL;
        qsort(names, n, sizeof(char *), compare_names);
        *ret_n = n;
        return names;
}


/* ---- the source tree ---------------------------------------------------- */

typedef struct TreeShape {
        unsigned wide;                  /* files in one directory */
        size_t random_size;
        bool mount_point;               /* an empty "mnt" to mount something on */
} TreeShape;

/* security.capability granting cap_net_raw+ep (struct vfs_cap_data, revision 2). */
static const uint32_t capability_net_raw[5] = { 0x02000001, 1U << 13, 0, 0, 0 };

static void build_sparse_files(int top) {
        _cleanup_close_ int seek = openat(top, "sparse-seek", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        ASSERT_TRUE(seek >= 0);
        ASSERT_TRUE(pwrite(seek, "x", 1, 1 << 20) == 1);
        ASSERT_TRUE(pwrite(seek, "tail", 4, 5 << 20) == 4);

        /* The last hole reaches the end: only ftruncate can restore the size. */
        _cleanup_close_ int punch = openat(top, "sparse-punch", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        ASSERT_TRUE(punch >= 0);
        _cleanup_free_ char *data = malloc(4 << 20);
        ASSERT_TRUE(data);
        random_bytes(data, 4 << 20);
        ASSERT_OK(write_all(punch, data, 4 << 20));
        ASSERT_TRUE(fsync(punch) >= 0);
        ASSERT_TRUE(fallocate(punch, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20) >= 0);
        ASSERT_TRUE(fallocate(punch, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 3 << 20, 1 << 20) >= 0);

        /* Offsets past 4 GiB. */
        _cleanup_close_ int huge = openat(top, "sparse-huge", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        ASSERT_TRUE(huge >= 0);
        ASSERT_TRUE(pwrite(huge, "head", 4, 0) == 4);
        ASSERT_TRUE(pwrite(huge, "far", 3, (4LL << 30) + 1) == 3);
        ASSERT_TRUE(ftruncate(huge, 5LL << 30) >= 0);
}

static void build_links(int top, int d1, int d2) {
        write_file_at(top, "hl-a", "linked\n", 7);
        ASSERT_TRUE(linkat(top, "hl-a", d1, "hl-b", 0) >= 0);
        ASSERT_TRUE(linkat(top, "hl-a", d2, "hl-c", 0) >= 0);

        /* Many inodes with names in three directories, so that workers
         * meet names of one inode at the same time. */
        _cleanup_close_ int links = make_dir_at(top, "links", 0755);
        _cleanup_close_ int a = make_dir_at(links, "a", 0755);
        _cleanup_close_ int b = make_dir_at(links, "b", 0755);
        _cleanup_close_ int c = make_dir_at(links, "c", 0755);
        for (unsigned i = 0; i < LINK_GROUPS; i++) {
                char name[32], content[32];
                snprintf(name, sizeof(name), "g%03u", i);
                snprintf(content, sizeof(content), "group %u\n", i);
                write_file_at(a, name, content, strlen(content));
                ASSERT_TRUE(linkat(a, name, b, name, 0) >= 0);
                ASSERT_TRUE(linkat(a, name, c, name, 0) >= 0);
        }

        /* Overlay whiteouts are char 0:0 and get hardlinked by overlayfs. */
        ASSERT_TRUE(mknodat(top, "whiteout", S_IFCHR | 0, makedev(0, 0)) >= 0);
        ASSERT_TRUE(mknodat(top, "wh-a", S_IFCHR | 0, makedev(0, 0)) >= 0);
        ASSERT_TRUE(linkat(top, "wh-a", d1, "wh-b", 0) >= 0);
        ASSERT_TRUE(mknodat(top, "blockdev", S_IFBLK | 0660, makedev(7, 200)) >= 0);
        ASSERT_TRUE(mknodat(top, "chardev", S_IFCHR | 0666, makedev(1, 3)) >= 0);
        ASSERT_TRUE(mkfifoat(top, "fifo", 0640) >= 0);
        ASSERT_TRUE(linkat(top, "fifo", d1, "fifo-link", 0) >= 0);

        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%i/sock", top);
        _cleanup_close_ int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(sock >= 0);
        ASSERT_TRUE(bind(sock, (struct sockaddr *) &sa, sizeof(sa)) >= 0);
}

static void build_symlinks(int top, int d1) {
        char long_target[1001]; /* xfs holds at most 1024 bytes */

        ASSERT_TRUE(symlinkat("d1/d2", top, "sym-rel") >= 0);
        ASSERT_TRUE(symlinkat("/etc/passwd", top, "sym-abs") >= 0);
        ASSERT_TRUE(symlinkat("does/not/exist", top, "sym-dangling") >= 0);
        for (size_t i = 0; i < sizeof(long_target) - 1; i++)
                long_target[i] = i % 2 ? '/' : 'x';
        long_target[sizeof(long_target) - 1] = 0;
        ASSERT_TRUE(symlinkat(long_target, top, "sym-long") >= 0);
        /* Linux can hardlink a symlink itself. */
        ASSERT_TRUE(linkat(top, "sym-rel", d1, "sym-hl", 0) >= 0);
        set_xattr_at(top, "sym-rel", "trusted.overlay.test", "on-symlink", 10);
}

static void build_names_and_owners(int top) {
        char long_name[256];

        write_file_at(top, "with space", "s", 1);
        write_file_at(top, "new\nline", "n", 1);
        write_file_at(top, "\x80\x81\xfe\xff-bytes", "b", 1);
        memset(long_name, 'n', 255);
        long_name[255] = 0;
        write_file_at(top, long_name, "l", 1);

        write_file_at(top, "owned", "o", 1);
        ASSERT_TRUE(fchownat(top, "owned", 100000, 100000, 0) >= 0);
        close(make_dir_at(top, "owned-dir", 0750));
        ASSERT_TRUE(fchownat(top, "owned-dir", 200000, 300000, 0) >= 0);
        ASSERT_TRUE(fchownat(top, "sym-abs", 123456, 654321, AT_SYMLINK_NOFOLLOW) >= 0);

        /* chown clears setuid and capabilities: build them in that order. */
        write_file_at(top, "suid", "#!/bin/true\n", 12);
        ASSERT_TRUE(fchownat(top, "suid", 100000, 100000, 0) >= 0);
        ASSERT_TRUE(fchmodat(top, "suid", 04755, 0) >= 0);
        set_xattr_at(top, "suid", "security.capability", capability_net_raw, sizeof(capability_net_raw));
        write_file_at(top, "sgid", "g", 1);
        ASSERT_TRUE(fchownat(top, "sgid", 0, 100000, 0) >= 0);
        ASSERT_TRUE(fchmodat(top, "sgid", 02711, 0) >= 0);
        close(make_dir_at(top, "sgid-dir", 02775));
        close(make_dir_at(top, "sticky", 01777));
}

static void build_xattrs_and_acls(int top) {
        char big[3000];

        close(make_dir_at(top, "opaque", 0755));
        set_xattr_at(top, "opaque", "trusted.overlay.opaque", "y", 1);
        close(make_dir_at(top, "redirect", 0755));
        set_xattr_at(top, "redirect", "trusted.overlay.redirect", "/old/place", 10);
        write_file_at(top, "user-x", "u", 1);
        set_xattr_at(top, "user-x", "user.foo", "bar", 3);
        set_xattr_at(top, "user-x", "user.overlay.origin", "\0\1\2\0\377", 5);
        memset(big, 'v', sizeof(big));
        set_xattr_at(top, "user-x", "trusted.big", big, sizeof(big));
        set_xattr_at(top, "user-x", "trusted.empty", "", 0);

        write_file_at(top, "acl-file", "a", 1);
        set_acl_at(top, "acl-file", ACL_TYPE_ACCESS, "u::rw-,u:1234:r--,g::r--,g:5678:rw-,m::rw-,o::---");

        /* "before" exists before the default ACL: the copy must not give it one. */
        _cleanup_close_ int acl_dir = make_dir_at(top, "acl-dir", 0750);
        write_file_at(acl_dir, "before", "b", 1);
        set_acl_at(top, "acl-dir", ACL_TYPE_ACCESS, "u::rwx,u:1234:r-x,g::r-x,m::r-x,o::---");
        set_acl_at(top, "acl-dir", ACL_TYPE_DEFAULT, "u::rwx,u:1234:rwx,g::r-x,m::rwx,o::---");
        write_file_at(acl_dir, "after", "a", 1);
        close(make_dir_at(acl_dir, "subdir-after", 0755));
}

/* A chain deeper than 256 levels whose path is longer than PATH_MAX, with
 * a hardlink and a symlink at the bottom. */
static void build_deep(int top) {
        int fd = make_dir_at(top, "deep", 0755);

        for (unsigned i = 0; i < DEEP_LEVELS; i++) {
                char name[64];
                snprintf(name, sizeof(name), "level-%03u-padding-padding-pad", i);
                int next = make_dir_at(fd, name, 0755);
                close(fd);
                fd = next;
        }
        write_file_at(fd, "bottom", "deep down\n", 10);
        ASSERT_TRUE(linkat(fd, "bottom", fd, "bottom-link", 0) >= 0);
        ASSERT_TRUE(symlinkat("bottom", fd, "bottom-sym") >= 0);
        close(fd);
}

static void build_wide(int top, unsigned n) {
        _cleanup_close_ int wide = make_dir_at(top, "wide", 0755);

        for (unsigned i = 0; i < n; i++) {
                char name[32];
                snprintf(name, sizeof(name), "f%05u", i);
                write_file_at(wide, name, name, i % 7);
        }
}

static void build_tree(int top, const TreeShape *shape) {
        write_file_at(top, "empty", "", 0);
        random_file_at(top, "random.bin", shape->random_size);
        build_sparse_files(top);

        _cleanup_close_ int d1 = make_dir_at(top, "d1", 0755);
        _cleanup_close_ int d2 = make_dir_at(d1, "d2", 0750);
        write_file_at(d2, "file", "nested\n", 7);
        close(make_dir_at(top, "emptydir", 0700));

        build_symlinks(top, d1);
        build_links(top, d1, d2);
        build_names_and_owners(top);
        build_xattrs_and_acls(top);
        build_deep(top);
        build_wide(top, shape->wide);
        if (shape->mount_point)
                close(make_dir_at(top, "mnt", 0755));

        /* Fixed nanosecond times, directories last since adding to them
         * moves their mtime. */
        set_times_at(top, "random.bin", 1500000000, 123456789);
        set_times_at(top, "sym-rel", 1400000000, 999999999);
        set_times_at(top, "fifo", 1300000000, 1);
        set_times_at(d1, "d2", 1200000000, 500000000);
        set_times_at(top, "d1", 1100000000, 42);
        set_times_at(top, ".", 1000000000, 7);
}

/* ---- independent checks ------------------------------------------------- */

typedef struct Xattrs {
        size_t n;
        char *names[MAX_XATTRS];
        char *values[MAX_XATTRS];
        size_t sizes[MAX_XATTRS];
} Xattrs;

static void xattrs_free(Xattrs *x) {
        for (size_t i = 0; i < x->n; i++) {
                free(x->names[i]);
                free(x->values[i]);
        }
        x->n = 0;
}

static bool has_prefix_in(const char *name, const char *const *prefixes) {
        for (; prefixes && *prefixes; prefixes++)
                if (strncmp(name, *prefixes, strlen(*prefixes)) == 0)
                        return true;
        return false;
}

/* The xattrs of name in dir_fd, sorted, never following a symlink. */
static void xattrs_read(int dir_fd, const char *name, const char *const *ignore, Xattrs *ret) {
        char path[512];
        _cleanup_free_ char *list = malloc(65536);

        ASSERT_TRUE(list);
        proc_path(path, sizeof(path), dir_fd, name);
        ssize_t size = llistxattr(path, list, 65536);
        ASSERT_TRUE(size >= 0);

        ret->n = 0;
        for (char *x = list; x < list + size; x += strlen(x) + 1) {
                /* XFS's on-disk form of the POSIX ACLs, compared as ACLs. */
                if (has_prefix_in(x, ignore) || strncmp(x, "trusted.SGI_ACL_", 16) == 0)
                        continue;
                ASSERT_TRUE(ret->n < MAX_XATTRS);
                size_t i = ret->n++;
                ret->names[i] = strdup(x);
                ret->values[i] = malloc(65536);
                ASSERT_TRUE(ret->names[i] && ret->values[i]);
                ssize_t v = lgetxattr(path, x, ret->values[i], 65536);
                ASSERT_TRUE(v >= 0);
                ret->sizes[i] = (size_t) v;
        }
        /* A plain sort is enough for a few names. */
        for (size_t i = 0; i < ret->n; i++)
                for (size_t j = i + 1; j < ret->n; j++)
                        if (strcmp(ret->names[i], ret->names[j]) > 0) {
                                char *n = ret->names[i], *v = ret->values[i];
                                size_t s = ret->sizes[i];
                                ret->names[i] = ret->names[j];
                                ret->values[i] = ret->values[j];
                                ret->sizes[i] = ret->sizes[j];
                                ret->names[j] = n;
                                ret->values[j] = v;
                                ret->sizes[j] = s;
                        }
}

static char *acl_text_at(int dir_fd, const char *name, acl_type_t type) {
        char path[512];
        proc_path(path, sizeof(path), dir_fd, name);
        _cleanup_(acl_freep) acl_t acl = acl_get_file(path, type);
        ASSERT_TRUE(acl);
        char *text = acl_to_text(acl, NULL);
        ASSERT_TRUE(text);
        char *copy = strdup(text);
        acl_free(text);
        return copy;
}

typedef struct LinkPair {
        dev_t src_dev;
        ino_t src_ino;
        ino_t dst_ino;
} LinkPair;

typedef struct Checker {
        unsigned differences;
        unsigned entries;
        LinkPair *pairs;
        size_t n_pairs;
        size_t pairs_allocated;
        const char *skip;               /* a top-level name not copied (a mount point) */
        const char *const *unsupported; /* xattr prefixes the destination refuses */
        bool check_allocation;
} Checker;

#define DIFF(c, relpath, ...)                                                   \
        do {                                                                    \
                fprintf(stderr, "DIFF %s: ", relpath);                          \
                fprintf(stderr, __VA_ARGS__);                                   \
                fputc('\n', stderr);                                            \
                (c)->differences++;                                             \
        } while (0)

static void record_pair(Checker *c, const struct stat *s, const struct stat *d) {
        if (c->n_pairs >= c->pairs_allocated) {
                c->pairs_allocated = c->pairs_allocated ? c->pairs_allocated * 2 : 1024;
                c->pairs = realloc(c->pairs, c->pairs_allocated * sizeof(LinkPair));
                ASSERT_TRUE(c->pairs);
        }
        c->pairs[c->n_pairs++] = (LinkPair) { .src_dev = s->st_dev, .src_ino = s->st_ino, .dst_ino = d->st_ino };
}

static int compare_by_src(const void *a, const void *b) {
        const LinkPair *x = a, *y = b;
        if (x->src_dev != y->src_dev)
                return x->src_dev < y->src_dev ? -1 : 1;
        if (x->src_ino != y->src_ino)
                return x->src_ino < y->src_ino ? -1 : 1;
        return 0;
}

static int compare_by_dst(const void *a, const void *b) {
        const LinkPair *x = a, *y = b;
        if (x->dst_ino != y->dst_ino)
                return x->dst_ino < y->dst_ino ? -1 : 1;
        return compare_by_src(a, b);
}

/* Names of one source inode must all be names of one copied inode, and
 * the other way round. */
static void check_link_structure(Checker *c) {
        if (c->n_pairs == 0)
                return;
        qsort(c->pairs, c->n_pairs, sizeof(LinkPair), compare_by_src);
        for (size_t i = 1; i < c->n_pairs; i++)
                if (compare_by_src(&c->pairs[i - 1], &c->pairs[i]) == 0 &&
                    c->pairs[i - 1].dst_ino != c->pairs[i].dst_ino)
                        DIFF(c, "(links)", "source inode %ju copied to two inodes", (uintmax_t) c->pairs[i].src_ino);
        qsort(c->pairs, c->n_pairs, sizeof(LinkPair), compare_by_dst);
        for (size_t i = 1; i < c->n_pairs; i++)
                if (c->pairs[i - 1].dst_ino == c->pairs[i].dst_ino &&
                    compare_by_src(&c->pairs[i - 1], &c->pairs[i]) != 0)
                        DIFF(c, "(links)", "copied inode %ju joins two source inodes", (uintmax_t) c->pairs[i].dst_ino);
}

/* Data segments of the source must match byte for byte; its holes must be
 * zeros in the copy. */
static void compare_content(Checker *c, int sdir, int ddir, const char *name, const char *relpath,
                            const struct stat *s) {
        _cleanup_close_ int sfd = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
        _cleanup_close_ int dfd = openat(ddir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
        _cleanup_free_ char *a = malloc(1 << 20), *b = malloc(1 << 20);
        off_t offset = 0;

        ASSERT_TRUE(sfd >= 0 && dfd >= 0 && a && b);
        while (offset < s->st_size) {
                off_t data = lseek(sfd, offset, SEEK_DATA);
                if (data < 0) {
                        ASSERT_TRUE(errno == ENXIO);
                        data = s->st_size;
                }
                /* [offset, data) is a hole in the source: zeros in the copy */
                for (off_t pos = offset; pos < data;) {
                        off_t dst_data = lseek(dfd, pos, SEEK_DATA);
                        if (dst_data < 0 || dst_data >= data)
                                break;
                        size_t want = (size_t) MIN((off_t) (1 << 20), data - dst_data);
                        ssize_t n = pread(dfd, b, want, dst_data);
                        ASSERT_TRUE(n > 0);
                        for (ssize_t i = 0; i < n; i++)
                                if (b[i] != 0) {
                                        DIFF(c, relpath, "non-zero byte in a hole at %jd", (intmax_t) (dst_data + i));
                                        return;
                                }
                        pos = dst_data + n;
                }
                if (data >= s->st_size)
                        break;
                off_t hole = lseek(sfd, data, SEEK_HOLE);
                ASSERT_TRUE(hole > data);
                hole = MIN(hole, s->st_size);
                for (off_t pos = data; pos < hole;) {
                        size_t want = (size_t) MIN((off_t) (1 << 20), hole - pos);
                        ssize_t x = pread(sfd, a, want, pos), y = pread(dfd, b, want, pos);
                        ASSERT_TRUE(x == (ssize_t) want);
                        if (y != x || memcmp(a, b, want) != 0) {
                                DIFF(c, relpath, "content differs in [%jd, %jd)", (intmax_t) pos,
                                     (intmax_t) (pos + (off_t) want));
                                return;
                        }
                        pos += (off_t) want;
                }
                offset = hole;
        }
}

static void compare_entry(Checker *c, int sdir, int ddir, const char *name, const char *relpath);

static void compare_dir(Checker *c, int sfd, int dfd, const char *relpath, bool top) {
        size_t ns, nd, i = 0, j = 0;
        char **s = list_dir(sfd, &ns), **d = list_dir(dfd, &nd);

        while (i < ns || j < nd) {
                int k = i >= ns ? 1 : j >= nd ? -1 : strcmp(s[i], d[j]);
                if (k < 0) {
                        if (!(top && c->skip && streq(s[i], c->skip)))
                                DIFF(c, relpath, "\"%s\" missing in the copy", s[i]);
                        i++;
                } else if (k > 0) {
                        DIFF(c, relpath, "\"%s\" only in the copy", d[j]);
                        j++;
                } else {
                        _cleanup_free_ char *child = top ? strdup(s[i]) : strdup_printf("%s/%s", relpath, s[i]);
                        ASSERT_TRUE(child);
                        compare_entry(c, sfd, dfd, s[i], child);
                        i++;
                        j++;
                }
        }
        strv_freep(&s);
        strv_freep(&d);
}

static void compare_entry(Checker *c, int sdir, int ddir, const char *name, const char *relpath) {
        struct stat s, d;

        c->entries++;
        ASSERT_TRUE(fstatat(sdir, name, &s, AT_SYMLINK_NOFOLLOW) >= 0);
        if (fstatat(ddir, name, &d, AT_SYMLINK_NOFOLLOW) < 0) {
                DIFF(c, relpath, "missing in the copy");
                return;
        }
        if (s.st_mode != d.st_mode)
                DIFF(c, relpath, "mode %o != %o", s.st_mode, d.st_mode);
        if (s.st_uid != d.st_uid || s.st_gid != d.st_gid)
                DIFF(c, relpath, "owner %u:%u != %u:%u", s.st_uid, s.st_gid, d.st_uid, d.st_gid);
        if ((s.st_mode & S_IFMT) != (d.st_mode & S_IFMT))
                return;
        if (!S_ISDIR(s.st_mode) && (s.st_nlink != d.st_nlink || s.st_size != d.st_size))
                DIFF(c, relpath, "nlink/size %ju/%jd != %ju/%jd", (uintmax_t) s.st_nlink, (intmax_t) s.st_size,
                     (uintmax_t) d.st_nlink, (intmax_t) d.st_size);
        if ((S_ISCHR(s.st_mode) || S_ISBLK(s.st_mode)) && s.st_rdev != d.st_rdev)
                DIFF(c, relpath, "rdev differs");
        if (s.st_mtim.tv_sec != d.st_mtim.tv_sec || s.st_mtim.tv_nsec != d.st_mtim.tv_nsec)
                DIFF(c, relpath, "mtime %jd.%09ld != %jd.%09ld", (intmax_t) s.st_mtim.tv_sec, s.st_mtim.tv_nsec,
                     (intmax_t) d.st_mtim.tv_sec, d.st_mtim.tv_nsec);
        /* readlink() moves a symlink's atime, in the source too. */
        if (!S_ISLNK(s.st_mode) &&
            (s.st_atim.tv_sec != d.st_atim.tv_sec || s.st_atim.tv_nsec != d.st_atim.tv_nsec))
                DIFF(c, relpath, "atime differs");

        Xattrs xs = { 0 }, xd = { 0 };
        xattrs_read(sdir, name, c->unsupported, &xs);
        xattrs_read(ddir, name, c->unsupported, &xd);
        if (xs.n != xd.n)
                DIFF(c, relpath, "%zu xattrs != %zu", xs.n, xd.n);
        else
                for (size_t i = 0; i < xs.n; i++)
                        if (!streq(xs.names[i], xd.names[i]) || xs.sizes[i] != xd.sizes[i] ||
                            memcmp(xs.values[i], xd.values[i], xs.sizes[i]) != 0)
                                DIFF(c, relpath, "xattr %s differs", xs.names[i]);
        xattrs_free(&xs);
        xattrs_free(&xd);

        if (!S_ISLNK(s.st_mode)) {
                _cleanup_free_ char *sa = acl_text_at(sdir, name, ACL_TYPE_ACCESS);
                _cleanup_free_ char *da = acl_text_at(ddir, name, ACL_TYPE_ACCESS);
                if (!streq(sa, da))
                        DIFF(c, relpath, "access ACL \"%s\" != \"%s\"", sa, da);
        }

        if (S_ISLNK(s.st_mode)) {
                char st[8192], dt[8192];
                ssize_t a = readlinkat(sdir, name, st, sizeof(st)), b = readlinkat(ddir, name, dt, sizeof(dt));
                ASSERT_TRUE(a >= 0);
                if (a != b || memcmp(st, dt, (size_t) a) != 0)
                        DIFF(c, relpath, "symlink target differs");
        }
        if (S_ISREG(s.st_mode)) {
                compare_content(c, sdir, ddir, name, relpath, &s);
                if (c->check_allocation && s.st_blocks * 512 < s.st_size && d.st_blocks > s.st_blocks)
                        DIFF(c, relpath, "sparse copy allocates %jd blocks > %jd", (intmax_t) d.st_blocks,
                             (intmax_t) s.st_blocks);
        }
        if (!S_ISDIR(s.st_mode)) {
                record_pair(c, &s, &d);
                return;
        }

        _cleanup_free_ char *sd = acl_text_at(sdir, name, ACL_TYPE_DEFAULT);
        _cleanup_free_ char *dd = acl_text_at(ddir, name, ACL_TYPE_DEFAULT);
        if (!streq(sd, dd))
                DIFF(c, relpath, "default ACL \"%s\" != \"%s\"", sd, dd);

        _cleanup_close_ int sfd = open_dir_at(sdir, name);
        _cleanup_close_ int dfd = open_dir_at(ddir, name);
        compare_dir(c, sfd, dfd, relpath, streq(relpath, "."));
}

static unsigned compare_trees(const char *src, const char *dst, const char *skip,
                              const char *const *unsupported, bool check_allocation) {
        Checker c = { .skip = skip, .unsupported = unsupported, .check_allocation = check_allocation };
        _cleanup_close_ int s = open_dir_at(AT_FDCWD, src);
        _cleanup_close_ int d = open_dir_at(AT_FDCWD, dst);

        compare_entry(&c, s, d, ".", ".");
        check_link_structure(&c);
        free(c.pairs);
        if (c.differences > 0)
                fprintf(stderr, "%s vs %s: %u differences in %u entries\n", src, dst, c.differences, c.entries);
        return c.differences;
}

/* ---- source snapshot ---------------------------------------------------- */

typedef struct Inode {
        dev_t dev;
        ino_t ino;
        mode_t mode;
        off_t size;
        blkcnt_t blocks;
} Inode;

typedef struct Snapshot {
        uint64_t hash;
        uint64_t entries;
        Inode *inodes;
        size_t n_inodes;
        size_t allocated;
} Snapshot;

static uint64_t fnv(uint64_t h, const void *data, size_t size) {
        const unsigned char *p = data;
        for (size_t i = 0; i < size; i++)
                h = (h ^ p[i]) * UINT64_C(0x100000001b3);
        return h;
}

static void snapshot_entry(Snapshot *snap, int dir_fd, const char *name, const char *skip);

static void snapshot_dir(Snapshot *snap, int fd, const char *skip) {
        size_t n;
        char **names = list_dir(fd, &n);

        for (size_t i = 0; i < n; i++)
                if (!skip || !streq(names[i], skip))
                        snapshot_entry(snap, fd, names[i], NULL);
        strv_freep(&names);
}

/* Hashes everything a copy could disturb (ctime catches any metadata
 * change, the bytes catch content); atime is left out, readlink moves it. */
static void snapshot_entry(Snapshot *snap, int dir_fd, const char *name, const char *skip) {
        struct stat st;

        ASSERT_TRUE(fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0);
        snap->entries++;
        snap->hash = fnv(snap->hash, name, strlen(name) + 1);
        struct {
                uint64_t ino, mode, uid, gid, nlink, size, rdev, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
        } fields = { st.st_ino, st.st_mode, st.st_uid, st.st_gid, S_ISDIR(st.st_mode) ? 0 : st.st_nlink,
                     (uint64_t) st.st_size, st.st_rdev, (uint64_t) st.st_mtim.tv_sec, (uint64_t) st.st_mtim.tv_nsec,
                     (uint64_t) st.st_ctim.tv_sec, (uint64_t) st.st_ctim.tv_nsec };
        snap->hash = fnv(snap->hash, &fields, sizeof(fields));

        if (snap->n_inodes >= snap->allocated) {
                snap->allocated = snap->allocated ? snap->allocated * 2 : 1024;
                snap->inodes = realloc(snap->inodes, snap->allocated * sizeof(Inode));
                ASSERT_TRUE(snap->inodes);
        }
        snap->inodes[snap->n_inodes++] = (Inode) { st.st_dev, st.st_ino, st.st_mode, st.st_size, st.st_blocks };

        Xattrs x = { 0 };
        xattrs_read(dir_fd, name, NULL, &x);
        for (size_t i = 0; i < x.n; i++) {
                snap->hash = fnv(snap->hash, x.names[i], strlen(x.names[i]) + 1);
                snap->hash = fnv(snap->hash, x.values[i], x.sizes[i]);
        }
        xattrs_free(&x);

        if (S_ISLNK(st.st_mode)) {
                char target[8192];
                ssize_t n = readlinkat(dir_fd, name, target, sizeof(target));
                ASSERT_TRUE(n >= 0);
                snap->hash = fnv(snap->hash, target, (size_t) n);
        } else if (S_ISREG(st.st_mode)) {
                _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
                _cleanup_free_ char *buf = malloc(1 << 20);
                ASSERT_TRUE(fd >= 0 && buf);
                for (off_t pos = 0;;) {
                        off_t data = lseek(fd, pos, SEEK_DATA);
                        if (data < 0)
                                break;
                        ssize_t n = pread(fd, buf, 1 << 20, data);
                        ASSERT_TRUE(n > 0);
                        snap->hash = fnv(snap->hash, &data, sizeof(data));
                        snap->hash = fnv(snap->hash, buf, (size_t) n);
                        pos = data + n;
                }
        } else if (S_ISDIR(st.st_mode)) {
                _cleanup_close_ int fd = open_dir_at(dir_fd, name);
                snapshot_dir(snap, fd, skip);
        }
}

static int compare_inodes(const void *a, const void *b) {
        const Inode *x = a, *y = b;
        if (x->dev != y->dev)
                return x->dev < y->dev ? -1 : 1;
        return x->ino < y->ino ? -1 : x->ino > y->ino ? 1 : 0;
}

static void snapshot_tree(const char *path, const char *skip, Snapshot *ret, TreeSize *ret_size) {
        _cleanup_close_ int fd = open_dir_at(AT_FDCWD, path);
        *ret = (Snapshot) { .hash = UINT64_C(0xcbf29ce484222325) };
        snapshot_entry(ret, fd, ".", skip);

        TreeSize size = { .entries = ret->entries };
        qsort(ret->inodes, ret->n_inodes, sizeof(Inode), compare_inodes);
        for (size_t i = 0; i < ret->n_inodes; i++) {
                if (i > 0 && compare_inodes(&ret->inodes[i - 1], &ret->inodes[i]) == 0)
                        continue;
                size.inodes++;
                size.allocated_bytes += (uint64_t) ret->inodes[i].blocks * 512;
                if (S_ISREG(ret->inodes[i].mode))
                        size.apparent_bytes += (uint64_t) ret->inodes[i].size;
        }
        free(ret->inodes);
        ret->inodes = NULL;
        if (ret_size)
                *ret_size = size;
}

/* ---- reports from the engine -------------------------------------------- */

typedef struct Reports {
        unsigned errors;
        unsigned warnings;
        char error_paths[MAX_REPORTS][128];
        char error_ops[MAX_REPORTS][64];
        char warning_paths[MAX_REPORTS][128];
} Reports;

static void on_error(const char *relpath, const char *operation, int error, void *userdata) {
        Reports *r = userdata;
        fprintf(stderr, "copy error: %s: %s: %s\n", relpath, operation, strerror(-error));
        if (r->errors < MAX_REPORTS) {
                snprintf(r->error_paths[r->errors], sizeof(r->error_paths[0]), "%s", relpath);
                snprintf(r->error_ops[r->errors], sizeof(r->error_ops[0]), "%s", operation);
        }
        r->errors++;
}

static void on_warning(const char *relpath, const char *operation, int error, void *userdata) {
        Reports *r = userdata;
        fprintf(stderr, "copy warning: %s: %s: %s\n", relpath, operation, strerror(-error));
        if (r->warnings < MAX_REPORTS)
                snprintf(r->warning_paths[r->warnings], sizeof(r->warning_paths[0]), "%s", relpath);
        r->warnings++;
}

static CopyOptions options_for(Reports *reports, CopyProgress *progress, unsigned jobs) {
        *reports = (Reports) { 0 };
        return (CopyOptions) {
                .jobs = jobs,
                .on_error = on_error,
                .on_warning = on_warning,
                .userdata = reports,
                .progress = progress,
        };
}

/* ---- loop devices and mounts -------------------------------------------- */

/* A loop device over image that detaches itself once its last user (the
 * mount) goes: keep the returned fd open until mounted. */
static int loop_attach(const char *image, char *ret_device, size_t size) {
        _cleanup_close_ int control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        _cleanup_close_ int image_fd = open(image, O_RDWR | O_CLOEXEC);

        if (control < 0 || image_fd < 0)
                return -errno;
        for (unsigned attempt = 0; attempt < 16; attempt++) {
                int n = ioctl(control, LOOP_CTL_GET_FREE);
                if (n < 0)
                        return -errno;
                snprintf(ret_device, size, "/dev/loop%i", n);
                int fd = open(ret_device, O_RDWR | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                struct loop_config config = { .fd = (uint32_t) image_fd, .info.lo_flags = LO_FLAGS_AUTOCLEAR };
                if (ioctl(fd, LOOP_CONFIGURE, &config) >= 0)
                        return fd;
                int r = -errno;
                close(fd);
                if (r != -EBUSY)
                        return r;
        }
        return -EBUSY;
}

/* A fresh filesystem of type fstype mounted on dir (created), its image in
 * the tmpfs at root/images: the test neither waits on nor loads the disk,
 * and removing its files is unmounting. */
static void mount_fresh(const char *root, const char *fstype, const char *dir, long long size) {
        ASSERT_TRUE(mkdir(dir, 0755) >= 0);
        if (streq(fstype, "tmpfs")) {
                ASSERT_TRUE(mount("tmpfs", dir, "tmpfs", 0, "size=1g,mode=0755") >= 0);
                return;
        }

        _cleanup_free_ char *image = strdup_printf("%s/images/%s-%s.img", root, fstype, strrchr(dir, '/') + 1);
        ASSERT_TRUE(image);
        _cleanup_close_ int fd = open(image, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(ftruncate(fd, size) >= 0);

        char device[64];
        _cleanup_close_ int loop = loop_attach(image, device, sizeof(device));
        if (loop < 0)
                fprintf(stderr, "loop device for %s: %s\n", image, strerror(-loop));
        ASSERT_TRUE(loop >= 0);

        _cleanup_free_ char *mkfs = NULL;
        if (streq(fstype, "xfs"))
                mkfs = strdup_printf("mkfs.xfs -q -f -m reflink=1 %s >/dev/null", device);
        else if (streq(fstype, "btrfs"))
                mkfs = strdup_printf("mkfs.btrfs -q -f %s >/dev/null", device);
        else
                mkfs = strdup_printf("mkfs.ext4 -q -F -b 4096 -I 256 %s >/dev/null", device);
        ASSERT_TRUE(mkfs);
        ASSERT_OK(run(mkfs));
        if (mount(device, dir, fstype, 0, NULL) < 0) {
                fprintf(stderr, "mount %s on %s: %m\n", device, dir);
                ASSERT_TRUE(false);
        }
        /* The image is not needed by name any more; the loop device holds it. */
        ASSERT_TRUE(unlink(image) >= 0);
}

static void unmount(const char *dir) {
        ASSERT_TRUE(umount2(dir, 0) >= 0);
        ASSERT_TRUE(rmdir(dir) >= 0);
}

/* The xattr namespaces a filesystem refuses (tmpfs lacked user.* before
 * Linux 6.6): their absence in the copy is expected and reported as
 * errors by the engine. */
static size_t probe_unsupported(const char *dir, const char *ret[static 3]) {
        static const char *const prefixes[] = { "user.", "trusted." };
        _cleanup_free_ char *probe = strdup_printf("%s/.probe", dir);
        size_t n = 0;

        ASSERT_TRUE(probe);
        close(open(probe, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
                char name[32];
                snprintf(name, sizeof(name), "%sprobe", prefixes[i]);
                if (setxattr(probe, name, "1", 1, 0) < 0 && errno == EOPNOTSUPP) {
                        fprintf(stderr, "NOTE: %s does not support %s* xattrs\n", dir, prefixes[i]);
                        ret[n++] = prefixes[i];
                }
        }
        ASSERT_TRUE(unlink(probe) >= 0);
        ret[n] = NULL;
        return n;
}

/* True when some extent of the file shares its blocks (a clone). */
static bool file_has_shared_extents(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct {
                struct fiemap map;
                struct fiemap_extent extents[64];
        } buf = { .map = { .fm_length = FIEMAP_MAX_OFFSET, .fm_flags = FIEMAP_FLAG_SYNC, .fm_extent_count = 64 } };

        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(ioctl(fd, FS_IOC_FIEMAP, &buf.map) >= 0);
        for (unsigned i = 0; i < buf.map.fm_mapped_extents; i++)
                if (buf.map.fm_extents[i].fe_flags & FIEMAP_EXTENT_SHARED)
                        return true;
        return false;
}

/* ---- the tests ---------------------------------------------------------- */

static void check_source_unchanged(const char *src, const char *skip, const Snapshot *before) {
        Snapshot after;
        snapshot_tree(src, skip, &after, NULL);
        ASSERT_EQ(after.entries, before->entries);
        ASSERT_TRUE(after.hash == before->hash);
}

/* Everything on one filesystem, plus a mount point inside the source and a
 * second copy into an existing empty directory with a single worker. */
static void test_local(const char *root) {
        const TreeShape shape = { .wide = WIDE_LOCAL, .random_size = 3 * 1024 * 1024 + 123, .mount_point = true };
        _cleanup_free_ char *src = strdup_printf("%s/src", root), *dst = strdup_printf("%s/dst", root),
                            *dst2 = strdup_printf("%s/dst2", root), *mnt = strdup_printf("%s/src/mnt", root),
                            *inside = strdup_printf("%s/src/mnt/inside", root);
        ASSERT_TRUE(src && dst && dst2 && mnt && inside);

        ASSERT_TRUE(mkdir(src, 0755) >= 0);
        _cleanup_close_ int top = open_dir_at(AT_FDCWD, src);
        build_tree(top, &shape);
        ASSERT_TRUE(mount("tmpfs", mnt, "tmpfs", 0, "size=1m") >= 0);
        write_file_at(AT_FDCWD, inside, "not to be copied", 16);

        Snapshot before;
        TreeSize expected, measured;
        snapshot_tree(src, "mnt", &before, &expected);
        ASSERT_OK(tree_size(src, &measured));
        ASSERT_EQ(measured.entries, expected.entries);
        ASSERT_EQ(measured.inodes, expected.inodes);
        ASSERT_EQ(measured.apparent_bytes, expected.apparent_bytes);
        ASSERT_EQ(measured.allocated_bytes, expected.allocated_bytes);

        Reports reports;
        CopyProgress progress = { 0 };
        CopyOptions opts = options_for(&reports, &progress, 0);
        CopyStats stats;
        uint64_t start = now_usec();
        ASSERT_OK(copy_tree(src, dst, &opts, &stats));
        fprintf(stderr, "local copy of %" PRIu64 " entries: %.2f s\n", expected.entries,
                (double) (now_usec() - start) / 1e6);

        ASSERT_EQ(reports.errors, 0);
        ASSERT_EQ(stats.errors, 0);
        ASSERT_EQ(reports.warnings, 1);
        ASSERT_STREQ(reports.warning_paths[0], "mnt");
        ASSERT_EQ(stats.skipped_mounts, 1);
        /* extra names: hl 2, link groups 2 each, wh-b, fifo-link, sym-hl, bottom-link */
        ASSERT_EQ(stats.hardlinks, 2 + 2 * LINK_GROUPS + 4);
        ASSERT_EQ(stats.devices, 4);
        ASSERT_EQ(stats.fifos, 1);
        ASSERT_EQ(stats.sockets, 1);
        ASSERT_EQ(stats.symlinks, 5);
        ASSERT_EQ(stats.directories, 1 + 16 + DEEP_LEVELS);
        ASSERT_EQ(atomic_load(&progress.entries_done), expected.entries);
        ASSERT_EQ(atomic_load(&progress.bytes_done), expected.apparent_bytes);
        ASSERT_TRUE(access(dst, F_OK) >= 0);
        ASSERT_EQ(compare_trees(src, dst, "mnt", NULL, true), 0);
        check_source_unchanged(src, "mnt", &before);

        /* An existing empty directory, one worker. */
        ASSERT_TRUE(mkdir(dst2, 0700) >= 0);
        opts = options_for(&reports, NULL, 1);
        ASSERT_OK(copy_tree(src, dst2, &opts, &stats));
        ASSERT_EQ(reports.errors, 0);
        ASSERT_EQ(compare_trees(src, dst2, "mnt", NULL, true), 0);
        check_source_unchanged(src, "mnt", &before);

        ASSERT_TRUE(umount2(mnt, 0) >= 0);
}

static void test_bad_destinations(const char *root) {
        _cleanup_free_ char *src = strdup_printf("%s/small", root), *nonempty = strdup_printf("%s/nonempty", root),
                            *inside = strdup_printf("%s/small/copy", root),
                            *orphan = strdup_printf("%s/missing/copy", root),
                            *missing = strdup_printf("%s/missing-src", root),
                            *ok = strdup_printf("%s/small-copy", root);
        ASSERT_TRUE(src && nonempty && inside && orphan && missing && ok);

        ASSERT_TRUE(mkdir(src, 0755) >= 0);
        ASSERT_TRUE(mkdir(nonempty, 0755) >= 0);
        _cleanup_close_ int fd = open_dir_at(AT_FDCWD, nonempty);
        write_file_at(fd, "occupied", "x", 1);

        ASSERT_EQ(copy_tree(src, nonempty, NULL, NULL), -ENOTEMPTY);
        ASSERT_EQ(copy_tree(src, src, NULL, NULL), -EINVAL);
        ASSERT_EQ(copy_tree(src, inside, NULL, NULL), -EINVAL);
        ASSERT_TRUE(access(inside, F_OK) < 0);          /* not left behind */
        ASSERT_EQ(copy_tree(src, orphan, NULL, NULL), -ENOENT);
        ASSERT_EQ(copy_tree(missing, ok, NULL, NULL), -ENOENT);
        ASSERT_TRUE(access(ok, F_OK) < 0);
        /* An empty tree, no options. */
        ASSERT_OK(copy_tree(src, ok, NULL, NULL));
        ASSERT_EQ(compare_trees(src, ok, NULL, NULL, true), 0);
}

/* A destination too small for one file: that file is reported with its
 * path, everything else is still copied, and the result is -EIO. One
 * worker, so the other files are not racing the big one for space. */
/* A copy onto a full filesystem: "big" alone fails, once, and is not left
 * half there; everything else is there and right. */
static void assert_only_big_failed(const char *src, const char *dst, unsigned jobs, uint64_t other_files) {
        Reports reports;
        CopyOptions opts = options_for(&reports, NULL, jobs);
        CopyStats stats;
        ASSERT_EQ(copy_tree(src, dst, &opts, &stats), -EIO);
        ASSERT_EQ(reports.errors, 1);
        ASSERT_EQ(stats.errors, 1);
        ASSERT_STREQ(reports.error_paths[0], "big");
        fprintf(stderr, "ENOSPC (%u jobs) reported as: %s: %s\n", jobs, reports.error_paths[0], reports.error_ops[0]);
        ASSERT_EQ(stats.regular_files, other_files);
        ASSERT_EQ(compare_trees(src, dst, "big", NULL, true), 0);
        ASSERT_TRUE(access(dst, F_OK) >= 0);
        _cleanup_free_ char *big = strdup_printf("%s/big", dst);
        ASSERT_TRUE(big && access(big, F_OK) < 0);
}

/* small0 .. small<n-1>, each holding its own name. */
static void write_small_files_at(int dir_fd, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                char name[16];
                snprintf(name, sizeof(name), "small%u", i);
                write_file_at(dir_fd, name, name, strlen(name));
        }
}

static void test_enospc(const char *root) {
        _cleanup_free_ char *src = strdup_printf("%s/full-src", root), *mnt = strdup_printf("%s/full-mnt", root),
                            *dst = strdup_printf("%s/full-mnt/copy", root);
        ASSERT_TRUE(src && mnt && dst);

        ASSERT_TRUE(mkdir(src, 0755) >= 0);
        _cleanup_close_ int top = open_dir_at(AT_FDCWD, src);
        write_file_at(top, "a-small", "a", 1);
        random_file_at(top, "big", 8 << 20);
        _cleanup_close_ int z = make_dir_at(top, "z", 0755);
        write_small_files_at(z, 20);
        ASSERT_TRUE(mkdir(mnt, 0755) >= 0);
        ASSERT_TRUE(mount("tmpfs", mnt, "tmpfs", 0, "size=2m") >= 0);

        assert_only_big_failed(src, dst, 1, 21);

        unmount(mnt);
}

typedef struct Canceller {
        CopyProgress *progress;
        atomic_int *cancel;
        atomic_bool done;
        uint64_t after;                 /* entries */
        uint64_t after_bytes;           /* or bytes, when not 0 */
} Canceller;

static void *cancel_later(void *userdata) {
        Canceller *c = userdata;
        while (!atomic_load(&c->done)) {
                if (c->after_bytes > 0 ? atomic_load(&c->progress->bytes_done) >= c->after_bytes
                                       : atomic_load(&c->progress->entries_done) >= c->after) {
                        atomic_store(c->cancel, 1);
                        break;
                }
                (void) usleep(100);
        }
        return NULL;
}

/* Replaces whatever the interrupted copy left at name by a regular file of
 * the given size without blocks, with the source's mode, owner and times:
 * what a crash can leave behind when data was not yet written back. */
static void fake_crashed_file(int src_dir, int dst_dir, const char *name) {
        struct stat st;
        ASSERT_TRUE(fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) >= 0);
        (void) unlinkat(dst_dir, name, 0);
        _cleanup_close_ int fd = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(ftruncate(fd, st.st_size) >= 0);
        ASSERT_TRUE(fchown(fd, st.st_uid, st.st_gid) >= 0);
        ASSERT_TRUE(fchmod(fd, st.st_mode & 07777) >= 0);
        struct timespec times[2] = { st.st_atim, st.st_mtim };
        ASSERT_TRUE(futimens(fd, times) >= 0);
}

/* Cancelled halfway, the copy says so and stops; resuming keeps what is
 * complete, redoes what is partial, stale or of the wrong type, and ends
 * equal to the source. */
static void test_cancel_and_resume(const char *root) {
        const TreeShape shape = { .wide = 5000, .random_size = 8 * 1024 * 1024 + 1 };
        _cleanup_free_ char *src = strdup_printf("%s/resume-src", root), *dst = strdup_printf("%s/resume-dst", root);
        ASSERT_TRUE(src && dst);

        ASSERT_TRUE(mkdir(src, 0755) >= 0);
        _cleanup_close_ int top = open_dir_at(AT_FDCWD, src);
        build_tree(top, &shape);
        Snapshot before;
        TreeSize size;
        snapshot_tree(src, NULL, &before, &size);

        Reports reports;
        CopyProgress progress = { 0 };
        atomic_int cancel = 0;
        CopyOptions opts = options_for(&reports, &progress, 4);
        opts.cancel = &cancel;
        Canceller canceller = { .progress = &progress, .cancel = &cancel, .after = 1500 };
        pthread_t thread;
        ASSERT_TRUE(pthread_create(&thread, NULL, cancel_later, &canceller) == 0);
        CopyStats stats;
        int r = copy_tree(src, dst, &opts, &stats);
        atomic_store(&canceller.done, true);
        ASSERT_TRUE(pthread_join(thread, NULL) == 0);
        ASSERT_EQ(r, -ECANCELED);
        ASSERT_EQ(reports.errors, 0);
        ASSERT_TRUE(atomic_load(&progress.entries_done) < size.entries);
        fprintf(stderr, "cancelled after %" PRIu64 " of %" PRIu64 " entries\n",
                (uint64_t) atomic_load(&progress.entries_done), size.entries);

        /* What an interruption could have left besides. */
        _cleanup_close_ int copy = open_dir_at(AT_FDCWD, dst);
        fake_crashed_file(top, copy, "with space");
        fake_crashed_file(top, copy, "random.bin");
        (void) unlinkat(copy, "sym-abs", 0);
        write_file_at(copy, "sym-abs", "not a symlink", 13);
        (void) unlinkat(copy, "emptydir", AT_REMOVEDIR);
        write_file_at(copy, "emptydir", "not a directory", 15);
        (void) unlinkat(copy, "empty", 0);
        write_file_at(copy, "empty", "partial", 7);

        opts = options_for(&reports, NULL, 0);
        opts.resume = true;
        ASSERT_OK(copy_tree(src, dst, &opts, &stats));
        ASSERT_EQ(reports.errors, 0);
        fprintf(stderr, "resumed: %" PRIu64 " files kept, %" PRIu64 " copied\n", stats.kept,
                stats.regular_files - stats.kept);
        ASSERT_EQ(compare_trees(src, dst, NULL, NULL, true), 0);

        /* Resuming a finished copy keeps every single-link file. */
        ASSERT_OK(copy_tree(src, dst, &opts, &stats));
        ASSERT_EQ(reports.errors, 0);
        ASSERT_EQ(stats.kept, stats.regular_files - 1 - LINK_GROUPS - 1);   /* hl-a, link groups, bottom */
        ASSERT_EQ(compare_trees(src, dst, NULL, NULL, true), 0);
        check_source_unchanged(src, NULL, &before);
}

/* ---- large files, copied in chunks by several workers ------------------ */

#define MIB (1024LL * 1024)
/* The engine's chunk size: the layouts below put holes and data across
 * its boundaries. */
#define CHUNK (32 * MIB)

/* A file of size bytes with random data only in the given [start, end)
 * ranges (ascending, MiB-aligned starts), holes elsewhere. */
static void sparse_file_at(int dir_fd, const char *name, long long size, const long long (*ranges)[2], size_t n) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        _cleanup_free_ char *buf = malloc(4 * MIB);

        ASSERT_TRUE(fd >= 0 && buf);
        for (size_t i = 0; i < n; i++)
                for (long long pos = ranges[i][0]; pos < ranges[i][1];) {
                        size_t want = (size_t) MIN(4 * MIB, ranges[i][1] - pos);
                        random_bytes(buf, want);
                        ASSERT_TRUE(pwrite(fd, buf, want, pos) == (ssize_t) want);
                        pos += (long long) want;
                }
        ASSERT_TRUE(ftruncate(fd, size) >= 0);
        set_times_at(dir_fd, name, 1300000000, 123456789);
}

static void build_large_tree(int top) {
        /* Data across the first chunk boundary, a hole across the second,
         * data up to the very last byte (not chunk-aligned). */
        static const long long data_at_end[][2] = {
                { 0, 1 * MIB }, { 31 * MIB, 33 * MIB }, { 70 * MIB, 71 * MIB }, { 99 * MIB, 100 * MIB + 5 },
        };
        sparse_file_at(top, "sparse-data-at-end", 100 * MIB + 5, data_at_end, ELEMENTSOF(data_at_end));
        /* A hole from the start, data across two boundaries, then a hole
         * over the last two chunks up to the end. */
        static const long long hole_at_end[][2] = { { 2 * MIB, 40 * MIB }, { 63 * MIB, 65 * MIB } };
        sparse_file_at(top, "sparse-hole-at-end", 4 * CHUNK - 3, hole_at_end, ELEMENTSOF(hole_at_end));
        /* Nothing but a hole, several chunks long. */
        sparse_file_at(top, "sparse-only-hole", 3 * CHUNK, NULL, 0);

        /* Many large files in one directory: one listing batch. */
        _cleanup_close_ int many = make_dir_at(top, "many", 0750);
        for (unsigned i = 0; i < 12; i++) {
                char name[32];
                snprintf(name, sizeof(name), "segment-%02u", i);
                random_file_at(many, name, (size_t) (9 * MIB + (long long) i * 3 * MIB + i));
                set_times_at(many, name, 1200000000 + (time_t) i, (long) i * 1000);
        }
        write_file_at(many, "small", "small", 5);

        /* One large inode with three names in two directories, next to
         * other large files so that its names meet busy workers. */
        random_file_at(many, "linked", (size_t) (2 * CHUNK + 12345));
        _cleanup_close_ int other = make_dir_at(top, "other", 0755);
        ASSERT_TRUE(linkat(many, "linked", other, "linked-b", 0) >= 0);
        ASSERT_TRUE(linkat(many, "linked", top, "linked-c", 0) >= 0);
        ASSERT_TRUE(fchownat(many, "linked", 1234, 5678, 0) >= 0);
        set_xattr_at(many, "linked", "user.origin", "large", 5);
        set_times_at(many, "linked", 1250000000, 5);

        set_times_at(top, "many", 1100000000, 1);
        set_times_at(top, "other", 1100000000, 2);
}

/* The copy's data lies only where the source has data, and it allocates
 * no more than the source does, up to one ext4 extent block: chunks
 * written side by side can leave the data in more extents than the inode
 * holds inline (seen under ASan: 4 KiB more). */
static void check_holes_kept(const char *src, const char *dst, const char *name) {
        _cleanup_close_ int s = open_dir_at(AT_FDCWD, src), d = open_dir_at(AT_FDCWD, dst);
        _cleanup_close_ int sfd = openat(s, name, O_RDONLY | O_CLOEXEC | O_NOATIME);
        _cleanup_close_ int dfd = openat(d, name, O_RDONLY | O_CLOEXEC | O_NOATIME);
        struct stat ss, ds;

        ASSERT_TRUE(sfd >= 0 && dfd >= 0);
        ASSERT_TRUE(fstat(sfd, &ss) >= 0 && fstat(dfd, &ds) >= 0);
        for (off_t pos = 0; pos < ds.st_size;) {
                off_t data = lseek(dfd, pos, SEEK_DATA);
                if (data < 0) {
                        ASSERT_TRUE(errno == ENXIO);
                        break;
                }
                off_t hole = lseek(dfd, data, SEEK_HOLE);
                ASSERT_TRUE(hole > data);
                /* the same range is data in the source */
                if (lseek(sfd, data, SEEK_DATA) != data || lseek(sfd, data, SEEK_HOLE) < hole)
                        fprintf(stderr, "%s: copy has data in [%jd, %jd), the source a hole\n", name,
                                (intmax_t) data, (intmax_t) hole);
                ASSERT_TRUE(lseek(sfd, data, SEEK_DATA) == data);
                ASSERT_TRUE(lseek(sfd, data, SEEK_HOLE) >= hole);
                pos = hole;
        }
        fprintf(stderr, "%s: %jd blocks, source %jd\n", name, (intmax_t) ds.st_blocks, (intmax_t) ss.st_blocks);
        ASSERT_TRUE(ds.st_blocks <= ss.st_blocks + 4096 / 512);
}

/* Sparse files over several chunks, a directory of large files and a
 * hardlinked large file, copied within one filesystem (copy_file_range)
 * and to another one (read and write): equal byte for byte, holes kept. */
static void test_large_files(const char *root, const char *work) {
        _cleanup_free_ char *src = strdup_printf("%s/large-src", work), *same = strdup_printf("%s/large-same", work),
                            *mnt = strdup_printf("%s/large-other-fs", root),
                            *other = strdup_printf("%s/large-other-fs/copy", root);
        ASSERT_TRUE(src && same && mnt && other);

        ASSERT_TRUE(mkdir(src, 0755) >= 0);
        {
                _cleanup_close_ int top = open_dir_at(AT_FDCWD, src);
                build_large_tree(top);
        }
        Snapshot before;
        TreeSize size;
        snapshot_tree(src, NULL, &before, &size);

        mount_fresh(root, "ext4", mnt, 2LL << 30);
        const char *const targets[] = { same, other };
        const unsigned jobs[] = { 4, 0 };
        for (size_t i = 0; i < ELEMENTSOF(targets); i++) {
                Reports reports;
                CopyProgress progress = { 0 };
                CopyOptions opts = options_for(&reports, &progress, jobs[i]);
                CopyStats stats;
                uint64_t start = now_usec();
                ASSERT_OK(copy_tree(src, targets[i], &opts, &stats));
                fprintf(stderr, "large files to %s: %.2f s\n", targets[i], (double) (now_usec() - start) / 1e6);
                ASSERT_EQ(reports.errors, 0);
                ASSERT_EQ(reports.warnings, 0);
                ASSERT_EQ(stats.regular_files, 3 + 12 + 1 + 1);
                ASSERT_EQ(stats.hardlinks, 2);
                ASSERT_EQ(atomic_load(&progress.entries_done), size.entries);
                ASSERT_EQ(atomic_load(&progress.bytes_done), size.apparent_bytes);
                ASSERT_EQ(compare_trees(src, targets[i], NULL, NULL, false), 0);
                check_holes_kept(src, targets[i], "sparse-data-at-end");
                check_holes_kept(src, targets[i], "sparse-hole-at-end");
                check_holes_kept(src, targets[i], "sparse-only-hole");
        }
        check_source_unchanged(src, NULL, &before);
        unmount(mnt);
}

/* A target too small for one large file: every chunk of it fails, the file
 * is reported once with its path and removed, the rest is copied, and the
 * result is -EIO. */
static void test_large_enospc(const char *root) {
        _cleanup_free_ char *src = strdup_printf("%s/full-large-src", root),
                            *mnt = strdup_printf("%s/full-large-mnt", root),
                            *dst = strdup_printf("%s/full-large-mnt/copy", root);
        ASSERT_TRUE(src && mnt && dst);

        ASSERT_TRUE(mkdir(src, 0755) >= 0);
        _cleanup_close_ int top = open_dir_at(AT_FDCWD, src);
        random_file_at(top, "big", (size_t) (5 * CHUNK + 17));
        write_small_files_at(top, 20);
        mount_fresh(root, "ext4", mnt, 64 * MIB);

        assert_only_big_failed(src, dst, 8, 20);
        unmount(mnt);
}

/* Cancelled in the middle of large files: no error, no partial file left
 * that could pass for a copy; a half-written large file such as a crash
 * leaves (full size, first chunk written, owner and mode already right) is
 * redone by the resume. */
static void test_large_cancel_and_resume(const char *work) {
        _cleanup_free_ char *src = strdup_printf("%s/large-src", work), *dst = strdup_printf("%s/large-resume", work);
        ASSERT_TRUE(src && dst);

        TreeSize size;
        Snapshot before;
        snapshot_tree(src, NULL, &before, &size);

        Reports reports;
        CopyProgress progress = { 0 };
        atomic_int cancel = 0;
        CopyOptions opts = options_for(&reports, &progress, 4);
        opts.cancel = &cancel;
        Canceller canceller = { .progress = &progress, .cancel = &cancel, .after_bytes = 150 * MIB };
        pthread_t thread;
        ASSERT_TRUE(pthread_create(&thread, NULL, cancel_later, &canceller) == 0);
        CopyStats stats;
        int r = copy_tree(src, dst, &opts, &stats);
        atomic_store(&canceller.done, true);
        ASSERT_TRUE(pthread_join(thread, NULL) == 0);
        ASSERT_EQ(r, -ECANCELED);
        ASSERT_EQ(reports.errors, 0);
        ASSERT_TRUE(atomic_load(&progress.bytes_done) < size.apparent_bytes);
        fprintf(stderr, "large copy cancelled after %" PRIu64 " of %" PRIu64 " bytes, %" PRIu64 " files done\n",
                (uint64_t) atomic_load(&progress.bytes_done), size.apparent_bytes, stats.regular_files);

        /* Whatever is in the copy now is complete: entries are only
         * missing. */
        _cleanup_close_ int s = open_dir_at(AT_FDCWD, src);
        _cleanup_close_ int d = open_dir_at(AT_FDCWD, dst);
        _cleanup_close_ int smany = open_dir_at(s, "many");
        int dmany = openat(d, "many", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dmany >= 0) {
                size_t n;
                char **names = list_dir(dmany, &n);
                for (size_t i = 0; i < n; i++) {
                        struct stat a, b;
                        ASSERT_TRUE(fstatat(smany, names[i], &a, 0) >= 0 && fstatat(dmany, names[i], &b, 0) >= 0);
                        ASSERT_EQ(a.st_size, b.st_size);
                        ASSERT_EQ(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
                }
                strv_freep(&names);
                close(dmany);
        }

        /* A crash in the middle of segment-11: final size, first chunk
         * written, mode and owner set, times not yet. */
        ASSERT_TRUE(mkdirat(d, "many", 0700) >= 0 || errno == EEXIST);
        dmany = open_dir_at(d, "many");
        (void) unlinkat(dmany, "segment-11", 0);
        {
                struct stat st;
                ASSERT_TRUE(fstatat(smany, "segment-11", &st, 0) >= 0);
                _cleanup_close_ int in = openat(smany, "segment-11", O_RDONLY | O_CLOEXEC);
                _cleanup_close_ int out = openat(dmany, "segment-11", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                _cleanup_free_ char *buf = malloc(CHUNK);
                ASSERT_TRUE(in >= 0 && out >= 0 && buf);
                ASSERT_TRUE(ftruncate(out, st.st_size) >= 0);
                ASSERT_TRUE(pread(in, buf, CHUNK, 0) == CHUNK);
                ASSERT_TRUE(pwrite(out, buf, CHUNK, 0) == CHUNK);
                ASSERT_TRUE(fchown(out, st.st_uid, st.st_gid) >= 0);
                ASSERT_TRUE(fchmod(out, st.st_mode & 07777) >= 0);
        }
        close(dmany);

        opts = options_for(&reports, NULL, 0);
        opts.resume = true;
        ASSERT_OK(copy_tree(src, dst, &opts, &stats));
        ASSERT_EQ(reports.errors, 0);
        fprintf(stderr, "large resume: %" PRIu64 " files kept, %" PRIu64 " copied\n", stats.kept,
                stats.regular_files - stats.kept);
        ASSERT_EQ(compare_trees(src, dst, NULL, NULL, false), 0);
        check_holes_kept(src, dst, "sparse-hole-at-end");
        check_source_unchanged(src, NULL, &before);
}

static void copy_and_compare(const char *src, const char *dst, const char *label, bool expect_clones) {
        const char *unsupported[3];
        _cleanup_free_ char *dst_parent = strdup(dst);
        ASSERT_TRUE(dst_parent);
        *strrchr(dst_parent, '/') = 0;
        size_t n_unsupported = probe_unsupported(dst_parent, unsupported);

        Reports reports;
        CopyOptions opts = options_for(&reports, NULL, 0);
        CopyStats stats;
        Snapshot before;
        snapshot_tree(src, NULL, &before, NULL);

        uint64_t start = now_usec();
        int r = copy_tree(src, dst, &opts, &stats);
        fprintf(stderr, "%s: copied in %.2f s, %u errors, %u warnings\n", label,
                (double) (now_usec() - start) / 1e6, reports.errors, reports.warnings);
        if (n_unsupported == 0) {
                ASSERT_OK(r);
                ASSERT_EQ(reports.errors, 0);
        } else
                ASSERT_EQ(r, -EIO);
        ASSERT_EQ(reports.warnings, 0);
        ASSERT_EQ(compare_trees(src, dst, NULL, unsupported, true), 0);
        check_source_unchanged(src, NULL, &before);

        if (expect_clones) {
                _cleanup_free_ char *random = strdup_printf("%s/random.bin", dst);
                ASSERT_TRUE(random);
                ASSERT_TRUE(file_has_shared_extents(random));
        }
}

static int test_filesystems(const char *root) {
        const TreeShape shape = { .wide = WIDE_LOOP, .random_size = 1024 * 1024 + 7 };
        static const char *const targets[] = { "xfs", "btrfs", "ext4", "tmpfs" };

        if (!have_program("mkfs.xfs") || !have_program("mkfs.btrfs"))
                return test_skip("mkfs.xfs and mkfs.btrfs are needed");

        /* ext4 source onto each kind of target. */
        _cleanup_free_ char *src_mnt = strdup_printf("%s/ext4-src", root),
                            *src = strdup_printf("%s/ext4-src/tree", root);
        ASSERT_TRUE(src_mnt && src);
        mount_fresh(root, "ext4", src_mnt, IMAGE_SIZE);
        ASSERT_TRUE(mkdir(src, 0755) >= 0);
        {
                _cleanup_close_ int top = open_dir_at(AT_FDCWD, src);
                build_tree(top, &shape);
        }
        for (size_t i = 0; i < ELEMENTSOF(targets); i++) {
                _cleanup_free_ char *mnt = strdup_printf("%s/to-%s", root, targets[i]),
                                    *dst = strdup_printf("%s/to-%s/copy", root, targets[i]),
                                    *label = strdup_printf("ext4 -> %s", targets[i]);
                ASSERT_TRUE(mnt && dst && label);
                mount_fresh(root, targets[i], mnt, IMAGE_SIZE);
                copy_and_compare(src, dst, label, false);
                unmount(mnt);
        }
        unmount(src_mnt);

        /* Within one xfs and one btrfs: clones. On btrfs a subvolume inside
         * the source is part of the tree (its own st_dev, but no mount). */
        static const char *const cloning[] = { "xfs", "btrfs" };
        for (size_t i = 0; i < ELEMENTSOF(cloning); i++) {
                _cleanup_free_ char *mnt = strdup_printf("%s/same-%s", root, cloning[i]),
                                    *tree = strdup_printf("%s/same-%s/tree", root, cloning[i]),
                                    *dst = strdup_printf("%s/same-%s/copy", root, cloning[i]),
                                    *label = strdup_printf("%s -> same %s", cloning[i], cloning[i]);
                ASSERT_TRUE(mnt && tree && dst && label);
                mount_fresh(root, cloning[i], mnt, IMAGE_SIZE);
                ASSERT_TRUE(mkdir(tree, 0755) >= 0);
                {
                        _cleanup_close_ int top = open_dir_at(AT_FDCWD, tree);
                        build_tree(top, &shape);
                }
                if (streq(cloning[i], "btrfs")) {
                        _cleanup_free_ char *command =
                                strdup_printf("btrfs -q subvolume create %s/subvolume >/dev/null", tree);
                        ASSERT_TRUE(command);
                        ASSERT_OK(run(command));
                        _cleanup_free_ char *sub = strdup_printf("%s/subvolume", tree);
                        _cleanup_close_ int fd = open_dir_at(AT_FDCWD, sub);
                        write_file_at(fd, "in-subvolume", "sv", 2);
                }
                copy_and_compare(tree, dst, label, true);
                unmount(mnt);
        }
        return 0;
}

/* Runs in the child, in its own mount namespace. */
static int run_tests(const char *root) {
        _cleanup_free_ char *images = strdup_printf("%s/images", root), *work = strdup_printf("%s/work", root);
        uint64_t start = now_usec();
        int r = 0;

        ASSERT_TRUE(images && work);
        if (unshare(CLONE_NEWNS) < 0)
                return test_skip("cannot create a mount namespace");
        ASSERT_TRUE(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) >= 0);

        /* The first tests want a real disk filesystem: ext4 on a loop
         * device, or the temp dir itself without loop devices. */
        bool loop = have_program("mkfs.ext4") && access("/dev/loop-control", W_OK) >= 0;
        if (loop) {
                ASSERT_TRUE(mkdir(images, 0700) >= 0);
                ASSERT_TRUE(mount("tmpfs", images, "tmpfs", 0, "size=8g,mode=0700") >= 0);
                mount_fresh(root, "ext4", work, 4LL << 30);
        } else
                ASSERT_TRUE(mkdir(work, 0755) >= 0);

        test_bad_destinations(work);
        test_local(work);
        fprintf(stderr, "[%.1f s] one filesystem done\n", (double) (now_usec() - start) / 1e6);
        test_enospc(work);
        test_cancel_and_resume(work);
        fprintf(stderr, "[%.1f s] ENOSPC, cancel and resume done\n", (double) (now_usec() - start) / 1e6);
        if (!loop)
                return test_skip("loop devices and mkfs.ext4 are needed for the filesystem tests");

        test_large_files(root, work);
        test_large_enospc(root);
        test_large_cancel_and_resume(work);
        fprintf(stderr, "[%.1f s] large files done\n", (double) (now_usec() - start) / 1e6);

        unmount(work);
        r = test_filesystems(root);
        fprintf(stderr, "[%.1f s] loop-mounted filesystems done\n", (double) (now_usec() - start) / 1e6);
        ASSERT_TRUE(umount2(images, 0) >= 0);
        return r;
}

/* rm -rf with *at() calls (the deep chain is longer than PATH_MAX), never
 * leaving the filesystem of the top. */
static void remove_tree_at(int dir_fd, const char *name, dev_t dev) {
        struct stat st;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return;
        if (S_ISDIR(st.st_mode) && st.st_dev == dev) {
                int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd >= 0) {
                        size_t n;
                        char **names = list_dir(fd, &n);
                        for (size_t i = 0; i < n; i++)
                                remove_tree_at(fd, names[i], dev);
                        strv_freep(&names);
                        close(fd);
                }
        }
        (void) unlinkat(dir_fd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
}

int main(void) {
        if (geteuid() != 0)
                return test_skip("needs root: chown, mknod, trusted.* xattrs, mounts");

        char root[] = "/var/tmp/ddr-test-copy-XXXXXX";
        ASSERT_TRUE(mkdtemp(root));
        struct stat st;
        ASSERT_TRUE(stat(root, &st) >= 0);

        fflush(NULL);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0)
                exit(run_tests(root));      /* exit(), so that LeakSanitizer looks at the child */

        int status;
        ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
        remove_tree_at(AT_FDCWD, root, st.st_dev);
        ASSERT_TRUE(access(root, F_OK) < 0);

        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        fprintf(stderr, "test process killed by signal %i\n", WTERMSIG(status));
        return EXIT_FAILURE;
}
