# Shared steps of the call benches (sourced by benches/call-load.sh and
# benches/concurrent-calls.sh, not run on its own): after benches/bench-common.sh (binary,
# work directory, API port, clean-up), write a bench
# profile (caller 1000, callee 1001, MD5, bans off, no session timers, no media timeout),
# start the switch on 127.0.0.1 and wait for it, register the SIPp callee and start it, and
# read CPU and memory of a process from /proc. Loopback only.
#
# Expects from the sourcing script: set -euo pipefail, `root` (the repository), PORT, UAS_PORT
# and MEDIA (anchored|direct).

DOMAIN="bench.switchyard.test"
CALLER=1000
CALLEE=1001
PASSWORD_PREFIX="bench-"
case "$MEDIA" in
    anchored) direct_media=false ;;
    direct) direct_media=true ;;
    *) echo "MEDIA must be anchored or direct, not '$MEDIA'" >&2; exit 1 ;;
esac

PEER_PIDS="uas_pid uac_pid"
# shellcheck source=benches/bench-common.sh
source "$root/benches/bench-common.sh"
cat >"$work/config/sip-profiles/bench.toml" <<TOML
[profile]
name = "bench"
domain = "$DOMAIN"
listen = ["udp:127.0.0.1:$PORT"]

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

[calls]
ring_timeout_secs = 60
max_duration_secs = 0
session_expires_secs = 0

[media]
direct_media = $direct_media
media_timeout_secs = 0
rtp_port_min = 16384
rtp_port_max = 32767

[[users]]
name = "$CALLER"
password = "$PASSWORD_PREFIX$CALLER"

[[users]]
name = "$CALLEE"
password = "$PASSWORD_PREFIX$CALLEE"
TOML

"$BIN" check-config --config-dir "$work/config" >/dev/null

SWITCHYARD_LOG="${SWITCHYARD_LOG:-warn}" "$BIN" run --config-dir "$work/config" \
    >"$work/switch.log" 2>&1 &
switch_pid=$!

sipp_common=(-t u1 -i 127.0.0.1 -mi 127.0.0.1 -nostdin)

# Waits (bounded) until the switch answers OPTIONS.
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

# The callee registers from the port its SIPp will answer on (Contact = 127.0.0.1:UAS_PORT).
(cd "$work" && sipp 127.0.0.1:"$PORT" "${sipp_common[@]}" -sf "$root/tests/sipp/register_auth.xml" \
    -p "$UAS_PORT" -m 1 -key domain "$DOMAIN" -key expires 3600 -auth_uri "$DOMAIN" \
    -s "$CALLEE" -au "$CALLEE" -ap "$PASSWORD_PREFIX$CALLEE" -timeout 10 -timeout_error \
    >"$work/register.out" 2>&1) || { echo "callee registration failed:" >&2; tail -n 30 "$work/register.out" >&2; exit 1; }

# start_callee CALLS LIMIT_S: the SIPp callee (call_uas.xml) answering CALLS calls, timed.
start_callee() {
    local calls="$1" limit_s="$2"
    TIMEFORMAT='%U %S'
    ( cd "$work" && { time sipp "${sipp_common[@]}" -sf "$root/tests/sipp/call_uas.xml" \
        -p "$UAS_PORT" -m "$calls" -key rtp_port 40000 -timeout "$limit_s" \
        -trace_screen -screen_file "$work/uas_screen.log" >"$work/uas.out" 2>&1 ; } \
        2>"$work/uas.time" ) &
    uas_pid=$!
    sleep 0.5
}

# caller_args: the arguments of the SIPp caller (call_uac_load.xml) towards the switch.
caller_args=(127.0.0.1:"$PORT" "${sipp_common[@]}" -sf "$root/tests/sipp/call_uac_load.xml"
    -key domain "$DOMAIN" -key caller "$CALLER" -s "$CALLEE" -au "$CALLER"
    -ap "$PASSWORD_PREFIX$CALLER" -auth_uri "$CALLEE@$DOMAIN" -max_recv_loops 10000)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz="$(getconf CLK_TCK)"
# status_kb PID FIELD: a kB field of /proc/PID/status (VmRSS, VmHWM).
status_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

# stat_col FILE NAME [max]: the last (or largest) value of column NAME in a SIPp -trace_stat CSV.
stat_col() {
    [ -s "$1" ] || { echo 0; return; }
    awk -F';' -v name="$2" -v mode="${3:-last}" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
        c { v = $c + 0; if (mode == "max") { if (v > m) m = v } else m = v }
        END { print m + 0 }' "$1"
}

# call_records: rows in the calls table (empty when sqlite3 is not installed).
call_records() {
    if command -v sqlite3 >/dev/null; then
        sqlite3 "$work/config/var/switchyard.db" "SELECT count(*) FROM calls" 2>/dev/null || true
    fi
}
