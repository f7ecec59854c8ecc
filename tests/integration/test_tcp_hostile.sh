#!/usr/bin/env bash
# natcheck's TCP probe against a hostile STUN-over-TCP server (issue 13 item 2): a server that
# answers with Binding responses whose transaction ids match nothing, back to back or
# trickled, must neither hang the probe nor spin it: each mode ends within a few seconds with
# "TCP not tested" and the primary test recorded as an error or a timeout. Before the fix the
# flood kept the read loop busy for ever (it checked its deadline only when no data waited).
# Loopback only: no namespaces, no root needed.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NC_BUILD=${NC_BUILD:-$SRC/build}
DRV=$NC_BUILD/tests/tcp_driver
# shellcheck source=tests/lib/checks.sh
source "$SRC/tests/lib/checks.sh"
need_tool python3 "$DRV"
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
fail=0
for mode in flood trickle; do
	rm -f "$dir/port"
	python3 "$SRC/tests/integration/hostile_tcp.py" "$mode" "$dir/port" 2>"$dir/$mode.srv" &
	pid=$!
	for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
	[ -s "$dir/port" ] || { echo "FAIL $mode: the hostile server did not start"; exit 1; }
	port=$(cat "$dir/port")
	t0=$(date +%s%N)
	rc=0
	timeout "${NC_HOSTILE_TIMEOUT:-20}" "$DRV" --no-udp "127.0.0.1:$port" >"$dir/$mode.json" 2>"$dir/$mode.err" || rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=
	if [ "$rc" -ne 0 ]; then
		echo "FAIL $mode: the probe did not end (exit $rc after $ms ms)"; fail=1; continue
	fi
	verdict=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
p = d["tcp"].get("probes", [])
print(d["tcp"]["tested"], p[0]["test"] if p else "-", p[0]["outcome"] if p else "-")' "$dir/$mode.json")
	echo "  $mode: $ms ms, tested/primary/outcome: $verdict; $(cat "$dir/$mode.srv")"
	case "$verdict" in
	"False map-primary error" | "False map-primary timeout") ;;
	*) echo "FAIL $mode: unexpected record"; fail=1 ;;
	esac
	[ "$ms" -lt 5000 ] || { echo "FAIL $mode: took $ms ms"; fail=1; }
done
[ "$fail" = 0 ] && echo "PASS a hostile TCP server ends the probe quickly"
exit "$fail"
