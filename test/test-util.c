/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "tests.h"
#include "util.h"

static void test_take(void) {
        _cleanup_free_ char *owner = strdup("x");
        char *taken = TAKE_PTR(owner);
        ASSERT_TRUE(owner == NULL);
        free(taken);

        _cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        int moved = TAKE_FD(fd);
        ASSERT_EQ(fd, -1);
        close(moved);
}

static void test_read_write(void) {
        char path[] = "/tmp/test-util-XXXXXX";
        int fd = mkostemp(path, O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(write_all(fd, "hello\n", 6));
        close(fd);

        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        ASSERT_OK(read_full_file(path, 100, &text, &size));
        ASSERT_EQ(size, 6);
        ASSERT_STREQ(text, "hello\n");

        /* exactly at the limit is fine; one byte less refuses instead of truncating */
        free(text);
        text = NULL;
        ASSERT_OK(read_full_file(path, 6, &text, &size));
        ASSERT_EQ(size, 6);
        char *untouched = NULL;
        ASSERT_EQ(read_full_file(path, 3, &untouched, NULL), -EFBIG);
        ASSERT_TRUE(untouched == NULL);
        ASSERT_EQ(read_full_file("/", 100, &untouched, NULL), -EISDIR);
        ASSERT_EQ(read_full_file("/nonexistent/x", 100, &untouched, NULL), -ENOENT);
        unlink(path);
}

static void test_format_bytes(void) {
        char buf[32];
        ASSERT_STREQ(format_bytes(0, buf, sizeof buf), "0 B");
        ASSERT_STREQ(format_bytes(1023, buf, sizeof buf), "1023 B");
        ASSERT_STREQ(format_bytes(1536, buf, sizeof buf), "1.5 KiB");
        ASSERT_STREQ(format_bytes(3ull << 30, buf, sizeof buf), "3.0 GiB");
}

static void test_answers(void) {
        ASSERT_TRUE(answer_is_yes("y"));
        ASSERT_TRUE(answer_is_yes("YES"));
        ASSERT_FALSE(answer_is_yes(""));
        ASSERT_FALSE(answer_is_yes("n"));
        ASSERT_FALSE(answer_is_yes("yes please"));
}

static void test_printf(void) {
        _cleanup_free_ char *s = strdup_printf("%s-%d", "a", 7);
        ASSERT_STREQ(s, "a-7");
        ASSERT_TRUE(now_usec() > 0);
}

int main(void) {
        test_take();
        test_read_write();
        test_format_bytes();
        test_answers();
        test_printf();
        return 0;
}
