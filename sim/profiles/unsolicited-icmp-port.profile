DESCRIPTION="masquerade; unsolicited inbound answered with ICMP port unreachable (R11); TCP verdicts come with the TCP tests"
router_rules() { natrule 'oifname "wan" masquerade'; inputrule 'iifname "wan" ct state new reject with icmp type port-unreachable'; }
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.port_preservation=true"
