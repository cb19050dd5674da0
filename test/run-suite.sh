#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# test/run-suite.sh - the whole test suite on a fresh Debian 12 machine, as
# root: installs what the build and the tests need, then builds and tests
# twice, once plainly with -Dwerror=true and once under AddressSanitizer and
# UndefinedBehaviorSanitizer. The last line it prints is the summary,
# "N passed, N failed"; it exits non-zero when anything failed.
#
# DDR_TEST_NO_SKIP=1 (what .ci/run sets) makes a skipped test count as failed.
# Build directories: build-suite and build-suite-asan in the source tree,
# made afresh on every run.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

# The list is shared with test/demo.sh.
mapfile -t PACKAGES < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' test/harness/packages.txt)

say() { echo "==> $*"; }

if [ "$(id -u)" != 0 ]; then
        echo "run-suite.sh: run as root (it installs packages and boots test machines)" >&2
        echo "0 passed, 1 failed"
        exit 1
fi

STAGE_FAILURES=0
stage_failed() {
        echo "run-suite.sh: FAILED: $*" >&2
        STAGE_FAILURES=$((STAGE_FAILURES + 1))
}

# ---- packages ----
install_packages() {
        local policy=/usr/sbin/policy-rc.d made_policy=
        say "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
        # On a host booted with systemd, docker.io's postinst would start a
        # host dockerd; the tests never need one. policy-rc.d's 101 ("action
        # forbidden") stops every package from starting its service.
        if [ ! -e "$policy" ]; then
                printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 0755 "$policy" && made_policy=1
        fi
        say "apt-get install ${PACKAGES[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
                "${PACKAGES[@]}"
        local rc=$?
        [ -n "$made_policy" ] && rm -f "$policy"
        return $rc
}
install_packages || stage_failed "installing packages"
modprobe loop 2>/dev/null || true

# ---- sanitizer settings ----
# LeakSanitizer stops the process with ptrace; where that is not allowed it
# dies with a fatal error instead of reporting leaks, so probe it first.
probe_leak_sanitizer() {
        local dir out
        dir=$(mktemp -d) || return 1
        printf '#include <stdlib.h>\nint main(void) { void *p = malloc(7); p = 0; return p != 0; }\n' \
                > "$dir/leak.c"
        gcc -fsanitize=address -g -o "$dir/leak" "$dir/leak.c" 2>/dev/null || { rm -rf "$dir"; return 1; }
        out=$(ASAN_OPTIONS=detect_leaks=1 "$dir/leak" 2>&1)
        rm -rf "$dir"
        grep -q 'ERROR: LeakSanitizer: detected memory leaks' <<< "$out"
}
if probe_leak_sanitizer; then
        DETECT_LEAKS=1
else
        DETECT_LEAKS=0
        say "LeakSanitizer does not work on this machine: running without leak detection"
fi
SAN_ASAN_OPTIONS="halt_on_error=1:print_stacktrace=1:detect_leaks=$DETECT_LEAKS"
SAN_UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

# Harness instances of this run live apart from anyone else's, so leftovers
# can be told apart (and are a failure).
export HARNESS_RUNDIR=/var/tmp/docker-dataroot-suite-$$

# ---- build and test ----
# run_variant NAME BUILD_DIR MESON_OPTIONS...
run_variant() {
        local name=$1 dir=$2
        shift 2
        say "[$name] meson setup $dir $*"
        rm -rf "$dir"
        if ! meson setup "$dir" -Dwerror=true "$@"; then
                stage_failed "[$name] meson setup"
                return
        fi
        say "[$name] compile"
        if ! meson compile -C "$dir"; then
                stage_failed "[$name] compile"
                # Build what still builds: the tests that exist then report
                # on their own, the missing ones fail in meson test.
                ninja -C "$dir" -k 0 > /dev/null 2>&1
        fi
        say "[$name] meson test"
        meson test -C "$dir" --no-rebuild --print-errorlogs || true
}

run_variant plain build-suite
# Under the sanitizers every test runs again, the slowest ones on less: the
# crash test at its 12 exact journal points and random kills during the copy
# (the plain run covers all 27 points), copy-large on 1 GiB and 30000 entries.
ASAN_CRASH_POINTS="enter:stop complete:stop enter:copy complete:copy enter:verify complete:verify"
ASAN_CRASH_POINTS+=" enter:configure complete:configure enter:start complete:start"
ASAN_CRASH_POINTS+=" enter:confirm complete:confirm random:copy"
ASAN_OPTIONS=$SAN_ASAN_OPTIONS UBSAN_OPTIONS=$SAN_UBSAN_OPTIONS DDR_CRASH_POINTS=$ASAN_CRASH_POINTS \
        COPY_LARGE_MIB=1024 COPY_LARGE_ENTRIES=30000 \
        run_variant sanitizers build-suite-asan -Db_sanitize=address,undefined -Db_lundef=false

# ---- ThreadSanitizer: the threaded parts (copy engine, verifier) ----
# The two tests whose worker pools do the real work, on their mid-size
# trees (20000-entry directories, every kind of entry); any report fails.
say "[threads] meson setup build-suite-tsan -Db_sanitize=thread"
rm -rf build-suite-tsan
if meson setup build-suite-tsan -Dwerror=true -Db_sanitize=thread -Db_lundef=false -De2e=disabled >/dev/null &&
        meson compile -C build-suite-tsan test/test-copy test/test-verify; then
        TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
                meson test -C build-suite-tsan --no-rebuild --print-errorlogs test-copy test-verify || true
else
        stage_failed "[threads] ThreadSanitizer build"
fi

# ---- fuzzing ----
say "fuzzing daemon.json reading and merging (60 s)"
bash test/fuzz/run.sh -t 60 || stage_failed "fuzzing daemon.json (test/fuzz/run.sh)"

if [ -d "$HARNESS_RUNDIR" ]; then
        if [ -n "$(ls -A "$HARNESS_RUNDIR")" ]; then
                stage_failed "harness instances left behind in $HARNESS_RUNDIR: $(ls "$HARNESS_RUNDIR")"
                test/harness/down.sh all || true
        fi
        rmdir "$HARNESS_RUNDIR" 2>/dev/null
fi

# ---- summary from meson's own records ----
PASSED=0
FAILED=$STAGE_FAILURES
SKIPPED=0
for dir in build-suite build-suite-asan build-suite-tsan; do
        log=$dir/meson-logs/testlog.json
        [ -s "$log" ] || continue
        # One JSON object per test; result is OK, FAIL, SKIP, TIMEOUT, ...
        read -r ok fail skip < <(jq -rs '
                [.[] | .result] as $r
                | [ ($r | map(select(. == "OK" or . == "EXPECTEDFAIL")) | length),
                    ($r | map(select(. != "OK" and . != "EXPECTEDFAIL" and . != "SKIP")) | length),
                    ($r | map(select(. == "SKIP")) | length) ] | @tsv' "$log")
        if [ -z "${ok:-}" ]; then
                stage_failed "cannot read $log"
                continue
        fi
        echo "[$dir] $ok ok / $fail failed / $skip skipped"
        jq -r 'select(.result != "OK") | "    \(.result): \(.name)"' "$log"
        PASSED=$((PASSED + ok))
        FAILED=$((FAILED + fail))
        if [ "${DDR_TEST_NO_SKIP:-0}" = 1 ]; then
                FAILED=$((FAILED + skip))
        else
                SKIPPED=$((SKIPPED + skip))
        fi
done
[ "$SKIPPED" -gt 0 ] && echo "($SKIPPED skipped: a facility was missing; DDR_TEST_NO_SKIP=1 counts them as failed)"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
