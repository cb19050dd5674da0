/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/stat.h>

#include "containers.h"
#include "tests.h"
#include "util.h"

static char tmp[] = "/tmp/test-containers-XXXXXX";

/* Shaped like what dockerd 20.10 writes: compact, Go's escapes, large
 * numbers written as integers. */
static const char config_text[] =
        "{\"StreamConfig\":{},\"State\":{\"Running\":false,\"Pid\":0,\"ExitCode\":0,"
        "\"StartedAt\":\"2026-12-03T17:00:00.123456789Z\"},\"ID\":\"abc\","
        "\"Config\":{\"Labels\":{\"note\":\"a \\u003cb\\u003e \\u0026 ü\"},\"StopTimeout\":9007199254740993},"
        "\"MountPoints\":{\"/data\":{\"Source\":\"/var/lib/docker/volumes/pgdata/_data\",\"Destination\":\"/data\","
        "\"RW\":true,\"Name\":\"pgdata\",\"Driver\":\"local\",\"Type\":\"volume\",\"Relabel\":\"z\"},"
        "\"/etc/x\":{\"Source\":\"/var/lib/docker-extra/x\",\"Destination\":\"/etc/x\",\"RW\":false,"
        "\"Type\":\"bind\"},"
        "\"/logs\":{\"Source\":\"/var/lib/docker/volumes/logs/_data\",\"Destination\":\"/logs\",\"RW\":true,"
        "\"Name\":\"logs\",\"Driver\":\"local\",\"Type\":\"volume\"}},"
        "\"LogPath\":\"/var/lib/docker/containers/abc/abc-json.log\"}";

static void write_file(const char *path, const char *text, mode_t mode) {
        FILE *f = fopen(path, "we");
        ASSERT_TRUE(f);
        fputs(text, f);
        fclose(f);
        ASSERT_TRUE(chmod(path, mode) == 0);
}

static unsigned reported;
static void on_error(const char *path, const char *operation, int error, void *userdata) {
        (void) userdata;
        fprintf(stderr, "reported: %s %s: %s\n", operation, path, strerror(-error));
        reported++;
}

int main(void) {
        ASSERT_TRUE(mkdtemp(tmp));
        _cleanup_free_ char *cmd = strdup_printf("mkdir -p %s/new/containers/abc %s/new/containers/def "
                                                 "%s/new/containers/bad", tmp, tmp, tmp);
        ASSERT_TRUE(cmd && system(cmd) == 0);
        _cleanup_free_ char *abc = strdup_printf("%s/new/containers/abc/config.v2.json", tmp);
        _cleanup_free_ char *def = strdup_printf("%s/new/containers/def/config.v2.json", tmp);
        _cleanup_free_ char *new_root = strdup_printf("%s/new", tmp);
        write_file(abc, config_text, 0600);
        write_file(def, "{\"ID\":\"def\",\"MountPoints\":{}}", 0600);

        ASSERT_EQ(containers_count_sources_below(new_root, "/var/lib/docker"), 2);

        unsigned mounts = 0;
        ASSERT_OK(containers_rewrite_volume_sources(new_root, "/var/lib/docker", on_error, NULL, &mounts));
        ASSERT_EQ(mounts, 2);
        ASSERT_EQ(reported, 0);
        ASSERT_EQ(containers_count_sources_below(new_root, "/var/lib/docker"), 0);

        /* only the two Source values changed, everything else byte for byte */
        _cleanup_free_ char *text = NULL;
        ASSERT_OK(read_full_file(abc, 1 << 20, &text, NULL));
        _cleanup_free_ char *expected = strdup(config_text);
        ASSERT_TRUE(expected);
        _cleanup_free_ char *want = NULL;
        {
                const char *a = "\"Source\":\"/var/lib/docker/volumes/pgdata/_data\"";
                const char *b = "\"Source\":\"/var/lib/docker/volumes/logs/_data\"";
                char *p1 = strstr(expected, a), *p2 = strstr(expected, b);
                ASSERT_TRUE(p1 && p2 && p1 < p2);
                *p1 = 0;
                *p2 = 0;
                want = strdup_printf("%s\"Source\":\"%s/volumes/pgdata/_data\"%s\"Source\":\"%s/volumes/logs/_data\"%s",
                                     expected, new_root, p1 + strlen(a), new_root, p2 + strlen(b));
        }
        ASSERT_STREQ(text, want);
        struct stat st;
        ASSERT_TRUE(stat(abc, &st) == 0);
        ASSERT_EQ(st.st_mode & 07777, 0600);

        /* idempotent */
        ASSERT_OK(containers_rewrite_volume_sources(new_root, "/var/lib/docker", on_error, NULL, &mounts));
        ASSERT_EQ(mounts, 0);

        /* a file that is not JSON is reported, the others still done */
        _cleanup_free_ char *bad = strdup_printf("%s/new/containers/bad/config.v2.json", tmp);
        write_file(bad, "{ not json", 0600);
        write_file(abc, config_text, 0600);
        reported = 0;
        ASSERT_EQ(containers_rewrite_volume_sources(new_root, "/var/lib/docker", on_error, NULL, &mounts), -EIO);
        ASSERT_EQ(reported, 1);
        ASSERT_EQ(mounts, 2);

        /* no containers directory at all */
        ASSERT_OK(containers_rewrite_volume_sources(tmp, "/var/lib/docker", on_error, NULL, &mounts));
        ASSERT_EQ(mounts, 0);

        _cleanup_free_ char *rm = strdup_printf("rm -rf '%s'", tmp);
        ASSERT_TRUE(rm && system(rm) == 0);
        return 0;
}
