#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Runs the unit-test programs of the sd-bus and Engine API modules in their
# real mode (DDR_TEST_REAL_SYSTEMD=1) from the host side, against the
# harness's systemd and dockerd, reached through DBUS_SYSTEM_BUS_ADDRESS and
# DOCKER_HOST.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init real-units
[ -n "${DDR_BUILD_ROOT:-}" ] || DDR_BUILD_ROOT=$(dirname "$DDR_BIN")
e2e_up

export DDR_TEST_REAL_SYSTEMD=1 DBUS_SYSTEM_BUS_ADDRESS DOCKER_HOST
for program in test-units test-engine; do
        exe=$DDR_BUILD_ROOT/test/$program
        if [ ! -x "$exe" ]; then
                e2e_not_ok "$program: $exe is not built"
                continue
        fi
        e2e_log "\$ $program (DDR_TEST_REAL_SYSTEMD=1)"
        # The unit tests expect test/ as their working directory, as in meson.
        (cd "$DDR_SOURCE_ROOT/test" && timeout --kill-after=10 300 "$exe") 2>&1 | sed 's/^/#   | /'
        rc=${PIPESTATUS[0]}
        case $rc in
        0) e2e_ok "$program passes against the real systemd and dockerd" ;;
        77)
                if [ "${DDR_TEST_NO_SKIP:-0}" = 1 ]; then
                        e2e_not_ok "$program skipped in real mode (DDR_TEST_NO_SKIP=1)"
                else
                        e2e_ok "$program skipped in real mode # SKIP"
                fi ;;
        *) e2e_not_ok "$program exits $rc in real mode" ;;
        esac
done
check "docker still answers after the unit tests" wait_docker 60

e2e_finish
