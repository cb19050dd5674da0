#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The bad-input catalogue (docs/refusals.md): every refusal that no other
# test proves, each run against the real systemd and dockerd with its exit
# code, its message, and proof that nothing changed: dockerd not even
# restarted, daemon.json and everything in /etc/docker byte for byte, the
# state directory as it was (not even created by a usage error), the target
# filesystem untouched. Usage errors of every command exit 2; refusals from
# the state of things exit 3; a refused copy exits 1. The last part
# migrates for real, to refuse what is only refused after a migration.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init bad-inputs
e2e_up
T=$E2E_TMP

docker volume create "$TEST_VOLUME" >/dev/null || e2e_die "docker volume create failed"
inside sh -c "echo precious > $HARNESS_DATAROOT/volumes/$TEST_VOLUME/_data/record.txt" ||
        e2e_die "cannot write into the volume"
inside test -e "$DDR_STATE_DIR" && e2e_die "$DDR_STATE_DIR exists before any run"
manifest "$HARNESS_DATAROOT" "$T/source.before"
inside cat /etc/docker/daemon.json > "$T/daemon.json.orig" || e2e_die "cannot read daemon.json"

# What "nothing changed" compares: dockerd (same process), the units,
# /etc/docker, the journal, the target filesystem.
snapshot() {
        {
                echo "dockerd: $(dockerd_identity)"
                echo "units: $(inside systemctl is-active docker.service docker.socket | tr '\n' ' ')"
                inside sh -c 'cd /etc/docker && ls -lA --time-style=+%s.%N && sha256sum $(find . -maxdepth 1 -type f | sort)' |
                        sed 's/^/etc\/docker: /'
                inside sh -c "ls -l --time-style=+%s.%N $DDR_STATE_FILE 2>&1; cat $DDR_STATE_FILE 2>/dev/null" |
                        sed 's/^/journal: /'
                if [ "${SNAPSHOT_TARGET:-1}" = 1 ]; then
                        inside python3 "$MANIFEST" "$HARNESS_TARGET_MNT" | sed 's/^/target fs: /'
                fi
        } > "$1"
}
JOURNAL_NAME=${DDR_STATE_FILE##*/}
# (A refused migrate may leave the state directory with its lock file: it
# takes the lock before it plans. The journal itself must not change.)

# refused RC WHAT REGEX [VAR=VALUE...] ARGS...: runs the tool (stdin from
# /dev/null), expects exit RC and REGEX (grep -E) in its output, and
# nothing changed.
refused() {
        local rc=$1 what=$2 regex=$3
        shift 3
        snapshot "$T/before"
        ddr_env "$@" < /dev/null
        check_eq "$what: exit $rc" "$rc" "$DDR_RC"
        check "$what: the message says so (/$regex/)" grep -Eq -- "$regex" <<< "$DDR_OUTPUT"
        snapshot "$T/after"
        check_same_file "$what: nothing changed" "$T/before" "$T/after"
}

# answer_no WHAT REGEX ARGS...: runs the tool on a terminal (a pty from
# script(1)) and answers "n" at its prompt: exit 3 and nothing changed.
answer_no() {
        local what=$1 regex=$2 cmd
        shift 2
        cmd=$(printf '%q ' "$DDR_BIN" "$@")
        snapshot "$T/before"
        e2e_log "\$ docker-dataroot $* (on a terminal, answering n)"
        DDR_OUTPUT=$(printf 'n\n' | inside timeout 60 script -qec "$cmd" /dev/null 2>&1)
        DDR_RC=$?
        echo "$DDR_OUTPUT" | sed 's/^/#   | /'
        check_eq "$what: exit 3" 3 "$DDR_RC"
        check "$what: the message says so (/$regex/)" grep -Eq -- "$regex" <<< "$DDR_OUTPUT"
        snapshot "$T/after"
        check_same_file "$what: nothing changed" "$T/before" "$T/after"
}

# ---- usage errors: exit 2, before anything is read or written ----
refused 2 "no command" 'Missing command'
refused 2 "unknown command" "Unknown command 'frobnicate'" frobnicate
for command in migrate copy verify status rollback cleanup; do
        case $command in
        migrate) args=("$TARGET") ;;
        copy | verify) args=("$HARNESS_DATAROOT" "$TARGET") ;;
        *) args=() ;;
        esac
        refused 2 "$command --frobnicate" "Unknown option '--frobnicate'" "$command" --frobnicate "${args[@]}"
        refused 2 "$command -x" "Unknown option '-x'" "$command" -x "${args[@]}"
        refused 2 "$command with an extra argument" "'$command' takes" "$command" "${args[@]}" /extra
done
refused 2 "migrate without TARGET" "'migrate' takes one argument: TARGET" migrate --yes
refused 2 "migrate with an empty TARGET" 'Empty path' migrate --yes ''
refused 2 "copy with one argument" "'copy' takes two arguments" copy "$HARNESS_DATAROOT"
refused 2 "verify with one argument" "'verify' takes two arguments" verify "$HARNESS_DATAROOT"
refused 2 "copy with an empty DST" 'Empty path' copy "$HARNESS_DATAROOT" ''
refused 2 "--jobs without a value" "'--jobs' needs an argument" migrate --yes "$TARGET" --jobs
refused 2 "--config without a value" "'--config' needs an argument" migrate --yes "$TARGET" --config
refused 2 "--state-dir without a value" "'--state-dir' needs an argument" rollback --yes --state-dir
for jobs in 0 257 -1 two 4x ''; do
        refused 2 "--jobs '$jobs'" "Invalid --jobs '$jobs'" migrate --yes --jobs "$jobs" "$TARGET"
done
refused 2 "copy --jobs 0" "Invalid --jobs '0'" copy --jobs 0 "$HARNESS_DATAROOT" "$TARGET"
refused 2 "--state-dir relative" "Invalid --state-dir 'var/lib/docker-dataroot'" \
        migrate --yes --state-dir var/lib/docker-dataroot "$TARGET"
refused 2 "rollback --state-dir relative" "Invalid --state-dir" rollback --yes --state-dir state
# An option the command does not take is an error, never ignored: above
# all, 'cleanup --dry-run' must not quietly delete.
refused 2 "migrate --remove-target" "'--remove-target' does not apply to 'migrate'" \
        migrate --yes --remove-target "$TARGET"
refused 2 "cleanup --remove-target" "'--remove-target' does not apply to 'cleanup'" cleanup --yes --remove-target
refused 2 "cleanup --dry-run" "'--dry-run' does not apply to 'cleanup'" cleanup --yes --dry-run
refused 2 "rollback --dry-run" "'--dry-run' does not apply to 'rollback'" rollback --yes --dry-run
refused 2 "rollback --jobs" "'--jobs' does not apply to 'rollback'" rollback --yes --jobs 2
refused 2 "copy --yes" "'--yes' does not apply to 'copy'" copy --yes "$HARNESS_DATAROOT" "$TARGET"
refused 2 "verify --verify-content" "'--verify-content' does not apply to 'verify'" \
        verify --verify-content "$HARNESS_DATAROOT" "$TARGET"
refused 2 "status --yes" "'--yes' does not apply to 'status'" status --yes
refused 2 "rollback without --yes and without a terminal" 'without a terminal' rollback
refused 2 "cleanup without --yes and without a terminal" 'without a terminal' cleanup
check "no usage error created the state directory $DDR_STATE_DIR" absent_inside "$DDR_STATE_DIR"

# verify that cannot compare is exit 2; copy refuses to write into a
# non-empty directory (exit 1) and leaves it as it was.
refused 2 "verify of a missing tree" 'Failed to compare' verify /nonexistent "$HARNESS_DATAROOT"
refused 1 "copy of a missing tree" "Failed to (read|copy) '/nonexistent'" copy /nonexistent "$TARGET"
check "copy of a missing tree: $TARGET not created" absent_inside "$TARGET"
inside mkdir -p "$HARNESS_TARGET_MNT/full" && inside sh -c "echo keep > $HARNESS_TARGET_MNT/full/keep.txt" ||
        e2e_die "cannot fill $HARNESS_TARGET_MNT/full"
refused 1 "copy into a non-empty directory" 'Failed to copy' \
        copy "$HARNESS_DATAROOT/volumes" "$HARNESS_TARGET_MNT/full"
check_eq "copy into a non-empty directory: its file is intact" keep \
        "$(inside cat "$HARNESS_TARGET_MNT/full/keep.txt")"
inside rm -rf "$HARNESS_TARGET_MNT/full"

# ---- rollback and cleanup with nothing recorded: exit 3 ----
refused 3 "rollback with no migration recorded" 'No migration is recorded' rollback --yes
refused 3 "cleanup with no migration recorded" 'No migration is recorded' cleanup --yes

# ---- state files that cannot be trusted: exit 3 ----
# Each in a state directory of its own; the real one stays absent.
state_dir() {
        local dir=/tmp/ddr-state-$1
        inside mkdir -p "$dir" && inside sh -c "cat > $dir/$JOURNAL_NAME" || e2e_die "cannot write $dir"
        echo "$dir"
}
dir=$(state_dir garbage <<< '{ "outcome": "running", "target": ')
refused 3 "migrate with a state file that is not JSON" 'not valid JSON' migrate --yes --state-dir "$dir" "$TARGET"
refused 3 "rollback with a state file that is not JSON" "Failed to open '$dir'" rollback --yes --state-dir "$dir"
refused 3 "cleanup with a state file that is not JSON" "Failed to open '$dir'" cleanup --yes --state-dir "$dir"

inside sh -c 'echo not a directory > /tmp/ddr-state-file' || e2e_die "cannot write /tmp/ddr-state-file"
refused 3 "migrate with --state-dir naming a file" "Failed to open '/tmp/ddr-state-file'" \
        migrate --yes --state-dir /tmp/ddr-state-file "$TARGET"
refused 3 "rollback with --state-dir naming a file" "Failed to open '/tmp/ddr-state-file'" \
        rollback --yes --state-dir /tmp/ddr-state-file

dir=$(state_dir no-source <<< "{ \"version\": 1, \"outcome\": \"interrupted\", \"target\": \"$TARGET\" }")
refused 3 "rollback with a state file missing a field" 'a field is missing' rollback --yes --state-dir "$dir"
refused 3 "cleanup with a state file missing a field" 'a field is missing' cleanup --yes --state-dir "$dir"

# A scratch daemon.json stands in for the real one in the records below:
# should a refusal fail, the real file is not what gets restored.
inside sh -c 'mkdir -p /tmp/ddr-scratch && echo "{ \"scratch\": 1 }" > /tmp/ddr-scratch/daemon.json &&
        echo "{ \"scratch\": 0 }" > /tmp/ddr-scratch/daemon.json.bak' || e2e_die "cannot write the scratch files"
record() {
        jq -n --arg outcome "$1" --arg target "$2" --arg driver "$3" --arg source "$HARNESS_DATAROOT" '{
                version: 1, source: $source, target: $target, config: "/tmp/ddr-scratch/daemon.json",
                config_existed: true, backup: "/tmp/ddr-scratch/daemon.json.bak", driver: $driver,
                images: 0, containers: 0, pid: 1, stage: "copy", completed: ["stop"], outcome: $outcome }
                | if $driver == "" then del(.driver) else . end'
}
dir=$(state_dir cleaned-up < <(record cleaned-up "$TARGET" overlay2))
refused 3 "rollback after cleanup" "removed by 'cleanup'" rollback --yes --state-dir "$dir"
dir=$(state_dir pending < <(record interrupted "$HARNESS_TARGET_MNT/elsewhere" overlay2))
refused 3 "migrate to another target while one is pending" 'Refused \(pending-migration\).*elsewhere' \
        migrate --yes --state-dir "$dir" "$TARGET"
dir=$(state_dir rollback-failed < <(record rollback-failed "$TARGET" overlay2))
refused 3 "migrate after a failed rollback" 'Refused \(pending-migration\).*rollback of the migration.*failed' \
        migrate --yes --state-dir "$dir" "$TARGET"
dir=$(state_dir engine-elsewhere < <(record interrupted "$TARGET" overlay2 | jq '.source = "/srv/ddr-elsewhere"'))
refused 3 "resume with the engine on neither the recorded source nor the target" \
        'Refused \(engine-running\).*neither the recorded source' migrate --yes --state-dir "$dir" "$TARGET"
dir=$(state_dir no-driver < <(record running "$TARGET" ''))
refused 3 "resume with the engine down and the record incomplete" 'Refused \(engine-running\).*incomplete' \
        DOCKER_HOST=unix:///run/ddr-no-engine.sock migrate --yes --state-dir "$dir" "$TARGET"
dir=$(state_dir no-bus < <(record interrupted "$TARGET" overlay2))
refused 3 "rollback without a system bus" 'Failed to connect to the system bus' \
        DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/ddr-no-bus rollback --yes --state-dir "$dir"
check_eq "rollback without a system bus: the scratch daemon.json was not restored" '{ "scratch": 1 }' \
        "$(inside cat /tmp/ddr-scratch/daemon.json)"

# ---- the environment: exit 3 ----
refused 3 "DOCKER_HOST over tcp" 'Refused \(engine-running\).*not a unix socket' \
        DOCKER_HOST=tcp://127.0.0.1:2375 migrate --yes "$TARGET"
refused 3 "no engine at DOCKER_HOST" 'Refused \(engine-running\).*did not answer' \
        DOCKER_HOST=unix:///run/ddr-no-engine.sock migrate --yes "$TARGET"
refused 3 "no system bus" 'Refused \(systemd\).*system bus' \
        DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/ddr-no-bus migrate --yes "$TARGET"

# as_nobody WHAT REGEX ARGS...: refused like 'refused 3', run as uid 65534.
as_nobody() {
        local what=$1 regex=$2
        shift 2
        snapshot "$T/before"
        e2e_log "\$ docker-dataroot $* (as nobody)"
        DDR_OUTPUT=$(inside setpriv --reuid=65534 --regid=65534 --clear-groups -- timeout 60 "$DDR_BIN" "$@" \
                2>&1 < /dev/null)
        DDR_RC=$?
        echo "$DDR_OUTPUT" | sed 's/^/#   | /'
        check_eq "$what: exit 3" 3 "$DDR_RC"
        check "$what: the message says so (/$regex/)" grep -Eq -- "$regex" <<< "$DDR_OUTPUT"
        snapshot "$T/after"
        check_same_file "$what: nothing changed" "$T/before" "$T/after"
}
as_nobody "migrate, not root" 'needs root' migrate --yes "$TARGET"
# The state directory is root's: a dry run in a scratch one gets to the checks.
as_nobody "migrate --dry-run, not root" 'Refused \(root\)' \
        migrate --dry-run --state-dir /tmp/ddr-state-nobody "$TARGET"
check "migrate --dry-run, not root: the engine's socket refuses too" \
        grep -Eq 'Refused \(engine-running\).*no permission' <<< "$DDR_OUTPUT"

# Engines that are not what the tool can move: a fake engine answers
# /info with the real engine's document, changed. It listens on sockets
# below the container's /run, bound from the host.
cat > "$T/fake-engine.py" <<'EOF'
import http.server, json, os, socket, socketserver, sys, threading

real_socket, socket_dir, ready = sys.argv[1:4]

def real_info():
    s = socket.socket(socket.AF_UNIX)
    s.connect(real_socket)
    s.sendall(b"GET /info HTTP/1.0\r\nHost: docker\r\n\r\n")
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return json.loads(data.split(b"\r\n\r\n", 1)[1])

BASE = real_info()
VARIANTS = {
    "rootless": lambda i: i.update(SecurityOptions=(i.get("SecurityOptions") or []) + ["name=rootless"]),
    "desktop": lambda i: i.update(OperatingSystem="Docker Desktop"),
    "snapshotter": lambda i: i.update(DriverStatus=[["driver-type", "io.containerd.snapshotter.v1"]]),
    "no-root-dir": lambda i: i.pop("DockerRootDir", None),
    "relative-root-dir": lambda i: i.update(DockerRootDir="docker"),
    "scratch-root-dir": lambda i: i.update(DockerRootDir="/tmp/ddr-engine-root"),
}

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        info = json.loads(json.dumps(BASE))
        VARIANTS[self.server.variant](info)
        body = json.dumps(info).encode()
        self.send_response(200 if self.path.endswith("/info") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

for name in VARIANTS:
    path = "%s/ddr-fake-%s.sock" % (socket_dir, name)
    if os.path.exists(path):
        os.unlink(path)
    server = socketserver.ThreadingUnixStreamServer(path, Handler)
    server.variant = name
    threading.Thread(target=server.serve_forever, daemon=True).start()
open(ready, "w").close()
threading.Event().wait(600)
EOF
python3 "$T/fake-engine.py" "$HARNESS_ROOT/run/docker.sock" "$HARNESS_ROOT/run" "$T/fake-engine.ready" &
FAKE_ENGINE_PID=$!
for _ in $(seq 1 100); do
        [ -e "$T/fake-engine.ready" ] && break
        sleep 0.1
done
[ -e "$T/fake-engine.ready" ] || e2e_die "the fake engine did not start"
refused 3 "rootless engine" 'Refused \(docker-rootless\)' \
        DOCKER_HOST=unix:///run/ddr-fake-rootless.sock migrate --yes "$TARGET"
refused 3 "Docker Desktop" 'Refused \(docker-desktop\)' \
        DOCKER_HOST=unix:///run/ddr-fake-desktop.sock migrate --yes "$TARGET"
refused 3 "containerd image store (reported by the engine)" 'Refused \(containerd-snapshotter\)' \
        DOCKER_HOST=unix:///run/ddr-fake-snapshotter.sock migrate --yes "$TARGET"
refused 3 "an engine whose /info lacks DockerRootDir" 'Refused \(engine-running\)' \
        DOCKER_HOST=unix:///run/ddr-fake-no-root-dir.sock migrate --yes "$TARGET"
refused 3 "an engine that reports a relative DockerRootDir" 'Refused \(engine-running\).*no DockerRootDir' \
        DOCKER_HOST=unix:///run/ddr-fake-relative-root-dir.sock migrate --yes "$TARGET"

# ---- trees that must not be removed: in use, or joined to the tree kept ----
# Recorded migrations name scratch trees, so that a refusal that fails
# costs only scratch data; each tree holds a file that must survive.
scratch_tree() {
        local dir
        for dir in "$@"; do
                inside mkdir -p "$dir" && inside sh -c "echo keep > $dir/keep.txt" || e2e_die "cannot make $dir"
        done
}
record_trees() {
        record "$1" "$2" overlay2 | jq --arg source "$3" '.source = $source'
}
survives() {
        local dir
        for dir in "$@"; do
                check_eq "... $dir/keep.txt is still there" keep "$(inside cat "$dir/keep.txt" 2>&1)"
        done
}
scratch_tree /tmp/ddr-engine-root /tmp/ddr-kept /tmp/ddr-outer/inner
inside ln -s /tmp/ddr-kept /tmp/ddr-alias || e2e_die "cannot make /tmp/ddr-alias"

dir=$(state_dir in-use-engine < <(record_trees rolled-back /tmp/ddr-engine-root /tmp/ddr-kept))
refused 3 "rollback --remove-target of the tree the engine runs on" 'Docker ran from /tmp/ddr-engine-root since the migration stopped it' \
        DOCKER_HOST=unix:///run/ddr-fake-scratch-root-dir.sock rollback --yes --remove-target --state-dir "$dir"
survives /tmp/ddr-engine-root
jq '. + { "data-root": "/tmp/ddr-kept" }' "$T/daemon.json.orig" | inside sh -c 'cat > /etc/docker/daemon.json'
dir=$(state_dir in-use-config < <(record_trees rolled-back /tmp/ddr-kept /tmp/ddr-outer/inner))
refused 3 "rollback --remove-target of the tree daemon.json names" 'names /tmp/ddr-kept as Docker.s data-root' \
        rollback --yes --remove-target --state-dir "$dir"
survives /tmp/ddr-kept
inside sh -c 'cat > /etc/docker/daemon.json' < "$T/daemon.json.orig"
dir=$(state_dir alias < <(record_trees rolled-back /tmp/ddr-alias /tmp/ddr-kept))
refused 3 "rollback --remove-target of a symlink to the tree kept" 'same directory or one holds the other' \
        rollback --yes --remove-target --state-dir "$dir"
survives /tmp/ddr-kept
dir=$(state_dir outer < <(record_trees rolled-back /tmp/ddr-outer /tmp/ddr-outer/inner))
refused 3 "rollback --remove-target of a tree holding the tree kept" 'same directory or one holds the other' \
        rollback --yes --remove-target --state-dir "$dir"
survives /tmp/ddr-outer/inner

# cleanup: the engine (fake) runs on the recorded target, /tmp/ddr-engine-root.
dir=$(state_dir cleanup-bind < <(record_trees "done" /tmp/ddr-engine-root /tmp/ddr-bind))
inside mkdir -p /tmp/ddr-bind && inside mount --bind /tmp/ddr-engine-root /tmp/ddr-bind ||
        e2e_die "cannot bind /tmp/ddr-engine-root to /tmp/ddr-bind"
refused 3 "cleanup of an old tree that is a bind mount of the engine's" 'same directory or one holds the other' \
        DOCKER_HOST=unix:///run/ddr-fake-scratch-root-dir.sock cleanup --yes --state-dir "$dir"
survives /tmp/ddr-engine-root
inside umount /tmp/ddr-bind || e2e_die "cannot unmount /tmp/ddr-bind"
inside ln -s /tmp/ddr-engine-root /tmp/ddr-engine-alias || e2e_die "cannot make /tmp/ddr-engine-alias"
dir=$(state_dir cleanup-alias < <(record_trees "done" /tmp/ddr-engine-root /tmp/ddr-engine-alias))
refused 3 "cleanup of an old tree that is a symlink to the engine's" 'same directory or one holds the other' \
        DOCKER_HOST=unix:///run/ddr-fake-scratch-root-dir.sock cleanup --yes --state-dir "$dir"
survives /tmp/ddr-engine-root
jq '. + { "data-root": "/tmp/ddr-kept" }' "$T/daemon.json.orig" | inside sh -c 'cat > /etc/docker/daemon.json'
dir=$(state_dir cleanup-config < <(record_trees "done" /tmp/ddr-engine-root /tmp/ddr-kept))
refused 3 "cleanup of the old tree daemon.json names" 'names /tmp/ddr-kept as Docker.s data-root' \
        DOCKER_HOST=unix:///run/ddr-fake-scratch-root-dir.sock cleanup --yes --state-dir "$dir"
survives /tmp/ddr-kept
inside sh -c 'cat > /etc/docker/daemon.json' < "$T/daemon.json.orig"

kill "$FAKE_ENGINE_PID" 2>/dev/null
wait "$FAKE_ENGINE_PID" 2>/dev/null
inside sh -c 'rm -f /run/ddr-fake-*.sock'

# ---- targets and configurations no other test refuses: exit 3 ----
inside sh -c "echo data > $HARNESS_TARGET_MNT/a-file" || e2e_die "cannot create a file"
refused 3 "target below a regular file" 'Refused \(target-symlink\).*not a directory' \
        migrate --yes "$HARNESS_TARGET_MNT/a-file/docker"
inside rm "$HARNESS_TARGET_MNT/a-file"

inside mkdir -p "$HARNESS_TARGET_MNT/top/lost+found" || e2e_die "cannot make lost+found"
refused 3 "target holding only lost+found" 'Refused \(target-empty\).*lost\+found' \
        migrate --yes "$HARNESS_TARGET_MNT/top"
inside rm -rf "$HARNESS_TARGET_MNT/top"

refused 3 "target with a .. component" 'Refused \(target-absolute\)' migrate --yes "$HARNESS_TARGET_MNT/../target-fs/docker"

refused 3 "target containing the data-root" 'Refused \(target-nesting\)' migrate --yes /var/lib

# Leave less room than the data plus the margin (128 MiB).
free_mib=$(inside df -m --output=avail "$HARNESS_TARGET_MNT" | tail -n 1 | tr -d ' ')
inside fallocate -l "$((free_mib - 64))M" "$HARNESS_TARGET_MNT/filler" || e2e_die "fallocate failed"
refused 3 "target filesystem too full" 'Refused \(target-space\)' migrate --yes "$TARGET"
inside rm "$HARNESS_TARGET_MNT/filler"

# No inodes left: a tmpfs with few (it is refused for its type as well;
# both refusals are listed).
inside mkdir /mnt/ddr-tiny && inside mount -t tmpfs -o size=64m,nr_inodes=64 ddr-e2e-tiny /mnt/ddr-tiny ||
        e2e_die "cannot mount a small tmpfs at /mnt/ddr-tiny"
refused 3 "target filesystem without enough inodes" 'Refused \(target-inodes\)' migrate --yes /mnt/ddr-tiny/docker
check_eq "target filesystem without enough inodes: it is still empty" "" "$(inside ls -A /mnt/ddr-tiny)"
inside umount /mnt/ddr-tiny && inside rmdir /mnt/ddr-tiny || e2e_die "cannot remove the small tmpfs"

# The overlay probe cannot create its scratch directory: the target's
# parent is immutable.
inside mkdir "$HARNESS_TARGET_MNT/locked" && inside chattr +i "$HARNESS_TARGET_MNT/locked" ||
        e2e_die "cannot make $HARNESS_TARGET_MNT/locked immutable"
refused 3 "target whose parent refuses the overlay probe" \
        'Refused \(target-overlay-support\).*cannot create a probe directory' \
        migrate --yes "$HARNESS_TARGET_MNT/locked/docker"
inside chattr -i "$HARNESS_TARGET_MNT/locked" && inside rmdir "$HARNESS_TARGET_MNT/locked" ||
        e2e_die "cannot remove $HARNESS_TARGET_MNT/locked"

refused 3 "--config naming a directory" 'Refused \(config-valid\).*cannot read' \
        migrate --yes --config /etc/docker "$TARGET"
refused 3 "--config below a regular file" 'Refused \(config-valid\).*cannot resolve' \
        migrate --yes --config /etc/hostname/daemon.json "$TARGET"

jq '. + { "data-root": "/srv/elsewhere" }' "$T/daemon.json.orig" | inside sh -c 'cat > /etc/docker/daemon.json'
refused 3 "daemon.json names another data-root than the engine's" \
        'Refused \(data-root-consistent\).*/srv/elsewhere' migrate --yes "$TARGET"
inside sh -c 'cat > /etc/docker/daemon.json' < "$T/daemon.json.orig"

answer_no "migrate answered no" 'Aborted; nothing was changed' migrate "$TARGET"
check "no refusal wrote a journal" absent_inside "$DDR_STATE_FILE"

# ---- refusals that need a completed migration ----
# A container with a volume, whose mount the migration points at the target.
build_test_image
docker create --name "$APP_CONTAINER" -v "$TEST_VOLUME:/vol" "$TEST_IMAGE" true >/dev/null ||
        e2e_die "docker create failed"
APP_ID=$(docker inspect -f '{{.Id}}' "$APP_CONTAINER")
ddr migrate --yes "$TARGET"
[ "$DDR_RC" = 0 ] || e2e_die "the migration to $TARGET failed (exit $DDR_RC)"
wait_docker 60 || e2e_die "docker does not answer after the migration"
SNAPSHOT_TARGET=0       # dockerd runs there now and writes as it likes
manifest "$HARNESS_DATAROOT" "$T/source.migrated"
refused 3 "rollback --remove-target after a completed migration" '--remove-target would delete it' \
        rollback --yes --remove-target
check "rollback --remove-target: the copy is still there" inside test -f \
        "$TARGET/volumes/$TEST_VOLUME/_data/record.txt"
check_eq "rollback --remove-target: Docker still runs on the target" "$TARGET" "$(docker_info DockerRootDir)"
refused 3 "cleanup while the engine does not answer" 'Docker must be running on' \
        DOCKER_HOST=unix:///run/ddr-no-engine.sock cleanup --yes
# A container on the target whose volume mount still names the old tree:
# removing that tree would take its data away.
APP_CONFIG=$TARGET/containers/$APP_ID/config.v2.json
inside cp -p "$APP_CONFIG" /tmp/ddr-app-config.json || e2e_die "cannot save $APP_CONFIG"
inside sed -i "s|\"Source\":\"$TARGET/volumes/|\"Source\":\"$HARNESS_DATAROOT/volumes/|g" "$APP_CONFIG" ||
        e2e_die "cannot edit $APP_CONFIG"
inside grep -qF "\"Source\":\"$HARNESS_DATAROOT/volumes/$TEST_VOLUME/_data\"" "$APP_CONFIG" ||
        e2e_die "$APP_CONFIG holds no volume mount to point back"
refused 3 "cleanup while a container's volume mount names the old tree" 'still name volume paths under' \
        cleanup --yes
inside cp -p /tmp/ddr-app-config.json "$APP_CONFIG" || e2e_die "cannot restore $APP_CONFIG"
answer_no "cleanup answered no" 'Aborted; nothing was changed' cleanup
answer_no "rollback answered no" 'Aborted; nothing was changed' rollback
manifest "$HARNESS_DATAROOT" "$T/source.now"
check_same_file "the old data-root is intact after the refused cleanups" "$T/source.migrated" "$T/source.now"

ddr rollback --yes
[ "$DDR_RC" = 0 ] || e2e_die "rollback failed (exit $DDR_RC)"
wait_docker 60 || e2e_die "docker does not answer after the rollback"
refused 3 "cleanup after a rollback" 'not done and verified' cleanup --yes
refused 0 "rollback after a rollback (nothing to do)" 'already rolled back' rollback --yes
check_eq "Docker runs on the old data-root" "$HARNESS_DATAROOT" "$(docker_info DockerRootDir)"
check_eq "the volume reads back" precious \
        "$(inside cat "$HARNESS_DATAROOT/volumes/$TEST_VOLUME/_data/record.txt")"
inside cat /etc/docker/daemon.json > "$T/daemon.json.end"
check_same_file "daemon.json is back to its original bytes" "$T/daemon.json.orig" "$T/daemon.json.end"

e2e_finish
