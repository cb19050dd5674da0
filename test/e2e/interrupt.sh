#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Ctrl-C, SIGTERM and SIGHUP while migrate copies (and Ctrl-C while it
# stops Docker, SIGTERM while it verifies): the tool must stop safely, exit 1, say what to run next, leave
# Docker running on the old data-root with daemon.json byte for byte as it
# was and the journal saying "interrupted"; running the same migrate again
# must then finish the move (exit 0, verified, a faithful copy). A signal
# after the verify no longer stops the run: it finishes. A second instance
# started while one runs is refused (exit 3) and changes nothing.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init interrupt
# 60000 files need more inodes than ext4 gives a 1G source.
export HARNESS_SOURCE_SIZE=${HARNESS_SOURCE_SIZE:-2G}
e2e_up
T=$E2E_TMP

SEED=${DDR_INTERRUPT_SEED:-$((($$ + $(date +%s)) % 32768))}
RANDOM=$SEED
e2e_log "random seed $SEED (replay with DDR_INTERRUPT_SEED=$SEED)"

# ---- the data: big enough that the copy lasts a few seconds ----
e2e_log "creating the data to migrate"
create_test_data
live_container_ids
BULK_VOLUME=ddr-e2e-bulk
docker volume create "$BULK_VOLUME" >/dev/null || e2e_die "docker volume create $BULK_VOLUME failed"
add_bulk_data "$(docker volume inspect -f '{{.Mountpoint}}' "$BULK_VOLUME")" 60000 256

inside cat /etc/docker/daemon.json > "$T/daemon.json.orig" || e2e_die "cannot read daemon.json"
docker start -a "$APP_CONTAINER" > "$T/app.before" 2>&1 || e2e_die "app container run failed"
IMAGES_BEFORE=$(docker_info Images)
CONTAINERS_BEFORE=$(docker_info Containers)
manifest "$HARNESS_DATAROOT" "$T/source.base"
stable_view start "$T/source.base" > "$T/source.base.stable"
e2e_log "source: $(wc -l < "$T/source.base") entries, $IMAGES_BEFORE images, $CONTAINERS_BEFORE containers"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

check_source_unchanged() {
        manifest "$HARNESS_DATAROOT" "$T/source.now"
        stable_view start "$T/source.now" > "$T/source.now.stable"
        check_same_file "$1: the source tree is unchanged" "$T/source.base.stable" "$T/source.now.stable"
}

check_daemon_json_original() {
        inside cat /etc/docker/daemon.json > "$T/daemon.json.now"
        check_same_file "$1: daemon.json is byte for byte the original" "$T/daemon.json.orig" "$T/daemon.json.now"
}

# Docker runs on the target with everything it had, and the copy is
# faithful (all but dockerd's own state files, as in migrate.sh).
check_moved() {
        local what=$1
        check "$what: docker answers" wait_docker 60
        check_eq "$what: DockerRootDir is the target" "$TARGET" "$(docker_info DockerRootDir)"
        check_eq "$what: same number of images" "$IMAGES_BEFORE" "$(docker_info Images)"
        check_eq "$what: same number of containers" "$CONTAINERS_BEFORE" "$(docker_info Containers)"
        check_eq "$what: the journal says done" "done" "$(journal_get outcome)"
        check_eq "$what: daemon.json names the target" "$TARGET" \
                "$(inside cat /etc/docker/daemon.json | jq -r '."data-root"')"
        [ "$(docker_info DockerRootDir)" = "$TARGET" ] || return
        manifest "$HARNESS_DATAROOT" "$T/source.now"
        manifest "$TARGET" "$T/target.now"
        stable_view start "$T/source.now" > "$T/source.now.start"
        stable_view start "$T/target.now" > "$T/target.now.start"
        check_same_file "$what: the target is a faithful copy of the source" \
                "$T/source.now.start" "$T/target.now.start"
        check "$what: the --restart always container runs" wait_running "$LIVE_CONTAINER" 60
        docker start -a "$APP_CONTAINER" > "$T/app.now" 2>&1
        check_same_file "$what: the app container reads its data as before" "$T/app.before" "$T/app.now"
}

# Back to the start: Docker on the old data-root, no copy, journal closed.
reset_to_start() {
        local what=$1
        reset_docker_start_limit
        if [ "$(journal_get outcome)" != rolled-back ]; then
                ddr rollback --yes
                check_eq "$what: reset: rollback exits 0" 0 "$DDR_RC"
        fi
        inside rm -rf "$TARGET"
        wait_docker 60
        check_eq "$what: reset: Docker runs on the old data-root" \
                "active/active $HARNESS_DATAROOT" "$(docker_state)"
        check_daemon_json_original "$what: reset"
}

# signal_during SIGNAL STAGE [MIGRATE_OPTIONS...]: sends SIGNAL to a
# migrate a random moment into STAGE (while it runs). Sets SENT_IN to the
# stage the journal showed just before the signal went.
signal_during() {
        local signal=$1 stage=$2 pid delay
        shift 2
        reset_docker_start_limit
        ddr_bg migrate --yes "$@" "$TARGET"
        if ! wait_journal ".outcome == \"running\" and .stage == \"$stage\"" 300; then
                e2e_not_ok "$signal: the run never reached the $stage stage"
                ddr_bg_wait
                return 1
        fi
        if ! pid=$(ddr_pid_inside); then
                e2e_not_ok "$signal: no docker-dataroot process at the journal's pid $(journal_get pid)"
                ddr_bg_wait
                return 1
        fi
        case $stage in
        stop) delay=$((RANDOM % 300)) ;;
        copy) delay=$((100 + RANDOM % 1200)) ;;
        *) delay=$((20 + RANDOM % 100)) ;;
        esac
        sleep_ms "$delay"
        SENT_IN=$(jq -r --arg s "$stage" \
                'if .stage == $s and (.completed | index($s) | not) then $s else "after " + $s end' \
                "$HARNESS_ROOT$DDR_STATE_FILE")
        e2e_log "sending $signal to pid $pid (inside) ${delay} ms into the $stage; the journal says: $SENT_IN"
        inside kill -s "$signal" "$pid"
        ddr_bg_wait
}

# ---- SIGINT, SIGTERM, SIGHUP during the copy; SIGINT during the stop,
# SIGTERM during the verify ----
for case in INT:copy TERM:copy HUP:copy INT:stop TERM:verify; do
        signal=${case%%:*}
        stage=${case#*:}
        what="SIG$signal during the $stage"
        # A content verify lasts long enough to be hit.
        options=()
        [ "$stage" = verify ] && options=(--verify-content)
        signal_during "$signal" "$stage" "${options[@]}" || {
                reset_to_start "$what"
                continue
        }
        # Where the signal lands depends on timing (the stop can take 100 ms
        # or 2 s); what follows must hold wherever it landed.
        if [ "$SENT_IN" = "$stage" ]; then
                e2e_ok "$what: the signal reached the tool during the $stage"
        else
                e2e_log "$what: the signal arrived $SENT_IN (timing); the checks below hold all the same"
        fi
        check_eq "$what: exit 1 (interrupted, Docker back on the old data-root)" 1 "$DDR_RC"
        check "$what: it says it stops safely" grep -q 'stopping safely' <<< "$DDR_OUTPUT"
        check "$what: it says how to finish the move" \
                grep -qF "run the same command again: docker-dataroot migrate $TARGET" <<< "$DDR_OUTPUT"
        check "$what: it says how to drop it" grep -qF 'docker-dataroot rollback' <<< "$DDR_OUTPUT"
        check "$what: docker answers" wait_docker 60
        check_eq "$what: Docker runs on the old data-root" "active/active $HARNESS_DATAROOT" "$(docker_state)"
        check_daemon_json_original "$what"
        check_eq "$what: the journal says interrupted" interrupted "$(journal_get outcome)"
        # The journal's stage is its last step (the rollback to the old
        # data-root); what finished is listed under "completed".
        case $stage in
        stop) next=copy ;;
        copy) next=verify ;;
        verify) next=configure ;;
        esac
        for step in $stage $next; do
                [ "$step" = stop ] && continue    # the stop finishes before the signal is taken
                check "$what: the journal does not list $step as completed" \
                        test -z "$(journal_get completed | tr , '\n' | grep -x "$step")"
        done
        check_eq "$what: same number of containers" "$CONTAINERS_BEFORE" "$(docker_info Containers)"
        check "$what: the --restart always container runs again" wait_running "$LIVE_CONTAINER" 60
        check_source_unchanged "$what"
        ddr status
        check "$what: status reports the interrupted migration" \
                grep -q '^Last migration:.*interrupted' <<< "$DDR_OUTPUT"

        # The same command again finishes it.
        reset_docker_start_limit
        ddr migrate --yes "$TARGET"
        check_eq "$what, then migrate again: exit 0" 0 "$DDR_RC"
        check "$what, then migrate again: it resumed the interrupted migration" \
                grep -q 'resuming the interrupted migration' <<< "$DDR_OUTPUT"
        check "$what, then migrate again: it reports a verified copy" \
                grep -q 'verified: [0-9]* entries' <<< "$DDR_OUTPUT"
        check_moved "$what, then migrate again"
        reset_to_start "$what"
done

# ---- after the verify a signal no longer stops the run ----
reset_docker_start_limit
ddr_bg migrate --yes "$TARGET"
if wait_journal '.outcome == "running" and (.stage == "configure" or .stage == "start")' 300 &&
        pid=$(ddr_pid_inside); then
        e2e_log "sending INT to pid $pid (inside) during the $(journal_get stage) stage"
        inside kill -s INT "$pid"
        ddr_bg_wait
        check_eq "SIGINT after the verify: the run finishes (exit 0)" 0 "$DDR_RC"
        check "SIGINT after the verify: it does not claim to stop and restart Docker on the old data-root" \
                test -z "$(grep 'Docker will be started again' <<< "$DDR_OUTPUT")"
        check_moved "SIGINT after the verify"
else
        e2e_not_ok "SIGINT after the verify: the run never reached configure or start"
        ddr_bg_wait
fi
reset_to_start "SIGINT after the verify"

# ---- a second instance while one runs ----
reset_docker_start_limit
OTHER_TARGET=$HARNESS_TARGET_MNT/other
ddr_bg migrate --yes "$TARGET"
if wait_journal '.outcome == "running" and .stage == "copy"' 300 && first_pid=$(ddr_pid_inside); then
        ddr migrate --yes "$TARGET"
        check_eq "a second migrate to the same target while one runs: exit 3" 3 "$DDR_RC"
        check "... it says another docker-dataroot is running" \
                grep -q 'Another docker-dataroot is running' <<< "$DDR_OUTPUT"
        ddr migrate --yes "$OTHER_TARGET"
        check_eq "a second migrate to another target while one runs: exit 3" 3 "$DDR_RC"
        check "... it says another docker-dataroot is running" \
                grep -q 'Another docker-dataroot is running' <<< "$DDR_OUTPUT"
        check "... it did not create $OTHER_TARGET" absent_inside "$OTHER_TARGET"
        ddr rollback --yes
        check_eq "rollback while a migrate runs: exit 3" 3 "$DDR_RC"
        check "... it says another docker-dataroot is running" \
                grep -q 'Another docker-dataroot is running' <<< "$DDR_OUTPUT"
        ddr cleanup --yes
        check_eq "cleanup while a migrate runs: exit 3" 3 "$DDR_RC"
        ddr status
        check_eq "status while a migrate runs: exit 0" 0 "$DDR_RC"
        check "... it shows the running migration" grep -q '^Last migration:.*running' <<< "$DDR_OUTPUT"
        # The first run is still copying, so nothing it does hides a change.
        check_eq "the first run is still in the copy after the refusals" copy "$(journal_get stage)"
        check_eq "the refused runs left the journal to the first (pid $first_pid)" "$first_pid" \
                "$(journal_get pid)"
        check_eq "... with its target" "$TARGET" "$(journal_get target)"
        check_daemon_json_original "the refused runs"
        check_eq "the refused runs did not start Docker" "inactive/inactive -" "$(docker_state)"
        ddr_bg_wait
        check_eq "the first migrate, undisturbed, exits 0" 0 "$DDR_RC"
        check_moved "the first migrate"
else
        e2e_not_ok "the first migrate never reached the copy"
        ddr_bg_wait
fi
reset_to_start "second instance"

check_source_unchanged "at the end"

e2e_finish
