#!/usr/bin/env bash
# natcheck's UDP probe against a hostile or unlucky STUN server (tests/integration/
# hostile_stun.py), in a namespace that has only a loopback interface (so nothing can leave
# the machine, whatever a server names): each case is one failure of issue 13.
#   errors            every request answered with 400/500   -> udp.server_problem "error-responses"
#   wrong-source      answers from another port than asked  -> "wrong-source"
#   bad-other-family  OTHER-ADDRESS with family 3           -> "malformed-answers"
#   v6-mapped         IPv6 XOR-MAPPED-ADDRESS for IPv4      -> "malformed-answers", no NAT verdict
#   bogus-other=...   0.0.0.0, multicast, broadcast, private alternates: refused, reported in
#                     server.bogus_other, no packet sent there
#   alg               MAPPED-ADDRESS rewritten, FINGERPRINT stale -> udp.alg true, the
#                     XOR-MAPPED-ADDRESS kept as the public endpoint
#   blackout=0.45     the path drops everything for 0.45 s (the controls are answered on
#                     their 5th or 6th try): no confident filtering verdict
#   overload=4        mapped ports from a pool of 4          -> allocation.port_overloading true
#   port-firewall     only port 3478 answers                 -> server.unreachable names the rest
# Every run must also end within 5 s and never say "UDP blocked" when the server answered.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NC_BUILD:-$SRC/build}
natcheck=$BUILD/natcheck/natcheck
# shellcheck source=tests/lib/checks.sh
source "$SRC/tests/lib/checks.sh"
need_root
# The system interpreter when there is one: a version manager's shim can take seconds to start.
PY=$(command -v /usr/bin/python3 || command -v python3 || true)
[ -n "$PY" ] || skip "python3 is missing"
[ -x "$natcheck" ] || { echo "FAIL: no natcheck at $natcheck"; exit 1; }

NS="nchostile$$"
DIR=$(mktemp -d)
SPID=
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$DIR"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up

fails=0
# run_case MODE CHECK: starts the server in MODE, runs natcheck, and hands its JSON (and the
# exit status, wall time and server log) to the python CHECK expression.
run_case() {
	local mode=$1 check=$2 t0 t1 rc=0
	rm -f "$DIR/ready" "$DIR/server.log"
	ip netns exec "$NS" "$PY" "$SRC/tests/integration/hostile_stun.py" --mode "$mode" \
		--ready "$DIR/ready" --log "$DIR/server.log" 2>"$DIR/server.err" &
	SPID=$!
	for _ in $(seq 400); do [ -s "$DIR/ready" ] && break; sleep 0.05; done
	[ -s "$DIR/ready" ] || { echo "FAIL $mode: the server did not start"; cat "$DIR/server.err"; exit 1; }
	t0=$(date +%s%3N)
	ip netns exec "$NS" timeout 20 "$natcheck" --json --no-portmap --no-topology 127.0.0.1 \
		>"$DIR/out.json" 2>"$DIR/err.txt" || rc=$?
	t1=$(date +%s%3N)
	kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null || true
	SPID=
	if "$PY" - "$DIR/out.json" "$rc" "$((t1 - t0))" "$DIR/server.log" "$check" "$DIR/err.txt" <<'PY'; then
import json, sys
path, rc, ms, log, check = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
stderr = open(sys.argv[6]).read()
if "Sanitizer" in stderr or "runtime error:" in stderr:
    print(stderr); sys.exit(1)
try:
    d = json.load(open(path))
except ValueError:
    print("  no JSON (exit %d)" % rc); sys.exit(1)
u, s = d["udp"], d["server"]
obs = d["observations"]
served = open(log).read()
def why(msg):
    print("  " + msg); return False
ok = ms < 5000 or why("took %d ms" % ms)
if d["summary"]["classic"] == "UDP blocked" and "recv" in served:
    ok = why("says UDP blocked, but the server answered")
ok = eval(check) and ok
if not ok:
    print("  udp: " + json.dumps({k: u.get(k) for k in ("reachable", "nat", "mapping", "filtering", "alg", "server_problem", "public")}))
    print("  server: " + json.dumps(s))
    print("  notes: " + json.dumps(d["notes"]))
print("  %d ms, exit %d" % (ms, rc))
sys.exit(0 if ok else 1)
PY
		echo "ok   $mode"
	else
		echo "FAIL $mode"
		fails=$((fails + 1))
	fi
}

sent_to() { echo "not any(o['dest'] and o['dest'].startswith('$1') for o in obs)"; }

run_case honest "u['reachable'] is True and u['mapping'] == 'none' and u['filtering'] == 'none' and u.get('server_problem') is None"
run_case errors "u['reachable'] is True and u.get('server_problem') == 'error-responses' and rc == 4"
run_case wrong-source "u['reachable'] is True and u.get('server_problem') == 'wrong-source' and rc == 4"
run_case bad-other-family "u['reachable'] is True and u.get('server_problem') == 'malformed-answers' and rc == 4"
run_case v6-mapped "u.get('server_problem') == 'malformed-answers' and u['nat'] is None and u['mapping'] == 'unknown' and u['public'] is None"
for bogus in 0.0.0.0:3479 224.0.0.1:3479 255.255.255.255:3479 10.9.9.9:3479 127.0.0.2:0; do
	run_case "bogus-other=$bogus" "s.get('bogus_other') == '$bogus' and s['other'] is None and $(sent_to "${bogus%:*}:") and u['reachable'] is True and any('bogus' in n for n in d['notes'])"
done
run_case alg "u['alg'] is True and u['reachable'] is True and u['public'] is not None and u['public'].startswith('127.0.0.1:') and u.get('server_problem') is None and any('FINGERPRINT' in n for n in d['notes'])"
run_case blackout=0.45 "u['filtering'] in ('none', 'unknown') and u['mapping'] in ('none', 'unknown')"
run_case overload=4 "u['allocation'].get('port_overloading') is True and any('overloading' in n for n in d['notes'])"
run_case port-firewall "sorted(s.get('unreachable') or []) == ['127.0.0.1:3479', '127.0.0.2:3479'] and u['reachable'] is True and any('127.0.0.1:3479' in n for n in d['notes'])"

[ "$fails" = 0 ] || { echo "$fails case(s) failed"; exit 1; }
echo "all hostile-server cases passed"
