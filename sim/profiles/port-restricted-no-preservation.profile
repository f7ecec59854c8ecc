DESCRIPTION="EIM with ports from 10000-15999, never preserved (R2)"
# Linux keeps a source port that lies inside the snat range (and is free), so the range sits
# below every port the measuring clients draw from (natcheck: 49152-65535, Vovida stun:
# 16384-49151); a port outside the range is replaced, and later flows of the same internal
# endpoint reuse that replacement (EIM).
router_rules() { natrule "oifname \"wan\" meta l4proto { tcp, udp } snat ip to $W:10000-15999"; }
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.port_preservation=false udp.allocation.pattern=random"
