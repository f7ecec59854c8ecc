DESCRIPTION="APDM with random ports: masquerade random (R5)"
router_rules() { natrule 'oifname "wan" masquerade random'; }
NATCHECK_ARGS="--tcp"
EXPECT="udp.mapping=address-and-port-dependent udp.filtering=address-and-port-dependent udp.allocation.pattern=random udp.port_preservation=false tcp.mapping=address-and-port-dependent tcp.consistent=false"
