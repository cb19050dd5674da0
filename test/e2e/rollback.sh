#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A migration whose last step fails for real: a drop-in makes docker.service
# refuse to start once daemon.json names the target. migrate must exit 1 and
# leave Docker running on the old data-root with daemon.json restored byte
# for byte, every container still there and the source unchanged. The copy
# at the target may remain, and the tool must say where.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init rollback
e2e_up
T=$E2E_TMP

e2e_log "creating the data to migrate"
create_test_data
live_container_ids

inside cat /etc/docker/daemon.json > "$T/daemon.json.orig" || e2e_die "cannot read daemon.json"
docker start -a "$APP_CONTAINER" > "$T/app.before" 2>&1 || e2e_die "app container run failed"
images_before=$(docker_info Images)
containers_before=$(docker_info Containers)
docker ps -a --format '{{.ID}} {{.Names}} {{.Image}}' | sort > "$T/containers.before"
manifest "$HARNESS_DATAROOT" "$T/source.before"

inside mkdir -p /etc/systemd/system/docker.service.d || e2e_die "mkdir drop-in dir failed"
inside sh -c 'cat > /etc/systemd/system/docker.service.d/fail-on-target.conf' <<EOF
# e2e rollback test: dockerd must not start on the new data-root
[Service]
ExecStartPre=/bin/sh -c '! grep -q $HARNESS_TARGET_MNT /etc/docker/daemon.json'
EOF
inside systemctl daemon-reload || e2e_die "systemctl daemon-reload failed"
check "the drop-in lets docker run on the old data-root" docker_answers

ddr migrate --yes "$TARGET"
check_eq "migrate exits 1 (failed, rolled back)" 1 "$DDR_RC"

check "docker answers again" wait_docker 60
check "docker.service is active" inside systemctl is-active --quiet docker.service
check "docker.socket is active" inside systemctl is-active --quiet docker.socket
check_eq "DockerRootDir is the old data-root" "$HARNESS_DATAROOT" "$(docker_info DockerRootDir)"
inside cat /etc/docker/daemon.json > "$T/daemon.json.after"
check_same_file "daemon.json is restored byte for byte" "$T/daemon.json.orig" "$T/daemon.json.after"
check_eq "same number of images" "$images_before" "$(docker_info Images)"
check_eq "same number of containers" "$containers_before" "$(docker_info Containers)"
docker ps -a --format '{{.ID}} {{.Names}} {{.Image}}' | sort > "$T/containers.after"
check_same_file "every container is still there" "$T/containers.before" "$T/containers.after"
check "the --restart always container runs again" wait_running "$LIVE_CONTAINER" 60

# dockerd stopped and started on the source: compare all but its own files.
manifest "$HARNESS_DATAROOT" "$T/source.after"
stable_view start "$T/source.before" > "$T/source.before.stable"
stable_view start "$T/source.after" > "$T/source.after.stable"
check_same_file "the source tree is unchanged" "$T/source.before.stable" "$T/source.after.stable"

docker start -a "$APP_CONTAINER" > "$T/app.after" 2>&1
check_same_file "the app container reads its data as before" "$T/app.before" "$T/app.after"

if inside test -e "$TARGET"; then
        check "the copy left at $TARGET is reported" grep -qF "$TARGET" <<< "$DDR_OUTPUT"
else
        e2e_ok "no copy left at $TARGET"
fi

e2e_finish
