DESCRIPTION="natbox: APDM, ports allocated in steps of 2 (beyond numgen)"
NATBOX_ARGS="--mapping apd --filtering apd --alloc sequential --delta 2 --port-range 40000-49999"
EXPECT="udp.mapping=address-and-port-dependent udp.allocation.pattern=sequential udp.allocation.delta=2"
