DESCRIPTION="masquerade; unsolicited inbound silently dropped (R11)"
router_rules() { natrule 'oifname "wan" masquerade'; inputrule 'iifname "wan" ct state new drop'; }
NATCHECK_ARGS="--tcp"
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.port_preservation=true tcp.mapping=endpoint-independent tcp.unsolicited=dropped"
