DESCRIPTION="home masquerade behind a second private NAT, both with default ICMP rate limits"
# Issue 13 item 13: as double-nat, with the kernel's ICMP rate limits on both routers (see
# icmp-default-port-restricted). Ground truth as in icmp-default-cgnat.
ICMP_RATELIMIT=default
UPSTREAM=192.168.50
router_rules() { natrule 'oifname "wan" masquerade'; }
EXPECT="udp.mapping=endpoint-independent topology.cgnat=false topology.double_nat=true topology.nat_layers=2"
after_measure() { truth_icmp_limited 1 && truth_icmp_limited 2; }
