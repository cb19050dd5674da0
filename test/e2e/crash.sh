#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# "Never lose data", with the tool killed by SIGKILL (what a power cut, the
# OOM killer or kill -9 leave) at every step its journal records, and at
# random moments during the copy and the verify. After each crash the
# journal must be there and say where the run stopped, daemon.json must be
# either its original bytes or the original plus "data-root" (with a
# byte-identical backup), and one of the two ways out must work:
#   (a) resume: the same 'migrate --yes TARGET' finishes the move; Docker
#       runs on TARGET with every image and container, the app container
#       reads its data as before, the source is unchanged;
#   (b) undo: 'rollback --yes --remove-target' puts Docker back on the old
#       data-root with daemon.json byte for byte, removes the copy, and the
#       source is unchanged.
# The two alternate over the points. Some crashes are followed by a
# "reboot" (systemd starts Docker with whatever daemon.json says) before
# the tool runs again. A rollback killed half-way must be just as
# recoverable by running it again. Between points the migration is
# rolled back (a completed one with plain 'rollback', its copy removed by
# hand), so each point starts from the same state. The log ends with a
# table: per point, what the crash left and what recovered it.
#
# The exact points come from DOCKER_DATAROOT_TEST_CRASH_AT=<enter|complete>:
# <stage> (src/migrate.c, crash_point_for_tests). DDR_CRASH_SEED replays the
# random delays of an earlier run; DDR_CRASH_POINTS="enter:copy random:verify
# reboot:complete:configure random:rollback" runs only the points named.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init crash
e2e_up
T=$E2E_TMP

CRASH_SEED=${DDR_CRASH_SEED:-$((($$ + $(date +%s)) % 32768))}
RANDOM=$CRASH_SEED
e2e_log "random seed $CRASH_SEED (replay with DDR_CRASH_SEED=$CRASH_SEED)"

STAGES="stop copy verify configure start confirm"
RANDOM_KILLS_PER_STAGE=4        # landed in the copy, and in the verify
RANDOM_ATTEMPTS_PER_STAGE=6

# ---- the data, and what it looks like before ----
e2e_log "creating the data to migrate"
create_test_data
live_container_ids
# The bulk lives in a volume of its own, so the app container's run (which
# hashes every file of its volume) stays quick.
BULK_VOLUME=ddr-e2e-bulk
docker volume create "$BULK_VOLUME" >/dev/null || e2e_die "docker volume create $BULK_VOLUME failed"
BULK_DIR=$(docker volume inspect -f '{{.Mountpoint}}' "$BULK_VOLUME")
add_bulk_data "$BULK_DIR" 30000 256

inside cat /etc/docker/daemon.json > "$T/daemon.json.orig" || e2e_die "cannot read daemon.json"
jq -S 'del(."data-root")' "$T/daemon.json.orig" > "$T/daemon.json.orig.keys" ||
        e2e_die "daemon.json is not JSON"
docker start -a "$APP_CONTAINER" > "$T/app.before" 2>&1 || e2e_die "app container run failed"
IMAGES_BEFORE=$(docker_info Images)
CONTAINERS_BEFORE=$(docker_info Containers)
e2e_log "before: $IMAGES_BEFORE images, $CONTAINERS_BEFORE containers"
take_source_baseline() {
        manifest "$HARNESS_DATAROOT" "$T/source.base"
        stable_view start "$T/source.base" > "$T/source.base.stable"
        e2e_log "source: $(wc -l < "$T/source.base") entries"
}
take_source_baseline

SUMMARY=()

# ---- helpers ----

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The source compared with the baseline, but for what dockerd rewrites when
# it stops and starts on it (lib.sh stable_view).
check_source_unchanged() {
        manifest "$HARNESS_DATAROOT" "$T/source.now"
        stable_view start "$T/source.now" > "$T/source.now.stable"
        check_same_file "$1: the source tree is unchanged" "$T/source.base.stable" "$T/source.now.stable"
}

# Prints how daemon.json relates to the original: "original", "data-root"
# (the original plus "data-root": TARGET) or "other".
daemon_json_kind() {
        inside cat /etc/docker/daemon.json > "$T/daemon.json.now" 2>/dev/null
        if cmp -s "$T/daemon.json.orig" "$T/daemon.json.now"; then
                echo original
        elif [ "$(jq -r '."data-root"' "$T/daemon.json.now" 2>/dev/null)" = "$TARGET" ] &&
                jq -S 'del(."data-root")' "$T/daemon.json.now" 2>/dev/null | cmp -s - "$T/daemon.json.orig.keys"; then
                echo data-root
        else
                echo other
        fi
}

# What the crash left; the invariants that must hold at any crash point.
# Sets LEFT for the summary.
inspect_crash() {
        local point=$1 expected_stage=$2 expected_event=$3
        local outcome stage completed docker config backup

        check "$point: the journal exists" inside test -s "$DDR_STATE_FILE"
        outcome=$(journal_get outcome)
        stage=$(journal_get stage)
        completed=$(journal_get completed)
        check_eq "$point: the journal says the run is unfinished (outcome running)" running "$outcome"
        if [ -n "$expected_stage" ]; then
                check_eq "$point: the journal's stage is $expected_stage" "$expected_stage" "$stage"
                if [ "$expected_event" = complete ]; then
                        check "$point: the journal lists $expected_stage as completed" \
                                grep -qw "$expected_stage" <<< "${completed//,/ }"
                else
                        check "$point: the journal does not list $expected_stage as completed" \
                                test -z "$(grep -w "$expected_stage" <<< "${completed//,/ }")"
                fi
        fi

        docker=$(docker_state)
        config=$(daemon_json_kind)
        check "$point: daemon.json is the original or the original plus data-root (it is: $config)" \
                test "$config" != other
        if [ "$config" != original ]; then
                backup=$(journal_get backup)
                inside cat "${backup:-/nonexistent}" > "$T/backup.now" 2>/dev/null
                check_same_file "$point: daemon.json changed, and its backup ${backup:-(none)} holds the original" \
                        "$T/daemon.json.orig" "$T/backup.now"
        fi
        case $docker in
        *" $TARGET")
                check "$point: Docker runs on the target only when daemon.json names it" \
                        test "$config" = data-root ;;
        *" -" | *" $HARNESS_DATAROOT") ;;
        *) e2e_not_ok "$point: Docker runs on an unexpected data-root ($docker)" ;;
        esac

        # 'status' must read what a crash leaves.
        ddr status
        check_eq "$point: status exits 0" 0 "$DDR_RC"
        check "$point: status reports the unfinished run and its last step" \
                grep -Eq "^Last migration:.*running.*\b${stage:-?}\b" <<< "$DDR_OUTPUT"

        LEFT="docker $docker; daemon.json $config; journal $outcome at ${stage:-?} [${completed}]"
        e2e_log "$point left: $LEFT"
}

# (a): the same migrate finishes the move.
recover_by_resuming() {
        local point=$1
        reset_docker_start_limit
        ddr migrate --yes "$TARGET"
        check_eq "$point (a): migrate again exits 0" 0 "$DDR_RC"
        check "$point (a): it resumed the recorded migration" \
                grep -q 'resuming the interrupted migration' <<< "$DDR_OUTPUT"
        check "$point (a): docker answers" wait_docker 60
        check_eq "$point (a): DockerRootDir is the target" "$TARGET" "$(docker_info DockerRootDir)"
        check_eq "$point (a): same number of images" "$IMAGES_BEFORE" "$(docker_info Images)"
        check_eq "$point (a): same number of containers" "$CONTAINERS_BEFORE" "$(docker_info Containers)"
        check_eq "$point (a): the journal says done" "done" "$(journal_get outcome)"
        check_eq "$point (a): daemon.json is the original plus data-root" data-root "$(daemon_json_kind)"
        check "$point (a): the --restart always container runs" wait_running "$LIVE_CONTAINER" 60
        # Run on the source, the app container would change it.
        if [ "$(docker_info DockerRootDir)" = "$TARGET" ]; then
                docker start -a "$APP_CONTAINER" > "$T/app.now" 2>&1
                check_same_file "$point (a): the app container reads its data as before" \
                        "$T/app.before" "$T/app.now"
        fi
        check_source_unchanged "$point (a)"
        RECOVERED="migrate --yes: exit $DDR_RC"
}

# (b): rollback undoes it and removes the copy. Where Docker runs on the
# target (the migration started it there, or a reboot did), what it wrote
# there exists nowhere else: --remove-target refuses, a plain rollback
# works, and the copy is removed by hand.
recover_by_rollback() {
        local point=$1 live_target=
        reset_docker_start_limit
        [ "$(docker_info DockerRootDir 2>/dev/null)" = "$TARGET" ] && live_target=1
        ddr rollback --yes --remove-target
        if [ -n "$live_target" ]; then
                check_eq "$point (b): rollback --remove-target with Docker on the target exits 3" 3 "$DDR_RC"
                check "$point (b): ... it says Docker ran from the target" \
                        grep -qF "Docker ran from $TARGET" <<< "$DDR_OUTPUT"
                check_eq "$point (b): ... and changed nothing: Docker still runs on the target" \
                        "$TARGET" "$(docker_info DockerRootDir)"
                reset_docker_start_limit
                ddr rollback --yes
                check_eq "$point (b): rollback without --remove-target exits 0" 0 "$DDR_RC"
                inside rm -rf "$TARGET"
        else
                check_eq "$point (b): rollback --remove-target exits 0" 0 "$DDR_RC"
        fi
        check "$point (b): docker answers" wait_docker 60
        check_eq "$point (b): DockerRootDir is the old data-root" "$HARNESS_DATAROOT" "$(docker_info DockerRootDir)"
        check_eq "$point (b): daemon.json is byte for byte the original" original "$(daemon_json_kind)"
        check "$point (b): the copy at $TARGET is gone" absent_inside "$TARGET"
        check_eq "$point (b): the journal says rolled-back" rolled-back "$(journal_get outcome)"
        check_eq "$point (b): same number of images" "$IMAGES_BEFORE" "$(docker_info Images)"
        check_eq "$point (b): same number of containers" "$CONTAINERS_BEFORE" "$(docker_info Containers)"
        # Byte for byte the same tree: the app container would read the same
        # (it runs once on the source at the end, as it would change the tree).
        check_source_unchanged "$point (b)"
        if [ -n "$live_target" ]; then
                RECOVERED="rollback --yes --remove-target: exit 3 (Docker on the target), rollback --yes: exit $DDR_RC"
        else
                RECOVERED="rollback --yes --remove-target: exit $DDR_RC"
        fi
}

# Back to the start for the next point: Docker on the old data-root, the
# original daemon.json, no copy, the journal closed as rolled-back (a new
# migrate then starts afresh). --remove-target is refused after a completed
# migration, hence the rm.
reset_to_start() {
        local point=$1
        reset_docker_start_limit
        if [ "$(journal_get outcome)" != rolled-back ]; then
                ddr rollback --yes
                check_eq "$point: reset: rollback exits 0" 0 "$DDR_RC"
        fi
        inside rm -rf "$TARGET"
        wait_docker 60
        check_eq "$point: reset: Docker runs on the old data-root" \
                "active/active $HARNESS_DATAROOT" "$(docker_state)"
        check_eq "$point: reset: daemon.json is byte for byte the original" original "$(daemon_json_kind)"
        check_eq "$point: reset: the journal says rolled-back" rolled-back "$(journal_get outcome)"
}

# recover POINT INDEX: (a) or (b), alternating over the points.
recover() {
        if [ $(($2 % 2)) = 0 ]; then
                recover_by_resuming "$1"
        else
                recover_by_rollback "$1"
        fi
        SUMMARY+=("$1 | $LEFT | $RECOVERED")
        reset_to_start "$1"
}

# kill_at_random STAGE WINDOW_MS: a migrate killed with SIGKILL a random
# time (under WINDOW_MS) after its journal entered STAGE. When the stage ends
# before that time, the kill comes at once, in the next stage, and
# STAGE_MS says how long the stage lasted. LANDED=1 when the kill hit the
# stage while it ran: the journal, final after the kill, tells.
kill_at_random() {
        local stage=$1 window=$2 delay pid started elapsed
        delay=$((RANDOM % window))
        LANDED=0
        STAGE_MS=
        reset_docker_start_limit
        # --verify-content makes the verify long enough to be hit.
        ddr_bg migrate --yes --verify-content "$TARGET"
        if ! wait_journal ".outcome == \"running\" and .stage == \"$stage\"" 300; then
                e2e_not_ok "random:$stage: the run never reached the $stage stage"
                ddr_bg_wait
                return 1
        fi
        started=$(now_ms)
        if ! pid=$(ddr_pid_inside); then
                e2e_not_ok "random:$stage: no docker-dataroot process at the journal's pid $(journal_get pid)"
                ddr_bg_wait
                return 1
        fi
        while elapsed=$(($(now_ms) - started)); [ "$elapsed" -lt "$delay" ]; do
                if ! jq -e --arg s "$stage" '.stage == $s and (.completed | index($s) | not)' \
                        "$HARNESS_ROOT$DDR_STATE_FILE" >/dev/null 2>&1; then
                        STAGE_MS=$elapsed
                        break
                fi
                sleep 0.02
        done
        inside kill -KILL "$pid" 2>/dev/null
        ddr_bg_wait
        check_eq "random:$stage: killed $elapsed ms into the $stage (exit 137)" 137 "$DDR_RC"
        [ "$DDR_RC" = 137 ] || return 1
        if [ "$(journal_get stage)" = "$stage" ] &&
                ! grep -qw "$stage" <<< "$(journal_get completed | tr , ' ')"; then
                LANDED=1
        else
                e2e_log "the $stage ended after ${STAGE_MS:-?} ms, before the kill planned at $delay ms: the kill landed at $(journal_get stage)"
        fi
}

selected() { [ -z "${DDR_CRASH_POINTS:-}" ] || [[ " $DDR_CRASH_POINTS " == *" $1 "* ]]; }

# ---- an uninterrupted run first: it must work, and it times the stages ----
# Random kills need copy and verify windows wide enough to aim at. How long
# they last depends on the machine (a faster CI machine verified the bulk in
# 236 ms), so the bulk grows until both last CALIBRATE_MS.
CALIBRATE_MS=600
MIN_WINDOW_MS=300
time_uninterrupted_run() {
        reset_docker_start_limit
        ddr_bg migrate --yes --verify-content "$TARGET"
        wait_journal '.outcome == "running" and .stage == "copy"' 300 || e2e_die "the first migrate never reached the copy"
        copy_start=$(now_ms)
        wait_journal '.stage != "copy" or .outcome != "running"' 300
        verify_start=$(now_ms)
        wait_journal '.stage != "verify" or .outcome != "running"' 300
        verify_end=$(now_ms)
        ddr_bg_wait
        check_eq "$1: an uninterrupted migrate --verify-content exits 0" 0 "$DDR_RC"
        check_eq "$1: ... and Docker runs on the target" "$TARGET" "$(docker_info DockerRootDir)"
        COPY_MS=$((verify_start - copy_start))
        VERIFY_MS=$((verify_end - verify_start))
        e2e_log "$1: copy took ${COPY_MS} ms, verify --content ${VERIFY_MS} ms"
        reset_to_start "$1"
        check_source_unchanged "$1, rolled back"
}
bulk_batch=1
time_uninterrupted_run "first run"
while [ "$COPY_MS" -lt "$CALIBRATE_MS" ] || [ "$VERIFY_MS" -lt "$CALIBRATE_MS" ]; do
        [ "$bulk_batch" -lt 4 ] || break
        bulk_batch=$((bulk_batch + 1))
        e2e_log "adding a bulk batch ($bulk_batch) to widen the windows"
        add_bulk_data "$BULK_DIR" 30000 256 "bulk$bulk_batch"
        take_source_baseline
        time_uninterrupted_run "run with $bulk_batch bulk batches"
done
[ "$COPY_MS" -ge "$MIN_WINDOW_MS" ] && [ "$VERIFY_MS" -ge "$MIN_WINDOW_MS" ] ||
        e2e_die "copy or verify lasted under $MIN_WINDOW_MS ms even with $bulk_batch bulk batches: too short to be hit at random"

# ---- every step the journal records ----
index=0
for stage in $STAGES; do
        for event in enter complete; do
                point=$event:$stage
                # Two points a stage, (a) and (b) alternating, the order
                # flipped from one stage to the next: each event meets both.
                recovery=$((index + index / 2))
                index=$((index + 1))
                selected "$point" || continue
                reset_docker_start_limit
                ddr_env DOCKER_DATAROOT_TEST_CRASH_AT="$point" migrate --yes "$TARGET"
                check_eq "$point: the tool died there (SIGKILL, exit 137)" 137 "$DDR_RC"
                if [ "$DDR_RC" = 137 ]; then
                        inspect_crash "$point" "$stage" "$event"
                        recover "$point" "$recovery"
                else
                        SUMMARY+=("$point | not reached: the run ended with exit $DDR_RC, journal $(journal_get outcome) at $(journal_get stage) [$(journal_get completed)] | -")
                        reset_to_start "$point"
                fi
        done
done

# ---- SIGKILL at random moments during the copy and the verify ----
for stage in copy verify; do
        selected "random:$stage" || continue
        if [ "$stage" = copy ]; then window=$COPY_MS; else window=$VERIFY_MS; fi
        window=$((window * 8 / 10))
        landed=0
        attempts=0
        while [ "$landed" -lt "$RANDOM_KILLS_PER_STAGE" ] && [ "$attempts" -lt "$RANDOM_ATTEMPTS_PER_STAGE" ]; do
                attempts=$((attempts + 1))
                point="random:$stage#$attempts"
                if kill_at_random "$stage" "$window"; then
                        landed=$((landed + LANDED))
                        inspect_crash "$point" "$([ "$LANDED" = 1 ] && echo "$stage")" enter
                        recover "$point" "$index"
                else
                        SUMMARY+=("$point | not killed: the run ended with exit $DDR_RC | -")
                        reset_to_start "$point"
                fi
                # A stage that ended early was shorter than the first run's.
                if [ -n "$STAGE_MS" ] && [ "$STAGE_MS" -gt 100 ]; then
                        window=$((STAGE_MS * 8 / 10))
                fi
                index=$((index + 1))
        done
        check "$landed SIGKILLs landed during the $stage (want $RANDOM_KILLS_PER_STAGE)" \
                test "$landed" -ge "$RANDOM_KILLS_PER_STAGE"
done

# ---- a crash, then a reboot: systemd starts Docker with whatever
# daemon.json says, before anyone runs the tool again ----
for spec in complete:stop:a complete:verify:a complete:configure:a complete:configure:b; do
        point=${spec%:*}
        name="reboot after $point"
        selected "reboot:$point" || continue
        reset_docker_start_limit
        ddr_env DOCKER_DATAROOT_TEST_CRASH_AT="$point" migrate --yes "$TARGET"
        check_eq "$name: the tool died there (SIGKILL, exit 137)" 137 "$DDR_RC"
        if [ "$DDR_RC" != 137 ]; then
                reset_to_start "$name"
                continue
        fi
        inspect_crash "$name" "${point#*:}" "${point%%:*}"
        inside systemctl start docker.socket docker.service
        if [ "$(daemon_json_kind)" = data-root ]; then expected=$TARGET; else expected=$HARNESS_DATAROOT; fi
        check "$name: Docker starts again" wait_docker 60
        check_eq "$name: ... on the data-root daemon.json names" "$expected" "$(docker_info DockerRootDir)"
        check_eq "$name: ... with every image" "$IMAGES_BEFORE" "$(docker_info Images)"
        check_eq "$name: ... and every container" "$CONTAINERS_BEFORE" "$(docker_info Containers)"
        LEFT="$LEFT; after the reboot Docker runs on $(docker_info DockerRootDir)"
        if [ "${spec##*:}" = a ]; then recover "$name" 0; else recover "$name" 1; fi
done

# ---- a crash, a reboot, new data on the old data-root, and Docker
# stopped again before the tool runs: stopped now must not pass for "did
# not run since" (the journal's mark of the source's top says it did) ----
if selected "reboot-stopped:complete:verify"; then
        name="reboot after complete:verify, new data, Docker stopped"
        reset_docker_start_limit
        ddr_env DOCKER_DATAROOT_TEST_CRASH_AT=complete:verify migrate --yes "$TARGET"
        check_eq "$name: the tool died there (SIGKILL, exit 137)" 137 "$DDR_RC"
        inside systemctl start docker.socket docker.service
        check "$name: Docker starts again" wait_docker 60
        check_eq "$name: ... on the old data-root" "$HARNESS_DATAROOT" "$(docker_info DockerRootDir)"
        docker volume create ddr-e2e-after-reboot >/dev/null || e2e_die "docker volume create failed"
        inside systemctl stop docker.socket docker.service
        reset_docker_start_limit
        ddr migrate --yes "$TARGET"
        check_eq "$name: migrate again exits 0" 0 "$DDR_RC"
        check "$name: it copied anew" grep -q "Docker ran on the source since the interrupted run: copying anew" \
                <<< "$DDR_OUTPUT"
        check_eq "$name: DockerRootDir is the target" "$TARGET" "$(docker_info DockerRootDir)"
        check "$name: the volume made after the reboot is on the target" \
                docker volume inspect ddr-e2e-after-reboot
        SUMMARY+=("$name | Docker stopped, ran on the source since the crash | migrate --yes: exit $DDR_RC, copied anew")
        reset_to_start "$name"
        docker volume rm ddr-e2e-after-reboot >/dev/null || e2e_die "docker volume rm failed"
        take_source_baseline
fi

# ---- SIGKILL during the rollback that undoes a crashed migration ----
# The crash at complete:configure leaves the most to undo: daemon.json
# names the target and Docker is stopped. The rollback is killed at a random
# moment (restoring daemon.json, restarting Docker, removing the copy) and
# then run again.
for attempt in 1 2 3; do
        point="random:rollback#$attempt"
        selected random:rollback || break
        reset_docker_start_limit
        ddr_env DOCKER_DATAROOT_TEST_CRASH_AT=complete:configure migrate --yes "$TARGET"
        check_eq "$point: migrate died at complete:configure (exit 137)" 137 "$DDR_RC"
        if [ "$DDR_RC" != 137 ]; then
                reset_to_start "$point"
                continue
        fi
        if [ "$attempt" = 1 ]; then
                # Planning the resume probes the target (a scratch entry at
                # its top): that is not Docker running there.
                ddr migrate --dry-run "$TARGET"
                check_eq "$point: a dry run of the resume exits 0" 0 "$DDR_RC"
        fi
        # Restoring daemon.json and restarting Docker take a few 100 ms
        # here, removing the copy about as long: early, middle, late.
        case $attempt in
        1) delay=$((RANDOM % 100)) ;;
        2) delay=$((100 + RANDOM % 150)) ;;
        *) delay=$((250 + RANDOM % 450)) ;;
        esac
        ddr_bg rollback --yes --remove-target
        started=$(now_ms)
        pid=
        while [ -z "$pid" ] && [ $(($(now_ms) - started)) -lt 5000 ]; do
                pid=$(inside pgrep -x docker-dataroot)
        done
        if [ -z "$pid" ] || [ "$(wc -w <<< "$pid")" != 1 ]; then
                e2e_not_ok "$point: cannot find the one rollback process (found: ${pid:-none})"
        else
                elapsed=$(($(now_ms) - started))
                [ "$elapsed" -lt "$delay" ] && sleep_ms $((delay - elapsed))
                inside kill -KILL "$pid" 2>/dev/null
        fi
        ddr_bg_wait
        config=$(daemon_json_kind)
        LEFT="rollback killed after $delay ms (exit $DDR_RC): docker $(docker_state); daemon.json $config; journal $(journal_get outcome) at $(journal_get stage); target $(absent_inside "$TARGET" && echo gone || echo present)"
        e2e_log "$point left: $LEFT"
        check "$point: daemon.json is the original or the original plus data-root (it is: $config)" \
                test "$config" != other
        recover_by_rollback "$point"
        SUMMARY+=("$point | $LEFT | $RECOVERED")
        reset_to_start "$point"
done

# ---- the end: as it was at the start ----
check_eq "at the end Docker runs on the old data-root" "active/active $HARNESS_DATAROOT" "$(docker_state)"
check_eq "at the end daemon.json is byte for byte the original" original "$(daemon_json_kind)"
check_eq "at the end the same number of images" "$IMAGES_BEFORE" "$(docker_info Images)"
check_eq "at the end the same number of containers" "$CONTAINERS_BEFORE" "$(docker_info Containers)"
check_source_unchanged "at the end"
docker start -a "$APP_CONTAINER" > "$T/app.now" 2>&1
check_same_file "at the end the app container reads its data as before" "$T/app.before" "$T/app.now"

e2e_log "crash point | what the crash left | what recovered it"
for line in "${SUMMARY[@]}"; do
        e2e_log "  $line"
done

e2e_finish
