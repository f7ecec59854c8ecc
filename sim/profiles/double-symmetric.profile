DESCRIPTION="masquerade random behind a carrier's masquerade: endpoint-dependent end to end"
UPSTREAM=100.64.0
router_rules() { natrule 'oifname "wan" masquerade random'; }
EXPECT="udp.mapping=address-and-port-dependent udp.filtering=address-and-port-dependent topology.cgnat=true"
