#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# test/fuzz/run.sh - builds test/fuzz/fuzz-daemon_config.c with clang's
# libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer, and fuzzes
# daemon.json loading, merging and rendering for a bounded time, starting
# from the seed corpus in test/fuzz/corpus (which it never writes to).
#
# Usage: test/fuzz/run.sh [-t SECONDS] [-j JOBS] [-m BYTES] [-o DIR] [-c] [-k]
#   -t SECONDS  how long to fuzz (default 60, or $FUZZ_SECONDS)
#   -j JOBS     fuzzing processes, with libFuzzer's -fork (default 1)
#   -m BYTES    largest input to try (default 8192)
#   -o DIR      output directory (default: a new /tmp/ddr-fuzz.XXXXXX); one
#               that already existed is never removed
#   -c          afterwards, measure the line and branch coverage of
#               src/daemon_config.c reached by the corpus (needs llvm-14)
#   -k          keep the output directory even when nothing was found
#
# Needs clang and libFuzzer's runtime; on Debian 12:
#   apt-get install -y clang libclang-rt-14-dev
# (libclang-rt-14-dev is only a recommendation of clang, so an install with
# --no-install-recommends lacks it), plus the build dependencies of the
# project (libcjson-dev and the headers include/util.h pulls in).
#
# Exit status: 0 when nothing was found, 1 on a finding (the crashing input
# is kept under DIR/artifacts/ and the output directory is left in place),
# 2 when the target cannot be built or the arguments are wrong.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLANG=${CLANG:-clang}
SECONDS_TO_FUZZ=${FUZZ_SECONDS:-60}
JOBS=1
MAX_LEN=8192
OUT=
COVERAGE=
KEEP=

usage() {
        sed -n '/^# Usage:/,/^#   -k/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
        exit 2
}

while getopts "t:j:m:o:ckh" opt; do
        case $opt in
        t) SECONDS_TO_FUZZ=$OPTARG ;;
        j) JOBS=$OPTARG ;;
        m) MAX_LEN=$OPTARG ;;
        o) OUT=$OPTARG ;;
        c) COVERAGE=1 ;;
        k) KEEP=1 ;;
        *) usage ;;
        esac
done
[[ "$SECONDS_TO_FUZZ" =~ ^[1-9][0-9]*$ ]] || usage
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || usage
[[ "$MAX_LEN" =~ ^[1-9][0-9]*$ ]] || usage

say() { echo "==> $*"; }

# Only a directory made here is ever removed here.
MADE_OUT=
if [ -z "$OUT" ]; then
        OUT=$(mktemp -d /tmp/ddr-fuzz.XXXXXX) || exit 2
        MADE_OUT=1
elif [ ! -e "$OUT" ]; then
        mkdir -p "$OUT" || exit 2
        MADE_OUT=1
fi
mkdir -p "$OUT/corpus" "$OUT/artifacts" || exit 2

remove_output() {
        [ -n "$MADE_OUT" ] && [ -z "$KEEP" ] && rm -rf "$OUT"
}

# A build failure leaves nothing worth keeping.
give_up() {
        echo "run.sh: $*" >&2
        remove_output
        exit 2
}

# ---- tools ----
command -v "$CLANG" > /dev/null ||
        give_up "$CLANG not found: apt-get install -y clang libclang-rt-14-dev"
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n > 1 && d[0] == 1; }' \
        > "$OUT/probe.c"
"$CLANG" -fsanitize=fuzzer "$OUT/probe.c" -o "$OUT/probe" 2> "$OUT/probe.log" ||
        give_up "$CLANG cannot link libFuzzer ($(head -n 1 "$OUT/probe.log")): apt-get install -y libclang-rt-14-dev"

# LeakSanitizer stops the process with ptrace; where that is not allowed it
# dies instead of reporting, which libFuzzer would take for a finding.
printf '#include <stdlib.h>\nint main(void) { void *p = malloc(7); p = 0; return p != 0; }\n' > "$OUT/leak.c"
DETECT_LEAKS=0
if "$CLANG" -fsanitize=address -g "$OUT/leak.c" -o "$OUT/leak" 2> /dev/null &&
   [[ "$(ASAN_OPTIONS=detect_leaks=1 "$OUT/leak" 2>&1)" == *"ERROR: LeakSanitizer: detected memory leaks"* ]]; then
        DETECT_LEAKS=1
else
        say "LeakSanitizer does not work on this machine: fuzzing without leak detection"
fi
rm -f "$OUT/probe" "$OUT/probe.c" "$OUT/probe.log" "$OUT/leak" "$OUT/leak.c"

# ---- build ----
# include/util.h includes the headers of every library the project uses;
# the code under test links against cJSON only.
CFLAGS_DEPS=$(pkg-config --cflags libcjson libsystemd mount libacl) ||
        give_up "pkg-config cannot find the build dependencies (libcjson-dev libsystemd-dev libmount-dev libacl1-dev)"
LIBS_DEPS=$(pkg-config --libs libcjson) || give_up "pkg-config cannot find libcjson"

say "building $OUT/fuzz-daemon_config"
# shellcheck disable=SC2086 # pkg-config output is a list of words
"$CLANG" -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -Wall -Wextra -I"$ROOT/include" $CFLAGS_DEPS \
        "$ROOT/src/util.c" "$ROOT/src/daemon_config.c" "$ROOT/test/fuzz/fuzz-daemon_config.c" \
        $LIBS_DEPS -o "$OUT/fuzz-daemon_config" ||
        give_up "building the fuzz target failed"

# ---- fuzz ----
# New inputs go to $OUT/corpus; the seed corpus and the saved reproducers
# are only read.
SEEDS=("$ROOT/test/fuzz/corpus")
[ -d "$ROOT/test/fuzz/crashes" ] && SEEDS+=("$ROOT/test/fuzz/crashes")

FUZZ_ARGS=(
        -max_total_time="$SECONDS_TO_FUZZ"
        -timeout=5
        -rss_limit_mb=2048
        -max_len="$MAX_LEN"
        -dict="$ROOT/test/fuzz/daemon_config.dict"
        -artifact_prefix="$OUT/artifacts/"
        -print_final_stats=1
)
[ "$JOBS" -gt 1 ] && FUZZ_ARGS+=(-fork="$JOBS")

say "fuzzing for ${SECONDS_TO_FUZZ}s with $JOBS process(es); log: $OUT/fuzz.log"
# The outer timeout only matters if libFuzzer itself hangs.
ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=$DETECT_LEAKS:print_stacktrace=1" \
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
        timeout --kill-after=30 $((SECONDS_TO_FUZZ + 300)) \
        "$OUT/fuzz-daemon_config" "${FUZZ_ARGS[@]}" "$OUT/corpus" "${SEEDS[@]}" \
        < /dev/null > "$OUT/fuzz.log" 2>&1
RC=$?

# The closing figures libFuzzer printed, for the log of whoever ran this
# (with -fork, the last status line of the parent stands for them).
grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::|Done [0-9]+ runs)' "$OUT/fuzz.log"
grep -E '^#[0-9]+: cov:' "$OUT/fuzz.log" | tail -n 1

FINDINGS=$(find "$OUT/artifacts" -type f | wc -l)
if [ "$RC" -ne 0 ] || [ "$FINDINGS" -gt 0 ]; then
        echo "run.sh: FINDING (libFuzzer exit status $RC, $FINDINGS artifact(s)):" >&2
        grep -E -m 5 'ERROR: |runtime error: |invariant violated|unexpected error|refused \(' "$OUT/fuzz.log" >&2
        find "$OUT/artifacts" -type f >&2
        echo "run.sh: everything is in $OUT (fuzz.log, artifacts/); replay an input with" >&2
        echo "        $OUT/fuzz-daemon_config FILE" >&2
        exit 1
fi

say "nothing found; $(find "$OUT/corpus" -type f | wc -l) new input(s) in the working corpus"

# ---- coverage ----
# Source-based coverage of the replay driver over everything the run kept;
# the file writing half of daemon_config.c is not the target's business.
measure_coverage() {
        local llvm_version profdata cov
        llvm_version=$("$CLANG" --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n 1)
        profdata=$(command -v "llvm-profdata-$llvm_version" || command -v llvm-profdata) || return 1
        cov=$(command -v "llvm-cov-$llvm_version" || command -v llvm-cov) || return 1

        # shellcheck disable=SC2086
        "$CLANG" -std=c11 -D_GNU_SOURCE -g -O0 -DFUZZ_STANDALONE \
                -fprofile-instr-generate -fcoverage-mapping -I"$ROOT/include" $CFLAGS_DEPS \
                "$ROOT/src/util.c" "$ROOT/src/daemon_config.c" "$ROOT/test/fuzz/fuzz-daemon_config.c" \
                $LIBS_DEPS -o "$OUT/coverage-replay" || return 1
        LLVM_PROFILE_FILE="$OUT/coverage.profraw" "$OUT/coverage-replay" "$OUT/corpus" "${SEEDS[@]}" \
                2> /dev/null || return 1
        "$profdata" merge -sparse "$OUT/coverage.profraw" -o "$OUT/coverage.profdata" || return 1
        "$cov" report -show-functions "$OUT/coverage-replay" -instr-profile="$OUT/coverage.profdata" \
                "$ROOT/src/daemon_config.c" > "$OUT/coverage.txt" || return 1

        # Columns: name, regions, missed, cover, lines, missed, cover,
        # branches, missed, cover.
        awk 'NF == 10 && $2 ~ /^[0-9]+$/ && $1 != "TOTAL" {
                part = $1 ~ /resolve|write|read_link|mkdir_parents|fill_temp_file|rename_into_place|backup_matches/ ? "writing" : "reading, merging, rendering"
                lines[part] += $5; lines_missed[part] += $6
                branches[part] += $8; branches_missed[part] += $9
        }
        END {
                for (part in lines)
                        printf "==> coverage of src/daemon_config.c, %s: lines %d/%d (%.1f%%), branches %d/%d (%.1f%%)\n",
                               part, lines[part] - lines_missed[part], lines[part],
                               100 * (lines[part] - lines_missed[part]) / lines[part],
                               branches[part] - branches_missed[part], branches[part],
                               100 * (branches[part] - branches_missed[part]) / branches[part]
        }' "$OUT/coverage.txt" | sort
        say "per function: $OUT/coverage.txt"
}
if [ -n "$COVERAGE" ]; then
        KEEP=1
        measure_coverage || say "coverage could not be measured (is llvm-14 installed?)"
fi
if [ -n "$KEEP" ] || [ -z "$MADE_OUT" ]; then
        say "output kept in $OUT"
else
        remove_output
fi
exit 0
