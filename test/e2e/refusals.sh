#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Targets and situations migrate must refuse before it touches anything:
# exit 3 from a check (2 for usage errors), with dockerd still running
# (not even restarted), daemon.json byte for byte as it was, the target
# filesystem and the source tree unchanged.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init refusals
e2e_up
T=$E2E_TMP

# A little data, so "unchanged" means something.
docker volume create "$TEST_VOLUME" >/dev/null || e2e_die "docker volume create failed"
inside sh -c "echo precious > $HARNESS_DATAROOT/volumes/$TEST_VOLUME/_data/record.txt" ||
        e2e_die "cannot write into the volume"

inside cat /etc/docker/daemon.json > "$T/daemon.json.orig" || e2e_die "cannot read daemon.json"
manifest "$HARNESS_DATAROOT" "$T/source.before"
identity=$(dockerd_identity)
e2e_log "dockerd: $identity"

# refused EXPECTED_RC WHAT MIGRATE_ARGS...: runs migrate and checks that it
# changed nothing at all.
refused() {
        local expected=$1 what=$2
        shift 2
        local daemon_json_before=$T/daemon.json.case
        inside cat /etc/docker/daemon.json > "$daemon_json_before"
        manifest "$HARNESS_TARGET_MNT" "$T/target.before"
        ddr migrate "$@"
        check_eq "$what: exit $expected" "$expected" "$DDR_RC"
        check "$what: docker still answers" docker_answers
        check_eq "$what: DockerRootDir unchanged" "$HARNESS_DATAROOT" "$(docker_info DockerRootDir)"
        check_eq "$what: dockerd not restarted" "$identity" "$(dockerd_identity)"
        inside cat /etc/docker/daemon.json > "$T/daemon.json.now"
        check_same_file "$what: daemon.json byte for byte" "$daemon_json_before" "$T/daemon.json.now"
        manifest "$HARNESS_TARGET_MNT" "$T/target.now"
        check_same_file "$what: target filesystem untouched" "$T/target.before" "$T/target.now"
}

inside ln -s "$HARNESS_TARGET_MNT" /mnt/link || e2e_die "ln -s failed"
refused 3 "symlink in the target path" --yes /mnt/link/docker
check "symlink in the target path: nothing created through the link" absent_inside "$TARGET"
inside rm /mnt/link

inside mkdir "$TARGET" && inside sh -c "echo keep > $TARGET/precious.txt" || e2e_die "cannot fill $TARGET"
refused 3 "non-empty target directory" --yes "$TARGET"
inside rm -rf "$TARGET"

inside sh -c "echo data > $HARNESS_TARGET_MNT/a-file" || e2e_die "cannot create a file"
refused 3 "target is a regular file" --yes "$HARNESS_TARGET_MNT/a-file"
inside rm "$HARNESS_TARGET_MNT/a-file"

refused 3 "target on the root filesystem" --yes /srv/docker
check "target on the root filesystem: /srv/docker not created" absent_inside /srv/docker

refused 3 "target inside the source" --yes "$HARNESS_DATAROOT/sub"
check "target inside the source: nothing created there" absent_inside "$HARNESS_DATAROOT/sub"

refused 3 "target is /" --yes /

refused 2 "relative target" --yes "${TARGET#/}"

# No --yes, and stdin is not a terminal: nobody can confirm.
manifest "$HARNESS_TARGET_MNT" "$T/target.before"
ddr_no_tty migrate "$TARGET"
check_eq "no --yes without a terminal: exit 2" 2 "$DDR_RC"
check "no --yes without a terminal: target not created" absent_inside "$TARGET"
check_eq "no --yes without a terminal: dockerd not restarted" "$identity" "$(dockerd_identity)"

# A daemon.json dockerd could not parse. dockerd read its config at start,
# so it runs on; the tool must refuse and point at the error.
# Line 2 loses its comma: a parser stops on line 3, column 9 (1-based).
jq -e '.iptables == false' "$T/daemon.json.orig" >/dev/null && head -n 2 "$T/daemon.json.orig" |
        grep -q '"iptables": false,$' || e2e_die "daemon.json does not start as the harness writes it"
sed '2s/,$//' "$T/daemon.json.orig" > "$T/daemon.json.broken"
inside sh -c 'cat > /etc/docker/daemon.json' < "$T/daemon.json.broken"
refused 3 "invalid daemon.json" --yes "$TARGET"
check "invalid daemon.json: the message names the line" \
        grep -Eiq '(line[ :]*[23]([^0-9]|$))|(:[23]:[0-9]+)' <<< "$DDR_OUTPUT"
check "invalid daemon.json: the message names the column" \
        grep -Eiq '(col(umn)?[ :]*[0-9]+)|(:[23]:[0-9]+)' <<< "$DDR_OUTPUT"
check "invalid daemon.json: the message names the file" grep -q 'daemon.json' <<< "$DDR_OUTPUT"
inside sh -c 'cat > /etc/docker/daemon.json' < "$T/daemon.json.orig"

# Docker already runs on the target given: nothing to do.
ddr migrate --yes "$HARNESS_DATAROOT"
check_eq "target is the current data-root: exit 0 (nothing to do)" 0 "$DDR_RC"
check_eq "target is the current data-root: dockerd not restarted" "$identity" "$(dockerd_identity)"

manifest "$HARNESS_DATAROOT" "$T/source.after"
check_same_file "the source tree is unchanged after all refusals" "$T/source.before" "$T/source.after"
inside cat /etc/docker/daemon.json > "$T/daemon.json.end"
check_same_file "daemon.json is back to its original bytes" "$T/daemon.json.orig" "$T/daemon.json.end"

e2e_finish
