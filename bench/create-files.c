/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * create-files: measures how fast a filesystem takes new inodes, the
 * metadata half of the physical floor in bench/compare. N empty files are
 * made by T threads, each in its own directories of 100 entries (a typical
 * fan-out), each with what a faithful copy must do to any entry at the
 * least: create it, set owner, mode and times. The time includes a final
 * syncfs(), as a copy's does.
 *
 *   create-files [--threads T] [--files N] DIR     (DIR must be absent)
 *
 * Prints "files=N threads=T seconds=S rate=R" (R in files per second).
 */

#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>

#include "util.h"

#define FILES_PER_DIR 100

typedef struct Worker {
        pthread_t thread;
        int root_fd;
        unsigned index;
        uint64_t files;
        int error;
} Worker;

static int create_files(Worker *w) {
        char name[64];
        struct timespec times[2] = { { .tv_sec = 1700000000, .tv_nsec = 123456789 },
                                     { .tv_sec = 1700000000, .tv_nsec = 123456789 } };
        _cleanup_close_ int dir_fd = -EBADF;

        for (uint64_t i = 0; i < w->files; i++) {
                if (i % FILES_PER_DIR == 0) {
                        closep(&dir_fd);
                        snprintf(name, sizeof name, "t%u-d%" PRIu64, w->index, i / FILES_PER_DIR);
                        if (mkdirat(w->root_fd, name, 0755) < 0)
                                return negative_errno();
                        dir_fd = openat(w->root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (dir_fd < 0)
                                return negative_errno();
                }
                snprintf(name, sizeof name, "f%" PRIu64, i);
                _cleanup_close_ int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd < 0)
                        return negative_errno();
                if (fchown(fd, 1000, 1000) < 0 || fchmod(fd, 0644) < 0 || futimens(fd, times) < 0)
                        return negative_errno();
        }
        return 0;
}

static void *worker_main(void *userdata) {
        Worker *w = userdata;
        w->error = create_files(w);
        return NULL;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "threads", required_argument, NULL, 't' },
                { "files", required_argument, NULL, 'n' },
                {},
        };
        unsigned long threads = 8;
        unsigned long long files = 100000;
        int c;

        while ((c = getopt_long(argc, argv, "t:n:", options, NULL)) >= 0) {
                switch (c) {
                case 't':
                        threads = strtoul(optarg, NULL, 10);
                        break;
                case 'n':
                        files = strtoull(optarg, NULL, 10);
                        break;
                default:
                        return EXIT_FAILURE;
                }
        }
        if (optind != argc - 1 || threads == 0 || threads > 1024 || files == 0) {
                fprintf(stderr, "usage: create-files [--threads T] [--files N] DIR\n");
                return EXIT_FAILURE;
        }
        const char *dir = argv[optind];
        if (mkdir(dir, 0755) < 0) {
                fprintf(stderr, "create-files: cannot create '%s': %m\n", dir);
                return EXIT_FAILURE;
        }
        _cleanup_close_ int root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0) {
                fprintf(stderr, "create-files: cannot open '%s': %m\n", dir);
                return EXIT_FAILURE;
        }
        _cleanup_free_ Worker *workers = calloc(threads, sizeof(Worker));
        if (!workers)
                return EXIT_FAILURE;

        uint64_t start = now_usec();
        unsigned started = 0;
        for (unsigned i = 0; i < threads; i++) {
                workers[i] = (Worker) {
                        .root_fd = root_fd,
                        .index = i,
                        .files = files / threads + (i < files % threads),
                };
                int r = pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
                if (r != 0) {
                        fprintf(stderr, "create-files: cannot start a thread: %s\n", strerror(r));
                        break;
                }
                started++;
        }
        int failed = started < threads;
        for (unsigned i = 0; i < started; i++) {
                pthread_join(workers[i].thread, NULL);
                if (workers[i].error < 0) {
                        fprintf(stderr, "create-files: thread %u: %s\n", i, strerror(-workers[i].error));
                        failed = 1;
                }
        }
        if (syncfs(root_fd) < 0) {
                fprintf(stderr, "create-files: syncfs: %m\n");
                failed = 1;
        }
        double seconds = (double) (now_usec() - start) / 1e6;
        if (failed)
                return EXIT_FAILURE;
        printf("files=%llu threads=%lu seconds=%.3f rate=%.0f\n", files, threads, seconds, (double) files / seconds);
        return EXIT_SUCCESS;
}
