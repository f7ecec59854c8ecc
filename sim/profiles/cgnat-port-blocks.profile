DESCRIPTION="home NAT behind a CGN that gives each subscriber a port block (R12)"
UPSTREAM=100.64.0
router_setup() {
	printf 'table ip cgnblocks {\n chain blocks {\n  type nat hook postrouting priority srcnat - 1\n  oifname "wan" ip saddr 100.64.0.2 meta l4proto { tcp, udp } snat ip to 198.18.30.1 : 10000-10999\n }\n}\n' |
		nslab_exec outer nft -f -
}
router_rules() { natrule 'oifname "wan" masquerade'; }
EXPECT="udp.mapping=endpoint-independent udp.port_preservation=false topology.cgnat=true"
