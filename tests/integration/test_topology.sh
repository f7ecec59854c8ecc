#!/usr/bin/env bash
# NAT layers and carrier-grade NAT: a home NAT alone, a home NAT inside a carrier's
# 100.64.0.0/10 behind a CGN, and a home NAT behind a second private NAT. natcheck must report
# 1 layer and no CGN, CGN with 2 layers, and double NAT without CGN, respectively.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NC_BUILD:-$SRC/build}
# shellcheck source=scripts/lib/nslab.sh
source "$SRC/scripts/lib/nslab.sh"
nslab_need_root
failures=0

case_() { # NAME UPSTREAM WANT(layers cgnat double_nat)
	nslab_up "nctp$$" "$2"
	nslab_nat 'oifname "wan" masquerade'
	nslab_daemon refl inet "$BUILD/reflector/natcheck-reflector" --primary "$NSLAB_A1" --alternate "$NSLAB_A2"
	nslab_wait_udp inet "$NSLAB_A2:3479"
	got=$(nslab_exec client "$BUILD/natcheck/natcheck" --json "$NSLAB_A1" | python3 -c '
import json, sys
t = json.load(sys.stdin)["topology"]
print(t["nat_layers"], t["cgnat"], t["double_nat"])')
	if [ "$got" = "$3" ]; then
		printf '  ok    %-28s layers/cgnat/double = %s\n' "$1" "$got"
	else
		printf '  FAIL  %-28s got %s, want %s\n' "$1" "$got" "$3"
		failures=$((failures + 1))
	fi
	nslab_down
}
case_ "single home NAT" "" "1 False False"
case_ "home NAT behind a CGN" 100.64.0 "2 True True"
case_ "home NAT behind another NAT" 192.168.50 "2 False True"
[ "$failures" -eq 0 ]
