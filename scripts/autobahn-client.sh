#!/usr/bin/env bash
# netlab's WebSocket CLIENT against the Autobahn|Testsuite's fuzzingserver, cases 1.* to
# 10.* (12.* and 13.*, permessage-deflate, excluded: netlab does not offer compression).
#
#   ./scripts/autobahn-client.sh [path/to/netlab]
#
# For each case, `netlab ws connect --echo ws://…/runCase?case=N&agent=netlab` sends
# every message back, as the fuzzingserver expects. Uses the Python 2.7 virtualenv
# .venv-autobahn (scripts/autobahn-venv.sh builds it under a lock if missing);
# without Python 2.7 it says so and exits 77 (skipped). Everything runs on 127.0.0.1.
# The report goes to target/autobahn-client/report/ (index.html per case).
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
NETLAB=${1:-$ROOT/target/release/netlab}
OUT=$ROOT/target/autobahn-client
mkdir -p "$OUT"
# shellcheck source=scripts/autobahn-venv.sh
source "$ROOT/scripts/autobahn-venv.sh"
if ! ensure_autobahn_venv; then
    echo "autobahn-client: SKIPPED: no Python 2.7 on this machine (autobahntestsuite needs it)"
    exit 77
fi

# Port 0: the kernel picks a free port when the fuzzingserver listens (autobahn then
# skips its Host-port check); the port is read back from the kernel's socket table
# (ss, by the server's pid), so no other test can take it between a probe and the bind.
cat >"$OUT/fuzzingserver.json" <<JSON
{
  "url": "ws://127.0.0.1:0",
  "outdir": "$OUT/report",
  "cases": ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "8.*", "9.*", "10.*"],
  "exclude-cases": ["12.*", "13.*"],
  "exclude-agent-cases": {}
}
JSON
rm -rf "$OUT/report"
# --webport 0: no report web server (its default is a fixed port, 8080).
(cd "$OUT" && exec "$VENV/bin/wstest" -m fuzzingserver -s "$OUT/fuzzingserver.json" --webport 0) \
    >"$OUT/wstest.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
port=""
for _ in $(seq 200); do
    port=$(ss -Hltnp 2>/dev/null \
        | awk -v pid="pid=$server," 'index($0, pid) { n = split($4, a, ":"); print a[n]; exit }')
    [[ -n $port ]] && break
    sleep 0.1
done
if [[ -z $port ]]; then
    echo "autobahn-client: the fuzzingserver did not start listening:" >&2
    cat "$OUT/wstest.log" >&2
    exit 1
fi

base=ws://127.0.0.1:$port
# `netlab ws connect` prints a received text message as: ← text "247"
count=$("$NETLAB" ws connect "$base/getCaseCount" | sed -n 's/^← text "\([0-9]*\)"$/\1/p')
if [[ -z $count ]]; then
    echo "autobahn-client: could not read the case count from the fuzzingserver" >&2
    exit 1
fi
: >"$OUT/client.log"
for ((n = 1; n <= count; n++)); do
    # The exit status is the case's business (some cases end with a protocol error).
    timeout 60 "$NETLAB" ws connect --echo "$base/runCase?case=$n&agent=netlab" \
        >>"$OUT/client.log" 2>&1 || true
done
"$NETLAB" ws connect "$base/updateReports?agent=netlab" >>"$OUT/client.log" 2>&1 || true

python3 "$ROOT/scripts/autobahn-report.py" "$OUT/report/index.json" \
    "autobahn fuzzingserver vs netlab ws connect --echo"
