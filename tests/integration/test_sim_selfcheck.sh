#!/usr/bin/env bash
# The lab checks itself: a wrong expectation must fail and name the profile and the field,
# and a run interrupted with SIGINT must leave no namespace, interface or process behind.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
export NC_BUILD=${NC_BUILD:-$SRC/build}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0

# 1. A deliberately wrong expectation.
if bash "$SRC/sim/run.sh" --profile restricted-cone --expect udp.filtering=endpoint-independent \
	--out "$out/wrong" >"$out/wrong.log" 2>&1; then
	echo "FAIL: a wrong expectation passed"; fail=1
elif grep -q 'restricted-cone .*FAIL.*udp.filtering: expected endpoint-independent, measured address-dependent' "$out/wrong.log"; then
	echo "ok: the wrong expectation failed, naming restricted-cone and udp.filtering"
else
	echo "FAIL: the failure does not name the profile and field:"; cat "$out/wrong.log"; fail=1
fi
[ -e "$out/wrong/restricted-cone.fail/router.nft" ] && [ -e "$out/wrong/restricted-cone.fail/router.pcap" ] &&
	echo "ok: the failure saved the ruleset and a capture" || { echo "FAIL: no failure dump"; fail=1; }

# 2. Ctrl-C in the middle of a run (the lifetime profiles take 16-26 s; interrupt after 3 s).
# Only this run's own namespaces (named nc<its pid>-) and the processes inside them count, so
# other labs running on the machine at the same time do not disturb the check.
setsid bash "$SRC/sim/run.sh" --profile short-lifetime --profile natbox-outbound-refresh --out "$out/int" >"$out/int.log" 2>&1 &
pid=$!
for _ in $(seq 200); do ls /run/netns/nc"$pid"-* >/dev/null 2>&1 && break; sleep 0.05; done
sleep 3
inodes=$(stat -L -c %i /run/netns/nc"$pid"-* 2>/dev/null | sort -u)
[ -n "$inodes" ] || { echo "FAIL: the run built no lab"; exit 1; }
kill -INT -- -"$pid"
wait "$pid" 2>/dev/null || true
left_ns=$(ls /run/netns/ | grep -c "^nc$pid-" || true)
left_procs=0
for p in /proc/[0-9]*; do
	ino=$(stat -L -c %i "$p/ns/net" 2>/dev/null) || continue
	grep -qx "$ino" <<<"$inodes" && left_procs=$((left_procs + 1))
done
if [ "$left_ns" -eq 0 ] && [ "$left_procs" -eq 0 ]; then
	echo "ok: after SIGINT none of the run's $(wc -l <<<"$inodes") namespaces and no process in them remains"
else
	echo "FAIL: after SIGINT $left_ns namespace(s) and $left_procs process(es) of the run remain"; fail=1
fi
exit "$fail"
