#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The happy path against a real systemd and dockerd: migrate
# /var/lib/docker (ext4) to /mnt/target-fs/docker (xfs unless
# HARNESS_TARGET_FS says otherwise) and check that Docker runs on the copy
# with every image, container, volume byte and piece of metadata intact, that
# daemon.json kept its keys and got a backup, and that the source is
# untouched. A --dry-run first must change nothing.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init migrate
e2e_up
T=$E2E_TMP

e2e_log "creating the data to migrate"
create_test_data
live_container_ids

# ---- the state before ----
inside cat /etc/docker/daemon.json > "$T/daemon.json.orig" || e2e_die "cannot read daemon.json"
docker start -a "$APP_CONTAINER" > "$T/app.before" 2>&1 || e2e_die "app container run failed"
docker run --rm "$TEST_IMAGE" > "$T/image.before" 2>&1 || e2e_die "image run failed"
images_before=$(docker_info Images)
containers_before=$(docker_info Containers)
e2e_log "before: $images_before images, $containers_before containers"
manifest "$HARNESS_DATAROOT" "$T/source.before"
grep -qP '\tc\t0000\t0:0\t0\t.*\t0:0$' "$T/source.before" ||
        e2e_die "the source holds no overlay whiteout (char 0:0): the test data is not what it should be"
grep -q 'trusted.overlay.opaque=' "$T/source.before" ||
        e2e_die "the source holds no opaque directory"
grep -q 'security.capability=' "$T/source.before" || e2e_die "the source holds no file capability"
awk -F '\t' '$7 ~ /^[0-9]+:/ { found = 1 } END { exit !found }' "$T/source.before" ||
        e2e_die "the source holds no hard links"

# ---- --dry-run changes nothing ----
identity_before=$(dockerd_identity)
manifest "$HARNESS_TARGET_MNT" "$T/target-fs.before"
ddr migrate --dry-run --yes "$TARGET"
check_eq "migrate --dry-run exits 0" 0 "$DDR_RC"
inside cat /etc/docker/daemon.json > "$T/daemon.json.dry"
check_same_file "--dry-run leaves daemon.json byte for byte" "$T/daemon.json.orig" "$T/daemon.json.dry"
check "--dry-run leaves docker.service active" inside systemctl is-active --quiet docker.service
check_eq "--dry-run does not restart dockerd" "$identity_before" "$(dockerd_identity)"
check "--dry-run does not create $TARGET" absent_inside "$TARGET"
check_eq "--dry-run leaves DockerRootDir" "$HARNESS_DATAROOT" "$(docker_info DockerRootDir)"
manifest "$HARNESS_TARGET_MNT" "$T/target-fs.dry"
check_same_file "--dry-run leaves the target filesystem untouched (mtimes too)" \
        "$T/target-fs.before" "$T/target-fs.dry"
manifest "$HARNESS_DATAROOT" "$T/source.dry"
check_same_file "--dry-run leaves the source tree untouched" "$T/source.before" "$T/source.dry"

# ---- the migration ----
ddr migrate --yes "$TARGET"
check_eq "migrate --yes exits 0" 0 "$DDR_RC"
check "docker answers after the migration" wait_docker 60

check_eq "DockerRootDir is the target" "$TARGET" "$(docker_info DockerRootDir)"
check_eq "storage driver is still overlay2" overlay2 "$(docker_info Driver)"
check_eq "same number of images" "$images_before" "$(docker_info Images)"
check_eq "same number of containers" "$containers_before" "$(docker_info Containers)"
check "the --restart always container runs again" wait_running "$LIVE_CONTAINER" 60

# ---- the source is untouched, the target is a faithful copy ----
manifest "$HARNESS_DATAROOT" "$T/source.after"
stable_view stop "$T/source.before" > "$T/source.before.stable"
stable_view stop "$T/source.after" > "$T/source.after.stable"
check_same_file "the source tree is unchanged" "$T/source.before.stable" "$T/source.after.stable"

# dockerd runs on the target now and rewrites a few of its own files there;
# compare before any container run changes more.
if inside test -d "$TARGET"; then
        manifest "$TARGET" "$T/target.after"
        stable_view start "$T/source.after" > "$T/source.after.start"
        stable_view start "$T/target.after" > "$T/target.after.start"
        check_same_file "the target is a faithful copy of the source (all but dockerd's own state files)" \
                "$T/source.after.start" "$T/target.after.start"
else
        e2e_not_ok "the target is a faithful copy of the source: $TARGET does not exist"
fi

# The one intended change: volume mounts in the containers' config.v2.json
# name the new root, so they still start once the old tree is removed.
app_id=$(docker inspect -f '{{.Id}}' "$APP_CONTAINER")
inside cat "$HARNESS_DATAROOT/containers/$app_id/config.v2.json" |
        sed "s|\"Source\":\"$HARNESS_DATAROOT/volumes/|\"Source\":\"$TARGET/volumes/|g" > "$T/app-config.expected"
inside cat "$TARGET/containers/$app_id/config.v2.json" > "$T/app-config.moved"
check_same_file "the app container's config.v2.json differs only in its volume mount Source" \
        "$T/app-config.expected" "$T/app-config.moved"
check "the app container's volume mount names the target" \
        grep -qF "\"Source\":\"$TARGET/volumes/$TEST_VOLUME/_data\"" "$T/app-config.moved"

docker start -a "$APP_CONTAINER" > "$T/app.after" 2>&1
check_same_file "the app container starts and reads its volume and upper layer as before" \
        "$T/app.before" "$T/app.after"
docker run --rm "$TEST_IMAGE" > "$T/image.after" 2>&1
check_same_file "the image runs as before (whiteouts, hard links)" "$T/image.before" "$T/image.after"

new_volume=$TARGET/volumes/$TEST_VOLUME/_data
check_eq "volume path moved" "$new_volume" "$(docker volume inspect -f '{{.Mountpoint}}' "$TEST_VOLUME")"
cap=$(inside getcap "$new_volume/ping")
check "capability kept on the copied volume file ($cap)" grep -q 'cap_net_raw[=+]ep' <<< "$cap"
new_upper=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' "$APP_CONTAINER")
check "the container's upper layer moved ($new_upper)" test "${new_upper#"$TARGET"/}" != "$new_upper"
cap=$(getcap "$HARNESS_ROOT$new_upper/upper-cap.bin")
check "capability kept in the container's upper layer ($cap)" grep -q 'cap_net_raw[=+]ep' <<< "$cap"
check_eq "user xattr kept" kept \
        "$(inside getfattr --only-values -n user.ddr-test "$new_volume/records/2024/0001.txt" 2>/dev/null)"
check "ACL kept" grep -q '^user:4321:r--' \
        <<< "$(inside getfacl -c "$new_volume/records/2024/0001.txt" 2>/dev/null)"
allocated_kib=$(inside du -k "$new_volume/records/sparse.img" | awk '{ print $1 }')
check "sparse file stays sparse (${allocated_kib} KiB allocated of ~62 MiB)" \
        test "${allocated_kib:-999999}" -lt 16384

# ---- daemon.json ----
inside cat /etc/docker/daemon.json > "$T/daemon.json.after"
check_eq "daemon.json names the target as data-root" "$TARGET" \
        "$(jq -r '."data-root"' "$T/daemon.json.after")"
check_eq "daemon.json kept every other key and value" \
        "$(jq -S . "$T/daemon.json.orig")" "$(jq -S 'del(."data-root")' "$T/daemon.json.after")"
orig_sha=$(sha256sum < "$T/daemon.json.orig" | awk '{ print $1 }')
backup=
for f in $(inside find /etc/docker -maxdepth 1 -type f -name 'daemon.json?*'); do
        [ "$(sha_inside "$f")" = "$orig_sha" ] && backup=$f
done
check "a byte-identical backup of daemon.json lies next to it (${backup:-none})" test -n "$backup"

# The tool's own verify, on the parts dockerd does not touch once running.
ddr verify --content "$HARNESS_DATAROOT/volumes/$TEST_VOLUME" "$TARGET/volumes/$TEST_VOLUME"
check_eq "docker-dataroot verify --content passes on the volume" 0 "$DDR_RC"
layer_dirs=$(docker image inspect -f '{{.GraphDriver.Data.UpperDir}}:{{.GraphDriver.Data.LowerDir}}' \
        "$TEST_IMAGE" | tr ':' '\n' | sed -n 's|/diff$||p')
layers_ok=1
for layer in $layer_dirs; do
        ddr verify "$HARNESS_DATAROOT/overlay2/${layer##*/}/diff" "$layer/diff"
        [ "$DDR_RC" = 0 ] || layers_ok=0
done
check "docker-dataroot verify passes on every image layer" test "$layers_ok" = 1 -a -n "$layer_dirs"

# Running it again: the target already is the data-root, nothing to do.
identity_before=$(dockerd_identity)
ddr migrate --yes "$TARGET"
check_eq "a second migrate to the same target exits 0 (nothing to do)" 0 "$DDR_RC"
check_eq "... without restarting dockerd" "$identity_before" "$(dockerd_identity)"

e2e_finish
