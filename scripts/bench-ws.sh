#!/usr/bin/env bash
# WebSocket echo benchmark: `netlab ws serve --echo` against other echo servers.
#
#   scripts/bench-ws.sh
#
# For each server, in the same run and with the same Rust load generator
# (scripts/bench-ws/loadgen, tokio-tungstenite, its own cargo workspace):
#   * echo round-trips per second and MB/s (10^6 bytes/s, payload counted both
#     ways) for 16 B, 1 KiB and 64 KiB binary messages, at each client count of
#     BENCH_CONNS ("8 50 200 1000"): that many connections each doing ping-pong for
#     BENCH_SECS seconds (3); BENCH_ROUNDS (3) rounds with the servers interleaved,
#     the median reported (the spread is printed too); every echo is checked
#     (a round trip ends only once all its bytes are back; errors are reported);
#   * concurrent idle connections: up to BENCH_IDLE (10000) are opened (64
#     handshakes in flight), held idle for 5 s, then the server's VmRSS is read
#     and 100 of them, evenly spread, must still echo.
# Servers (BENCH_SERVERS, default "netlab tungstenite python websocat"; a row is
# skipped, with the reason, when one is unavailable):
#   netlab    target/release/netlab ws serve --echo --quiet (as websocat -q: no line per message;
#             connection lines go to /dev/null)
#   tungstenite  the reference: tokio-tungstenite's echo example on tokio's
#             multi-thread runtime (scripts/bench-ws/loadgen/src/bin/tungstenite-echo.rs,
#             built with the load generator); the ratios are netlab / tungstenite
#   python    Python `websockets` asyncio echo (scripts/bench-ws/echo_server.py);
#             the repo's .venv if it has websockets, else a venv in target/bench-ws/venv
#   websocat  compiled (Rust, tokio): `websocat -b ws-l:ADDR mirror:`, installed once
#             with `cargo install websocat --root target/bench-ws/tools` (several
#             minutes the first time; cached after). If that fails, a `websocketd`
#             already on PATH is used instead (Go; one `cat` process per connection).
# Everything listens on 127.0.0.1 only, every wait is bounded, and every server
# is stopped at the end. About 2 minutes once everything is built.
#
# The machine's load (uptime) is printed with the figures: on a shared machine they
# are only comparable within one run.
#
# Environment: BENCH_SECS, BENCH_ROUNDS, BENCH_CONNS, BENCH_SIZES (bytes, "16 1024 65536"),
# BENCH_SERVERS, BENCH_IDLE, BENCH_PORT (first port, 18700).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
OUT=$ROOT/target/bench-ws
SECS=${BENCH_SECS:-3}
ROUNDS=${BENCH_ROUNDS:-3}
read -r -a CONNS <<<"${BENCH_CONNS:-8 50 200 1000}"
read -r -a WANT_SERVERS <<<"${BENCH_SERVERS:-netlab tungstenite python websocat}"
IDLE=${BENCH_IDLE:-10000}
HOLD=5
SAMPLE=100
PORT=${BENCH_PORT:-18700}
read -r -a SIZES <<<"${BENCH_SIZES:-16 1024 65536}"
SIZE_NAMES=()
for size in "${SIZES[@]}"; do
    if [ $((size % 1024)) = 0 ]; then SIZE_NAMES+=("$((size / 1024)) KiB"); else SIZE_NAMES+=("$size B"); fi
done
wants() { [[ " ${WANT_SERVERS[*]} " == *" $1 "* ]]; }
mkdir -p "$OUT"

say() { printf '%s\n' "$*" >&2; }

# --- file descriptors: the load generator and each server hold IDLE sockets --
# (as many as allowed: netlab uses two descriptors per connection)
want=$((2 * IDLE + 1000))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then want=$hard; fi
ulimit -n "$want" 2>/dev/null || true
if [ "$(ulimit -n)" -lt $((IDLE + 100)) ]; then
    IDLE=$(($(ulimit -n) - 100))
    say "bench-ws: open-file limit is $(ulimit -n): trying only $IDLE idle connections"
fi
read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
if [ $((hi - lo)) -lt "$IDLE" ]; then
    say "bench-ws: only $((hi - lo)) ephemeral ports ($lo-$hi): fewer idle connections will fit"
fi

# --- build / install ----------------------------------------------------------
say "bench-ws: building netlab (release) and the load generator…"
if ! cargo build --release --quiet; then
    say "bench-ws: netlab does not build"; exit 1
fi
NETLAB=$ROOT/target/release/netlab
if ! CARGO_TARGET_DIR=$OUT/loadgen-target cargo build --release --quiet \
    --manifest-path scripts/bench-ws/loadgen/Cargo.toml; then
    say "bench-ws: the load generator does not build"; exit 1
fi
LOADGEN=$OUT/loadgen-target/release/bench-ws-loadgen
TUNGSTENITE=$OUT/loadgen-target/release/tungstenite-echo

declare -A SKIP
PY=
wants python || SKIP[python]="not in BENCH_SERVERS"
for cand in "$ROOT/.venv/bin/python" "$OUT/venv/bin/python"; do
    if [ -x "$cand" ] && "$cand" -c 'import websockets.asyncio.server' 2>/dev/null; then
        PY=$cand; break
    fi
done
if [ -z "$PY" ] && wants python; then
    say "bench-ws: installing Python websockets into $OUT/venv…"
    if python3 -m venv "$OUT/venv" >/dev/null 2>&1 &&
        timeout 300 "$OUT/venv/bin/pip" install -q websockets >/dev/null 2>&1 &&
        "$OUT/venv/bin/python" -c 'import websockets.asyncio.server' 2>/dev/null; then
        PY=$OUT/venv/bin/python
    else
        SKIP[python]="could not install the websockets package"
    fi
fi

COMPILED=websocat
WEBSOCAT=$OUT/tools/bin/websocat
if ! wants websocat; then
    SKIP[websocat]="not in BENCH_SERVERS"
elif [ ! -x "$WEBSOCAT" ]; then
    if command -v websocat >/dev/null; then
        WEBSOCAT=$(command -v websocat)
    else
        say "bench-ws: installing websocat (first run only: several minutes)…"
        timeout 1800 cargo install --quiet --locked websocat --root "$OUT/tools" \
            >"$OUT/websocat-install.log" 2>&1 ||
            say "bench-ws: websocat did not install (see $OUT/websocat-install.log)"
    fi
fi
if [ -z "${SKIP[websocat]:-}" ] && [ ! -x "$WEBSOCAT" ]; then
    if command -v websocketd >/dev/null; then
        COMPILED=websocketd
    else
        SKIP[websocat]="websocat did not install and no websocketd on PATH"
    fi
fi
SERVERS=()
for s in netlab tungstenite python "$COMPILED"; do
    if wants "$s" || { [ "$s" = websocketd ] && wants websocat; }; then SERVERS+=("$s"); fi
done

# --- servers --------------------------------------------------------------------
PID=
stop_server() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
        PID=
    fi
}
trap stop_server EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Starts server $1 on a free port; sets PID and ADDR. Fails if it never listens.
start_server() {
    while port_open "$PORT"; do PORT=$((PORT + 1)); done
    ADDR=127.0.0.1:$PORT
    local log=$OUT/$1.log
    case $1 in
    # stderr capped at 1 MB: a failing accept() may log in a tight loop
    netlab) "$NETLAB" ws serve --echo --quiet --addr "$ADDR" >/dev/null 2> >(head -c 1000000 >"$log") & ;;
    tungstenite) "$TUNGSTENITE" "$ADDR" >"$log" 2>&1 & ;;
    python) "$PY" scripts/bench-ws/echo_server.py 127.0.0.1 "$PORT" >"$log" 2>&1 & ;;
    websocat) "$WEBSOCAT" -q -b ws-l:"$ADDR" mirror: >"$log" 2>&1 & ;;
    websocketd) websocketd --address=127.0.0.1 --port="$PORT" --binary=true \
        --loglevel=error cat >"$log" 2>&1 & ;;
    esac
    PID=$!
    PORT=$((PORT + 1))
    for _ in $(seq 100); do
        port_open "${ADDR#*:}" && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    stop_server
    return 1
}

# --- measure -------------------------------------------------------------------
LOAD_BEFORE=$(uptime)
declare -A RT MB HELD RSS NOTE RTS MBS
# Echo rates: ROUNDS rounds, servers interleaved within each round, median reported
# (this 2-core machine's figures drift by ±15 % from one minute to the next).
for round in $(seq "$ROUNDS"); do
    for s in "${SERVERS[@]}"; do
        [ -n "${SKIP[$s]:-}" ] && continue
        if ! start_server "$s"; then
            SKIP[$s]="server did not start (see $OUT/$s.log)"
            say "bench-ws: skipping $s: ${SKIP[$s]}"
            continue
        fi
        for conns in "${CONNS[@]}"; do
            for i in "${!SIZES[@]}"; do
                size=${SIZES[$i]}
                say "bench-ws: round $round/$ROUNDS: $s: ${SIZE_NAMES[$i]} echo, $conns connections, $SECS s…"
                line=$(timeout $((SECS + 120)) "$LOADGEN" echo "ws://$ADDR/" "$conns" "$size" "$SECS" \
                    2>>"$OUT/loadgen.log" | tail -n 1)
                rt=$(sed -n 's/.*rt_per_s=\([0-9.]*\).*/\1/p' <<<"$line")
                mb=$(sed -n 's/.*mb_per_s=\([0-9.]*\).*/\1/p' <<<"$line")
                errors=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$line")
                RTS[$s,$conns,$size]+=" ${rt:-}"
                MBS[$s,$conns,$size]+=" ${mb:-}"
                if [ -z "$line" ]; then
                    NOTE[$s]+=" $conns × ${SIZE_NAMES[$i]} echo failed (round $round);"
                elif [ "${errors:-0}" != 0 ]; then
                    NOTE[$s]+=" $conns × ${SIZE_NAMES[$i]}: $errors connections failed (round $round);"
                fi
            done
        done
        stop_server
    done
done
median() { # the median of the numbers in $1 ("-" if none)
    tr ' ' '\n' <<<"$1" | grep -E '^[0-9.]+$' | sort -g | awk '{ a[NR] = $1 }
        END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2];
              else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
for s in "${SERVERS[@]}"; do
    for conns in "${CONNS[@]}"; do
        for size in "${SIZES[@]}"; do
            RT[$s,$conns,$size]=$(median "${RTS[$s,$conns,$size]:-}")
            MB[$s,$conns,$size]=$(median "${MBS[$s,$conns,$size]:-}")
        done
    done
done
LOAD_AFTER_ECHO=$(uptime)

for s in "${SERVERS[@]}"; do
    [ -n "${SKIP[$s]:-}" ] && continue
    if ! start_server "$s"; then
        SKIP[$s]="server did not start (see $OUT/$s.log)"
        say "bench-ws: skipping $s: ${SKIP[$s]}"
        continue
    fi
    say "bench-ws: $s: opening up to $IDLE idle connections, holding $HOLD s…"
    line=$(timeout 300 "$LOADGEN" idle "ws://$ADDR/" "$IDLE" "$HOLD" "$SAMPLE" "$PID" \
        2>>"$OUT/loadgen.log" | tail -n 1)
    held=$(sed -n 's/.*held=\([0-9]*\).*/\1/p' <<<"$line")
    rss=$(sed -n 's/.*rss_kib=\([0-9]*\).*/\1/p' <<<"$line")
    echoed=$(sed -n 's/.*echoed=\([0-9/]*\).*/\1/p' <<<"$line")
    alive=yes
    kill -0 "$PID" 2>/dev/null || alive=no
    HELD[$s]=${held:--}
    RSS[$s]=$([ -n "$rss" ] && [ "$rss" != 0 ] && echo $((rss / 1024)) || echo -)
    # Held only counts if the server survived and the sample still echoes.
    if [ "$alive" = no ]; then
        NOTE[$s]+=" server died during the idle test, after ${held:-?} handshakes (see ${OUT#"$ROOT"/}/$s.log);"
        HELD[$s]=0
    elif [ -n "$echoed" ] && [ "${echoed%/*}" != "${echoed#*/}" ]; then
        NOTE[$s]+=" only $echoed sampled idle connections echoed;"
    fi
    stop_server
done

# --- report --------------------------------------------------------------------
pick() { local v=$1; [ -n "$v" ] && [ "$v" != - ] && echo "$v"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else printf "-" }'; }

printf '\nWebSocket echo benchmark — %s, %s cores, %s s per cell, median of %s interleaved rounds, loopback\n' \
    "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$SECS" "$ROUNDS"
printf 'load: before %s\n      after the echo runs %s\n      at the end %s\n' \
    "${LOAD_BEFORE##*load average: }" "${LOAD_AFTER_ECHO##*load average: }" "$(uptime | sed 's/.*load average: //')"
printf '\nround trips per second (MB/s), by clients × message size:\n'
printf '%-11s %7s' server clients
for n in "${SIZE_NAMES[@]}"; do printf ' %20s' "$n"; done
printf '\n'
for s in "${SERVERS[@]}"; do
    if [ -n "${SKIP[$s]:-}" ]; then printf '%-11s skipped: %s\n' "$s" "${SKIP[$s]}"; continue; fi
    for conns in "${CONNS[@]}"; do
        printf '%-11s %7s' "$s" "$conns"
        for size in "${SIZES[@]}"; do
            printf ' %20s' "${RT[$s,$conns,$size]} (${MB[$s,$conns,$size]})"
        done
        printf '\n'
    done
done

# netlab / a peer (or the best peer), rate by rate: above 1 is better.
best() { # $1 = conns, $2 = size: the best peer rate
    local s v b=
    for s in "${SERVERS[@]}"; do
        [ "$s" = netlab ] && continue
        [ -n "${SKIP[$s]:-}" ] && continue
        v=$(pick "${RT[$s,$1,$2]:-}") || continue
        if [ -z "$b" ] || awk -v v="$v" -v b="$b" 'BEGIN { exit !(v > b) }'; then b=$v; fi
    done
    echo "${b:-}"
}
fails=0
cells=0
if [ -z "${SKIP[netlab]:-}" ]; then
    for peer in tungstenite best; do
        if [ "$peer" = tungstenite ] &&
            { [[ " ${SERVERS[*]} " != *" tungstenite "* ]] || [ -n "${SKIP[tungstenite]:-}" ]; }; then
            continue
        fi
        printf '\nnetlab / %s (round trips per second):\n%-11s %7s' "$peer" '' clients
        for n in "${SIZE_NAMES[@]}"; do printf ' %20s' "$n"; done
        printf '\n'
        for conns in "${CONNS[@]}"; do
            printf '%-11s %7s' "" "$conns"
            for size in "${SIZES[@]}"; do
                if [ "$peer" = best ]; then b=$(best "$conns" "$size"); else b=${RT[tungstenite,$conns,$size]}; fi
                r=$(ratio "${RT[netlab,$conns,$size]}" "$b")
                printf ' %20s' "$r"
                if [ "$peer" = tungstenite ]; then
                    cells=$((cells + 1))
                    if [ "$r" = - ] || awk -v r="$r" 'BEGIN { exit !(r < 1) }'; then fails=$((fails + 1)); fi
                fi
            done
            printf '\n'
        done
    done
fi

printf '\nidle connections (up to %s, held %s s, %s sampled must echo):\n' "$IDLE" "$HOLD" "$SAMPLE"
for s in "${SERVERS[@]}"; do
    [ -n "${SKIP[$s]:-}" ] && continue
    printf '  %-11s held %6s   RSS %5s MiB\n' "$s" "${HELD[$s]:--}" "${RSS[$s]:--}"
done
if [ -z "${SKIP[netlab]:-}" ]; then
    rss=${RSS[netlab]:--}
    if [ "$cells" = 0 ]; then verdict="no tungstenite figures"
    elif [ "$fails" = 0 ]; then verdict=met
    else verdict="NOT met ($fails of $cells below 1.00)"; fi
    printf '\ntarget: netlab ≥ 1.00× tokio-tungstenite on every echo rate: %s\n' "$verdict"
    printf 'target: %s idle connections in < 100 MiB: %s\n' "$IDLE" \
        "$([ "${HELD[netlab]:-0}" = "$IDLE" ] && [ "$rss" != - ] && [ "$rss" -lt 100 ] && echo "met (${rss} MiB)" || echo "NOT met (held ${HELD[netlab]:-0}, ${rss} MiB)")"
fi
[ "$COMPILED" = websocketd ] &&
    printf 'note: websocat was unavailable; websocketd (Go) spawns one `cat` per connection\n'
for s in "${SERVERS[@]}"; do
    [ -n "${NOTE[$s]:-}" ] && printf 'note: %s:%s\n' "$s" "${NOTE[$s]}"
done
printf 'rounds (round trips/s, in order):\n'
for s in "${SERVERS[@]}"; do
    [ -n "${SKIP[$s]:-}" ] && continue
    for conns in "${CONNS[@]}"; do
        printf '  %-11s %5s' "$s" "$conns"
        for i in "${!SIZES[@]}"; do printf ' %s:%s' "${SIZE_NAMES[$i]// /}" "$(tr -s ' ' <<<"${RTS[$s,$conns,${SIZES[$i]}]:-}" | tr ' ' ',' | sed 's/^,//')"; done
        printf '\n'
    done
done
printf 'target idle connections: %s; logs in %s\n' "$IDLE" "${OUT#"$ROOT"/}"
exit 0
