DESCRIPTION="natbox: symmetric (APDM random + APDF) with 40 ms delay and 10 ms jitter each way"
# Issue 13 item 14: a symmetric NAT at an internet RTT (80 +- 20 ms). Jitter reorders packets,
# which must not confuse the allocation analysis.
# Ground truth, after every measurement: ping RTT 60-100 ms with jitter (truth_rtt).
NATBOX_ARGS="--mapping apd --filtering apd --alloc random --delay 40 --jitter 10"
EXPECT="udp.nat=true udp.mapping=address-and-port-dependent udp.filtering=address-and-port-dependent udp.allocation.pattern=random"
after_measure() { truth_rtt 60 100; }
