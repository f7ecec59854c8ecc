DESCRIPTION="natbox: EIM + APDF, 4 s bindings refreshed by outbound traffic only"
NATBOX_ARGS="--lifetime 4 --refresh outbound"
NATCHECK_ARGS="--lifetime --lifetime-max 20"
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.lifetime_s=4 udp.inbound_refresh=false"
# Control for natbox-unstable-mapping: the binding keeps its port until it expires.
EXPECT_NEW="udp.mapping_stable=true"
