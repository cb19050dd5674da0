#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# launch.sh DIR - started by up.sh under `unshare --mount --propagation
# private`; becomes systemd-nspawn by exec, so one pid carries the private
# mount namespace from the first mount to the container's end. Everything
# mounted here is invisible to the host and goes away with that namespace;
# the loop devices come from `mount -o loop`, which sets autoclear, so they
# detach once their filesystem is gone.
set -euo pipefail

DIR=$1
. "$DIR/config"

# Into the private cgroup before nspawn creates payload/ and supervisor/ below it.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/common.sh"
for root in $(harness_cgroup_roots); do
        echo $$ > "$root/$CG/cgroup.procs"
done

# nspawn keeps state under /run/systemd/nspawn; keep it off the host's /run.
mkdir -p /run/systemd
mount -t tmpfs -o mode=0755 ddr-harness-run /run/systemd

# The overlay's upper layer must not share a filesystem with its lower (/).
mount -t tmpfs -o mode=0755 ddr-harness-overlay "$DIR/ovl"
mkdir "$DIR/ovl/upper" "$DIR/ovl/work"
mount -t overlay ddr-harness-root \
        -o "lowerdir=/,upperdir=$DIR/ovl/upper,workdir=$DIR/ovl/work" "$DIR/root"

mount -o loop "$DIR/disks/source.img" "$DIR/mnt/source"
# The root of an ext4 holds lost+found: the data-root is a directory below it.
mkdir -m 0710 "$DIR/mnt/source/docker"
mkdir -m 0711 "$DIR/mnt/source/containerd"
if [ "$TARGET_FS" = tmpfs ]; then
        mount -t tmpfs -o "size=$TARGET_SIZE,mode=0755" ddr-harness-target "$DIR/mnt/target"
else
        mount -o loop "$DIR/disks/target.img" "$DIR/mnt/target"
fi

cp -a "$DIR/cfg/etc/." "$DIR/root/etc/"
mkdir -p "$DIR/root$DATAROOT" "$DIR/root/var/lib/containerd" "$DIR/root$TARGET_MNT"

# A pure cgroup2 tree for the container: on a hybrid host the controllers
# stay bound to v1, but dockerd and runc work without them.
export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1
# nspawn's own syscall filter blocks keyctl (runc joins a session keyring)
# and bpf (runc's cgroup2 device filter).
export SYSTEMD_SECCOMP=0

# --register=no and --keep-unit: the host need not run systemd or machined.
# shellcheck disable=SC2086 # NSPAWN_EXTRA is a list of options on purpose
exec systemd-nspawn --directory="$DIR/root" --boot --machine="$CG" \
        --register=no --keep-unit --link-journal=no --console=read-only \
        --private-network --capability=all --drop-capability=CAP_SYS_MODULE \
        --bind="$DIR/mnt/source/docker:$DATAROOT" \
        --bind="$DIR/mnt/source/containerd:/var/lib/containerd" \
        --bind="$DIR/mnt/target:$TARGET_MNT" \
        "${NSPAWN_BINDS[@]}" $NSPAWN_EXTRA \
        systemd.unit=multi-user.target
