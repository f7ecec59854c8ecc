DESCRIPTION="1:1 NAT: the host owns the WAN address (R13), EIM + EIF, ports kept"
router_rules() {
	printf 'table ip o {\n chain pre {\n  type nat hook prerouting priority dstnat\n  iifname "wan" ip daddr %s dnat ip to 10.1.0.2\n }\n}\n' "$W"
	natrule "oifname \"wan\" ip saddr 10.1.0.2 snat ip to $W"
}
EXPECT="udp.nat=true udp.mapping=endpoint-independent udp.filtering=endpoint-independent udp.port_preservation=true"
