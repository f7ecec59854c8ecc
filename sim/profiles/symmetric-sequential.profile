DESCRIPTION="APDM with sequential ports, +1 per new mapping: numgen (R6)"
router_rules() { natrule "oifname \"wan\" meta l4proto udp snat ip to $W : numgen inc mod 1000 map { $(port_map 30000 1000) }"; }
EXPECT="udp.mapping=address-and-port-dependent udp.allocation.pattern=sequential udp.allocation.delta=1"
