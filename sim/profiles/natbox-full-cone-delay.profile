DESCRIPTION="natbox: full cone with 40 ms delay and 10 ms jitter each way"
# Ground truth, after every measurement: ping RTT 60-100 ms with jitter (truth_rtt).
NATBOX_ARGS="--mapping ei --filtering ei --hairpin external --hairpin-filter off --delay 40 --jitter 10"
EXPECT="udp.mapping=endpoint-independent udp.filtering=endpoint-independent udp.hairpin=true"
after_measure() { truth_rtt 60 100; }
