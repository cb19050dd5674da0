/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/xattr.h>
#include <sys/stat.h>

#include "checks.h"
#include "mounts.h"
#include "paths.h"

void check_list_done(CheckList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].id);
                free(l->items[i].evidence);
                free(l->items[i].remedy);
        }
        free(l->items);
        *l = (CheckList) {};
}

const char *check_status_to_string(CheckStatus s) {
        switch (s) {
        case CHECK_OK:
                return "ok";
        case CHECK_WARN:
                return "warning";
        case CHECK_REFUSE:
                return "refused";
        }
        return "unknown";
}

int check_add(CheckList *l, const char *id, CheckStatus status, const char *remedy,
              const char *evidence_fmt, ...) {
        if (l->n == l->allocated) {
                size_t want = l->allocated ? l->allocated * 2 : 16;
                CheckResult *bigger = realloc(l->items, want * sizeof(CheckResult));
                if (!bigger)
                        return -ENOMEM;
                l->items = bigger;
                l->allocated = want;
        }

        va_list ap;
        _cleanup_free_ char *evidence = NULL;
        va_start(ap, evidence_fmt);
        int r = vasprintf(&evidence, evidence_fmt, ap);
        va_end(ap);
        if (r < 0) {
                evidence = NULL;
                return -ENOMEM;
        }

        _cleanup_free_ char *id_copy = l->id_prefix ? strdup_printf("%s%s", l->id_prefix, id) : strdup(id);
        _cleanup_free_ char *remedy_copy = remedy ? strdup(remedy) : NULL;
        if (!id_copy || (remedy && !remedy_copy))
                return -ENOMEM;

        l->items[l->n++] = (CheckResult) {
                .id = TAKE_PTR(id_copy),
                .status = status,
                .evidence = TAKE_PTR(evidence),
                .remedy = TAKE_PTR(remedy_copy),
        };
        return 0;
}

bool check_list_refused(const CheckList *l) {
        for (size_t i = 0; i < l->n; i++)
                if (l->items[i].status == CHECK_REFUSE)
                        return true;
        return false;
}

const CheckResult *check_list_find(const CheckList *l, const char *id) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i].id, id))
                        return &l->items[i];
        return NULL;
}

/* The top of a fresh ext4 filesystem holds only lost+found. */
static bool only_lost_and_found(const char *path) {
        _cleanup_closedir_ DIR *d = opendir(path);
        struct dirent *de;
        bool seen = false;

        if (!d)
                return false;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (!streq(de->d_name, "lost+found"))
                        return false;
                seen = true;
        }
        return seen;
}

int checks_target_path(CheckList *l, const char *target, const char *source, char **ret_target) {
        _cleanup_free_ char *normalized = NULL;
        int r;

        r = path_normalize_absolute(target, &normalized);
        if (r < 0) {
                r = check_add(l, "target-absolute", CHECK_REFUSE,
                              "Name the target as an absolute path without '..', e.g. /srv/docker.",
                              "'%s' is not an absolute path without '..' components", target);
                if (r < 0)
                        return r;
                *ret_target = NULL;
                return 0;
        }
        r = check_add(l, "target-absolute", CHECK_OK, NULL, "%s", normalized);
        if (r < 0)
                return r;

        _cleanup_free_ char *component = NULL;
        r = path_find_symlink_component(normalized, &component);
        if (r > 0)
                r = check_add(l, "target-symlink", CHECK_REFUSE,
                              "Name the target by its real path (see 'readlink -f'); Docker and the "
                              "mount table must agree on where the data lives.",
                              "'%s' is a symbolic link", component);
        else if (r == -ENOTDIR)
                r = check_add(l, "target-symlink", CHECK_REFUSE,
                              "Choose a target whose parents are directories.",
                              "'%s' is not a directory", component ? component : normalized);
        else if (r < 0)
                r = check_add(l, "target-symlink", CHECK_REFUSE, "Check the permissions on the path.",
                              "cannot inspect '%s': %s", normalized, strerror(-r));
        else
                r = check_add(l, "target-symlink", CHECK_OK, NULL, "no component of %s is a symlink",
                              normalized);
        if (r < 0)
                return r;

        r = path_check_absent_or_empty_dir(normalized);
        if (r == 1)
                r = check_add(l, "target-empty", CHECK_OK, NULL, "%s does not exist yet; it will be created",
                              normalized);
        else if (r == 0)
                r = check_add(l, "target-empty", CHECK_OK, NULL, "%s is an empty directory", normalized);
        else if (r == -ENOTEMPTY && only_lost_and_found(normalized)) {
                _cleanup_free_ char *remedy = strdup_printf(
                        "Name a new directory on that filesystem instead, e.g. %s/docker.",
                        streq(normalized, "/") ? "" : normalized);
                if (!remedy)
                        return -ENOMEM;
                r = check_add(l, "target-empty", CHECK_REFUSE, remedy,
                              "%s holds lost+found: it is the top of a filesystem", normalized);
        } else if (r == -ENOTEMPTY)
                r = check_add(l, "target-empty", CHECK_REFUSE,
                              "Choose an empty or new directory; docker-dataroot never writes over existing data.",
                              "%s is a directory that is not empty", normalized);
        else if (r == -ENOTDIR)
                r = check_add(l, "target-empty", CHECK_REFUSE, "Choose a directory path.",
                              "%s exists and is not a directory", normalized);
        else
                r = check_add(l, "target-empty", CHECK_REFUSE, "Check the permissions on the path.",
                              "cannot inspect %s: %s", normalized, strerror(-r));
        if (r < 0)
                return r;

        if (source && path_is_same_or_below(source, normalized))
                r = check_add(l, "target-nesting", CHECK_REFUSE,
                              "Choose a target outside the current data-root.",
                              "%s lies inside the current data-root %s", normalized, source);
        else if (source && path_is_same_or_below(normalized, source))
                r = check_add(l, "target-nesting", CHECK_REFUSE,
                              "Choose a target that does not contain the current data-root.",
                              "the current data-root %s lies inside %s", source, normalized);
        else
                r = check_add(l, "target-nesting", CHECK_OK, NULL, "%s and %s are apart", normalized,
                              source ? source : "(unknown source)");
        if (r < 0)
                return r;

        *ret_target = TAKE_PTR(normalized);
        return 0;
}

void target_filesystem_done(TargetFilesystem *t) {
        if (!t)
                return;
        free(t->fstype);
        free(t->mountpoint);
        free(t->source);
        *t = (TargetFilesystem) {};
}

uint64_t checks_space_with_margin(uint64_t needed_bytes) {
        /* 5% covers directory blocks and allocation differences between
         * filesystems; 128 MiB lets Docker start and write its first logs. */
        return needed_bytes + needed_bytes / 20 + 128ull * 1024 * 1024;
}

static bool has_mount_option(const char *options, const char *name) {
        char *value = NULL;
        size_t size = 0;
        return options && mnt_optstr_get_option(options, name, &value, &size) == 0;
}

/* Options Docker can live with, at a price worth telling. */
static int check_mount_options(CheckList *l, const MountInfo *mount) {
        static const struct {
                const char *option;
                const char *breaks;
        } costly[] = {
                { "nodev", "device nodes inside containers will not work" },
                { "nosuid", "setuid programs inside containers (sudo, ping) lose their privileges" },
                { "noexec", "no container can execute a program stored in its image" },
        };
        int r;
        bool any = false;

        for (size_t i = 0; i < ELEMENTSOF(costly); i++) {
                if (!has_mount_option(mount->options, costly[i].option))
                        continue;
                any = true;
                _cleanup_free_ char *id = strdup_printf("target-%s", costly[i].option);
                _cleanup_free_ char *remedy = strdup_printf(
                        "Remove '%s' from the mount options of %s (in /etc/fstab) unless you mean it.",
                        costly[i].option, mount->mountpoint);
                if (!id || !remedy)
                        return -ENOMEM;
                r = check_add(l, id, CHECK_WARN, remedy, "%s is mounted %s: %s", mount->mountpoint,
                              costly[i].option, costly[i].breaks);
                if (r < 0)
                        return r;
        }
        if (!any)
                return check_add(l, "target-mount-options", CHECK_OK, NULL, "%s: no nodev, nosuid or noexec",
                                 mount->mountpoint);
        return 0;
}

/* overlay2 needs d_type in directory entries (xfs with ftype=0 has none)
 * and trusted.* xattrs for whiteouts and opaque directories. Neither shows
 * in the mount table, so ask the filesystem itself, in a scratch directory
 * that is removed again. */
static int probe_in_scratch(const char *scratch, bool *ret_d_type, bool *ret_trusted_xattr) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        bool d_type = false;

        if (mkdir(scratch, 0700) < 0)
                return negative_errno();
        _cleanup_free_ char *entry = strdup_printf("%s/entry", scratch);
        if (!entry)
                return -ENOMEM;
        if (mkdir(entry, 0700) < 0)
                return negative_errno();
        /* Opened after the entry exists: btrfs does not show entries
         * created after opendir(). */
        d = opendir(scratch);
        if (!d)
                return negative_errno();
        while ((de = readdir(d)))
                if (streq(de->d_name, "entry"))
                        d_type = de->d_type == DT_DIR;

        *ret_d_type = d_type;
        *ret_trusted_xattr = setxattr(scratch, "trusted.docker-dataroot-probe", "y", 1, 0) == 0;
        return 0;
}

int checks_probe_overlay_support(const char *dir, bool *ret_d_type, bool *ret_trusted_xattr) {
        struct stat before;
        char suffix[32];

        if (stat(dir, &before) < 0)
                return negative_errno();
        snprintf(suffix, sizeof suffix, "%d-%" PRIu64, (int) getpid(), now_usec());
        _cleanup_free_ char *scratch = strdup_printf("%s/.docker-dataroot-probe-%s", dir, suffix);
        _cleanup_free_ char *entry = strdup_printf("%s/.docker-dataroot-probe-%s/entry", dir, suffix);
        if (!scratch || !entry)
                return -ENOMEM;

        int r = probe_in_scratch(scratch, ret_d_type, ret_trusted_xattr);

        (void) rmdir(entry);
        (void) rmdir(scratch);
        /* The probe must leave no trace, not even on the directory's times. */
        const struct timespec times[2] = { before.st_atim, before.st_mtim };
        (void) utimensat(AT_FDCWD, dir, times, 0);
        return r;
}

static int check_overlay_support(CheckList *l, const char *ancestor, const MountInfo *mount) {
        bool d_type = false, trusted = false;
        int r = checks_probe_overlay_support(ancestor, &d_type, &trusted);
        if (r < 0)
                return check_add(l, "target-overlay-support", CHECK_REFUSE,
                                 "Make sure root can write to the target filesystem.",
                                 "cannot create a probe directory in %s: %s", ancestor, strerror(-r));
        if (!d_type)
                return check_add(l, "target-overlay-support", CHECK_REFUSE,
                                 "Re-create the filesystem with d_type support (xfs: mkfs.xfs -n ftype=1; "
                                 "ext4: keep its default filetype feature).",
                                 "%s (%s) gives no file type (d_type) in directory entries (xfs ftype=0, or "
                                 "ext4 without filetype); overlay2 cannot work on it",
                                 mount->mountpoint, mount->fstype);
        if (!trusted)
                return check_add(l, "target-overlay-support", CHECK_REFUSE,
                                 "Use a filesystem with trusted.* extended attributes (ext4, xfs, btrfs).",
                                 "%s (%s) refuses trusted.* extended attributes, which overlay2 whiteouts "
                                 "and opaque directories need", mount->mountpoint, mount->fstype);
        return check_add(l, "target-overlay-support", CHECK_OK, NULL,
                         "%s has d_type and trusted.* xattrs (probed)", mount->mountpoint);
}

int checks_target_filesystem(CheckList *l, const char *target, const char *mountinfo_path,
                             uint64_t needed_bytes, uint64_t needed_inodes, TargetFilesystem *ret) {
        _cleanup_free_ char *ancestor = NULL;
        _cleanup_(mount_info_freep) MountInfo *mount = NULL;
        TargetFilesystem fs = {};
        int r;

        r = path_existing_ancestor(target, &ancestor);
        if (r < 0)
                return check_add(l, "target-mounted", CHECK_REFUSE, "Check the permissions on the path.",
                                 "cannot find an existing parent of %s: %s", target, strerror(-r));

        r = mounts_find(mountinfo_path, ancestor, &mount);
        if (r < 0)
                return check_add(l, "target-mounted", CHECK_REFUSE,
                                 "Mount the filesystem meant for Docker's data, then run again.",
                                 "no mount table entry holds %s: %s", ancestor, strerror(-r));

        r = mounts_same_filesystem(ancestor, "/");
        if (r < 0)
                return check_add(l, "target-mounted", CHECK_REFUSE, "Check the permissions on the path.",
                                 "cannot stat %s: %s", ancestor, strerror(-r));
        if (r > 0)
                r = check_add(l, "target-mounted", CHECK_REFUSE,
                              "Mount the dedicated partition (e.g. at /srv/docker-data) and add it to "
                              "/etc/fstab, then name a directory on it as the target.",
                              "%s is on the root filesystem (%s %s mounted at %s); moving Docker there "
                              "frees nothing", target, mount->fstype, mount->source ? mount->source : "?",
                              mount->mountpoint);
        else
                r = check_add(l, "target-mounted", CHECK_OK, NULL, "%s is on %s %s mounted at %s", target,
                              mount->fstype, mount->source ? mount->source : "?", mount->mountpoint);
        if (r < 0)
                return r;

        const char *unfit = mounts_unfit_reason(mount->fstype);
        if (unfit)
                r = check_add(l, "target-fstype", CHECK_REFUSE,
                              "Use a local ext4, xfs (ftype=1) or btrfs filesystem for Docker's data.",
                              "%s: %s", mount->mountpoint, unfit);
        else
                r = check_add(l, "target-fstype", CHECK_OK, NULL, "%s can host overlay2", mount->fstype);
        if (r < 0)
                return r;

        if (mount->read_only)
                r = check_add(l, "target-writable", CHECK_REFUSE,
                              "Remount it read-write (mount -o remount,rw) or choose another filesystem.",
                              "%s is mounted read-only", mount->mountpoint);
        else
                r = check_add(l, "target-writable", CHECK_OK, NULL, "%s is mounted read-write",
                              mount->mountpoint);
        if (r < 0)
                return r;

        /* The probe writes (and removes) a scratch directory: only when
         * nothing else refused, so a refusal leaves the disk as it was. */
        if (!mount->read_only && !unfit && !check_list_refused(l)) {
                r = check_overlay_support(l, ancestor, mount);
                if (r < 0)
                        return r;
        }

        r = check_mount_options(l, mount);
        if (r < 0)
                return r;

        FsSpace space;
        r = mounts_get_space(ancestor, &space);
        if (r < 0)
                return check_add(l, "target-space", CHECK_REFUSE, "Check the target filesystem.",
                                 "cannot read free space of %s: %s", ancestor, strerror(-r));

        char need_buf[32], free_buf[32];
        uint64_t want = checks_space_with_margin(needed_bytes);
        if (space.free_bytes < want)
                r = check_add(l, "target-space", CHECK_REFUSE,
                              "Free space on the target filesystem or choose a larger one.",
                              "%s free on %s, %s needed (the data plus 5%% and 128 MiB)",
                              format_bytes(space.free_bytes, free_buf, sizeof free_buf), mount->mountpoint,
                              format_bytes(want, need_buf, sizeof need_buf));
        else
                r = check_add(l, "target-space", CHECK_OK, NULL, "%s free, %s needed with margin",
                              format_bytes(space.free_bytes, free_buf, sizeof free_buf),
                              format_bytes(want, need_buf, sizeof need_buf));
        if (r < 0)
                return r;

        if (space.has_inode_limit) {
                uint64_t want_inodes = needed_inodes + needed_inodes / 20 + 1000;
                if (space.free_inodes < want_inodes)
                        r = check_add(l, "target-inodes", CHECK_REFUSE,
                                      "Choose a filesystem with more inodes (mkfs option -i or -N).",
                                      "%" PRIu64 " free inodes, %" PRIu64 " needed", space.free_inodes,
                                      want_inodes);
                else
                        r = check_add(l, "target-inodes", CHECK_OK, NULL,
                                      "%" PRIu64 " free inodes, %" PRIu64 " needed", space.free_inodes,
                                      want_inodes);
                if (r < 0)
                        return r;
        }

        fs.fstype = strdup(mount->fstype);
        fs.mountpoint = strdup(mount->mountpoint);
        fs.source = mount->source ? strdup(mount->source) : NULL;
        if (!fs.fstype || !fs.mountpoint || (mount->source && !fs.source)) {
                target_filesystem_done(&fs);
                return -ENOMEM;
        }
        fs.free_bytes = space.free_bytes;
        fs.free_inodes = space.free_inodes;
        fs.has_inode_limit = space.has_inode_limit;
        if (ret)
                *ret = fs;
        else
                target_filesystem_done(&fs);
        return 0;
}

int checks_mounts_below(const char *mountinfo_path, const char *path, char **ret_first) {
        _cleanup_(mnt_free_tablep) struct libmnt_table *table = mnt_new_table();
        _cleanup_(mnt_free_iterp) struct libmnt_iter *iter = mnt_new_iter(MNT_ITER_FORWARD);
        struct libmnt_fs *fs;
        int r, count = 0;

        if (!table || !iter)
                return -ENOMEM;
        r = mnt_table_parse_file(table, mountinfo_path ? mountinfo_path : "/proc/self/mountinfo");
        if (r < 0)
                return r;

        _cleanup_free_ char *first = NULL;
        while (mnt_table_next_fs(table, iter, &fs) == 0) {
                const char *mountpoint = mnt_fs_get_target(fs);
                if (!mountpoint || streq(mountpoint, path) || !path_is_same_or_below(path, mountpoint))
                        continue;
                if (!first) {
                        first = strdup(mountpoint);
                        if (!first)
                                return -ENOMEM;
                }
                count++;
        }
        if (ret_first)
                *ret_first = TAKE_PTR(first);
        return count;
}

static bool is_data_root_flag(const char *arg, bool *ret_takes_next) {
        static const char *const long_flags[] = { "--data-root", "--graph" };

        for (size_t i = 0; i < ELEMENTSOF(long_flags); i++) {
                size_t n = strlen(long_flags[i]);
                if (strncmp(arg, long_flags[i], n) != 0)
                        continue;
                if (arg[n] == 0) {
                        *ret_takes_next = true;
                        return true;
                }
                if (arg[n] == '=') {
                        *ret_takes_next = false;
                        return true;
                }
        }
        /* "-g" with the value attached ("-g/x") or separate */
        if (arg[0] == '-' && arg[1] == 'g') {
                *ret_takes_next = arg[2] == 0;
                return true;
        }
        return false;
}

int checks_find_data_root_flag(char *const *argv, char **ret_flag) {
        for (size_t i = 0; argv && argv[i]; i++) {
                bool takes_next;
                if (!is_data_root_flag(argv[i], &takes_next))
                        continue;
                char *flag = takes_next && argv[i + 1] ? strdup_printf("%s %s", argv[i], argv[i + 1])
                                                       : strdup(argv[i]);
                if (!flag)
                        return -ENOMEM;
                *ret_flag = flag;
                return 1;
        }
        return 0;
}

int checks_find_config_file_flag(char *const *argv, char **ret_path) {
        static const char flag[] = "--config-file";

        for (size_t i = 0; argv && argv[i]; i++) {
                const char *value = NULL;
                if (streq(argv[i], flag))
                        value = argv[i + 1];
                else if (strncmp(argv[i], flag, sizeof flag - 1) == 0 && argv[i][sizeof flag - 1] == '=')
                        value = argv[i] + sizeof flag;
                if (!value)
                        continue;
                char *path = strdup(value);
                if (!path)
                        return -ENOMEM;
                *ret_path = path;
                return 1;
        }
        return 0;
}

/* A word boundary before the flag, so "--data-rootless" or "x-g" do not
 * count but "DOCKER_OPTS=\"-g /x\"" does. */
static bool line_has_data_root_flag(const char *line) {
        static const char *const flags[] = { "--data-root", "--graph", "-g" };

        for (size_t i = 0; i < ELEMENTSOF(flags); i++) {
                size_t n = strlen(flags[i]);
                for (const char *p = strstr(line, flags[i]); p; p = strstr(p + 1, flags[i])) {
                        char before = p == line ? ' ' : p[-1];
                        char after = p[n];
                        bool starts_word = before == ' ' || before == '\t' || before == '"' ||
                                           before == '\'' || before == '=';
                        bool ends_word = after == 0 || after == ' ' || after == '\t' || after == '=' ||
                                         after == '"' || after == '\'' || after == '\n' ||
                                         (i == 2 && after == '/');
                        if (starts_word && ends_word)
                                return true;
                }
        }
        return false;
}

int checks_env_file_data_root_flag(const char *path, unsigned *ret_line) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *line = NULL;
        size_t allocated = 0;
        unsigned number = 0;

        if (!f)
                return negative_errno();
        while (getline(&line, &allocated, f) >= 0) {
                number++;
                const char *p = line + strspn(line, " \t");
                if (*p == '#')
                        continue;
                if (line_has_data_root_flag(p)) {
                        *ret_line = number;
                        return 1;
                }
        }
        return ferror(f) ? -EIO : 0;
}

int checks_boot_mount(CheckList *l, const char *mountpoint, const char *fstab_path) {
        _cleanup_(mnt_free_tablep) struct libmnt_table *fstab = mnt_new_table();
        int r;

        if (!fstab)
                return -ENOMEM;
        if (streq(mountpoint, "/"))
                return 0;
        r = mnt_table_parse_fstab(fstab, fstab_path);
        if (r >= 0 && mnt_table_find_target(fstab, mountpoint, MNT_ITER_BACKWARD))
                return check_add(l, "target-boot-mount", CHECK_OK, NULL, "%s is listed in %s", mountpoint,
                                 fstab_path ? fstab_path : "/etc/fstab");

        _cleanup_free_ char *remedy = strdup_printf(
                "Add %s to /etc/fstab (or a mount unit), and give docker.service "
                "RequiresMountsFor=%s (--add-mount-dependency does that), so Docker never starts on the "
                "empty directory.",
                mountpoint, mountpoint);
        if (!remedy)
                return -ENOMEM;
        return check_add(l, "target-boot-mount", CHECK_WARN, remedy,
                         "%s is not in %s: after a reboot Docker could start on an empty directory",
                         mountpoint, fstab_path ? fstab_path : "/etc/fstab");
}

int checks_selinux(CheckList *l, const char *enforce_path, const char *source, const char *target) {
        _cleanup_free_ char *mode = NULL;

        if (read_full_file(enforce_path ? enforce_path : "/sys/fs/selinux/enforce", 16, &mode, NULL) < 0 ||
            mode[0] != '1')
                return 0;
        _cleanup_free_ char *remedy = strdup_printf(
                "After the move run: semanage fcontext -a -e %s %s && restorecon -R %s, so a relabel "
                "keeps Docker's labels.", source, target, target);
        if (!remedy)
                return -ENOMEM;
        return check_add(l, "selinux", CHECK_WARN, remedy,
                         "SELinux is enforcing: the copy keeps every security.selinux label, but the policy "
                         "does not know %s yet", target);
}

int checks_find_rootless(const char *root_prefix, char **ret_path) {
        static const char *const per_user[] = { ".config/systemd/user/docker.service", ".local/share/docker" };
        const char *prefix = root_prefix ? root_prefix : "";
        _cleanup_free_ char *home = strdup_printf("%s/home", prefix);
        if (!home)
                return -ENOMEM;

        /* /etc/systemd/user first, then /root, then every /home entry */
        _cleanup_strv_free_ char **homes = calloc(2, sizeof(char *));
        size_t n = 1;
        if (!homes)
                return -ENOMEM;
        homes[0] = strdup_printf("%s/root", prefix);
        if (!homes[0])
                return -ENOMEM;
        _cleanup_closedir_ DIR *d = opendir(home);
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char **bigger = reallocarray(homes, n + 2, sizeof(char *));
                if (!bigger)
                        return -ENOMEM;
                homes = bigger;
                homes[n] = strdup_printf("%s/%s", home, de->d_name);
                homes[n + 1] = NULL;
                if (!homes[n])
                        return -ENOMEM;
                n++;
        }

        struct stat st;
        _cleanup_free_ char *system_unit = strdup_printf("%s/etc/systemd/user/docker.service", prefix);
        if (!system_unit)
                return -ENOMEM;
        if (lstat(system_unit, &st) == 0) {
                *ret_path = TAKE_PTR(system_unit);
                return 1;
        }
        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < ELEMENTSOF(per_user); k++) {
                        _cleanup_free_ char *path = strdup_printf("%s/%s", homes[i], per_user[k]);
                        if (!path)
                                return -ENOMEM;
                        if (lstat(path, &st) < 0)
                                continue;
                        *ret_path = TAKE_PTR(path);
                        return 1;
                }
        return 0;
}
