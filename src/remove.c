/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "remove.h"
#include "util.h"

typedef struct Remover {
        dev_t dev;
        uint64_t mnt_id;
        bool have_mnt_id;
        remove_report_fn on_error;
        void *userdata;
        RemoveStats stats;
} Remover;

static void report(Remover *rm, const char *relpath, const char *operation, int error) {
        rm->stats.errors++;
        if (rm->on_error)
                rm->on_error(relpath, operation, error, rm->userdata);
}

static char *join(const char *dir, const char *name) {
        return streq(dir, ".") ? strdup(name) : strdup_printf("%s/%s", dir, name);
}

/* Mount ids tell bind mounts of the same filesystem apart, which st_dev
 * cannot; st_dev is the fallback for kernels without STATX_MNT_ID. */
static bool on_other_mount(const Remover *rm, const struct statx *sx) {
        if (rm->have_mnt_id && (sx->stx_mask & STATX_MNT_ID))
                return sx->stx_mnt_id != rm->mnt_id;
        return makedev(sx->stx_dev_major, sx->stx_dev_minor) != rm->dev;
}

/* Empties the directory open as dfd. The fd is consumed. Recursion depth
 * equals tree depth; each level holds one fd, so very deep trees are
 * bounded by the fd limit, which main raises. */
static void empty_directory(Remover *rm, int dfd, const char *relpath) {
        DIR *d = fdopendir(dfd);
        if (!d) {
                report(rm, relpath, "open directory", negative_errno());
                (void) close(dfd);
                return;
        }
        _cleanup_closedir_ DIR *dir = d;

        struct dirent *de;
        for (;;) {
                errno = 0;
                de = readdir(dir);
                if (!de) {
                        if (errno != 0)
                                report(rm, relpath, "read directory", negative_errno());
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;

                _cleanup_free_ char *child = join(relpath, de->d_name);
                if (!child) {
                        report(rm, relpath, "allocate", -ENOMEM);
                        return;
                }
                struct statx sx;
                if (statx(dirfd(dir), de->d_name, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_INO | STATX_MNT_ID,
                          &sx) < 0) {
                        if (errno != ENOENT)
                                report(rm, child, "stat", negative_errno());
                        continue;
                }
                if (on_other_mount(rm, &sx)) {
                        /* something is mounted here: its contents are not ours */
                        rm->stats.skipped_mounts++;
                        report(rm, child, "remove (a filesystem is mounted there)", -EBUSY);
                        continue;
                }
                if (S_ISDIR(sx.stx_mode)) {
                        int child_fd = openat(dirfd(dir), de->d_name,
                                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
                        if (child_fd < 0 && errno == EPERM)
                                child_fd = openat(dirfd(dir), de->d_name,
                                                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (child_fd < 0) {
                                report(rm, child, "open directory", negative_errno());
                                continue;
                        }
                        /* Something mounted there between the look and the
                         * open is not entered either. */
                        struct statx opened;
                        if (statx(child_fd, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &opened) < 0 ||
                            opened.stx_ino != sx.stx_ino || opened.stx_dev_major != sx.stx_dev_major ||
                            opened.stx_dev_minor != sx.stx_dev_minor || on_other_mount(rm, &opened)) {
                                (void) close(child_fd);
                                rm->stats.skipped_mounts++;
                                report(rm, child, "remove (it changed or a filesystem is mounted there)", -EBUSY);
                                continue;
                        }
                        empty_directory(rm, child_fd, child);
                        if (unlinkat(dirfd(dir), de->d_name, AT_REMOVEDIR) < 0) {
                                /* its contents failed already and were reported */
                                if (errno != ENOTEMPTY)
                                        report(rm, child, "remove directory", negative_errno());
                                continue;
                        }
                } else if (unlinkat(dirfd(dir), de->d_name, 0) < 0) {
                        report(rm, child, "remove", negative_errno());
                        continue;
                }
                rm->stats.entries++;
        }
}

static bool is_mount_point(const char *path) {
        _cleanup_free_ char *parent = strdup_printf("%s/..", path);
        struct stat st, parent_st;
        return parent && stat(path, &st) == 0 && stat(parent, &parent_st) == 0 &&
               st.st_dev != parent_st.st_dev;
}

int remove_tree(const char *path, bool keep_top, remove_report_fn on_error, void *userdata, RemoveStats *ret) {
        Remover rm = { .on_error = on_error, .userdata = userdata };
        struct stat st;

        if (!path || path[0] != '/')
                return -EINVAL;
        if (path[strspn(path, "/")] == 0)
                return -EPERM;

        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0) {
                int r = negative_errno();
                (void) close(fd);
                return r;
        }
        rm.dev = st.st_dev;
        struct statx top;
        if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &top) == 0 && (top.stx_mask & STATX_MNT_ID)) {
                rm.mnt_id = top.stx_mnt_id;
                rm.have_mnt_id = true;
        }
        empty_directory(&rm, fd, ".");

        if (!keep_top && !is_mount_point(path) && rm.stats.errors == 0) {
                if (rmdir(path) < 0)
                        report(&rm, ".", "remove directory", negative_errno());
                else
                        rm.stats.entries++;
        }
        if (ret)
                *ret = rm.stats;
        return rm.stats.errors > 0 ? -EIO : 0;
}
