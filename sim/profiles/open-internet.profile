DESCRIPTION="no NAT: the router only routes"
ROUTED=1
EXPECT="udp.reachable=true udp.nat=false udp.mapping=none udp.filtering=none topology.nat_layers=0"
