DESCRIPTION="natbox: port-restricted cone whose hairpin path applies the filter"
NATBOX_ARGS="--mapping ei --filtering apd --hairpin external --hairpin-filter on"
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.hairpin=false"
