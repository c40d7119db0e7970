#!/usr/bin/env bash
# Failover added latency: what a carrier's 503 costs a call's set-up. Starts the release switch
# on 127.0.0.1 with a phones profile (caller 1000) and a trunks profile, two SIPp carriers
# (A answers every INVITE 503, tests/sipp/carrier_503.xml; B answers 200,
# tests/sipp/carrier_answer.xml) and two route groups: `direct` = [B] and `failover` = [A, B]
# (priority). A SIPp phone (call_uac_load.xml) makes COUNT calls at RATE/s through each:
#   (a) +1666... -> direct: INVITE -> B -> 200
#   (b) +1555... -> failover: INVITE -> A -> 503 -> B -> 200
# Set-up time is the caller's authenticated INVITE sent -> its 200 received, per call, from
# SIPp's short message trace (microsecond time stamps). Reports p50 and p99 of each and the
# added latency (b) - (a). Loopback only; bounded in count and time. Not in CI.
#
#   benches/failover-latency.sh                     # COUNT=500 RATE=50 CALL_LENGTH=200
#   COUNT=2000 RATE=100 benches/failover-latency.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"

COUNT="${COUNT:-500}"
RATE="${RATE:-50}"
CALL_LENGTH="${CALL_LENGTH:-200}"   # ms between ACK and BYE
PORT="${PORT:-15090}"               # phones profile
CARRIERS_PORT="${CARRIERS_PORT:-15091}"
A_PORT="${A_PORT:-15092}"
B_PORT="${B_PORT:-15093}"
DOMAIN="bench.switchyard.test"
CALLER=1000
PASSWORD="bench-$CALLER"
PEER_PIDS="a_pid b_pid"
# shellcheck source=benches/bench-common.sh
source "$root/benches/bench-common.sh"

mkdir -p "$work/config/sip-profiles/trunks" "$work/config/dialplans"
cat >"$work/config/sip-profiles/phones.toml" <<TOML
[profile]
name = "phones"
domain = "$DOMAIN"
listen = ["udp:127.0.0.1:$PORT"]
context = "phones"

[auth]
realm = "$DOMAIN"
algorithms = ["MD5"]
nonce_key = "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b"

[ban]
max_failures = 1000
window_secs = 1
ban_secs = 0

[calls]
ring_timeout_secs = 60
max_duration_secs = 0
session_expires_secs = 0

[media]
media_timeout_secs = 0
rtp_port_min = 16384
rtp_port_max = 24575

[[users]]
name = "$CALLER"
password = "$PASSWORD"
TOML

cat >"$work/config/sip-profiles/carriers.toml" <<TOML
[profile]
name = "carriers"
domain = "$DOMAIN"
listen = ["udp:127.0.0.1:$CARRIERS_PORT"]
kind = "trunks"
context = "from-carriers"

[auth]
nonce_key = "7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c"

[calls]
session_expires_secs = 0

[media]
media_timeout_secs = 0
rtp_port_min = 24576
rtp_port_max = 32767
TOML

cat >"$work/config/sip-profiles/trunks/bench.toml" <<TOML
[[trunk]]
name = "carrier-a"
profile = "carriers"
gateways = ["sip:127.0.0.1:$A_PORT"]
[trunk.probe]
enabled = false

[[trunk]]
name = "carrier-b"
profile = "carriers"
gateways = ["sip:127.0.0.1:$B_PORT"]
[trunk.probe]
enabled = false

[[route_group]]
name = "failover"
strategy = "priority"
trunks = ["carrier-a", "carrier-b"]

[[route_group]]
name = "direct"
strategy = "priority"
trunks = ["carrier-b"]
TOML

cat >"$work/config/dialplans/bench.toml" <<'TOML'
[[context]]
name = "phones"

[[context.rule]]
name = "via-a-then-b"
destination_prefix = "+1555"
route_group = "failover"

[[context.rule]]
name = "straight-to-b"
destination_prefix = "+1666"
route_group = "direct"

[[context]]
name = "from-carriers"

[[context.rule]]
name = "nothing-in"
hangup = 404
TOML

"$BIN" check-config --config-dir "$work/config" >/dev/null

sipp_common=(-t u1 -i 127.0.0.1 -mi 127.0.0.1 -nostdin)
limit_s=$(( 2 * COUNT / RATE + CALL_LENGTH / 1000 + 60 ))

# The carriers first: the switch may probe or call them as soon as it runs.
(cd "$work" && exec sipp "${sipp_common[@]}" -sf "$root/tests/sipp/carrier_503.xml" -p "$A_PORT" \
    -m 1000000 -timeout "$(( limit_s + 30 ))" -trace_shortmsg -shortmessage_file "$work/a.short" \
    >"$work/a.out" 2>&1) &
a_pid=$!
(cd "$work" && exec sipp "${sipp_common[@]}" -sf "$root/tests/sipp/carrier_answer.xml" -p "$B_PORT" \
    -m 1000000 -timeout "$(( limit_s + 30 ))" -trace_shortmsg -shortmessage_file "$work/b.short" \
    >"$work/b.out" 2>&1) &
b_pid=$!

SWITCHYARD_LOG="${SWITCHYARD_LOG:-warn}" "$BIN" run --config-dir "$work/config" \
    >"$work/switch.log" 2>&1 &
switch_pid=$!

ready=""
for _ in $(seq 1 50); do
    if ! kill -0 "$switch_pid" 2>/dev/null; then
        echo "switch exited early:" >&2; cat "$work/switch.log" >&2; exit 1
    fi
    if (cd "$work" && sipp 127.0.0.1:"$PORT" "${sipp_common[@]}" -sf "$root/tests/sipp/options.xml" \
        -key domain "$DOMAIN" -m 1 -timeout 1 -timeout_error >/dev/null 2>&1); then
        ready=1; break
    fi
    sleep 0.2
done
[ -n "$ready" ] || { echo "switch did not answer OPTIONS in 50 tries" >&2; cat "$work/switch.log" >&2; exit 1; }

# invites FILE: INVITEs a carrier received (first of each Call-ID) in its short trace.
invites() {
    [ -s "$1" ] || { echo 0; return; }
    awk -F'\t' '$4 == "R" && $7 ~ /^INVITE / && !seen[$5]++ { n++ } END { print n + 0 }' "$1"
}

# phase NAME NUMBER: COUNT calls to NUMBER; writes one set-up time (ms) per call to NAME.ms.
phase() {
    local name="$1" number="$2" rc
    echo "$name: $COUNT calls to $number at $RATE/s, ${CALL_LENGTH} ms each"
    set +e
    (cd "$work" && sipp 127.0.0.1:"$PORT" "${sipp_common[@]}" -sf "$root/tests/sipp/call_uac_load.xml" \
        -key domain "$DOMAIN" -key caller "$CALLER" -s "$number" -au "$CALLER" -ap "$PASSWORD" \
        -auth_uri "$number@$DOMAIN" -r "$RATE" -m "$COUNT" -l "$(( RATE * 4 + 10 ))" \
        -d "$CALL_LENGTH" -timeout "$limit_s" -timeout_error \
        -trace_shortmsg -shortmessage_file "$work/$name.short" >"$work/$name.out" 2>&1)
    rc=$?
    set -e
    [ "$rc" -eq 0 ] || { echo "SIPp reported failed calls in $name; last lines:" >&2; tail -n 30 "$work/$name.out" >&2; exit 1; }
    # Short trace fields: date, time, epoch seconds (us), S|R, Call-ID, CSeq, start line.
    awk -F'\t' '
        $4 == "S" && $6 == "CSeq:2 INVITE" && $7 ~ /^INVITE / && !($5 in sent) { sent[$5] = $3 }
        $4 == "R" && $6 == "CSeq:2 INVITE" && $7 ~ /^SIP\/2.0 200/ && ($5 in sent) && !($5 in done) {
            done[$5] = 1; printf "%.3f\n", ($3 - sent[$5]) * 1000 }' \
        "$work/$name.short" | sort -n >"$work/$name.ms"
    local got
    got="$(wc -l <"$work/$name.ms")"
    [ "$got" -eq "$COUNT" ] || { echo "$name: $got set-up times for $COUNT calls" >&2; exit 1; }
}

# pct FILE P: the P-th percentile (nearest rank) of the sorted values in FILE.
pct() {
    awk -v p="$2" '{ v[NR] = $1 } END { r = int(NR * p / 100 + 0.999999); if (r < 1) r = 1; print v[r] }' "$1"
}

phase direct "+16660000001"
a_before="$(invites "$work/a.short")"
b_before="$(invites "$work/b.short")"
phase failover "+15550000001"
a_after="$(invites "$work/a.short")"
b_after="$(invites "$work/b.short")"

[ "$a_before" -eq 0 ] || { echo "carrier A got $a_before INVITEs in the direct phase" >&2; exit 1; }
[ "$b_before" -eq "$COUNT" ] || { echo "carrier B got $b_before INVITEs in the direct phase, not $COUNT" >&2; exit 1; }
[ "$(( a_after - a_before ))" -eq "$COUNT" ] || { echo "carrier A got $(( a_after - a_before )) INVITEs in the failover phase, not $COUNT" >&2; exit 1; }
[ "$(( b_after - b_before ))" -eq "$COUNT" ] || { echo "carrier B got $(( b_after - b_before )) INVITEs in the failover phase, not $COUNT" >&2; exit 1; }

a50="$(pct "$work/direct.ms" 50)"; a99="$(pct "$work/direct.ms" 99)"
b50="$(pct "$work/failover.ms" 50)"; b99="$(pct "$work/failover.ms" 99)"
awk -v a50="$a50" -v a99="$a99" -v b50="$b50" -v b99="$b99" -v n="$COUNT" -v r="$RATE" 'BEGIN {
    printf "calls per phase:             %d at %d/s\n", n, r
    printf "set-up (INVITE -> 200), ms:  p50      p99\n"
    printf "  (a) straight to B          %-8.3f %.3f\n", a50, a99
    printf "  (b) A 503, then B          %-8.3f %.3f\n", b50, b99
    printf "added by the failover, ms:   %-8.3f %.3f   ((b) - (a), per percentile)\n", b50 - a50, b99 - a99
}'
