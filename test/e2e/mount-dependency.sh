#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# --add-mount-dependency: after the migration, docker.service requires the
# target's mount (a drop-in, loaded by a daemon-reload over D-Bus), and a
# rollback takes the drop-in away again.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init mount-dependency
e2e_up
T=$E2E_TMP

docker volume create "$TEST_VOLUME" >/dev/null || e2e_die "docker volume create failed"
inside sh -c "echo precious > $HARNESS_DATAROOT/volumes/$TEST_VOLUME/_data/record.txt" ||
        e2e_die "cannot write into the volume"
inside cat /etc/docker/daemon.json > "$T/daemon.json.orig" || e2e_die "cannot read daemon.json"
DROPIN=/etc/systemd/system/docker.service.d/50-docker-dataroot-mount.conf

ddr migrate --yes --add-mount-dependency "$TARGET"
check_eq "migrate --add-mount-dependency exits 0" 0 "$DDR_RC"
check_eq "DockerRootDir is the target" "$TARGET" "$(docker_info DockerRootDir)"
check "the drop-in exists" inside test -f "$DROPIN"
check "systemd loaded it: RequiresMountsFor names the target" \
        grep -qF "$TARGET" <<< "$(inside systemctl show -p RequiresMountsFor docker.service)"
check "docker.service is now ordered after the target's mount unit" \
        grep -q 'mnt-target.*x2dfs\.mount' <<< "$(inside systemctl show -p After docker.service)"
check_eq "the volume reads back" precious "$(inside cat "$TARGET/volumes/$TEST_VOLUME/_data/record.txt")"

ddr rollback --yes
check_eq "rollback exits 0" 0 "$DDR_RC"
check_eq "DockerRootDir is the old data-root again" "$HARNESS_DATAROOT" "$(docker_info DockerRootDir)"
check "the drop-in is gone" absent_inside "$DROPIN"
check "systemd forgot it" bash -c "! grep -qF '$TARGET' <<< \"\$($HARNESS_IN $HARNESS_ID systemctl show -p RequiresMountsFor docker.service)\""
inside cat /etc/docker/daemon.json > "$T/daemon.json.after"
check_same_file "daemon.json is as it was" "$T/daemon.json.orig" "$T/daemon.json.after"

e2e_finish
