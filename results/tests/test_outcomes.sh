#!/usr/bin/env bash
# Punch outcome documents through the collector, on one store backend (the argument):
# backends: sqlite postgresql
# POST /api/v1/outcomes stores valid documents once per id in their own table; malformed JSON,
# schema-invalid documents and oversized bodies get 400 / 422 / 413 and store nothing; unknown
# keys are not kept; GET /api/v1/outcomes exports them; natcheck-report (from the store and
# from the folder) and the live page show "punch outcomes per class pair" with the counts the
# documents say (checked by an independent reading, lib/outcomes.py).
set -euo pipefail
source "$(dirname "$0")/lib/collector.sh"
res_setup
res_store "${1:-sqlite}"
echo "punch outcome test on $BACKEND"
res_start c --rate 0 --max-body 65536 --log-interval 1
U=$BASE_c/api/v1/outcomes
OUT=$NC_SRC/results/tests/lib/outcomes.py
mkdir "$W/fix"
n=$("$PY" "$OUT" fixture "$W/fix")

# --- every fixture document stored (201), a retry answered 200 with the first id
ok=0
for f in "$W"/fix/outcome-*.json; do
	k=$(basename "$f" .json)
	r=$($CLIENT post "$U" "$f" --key "key-$k")
	[ "${r%% *}" = 201 ] && ok=$((ok + 1)) || echo "    $k: $r"
done
check_equal "all $n fixture outcomes stored" "$n" "$ok"
a=$($CLIENT post "$U" "$W/fix/outcome-00.json" --key key-outcome-00)
check_equal "retry with the same id: 200" 200 "${a%% *}"
case $a in *'"stored":false'*) check_pass "retry not stored again" ;; *) check_fail "retry not stored again" "$a" ;; esac

# --- refusals store nothing
mut() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); exec(sys.argv[2]); print(json.dumps(d))' "$W/fix/outcome-00.json" "$1"; }
printf '{"schema": "punch-outcome", "version": 1, "local": {' >"$W/trunc.json"
mut 'd["method"]="stun"' >"$W/method.json"
mut 'd["started"]="2026-12-06T13:26:46Z"' >"$W/time.json"
mut 'd["peer"]["mapping"]="cone"' >"$W/class.json"
mut 'del d["success"]' >"$W/nosuccess.json"
mut 'd["version"]=2' >"$W/v2.json"
mut 'd["pad"]="x"*70000' >"$W/big.json"
r=$($CLIENT post "$U" "$W/trunc.json")
check_equal "malformed JSON: 400" 400 "${r%% *}"
for c in method:method time:started class:peer.mapping nosuccess:success v2:version; do
	r=$($CLIENT post "$U" "$W/${c%%:*}.json")
	check_equal "invalid ${c#*:}: 422" 422 "${r%% *}"
	case $r in *"${c#*:}"*) check_pass "422 names ${c#*:}" ;; *) check_fail "422 names ${c#*:}" "$r" ;; esac
done
r=$($CLIENT post "$U" "$W/big.json")
check_equal "oversized body: 413" 413 "${r%% *}"
r=$($CLIENT post "$U" "$W/fix/outcome-01.json" --key 'bad key!')
check_equal "bad Idempotency-Key: 422" 422 "${r%% *}"

# --- unknown keys are accepted (forward compatibility) but not kept
mut 'd["peer_endpoint"]="198.51.100.7:41641"; d["local"]["note"]="host bob"' >"$W/extra.json"
r=$($CLIENT post "$U" "$W/extra.json" --key key-extra-keys)
check_equal "unknown keys: accepted" 201 "${r%% *}"
cp "$W/extra.json" "$W/fix/outcome-extra.json"

# --- the export: exactly the accepted documents, in their own table
curl -s "$U?limit=1000" >"$W/export"
check_equal "outcomes stored = outcomes accepted" "$((n + 1))" "$(wc -l <"$W/export")"
check_equal "no row for a refused body" 0 "$(grep -c -v -E '"submission_id":"key-(outcome-[0-9]+|extra-keys)"' "$W/export" || true)"
grep -q '198\.51\.100\.7\|host bob' "$W/export" && check_fail "unknown keys not stored" || check_pass "unknown keys not stored"
grep -q '"outcome":{"schema":"punch-outcome"' "$W/export" && rc=0 || rc=$?
check_status "export rows carry the outcome document" $rc
check_equal "no result rows from outcomes" 0 "$(curl -s "$BASE_c/api/v1/results" | wc -l)"

# --- the report, from the store, the folder and the live page
"$REPORT" --store "$STORE" --md "$W/store.md" --html "$W/store.html" 2>/dev/null && rc=0 || rc=$?
check_status "natcheck-report --store ($BACKEND)" $rc
"$PY" "$OUT" check "$W/store.md" "$W/fix" >"$W/check.out" && rc=0 || rc=$?
check_status "report from the store: every class-pair cell matches the documents ($(tail -1 "$W/check.out"))" $rc "$(cat "$W/check.out")"
grep -q "^| \*\*All pairs\*\* | \*\*$((n + 1))\*\* |" "$W/store.md" && rc=0 || rc=$?
check_status "the All pairs row counts every outcome" $rc
grep -q '<table id="punch">' "$W/store.html" &&
	grep -q '<tr class="pair"><td>EIM+APDF &#215; APDM+APDF</td><td class="n">10</td>' "$W/store.html" && rc=0 || rc=$?
check_status "the HTML report has the punch table" $rc
"$REPORT" --dir "$W/fix" --md "$W/dir.md" 2>/dev/null && rc=0 || rc=$?
check_status "natcheck-report --dir with outcome documents" $rc
"$PY" "$OUT" check "$W/dir.md" "$W/fix" >"$W/check2.out" && rc=0 || rc=$?
check_status "report from the folder matches too" $rc "$(cat "$W/check2.out")"
curl -s "$BASE_c/" >"$W/page.html"
grep -q '<span id="outcomes">'"$((n + 1))"'</span>' "$W/page.html" && grep -q '7/8 (88%)' "$W/page.html" && rc=0 || rc=$?
check_status "the live page shows the punch outcomes" $rc
res_kill c
checks_verdict
