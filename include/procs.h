/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* PIDs (in this PID namespace) of processes whose /proc/PID/comm equals
 * comm, or whose executable (/proc/PID/exe) has comm as its basename. The
 * second test catches names longer than the 15 characters the kernel keeps
 * in comm, and processes that renamed themselves: a missed dockerd is worse
 * than a false alarm. proc_root is normally "/proc"; tests pass a fake
 * tree. Processes that exit during the scan are skipped. On success returns
 * the number of PIDs found, and *ret_pids (sorted ascending; NULL when none
 * was found) and *ret_n. */
int procs_find_by_comm(const char *proc_root, const char *comm, pid_t **ret_pids, size_t *ret_n);

/* 1 when pid lives in the same PID namespace as the caller, 0 when it lives
 * in another one (a dockerd inside a container, with its own data-root),
 * <0 when that cannot be read (the process may have exited: -ENOENT). */
int procs_in_own_pid_namespace(const char *proc_root, pid_t pid);

#define PROCS_CMDLINE_MAX_SIZE (256u * 1024u)

/* The arguments of pid, from proc_root/PID/cmdline, as a NULL-terminated
 * array (empty for a kernel thread or a zombie). Returns their number;
 * -ENOENT when the process is gone; -EFBIG above PROCS_CMDLINE_MAX_SIZE.
 * *ret_argv is untouched on failure. */
int procs_get_cmdline(const char *proc_root, pid_t pid, char ***ret_argv);
