#!/usr/bin/env bash
# Punch outcome documents end to end (issue 11 §4): two lab pairs (sim/run.sh --pair) whose
# hosts run `punchvpn up` with OutcomeLog (PAIR_PV_OUTCOMES), then `punchvpn submit-outcomes`
# to a collector started here.
#
#  1. port-restricted x port-restricted goes direct by punching: each host writes one
#     document, success, udp-punch, its own and the peer's class (EIM, APDF, preserving), the
#     time to the first direct packet.
#  2. port-restricted x symmetric-random, where the table puts birthday probing first: one
#     document each, method birthday; a success (as a rule, within the attempt's 8 s) or, when
#     the attempt lost (rare, and then the pair's own case fails: test_vpn_pairs judges the
#     path), a failure without a time. The hook keeps the tunnel up until both are written.
#  3. symmetric-random x symmetric-random stays on the relay: this file is also the pair's
#     PAIR_VPN_HOOK and keeps the tunnel up until punching gives up (PATH_PUNCH_GIVEUP_MS,
#     30 s); each host writes one failure, no time, udp-punch (the table lists no direct method
#     for the pair, and the path punches its candidates all the same).
#  4. Every document validates against results/schema/punch-outcome.v1.schema.json (python's
#     jsonschema, as results/tests/test_outcome_schema.sh), holds no address, port or key, is
#     mode 0644, and no temporary file is left.
#  5. submit-outcomes: every document stored (GET /api/v1/outcomes returns exactly them) and
#     deleted; the same file sent again is stored once (Idempotency-Key); a document that does
#     not validate and a collector that does not answer leave the files in place, exit 1.
# Exit 77 (skip) when not root, without namespaces, jsonschema or the collector's libraries.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
	# Sourced by sim/lib/pairs.sh inside a case (PAIR_VPN_HOOK), the tunnel up: wait
	# (bounded) for both hosts' documents (a failure comes when punching gives up, 30 s after
	# the introduction).
	pair_vpn_hook() {
		local i
		for i in $(seq 500); do
			compgen -G "$PAIR_PV_OUTCOMES/A/punch-outcome-*.json" >/dev/null &&
				compgen -G "$PAIR_PV_OUTCOMES/B/punch-outcome-*.json" >/dev/null && return 0
			sleep 0.1
		done
		echo "no document from both hosts within 50 s" >>"$PDIR/errors"
		return 1
	}
	return 0
fi
set -u
NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$NC_SRC/tests/lib/pairtest.sh"
pairtest_init outcomes curl
# The schema's validator: the first python with jsonschema (as test_outcome_schema.sh).
JPY=''
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import jsonschema' 2>/dev/null; then JPY=$p; break; fi
done
[ -n "$JPY" ] || skip "python3-jsonschema is not installed"
# The collector (results/tests/lib/collector.sh): its packages, and its cleanup (the
# collectors it started, then $W) at exit.
# shellcheck source=../../results/tests/lib/collector.sh
. "$NC_SRC/results/tests/lib/collector.sh"
pkg-config --exists libmicrohttpd sqlite3 libpq ||
	skip "libmicrohttpd-dev, libsqlite3-dev or libpq-dev missing (scripts/setup-deps.sh)"
[ -x "$COLLECTOR" ] || { echo "FAIL: $COLLECTOR is not built"; exit 1; }
trap res_cleanup EXIT
res_store sqlite
PV=$NC_BUILD/vpn/punchvpn
SCHEMA=$NC_SRC/results/schema/punch-outcome.v1.schema.json
HOOK=$NC_SRC/tests/integration/test_vpn_outcomes.sh

# run NAME PAIR: one pair case, its hosts writing their documents into $W/NAME/{A,B}.
run() {
	PAIR_PV_OUTCOMES=$W/$1 pairtest_run "$1" "$W/$1.run" --pair "$2"
}
# run_hooked NAME PAIR: the same, the tunnel kept up until both documents are written.
run_hooked() {
	PAIR_PV_OUTCOMES=$W/$1 PAIR_VPN_HOOK=$HOOK pairtest_run "$1" "$W/$1.run" --pair "$2"
}

mkdir -p "$W/direct" "$W/bday" "$W/relay"
run direct port-restricted:port-restricted
check_status "direct pair: the case passes (direct, 10/10 pings)" $?
run_hooked bday port-restricted:symmetric-random
# Its path is test_vpn_pairs' to judge; here the case must have run (the documents below).
[ -s "$W/bday.run/port-restricted+symmetric-random.pair.json" ]
check_status "birthday pair: the case ran" $?
run_hooked relay symmetric-random:symmetric-random
check_status "relayed pair: the case passes, and both failures came while the tunnel was up" $?

# The documents: schema, contents, anonymity, files.
"$JPY" - "$SCHEMA" "$W" >"$W/docs.out" 2>&1 <<'PYEOF'
import glob, json, os, re, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
v = jsonschema.Draft202012Validator(schema)
w = sys.argv[2]
bad = 0
def fail(msg):
    global bad
    bad += 1
    print("FAIL " + msg)
def ok(msg):
    print("ok " + msg)
pr = {"mapping": "endpoint-independent", "filtering": "address-and-port-dependent",
      "allocation": "preserving", "udp_blocked": False}
sr = {"mapping": "address-and-port-dependent", "filtering": "address-and-port-dependent",
      "allocation": "random", "udp_blocked": False}
want = {  # case/host: (success (None: either), method, my class, peer class)
    "direct/A": (True, "udp-punch", pr, pr), "direct/B": (True, "udp-punch", pr, pr),
    "bday/A": (None, "birthday", pr, sr), "bday/B": (None, "birthday", sr, pr),
    "relay/A": (False, "udp-punch", sr, sr), "relay/B": (False, "udp-punch", sr, sr),
}
for key, (success, method, mine, peer) in want.items():
    d = os.path.join(w, key)
    files = sorted(glob.glob(d + "/*"))
    hidden = [f for f in os.listdir(d) if f.startswith(".")]
    if hidden:
        fail(f"{key}: files left behind: {hidden}")
    docs = [f for f in files if re.fullmatch(r"punch-outcome-\d{8}-[0-9a-f]{32}\.json", os.path.basename(f))]
    if len(docs) != 1 or len(files) != 1:
        fail(f"{key}: one document expected, found {[os.path.basename(f) for f in files]}")
        continue
    f = docs[0]
    text = open(f).read()
    doc = json.loads(text)
    errs = [e.message for e in v.iter_errors(doc)]
    if errs:
        fail(f"{key}: not valid against the schema: {errs}")
    else:
        ok(f"{key}: valid against the schema")
    mode = os.stat(f).st_mode & 0o7777
    if mode != 0o644:
        fail(f"{key}: mode {mode:o}, not 644")
    # Anonymous: no address, no port of the lab, no key, no time of day.
    if re.search(r"\d+\.\d+\.\d+\.\d+|5190[01]|[A-Za-z0-9+/]{43}=|T(?!00:00:00Z)\d\d:\d\d", text):
        fail(f"{key}: an address, port, key or time in the document: {text}")
    if success is None:
        success = doc["success"]
    got = (doc["success"], doc["method"])
    exp = (success, method)
    if got != exp:
        fail(f"{key}: success/method {got}, expected {exp}")
    ms = doc.get("first_packet_ms")
    limit = 8000 if method == "birthday" else 1000
    if success and not (isinstance(ms, int) and 0 <= ms <= limit):
        fail(f"{key}: first_packet_ms {ms}, expected 0..{limit}")
    if not success and ms is not None:
        fail(f"{key}: a failure with a time ({ms})")
    for side, cls in (("local", mine), ("peer", peer)):
        for k, val in cls.items():
            if doc[side].get(k) != val:
                fail(f"{key}: {side}.{k} = {doc[side].get(k)!r}, expected {val!r}")
    if doc.get("tool", {}).get("name") != "punchvpn":
        fail(f"{key}: tool {doc.get('tool')}")
    ok(f"{key}: success={doc['success']} method={doc['method']} first_packet_ms={ms} "
       f"local={doc['local']['mapping']}/{doc['local']['filtering']}/{doc['local']['allocation']} "
       f"peer={doc['peer']['mapping']}/{doc['peer']['filtering']}/{doc['peer']['allocation']}")
print("bad", bad)
PYEOF
sed 's/^/    /' "$W/docs.out"
check_equal "documents: schema, classes, method, time, anonymity, mode (6 hosts)" "bad 0" "$(tail -n 1 "$W/docs.out")"

# --- submission
res_start c --rate 0
mkdir -p "$W/again" "$W/bad" "$W/dead"
cp "$W"/direct/A/*.json "$W/again/" # the same name and bytes: the same Idempotency-Key
cp "$W"/relay/B/*.json "$W/dead/"
echo '{"schema": "punch-outcome", "version": 1}' >"$W/bad/punch-outcome-bad.json"
cat "$W"/direct/*/*.json "$W"/bday/*/*.json "$W"/relay/*/*.json | "$PY" -c '
import json, sys
dec = json.JSONDecoder(); s = sys.stdin.read(); i = 0; out = []
while i < len(s):
    while i < len(s) and s[i].isspace(): i += 1
    if i >= len(s): break
    d, i = dec.raw_decode(s, i); out.append(json.dumps(d, sort_keys=True))
print("\n".join(sorted(out)))' >"$W/sent.sorted"
"$PV" submit-outcomes --collector "$BASE_c" "$W/direct/A" "$W/direct/B" "$W/bday/A" \
	"$W/bday/B" "$W/relay/A" "$W/relay/B" >"$W/submit.out" 2>&1
rc=$?
sed 's/^/    /' "$W/submit.out"
check_equal "submit-outcomes: exit 0" 0 "$rc"
check_equal "submit-outcomes: 6 sent, 0 kept" "6 sent, 0 kept" "$(tail -n 1 "$W/submit.out")"
check_equal "every stored document deleted" "" "$(find "$W/direct" "$W/bday" "$W/relay" -type f)"
curl -s "$BASE_c/api/v1/outcomes?limit=1000" >"$W/export"
"$PY" -c '
import json, sys
print("\n".join(sorted(json.dumps(json.loads(l)["outcome"], sort_keys=True) for l in open(sys.argv[1]) if l.strip())))' \
	"$W/export" >"$W/stored.sorted"
check_equal "GET /api/v1/outcomes: 6 rows" 6 "$(wc -l <"$W/export")"
cmp -s "$W/sent.sorted" "$W/stored.sorted"
check_status "the stored outcomes are exactly the documents written" $? "$(diff "$W/sent.sorted" "$W/stored.sorted")"

"$PV" submit-outcomes --collector "$BASE_c/api/v1/outcomes" "$W/again" >"$W/again.out" 2>&1
check_status "the same document again: accepted (exit 0)" $? "$(cat "$W/again.out")"
check_equal "... and not stored twice" 6 "$(curl -s "$BASE_c/api/v1/outcomes?limit=1000" | wc -l)"

"$PV" submit-outcomes --collector "$BASE_c" "$W/bad" >"$W/bad.out" 2>&1
rc=$?
sed 's/^/    /' "$W/bad.out"
check_equal "an invalid document: exit 1" 1 "$rc"
[ -e "$W/bad/punch-outcome-bad.json" ]
check_status "... kept" $?
grep -q 'kept, not sent: .*required\|kept, not sent: .*local' "$W/bad.out"
check_status "... with the reader's reason" $? "$(cat "$W/bad.out")"
check_equal "... nothing stored" 6 "$(curl -s "$BASE_c/api/v1/outcomes?limit=1000" | wc -l)"

# A collector that does not answer (a closed port): the document kept, after the bounded
# retries.
"$PV" submit-outcomes --collector http://127.0.0.1:1 "$W/dead" >"$W/dead.out" 2>&1
rc=$?
sed 's/^/    /' "$W/dead.out"
check_equal "no collector: exit 1" 1 "$rc"
check_equal "... the file kept" 1 "$(find "$W/dead" -name '*.json' | wc -l)"
"$PV" submit-outcomes "$W/dead" >/dev/null 2>&1
check_equal "no --collector: usage error, exit 2" 2 "$?"
res_kill c
pairtest_done
