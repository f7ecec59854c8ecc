DESCRIPTION="masquerade; unsolicited inbound answered with ICMP port unreachable (R11)"
router_rules() { natrule 'oifname "wan" masquerade'; inputrule 'iifname "wan" ct state new reject with icmp type port-unreachable'; }
NATCHECK_ARGS="--tcp"
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.port_preservation=true tcp.mapping=endpoint-independent tcp.unsolicited=icmp-port-unreachable"
