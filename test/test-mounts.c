/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <linux/magic.h>

#include "tests.h"
#include "mounts.h"
#include "util.h"

#define HOST "data/mountinfo-host"

static void assert_holder(const char *table, const char *path, const char *mountpoint, const char *fstype) {
        _cleanup_(mount_info_freep) MountInfo *m = NULL;

        ASSERT_OK(mounts_find(table, path, &m));
        ASSERT_STREQ(m->mountpoint, mountpoint);
        ASSERT_STREQ(m->fstype, fstype);
}

static void test_fixed_host(void) {
        _cleanup_(mount_info_freep) MountInfo *m = NULL;

        /* Root, deep paths that do not exist, and the mountpoint itself. */
        assert_holder(HOST, "/", "/", "ext4");
        assert_holder(HOST, "/var/lib/docker", "/", "ext4");
        assert_holder(HOST, "/mnt", "/", "ext4");
        assert_holder(HOST, "/mnt/data", "/mnt/data", "xfs");
        assert_holder(HOST, "/mnt/data/docker/not/yet/there", "/mnt/data", "xfs");
        assert_holder(HOST, "/mnt/data/sub/docker", "/mnt/data/sub", "ext4");
        assert_holder(HOST, "/mnt/data/subway", "/mnt/data", "xfs");

        /* Component-wise prefixes: /mnt/database is not below /mnt/data. */
        assert_holder(HOST, "/mnt/database", "/mnt/database", "ext4");
        assert_holder(HOST, "/mnt/database/docker", "/mnt/database", "ext4");
        assert_holder(HOST, "/mnt/dat", "/", "ext4");

        /* Spelling does not matter. */
        assert_holder(HOST, "//mnt/./data//docker/", "/mnt/data", "xfs");

        /* An over-mount on the same target: the one on top wins. */
        assert_holder(HOST, "/mnt/stack/docker", "/mnt/stack", "btrfs");

        /* /mnt/shadow/inner was mounted, then /mnt/shadow was mounted over
         * again: the inner mount is hidden and the path lands on tmpfs. */
        assert_holder(HOST, "/mnt/shadow/inner/docker", "/mnt/shadow", "tmpfs");

        assert_holder(HOST, "/tmp/x", "/tmp", "tmpfs");
        assert_holder(HOST, "/mnt/nfs/docker", "/mnt/nfs", "nfs4");
        assert_holder(HOST, "/mnt/sshfs/docker", "/mnt/sshfs", "fuse.sshfs");

        /* The \040 escape is undone: the target has a real space. */
        ASSERT_OK(mounts_find(HOST, "/mnt/my disk/docker", &m));
        ASSERT_STREQ(m->mountpoint, "/mnt/my disk");
        ASSERT_STREQ(m->source, "/dev/vdf1");
        mount_info_free(m);
        m = NULL;
        assert_holder(HOST, "/mnt/my\\040disk/docker", "/", "ext4");

        /* Every field of a plain entry. */
        ASSERT_OK(mounts_find(HOST, "/mnt/data/docker", &m));
        ASSERT_STREQ(m->source, "/dev/vdb1");
        ASSERT_STREQ(m->fs_root, "/");
        ASSERT_EQ(m->devno, makedev(259, 1));
        ASSERT_FALSE(m->read_only);
        ASSERT_TRUE(strstr(m->options, "relatime"));
        ASSERT_TRUE(strstr(m->options, "inode64"));
        mount_info_free(m);
        m = NULL;

        /* A bind mount of a subdirectory shows its root within the fs. */
        ASSERT_OK(mounts_find(HOST, "/srv/docker/volumes", &m));
        ASSERT_STREQ(m->mountpoint, "/srv/docker");
        ASSERT_STREQ(m->fs_root, "/exports/docker");
        ASSERT_STREQ(m->fstype, "xfs");
        ASSERT_EQ(m->devno, makedev(259, 1));
        mount_info_free(m);
        m = NULL;

        /* Read-only on the mount, and read-only on the superblock only. */
        ASSERT_OK(mounts_find(HOST, "/mnt/ro/docker", &m));
        ASSERT_TRUE(m->read_only);
        mount_info_free(m);
        m = NULL;
        ASSERT_OK(mounts_find(HOST, "/mnt/sb-ro/docker", &m));
        ASSERT_TRUE(m->read_only);
        mount_info_free(m);
        m = NULL;
        ASSERT_OK(mounts_find(HOST, "/mnt/stack", &m));
        ASSERT_FALSE(m->read_only);
        mount_info_free(m);
        m = NULL;

        /* Failures leave the output alone. */
        ASSERT_EQ(mounts_find(HOST, "relative/path", &m), -EINVAL);
        ASSERT_EQ(mounts_find(HOST, "/mnt/../etc", &m), -EINVAL);
        ASSERT_EQ(mounts_find("data/no-such-mountinfo", "/", &m), -ENOENT);
        ASSERT_EQ(mounts_find("data/mountinfo-broken", "/mnt/data", &m), -EBADMSG);
        ASSERT_TRUE(!m);
}

static void test_fixed_unordered(void) {
        /* The root entry comes after its children; over-mount on /dev/pts. */
        assert_holder("data/mountinfo-unordered", "/var/lib/docker/overlay2", "/var/lib/docker", "xfs");
        assert_holder("data/mountinfo-unordered", "/var/lib/dockerd", "/", "ext4");
        assert_holder("data/mountinfo-unordered", "/dev/pts/0", "/dev/pts", "devpts");

        _cleanup_(mount_info_freep) MountInfo *m = NULL;
        ASSERT_OK(mounts_find("data/mountinfo-unordered", "/dev/pts", &m));
        ASSERT_TRUE(strstr(m->options, "mode=620"));
}

static void test_fixed_legacy(void) {
        /* No mount IDs: the last entry on the longest prefix wins. */
        _cleanup_(mount_info_freep) MountInfo *m = NULL;

        ASSERT_OK(mounts_find("data/mounts-legacy", "/mnt/data/docker", &m));
        ASSERT_STREQ(m->mountpoint, "/mnt/data");
        ASSERT_STREQ(m->fstype, "ext4");
        ASSERT_TRUE(m->read_only);
        ASSERT_STREQ(m->fs_root, "/");
        mount_info_free(m);
        m = NULL;

        assert_holder("data/mounts-legacy", "/mnt/database", "/", "ext4");
        assert_holder("data/mounts-legacy", "/proc/1", "/proc", "proc");
}

static void test_unfit(void) {
        static const char *const fit[] = { "ext4", "ext3", "xfs", "btrfs", "zfs", "f2fs" };
        static const char *const unfit[] = {
                "nfs", "nfs4", "cifs", "smb3", "smbfs", "ecryptfs", "fuse", "fuseblk",
                "fuse.sshfs", "fuse.glusterfs", "overlay", "tmpfs", "ramfs", "aufs",
                "squashfs", "iso9660", "vfat", "exfat", "ntfs", "ntfs3", "proc", "sysfs",
                "devtmpfs", "cgroup2", "autofs", "",
        };

        for (size_t i = 0; i < ELEMENTSOF(fit); i++)
                ASSERT_TRUE(!mounts_unfit_reason(fit[i]));
        for (size_t i = 0; i < ELEMENTSOF(unfit); i++) {
                const char *reason = mounts_unfit_reason(unfit[i]);
                ASSERT_TRUE(reason && strlen(reason) > 10);
        }
        ASSERT_TRUE(mounts_unfit_reason(NULL));
        ASSERT_TRUE(strstr(mounts_unfit_reason("nfs"), "NFS"));
        ASSERT_TRUE(strstr(mounts_unfit_reason("tmpfs"), "reboot"));
        /* A prefix of a known name is not that name. */
        ASSERT_TRUE(!mounts_unfit_reason("nfsx"));
        ASSERT_TRUE(!mounts_unfit_reason("fusex"));
}

static void test_space_and_same_fs(void) {
        FsSpace space = {};

        ASSERT_OK(mounts_get_space("/", &space));
        ASSERT_TRUE(space.total_bytes > 0);
        ASSERT_TRUE(space.free_bytes <= space.total_bytes);
        ASSERT_EQ(mounts_get_space("/no-such-dir-ddr-test", &space), -ENOENT);

        ASSERT_EQ(mounts_same_filesystem("/", "/"), 1);
        ASSERT_EQ(mounts_same_filesystem("/etc", "/"), 1);
        ASSERT_EQ(mounts_same_filesystem("/proc", "/"), 0);
        ASSERT_EQ(mounts_same_filesystem("/no-such-dir-ddr-test", "/"), -ENOENT);
}

/* Checks run in a child so that an assertion failure still lets the parent
 * unmount; the private mount namespace makes the kernel drop the mounts
 * (and release the loop devices) even if the parent dies too. */
static bool run_in_child(void (*check)(const char *dir), const char *dir) {
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                check(dir);
                _exit(EXIT_SUCCESS);
        }
        int status;
        ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void check_tmpfs(const char *dir) {
        _cleanup_(mount_info_freep) MountInfo *m = NULL;
        _cleanup_free_ char *deep = strdup_printf("%s/docker/not/yet", dir);
        ASSERT_TRUE(deep);

        ASSERT_OK(mounts_find(NULL, deep, &m));
        ASSERT_STREQ(m->mountpoint, dir);
        ASSERT_STREQ(m->fstype, "tmpfs");
        ASSERT_FALSE(m->read_only);
        ASSERT_TRUE(strstr(m->options, "size=16384k"));
        struct stat st;
        ASSERT_TRUE(stat(dir, &st) >= 0);
        ASSERT_EQ(m->devno, st.st_dev);
        mount_info_free(m);
        m = NULL;

        FsSpace space;
        ASSERT_OK(mounts_get_space(dir, &space));
        ASSERT_EQ(space.magic, TMPFS_MAGIC);
        ASSERT_EQ(space.total_bytes, 16 * 1024 * 1024);
        ASSERT_TRUE(space.has_inode_limit);
        ASSERT_TRUE(space.free_inodes > 0);
        ASSERT_EQ(mounts_same_filesystem(dir, "/"), 0);

        ASSERT_TRUE(mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, "size=16m") >= 0);
        ASSERT_OK(mounts_find(NULL, deep, &m));
        ASSERT_STREQ(m->mountpoint, dir);
        ASSERT_TRUE(m->read_only);
        mount_info_free(m);
        m = NULL;

        /* Only the mount read-only, the superblock stays writable. */
        ASSERT_TRUE(mount(NULL, dir, NULL, MS_REMOUNT, "size=16m") >= 0);
        ASSERT_OK(mounts_find(NULL, deep, &m));
        ASSERT_FALSE(m->read_only);
        mount_info_free(m);
        m = NULL;
        ASSERT_TRUE(mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) >= 0);
        ASSERT_OK(mounts_find(NULL, deep, &m));
        ASSERT_TRUE(m->read_only);
}

static void check_loop(const char *dir, const char *fstype) {
        _cleanup_(mount_info_freep) MountInfo *m = NULL;
        _cleanup_free_ char *deep = strdup_printf("%s/docker", dir);
        ASSERT_TRUE(deep);

        ASSERT_OK(mounts_find(NULL, deep, &m));
        ASSERT_STREQ(m->mountpoint, dir);
        ASSERT_STREQ(m->fstype, fstype);
        ASSERT_TRUE(strncmp(m->source, "/dev/loop", 9) == 0);
        ASSERT_FALSE(m->read_only);
        ASSERT_TRUE(!mounts_unfit_reason(m->fstype));

        FsSpace space;
        ASSERT_OK(mounts_get_space(dir, &space));
        ASSERT_TRUE(space.total_bytes > 32 * 1024 * 1024);
        ASSERT_TRUE(space.free_bytes > 0);
        ASSERT_EQ(mounts_same_filesystem(dir, "/"), 0);
        if (streq(fstype, "btrfs")) {
                ASSERT_EQ(space.magic, BTRFS_SUPER_MAGIC);
                ASSERT_FALSE(space.has_inode_limit);
                ASSERT_EQ(space.free_inodes, 0);
        } else {
                ASSERT_EQ(space.magic, EXT4_SUPER_MAGIC);
                ASSERT_TRUE(space.has_inode_limit);
                ASSERT_TRUE(space.free_inodes > 0);
        }
}

static void check_ext4(const char *dir) {
        check_loop(dir, "ext4");
}

static void check_btrfs(const char *dir) {
        check_loop(dir, "btrfs");
}

static int run_shell(const char *command) {
        int status = system(command);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Makes a filesystem image with mkfs_command and loop-mounts it on dir. */
static int loop_mount(const char *mkfs_command, const char *image, const char *dir) {
        _cleanup_free_ char *make = strdup_printf("truncate -s 160M '%s' && %s '%s' >/dev/null 2>&1",
                                                  image, mkfs_command, image);
        _cleanup_free_ char *mount_it = strdup_printf("mount -o loop '%s' '%s'", image, dir);
        ASSERT_TRUE(make && mount_it);

        if (run_shell(make) != 0 || run_shell(mount_it) != 0)
                return -EIO;
        return 0;
}

static int test_real_mounts(void) {
        if (geteuid() != 0)
                return test_skip("mounting needs root");
        if (unshare(CLONE_NEWNS) < 0)
                return test_skip("no mount namespaces");
        ASSERT_TRUE(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) >= 0);

        char temp_dir[] = "/var/tmp/test-mounts.XXXXXX";
        ASSERT_TRUE(mkdtemp(temp_dir));
        _cleanup_free_ char *mnt = strdup_printf("%s/mnt", temp_dir);
        _cleanup_free_ char *image = strdup_printf("%s/image", temp_dir);
        ASSERT_TRUE(mnt && image);
        ASSERT_TRUE(mkdir(mnt, 0755) >= 0);

        bool ok = true;
        ASSERT_TRUE(mount("tmpfs", mnt, "tmpfs", 0, "size=16m") >= 0);
        ok = run_in_child(check_tmpfs, mnt) && ok;
        ASSERT_TRUE(umount(mnt) >= 0);

        int r = 0;
        if (loop_mount("mkfs.ext4 -q -F", image, mnt) < 0)
                r = test_skip("cannot loop-mount ext4 (loop devices or mkfs.ext4 missing)");
        else {
                ok = run_in_child(check_ext4, mnt) && ok;
                ASSERT_TRUE(umount(mnt) >= 0);
        }
        (void) unlink(image);

        if (r == 0) {
                if (loop_mount("mkfs.btrfs -q -f", image, mnt) < 0)
                        r = test_skip("cannot loop-mount btrfs (mkfs.btrfs missing)");
                else {
                        ok = run_in_child(check_btrfs, mnt) && ok;
                        ASSERT_TRUE(umount(mnt) >= 0);
                }
                (void) unlink(image);
        }

        ASSERT_TRUE(rmdir(mnt) >= 0);
        ASSERT_TRUE(rmdir(temp_dir) >= 0);
        ASSERT_TRUE(ok);
        return r;
}

int main(void) {
        test_fixed_host();
        test_fixed_unordered();
        test_fixed_legacy();
        test_unfit();
        test_space_and_same_fs();
        return test_real_mounts();
}
