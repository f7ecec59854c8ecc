DESCRIPTION="arbitrary pooling: the WAN address depends on the destination (R9 jhash)"
# nft's jhash draws a random seed per ruleset when none is given: with only four server
# endpoints, one load in ten or so put all of them in one bucket and the case measured a
# single address (EIM). Seed 11 spreads them, checked with a probe from one port:
#   198.18.1.1:3478 -> .3, 198.18.1.1:3479 -> .2, 198.18.1.2:3478 -> .1, 198.18.1.2:3479 -> .2
# so every pair natcheck's and RFC 3489's mapping tests compare leaves from two addresses.
router_setup() { nslab_exec router ip addr add 198.18.10.2/16 dev wan; nslab_exec router ip addr add 198.18.10.3/16 dev wan; }
router_rules() { natrule 'oifname "wan" meta l4proto udp snat ip to jhash ip daddr . udp dport mod 3 seed 11 map { 0 : 198.18.10.1, 1 : 198.18.10.2, 2 : 198.18.10.3 }' 'oifname "wan" masquerade'; }
EXPECT="udp.pooling=arbitrary udp.mapping=address-and-port-dependent"
