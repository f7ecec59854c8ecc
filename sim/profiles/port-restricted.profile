DESCRIPTION="Linux home router: masquerade (R1), EIM + APDF, ports preserved"
router_rules() { natrule 'oifname "wan" masquerade'; }
EXPECT="udp.nat=true udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.port_preservation=true udp.allocation.pattern=preserving udp.hairpin=false udp.alg=false topology.nat_layers=1 topology.cgnat=false port_mapping.nat-pmp.present=false port_mapping.pcp.present=false port_mapping.upnp-igd.present=false"
# Controls for issue 13's new fields (pending until natcheck writes them): no overloading, no
# unreachable server endpoint.
EXPECT_NEW='udp.allocation.port_overloading=false server.unreachable=[]'
