DESCRIPTION="natbox: symmetric (APDM random + APDF) with 40 ms delay and 10 ms jitter each way"
# Issue 13 item 14: a symmetric NAT at an internet RTT (80 +- 20 ms). Jitter reorders packets,
# which must not confuse the allocation analysis.
# Ground truth, after every measurement: ping RTT never below 59 ms (2 x (40 - 10)), varying
# by 4 ms or more (jitter), average at most 200 ms (truth_rtt; idle machine: about 80).
NATBOX_ARGS="--mapping apd --filtering apd --alloc random --delay 40 --jitter 10"
EXPECT="udp.nat=true udp.mapping=address-and-port-dependent udp.filtering=address-and-port-dependent udp.allocation.pattern=random"
after_measure() { truth_rtt 59 200; }
