#!/usr/bin/env bash
# natcheck --submit and --resend against a real natcheck-collector, on loopback only (no root):
# a run is submitted and stored; with the collector down the document is kept in the outbox
# (exit 5) and --resend delivers it once the collector is back; the stored document is the
# anonymised one.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${NC_BUILD:-$SRC/build}
# shellcheck source=../lib/checks.sh
. "$SRC/tests/lib/checks.sh"
need_tool curl python3
NC=$B/natcheck/natcheck COLL=$B/results/natcheck-collector REFL=$B/reflector/natcheck-reflector
for x in "$NC" "$COLL" "$REFL"; do [ -x "$x" ] || { echo "FAIL: $x not built"; exit 1; }; done
T=$(mktemp -d)
pids=()
cleanup() {
	set +e # a trap: every step runs, and the test's own status stands
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }

start_collector() {
	rm -f "$T/port"
	"$COLL" --store "sqlite:$T/db" --listen 127.0.0.1:${1:-0} --port-file "$T/port" >>"$T/coll.log" 2>&1 &
	CP=$!
	pids+=("$CP")
	for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	PORT=$(cat "$T/port")
}
# A reflector on four free-looking ports of loopback (a collision fails the start, visibly).
RPORT=$((20000 + RANDOM % 20000))
"$REFL" --primary 127.0.0.1 --port "$RPORT" --alt-port $((RPORT + 1)) --coord-port $((RPORT + 2)) \
	--cb-port $((RPORT + 3)) >"$T/refl.log" 2>&1 &
pids+=("$!")
for _ in $(seq 100); do grep -q 'ready' "$T/refl.log" 2>/dev/null && break; sleep 0.05; done
grep -q 'ready' "$T/refl.log" || { echo "FAIL: the reflector did not start:"; cat "$T/refl.log"; exit 1; }
start_collector
URL=http://127.0.0.1:$PORT/api/v1/results
export XDG_STATE_HOME=$T/state

rc=0
"$NC" "127.0.0.1:$RPORT" --no-portmap --no-topology --submit="$URL" --vendor TestCo --yes \
	>"$T/out1" 2>"$T/err1" || rc=$?
if [ "$rc" = 0 ] && grep -q 'submitted (id' "$T/err1"; then ok "submitted and acknowledged"; else bad "submit: exit $rc: $(tail -2 "$T/err1")"; fi
n=$(curl -s "$URL" | wc -l)
[ "$n" = 1 ] && ok "the collector holds one document" || bad "the collector holds $n documents"
curl -s "$URL" | python3 -c 'import json,sys
d=json.loads(sys.stdin.readline())
assert d["vendor"]=="TestCo", d["vendor"]
r=d["result"]
assert r["udp"]["mapping"] in ("none","endpoint-independent"), r["udp"]["mapping"]
assert not r.get("observations"), "observations must be dropped by anonymisation"
u=r["udp"]
assert not u.get("local") and not u.get("public"), "the local and public endpoints of this host were kept: %r" % ((u.get("local"), u.get("public")),)' && ok "stored document is anonymised, vendor kept" || bad "stored document"

kill "$CP"; wait "$CP" 2>/dev/null || true
rc=0
"$NC" "127.0.0.1:$RPORT" --no-portmap --no-topology --submit="$URL" --yes >"$T/out2" 2>"$T/err2" || rc=$?
saved=$(find "$T/state/natcheck/outbox" -name '*.json' 2>/dev/null | wc -l)
if [ "$rc" = 5 ] && [ "$saved" = 1 ] && grep -q -- '--resend' "$T/err2"; then ok "collector down: exit 5, document kept, --resend named"; else bad "collector down: exit $rc, $saved saved"; fi
[ -s "$T/out2" ] && ok "the measurement was still printed" || bad "no report when the submission failed"

start_collector "$PORT"
rc=0
# --resend sends to $NATCHECK_SUBMIT_URL (or the default collector).
NATCHECK_SUBMIT_URL=$URL "$NC" --resend >"$T/out3" 2>"$T/err3" || rc=$?
left=$(find "$T/state/natcheck/outbox" -name '*.json' 2>/dev/null | wc -l)
n=$(curl -s "$URL" | wc -l)
if [ "$rc" = 0 ] && [ "$left" = 0 ] && [ "$n" = 2 ]; then ok "--resend delivered it and emptied the outbox"; else bad "--resend: exit $rc, $left left, $n stored"; fi

[ "$fails" = 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all submission checks passed"
