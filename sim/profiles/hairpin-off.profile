DESCRIPTION="full cone without hairpinning (R7 alone)"
router_rules() { cone ""; }
EXPECT="udp.hairpin=false"
