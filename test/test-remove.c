/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "remove.h"
#include "tests.h"
#include "util.h"

static char tmp[] = "/tmp/test-remove-XXXXXX";
static unsigned reported;

static void on_error(const char *relpath, const char *operation, int error, void *userdata) {
        (void) userdata;
        fprintf(stderr, "reported: %s: %s: %s\n", relpath, operation, strerror(-error));
        reported++;
}

static void make_tree(const char *top, const char *outside) {
        _cleanup_free_ char *cmd = strdup_printf(
                "set -e; mkdir -p '%s/a/b/c' '%s/empty' && echo x > '%s/a/b/c/file' && "
                "ln -s '%s' '%s/a/link-out' && ln '%s/a/b/c/file' '%s/hard' && mkfifo '%s/fifo' && "
                "touch '%s/a/b/'\"$(printf 'new\\nline')\" && chmod 000 '%s/a/b'",
                top, top, top, outside, top, top, top, top, top, top);
        ASSERT_TRUE(cmd && system(cmd) == 0);
}

int main(void) {
        RemoveStats stats = {};

        ASSERT_TRUE(mkdtemp(tmp));
        _cleanup_free_ char *outside = strdup_printf("%s/outside", tmp);
        _cleanup_free_ char *keep = strdup_printf("%s/outside/keep", tmp);
        _cleanup_free_ char *top = strdup_printf("%s/top", tmp);
        ASSERT_TRUE(mkdir(outside, 0755) == 0 && mkdir(keep, 0755) == 0 && mkdir(top, 0755) == 0);

        /* refusals */
        ASSERT_EQ(remove_tree("/", false, on_error, NULL, &stats), -EPERM);
        ASSERT_EQ(remove_tree("//", false, on_error, NULL, &stats), -EPERM);
        ASSERT_EQ(remove_tree("relative", false, on_error, NULL, &stats), -EINVAL);

        /* keep_top empties; symlinks are removed, never followed */
        make_tree(top, outside);
        ASSERT_OK(remove_tree(top, true, on_error, NULL, &stats));
        ASSERT_EQ(reported, 0);
        ASSERT_EQ(stats.entries, 9);
        struct stat st;
        ASSERT_TRUE(stat(top, &st) == 0);
        ASSERT_TRUE(stat(keep, &st) == 0);

        /* without keep_top the directory goes too */
        make_tree(top, outside);
        ASSERT_OK(remove_tree(top, false, on_error, NULL, &stats));
        ASSERT_TRUE(stat(top, &st) < 0 && errno == ENOENT);
        ASSERT_TRUE(stat(keep, &st) == 0);

        /* a filesystem mounted inside is not entered, and the failure is loud */
        if (geteuid() != 0)
                return test_skip("mounting a tmpfs needs root");
        ASSERT_TRUE(mkdir(top, 0755) == 0);
        _cleanup_free_ char *mnt = strdup_printf("%s/mnt", top);
        _cleanup_free_ char *inside = strdup_printf("%s/mnt/precious", top);
        ASSERT_TRUE(mkdir(mnt, 0755) == 0);
        ASSERT_TRUE(mount("tmpfs", mnt, "tmpfs", 0, "size=1m") == 0);
        ASSERT_TRUE(mkdir(inside, 0755) == 0);
        reported = 0;
        ASSERT_EQ(remove_tree(top, false, on_error, NULL, &stats), -EIO);
        ASSERT_EQ(stats.skipped_mounts, 1);
        ASSERT_TRUE(reported >= 1);
        ASSERT_TRUE(stat(inside, &st) == 0);
        ASSERT_TRUE(umount(mnt) == 0);

        /* a bind mount of the same filesystem is another mount too: what it
         * shows lives elsewhere and must survive */
        ASSERT_TRUE(mkdir(top, 0755) == 0 || errno == EEXIST);
        ASSERT_TRUE(mkdir(mnt, 0755) == 0 || errno == EEXIST);
        ASSERT_TRUE(mount(outside, mnt, NULL, MS_BIND, NULL) == 0);
        reported = 0;
        ASSERT_EQ(remove_tree(top, false, on_error, NULL, &stats), -EIO);
        ASSERT_EQ(stats.skipped_mounts, 1);
        ASSERT_TRUE(stat(keep, &st) == 0);
        ASSERT_TRUE(umount(mnt) == 0);

        _cleanup_free_ char *cmd = strdup_printf("rm -rf '%s'", tmp);
        ASSERT_TRUE(cmd && system(cmd) == 0);
        return 0;
}
