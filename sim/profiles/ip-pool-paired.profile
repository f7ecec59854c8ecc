DESCRIPTION="pool of three WAN addresses chosen per internal host (R9 persistent): one host sees one"
router_setup() { nslab_exec router ip addr add 198.18.10.2/16 dev wan; nslab_exec router ip addr add 198.18.10.3/16 dev wan; }
router_rules() { natrule 'oifname "wan" meta l4proto udp snat ip to 198.18.10.1-198.18.10.3 persistent'; }
EXPECT="udp.mapping=endpoint-independent udp.pooling=single"
