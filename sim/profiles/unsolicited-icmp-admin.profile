DESCRIPTION="masquerade; unsolicited inbound answered with ICMP admin prohibited (R11)"
router_rules() { natrule 'oifname "wan" masquerade'; inputrule 'iifname "wan" ct state new reject with icmp type admin-prohibited'; }
NATCHECK_ARGS="--tcp"
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.port_preservation=true tcp.mapping=endpoint-independent tcp.unsolicited=icmp-admin-prohibited"
