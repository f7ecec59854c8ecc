#!/usr/bin/env bash
# TCP simultaneous open (issue 11), on the pair lab (sim/run.sh --pair, sim/lib/pairs.sh): this
# file is also the PAIR_VPN_HOOK sourced inside the pair case once the tunnel carries its 10
# pings. Pair: port-restricted (UDP works, shows its TCP mapping) x udp-blocked (on the relay's
# TCP connection); which is host A is the pair list's order.
#
#  1. The pair case itself: 10/10 pings, both hosts' status "direct" by "tcp".
#  2. The TCP path cut silently (B's router drops TCP to and from A's public address, no RST:
#     A's TCP mapping as status shows it, the same for A's relay or showing connection): both
#     hosts fall back to the relay (status "relay"), pings go on through it, and the direct
#     TCP connection is closed (its state not "up": "failed", or a new attempt that a repeated
#     introduction started meanwhile, which the cut still stops).
#  3. The cut lifted: the next introduction (within a registration interval) makes a new
#     TCP connection: "direct" by "tcp" again, and 10/10 pings over it.
# The measured times are printed. Exit 77 (skip) when not root or without namespaces.

# ---- The hook (sourced by sim/lib/pairs.sh inside the case) ----
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
	# The fault helpers (ping with time stamps, status fields, recording).
	# shellcheck source=test_vpn_faults.sh
	. "$NC_SRC/tests/integration/test_vpn_faults.sh"
	tcp_both() { # "A:path/method B:path/method"
		local e='"%s/%s" % (s["peers"][0]["path"], s["peers"][0]["method"])'
		echo "A:$(faults_status A "$e") B:$(faults_status B "$e")"
	}
	pair_vpn_hook() {
		local t f obs ip ka i back=-1 rx
		ka=$(faults_status A 's["server"]["keepalive_s"]')
		obs=$(faults_status A 's["server"]["tcp_observed"]')
		ip=${obs%:*}
		faults_record "keepalive_s=${ka:-}" "a_tcp_observed=$obs" "before=$(tcp_both)"
		# 2. Cut: TCP between the two routers' public addresses dropped on B's router.
		f=$PDIR/ping-tcp-cut.txt
		faults_ping_start "$f"
		sleep 2
		t=$(faults_now)
		ip netns exec "$PP-b-router" nft -f - <<NFT
table ip tcpcut {
 chain f {
  type filter hook forward priority filter - 10
  ip saddr $ip meta l4proto tcp drop
  ip daddr $ip meta l4proto tcp drop
 }
}
NFT
		faults_wait_replies "$f" "$t" 20 15
		faults_ping_stop
		faults_record "cut=$(faults_measure "$f" "$t")" "after_cut=$(tcp_both)" \
			"tcp_after_cut=A:$(faults_status A 's["peers"][0]["tcp"]["state"]') B:$(faults_status B 's["peers"][0]["tcp"]["state"]')" \
			"reason_after_cut=$(faults_status A 's["peers"][0]["path_reason"]')"
		# 3. Lifted: direct by TCP again at the next introduction.
		ip netns exec "$PP-b-router" nft delete table ip tcpcut
		t=$(faults_now)
		for i in $(seq $(((${ka:-15} + 10) * 5))); do
			if [ "$(tcp_both)" = "A:direct/tcp B:direct/tcp" ]; then
				back=$(($(faults_now) - t))
				break
			fi
			sleep 0.2
		done
		ip netns exec "$(pair_host_ns A)" ping -n -c 10 -i 0.2 -W 2 "$PV_ADDR_B" >"$PDIR/ping-tcp-back.txt" 2>&1
		rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$PDIR/ping-tcp-back.txt")
		faults_record "back_ms=$back" "after_back=$(tcp_both)" "pings_back=${rx:-0}" \
			"tcp_connections_a=$(faults_status A 's["peers"][0]["tcp"]["connections"]')"
		return 0
	}
	return 0
fi

# ---- The test ----
set -u
NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
export NC_SRC
. "$NC_SRC/tests/lib/pairtest.sh"
pairtest_init tcp

: >"$W/tcp.env"
PAIR_VPN_HOOK=$NC_SRC/tests/integration/test_vpn_tcp.sh FAULTS_OUT=$W/tcp.env \
	pairtest_run tcp "$W/tcp" --pair port-restricted:udp-blocked:direct
rc=$?
sed 's/^/    measured: /' "$W/tcp.env"
check_status "the pair case passed (10/10 pings, direct by tcp on both hosts, the hook ran)" "$rc"

get() { # KEY [FIELD]: a recorded value, or one field (lost, gap_ms, ...) of it
	local v
	v=$(sed -n "s/^$1=//p" "$W/tcp.env" | tail -n 1)
	[ -z "${2:-}" ] || v=$(tr ' ' '\n' <<<"$v" | sed -n "s/^$2=//p")
	echo "${v:--1}"
}
ka=$(get keepalive_s)
check_equal "before the cut: both hosts direct by tcp" "A:direct/tcp B:direct/tcp" "$(get before)"
check_equal "TCP cut: both hosts back on the relay" "A:relay/relay B:relay/relay" "$(get after_cut)"
st=$(get tcp_after_cut)
[[ $st =~ ^A:(failed|connecting|waiting)\ B:(failed|connecting|waiting)$ ]]
check_status "TCP cut: both direct TCP connections closed ($st)" $?
[ "$(get cut replies)" -ge 20 ]
check_status "TCP cut: pings answered through the relay ($(get cut))" $?
g=$(get cut gap_ms)
[ "$g" -ge 0 ] && [ "$g" -le 7000 ]
check_status "TCP cut: longest silence within the direct path's silence limit (5 s) + 2 s ($g ms)" $?
b=$(get back_ms)
[ "$b" -ge 0 ] && [ "$b" -le $(((ka + 10) * 1000)) ]
check_status "cut lifted: direct by tcp again within a registration interval + 10 s ($b ms)" $?
check_equal "cut lifted: 10/10 pings" 10 "$(get pings_back)"
[ "$(get tcp_connections_a)" -ge 2 ]
check_status "cut lifted: over a new TCP connection ($(get tcp_connections_a) made by host A)" $?
pairtest_done
