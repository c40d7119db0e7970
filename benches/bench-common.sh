# Shared start of the load benches (sourced by call-common.sh, failover-latency.sh and
# register-load.sh; not run on its own): checks for SIPp, raises the descriptor limit, picks
# the switch binary, makes the work directory with its config dir, gives the control API a
# port of its own, and on exit stops the SIPp peers and then the switch. Loopback only.
#
# Expects from the sourcing script: set -euo pipefail, and PEER_PIDS: the names of the
# variables that will hold the SIPp peers' pids (space-separated, may be empty). Sets BIN,
# work, switch_pid and those variables (empty).
#
# BIN=path/to/switchyard runs another build (e.g. an older commit's, for a before/after
# comparison in the same session); by default the release build of this checkout.
# API_PORT (default 15080) is where the control API listens; older builds ignore api.toml.

command -v sipp >/dev/null || { echo "sipp missing: run scripts/test (installs sip-tester) first" >&2; exit 1; }

# SIPp keeps one UDP socket with -t u1, but the switch holds 4 relay sockets per anchored
# call; raise the descriptor limit for both (inherited by the children of this shell).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

BIN="${BIN:-}"
if [ -z "$BIN" ]; then
    echo "building release binary..."
    cargo build --release -p switchyard --quiet
    BIN="target/release/switchyard"
fi

work="$(mktemp -d)"
switch_pid=""
for var in $PEER_PIDS; do
    printf -v "$var" '%s' ""
done
cleanup() {
    local var pid
    for var in $PEER_PIDS; do
        pid="${!var}"
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    if [ -n "$switch_pid" ] && kill -0 "$switch_pid" 2>/dev/null; then
        kill -TERM "$switch_pid" 2>/dev/null || true
        wait "$switch_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/config/sip-profiles"
printf '[api]\nlisten = "127.0.0.1:%s"\n' "${API_PORT:-15080}" >"$work/config/api.toml"
