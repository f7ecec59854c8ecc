#!/usr/bin/env bash
# Two collector instances on one PostgreSQL: every submission is sent to both at once (as a
# client retrying against another instance would), and each is stored exactly once, with the
# same id answered by both. Then the store's unit tests run against the same server.
set -euo pipefail
source "$(dirname "$0")/lib/collector.sh"
res_setup
res_store postgresql
res_start one --rate 0 --per-ip-connections 200
res_start two --rate 0 --per-ip-connections 200
: >"$W/a1"
: >"$W/a2"
$CLIENT burst "$URL_one" "$EXAMPLES/port-restricted-cone.json" --n 600 --conc 20 --out "$W/a1" --prefix twice >"$W/b1" &
p1=$!
$CLIENT burst "$URL_two" "$EXAMPLES/port-restricted-cone.json" --n 600 --conc 20 --out "$W/a2" --prefix twice >"$W/b2" &
p2=$!
wait $p1 $p2
echo "    instance one: $(cat "$W/b1"); instance two: $(cat "$W/b2")"
check_equal "instance one acknowledged all" 600 "$(wc -l <"$W/a1")"
check_equal "instance two acknowledged all" 600 "$(wc -l <"$W/a2")"
$CLIENT ids "$URL_one" | awk '{print $1, $2}' | sort >"$W/stored"
check_equal "600 rows stored, not 1200" 600 "$(wc -l <"$W/stored")"
check_equal "each id once" 0 "$(awk '{print $1}' "$W/stored" | uniq -d | wc -l)"
sort "$W/a1" >"$W/s1"
sort "$W/a2" >"$W/s2"
check_equal "both instances answered the same id for each submission" 0 "$(diff "$W/s1" "$W/s2" | grep -c '^[<>]' || true)"
check_equal "and that id is the stored row" 0 "$(diff "$W/s1" "$W/stored" | grep -c '^[<>]' || true)"
$CLIENT ids "$URL_two" | awk '{print $1, $2}' | sort >"$W/stored2"
check_equal "both instances export the same rows" 0 "$(diff "$W/stored" "$W/stored2" | grep -c '^[<>]' || true)"
res_kill one
res_kill two
# The store's unit tests, on this PostgreSQL (they run on SQLite as results/test_store).
rc=0
NC_RESULTS_STORE=$STORE "$NC_BUILD/results/tests/results_test_store" >"$W/unit.out" 2>&1 || rc=$?
check_status "the store's unit tests pass on PostgreSQL" $rc "$(cat "$W/unit.out")"
rc=0
NC_RESULTS_STORE=$STORE "$NC_BUILD/results/tests/results_test_punch" >"$W/punch.out" 2>&1 || rc=$?
check_status "the report's punch outcome tests pass on PostgreSQL" $rc "$(cat "$W/punch.out")"
checks_verdict
