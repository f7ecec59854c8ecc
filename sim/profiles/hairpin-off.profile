DESCRIPTION="full cone without hairpinning (R7 alone)"
router_rules() { cone ""; }
EXPECT="udp.mapping=endpoint-independent udp.filtering=endpoint-independent udp.hairpin=false"
