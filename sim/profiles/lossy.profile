DESCRIPTION="masquerade with 20% loss towards the client (R15): retransmission must cope"
router_rules() { natrule 'oifname "wan" masquerade'; fwdrule 'oifname "lan" meta l4proto udp numgen random mod 100 < 20 drop'; }
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent"
