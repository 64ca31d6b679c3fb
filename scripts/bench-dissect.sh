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
#
# The capture is generated once by scripts/gen-bench-pcap.py and cached under
# target/bench/ (keyed by packet count and generator checksum).  It contains
# documentation addresses only; nothing is sent on any network.
# Times are wall-clock seconds and peak RSS from /usr/bin/time -f '%e %M';
# output of every tool goes to /dev/null.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

COUNT=1000000
RUNS=3
PREFIX=100000
QUICK=0
JSON_FULL=0
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
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ $COUNT =~ ^[1-9][0-9]*$ && $RUNS =~ ^[1-9][0-9]*$ && $PREFIX =~ ^[1-9][0-9]*$ ]] \
    || { echo "--count/--runs/--prefix need positive integers" >&2; exit 2; }
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
NETLAB=target/release/netlab
if ! cargo build --release; then
    echo "    WARNING: build failed; netlab rows will show FAILED" >&2
fi

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
declare -A SEC RSS NOTE
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
mb()  { [[ $1 == FAILED ]] && echo FAILED || awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
div() { # div A B -> A/B or n/a
    [[ $1 == FAILED || $2 == FAILED ]] && { echo n/a; return; }
    awk -v a="$1" -v b="$2" 'BEGIN{ if (b <= 0) print "inf (below timer resolution)"; else printf "%.2f", a/b }'
}

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
echo
echo "    (stderr of all runs: $LOG)"
