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

# 2. Ctrl-C in the middle of a run (the lifetime profile takes ~25 s; interrupt after 3 s).
before_ns=$(ip netns list | wc -l)
before_procs=$(pgrep -c -f 'natcheck-reflector|sim/natbox|tcpdump -i any' || true)
setsid bash "$SRC/sim/run.sh" --profile short-lifetime --profile natbox-outbound-refresh --out "$out/int" >"$out/int.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ "$(ip netns list | wc -l)" -gt "$before_ns" ] && break; sleep 0.05; done
sleep 3
kill -INT -- -"$pid"
wait "$pid" 2>/dev/null || true
after_ns=$(ip netns list | wc -l)
after_procs=$(pgrep -c -f 'natcheck-reflector|sim/natbox|tcpdump -i any' || true)
if [ "$after_ns" -eq "$before_ns" ] && [ "$after_procs" -eq "$before_procs" ] && ! ip link show nb0 >/dev/null 2>&1; then
	echo "ok: after SIGINT no namespace, interface or process of the lab remains"
else
	echo "FAIL: namespaces $before_ns -> $after_ns, processes $before_procs -> $after_procs"; ip netns list; fail=1
fi
exit "$fail"
