DESCRIPTION="masquerade; unsolicited inbound answered with ICMP admin prohibited (R11); TCP verdicts come with the TCP tests"
router_rules() { natrule 'oifname "wan" masquerade'; inputrule 'iifname "wan" ct state new reject with icmp type admin-prohibited'; }
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.port_preservation=true"
