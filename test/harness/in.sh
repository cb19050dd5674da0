#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# in.sh ID CMD [ARG...] - run CMD inside harness instance ID, in all of its
# namespaces, so the default system bus, /run/docker.sock,
# /etc/docker/daemon.json and /var/lib/docker are the container's own.
#
# The environment starts clean: the host-side DBUS_SYSTEM_BUS_ADDRESS and
# DOCKER_HOST would point back through /proc and must not leak in. Only the
# sanitizer and test switches pass through, so an instrumented binary
# behaves inside as it does in `meson test`. More: in.sh ID env FOO=1 CMD...
# The process stays in the caller's cgroup; for one managed by the
# container's systemd use: in.sh ID systemd-run --wait --pipe CMD...
set -eu

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/common.sh"

if [ $# -lt 2 ]; then
        echo "usage: in.sh ID CMD [ARG...]" >&2
        exit 2
fi
ID=$1
shift
harness_check_id "$ID" || exit 2
LEADER_PID=$(cat "$(harness_dir "$ID")/leader.pid" 2>/dev/null) || {
        echo "in.sh: no running harness instance '$ID'" >&2
        exit 2
}
if ! harness_pid_is_ours "$ID" "$LEADER_PID"; then
        echo "in.sh: harness instance '$ID' is not running" >&2
        exit 2
fi

PASS=(PATH="$HARNESS_INSIDE_PATH" HOME=/root LANG=C.UTF-8)
for var in TERM ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS DDR_TEST_NO_SKIP; do
        if [ -n "${!var+set}" ]; then
                PASS+=("$var=${!var}")
        fi
done
exec nsenter --target "$LEADER_PID" --all -- env -i "${PASS[@]}" "$@"
