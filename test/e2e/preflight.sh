#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Every preflight check against the real thing: each condition is made for
# real inside the harness (a tmpfs or read-only target, mount options,
# drop-ins read back by systemd, /etc/default/docker, broken daemon.json
# files, a snap unit, live-restore reloaded into dockerd, a running
# container, /etc/fstab, a rootless Docker's user unit and data), then
# `migrate --dry-run --json` (and, for a
# refusal, `migrate --yes --json` too) must report the check's status with
# the right exit code, the document must match docs/plan-json.md, and
# nothing may change: dockerd not even restarted, daemon.json byte for byte,
# the target filesystem untouched. Two real migrations end the two
# instances: through a symlinked daemon.json (xfs), and from a daemon.json
# with the obsolete "graph" key to btrfs.
#
# xfs with ftype=0 (no d_type, which overlay2 needs, so
# target-overlay-support must refuse it) cannot be made here: mkfs.xfs makes
# ftype=0 only as a V4 filesystem (-m crc=0), which this kernel no longer
# mounts. The third instance makes the same condition for real with an ext4
# formatted without its filetype feature, whose readdir gives no d_type.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init preflight
T=$E2E_TMP
DOC=$DDR_SOURCE_ROOT/docs/plan-json.md

# ---- what docs/plan-json.md promises ----
[ -r "$DOC" ] || e2e_die "cannot read $DOC"
DOC_KEYS=$(grep -oP '^\| `\K[a-z_]+(?=(\[\])?` \|)' "$DOC" | jq -R . | jq -sc .)
# the check ids: the first column of the table after "Check ids"
DOC_IDS=$(sed -n '/^Check ids/,$p' "$DOC" | grep '^| `' | cut -d'|' -f2 | grep -o '`[a-z-]*`' |
        tr -d '`' | jq -R . | jq -sc .)
[ "$(jq length <<< "$DOC_KEYS")" -ge 10 ] || e2e_die "found no key table in $DOC"
[ "$(jq length <<< "$DOC_IDS")" -ge 10 ] || e2e_die "found no check id list in $DOC"

# Every way the last ddr_json document departs from docs/plan-json.md, one
# a line; nothing when it conforms.
PLAN_PROBLEMS='
def want(k; t): select((.[k] | type) != t) | "\(k) is \(.[k] | type), not \(t)";
def path_refused: [.checks[]? | select(.status == "refused" and .id == "target-absolute")] | length > 0;
if type != "object" then "the document is \(type), not an object" else
        want("source"; "string"), want("target"; "string"), want("config"; "string"),
        (select(has("backup")) | want("backup"; "string")),
        want("nothing_to_do"; "boolean"), want("refused"; "boolean"),
        want("source_size"; "object"),
        (.source_size | objects | want("entries"; "number"), want("inodes"; "number"),
                want("apparent_bytes"; "number"), want("allocated_bytes"; "number")),
        (select(has("target_filesystem")) | want("target_filesystem"; "object")),
        (.target_filesystem | objects | want("type"; "string"), want("mountpoint"; "string"),
                want("source"; "string"), want("free_bytes"; "number")),
        (select(path_refused and has("target_filesystem")) |
                "target_filesystem is present although the target is not an absolute path"),
        want("checks"; "array"),
        (.checks | arrays | .[] | . as $c |
                (select((.id | type) != "string") | "a check has no string id: \($c | tojson)"),
                (select(.status | IN("ok", "warning", "refused") | not) |
                        "check \($c.id): status \(.status | tojson)"),
                (select((.evidence | type) != "string" or .evidence == "") | "check \($c.id): no evidence"),
                (select(.status != "ok" and ((.remedy | type) != "string" or .remedy == "")) |
                        "check \($c.id) (\(.status)) has no remedy"),
                (select(.status == "ok" and has("remedy")) | "check \($c.id) is ok but has a remedy")),
        (select(.refused != ([.checks[]?.status] | index("refused") != null)) |
                "refused is \(.refused) but the checks say otherwise"),
        (keys_unsorted - $keys | .[] | "key \(.) is not documented"),
        (select(has("result")) | want("result"; "object")),
        (.result | objects |
                (select(.outcome | IN("done", "rolled-back", "rollback-failed") | not) |
                        "result.outcome \(.outcome | tojson) is not documented"),
                want("exit_code"; "number"), want("copied_bytes"; "number"),
                want("verified_entries"; "number"),
                (select(.outcome != "done") | want("failed_stage"; "string"), want("message"; "string")),
                (select(.outcome == "rollback-failed") | want("rollback_message"; "string")))
end'

# valid_plan WHAT [dry-run|ran]: the last ddr_json document is one JSON
# object on stdout that conforms to docs/plan-json.md; "result" only when a
# migration ran. The check ids seen are collected for one check at the end:
# each must be listed in docs/plan-json.md.
valid_plan() {
        local what=$1 ran=${2:-dry-run} problems
        check_eq "$what: stdout is exactly one JSON object" 1 \
                "$(jq -s 'map(select(type == "object")) | length' "$DDR_JSON" 2>/dev/null)"
        problems=$(jq -r --argjson keys "$DOC_KEYS" "$PLAN_PROBLEMS" "$DDR_JSON" 2>&1)
        jq -r '.checks[]?.id' "$DDR_JSON" >> "$T/seen-ids" 2>/dev/null
        if [ -z "$problems" ]; then
                e2e_ok "$what: the document matches docs/plan-json.md"
        else
                e2e_not_ok "$what: the document matches docs/plan-json.md"
                echo "$problems" | sed 's/^/#   /'
        fi
        if [ "$ran" = ran ]; then
                check_eq "$what: result.outcome" "done" "$(json_get .result.outcome)"
        else
                check_eq "$what: no result without a migration" false "$(json_get 'has("result")')"
        fi
}

# expect WHAT CHECK_ID STATUS EXIT [TARGET]: migrate --dry-run --json must
# exit EXIT with CHECK_ID at STATUS; a refusal (exit 3) must hold for
# migrate --yes --json too (unless DRY_ONLY=1). Then nothing may have
# changed. WATCH names the filesystem whose tree must stay as it was
# (default: the harness target).
expect() {
        local what=$1 id=$2 status=$3 rc=$4 target=${5:-$TARGET} mode
        local watch=${WATCH:-$HARNESS_TARGET_MNT}
        inside cat /etc/docker/daemon.json > "$T/case.daemon.json" 2>/dev/null
        manifest "$watch" "$T/case.target.before"
        for mode in --dry-run --yes; do
                [ "$mode" = --yes ] && { [ "$rc" != 3 ] || [ "${DRY_ONLY:-0}" = 1 ]; } && continue
                ddr_json migrate "$mode" --json "$target"
                check_eq "$what ($mode): exit $rc" "$rc" "$DDR_RC"
                check_eq "$what ($mode): $id is $status" "$status" "$(check_status "$id")"
                valid_plan "$what ($mode)"
        done
        check "$what: docker still answers" docker_answers
        check_eq "$what: dockerd not restarted" "$identity" "$(dockerd_identity)"
        check_eq "$what: DockerRootDir unchanged" "$HARNESS_DATAROOT" "$(docker_info DockerRootDir)"
        inside cat /etc/docker/daemon.json > "$T/case.daemon.json.now" 2>/dev/null
        check_same_file "$what: daemon.json byte for byte" "$T/case.daemon.json" "$T/case.daemon.json.now"
        manifest "$watch" "$T/case.target.now"
        check_same_file "$what: target filesystem untouched" "$T/case.target.before" "$T/case.target.now"
        check "$what: $target not created" absent_inside "$target"
}

write_inside() { inside sh -c 'cat > "$1"' sh "$1"; }

daemon_reload() { inside systemctl daemon-reload || e2e_die "systemctl daemon-reload failed"; }

# ================= instance 1: xfs target =================
e2e_up
inside cat /etc/docker/daemon.json > "$T/daemon.json.orig" || e2e_die "cannot read daemon.json"
inside cat /etc/fstab > "$T/fstab.orig" || e2e_die "cannot read /etc/fstab"
default_docker_existed=0
if inside test -e /etc/default/docker; then
        default_docker_existed=1
        inside cat /etc/default/docker > "$T/default-docker.orig" || e2e_die "cannot read /etc/default/docker"
else
        : > "$T/default-docker.orig"
fi
identity=$(dockerd_identity)
e2e_log "dockerd: $identity"

# ---- the plain plan: everything ok but the fstab warning ----
expect "plain plan" target-boot-mount warning 0
check_eq "plain plan: refused is false" false "$(json_get .refused)"
check_eq "plain plan: nothing_to_do is false" false "$(json_get .nothing_to_do)"
check_eq "plain plan: source" "$HARNESS_DATAROOT" "$(json_get .source)"
check_eq "plain plan: target" "$TARGET" "$(json_get .target)"
check_eq "plain plan: config" /etc/docker/daemon.json "$(json_get .config)"
check "plain plan: backup lies next to daemon.json ($(json_get .backup))" \
        grep -qE '^/etc/docker/daemon\.json\.docker-dataroot-[0-9]{8}T[0-9]{6}Z\.bak$' <<< "$(json_get .backup)"
check_eq "plain plan: target_filesystem.type" xfs "$(json_get .target_filesystem.type)"
check_eq "plain plan: target_filesystem.mountpoint" "$HARNESS_TARGET_MNT" \
        "$(json_get .target_filesystem.mountpoint)"
check_eq "plain plan: the only check that is not ok is target-boot-mount" target-boot-mount \
        "$(json_get '[.checks[] | select(.status != "ok") | .id] | join(",")')"
check "plain plan: source_size counts entries" test "$(json_get .source_size.entries)" -gt 0

# ---- target-boot-mount: ok once /etc/fstab lists the filesystem ----
inside sh -c "echo 'LABEL=ddr-target $HARNESS_TARGET_MNT xfs defaults 0 2' >> /etc/fstab" ||
        e2e_die "cannot append to /etc/fstab"
expect "target in /etc/fstab" target-boot-mount ok 0
write_inside /etc/fstab < "$T/fstab.orig"

# ---- target filesystem type, writability, mount options ----
inside mkdir /mnt/tmpfs-target && inside mount -t tmpfs -o size=512m ddr-e2e-tmpfs /mnt/tmpfs-target ||
        e2e_die "cannot mount a tmpfs at /mnt/tmpfs-target"
WATCH=/mnt/tmpfs-target expect "tmpfs target" target-fstype refused 3 /mnt/tmpfs-target/docker
check "tmpfs target: the evidence names tmpfs" grep -q tmpfs <<< "$(check_evidence target-fstype)"
# Without --json: the same exit code, the refusal on stderr.
ddr migrate --yes /mnt/tmpfs-target/docker
check_eq "tmpfs target without --json: exit 3" 3 "$DDR_RC"
check "tmpfs target without --json: the refusal names the check" \
        grep -q '^Refused (target-fstype)' <<< "$DDR_OUTPUT"
check "tmpfs target without --json: nothing created" absent_inside /mnt/tmpfs-target/docker
inside umount /mnt/tmpfs-target && inside rmdir /mnt/tmpfs-target || e2e_die "cannot remove the tmpfs"

inside mount -o remount,ro "$HARNESS_TARGET_MNT" || e2e_die "cannot remount $HARNESS_TARGET_MNT read-only"
expect "read-only target" target-writable refused 3
inside mount -o remount,rw "$HARNESS_TARGET_MNT" || e2e_die "cannot remount $HARNESS_TARGET_MNT read-write"

for option in nodev nosuid noexec; do
        inside mount -o "remount,$option" "$HARNESS_TARGET_MNT" || e2e_die "cannot remount with $option"
        expect "target mounted $option" "target-$option" warning 0
        check_eq "target mounted $option: refused is false" false "$(json_get .refused)"
        inside mount -o "remount,${option#no}" "$HARNESS_TARGET_MNT" || e2e_die "cannot undo $option"
done
no_costly_options() {
        ! inside findmnt -no OPTIONS "$HARNESS_TARGET_MNT" | grep -qE '(^|,)no(dev|suid|exec)(,|$)'
}
check "the target is mounted without nodev, nosuid, noexec again" no_costly_options

# ---- flags that set the data-root behind daemon.json's back ----
inside mkdir -p /etc/systemd/system/docker.service.d || e2e_die "cannot make the drop-in directory"
DROPIN=/etc/systemd/system/docker.service.d/10-data-root.conf
for flag in "--data-root /var/lib/docker" "-g /var/lib/docker" "--graph=/var/lib/docker"; do
        printf '[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// %s\n' "$flag" | write_inside "$DROPIN"
        daemon_reload
        expect "drop-in with $flag" data-root-flag refused 3
        check "drop-in with $flag: the evidence names the flag" \
                grep -qF -- "'$flag'" <<< "$(check_evidence data-root-flag)"
        inside rm "$DROPIN"
        daemon_reload
done

# Debian ships /etc/default/docker with commented examples: a commented
# flag is no flag; an active DOCKER_OPTS line is.
{ cat "$T/default-docker.orig"; echo '#DOCKER_OPTS="--data-root /srv/old-idea"'; } |
        write_inside /etc/default/docker
expect "a commented flag in /etc/default/docker" data-root-flag ok 0
{ cat "$T/default-docker.orig"; echo 'DOCKER_OPTS="--data-root /var/lib/docker"'; } |
        write_inside /etc/default/docker
line=$(($(wc -l < "$T/default-docker.orig") + 1))
expect "DOCKER_OPTS in /etc/default/docker" data-root-flag refused 3
check "DOCKER_OPTS in /etc/default/docker: the evidence names the file and line $line" \
        grep -q "/etc/default/docker line $line\\b" <<< "$(check_evidence data-root-flag)"
if [ "$default_docker_existed" = 1 ]; then
        write_inside /etc/default/docker < "$T/default-docker.orig"
else
        inside rm /etc/default/docker
fi

inside cp -p /etc/docker/daemon.json /etc/docker/other.json || e2e_die "cannot copy daemon.json"
printf '[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// --config-file /etc/docker/other.json\n' |
        write_inside "$DROPIN"
daemon_reload
expect "drop-in with --config-file" config-file-flag warning 0
check_eq "drop-in with --config-file: the plan's config" /etc/docker/other.json "$(json_get .config)"
check "drop-in with --config-file: the backup lies next to other.json" \
        grep -q '^/etc/docker/other\.json\.docker-dataroot-' <<< "$(json_get .backup)"
inside rm "$DROPIN" /etc/docker/other.json
daemon_reload

# ---- daemon.json defects: each refused with its position ----
# defect WHAT POSITION: daemon.json with the bytes of $T/defect.json must
# be refused by config-valid with "line L column C" in the evidence.
# dockerd read its file at start and runs on: only the tool sees the defect.
# (Not fed through a pipe: a function in a pipeline runs in a subshell and
# its checks would not count.)
defect() {
        local what=$1 position=$2
        write_inside /etc/docker/daemon.json < "$T/defect.json"
        expect "daemon.json with $what" config-valid refused 3
        check "daemon.json with $what: the evidence names $position" \
                grep -qF "$position" <<< "$(check_evidence config-valid)"
}
printf '\xef\xbb\xbf{\n  "iptables": false\n}\n' > "$T/defect.json"
defect "a UTF-8 BOM" "line 1 column 1"
printf '{\n  // the firewall is elsewhere\n  "iptables": false\n}\n' > "$T/defect.json"
defect "a // comment" "line 2 column 3"
printf '{\n  "iptables": false /* elsewhere */\n}\n' > "$T/defect.json"
defect "a /* */ comment" "line 2 column 21"
printf '{\n  "iptables": false,\n  "iptables": true\n}\n' > "$T/defect.json"
defect "a duplicate key" "line 3 column 3"
printf '[\n  { "iptables": false }\n]\n' > "$T/defect.json"
defect "an array at the top level" "line 1 column 1"
printf '{\n  "iptables": false,\n}\n' > "$T/defect.json"
defect "a trailing comma" "line 2 column 20"

# An empty or blank file loads as an empty object (see daemon_config.h), so
# it is not refused, but warned about: dockerd 20.10 itself refuses it at its
# next start with "EOF" (the migration replaces it with a valid file).
printf '' | write_inside /etc/docker/daemon.json
expect "an empty daemon.json" config-valid warning 0
printf ' \n\t\n' | write_inside /etc/docker/daemon.json
expect "a blank daemon.json" config-valid warning 0

printf '{\n  "iptables": false,\n  "data-root": 5\n}\n' | write_inside /etc/docker/daemon.json
expect "\"data-root\": 5" data-root-consistent refused 3
check_eq "\"data-root\": 5: config-valid is ok (valid JSON)" ok "$(check_status config-valid)"

jq '. + { "features": { "containerd-snapshotter": true } }' "$T/daemon.json.orig" |
        write_inside /etc/docker/daemon.json
expect "containerd snapshotter in daemon.json" containerd-snapshotter refused 3
write_inside /etc/docker/daemon.json < "$T/daemon.json.orig"

# ---- containers, live-restore ----
build_test_image
docker run -d --name "$LIVE_CONTAINER" --restart always "$TEST_IMAGE" \
        sh -c 'trap "exit 0" TERM; while :; do sleep 1; done' >/dev/null || e2e_die "docker run failed"
wait_running "$LIVE_CONTAINER" 30 || e2e_die "$LIVE_CONTAINER does not run"
expect "a running container" running-containers warning 0
check "a running container: the evidence counts it" \
        grep -q '^1 container(s) running' <<< "$(check_evidence running-containers)"

# live-restore for real: dockerd takes it on a reload (SIGHUP, same process).
jq '. + { "live-restore": true }' "$T/daemon.json.orig" | write_inside /etc/docker/daemon.json
inside systemctl reload docker.service || e2e_die "systemctl reload docker failed"
for _ in $(seq 1 20); do
        [ "$(docker_info LiveRestoreEnabled)" = true ] && break
        sleep 0.5
done
check_eq "dockerd has live-restore on after the reload" true "$(docker_info LiveRestoreEnabled)"
expect "live-restore with a running container" live-restore refused 3
docker stop -t 5 "$LIVE_CONTAINER" >/dev/null || e2e_die "docker stop failed"
expect "live-restore, no container running" installation ok 0
check_eq "live-restore, no container running: no live-restore refusal" absent "$(check_status live-restore)"

# Taking the key out of daemon.json and reloading does not switch
# live-restore off: dockerd keeps what it has until told "false" or
# restarted. The engine is what keeps the containers running through the
# stop, so its LiveRestoreEnabled is what counts. Dry run only: a tool that
# misses this would stop Docker and find the container's overlay still
# mounted.
docker start "$LIVE_CONTAINER" >/dev/null || e2e_die "docker start failed"
write_inside /etc/docker/daemon.json < "$T/daemon.json.orig"
inside systemctl reload docker.service || e2e_die "systemctl reload docker failed"
sleep 1
check_eq "dockerd keeps live-restore after the key is removed and reloaded" true \
        "$(docker_info LiveRestoreEnabled)"
DRY_ONLY=1 expect "live-restore on in the engine only, a container running" live-restore refused 3

jq '. + { "live-restore": false }' "$T/daemon.json.orig" | write_inside /etc/docker/daemon.json
inside systemctl reload docker.service || e2e_die "systemctl reload docker failed"
for _ in $(seq 1 20); do
        [ "$(docker_info LiveRestoreEnabled)" = false ] && break
        sleep 0.5
done
check_eq "dockerd has live-restore off again" false "$(docker_info LiveRestoreEnabled)"
write_inside /etc/docker/daemon.json < "$T/daemon.json.orig"

# ---- Docker as a snap ----
printf '[Unit]\nDescription=fake snap dockerd (docker-dataroot e2e)\n[Service]\nType=simple\nExecStart=/bin/sleep infinity\n' |
        write_inside /etc/systemd/system/snap.docker.dockerd.service
daemon_reload
inside systemctl start snap.docker.dockerd.service || e2e_die "cannot start the fake snap unit"
expect "snap.docker.dockerd.service active" docker-snap refused 3
inside systemctl stop snap.docker.dockerd.service
inside rm /etc/systemd/system/snap.docker.dockerd.service
daemon_reload

# ---- rootless Docker: found by its user unit or its data ----
ROOTLESS_HOME=/home/ddr-e2e-rootless
ROOTLESS_UNIT=$ROOTLESS_HOME/.config/systemd/user/docker.service
inside mkdir -p "$(dirname "$ROOTLESS_UNIT")" || e2e_die "cannot make $ROOTLESS_HOME"
printf '[Unit]\nDescription=rootless dockerd (docker-dataroot e2e)\n[Service]\nExecStart=/usr/bin/dockerd-rootless.sh\n' |
        write_inside "$ROOTLESS_UNIT"
expect "a user's rootless docker.service next to the system engine" docker-rootless warning 0
check "a user's rootless docker.service: the evidence names the unit" \
        grep -qF "$ROOTLESS_UNIT" <<< "$(check_evidence docker-rootless)"
check "a user's rootless docker.service: only the system engine is moved" \
        grep -q "only the system engine is moved" <<< "$(check_evidence docker-rootless)"
inside rm -r "$ROOTLESS_HOME"
root_local_existed=0
inside test -e /root/.local && root_local_existed=1
inside mkdir -p /root/.local/share/docker || e2e_die "cannot make /root/.local/share/docker"
expect "rootless data in /root/.local/share/docker" docker-rootless warning 0
# Without the system engine, only the rootless one is there: refused.
inside systemctl stop docker.socket docker.service || e2e_die "cannot stop Docker"
ddr_json migrate --dry-run --json "$TARGET"
check_eq "rootless Docker without a system engine: exit 3" 3 "$DDR_RC"
check_eq "rootless Docker without a system engine: docker-rootless is refused" refused "$(check_status docker-rootless)"
check "rootless Docker without a system engine: the remedy names dockerd-rootless" \
        grep -q "dockerd-rootless" <<< "$(json_get '[.checks[] | select(.id == "docker-rootless") | .remedy] | first')"
valid_plan "rootless Docker without a system engine"
check "rootless Docker without a system engine: Docker was not started" \
        test "$(inside systemctl is-active docker.service)" != active
check "rootless Docker without a system engine: $TARGET not created" absent_inside "$TARGET"
if [ "$root_local_existed" = 1 ]; then
        inside rmdir /root/.local/share/docker
else
        inside rm -r /root/.local
fi
reset_docker_start_limit
inside systemctl start docker.socket docker.service || e2e_die "cannot start Docker again"
wait_docker 60 || e2e_die "docker does not answer after the restart"
wait_running "$LIVE_CONTAINER" 60 || e2e_die "$LIVE_CONTAINER does not run again"
identity=$(dockerd_identity)
expect "no rootless Docker left" installation ok 0
check_eq "no rootless Docker left: no docker-rootless check" absent "$(check_status docker-rootless)"

# ---- a refused target path: the document still describes the filesystem ----
inside mkdir "$TARGET" && inside sh -c "echo keep > $TARGET/precious.txt" || e2e_die "cannot fill $TARGET"
manifest "$HARNESS_TARGET_MNT" "$T/nonempty.before"
ddr_json migrate --dry-run --json "$TARGET"
check_eq "non-empty target: exit 3" 3 "$DDR_RC"
check_eq "non-empty target: target-empty is refused" refused "$(check_status target-empty)"
valid_plan "non-empty target"
manifest "$HARNESS_TARGET_MNT" "$T/nonempty.after"
check_same_file "non-empty target: untouched" "$T/nonempty.before" "$T/nonempty.after"
inside rm -rf "$TARGET"

# ---- a symlinked daemon.json: warned about, then migrated for real ----
inside cat /etc/fstab > "$T/fstab.now"
check_same_file "/etc/fstab is back to its original bytes" "$T/fstab.orig" "$T/fstab.now"
check_eq "docker.service has no drop-in left" "" \
        "$(inside systemctl show -p DropInPaths --value docker.service)"
inside mv /etc/docker/daemon.json /etc/docker/real.json && inside ln -s /etc/docker/real.json /etc/docker/daemon.json ||
        e2e_die "cannot make daemon.json a symlink"
expect "daemon.json is a symlink" config-valid warning 0
check "daemon.json is a symlink: the evidence names real.json" \
        grep -qF /etc/docker/real.json <<< "$(check_evidence config-valid)"
check "daemon.json is a symlink: the backup lies next to real.json" \
        grep -q '^/etc/docker/real\.json\.docker-dataroot-' <<< "$(json_get .backup)"

images_before=$(docker_info Images)
containers_before=$(docker_info Containers)
ddr_json migrate --yes --json "$TARGET"
check_eq "migrate through the symlink: exit 0" 0 "$DDR_RC"
valid_plan "migrate through the symlink" ran
check "migrate through the symlink: docker answers" wait_docker 60
check_eq "migrate through the symlink: DockerRootDir is the target" "$TARGET" "$(docker_info DockerRootDir)"
check_eq "migrate through the symlink: same images" "$images_before" "$(docker_info Images)"
check_eq "migrate through the symlink: same containers" "$containers_before" "$(docker_info Containers)"
check "migrate through the symlink: the --restart always container runs again" wait_running "$LIVE_CONTAINER" 60
check "daemon.json is still a symlink" inside test -L /etc/docker/daemon.json
check_eq "daemon.json still points at real.json" /etc/docker/real.json \
        "$(inside readlink /etc/docker/daemon.json)"
inside cat /etc/docker/real.json > "$T/real.json.after"
check_eq "real.json has the data-root" "$TARGET" "$(jq -r '."data-root"' "$T/real.json.after")"
check_eq "real.json kept every other key, in order" \
        "$(jq -c . "$T/daemon.json.orig")" "$(jq -c 'del(."data-root")' "$T/real.json.after")"
backup=$(json_get .backup)
inside cat "$backup" > "$T/real.json.backup" 2>/dev/null
check_same_file "the backup next to real.json holds the original bytes ($backup)" \
        "$T/daemon.json.orig" "$T/real.json.backup"
check_eq "no backup named after the link" "" \
        "$(inside find /etc/docker -maxdepth 1 -name 'daemon.json.docker-dataroot-*')"

e2e_down

# ================= instance 2: btrfs target =================
command -v mkfs.btrfs >/dev/null || e2e_skip "mkfs.btrfs is not installed"
HARNESS_TARGET_FS=btrfs
export HARNESS_TARGET_FS
e2e_up
e2e_log "creating the data to migrate"
create_test_data
inside cat /etc/docker/daemon.json > "$T/daemon.json.orig" || e2e_die "cannot read daemon.json"
inside sh -c "echo 'LABEL=ddr-target $HARNESS_TARGET_MNT btrfs defaults 0 0' >> /etc/fstab" ||
        e2e_die "cannot append to /etc/fstab"
identity=$(dockerd_identity)

expect "btrfs target" target-fstype ok 0
check_eq "btrfs target: target_filesystem.type" btrfs "$(json_get .target_filesystem.type)"
check_eq "btrfs target: every target check is ok" "" \
        "$(json_get '[.checks[] | select((.id | startswith("target-")) and .status != "ok") | "\(.id)=\(.status)"] | join(" ")')"
check_eq "btrfs target: the overlay probe ran" ok "$(check_status target-overlay-support)"

# The obsolete "graph" key, for real: dockerd 20.10 accepts it (with a
# deprecation warning), so restart Docker on it first.
jq 'to_entries | .[:2] + [{ "key": "graph", "value": "/var/lib/docker" }] + .[2:] | from_entries' \
        "$T/daemon.json.orig" > "$T/daemon.json.graph"
write_inside /etc/docker/daemon.json < "$T/daemon.json.graph"
inside systemctl restart docker.service || e2e_die "dockerd does not start with \"graph\""
# The tool starts Docker once more; stay clear of StartLimitBurst=3.
inside systemctl reset-failed docker.service
wait_docker 60 || e2e_die "docker does not answer after the restart with \"graph\""
check_eq "dockerd runs with \"graph\" on $HARNESS_DATAROOT" "$HARNESS_DATAROOT" "$(docker_info DockerRootDir)"
identity=$(dockerd_identity)
expect "\"graph\" in daemon.json" data-root-consistent ok 0
wait_running "$LIVE_CONTAINER" 60 || e2e_die "$LIVE_CONTAINER does not run again"

images_before=$(docker_info Images)
containers_before=$(docker_info Containers)
docker start -a "$APP_CONTAINER" > "$T/app.before" 2>&1 || e2e_die "app container run failed"
ddr_json migrate --yes --json "$TARGET"
check_eq "migrate to btrfs: exit 0" 0 "$DDR_RC"
valid_plan "migrate to btrfs" ran
check "migrate to btrfs: docker answers" wait_docker 60
check_eq "migrate to btrfs: DockerRootDir is the target" "$TARGET" "$(docker_info DockerRootDir)"
check_eq "migrate to btrfs: storage driver still overlay2" overlay2 "$(docker_info Driver)"
check_eq "migrate to btrfs: same images" "$images_before" "$(docker_info Images)"
check_eq "migrate to btrfs: same containers" "$containers_before" "$(docker_info Containers)"
check "migrate to btrfs: the --restart always container runs again" wait_running "$LIVE_CONTAINER" 60
docker start -a "$APP_CONTAINER" > "$T/app.after" 2>&1
check_same_file "migrate to btrfs: the app container reads its data as before" "$T/app.before" "$T/app.after"
inside cat /etc/docker/daemon.json > "$T/daemon.json.after"
check_eq "daemon.json names the target" "$TARGET" "$(jq -r '."data-root"' "$T/daemon.json.after")"
check_eq "daemon.json has no \"graph\" left" false "$(jq 'has("graph")' "$T/daemon.json.after")"
check_eq "daemon.json kept every other key and value, in order" \
        "$(jq -c 'del(.graph)' "$T/daemon.json.graph")" "$(jq -c 'del(."data-root")' "$T/daemon.json.after")"
check_eq "\"data-root\" took the place of \"graph\"" \
        "$(jq -c 'keys_unsorted | map(if . == "graph" then "data-root" else . end)' "$T/daemon.json.graph")" \
        "$(jq -c keys_unsorted "$T/daemon.json.after")"

e2e_down

# ================= instance 3: a target filesystem without d_type =================
# ext4 made without its filetype feature: readdir returns DT_UNKNOWN, the
# condition that makes xfs ftype=0 unfit for overlay2 (see the top).
HARNESS_TARGET_FS=ext4-nodtype
export HARNESS_TARGET_FS
e2e_up
identity=$(dockerd_identity)
check "ext4 without filetype: the harness target lacks the filetype feature" \
        eval '! dumpe2fs -h "$HARNESS_DIR/disks/target.img" 2>/dev/null | grep -q "^Filesystem features:.*\bfiletype\b"'
check "ext4 without filetype: dumpe2fs reads the harness target" \
        eval 'dumpe2fs -h "$HARNESS_DIR/disks/target.img" 2>/dev/null | grep -q "^Filesystem features:"'
expect "target without d_type (ext4 -O ^filetype)" target-overlay-support refused 3
check "target without d_type: the evidence names d_type" grep -q "d_type" <<< "$(check_evidence target-overlay-support)"

# ---- every check id the tool reported is documented ----
undocumented=$(sort -u "$T/seen-ids" | jq -R . | jq -sr --argjson ids "$DOC_IDS" '. - $ids | join(" ")')
check_eq "every check id reported is listed in docs/plan-json.md" "" "$undocumented"

e2e_finish
