# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034 # names defined here are used by the sourcing scripts
# Sourced by up.sh, down.sh, in.sh and the tests: names and paths shared by
# every harness instance. Not executable on its own.

# Disk-backed by default: the loop images and the dockerd data must not eat RAM.
HARNESS_RUNDIR=${HARNESS_RUNDIR:-/var/tmp/docker-dataroot-harness}

# Fixed paths inside the container, so tests and docs can name them.
HARNESS_TARGET_MNT=/mnt/target-fs
HARNESS_DATAROOT=/var/lib/docker

HARNESS_INSIDE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

harness_check_id() {
        case "$1" in
        '' | all | *[!A-Za-z0-9-]*)
                echo "harness: bad instance ID '$1' (letters, digits and '-' only)" >&2
                return 2 ;;
        esac
        if [ ${#1} -gt 40 ]; then
                echo "harness: instance ID '$1' is longer than 40 characters" >&2
                return 2
        fi
}

harness_dir() { echo "$HARNESS_RUNDIR/$1"; }

# Also the machine name: the prefix keeps our cgroups apart from any other
# nspawn user's on the same host.
harness_cgroup_name() { echo "ddr-harness-$1"; }

# Every cgroup hierarchy in which the launcher gets a private cgroup: the
# named systemd one and the cgroup2 one on a hybrid host, the root on a
# unified host.
harness_cgroup_roots() {
        if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
                echo /sys/fs/cgroup
                return
        fi
        local h
        for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
                [ -d "$h" ] && echo "$h"
        done
}

# True while pid $2 is alive and still inside the instance's cgroup: a pid
# file alone may name a reused pid.
harness_pid_is_ours() {
        local cg pid=$2
        cg=$(harness_cgroup_name "$1")
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
                grep -Eq "/$cg(/|\$)" "/proc/$pid/cgroup" 2>/dev/null
}

# Prints whatever instance $1 left behind (empty output = clean).
harness_residue() {
        local id=$1 dir cg root f
        dir=$(harness_dir "$id")
        cg=$(harness_cgroup_name "$id")
        [ -e "$dir" ] && echo "run dir $dir"
        for root in $(harness_cgroup_roots); do
                [ -d "$root/$cg" ] && echo "cgroup $root/$cg"
        done
        grep -F " $dir/" /proc/self/mountinfo | awk '{ print "mount " $5 }'
        for f in "$dir"/disks/source.img "$dir"/disks/target.img; do
                losetup -n -O NAME,BACK-FILE 2>/dev/null | grep -F "$f" | sed 's/^/loop device /'
        done
        pgrep -a -f -- "--machine=$cg( |\$)" | sed 's/^/process /'
        return 0
}
