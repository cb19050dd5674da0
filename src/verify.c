/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <acl/libacl.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "verify.h"

/* Two of these per worker: large enough to keep the disks streaming,
 * small enough that many workers stay cheap. */
#define CONTENT_BLOCK_SIZE (1024U * 1024U)
#define MAX_JOBS 64U
#define MAX_DEFAULT_JOBS 16U
/* Bytes of an xattr value or symlink target shown in a detail line. */
#define SHOWN_VALUE_BYTES 48U

#define ACL_ACCESS_XATTR "system.posix_acl_access"
#define ACL_DEFAULT_XATTR "system.posix_acl_default"
#define XFS_ACL_ACCESS_XATTR "trusted.SGI_ACL_FILE"
#define XFS_ACL_DEFAULT_XATTR "trusted.SGI_ACL_DEFAULT"

/* "/proc/self/fd/<fd>/<name>": a short path to any entry whatever the
 * depth of its directory, for the calls that only take paths. */
#define PROC_ENTRY_PATH_MAX (sizeof("/proc/self/fd//") + 3 * sizeof(int) + NAME_MAX + 1)

static const char hex_digits[] = "0123456789abcdef";

typedef struct DirTask {
        char *relpath;
        dev_t a_dev, b_dev;
        ino_t a_ino, b_ino;
} DirTask;

/* One inode of one tree with a link count above 1, and the inode of the
 * other tree seen at its first name. */
typedef struct InodeLink {
        bool used;
        dev_t dev;
        ino_t ino;
        dev_t peer_dev;
        ino_t peer_ino;
        char *first_relpath;
} InodeLink;

/* Open addressing; n_slots is 0 or a power of two. */
typedef struct InodeMap {
        InodeLink *slots;
        size_t n_slots;
        size_t n_used;
} InodeMap;

typedef struct Verifier {
        int top_a, top_b;
        dev_t top_dev_a;
        uint64_t top_mnt_id_a;
        bool have_mnt_id;
        bool content;
        verify_difference_fn on_difference;
        void *userdata;
        const atomic_int *cancel;

        _Atomic uint64_t entries;
        _Atomic uint64_t bytes_compared;

        pthread_mutex_t report_lock;
        uint64_t differences;

        /* A stack, so that the pending tasks stay few (about depth times
         * fan-out) rather than a whole level of the tree. */
        pthread_mutex_t queue_lock;
        pthread_cond_t queue_changed;
        DirTask *tasks;
        size_t n_tasks, allocated_tasks;
        size_t pending;             /* queued plus being processed */
        int error;                  /* first fatal error, stops the workers */

        pthread_mutex_t links_lock;
        InodeMap a_to_b, b_to_a;
} Verifier;

typedef struct Worker {
        Verifier *verifier;
        char *path;                 /* relpath of the entry being compared */
        size_t path_allocated;
        char *block_a, *block_b;
} Worker;

typedef struct NameList {
        char **names;
        size_t n, allocated;
} NameList;

typedef struct XattrNames {
        char *buf;
        const char **names;
        size_t n;
} XattrNames;

static const char *error_text(int error, char *buf, size_t size) {
        return strerror_r(abs(error), buf, size);
}

static const char *type_name(mode_t mode) {
        switch (mode & S_IFMT) {
        case S_IFREG:
                return "regular file";
        case S_IFDIR:
                return "directory";
        case S_IFLNK:
                return "symlink";
        case S_IFCHR:
                return "char device";
        case S_IFBLK:
                return "block device";
        case S_IFIFO:
                return "fifo";
        case S_IFSOCK:
                return "socket";
        default:
                return "unknown type";
        }
}

/* Printable ASCII stays, everything else becomes \xNN, so that names and
 * values from the trees cannot break or forge the lines a caller prints.
 * At most max_shown bytes of the input are shown, "..." marks the cut. */
static char *escape_bytes(const char *p, size_t n, size_t max_shown, bool quote) {
        size_t shown = MIN(n, max_shown);
        char *s = malloc(shown * 4 + sizeof("\"\"..."));
        if (!s)
                return NULL;

        char *o = s;
        if (quote)
                *o++ = '"';
        for (size_t i = 0; i < shown; i++) {
                unsigned char c = (unsigned char) p[i];
                if (c == '\\' || (quote && c == '"')) {
                        *o++ = '\\';
                        *o++ = (char) c;
                } else if (c >= 0x20 && c < 0x7f)
                        *o++ = (char) c;
                else {
                        *o++ = '\\';
                        *o++ = 'x';
                        *o++ = hex_digits[c >> 4];
                        *o++ = hex_digits[c & 0xf];
                }
        }
        if (quote)
                *o++ = '"';
        if (shown < n) {
                memcpy(o, "...", 3);
                o += 3;
        }
        *o = 0;
        return s;
}

static char *quote_string(const char *s) {
        return escape_bytes(s, strlen(s), SIZE_MAX, true);
}

static bool is_text(const char *p, size_t n) {
        /* Many xattr values are C strings with their NUL. */
        if (n > 0 && p[n - 1] == 0)
                n--;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) p[i] < 0x20 || (unsigned char) p[i] >= 0x7f)
                        return false;
        return true;
}

static char *format_value(const char *p, size_t n) {
        if (!p)
                return strdup("absent");

        _cleanup_free_ char *shown = NULL;
        if (is_text(p, n))
                shown = escape_bytes(p, n, SHOWN_VALUE_BYTES, true);
        else {
                size_t k = MIN(n, SHOWN_VALUE_BYTES / 2);
                shown = malloc(2 + 2 * k + sizeof("..."));
                if (!shown)
                        return NULL;
                char *o = shown;
                *o++ = '0';
                *o++ = 'x';
                for (size_t i = 0; i < k; i++) {
                        *o++ = hex_digits[(unsigned char) p[i] >> 4];
                        *o++ = hex_digits[(unsigned char) p[i] & 0xf];
                }
                strcpy(o, k < n ? "..." : "");
        }
        if (!shown)
                return NULL;
        return strdup_printf("%s (%zu bytes)", shown, n);
}

static void report(Verifier *v, const char *relpath, const char *what, const char *fmt, ...) _printf_(4, 5);
static void report(Verifier *v, const char *relpath, const char *what, const char *fmt, ...) {
        va_list ap;
        char *detail = NULL;

        va_start(ap, fmt);
        if (vasprintf(&detail, fmt, ap) < 0)
                detail = NULL;
        va_end(ap);

        /* Out of memory must not hide a difference: it is counted and
         * reported, with less detail. */
        pthread_mutex_lock(&v->report_lock);
        v->differences++;
        if (v->on_difference)
                v->on_difference(relpath, what, detail ? detail : "(out of memory)", v->userdata);
        pthread_mutex_unlock(&v->report_lock);
        free(detail);
}

static void report_unreadable(Verifier *v, const char *relpath, const char *side, const char *operation,
                              int error) {
        char buf[128];
        report(v, relpath, "unreadable", "%s: %s: %s", side, operation, error_text(error, buf, sizeof buf));
}

static int proc_entry_path(char *buf, size_t size, int dirfd, const char *name) {
        int n = name ? snprintf(buf, size, "/proc/self/fd/%i/%s", dirfd, name)
                     : snprintf(buf, size, "/proc/self/fd/%i", dirfd);
        if (n < 0 || (size_t) n >= size)
                return -ENAMETOOLONG;
        return 0;
}

static uint64_t inode_hash(dev_t dev, ino_t ino) {
        uint64_t x = (uint64_t) ino ^ ((uint64_t) dev * UINT64_C(0x9e3779b97f4a7c15));
        x ^= x >> 31;
        x *= UINT64_C(0xbf58476d1ce4e5b9);
        x ^= x >> 29;
        return x;
}

/* The slot holding (dev, ino), or the empty slot where it belongs. */
static InodeLink *inode_map_slot(InodeMap *m, dev_t dev, ino_t ino) {
        size_t mask = m->n_slots - 1;

        for (size_t i = (size_t) inode_hash(dev, ino) & mask;; i = (i + 1) & mask) {
                InodeLink *slot = &m->slots[i];
                if (!slot->used || (slot->dev == dev && slot->ino == ino))
                        return slot;
        }
}

/* Makes room for one more entry. */
static int inode_map_reserve(InodeMap *m) {
        if ((m->n_used + 1) * 4 <= m->n_slots * 3)
                return 0;

        size_t n_slots = m->n_slots ? m->n_slots * 2 : 1024;
        InodeMap bigger = {
                .slots = calloc(n_slots, sizeof(InodeLink)),
                .n_slots = n_slots,
        };
        if (!bigger.slots)
                return -ENOMEM;

        for (size_t i = 0; i < m->n_slots; i++)
                if (m->slots[i].used) {
                        *inode_map_slot(&bigger, m->slots[i].dev, m->slots[i].ino) = m->slots[i];
                        bigger.n_used++;
                }
        free(m->slots);
        *m = bigger;
        return 0;
}

static void inode_map_done(InodeMap *m) {
        for (size_t i = 0; i < m->n_slots; i++)
                free(m->slots[i].first_relpath);
        free(m->slots);
        *m = (InodeMap) {};
}

/* Looks up (dev, ino) in m. When known and paired with another inode than
 * (peer_dev, peer_ino), *ret_conflict gets the first name it was seen at;
 * when new, the pair is recorded. Returns 1 when the same pair was seen
 * before, 0 otherwise. Call with links_lock held and room reserved. */
static int inode_map_pair(InodeMap *m, dev_t dev, ino_t ino, dev_t peer_dev, ino_t peer_ino,
                          const char *relpath, char **ret_conflict) {
        InodeLink *slot = inode_map_slot(m, dev, ino);

        if (slot->used) {
                if (slot->peer_dev == peer_dev && slot->peer_ino == peer_ino)
                        return 1;
                *ret_conflict = strdup(slot->first_relpath);
                return *ret_conflict ? 0 : -ENOMEM;
        }

        char *first = strdup(relpath);
        if (!first)
                return -ENOMEM;
        *slot = (InodeLink) {
                .used = true,
                .dev = dev,
                .ino = ino,
                .peer_dev = peer_dev,
                .peer_ino = peer_ino,
                .first_relpath = first,
        };
        m->n_used++;
        return 0;
}

/* The set of names sharing an inode in a must be the set sharing an inode
 * in b: each inode is paired with the other tree's inode at its first name,
 * and every later name must show the same pair, in both directions.
 * Returns 1 when this pair was seen before (its content is compared
 * already), 0 otherwise. */
static int track_hardlink(Verifier *v, const struct stat *sta, const struct stat *stb, const char *relpath,
                          char **ret_conflict_a, char **ret_conflict_b) {
        int r, seen_a = 0, seen_b = 0;

        pthread_mutex_lock(&v->links_lock);
        r = inode_map_reserve(&v->a_to_b);
        if (r >= 0)
                r = inode_map_reserve(&v->b_to_a);
        if (r >= 0)
                r = seen_a = inode_map_pair(&v->a_to_b, sta->st_dev, sta->st_ino, stb->st_dev, stb->st_ino,
                                            relpath, ret_conflict_a);
        if (r >= 0)
                r = seen_b = inode_map_pair(&v->b_to_a, stb->st_dev, stb->st_ino, sta->st_dev, sta->st_ino,
                                            relpath, ret_conflict_b);
        pthread_mutex_unlock(&v->links_lock);
        if (r < 0)
                return r;
        return seen_a && seen_b;
}

static void xattr_names_done(XattrNames *x) {
        free(x->buf);
        free(x->names);
        *x = (XattrNames) {};
}

static int compare_strings(const void *a, const void *b) {
        /* strcmp() orders by unsigned bytes: raw names sort as bytes. */
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* follow is for the tops, whose path is the /proc magic link itself. */
static int list_xattrs(const char *path, bool follow, XattrNames *ret) {
        _cleanup_free_ char *buf = NULL;
        ssize_t size;

        for (;;) {
                size = follow ? listxattr(path, NULL, 0) : llistxattr(path, NULL, 0);
                if (size < 0) {
                        /* A filesystem without xattrs: none to compare. */
                        if (errno == ENOTSUP)
                                size = 0;
                        else
                                return negative_errno();
                }
                if (size == 0)
                        break;

                free(buf);
                buf = malloc((size_t) size);
                if (!buf)
                        return -ENOMEM;
                size = follow ? listxattr(path, buf, (size_t) size) : llistxattr(path, buf, (size_t) size);
                if (size >= 0)
                        break;
                if (errno != ERANGE)
                        return negative_errno();
                /* Grew in between: ask again. */
        }
        if (size > 0 && buf[size - 1] != 0)
                return -EBADMSG;

        size_t n = 0;
        for (ssize_t i = 0; i < size; i++)
                if (buf[i] == 0)
                        n++;

        const char **names = NULL;
        if (n > 0) {
                names = calloc(n, sizeof(char *));
                if (!names)
                        return -ENOMEM;
                size_t k = 0;
                for (char *p = buf; p < buf + size; p += strlen(p) + 1)
                        names[k++] = p;
                qsort(names, n, sizeof(char *), compare_strings);
        }

        *ret = (XattrNames) {
                .buf = TAKE_PTR(buf),
                .names = names,
                .n = n,
        };
        return 0;
}

static int get_xattr(const char *path, bool follow, const char *name, char **ret, size_t *ret_size) {
        for (;;) {
                ssize_t size = follow ? getxattr(path, name, NULL, 0) : lgetxattr(path, name, NULL, 0);
                if (size < 0)
                        return negative_errno();

                _cleanup_free_ char *value = malloc(MAX((size_t) size, 1U));
                if (!value)
                        return -ENOMEM;
                size = follow ? getxattr(path, name, value, (size_t) size)
                              : lgetxattr(path, name, value, (size_t) size);
                if (size < 0) {
                        if (errno == ERANGE)
                                continue;
                        return negative_errno();
                }
                *ret = TAKE_PTR(value);
                *ret_size = (size_t) size;
                return 0;
        }
}

static char *acl_text(acl_t acl) {
        char *text = acl_to_any_text(acl, NULL, ',', TEXT_ABBREVIATE | TEXT_NUMERIC_IDS);
        if (!text)
                return NULL;
        char *copy = strdup(text[0] ? text : "none");
        (void) acl_free(text);
        return copy;
}

/* The kernel may keep an ACL that only mirrors the mode or drop it, and
 * filesystems store entries their own way: compare what the ACLs mean. */
static int compare_acl(Verifier *v, const char *relpath, const char *path_a, const char *path_b, acl_type_t type,
                       const char *what) {
        char buf[128];

        _cleanup_(acl_freep) acl_t acl_a = acl_get_file(path_a, type);
        if (!acl_a) {
                int r = negative_errno();
                if (r == -ENOMEM)
                        return r;
                report(v, relpath, what, "original: cannot read: %s", error_text(r, buf, sizeof buf));
                return 0;
        }
        _cleanup_(acl_freep) acl_t acl_b = acl_get_file(path_b, type);
        if (!acl_b) {
                int r = negative_errno();
                if (r == -ENOMEM)
                        return r;
                report(v, relpath, what, "copy: cannot read: %s", error_text(r, buf, sizeof buf));
                return 0;
        }

        int r = acl_cmp(acl_a, acl_b);
        if (r == 0)
                return 0;
        if (r < 0) {
                report(v, relpath, what, "cannot compare: %s", error_text(negative_errno(), buf, sizeof buf));
                return 0;
        }

        _cleanup_free_ char *text_a = acl_text(acl_a), *text_b = acl_text(acl_b);
        report(v, relpath, what, "%s != %s", text_a ? text_a : "?", text_b ? text_b : "?");
        return 0;
}

static int compare_xattr_value(Verifier *v, const char *relpath, const char *path_a, const char *path_b,
                               bool follow, const char *name, bool in_a, bool in_b) {
        _cleanup_free_ char *value_a = NULL, *value_b = NULL, *shown_name = NULL, *what = NULL;
        size_t size_a = 0, size_b = 0;
        char buf[128];
        int r;

        shown_name = escape_bytes(name, strlen(name), SIZE_MAX, false);
        if (!shown_name)
                return -ENOMEM;
        what = strdup_printf("xattr %s", shown_name);
        if (!what)
                return -ENOMEM;

        /* Gone since the listing (-ENODATA) counts as absent. */
        if (in_a) {
                r = get_xattr(path_a, follow, name, &value_a, &size_a);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 && r != -ENODATA) {
                        report(v, relpath, what, "original: cannot read: %s", error_text(r, buf, sizeof buf));
                        return 0;
                }
        }
        if (in_b) {
                r = get_xattr(path_b, follow, name, &value_b, &size_b);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 && r != -ENODATA) {
                        report(v, relpath, what, "copy: cannot read: %s", error_text(r, buf, sizeof buf));
                        return 0;
                }
        }

        if (!value_a && !value_b)
                return 0;
        if (value_a && value_b && size_a == size_b && memcmp(value_a, value_b, size_a) == 0)
                return 0;

        _cleanup_free_ char *shown_a = format_value(value_a, size_a), *shown_b = format_value(value_b, size_b);
        if (!shown_a || !shown_b)
                return -ENOMEM;

        if (value_a && value_b) {
                size_t first = 0;
                while (first < MIN(size_a, size_b) && value_a[first] == value_b[first])
                        first++;
                report(v, relpath, what, "%s != %s, first difference at byte %zu", shown_a, shown_b, first);
        } else
                report(v, relpath, what, "%s != %s", shown_a, shown_b);
        return 0;
}

/* name NULL: the directory dirfd itself (the tops). */
static int compare_xattrs(Verifier *v, const char *relpath, int dirfd_a, int dirfd_b, const char *name,
                          mode_t mode) {
        char path_a[PROC_ENTRY_PATH_MAX], path_b[PROC_ENTRY_PATH_MAX];
        _cleanup_(xattr_names_done) XattrNames names_a = {}, names_b = {};
        bool follow = !name, acl_access = false, acl_default = false;
        /* Symlinks cannot hold ACLs, and acl_get_file() would follow them. */
        bool acls_as_acls = !S_ISLNK(mode);
        int r;

        r = proc_entry_path(path_a, sizeof path_a, dirfd_a, name);
        if (r >= 0)
                r = proc_entry_path(path_b, sizeof path_b, dirfd_b, name);
        if (r < 0) {
                report_unreadable(v, relpath, "original", "xattrs", r);
                return 0;
        }

        r = list_xattrs(path_a, follow, &names_a);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                report_unreadable(v, relpath, "original", "listxattr", r);
                return 0;
        }
        r = list_xattrs(path_b, follow, &names_b);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                report_unreadable(v, relpath, "copy", "listxattr", r);
                return 0;
        }

        size_t ia = 0, ib = 0;
        while (ia < names_a.n || ib < names_b.n) {
                int c = ia >= names_a.n ? 1 : ib >= names_b.n ? -1 : strcmp(names_a.names[ia], names_b.names[ib]);
                const char *xname = c <= 0 ? names_a.names[ia] : names_b.names[ib];
                bool in_a = c <= 0, in_b = c >= 0;

                if (in_a)
                        ia++;
                if (in_b)
                        ib++;

                /* xfs also lists its on-disk form of the same ACLs to root;
                 * the ACL itself is compared once, through libacl. */
                if (acls_as_acls && (streq(xname, ACL_ACCESS_XATTR) || streq(xname, XFS_ACL_ACCESS_XATTR)))
                        acl_access = true;
                else if (acls_as_acls && (streq(xname, ACL_DEFAULT_XATTR) || streq(xname, XFS_ACL_DEFAULT_XATTR)))
                        acl_default = true;
                else {
                        r = compare_xattr_value(v, relpath, path_a, path_b, follow, xname, in_a, in_b);
                        if (r < 0)
                                return r;
                }
        }

        if (acl_access) {
                r = compare_acl(v, relpath, path_a, path_b, ACL_TYPE_ACCESS, "xattr " ACL_ACCESS_XATTR);
                if (r < 0)
                        return r;
        }
        if (acl_default) {
                r = compare_acl(v, relpath, path_a, path_b, ACL_TYPE_DEFAULT, "xattr " ACL_DEFAULT_XATTR);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int read_symlink(int dirfd, const char *name, size_t size_hint, char **ret, size_t *ret_size) {
        size_t allocated = MAX(size_hint + 1, 256U);

        for (;;) {
                _cleanup_free_ char *target = malloc(allocated);
                if (!target)
                        return -ENOMEM;
                ssize_t n = readlinkat(dirfd, name, target, allocated);
                if (n < 0)
                        return negative_errno();
                if ((size_t) n < allocated) {
                        *ret = TAKE_PTR(target);
                        *ret_size = (size_t) n;
                        return 0;
                }
                allocated *= 2;
        }
}

static int compare_symlinks(Verifier *v, const char *relpath, int dirfd_a, int dirfd_b, const char *name,
                            const struct stat *sta, const struct stat *stb) {
        _cleanup_free_ char *target_a = NULL, *target_b = NULL;
        size_t size_a, size_b;
        int r;

        r = read_symlink(dirfd_a, name, (size_t) sta->st_size, &target_a, &size_a);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                report_unreadable(v, relpath, "original", "readlink", r);
                return 0;
        }
        r = read_symlink(dirfd_b, name, (size_t) stb->st_size, &target_b, &size_b);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                report_unreadable(v, relpath, "copy", "readlink", r);
                return 0;
        }

        if (size_a == size_b && memcmp(target_a, target_b, size_a) == 0)
                return 0;

        _cleanup_free_ char *shown_a = escape_bytes(target_a, size_a, SIZE_MAX, true),
                            *shown_b = escape_bytes(target_b, size_b, SIZE_MAX, true);
        if (!shown_a || !shown_b)
                return -ENOMEM;
        report(v, relpath, "symlink target", "%s != %s", shown_a, shown_b);
        return 0;
}

/* Reads until the buffer is full or the file ends. */
static ssize_t read_block(int fd, char *buf, size_t size) {
        size_t done = 0;

        while (done < size) {
                ssize_t n = read(fd, buf + done, size - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                done += (size_t) n;
        }
        return (ssize_t) done;
}

/* Opens a regular file for reading only if it still is the inode stat'ed
 * at listing time. Returns 1 with *ret_fd, 0 when it changed since (the
 * caller reports it), <0 on error. */
static int open_for_content(int dirfd, const char *name, const struct stat *expected, int *ret_fd) {
        /* O_NOATIME: verifying must not touch the original. O_NONBLOCK: an
         * entry turned into a fifo since the listing must not hang us. */
        int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK;
        _cleanup_close_ int fd = openat(dirfd, name, flags | O_NOATIME);
        if (fd < 0 && errno == EPERM)
                fd = openat(dirfd, name, flags);
        if (fd < 0)
                return negative_errno();

        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) || st.st_dev != expected->st_dev || st.st_ino != expected->st_ino)
                return 0;

        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        *ret_fd = TAKE_FD(fd);
        return 1;
}

static int compare_content(Worker *w, const char *relpath, int dirfd_a, int dirfd_b, const char *name,
                           const struct stat *sta, const struct stat *stb) {
        Verifier *v = w->verifier;
        _cleanup_close_ int fd_a = -1, fd_b = -1;
        uint64_t offset = 0;
        int r;

        r = open_for_content(dirfd_a, name, sta, &fd_a);
        if (r <= 0) {
                if (r < 0)
                        report_unreadable(v, relpath, "original", "open", r);
                else
                        report(v, relpath, "unreadable", "original: changed while verifying");
                return 0;
        }
        r = open_for_content(dirfd_b, name, stb, &fd_b);
        if (r <= 0) {
                if (r < 0)
                        report_unreadable(v, relpath, "copy", "open", r);
                else
                        report(v, relpath, "unreadable", "copy: changed while verifying");
                return 0;
        }

        for (;;) {
                ssize_t n_a = read_block(fd_a, w->block_a, CONTENT_BLOCK_SIZE);
                if (n_a < 0) {
                        report_unreadable(v, relpath, "original", "read", (int) n_a);
                        return 0;
                }
                ssize_t n_b = read_block(fd_b, w->block_b, CONTENT_BLOCK_SIZE);
                if (n_b < 0) {
                        report_unreadable(v, relpath, "copy", "read", (int) n_b);
                        return 0;
                }

                size_t common = (size_t) MIN(n_a, n_b);
                if (memcmp(w->block_a, w->block_b, common) != 0) {
                        size_t i = 0;
                        while (w->block_a[i] == w->block_b[i])
                                i++;
                        report(v, relpath, "content", "first difference at byte %" PRIu64, offset + i);
                        return 0;
                }
                atomic_fetch_add(&v->bytes_compared, (uint64_t) common);
                offset += common;

                /* Sizes were equal at listing time: only a change since
                 * lands here, and it must not pass as equal. */
                if (n_a != n_b) {
                        report(v, relpath, "content", "%s ends at byte %" PRIu64 ", the other goes on",
                               n_a < n_b ? "original" : "copy", offset);
                        return 0;
                }
                if (n_a == 0)
                        return 0;
        }
}

static char *link_conflict_clause(const char *first_relpath, const char *linked_in, const char *separate_in) {
        _cleanup_free_ char *quoted = quote_string(first_relpath);
        if (!quoted)
                return NULL;
        return strdup_printf("shares its inode with %s in %s, not in %s", quoted, linked_in, separate_in);
}

/* Compares one entry present in both trees (name NULL: the tops, dirfd_a
 * and dirfd_b being the directories themselves). Returns <0 only on fatal
 * errors; differences and unreadable entries are reported. */
static int compare_entry(Worker *w, const char *relpath, int dirfd_a, int dirfd_b, const char *name,
                         const struct stat *sta, const struct stat *stb, bool *ret_descend) {
        Verifier *v = w->verifier;
        bool inode_seen = false;
        int r;

        *ret_descend = false;
        atomic_fetch_add(&v->entries, 1);

        if ((sta->st_mode & S_IFMT) != (stb->st_mode & S_IFMT)) {
                report(v, relpath, "type", "%s != %s", type_name(sta->st_mode), type_name(stb->st_mode));
                return 0;
        }

        if ((sta->st_mode & 07777) != (stb->st_mode & 07777))
                report(v, relpath, "mode", "%04o != %04o", (unsigned) (sta->st_mode & 07777),
                       (unsigned) (stb->st_mode & 07777));
        if (sta->st_uid != stb->st_uid)
                report(v, relpath, "uid", "%lu != %lu", (unsigned long) sta->st_uid, (unsigned long) stb->st_uid);
        if (sta->st_gid != stb->st_gid)
                report(v, relpath, "gid", "%lu != %lu", (unsigned long) sta->st_gid, (unsigned long) stb->st_gid);

        if (S_ISREG(sta->st_mode) && sta->st_size != stb->st_size)
                report(v, relpath, "size", "%jd != %jd", (intmax_t) sta->st_size, (intmax_t) stb->st_size);
        if (S_ISLNK(sta->st_mode)) {
                r = compare_symlinks(v, relpath, dirfd_a, dirfd_b, name, sta, stb);
                if (r < 0)
                        return r;
        }
        if ((S_ISCHR(sta->st_mode) || S_ISBLK(sta->st_mode)) && sta->st_rdev != stb->st_rdev)
                report(v, relpath, "device", "%u:%u != %u:%u", major(sta->st_rdev), minor(sta->st_rdev),
                       major(stb->st_rdev), minor(stb->st_rdev));

        /* Directory link counts depend on the filesystem (btrfs keeps 1). */
        if (!S_ISDIR(sta->st_mode) && (sta->st_nlink > 1 || stb->st_nlink > 1)) {
                _cleanup_free_ char *conflict_a = NULL, *conflict_b = NULL;

                r = track_hardlink(v, sta, stb, relpath, &conflict_a, &conflict_b);
                if (r < 0)
                        return r;
                inode_seen = r > 0;

                if (conflict_a || conflict_b) {
                        _cleanup_free_ char *clause_a = NULL, *clause_b = NULL;
                        if (conflict_a) {
                                clause_a = link_conflict_clause(conflict_a, "the original", "the copy");
                                if (!clause_a)
                                        return -ENOMEM;
                        }
                        if (conflict_b) {
                                clause_b = link_conflict_clause(conflict_b, "the copy", "the original");
                                if (!clause_b)
                                        return -ENOMEM;
                        }
                        report(v, relpath, "hardlinks", "%s%s%s", clause_a ? clause_a : "",
                               clause_a && clause_b ? "; " : "", clause_b ? clause_b : "");
                } else if (sta->st_nlink != stb->st_nlink)
                        report(v, relpath, "nlink", "%ju != %ju", (uintmax_t) sta->st_nlink,
                               (uintmax_t) stb->st_nlink);
        } else if (!S_ISDIR(sta->st_mode) && sta->st_nlink != stb->st_nlink)
                report(v, relpath, "nlink", "%ju != %ju", (uintmax_t) sta->st_nlink, (uintmax_t) stb->st_nlink);

        if (sta->st_mtim.tv_sec != stb->st_mtim.tv_sec || sta->st_mtim.tv_nsec != stb->st_mtim.tv_nsec)
                report(v, relpath, "mtime", "%jd.%09ld != %jd.%09ld", (intmax_t) sta->st_mtim.tv_sec,
                       sta->st_mtim.tv_nsec, (intmax_t) stb->st_mtim.tv_sec, stb->st_mtim.tv_nsec);

        r = compare_xattrs(v, relpath, dirfd_a, dirfd_b, name, sta->st_mode);
        if (r < 0)
                return r;

        /* A hardlinked inode's bytes were compared at its first name. */
        if (v->content && S_ISREG(sta->st_mode) && sta->st_size == stb->st_size && !inode_seen) {
                r = compare_content(w, relpath, dirfd_a, dirfd_b, name, sta, stb);
                if (r < 0)
                        return r;
        }

        *ret_descend = S_ISDIR(sta->st_mode);
        return 0;
}

static void name_list_done(NameList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->names[i]);
        free(l->names);
        *l = (NameList) {};
}

static int read_names(DIR *d, NameList *ret) {
        _cleanup_(name_list_done) NameList list = {};

        struct dirent *de;
        int r;
        while ((r = readdir_no_dots(d, &de)) > 0) {
                if (list.n == list.allocated) {
                        size_t allocated = list.allocated ? list.allocated * 2 : 64;
                        char **names = reallocarray(list.names, allocated, sizeof(char *));
                        if (!names)
                                return -ENOMEM;
                        list.names = names;
                        list.allocated = allocated;
                }
                list.names[list.n] = strdup(de->d_name);
                if (!list.names[list.n])
                        return -ENOMEM;
                list.n++;
        }
        if (r < 0)
                return r;

        if (list.n > 0)
                qsort(list.names, list.n, sizeof(char *), compare_strings);
        *ret = list;
        list = (NameList) {};
        return 0;
}

static int open_directory_at(int dirfd, const char *path) {
        const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;

        /* Reading a directory must not touch the original's atime either;
         * O_NOATIME needs ownership or CAP_FOWNER. */
        int fd = openat(dirfd, path, flags | O_NOATIME);
        if (fd < 0 && errno == EPERM)
                fd = openat(dirfd, path, flags);
        return fd < 0 ? negative_errno() : fd;
}

/* Opens relpath below top without following a symlink at its end. Paths
 * of PATH_MAX or more are opened a piece at a time. */
static int open_directory_below(int top, const char *relpath) {
        _cleanup_close_ int fd = -1;
        size_t length = strlen(relpath), start = 0;

        while (length - start >= PATH_MAX) {
                /* Names hold no '/' and are at most NAME_MAX long: a '/'
                 * below PATH_MAX to cut at always exists. */
                size_t cut = start + PATH_MAX - 1;
                while (cut > start && relpath[cut] != '/')
                        cut--;
                if (cut == start)
                        return -ENAMETOOLONG;

                _cleanup_free_ char *piece = strndup(relpath + start, cut - start);
                if (!piece)
                        return -ENOMEM;
                int next = open_directory_at(fd >= 0 ? fd : top, piece);
                if (next < 0)
                        return next;
                closep(&fd);
                fd = next;
                start = cut + 1;
        }

        return open_directory_at(fd >= 0 ? fd : top, relpath + start);
}

/* Opens a task's directory in one tree, checking that it still is the
 * inode listed in its parent. Returns 1 with *ret, 0 when it changed
 * since, <0 on error. */
static int open_task_directory(int top, const char *relpath, dev_t dev, ino_t ino, DIR **ret) {
        _cleanup_close_ int fd = open_directory_below(top, relpath);
        if (fd < 0)
                return fd;

        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_dev != dev || st.st_ino != ino)
                return 0;

        DIR *d = fdopendir(fd);
        if (!d)
                return negative_errno();
        TAKE_FD(fd);
        *ret = d;
        return 1;
}

static int worker_set_path(Worker *w, const char *dir, const char *name) {
        size_t dir_len = streq(dir, ".") ? 0 : strlen(dir), name_len = strlen(name);
        size_t needed = dir_len + 1 + name_len + 1;

        if (needed > w->path_allocated) {
                size_t allocated = MAX(needed, 2 * w->path_allocated);
                char *path = realloc(w->path, allocated);
                if (!path)
                        return -ENOMEM;
                w->path = path;
                w->path_allocated = allocated;
        }

        char *o = w->path;
        if (dir_len > 0) {
                memcpy(o, dir, dir_len);
                o += dir_len;
                *o++ = '/';
        }
        memcpy(o, name, name_len + 1);
        return 0;
}

static int queue_push(Verifier *v, const char *relpath, const struct stat *sta, const struct stat *stb) {
        _cleanup_free_ char *copy = strdup(relpath);
        if (!copy)
                return -ENOMEM;

        pthread_mutex_lock(&v->queue_lock);
        if (v->n_tasks == v->allocated_tasks) {
                size_t allocated = v->allocated_tasks ? v->allocated_tasks * 2 : 64;
                DirTask *tasks = reallocarray(v->tasks, allocated, sizeof(DirTask));
                if (!tasks) {
                        pthread_mutex_unlock(&v->queue_lock);
                        return -ENOMEM;
                }
                v->tasks = tasks;
                v->allocated_tasks = allocated;
        }
        v->tasks[v->n_tasks++] = (DirTask) {
                .relpath = TAKE_PTR(copy),
                .a_dev = sta->st_dev,
                .a_ino = sta->st_ino,
                .b_dev = stb->st_dev,
                .b_ino = stb->st_ino,
        };
        v->pending++;
        pthread_cond_signal(&v->queue_changed);
        pthread_mutex_unlock(&v->queue_lock);
        return 0;
}

/* One name of a directory pair, present in a, in b or in both. */
/* Whether name (in a) is the root of another mount than a's top. */
static bool on_other_mount(const Verifier *v, int dirfd_a, const char *name, const struct stat *st) {
        if (v->have_mnt_id) {
                struct statx sx;
                if (statx(dirfd_a, name, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) == 0 &&
                    (sx.stx_mask & STATX_MNT_ID))
                        return sx.stx_mnt_id != v->top_mnt_id_a;
        }
        return st->st_dev != v->top_dev_a;
}

static int compare_child(Worker *w, const char *dir_relpath, int dirfd_a, int dirfd_b, const char *name,
                         bool in_a, bool in_b) {
        Verifier *v = w->verifier;
        struct stat sta, stb;
        bool descend;
        int r;

        r = worker_set_path(w, dir_relpath, name);
        if (r < 0)
                return r;

        if (in_a) {
                if (fstatat(dirfd_a, name, &sta, AT_SYMLINK_NOFOLLOW) < 0) {
                        report_unreadable(v, w->path, "original", "stat", negative_errno());
                        return 0;
                }
                /* A mount point: the copy engine does not cross it, so
                 * whatever the copy has under this name is not compared.
                 * Mount ids, not st_dev: a btrfs subvolume has its own
                 * st_dev, is no mount, and is copied. */
                if (on_other_mount(v, dirfd_a, name, &sta))
                        return 0;
        }
        if (in_b && fstatat(dirfd_b, name, &stb, AT_SYMLINK_NOFOLLOW) < 0) {
                report_unreadable(v, w->path, "copy", "stat", negative_errno());
                return 0;
        }

        if (!in_b) {
                report(v, w->path, "missing in copy", "%s", type_name(sta.st_mode));
                return 0;
        }
        if (!in_a) {
                report(v, w->path, "extra in copy", "%s", type_name(stb.st_mode));
                return 0;
        }

        r = compare_entry(w, w->path, dirfd_a, dirfd_b, name, &sta, &stb, &descend);
        if (r < 0)
                return r;
        if (descend)
                return queue_push(v, w->path, &sta, &stb);
        return 0;
}

static int process_directory(Worker *w, const DirTask *task) {
        Verifier *v = w->verifier;
        _cleanup_closedir_ DIR *dir_a = NULL, *dir_b = NULL;
        _cleanup_(name_list_done) NameList names_a = {}, names_b = {};
        int r;

        r = open_task_directory(v->top_a, task->relpath, task->a_dev, task->a_ino, &dir_a);
        if (r == -ENOMEM)
                return r;
        if (r <= 0) {
                if (r < 0)
                        report_unreadable(v, task->relpath, "original", "open", r);
                else
                        report(v, task->relpath, "unreadable", "original: changed while verifying");
                return 0;
        }
        r = open_task_directory(v->top_b, task->relpath, task->b_dev, task->b_ino, &dir_b);
        if (r == -ENOMEM)
                return r;
        if (r <= 0) {
                if (r < 0)
                        report_unreadable(v, task->relpath, "copy", "open", r);
                else
                        report(v, task->relpath, "unreadable", "copy: changed while verifying");
                return 0;
        }

        r = read_names(dir_a, &names_a);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                report_unreadable(v, task->relpath, "original", "readdir", r);
                return 0;
        }
        r = read_names(dir_b, &names_b);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                report_unreadable(v, task->relpath, "copy", "readdir", r);
                return 0;
        }

        size_t ia = 0, ib = 0;
        while (ia < names_a.n || ib < names_b.n) {
                int c = ia >= names_a.n ? 1 : ib >= names_b.n ? -1 : strcmp(names_a.names[ia], names_b.names[ib]);
                const char *name = c <= 0 ? names_a.names[ia] : names_b.names[ib];

                r = compare_child(w, task->relpath, dirfd(dir_a), dirfd(dir_b), name, c <= 0, c >= 0);
                if (r < 0)
                        return r;
                if (c <= 0)
                        ia++;
                if (c >= 0)
                        ib++;
        }
        return 0;
}

static void set_error(Verifier *v, int error) {
        pthread_mutex_lock(&v->queue_lock);
        if (v->error == 0)
                v->error = error;
        pthread_cond_broadcast(&v->queue_changed);
        pthread_mutex_unlock(&v->queue_lock);
}

static void worker_run(Worker *w) {
        Verifier *v = w->verifier;

        for (;;) {
                pthread_mutex_lock(&v->queue_lock);
                while (v->n_tasks == 0 && v->pending > 0 && v->error == 0)
                        pthread_cond_wait(&v->queue_changed, &v->queue_lock);
                if (v->error != 0 || v->n_tasks == 0) {
                        pthread_mutex_unlock(&v->queue_lock);
                        return;
                }
                DirTask task = v->tasks[--v->n_tasks];
                pthread_mutex_unlock(&v->queue_lock);

                int r = v->cancel && atomic_load(v->cancel) ? -ECANCELED : process_directory(w, &task);
                free(task.relpath);
                if (r < 0)
                        set_error(v, r);

                pthread_mutex_lock(&v->queue_lock);
                v->pending--;
                if (v->pending == 0)
                        pthread_cond_broadcast(&v->queue_changed);
                pthread_mutex_unlock(&v->queue_lock);
        }
}

static void *worker_thread(void *userdata) {
        worker_run(userdata);
        return NULL;
}

static void worker_done(Worker *w) {
        free(w->path);
        free(w->block_a);
        free(w->block_b);
        *w = (Worker) {};
}

typedef struct WorkerSet {
        Worker *workers;
        size_t n;
} WorkerSet;

static void worker_set_done(WorkerSet *s) {
        for (size_t i = 0; i < s->n; i++)
                worker_done(&s->workers[i]);
        free(s->workers);
        *s = (WorkerSet) {};
}

static int worker_set_init(WorkerSet *s, size_t n, Verifier *v) {
        s->workers = calloc(n, sizeof(Worker));
        if (!s->workers)
                return -ENOMEM;
        s->n = n;

        for (size_t i = 0; i < n; i++) {
                Worker *w = &s->workers[i];
                w->verifier = v;
                if (v->content) {
                        w->block_a = malloc(CONTENT_BLOCK_SIZE);
                        w->block_b = malloc(CONTENT_BLOCK_SIZE);
                        if (!w->block_a || !w->block_b)
                                return -ENOMEM;
                }
        }
        return 0;
}

static void verifier_done(Verifier *v) {
        for (size_t i = 0; i < v->n_tasks; i++)
                free(v->tasks[i].relpath);
        free(v->tasks);
        inode_map_done(&v->a_to_b);
        inode_map_done(&v->b_to_a);
        pthread_mutex_destroy(&v->report_lock);
        pthread_mutex_destroy(&v->queue_lock);
        pthread_cond_destroy(&v->queue_changed);
        pthread_mutex_destroy(&v->links_lock);
}

static unsigned default_jobs(void) {
        /* Verifying waits on metadata reads more than on the CPU. */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        if (cpus < 1)
                cpus = 1;
        return (unsigned) MIN(MAX(2 * cpus, 2L), (long) MAX_DEFAULT_JOBS);
}

int verify_trees(const char *a, const char *b, const VerifyOptions *opts, VerifyStats *ret) {
        static const VerifyOptions no_options = {};
        struct stat sta, stb;
        bool descend;
        int r;

        if (!a || !b)
                return -EINVAL;
        if (!opts)
                opts = &no_options;

        _cleanup_close_ int top_a = open(a, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
        if (top_a < 0)
                return negative_errno();
        _cleanup_close_ int top_b = open(b, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
        if (top_b < 0)
                return negative_errno();
        if (fstat(top_a, &sta) < 0 || fstat(top_b, &stb) < 0)
                return negative_errno();
        /* A tree compared with itself proves nothing about a copy: a
         * caller passing one path twice must not read "equal". */
        if (sta.st_dev == stb.st_dev && sta.st_ino == stb.st_ino)
                return -EINVAL;

        _cleanup_(verifier_done) Verifier v = {
                .top_a = top_a,
                .top_b = top_b,
                .top_dev_a = sta.st_dev,
                .content = opts->content,
                .on_difference = opts->on_difference,
                .userdata = opts->userdata,
                .cancel = opts->cancel,
                .report_lock = PTHREAD_MUTEX_INITIALIZER,
                .queue_lock = PTHREAD_MUTEX_INITIALIZER,
                .queue_changed = PTHREAD_COND_INITIALIZER,
                .links_lock = PTHREAD_MUTEX_INITIALIZER,
        };

        struct statx top_sx;
        if (statx(top_a, "", AT_EMPTY_PATH, STATX_MNT_ID, &top_sx) == 0 && (top_sx.stx_mask & STATX_MNT_ID)) {
                v.top_mnt_id_a = top_sx.stx_mnt_id;
                v.have_mnt_id = true;
        }

        unsigned jobs = opts->jobs > 0 ? MIN(opts->jobs, MAX_JOBS) : default_jobs();
        _cleanup_(worker_set_done) WorkerSet workers = {};
        r = worker_set_init(&workers, jobs, &v);
        if (r < 0)
                return r;

        r = compare_entry(&workers.workers[0], ".", top_a, top_b, NULL, &sta, &stb, &descend);
        if (r < 0)
                return r;
        r = queue_push(&v, ".", &sta, &stb);
        if (r < 0)
                return r;

        /* The calling thread is worker 0; fewer threads than asked for
         * only make the run slower. */
        _cleanup_free_ pthread_t *threads = calloc(jobs, sizeof(pthread_t));
        if (!threads)
                return -ENOMEM;
        size_t n_threads = 0;
        for (size_t i = 1; i < jobs; i++)
                if (pthread_create(&threads[n_threads], NULL, worker_thread, &workers.workers[i]) == 0)
                        n_threads++;

        worker_run(&workers.workers[0]);
        for (size_t i = 0; i < n_threads; i++)
                (void) pthread_join(threads[i], NULL);

        if (v.error < 0)
                return v.error;

        if (!ret)
                return 0;
        *ret = (VerifyStats) {
                .entries = atomic_load(&v.entries),
                .differences = v.differences,
                .bytes_compared = atomic_load(&v.bytes_compared),
        };
        return 0;
}
