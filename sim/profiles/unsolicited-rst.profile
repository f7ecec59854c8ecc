DESCRIPTION="masquerade; unsolicited inbound answered with TCP RST (UDP dropped) (R11); TCP verdicts come with the TCP tests"
router_rules() { natrule 'oifname "wan" masquerade'; inputrule 'iifname "wan" ct state new meta l4proto tcp reject with tcp reset'; }
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.port_preservation=true"
