/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "paths.h"
#include "util.h"

int path_normalize_absolute(const char *path, char **ret) {
        if (!path || path[0] != '/')
                return -EINVAL;

        /* The result is never longer than the input. */
        size_t len = strlen(path);
        _cleanup_free_ char *normalized = malloc(len + 1);
        if (!normalized)
                return -ENOMEM;

        size_t out = 0;
        const char *p = path;
        for (;;) {
                while (*p == '/')
                        p++;
                if (*p == 0)
                        break;

                size_t n = strcspn(p, "/");
                if (n == 1 && p[0] == '.') {
                        p += n;
                        continue;
                }
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return -EINVAL;

                normalized[out++] = '/';
                memcpy(normalized + out, p, n);
                out += n;
                p += n;
        }
        if (out == 0)
                normalized[out++] = '/';
        normalized[out] = 0;

        *ret = TAKE_PTR(normalized);
        return 0;
}

int path_find_symlink_component(const char *path, char **ret_component) {
        _cleanup_free_ char *normalized = NULL;
        int r = path_normalize_absolute(path, &normalized);
        if (r < 0)
                return r;

        /* "/" itself is never a symlink; start at the first component. */
        char *p = normalized;
        while (*p) {
                char *slash = strchr(p + 1, '/');
                bool last = !slash;
                if (slash)
                        *slash = 0;

                struct stat st;
                if (lstat(normalized, &st) < 0) {
                        if (errno == ENOENT)
                                return 0;
                        r = negative_errno();
                        if (ret_component) {
                                char *component = strdup(normalized);
                                if (!component)
                                        return -ENOMEM;
                                *ret_component = component;
                        }
                        return r;
                }

                if (S_ISLNK(st.st_mode) || (!last && !S_ISDIR(st.st_mode))) {
                        if (ret_component) {
                                char *component = strdup(normalized);
                                if (!component)
                                        return -ENOMEM;
                                *ret_component = component;
                        }
                        return S_ISLNK(st.st_mode) ? 1 : -ENOTDIR;
                }

                if (last)
                        break;
                *slash = '/';
                p = slash;
        }
        return 0;
}

bool path_is_same_or_below(const char *parent, const char *child) {
        if (streq(parent, "/"))
                return child[0] == '/';

        size_t n = strlen(parent);
        return strncmp(parent, child, n) == 0 && (child[n] == 0 || child[n] == '/');
}

int path_existing_ancestor(const char *path, char **ret) {
        _cleanup_free_ char *candidate = NULL;
        int r = path_normalize_absolute(path, &candidate);
        if (r < 0)
                return r;

        for (;;) {
                struct stat st;
                if (lstat(candidate, &st) >= 0)
                        break;
                if (errno != ENOENT)
                        return negative_errno();

                /* "/" always exists, so a missing path has a parent here. */
                char *slash = strrchr(candidate, '/');
                if (slash == candidate)
                        slash[1] = 0;
                else
                        *slash = 0;
        }

        *ret = TAKE_PTR(candidate);
        return 0;
}

int path_check_absent_or_empty_dir(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 1;
                /* O_NOFOLLOW on a symlink gives ELOOP; a file gives ENOTDIR. */
                if (errno == ELOOP || errno == ENOTDIR)
                        return -ENOTDIR;
                return negative_errno();
        }

        _cleanup_closedir_ DIR *d = fdopendir(fd);
        if (!d)
                return negative_errno();
        TAKE_FD(fd);

        for (;;) {
                errno = 0;
                struct dirent *de = readdir(d);
                if (!de)
                        return errno > 0 ? -errno : 0;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                return -ENOTEMPTY;
        }
}

int path_inode_same_or_below(const char *parent, const char *child) {
        struct stat want, root, here;

        if (stat(parent, &want) < 0 || stat("/", &root) < 0)
                return negative_errno();
        _cleanup_close_ int fd = open(child, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();

        for (;;) {
                if (fstat(fd, &here) < 0)
                        return negative_errno();
                if (here.st_dev == want.st_dev && here.st_ino == want.st_ino)
                        return 1;
                if (here.st_dev == root.st_dev && here.st_ino == root.st_ino)
                        return 0;
                int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (up < 0)
                        return negative_errno();
                (void) close(fd);
                fd = up;
        }
}

static uint64_t mark_mix(uint64_t h, const void *data, size_t size) {
        const unsigned char *p = data;
        /* FNV-1a: order-sensitive within one entry */
        for (size_t i = 0; i < size; i++) {
                h ^= p[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

static uint64_t mark_of_stat(const char *name, size_t name_size, const struct stat *st) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        int64_t fields[] = { (int64_t) st->st_ino, (int64_t) st->st_ctim.tv_sec, (int64_t) st->st_ctim.tv_nsec,
                             (int64_t) st->st_mtim.tv_sec, (int64_t) st->st_mtim.tv_nsec, (int64_t) st->st_size };
        h = mark_mix(h, name, name_size);
        return mark_mix(h, fields, sizeof fields);
}

int path_top_mark(const char *dir, char **ret) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;

        if (!ret)
                return -EINVAL;
        if (fd < 0) {
                if (errno != ENOENT)
                        return negative_errno();
                *ret = strdup("none");
                return *ret ? 0 : -ENOMEM;
        }
        if (fstat(fd, &st) < 0)
                return negative_errno();
        /* The top's own times are left out: checks that probe the target
         * (a scratch entry made and removed) change them, and whatever a
         * daemon's start does there shows in the entries. */
        struct stat top = { .st_ino = st.st_ino };
        uint64_t sum = mark_of_stat("", 0, &top);
        size_t entries = 0;

        int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dup_fd < 0)
                return negative_errno();
        _cleanup_closedir_ DIR *d = fdopendir(dup_fd);
        if (!d) {
                int r = negative_errno();
                (void) close(dup_fd);
                return r;
        }
        struct dirent *de;
        int r;
        while ((r = readdir_no_dots(d, &de)) > 0) {
                if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue; /* gone meanwhile: the directory's own times say so */
                        return negative_errno();
                }
                /* A sum: the listing's order does not matter. */
                sum += mark_of_stat(de->d_name, strlen(de->d_name), &st);
                entries++;
        }
        if (r < 0)
                return r;
        *ret = strdup_printf("%zu:%016" PRIx64, entries, sum);
        return *ret ? 0 : -ENOMEM;
}
