/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* PIDs (in this PID namespace) of processes whose /proc/PID/comm equals
 * comm. proc_root is normally "/proc"; tests pass a fake tree. */
int procs_find_by_comm(const char *proc_root, const char *comm, pid_t **ret_pids, size_t *ret_n);
