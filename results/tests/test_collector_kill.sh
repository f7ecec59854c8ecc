#!/usr/bin/env bash
# Nothing acknowledged is lost: a burst of concurrent submissions, SIGKILL in the middle of
# it, a restart on the same store, and every submission that got an id is there with that id.
# backends: sqlite postgresql
set -euo pipefail
source "$(dirname "$0")/lib/collector.sh"
res_setup
res_store "${1:-sqlite}"
echo "crash test on $BACKEND"
res_start c --rate 0 --per-ip-connections 200
: >"$W/acked"
$CLIENT burst "$URL_c" "$EXAMPLES/symmetric.json" --n 4000 --conc 40 --out "$W/acked" \
	--prefix crash >"$W/burst.out" &
burst=$!
# Kill once a good part of the burst has been acknowledged (the file grows per answer).
for _ in $(seq 600); do
	[ "$(wc -l <"$W/acked")" -ge 600 ] && break
	sleep 0.02
done
res_kill c KILL
wait $burst || true
acked=$(wc -l <"$W/acked")
echo "    burst: $(cat "$W/burst.out"); acknowledged before the kill: $acked"
[ "$acked" -ge 600 ] && [ "$acked" -lt 4000 ]
check_status "the kill landed mid-burst ($acked of 4000 acknowledged)" $?

res_start again --rate 0
$CLIENT ids "$URL_again" | awk '{print $1, $2}' | sort >"$W/stored"
sort "$W/acked" >"$W/acked.sorted"
missing=$(comm -23 "$W/acked.sorted" "$W/stored" | wc -l)
check_equal "every acknowledged submission is stored with its id" 0 "$missing"
stored=$(wc -l <"$W/stored")
[ "$stored" -ge "$acked" ]
check_status "stored rows ($stored) >= acknowledged ($acked); the rest were in flight" $?
dups=$(awk '{print $1}' "$W/stored" | uniq -d | wc -l)
check_equal "no submission id stored twice" 0 "$dups"
# The collector still takes submissions after the restart, and a retry of an acknowledged one
# gets its old id.
first=$(head -1 "$W/acked")
r=$($CLIENT post "$URL_again" "$EXAMPLES/symmetric.json" --key "${first%% *}")
check_equal "a retry after the crash: 200" 200 "${r%% *}"
case $r in *"\"id\":${first##* },"*) check_pass "with the id acknowledged before the crash" ;; *) check_fail "with the id acknowledged before the crash" "$r / $first" ;; esac
res_kill again
checks_verdict
