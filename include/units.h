/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

#include "util.h"

#define DOCKER_SERVICE "docker.service"
#define DOCKER_SOCKET "docker.socket"

/* Starts or stops each unit of the NULL-terminated list through
 * org.freedesktop.systemd1.Manager.StartUnit/StopUnit with mode "replace"
 * (in order, all jobs queued before waiting), then waits for every job's
 * JobRemoved signal. Fails with -EIO (and the unit and job result in
 * *error) when a job ends with a result other than "done", -ETIMEDOUT
 * after timeout_usec (UINT64_MAX: no limit), and with the errno of a
 * D-Bus error (kept in *error) when systemd refuses a call. Stopping a unit
 * that does not exist succeeds. bus is normally a system bus connection
 * (sd_bus_open_system honours DBUS_SYSTEM_BUS_ADDRESS); a direct
 * connection to systemd's private socket works too. error may be NULL.
 * units_start() first resets the failed state of each unit
 * (ResetFailedUnit), which also clears systemd's start rate limit: a
 * restart right after a failed one (rollback) must not be refused. */
int units_stop(sd_bus *bus, const char *const *units, uint64_t timeout_usec, sd_bus_error *error);
int units_start(sd_bus *bus, const char *const *units, uint64_t timeout_usec, sd_bus_error *error);

/* ActiveState of a unit ("active", "inactive", "failed", ...). A unit that
 * is not loaded reads "inactive". */
int units_get_active_state(sd_bus *bus, const char *unit, char **ret, sd_bus_error *error);

/* Every argv of the unit's effective ExecStart= (the property reflects
 * drop-ins), as a NULL-terminated array of NULL-terminated string arrays.
 * Returns the number of command lines. */
int units_get_exec_start(sd_bus *bus, const char *unit, char ****ret, sd_bus_error *error);
void units_exec_start_free(char ***argvs);

/* Manager.Reload: systemd rereads unit files and drop-ins (what
 * 'systemctl daemon-reload' does). */
int units_reload(sd_bus *bus, sd_bus_error *error);
