#!/usr/bin/env bash
# Port mapping against miniupnpd (Debian miniupnpd-nftables) in a router namespace:
# NAT-PMP, PCP and UPnP-IGD probed by libnatcheck, mappings created, seen by upnpc and in the
# router's nft chains, deleted (explicitly and on SIGINT), and a router without miniupnpd.
#
#   h1  10.1.0.2/24 --- br0 10.1.0.1/24 [r1: miniupnpd, masquerade] wan 2.1.1.1/24 --- inet 2.1.1.2
#   h2  10.2.0.2/24 --- br0 10.2.0.1/24 [r2: no miniupnpd]           wan 2.1.2.1/24 --- inet 2.1.2.2
#
# 2.1.1.1 is outside miniupnpd's reserved-address list (sim-recipes.md §7) and exists only in
# these closed namespaces. The driver is tests/unit/test_portmap_live.c (NC_PM_* environment).
# Exit 77 (skip) when not root, without namespaces, or without miniupnpd / nft / upnpc.
# Environment from ctest: NC_BUILD (build tree), NC_SRC (source tree).
set -u

NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NC_BUILD=${NC_BUILD:-$NC_SRC/build}
LIVE=$NC_BUILD/tests/test_portmap_live
MINIUPNPD=${MINIUPNPD:-/usr/sbin/miniupnpd}

# shellcheck source=../lib/nslab.sh
. "$NC_SRC/tests/lib/nslab.sh"
need_root
need_tool "$MINIUPNPD" nft upnpc
[ -x "$LIVE" ] || { echo "FAIL: driver not built: $LIVE"; exit 1; }

P=pm$$-
H1=${P}h1
R1=${P}r1
H2=${P}h2
R2=${P}r2
NET=${P}inet
WORK=$(mktemp -d "/tmp/portmap-test.XXXXXX")
UPNPD_PID=
LIVE_PID=

cleanup() {
	set +e
	[ -n "$LIVE_PID" ] && kill "$LIVE_PID" 2>/dev/null && wait "$LIVE_PID" 2>/dev/null
	if [ -n "$UPNPD_PID" ]; then
		kill "$UPNPD_PID" 2>/dev/null
		wait "$UPNPD_PID" 2>/dev/null
	fi
	# miniupnpd's rules outlive it (sim-recipes.md §7): the table goes with the namespace, but
	# delete it explicitly so nothing depends on that.
	ip netns exec "$R1" nft delete table inet filter 2>/dev/null
	for ns in "$H1" "$R1" "$H2" "$R2" "$NET"; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM



# ---- namespaces ---------------------------------------------------------------------------
for ns in "$H1" "$R1" "$H2" "$R2" "$NET"; do
	ip netns add "$ns" || exit 1
	ip -n "$ns" link set lo up
done
# router n (1 or 2) with its host and its uplink to the internet namespace
build_site() {
	local n=$1 h=$2 r=$3
	ip link add "${P}h${n}e" netns "$h" type veth peer name lan0 netns "$r"
	ip -n "$h" link set "${P}h${n}e" name eth0
	ip -n "$r" link add br0 type bridge
	ip -n "$r" link set lan0 master br0
	ip -n "$r" link set lan0 up
	ip -n "$r" link set br0 up
	ip -n "$r" addr add "10.$n.0.1/24" dev br0
	ip -n "$h" addr add "10.$n.0.2/24" dev eth0
	ip -n "$h" link set eth0 up
	ip -n "$h" route add default via "10.$n.0.1"
	ip link add "${P}w${n}" netns "$r" type veth peer name "up$n" netns "$NET"
	ip -n "$r" link set "${P}w${n}" name wan
	ip -n "$r" addr add "2.1.$n.1/24" dev wan
	ip -n "$r" link set wan up
	ip -n "$NET" addr add "2.1.$n.2/24" dev "up$n"
	ip -n "$NET" link set "up$n" up
	ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
}
build_site 1 "$H1" "$R1" || exit 1
build_site 2 "$H2" "$R2" || exit 1

# r1: the nft skeleton miniupnpd 2.3.1 expects (inet filter with its three chains, §7), with
# forwarding for established and LAN->WAN traffic and masquerade to the WAN.
ip netns exec "$R1" nft -f - <<'NFT' || exit 1
table inet filter {
	chain forward {
		type filter hook forward priority 0; policy drop;
		jump miniupnpd
		ct state established,related accept
		iifname "br0" oifname "wan" accept
	}
	chain miniupnpd {
	}
	chain prerouting {
		type nat hook prerouting priority -100; policy accept;
		jump prerouting_miniupnpd
	}
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		jump postrouting_miniupnpd
		oifname "wan" masquerade
	}
	chain prerouting_miniupnpd {
	}
	chain postrouting_miniupnpd {
	}
}
NFT
# r2: only masquerade; nothing listens on 5351 or 1900.
ip netns exec "$R2" nft -f - <<'NFT' || exit 1
table ip nat {
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		oifname "wan" masquerade
	}
}
NFT

cat >"$WORK/miniupnpd.conf" <<EOF
ext_ifname=wan
ext_ip=2.1.1.1
listening_ip=br0
http_port=5000
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
lease_file=$WORK/upnp.leases
allow 1024-65535 10.1.0.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
ip netns exec "$R1" "$MINIUPNPD" -f "$WORK/miniupnpd.conf" -d -P "$WORK/miniupnpd.pid" \
	>"$WORK/miniupnpd.log" 2>&1 &
UPNPD_PID=$!
listening() { # listening <proto flag> <pattern>
	ip netns exec "$R1" ss -Hn "$1" | grep -q "$2"
}
if poll_for 100 listening -lun '10.1.0.1:5351' && poll_for 100 listening -ltn ':5000' &&
	poll_for 100 listening -lun ':1900'; then
	check_pass "miniupnpd listens on 10.1.0.1:5351, :1900 and :5000"
else
	check_fail "miniupnpd did not start"
	cat "$WORK/miniupnpd.log"
	exit 1
fi

live() { # live <netns> <gateway> VAR=value...: runs the driver in a host namespace
	local ns=$1 gw=$2
	shift 2
	ip netns exec "$ns" env NC_PM_GATEWAY="$gw" "$@" "$LIVE"
}

# probe_case <name> <netns> <gateway> <description> VAR=value...: one probe run, judged by the
# driver (NC_PM_EXPECT), its lines shown
probe_case() {
	local name=$1 ns=$2 gw=$3 what=$4
	shift 4
	if live "$ns" "$gw" NC_PM_MODE=probe "$@" >"$WORK/$name.out" 2>&1; then
		check_pass "$what ($(grep -o 'elapsed [0-9]* ms' "$WORK/$name.out"))"
	else
		check_fail "$what"
		cat "$WORK/$name.out"
	fi
	grep -E '^(# |nat-pmp |pcp |upnp-igd )' "$WORK/$name.out" | sed 's/^/     /'
}

# ---- 1. probe: all three present, external 2.1.1.1, within the budget ----------------------
probe_case probe1 "$H1" 10.1.0.1 "probe: NAT-PMP, PCP, UPnP-IGD present, external 2.1.1.1" \
	NC_PM_EXPECT=present NC_PM_EXTERNAL=2.1.1.1
# the probe's temporary PCP mapping must be gone again
if ip netns exec "$R1" nft list chain inet filter prerouting_miniupnpd | grep -q dnat; then
	check_fail "the probe left a mapping behind"
	ip netns exec "$R1" nft list chain inet filter prerouting_miniupnpd
else
	check_pass "the probe left no mapping behind"
fi

# ---- 2. map through each protocol, check, delete (SIGUSR1 path, then SIGINT path) -----------
nft_dnat_ports() {
	ip netns exec "$R1" nft list chain inet filter prerouting_miniupnpd |
		grep -o 'dport [0-9]* dnat' | grep -o '[0-9]*' | sort -n | tr '\n' ' '
}
upnpc_list() {
	ip netns exec "$H1" upnpc -u http://10.1.0.1:5000/rootDesc.xml -l 2>/dev/null
}

map_round() { # map_round <first port> <signal>
	local port=$1 sig=$2 expect_ports got
	expect_ports="$port $((port + 1)) $((port + 2)) "
	: >"$WORK/map.out"
	ip netns exec "$H1" env NC_PM_GATEWAY=10.1.0.1 NC_PM_MODE=map NC_PM_PORT="$port" \
		"$LIVE" >"$WORK/map.out" 2>&1 &
	LIVE_PID=$!
	if ! poll_for 100 grep -q '^READY' "$WORK/map.out"; then
		check_fail "map driver never became ready"
		cat "$WORK/map.out"
		return
	fi
	grep -E '^(MAPPED|MAPFAIL)' "$WORK/map.out" | sed 's/^/     /'
	if grep -q '^READY 3' "$WORK/map.out"; then
		check_pass "three mappings created (ports $expect_ports)"
	else
		check_fail "mappings created: $(grep '^READY' "$WORK/map.out")"
	fi
	got=$(nft_dnat_ports)
	if [ "$got" = "$expect_ports" ]; then
		check_pass "router nft chain has dnat rules for ports $got"
	else
		check_fail "router nft dnat ports: expected '$expect_ports', got '$got'"
	fi
	upnpc_list >"$WORK/upnpc.out"
	if grep -q "UDP *$port->10.1.0.2:$port" "$WORK/upnpc.out" &&
		grep -q "UDP *$((port + 2))->10.1.0.2:$((port + 2))" "$WORK/upnpc.out"; then
		check_pass "upnpc -l in h1 lists the mappings"
	else
		check_fail "upnpc -l does not list the mappings"
		cat "$WORK/upnpc.out"
	fi
	kill "-$sig" "$LIVE_PID"
	wait "$LIVE_PID"
	local rc=$?
	LIVE_PID=
	if [ "$rc" = 0 ] && grep -q '^UNMAPPED 0' "$WORK/map.out"; then
		check_pass "after SIG$sig the driver deleted every mapping it made"
	else
		check_fail "driver after SIG$sig (rc $rc)"
		cat "$WORK/map.out"
	fi
	got=$(nft_dnat_ports)
	if [ -z "$got" ]; then
		check_pass "router nft chain has no dnat rule left"
	else
		check_fail "dnat rules left after SIG$sig: $got"
	fi
	upnpc_list >"$WORK/upnpc.out"
	if grep -qE "UDP *($port|$((port + 1))|$((port + 2)))->" "$WORK/upnpc.out"; then
		check_fail "upnpc -l still lists a mapping after SIG$sig"
		cat "$WORK/upnpc.out"
	else
		check_pass "upnpc -l lists none of the mappings after SIG$sig"
	fi
}
map_round 40000 USR1
map_round 41000 INT

# ---- 3. a router without miniupnpd: all absent within the budget ----------------------------
probe_case probe2 "$H2" 10.2.0.1 "no miniupnpd (ICMP port unreachable): all absent" \
	NC_PM_EXPECT=absent
# and a router that drops silently: every protocol waits out the budget, no longer
ip netns exec "$R2" nft -f - <<'NFT' || exit 1
table inet silent {
	chain input {
		type filter hook input priority 0; policy accept;
		udp dport { 1900, 5351 } drop
	}
}
NFT
probe_case probe3 "$H2" 10.2.0.1 "silent router: all absent within the budget" \
	NC_PM_EXPECT=absent

checks_verdict
