#!/usr/bin/env bash
# Smoke run of scripts/bench_vpn.sh (the full benchmark is run by hand; docs/punchvpn.md,
# "Benchmark"): raw veth, punchvpn and wireguard-go, one 1-second run each way, two RTT rounds.
# Checks that the script completes, that every tool gives a row with a throughput and a ping
# time and two rounds of RTT, that the ratio and RTT verdict lines are printed, and that
# nothing of the run is left (after the second round's bring-ups too): no
# namespace, no tunnel daemon (the script itself refuses to go on to the next tool while one of
# the previous tool's processes or links remains: that is what keeps each row honest).
# No throughput is asserted: that is the benchmark's business, not a test's.
# Exit 77 (skip) when not root, without namespaces / TUN, or without the peers' packages.
set -u

NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NC_BUILD=${NC_BUILD:-$NC_SRC/build}
export NC_BUILD

# shellcheck source=../lib/checks.sh
. "$NC_SRC/tests/lib/checks.sh"
need_root
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
need_tool iperf3 ping python3 ethtool wireguard-go wg
[ -x "$NC_BUILD/vpn/punchvpn" ] || { echo "FAIL: punchvpn not built in $NC_BUILD/vpn"; exit 1; }

OUT=$(mktemp /tmp/bench-smoke.XXXXXX)
trap 'rm -f "$OUT"' EXIT
BENCH_RUNS=1 BENCH_SECONDS=1 BENCH_RTT_ROUNDS=2 bash "$NC_SRC/scripts/bench_vpn.sh" raw punchvpn wireguard-go >"$OUT" 2>&1 &
pid=$!
wait "$pid"
rc=$?
check_status "bench_vpn.sh exits 0" "$rc" "$(tail -20 "$OUT")"

for tool in raw punchvpn wireguard-go; do
	row=$(awk -v t="$tool" '$1 == t && $2 ~ /^[0-9.]+$/ { print; exit }' "$OUT")
	if [ -n "$row" ] && awk -v r="$row" 'BEGIN { split(r, f, " "); exit !(f[2] > 0 && f[3] > 0 && f[4] > 0) }'; then
		check_pass "$tool: a row with throughput both ways and a ping time"
	else
		check_fail "$tool: no row with throughput and ping time" "$(cat "$OUT")"
	fi
done
for tool in raw punchvpn wireguard-go; do
	rounds=$(sed -n '/^RTT per round/,/^$/p' "$OUT" | awk -v t="$tool" '$1 == t { n = 0; for (i = 2; i <= NF; i++) if ($i ~ /^[0-9.]+$/) n++; print n }')
	check_equal "$tool: an RTT in each of the 2 rounds" 2 "${rounds:-0}"
done
grep -q '^punchvpn / best other (wireguard-go): A->B [0-9.]*x, B->A [0-9.]*x' "$OUT" &&
	check_pass "the ratio to the best other tunnel is printed" ||
	check_fail "no ratio line" "$(tail -5 "$OUT")"
grep -q '^added RTT: punchvpn [0-9.-]* ms, best other [0-9.-]* ms (medians over rounds; punchvpn lowest in [0-2] of 2 rounds)' "$OUT" &&
	check_pass "the added RTT verdict is printed" || check_fail "no added-RTT line" "$(tail -5 "$OUT")"

# The script's namespaces are named after its PID.
left=$(ip netns list | awk -v a="bA-$pid" -v b="bB-$pid" '$1 == a || $1 == b')
check_equal "no namespace of the run left" "" "$left"
procs=$(pgrep -f "bench-vpn\.|wgb$pid" || true)
check_equal "no process of the run left (punchvpn, wireguard-go, iperf3)" "" "$procs"
checks_verdict
