DESCRIPTION="masquerade on a router that keeps Linux's default ICMP rate limits"
# Issue 13 item 13: every other lab router answers every TTL expiry (icmp_ratelimit=0); this
# one keeps the kernel defaults (icmp_ratelimit 1000 ms per destination, burst 6, ratemask
# 6168), as real routers do. natcheck's earlier probes can use up the budget before its
# TTL-limited probes run; it must still count the NAT layers (gated: today it often says
# "not determined").
# Ground truth, after every measurement: 20 back-to-back TTL=1 pings from the client get at
# most 7 Time Exceeded answers (truth_icmp_limited; all 20 with the lab's usual setting).
ICMP_RATELIMIT=default
router_rules() { natrule 'oifname "wan" masquerade'; }
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent topology.nat_layers=1 topology.cgnat=false topology.double_nat=false"
after_measure() { truth_icmp_limited 1; }
