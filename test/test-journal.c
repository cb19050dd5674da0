/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/stat.h>

#include "journal.h"
#include "tests.h"

static char tmp[] = "/tmp/test-journal-XXXXXX";

static void test_record_and_reload(const char *dir) {
        _cleanup_(journal_freep) Journal *j = NULL;
        JournalStart start = {
                .source = "/var/lib/docker",
                .target = "/srv/docker",
                .config_path = "/etc/docker/daemon.json",
                .config_existed = true,
                .backup_path = "/etc/docker/daemon.json.bak",
                .driver = "overlay2",
                .images = 3,
                .containers = 2,
        };

        ASSERT_OK(journal_open(dir, false, &j));
        ASSERT_TRUE(journal_state(j) == NULL);
        ASSERT_FALSE(journal_is_unfinished(j));
        ASSERT_OK(journal_begin(j, &start));
        ASSERT_OK(journal_enter(j, "stop"));
        ASSERT_OK(journal_complete(j, "stop"));
        ASSERT_OK(journal_enter(j, "copy"));
        ASSERT_TRUE(journal_is_completed(j, "stop"));
        ASSERT_FALSE(journal_is_completed(j, "copy"));

        /* a second instance is kept out while the lock is held */
        Journal *second = NULL;
        ASSERT_EQ(journal_open(dir, false, &second), -EBUSY);
        ASSERT_TRUE(second == NULL);

        /* a read-only look (dry run, status) needs no lock and writes nothing */
        _cleanup_(journal_freep) Journal *peek = NULL;
        ASSERT_OK(journal_open(dir, true, &peek));
        ASSERT_STREQ(journal_get_string(peek, "stage"), "copy");
        ASSERT_EQ(journal_finish(peek, "done"), -EROFS);

        journal_free(TAKE_PTR(j));

        /* what the next run sees after this one died in the copy */
        ASSERT_OK(journal_open(dir, false, &j));
        ASSERT_TRUE(journal_is_unfinished(j));
        ASSERT_STREQ(journal_get_string(j, "stage"), "copy");
        ASSERT_STREQ(journal_get_string(j, "target"), "/srv/docker");
        ASSERT_STREQ(journal_get_string(j, "backup"), "/etc/docker/daemon.json.bak");
        ASSERT_TRUE(journal_get_bool(j, "config_existed"));
        ASSERT_EQ(journal_get_long(j, "images"), 3);
        ASSERT_TRUE(journal_is_completed(j, "stop"));
        ASSERT_OK(journal_complete(j, "copy"));
        ASSERT_OK(journal_complete(j, "copy")); /* idempotent */
        ASSERT_OK(journal_finish(j, "done"));
        ASSERT_FALSE(journal_is_unfinished(j));

        _cleanup_free_ char *state = strdup_printf("%s/state.json", dir);
        struct stat st;
        ASSERT_TRUE(stat(state, &st) == 0);
        ASSERT_EQ(st.st_mode & 07777, 0600);
        ASSERT_TRUE(stat(dir, &st) == 0);
        ASSERT_EQ(st.st_mode & 07777, 0700);
}

/* containerd's part is recorded only when it moves too. */
static void test_containerd_fields(const char *dir) {
        _cleanup_(journal_freep) Journal *j = NULL;
        JournalStart start = {
                .source = "/var/lib/docker",
                .target = "/srv/docker",
                .config_path = "/etc/docker/daemon.json",
                .driver = "overlay2",
        };

        ASSERT_OK(journal_open(dir, false, &j));
        ASSERT_OK(journal_begin(j, &start));
        ASSERT_TRUE(journal_get_string(j, "containerd_source") == NULL);
        ASSERT_FALSE(journal_get_bool(j, "containerd_config_existed"));

        start.containerd_source = "/var/lib/containerd";
        start.containerd_target = "/srv/containerd";
        start.containerd_config_path = "/etc/containerd/config.toml";
        start.containerd_config_existed = true;
        start.containerd_backup_path = "/etc/containerd/config.toml.bak";
        ASSERT_OK(journal_begin(j, &start));
        journal_free(TAKE_PTR(j));

        ASSERT_OK(journal_open(dir, false, &j));
        ASSERT_STREQ(journal_get_string(j, "containerd_source"), "/var/lib/containerd");
        ASSERT_STREQ(journal_get_string(j, "containerd_target"), "/srv/containerd");
        ASSERT_STREQ(journal_get_string(j, "containerd_config"), "/etc/containerd/config.toml");
        ASSERT_TRUE(journal_get_bool(j, "containerd_config_existed"));
        ASSERT_STREQ(journal_get_string(j, "containerd_backup"), "/etc/containerd/config.toml.bak");

        /* a config.toml that did not exist has no backup */
        start.containerd_config_existed = false;
        start.containerd_backup_path = NULL;
        ASSERT_OK(journal_begin(j, &start));
        ASSERT_TRUE(journal_get_string(j, "containerd_backup") == NULL);
        ASSERT_FALSE(journal_get_bool(j, "containerd_config_existed"));
}

static void test_corrupt_state(const char *dir) {
        _cleanup_free_ char *state = strdup_printf("%s/state.json", dir);
        FILE *f = fopen(state, "we");
        ASSERT_TRUE(f);
        fputs("{ \"outcome\": \"runn", f);
        fclose(f);

        Journal *j = NULL;
        ASSERT_EQ(journal_open(dir, false, &j), -EBADMSG);
        ASSERT_TRUE(j == NULL);
}

int main(void) {
        ASSERT_TRUE(mkdtemp(tmp));
        _cleanup_free_ char *dir = strdup_printf("%s/state", tmp);

        test_record_and_reload(dir);
        test_containerd_fields(dir);
        test_corrupt_state(dir);

        _cleanup_free_ char *cmd = strdup_printf("rm -rf '%s'", tmp);
        ASSERT_TRUE(cmd && system(cmd) == 0);
        return 0;
}
