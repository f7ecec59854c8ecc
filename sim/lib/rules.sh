# shellcheck shell=bash
# nftables building blocks for the lab's router profiles (tested recipes: see
# ../shared/sim-recipes.md; R-numbers below refer to it). Every helper prints nft -f input and
# uses $W, the router's WAN address, which sim/run.sh sets before calling a profile's
# router_rules function. nslab_up already loads the WAN input drop every NAT router needs
# (recipes §0.3), except where a profile removes it on purpose.

# natrule 'STATEMENT...': a source-NAT chain with these statements (one per line).
natrule() {
	printf 'table ip n {\n chain post {\n  type nat hook postrouting priority srcnat\n'
	printf '  %s\n' "$@"
	printf ' }\n}\n'
}

# fwdrule 'STATEMENT...': a forward filter chain.
fwdrule() {
	printf 'table ip f {\n chain filt_fwd {\n  type filter hook forward priority filter\n'
	printf '  %s\n' "$@"
	printf ' }\n}\n'
}

# inputrule 'STATEMENT...': the router's own input filter (before the WAN drop).
inputrule() {
	printf 'table ip i {\n chain filt_in {\n  type filter hook input priority filter - 1\n'
	printf '  %s\n' "$@"
	printf ' }\n}\n'
}

# port_map BASE COUNT: "0 : BASE, 1 : BASE+1, ..." for numgen / jhash maps (R4, R6).
port_map() {
	local i out=
	for i in $(seq 0 $(($2 - 1))); do out+="$i : $(($1 + i)), "; done
	echo "${out%, }"
}

# range_map BASE WIDTH COUNT: "0 : W . BASE-BASE+WIDTH-1, ...": a port range per bucket, so
# the kernel resolves clashes inside a bucket instead of dropping the flow.
range_map() {
	local i out=
	for i in $(seq 0 $(($3 - 1))); do out+="$i : $W . $(($1 + i * $2))-$(($1 + i * $2 + $2 - 1)), "; done
	echo "${out%, }"
}

# cone FILTER-RULES [PRE-EXTRA] [POST-EXTRA]: endpoint-independent mapping with a dynamic
# map keyed by the external port (R7): full cone with no filter rules, restricted cone with
# the "contacted" set; PRE/POST-EXTRA add hairpinning (R8).
cone() {
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
  ${2:-}
 }
 chain post {
  type nat hook postrouting priority srcnat
  ${3:-}
  oifname "wan" snat ip to $W
 }
 chain post_record {
  type filter hook postrouting priority srcnat + 10
  oifname "wan" meta l4proto udp update @fc { udp sport timeout 120s : ct original ip saddr . ct original proto-src }
  oifname "wan" meta l4proto udp update @contacted { ct original ip saddr . ct original proto-src . ip daddr timeout 120s }
 }
 chain filt_fwd {
  type filter hook forward priority filter
  ${1:-}
 }
}
NFT
}

# The restricted-cone filter of R7: only addresses the endpoint contacted may send in.
# shellcheck disable=SC2034 # used by the profiles
ADF_RULES=$'iifname "wan" ct state new ip daddr . udp dport . ip saddr @contacted accept\n  iifname "wan" ct state new drop'
# R8: hairpinning through the cone map, with the sender's external address as source.
hairpin_pre() { echo "iifname \"lan\" ip daddr $W udp dport @fc dnat ip to udp dport map @fc"; }
hairpin_post() { echo "oifname \"lan\" ct status dnat ip saddr ${NSLAB_LAN:-10.1.0}.0/24 snat ip to $W"; }

# poke_router_wan DPORT SRC:SPORT...: sends one unsolicited UDP datagram from each internet
# endpoint SRC:SPORT (forged with a raw socket, so it works while the reflector owns that
# port) to the router's WAN address W:DPORT, and returns once the router has seen them all (a
# counter in its input path). A router whose own stack accepts them keeps a conntrack entry
# for each (sim-recipes §5.1); one with the WAN input drop keeps nothing.
poke_router_wan() {
	local dport=$1 i
	shift
	printf 'table ip poke {\n chain seen {\n  type filter hook input priority filter - 5; policy accept\n  iifname "wan" udp dport %s counter\n }\n}\n' "$dport" |
		nslab_exec router nft -f -
	nslab_exec inet python3 -c '
import socket, struct, sys
dst, dport = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for ep in sys.argv[3:]:
    src, sport = ep.rsplit(":", 1)
    data = b"unsolicited"
    udp = struct.pack("!HHHH", int(sport), dport, 8 + len(data), 0) + data  # checksum 0: none
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))  # the kernel fills id, checksum
    s.sendto(ip + udp, (dst, 0))
' "$W" "$dport" "$@"
	for i in $(seq 100); do
		[ "$(nslab_exec router nft list chain ip poke seen | sed -n 's/.*packets \([0-9]*\).*/\1/p')" = $# ] && return 0
		sleep 0.05
	done
	echo "poke_router_wan: the router did not see all $# datagrams" >&2
	return 1
}
