DESCRIPTION="the router drops all forwarded UDP (R14)"
router_rules() { fwdrule 'meta l4proto udp drop'; natrule 'oifname "wan" masquerade'; }
EXPECT="udp.reachable=false udp.mapping=unknown udp.filtering=unknown"
