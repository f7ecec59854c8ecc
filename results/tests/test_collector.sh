#!/usr/bin/env bash
# The collector as clients see it, on one store backend (the argument):
# backends: sqlite postgresql
# good submissions are stored once per id; malformed JSON, schema-invalid documents, oversized
# bodies (declared and chunked), a slow client and a flood get their 4xx or are cut off, store
# nothing, and leave the collector serving others; the log says so once per class; natcheck's
# submission client stores, saves to its outbox when the collector is down, and resends.
set -euo pipefail
source "$(dirname "$0")/lib/collector.sh"
res_setup
res_store "${1:-sqlite}"
echo "collector test on $BACKEND"
res_start c --rate 2 --burst 8 --timeout 2 --deadline 4 --max-body 65536 --log-interval 1
U=$URL_c
EX=$EXAMPLES/port-restricted-cone.json

# --- good submissions, idempotent retries
a=$($CLIENT post "$U" "$EX" --key retry-key-0001)
b=$($CLIENT post "$U" "$EX" --key retry-key-0001)
check_equal "first submission stored" 201 "${a%% *}"
check_equal "retry with the same id: 200" 200 "${b%% *}"
id_a=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1].split(" ",1)[1])["id"])' "$a")
id_b=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1].split(" ",1)[1])["id"])' "$b")
check_equal "retry answered with the first id" "$id_a" "$id_b"

# --- refusals, each from its own source so the rate limit is not what answers
printf '{"schema": "natcheck-result", "version": 1, "udp": {' >"$W/trunc.json"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["udp"]["mapping"]="cone"; print(json.dumps(d))' "$EX" >"$W/invalid.json"
"$PY" -c 'print("{\"schema\":\"natcheck-result\",\"version\":1,\"udp\":{},\"pad\":\"" + "x"*70000 + "\"}")' >"$W/big.json"
r=$($CLIENT post "$U" "$W/trunc.json" --source 127.0.0.11)
check_equal "malformed JSON: 400" 400 "${r%% *}"
r=$($CLIENT post "$U" "$W/invalid.json" --source 127.0.0.12)
check_equal "schema-invalid document: 422" 422 "${r%% *}"
case $r in *'udp.mapping'*) check_pass "422 names the field" ;; *) check_fail "422 names the field" "$r" ;; esac
r=$($CLIENT post "$U" "$W/big.json" --source 127.0.0.13)
check_equal "oversized body (declared): 413" 413 "${r%% *}"
r=$($CLIENT post "$U" "$W/big.json" --source 127.0.0.14 --chunked)
check_equal "oversized chunked body: cut off" closed "${r%% *}"

# --- a slow client is cut off while others are served
$CLIENT slow "$U" --source 127.0.0.15 >"$W/slow.out" &
slow=$!
r=$($CLIENT post "$U" "$EXAMPLES/symmetric.json" --source 127.0.0.16 --key during-slow-01)
check_equal "served while a slow client hangs" 201 "${r%% *}"
wait $slow
secs=$(cat "$W/slow.out")
"$PY" -c 'import sys; sys.exit(0 if 1.5 <= float(sys.argv[1]) <= 8 else 1)' "$secs"
check_status "slow client cut off after the 2 s timeout (${secs} s)" $?

# --- a client that trickles its body (never 2 s silent) is cut at the 4 s deadline
t=$($CLIENT slow "$U" --source 127.0.0.19 --trickle)
"$PY" -c 'import sys; sys.exit(0 if 3.5 <= float(sys.argv[1]) <= 10 else 1)' "$t" && rc=0 || rc=$?
check_status "trickling client cut off at the 4 s deadline (${t} s)" $rc

# --- a flood from one source: burst 8, then 429 with Retry-After; nothing of it stored beyond
# what was answered 201
f=$($CLIENT flood "$U" "$EXAMPLES/open-internet.json" --n 40 --source 127.0.0.17)
echo "    flood: $f"
n201=$(sed -n 's/.*201:\([0-9]*\).*/\1/p' <<<"$f")
n429=$(sed -n 's/.*429:\([0-9]*\).*/\1/p' <<<"$f")
[ "${n429:-0}" -ge 25 ] && [ "${n201:-0}" -ge 8 ] && [ "${n201:-0}" -le 12 ]
check_status "flood: 8-12 accepted, the rest 429 ($f)" $?
case $f in *retry-after:[1-9]*) check_pass "429 carries Retry-After" ;; *) check_fail "429 carries Retry-After" "$f" ;; esac
r=$($CLIENT post "$U" "$EXAMPLES/symmetric.json" --source 127.0.0.18 --key after-flood-01)
check_equal "another source served during the flood" 201 "${r%% *}"

# --- exactly the accepted ones are stored
$CLIENT ids "$U" >"$W/ids"
want=$((3 + n201)) # retry-key-0001, during-slow-01, after-flood-01 and the flood's 201s
check_equal "rows stored = submissions accepted" "$want" "$(wc -l <"$W/ids")"
check_equal "no row for a refused body" 0 "$(grep -c -v -E '^(retry-key-0001|during-slow-01|after-flood-01|flood[0-9]+) ' "$W/ids" || true)"
# Stored documents are anonymised again by the collector (the example has full addresses).
curl -s "$U?limit=5" >"$W/export"
grep -q '203\.0\.113\.45\|192\.168\.' "$W/export" && check_fail "stored rows hold no full address" || check_pass "stored rows hold no full address"

# --- the page, health, 404 / 405
check_equal "GET / is the report" 200 "$(curl -s -o "$W/page.html" -w '%{http_code}' "$BASE_c/")"
grep -q '<table id="table1">' "$W/page.html"
check_status "the page holds Table 1" $?
check_equal "unknown path: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$BASE_c/nope")"
check_equal "PUT: 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$U")"
check_equal "bad export query: 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' "$U?since=abc")"

# --- natcheck's submission client: stored; collector down -> outbox; resend -> stored once
out=$("$NC_BUILD/results/tests/submit_driver" submit "$U" "$EX" "$W/outbox" "Linksys" 2>"$W/drv.err")
check_equal "submit: stored" stored "${out%% *}"
grep -q '"vendor": "Linksys"' "$W/drv.err"
check_status "submit: the document shown before sending" $?
res_start down
dead=$URL_down
res_kill down
out=$("$NC_BUILD/results/tests/submit_driver" submit "$dead" "$EX" "$W/outbox" "Netgear" 2>"$W/drv2.err") || true
case $out in "saved $W/outbox/"*.json) check_pass "collector down: saved to the outbox" ;; *) check_fail "collector down: saved to the outbox" "$out $(cat "$W/drv2.err")" ;; esac
tries=$(grep -c 'trying again' "$W/drv2.err" || true)
check_equal "bounded retries (3 tries = 2 waits)" 2 "$tries"
grep -q 'natcheck --resend' "$W/drv2.err"
check_status "the message says how to resend" $?
out=$("$NC_BUILD/results/tests/submit_driver" resend "$U" "$W/outbox" 2>/dev/null)
check_equal "resend: outbox emptied" "left 0" "$out"
check_equal "resend stored it once" 1 "$($CLIENT ids "$U" | grep -c ' Netgear$')"
check_equal "outbox is empty" 0 "$(ls "$W/outbox" | wc -l)"

# --- natcheck-report reads this store (either backend) and counts every stored row
rows=$($CLIENT ids "$U" | wc -l)
"$REPORT" --store "$STORE" --md "$W/report.md" 2>/dev/null && rc=0 || rc=$?
check_status "natcheck-report --store ($BACKEND)" $rc
check_equal "the report counts every stored row" "$rows" "$(sed -n 's/^| \*\*All vendors\*\* | \([0-9]*\) |.*/\1/p' "$W/report.md")"

# --- one log line per request class and interval, not one per request
res_kill c
grep -q '429 rate limited x' "$W/c.log"
check_status "the log counts 429s" $?
lines=$(grep -c '429 rate limited' "$W/c.log")
[ "$lines" -le 5 ]
check_status "the flood cost at most a few log lines ($lines for ${n429:-0} refusals)" $?
checks_verdict
