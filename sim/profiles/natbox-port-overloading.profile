DESCRIPTION="natbox: EIM + APDF, first-fit ports shared among internal endpoints (port overloading)"
# Issue 13 item 10: port overloading (RFC 4787 §4.2.1). natbox --alloc first-fit --overload yes
# gives every new binding the lowest pool port whose external 5-tuple is still free, so two
# internal endpoints share an external port as soon as they talk to different destinations
# (inbound packets are told apart by their source). The pool has 256 ports: each natcheck run
# sends some 15 sockets to A1:P1, which need distinct ports for as long as their bindings live
# (120 s), and a pool of a few ports would simply drop them (and a second run, --runs 3, would
# find it exhausted). Sharing starts with the second destination whatever the pool size.
# Today natcheck calls this "sequential +1": its samples all go to A1:P1.
# Ground truth, after every measurement: four fresh sockets in the client ask four different
# server endpoints (sim/lib/stunprobe.py --fresh); at least two of these internal endpoints
# get the same external endpoint, which a NAT without overloading never does.
NATBOX_ARGS="--alloc first-fit --overload yes --port-range 40000-40255"
EXPECT="udp.nat=true udp.mapping=endpoint-independent udp.filtering=address-and-port-dependent udp.port_preservation=false"
EXPECT_NEW="udp.allocation.port_overloading=true"
# Gated: natcheck at 0aef244 writes port_overloading false here (its samples all go to A1:P1,
# where first-fit never shares a port); the truth check above proves the sharing.
after_measure() {
	truth_stun --fresh 198.18.1.2:3479 198.18.1.1:3479 198.18.1.2:3478 198.18.1.1:3478 | truth_py '
seen = {}
for r in rs:
    print("truth: %s -> %s as %s" % (r["local"], r["dest"], r["xor_mapped"]))
    if r["xor_mapped"]:
        seen.setdefault(r["xor_mapped"], set()).add(r["local"])
shared = {k: v for k, v in seen.items() if len(v) > 1}
print("truth: external endpoints shared by several internal ones: %s: %s" % (
    sorted(shared) or "none", "ok" if shared else "WRONG"))
sys.exit(0 if shared else 1)'
}
