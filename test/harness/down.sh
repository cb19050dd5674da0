#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# down.sh ID|all - stop harness instance ID (or every instance under
# $HARNESS_RUNDIR) and remove all it made: processes, cgroups, loop devices,
# run dir. Idempotent, and safe after a failed, half-started or killed
# up.sh. Exits non-zero if anything is left behind.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/common.sh"

if [ $# -ne 1 ]; then
        echo "usage: down.sh ID|all" >&2
        exit 2
fi
if [ "$1" = all ]; then
        rc=0
        for d in "$HARNESS_RUNDIR"/*/; do
                [ -d "$d" ] || continue
                "$0" "$(basename "$d")" || rc=1
        done
        exit $rc
fi

ID=$1
harness_check_id "$ID" || exit 2
DIR=$(harness_dir "$ID")
CG=$(harness_cgroup_name "$ID")
log() { echo "[harness down $ID +${SECONDS}s] $*" >&2; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

NSPAWN_PID=$(cat "$DIR/nspawn.pid" 2>/dev/null || true)
LEADER_PID=$(cat "$DIR/leader.pid" 2>/dev/null || true)
harness_pid_is_ours "$ID" "$NSPAWN_PID" || NSPAWN_PID=
harness_pid_is_ours "$ID" "$LEADER_PID" || LEADER_PID=

if alive "$NSPAWN_PID"; then
        # nspawn turns SIGTERM into SIGRTMIN+3 for the container's systemd:
        # an orderly halt, so dockerd shuts down cleanly.
        kill -TERM "$NSPAWN_PID"
        for _ in $(seq 1 150); do
                alive "$NSPAWN_PID" || break
                sleep 0.2
        done
fi
if alive "$LEADER_PID"; then
        log "container still up: SIGKILL to its PID 1 ends its whole PID namespace"
        kill -KILL "$LEADER_PID"
        sleep 0.5
fi
if alive "$NSPAWN_PID"; then
        log "systemd-nspawn still up: SIGKILL"
        kill -KILL "$NSPAWN_PID"
        sleep 0.5
fi

# Stragglers in our cgroups (normally none), then the cgroups, deepest first.
for root in $(harness_cgroup_roots); do
        [ -d "$root/$CG" ] || continue
        while read -r procs; do
                for pid in $(cat "$procs" 2>/dev/null); do
                        log "killing straggler $pid ($procs)"
                        kill -KILL "$pid" 2>/dev/null
                done
        done < <(find "$root/$CG" -name cgroup.procs 2>/dev/null)
done
for root in $(harness_cgroup_roots); do
        for _ in $(seq 1 20); do
                [ -d "$root/$CG" ] || break
                find "$root/$CG" -depth -type d -exec rmdir {} \; 2>/dev/null
                [ -d "$root/$CG" ] && sleep 0.25
        done
done

# The mounts lived only in the launcher's namespace. If one leaked into ours
# (it should not), take it down before deleting anything below it.
if grep -qF " $DIR/" /proc/self/mountinfo; then
        log "mounts under $DIR are visible here: unmounting them"
        grep -F " $DIR/" /proc/self/mountinfo | awk '{ print $5 }' | sort -r |
                while read -r mnt; do umount -l "$mnt"; done
fi

# The namespace's end releases the filesystems, which detaches the autoclear
# loop devices; that can lag a little behind the last process.
images=()
for img in "$DIR/disks/source.img" "$DIR/disks/target.img"; do
        [ -e "$img" ] && images+=("$img")
done
for img in "${images[@]}"; do
        for _ in $(seq 1 50); do
                [ -z "$(losetup -n -O NAME -j "$img" 2>/dev/null)" ] && break
                sleep 0.2
        done
        for dev in $(losetup -n -O NAME -j "$img" 2>/dev/null); do
                log "loop device $dev still attached to $img: detaching"
                losetup -d "$dev"
        done
done

if grep -qF " $DIR/" /proc/self/mountinfo; then
        log "refusing to delete $DIR: something is still mounted below it"
        exit 1
fi
[ -e "$DIR" ] && rm -rf --one-file-system "$DIR"

left=$(harness_residue "$ID")
if [ -n "$left" ]; then
        log "left behind:"
        echo "$left" | sed 's/^/  /' >&2
        exit 1
fi
log "done"
