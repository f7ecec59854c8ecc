DESCRIPTION="natbox: port-restricted cone whose hairpin path applies the filter"
NATBOX_ARGS="--mapping ei --filtering apd --hairpin external --hairpin-filter on"
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.hairpin=false"
# Vovida stun tests hairpinning by sending from its socket to that socket's own mapping: the
# hairpinned datagram comes from the very address it was sent to, which the filter has just
# allowed, so it passes. natcheck sends from a second socket, which the filter stops.
VOVIDA_EXPECT="udp.hairpin=true"
