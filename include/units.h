/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

#include "util.h"

#define DOCKER_SERVICE "docker.service"
#define DOCKER_SOCKET "docker.socket"

/* Starts or stops each unit in order through
 * org.freedesktop.systemd1.Manager.StartUnit/StopUnit with mode "replace",
 * then waits for every job's JobRemoved signal. Fails with -EIO (and the
 * unit and job result in *error) when a job ends with a result other than
 * "done", -ETIMEDOUT after timeout_usec. bus must be a system bus
 * connection (sd_bus_open_system honours DBUS_SYSTEM_BUS_ADDRESS). */
int units_stop(sd_bus *bus, const char *const *units, uint64_t timeout_usec, sd_bus_error *error);
int units_start(sd_bus *bus, const char *const *units, uint64_t timeout_usec, sd_bus_error *error);

/* ActiveState of a unit ("active", "inactive", "failed", ...). */
int units_get_active_state(sd_bus *bus, const char *unit, char **ret, sd_bus_error *error);

/* Every argv of the unit's effective ExecStart= (the property reflects
 * drop-ins), as a NULL-terminated array of NULL-terminated string arrays. */
int units_get_exec_start(sd_bus *bus, const char *unit, char ****ret, sd_bus_error *error);
void units_exec_start_free(char ***argvs);
