/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <ftw.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "tests.h"
#include "procs.h"
#include "util.h"

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void) st;
        (void) type;
        (void) ftw;
        return remove(path);
}

static void remove_tree(const char *path) {
        ASSERT_OK(nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -errno);
}

static void write_file(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *path = strdup_printf("%s/%s", dir, name);
        ASSERT_TRUE(path);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(write_all(fd, content, strlen(content)));
}

/* A fake process: proc_root/pid/ with an optional comm and exe link. */
static void add_process(const char *root, const char *pid, const char *comm, const char *exe) {
        _cleanup_free_ char *dir = strdup_printf("%s/%s", root, pid);
        ASSERT_TRUE(dir);
        ASSERT_TRUE(mkdir(dir, 0755) == 0);
        if (comm)
                write_file(dir, "comm", comm);
        if (exe) {
                _cleanup_free_ char *link = strdup_printf("%s/exe", dir);
                ASSERT_TRUE(link);
                ASSERT_TRUE(symlink(exe, link) == 0);
        }
}

static void test_fake_tree(void) {
        char root[] = "/tmp/test-procs-XXXXXX";
        ASSERT_TRUE(mkdtemp(root));

        add_process(root, "1", "systemd\n", "/usr/lib/systemd/systemd");
        add_process(root, "42", "dockerd\n", "/usr/sbin/dockerd");
        add_process(root, "43", "containerd\n", "/usr/bin/containerd");
        /* a kernel thread: comm only, no executable */
        add_process(root, "2", "kthreadd\n", NULL);
        /* exited between readdir() and the read: nothing left to read */
        add_process(root, "500", NULL, NULL);
        /* a renamed process still running dockerd, and one whose binary
         * was upgraded under it */
        add_process(root, "700", "worker\n", "/usr/sbin/dockerd");
        add_process(root, "701", "dockerd\n", "/usr/sbin/dockerd (deleted)");
        add_process(root, "702", "other\n", "/opt/bin/dockerd (deleted)");
        /* names that only look alike */
        add_process(root, "800", "dockerd-helper\n", "/usr/bin/dockerd-helper");
        add_process(root, "801", "dockerd2\n", "/usr/bin/dockerd2");
        add_process(root, "802", "xdockerd\n", "/usr/bin/xdockerd");
        /* a name longer than the 15 characters comm keeps */
        add_process(root, "900", "containerd-shim\n", "/usr/bin/containerd-shim-runc-v2");
        /* not processes */
        add_process(root, "self", "dockerd\n", "/usr/sbin/dockerd");
        add_process(root, "0042x", "dockerd\n", NULL);
        add_process(root, "0", "dockerd\n", NULL);
        write_file(root, "99", "a plain file named like a PID");

        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        ASSERT_EQ(ASSERT_OK(procs_find_by_comm(root, "dockerd", &pids, &n)), 4);
        ASSERT_EQ(n, 4);
        ASSERT_EQ(pids[0], 42);
        ASSERT_EQ(pids[1], 700);
        ASSERT_EQ(pids[2], 701);
        ASSERT_EQ(pids[3], 702);
        free(TAKE_PTR(pids));

        ASSERT_EQ(ASSERT_OK(procs_find_by_comm(root, "containerd-shim-runc-v2", &pids, &n)), 1);
        ASSERT_EQ(pids[0], 900);
        free(TAKE_PTR(pids));

        ASSERT_EQ(ASSERT_OK(procs_find_by_comm(root, "kthreadd", &pids, &n)), 1);
        ASSERT_EQ(pids[0], 2);
        free(TAKE_PTR(pids));

        /* none found: success with nothing allocated */
        pids = (pid_t *) 1;
        n = 7;
        ASSERT_EQ(ASSERT_OK(procs_find_by_comm(root, "nginx", &pids, &n)), 0);
        ASSERT_TRUE(pids == NULL);
        ASSERT_EQ(n, 0);

        ASSERT_EQ(procs_find_by_comm(root, "", &pids, &n), -EINVAL);
        ASSERT_EQ(procs_find_by_comm(root, "usr/sbin/dockerd", &pids, &n), -EINVAL);

        remove_tree(root);

        /* a missing proc root fails and leaves the outputs alone */
        pids = (pid_t *) 1;
        n = 7;
        ASSERT_EQ(procs_find_by_comm(root, "dockerd", &pids, &n), -ENOENT);
        ASSERT_TRUE(pids == (pid_t *) 1);
        ASSERT_EQ(n, 7);
        pids = NULL;
}

static void test_real_proc(void) {
        char comm[17] = {};
        ASSERT_TRUE(prctl(PR_GET_NAME, comm) == 0);

        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        ASSERT_OK(procs_find_by_comm("/proc", comm, &pids, &n));
        bool found = false;
        for (size_t i = 0; i < n; i++)
                if (pids[i] == getpid())
                        found = true;
        ASSERT_TRUE(found);
        free(TAKE_PTR(pids));

        /* Renamed: found through comm, and still through the executable. */
        ASSERT_TRUE(prctl(PR_SET_NAME, "ddr-renamed") == 0);
        ASSERT_OK(procs_find_by_comm("/proc", "ddr-renamed", &pids, &n));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(pids[0], getpid());
        free(TAKE_PTR(pids));

        ASSERT_OK(procs_find_by_comm("/proc", comm, &pids, &n));
        found = false;
        for (size_t i = 0; i < n; i++)
                if (pids[i] == getpid())
                        found = true;
        ASSERT_TRUE(found);
        ASSERT_TRUE(prctl(PR_SET_NAME, comm) == 0);
}

static void test_pid_namespace(void) {
        ASSERT_EQ(procs_in_own_pid_namespace("/proc", getpid()), 1);
        /* a process that does not exist */
        ASSERT_EQ(procs_in_own_pid_namespace("/proc", 999999999), -ENOENT);
        /* a grandchild in a new PID namespace lives elsewhere (needs root) */
        int pipefd[2];
        ASSERT_TRUE(pipe2(pipefd, O_CLOEXEC) == 0);
        pid_t child = fork();
        ASSERT_TRUE(child >= 0);
        if (child == 0) {
                pid_t inner = -1;
                if (unshare(CLONE_NEWPID) == 0) {
                        inner = fork();
                        if (inner == 0) {
                                pause();
                                _exit(0);
                        }
                }
                /* fork() answered in our own namespace: the pid the parent sees */
                (void) !write(pipefd[1], &inner, sizeof inner);
                _exit(0);
        }
        close(pipefd[1]);
        pid_t inner = -1;
        ASSERT_EQ(read(pipefd[0], &inner, sizeof inner), (long) sizeof inner);
        close(pipefd[0]);
        waitpid(child, NULL, 0);
        if (inner > 0) {
                ASSERT_EQ(procs_in_own_pid_namespace("/proc", inner), 0);
                kill(inner, SIGKILL);
        } else
                ASSERT_TRUE(geteuid() != 0); /* only unprivileged runs may lack CLONE_NEWPID */
}

static void write_bytes(const char *dir, const char *name, const char *content, size_t size) {
        _cleanup_free_ char *path = strdup_printf("%s/%s", dir, name);
        ASSERT_TRUE(path);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(write_all(fd, content, size));
}

static void test_cmdline(void) {
        char root[] = "/tmp/test-procs-XXXXXX";
        ASSERT_TRUE(mkdtemp(root));
        add_process(root, "900", "containerd-shim\n", "/usr/bin/containerd-shim-runc-v2");
        add_process(root, "901", "rewritten\n", NULL);
        add_process(root, "2", "kthreadd\n", NULL);
        static const char shim[] = "/usr/bin/containerd-shim-runc-v2\0-namespace\0moby\0-id\0abc\0";
        _cleanup_free_ char *dir = strdup_printf("%s/900", root);
        ASSERT_TRUE(dir);
        write_bytes(dir, "cmdline", shim, sizeof shim - 1);
        free(dir);
        /* set by the process itself, without the final NUL */
        dir = strdup_printf("%s/901", root);
        ASSERT_TRUE(dir);
        write_bytes(dir, "cmdline", "worker --x", 10);
        free(dir);
        dir = strdup_printf("%s/2", root);
        ASSERT_TRUE(dir);
        write_bytes(dir, "cmdline", "", 0);

        _cleanup_strv_free_ char **argv = NULL;
        ASSERT_EQ(ASSERT_OK(procs_get_cmdline(root, 900, &argv)), 5);
        ASSERT_STREQ(argv[0], "/usr/bin/containerd-shim-runc-v2");
        ASSERT_STREQ(argv[1], "-namespace");
        ASSERT_STREQ(argv[2], "moby");
        ASSERT_STREQ(argv[4], "abc");
        ASSERT_TRUE(argv[5] == NULL);
        strv_freep(&argv);
        argv = NULL;

        ASSERT_EQ(ASSERT_OK(procs_get_cmdline(root, 901, &argv)), 1);
        ASSERT_STREQ(argv[0], "worker --x");
        ASSERT_TRUE(argv[1] == NULL);
        strv_freep(&argv);
        argv = NULL;

        ASSERT_EQ(ASSERT_OK(procs_get_cmdline(root, 2, &argv)), 0);
        ASSERT_TRUE(argv[0] == NULL);
        strv_freep(&argv);

        /* gone: an error, the output untouched */
        argv = (char **) 1;
        ASSERT_EQ(procs_get_cmdline(root, 12345, &argv), -ENOENT);
        ASSERT_TRUE(argv == (char **) 1);
        argv = NULL;
        ASSERT_EQ(procs_get_cmdline(root, 0, &argv), -EINVAL);

        /* the real one of this process */
        ASSERT_TRUE(ASSERT_OK(procs_get_cmdline("/proc", getpid(), &argv)) >= 1);
        ASSERT_TRUE(strstr(argv[0], "test-procs") != NULL);

        remove_tree(root);
}

int main(void) {
        test_fake_tree();
        test_cmdline();
        test_real_proc();
        test_pid_namespace();
        return 0;
}
