#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# up.sh [ID] - boot a throwaway machine with a real systemd as PID 1 and
# Debian's docker.io (docker.socket + docker.service) under it, for the
# end-to-end tests of docker-dataroot.
#
# The machine is a systemd-nspawn container on an overlay of this host's own
# root (writes land on a tmpfs and vanish). Its /var/lib/docker lives on a
# loop-mounted ext4, and a second loop-mounted filesystem is mounted at
# /mnt/target-fs, so a test can migrate /var/lib/docker to
# /mnt/target-fs/docker across filesystems. Every mount is made inside the
# launcher's private mount namespace and disappears with it.
#
# On success prints sourceable KEY=value lines (also kept in
# $HARNESS_RUNDIR/ID/env):
#   HARNESS_ID HARNESS_DIR HARNESS_NSPAWN_PID HARNESS_LEADER_PID
#   HARNESS_ROOT             the container's / seen from the host
#   HARNESS_TARGET_MNT       the target filesystem's mount point inside
#   HARNESS_TARGET_FS        its type
#   HARNESS_DATAROOT         the data-root inside (/var/lib/docker)
#   HARNESS_IN               in.sh, to run commands inside: "$HARNESS_IN" "$HARNESS_ID" cmd...
#   DBUS_SYSTEM_BUS_ADDRESS  the container's system bus, usable from the host
#   DOCKER_HOST              the container's dockerd, usable from the host
# Stop it with down.sh ID, also after a failed up.sh. Needs root.
#
# Settings (environment):
#   HARNESS_TARGET_FS=xfs|ext4|ext4-nodtype|btrfs|tmpfs  target filesystem
#                            (default xfs; ext4-nodtype: ext4 without the
#                            filetype feature, so readdir gives no d_type)
#   HARNESS_SOURCE_SIZE, HARNESS_TARGET_SIZE  sparse image sizes (default 1G)
#   HARNESS_BIND_RO="DIR..."  host directories bound read-only at the same
#                       path inside; default: this source tree, plus
#                       $DDR_BUILD_ROOT when it lies outside it
#   HARNESS_NSPAWN_ARGS extra systemd-nspawn options (word-split)
#   HARNESS_BOOT_TIMEOUT seconds to wait for systemd and for dockerd (120)
#   HARNESS_KEEP_ON_FAIL=1  leave a failed instance for inspection
#   HARNESS_RUNDIR      where instances live (default /var/tmp/docker-dataroot-harness;
#                       must be on a disk, not on tmpfs)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/common.sh"

ID=${1:-up$$}
harness_check_id "$ID" || exit 2
DIR=$(harness_dir "$ID")
CG=$(harness_cgroup_name "$ID")
TARGET_FS=${HARNESS_TARGET_FS:-xfs}
SOURCE_SIZE=${HARNESS_SOURCE_SIZE:-1G}
TARGET_SIZE=${HARNESS_TARGET_SIZE:-1G}
TIMEOUT=${HARNESS_BOOT_TIMEOUT:-120}
SOURCE_TREE=$(cd "$HERE/../.." && pwd)

log() { echo "[harness up $ID +${SECONDS}s] $*" >&2; }

case "$TARGET_FS" in
ext4 | ext4-nodtype | xfs | btrfs | tmpfs) ;;
*) echo "HARNESS_TARGET_FS must be one of ext4, ext4-nodtype, xfs, btrfs, tmpfs" >&2; exit 2 ;;
esac
if [ "$(id -u)" != 0 ]; then
        echo "harness: must run as root" >&2
        exit 2
fi
missing=
for tool in systemd-nspawn nsenter unshare losetup mkfs.ext4 dockerd; do
        command -v "$tool" >/dev/null || missing="$missing $tool"
done
case "$TARGET_FS" in
xfs) command -v mkfs.xfs >/dev/null || missing="$missing mkfs.xfs" ;;
btrfs) command -v mkfs.btrfs >/dev/null || missing="$missing mkfs.btrfs" ;;
esac
if [ -n "$missing" ]; then
        # Installing is the suite's job (test/run-suite.sh), never the harness's.
        echo "harness: missing:$missing (test/run-suite.sh installs them)" >&2
        exit 2
fi

mkdir -p "$HARNESS_RUNDIR"
# mkdir without -p is the lock: two up.sh with one ID cannot both get here.
if ! mkdir "$DIR" 2>/dev/null; then
        log "$DIR already exists: run down.sh $ID first"
        exit 1
fi
if [ "$(stat -fc %T "$DIR")" = tmpfs ]; then
        log "HARNESS_RUNDIR=$HARNESS_RUNDIR is on tmpfs; use a directory on a disk"
        rmdir "$DIR"
        exit 2
fi

fail() {
        trap - ERR
        log "FAILED: $*"
        if [ -s "$DIR/console.log" ]; then
                echo "---- last lines of $DIR/console.log ----" >&2
                tail -n 30 "$DIR/console.log" >&2
        fi
        if [ "${HARNESS_KEEP_ON_FAIL:-0}" != 1 ]; then
                "$HERE/down.sh" "$ID" >&2 || true
        fi
        exit 1
}
trap 'fail "command failed at line $LINENO"' ERR
trap 'fail "interrupted"' INT TERM

mkdir -p "$DIR"/{disks,mnt/source,mnt/target,ovl,root,cfg/etc/docker,cfg/etc/systemd/system}

# ---- filesystems: made here, mounted only inside the launcher's namespace ----
truncate -s "$SOURCE_SIZE" "$DIR/disks/source.img"
mkfs.ext4 -q -F -L ddr-source "$DIR/disks/source.img"
case "$TARGET_FS" in
ext4)
        truncate -s "$TARGET_SIZE" "$DIR/disks/target.img"
        mkfs.ext4 -q -F -L ddr-target "$DIR/disks/target.img" ;;
ext4-nodtype)
        # What overlay2 cannot use, like xfs ftype=0, which this kernel
        # no longer mounts (xfs V4).
        truncate -s "$TARGET_SIZE" "$DIR/disks/target.img"
        mkfs.ext4 -q -F -O ^filetype -L ddr-target "$DIR/disks/target.img" ;;
xfs)
        # overlay2 needs d_type: ftype=1 (also the only kind this kernel mounts).
        truncate -s "$TARGET_SIZE" "$DIR/disks/target.img"
        mkfs.xfs -q -f -m crc=1 -n ftype=1 -L ddr-target "$DIR/disks/target.img" ;;
btrfs)
        truncate -s "$TARGET_SIZE" "$DIR/disks/target.img"
        mkfs.btrfs -q -f -L ddr-target "$DIR/disks/target.img" >/dev/null ;;
tmpfs) ;;
esac

# ---- the container's configuration, copied over its /etc ----
cat > "$DIR/cfg/etc/docker/daemon.json" <<'EOF'
{
        "iptables": false,
        "ip6tables": false,
        "bridge": "none",
        "storage-driver": "overlay2",
        "log-driver": "json-file",
        "log-opts": { "max-size": "10m", "max-file": "2" }
}
EOF
# Units of the host image that have no business in a test machine.
MASKED_UNITS="postgresql.service e2scrub_reap.service e2scrub_all.timer apt-daily.timer
        apt-daily-upgrade.timer man-db.timer dpkg-db-backup.timer systemd-tmpfiles-clean.timer
        console-getty.service getty.target systemd-networkd.service systemd-resolved.service
        systemd-timesyncd.service"
for unit in $MASKED_UNITS; do
        ln -s /dev/null "$DIR/cfg/etc/systemd/system/$unit"
done

# ---- what the container binds ----
# A directory inside another one on the list is already visible through it.
BIND_RO=${HARNESS_BIND_RO-}
if [ -z "$BIND_RO" ]; then
        BIND_RO="$SOURCE_TREE ${DDR_BUILD_ROOT:-}"
fi
bind_dirs=()
for d in $BIND_RO; do
        [ -d "$d" ] || fail "HARNESS_BIND_RO: $d is not a directory"
        bind_dirs+=("$(cd "$d" && pwd -P)")
done
NSPAWN_BINDS=()
for d in "${bind_dirs[@]}"; do
        covered=
        for other in "${bind_dirs[@]}"; do
                case "$d" in
                "$other"/*) covered=1 ;;
                esac
        done
        for done_dir in "${NSPAWN_BINDS[@]}"; do
                [ "$done_dir" = "--bind-ro=$d:$d" ] && covered=1
        done
        [ -n "$covered" ] || NSPAWN_BINDS+=("--bind-ro=$d:$d")
done

{
        printf 'DIR=%q\n' "$DIR"
        printf 'CG=%q\n' "$CG"
        printf 'TARGET_FS=%q\n' "$TARGET_FS"
        printf 'TARGET_SIZE=%q\n' "$TARGET_SIZE"
        printf 'TARGET_MNT=%q\n' "$HARNESS_TARGET_MNT"
        printf 'DATAROOT=%q\n' "$HARNESS_DATAROOT"
        printf 'MASKED_UNITS=%q\n' "$MASKED_UNITS"
        if [ ${#NSPAWN_BINDS[@]} -gt 0 ]; then
                printf 'NSPAWN_BINDS=(%s)\n' "$(printf '%q ' "${NSPAWN_BINDS[@]}")"
        else
                echo 'NSPAWN_BINDS=()'
        fi
        printf 'NSPAWN_EXTRA=%q\n' "${HARNESS_NSPAWN_ARGS:-}"
} > "$DIR/config"

# ---- a private cgroup: nspawn --keep-unit puts payload/ and supervisor/ under it ----
for root in $(harness_cgroup_roots); do
        mkdir -p "$root/$CG"
done

log "starting systemd-nspawn (target filesystem: $TARGET_FS)"
setsid unshare --mount --propagation private "$HERE/launch.sh" "$DIR" \
        > "$DIR/console.log" 2>&1 < /dev/null &
NSPAWN_PID=$!
echo "$NSPAWN_PID" > "$DIR/nspawn.pid"

# ---- the container's PID 1 is the child of nspawn that runs systemd ----
LEADER_PID=
for _ in $(seq 1 $((TIMEOUT * 5))); do
        kill -0 "$NSPAWN_PID" 2>/dev/null || fail "systemd-nspawn exited"
        for child in $(ps -o pid= --ppid "$NSPAWN_PID" 2>/dev/null || true); do
                exe=$(readlink "/proc/$child/exe" 2>/dev/null || true)
                [ "${exe##*/}" = systemd ] && LEADER_PID=$child
        done
        [ -n "$LEADER_PID" ] && break
        sleep 0.2
done
[ -n "$LEADER_PID" ] || fail "the container's PID 1 did not appear"
echo "$LEADER_PID" > "$DIR/leader.pid"
log "container PID 1 is host pid $LEADER_PID, waiting for boot"

# systemctl talks to PID 1 through this socket; asking earlier fails at once.
for _ in $(seq 1 $((TIMEOUT * 5))); do
        [ -S "/proc/$LEADER_PID/root/run/systemd/private" ] && break
        kill -0 "$LEADER_PID" 2>/dev/null || fail "the container died"
        sleep 0.2
done
state=$(timeout "$TIMEOUT" "$HERE/in.sh" "$ID" systemctl is-system-running --wait 2>/dev/null) || true
log "system state: ${state:-unknown}"
if [ "$state" != running ]; then
        "$HERE/in.sh" "$ID" systemctl --failed --no-pager >&2 || true
fi

answered=
for _ in $(seq 1 $((TIMEOUT * 2))); do
        kill -0 "$LEADER_PID" 2>/dev/null || fail "the container died"
        if "$HERE/in.sh" "$ID" docker info >/dev/null 2>&1; then
                answered=1
                break
        fi
        sleep 0.5
done
if [ -z "$answered" ]; then
        "$HERE/in.sh" "$ID" systemctl status docker.service --no-pager >&2 || true
        fail "dockerd does not answer"
fi
log "dockerd answers"

{
        printf 'HARNESS_ID=%q\n' "$ID"
        printf 'HARNESS_DIR=%q\n' "$DIR"
        printf 'HARNESS_RUNDIR=%q\n' "$HARNESS_RUNDIR"
        printf 'HARNESS_NSPAWN_PID=%q\n' "$NSPAWN_PID"
        printf 'HARNESS_LEADER_PID=%q\n' "$LEADER_PID"
        printf 'HARNESS_ROOT=%q\n' "/proc/$LEADER_PID/root"
        printf 'HARNESS_TARGET_MNT=%q\n' "$HARNESS_TARGET_MNT"
        printf 'HARNESS_TARGET_FS=%q\n' "$TARGET_FS"
        printf 'HARNESS_DATAROOT=%q\n' "$HARNESS_DATAROOT"
        printf 'HARNESS_IN=%q\n' "$HERE/in.sh"
        printf 'DBUS_SYSTEM_BUS_ADDRESS=%q\n' "unix:path=/proc/$LEADER_PID/root/run/dbus/system_bus_socket"
        printf 'DOCKER_HOST=%q\n' "unix:///proc/$LEADER_PID/root/run/docker.sock"
} > "$DIR/env"
trap - ERR INT TERM
cat "$DIR/env"
