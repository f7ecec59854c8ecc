DESCRIPTION="EIM, every port moved by a fixed even offset: parity kept, never preserved (R3-like)"
# R3 hashed (source, port) into 256 single-port buckets: with natcheck's ~15 flows to one
# server, about four runs in ten had two flows in one bucket and the kernel dropped one.
# Here every port 1024-65535 maps one to one onto (port - 1024 + 29152) mod 64512 + 1024:
# the offset and the range width are even, so parity is kept, no two ports clash and no port
# is kept, whatever range the measuring client draws its ports from (natcheck: 32768-60999,
# Vovida stun: 16384-49151). A 64512-entry map loads in about half a second.
router_rules() {
	local m
	m=$(awk 'BEGIN { for (p = 1024; p <= 65535; p++) printf "%d : %d, ", p, (p - 1024 + 29152) % 64512 + 1024 }')
	natrule "oifname \"wan\" meta l4proto udp snat ip to $W : udp sport map { ${m%, } }" 'oifname "wan" masquerade'
}
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.allocation.parity=true udp.port_preservation=false"
