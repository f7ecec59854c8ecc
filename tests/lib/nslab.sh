# shellcheck shell=bash
# The integration-test library (tests/lib/), part 2: a three-namespace lab for scripts and integration tests that need one NAT and a server
# (the full NAT matrix lives in sim/run.sh):
#
#   client (10.1.0.2) -- lan | router | wan (198.18.10.1) -- internet (198.18.1.1, 198.18.1.2)
#
# With `nslab_up PREFIX NET` (NET = first three octets, e.g. 100.64.0 or 192.168.50) an
# upstream NAT ("outer", masquerading NET.0/24 to 198.18.30.1) sits between router and
# internet: a carrier-grade NAT for 100.64.0, a second home NAT for a private NET.
#
# With NSLAB_HOST2=1 a second host, client2 (10.1.0.3), shares the LAN (a bridge named lan).
#
# Two labs can share one internet (sim/run.sh --pairs): set NSLAB_INET to the name of an
# existing namespace holding a bridge "i0" (the caller makes it and the servers on it), and
# give each lab its own NSLAB_LAN (first three octets, default 10.1.0), NSLAB_WAN_ADDR
# (default 198.18.10.1) and NSLAB_OUTER_WAN (default 198.18.30.1); nslab_up then plugs the lab's
# uplink into that bridge (port NSLAB_INET_PORT, default "u$$") instead of creating "inet", and
# nslab_down leaves the shared namespace alone.
#
# Usage: source it, then `nslab_up PREFIX [NET]`, `nslab_nat 'nft statement'`, run things with
# `nslab_exec client|router|inet CMD...`, start daemons with `nslab_daemon NAME inet CMD...`.
# Everything is removed by `nslab_down` (installed as an EXIT/INT/TERM trap by nslab_up).
# Sourcing it also brings tests/lib/checks.sh (need_root, need_tool, check_*).

# shellcheck source=tests/lib/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

NSLAB_A1=198.18.1.1
NSLAB_A2=198.18.1.2
NSLAB_WAN=198.18.10.1
NSLAB_CLIENT=10.1.0.2

# The precondition of every namespace script (tests/lib/checks.sh: root and namespaces, else
# exit 77). Scripts may call need_root directly; this name stays for the lab's scripts.
nslab_need_root() {
	need_root
}

# nslab_ns NS: the namespace's full name ("inet" may be shared: NSLAB_INET).
nslab_ns() {
	if [ "$1" = inet ] && [ -n "${NSLAB_INET:-}" ]; then echo "$NSLAB_INET"; else echo "$NSLAB_P-$1"; fi
}

nslab_exec() {
	local ns
	ns=$(nslab_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

# nslab_daemon NAME NS CMD...: starts CMD in NS in the background and records its PID.
nslab_daemon() {
	local name=$1 ns=$2
	shift 2
	ip netns exec "$(nslab_ns "$ns")" "$@" >"$NSLAB_DIR/$name.log" 2>&1 &
	echo $! >"$NSLAB_DIR/$name.pid"
}

# nslab_wait_udp NS ADDR:PORT: waits (bounded) until something listens there.
nslab_wait_udp() {
	local i
	for i in $(seq 100); do
		ip netns exec "$(nslab_ns "$1")" ss -Hlun | grep -q " $2 " && return 0
		sleep 0.05
	done
	echo "nslab: nothing listens on $2 in $1" >&2
	return 1
}

nslab_down() {
	local f ns
	# Runs as a trap, where the caller's `set -e` still holds: no step may stop the rest.
	set +e
	[ -n "${NSLAB_DIR:-}" ] || return 0
	for f in "$NSLAB_DIR"/*.pid; do
		[ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	for ns in client client2 router outer inet; do
		# Anything still running inside (e.g. a child the daemon forked) goes too.
		ip netns pids "$NSLAB_P-$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$NSLAB_P-$ns" 2>/dev/null
	done
	rm -rf "$NSLAB_DIR"
	NSLAB_DIR=
}

# nslab_uplink NS: the veth from NS's "wan" to the internet: "i0" in the lab's own inet, or a
# port of the shared internet's bridge i0 (NSLAB_INET).
nslab_uplink() {
	if [ -z "${NSLAB_INET:-}" ]; then
		ip link add wan netns "$NSLAB_P-$1" type veth peer name i0 netns "$NSLAB_P-inet"
		return
	fi
	local port=${NSLAB_INET_PORT:-u$$}
	ip link add wan netns "$NSLAB_P-$1" type veth peer name "$port" netns "$NSLAB_INET"
	ip -n "$NSLAB_INET" link set "$port" master i0
	ip -n "$NSLAB_INET" link set "$port" up
}

nslab_up() {
	NSLAB_P=${1:-nslab$$}
	local up=${2:-} ns lan=${NSLAB_LAN:-10.1.0} inet=inet
	NSLAB_DIR=$(mktemp -d)
	NSLAB_CLIENT=$lan.2
	trap nslab_down EXIT
	trap 'nslab_down; exit 130' INT TERM
	[ -n "${NSLAB_INET:-}" ] && inet=
	for ns in client router $inet ${up:+outer} ${NSLAB_HOST2:+client2}; do
		ip netns add "$NSLAB_P-$ns"
		ip -n "$NSLAB_P-$ns" link set lo up
	done
	if [ -n "${NSLAB_HOST2:-}" ]; then
		# Two hosts on a bridge named "lan", so the router's rules read the same.
		ip -n "$NSLAB_P-router" link add lan type bridge
		ip link add c0 netns "$NSLAB_P-client" type veth peer name lp1 netns "$NSLAB_P-router"
		ip link add c0 netns "$NSLAB_P-client2" type veth peer name lp2 netns "$NSLAB_P-router"
		for port in lp1 lp2; do
			ip -n "$NSLAB_P-router" link set "$port" master lan
			ip -n "$NSLAB_P-router" link set "$port" up
		done
		ip -n "$NSLAB_P-client2" addr add "$lan.3/24" dev c0
		ip -n "$NSLAB_P-client2" link set c0 up
		ip -n "$NSLAB_P-client2" route add default via "$lan.1"
	else
		ip link add c0 netns "$NSLAB_P-client" type veth peer name lan netns "$NSLAB_P-router"
	fi
	ip -n "$NSLAB_P-client" addr add "$NSLAB_CLIENT/24" dev c0
	ip -n "$NSLAB_P-client" link set c0 up
	ip -n "$NSLAB_P-client" route add default via "$lan.1"
	ip -n "$NSLAB_P-router" addr add "$lan.1/24" dev lan
	ip -n "$NSLAB_P-router" link set lan up
	if [ -n "$up" ]; then
		NSLAB_WAN=$up.2
		ip link add wan netns "$NSLAB_P-router" type veth peer name lan netns "$NSLAB_P-outer"
		nslab_uplink outer
		ip -n "$NSLAB_P-router" addr add "$up.2/24" dev wan
		ip -n "$NSLAB_P-router" link set wan up
		ip -n "$NSLAB_P-router" route add default via "$up.1"
		ip -n "$NSLAB_P-outer" addr add "$up.1/24" dev lan
		ip -n "$NSLAB_P-outer" addr add "${NSLAB_OUTER_WAN:-198.18.30.1}/16" dev wan
		ip -n "$NSLAB_P-outer" link set lan up
		ip -n "$NSLAB_P-outer" link set wan up
		ip netns exec "$NSLAB_P-outer" sysctl -qw net.ipv4.ip_forward=1
		printf 'table ip outer {\n chain post {\n  type nat hook postrouting priority srcnat\n  oifname "wan" ip saddr %s.0/24 masquerade\n }\n chain filt_in {\n  type filter hook input priority filter; policy accept\n  iifname "wan" ct state new drop\n }\n}\n' "$up" |
			ip netns exec "$NSLAB_P-outer" nft -f -
	else
		NSLAB_WAN=${NSLAB_WAN_ADDR:-198.18.10.1}
		nslab_uplink router
		ip -n "$NSLAB_P-router" addr add "$NSLAB_WAN/16" dev wan
		ip -n "$NSLAB_P-router" link set wan up
	fi
	if [ -z "${NSLAB_INET:-}" ]; then
		ip -n "$NSLAB_P-inet" addr add "$NSLAB_A1/16" dev i0
		ip -n "$NSLAB_P-inet" addr add "$NSLAB_A2/16" dev i0
		ip -n "$NSLAB_P-inet" link set i0 up
	fi
	ip netns exec "$NSLAB_P-router" sysctl -qw net.ipv4.ip_forward=1
	# Lab routers answer every TTL expiry: Linux's default ICMP rate limit (about one Time
	# Exceeded a second per destination) would make back-to-back natcheck runs see silent
	# hops. natcheck then reports the NAT layers as undetermined, which is right for the
	# Internet but makes a regression lab flaky.
	# NSLAB_ICMP_DEFAULT=1 keeps the kernel's defaults, as real routers have them
	# (tests/integration/test_topology_icmp.sh).
	[ -n "${NSLAB_ICMP_DEFAULT:-}" ] ||
		for ns in router ${up:+outer}; do
			ip netns exec "$NSLAB_P-$ns" sysctl -qw net.ipv4.icmp_ratelimit=0
		done
	# Drop unsolicited WAN input to the router itself (sim-recipes §0.3: otherwise
	# conntrack entries it creates distort later port choices).
	printf 'table ip nslabfw {\n chain filt_in {\n  type filter hook input priority filter; policy accept\n  iifname "wan" ct state new drop\n }\n}\n' |
		ip netns exec "$NSLAB_P-router" nft -f -
}

# nslab_ruleset 'NFT SCRIPT': loads a whole ruleset into the router (nft -f syntax).
nslab_ruleset() {
	printf '%s\n' "$1" | ip netns exec "$NSLAB_P-router" nft -f -
}

# nslab_route_lan: lets the internet reach the LAN directly (a router without NAT).
nslab_route_lan() {
	ip -n "$(nslab_ns inet)" route add "${NSLAB_LAN:-10.1.0}.0/24" via "$NSLAB_WAN"
}

# nslab_nat 'STATEMENT': the router's source NAT, e.g. 'oifname "wan" masquerade'.
nslab_nat() {
	printf 'table ip nslabnat {\n chain post {\n  type nat hook postrouting priority srcnat\n  %s\n }\n}\n' "$1" |
		ip netns exec "$NSLAB_P-router" nft -f -
}
