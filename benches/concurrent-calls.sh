#!/usr/bin/env bash
# Concurrent long calls: starts the release switch on 127.0.0.1 in direct-media mode
# (signalling only), registers a SIPp callee and sets up CALLS calls at RATE calls/s from a
# SIPp caller, each held HOLD seconds, so all are up at once. Once they are, reports the
# switch's RSS against its baseline (RSS per call) and its CPU per call set-up; then lets the
# calls end and checks every one succeeded. Loopback only; bounded in time. Not in CI.
#
# With SETTLE=1 it measures RSS a second time once every set-up transaction has finished
# absorbing retransmissions (64*T1 = 32 s after the last call was set up): the footprint of
# calls held for long.
#
#   benches/concurrent-calls.sh                      # CALLS=10000 RATE=500
#   CALLS=2000 RATE=200 HOLD=30 benches/concurrent-calls.sh
#   SETTLE=1 CALLS=10000 benches/concurrent-calls.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"

CALLS="${CALLS:-10000}"
RATE="${RATE:-500}"
ramp_s=$(( (CALLS + RATE - 1) / RATE ))
SETTLE="${SETTLE:-0}"
SETTLE_S=34                          # 64*T1 and a margin
# Seconds each call is held: outlasts the ramp (and the settling, with SETTLE=1).
HOLD="${HOLD:-$(( ramp_s + 20 + SETTLE * (SETTLE_S + 5) ))}"
MEDIA="${MEDIA:-direct}"
PORT="${PORT:-15080}"
UAS_PORT="${UAS_PORT:-15082}"

# shellcheck source=benches/call-common.sh
source "$root/benches/call-common.sh"

limit_s=$(( ramp_s + HOLD + 60 ))
start_callee "$CALLS" "$(( limit_s + 10 ))"

sleep 2
rss_before="$(status_kb "$switch_pid" VmRSS)"
cpu_before="$(cpu_ticks "$switch_pid")"

echo "setting up $CALLS calls at $RATE/s, each held ${HOLD} s, media $MEDIA (bounded to ${limit_s} s)"
stat="$work/uac_stat.csv"
TIMEFORMAT='%U %S'
( cd "$work" && { time sipp "${caller_args[@]}" -r "$RATE" -m "$CALLS" -l "$CALLS" \
    -d "$(( HOLD * 1000 ))" -timeout "$limit_s" -timeout_error \
    -trace_stat -stf "$stat" -fd 1 \
    -trace_screen -screen_file "$work/uac_screen.log" >"$work/uac.out" 2>&1 ; } \
    2>"$work/uac.time" ) &
uac_pid=$!

# Wait (bounded) until SIPp has created every call and none has ended or failed yet: then all
# are established (each is held far longer than its set-up takes).
up=""
deadline=$(( $(date +%s) + ramp_s + 60 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
    created="$(stat_col "$stat" TotalCallCreated)"
    current="$(stat_col "$stat" CurrentCall)"
    if [ "$created" -ge "$CALLS" ] && [ "$current" -ge "$CALLS" ]; then
        up=1; break
    fi
    kill -0 "$uac_pid" 2>/dev/null || break
    sleep 1
done
# Let the last ACKs arrive, then measure.
sleep 2
rss_up="$(status_kb "$switch_pid" VmRSS)"
cpu_up="$(cpu_ticks "$switch_pid")"
current="$(stat_col "$stat" CurrentCall)"
failed_so_far="$(stat_col "$stat" 'FailedCall(C)')"
[ -n "$up" ] || echo "warning: only $current of $CALLS calls up when measured (failed so far: $failed_so_far)" >&2
rss_settled=""
settled_calls=0
if [ "$SETTLE" = 1 ]; then
    echo "waiting ${SETTLE_S} s for the set-up transactions to finish..."
    sleep "$SETTLE_S"
    rss_settled="$(status_kb "$switch_pid" VmRSS)"
    settled_calls="$(stat_col "$stat" CurrentCall)"
fi

echo "waiting for the calls to end (~${HOLD} s)..."
set +e
wait "$uac_pid"
uac_rc=$?
set -e
uac_pid=""
wait "$uas_pid" 2>/dev/null || true
uas_pid=""
ok="$(stat_col "$stat" 'SuccessfulCall(C)')"
failed="$(stat_col "$stat" 'FailedCall(C)')"
sleep 1
records="$(call_records)"

awk -v n="$current" -v r0="$rss_before" -v r1="$rss_up" -v c0="$cpu_before" -v c1="$cpu_up" \
    -v hz="$hz" -v ok="$ok" -v failed="$failed" -v rc="$uac_rc" -v media="$MEDIA" \
    -v records="$records" -v fds="$(ulimit -n)" -v r2="$rss_settled" -v n2="$settled_calls" '
BEGIN {
    printf "media:                       %s (descriptor limit %s)\n", media, fds
    printf "calls up when measured:      %d\n", n
    printf "switch RSS:                  %.1f MiB before, %.1f MiB with the calls up\n", r0 / 1024, r1 / 1024
    if (n > 0) {
        printf "switch RSS per call:         %.2f KiB\n", (r1 - r0) / n
        printf "switch CPU per call set-up:  %.1f us\n", (c1 - c0) / hz * 1e6 / n
    }
    if (r2 != "" && n2 > 0)
        printf "switch RSS per call settled: %.2f KiB (%d calls up, set-up transactions done)\n", (r2 - r0) / n2, n2
    printf "calls ok / failed:           %d / %d\n", ok, failed
    if (records != "") printf "call records written:        %d\n", records
    printf "sipp caller exit code:       %d\n", rc
}'
[ "$uac_rc" -eq 0 ] || { echo "SIPp reported failed calls; last lines:" >&2; tail -n 30 "$work/uac.out" >&2; exit 1; }
