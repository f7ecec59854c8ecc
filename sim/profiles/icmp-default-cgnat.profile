DESCRIPTION="home masquerade behind a CGN, both routers with Linux's default ICMP rate limits"
# Issue 13 item 13, two layers: as cgnat, but the home router and the CGN keep the kernel's
# ICMP rate limits (see icmp-default-port-restricted). natcheck must still find 2 layers.
# Ground truth, after every measurement: TTL=1 and TTL=2 bursts from the client are both
# rate-limited (the home router and the CGN each answer at most 7 of 20).
ICMP_RATELIMIT=default
UPSTREAM=100.64.0
router_rules() { natrule 'oifname "wan" masquerade'; }
EXPECT="udp.mapping=endpoint-independent topology.cgnat=true topology.double_nat=true topology.nat_layers=2"
after_measure() { truth_icmp_limited 1 && truth_icmp_limited 2; }
