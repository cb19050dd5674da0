/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The one small header with cleanup attributes for every resource type the
 * project holds, and a few helpers shared by every module. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <libmount/libmount.h>
#include <sys/acl.h>
#include <systemd/sd-bus.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define streq(a, b) (strcmp((a), (b)) == 0)
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* Hand ownership over: returns the value and clears the variable so its
 * cleanup attribute does nothing. */
#define TAKE_PTR(p)                              \
        ({                                       \
                __typeof__(p) _taken_ = (p);     \
                (p) = NULL;                      \
                _taken_;                         \
        })
#define TAKE_FD(fd)                              \
        ({                                       \
                int _taken_fd_ = (fd);           \
                (fd) = -1;                       \
                _taken_fd_;                      \
        })

/* Defines name(type **p) calling func(*p) when *p is set. */
#define DEFINE_POINTER_CLEANUP(type, name, func) \
        static inline void name(type **p) {      \
                if (*p)                          \
                        func(*p);                \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* close() must not clobber the errno a caller is about to return. */
static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                (void) close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

DEFINE_POINTER_CLEANUP(FILE, fclosep, fclose)
#define _cleanup_fclose_ _cleanup_(fclosep)
DEFINE_POINTER_CLEANUP(DIR, closedirp, closedir)
#define _cleanup_closedir_ _cleanup_(closedirp)

DEFINE_POINTER_CLEANUP(cJSON, cJSON_Deletep, cJSON_Delete)
DEFINE_POINTER_CLEANUP(struct libmnt_table, mnt_free_tablep, mnt_free_table)
DEFINE_POINTER_CLEANUP(struct libmnt_iter, mnt_free_iterp, mnt_free_iter)
DEFINE_POINTER_CLEANUP(struct libmnt_cache, mnt_unref_cachep, mnt_unref_cache)
DEFINE_POINTER_CLEANUP(struct libmnt_fs, mnt_unref_fsp, mnt_unref_fs)

/* acl_t is itself a pointer type. */
static inline void acl_freep(acl_t *acl) {
        if (*acl)
                (void) acl_free(*acl);
}

/* sd-bus ships sd_bus_unrefp, sd_bus_message_unrefp, sd_bus_slot_unrefp;
 * sd_bus_error_free() already takes a pointer. */

static inline void strv_freep(char ***strv) {
        if (*strv) {
                for (char **s = *strv; *s; s++)
                        free(*s);
                free(*strv);
        }
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* -errno of the last failed libc call, never 0 (some libraries fail
 * without setting errno). */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

/* The next entry of d other than "." and "..": 1 with *ret set, 0 at the
 * end, <0 when reading failed. */
static inline int readdir_no_dots(DIR *d, struct dirent **ret) {
        for (;;) {
                errno = 0;
                struct dirent *de = readdir(d);
                if (!de)
                        return errno != 0 ? negative_errno() : 0;
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                        *ret = de;
                        return 1;
                }
        }
}

/* asprintf() that returns NULL on failure, so it composes with
 * _cleanup_free_ and "if (!x) return -ENOMEM". */
char *strdup_printf(const char *fmt, ...) _printf_(1, 2);

/* Reads a whole file (at most max_bytes) into a NUL-terminated buffer. */
int read_full_file(const char *path, size_t max_bytes, char **ret, size_t *ret_size);

/* Writes all of buf, retrying short writes and EINTR. */
int write_all(int fd, const void *buf, size_t size);

/* "12.3 GiB" style; buf must hold at least 32 bytes. */
const char *format_bytes(uint64_t bytes, char *buf, size_t buf_size);

/* CLOCK_MONOTONIC in microseconds. */
uint64_t now_usec(void);

/* A CLOCK_MONOTONIC deadline timeout_usec from now (saturating), and the
 * time left until one (0 once it passed). */
uint64_t deadline_after(uint64_t timeout_usec);
uint64_t usec_left(uint64_t deadline);

/* True when the string is "y" or "yes", in any case. */
bool answer_is_yes(const char *answer);
