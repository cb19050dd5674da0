/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include "mounts.h"
#include "paths.h"

void mount_info_free(MountInfo *m) {
        if (!m)
                return;
        free(m->mountpoint);
        free(m->source);
        free(m->fstype);
        free(m->options);
        free(m->fs_root);
        free(m);
}

/* libmount skips lines it cannot parse unless told otherwise; a skipped
 * line could be exactly the mount that holds the target. */
static int fail_on_parse_error(struct libmnt_table *tb _unused_, const char *filename _unused_,
                               int line _unused_) {
        return -EBADMSG;
}

/* Only the mountinfo format has the root column, and with it the mount and
 * parent IDs that say which mount is attached where. */
static bool table_has_mount_ids(struct libmnt_table *tb, struct libmnt_iter *itr) {
        struct libmnt_fs *fs;

        mnt_reset_iter(itr, MNT_ITER_FORWARD);
        while (mnt_table_next_fs(tb, itr, &fs) == 0)
                if (!mnt_fs_get_root(fs))
                        return false;
        return true;
}

/* The first mount on target that is attached to below (any mount on target
 * when below is NULL). */
static struct libmnt_fs *mount_attached_on(struct libmnt_table *tb, struct libmnt_iter *itr,
                                           const char *target, struct libmnt_fs *below) {
        struct libmnt_fs *fs;

        mnt_reset_iter(itr, MNT_ITER_FORWARD);
        while (mnt_table_next_fs(tb, itr, &fs) == 0) {
                if (fs == below || !mnt_fs_streq_target(fs, target))
                        continue;
                if (!below || mnt_fs_get_parent_id(fs) == mnt_fs_get_id(below))
                        return fs;
        }
        return NULL;
}

/* What a path lookup sees at target when it arrives there on mount below:
 * the mount attached there, or whatever was mounted over it later. The
 * kernel keeps one mount per (parent, mountpoint), so a stack is a chain
 * and climbing it from any member reaches its top. */
static struct libmnt_fs *visible_mount_on(struct libmnt_table *tb, struct libmnt_iter *itr,
                                          const char *target, struct libmnt_fs *below) {
        struct libmnt_fs *top = mount_attached_on(tb, itr, target, below);
        if (!top)
                return NULL;

        /* Bounded, so that a hand-written file with an ID cycle cannot hang us. */
        for (int n = mnt_table_get_nents(tb); n > 0; n--) {
                struct libmnt_fs *over = mount_attached_on(tb, itr, target, top);
                if (!over)
                        break;
                top = over;
        }
        return top;
}

static int mount_info_from_fs(struct libmnt_fs *fs, MountInfo **ret) {
        _cleanup_(mount_info_freep) MountInfo *m = calloc(1, sizeof(MountInfo));
        if (!m)
                return -ENOMEM;

        const char *source = mnt_fs_get_source(fs);
        const char *fstype = mnt_fs_get_fstype(fs);
        const char *fs_root = mnt_fs_get_root(fs);
        m->mountpoint = strdup(mnt_fs_get_target(fs));
        m->source = strdup(source ? source : "none");
        m->fstype = strdup(fstype ? fstype : "");
        m->fs_root = strdup(fs_root ? fs_root : "/");
        m->options = mnt_fs_strdup_options(fs);
        if (!m->options)
                m->options = strdup("");
        if (!m->mountpoint || !m->source || !m->fstype || !m->fs_root || !m->options)
                return -ENOMEM;

        m->devno = mnt_fs_get_devno(fs);

        /* A read-only superblock refuses writes even through a rw mount. */
        const char *vfs_options = mnt_fs_get_vfs_options(fs);
        const char *sb_options = mnt_fs_get_fs_options(fs);
        if (!vfs_options && !sb_options)
                vfs_options = mnt_fs_get_options(fs);
        m->read_only = (vfs_options && mnt_optstr_get_option(vfs_options, "ro", NULL, NULL) == 0) ||
                       (sb_options && mnt_optstr_get_option(sb_options, "ro", NULL, NULL) == 0);

        *ret = TAKE_PTR(m);
        return 0;
}

int mounts_find(const char *mountinfo_path, const char *path, MountInfo **ret) {
        _cleanup_free_ char *normalized = NULL;
        int r = path_normalize_absolute(path, &normalized);
        if (r < 0)
                return r;

        /* A new table has no cache, so lookups compare the text as written
         * and never stat() or canonicalize anything. */
        _cleanup_(mnt_free_tablep) struct libmnt_table *tb = mnt_new_table();
        _cleanup_(mnt_free_iterp) struct libmnt_iter *itr = mnt_new_iter(MNT_ITER_FORWARD);
        if (!tb || !itr)
                return -ENOMEM;
        r = mnt_table_set_parser_errcb(tb, fail_on_parse_error);
        if (r < 0)
                return r;
        r = mnt_table_parse_file(tb, mountinfo_path ? mountinfo_path : "/proc/self/mountinfo");
        if (r < 0)
                return r;

        bool use_ids = table_has_mount_ids(tb, itr);

        /* Visit "/", then every longer prefix of the path, the path last. */
        struct libmnt_fs *holder = NULL;
        size_t len = strlen(normalized);
        for (size_t end = 1; end <= len; end++) {
                if (end > 1 && end < len && normalized[end] != '/')
                        continue;

                char saved = normalized[end];
                normalized[end] = 0;

                struct libmnt_fs *fs;
                if (use_ids)
                        fs = visible_mount_on(tb, itr, normalized, holder);
                else
                        fs = mnt_table_find_target(tb, normalized, MNT_ITER_BACKWARD);
                if (fs)
                        holder = fs;

                normalized[end] = saved;
        }
        if (!holder)
                return -ENOENT;

        return mount_info_from_fs(holder, ret);
}

int mounts_get_space(const char *path, FsSpace *ret) {
        struct statvfs sv;
        struct statfs sf;

        if (statvfs(path, &sv) < 0)
                return negative_errno();
        if (statfs(path, &sf) < 0)
                return negative_errno();

        *ret = (FsSpace) {
                .free_bytes = (uint64_t) sv.f_bavail * (uint64_t) sv.f_frsize,
                .total_bytes = (uint64_t) sv.f_blocks * (uint64_t) sv.f_frsize,
                .free_inodes = sv.f_files > 0 ? (uint64_t) sv.f_favail : 0,
                .has_inode_limit = sv.f_files > 0,
                .magic = (unsigned long) sf.f_type,
        };
        return 0;
}

int mounts_same_filesystem(const char *a, const char *b) {
        struct stat st_a, st_b;

        if (stat(a, &st_a) < 0)
                return negative_errno();
        if (stat(b, &st_b) < 0)
                return negative_errno();
        return st_a.st_dev == st_b.st_dev;
}

static const struct {
        const char *fstype;
        const char *reason;
} unfit_types[] = {
        { "nfs",         "NFS: overlay2 cannot use a network filesystem as its upper layer" },
        { "nfs4",        "NFS: overlay2 cannot use a network filesystem as its upper layer" },
        { "cifs",        "CIFS/SMB: overlay2 cannot use a network filesystem as its upper layer" },
        { "smb3",        "CIFS/SMB: overlay2 cannot use a network filesystem as its upper layer" },
        { "smbfs",       "CIFS/SMB: overlay2 cannot use a network filesystem as its upper layer" },
        { "ceph",        "CephFS: overlay2 cannot use a network filesystem as its upper layer" },
        { "afs",         "AFS: overlay2 cannot use a network filesystem as its upper layer" },
        { "9p",          "9p: overlay2 cannot use a host-shared filesystem as its upper layer" },
        { "fuse",        "FUSE: overlay2 cannot use a FUSE filesystem as its upper layer" },
        { "fuseblk",     "FUSE: overlay2 cannot use a FUSE filesystem as its upper layer" },
        { "ecryptfs",    "eCryptfs: overlay2 cannot use a stacked filesystem as its upper layer" },
        { "overlay",     "overlay: overlay2 cannot nest inside another overlay filesystem" },
        { "aufs",        "aufs: overlay2 cannot use a stacked filesystem as its upper layer" },
        { "tmpfs",       "tmpfs is emptied at every reboot" },
        { "ramfs",       "ramfs is emptied at every reboot" },
        { "squashfs",    "squashfs is read-only" },
        { "erofs",       "EROFS is read-only" },
        { "cramfs",      "cramfs is read-only" },
        { "romfs",       "romfs is read-only" },
        { "iso9660",     "iso9660 (CD/DVD image) is read-only" },
        { "vfat",        "FAT cannot store Unix owners, permissions or extended attributes" },
        { "msdos",       "FAT cannot store Unix owners, permissions or extended attributes" },
        { "exfat",       "exFAT cannot store Unix owners, permissions or extended attributes" },
        { "ntfs",        "NTFS does not keep Unix owners, permissions and extended attributes" },
        { "ntfs3",       "NTFS does not keep Unix owners, permissions and extended attributes" },
        { "autofs",      "autofs is an automount point: access the target so the real filesystem gets mounted, then retry" },
        { "proc",        "a kernel pseudo filesystem, not storage" },
        { "sysfs",       "a kernel pseudo filesystem, not storage" },
        { "devtmpfs",    "a kernel pseudo filesystem, not storage" },
        { "devpts",      "a kernel pseudo filesystem, not storage" },
        { "cgroup",      "a kernel pseudo filesystem, not storage" },
        { "cgroup2",     "a kernel pseudo filesystem, not storage" },
        { "securityfs",  "a kernel pseudo filesystem, not storage" },
        { "debugfs",     "a kernel pseudo filesystem, not storage" },
        { "tracefs",     "a kernel pseudo filesystem, not storage" },
        { "configfs",    "a kernel pseudo filesystem, not storage" },
        { "pstore",      "a kernel pseudo filesystem, not storage" },
        { "bpf",         "a kernel pseudo filesystem, not storage" },
        { "mqueue",      "a kernel pseudo filesystem, not storage" },
        { "hugetlbfs",   "a kernel pseudo filesystem, not storage" },
        { "binfmt_misc", "a kernel pseudo filesystem, not storage" },
        { "efivarfs",    "a kernel pseudo filesystem, not storage" },
        { "fusectl",     "a kernel pseudo filesystem, not storage" },
        { "selinuxfs",   "a kernel pseudo filesystem, not storage" },
        { "nsfs",        "a kernel pseudo filesystem, not storage" },
        { "rpc_pipefs",  "a kernel pseudo filesystem, not storage" },
        { "nfsd",        "a kernel pseudo filesystem, not storage" },
};

const char *mounts_unfit_reason(const char *fstype) {
        if (!fstype || !fstype[0])
                return "the filesystem type is unknown";

        /* fuse.sshfs, fuse.glusterfs, fuse.s3fs, ... */
        if (strncmp(fstype, "fuse.", 5) == 0)
                return "FUSE: overlay2 cannot use a FUSE filesystem as its upper layer";

        for (size_t i = 0; i < ELEMENTSOF(unfit_types); i++)
                if (streq(fstype, unfit_types[i].fstype))
                        return unfit_types[i].reason;
        return NULL;
}
