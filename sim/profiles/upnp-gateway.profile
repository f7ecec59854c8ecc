DESCRIPTION="home router with miniupnpd: NAT-PMP, PCP and UPnP-IGD on, WAN 2.1.1.1 (sim-recipes §7)"
# miniupnpd refuses reserved WAN addresses (198.18/15 included), so this router NATs to
# 2.1.1.1, an address that exists only inside these namespaces. A pair case's second side
# sets UPNP_WAN (2.1.2.1), so two such gateways can share one internet; LAN is its LAN prefix.
: "${UPNP_WAN:=2.1.1.1}"
LAN=${NSLAB_LAN:-10.1.0}
router_setup() {
	nslab_exec router ip addr add "$UPNP_WAN/24" dev wan
	nslab_exec inet ip addr add "${UPNP_WAN%.*}.2/24" dev i0
	cat >"$NSLAB_DIR/miniupnpd.conf" <<CONF
ext_ifname=wan
ext_ip=$UPNP_WAN
listening_ip=lan
http_port=5000
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
lease_file=$NSLAB_DIR/miniupnpd.leases
allow 1024-65535 $LAN.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
}
router_rules() {
	# The skeleton miniupnpd 2.3.1 expects (§7), letting established and LAN->WAN through.
	cat <<'NFT'
table inet filter {
 chain forward {
  type filter hook forward priority 0; policy drop
  jump miniupnpd
  ct state established,related accept
  iifname "lan" oifname "wan" accept
 }
 chain miniupnpd {
 }
 chain prerouting {
  type nat hook prerouting priority -100; policy accept
  jump prerouting_miniupnpd
 }
 chain postrouting {
  type nat hook postrouting priority 100; policy accept
  jump postrouting_miniupnpd
 }
 chain prerouting_miniupnpd {
 }
 chain postrouting_miniupnpd {
 }
}
NFT
	natrule "oifname \"wan\" snat ip to $UPNP_WAN"
}
before_measure() {
	nslab_daemon miniupnpd router /usr/sbin/miniupnpd -f "$NSLAB_DIR/miniupnpd.conf" -d -P "$NSLAB_DIR/miniupnpd-own.pid"
	for _ in $(seq 100); do
		nslab_exec router ss -Hlun | grep -q "$LAN.1:5351 " && nslab_exec router ss -Hltn | grep -q ':5000 ' && return 0
		sleep 0.05
	done
	echo "miniupnpd did not start:" >&2
	cat "$NSLAB_DIR/miniupnpd.log" >&2
	return 1
}
# After natcheck: miniupnpd must hold no mapping (its DNAT chain is empty).
after_measure() {
	local left
	left=$(nslab_exec router nft list chain inet filter prerouting_miniupnpd | grep -c dnat || true)
	[ "$left" -eq 0 ] || { echo "miniupnpd still holds $left mapping(s) after natcheck"; return 1; }
}
EXPECT="udp.mapping=endpoint-independent udp.public_addresses=[\"$UPNP_WAN\"]
port_mapping.nat-pmp.present=true port_mapping.nat-pmp.external=$UPNP_WAN port_mapping.nat-pmp.test_mapping=true port_mapping.nat-pmp.deleted=true
port_mapping.pcp.present=true port_mapping.pcp.external=$UPNP_WAN port_mapping.pcp.test_mapping=true port_mapping.pcp.deleted=true
port_mapping.upnp-igd.present=true port_mapping.upnp-igd.external=$UPNP_WAN port_mapping.upnp-igd.test_mapping=true port_mapping.upnp-igd.deleted=true
topology.nat_layers=1 topology.cgnat=false"
