#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# --include-containerd against the real thing: Debian's containerd.service
# under the harness's systemd, with an image imported into containerd's own
# store (content, snapshots, metadata) next to Docker's data. dockerd 20.10
# has no containerd image store, but the refusal keys off daemon.json's
# features.containerd-snapshotter, which 20.10 accepts and ignores: it is set
# and Docker restarted on it first.
#
# Proves: without the flag, exit 3 and nothing changed; a config.toml defect
# and a --root flag in containerd.service are refused with their evidence,
# nothing changed; with --include-containerd --yes, exit 0, config.toml
# holds the new root and every other byte, containerd runs from the new root
# (its open meta.db) and still lists its image, the old containerd tree is
# unchanged, Docker runs on TARGET with its containers; then rollback --yes
# puts config.toml back byte for byte and both daemons back on their old
# roots.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init containerd
command -v ctr >/dev/null || e2e_skip "ctr (package containerd) is not installed"
e2e_up
T=$E2E_TMP
CONFIG=/etc/containerd/config.toml
OLD_ROOT=/var/lib/containerd
NEW_ROOT=$HARNESS_TARGET_MNT/containerd
CTR_NS=ddr-e2e

write_inside() { inside sh -c 'cat > "$1"' sh "$1"; }
daemon_reload() { inside systemctl daemon-reload || e2e_die "systemctl daemon-reload failed"; }

containerd_identity() {
        inside systemctl show -p MainPID -p ExecMainStartTimestampMonotonic --value containerd.service |
                tr '\n' ' '
}

# containerd_runs_from DIR: containerd's metadata database is open below DIR.
containerd_runs_from() {
        local pid
        pid=$(inside systemctl show -p MainPID --value containerd.service)
        [ -n "$pid" ] && [ "$pid" != 0 ] || return 1
        inside sh -c 'ls -l /proc/$1/fd' sh "$pid" 2>/dev/null |
                grep -qF -- "-> $1/io.containerd.metadata.v1.bolt/meta.db"
}

# containerd_holds_below DIR: any of containerd's open files lies below DIR.
containerd_holds_below() {
        local pid
        pid=$(inside systemctl show -p MainPID --value containerd.service)
        inside sh -c 'ls -l /proc/$1/fd' sh "$pid" 2>/dev/null | grep -qF -- "-> $1/"
}
containerd_holds_nothing_below() { ! containerd_holds_below "$1"; }

# containerd removes a stopped container's task and records a moment after
# docker stop returns; the old tree is listed once that has settled (no
# change for 2 s), so that only the tool could change it afterwards.
containerd_tree_settled() {
        local last= now tries=0
        while [ "$tries" -lt 30 ]; do
                now=$(inside find "$OLD_ROOT" -printf '%T@ %s %p\n' 2>/dev/null | sort | sha256sum)
                [ "$now" = "$last" ] && return 0
                last=$now
                tries=$((tries + 1))
                sleep 2
        done
        return 1
}

ctr_images() { inside ctr -n "$CTR_NS" images ls -q 2>/dev/null | sort; }
ctr_content() { inside ctr -n "$CTR_NS" content ls -q 2>/dev/null | sort; }

# ---- usage errors: exit 2, before anything is read ----
for args in "status --include-containerd" "rollback --yes --include-containerd" "cleanup --yes --include-containerd" \
        "copy --include-containerd /a /b" "status --containerd-root /srv/c"; do
        # shellcheck disable=SC2086 # the words are separate arguments on purpose
        ddr $args
        check_eq "$args: exit 2" 2 "$DDR_RC"
        check "$args: the message says the option does not apply" grep -q "does not apply to" <<< "$DDR_OUTPUT"
done
ddr migrate --dry-run --containerd-root /srv/c "$TARGET"
check_eq "--containerd-root without --include-containerd: exit 2" 2 "$DDR_RC"
check "--containerd-root without --include-containerd: the message says so" \
        grep -q -- "--containerd-root needs --include-containerd" <<< "$DDR_OUTPUT"
ddr migrate --dry-run --include-containerd --containerd-root srv/c "$TARGET"
check_eq "a relative --containerd-root: exit 2" 2 "$DDR_RC"
check "a relative --containerd-root: the message says so" grep -q "Invalid --containerd-root" <<< "$DDR_OUTPUT"

e2e_log "creating the data to migrate"
create_test_data
live_container_ids
inside ls "$CONFIG" >/dev/null 2>&1 || e2e_die "$CONFIG does not exist in the harness"
inside cat "$CONFIG" > "$T/config.toml.orig" || e2e_die "cannot read $CONFIG"
check_eq "config.toml has no top-level root (the default applies)" "" \
        "$(sed '/^\[/,$d' "$T/config.toml.orig" | grep -E '^[[:space:]]*root[[:space:]]*=')"

# containerd's own store gets real content: the test image, unpacked.
docker save "$TEST_IMAGE" > "$T/image.tar" || e2e_die "docker save failed"
inside ctr -n "$CTR_NS" images import - < "$T/image.tar" > "$T/import.log" 2>&1 || {
        sed 's/^/#   /' "$T/import.log"
        e2e_die "ctr images import failed"
}
ctr_images > "$T/ctr-images.before"
ctr_content > "$T/ctr-content.before"
[ -s "$T/ctr-images.before" ] || e2e_die "containerd lists no image after the import"
[ -s "$T/ctr-content.before" ] || e2e_die "containerd lists no content after the import"
config_mode=$(inside stat -c %a "$CONFIG")
inside find "$OLD_ROOT" -path '*io.containerd.snapshotter.v1.overlayfs/snapshots/*/fs' | grep -q . ||
        e2e_die "the import left no snapshot in $OLD_ROOT"

# The image store switch, for real: dockerd 20.10 must still start on it.
inside cat /etc/docker/daemon.json > "$T/daemon.json.orig" || e2e_die "cannot read daemon.json"
jq '. + { "features": { "containerd-snapshotter": true } }' "$T/daemon.json.orig" > "$T/daemon.json.snap"
write_inside /etc/docker/daemon.json < "$T/daemon.json.snap"
inside systemctl restart docker.service || e2e_die "dockerd 20.10 does not start with features.containerd-snapshotter"
reset_docker_start_limit
wait_docker 60 || e2e_die "docker does not answer after the restart"
wait_running "$LIVE_CONTAINER" 60 || e2e_die "$LIVE_CONTAINER does not run again"
check "dockerd 20.10 runs with features.containerd-snapshotter" docker_answers
check "containerd runs from $OLD_ROOT" containerd_runs_from "$OLD_ROOT"

images_before=$(docker_info Images)
containers_before=$(docker_info Containers)
docker start -a "$APP_CONTAINER" > "$T/app.before" 2>&1 || e2e_die "app container run failed"

# nothing_changed WHAT: Docker, containerd, both configs and the target
# filesystem are as they were before the case.
snapshot_state() {
        docker_identity_before=$(dockerd_identity)
        containerd_identity_before=$(containerd_identity)
        inside cat "$CONFIG" > "$T/case.config.toml"
        inside cat /etc/docker/daemon.json > "$T/case.daemon.json"
        manifest "$HARNESS_TARGET_MNT" "$T/case.target.before"
}
nothing_changed() {
        check_eq "$1: dockerd not restarted" "$docker_identity_before" "$(dockerd_identity)"
        check_eq "$1: containerd not restarted" "$containerd_identity_before" "$(containerd_identity)"
        inside cat "$CONFIG" > "$T/case.config.toml.now"
        check_same_file "$1: config.toml byte for byte" "$T/case.config.toml" "$T/case.config.toml.now"
        inside cat /etc/docker/daemon.json > "$T/case.daemon.json.now"
        check_same_file "$1: daemon.json byte for byte" "$T/case.daemon.json" "$T/case.daemon.json.now"
        manifest "$HARNESS_TARGET_MNT" "$T/case.target.now"
        check_same_file "$1: target filesystem untouched" "$T/case.target.before" "$T/case.target.now"
        check "$1: $TARGET not created" absent_inside "$TARGET"
        check "$1: $NEW_ROOT not created" absent_inside "$NEW_ROOT"
}

# ---- without the flag: refused ----
snapshot_state
ddr_json migrate --yes --json "$TARGET"
check_eq "without --include-containerd: exit 3" 3 "$DDR_RC"
check_eq "without --include-containerd: containerd-snapshotter refused" refused "$(check_status containerd-snapshotter)"
check "without --include-containerd: the remedy names the flag" \
        grep -q -- --include-containerd <<< "$(json_get '.checks[] | select(.id == "containerd-snapshotter") | .remedy')"
nothing_changed "without --include-containerd"

# ---- the plan ----
snapshot_state
ddr_json migrate --dry-run --json --include-containerd "$TARGET"
check_eq "dry run with --include-containerd: exit 0" 0 "$DDR_RC"
check_eq "dry run: containerd.source" "$OLD_ROOT" "$(json_get .containerd.source)"
check_eq "dry run: containerd.target is next to TARGET" "$NEW_ROOT" "$(json_get .containerd.target)"
check_eq "dry run: containerd.config" "$CONFIG" "$(json_get .containerd.config)"
check_eq "dry run: containerd-snapshotter ok" ok "$(check_status containerd-snapshotter)"
check_eq "dry run: containerd-root-consistent ok" ok "$(check_status containerd-root-consistent)"
check_eq "dry run: containerd-target-mounted ok" ok "$(check_status containerd-target-mounted)"
check_eq "dry run: containerd-target-overlay-support ok" ok "$(check_status containerd-target-overlay-support)"
if grep -q "$OLD_ROOT/" "$T/config.toml.orig"; then
        check_eq "dry run: config.toml's other path below the old root is warned about" warning \
                "$(check_status containerd-other-paths)"
fi
nothing_changed "dry run with --include-containerd"

# ---- a default on the root filesystem is refused with a remedy ----
snapshot_state
ddr_json migrate --dry-run --json --include-containerd "$HARNESS_TARGET_MNT"
check_eq "TARGET at the top of the filesystem: exit 3" 3 "$DDR_RC"
check_eq "containerd's default next to it (/mnt/containerd) is on the root filesystem: refused" refused \
        "$(check_status containerd-target-mounted)"
check "... the remedy names --containerd-root" \
        grep -q -- --containerd-root <<< "$(json_get '.checks[] | select(.id == "containerd-target-mounted") | .remedy')"
nothing_changed "default containerd root on the root filesystem"

# ---- a config.toml it cannot read with certainty ----
{ printf 'version = 2\ndisabled_plugins = [\n  "cri",\n]\n'; sed -n '/^\[/,$p' "$T/config.toml.orig"; } > "$T/config.toml.defect"
write_inside "$CONFIG" < "$T/config.toml.defect"
snapshot_state
ddr_json migrate --yes --json --include-containerd "$TARGET"
check_eq "config.toml with a multi-line array: exit 3" 3 "$DDR_RC"
check_eq "config.toml with a multi-line array: containerd-config refused" refused "$(check_status containerd-config)"
check "config.toml with a multi-line array: the evidence names line 2" \
        grep -q "$CONFIG line 2: " <<< "$(check_evidence containerd-config)"
nothing_changed "config.toml defect"
write_inside "$CONFIG" < "$T/config.toml.orig"

# ---- --root in containerd.service ----
CDROPIN=/etc/systemd/system/containerd.service.d/10-root.conf
inside mkdir -p /etc/systemd/system/containerd.service.d || e2e_die "cannot make the drop-in directory"
printf '[Service]\nExecStart=\nExecStart=/usr/bin/containerd --root %s\n' "$OLD_ROOT" | write_inside "$CDROPIN"
daemon_reload
snapshot_state
ddr_json migrate --yes --json --include-containerd "$TARGET"
check_eq "--root in containerd.service: exit 3" 3 "$DDR_RC"
check_eq "--root in containerd.service: containerd-root-flag refused" refused "$(check_status containerd-root-flag)"
check "--root in containerd.service: the evidence names the flag" \
        grep -qF -- "'--root $OLD_ROOT'" <<< "$(check_evidence containerd-root-flag)"
nothing_changed "--root in containerd.service"
inside rm "$CDROPIN"
daemon_reload

# ---- Docker's TARGET inside containerd's old root ----
# The copy would write into a source tree, and the old root the user is
# told to remove by hand afterwards would hold Docker's data.
NESTED_TARGET=$OLD_ROOT/docker-new
snapshot_state
ddr_json migrate --yes --json --include-containerd --containerd-root "$NEW_ROOT" "$NESTED_TARGET"
check_eq "TARGET below containerd's root: exit 3" 3 "$DDR_RC"
check_eq "TARGET below containerd's root: containerd-source-nesting refused" refused \
        "$(check_status containerd-source-nesting)"
check "TARGET below containerd's root: the evidence names both" \
        grep -qF "TARGET $NESTED_TARGET and containerd's root $OLD_ROOT" <<< "$(check_evidence containerd-source-nesting)"
nothing_changed "TARGET below containerd's root"
check "TARGET below containerd's root: $NESTED_TARGET not created" absent_inside "$NESTED_TARGET"
snapshot_state
ddr_json migrate --yes --json --include-containerd --containerd-root "$NEW_ROOT" "$OLD_ROOT"
check_eq "TARGET = containerd's root: exit 3" 3 "$DDR_RC"
check_eq "TARGET = containerd's root: containerd-source-nesting refused" refused \
        "$(check_status containerd-source-nesting)"
nothing_changed "TARGET = containerd's root"

# ---- TARGET is Docker's data-root already ----
# Nothing to do only when containerd's root is where the move would put it
# (its default next to /var/lib/docker is /var/lib/containerd); containerd
# is never moved alone.
snapshot_state
ddr_json migrate --yes --json --include-containerd "$HARNESS_DATAROOT"
check_eq "TARGET = the data-root, containerd where its default puts it: exit 0" 0 "$DDR_RC"
check_eq "... nothing to do" true "$(json_get .nothing_to_do)"
nothing_changed "TARGET = the data-root, nothing to do"
snapshot_state
ddr_json migrate --yes --json --include-containerd --containerd-root "$NEW_ROOT" "$HARNESS_DATAROOT"
check_eq "TARGET = the data-root, containerd elsewhere: exit 3" 3 "$DDR_RC"
check_eq "TARGET = the data-root, containerd elsewhere: containerd-in-place refused" refused \
        "$(check_status containerd-in-place)"
check "... the evidence names both roots" \
        grep -qF "containerd's root is $OLD_ROOT, not $NEW_ROOT" <<< "$(check_evidence containerd-in-place)"
nothing_changed "TARGET = the data-root, containerd elsewhere"

# ---- containers outside Docker: a shim of another namespace ----
IMAGE_REF=$(head -n 1 "$T/ctr-images.before")
OTHER_TASK=ddr-e2e-other
# ctr asks for 1024 CPU shares by default; the harness's cgroups have no
# cpu controller to set them in.
if inside ctr -n "$CTR_NS" run -d --cpu-shares 0 "$IMAGE_REF" "$OTHER_TASK" sh -c 'while :; do sleep 1; done' > "$T/ctr-run.log" 2>&1; then
        snapshot_state
        ddr_json migrate --yes --json --include-containerd "$TARGET"
        check_eq "a ctr task in namespace $CTR_NS: exit 3" 3 "$DDR_RC"
        check_eq "a ctr task in namespace $CTR_NS: containerd-other-clients refused" refused \
                "$(check_status containerd-other-clients)"
        check "... the evidence names the namespace" \
                grep -qF "namespace '$CTR_NS'" <<< "$(check_evidence containerd-other-clients)"
        nothing_changed "a ctr task in namespace $CTR_NS"
        inside ctr -n "$CTR_NS" task kill -s SIGKILL "$OTHER_TASK" >/dev/null 2>&1
        for _ in $(seq 50); do
                inside ctr -n "$CTR_NS" task delete "$OTHER_TASK" >/dev/null 2>&1 && break
                sleep 0.2
        done
        inside ctr -n "$CTR_NS" containers delete "$OTHER_TASK" >/dev/null 2>&1 ||
                e2e_die "cannot remove the ctr container $OTHER_TASK"
else
        sed 's/^/#   /' "$T/ctr-run.log"
        e2e_not_ok "ctr run in namespace $CTR_NS failed"
fi

# ---- the migration ----
# A running container's task directory and records are containerd's own to
# remove when Docker stops the container (measured: meta.db and
# io.containerd.runtime.v2.task/moby change then). With the container
# stopped beforehand only the tool could change the old tree. Its restart
# policy (always) starts it again with the daemon.
docker stop -t 5 "$LIVE_CONTAINER" >/dev/null || e2e_die "docker stop $LIVE_CONTAINER failed"
containerd_tree_settled || e2e_die "containerd's tree keeps changing with no container running"
manifest "$OLD_ROOT" "$T/containerd.before"
manifest "$HARNESS_DATAROOT" "$T/source.before"
ddr migrate --yes --include-containerd --add-mount-dependency "$TARGET"
check_eq "migrate --yes --include-containerd --add-mount-dependency exits 0" 0 "$DDR_RC"
check "docker answers after the migration" wait_docker 60
check_eq "DockerRootDir is the target" "$TARGET" "$(docker_info DockerRootDir)"
check_eq "same number of images" "$images_before" "$(docker_info Images)"
check_eq "same number of containers" "$containers_before" "$(docker_info Containers)"
check "the --restart always container runs again" wait_running "$LIVE_CONTAINER" 60
docker start -a "$APP_CONTAINER" > "$T/app.after" 2>&1
check_same_file "the app container reads its data as before" "$T/app.before" "$T/app.after"

check "containerd runs from $NEW_ROOT (its meta.db is open there)" containerd_runs_from "$NEW_ROOT"
check "containerd holds nothing open below $OLD_ROOT" containerd_holds_nothing_below "$OLD_ROOT"
ctr_images > "$T/ctr-images.after"
check_same_file "containerd lists its image from the new root" "$T/ctr-images.before" "$T/ctr-images.after"
ctr_content > "$T/ctr-content.after"
check_same_file "containerd lists the image's content from the new root" \
        "$T/ctr-content.before" "$T/ctr-content.after"

inside cat "$CONFIG" > "$T/config.toml.after"
check_eq "config.toml has one root line, naming the new root" "root = \"$NEW_ROOT\"" \
        "$(grep -E '^[[:space:]]*root[[:space:]]*=' "$T/config.toml.after")"
grep -vxF "root = \"$NEW_ROOT\"" "$T/config.toml.after" > "$T/config.toml.after-minus-root"
check_same_file "config.toml kept every other byte" "$T/config.toml.orig" "$T/config.toml.after-minus-root"
backup=
for f in $(inside find /etc/containerd -maxdepth 1 -type f -name 'config.toml.docker-dataroot-*.bak'); do
        [ "$(sha_inside "$f")" = "$(sha256sum < "$T/config.toml.orig" | awk '{ print $1 }')" ] && backup=$f
done
check "a byte-identical backup of config.toml lies next to it (${backup:-none})" test -n "$backup"
check_eq "config.toml's mode is kept" "$config_mode" "$(inside stat -c %a "$CONFIG")"
check "systemd loaded containerd.service's drop-in: RequiresMountsFor names $NEW_ROOT" \
        grep -qF "$NEW_ROOT" <<< "$(inside systemctl show -p RequiresMountsFor containerd.service)"
check "... and docker.service's names $TARGET" \
        grep -qF "$TARGET" <<< "$(inside systemctl show -p RequiresMountsFor docker.service)"

manifest "$OLD_ROOT" "$T/containerd.after"
check_same_file "the old containerd tree is unchanged" "$T/containerd.before" "$T/containerd.after"
ddr verify --content "$OLD_ROOT/io.containerd.content.v1.content" "$NEW_ROOT/io.containerd.content.v1.content"
check_eq "the copied content store is equal (verify --content)" 0 "$DDR_RC"
manifest "$HARNESS_DATAROOT" "$T/source.after"
stable_view stop "$T/source.before" > "$T/source.before.stable"
stable_view stop "$T/source.after" > "$T/source.after.stable"
check_same_file "the old Docker tree is unchanged" "$T/source.before.stable" "$T/source.after.stable"

# ---- rollback puts both back ----
ddr rollback --yes
check_eq "rollback --yes exits 0" 0 "$DDR_RC"
check "docker answers after the rollback" wait_docker 60
check_eq "DockerRootDir is the old one again" "$HARNESS_DATAROOT" "$(docker_info DockerRootDir)"
inside cat "$CONFIG" > "$T/config.toml.rolled-back"
check_same_file "rollback restores config.toml byte for byte" "$T/config.toml.orig" "$T/config.toml.rolled-back"
check "containerd runs from $OLD_ROOT again" containerd_runs_from "$OLD_ROOT"
check "containerd holds nothing open below $NEW_ROOT" containerd_holds_nothing_below "$NEW_ROOT"
check "rollback removed containerd.service's drop-in" \
        absent_inside /etc/systemd/system/containerd.service.d/50-docker-dataroot-mount.conf
check "systemd forgot it" bash -c "! grep -qF '$NEW_ROOT' <<< \"\$($HARNESS_IN $HARNESS_ID systemctl show -p RequiresMountsFor containerd.service)\""
check "rollback removed docker.service's drop-in" \
        absent_inside /etc/systemd/system/docker.service.d/50-docker-dataroot-mount.conf
ctr_images > "$T/ctr-images.rolled-back"
check_same_file "containerd lists its image on the old root" "$T/ctr-images.before" "$T/ctr-images.rolled-back"
check "the --restart always container runs after the rollback" wait_running "$LIVE_CONTAINER" 60
check "the copy of containerd's root is left in place" inside test -d "$NEW_ROOT/io.containerd.content.v1.content"

# ---- killed at the steps where containerd's part changes state ----
# After each SIGKILL (a) migrate again finishes the move, or (b) rollback
# --remove-target undoes it; either way both daemons run, config.toml is
# the original or names the new root, and the old containerd tree is as
# before. complete:stop: both daemons stopped, nothing copied;
# complete:copy: both trees copied, no config changed; complete:configure:
# both configs name the new roots, nothing started; enter:start and
# complete:start: between the restarts and before the confirmation.
inside rm -rf "$TARGET" "$NEW_ROOT"
sha_orig=$(sha256sum < "$T/config.toml.orig" | awk '{ print $1 }')
config_is_original_or_moved() {
        inside cat "$CONFIG" > "$T/config.toml.now"
        cmp -s "$T/config.toml.orig" "$T/config.toml.now" && return 0
        grep -vxF "root = \"$NEW_ROOT\"" "$T/config.toml.now" | cmp -s - "$T/config.toml.orig"
}
index=0
for point in complete:stop complete:copy complete:configure enter:start complete:start; do
        reset_docker_start_limit
        docker stop -t 5 "$LIVE_CONTAINER" >/dev/null 2>&1
        containerd_tree_settled || e2e_die "$point: containerd's tree keeps changing with no container running"
        manifest "$OLD_ROOT" "$T/containerd.before"
        ddr_env DOCKER_DATAROOT_TEST_CRASH_AT="$point" migrate --yes --include-containerd "$TARGET"
        check_eq "$point: the tool died there (SIGKILL, exit 137)" 137 "$DDR_RC"
        check "$point: config.toml is the original or the original plus the new root" config_is_original_or_moved
        manifest "$OLD_ROOT" "$T/containerd.now"
        check_same_file "$point: the old containerd tree is unchanged by the crash" \
                "$T/containerd.before" "$T/containerd.now"
        reset_docker_start_limit
        if [ $((index % 2)) = 0 ]; then
                ddr migrate --yes --include-containerd "$TARGET"
                check_eq "$point (a): migrate again exits 0" 0 "$DDR_RC"
                check "$point (a): it resumed" grep -q 'resuming the interrupted migration' <<< "$DDR_OUTPUT"
                check_eq "$point (a): DockerRootDir is the target" "$TARGET" "$(docker_info DockerRootDir)"
                check "$point (a): containerd runs from $NEW_ROOT" containerd_runs_from "$NEW_ROOT"
                ctr_images > "$T/ctr-images.now"
                check_same_file "$point (a): containerd lists its image" "$T/ctr-images.before" "$T/ctr-images.now"
                check_eq "$point (a): config.toml has the new root" "root = \"$NEW_ROOT\"" \
                        "$(inside grep -E '^[[:space:]]*root[[:space:]]*=' "$CONFIG")"
                check "$point (a): the --restart always container runs" wait_running "$LIVE_CONTAINER" 60
                reset_docker_start_limit
                ddr rollback --yes
                check_eq "$point (a): rollback after it exits 0" 0 "$DDR_RC"
                inside rm -rf "$TARGET" "$NEW_ROOT"
        else
                ddr rollback --yes --remove-target
                check_eq "$point (b): rollback --remove-target exits 0" 0 "$DDR_RC"
                check "$point (b): both copies are gone" absent_inside "$NEW_ROOT"
                check "$point (b): ... Docker's too" absent_inside "$TARGET"
        fi
        check "$point: docker answers" wait_docker 60
        check_eq "$point: DockerRootDir is the old one" "$HARNESS_DATAROOT" "$(docker_info DockerRootDir)"
        inside cat "$CONFIG" > "$T/config.toml.now"
        check_same_file "$point: config.toml is byte for byte the original" "$T/config.toml.orig" "$T/config.toml.now"
        check "$point: containerd runs from $OLD_ROOT" containerd_runs_from "$OLD_ROOT"
        ctr_images > "$T/ctr-images.now"
        check_same_file "$point: containerd lists its image on the old root" "$T/ctr-images.before" "$T/ctr-images.now"
        index=$((index + 1))
done
[ "$(sha256sum < "$T/config.toml.now" | awk '{ print $1 }')" = "$sha_orig" ] || e2e_not_ok "config.toml differs at the end"

# ---- killed right after config.toml named the new root ----
# Before daemon.json changes, a reboot starts containerd from the new root
# and Docker on the old one; containerd may also be started alone. What
# containerd writes there (here: an image tag) exists nowhere else. Alone,
# with Docker stopped: migrate again finishes the move and keeps it. Both
# started: the daemons' data diverged, so migrate again and rollback
# --remove-target refuse (exit 3, nothing changed) and rollback leaves the
# new root, with the tag, in place.
crash_after_config_toml() {
        reset_docker_start_limit
        docker stop -t 5 "$LIVE_CONTAINER" >/dev/null 2>&1
        containerd_tree_settled || e2e_die "$1: containerd's tree keeps changing with no container running"
        ddr_env DOCKER_DATAROOT_TEST_CRASH_AT=containerd-config:configure migrate --yes --include-containerd "$TARGET"
        check_eq "$1: the tool died right after writing config.toml (SIGKILL, exit 137)" 137 "$DDR_RC"
        check_eq "$1: config.toml names the new root" "root = \"$NEW_ROOT\"" \
                "$(inside grep -E '^[[:space:]]*root[[:space:]]*=' "$CONFIG")"
        inside cat /etc/docker/daemon.json > "$T/daemon.json.now"
        check_same_file "$1: daemon.json is not changed yet" "$T/daemon.json.snap" "$T/daemon.json.now"
}
ctr_lists() { ctr_images | grep -qxF "$1"; }
meta_db_holds() { inside grep -qaF "$1" "$NEW_ROOT/io.containerd.metadata.v1.bolt/meta.db"; }

TAG_ALONE=${IMAGE_REF%:*}:after-crash-alone
crash_after_config_toml "containerd alone"
inside systemctl start containerd.service || e2e_die "containerd does not start on its own"
check "containerd alone: it runs from $NEW_ROOT" containerd_runs_from "$NEW_ROOT"
inside ctr -n "$CTR_NS" images tag "$IMAGE_REF" "$TAG_ALONE" >/dev/null || e2e_die "ctr images tag failed"
check "containerd alone: it lists the tag made on the new root" ctr_lists "$TAG_ALONE"
reset_docker_start_limit
ddr migrate --yes --include-containerd "$TARGET"
check_eq "containerd alone: migrate again exits 0" 0 "$DDR_RC"
check "containerd alone: it resumed" grep -q 'resuming the interrupted migration' <<< "$DDR_OUTPUT"
check_eq "containerd alone: DockerRootDir is the target" "$TARGET" "$(docker_info DockerRootDir)"
check "containerd alone: containerd runs from $NEW_ROOT" containerd_runs_from "$NEW_ROOT"
check "containerd alone: the tag made while it ran alone is still listed" ctr_lists "$TAG_ALONE"
check "containerd alone: ... and the imported image" ctr_lists "$IMAGE_REF"
check "containerd alone: the --restart always container runs" wait_running "$LIVE_CONTAINER" 60
reset_docker_start_limit
ddr rollback --yes
check_eq "containerd alone: rollback after it exits 0" 0 "$DDR_RC"
check "containerd alone: containerd runs from $OLD_ROOT again" containerd_runs_from "$OLD_ROOT"
inside rm -rf "$TARGET" "$NEW_ROOT"

TAG_REBOOT=${IMAGE_REF%:*}:after-crash-reboot
crash_after_config_toml "reboot"
inside systemctl start containerd.service docker.socket docker.service || e2e_die "the daemons do not start"
wait_docker 60 || e2e_die "docker does not answer after the 'reboot'"
check_eq "reboot: Docker runs on its old data-root" "$HARNESS_DATAROOT" "$(docker_info DockerRootDir)"
check "reboot: containerd runs from $NEW_ROOT" containerd_runs_from "$NEW_ROOT"
inside ctr -n "$CTR_NS" images tag "$IMAGE_REF" "$TAG_REBOOT" >/dev/null || e2e_die "ctr images tag failed"
check "reboot: containerd lists the tag made on the new root" ctr_lists "$TAG_REBOOT"
reboot_identities=$(dockerd_identity; containerd_identity)
inside cat "$CONFIG" > "$T/config.toml.reboot"
reset_docker_start_limit
ddr_json migrate --yes --json --include-containerd "$TARGET"
check_eq "reboot: migrate again exits 3" 3 "$DDR_RC"
check_eq "reboot: containerd-root-consistent refused" refused "$(check_status containerd-root-consistent)"
check "reboot: the evidence says the daemons' data diverged" \
        grep -q "diverged" <<< "$(check_evidence containerd-root-consistent)"
check "reboot: the remedy is a rollback without --remove-target" \
        grep -q "rollback' without --remove-target" <<< "$(json_get '.checks[] | select(.id == "containerd-root-consistent") | .remedy')"
ddr rollback --yes --remove-target
check_eq "reboot: rollback --remove-target exits 3" 3 "$DDR_RC"
check "reboot: ... it says containerd ran from the new root" grep -qF "containerd ran from $NEW_ROOT" <<< "$DDR_OUTPUT"
check_eq "reboot: neither refusal restarted a daemon" "$reboot_identities" "$(dockerd_identity; containerd_identity)"
inside cat "$CONFIG" > "$T/config.toml.now"
check_same_file "reboot: neither refusal changed config.toml" "$T/config.toml.reboot" "$T/config.toml.now"
check "reboot: containerd still lists the tag" ctr_lists "$TAG_REBOOT"
check "reboot: Docker's copy is still there" inside test -d "$TARGET"
reset_docker_start_limit
ddr rollback --yes
check_eq "reboot: rollback exits 0" 0 "$DDR_RC"
check_eq "reboot: DockerRootDir is the old one" "$HARNESS_DATAROOT" "$(docker_info DockerRootDir)"
check "reboot: containerd runs from $OLD_ROOT again" containerd_runs_from "$OLD_ROOT"
inside cat "$CONFIG" > "$T/config.toml.now"
check_same_file "reboot: config.toml is byte for byte the original" "$T/config.toml.orig" "$T/config.toml.now"
check "reboot: the tag made on the new root is still in its metadata database" meta_db_holds "$TAG_REBOOT"
ddr rollback --yes --remove-target
check_eq "reboot: rollback --remove-target after the rollback exits 3 too" 3 "$DDR_RC"
check "reboot: ... and the tag is still there" meta_db_holds "$TAG_REBOOT"
check "reboot: the --restart always container runs" wait_running "$LIVE_CONTAINER" 60
inside rm -rf "$TARGET" "$NEW_ROOT"

e2e_finish
