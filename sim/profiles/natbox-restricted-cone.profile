DESCRIPTION="natbox: EIM + ADF, ports preserved"
NATBOX_ARGS="--mapping ei --filtering ad --alloc preserve"
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-dependent udp.allocation.pattern=preserving"
# Control for natbox-port-overloading: natbox's default allocator never shares a port.
EXPECT_NEW="udp.allocation.port_overloading=false"
