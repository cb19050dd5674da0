/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include <sys/mount.h>

#include "tests.h"
#include "paths.h"
#include "util.h"

static char temp_dir[] = "/tmp/test-paths.XXXXXX";

static char *temp_path(const char *relative) {
        char *p = strdup_printf("%s/%s", temp_dir, relative);
        ASSERT_TRUE(p);
        return p;
}

static void make_dir(const char *relative) {
        _cleanup_free_ char *p = temp_path(relative);
        ASSERT_TRUE(mkdir(p, 0755) >= 0);
}

static void make_file(const char *relative) {
        _cleanup_free_ char *p = temp_path(relative);
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
}

static void make_symlink(const char *target, const char *relative) {
        _cleanup_free_ char *p = temp_path(relative);
        ASSERT_TRUE(symlink(target, p) >= 0);
}

static void assert_normalized(const char *input, const char *expected) {
        _cleanup_free_ char *out = NULL;
        ASSERT_OK(path_normalize_absolute(input, &out));
        ASSERT_STREQ(out, expected);
}

static void assert_not_normalized(const char *input) {
        char *out = NULL;
        ASSERT_EQ(path_normalize_absolute(input, &out), -EINVAL);
        ASSERT_TRUE(!out);
}

static void test_normalize(void) {
        assert_normalized("/", "/");
        assert_normalized("//", "/");
        assert_normalized("/./", "/");
        assert_normalized("/var/lib/docker", "/var/lib/docker");
        assert_normalized("/var/lib/docker/", "/var/lib/docker");
        assert_normalized("//var//lib///docker//", "/var/lib/docker");
        assert_normalized("/var/./lib/./docker/.", "/var/lib/docker");
        assert_normalized("/mnt/.hidden/..x/x..", "/mnt/.hidden/..x/x..");
        assert_normalized("/mnt/with space", "/mnt/with space");

        assert_not_normalized("");
        assert_not_normalized("relative/path");
        assert_not_normalized("./x");
        assert_not_normalized("/var/../etc");
        assert_not_normalized("/var/lib/..");
        assert_not_normalized("/..");
        assert_not_normalized(NULL);
}

static void test_same_or_below(void) {
        ASSERT_TRUE(path_is_same_or_below("/a/b", "/a/b"));
        ASSERT_TRUE(path_is_same_or_below("/a/b", "/a/b/c"));
        ASSERT_TRUE(path_is_same_or_below("/a/b", "/a/b/c/d"));
        ASSERT_FALSE(path_is_same_or_below("/a/b", "/a/bc"));
        ASSERT_FALSE(path_is_same_or_below("/a/b", "/a"));
        ASSERT_FALSE(path_is_same_or_below("/a/b/c", "/a/b"));
        ASSERT_FALSE(path_is_same_or_below("/mnt/data", "/mnt/database"));
        ASSERT_TRUE(path_is_same_or_below("/", "/"));
        ASSERT_TRUE(path_is_same_or_below("/", "/anything/below"));
        ASSERT_FALSE(path_is_same_or_below("/var/lib/docker", "/var/lib"));
}

/* Checks the walk's result and, when one is expected, the component. */
static void assert_symlink_component(const char *relative, int expected_r, const char *expected_relative) {
        _cleanup_free_ char *p = temp_path(relative);
        _cleanup_free_ char *component = NULL;

        ASSERT_EQ(path_find_symlink_component(p, &component), expected_r);
        if (expected_relative) {
                _cleanup_free_ char *expected = temp_path(expected_relative);
                ASSERT_STREQ(component, expected);
        } else
                ASSERT_TRUE(!component);
}

static void test_symlink_component(void) {
        /* Layout:
         *   top -> real            (symlink at the top)
         *   real/mid/leaf/         (plain directories)
         *   real/midlink -> mid    (symlink in the middle)
         *   real/mid/leaflink -> leaf   (symlink at the end)
         *   real/dangling -> nowhere
         *   real/file              (a regular file) */
        make_dir("real");
        make_dir("real/mid");
        make_dir("real/mid/leaf");
        make_symlink("real", "top");
        make_symlink("mid", "real/midlink");
        make_symlink("leaf", "real/mid/leaflink");
        make_symlink("nowhere", "real/dangling");
        make_file("real/file");

        assert_symlink_component("real/mid/leaf", 0, NULL);
        assert_symlink_component("real/mid/leaf/not/yet/there", 0, NULL);
        assert_symlink_component("top/mid/leaf", 1, "top");
        assert_symlink_component("real/midlink/leaf", 1, "real/midlink");
        assert_symlink_component("real/mid/leaflink", 1, "real/mid/leaflink");
        assert_symlink_component("real/dangling", 1, "real/dangling");
        assert_symlink_component("real/dangling/below", 1, "real/dangling");
        assert_symlink_component("real/file", 0, NULL);
        assert_symlink_component("real/file/below", -ENOTDIR, "real/file");
        assert_symlink_component("real/file/below/deeper", -ENOTDIR, "real/file");

        /* A non-normalized spelling reports the normalized component. */
        _cleanup_free_ char *messy = strdup_printf("%s//real/./midlink/", temp_dir);
        _cleanup_free_ char *component = NULL;
        ASSERT_TRUE(messy);
        ASSERT_EQ(path_find_symlink_component(messy, &component), 1);
        _cleanup_free_ char *expected = temp_path("real/midlink");
        ASSERT_STREQ(component, expected);

        ASSERT_EQ(path_find_symlink_component("relative/x", NULL), -EINVAL);
        ASSERT_EQ(path_find_symlink_component("/tmp/../etc", NULL), -EINVAL);
        ASSERT_EQ(path_find_symlink_component("/", NULL), 0);
        /* NULL is fine when the caller only wants the verdict. */
        _cleanup_free_ char *top = temp_path("top");
        ASSERT_EQ(path_find_symlink_component(top, NULL), 1);
}

static void test_existing_ancestor(void) {
        _cleanup_free_ char *out = NULL;
        _cleanup_free_ char *deep = temp_path("real/mid/not/yet/there");
        _cleanup_free_ char *mid = temp_path("real/mid");

        ASSERT_OK(path_existing_ancestor(deep, &out));
        ASSERT_STREQ(out, mid);
        free(out);
        out = NULL;

        ASSERT_OK(path_existing_ancestor(mid, &out));
        ASSERT_STREQ(out, mid);
        free(out);
        out = NULL;

        ASSERT_OK(path_existing_ancestor("/", &out));
        ASSERT_STREQ(out, "/");
        free(out);
        out = NULL;

        ASSERT_OK(path_existing_ancestor("/no-such-dir-ddr-test/x/y", &out));
        ASSERT_STREQ(out, "/");
        free(out);
        out = NULL;

        /* The dangling link exists as a directory entry. */
        _cleanup_free_ char *dangling = temp_path("real/dangling");
        ASSERT_OK(path_existing_ancestor(dangling, &out));
        ASSERT_STREQ(out, dangling);
        free(out);
        out = NULL;

        _cleanup_free_ char *below_file = temp_path("real/file/x");
        ASSERT_EQ(path_existing_ancestor(below_file, &out), -ENOTDIR);
        ASSERT_TRUE(!out);
        ASSERT_EQ(path_existing_ancestor("not/absolute", &out), -EINVAL);
        ASSERT_TRUE(!out);
}

static void test_absent_or_empty(void) {
        make_dir("empty");
        make_dir("hidden");
        make_file("hidden/.keep");
        make_symlink("empty", "empty-link");

        _cleanup_free_ char *absent = temp_path("absent");
        _cleanup_free_ char *below_absent = temp_path("absent/below");
        _cleanup_free_ char *empty = temp_path("empty");
        _cleanup_free_ char *hidden = temp_path("hidden");
        _cleanup_free_ char *file = temp_path("real/file");
        _cleanup_free_ char *link = temp_path("empty-link");
        _cleanup_free_ char *dangling = temp_path("real/dangling");

        ASSERT_EQ(path_check_absent_or_empty_dir(absent), 1);
        ASSERT_EQ(path_check_absent_or_empty_dir(below_absent), 1);
        ASSERT_EQ(path_check_absent_or_empty_dir(empty), 0);
        ASSERT_EQ(path_check_absent_or_empty_dir(hidden), -ENOTEMPTY);
        ASSERT_EQ(path_check_absent_or_empty_dir(file), -ENOTDIR);
        ASSERT_EQ(path_check_absent_or_empty_dir(link), -ENOTDIR);
        ASSERT_EQ(path_check_absent_or_empty_dir(dangling), -ENOTDIR);
}

static void test_inode_nesting(void) {
        char dir[] = "/tmp/test-paths-inode-XXXXXX";
        ASSERT_TRUE(mkdtemp(dir));
        _cleanup_free_ char *a = strdup_printf("%s/a", dir);
        _cleanup_free_ char *ab = strdup_printf("%s/a/b", dir);
        _cleanup_free_ char *link = strdup_printf("%s/link", dir);
        _cleanup_free_ char *c = strdup_printf("%s/c", dir);
        ASSERT_TRUE(mkdir(a, 0755) == 0 && mkdir(ab, 0755) == 0 && mkdir(c, 0755) == 0);
        ASSERT_TRUE(symlink(ab, link) == 0);

        ASSERT_EQ(path_inode_same_or_below(a, ab), 1);
        ASSERT_EQ(path_inode_same_or_below(a, a), 1);
        ASSERT_EQ(path_inode_same_or_below(a, link), 1);   /* through a symlink */
        ASSERT_EQ(path_inode_same_or_below(ab, a), 0);
        ASSERT_EQ(path_inode_same_or_below(a, c), 0);
        ASSERT_EQ(path_inode_same_or_below(a, "/nonexistent"), -ENOENT);

        /* a bind mount of a below c: the path says no, the inodes say yes */
        if (geteuid() == 0 && mount(ab, c, NULL, MS_BIND, NULL) == 0) {
                ASSERT_EQ(path_inode_same_or_below(ab, c), 1);
                ASSERT_TRUE(umount(c) == 0);
        }
        _cleanup_free_ char *cmd = strdup_printf("rm -rf '%s'", dir);
        ASSERT_TRUE(cmd && system(cmd) == 0);
}

static char *top_mark(const char *relative) {
        _cleanup_free_ char *p = temp_path(relative);
        char *mark = NULL;
        ASSERT_OK(path_top_mark(p, &mark));
        return mark;
}

/* What a daemon's start does at the top of its root changes the mark; what
 * happens deeper, or reading, does not. */
static void test_top_mark(void) {
        make_dir("root");
        make_dir("root/tmp");
        make_dir("root/volumes");
        make_file("root/volumes/metadata.db");
        make_dir("root/volumes/v");

        _cleanup_free_ char *absent = top_mark("no-such-root");
        ASSERT_STREQ(absent, "none");
        _cleanup_free_ char *first = top_mark("root");
        _cleanup_free_ char *again = top_mark("root");
        ASSERT_STREQ(first, again);
        ASSERT_TRUE(strncmp(first, "2:", 2) == 0);

        /* below the top: the same */
        make_file("root/volumes/v/data");
        _cleanup_free_ char *deep = top_mark("root");
        ASSERT_STREQ(first, deep);

        /* a check's scratch entry made and removed at the top: the same */
        make_dir("root/.probe");
        _cleanup_free_ char *probe = temp_path("root/.probe");
        ASSERT_TRUE(rmdir(probe) >= 0);
        _cleanup_free_ char *probed = top_mark("root");
        ASSERT_STREQ(first, probed);

        /* dockerd's start: tmp renamed to tmp-old, removed, made anew */
        _cleanup_free_ char *tmp = temp_path("root/tmp"), *old = temp_path("root/tmp-old");
        ASSERT_TRUE(rename(tmp, old) >= 0 && rmdir(old) >= 0 && mkdir(tmp, 0700) >= 0);
        _cleanup_free_ char *restarted = top_mark("root");
        ASSERT_FALSE(streq(first, restarted));

        /* a top-level directory that gains an entry */
        make_file("root/volumes/metadata.db-journal");
        _cleanup_free_ char *grown = top_mark("root");
        ASSERT_FALSE(streq(restarted, grown));

        char *untouched = (char *) 1;
        _cleanup_free_ char *file = temp_path("root/volumes/metadata.db");
        ASSERT_EQ(path_top_mark(file, &untouched), -ENOTDIR);
        ASSERT_TRUE(untouched == (char *) 1);
}

int main(void) {
        test_inode_nesting();
        test_normalize();
        test_same_or_below();

        ASSERT_TRUE(mkdtemp(temp_dir));
        test_symlink_component();
        test_existing_ancestor();
        test_absent_or_empty();
        test_top_mark();

        _cleanup_free_ char *cmd = strdup_printf("rm -rf -- '%s'", temp_dir);
        ASSERT_TRUE(cmd);
        ASSERT_EQ(system(cmd), 0);
        return 0;
}
