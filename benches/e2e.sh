#!/usr/bin/env bash
# Copyright the vigil authors. Licensed under the Apache License, Version 2.0.
#
# End-to-end benchmark: the real `vigil serve`, on a fresh data folder, driven over TCP by
# `vigil-load` with the corpus mix (70% agency syslog, 20% winlogbeat Windows JSON, 10% CEF, LEEF
# and FortiGate lines; every line's timestamp set to the time it is sent).
#
#   benches/e2e.sh [find-max]   the maximum sustained events/s (the unpaced rate, then paced
#                               probes down from it until one is held, then bisecting to
#                               within 5%), then ingest-to-alert
#                               latency p50/p99 at 50%, 70% and 90% of it: with the bundled
#                               rules, then with every SigmaHQ rule folder when $SIGMA exists
#   benches/e2e.sh soak         $SOAK_SECS s at $RATE events/s, a row of rates, latency and
#                               server RSS every $SAMPLE_EVERY s; fails if any event is lost
#
# It ends with a block to paste into BENCHMARKS.md. Environment (default):
#   STEP (30)           seconds of each find-max step: the unpaced one, then each level
#   WARMUP (5)          seconds at the start of the unpaced step left out of its rate
#   LEVELS (50,70,90)   find-max's paced levels, in % of the maximum
#   CONNECTIONS (2)     TCP connections of the load tool
#   RATE (100000)       soak rate, events/s
#   SOAK_SECS (600)     soak length, seconds
#   SAMPLE_EVERY (10)   seconds between the soak's rows
#   SOAK_RULES (auto)   rules of the soak: auto (SigmaHQ when present), bundled or sigma
#   TCP_PORT (15514), HTTP_PORT (18514)
#   SIGMA (../shared/corpus/sigma)
#   LOAD_ARGS ()        more vigil-load flags, e.g. "--framing newline" or "--mix 100:0:0"
#   NO_BUILD (unset)    1: use target/release/{vigil,vigil-load} as they are
#   EXTRA_CONFIG ()     TOML appended to the server's configuration, e.g.
#                       EXTRA_CONFIG=$'[store]\ncommit_interval_ms = 200'
#   KEEP (unset)        1: keep the temporary folder (data, config, logs)

set -euo pipefail

MODE=${1:-find-max}
case "$MODE" in
    find-max | soak) ;;
    -h | --help | help)
        sed -n '3,/^$/p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: $0 [find-max|soak]" >&2
        exit 2
        ;;
esac

cd "$(dirname "$0")/.."
STEP=${STEP:-30}
WARMUP=${WARMUP:-5}
LEVELS=${LEVELS:-50,70,90}
CONNECTIONS=${CONNECTIONS:-2}
RATE=${RATE:-100000}
SOAK_SECS=${SOAK_SECS:-600}
SAMPLE_EVERY=${SAMPLE_EVERY:-10}
SOAK_RULES=${SOAK_RULES:-auto}
TCP_PORT=${TCP_PORT:-15514}
HTTP_PORT=${HTTP_PORT:-18514}
SIGMA=${SIGMA:-../shared/corpus/sigma}
LOAD_ARGS=${LOAD_ARGS:-}
VIGIL=target/release/vigil
LOAD=target/release/vigil-load

if [ "${NO_BUILD:-}" != 1 ]; then
    cargo build --release -p vigil-ui-api --bin vigil
    cargo build --release -p vigil-benches --bin vigil-load
fi
for b in "$VIGIL" "$LOAD"; do
    [ -x "$b" ] || { echo "e2e: $b is missing (build it, or unset NO_BUILD)" >&2; exit 1; }
done
for port in "$TCP_PORT" "$HTTP_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "e2e: 127.0.0.1:$port is already in use (set TCP_PORT / HTTP_PORT)" >&2
        exit 1
    fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vigil-e2e.XXXXXX")
SERVER_PID=
LOAD_PID=
TAIL_PID=
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    # vigil drains its pipeline and saves its state on SIGTERM; give it 30 s.
    for _ in $(seq 1 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}
cleanup() {
    for pid in $LOAD_PID $TAIL_PID; do kill -TERM "$pid" 2>/dev/null || true; done
    stop_server
    if [ "${KEEP:-}" = 1 ]; then
        echo "e2e: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cat >"$WORK/vigil.toml" <<EOF
[syslog]
udp = ""
tcp = "127.0.0.1:$TCP_PORT"
tls = ""
relp = ""
[http]
listen = "127.0.0.1:$HTTP_PORT"
${EXTRA_CONFIG:-}
EOF

SIGMA_ARGS=()
for d in rules rules-emerging-threats rules-threat-hunting rules-compliance rules-placeholder; do
    [ -d "$SIGMA/$d" ] && SIGMA_ARGS+=(--rules "$SIGMA/$d")
done

# start_server NAME [vigil serve flags...]: a fresh data folder; waits for the HTTP listener.
start_server() {
    local name=$1
    shift
    local data="$WORK/$name"
    mkdir -p "$data"
    "$VIGIL" serve --config "$WORK/vigil.toml" --data-dir "$data" "$@" >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 3000); do
        if grep -q '^vigil serve: http ' "$WORK/$name.log" && [ -s "$data/admin.token" ]; then
            RULES_LINE=$(grep -m1 '^vigil serve: rules:' "$WORK/$name.log" | sed 's/^vigil serve: //' || true)
            echo "e2e: $name: vigil serve pid $SERVER_PID, ${RULES_LINE:-rules: ?}" >&2
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "e2e: vigil serve ($name) exited:" >&2
            cat "$WORK/$name.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "e2e: vigil serve ($name) did not start listening within 300 s" >&2
    exit 1
}

# load NAME [vigil-load flags...]: runs the load tool against the current server, output
# shown and kept in $WORK/NAME.out. In the background, so that a signal to this script stops
# it at once (the traps run while `wait` waits, not while a foreground command runs).
load() {
    local name=$1
    shift
    : >"$WORK/$name.out"
    # shellcheck disable=SC2086 # LOAD_ARGS is a list of flags
    "$LOAD" --addr "127.0.0.1:$TCP_PORT" --http "127.0.0.1:$HTTP_PORT" \
        --token-file "$WORK/$name/admin.token" --pid "$SERVER_PID" \
        --connections "$CONNECTIONS" $LOAD_ARGS "$@" >"$WORK/$name.out" 2>&1 &
    LOAD_PID=$!
    tail -n +1 -f --pid="$LOAD_PID" "$WORK/$name.out" &
    TAIL_PID=$!
    local rc=0
    wait "$LOAD_PID" || rc=$?
    LOAD_PID=
    wait "$TAIL_PID" || true
    TAIL_PID=
    return "$rc"
}

cpus=$(nproc 2>/dev/null || echo '?')
model=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | sed 's/^model name[[:space:]]*:[[:space:]]*//' || true)
mem=$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit + uncommitted changes"; fi
machine="$cpus cores${model:+ ($model)}${mem:+, $mem}; vigil-load on the same machine"

status=0
RUNS=()
if [ "$MODE" = find-max ]; then
    RUNS+=(bundled)
    [ ${#SIGMA_ARGS[@]} -gt 0 ] && RUNS+=(sigma)
    for run in "${RUNS[@]}"; do
        if [ "$run" = sigma ]; then start_server "$run" "${SIGMA_ARGS[@]}"; else start_server "$run"; fi
        echo "$RULES_LINE" >"$WORK/$run.rules"
        load "$run" --find-max --duration "$STEP" --warmup "$WARMUP" --levels "$LEVELS" || status=1
        stop_server
    done
else
    run=bundled
    case "$SOAK_RULES" in
        sigma) run=sigma ;;
        auto) [ ${#SIGMA_ARGS[@]} -gt 0 ] && run=sigma ;;
        bundled) ;;
        *) echo "e2e: SOAK_RULES must be auto, bundled or sigma" >&2; exit 2 ;;
    esac
    [ "$run" = sigma ] && [ ${#SIGMA_ARGS[@]} -eq 0 ] && { echo "e2e: no SigmaHQ rules under $SIGMA" >&2; exit 1; }
    RUNS+=("$run")
    if [ "$run" = sigma ]; then start_server "$run" "${SIGMA_ARGS[@]}"; else start_server "$run"; fi
    echo "$RULES_LINE" >"$WORK/$run.rules"
    load "$run" --soak --rate "$RATE" --duration "$SOAK_SECS" --sample-every "$SAMPLE_EVERY" || status=1
    stop_server
fi

# The block for BENCHMARKS.md.
{
    echo
    echo "==================== paste into BENCHMARKS.md ===================="
    echo
    if [ "$MODE" = find-max ]; then
        echo "### End to end: maximum sustained rate and latency under load (\`benches/e2e.sh\`)"
    else
        echo "### End to end: ${SOAK_SECS} s soak at ${RATE} events/s (\`benches/e2e.sh soak\`)"
    fi
    echo
    echo '```sh'
    if [ "$MODE" = find-max ]; then
        settings="STEP=$STEP WARMUP=$WARMUP LEVELS=$LEVELS"
    else
        settings="RATE=$RATE SOAK_SECS=$SOAK_SECS SAMPLE_EVERY=$SAMPLE_EVERY SOAK_RULES=$SOAK_RULES"
    fi
    echo "$settings CONNECTIONS=$CONNECTIONS${LOAD_ARGS:+ LOAD_ARGS=\"$LOAD_ARGS\"} benches/e2e.sh $MODE"
    echo '```'
    echo
    echo "$(date -u +%Y-%m-%d), commit $commit; $machine."
    grep -m1 '^vigil-load: mix ' "$WORK/${RUNS[0]}.out" | sed 's/^vigil-load: mix /Mix: /; s/$/./' || true
    if [ "$MODE" = find-max ]; then
        echo "Each step runs ${STEP} s. The unpaced step's processed rate (after ${WARMUP} s) starts the search; paced probes go down from it (below what vigil processed in the probe before) until one is held (processed as fast as offered, at most 1 s of backlog when sending ends), then bisect between the highest held and the lowest not held to within 5%: the highest held is the maximum sustained, and the levels are percentages of it."
        echo "Latency is from a message's receipt to its alert, from the vigil_alert_latency_seconds"
        echo "histogram's change over each step (linear interpolation within its buckets, each a quarter power of 2)."
    fi
    for run in "${RUNS[@]}"; do
        echo
        if [ "$run" = sigma ]; then
            echo "Bundled rules + all SigmaHQ folders ($(cat "$WORK/$run.rules")):"
        else
            echo "Bundled rules ($(cat "$WORK/$run.rules")):"
        fi
        echo
        if [ "$MODE" = find-max ]; then
            awk '/^vigil-load: find-max result/ { f = 1; next } f && /^\|/' "$WORK/$run.out"
            grep '^vigil-load: note ' "$WORK/$run.out" | sed 's/^vigil-load: note *//' || true
        else
            grep '^|' "$WORK/$run.out" || true
            echo
            echo '```'
            grep -E '^vigil-load: (sent|processed|delivery|alerts|latency|  |correlation|errors|soak)' "$WORK/$run.out" || true
            echo '```'
        fi
    done
    echo
    echo "=================================================================="
} | tee "$WORK/paste.md"
exit "$status"
