DESCRIPTION="natbox: EIM + ADF, ports preserved"
NATBOX_ARGS="--mapping ei --filtering ad --alloc preserve"
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-dependent udp.allocation.pattern=preserving"
