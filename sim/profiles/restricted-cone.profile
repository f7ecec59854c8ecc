DESCRIPTION="EIM + ADF: the R7 map plus a contacted-address set"
router_rules() { cone "$ADF_RULES"; }
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-dependent"
