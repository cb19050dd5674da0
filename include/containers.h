/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

/* Docker keeps each container's named-volume mounts in
 * containers/<id>/config.v2.json with absolute paths under the data-root
 * ("Source": "/var/lib/docker/volumes/<name>/_data"). dockerd 20.10 looks
 * those paths up when the container starts; once the old tree is gone, a
 * moved container would no longer start. */

typedef void (*containers_report_fn)(const char *path, const char *operation, int error, void *userdata);

/* In the copy at new_root, points every volume mount Source under old_root
 * at new_root instead. Only those string values change: the file is edited
 * as text (dockerd's own formatting and numbers are kept) and the result is
 * parsed again and compared with the intended document before it replaces
 * the file atomically, with its mode and owner. Failures are reported per
 * file and make the result -EIO; *ret_mounts counts rewritten mounts. */
int containers_rewrite_volume_sources(const char *new_root, const char *old_root, containers_report_fn on_error,
                                      void *userdata, unsigned *ret_mounts);

/* How many volume mounts under root's containers still name a path below
 * old_root (cleanup refuses to remove old_root while any does). */
int containers_count_sources_below(const char *root, const char *old_root);
