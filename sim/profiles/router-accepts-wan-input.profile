DESCRIPTION="negative case: masquerade on a router whose own stack accepts unsolicited WAN input"
# sim-recipes §5.1: unsolicited packets to the router leave conntrack entries that later push
# an outbound flow to the same peer onto a random port, which breaks simultaneous punching.
# natcheck's own probes never send from a port that was hit first, so it still reads the NAT
# as EIM + APDF: the trap shows in punching (punchvpn's lab), not in this classification.
router_setup() { nslab_exec router nft delete table ip nslabfw; }
router_rules() { natrule 'oifname "wan" masquerade'; }
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent"
