#!/usr/bin/env bash
# natcheck --lifetime against two routers with a known binding lifetime:
#   - Linux conntrack with 5 s UDP timeouts (sim-recipes R10): conntrack refreshes a binding
#     on traffic in both directions, so inbound refresh must read "yes";
#   - natbox with a 4 s lifetime refreshed only by outbound traffic: inbound refresh "no".
# The measured lifetime must be within 1 s of the configured one.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NC_BUILD:-$SRC/build}
export NC_BUILD=$BUILD
# shellcheck source=scripts/lib/nslab.sh
source "$SRC/scripts/lib/nslab.sh"
# shellcheck source=sim/lib/natbox.sh
source "$SRC/sim/lib/natbox.sh"
nslab_need_root
failures=0

measure() { # NAME WANT_LIFETIME WANT_REFRESH
	local got
	nslab_daemon refl inet "$BUILD/reflector/natcheck-reflector" --primary "$NSLAB_A1" --alternate "$NSLAB_A2"
	nslab_wait_udp inet "$NSLAB_A2:3479"
	got=$(nslab_exec client "$BUILD/natcheck/natcheck" --json --lifetime --lifetime-max 20 "$NSLAB_A1" |
		python3 -c 'import json,sys; u=json.load(sys.stdin)["udp"]; print(u["lifetime_s"], u["inbound_refresh"])')
	read -r life refresh <<<"$got"
	if [ "$life" != None ] && [ $((life - $2)) -le 1 ] && [ $(($2 - life)) -le 1 ] && [ "$refresh" = "$3" ]; then
		printf '  ok    %-36s lifetime %s s (configured %s s), inbound refresh %s\n' "$1" "$life" "$2" "$refresh"
	else
		printf '  FAIL  %-36s lifetime %s s (configured %s s), inbound refresh %s (want %s)\n' "$1" "$life" "$2" "$refresh" "$3"
		failures=$((failures + 1))
	fi
}

nslab_up "nclt$$"
nslab_nat 'oifname "wan" masquerade'
nslab_exec router sysctl -qw net.netfilter.nf_conntrack_udp_timeout=5 net.netfilter.nf_conntrack_udp_timeout_stream=5
measure "conntrack, 5 s timeouts" 5 True
nslab_down

nslab_up "nclt$$"
natbox_start "$NSLAB_P-router" lan wan "$NSLAB_WAN" "$NSLAB_DIR/natbox" -- --lifetime 4 --refresh outbound
measure "natbox, 4 s, outbound-only refresh" 4 False
natbox_stop "$NSLAB_P-router" "$NSLAB_DIR/natbox"
nslab_down
[ "$failures" -eq 0 ]
