# shellcheck shell=bash
# The integration-test library (tests/lib/), part 3: a real miniupnpd (Debian
# miniupnpd-nftables 2.3.1) in nslab's router, speaking NAT-PMP, PCP and UPnP-IGD on the LAN
# (sim-recipes.md §7 has the facts this rests on). Source nslab.sh first and call nslab_up.
#
#   upnplab_up EXT_IP [CONF LINE...]  the nft skeleton miniupnpd expects (it forwards
#                                     established and LAN->WAN traffic too), a config claiming
#                                     EXT_IP (which must be on the router's wan and outside
#                                     miniupnpd's reserved list: 2.x.x.x in the lab), extra
#                                     config lines (e.g. enable_natpmp=no), the daemon started
#                                     and waited for (5351, 1900, 5000). The router's source NAT
#                                     stays the caller's (nslab_nat).
#   upnplab_dnat_ports                the external ports miniupnpd has DNAT rules for
#   upnplab_list                      `upnpc -l` from the client: miniupnpd's mapping list
#   upnplab_leases                    miniupnpd's lease file (one line per mapping)
#   upnplab_down                      stops miniupnpd (nslab_down does it too)
#
# miniupnpd's rules outlive the daemon (§7); they go with the router namespace.

UPNPLAB_MINIUPNPD=${MINIUPNPD:-/usr/sbin/miniupnpd}

upnplab_up() {
	local ext=$1 lan=${NSLAB_LAN:-10.1.0}
	shift
	printf '%s\n' \
		'table inet filter {' \
		' chain forward {' \
		'  type filter hook forward priority 0; policy drop' \
		'  jump miniupnpd' \
		'  ct state established,related accept' \
		'  iifname "lan" oifname "wan" accept' \
		' }' \
		' chain miniupnpd {' \
		' }' \
		' chain prerouting {' \
		'  type nat hook prerouting priority -100; policy accept' \
		'  jump prerouting_miniupnpd' \
		' }' \
		' chain postrouting {' \
		'  type nat hook postrouting priority 100; policy accept' \
		'  jump postrouting_miniupnpd' \
		' }' \
		' chain prerouting_miniupnpd {' \
		' }' \
		' chain postrouting_miniupnpd {' \
		' }' \
		'}' | nslab_exec router nft -f - || return 1
	local line key base=("ext_ifname=wan" "ext_ip=$ext" "listening_ip=lan" "http_port=5000"
		"enable_natpmp=yes" "enable_upnp=yes" "secure_mode=yes"
		"uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b" "lease_file=$NSLAB_DIR/miniupnpd.leases")
	{
		# A key given as an argument replaces the default (miniupnpd keeps the first one).
		for line in "${base[@]}"; do
			key=${line%%=*}
			printf '%s\n' "$@" | grep -q "^$key=" || printf '%s\n' "$line"
		done
		[ $# -gt 0 ] && printf '%s\n' "$@"
		# The permission rules close the file: miniupnpd applies the first that matches.
		printf '%s\n' "allow 1024-65535 $lan.0/24 1024-65535" "deny 0-65535 0.0.0.0/0 0-65535"
	} >"$NSLAB_DIR/miniupnpd.conf"
	nslab_daemon miniupnpd router "$UPNPLAB_MINIUPNPD" -f "$NSLAB_DIR/miniupnpd.conf" -d \
		-P "$NSLAB_DIR/miniupnpd-own.pidfile"
	for _ in $(seq 100); do
		if nslab_exec router ss -Hltn | grep -q ':5000 ' &&
			nslab_exec router ss -Hlun | grep -q ':1900 '; then
			# NAT-PMP/PCP's socket only when it is on
			grep -q '^enable_natpmp=no' "$NSLAB_DIR/miniupnpd.conf" && return 0
			nslab_exec router ss -Hlun | grep -q "$lan.1:5351 " && return 0
		fi
		sleep 0.05
	done
	echo "upnplab: miniupnpd did not start:" >&2
	cat "$NSLAB_DIR/miniupnpd.log" >&2
	return 1
}

upnplab_dnat_ports() {
	nslab_exec router nft list chain inet filter prerouting_miniupnpd |
		grep -o 'dport [0-9]* dnat' | grep -o '[0-9]*' | sort -n | tr '\n' ' '
}

upnplab_list() {
	nslab_exec client upnpc -u "http://${NSLAB_LAN:-10.1.0}.1:5000/rootDesc.xml" -l 2>/dev/null
}

upnplab_leases() {
	cat "$NSLAB_DIR/miniupnpd.leases" 2>/dev/null
}

upnplab_down() {
	local f=$NSLAB_DIR/miniupnpd.pid
	[ -e "$f" ] || return 0
	kill "$(cat "$f")" 2>/dev/null
	rm -f "$f"
}
