DESCRIPTION="full cone with hairpinning (R7 + R8), external source kept"
router_rules() { cone "" "$(hairpin_pre)" "$(hairpin_post)"; }
EXPECT="udp.mapping=endpoint-independent udp.filtering=endpoint-independent udp.hairpin=true udp.hairpin_source=external"
