DESCRIPTION="control for router-accepts-wan-input: the same poke, dropped by the WAN input filter"
# As router-accepts-wan-input, but with the base WAN input drop every NAT profile carries
# (sim-recipes §0.3): the unsolicited datagram leaves no conntrack entry, the port is kept
# towards every server endpoint, and the NAT measures as what it is (EIM + APDF).
router_rules() { natrule 'oifname "wan" masquerade'; }
before_measure() { poke_router_wan 40000 198.18.1.2:3478 198.18.1.2:3479; }
NATCHECK_ARGS="--port 40000"
VOVIDA_ARGS="-p 40000"
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.port_preservation=true udp.public=198.18.10.1:40000"
