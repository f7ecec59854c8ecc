DESCRIPTION="masquerade with 5 s UDP conntrack timeouts (R10); measured with --lifetime"
router_rules() { natrule 'oifname "wan" masquerade'; }
SYSCTL="net.netfilter.nf_conntrack_udp_timeout=5 net.netfilter.nf_conntrack_udp_timeout_stream=5"
NATCHECK_ARGS="--lifetime --lifetime-max 20"
EXPECT="udp.mapping=endpoint-independent udp.lifetime_s=5 udp.inbound_refresh=true"
EXPECT_NEW="udp.mapping_stable=true" # control for natbox-unstable-mapping (issue 13)
