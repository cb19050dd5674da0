/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "checks.h"
#include "tests.h"

static char tmp[] = "/tmp/test-checks-XXXXXX";

static CheckStatus status_of(const CheckList *l, const char *id) {
        const CheckResult *c = check_list_find(l, id);
        ASSERT_TRUE(c);
        return c->status;
}

static char *in_tmp(const char *rel) {
        char *p = strdup_printf("%s/%s", tmp, rel);
        ASSERT_TRUE(p);
        return p;
}

static void test_target_path_ok(void) {
        _cleanup_free_ char *target = in_tmp("new/docker");
        _cleanup_free_ char *source = in_tmp("src");
        _cleanup_free_ char *normalized = NULL;
        CheckList l = {};

        ASSERT_OK(checks_target_path(&l, target, source, &normalized));
        ASSERT_STREQ(normalized, target);
        ASSERT_FALSE(check_list_refused(&l));
        ASSERT_EQ(status_of(&l, "target-empty"), CHECK_OK);
        check_list_done(&l);
}

static void test_target_relative(void) {
        _cleanup_free_ char *normalized = NULL;
        CheckList l = {};

        ASSERT_OK(checks_target_path(&l, "srv/docker", "/var/lib/docker", &normalized));
        ASSERT_TRUE(normalized == NULL);
        ASSERT_EQ(status_of(&l, "target-absolute"), CHECK_REFUSE);
        ASSERT_TRUE(check_list_refused(&l));
        check_list_done(&l);

        ASSERT_OK(checks_target_path(&l, "/srv/../var/lib/docker", "/var/lib/docker", &normalized));
        ASSERT_EQ(status_of(&l, "target-absolute"), CHECK_REFUSE);
        check_list_done(&l);
}

static void test_target_symlink(void) {
        _cleanup_free_ char *real = in_tmp("real");
        _cleanup_free_ char *link = in_tmp("link");
        _cleanup_free_ char *target = in_tmp("link/docker");
        _cleanup_free_ char *normalized = NULL;
        CheckList l = {};

        ASSERT_TRUE(mkdir(real, 0755) == 0);
        ASSERT_TRUE(symlink(real, link) == 0);
        ASSERT_OK(checks_target_path(&l, target, "/var/lib/docker", &normalized));
        ASSERT_EQ(status_of(&l, "target-symlink"), CHECK_REFUSE);
        ASSERT_TRUE(strstr(check_list_find(&l, "target-symlink")->evidence, link));
        check_list_done(&l);
}

static void test_target_not_empty(void) {
        _cleanup_free_ char *dir = in_tmp("full");
        _cleanup_free_ char *file = in_tmp("full/.hidden");
        _cleanup_free_ char *normalized = NULL;
        CheckList l = {};

        ASSERT_TRUE(mkdir(dir, 0755) == 0);
        int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        close(fd);
        ASSERT_OK(checks_target_path(&l, dir, "/var/lib/docker", &normalized));
        ASSERT_EQ(status_of(&l, "target-empty"), CHECK_REFUSE);
        check_list_done(&l);
        free(normalized);
        normalized = NULL;

        /* the top of a fresh ext4 gets its own remedy */
        _cleanup_free_ char *fs_top = in_tmp("fstop");
        _cleanup_free_ char *lost = in_tmp("fstop/lost+found");
        _cleanup_free_ char *top_normalized = NULL;
        ASSERT_TRUE(mkdir(fs_top, 0755) == 0 && mkdir(lost, 0700) == 0);
        CheckList top = {};
        ASSERT_OK(checks_target_path(&top, fs_top, "/var/lib/docker", &top_normalized));
        ASSERT_EQ(status_of(&top, "target-empty"), CHECK_REFUSE);
        ASSERT_TRUE(strstr(check_list_find(&top, "target-empty")->evidence, "lost+found"));
        ASSERT_TRUE(strstr(check_list_find(&top, "target-empty")->remedy, "/docker"));
        check_list_done(&top);

        /* an existing file is not a directory */
        ASSERT_OK(checks_target_path(&l, file, "/var/lib/docker", &normalized));
        ASSERT_EQ(status_of(&l, "target-empty"), CHECK_REFUSE);
        check_list_done(&l);
}

static void test_target_nesting(void) {
        _cleanup_free_ char *normalized = NULL;
        CheckList l = {};

        ASSERT_OK(checks_target_path(&l, "/var/lib/docker/new", "/var/lib/docker", &normalized));
        ASSERT_EQ(status_of(&l, "target-nesting"), CHECK_REFUSE);
        check_list_done(&l);
        free(normalized);
        normalized = NULL;

        ASSERT_OK(checks_target_path(&l, "/var/lib", "/var/lib/docker", &normalized));
        ASSERT_EQ(status_of(&l, "target-nesting"), CHECK_REFUSE);
        check_list_done(&l);
        free(normalized);
        normalized = NULL;

        /* a sibling that shares a prefix is not nested */
        _cleanup_free_ char *sibling = in_tmp("docker2");
        _cleanup_free_ char *source = in_tmp("docker");
        ASSERT_OK(checks_target_path(&l, sibling, source, &normalized));
        ASSERT_EQ(status_of(&l, "target-nesting"), CHECK_OK);
        check_list_done(&l);
}

static void test_mounts_below(void) {
        _cleanup_free_ char *first = NULL;

        ASSERT_EQ(checks_mounts_below("data/mountinfo-docker-leftovers", "/var/lib/docker", &first), 2);
        ASSERT_STREQ(first, "/var/lib/docker/overlay2/abc/merged");
        free(first);
        first = NULL;
        /* the data-root's own mount and a prefix sibling do not count */
        ASSERT_EQ(checks_mounts_below("data/mountinfo-docker-leftovers", "/var/lib/docker-old", &first), 0);
        ASSERT_TRUE(first == NULL);
}

static void test_space_margin(void) {
        uint64_t mib = 1024ull * 1024;
        ASSERT_EQ(checks_space_with_margin(0), 128 * mib);
        ASSERT_EQ(checks_space_with_margin(1000 * mib), 1000 * mib + 50 * mib + 128 * mib);
}

static void test_filesystem_root_refused(void) {
        CheckList l = {};
        TargetFilesystem fs = {};

        /* /usr is on the root filesystem on any sane test machine */
        ASSERT_OK(checks_target_filesystem(&l, "/usr/docker-dataroot-test", NULL, 0, 0, &fs));
        struct stat root, usr;
        ASSERT_TRUE(stat("/", &root) == 0 && stat("/usr", &usr) == 0);
        if (root.st_dev == usr.st_dev)
                ASSERT_EQ(status_of(&l, "target-mounted"), CHECK_REFUSE);
        target_filesystem_done(&fs);
        check_list_done(&l);
}

static void test_filesystem_space_refused(void) {
        CheckList l = {};
        TargetFilesystem fs = {};

        /* no filesystem here has an exbibyte free */
        ASSERT_OK(checks_target_filesystem(&l, tmp, NULL, 1ull << 60, 0, &fs));
        ASSERT_EQ(status_of(&l, "target-space"), CHECK_REFUSE);
        target_filesystem_done(&fs);
        check_list_done(&l);
}


static void test_data_root_flags(void) {
        char *plain[] = { "/usr/sbin/dockerd", "-H", "fd://", "$DOCKER_OPTS", NULL };
        char *separate[] = { "/usr/sbin/dockerd", "--data-root", "/srv/d", NULL };
        char *joined[] = { "/usr/sbin/dockerd", "--graph=/srv/g", NULL };
        char *short_flag[] = { "/usr/sbin/dockerd", "-g", "/srv/s", NULL };
        char *config_file[] = { "/usr/sbin/dockerd", "--config-file", "/etc/d.json", NULL };
        char *config_joined[] = { "/usr/sbin/dockerd", "--config-file=/etc/e.json", NULL };
        char *flag = NULL;

        ASSERT_EQ(checks_find_data_root_flag(plain, &flag), 0);
        ASSERT_TRUE(flag == NULL);
        ASSERT_EQ(checks_find_data_root_flag(separate, &flag), 1);
        ASSERT_STREQ(flag, "--data-root /srv/d");
        free(flag);
        ASSERT_EQ(checks_find_data_root_flag(joined, &flag), 1);
        ASSERT_STREQ(flag, "--graph=/srv/g");
        free(flag);
        ASSERT_EQ(checks_find_data_root_flag(short_flag, &flag), 1);
        ASSERT_STREQ(flag, "-g /srv/s");
        free(flag);
        flag = NULL;

        ASSERT_EQ(checks_find_config_file_flag(plain, &flag), 0);
        ASSERT_EQ(checks_find_config_file_flag(config_file, &flag), 1);
        ASSERT_STREQ(flag, "/etc/d.json");
        free(flag);
        ASSERT_EQ(checks_find_config_file_flag(config_joined, &flag), 1);
        ASSERT_STREQ(flag, "/etc/e.json");
        free(flag);
}

static void test_env_file_flags(void) {
        static const struct {
                const char *text;
                unsigned line;
        } cases[] = {
                { "# DOCKER_OPTS=\"-g /srv\"\n", 0 },
                { "DOCKER_OPTS=\"--dns 8.8.8.8\"\n", 0 },
                { "\n\nDOCKER_OPTS=\"--data-root=/srv/docker\"\n", 3 },
                { "DOCKER_OPTS='-g /srv/docker'\n", 1 },
                { "OPTIONS=\"--selinux-enabled --graph /x\"\n", 1 },
                { "DOCKER_OPTS=\"--data-rootless\"\n", 0 },
        };
        _cleanup_free_ char *path = in_tmp("default-docker");

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                FILE *f = fopen(path, "we");
                ASSERT_TRUE(f);
                fputs(cases[i].text, f);
                fclose(f);
                unsigned line = 0;
                int r = checks_env_file_data_root_flag(path, &line);
                ASSERT_EQ(r, cases[i].line > 0);
                ASSERT_EQ(line, cases[i].line);
        }
        unsigned line = 0;
        ASSERT_EQ(checks_env_file_data_root_flag("/nonexistent/default/docker", &line), -ENOENT);
}

static void test_overlay_probe(void) {
        _cleanup_free_ char *dir = in_tmp("probe");
        struct stat before, after;
        bool d_type = false, trusted = false;

        ASSERT_TRUE(mkdir(dir, 0755) == 0);
        const struct timespec old_times[2] = { { .tv_sec = 1000000000, .tv_nsec = 123 },
                                               { .tv_sec = 1000000000, .tv_nsec = 456 } };
        ASSERT_TRUE(utimensat(AT_FDCWD, dir, old_times, 0) == 0);
        ASSERT_TRUE(stat(dir, &before) == 0);

        ASSERT_OK(checks_probe_overlay_support(dir, &d_type, &trusted));
        ASSERT_TRUE(d_type);
        if (geteuid() == 0)
                ASSERT_TRUE(trusted);

        /* no trace: no entry left, the times as they were */
        _cleanup_free_ char *cmd = strdup_printf("test -z \"$(ls -A '%s')\"", dir);
        ASSERT_TRUE(cmd && system(cmd) == 0);
        ASSERT_TRUE(stat(dir, &after) == 0);
        ASSERT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
        ASSERT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);

        ASSERT_TRUE(checks_probe_overlay_support("/nonexistent/dir", &d_type, &trusted) < 0);
}

static void test_selinux(void) {
        _cleanup_free_ char *enforce = in_tmp("enforce");
        CheckList l = {};

        FILE *f = fopen(enforce, "we");
        ASSERT_TRUE(f);
        fputs("0", f);
        fclose(f);
        ASSERT_OK(checks_selinux(&l, enforce, "/var/lib/docker", "/srv/docker"));
        ASSERT_EQ(l.n, 0);

        f = fopen(enforce, "we");
        ASSERT_TRUE(f);
        fputs("1", f);
        fclose(f);
        ASSERT_OK(checks_selinux(&l, enforce, "/var/lib/docker", "/srv/docker"));
        ASSERT_EQ(status_of(&l, "selinux"), CHECK_WARN);
        ASSERT_TRUE(strstr(check_list_find(&l, "selinux")->remedy, "semanage fcontext -a -e /var/lib/docker /srv/docker"));
        check_list_done(&l);

        /* no SELinux at all */
        ASSERT_OK(checks_selinux(&l, "/nonexistent/enforce", "/var/lib/docker", "/srv/docker"));
        ASSERT_EQ(l.n, 0);
}

static void test_id_prefix(void) {
        CheckList l = {};
        ASSERT_OK(check_add(&l, "target-empty", CHECK_REFUSE, "r", "docker's"));
        l.id_prefix = "containerd-";
        ASSERT_OK(checks_target_path(&l, "relative", "/var/lib/containerd", &(char *) { NULL }));
        l.id_prefix = NULL;
        ASSERT_EQ(status_of(&l, "containerd-target-absolute"), CHECK_REFUSE);
        ASSERT_TRUE(check_list_find(&l, "target-absolute") == NULL);
        ASSERT_STREQ(check_list_find(&l, "target-empty")->evidence, "docker's");
        check_list_done(&l);
}

static void test_rootless(void) {
        _cleanup_free_ char *top = in_tmp("rootless");
        _cleanup_free_ char *path = NULL;

        ASSERT_TRUE(mkdir(top, 0755) == 0);
        ASSERT_EQ(checks_find_rootless(top, &path), 0);
        ASSERT_TRUE(path == NULL);

        /* a user with other dot files and an empty home is not rootless Docker */
        _cleanup_free_ char *cmd = strdup_printf(
                "mkdir -p '%1$s/home/alice/.config/systemd/user' '%1$s/home/bob/.local/share' '%1$s/root'", top);
        ASSERT_TRUE(cmd && system(cmd) == 0);
        ASSERT_EQ(checks_find_rootless(top, &path), 0);

        _cleanup_free_ char *data = strdup_printf("%s/home/bob/.local/share/docker", top);
        ASSERT_TRUE(mkdir(data, 0700) == 0);
        ASSERT_EQ(checks_find_rootless(top, &path), 1);
        ASSERT_STREQ(path, data);
        free(TAKE_PTR(path));
        ASSERT_TRUE(rmdir(data) == 0);

        _cleanup_free_ char *unit = strdup_printf("%s/home/alice/.config/systemd/user/docker.service", top);
        int fd = open(unit, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        close(fd);
        ASSERT_EQ(checks_find_rootless(top, &path), 1);
        ASSERT_STREQ(path, unit);
        free(TAKE_PTR(path));
        ASSERT_TRUE(unlink(unit) == 0);

        /* the system-wide user unit, even without any home */
        _cleanup_free_ char *etc = strdup_printf("mkdir -p '%1$s/etc/systemd/user' && "
                                                 "ln -s /nonexistent '%1$s/etc/systemd/user/docker.service'", top);
        ASSERT_TRUE(etc && system(etc) == 0);
        ASSERT_EQ(checks_find_rootless(top, &path), 1);
        ASSERT_TRUE(strstr(path, "/etc/systemd/user/docker.service") != NULL);
}

int main(void) {
        ASSERT_TRUE(mkdtemp(tmp));

        test_id_prefix();
        test_rootless();

        test_target_path_ok();
        test_target_relative();
        test_target_symlink();
        test_target_not_empty();
        test_target_nesting();
        test_mounts_below();
        test_space_margin();
        test_filesystem_root_refused();
        test_filesystem_space_refused();
        test_data_root_flags();
        test_env_file_flags();
        test_selinux();
        test_overlay_probe();

        _cleanup_free_ char *cmd = strdup_printf("rm -rf --one-file-system '%s'", tmp);
        ASSERT_TRUE(cmd && system(cmd) == 0);
        return 0;
}
