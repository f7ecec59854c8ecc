DESCRIPTION="home NAT (masquerade) inside 100.64/10, behind a carrier-grade NAT"
UPSTREAM=100.64.0
router_rules() { natrule 'oifname "wan" masquerade'; }
EXPECT="udp.mapping=endpoint-independent topology.cgnat=true topology.double_nat=true topology.nat_layers=2"
