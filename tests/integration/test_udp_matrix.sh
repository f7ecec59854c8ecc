#!/usr/bin/env bash
# natcheck's UDP verdicts behind nine kernel NAT profiles (sim-recipes.md R1-R8, R14), three
# runs each, against natcheck-reflector on two addresses: every mapping and filtering field
# (54 of them) and the allocation, hairpin and reachability fields must be right every time.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NC_BUILD:-$SRC/build}
RUNS=${RUNS:-3}
# shellcheck source=scripts/lib/nslab.sh
source "$SRC/scripts/lib/nslab.sh"
nslab_need_root
natcheck=$BUILD/natcheck/natcheck
reflector=$BUILD/reflector/natcheck-reflector
W=198.18.10.1

port_map() { # BASE COUNT: "0 : BASE, 1 : BASE+1, ..."
	local i out=
	for i in $(seq 0 $(($2 - 1))); do out+="$i : $(($1 + i)), "; done
	echo "${out%, }"
}
range_map() { # BASE WIDTH COUNT: "0 : W . BASE-(BASE+WIDTH-1), ..."
	local i out=
	for i in $(seq 0 $(($3 - 1))); do out+="$i : $W . $(($1 + i * $2))-$(($1 + i * $2 + $2 - 1)), "; done
	echo "${out%, }"
}
# Full and restricted cone (R7): a dynamic map keyed by the external port; hairpin (R8).
cone() { # FORWARD-FILTER-RULES PRE-EXTRA POST-EXTRA
	cat <<NFT
table ip fc {
 map fc {
  type inet_service : ipv4_addr . inet_service
  flags dynamic,timeout
  timeout 120s
 }
 set contacted {
  type ipv4_addr . inet_service . ipv4_addr
  flags dynamic,timeout
  timeout 120s
 }
 chain pre {
  type nat hook prerouting priority dstnat
  iifname "wan" udp dport @fc dnat ip to udp dport map @fc
  $2
 }
 chain post {
  type nat hook postrouting priority srcnat
  $3
  oifname "wan" snat ip to $W
 }
 chain post_record {
  type filter hook postrouting priority srcnat + 10
  oifname "wan" meta l4proto udp update @fc { udp sport timeout 120s : ct original ip saddr . ct original proto-src }
  oifname "wan" meta l4proto udp update @contacted { ct original ip saddr . ct original proto-src . ip daddr timeout 120s }
 }
 chain filt_fwd {
  type filter hook forward priority filter
  $1
 }
}
NFT
}
natrule() { printf 'table ip n {\n chain post {\n  type nat hook postrouting priority srcnat\n  %s\n }\n}\n' "$1"; }

# profile NAME -> prints the ruleset ("" = no NAT, routed)
profile() {
	case "$1" in
	no-nat) echo "" ;;
	port-restricted) natrule 'oifname "wan" masquerade' ;;
	symmetric-random) natrule 'oifname "wan" masquerade random' ;;
	full-cone) cone "" "" "" ;;
	restricted-cone) cone $'iifname "wan" ct state new ip daddr . udp dport . ip saddr @contacted accept\n  iifname "wan" ct state new drop' "" "" ;;
	# R4 with a port range per hash bucket: one port per bucket made the kernel drop a flow
	# whose bucket clashed with another flow to the same destination (about 1 run in 10).
	address-dependent) natrule "oifname \"wan\" meta l4proto udp snat ip to jhash ip saddr . udp sport . ip daddr mod 256 map { $(range_map 20000 64 256) }" ;;
	sequential) natrule "oifname \"wan\" meta l4proto udp snat ip to $W : numgen inc mod 1000 map { $(port_map 30000 1000) }" ;;
	udp-blocked) printf 'table ip b {\n chain filt_fwd {\n  type filter hook forward priority filter\n  meta l4proto udp drop\n }\n}\n%s\n' "$(natrule 'oifname "wan" masquerade')" ;;
	hairpin) cone "" 'iifname "lan" ip daddr '"$W"' udp dport @fc dnat ip to udp dport map @fc' 'oifname "lan" ct status dnat ip saddr 10.1.0.0/24 snat ip to '"$W" ;;
	esac
}
# expected NAME -> "field=value ..." (JSON paths under udp)
expected() {
	case "$1" in
	no-nat) echo "reachable=True nat=False mapping=none filtering=none" ;;
	port-restricted) echo "nat=True mapping=endpoint-independent filtering=address-and-port-dependent port_preservation=True allocation.pattern=preserving hairpin=False" ;;
	symmetric-random) echo "mapping=address-and-port-dependent filtering=address-and-port-dependent allocation.pattern=random" ;;
	full-cone) echo "mapping=endpoint-independent filtering=endpoint-independent hairpin=False" ;;
	restricted-cone) echo "mapping=endpoint-independent filtering=address-dependent" ;;
	address-dependent) echo "mapping=address-dependent filtering=address-and-port-dependent" ;;
	sequential) echo "mapping=address-and-port-dependent filtering=address-and-port-dependent allocation.pattern=sequential allocation.delta=1" ;;
	udp-blocked) echo "reachable=False mapping=unknown filtering=unknown" ;;
	hairpin) echo "mapping=endpoint-independent filtering=endpoint-independent hairpin=True hairpin_source=external" ;;
	esac
}

failures=0 checked=0
for name in ${PROFILES:-no-nat port-restricted symmetric-random full-cone restricted-cone \
	address-dependent sequential udp-blocked hairpin}; do
	nslab_up "ncmx$$"
	rules=$(profile "$name")
	if [ -z "$rules" ]; then nslab_route_lan; else nslab_ruleset "$rules"; fi
	nslab_daemon refl inet "$reflector" --primary "$NSLAB_A1" --alternate "$NSLAB_A2"
	nslab_wait_udp inet "$NSLAB_A2:3479"
	for run in $(seq "$RUNS"); do
		json=$(nslab_exec client "$natcheck" --json "$NSLAB_A1" || true)
		n=$(expected "$name" | wc -w)
		checked=$((checked + n))
		# shellcheck disable=SC2046
		if bad=$(python3 -c '
import json, sys
u = json.loads(sys.argv[1])["udp"]
bad = []
for exp in sys.argv[2:]:
    key, want = exp.split("=", 1)
    got = u
    for k in key.split("."):
        got = got[k]
    if str(got) != want:
        bad.append(f"udp.{key}: expected {want}, measured {got}")
print("; ".join(bad))
sys.exit(1 if bad else 0)' "$json" $(expected "$name")); then
			printf '  ok    %-18s run %d  %s\n' "$name" "$run" "$(expected "$name")"
		else
			printf '  FAIL  %-18s run %d  %s\n' "$name" "$run" "${bad:-no JSON from natcheck}"
			failures=$((failures + 1))
		fi
	done
	nslab_down
done
echo "$checked fields checked over $RUNS run(s) per profile, $failures run(s) with a wrong field"
[ "$failures" -eq 0 ]
