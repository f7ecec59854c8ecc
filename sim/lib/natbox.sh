# sim/lib/natbox.sh: run natbox (userspace NAT over TUN) as the NAT of a router namespace.
#
# Source this file from bash, then:
#
#   natbox_start NS LAN_IF WAN_IF WAN_IP RUNDIR -- [natbox args...]
#   natbox_stop  NS RUNDIR
#
# natbox_start, inside namespace NS (whose LAN_IF and WAN_IF already exist, are up and carry
# their addresses; WAN_IP is on WAN_IF, as is every extra --wan-ip you pass for a pool):
#   1. raw-table notrack (nft table "natbox_raw") so the kernel does no conntrack and no NAT;
#   2. net.ipv4.ip_forward=1, rp_filter=0 everywhere, accept_local=1 on the TUN (translated
#      packets come back from the TUN with the router's own WAN address as source);
#   3. creates the TUN (persistent, so that a dead natbox blackholes traffic instead of
#      letting the kernel forward it untranslated), routing table 100 = "default dev TUN";
#   4. policy rules: pref 100 "iif LAN_IF ipproto {udp,tcp,icmp} lookup 100", pref 101 the same
#      for WAN_IF, and moves the "local" rule from pref 0 to pref 200, so packets addressed to
#      the WAN address are routed into the TUN as well (sim-recipes.md §6). The rules match
#      only UDP, TCP and ICMP: ARP resolution does a route lookup without a protocol, and
#      must still see the router's addresses as local, else the router stops answering ARP
#      for its own LAN and WAN addresses;
#   5. starts natbox (--tun --lan-if --wan-if --wan-ip WAN_IP --pidfile --log, then your
#      args), and polls until natbox has written its pidfile (it does so only once the TUN is
#      open and the loop is about to run). Returns non-zero, with the log on stderr, if natbox
#      dies or is not ready within NATBOX_READY_TIMEOUT seconds (default 10).
# Files in RUNDIR: natbox.pid, natbox.log (natbox's log), natbox.out (its stdout/stderr).
# Environment: NATBOX_BIN (default $NC_BUILD/sim/natbox), NATBOX_TUN (default nb0).
#
# natbox_stop sends SIGTERM to the pid in RUNDIR/natbox.pid, polls until it is gone (SIGKILL
# after 5 s), then removes the TUN, the rules, table 100 and the nft table from NS.
#
# Dump natbox's table and counters into its log: kill -USR1 "$(cat RUNDIR/natbox.pid)".

natbox_start() {
	if [ $# -lt 5 ]; then
		echo "usage: natbox_start NS LAN_IF WAN_IF WAN_IP RUNDIR -- [natbox args]" >&2
		return 2
	fi
	local ns=$1 lan=$2 wan=$3 wanip=$4 rundir=$5
	shift 5
	[ "${1-}" = "--" ] && shift
	local tun=${NATBOX_TUN:-nb0}
	local bin=${NATBOX_BIN:-${NC_BUILD:-build}/sim/natbox}
	local timeout=${NATBOX_READY_TIMEOUT:-10}
	local nse="ip netns exec $ns"
	local p i

	if [ ! -x "$bin" ]; then
		echo "natbox_start: no natbox binary at $bin (set NATBOX_BIN or NC_BUILD)" >&2
		return 1
	fi
	mkdir -p "$rundir" || return 1
	rm -f "$rundir/natbox.pid"

	$nse nft -f - <<-NFT || return 1
		table ip natbox_raw {
			chain pre { type filter hook prerouting priority raw; notrack; }
			chain out { type filter hook output priority raw; notrack; }
		}
	NFT
	$nse sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 "net.ipv4.conf.$lan.rp_filter=0" \
		"net.ipv4.conf.$wan.rp_filter=0" || return 1
	$nse ip tuntap add dev "$tun" mode tun || return 1
	$nse sysctl -qw "net.ipv4.conf.$tun.rp_filter=0" "net.ipv4.conf.$tun.accept_local=1" || return 1
	$nse ip link set "$tun" up || return 1
	$nse ip route add default dev "$tun" table 100 || return 1
	for p in udp tcp icmp; do
		$nse ip rule add pref 100 iif "$lan" ipproto "$p" lookup 100 || return 1
		$nse ip rule add pref 101 iif "$wan" ipproto "$p" lookup 100 || return 1
	done
	if $nse ip rule show pref 0 | grep -q 'lookup local'; then
		$nse ip rule add pref 200 lookup local || return 1
		$nse ip rule del pref 0 lookup local || return 1
	fi

	# setsid: natbox must not share the caller's process group or terminal signals.
	$nse setsid "$bin" --tun "$tun" --lan-if "$lan" --wan-if "$wan" --wan-ip "$wanip" \
		--pidfile "$rundir/natbox.pid" --log "$rundir/natbox.log" "$@" \
		</dev/null >>"$rundir/natbox.out" 2>&1 &
	local launcher=$!
	# Readiness: natbox writes its pidfile atomically once the TUN is open. Poll for it.
	for ((i = 0; i < timeout * 20; i++)); do
		if [ -s "$rundir/natbox.pid" ]; then
			return 0
		fi
		if ! kill -0 "$launcher" 2>/dev/null; then
			break
		fi
		sleep 0.05
	done
	echo "natbox_start: natbox in $ns did not become ready:" >&2
	cat "$rundir/natbox.out" "$rundir/natbox.log" >&2 2>/dev/null
	kill "$launcher" 2>/dev/null
	return 1
}

natbox_stop() {
	if [ $# -lt 2 ]; then
		echo "usage: natbox_stop NS RUNDIR" >&2
		return 2
	fi
	local ns=$1 rundir=$2 pid i
	local tun=${NATBOX_TUN:-nb0}
	local nse="ip netns exec $ns"

	if [ -s "$rundir/natbox.pid" ]; then
		pid=$(cat "$rundir/natbox.pid")
		if [[ "$pid" =~ ^[0-9]+$ ]] && kill -TERM "$pid" 2>/dev/null; then
			for ((i = 0; i < 100; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.05
			done
			kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
		fi
		rm -f "$rundir/natbox.pid"
	fi
	ip netns list 2>/dev/null | grep -qw "$ns" || return 0
	while $nse ip rule del pref 100 2>/dev/null; do :; done
	while $nse ip rule del pref 101 2>/dev/null; do :; done
	if $nse ip rule show pref 200 | grep -q 'lookup local'; then
		$nse ip rule add pref 0 lookup local 2>/dev/null
		$nse ip rule del pref 200 lookup local 2>/dev/null
	fi
	$nse ip route flush table 100 2>/dev/null
	$nse ip link del "$tun" 2>/dev/null
	$nse nft delete table ip natbox_raw 2>/dev/null
	return 0
}
