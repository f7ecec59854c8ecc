DESCRIPTION="natbox: full cone with 40 ms delay and 10 ms jitter each way"
# Ground truth, after every measurement: ping RTT never below 59 ms (2 x (40 - 10)), varying
# by 4 ms or more (jitter), average at most 200 ms (truth_rtt; idle machine: about 80).
NATBOX_ARGS="--mapping ei --filtering ei --hairpin external --hairpin-filter off --delay 40 --jitter 10"
EXPECT="udp.mapping=endpoint-independent udp.filtering=endpoint-independent udp.hairpin=true"
after_measure() { truth_rtt 59 200; }
