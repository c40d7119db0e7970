#!/usr/bin/env bash
# REGISTER-with-digest-auth load: starts the release switch on 127.0.0.1 with a bench profile
# (USERS users, MD5), drives it with SIPp (one 401 challenge + one authenticated REGISTER per
# registration) at RATE/s for COUNT registrations, and reports registrations/s, failures, and
# CPU microseconds per registration for the switch (utime+stime from /proc/PID/stat) and for
# SIPp. Loopback only; bounded in count and time. Not part of CI.
#
#   benches/register-load.sh                 # defaults: RATE=500 COUNT=20000 USERS=1000
#   RATE=1000 COUNT=30000 benches/register-load.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"

RATE="${RATE:-500}"
COUNT="${COUNT:-20000}"
USERS="${USERS:-1000}"
PORT="${PORT:-15060}"
TRANSPORT="${TRANSPORT:-u1}"      # SIPp -t: u1 (UDP, one socket) or t1 (TCP, one connection)
DOMAIN="bench.switchyard.test"
PASSWORD_PREFIX="bench-"

PEER_PIDS=""
# shellcheck source=benches/bench-common.sh
source "$root/benches/bench-common.sh"

# Bench profile: USERS users, MD5 only (SIPp 3.6 answers MD5 challenges only), bans disabled
# (ban_secs = 0: a clean run has no failures, and a stray one must not skew the figures), a
# fixed nonce key, and quiet logs.
mkdir -p "$work/config/sip-profiles"
profile="$work/config/sip-profiles/bench.toml"
{
    cat <<TOML
[profile]
name = "bench"
domain = "$DOMAIN"
listen = ["udp:127.0.0.1:$PORT", "tcp:127.0.0.1:$PORT"]

[auth]
realm = "$DOMAIN"
algorithms = ["MD5"]
nonce_key = "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b"

[ban]
max_failures = 1000
window_secs = 1
ban_secs = 0

[registrar]
default_expires = 3600
min_expires = 60
max_expires = 7200
TOML
    for ((i = 0; i < USERS; i++)); do
        user=$((10000 + i))
        printf '\n[[users]]\nname = "%s"\npassword = "%s%s"\n' "$user" "$PASSWORD_PREFIX" "$user"
    done
} >"$profile"

csv="$work/users.csv"
{
    echo "SEQUENTIAL"
    for ((i = 0; i < USERS; i++)); do
        user=$((10000 + i))
        echo "${user};[authentication username=${user} password=${PASSWORD_PREFIX}${user}]"
    done
} >"$csv"

"$BIN" check-config --config-dir "$work/config" >/dev/null

RUST_LOG="${RUST_LOG:-warn}" "$BIN" run --config-dir "$work/config" >"$work/switch.log" 2>&1 &
switch_pid=$!

sipp_common=(127.0.0.1:"$PORT" -t "$TRANSPORT" -i 127.0.0.1 -ci 127.0.0.1 -nostdin
    -key domain "$DOMAIN" -key expires 3600 -auth_uri "$DOMAIN")

# Wait (bounded) until the switch answers OPTIONS.
ready=""
for _ in $(seq 1 50); do
    if ! kill -0 "$switch_pid" 2>/dev/null; then
        echo "switch exited early:" >&2; cat "$work/switch.log" >&2; exit 1
    fi
    if (cd "$work" && sipp "${sipp_common[@]}" -sf "$root/tests/sipp/options.xml" -m 1 \
        -timeout 1 -timeout_error >/dev/null 2>&1); then
        ready=1; break
    fi
    sleep 0.2
done
[ -n "$ready" ] || { echo "switch did not answer OPTIONS in 50 tries" >&2; cat "$work/switch.log" >&2; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz="$(getconf CLK_TCK)"

# Idle baseline: the switch's own CPU while nothing is sent (timers, sweeper).
idle_before="$(cpu_ticks "$switch_pid")"
sleep 3
idle_after="$(cpu_ticks "$switch_pid")"

limit_s=$(( COUNT / RATE + 60 ))
echo "load: $COUNT registrations at $RATE/s over ${TRANSPORT}, $USERS users (bounded to ${limit_s} s)"
before="$(cpu_ticks "$switch_pid")"
start_ns="$(date +%s%N)"
TIMEFORMAT='%U %S'
set +e
{ time (cd "$work" && sipp "${sipp_common[@]}" -sf "$root/tests/sipp/register_load.xml" \
    -inf "$csv" -r "$RATE" -m "$COUNT" -l 5000 -timeout "$limit_s" -timeout_error \
    -max_recv_loops 10000 -trace_screen -screen_file "$work/screen.log" \
    >"$work/sipp.out" 2>&1); } 2>"$work/sipp.time"
sipp_rc=$?
set -e
end_ns="$(date +%s%N)"
after="$(cpu_ticks "$switch_pid")"

counter() { awk -F'|' -v name="$1" '$1 ~ name { gsub(/ /, "", $3); v = $3 } END { print v + 0 }' "$work/screen.log" "$work/sipp.out"; }
ok="$(counter "Successful call")"
failed="$(counter "Failed call")"
read -r sipp_user sipp_sys <"$work/sipp.time"

awk -v ok="$ok" -v failed="$failed" -v b="$before" -v a="$after" -v hz="$hz" \
    -v s="$start_ns" -v e="$end_ns" -v su="$sipp_user" -v ss="$sipp_sys" -v rc="$sipp_rc" \
    -v ib="$idle_before" -v ia="$idle_after" '
BEGIN {
    wall = (e - s) / 1e9
    cpu_us = (a - b) / hz * 1e6
    sipp_us = (su + ss) * 1e6
    idle_us_per_s = (ia - ib) / hz * 1e6 / 3
    printf "sipp exit code:              %d\n", rc
    printf "switch idle CPU:             %.0f us/s (baseline, not subtracted)\n", idle_us_per_s
    printf "registrations ok / failed:   %d / %d\n", ok, failed
    printf "wall time:                   %.2f s\n", wall
    printf "registrations/s:             %.0f\n", (wall > 0 ? ok / wall : 0)
    if (ok > 0) {
        printf "switch CPU per registration: %.1f us (%.2f s CPU total)\n", cpu_us / ok, cpu_us / 1e6
        printf "SIPp CPU per registration:   %.1f us (reference)\n", sipp_us / ok
        if (sipp_us > 0) printf "switch/SIPp CPU ratio:       %.2f\n", cpu_us / sipp_us
    }
}'
[ "$sipp_rc" -eq 0 ] || { echo "SIPp reported failures; last lines:" >&2; tail -n 20 "$work/sipp.out" >&2; exit 1; }
