DESCRIPTION="home NAT behind a second private NAT (192.168.50/24)"
UPSTREAM=192.168.50
router_rules() { natrule 'oifname "wan" masquerade'; }
EXPECT="udp.mapping=endpoint-independent topology.cgnat=false topology.double_nat=true topology.nat_layers=2"
