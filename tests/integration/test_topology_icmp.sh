#!/usr/bin/env bash
# NAT layers behind routers that keep Linux's default ICMP rate limits (issue 13 item 13):
# net.ipv4.icmp_ratelimit=1000 ms per destination with a burst of 6, icmp_msgs_per_sec=1000,
# icmp_msgs_burst=50 (nslab with NSLAB_ICMP_DEFAULT=1; the usual lab sets icmp_ratelimit=0).
# natcheck runs back to back (its own earlier packets and the previous run's use up each
# router's budget toward this host) behind one NAT and behind a double NAT; every run must
# determine the layer count, and correctly. NC_TOPO_RUNS sets the runs per lab (default 8).
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NC_BUILD=${NC_BUILD:-$SRC/build}
# shellcheck source=tests/lib/nslab.sh
source "$SRC/tests/lib/nslab.sh"
nslab_need_root
need_tool python3
NC=$NC_BUILD/natcheck/natcheck
REFL=$NC_BUILD/reflector/natcheck-reflector
[ -x "$NC" ] && [ -x "$REFL" ] || { echo "SKIP: natcheck / natcheck-reflector not built"; exit 77; }
RUNS=${NC_TOPO_RUNS:-8}
export NSLAB_ICMP_DEFAULT=1
total=0 good=0 fail=0

lab() { # NAME UPSTREAM WANT_LAYERS
	local name=$1 up=$2 want=$3 i layers n=0 ok=0
	nslab_up "nctopo$$$name" $up
	nslab_nat 'oifname "wan" masquerade'
	for ns in router ${up:+outer}; do
		[ "$(nslab_exec "$ns" sysctl -n net.ipv4.icmp_ratelimit)" = 1000 ] ||
			{ echo "FAIL $name: $ns does not keep the default icmp_ratelimit"; exit 1; }
	done
	nslab_daemon refl inet "$REFL" --no-drop --primary "$NSLAB_A1" --alternate "$NSLAB_A2"
	nslab_wait_udp inet "$NSLAB_A2:3479"
	for i in $(seq "$RUNS"); do
		nslab_exec client "$NC" --json "$NSLAB_A1" >"$NSLAB_DIR/run$i.json" 2>/dev/null || true
		read -r layers ms < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["topology"]["nat_layers"], d["duration_ms"])' \
			"$NSLAB_DIR/run$i.json" 2>/dev/null || echo error -)
		n=$((n + 1))
		[ "$layers" = "$want" ] && ok=$((ok + 1))
		printf '  %s run %d: nat_layers %s, %s ms\n' "$name" "$i" "$layers" "$ms"
	done
	echo "$name: layer count determined and right in $ok of $n runs (want $want)"
	total=$((total + n))
	good=$((good + ok))
	[ "$ok" = "$n" ] || fail=1
	nslab_down
}

lab single "" 1
lab double 192.168.50 2
echo "overall: $good of $total runs determined the layer count behind routers with default ICMP limits"
[ "$fail" = 0 ] && echo "PASS" || echo "FAIL"
exit "$fail"
