#!/usr/bin/env bash
# Issue 10's pair cases in the lab (sim/run.sh --pairs, sim/pairs.list): two hosts behind two
# routers, each running one of the lab's NAT profiles, punchvpnd and natcheck-reflector in the
# internet namespace.
#
#  1. The topology: every pair's labs come up, each host reaches the internet, and natcheck
#     from each host through its own router gives that side's profile verdict
#     (--topology-only --verify-sides).
#  2. The VPN: both `punchvpn up`, 10/10 pings through the tunnel, the path in both hosts'
#     `punchvpn status --json` as the list expects (direct / relay), the first ping within 1 s
#     of the second `up`, the introduction->direct time where the list bounds it.
#  3. Nothing is left: no namespace of either run, no process started from the test's files.
# Exit 77 (skip) when not root or without namespaces.
set -u
NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$NC_SRC/tests/lib/pairtest.sh"
pairtest_init pairs
npairs=$(sed -e 's/#.*//' "$NC_SRC/sim/pairs.list" | grep -c '[^[:space:]]')

run() {
	local name=$1
	shift
	pairtest_run "$name" "$W/$name" "$@"
}

run topology -j 2 --pairs --topology-only --verify-sides
check_status "topology: every pair's labs up, hosts reach the internet, natcheck gives each side's verdict" $?
n=$(grep -c '	PASS	' "$W"/topology/*.line 2>/dev/null | awk -F: '{ s += $2 } END { print s + 0 }')
check_equal "topology: every pair of sim/pairs.list passed" "$npairs" "$n"

# One pair at a time: the cases time the tunnel (first ping within 1 s), and a second pair's
# two punchvpn, punchvpnd and NAT measurements on the same two cores would be in that time.
run vpn -j 1 --pairs
check_status "vpn: every pair pings 10/10 through the tunnel on its expected path" $?
for f in "$W"/vpn/*.pair.json; do
	[ -e "$f" ] || { check_fail "vpn: per-pair JSON documents written"; break; }
	line=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["pair"], d["result"], "expected", d["expected"]["path"], "measured", d["measured"],
      "pings", d["pings"]["received"], "first", d["first_ping_ms"], "intro", d["intro_direct_ms"])' "$f")
	case $line in *" PASS "*) check_pass "$line" ;; *) check_fail "$line" "$(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["failures"]))' "$f")" ;; esac
done
[ -s "$W/vpn/summary.md" ] && [ -s "$W/vpn/grid.html" ]
check_status "vpn: summary.md and grid.html written" $?
rows=$(grep -c '^| [a-z-]* x ' "$W/vpn/summary.md" 2>/dev/null)
check_equal "vpn: summary.md has a row per pair" "$npairs" "${rows:-0}"
pairtest_done
