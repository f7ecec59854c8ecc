DESCRIPTION="EIM with ports from 20000-29999, never preserved (R2)"
router_rules() { natrule "oifname \"wan\" meta l4proto { tcp, udp } snat ip to $W:20000-29999"; }
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.port_preservation=false udp.allocation.pattern=random"
