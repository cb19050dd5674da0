#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# test/demo.sh - watch docker-dataroot move a live Docker engine's data-root.
#
# On a Debian 12 machine, as root: installs what it needs, builds the tool,
# boots a throwaway machine running systemd and Docker (test/harness), puts
# an image, a container and a volume with a note in it, runs
#     docker-dataroot migrate --yes /mnt/target-fs/docker
# inside, and shows Docker before and after. Everything is torn down at the
# end; the host's own Docker, if any, is never touched.
#
# DEMO_SKIP_INSTALL=1 skips apt-get; HARNESS_TARGET_FS picks the target
# filesystem (xfs by default; ext4, btrfs, tmpfs).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
BUILD=$ROOT/build-demo

if [ -t 1 ]; then
        step() { printf '\n\033[1m=== %s\033[0m\n' "$*"; }
else
        step() { printf '\n=== %s\n' "$*"; }
fi
note() { echo "    $*"; }
die() {
        echo "demo: $*" >&2
        exit 1
}

[ "$(id -u)" = 0 ] || die "run as root: it installs packages and boots a container machine"

if [ "${DEMO_SKIP_INSTALL:-0}" != 1 ]; then
        step "1/6 Installing the packages (apt-get)"
        mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' test/harness/packages.txt)
        policy=/usr/sbin/policy-rc.d
        made_policy=
        # Keep docker.io's postinst from starting a host dockerd: the demo uses its own.
        if [ ! -e "$policy" ]; then
                printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 0755 "$policy" && made_policy=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get update -q > /dev/null &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                        "${packages[@]}" > /dev/null
        rc=$?
        [ -n "$made_policy" ] && rm -f "$policy"
        [ $rc = 0 ] || die "apt-get install failed"
        note "installed: ${packages[*]}"
else
        step "1/6 Installing the packages: skipped (DEMO_SKIP_INSTALL=1)"
fi

step "2/6 Building docker-dataroot"
if [ ! -d "$BUILD" ]; then
        meson setup "$BUILD" > /dev/null || die "meson setup failed"
fi
meson compile -C "$BUILD" docker-dataroot > /dev/null ||
        die "the build failed (meson compile -C $BUILD docker-dataroot shows why)"
note "$("$BUILD/docker-dataroot" --version 2>&1 | head -n 1)"

export DDR_SOURCE_ROOT=$ROOT DDR_BUILD_ROOT=$BUILD DDR_BIN=$BUILD/docker-dataroot
. "$ROOT/test/e2e/lib.sh"
E2E_NAME=demo
E2E_TMP=$(mktemp -d /var/tmp/ddr-demo.XXXXXX) || die "mktemp failed"
trap e2e_cleanup EXIT
trap 'exit 1' INT TERM

step "3/6 Booting a throwaway machine with systemd and Docker"
e2e_up
note "machine: systemd-nspawn on an overlay of this host's /, private network"
note "its /var/lib/docker: a loop-mounted ext4; $HARNESS_TARGET_MNT: a loop-mounted $HARNESS_TARGET_FS"
note "run commands in it yourself:  test/harness/in.sh $HARNESS_ID docker ps"

step "4/6 Putting data into Docker"
build_test_image
note "image $TEST_IMAGE: built FROM scratch with a static busybox"
docker volume create demo-notes > /dev/null || die "docker volume create failed"
# The first run writes the note, every run prints it.
docker run --name demo-app -v demo-notes:/notes "$TEST_IMAGE" sh -c \
        'test -e /notes/note.txt || echo "written before the move, at $(date)" > /notes/note.txt; cat /notes/note.txt' \
        > "$E2E_TMP/note" || die "the container did not run"
note "container demo-app wrote into volume demo-notes: $(cat "$E2E_TMP/note")"
ROOT_BEFORE=$(docker_info DockerRootDir)
note "Docker Root Dir before: $ROOT_BEFORE"
note "images: $(docker_info Images), containers: $(docker_info Containers)"

step "5/6 docker-dataroot migrate --yes $TARGET (inside the machine)"
inside "$DDR_BIN" migrate --yes "$TARGET"
rc=$?
note "exit status: $rc"

step "6/6 After the move"
note "Docker Root Dir before: $ROOT_BEFORE"
note "Docker Root Dir after:  $(docker_info DockerRootDir)"
note "images: $(docker_info Images), containers: $(docker_info Containers)"
note "daemon.json now:"
inside cat /etc/docker/daemon.json | sed 's/^/        /'
note "demo-app starts again and reads its volume:"
docker start -a demo-app | sed 's/^/        /'
note "the old data-root is left as it was: $(inside du -sh "$HARNESS_DATAROOT" | cut -f1) in $HARNESS_DATAROOT"

echo
if [ $rc = 0 ]; then
        echo "Done: Docker now keeps its data in $TARGET. Tearing the machine down."
        echo "The tool itself is $BUILD/docker-dataroot ('meson install -C $BUILD' puts it in /usr/local/bin)."
else
        echo "The migration did not complete (exit $rc); see its output above. Tearing the machine down."
fi
exit $rc
