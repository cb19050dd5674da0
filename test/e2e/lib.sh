# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034 # names defined here are used by the sourcing scripts
# Sourced by the end-to-end tests (test/e2e/*.sh) and test/demo.sh: setup
# helpers, checks, and the exit protocol (0 pass, 1 fail, 77 skip; a skip
# is a failure when DDR_TEST_NO_SKIP=1). Not executable on its own.
#
# Every test boots its own harness instance (test/harness/up.sh) and tears
# it down on any exit, then checks that nothing was left behind.

set -uo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DDR_SOURCE_ROOT=${DDR_SOURCE_ROOT:-$(cd "$E2E_DIR/../.." && pwd)}
HARNESS=$DDR_SOURCE_ROOT/test/harness
MANIFEST=$DDR_SOURCE_ROOT/test/e2e/tree-manifest.py
. "$HARNESS/common.sh"

# What the tests build and name, inside the harness.
TEST_IMAGE=ddr-e2e-image
TEST_VOLUME=ddr-e2e-volume
APP_CONTAINER=ddr-e2e-app       # stopped; owns the volume and a written upper layer
LIVE_CONTAINER=ddr-e2e-live     # running with --restart always during the migration
TARGET=$HARNESS_TARGET_MNT/docker

# Seconds any single run of the tool may take before the test calls it hung.
DDR_TIMEOUT=${DDR_TIMEOUT:-300}

E2E_NAME=
E2E_TMP=
E2E_FAILED=0
E2E_CHECKS=0
E2E_HARNESS_ID=

e2e_log() { echo "# $*"; }

# A missing facility skips the test, except under CI where nothing may skip.
e2e_skip() {
        if [ "${DDR_TEST_NO_SKIP:-0}" = 1 ]; then
                echo "FAIL: $1 (DDR_TEST_NO_SKIP=1: a skip is a failure)"
                exit 1
        fi
        echo "SKIP: $1"
        exit 77
}

# A broken setup step: the test cannot go on.
e2e_die() {
        echo "FAIL (setup): $*"
        exit 1
}

e2e_cleanup() {
        local rc=$? left
        trap - EXIT INT TERM
        if [ -n "$E2E_HARNESS_ID" ]; then
                if ! "$HARNESS/down.sh" "$E2E_HARNESS_ID"; then
                        echo "FAIL: harness teardown left something behind"
                        rc=1
                fi
                left=$(harness_residue "$E2E_HARNESS_ID")
                if [ -n "$left" ]; then
                        echo "FAIL: residue after teardown:"
                        echo "$left" | sed 's/^/#   /'
                        rc=1
                fi
        fi
        [ -n "$E2E_TMP" ] && rm -rf "$E2E_TMP"
        exit "$rc"
}

# e2e_init NAME: the facilities every e2e test needs, a temp dir, the trap.
e2e_init() {
        E2E_NAME=$1
        [ "$(id -u)" = 0 ] || e2e_skip "needs root"
        local tool
        for tool in systemd-nspawn nsenter unshare losetup mkfs.ext4 dockerd docker python3 jq \
                setcap getcap getfattr setfattr setfacl; do
                command -v "$tool" >/dev/null || e2e_skip "$tool is not installed"
        done
        case "${HARNESS_TARGET_FS:-xfs}" in
        xfs) command -v mkfs.xfs >/dev/null || e2e_skip "mkfs.xfs is not installed" ;;
        btrfs) command -v mkfs.btrfs >/dev/null || e2e_skip "mkfs.btrfs is not installed" ;;
        esac
        [ -x /bin/busybox ] && file_is_static /bin/busybox ||
                e2e_skip "a static /bin/busybox (busybox-static) is needed for the test image"
        [ -e /dev/loop-control ] || modprobe loop 2>/dev/null
        [ -e /dev/loop-control ] || e2e_skip "no loop device support"
        [ -n "$(harness_cgroup_roots)" ] || e2e_skip "no usable cgroup hierarchy"

        if [ -z "${DDR_BIN:-}" ] && [ -n "${DDR_BUILD_ROOT:-}" ]; then
                DDR_BIN=$DDR_BUILD_ROOT/docker-dataroot
        fi
        [ -n "${DDR_BIN:-}" ] || e2e_die "DDR_BIN is not set (meson sets it; by hand: DDR_BIN=build/docker-dataroot)"
        [ -x "$DDR_BIN" ] || e2e_die "DDR_BIN=$DDR_BIN is not an executable"
        DDR_BIN=$(cd "$(dirname "$DDR_BIN")" && pwd)/$(basename "$DDR_BIN")

        E2E_TMP=$(mktemp -d /var/tmp/ddr-e2e-"$E2E_NAME".XXXXXX) || e2e_die "mktemp failed"
        trap e2e_cleanup EXIT
        trap 'exit 1' INT TERM
}

file_is_static() {
        # A dynamic binary would find no loader in a FROM scratch image.
        ! LC_ALL=C readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter' &&
                LC_ALL=C readelf -h "$1" >/dev/null 2>&1
}

# e2e_up: boots this test's harness instance and exports its variables.
e2e_up() {
        local id
        id="$E2E_NAME-$$"
        E2E_HARNESS_ID=$id
        # The tool and the test programs must be visible inside.
        HARNESS_BIND_RO="$DDR_SOURCE_ROOT ${DDR_BUILD_ROOT:-} $(dirname "$DDR_BIN")"
        export HARNESS_BIND_RO
        "$HARNESS/up.sh" "$id" > "$E2E_TMP/harness.env" || e2e_die "harness up.sh failed"
        set -a
        . "$E2E_TMP/harness.env"
        set +a
        e2e_log "harness $HARNESS_ID up: leader pid $HARNESS_LEADER_PID, target $HARNESS_TARGET_FS at $HARNESS_TARGET_MNT"
}

inside() { "$HARNESS_IN" "$HARNESS_ID" "$@"; }

# ddr ARGS...: runs the tool inside the container; DDR_RC and DDR_OUTPUT
# (stdout and stderr) hold the result, which is also shown in the log.
ddr() {
        e2e_log "\$ docker-dataroot $*"
        DDR_OUTPUT=$(inside timeout --kill-after=10 "$DDR_TIMEOUT" "$DDR_BIN" "$@" 2>&1)
        DDR_RC=$?
        [ -n "$DDR_OUTPUT" ] && echo "$DDR_OUTPUT" | sed 's/^/#   | /'
        e2e_log "exit status $DDR_RC"
}

# Same, with stdin from /dev/null (not a terminal).
ddr_no_tty() {
        e2e_log "\$ docker-dataroot $* </dev/null"
        DDR_OUTPUT=$(inside timeout --kill-after=10 "$DDR_TIMEOUT" "$DDR_BIN" "$@" 2>&1 < /dev/null)
        DDR_RC=$?
        [ -n "$DDR_OUTPUT" ] && echo "$DDR_OUTPUT" | sed 's/^/#   | /'
        e2e_log "exit status $DDR_RC"
}

# ---- checks: each prints ok/not ok and the test goes on ----

e2e_ok() {
        E2E_CHECKS=$((E2E_CHECKS + 1))
        echo "ok $E2E_CHECKS - $1"
}

e2e_not_ok() {
        E2E_CHECKS=$((E2E_CHECKS + 1))
        E2E_FAILED=$((E2E_FAILED + 1))
        echo "not ok $E2E_CHECKS - $1"
}

# check DESCRIPTION CMD...: passes when CMD succeeds.
check() {
        local desc=$1
        shift
        if "$@"; then e2e_ok "$desc"; else e2e_not_ok "$desc"; fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
        if [ "$2" = "$3" ]; then
                e2e_ok "$1"
        else
                e2e_not_ok "$1"
                echo "#   expected: $2"
                echo "#   actual:   $3"
        fi
}

# check_same_file DESCRIPTION EXPECTED_FILE ACTUAL_FILE: shows the diff.
check_same_file() {
        if cmp -s "$2" "$3"; then
                e2e_ok "$1"
        else
                e2e_not_ok "$1"
                diff -u "$2" "$3" | head -n 40 | sed 's/^/#   /'
        fi
}

e2e_finish() {
        if [ "$E2E_FAILED" -ne 0 ]; then
                echo "FAIL: $E2E_FAILED of $E2E_CHECKS checks failed"
                exit 1
        fi
        echo "PASS: all $E2E_CHECKS checks passed"
        exit 0
}

# ---- facts about the running engine and the container ----

docker_info() { docker info --format "{{.$1}}" 2>/dev/null; }

docker_answers() { docker info >/dev/null 2>&1; }

# "MainPID start-time" of docker.service: changes whenever dockerd restarts.
dockerd_identity() {
        inside systemctl show -p MainPID -p ExecMainStartTimestampMonotonic --value docker.service |
                tr '\n' ' '
}

# Waits up to $1 seconds for docker to answer.
wait_docker() {
        local _
        for _ in $(seq 1 $(($1 * 2))); do
                docker_answers && return 0
                sleep 0.5
        done
        return 1
}

# wait_running CONTAINER SECONDS
wait_running() {
        local _
        for _ in $(seq 1 $(($2 * 2))); do
                [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ] && return 0
                sleep 0.5
        done
        return 1
}

sha_inside() { inside sha256sum "$1" | awk '{ print $1 }'; }

absent_inside() { ! inside test -e "$1" && ! inside test -L "$1"; }

# manifest DIR OUT [--exclude GLOB]...: tree-manifest.py run inside.
manifest() {
        local dir=$1 out=$2
        shift 2
        inside python3 "$MANIFEST" "$@" "$dir" > "$out" ||
                e2e_die "tree-manifest.py $dir failed"
}

# ---- the data the tests migrate ----

build_test_image() {
        local ctx=$E2E_TMP/image
        mkdir -p "$ctx/bin"
        cp "$DDR_SOURCE_ROOT/test/e2e/image/Dockerfile" "$ctx/"
        cp /bin/busybox "$ctx/bin/busybox"
        DOCKER_BUILDKIT=0 docker build -q -t "$TEST_IMAGE" "$ctx" > "$E2E_TMP/build.log" 2>&1 || {
                sed 's/^/#   /' "$E2E_TMP/build.log"
                e2e_die "docker build failed"
        }
}

# The app container's command: the first run writes the volume and changes
# the image's files in its upper layer (whiteout, opaque directory); every
# run prints what it reads, so runs before and after a migration compare.
APP_SCRIPT='
set -e
if [ ! -e /vol/.written ]; then
        mkdir -p /vol/records/2024 /vol/empty-dir
        echo "patient 0001: blood pressure 120/80" > /vol/records/2024/0001.txt
        dd if=/dev/urandom of=/vol/records/random.bin bs=64k count=24 2>/dev/null
        dd if=/dev/urandom of=/vol/records/sparse.img bs=64k count=4 seek=1000 2>/dev/null
        ln /vol/records/2024/0001.txt /vol/records/hardlink.txt
        ln -s 2024/0001.txt /vol/records/symlink.txt
        mkfifo /vol/records/fifo
        echo owned > /vol/records/owned.txt
        chown 1234:5678 /vol/records/owned.txt
        chmod 0640 /vol/records/owned.txt
        chmod 2750 /vol/records/2024
        touch -d "2001-02-03 04:05:06" /vol/records/old.txt
        cp /bin/busybox /vol/ping
        rm /data/keep/orig.txt
        rm -rf /data/replaced
        mkdir /data/replaced
        echo in-upper > /data/replaced/upper.txt
        cp /bin/busybox /upper-cap.bin
        touch /vol/.written
fi
cd /vol
find . | sort
find . -type f ! -name .written | sort | xargs sha256sum
ls -l records/owned.txt | cut -c1-10
cat records/symlink.txt
cd /data
find . | sort
cat replaced/upper.txt
'

# Image, volume, a stopped app container that wrote its data, a running
# container, and the metadata a copy most easily drops: capabilities (in the
# volume and in the container's upper layer, set from the host through the
# path docker inspect reports), a user xattr and an ACL.
create_test_data() {
        build_test_image
        docker volume create "$TEST_VOLUME" >/dev/null || e2e_die "docker volume create failed"
        docker create --name "$APP_CONTAINER" -v "$TEST_VOLUME:/vol" "$TEST_IMAGE" \
                sh -c "$APP_SCRIPT" >/dev/null || e2e_die "docker create failed"
        docker start -a "$APP_CONTAINER" > "$E2E_TMP/app-first-run.out" 2>&1 || {
                sed 's/^/#   /' "$E2E_TMP/app-first-run.out"
                e2e_die "the app container's first run failed"
        }
        docker run -d --name "$LIVE_CONTAINER" --restart always "$TEST_IMAGE" \
                sh -c 'trap "exit 0" TERM; while :; do sleep 1; done' >/dev/null ||
                e2e_die "docker run of the live container failed"

        VOLUME_DIR=$(docker volume inspect -f '{{.Mountpoint}}' "$TEST_VOLUME")
        APP_UPPER=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' "$APP_CONTAINER")
        [ -n "$VOLUME_DIR" ] && [ -n "$APP_UPPER" ] || e2e_die "docker inspect gave no paths"
        inside setcap cap_net_raw+ep "$VOLUME_DIR/ping" || e2e_die "setcap in the volume failed"
        setcap cap_net_raw+ep "$HARNESS_ROOT$APP_UPPER/upper-cap.bin" ||
                e2e_die "setcap in the upper layer (from the host) failed"
        inside setfattr -n user.ddr-test -v kept "$VOLUME_DIR/records/2024/0001.txt" ||
                e2e_die "setfattr failed"
        inside setfacl -m u:4321:r "$VOLUME_DIR/records/2024/0001.txt" || e2e_die "setfacl failed"
}

# The IDs whose files docker itself rewrites on every stop or start.
live_container_ids() {
        LIVE_ID=$(docker inspect -f '{{.Id}}' "$LIVE_CONTAINER")
        LIVE_LAYER=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' "$LIVE_CONTAINER")
        LIVE_LAYER=${LIVE_LAYER%/diff}
        LIVE_LAYER=${LIVE_LAYER##*/}
        [ -n "$LIVE_ID" ] && [ -n "$LIVE_LAYER" ] || e2e_die "cannot inspect $LIVE_CONTAINER"
}

# stable_view stop|start MANIFEST: the manifest without what dockerd itself
# changes when it stops ("stop": the running container's state) or also when
# it starts on a tree ("start": its databases, the backing-fs device node,
# state files rewritten with the same content; on xfs a device node for
# quotas). Measured, not guessed: a docker restart on an unchanged tree
# differs in exactly these entries.
stable_view() {
        awk -F '\t' -v OFS='\t' -v mode="$1" -v live="$LIVE_ID" -v layer="$LIVE_LAYER" '
        {
                p = $1
                # the running container: its state and its mounted/work dirs
                if (p ~ ("^containers/" live "(/|$)")) next
                if (p ~ ("^overlay2/" layer "/(merged|work)(/|$)")) next
                if (p == "overlay2/" layer) $6 = "*"
                if (mode == "start") {
                        if (p ~ /^buildkit\/.*\.db$/ || p == "network/files/local-kv.db" ||
                            p == "volumes/metadata.db" || p ~ /^(volumes|overlay2)\/backingFsBlockDev$/)
                                next
                        if (p ~ /^containers\/[0-9a-f]+\/(config\.v2\.json|hostconfig\.json)$/)
                                $6 = "*"
                        # the migration points volume mounts at the new root
                        # on purpose; migrate.sh checks those files itself
                        if (p ~ /^containers\/[0-9a-f]+\/config\.v2\.json$/)
                                $5 = $9 = "*"
                        if (p == "." || p == "overlay2" || p == "runtimes" || p == "tmp" ||
                            p == "volumes" || p ~ /^containers\/[0-9a-f]+$/)
                                $6 = "*"
                }
                print
        }' "$2"
}

# ---- JSON output, a second instance (added for preflight.sh and status.sh) ----

# ddr_json ARGS...: like ddr, but stdout (the --json document) goes to the
# file DDR_JSON and only stderr to DDR_OUTPUT, so jq reads the document
# alone. Each call overwrites DDR_JSON.
ddr_json() {
        DDR_JSON=$E2E_TMP/ddr-output.json
        e2e_log "\$ docker-dataroot $* >$(basename "$DDR_JSON")"
        DDR_OUTPUT=$(inside timeout --kill-after=10 "$DDR_TIMEOUT" "$DDR_BIN" "$@" 2>&1 > "$DDR_JSON")
        DDR_RC=$?
        [ -n "$DDR_OUTPUT" ] && echo "$DDR_OUTPUT" | sed 's/^/#   | /'
        e2e_log "exit status $DDR_RC"
}

# json_get JQ_FILTER: one value of the last ddr_json document, raw
# ("null" when absent, nothing when the document is not JSON).
json_get() { jq -r "$1" "$DDR_JSON" 2>/dev/null; }

# check_status ID: the status of check ID in the last --json plan ("absent"
# when the plan holds no such check).
check_status() {
        jq -r --arg id "$1" '[.checks[]? | select(.id == $id) | .status] | first // "absent"' \
                "$DDR_JSON" 2>/dev/null
}

# check_evidence ID: the evidence of check ID in the last --json plan.
check_evidence() {
        jq -r --arg id "$1" '[.checks[]? | select(.id == $id) | .evidence] | first // ""' \
                "$DDR_JSON" 2>/dev/null
}

# e2e_down: tears this test's instance down before the test ends, so that
# the same script can boot another one (e.g. with another HARNESS_TARGET_FS)
# with e2e_up. Leftovers count as a failed check.
e2e_down() {
        local id=$E2E_HARNESS_ID left
        [ -n "$id" ] || return 0
        E2E_HARNESS_ID=
        if "$HARNESS/down.sh" "$id" && left=$(harness_residue "$id") && [ -z "$left" ]; then
                e2e_ok "harness $id torn down without residue"
        else
                e2e_not_ok "harness $id torn down without residue"
                [ -n "${left:-}" ] && echo "$left" | sed 's/^/#   /'
        fi
}

# ---- runs in the background, the journal, signals (added for crash.sh and interrupt.sh) ----

# The tool's journal inside the container (meson option statedir).
DDR_STATE_DIR=/var/lib/docker-dataroot
DDR_STATE_FILE=$DDR_STATE_DIR/state.json

# ddr_env VAR=VALUE... ARGS...: like ddr, with variables added to the tool's
# environment (in.sh starts from a clean one), e.g.
# ddr_env DOCKER_DATAROOT_TEST_CRASH_AT=enter:copy migrate --yes "$TARGET".
ddr_env() {
        local vars=()
        while [ $# -gt 0 ] && [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do
                vars+=("$1")
                shift
        done
        e2e_log "\$ ${vars[*]:+${vars[*]} }docker-dataroot $*"
        DDR_OUTPUT=$(inside timeout --kill-after=10 "$DDR_TIMEOUT" env "${vars[@]}" "$DDR_BIN" "$@" 2>&1)
        DDR_RC=$?
        [ -n "$DDR_OUTPUT" ] && echo "$DDR_OUTPUT" | sed 's/^/#   | /'
        e2e_log "exit status $DDR_RC"
}

# ddr_bg ARGS...: starts the tool inside in the background (stdin from
# /dev/null) and returns at once; DDR_BG_PID is the host-side pid to wait
# for. ddr_bg_wait then sets DDR_RC and DDR_OUTPUT as ddr does. One at a
# time: a second ddr_bg before ddr_bg_wait overwrites both.
ddr_bg() {
        DDR_BG_OUT=$E2E_TMP/ddr-bg.out
        e2e_log "\$ docker-dataroot $* &"
        inside timeout --kill-after=10 "$DDR_TIMEOUT" "$DDR_BIN" "$@" < /dev/null > "$DDR_BG_OUT" 2>&1 &
        DDR_BG_PID=$!
}

ddr_bg_wait() {
        wait "$DDR_BG_PID"
        DDR_RC=$?
        DDR_OUTPUT=$(cat "$DDR_BG_OUT")
        [ -n "$DDR_OUTPUT" ] && echo "$DDR_OUTPUT" | sed 's/^/#   | /'
        e2e_log "exit status $DDR_RC (background run)"
}

# journal_get KEY: one field of the journal, raw (an array joined with ",");
# nothing when the journal or the key is missing. Read through the
# container's root from the host, so polling costs no nsenter.
journal_get() {
        jq -r --arg k "$1" \
                'if has($k) then .[$k] | (if type == "array" then join(",") else tostring end) else empty end' \
                "$HARNESS_ROOT$DDR_STATE_FILE" 2>/dev/null
}

# wait_journal JQ_CONDITION SECONDS: polls the journal every 20 ms until the
# condition holds, e.g. '.outcome == "running" and .stage == "copy"'.
wait_journal() {
        local deadline=$((SECONDS + $2))
        while [ "$SECONDS" -le "$deadline" ]; do
                jq -e "$1" "$HARNESS_ROOT$DDR_STATE_FILE" >/dev/null 2>&1 && return 0
                sleep 0.02
        done
        return 1
}

# ddr_pid_inside: the pid (in the container's namespace) of the running
# migration, from the journal, once /proc confirms it is the tool; fails
# otherwise, so a signal never reaches a reused pid.
ddr_pid_inside() {
        local pid
        pid=$(journal_get pid)
        [[ $pid =~ ^[0-9]+$ ]] || return 1
        [ "$(inside cat "/proc/$pid/comm" 2>/dev/null)" = docker-dataroot ] || return 1
        echo "$pid"
}

# sleep_ms N
sleep_ms() { sleep "$(awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }')"; }

# Docker's units may be started more often than StartLimitBurst allows
# when a test drives many migrations in a row.
reset_docker_start_limit() {
        inside systemctl reset-failed docker.service docker.socket >/dev/null 2>&1 || true
}

# What Docker looks like now: "service/socket root", e.g.
# "active/active /var/lib/docker" or "inactive/inactive -". The engine is
# asked only when docker.service is active: a call through a listening
# docker.socket would start it.
docker_state() {
        local service socket root=-
        service=$(inside systemctl is-active docker.service)
        socket=$(inside systemctl is-active docker.socket)
        if [ "$service" = active ]; then
                root=$(docker_info DockerRootDir)
                root=${root:--}
        fi
        echo "$service/$socket $root"
}

# add_bulk_data DIR FILES SPARSE_MIB [NAME]: FILES small files below
# DIR/NAME (default bulk; 100 a directory), so that a copy lasts long enough
# to be interrupted, and DIR/NAME.img, a sparse file of SPARSE_MIB MiB with
# three data blocks. Written inside, as root, like any data a container
# leaves in a volume.
add_bulk_data() {
        inside python3 -c '
import os, sys
top, files, sparse_mib, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
os.mkdir(top + "/" + name)
for i in range(files):
    d = "%s/%s/d%04d" % (top, name, i // 100)
    if i % 100 == 0:
        os.mkdir(d)
    with open("%s/f%02d" % (d, i % 100), "w") as f:
        f.write("record %d\n" % i * (1 + i % 40))
with open(top + "/" + name + ".img", "wb") as f:
    f.truncate(sparse_mib << 20)
    for at in (0, sparse_mib << 19, (sparse_mib << 20) - 4096):
        f.seek(at)
        f.write(os.urandom(4096))
' "$1" "$2" "$3" "${4:-bulk}" || e2e_die "writing $2 files and a sparse file into $1 failed"
}
