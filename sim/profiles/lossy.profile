DESCRIPTION="masquerade losing 20% of forwarded UDP each way (R15): retransmission must cope"
# Same router as port-restricted, same expected UDP verdict: the measurer's retransmissions
# must hide the loss. (No netem on this kernel: nft numgen random drops, sim-recipes R15.)
router_rules() { natrule 'oifname "wan" masquerade'; fwdrule 'meta l4proto udp numgen random mod 100 < 20 drop'; }
EXPECT="udp.nat=true udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.port_preservation=true udp.allocation.pattern=preserving udp.hairpin=false"
