#!/usr/bin/env bash
# scripts/bench-dissect.sh — time `netlab dissect` against tcpdump and tshark
# on a large synthetic capture, in one run, on the same machine.
#
#   scripts/bench-dissect.sh [--count N] [--runs N] [--prefix N] [--quick]
#                            [--tshark-json-full]
#
#   --count N           packets in the benchmark pcap (default 1000000)
#   --runs N            repetitions per measurement, best is kept (default 3)
#   --prefix N          size of the prefix file used for the memory check and
#                       for scaling tshark (default 100000)
#   --quick             also time plain tshark on the prefix (once) and scale
#                       linearly instead of 3 full runs
#   --tshark-json-full  run `tshark -T json` once on the FULL file instead of
#                       the prefix (slow: ~4 min per 1M packets)
#   --streams N         conversations in the stream-heavy capture (default
#                       5000, ~250k packets, ~170 MB; 0 skips that part)
#   --streams-only      only the stream-heavy part (skip the 1M-packet one)
#
# Stream-heavy part: scripts/gen-bench-streams.py writes thousands of HTTP/1.1
# keep-alive and WebSocket conversations with multi-segment bodies and frames
# (cached under target/bench/ like the other capture); `netlab dissect` is
# timed against `tshark -r`, which reassembles TCP streams, HTTP heads and
# bodies (options given explicitly), and both peak RSS are reported.
#
# The capture is generated once by scripts/gen-bench-pcap.py and cached under
# target/bench/ (keyed by packet count and generator checksum).  It contains
# documentation addresses only; nothing is sent on any network.
# NETLAB_BIN=PATH times that netlab binary instead of target/release/netlab.
# Times are wall-clock seconds and peak RSS from /usr/bin/time -f '%e %M';
# output of every tool goes to /dev/null.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

COUNT=1000000
RUNS=3
PREFIX=100000
QUICK=0
JSON_FULL=0
STREAMS=5000
STREAMS_ONLY=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --count)  COUNT=$2; shift 2 ;;
        --count=*) COUNT=${1#*=}; shift ;;
        --runs)   RUNS=$2; shift 2 ;;
        --runs=*) RUNS=${1#*=}; shift ;;
        --prefix) PREFIX=$2; shift 2 ;;
        --prefix=*) PREFIX=${1#*=}; shift ;;
        --quick)  QUICK=1; shift ;;
        --tshark-json-full) JSON_FULL=1; shift ;;
        --streams) STREAMS=$2; shift 2 ;;
        --streams=*) STREAMS=${1#*=}; shift ;;
        --streams-only) STREAMS_ONLY=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ $COUNT =~ ^[1-9][0-9]*$ && $RUNS =~ ^[1-9][0-9]*$ && $PREFIX =~ ^[1-9][0-9]*$ ]] \
    || { echo "--count/--runs/--prefix need positive integers" >&2; exit 2; }
[[ $STREAMS =~ ^[0-9]+$ ]] || { echo "--streams needs a number (0 skips)" >&2; exit 2; }
if [[ $STREAMS_ONLY -eq 1 && $STREAMS -eq 0 ]]; then
    echo "--streams-only with --streams 0: nothing to do" >&2
    exit 2
fi
(( PREFIX > COUNT )) && PREFIX=$COUNT

section() { printf '\n==> %s\n' "$*"; }

for tool in /usr/bin/time tcpdump tshark python3; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "missing $tool — run scripts/test.sh (installs tshark tcpdump time) first" >&2
        exit 1
    }
done

BENCH=target/bench
mkdir -p "$BENCH"
LOG=$BENCH/bench-stderr.log
: >"$LOG"

# ---------------------------------------------------------------------------
section "cargo build --release"
NETLAB=${NETLAB_BIN:-target/release/netlab}   # NETLAB_BIN: time another build
if ! cargo build --release; then
    echo "    WARNING: build failed; netlab rows will show FAILED" >&2
fi

declare -A SEC RSS NOTE
if [[ $STREAMS_ONLY -eq 0 ]]; then
# ---------------------------------------------------------------------------
section "Benchmark capture"
GEN=scripts/gen-bench-pcap.py
GEN_ID=$(sha256sum "$GEN" | cut -c1-10)
FILE=$BENCH/bench-$COUNT-$GEN_ID.pcap
SMALL=$BENCH/bench-$PREFIX-$GEN_ID.pcap
for spec in "$COUNT:$FILE" "$PREFIX:$SMALL"; do
    n=${spec%%:*} f=${spec#*:}
    if [[ -s $f ]]; then
        echo "    cached: $f"
    else
        # The generator is deterministic, so the --count $PREFIX file is a
        # byte-identical prefix of the big one (same as
        # `editcap -F pcap -r FILE SMALL 1-$PREFIX`, but classic pcap).
        start=$(date +%s%N)
        python3 "$GEN" --count "$n" "$f"
        awk -v f="$f" -v a="$start" -v b="$(date +%s%N)" 'BEGIN{printf "    generated %s in %.1fs\n", f, (b-a)/1e9}'
    fi
done
ls -l "$FILE" "$SMALL" | sed 's/^/    /'
cat "$FILE" "$SMALL" >/dev/null  # warm the page cache so run 1 is not penalised

# ---------------------------------------------------------------------------
fi  # (the 1M part goes on below; measure/scale/mb/div are shared)
# measure KEY RUNS CMD... : best (min) elapsed of RUNS runs, max peak RSS (KB)
measure() {
    local key=$1 runs=$2; shift 2
    local tf best="" peak=0 i out e m rc
    tf=$(mktemp)
    printf '    %-30s' "$key"
    for ((i = 1; i <= runs; i++)); do
        rc=0
        /usr/bin/time -f '%e %M' -o "$tf" -- "$@" >/dev/null 2>>"$LOG" || rc=$?
        if [[ $rc -ne 0 ]]; then
            printf ' FAILED (exit %s, see %s)\n' "$rc" "$LOG"
            echo "[$key] command failed: $*" >>"$LOG"
            SEC[$key]=FAILED RSS[$key]=FAILED
            rm -f "$tf"
            return 0
        fi
        out=$(tail -n1 "$tf")
        e=${out% *} m=${out#* }
        printf ' %6.2fs' "$e"
        if [[ -z $best ]] || awk -v a="$e" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$e; fi
        (( m > peak )) && peak=$m
    done
    echo
    SEC[$key]=$best RSS[$key]=$peak
    rm -f "$tf"
}
# scale KEY FACTOR : linear extrapolation of a prefix measurement
scale() {
    [[ ${SEC[$1]} == FAILED ]] && return 0
    SEC[$1]=$(awk -v s="${SEC[$1]}" -v f="$2" 'BEGIN{printf "%.2f", s*f}')
}
FACTOR=$(awk -v c="$COUNT" -v p="$PREFIX" 'BEGIN{printf "%.6g", c/p}')
mb()  { [[ $1 == FAILED ]] && echo FAILED || awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
div() { # div A B -> A/B or n/a
    [[ $1 == FAILED || $2 == FAILED ]] && { echo n/a; return; }
    awk -v a="$1" -v b="$2" 'BEGIN{ if (b <= 0) print "inf (below timer resolution)"; else printf "%.2f", a/b }'
}

if [[ $STREAMS_ONLY -eq 0 ]]; then

section "Sanity check: netlab output on the $PREFIX-packet prefix"
# A stub or half-done netlab that exits 0 early would make the ratios
# meaningless: expect one line per packet in both modes.
SANE=1
for mode in "" --json; do
    lines=$("$NETLAB" dissect $mode "$SMALL" 2>>"$LOG" | wc -l) || lines="error"
    if [[ $lines == "$PREFIX" ]]; then
        echo "    netlab dissect${mode:+ $mode}: $lines lines (OK)"
    else
        echo "    WARNING: netlab dissect${mode:+ $mode} printed $lines lines for $PREFIX packets — ratios below are NOT meaningful"
        SANE=0
    fi
done

section "Timing on $COUNT packets (best of $RUNS; output to /dev/null)"
measure "netlab dissect"        "$RUNS" "$NETLAB" dissect "$FILE"
measure "tcpdump -nr"           "$RUNS" tcpdump -nr "$FILE"
if [[ $QUICK -eq 1 && $PREFIX -lt $COUNT ]]; then
    measure "tshark"            1 tshark -r "$SMALL"
    scale "tshark" "$FACTOR"
    NOTE[tshark]="1 run on $PREFIX-pkt prefix, time x$FACTOR; RSS at prefix"
else
    measure "tshark"            "$RUNS" tshark -r "$FILE"
fi
measure "netlab dissect --json" "$RUNS" "$NETLAB" dissect --json "$FILE"
if [[ $JSON_FULL -eq 0 && $PREFIX -lt $COUNT ]]; then
    measure "tshark -T json"    1 tshark -r "$SMALL" -T json
    scale "tshark -T json" "$FACTOR"
    NOTE[tshark -T json]="1 run on $PREFIX-pkt prefix, time x$FACTOR; RSS at prefix"
else
    measure "tshark -T json"    1 tshark -r "$FILE" -T json
fi

section "Memory check: netlab on $PREFIX vs $COUNT packets"
measure "netlab dissect @prefix"        "$RUNS" "$NETLAB" dissect "$SMALL"
measure "netlab dissect --json @prefix" "$RUNS" "$NETLAB" dissect --json "$SMALL"

# ---------------------------------------------------------------------------

section "Results ($COUNT packets, $(du -m "$FILE" | cut -f1) MB, $(nproc) CPUs)"
printf '    %-24s %10s %14s  %s\n' tool seconds "peak RSS MB" note
for k in "netlab dissect" "tcpdump -nr" "tshark" "netlab dissect --json" "tshark -T json"; do
    printf '    %-24s %10s %14s  %s\n' "$k" "${SEC[$k]}" "$(mb "${RSS[$k]}")" "${NOTE[$k]:-}"
done

echo
echo "    tcpdump_time / netlab_time (summary)    = $(div "${SEC[tcpdump -nr]}" "${SEC[netlab dissect]}")   (>1: netlab faster)"
echo "    tshark_time  / netlab_time (summary)    = $(div "${SEC[tshark]}" "${SEC[netlab dissect]}")"
echo "    tshark_json_time / netlab_json_time     = $(div "${SEC[tshark -T json]}" "${SEC[netlab dissect --json]}")   (>1: netlab faster)"
echo "    netlab peak RSS MB: summary $(mb "${RSS[netlab dissect]}"), json $(mb "${RSS[netlab dissect --json]}")"

[[ $SANE -eq 1 ]] || echo "    WARNING: netlab output failed the sanity check above; its numbers are not comparable"
echo
echo "    memory check (peak RSS MB, $PREFIX -> $COUNT packets; should be flat):"
for mode in "" " --json"; do
    a=${RSS[netlab dissect$mode @prefix]} b=${RSS[netlab dissect$mode]}
    verdict=n/a
    if [[ $a != FAILED && $b != FAILED ]]; then
        # flat = grows by less than 50% (+8 MB slack) for COUNT/PREFIX x packets
        verdict=$(awk -v a="$a" -v b="$b" 'BEGIN{ print (b <= a*1.5 + 8192) ? "flat (OK)" : "GROWS (check for per-packet state)" }')
    fi
    printf '      netlab dissect%-7s %8s -> %8s  ratio %s  %s\n' "$mode" "$(mb "$a")" "$(mb "$b")" "$(div "$b" "$a")" "$verdict"
done
fi  # end of the 1M-packet part

# ---------------------------------------------------------------------------
# Stream-heavy part: reassembly on both sides
if [[ $STREAMS -gt 0 ]]; then
    section "Stream-heavy capture ($STREAMS conversations)"
    SGEN=scripts/gen-bench-streams.py
    SGEN_ID=$(sha256sum "$SGEN" | cut -c1-10)
    SFILE=$BENCH/streams-$STREAMS-$SGEN_ID.pcap
    if [[ -s $SFILE && -s $SFILE.stats ]]; then
        echo "    cached: $SFILE"
    else
        start=$(date +%s%N)
        python3 "$SGEN" --conversations "$STREAMS" "$SFILE" >"$SFILE.stats"
        awk -v f="$SFILE" -v a="$start" -v b="$(date +%s%N)" 'BEGIN{printf "    generated %s in %.1fs\n", f, (b-a)/1e9}'
    fi
    echo "    $(cat "$SFILE.stats")"
    ls -l "$SFILE" | sed 's/^/    /'
    cat "$SFILE" >/dev/null
    SPKTS=$(sed -n 's/.*packets=\([0-9]*\).*/\1/p' "$SFILE.stats")
    # tshark reassembles by default; say so explicitly
    TSHARK_RE=(-o tcp.desegment_tcp_streams:TRUE -o http.desegment_headers:TRUE
        -o http.desegment_body:TRUE -o http.dechunk_body:TRUE)

    section "Sanity check: one line per packet (and how many name the application)"
    SSANE=1
    nl_lines=error nl_app='?'
    if "$NETLAB" dissect "$SFILE" >"$BENCH/streams-netlab.txt" 2>>"$LOG"; then
        nl_lines=$(wc -l <"$BENCH/streams-netlab.txt")
        nl_app=$(grep -ciE 'http|websocket|socket\.io|engine\.io' "$BENCH/streams-netlab.txt" || true)
    fi
    rm -f "$BENCH/streams-netlab.txt"
    ts_app=$(tshark -n -r "$SFILE" "${TSHARK_RE[@]}" 2>>"$LOG" | grep -ciE 'http|websocket|socket\.io|engine\.io' || true)
    if [[ $nl_lines == "$SPKTS" ]]; then
        echo "    netlab dissect: $nl_lines lines (OK)"
    else
        echo "    WARNING: netlab dissect printed $nl_lines lines for $SPKTS packets — ratios below are NOT meaningful"
        SSANE=0
    fi
    echo "    lines naming HTTP, WebSocket, Engine.IO or Socket.IO: netlab $nl_app, tshark $ts_app"
    echo "    (information only: a dissector that reassembles names a message on the frame that completes it)"

    section "Timing on $SPKTS packets of $STREAMS conversations (best of $RUNS; output to /dev/null)"
    measure "netlab dissect @streams"        "$RUNS" "$NETLAB" dissect "$SFILE"
    measure "tshark -r @streams"             "$RUNS" tshark -n -r "$SFILE" "${TSHARK_RE[@]}"
    measure "netlab dissect --json @streams" 1 "$NETLAB" dissect --json "$SFILE"
    measure "tshark -T json @streams"        1 tshark -n -r "$SFILE" "${TSHARK_RE[@]}" -T json

    section "Results, stream-heavy ($SPKTS packets, $STREAMS conversations, $(du -m "$SFILE" | cut -f1) MB)"
    printf '    %-32s %10s %14s\n' tool seconds "peak RSS MB"
    for k in "netlab dissect @streams" "tshark -r @streams" "netlab dissect --json @streams" "tshark -T json @streams"; do
        printf '    %-32s %10s %14s\n' "$k" "${SEC[$k]}" "$(mb "${RSS[$k]}")"
    done
    echo
    echo "    tshark_time / netlab_time (summary)     = $(div "${SEC[tshark -r @streams]}" "${SEC[netlab dissect @streams]}")   (>1: netlab faster)"
    echo "    tshark_json_time / netlab_json_time     = $(div "${SEC[tshark -T json @streams]}" "${SEC[netlab dissect --json @streams]}")"
    echo "    tshark_RSS / netlab_RSS (summary)       = $(div "${RSS[tshark -r @streams]}" "${RSS[netlab dissect @streams]}")   (>1: netlab smaller)"
    echo "    tshark_RSS / netlab_RSS (json)          = $(div "${RSS[tshark -T json @streams]}" "${RSS[netlab dissect --json @streams]}")"
    [[ $SSANE -eq 1 ]] || echo "    WARNING: netlab output failed the sanity check above; its numbers are not comparable"
fi

echo
echo "    (stderr of all runs: $LOG)"
