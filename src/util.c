/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

char *strdup_printf(const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

int read_full_file(const char *path, size_t max_bytes, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();

        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;
        if ((uint64_t) st.st_size > max_bytes)
                return -EFBIG;

        /* One spare byte beyond the NUL, so a file of exactly max_bytes still
         * reaches EOF without looking too large. */
        size_t allocated = (size_t) st.st_size + 2, size = 0;
        _cleanup_free_ char *buf = malloc(allocated);
        if (!buf)
                return -ENOMEM;

        for (;;) {
                if (size + 1 >= allocated) {
                        if (allocated > max_bytes)
                                return -EFBIG;
                        allocated *= 2;
                        char *bigger = realloc(buf, allocated);
                        if (!bigger)
                                return -ENOMEM;
                        buf = bigger;
                }
                ssize_t n = read(fd, buf + size, allocated - size - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        if (size > max_bytes)
                return -EFBIG;
        buf[size] = 0;
        if (ret_size)
                *ret_size = size;
        *ret = TAKE_PTR(buf);
        return 0;
}

int write_all(int fd, const void *buf, size_t size) {
        const char *p = buf;

        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

const char *format_bytes(uint64_t bytes, char *buf, size_t buf_size) {
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
        double v = (double) bytes;
        size_t u = 0;

        while (v >= 1024.0 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024.0;
                u++;
        }
        if (u == 0)
                snprintf(buf, buf_size, "%" PRIu64 " B", bytes);
        else
                snprintf(buf, buf_size, "%.1f %s", v, units[u]);
        return buf;
}

uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

uint64_t deadline_after(uint64_t timeout_usec) {
        uint64_t now = now_usec();
        return timeout_usec > UINT64_MAX - now ? UINT64_MAX : now + timeout_usec;
}

uint64_t usec_left(uint64_t deadline) {
        uint64_t now = now_usec();
        return deadline > now ? deadline - now : 0;
}

bool answer_is_yes(const char *answer) {
        return strcasecmp(answer, "y") == 0 || strcasecmp(answer, "yes") == 0;
}
