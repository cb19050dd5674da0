/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "procs.h"
#include "util.h"

static bool parse_pid(const char *s, pid_t *ret) {
        long long v = 0;

        if (*s == '\0' || *s == '0')
                return false;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return false;
                v = v * 10 + (*p - '0');
                if (v > INT_MAX)
                        return false;
        }
        *ret = (pid_t) v;
        return true;
}

/* 1 when PID's comm is comm, 0 when not or when it cannot be read. */
static int comm_matches(int proc_fd, const char *pid_name, const char *comm) {
        _cleanup_free_ char *path = strdup_printf("%s/comm", pid_name);
        if (!path)
                return -ENOMEM;

        _cleanup_close_ int fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return 0;

        char buf[64];
        ssize_t n;
        do
                n = read(fd, buf, sizeof(buf) - 1);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';

        return streq(buf, comm);
}

/* 1 when the basename of PID's executable is comm. Kernel threads have no
 * executable, and other users' processes cannot be read without
 * privileges: both are simply no match. */
static int exe_matches(int proc_fd, const char *pid_name, const char *comm) {
        _cleanup_free_ char *path = strdup_printf("%s/exe", pid_name);
        if (!path)
                return -ENOMEM;

        char target[PATH_MAX];
        ssize_t n = readlinkat(proc_fd, path, target, sizeof(target) - 1);
        if (n <= 0)
                return 0;
        target[n] = '\0';

        /* The binary may have been replaced by a package upgrade while
         * the process still runs it. */
        static const char deleted[] = " (deleted)";
        size_t len = (size_t) n;
        if (len > strlen(deleted) && streq(target + len - strlen(deleted), deleted))
                target[len - strlen(deleted)] = '\0';

        const char *base = strrchr(target, '/');
        base = base ? base + 1 : target;
        return streq(base, comm);
}

static int compare_pids(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
        return (x > y) - (x < y);
}

int procs_find_by_comm(const char *proc_root, const char *comm, pid_t **ret_pids, size_t *ret_n) {
        if (!proc_root || !comm || !ret_pids || !ret_n)
                return -EINVAL;
        if (*comm == '\0' || strchr(comm, '/'))
                return -EINVAL;

        _cleanup_close_ int proc_fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (proc_fd < 0)
                return negative_errno();

        /* fdopendir() owns the fd it is given, so hand it a duplicate and keep
         * proc_fd for the *at() calls. */
        int dir_fd = fcntl(proc_fd, F_DUPFD_CLOEXEC, 3);
        if (dir_fd < 0)
                return negative_errno();
        _cleanup_closedir_ DIR *dir = fdopendir(dir_fd);
        if (!dir) {
                int r = negative_errno();
                (void) close(dir_fd);
                return r;
        }

        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0, allocated = 0;

        for (;;) {
                errno = 0;
                struct dirent *de = readdir(dir);
                if (!de) {
                        if (errno != 0)
                                return negative_errno();
                        break;
                }

                pid_t pid;
                if (!parse_pid(de->d_name, &pid))
                        continue;

                /* The kernel keeps only 15 characters of comm, so a longer
                 * name can only match through the executable. */
                int r = comm_matches(proc_fd, de->d_name, comm);
                if (r == 0)
                        r = exe_matches(proc_fd, de->d_name, comm);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;

                if (n == allocated) {
                        size_t want = MAX(allocated * 2, (size_t) 8);
                        pid_t *bigger = reallocarray(pids, want, sizeof(pid_t));
                        if (!bigger)
                                return -ENOMEM;
                        pids = bigger;
                        allocated = want;
                }
                pids[n++] = pid;
        }

        if (n > 1)
                qsort(pids, n, sizeof(pid_t), compare_pids);

        *ret_pids = n > 0 ? TAKE_PTR(pids) : NULL;
        *ret_n = n;
        return (int) MIN(n, (size_t) INT_MAX);
}

int procs_in_own_pid_namespace(const char *proc_root, pid_t pid) {
        char own[64], theirs[64];
        _cleanup_free_ char *own_path = strdup_printf("%s/self/ns/pid", proc_root);
        _cleanup_free_ char *their_path = strdup_printf("%s/%d/ns/pid", proc_root, (int) pid);
        if (!own_path || !their_path)
                return -ENOMEM;

        ssize_t n = readlink(own_path, own, sizeof own - 1);
        if (n < 0)
                return negative_errno();
        own[n] = 0;
        ssize_t m = readlink(their_path, theirs, sizeof theirs - 1);
        if (m < 0)
                return negative_errno();
        theirs[m] = 0;
        return streq(own, theirs);
}

int procs_get_cmdline(const char *proc_root, pid_t pid, char ***ret_argv) {
        if (!proc_root || pid <= 0 || !ret_argv)
                return -EINVAL;
        _cleanup_free_ char *path = strdup_printf("%s/%d/cmdline", proc_root, (int) pid);
        if (!path)
                return -ENOMEM;
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r = read_full_file(path, PROCS_CMDLINE_MAX_SIZE, &text, &size);
        if (r < 0)
                return r;

        /* NUL-separated words; the last one may lack its NUL when the
         * process rewrote its arguments. */
        size_t words = 0;
        for (size_t i = 0; i < size; i++)
                if (text[i] == 0 || i + 1 == size)
                        words++;
        _cleanup_strv_free_ char **argv = calloc(words + 1, sizeof(char *));
        if (!argv)
                return -ENOMEM;
        size_t start = 0, k = 0;
        for (size_t i = 0; i < size; i++) {
                if (text[i] != 0 && i + 1 != size)
                        continue;
                size_t end = text[i] == 0 ? i : i + 1;
                argv[k] = strndup(text + start, end - start);
                if (!argv[k])
                        return -ENOMEM;
                k++;
                start = i + 1;
        }
        *ret_argv = TAKE_PTR(argv);
        return (int) MIN(k, (size_t) INT_MAX);
}
