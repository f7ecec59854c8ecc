DESCRIPTION="natbox: port-restricted cone (EIM + APDF) with 40 ms delay and 10 ms jitter each way"
# Issue 13 item 14: an internet RTT (80 +- 20 ms) behind the most common home NAT; the lab's
# sub-millisecond RTT hides how many round trips natcheck needs. scripts/bench_natcheck.sh
# times the same NAT against the peers.
# Ground truth, after every measurement: the client's ping RTT to A1 is never below 59 ms
# (2 x (40 - 10)), varies by 4 ms or more and averages at most 200 ms (truth_rtt; about 80 on
# an idle machine); natbox delays every packet it emits, both ways.
NATBOX_ARGS="--mapping ei --filtering apd --alloc preserve --hairpin off --delay 40 --jitter 10"
EXPECT="udp.nat=true udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.port_preservation=true udp.hairpin=false"
after_measure() { truth_rtt 59 200; }
