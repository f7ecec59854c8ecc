DESCRIPTION="masquerade; unsolicited inbound silently dropped (R11); TCP verdicts come with the TCP tests"
router_rules() { natrule 'oifname "wan" masquerade'; inputrule 'iifname "wan" ct state new drop'; }
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.port_preservation=true"
