DESCRIPTION="EIM, random ports of the same parity (R3)"
router_rules() {
	local even odd i
	even=$(for i in $(seq 0 255); do printf '%d : %d, ' "$i" $((20000 + 2 * i)); done)
	odd=$(for i in $(seq 0 255); do printf '%d : %d, ' "$i" $((20001 + 2 * i)); done)
	natrule "oifname \"wan\" udp sport & 1 == 0 snat ip to $W : jhash ip saddr . udp sport mod 256 map { ${even%, } }" \
		"oifname \"wan\" udp sport & 1 == 1 snat ip to $W : jhash ip saddr . udp sport mod 256 map { ${odd%, } }"
}
EXPECT="udp.mapping=endpoint-independent udp.allocation.parity=true udp.port_preservation=false"
