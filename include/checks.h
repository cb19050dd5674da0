/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mounts.h"
#include "util.h"

/* Every preflight check ends in one of these, with one line of evidence
 * (what was seen) and, unless ok, one line of remedy (what to do). */
typedef enum CheckStatus {
        CHECK_OK,
        CHECK_WARN,
        CHECK_REFUSE,
} CheckStatus;

typedef struct CheckResult {
        char *id;        /* stable, for --json: "target-symlink", ... */
        CheckStatus status;
        char *evidence;
        char *remedy;    /* NULL when ok */
} CheckResult;

typedef struct CheckList {
        CheckResult *items;
        size_t n;
        size_t allocated;
        /* Prepended to every id check_add records while set: the same target
         * checks run for a second directory (containerd's root) under ids of
         * their own, and still see the refusals of the whole list. */
        const char *id_prefix;
} CheckList;

void check_list_done(CheckList *l);
const char *check_status_to_string(CheckStatus s);

/* Appends a result; the format strings build the evidence and the remedy
 * (remedy_fmt may be NULL). -ENOMEM only. */
int check_add(CheckList *l, const char *id, CheckStatus status, const char *remedy,
              const char *evidence_fmt, ...) _printf_(5, 6);

bool check_list_refused(const CheckList *l);
const CheckResult *check_list_find(const CheckList *l, const char *id);

/* Checks on the target path alone: absolute, normalized, no symlink in
 * any component, absent or empty, not nested with source. On success
 * *ret_target holds the normalized target (NULL when it was refused). */
int checks_target_path(CheckList *l, const char *target, const char *source, char **ret_target);

/* What the check stage learned about the target's filesystem. */
typedef struct TargetFilesystem {
        char *fstype;
        char *mountpoint;
        char *source;
        uint64_t free_bytes;
        uint64_t free_inodes;
        bool has_inode_limit;
} TargetFilesystem;
void target_filesystem_done(TargetFilesystem *t);

/* Checks on the filesystem that will hold target (normalized): a real
 * mounted filesystem found in mountinfo (NULL = /proc/self/mountinfo),
 * not the one holding "/", of a type overlay2 can use, writable, with room
 * for needed_bytes and needed_inodes plus a margin. */
int checks_target_filesystem(CheckList *l, const char *target, const char *mountinfo_path,
                             uint64_t needed_bytes, uint64_t needed_inodes, TargetFilesystem *ret);

/* The space a copy of needed_bytes asks for: the bytes plus a margin for
 * metadata and for Docker's first writes on the new root. */
uint64_t checks_space_with_margin(uint64_t needed_bytes);

/* Mount points strictly below path (after Docker stopped there must be
 * none: a leftover overlay mount would be copied as a merged view). Returns
 * the count and the first one in *ret_first. */
int checks_mounts_below(const char *mountinfo_path, const char *path, char **ret_first);

/* dockerd refuses to start when a flag and daemon.json both set the
 * data-root. Looks through one dockerd argv for --data-root, --graph or -g
 * (both "--flag value" and "--flag=value" forms). Returns 1 and the flag
 * as written in *ret_flag, 0 when absent. */
int checks_find_data_root_flag(char *const *argv, char **ret_flag);

/* The value of --config-file in one dockerd argv: 1 and *ret_path, or 0. */
int checks_find_config_file_flag(char *const *argv, char **ret_path);

/* Looks through a shell-style environment file (/etc/default/docker,
 * /etc/sysconfig/docker) for a data-root flag on an uncommented line.
 * Returns 1 with the 1-based line number, 0 when none, -ENOENT when the
 * file does not exist. */
int checks_env_file_data_root_flag(const char *path, unsigned *ret_line);

/* Warns when the target's mountpoint is not in fstab (NULL = /etc/fstab):
 * Docker would then start on an empty directory after a reboot. */
int checks_boot_mount(CheckList *l, const char *mountpoint, const char *fstab_path);

/* With SELinux enforcing (enforce_path NULL = /sys/fs/selinux/enforce),
 * warns that the policy needs an equivalence rule for the new path, or a
 * relabel would undo the copied labels. Adds nothing otherwise. */
int checks_selinux(CheckList *l, const char *enforce_path, const char *source, const char *target);

/* Looks for a rootless Docker installation below root_prefix (NULL or ""
 * for the real root): a user unit docker.service in
 * /etc/systemd/user or ~/.config/systemd/user, or data in
 * ~/.local/share/docker, of /root and of every directory in /home. Returns 1
 * with the first path found in *ret_path, 0 when there is none. */
int checks_find_rootless(const char *root_prefix, char **ret_path);

/* Asks the filesystem holding dir whether overlay2 can work on it: d_type
 * in directory entries (xfs ftype=0 has none) and trusted.* xattrs. Works
 * in a scratch directory that it removes, and puts dir's times back. */
int checks_probe_overlay_support(const char *dir, bool *ret_d_type, bool *ret_trusted_xattr);
