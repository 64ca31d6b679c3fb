#!/usr/bin/env bash
# Socket.IO benchmark: `netlab socketio serve` against the official node `socket.io` v4
# server, in the same run, with the same load generator.
#
#   scripts/bench-socketio.sh
#
# Both servers run the same chat demo: every `chat` event is broadcast to the other
# clients of its namespace (netlab: its default; node: scripts/bench-socketio/server.js).
# The load generator (scripts/bench-socketio/loadgen, Rust + tokio-tungstenite, its own
# cargo workspace) is a minimal Engine.IO 4 / Socket.IO 5 client over WebSocket only —
# what socket.io-client does with `transports: ['websocket']` — so it is the same
# client for both servers and costs little CPU per delivery. For N = 10, 100, 1000:
#   * set-up: N clients connect (64 handshakes in flight): WebSocket upgrade, Engine.IO
#     open packet, Socket.IO CONNECT to `/` answered; the time until all N are in;
#   * broadcast: N receivers + BENCH_SENDERS (2) senders join `/`; the senders emit
#     `chat` as fast as the server absorbs it, each keeping at most BENCH_WINDOW (32)
#     messages not yet delivered to every receiver; after 1 s of warm-up the deliveries
#     at the N receivers are counted for BENCH_SECS (5) s. Broadcast messages per second
#     = deliveries per second / N. Afterwards every sent message must reach every
#     receiver (the table notes any loss).
#   * hold (first): BENCH_HOLD (10,000) clients, each a WebSocket with the Socket.IO
#     CONNECT answered, all emit `hello` asking for an ack at once, then are held for
#     BENCH_HOLD_SECS (30) s answering the server's heartbeats (default pingInterval
#     25 s: one ping each) — the issue's load. A fresh server per run, default options;
#     its RSS is sampled while held (and its peak, VmHWM, read at the end). Reported:
#     clients alive at the end, acks, acks/s, set-up time, peak RSS; the target is
#     peak RSS ≤ 0.5× node's with every client held and acked.
#   * polling: BENCH_POLL (1,000) official socket.io-client clients over long-polling
#     only (tests/node/many.js, installed by scripts/test.sh), 200 set-ups in flight,
#     each CONNECT answered and one ack back, all held at once; reported: acks, the
#     time for all of it, the server's peak RSS.
# Everything listens on 127.0.0.1 only, every wait is bounded, and both servers are
# stopped at the end. About 4 minutes once everything is built.
#
# Environment: BENCH_PARTS ("hold polling broadcast"), BENCH_POLL, BENCH_HOLD, BENCH_HOLD_SECS, BENCH_SECS,
# BENCH_SENDERS, BENCH_WINDOW, BENCH_NS ("10 100 1000"), BENCH_PORT (first port, 18900).
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/bench-socketio
SECS=${BENCH_SECS:-5}
SENDERS=${BENCH_SENDERS:-2}
WINDOW=${BENCH_WINDOW:-32}
read -r -a NS <<<"${BENCH_NS:-10 100 1000}"
PARTS=${BENCH_PARTS:-hold polling broadcast}
POLL=${BENCH_POLL:-1000}
HOLD=${BENCH_HOLD:-10000}
HOLD_SECS=${BENCH_HOLD_SECS:-30}
PORT=${BENCH_PORT:-18900}
SERVERS=(netlab node)
mkdir -p "$OUT"

say() { printf '%s\n' "$*" >&2; }

# --- file descriptors: 10,000+ clients on each side ------------------------------
want=$((HOLD + 2048))
[ "$want" -lt 8192 ] && want=8192
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then want=$hard; fi
ulimit -n "$want" 2>/dev/null || true
say "bench-socketio: open-file limit $(ulimit -n)"

# --- build / install ---------------------------------------------------------------
declare -A SKIP
say "bench-socketio: building netlab (release) and the load generator…"
if ! cargo build --release --quiet; then
    say "bench-socketio: netlab does not build"; exit 1
fi
NETLAB=$ROOT/target/release/netlab
if ! "$NETLAB" socketio serve --help >/dev/null 2>&1; then
    SKIP[netlab]="this netlab has no \`socketio serve\`"
fi
if ! CARGO_TARGET_DIR=$OUT/loadgen-target cargo build --release --quiet \
    --manifest-path scripts/bench-socketio/loadgen/Cargo.toml; then
    say "bench-socketio: the load generator does not build"; exit 1
fi
LOADGEN=$OUT/loadgen-target/release/bench-socketio-loadgen

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    SKIP[node]="node/npm not installed"
elif [ ! -d scripts/bench-socketio/node_modules/socket.io ]; then
    say "bench-socketio: npm ci in scripts/bench-socketio…"
    (cd scripts/bench-socketio && timeout 300 npm ci --no-audit --no-fund --silent) ||
        SKIP[node]="npm could not install socket.io"
fi
NODE_VERSION=$(node --version 2>/dev/null)
SIO_VERSION=$(node -p 'require("./scripts/bench-socketio/node_modules/socket.io/package.json").version' 2>/dev/null)

# --- servers ---------------------------------------------------------------------------
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

# Starts server $1 on a free port; sets PID and URL. Fails if it never listens.
start_server() {
    while port_open "$PORT"; do PORT=$((PORT + 1)); done
    local addr=127.0.0.1:$PORT log=$OUT/$1.log
    case $1 in
    # stderr capped at 1 MB: a failing accept() may log in a tight loop; netlab's line
    # per session (thousands here) goes to /dev/null, as node prints none
    netlab) "$NETLAB" socketio serve --quiet --addr "$addr" >/dev/null 2> >(head -c 1000000 >"$log") & ;;
    node) node scripts/bench-socketio/server.js "$PORT" > >(head -c 1000000 >"$log") 2>&1 & ;;
    esac
    PID=$!
    URL=ws://$addr
    for _ in $(seq 100); do
        port_open "$PORT" && { PORT=$((PORT + 1)); return 0; }
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    PORT=$((PORT + 1))
    stop_server
    return 1
}

# --- hold: 10,000 clients ---------------------------------------------------------------
declare -A CONN MSGS NOTE HOLDR
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
for s in "${SERVERS[@]}"; do
    [[ " $PARTS " == *" hold "* ]] || break
    [ -n "${SKIP[$s]:-}" ] && continue
    if ! start_server "$s"; then
        NOTE[$s]+=" hold: server did not start;"
        continue
    fi
    say "bench-socketio: $s: hold $HOLD clients (CONNECT, an ack each, heartbeats for $HOLD_SECS s)…"
    HOLDR[$s,load]=$(cut -d' ' -f1 /proc/loadavg)
    hold_out=$OUT/hold-$s.out
    : >"$hold_out"
    timeout $((HOLD_SECS + 400)) "$LOADGEN" hold "$URL" "$HOLD" "$HOLD_SECS" >"$hold_out" 2>>"$OUT/loadgen.log" &
    lg=$!
    peak=0 held_rss=0
    while kill -0 "$lg" 2>/dev/null; do
        r=$(rss_kb "$PID"); r=${r:-0}
        [ "$r" -gt "$peak" ] && peak=$r
        grep -q '^held' "$hold_out" && held_rss=$r
        sleep 0.5
    done
    wait "$lg"
    hwm=$(hwm_kb "$PID"); hwm=${hwm:-0}
    [ "$hwm" -gt "$peak" ] && peak=$hwm
    line=$(grep '^joined=' "$hold_out" | tail -n 1)
    get() { sed -n "s/.*[ ]$1=\([0-9.]*\).*/\1/p; s/^$1=\([0-9.]*\).*/\1/p" <<<"$line" | head -n 1; }
    HOLDR[$s,alive]=$(get alive); HOLDR[$s,acked]=$(get acked); HOLDR[$s,acks]=$(get acks_per_s)
    HOLDR[$s,connect]=$(get connect_ms); HOLDR[$s,pings]=$(get pings)
    HOLDR[$s,peak]=$((peak / 1024)); HOLDR[$s,held]=$((held_rss / 1024))
    [ -z "$line" ] && NOTE[$s]+=" hold: the load generator failed (see ${OUT#"$ROOT"/}/loadgen.log);"
    kill -0 "$PID" 2>/dev/null || NOTE[$s]+=" hold: the server died;"
    stop_server
    sleep 2
done

# --- polling: 1,000 official clients over long-polling ---------------------------------
declare -A POLLR
MANY=$ROOT/tests/node/many.js
for s in "${SERVERS[@]}"; do
    [[ " $PARTS " == *" polling "* ]] || break
    [ -n "${SKIP[$s]:-}" ] && continue
    if [ ! -d "$ROOT/tests/node/node_modules/socket.io-client" ]; then
        NOTE[$s]+=" polling: tests/node/node_modules missing (run scripts/test.sh once);"
        continue
    fi
    if ! start_server "$s"; then
        NOTE[$s]+=" polling: server did not start;"
        continue
    fi
    say "bench-socketio: $s: $POLL clients over long-polling, an ack each…"
    POLLR[$s,load]=$(cut -d' ' -f1 /proc/loadavg)
    poll_out=$OUT/polling-$s.out
    t0=$(date +%s.%N)
    timeout 400 node "$MANY" "http://${URL#ws://}" "$POLL" \
        '{"transports":["polling"],"inFlight":200,"timeout":300000}' >"$poll_out" 2>&1 &
    lg=$!
    peak=0
    while kill -0 "$lg" 2>/dev/null; do
        r=$(rss_kb "$PID"); r=${r:-0}
        [ "$r" -gt "$peak" ] && peak=$r
        sleep 0.2
    done
    wait "$lg"
    t1=$(date +%s.%N)
    hwm=$(hwm_kb "$PID"); hwm=${hwm:-0}
    [ "$hwm" -gt "$peak" ] && peak=$hwm
    POLLR[$s,acked]=$(sed -n 's/^acked \([0-9]*\) of.*/\1/p' "$poll_out" | tail -n 1)
    POLLR[$s,secs]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    POLLR[$s,peak]=$((peak / 1024))
    [ -z "${POLLR[$s,acked]}" ] && NOTE[$s]+=" polling: many.js failed (see ${poll_out#"$ROOT"/});"
    kill -0 "$PID" 2>/dev/null || NOTE[$s]+=" polling: the server died;"
    stop_server
    sleep 2
done

# --- measure -----------------------------------------------------------------------------
for s in "${SERVERS[@]}"; do
    [[ " $PARTS " == *" broadcast "* ]] || break
    [ -n "${SKIP[$s]:-}" ] && { say "bench-socketio: skipping $s: ${SKIP[$s]}"; continue; }
    if ! start_server "$s"; then
        SKIP[$s]="server did not start (see ${OUT#"$ROOT"/}/$s.log)"
        say "bench-socketio: skipping $s: ${SKIP[$s]}"
        continue
    fi
    for n in "${NS[@]}"; do
        say "bench-socketio: $s: $n clients connect…"
        line=$(timeout 120 "$LOADGEN" connect "$URL" "$n" 2>>"$OUT/loadgen.log" | tail -n 1)
        ms=$(sed -n 's/.*connect_ms=\([0-9.]*\).*/\1/p' <<<"$line")
        failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$line")
        CONN[$s,$n]=${ms:--}
        [ -z "$line" ] && NOTE[$s]+=" set-up of $n failed;"
        [ "${failed:-0}" != 0 ] && NOTE[$s]+=" $failed of $n clients could not connect;"
        sleep 1 # let the closed connections go
        say "bench-socketio: $s: broadcast to $n receivers, $SENDERS senders, $SECS s…"
        line=$(timeout $((SECS + 120)) "$LOADGEN" broadcast "$URL" "$n" "$SENDERS" "$SECS" "$WINDOW" \
            2>>"$OUT/loadgen.log" | tail -n 1)
        msgs=$(sed -n 's/.*msgs_per_s=\([0-9.]*\).*/\1/p' <<<"$line")
        delivered=$(sed -n 's/.*delivered=\([0-9]*\).*/\1/p' <<<"$line")
        expected=$(sed -n 's/.*expected=\([0-9]*\).*/\1/p' <<<"$line")
        errors=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$line")
        MSGS[$s,$n]=${msgs:--}
        if [ -z "$line" ]; then
            NOTE[$s]+=" broadcast to $n failed (see ${OUT#"$ROOT"/}/loadgen.log);"
        else
            [ "$delivered" != "$expected" ] &&
                NOTE[$s]+=" N=$n: $delivered of $expected deliveries arrived;"
            [ "${errors:-0}" != 0 ] && NOTE[$s]+=" N=$n: $errors connections failed;"
        fi
        kill -0 "$PID" 2>/dev/null || { NOTE[$s]+=" server died at N=$n;"; break; }
        sleep 1
    done
    stop_server
done

# --- report ------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else printf "-" }'; }

printf '\nSocket.IO benchmark — %s, %s cores (load %s), loopback, node %s, socket.io %s\n' \
    "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "${NODE_VERSION:-?}" "${SIO_VERSION:-?}"
printf 'broadcast: %s senders, window %s messages each, %s s; set-up: 64 handshakes in flight\n' \
    "$SENDERS" "$WINDOW" "$SECS"
if [[ " $PARTS " == *" hold "* ]]; then
    printf '\nhold: %s clients over WebSocket, default options: open, CONNECT, one ack each, %s s of heartbeats\n' "$HOLD" "$HOLD_SECS"
    printf '%-13s %10s %10s %10s %12s %10s %14s %14s %8s\n' server alive acked acks/s set-up-ms pings "peak RSS MB" "RSS held MB" load
    for s in "${SERVERS[@]}"; do
        [ -n "${SKIP[$s]:-}" ] && { printf '%-13s skipped: %s\n' "$s" "${SKIP[$s]}"; continue; }
        printf '%-13s %10s %10s %10s %12s %10s %14s %14s %8s\n' "$s" "${HOLDR[$s,alive]:--}" "${HOLDR[$s,acked]:--}" \
            "${HOLDR[$s,acks]:--}" "${HOLDR[$s,connect]:--}" "${HOLDR[$s,pings]:--}" "${HOLDR[$s,peak]:--}" "${HOLDR[$s,held]:--}" "${HOLDR[$s,load]:--}"
    done
    if [ -z "${SKIP[netlab]:-}" ] && [ -z "${SKIP[node]:-}" ]; then
        printf '%-13s %10s %10s %10s %12s %10s %14s %14s\n' netlab/node \
            "$(ratio "${HOLDR[netlab,alive]:--}" "${HOLDR[node,alive]:--}")" \
            "$(ratio "${HOLDR[netlab,acked]:--}" "${HOLDR[node,acked]:--}")" \
            "$(ratio "${HOLDR[netlab,acks]:--}" "${HOLDR[node,acks]:--}")" \
            "$(ratio "${HOLDR[netlab,connect]:--}" "${HOLDR[node,connect]:--}")" \
            "$(ratio "${HOLDR[netlab,pings]:--}" "${HOLDR[node,pings]:--}")" \
            "$(ratio "${HOLDR[netlab,peak]:--}" "${HOLDR[node,peak]:--}")" \
            "$(ratio "${HOLDR[netlab,held]:--}" "${HOLDR[node,held]:--}")"
        ok=$(awk -v a="${HOLDR[netlab,alive]:-0}" -v k="${HOLDR[netlab,acked]:-0}" -v n="$HOLD" \
            -v p="${HOLDR[netlab,peak]:-0}" -v q="${HOLDR[node,peak]:-0}" \
            'BEGIN { print (a == n && k == n && q > 0 && p <= 0.5 * q) ? "met" : "NOT met" }')
        printf 'target (netlab holds and acks all %s, peak RSS <= 0.5x node): %s\n' "$HOLD" "$ok"
    fi
fi
if [[ " $PARTS " == *" polling "* ]]; then
    printf '\npolling: %s official clients over long-polling only: open, CONNECT, one ack each, all held\n' "$POLL"
    printf '%-13s %10s %10s %14s %8s\n' server acked seconds "peak RSS MB" load
    for s in "${SERVERS[@]}"; do
        [ -n "${SKIP[$s]:-}" ] && continue
        printf '%-13s %10s %10s %14s %8s\n' "$s" "${POLLR[$s,acked]:--}" "${POLLR[$s,secs]:--}" "${POLLR[$s,peak]:--}" "${POLLR[$s,load]:--}"
    done
    if [ -z "${SKIP[netlab]:-}" ] && [ -z "${SKIP[node]:-}" ]; then
        printf '%-13s %10s %10s %14s\n' netlab/node \
            "$(ratio "${POLLR[netlab,acked]:--}" "${POLLR[node,acked]:--}")" \
            "$(ratio "${POLLR[netlab,secs]:--}" "${POLLR[node,secs]:--}")" \
            "$(ratio "${POLLR[netlab,peak]:--}" "${POLLR[node,peak]:--}")"
    fi
fi
[[ " $PARTS " == *" broadcast "* ]] || { for s in "${SERVERS[@]}"; do [ -n "${NOTE[$s]:-}" ] && printf 'note: %s:%s\n' "$s" "${NOTE[$s]}"; done; exit 0; }
printf '\n%-13s' server
for n in "${NS[@]}"; do printf ' %14s' "msgs/s N=$n"; done
for n in "${NS[@]}"; do printf ' %14s' "set-up ms N=$n"; done
printf '\n'
for s in "${SERVERS[@]}"; do
    printf '%-13s' "$s"
    if [ -n "${SKIP[$s]:-}" ]; then printf ' skipped: %s\n' "${SKIP[$s]}"; continue; fi
    for n in "${NS[@]}"; do printf ' %14s' "${MSGS[$s,$n]:--}"; done
    for n in "${NS[@]}"; do printf ' %14s' "${CONN[$s,$n]:--}"; done
    printf '\n'
done
if [ -z "${SKIP[netlab]:-}" ] && [ -z "${SKIP[node]:-}" ]; then
    printf '%-13s' "netlab/node"
    fails=0
    for n in "${NS[@]}"; do
        r=$(ratio "${MSGS[netlab,$n]:--}" "${MSGS[node,$n]:--}")
        printf ' %14s' "$r"
        if [ "$r" = - ] || awk -v r="$r" 'BEGIN { exit !(r < 1) }'; then fails=$((fails + 1)); fi
    done
    for n in "${NS[@]}"; do
        r=$(ratio "${CONN[netlab,$n]:--}" "${CONN[node,$n]:--}")
        printf ' %14s' "$r"
        if [ "$r" = - ] || awk -v r="$r" 'BEGIN { exit !(r > 1) }'; then fails=$((fails + 1)); fi
    done
    printf '\n  (msgs/s: higher is better, ratio > 1 means netlab is faster; set-up ms: lower is\n'
    printf '   better, ratio < 1 means netlab connects faster)\n'
    printf '\ntarget (netlab at least as fast as node everywhere): %s\n' \
        "$([ $fails = 0 ] && echo met || echo "NOT met ($fails of $((2 * ${#NS[@]})) figures)")"
fi
for s in "${SERVERS[@]}"; do
    [ -n "${NOTE[$s]:-}" ] && printf 'note: %s:%s\n' "$s" "${NOTE[$s]}"
done
printf 'the load generator shares the CPUs with the server: on a small or busy machine the\n'
printf 'figures are noisy; compare the ratios of one run. Logs in %s\n' "${OUT#"$ROOT"/}"
exit 0
