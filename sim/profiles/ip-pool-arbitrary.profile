DESCRIPTION="arbitrary pooling: the WAN address depends on the destination (R9 jhash)"
router_setup() { nslab_exec router ip addr add 198.18.10.2/16 dev wan; nslab_exec router ip addr add 198.18.10.3/16 dev wan; }
router_rules() { natrule 'oifname "wan" meta l4proto udp snat ip to jhash ip daddr . udp dport mod 3 map { 0 : 198.18.10.1, 1 : 198.18.10.2, 2 : 198.18.10.3 }'; }
EXPECT="udp.pooling=arbitrary udp.mapping=address-and-port-dependent"
