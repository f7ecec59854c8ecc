DESCRIPTION="ADM: a port range per jhash(source, destination address) bucket (R4), odd and even destination addresses in separate halves"
# R4 with the buckets split by the destination address's last bit: 128 buckets of 64 ports for
# odd addresses (20000-28191), 128 for even ones (28192-36383). With one map of 256 buckets,
# the two reflector addresses (198.18.1.1, 198.18.1.2) fell into the same bucket for 1 socket
# in 256, and the NAT then really was endpoint-independent for it (a measured EIM, 1-2 % of
# test_udp_matrix runs); now they never share a port range. Sockets to one address still spread
# over 128 buckets by source port, as birthday probing against this profile needs.
router_rules() {
	natrule "oifname \"wan\" meta l4proto udp ip daddr & 0.0.0.1 == 0.0.0.1 snat ip to jhash ip saddr . udp sport . ip daddr mod 128 map { $(range_map 20000 64 128) }" \
		"oifname \"wan\" meta l4proto udp ip daddr & 0.0.0.1 == 0.0.0.0 snat ip to jhash ip saddr . udp sport . ip daddr mod 128 map { $(range_map 28192 64 128) }"
}
EXPECT="udp.mapping=address-dependent udp.filtering=address-and-port-dependent"
