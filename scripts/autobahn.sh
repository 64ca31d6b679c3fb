#!/usr/bin/env bash
# The Autobahn|Testsuite's fuzzingclient against `netlab ws serve --echo`, cases 1.* to
# 10.* (12.* and 13.*, permessage-deflate, excluded: netlab declines compression).
#
#   ./scripts/autobahn.sh [path/to/netlab]
#
# autobahntestsuite is Python 2 code; it runs in a Python 2.7 virtualenv that
# scripts/autobahn-venv.sh makes. Where no Python 2.7 exists, the script says so and
# exits 77 (skipped). Everything runs on 127.0.0.1.
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
NETLAB=${1:-$ROOT/target/release/netlab}
OUT=$ROOT/target/autobahn
mkdir -p "$OUT"
# shellcheck source=scripts/autobahn-venv.sh
source "$ROOT/scripts/autobahn-venv.sh"
if ! ensure_autobahn_venv; then
    echo "autobahn: SKIPPED: no Python 2.7 on this machine (autobahntestsuite needs it)"
    exit 77
fi

# Port 0: the kernel picks a free port and netlab prints it ("listening on ws://ADDR/"),
# so no other test can take it between a probe and the bind.
"$NETLAB" ws serve --echo --addr 127.0.0.1:0 >"$OUT/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
port=""
for _ in $(seq 100); do
    port=$(sed -n 's|.*listening on ws://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$OUT/server.log")
    [[ -n $port ]] && break
    sleep 0.1
done
if [[ -z $port ]]; then
    echo "autobahn: netlab ws serve did not start:" >&2
    cat "$OUT/server.log" >&2
    exit 1
fi

cat >"$OUT/fuzzingclient.json" <<JSON
{
  "outdir": "$OUT/report",
  "servers": [{"agent": "netlab", "url": "ws://127.0.0.1:$port"}],
  "cases": ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "8.*", "9.*", "10.*"],
  "exclude-cases": ["12.*", "13.*"],
  "exclude-agent-cases": {}
}
JSON
rm -rf "$OUT/report"
(cd "$OUT" && "$VENV/bin/wstest" -m fuzzingclient -s "$OUT/fuzzingclient.json") >"$OUT/wstest.log" 2>&1

python3 "$ROOT/scripts/autobahn-report.py" "$OUT/report/index.json" \
    "autobahn fuzzingclient vs netlab ws serve --echo"
