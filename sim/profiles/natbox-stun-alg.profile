DESCRIPTION="natbox: EIM + APDF behind a naive STUN ALG (MAPPED-ADDRESS rewritten, FINGERPRINT stale)"
# Issue 13 item 9: a router ALG that rewrites MAPPED-ADDRESS in Binding responses from the
# external to the internal endpoint (natbox --stun-alg mapped), fixes the UDP checksum and
# leaves FINGERPRINT stale; XOR-MAPPED-ADDRESS is untouched. natcheck must keep the answer,
# take XOR-MAPPED-ADDRESS as the mapping and report udp.alg true (today it drops every answer
# as a FINGERPRINT failure and says "UDP blocked": gated until the engine lands).
# Ground truth, after every measurement: sim/lib/stunprobe.py (stdlib Python, no natcheck code)
# in the client gets MAPPED-ADDRESS = its own private endpoint, XOR-MAPPED-ADDRESS = W:port and
# a FINGERPRINT whose CRC fails (stund, under --measure vovida, sends none); the same for a
# second server address. Vovida's RFC 3489 client reads only MAPPED-ADDRESS, so the ALG makes
# it see its own address: "Firewall", no NAT (VOVIDA_EXPECT), which is what fools classic
# clients in the field.
NATBOX_ARGS="--stun-alg mapped"
NATCHECK_ARGS="--port 40000"
VOVIDA_ARGS="-p 40000"
VOVIDA_EXPECT="udp.nat=false udp.mapping=none"
EXPECT="udp.reachable=true udp.nat=true udp.alg=true udp.local=10.1.0.2:40000 udp.public=198.18.10.1:40000 udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent"
after_measure() {
	truth_stun 198.18.1.1:3478 198.18.1.2:3478 | truth_py '
for r in rs:
    ok = r["mapped"] == r["local"] and r["xor_mapped"] is not None and \
        r["xor_mapped"].startswith("198.18.10.1:") and r["fingerprint_ok"] is not True
    print("truth: %s: MAPPED %s, XOR-MAPPED %s, FINGERPRINT ok %s: %s" % (
        r["dest"], r["mapped"], r["xor_mapped"], r["fingerprint_ok"], "ok" if ok else "WRONG"))
    if not ok: sys.exit(1)'
}
