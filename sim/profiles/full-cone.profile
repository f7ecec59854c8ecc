DESCRIPTION="EIM + EIF through a map keyed by the external port (R7)"
router_rules() { cone ""; }
NATCHECK_ARGS="--tcp"
EXPECT="udp.mapping=endpoint-independent udp.filtering=endpoint-independent udp.hairpin=false tcp.mapping=endpoint-independent tcp.consistent=true"
