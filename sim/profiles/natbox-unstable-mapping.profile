DESCRIPTION="natbox: EIM + APDF whose bindings move to a new external port every 3 s while in use"
# Issue 13 item 11: an unstable mapping (natbox --remap-after 3: a live binding gets a new
# external port 3 s after it got its current one; packets to the old port find nothing).
# natcheck's --lifetime run must notice that the public endpoint changed and report
# udp.mapping_stable false (the field is new; gated because a --lifetime run costs ~20 s of CI
# and proves nothing before the engine records the endpoint of every lifetime answer).
# Ground truth, after every measurement: one client socket asks A1:P1 every 0.5 s for 4.5 s
# (sim/lib/stunprobe.py --for); its XOR-MAPPED-ADDRESS changes, first after 2.9-3.6 s.
NATBOX_ARGS="--remap-after 3"
NATCHECK_ARGS="--lifetime --lifetime-max 20"
EXPECT="udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent"
EXPECT_NEW="udp.mapping_stable=false"
after_measure() {
	truth_stun --for 4.5 --interval 0.5 198.18.1.1:3478 | truth_py '
first = next((r for r in rs if r["xor_mapped"]), None)
change = next((r for r in rs if first and r["xor_mapped"] and r["xor_mapped"] != first["xor_mapped"]), None)
ok = change is not None and 2900 <= change["t_ms"] - first["t_ms"] <= 3600
print("truth: public endpoint %s, then %s after %s ms: %s" % (
    first and first["xor_mapped"], change and change["xor_mapped"],
    change and change["t_ms"] - first["t_ms"], "ok" if ok else "WRONG"))
sys.exit(0 if ok else 1)'
}
