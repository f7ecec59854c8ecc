DESCRIPTION="masquerade + a firewall that lets UDP out only to port 3478"
# Issue 13 item 12: the server's endpoints on port 3479 (A1:P2, A2:P2) cannot be reached; the
# verdicts that need no P2 stay right (EIM from A1:P1 / A2:P1, APDF). natcheck must say which
# endpoints it could not reach (proposed field server.unreachable, a list of "ip:port").
# Ground truth, after every measurement: sim/lib/stunprobe.py in the client gets an answer
# from 198.18.1.1:3478 but none from 198.18.1.1:3479 or 198.18.1.2:3479, and the firewall's
# drop counter shows the dropped requests (natcheck's and these).
router_rules() {
	natrule 'oifname "wan" masquerade'
	fwdrule 'iifname "lan" meta l4proto udp udp dport != 3478 counter drop'
}
EXPECT="udp.reachable=true udp.nat=true udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent"
EXPECT_NEW='server.unreachable=["198.18.1.1:3479","198.18.1.2:3479"]'
after_measure() {
	local drops
	truth_stun --tries 3 198.18.1.1:3478 198.18.1.1:3479 198.18.1.2:3479 | truth_py '
ok = True
for r in rs:
    want = r["dest"].endswith(":3478")
    got = r["xor_mapped"] is not None
    ok &= want == got
    print("truth: %s %s: %s" % (r["dest"], "answered" if got else "silent", "ok" if want == got else "WRONG"))
sys.exit(0 if ok else 1)' || return 1
	drops=$(nslab_exec router nft list chain ip f filt_fwd | sed -n 's/.*packets \([0-9]*\).*/\1/p')
	echo "truth: the firewall dropped $drops packet(s) to ports other than 3478"
	[ "${drops:-0}" -gt 0 ] || { echo "truth: no drops: WRONG"; return 1; }
}
