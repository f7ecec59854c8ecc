DESCRIPTION="ADM: a port range per jhash(source, destination address) bucket (R4)"
router_rules() { natrule "oifname \"wan\" meta l4proto udp snat ip to jhash ip saddr . udp sport . ip daddr mod 256 map { $(range_map 20000 64 256) }"; }
EXPECT="udp.mapping=address-dependent udp.filtering=address-and-port-dependent"
