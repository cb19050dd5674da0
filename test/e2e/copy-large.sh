#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `docker-dataroot copy` and `verify --content` at sizes the unit test does
# not reach, between real filesystems: a loop-mounted ext4 source and a
# loop-mounted xfs destination, holding a directory of 100000 entries, a
# file of several GiB of random data and a sparse file with data beyond
# 4 GiB. The copy must verify with content and match byte for byte by an
# independent tool (cmp), and the sparse file must not grow.

set -uo pipefail

skip() {
        if [ "${DDR_TEST_NO_SKIP:-0}" = 1 ]; then
                echo "FAIL: $1 (DDR_TEST_NO_SKIP=1: a skip is a failure)"
                exit 1
        fi
        echo "SKIP: $1"
        exit 77
}
fail() { echo "not ok - $*"; FAILED=1; }
ok() { echo "ok - $*"; }

[ "$(id -u)" = 0 ] || skip "needs root"
for tool in losetup mkfs.ext4 mkfs.xfs cmp; do
        command -v "$tool" >/dev/null || skip "$tool is not installed"
done
DDR_BIN=${DDR_BIN:?DDR_BIN must name the docker-dataroot binary}
FAILED=0
BIG_MIB=${COPY_LARGE_MIB:-3072}
ENTRIES=${COPY_LARGE_ENTRIES:-100000}

WORK=$(mktemp -d /var/tmp/ddr-copy-large.XXXXXX)
cleanup() {
        umount "$WORK/src" "$WORK/dst" 2>/dev/null
        rm -rf "$WORK"
}
trap cleanup EXIT

truncate -s 8G "$WORK/src.img" "$WORK/dst.img"
mkfs.ext4 -q -N 200000 "$WORK/src.img" || skip "mkfs.ext4 failed"
mkfs.xfs -q "$WORK/dst.img" || skip "mkfs.xfs failed"
mkdir "$WORK/src" "$WORK/dst"
mount -o loop "$WORK/src.img" "$WORK/src" || skip "cannot mount a loop device"
mount -o loop "$WORK/dst.img" "$WORK/dst" || skip "cannot mount a loop device"

S=$WORK/src/tree
mkdir -p "$S/wide"
# 100000 names in one directory, a few bytes each, made fast in one process.
(cd "$S/wide" && seq -f 'entry-%06g' 1 "$ENTRIES" | xargs touch) || fail "cannot create the wide directory"
echo "content" > "$S/wide/entry-000001"
head -c "$((BIG_MIB << 20))" /dev/urandom > "$S/big.bin" || fail "cannot write the big file"
printf head > "$S/sparse.bin"
printf far | dd of="$S/sparse.bin" bs=1 seek=$(((5 << 30) + 7)) conv=notrunc status=none
sync

start=$(date +%s.%N)
"$DDR_BIN" copy --no-progress "$S" "$WORK/dst/tree"
rc=$?
end=$(date +%s.%N)
[ "$rc" = 0 ] && ok "copy exits 0 ($(echo "$end - $start" | bc) s for ${BIG_MIB} MiB and $ENTRIES entries)" ||
        fail "copy exits $rc"

"$DDR_BIN" verify --content "$S" "$WORK/dst/tree"
rc=$?
[ "$rc" = 0 ] && ok "verify --content finds no difference" || fail "verify --content exits $rc"

cmp "$S/big.bin" "$WORK/dst/tree/big.bin" && ok "the big file is identical (cmp)" || fail "the big file differs"
cmp "$S/sparse.bin" "$WORK/dst/tree/sparse.bin" && ok "the sparse file is identical (cmp)" ||
        fail "the sparse file differs"
n=$(find "$WORK/dst/tree/wide" -mindepth 1 | wc -l)
[ "$n" = "$ENTRIES" ] && ok "the wide directory holds $n entries" || fail "the wide directory holds $n entries"
src_blocks=$(stat -c %b "$S/sparse.bin")
dst_blocks=$(stat -c %b "$WORK/dst/tree/sparse.bin")
[ "$dst_blocks" -le $((src_blocks + 16)) ] && ok "the sparse file stays sparse ($dst_blocks blocks, source $src_blocks)" ||
        fail "the sparse file grew to $dst_blocks blocks (source $src_blocks)"

# One change the verifier must see: a byte in the middle of the big file.
printf 'X' | dd of="$WORK/dst/tree/big.bin" bs=1 seek=$((BIG_MIB << 19)) conv=notrunc status=none
touch -r "$S/big.bin" "$WORK/dst/tree/big.bin"
"$DDR_BIN" verify --content "$S" "$WORK/dst/tree" > "$WORK/diff.txt" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q '^big.bin: content' "$WORK/diff.txt" && ok "verify --content finds one changed byte" ||
        { fail "verify --content missed a changed byte (exit $rc)"; cat "$WORK/diff.txt"; }

[ "$FAILED" = 0 ] && echo "PASS" || echo "FAIL"
exit "$FAILED"
