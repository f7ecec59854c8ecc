DESCRIPTION="negative case: masquerade on a router whose own stack accepts unsolicited WAN input"
# sim-recipes §0.3 and §5.1. The router has no WAN input drop. Before the measurement,
# unsolicited datagrams from the server's alternate address (198.18.1.2, ports 3478 and 3479)
# reach the router's own W:40000; its stack accepts them (ICMP port unreachable) and
# conntrack keeps "198.18.1.2:347x -> W:40000". The measurer then uses port 40000: towards
# 198.18.1.1 the port is kept, but towards 198.18.1.2 the SNAT tuples clash with those entries
# and Linux picks random ports, so the very same masquerade that is EIM in port-restricted
# reads as endpoint-dependent here (natcheck: APDM; Vovida stun: "Dependent Mapping"). In the
# wild this is what breaks simultaneous-open punching (the peer's first packets poison the
# entry). router-drops-wan-input is the control.
router_setup() { nslab_exec router nft delete table ip nslabfw; }
router_rules() { natrule 'oifname "wan" masquerade'; }
before_measure() { poke_router_wan 40000 198.18.1.2:3478 198.18.1.2:3479; }
NATCHECK_ARGS="--port 40000"
VOVIDA_ARGS="-p 40000"
EXPECT="udp.mapping=address-and-port-dependent udp.filtering=address-and-port-dependent"
