DESCRIPTION="masquerade; unsolicited inbound answered with TCP RST (UDP dropped) (R11)"
router_rules() { natrule 'oifname "wan" masquerade'; inputrule 'iifname "wan" ct state new meta l4proto tcp reject with tcp reset'; }
NATCHECK_ARGS="--tcp"
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.port_preservation=true tcp.mapping=endpoint-independent tcp.unsolicited=rst"
