#!/usr/bin/env bash
# Call load through the switch: starts the release switch on 127.0.0.1, registers a SIPp
# callee (call_uas.xml), and drives calls from a SIPp caller (call_uac_load.xml: INVITE, 407
# challenge answered, 200, ACK, CALL_LENGTH ms, BYE) at RATE calls/s for COUNT calls, with the
# media anchored on the switch's relay or passed through (MEDIA=direct). No RTP is sent: this
# measures signalling and relay set-up per call. Reports calls/s, failed %, the switch's CPU
# microseconds per call (utime+stime from /proc/PID/stat), its peak RSS and RSS per concurrent
# call, and SIPp's own CPU for comparison. Loopback only; bounded in count and time. Not in CI.
#
#   benches/call-load.sh                                  # RATE=200 COUNT=5000 CALL_LENGTH=2000
#   RATE=1000 COUNT=30000 MEDIA=direct benches/call-load.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"

RATE="${RATE:-200}"
COUNT="${COUNT:-5000}"
CALL_LENGTH="${CALL_LENGTH:-2000}"   # ms between ACK and BYE
MEDIA="${MEDIA:-anchored}"           # anchored (relay) or direct (SDP passed through)
PORT="${PORT:-15070}"
UAS_PORT="${UAS_PORT:-15072}"
# Concurrent calls SIPp may hold: the expected RATE x CALL_LENGTH, plus room for slow set-ups.
LIMIT="${LIMIT:-$(( RATE * (CALL_LENGTH / 1000 + 1) * 2 + 100 ))}"

# shellcheck source=benches/call-common.sh
source "$root/benches/call-common.sh"

limit_s=$(( COUNT / RATE + CALL_LENGTH / 1000 + 60 ))
start_callee "$COUNT" "$(( limit_s + 10 ))"

# Idle baseline: the switch's own CPU while nothing is sent (timers, sweeper), and its RSS.
idle_before="$(cpu_ticks "$switch_pid")"
sleep 3
idle_after="$(cpu_ticks "$switch_pid")"
rss_before="$(status_kb "$switch_pid" VmRSS)"

echo "load: $COUNT calls at $RATE/s, ${CALL_LENGTH} ms each, media $MEDIA, up to $LIMIT at once (bounded to ${limit_s} s)"
before="$(cpu_ticks "$switch_pid")"
start_ns="$(date +%s%N)"
TIMEFORMAT='%U %S'
set +e
{ time (cd "$work" && sipp "${caller_args[@]}" -r "$RATE" -m "$COUNT" -l "$LIMIT" \
    -d "$CALL_LENGTH" -timeout "$limit_s" -timeout_error \
    -trace_stat -stf "$work/uac_stat.csv" -fd 1 \
    -trace_screen -screen_file "$work/uac_screen.log" >"$work/uac.out" 2>&1); } 2>"$work/uac.time"
uac_rc=$?
set -e
end_ns="$(date +%s%N)"
after="$(cpu_ticks "$switch_pid")"
rss_peak="$(status_kb "$switch_pid" VmHWM)"
wait "$uas_pid" 2>/dev/null || true
uas_pid=""

ok="$(stat_col "$work/uac_stat.csv" 'SuccessfulCall(C)')"
failed="$(stat_col "$work/uac_stat.csv" 'FailedCall(C)')"
peak_calls="$(stat_col "$work/uac_stat.csv" CurrentCall max)"
read -r uac_user uac_sys <"$work/uac.time"
read -r uas_user uas_sys <"$work/uas.time" || { uas_user=0; uas_sys=0; }
sleep 1
records="$(call_records)"

awk -v ok="$ok" -v failed="$failed" -v b="$before" -v a="$after" -v hz="$hz" \
    -v s="$start_ns" -v e="$end_ns" -v len="$CALL_LENGTH" -v rc="$uac_rc" -v media="$MEDIA" \
    -v ib="$idle_before" -v ia="$idle_after" -v rss0="$rss_before" -v rssp="$rss_peak" \
    -v peak="$peak_calls" -v cu="$uac_user" -v cs="$uac_sys" -v su="$uas_user" -v ss="$uas_sys" \
    -v records="$records" '
BEGIN {
    wall = (e - s) / 1e9
    # The last calls are held CALL_LENGTH after being set up: the set-up rate excludes that.
    setup_s = wall - len / 1000
    cpu_us = (a - b) / hz * 1e6
    sipp_us = (cu + cs + su + ss) * 1e6
    idle_us_per_s = (ia - ib) / hz * 1e6 / 3
    total = ok + failed
    printf "media:                       %s\n", media
    printf "sipp caller exit code:       %d\n", rc
    printf "switch idle CPU:             %.0f us/s (baseline, not subtracted)\n", idle_us_per_s
    printf "calls ok / failed:           %d / %d (%.3f%% failed)\n", ok, failed, (total > 0 ? 100 * failed / total : 0)
    if (records != "") printf "call records written:        %d\n", records
    printf "wall time:                   %.2f s\n", wall
    printf "calls/s:                     %.0f (set-up rate, last call hold time excluded)\n", (setup_s > 0 ? ok / setup_s : 0)
    printf "peak concurrent calls:       %d\n", peak
    printf "switch RSS:                  %.1f MiB before, %.1f MiB peak\n", rss0 / 1024, rssp / 1024
    if (peak > 0) printf "switch RSS per call:         %.1f KiB (peak - before) / peak concurrent\n", (rssp - rss0) / peak
    if (ok > 0) {
        printf "switch CPU per call:         %.1f us (%.2f s CPU total)\n", cpu_us / ok, cpu_us / 1e6
        printf "SIPp CPU per call:           %.1f us (caller + callee, reference)\n", sipp_us / ok
        if (sipp_us > 0) printf "switch/SIPp CPU ratio:       %.2f\n", cpu_us / sipp_us
    }
}'
[ "$uac_rc" -eq 0 ] || { echo "SIPp reported failed calls; last lines:" >&2; tail -n 30 "$work/uac.out" >&2; exit 1; }
