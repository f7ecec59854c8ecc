DESCRIPTION="natbox: full cone whose link drops everything for the first 0.5 s after 2 s idle"
# Issue 13 item 3: a path that wakes up (natbox --blackout 500: the first packet after 2 s of
# silence starts 500 ms in which every packet, both ways, is lost). The positive controls are
# answered only after it; a CHANGE-REQUEST probe that gave up before its control answered
# proves nothing, so natcheck must not report APDF here (today it does, every time: gated).
# The NAT is a full cone, so the right verdict is EIF (or unknown with a note).
# Ground truth, after every measurement: after 2.1 s of silence, sim/lib/stunprobe.py's first
# answer from A1:P1 comes 450-700 ms after its first request, and needed at least 5 sends.
NATBOX_ARGS="--mapping ei --filtering ei --hairpin off --blackout 500"
# Only the UDP classification, so that its probes are the packets that wake the link (the
# topology and port-mapping phases would otherwise wake it first).
NATCHECK_ARGS="--no-portmap --no-topology"
EXPECT="udp.reachable=true udp.mapping=endpoint-independent udp.filtering=endpoint-independent"
after_measure() {
	sleep 2.1 # the link must fall asleep again (2 s idle)
	truth_stun --tries 12 --interval 0.1 198.18.1.1:3478 | truth_py '
r = rs[0]
ok = r["t_ms"] is not None and 450 <= r["t_ms"] <= 700 and r["sent"] >= 5
print("truth: first answer after %s ms, %d sends: %s" % (r["t_ms"], r["sent"], "ok" if ok else "WRONG"))
sys.exit(0 if ok else 1)'
}
