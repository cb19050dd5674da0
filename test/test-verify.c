/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <acl/libacl.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

#include "tests.h"
#include "verify.h"

/* Deeper than PATH_MAX: 300 levels of 20 bytes plus '/'. */
#define DEEP_LEVELS 300
#define DEEP_NAME "level-of-a-deep-tree"
#define BIG_SIZE (3U * 1024U * 1024U)
#define SPARSE_SIZE (16U * 1024U * 1024U)

static const char odd_newline[] = "new\nline";
static const char odd_bytes[] = "\xff\xfe-latin1";

typedef struct Difference {
        char *relpath, *what, *detail;
} Difference;

typedef struct Differences {
        Difference *items;
        size_t n;
} Differences;

static void differences_clear(Differences *d) {
        for (size_t i = 0; i < d->n; i++) {
                free(d->items[i].relpath);
                free(d->items[i].what);
                free(d->items[i].detail);
        }
        free(d->items);
        *d = (Differences) {};
}

static void collect(const char *relpath, const char *what, const char *detail, void *userdata) {
        Differences *d = userdata;

        d->items = reallocarray(d->items, d->n + 1, sizeof(Difference));
        ASSERT_TRUE(d->items);
        d->items[d->n++] = (Difference) {
                .relpath = strdup(relpath),
                .what = strdup(what),
                .detail = strdup(detail),
        };
        ASSERT_TRUE(d->items[d->n - 1].relpath && d->items[d->n - 1].what && d->items[d->n - 1].detail);
}

static void print_differences(const Differences *d) {
        for (size_t i = 0; i < d->n; i++) {
                const char *relpath = d->items[i].relpath;
                size_t len = strlen(relpath);

                fputs("  difference: ", stderr);
                /* The deep chain's name would fill the log. */
                if (len > 120) {
                        fputs("...", stderr);
                        relpath += len - 120;
                }
                /* Raw names: keep the log on one line per difference. */
                for (const char *p = relpath; *p; p++)
                        if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
                                fprintf(stderr, "\\x%02x", (unsigned char) *p);
                        else
                                fputc(*p, stderr);
                fprintf(stderr, ": %s: %s\n", d->items[i].what, d->items[i].detail);
        }
}

static VerifyStats verify(const char *a, const char *b, bool content, unsigned jobs, Differences *ret) {
        VerifyStats stats = {};
        VerifyOptions opts = {
                .content = content,
                .jobs = jobs,
                .on_difference = collect,
                .userdata = ret,
        };

        differences_clear(ret);
        ASSERT_OK(verify_trees(a, b, &opts, &stats));
        print_differences(ret);
        ASSERT_EQ(stats.differences, ret->n);
        return stats;
}

typedef struct Expected {
        const char *relpath;
        const char *what;
        const char *detail;         /* NULL: any */
} Expected;

/* Exactly these differences, in any order. */
static void expect_exactly(const Differences *d, const Expected *expected, size_t n) {
        ASSERT_EQ(d->n, n);
        for (size_t i = 0; i < n; i++) {
                bool found = false;
                for (size_t k = 0; k < d->n && !found; k++)
                        found = streq(d->items[k].relpath, expected[i].relpath) &&
                                streq(d->items[k].what, expected[i].what) &&
                                (!expected[i].detail || streq(d->items[k].detail, expected[i].detail));
                if (!found)
                        fprintf(stderr, "expected difference not reported: %s: %s: %s\n", expected[i].relpath,
                                expected[i].what, expected[i].detail ? expected[i].detail : "*");
                ASSERT_TRUE(found);
        }
}

#define EXPECT(d, ...)                                                        \
        do {                                                                  \
                const Expected _e_[] = { __VA_ARGS__ };                       \
                expect_exactly((d), _e_, ELEMENTSOF(_e_));                    \
        } while (0)

static char *path_join(const char *a, const char *b) {
        char *p = strdup_printf("%s/%s", a, b);
        ASSERT_TRUE(p);
        return p;
}

static void run_shell(const char *command) {
        int status = system(command);
        if (status != 0)
                fprintf(stderr, "command failed (%d): %s\n", status, command);
        ASSERT_EQ(status, 0);
}

static void write_file_at(int dirfd, const char *name, const void *data, size_t size, mode_t mode) {
        _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(write_all(fd, data, size));
}

static int open_dir_at(int dirfd, const char *name) {
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        return fd;
}

static void mkdir_at(int dirfd, const char *name, mode_t mode) {
        ASSERT_TRUE(mkdirat(dirfd, name, mode) >= 0);
        /* The umask applies to mkdir(); the modes here are exact. */
        ASSERT_TRUE(fchmodat(dirfd, name, mode, 0) >= 0);
}

static void set_xattr_at(int dirfd, const char *name, const char *xname, const void *value, size_t size) {
        char path[64 + NAME_MAX];
        snprintf(path, sizeof path, "/proc/self/fd/%i/%s", dirfd, name);
        ASSERT_TRUE(lsetxattr(path, xname, value, size, 0) >= 0);
}

static void set_acl(const char *path, acl_type_t type, const char *text) {
        _cleanup_(acl_freep) acl_t acl = acl_from_text(text);
        ASSERT_TRUE(acl);
        ASSERT_TRUE(acl_set_file(path, type, acl) >= 0);
}

/* A version 2 file capability granting cap_net_raw (bit 13) permitted and
 * effective. */
static const uint8_t capability_net_raw[20] = {
        0x01, 0x00, 0x00, 0x02, /* VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE */
        0x00, 0x20, 0x00, 0x00, /* permitted, low word */
        0x00, 0x00, 0x00, 0x00, /* inheritable, low word */
};

static void build_deep_chain(int topfd) {
        _cleanup_close_ int fd = -1;

        mkdir_at(topfd, "deep", 0755);
        fd = open_dir_at(topfd, "deep");
        for (int i = 0; i < DEEP_LEVELS; i++) {
                mkdir_at(fd, DEEP_NAME, 0755);
                int next = open_dir_at(fd, DEEP_NAME);
                closep(&fd);
                fd = next;
        }
        write_file_at(fd, "bottom", "at the bottom\n", 14, 0644);
}

/* Gives every entry its own mtime with nanoseconds, children before their
 * directory, since creating a child updates the directory's. */
static void set_times(int dirfd, unsigned *counter) {
        _cleanup_close_ int fd = dup(dirfd);
        ASSERT_TRUE(fd >= 0);
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        ASSERT_TRUE(d);
        TAKE_FD(fd);

        for (struct dirent *de; (de = readdir(d));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                struct stat st;
                ASSERT_TRUE(fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) >= 0);
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub = open_dir_at(dirfd, de->d_name);
                        set_times(sub, counter);
                }
                (*counter)++;
                struct timespec ts[2] = {
                        { .tv_sec = 1600000000 + *counter, .tv_nsec = 0 },
                        { .tv_sec = 1700000000 + *counter, .tv_nsec = 123456789 - *counter },
                };
                ASSERT_TRUE(utimensat(dirfd, de->d_name, ts, AT_SYMLINK_NOFOLLOW) >= 0);
        }
        struct timespec top[2] = {
                { .tv_sec = 1600000000, .tv_nsec = 0 },
                { .tv_sec = 1700000000, .tv_nsec = 999999999 },
        };
        ASSERT_TRUE(futimens(dirfd, top) >= 0);
}

static void build_tree(const char *top) {
        ASSERT_TRUE(mkdir(top, 0755) >= 0);
        _cleanup_close_ int t = open_dir_at(AT_FDCWD, top);
        char path[PATH_MAX];

        write_file_at(t, "file", "hello\n", 6, 0644);
        set_xattr_at(t, "file", "user.comment", "a note", 6);
        set_xattr_at(t, "file", "trusted.binary", "t\0\x01\xff", 4);
        write_file_at(t, "file2", "plain\n", 6, 0644);
        write_file_at(t, "empty", "", 0, 0600);
        ASSERT_TRUE(fchownat(t, "empty", 1000, 1000, 0) >= 0);

        write_file_at(t, "setuid", "#!/bin/sh\n", 10, 0755);
        ASSERT_TRUE(fchmodat(t, "setuid", 04755, 0) >= 0);
        set_xattr_at(t, "setuid", "security.capability", capability_net_raw, sizeof capability_net_raw);

        mkdir_at(t, "setgid-dir", 02775);
        mkdir_at(t, "sticky-dir", 01777);
        write_file_at(t, "sticky-dir/inner", "inner\n", 6, 0640);
        mkdir_at(t, "opaque-dir", 0755);
        set_xattr_at(t, "opaque-dir", "trusted.overlay.opaque", "y", 1);
        write_file_at(t, "opaque-dir/kept", "kept\n", 5, 0644);
        mkdir_at(t, "mnt", 0755);

        write_file_at(t, "acl-file", "acl\n", 4, 0644);
        snprintf(path, sizeof path, "%s/acl-file", top);
        set_acl(path, ACL_TYPE_ACCESS, "u::rw-,u:1000:r--,g::r--,m::r-x,o::r--");
        mkdir_at(t, "acl-dir", 0755);
        snprintf(path, sizeof path, "%s/acl-dir", top);
        set_acl(path, ACL_TYPE_ACCESS, "u::rwx,g::r-x,g:1000:rwx,m::rwx,o::r-x");
        set_acl(path, ACL_TYPE_DEFAULT, "u::rwx,u:1000:rwx,g::r-x,m::rwx,o::---");

        ASSERT_TRUE(symlinkat("file", t, "symlink") >= 0);
        ASSERT_TRUE(fchownat(t, "symlink", 1000, 1001, AT_SYMLINK_NOFOLLOW) >= 0);
        set_xattr_at(t, "symlink", "trusted.link", "on a symlink", 12);
        ASSERT_TRUE(symlinkat("nowhere\n\xff", t, "dangling") >= 0);

        ASSERT_TRUE(mknodat(t, "fifo", S_IFIFO | 0600, 0) >= 0);
        ASSERT_TRUE(mknodat(t, "socket", S_IFSOCK | 0755, 0) >= 0);
        ASSERT_TRUE(mknodat(t, "null", S_IFCHR | 0666, makedev(1, 3)) >= 0);
        ASSERT_TRUE(mknodat(t, "block", S_IFBLK | 0660, makedev(7, 200)) >= 0);
        ASSERT_TRUE(fchmodat(t, "null", 0666, 0) >= 0);
        ASSERT_TRUE(fchmodat(t, "block", 0660, 0) >= 0);

        /* overlay2 whiteouts, one inode linked from two layers */
        mkdir_at(t, "layer1", 0755);
        mkdir_at(t, "layer2", 0755);
        ASSERT_TRUE(mknodat(t, "layer1/gone", S_IFCHR | 0000, makedev(0, 0)) >= 0);
        ASSERT_TRUE(linkat(t, "layer1/gone", t, "layer2/gone-too", 0) >= 0);
        /* three names of one inode, across directories */
        mkdir_at(t, "sub", 0755);
        write_file_at(t, "hl-a", "linked\n", 7, 0644);
        ASSERT_TRUE(linkat(t, "hl-a", t, "hl-b", 0) >= 0);
        ASSERT_TRUE(linkat(t, "hl-a", t, "sub/hl-c", 0) >= 0);
        /* pairs within one directory, for changes with a fixed order */
        mkdir_at(t, "pair", 0755);
        write_file_at(t, "pair/x", "same\n", 5, 0644);
        ASSERT_TRUE(linkat(t, "pair/x", t, "pair/y", 0) >= 0);
        mkdir_at(t, "pair2", 0755);
        write_file_at(t, "pair2/p", "same\n", 5, 0644);
        write_file_at(t, "pair2/q", "same\n", 5, 0644);

        write_file_at(t, odd_newline, "newline\n", 8, 0644);
        write_file_at(t, odd_bytes, "bytes\n", 6, 0644);
        char long_name[NAME_MAX + 1];
        memset(long_name, 'n', NAME_MAX);
        long_name[NAME_MAX] = 0;
        write_file_at(t, long_name, "long\n", 5, 0644);

        _cleanup_free_ char *big = malloc(BIG_SIZE);
        ASSERT_TRUE(big);
        uint32_t x = 12345;
        for (size_t i = 0; i < BIG_SIZE; i++) {
                x = x * 1103515245U + 12345U;
                big[i] = (char) (x >> 16);
        }
        write_file_at(t, "big", big, BIG_SIZE, 0644);

        _cleanup_close_ int sparse = openat(t, "sparse", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        ASSERT_TRUE(sparse >= 0);
        ASSERT_TRUE(ftruncate(sparse, SPARSE_SIZE) >= 0);
        ASSERT_TRUE(pwrite(sparse, "data", 4, 4 * 1024 * 1024) == 4);

        build_deep_chain(t);

        unsigned counter = 0;
        set_times(t, &counter);
}

/* cp -a gives up below PATH_MAX: completes the copy of a tree of plain
 * directories and files, then copies their times, children first. */
static void complete_plain_tree(int orig, int copy) {
        _cleanup_close_ int fd = dup(orig);
        ASSERT_TRUE(fd >= 0);
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        ASSERT_TRUE(d);
        TAKE_FD(fd);

        for (struct dirent *de; (de = readdir(d));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                struct stat st;
                ASSERT_TRUE(fstatat(orig, de->d_name, &st, AT_SYMLINK_NOFOLLOW) >= 0);
                if (S_ISDIR(st.st_mode)) {
                        if (mkdirat(copy, de->d_name, st.st_mode & 07777) < 0)
                                ASSERT_EQ(errno, EEXIST);
                        _cleanup_close_ int sub_orig = open_dir_at(orig, de->d_name);
                        _cleanup_close_ int sub_copy = open_dir_at(copy, de->d_name);
                        complete_plain_tree(sub_orig, sub_copy);
                } else {
                        ASSERT_TRUE(S_ISREG(st.st_mode));
                        char buf[256];
                        _cleanup_close_ int in = openat(orig, de->d_name, O_RDONLY | O_CLOEXEC);
                        ASSERT_TRUE(in >= 0);
                        ssize_t n = read(in, buf, sizeof buf);
                        ASSERT_TRUE(n >= 0 && n < (ssize_t) sizeof buf);
                        (void) unlinkat(copy, de->d_name, 0);
                        write_file_at(copy, de->d_name, buf, (size_t) n, st.st_mode & 07777);
                }
                ASSERT_TRUE(fchownat(copy, de->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) >= 0);
                ASSERT_TRUE(fchmodat(copy, de->d_name, st.st_mode & 07777, 0) >= 0);
                struct timespec ts[2] = { st.st_atim, st.st_mtim };
                ASSERT_TRUE(utimensat(copy, de->d_name, ts, AT_SYMLINK_NOFOLLOW) >= 0);
        }
}

/* mtime of relpath in the copy set back to the original's, after a change
 * made in a directory. */
static void restore_mtime(const char *orig, const char *copy, const char *relpath) {
        _cleanup_free_ char *po = path_join(orig, relpath), *pc = path_join(copy, relpath);
        struct stat st;
        ASSERT_TRUE(lstat(po, &st) >= 0);
        struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, st.st_mtim };
        ASSERT_TRUE(utimensat(AT_FDCWD, pc, ts, AT_SYMLINK_NOFOLLOW) >= 0);
}

typedef struct Fixture {
        char *dir;
        char *orig;
        unsigned copies;
} Fixture;

/* A copy made by cp -a and fixed up where cp cannot follow. */
static char *make_copy(Fixture *f) {
        char *copy = strdup_printf("%s/copy-%u", f->dir, f->copies++);
        ASSERT_TRUE(copy);
        _cleanup_free_ char *command = strdup_printf("cp -a '%s' '%s' 2>/dev/null", f->orig, copy);
        ASSERT_TRUE(command);
        (void) system(command); /* fails on the deep chain, fixed below */

        _cleanup_close_ int orig_fd = open_dir_at(AT_FDCWD, f->orig);
        _cleanup_close_ int copy_fd = open_dir_at(AT_FDCWD, copy);
        _cleanup_close_ int orig_deep = open_dir_at(orig_fd, "deep");
        _cleanup_close_ int copy_deep = open_dir_at(copy_fd, "deep");
        complete_plain_tree(orig_deep, copy_deep);
        struct stat st;
        ASSERT_TRUE(fstat(orig_deep, &st) >= 0);
        struct timespec ts[2] = { st.st_atim, st.st_mtim };
        ASSERT_TRUE(futimens(copy_deep, ts) >= 0);

        /* cp sets the owner after the xattrs, which drops the capability. */
        char value[64];
        _cleanup_free_ char *po = path_join(f->orig, "setuid"), *pc = path_join(copy, "setuid");
        ssize_t n = lgetxattr(po, "security.capability", value, sizeof value);
        ASSERT_TRUE(n > 0);
        ASSERT_TRUE(lsetxattr(pc, "security.capability", value, (size_t) n, 0) >= 0);
        return copy;
}

static void remove_tree(char *path) {
        _cleanup_free_ char *command = strdup_printf("rm -rf '%s'", path);
        ASSERT_TRUE(command);
        run_shell(command);
        free(path);
}

static void test_errors(void) {
        VerifyStats stats = { .entries = 42 };

        ASSERT_EQ(verify_trees("/nonexistent-ddr-test", "/", NULL, &stats), -ENOENT);
        ASSERT_EQ(verify_trees("/", "/etc/hostname", NULL, &stats), -ENOTDIR);
        ASSERT_EQ(verify_trees("/etc", "/etc/.", NULL, &stats), -EINVAL);
        ASSERT_EQ(stats.entries, 42);
}

static void test_identical(Fixture *f) {
        Differences d = {};
        char *copy = make_copy(f);

        VerifyStats stats = verify(f->orig, copy, true, 0, &d);
        ASSERT_EQ(stats.differences, 0);
        ASSERT_TRUE(stats.entries > DEEP_LEVELS + 30);
        /* every distinct regular file's bytes */
        ASSERT_TRUE(stats.bytes_compared >= BIG_SIZE + SPARSE_SIZE);

        for (unsigned jobs = 1; jobs <= 9; jobs += 8) {
                VerifyStats again = verify(f->orig, copy, true, jobs, &d);
                ASSERT_EQ(again.differences, 0);
                ASSERT_EQ(again.entries, stats.entries);
                ASSERT_EQ(again.bytes_compared, stats.bytes_compared);
        }

        stats = verify(f->orig, copy, false, 0, &d);
        ASSERT_EQ(stats.differences, 0);
        ASSERT_EQ(stats.bytes_compared, 0);

        differences_clear(&d);
        remove_tree(copy);
}

static void test_metadata(Fixture *f) {
        Differences d = {};
        char *copy;

        copy = make_copy(f);
        _cleanup_free_ char *file = path_join(copy, "file");
        ASSERT_TRUE(chmod(file, 0600) >= 0);
        verify(f->orig, copy, false, 0, &d);
        EXPECT(&d, { "file", "mode", "0644 != 0600" });
        remove_tree(copy);

        copy = make_copy(f);
        _cleanup_free_ char *setuid = path_join(copy, "setuid");
        /* chmod keeps the capability, chown would drop it */
        ASSERT_TRUE(chmod(setuid, 0755) >= 0);
        verify(f->orig, copy, false, 0, &d);
        EXPECT(&d, { "setuid", "mode", "4755 != 0755" });
        remove_tree(copy);

        copy = make_copy(f);
        _cleanup_free_ char *sticky = path_join(copy, "sticky-dir");
        ASSERT_TRUE(chmod(sticky, 0777) >= 0);
        _cleanup_free_ char *top_mode = strdup_printf("%s/.", copy);
        ASSERT_TRUE(chmod(top_mode, 0700) >= 0);
        verify(f->orig, copy, false, 0, &d);
        EXPECT(&d, { "sticky-dir", "mode", "1777 != 0777" }, { ".", "mode", "0755 != 0700" });
        remove_tree(copy);

        copy = make_copy(f);
        _cleanup_free_ char *empty = path_join(copy, "empty"), *symlink = path_join(copy, "symlink");
        ASSERT_TRUE(lchown(empty, 1001, (gid_t) -1) >= 0);
        ASSERT_TRUE(lchown(symlink, (uid_t) -1, 0) >= 0);
        /* chown clears the setuid bit and the capability: a kind of
         * change a careless copy makes. */
        _cleanup_free_ char *setuid2 = path_join(copy, "setuid");
        ASSERT_TRUE(lchown(setuid2, 0, 0) >= 0);
        verify(f->orig, copy, false, 0, &d);
        EXPECT(&d,
               { "empty", "uid", "1000 != 1001" },
               { "symlink", "gid", "1001 != 0" },
               { "setuid", "mode", "4755 != 0755" },
               { "setuid", "xattr security.capability", NULL });
        remove_tree(copy);

        copy = make_copy(f);
        _cleanup_free_ char *inner = path_join(copy, "sticky-dir/inner");
        struct stat st;
        ASSERT_TRUE(lstat(inner, &st) >= 0);
        struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, st.st_mtim };
        ts[1].tv_nsec = (ts[1].tv_nsec + 1) % 1000000000;
        ASSERT_TRUE(utimensat(AT_FDCWD, inner, ts, 0) >= 0);
        _cleanup_free_ char *expected_mtime =
                strdup_printf("%jd.%09ld != %jd.%09ld", (intmax_t) st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                              (intmax_t) ts[1].tv_sec, ts[1].tv_nsec);
        ASSERT_TRUE(expected_mtime);
        /* a directory and a symlink: only the nanoseconds */
        _cleanup_free_ char *opaque = path_join(copy, "opaque-dir"), *symlink2 = path_join(copy, "symlink");
        ASSERT_TRUE(lstat(opaque, &st) >= 0);
        ts[1] = st.st_mtim;
        ts[1].tv_nsec = 0;
        ASSERT_TRUE(utimensat(AT_FDCWD, opaque, ts, 0) >= 0);
        ASSERT_TRUE(lstat(symlink2, &st) >= 0);
        ts[1] = st.st_mtim;
        ts[1].tv_nsec = 5;
        ASSERT_TRUE(utimensat(AT_FDCWD, symlink2, ts, AT_SYMLINK_NOFOLLOW) >= 0);
        verify(f->orig, copy, false, 0, &d);
        EXPECT(&d,
               { "sticky-dir/inner", "mtime", expected_mtime },
               { "opaque-dir", "mtime", NULL },
               { "symlink", "mtime", NULL });
        remove_tree(copy);

        /* atime is ignored */
        copy = make_copy(f);
        _cleanup_free_ char *file2 = path_join(copy, "file2");
        struct timespec atime_only[2] = { { .tv_sec = 1 }, { .tv_nsec = UTIME_OMIT } };
        ASSERT_TRUE(utimensat(AT_FDCWD, file2, atime_only, 0) >= 0);
        verify(f->orig, copy, false, 0, &d);
        ASSERT_EQ(d.n, 0);
        remove_tree(copy);

        differences_clear(&d);
}

static void test_xattrs(Fixture *f) {
        Differences d = {};
        char *copy;

        copy = make_copy(f);
        _cleanup_free_ char *file = path_join(copy, "file"), *opaque = path_join(copy, "opaque-dir"),
                            *empty = path_join(copy, "empty"), *symlink = path_join(copy, "symlink");
        ASSERT_TRUE(lsetxattr(file, "user.comment", "a nose", 6, 0) >= 0);
        ASSERT_TRUE(lremovexattr(opaque, "trusted.overlay.opaque") >= 0);
        ASSERT_TRUE(lsetxattr(empty, "trusted.new", "n", 1, 0) >= 0);
        ASSERT_TRUE(lremovexattr(symlink, "trusted.link") >= 0);
        ASSERT_TRUE(lsetxattr(file, "user.we\nird", "\x01\x02", 2, 0) >= 0);
        ASSERT_TRUE(lsetxattr(copy, "user.top", "t", 1, 0) >= 0);
        verify(f->orig, copy, false, 0, &d);
        EXPECT(&d,
               { ".", "xattr user.top", "absent != \"t\" (1 bytes)" },
               { "file", "xattr user.comment",
                 "\"a note\" (6 bytes) != \"a nose\" (6 bytes), first difference at byte 4" },
               { "opaque-dir", "xattr trusted.overlay.opaque", "\"y\" (1 bytes) != absent" },
               { "empty", "xattr trusted.new", "absent != \"n\" (1 bytes)" },
               { "symlink", "xattr trusted.link", NULL },
               { "file", "xattr user.we\\x0aird", "absent != 0x0102 (2 bytes)" });
        remove_tree(copy);

        /* the same ACL entries with another mask: the mode stays */
        copy = make_copy(f);
        _cleanup_free_ char *acl_file = path_join(copy, "acl-file"), *acl_dir = path_join(copy, "acl-dir");
        set_acl(acl_file, ACL_TYPE_ACCESS, "u::rw-,u:1000:r-x,g::r--,m::r-x,o::r--");
        set_acl(acl_dir, ACL_TYPE_DEFAULT, "u::rwx,u:1001:rwx,g::r-x,m::rwx,o::---");
        verify(f->orig, copy, false, 0, &d);
        EXPECT(&d,
               { "acl-file", "xattr system.posix_acl_access",
                 "u::rw-,u:1000:r--,g::r--,m::r-x,o::r-- != u::rw-,u:1000:r-x,g::r--,m::r-x,o::r--" },
               { "acl-dir", "xattr system.posix_acl_default", NULL });
        remove_tree(copy);

        /* an ACL dropped from a directory: its default ACL is gone, the
         * access ACL becomes the mode */
        copy = make_copy(f);
        _cleanup_free_ char *acl_dir2 = path_join(copy, "acl-dir");
        ASSERT_TRUE(acl_delete_def_file(acl_dir2) >= 0);
        verify(f->orig, copy, false, 0, &d);
        EXPECT(&d, { "acl-dir", "xattr system.posix_acl_default",
                     "u::rwx,u:1000:rwx,g::r-x,m::rwx,o::--- != none" });
        remove_tree(copy);

        differences_clear(&d);
}

static void test_structure(Fixture *f) {
        Differences d = {};
        char *copy;

        /* a hardlink broken: a copy of the file put over one name */
        copy = make_copy(f);
        _cleanup_free_ char *y = path_join(copy, "pair/y"), *y_new = path_join(copy, "pair/y.new");
        _cleanup_free_ char *command = strdup_printf("cp -p '%s' '%s' && mv '%s' '%s'", y, y_new, y_new, y);
        ASSERT_TRUE(command);
        run_shell(command);
        restore_mtime(f->orig, copy, "pair");
        verify(f->orig, copy, true, 0, &d);
        EXPECT(&d, { "pair/x", "nlink", "2 != 1" }, { "pair/y", "hardlinks", NULL });
        remove_tree(copy);

        /* two separate files linked */
        copy = make_copy(f);
        _cleanup_free_ char *p = path_join(copy, "pair2/p"), *q = path_join(copy, "pair2/q");
        ASSERT_TRUE(unlink(q) >= 0);
        ASSERT_TRUE(link(p, q) >= 0);
        restore_mtime(f->orig, copy, "pair2");
        verify(f->orig, copy, true, 0, &d);
        /* q now has p's mtime */
        EXPECT(&d,
               { "pair2/p", "nlink", "1 != 2" },
               { "pair2/q", "hardlinks",
                 "shares its inode with \"pair2/p\" in the copy, not in the original" },
               { "pair2/q", "mtime", NULL });
        remove_tree(copy);

        /* a symlink retargeted */
        copy = make_copy(f);
        _cleanup_free_ char *dangling = path_join(copy, "dangling");
        ASSERT_TRUE(unlink(dangling) >= 0);
        ASSERT_TRUE(symlink("nowhere\n\xfe", dangling) >= 0);
        restore_mtime(f->orig, copy, "dangling");
        restore_mtime(f->orig, copy, ".");
        verify(f->orig, copy, false, 0, &d);
        EXPECT(&d, { "dangling", "symlink target", "\"nowhere\\x0a\\xff\" != \"nowhere\\x0a\\xfe\"" });
        remove_tree(copy);

        /* a file replaced by a symlink */
        copy = make_copy(f);
        _cleanup_free_ char *file2 = path_join(copy, "file2");
        ASSERT_TRUE(unlink(file2) >= 0);
        ASSERT_TRUE(symlink("file", file2) >= 0);
        restore_mtime(f->orig, copy, "file2");
        restore_mtime(f->orig, copy, ".");
        verify(f->orig, copy, false, 0, &d);
        EXPECT(&d, { "file2", "type", "regular file != symlink" });
        remove_tree(copy);

        /* an entry removed, one added, odd names */
        copy = make_copy(f);
        _cleanup_free_ char *inner = path_join(copy, "sticky-dir/inner"), *added = path_join(copy, "opaque-dir/new"),
                            *odd1 = path_join(copy, odd_newline), *odd2 = path_join(copy, odd_bytes);
        ASSERT_TRUE(unlink(inner) >= 0);
        _cleanup_close_ int fd = open(added, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(unlink(odd1) >= 0);
        ASSERT_TRUE(chmod(odd2, 0600) >= 0);
        restore_mtime(f->orig, copy, "sticky-dir");
        restore_mtime(f->orig, copy, "opaque-dir");
        restore_mtime(f->orig, copy, ".");
        verify(f->orig, copy, false, 0, &d);
        EXPECT(&d,
               { "sticky-dir/inner", "missing in copy", "regular file" },
               { "opaque-dir/new", "extra in copy", "regular file" },
               { odd_newline, "missing in copy", "regular file" },
               { odd_bytes, "mode", "0644 != 0600" });
        remove_tree(copy);

        /* device numbers */
        copy = make_copy(f);
        _cleanup_free_ char *null = path_join(copy, "null"), *block = path_join(copy, "block");
        ASSERT_TRUE(unlink(null) >= 0);
        ASSERT_TRUE(mknod(null, S_IFCHR | 0666, makedev(1, 5)) >= 0);
        ASSERT_TRUE(chmod(null, 0666) >= 0);
        ASSERT_TRUE(unlink(block) >= 0);
        ASSERT_TRUE(mknod(block, S_IFBLK | 0660, makedev(8, 200)) >= 0);
        ASSERT_TRUE(chmod(block, 0660) >= 0);
        restore_mtime(f->orig, copy, "null");
        restore_mtime(f->orig, copy, "block");
        restore_mtime(f->orig, copy, ".");
        verify(f->orig, copy, false, 0, &d);
        EXPECT(&d, { "null", "device", "1:3 != 1:5" }, { "block", "device", "7:200 != 8:200" });
        remove_tree(copy);

        differences_clear(&d);
}

static void test_content(Fixture *f) {
        Differences d = {};
        char *copy = make_copy(f);
        _cleanup_free_ char *big = path_join(copy, "big"), *sparse = path_join(copy, "sparse");

        /* one byte in the second block, one in a hole; size and mtime kept */
        _cleanup_close_ int fd = open(big, O_RDWR | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        char c;
        ASSERT_TRUE(pread(fd, &c, 1, 2621440) == 1);
        c ^= 0x20;
        ASSERT_TRUE(pwrite(fd, &c, 1, 2621440) == 1);
        closep(&fd);
        fd = open(sparse, O_RDWR | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(pwrite(fd, "\x01", 1, 10 * 1024 * 1024 + 3) == 1);
        closep(&fd);
        restore_mtime(f->orig, copy, "big");
        restore_mtime(f->orig, copy, "sparse");

        verify(f->orig, copy, false, 0, &d);
        ASSERT_EQ(d.n, 0);
        verify(f->orig, copy, true, 0, &d);
        EXPECT(&d,
               { "big", "content", "first difference at byte 2621440" },
               { "sparse", "content", "first difference at byte 10485763" });
        remove_tree(copy);

        differences_clear(&d);
}

/* A change below PATH_MAX is found and named by its full relpath. */
static void test_deep(Fixture *f) {
        Differences d = {};
        char *copy = make_copy(f);

        _cleanup_close_ int fd = open_dir_at(AT_FDCWD, copy);
        int next = open_dir_at(fd, "deep");
        closep(&fd);
        fd = next;
        size_t relpath_size = sizeof("deep") + DEEP_LEVELS * sizeof("/" DEEP_NAME) + sizeof("/bottom");
        _cleanup_free_ char *relpath = malloc(relpath_size);
        ASSERT_TRUE(relpath);
        strcpy(relpath, "deep");
        for (int i = 0; i < DEEP_LEVELS; i++) {
                next = open_dir_at(fd, DEEP_NAME);
                closep(&fd);
                fd = next;
                strcat(relpath, "/" DEEP_NAME);
        }
        strcat(relpath, "/bottom");
        ASSERT_TRUE(strlen(relpath) > PATH_MAX);
        ASSERT_TRUE(fchmodat(fd, "bottom", 0600, 0) >= 0);

        verify(f->orig, copy, true, 0, &d);
        EXPECT(&d, { relpath, "mode", "0644 != 0600" });
        remove_tree(copy);

        differences_clear(&d);
}

/* Entries on other filesystems are neither compared nor missing. */
static void test_mount_point(Fixture *f) {
        Differences d = {};
        char *copy = make_copy(f);
        _cleanup_free_ char *mnt = path_join(f->orig, "mnt"), *copy_mnt = path_join(copy, "mnt");

        ASSERT_TRUE(mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0700") >= 0);
        _cleanup_close_ int fd = open_dir_at(AT_FDCWD, mnt);
        write_file_at(fd, "on-tmpfs", "x", 1, 0644);
        closep(&fd);

        verify(f->orig, copy, true, 0, &d);
        ASSERT_EQ(d.n, 0);
        ASSERT_TRUE(rmdir(copy_mnt) >= 0);
        restore_mtime(f->orig, copy, ".");
        verify(f->orig, copy, true, 0, &d);
        ASSERT_EQ(d.n, 0);

        ASSERT_TRUE(umount2(mnt, MNT_DETACH) >= 0);
        verify(f->orig, copy, false, 0, &d);
        EXPECT(&d, { "mnt", "missing in copy", "directory" });
        remove_tree(copy);

        differences_clear(&d);
}

/* As an unprivileged user, entries it cannot read are differences. */
static void test_unreadable(void) {
        char dir[] = "/var/tmp/test-verify-unreadable-XXXXXX";
        ASSERT_TRUE(mkdtemp(dir));
        ASSERT_TRUE(chmod(dir, 0755) >= 0);
        _cleanup_free_ char *a = path_join(dir, "a"), *b = path_join(dir, "b");

        ASSERT_TRUE(mkdir(a, 0755) >= 0);
        _cleanup_close_ int t = open_dir_at(AT_FDCWD, a);
        write_file_at(t, "readable", "r\n", 2, 0644);
        write_file_at(t, "secret-file", "s\n", 2, 0600);
        mkdir_at(t, "secret-dir", 0700);
        write_file_at(t, "secret-dir/inside", "i\n", 2, 0644);
        _cleanup_free_ char *command = strdup_printf("cp -a '%s' '%s'", a, b);
        ASSERT_TRUE(command);
        run_shell(command);

        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                Differences d = {};
                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                    setresuid(65534, 65534, 65534) < 0)
                        _exit(EXIT_FAILURE);
                verify(a, b, true, 0, &d);
                EXPECT(&d,
                       { "secret-dir", "unreadable", "original: open: Permission denied" },
                       { "secret-file", "unreadable", "original: open: Permission denied" });
                differences_clear(&d);
                _exit(EXIT_SUCCESS);
        }
        int status;
        ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        _cleanup_free_ char *remove = strdup_printf("rm -rf '%s'", dir);
        ASSERT_TRUE(remove);
        run_shell(remove);
}

int main(void) {
        test_errors();

        if (geteuid() != 0)
                return test_skip("needs root for chown, mknod, trusted xattrs and mounts");

        umask(022);
        Fixture f = {};
        char dir[] = "/var/tmp/test-verify-XXXXXX";
        ASSERT_TRUE(mkdtemp(dir));
        f.dir = dir;
        f.orig = path_join(dir, "orig");
        build_tree(f.orig);

        uint64_t start = now_usec();
        test_identical(&f);
        test_metadata(&f);
        test_xattrs(&f);
        test_structure(&f);
        test_content(&f);
        test_deep(&f);
        test_mount_point(&f);
        test_unreadable();
        fprintf(stderr, "verify tests took %.1f s\n", (double) (now_usec() - start) / 1e6);

        remove_tree(f.orig);
        ASSERT_TRUE(rmdir(dir) >= 0);
        return 0;
}
