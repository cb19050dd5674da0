#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `status` and `status --json` through a migration's life: before it (the
# default data-root, nothing recorded), after `migrate --yes` (the target,
# outcome done, the old tree still there), after `cleanup --yes` (old tree
# gone from disk, outcome cleaned-up, Docker still serving every container
# from the target), with Docker stopped (the configured data-root), and
# `rollback --yes` after the cleanup refused with nothing changed.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init status
e2e_up
T=$E2E_TMP
STATE=/var/lib/docker-dataroot/state.json

e2e_log "creating the data to migrate"
create_test_data
docker start -a "$APP_CONTAINER" > "$T/app.before" 2>&1 || e2e_die "app container run failed"
images_before=$(docker_info Images)
containers_before=$(docker_info Containers)

# status_json WHAT: runs status --json; it always exits 0.
status_json() {
        ddr_json status --json
        check_eq "$1: status --json exits 0" 0 "$DDR_RC"
        check_eq "$1: status --json prints one JSON object" object "$(json_get type)"
}

# ---- before any migration ----
status_json "before"
check_eq "before: data_root" "$HARNESS_DATAROOT" "$(json_get .data_root)"
check_eq "before: engine_running" true "$(json_get .engine_running)"
check_eq "before: driver" overlay2 "$(json_get .driver)"
check_eq "before: config" /etc/docker/daemon.json "$(json_get .config)"
check_eq "before: no configured data-root" "" "$(json_get .configured_data_root)"
check_eq "before: no last_migration" false "$(json_get 'has("last_migration")')"
check_eq "before: no old tree" "" "$(json_get .old_tree)"
check "before: allocated_bytes is a number" test "$(json_get '.allocated_bytes | type')" = number
ddr status
check_eq "before: status exits 0" 0 "$DDR_RC"
check "before: status names the data-root and the engine" \
        grep -q "^Docker data-root: $HARNESS_DATAROOT (reported by the running engine)" <<< "$DDR_OUTPUT"
check "before: status says no migration is recorded" grep -q '^Last migration: *none recorded' <<< "$DDR_OUTPUT"
check "before: status --json wrote no state" absent_inside "$STATE"

ddr status --bogus
check_eq "status with an unknown option exits 2" 2 "$DDR_RC"
ddr status extra-argument
check_eq "status with an argument exits 2" 2 "$DDR_RC"

# ---- after the migration ----
ddr migrate --yes "$TARGET"
check_eq "migrate --yes exits 0" 0 "$DDR_RC"
wait_docker 60 || e2e_die "docker does not answer after the migration"
wait_running "$LIVE_CONTAINER" 60 || e2e_die "$LIVE_CONTAINER does not run after the migration"

status_json "after migrate"
check_eq "after migrate: data_root is the target" "$TARGET" "$(json_get .data_root)"
check_eq "after migrate: engine_running" true "$(json_get .engine_running)"
check_eq "after migrate: configured_data_root is the target" "$TARGET" "$(json_get .configured_data_root)"
check_eq "after migrate: filesystem" "$HARNESS_TARGET_FS" "$(json_get .filesystem)"
check_eq "after migrate: mountpoint" "$HARNESS_TARGET_MNT" "$(json_get .mountpoint)"
check_eq "after migrate: last_migration.source" "$HARNESS_DATAROOT" "$(json_get .last_migration.source)"
check_eq "after migrate: last_migration.target" "$TARGET" "$(json_get .last_migration.target)"
check_eq "after migrate: last_migration.outcome" "done" "$(json_get .last_migration.outcome)"
check_eq "after migrate: old_tree is the old data-root" "$HARNESS_DATAROOT" "$(json_get .old_tree)"
# dockerd 20.10 keeps each volume mount's "Source" from config.v2.json and
# resolves it when it relabels the mount ("z" mode, the default of named
# volumes) at every container start: a Source still naming the old
# data-root works while the old tree exists and fails once cleanup removed
# it ("error evaluating symlinks from mount source").
stale=$(inside sh -c "jq -r '.MountPoints[]?.Source | select(startswith(\"$HARNESS_DATAROOT/\"))' \
        $TARGET/containers/*/config.v2.json")
check_eq "after migrate: no copied container config mounts a volume from the old data-root" "" "$stale"
ddr status
check "after migrate: status names the target" \
        grep -q "^Docker data-root: $TARGET (reported by the running engine)" <<< "$DDR_OUTPUT"
check "after migrate: status shows the migration done" \
        grep -q "^Last migration: *$HARNESS_DATAROOT -> $TARGET: done" <<< "$DDR_OUTPUT"
check "after migrate: status points at the old tree and cleanup" \
        grep -q "^Old tree: *$HARNESS_DATAROOT is still there.*cleanup" <<< "$DDR_OUTPUT"

# ---- after the cleanup ----
ddr cleanup --yes
check_eq "cleanup --yes exits 0" 0 "$DDR_RC"
# /var/lib/docker is the harness's mount point, so the directory itself
# stays; nothing may be left in it.
check_eq "cleanup: the old data-root holds nothing" "" \
        "$(inside find "$HARNESS_DATAROOT" -mindepth 1 -maxdepth 1 2>&1)"
status_json "after cleanup"
check_eq "after cleanup: data_root is the target" "$TARGET" "$(json_get .data_root)"
check_eq "after cleanup: last_migration.outcome" cleaned-up "$(json_get .last_migration.outcome)"
check_eq "after cleanup: no old tree" "" "$(json_get .old_tree)"
ddr status
check "after cleanup: status shows the cleanup" \
        grep -q "^Last migration: *$HARNESS_DATAROOT -> $TARGET: cleaned-up" <<< "$DDR_OUTPUT"
check_eq "after cleanup: status no longer mentions an old tree" "" "$(grep '^Old tree:' <<< "$DDR_OUTPUT")"

check "after cleanup: docker answers" docker_answers
check_eq "after cleanup: DockerRootDir is the target" "$TARGET" "$(docker_info DockerRootDir)"
check_eq "after cleanup: same images" "$images_before" "$(docker_info Images)"
check_eq "after cleanup: same containers" "$containers_before" "$(docker_info Containers)"
check "after cleanup: the --restart always container runs" wait_running "$LIVE_CONTAINER" 30
docker start -a "$APP_CONTAINER" > "$T/app.after" 2>&1
check_same_file "after cleanup: the app container reads its volume as before" "$T/app.before" "$T/app.after"
docker run --rm "$TEST_IMAGE" > "$T/image.run" 2>&1
run_rc=$?
check_eq "after cleanup: a new container runs from the image" 0 "$run_rc"

# ---- rollback after the cleanup: nothing to go back to ----
identity=$(dockerd_identity)
inside cat /etc/docker/daemon.json > "$T/daemon.json.before"
inside cat "$STATE" > "$T/state.before"
ddr rollback --yes
check_eq "rollback after cleanup: exit 3" 3 "$DDR_RC"
check "rollback after cleanup: the message says why" grep -qi 'cleanup' <<< "$DDR_OUTPUT"
check_eq "rollback after cleanup: dockerd not restarted" "$identity" "$(dockerd_identity)"
check_eq "rollback after cleanup: DockerRootDir is still the target" "$TARGET" "$(docker_info DockerRootDir)"
inside cat /etc/docker/daemon.json > "$T/daemon.json.after"
check_same_file "rollback after cleanup: daemon.json byte for byte" "$T/daemon.json.before" "$T/daemon.json.after"
inside cat "$STATE" > "$T/state.after"
check_same_file "rollback after cleanup: the journal unchanged" "$T/state.before" "$T/state.after"
ddr cleanup --yes
check_eq "a second cleanup exits 0 (already done)" 0 "$DDR_RC"

# ---- with Docker stopped: the data-root comes from daemon.json ----
inside systemctl stop docker.socket docker.service || e2e_die "cannot stop Docker"
status_json "docker stopped"
check_eq "docker stopped: engine_running" false "$(json_get .engine_running)"
check_eq "docker stopped: data_root from daemon.json" "$TARGET" "$(json_get .data_root)"
check_eq "docker stopped: last_migration.outcome" cleaned-up "$(json_get .last_migration.outcome)"
ddr status
check "docker stopped: status says the engine is not answering" \
        grep -q "^Docker data-root: $TARGET (engine not answering; from daemon.json)" <<< "$DDR_OUTPUT"
inside systemctl reset-failed docker.service docker.socket 2>/dev/null
inside systemctl start docker.socket docker.service || e2e_die "cannot start Docker again"
check "docker answers again" wait_docker 60
check_eq "Docker still runs on the target" "$TARGET" "$(docker_info DockerRootDir)"

e2e_finish
