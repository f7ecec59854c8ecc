#!/usr/bin/env bash
# natbox in a namespace lab: host -- router (natbox over TUN) -- internet with a UDP responder
# on two addresses x two ports. Checks EIM+EIF, EIM+ADF, EIM+APDF, APDM sequential (delta 1),
# hairpin external/internal/off and with filtering, and that with --lifetime 3 --refresh
# outbound a binding dies after 3 s of outbound silence although inbound traffic continues;
# --delay adds latency; Debian's stun client agrees with the EIM+EIF configuration.
#
#   host  10.77.0.2/24 ---+
#                         br0 10.77.0.1/24 [router: natbox] 198.18.77.1/24 --- internet
#   host2 10.77.0.3/24 ---+                                  198.18.77.2 (A1), 198.18.77.3 (A2)
#                                                              UDP ports 4000 (P1), 4001 (P2)
# Exit 77 (skip) when not root or when network namespaces are unavailable.
# Environment from ctest: NC_BUILD (build tree), NC_SRC (source tree).
set -u

NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NC_BUILD=${NC_BUILD:-$NC_SRC/build}
NATBOX_BIN=${NATBOX_BIN:-$NC_BUILD/sim/natbox}
export NATBOX_BIN

# shellcheck source=../lib/nslab.sh
. "$NC_SRC/tests/lib/nslab.sh"
need_root
need_tool python3 nft
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
[ -x "$NATBOX_BIN" ] || { echo "FAIL: natbox binary not found at $NATBOX_BIN"; exit 1; }

# shellcheck source=../../sim/lib/natbox.sh
. "$NC_SRC/sim/lib/natbox.sh"

P=nb$$-
HOST=${P}host
HOST2=${P}host2
RTR=${P}rtr
NET=${P}net
WORK=$(mktemp -d "/tmp/natbox-test.XXXXXX")
RESPONDER_PID=
STUND_PID=
A1=198.18.77.2
A2=198.18.77.3
W=198.18.77.1

cleanup() {
	set +e
	natbox_stop "$RTR" "$WORK/run" >/dev/null 2>&1
	[ -n "$STUND_PID" ] && kill "$STUND_PID" 2>/dev/null
	[ -n "$RESPONDER_PID" ] && kill "$RESPONDER_PID" 2>/dev/null
	for ns in "$HOST" "$HOST2" "$RTR" "$NET"; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the UDP responder and client (python3, written to the work dir) ----------------------
cat >"$WORK/udp.py" <<'PY'
import json, os, selectors, socket, sys, time

def responder(ips, ports, ready):
    sel = selectors.DefaultSelector()
    socks = {}
    for ip in ips:
        for port in ports:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((ip, port))
            s.setblocking(False)
            socks[(ip, port)] = s
            sel.register(s, selectors.EVENT_READ)
    open(ready, "w").write("%d\n" % os.getpid())  # readiness, and the pid to kill
    pushes = []  # (due, sock, dest, seq)
    while True:
        now = time.monotonic()
        timeout = max(0.0, min(p[0] for p in pushes) - now) if pushes else None
        for key, _ in sel.select(timeout):
            s = key.fileobj
            data, src = s.recvfrom(2048)
            try:
                req = json.loads(data)
            except ValueError:
                continue
            me = s.getsockname()
            if req["op"] == "echo":
                s.sendto(json.dumps({"mapped": "%s:%d" % src, "from": "%s:%d" % me}).encode(), src)
            elif req["op"] == "change":
                out = socks[(req["ip"], req["port"])]
                out.sendto(json.dumps({"mapped": "%s:%d" % src, "from": "%s:%d" % (req["ip"], req["port"])}).encode(), src)
            elif req["op"] == "push":
                t = time.monotonic()
                for i in range(req["n"]):
                    pushes.append((t + (i + 1) * req["ms"] / 1000.0, s, src, i))
        now = time.monotonic()
        for p in [p for p in pushes if p[0] <= now]:
            pushes.remove(p)
            p[1].sendto(json.dumps({"push": p[3]}).encode(), p[2])

def recv_all(s, wait):
    """Everything that arrives on s within wait seconds."""
    out = []
    end = time.monotonic() + wait
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return out
        s.settimeout(left)
        try:
            data, src = s.recvfrom(2048)
        except socket.timeout:
            return out
        out.append((json.loads(data), "%s:%d" % src, time.monotonic()))

def sock(port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    return s

def ask(s, dest, req, wait=1.0, tries=3):
    for _ in range(tries):
        s.sendto(json.dumps(req).encode(), dest)
        got = recv_all(s, wait)
        if got:
            return got[0]
    return None

def ep(x):
    ip, port = x.rsplit(":", 1)
    return (ip, int(port))

def main():
    cmd = sys.argv[1]
    if cmd == "responder":
        responder(sys.argv[2].split(","), [int(p) for p in sys.argv[3].split(",")], sys.argv[4])
    elif cmd == "map":  # map SRCPORT DEST... : the mapping each destination sees
        s = sock(int(sys.argv[2]))
        for d in sys.argv[3:]:
            r = ask(s, ep(d), {"op": "echo"})
            print("%s %s" % (d, r[0]["mapped"] if r else "none"))
    elif cmd == "filter":  # filter SRCPORT SERVER ALTIP ALTPORT
        s = sock(int(sys.argv[2]))
        srv = ep(sys.argv[3]); alt_ip = sys.argv[4]; alt_port = int(sys.argv[5])
        r = ask(s, srv, {"op": "echo"})
        print("control %s" % ("yes" if r else "no"))
        for name, ip, port in (("port", srv[0], alt_port), ("ip", alt_ip, srv[1]), ("both", alt_ip, alt_port)):
            s.sendto(json.dumps({"op": "change", "ip": ip, "port": port}).encode(), srv)
            got = [g for g in recv_all(s, 0.8) if g[1] == "%s:%d" % (ip, port)]
            print("%s %s" % (name, "yes" if got else "no"))
    elif cmd == "hairpin":  # hairpin SERVER PRIME: S2 sends to S1's mapping
        srv = ep(sys.argv[2]); prime = sys.argv[3] == "prime"
        s1 = sock()
        if len(sys.argv) > 4:  # S2 lives on a second host: enter its namespace first
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            with open("/run/netns/" + sys.argv[4]) as f:
                if libc.setns(f.fileno(), 0x40000000) != 0:  # CLONE_NEWNET
                    raise OSError(ctypes.get_errno(), "setns")
        s2 = sock()
        m1 = ask(s1, srv, {"op": "echo"})[0]["mapped"]
        m2 = ask(s2, srv, {"op": "echo"})[0]["mapped"]
        if prime:  # S1 opens its filter towards S2's mapping first
            s1.sendto(b"{}", ep(m2))
        s2.sendto(json.dumps({"hello": 1}).encode(), ep(m1))
        got = recv_all(s1, 0.8)
        src = got[-1][1] if got else "none"
        kind = "none"
        if got:
            kind = "external" if src == m2 else ("internal" if src == sys.argv[5] + ":%d" % s2.getsockname()[1] else "other")
        print("received %s source %s" % ("yes" if got else "no", kind))
    elif cmd == "rtt":  # rtt SERVER: round-trip time of one echo, in ms
        s = sock()
        t0 = time.monotonic()
        r = ask(s, ep(sys.argv[2]), {"op": "echo"}, wait=3.0, tries=1)
        print("rtt %d" % ((r[2] - t0) * 1000) if r else "rtt none")
    elif cmd == "lifetime":  # lifetime SERVER N MS: outbound once, then N inbound pushes
        s = sock()
        srv = ep(sys.argv[2]); n = int(sys.argv[3]); ms = int(sys.argv[4])
        t0 = time.monotonic()
        s.sendto(json.dumps({"op": "push", "n": n, "ms": ms}).encode(), srv)
        got = recv_all(s, n * ms / 1000.0 + 1.0)
        last = max((g[2] - t0 for g in got), default=0.0)
        print("received %d last %.1f" % (len(got), last))

main()
PY

# ---- namespaces ---------------------------------------------------------------------------
nse() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
setup() {
	ip netns add "$HOST" && ip netns add "$HOST2" && ip netns add "$RTR" && ip netns add "$NET" || return 1
	ip link add h0 netns "$HOST" type veth peer name lan0 netns "$RTR" || return 1
	ip link add h0 netns "$HOST2" type veth peer name lan1 netns "$RTR" || return 1
	ip link add wan0 netns "$RTR" type veth peer name i0 netns "$NET" || return 1
	nse "$RTR" ip link add br0 type bridge || return 1
	nse "$RTR" ip link set lan0 master br0
	nse "$RTR" ip link set lan1 master br0
	nse "$HOST" ip addr add 10.77.0.2/24 dev h0
	nse "$HOST2" ip addr add 10.77.0.3/24 dev h0
	nse "$RTR" ip addr add 10.77.0.1/24 dev br0
	nse "$RTR" ip addr add "$W/24" dev wan0
	nse "$NET" ip addr add "$A1/24" dev i0
	nse "$NET" ip addr add "$A2/24" dev i0
	for ns in "$HOST" "$HOST2" "$RTR" "$NET"; do nse "$ns" ip link set lo up; done
	nse "$HOST" ip link set h0 up
	nse "$HOST2" ip link set h0 up
	nse "$RTR" ip link set lan0 up
	nse "$RTR" ip link set lan1 up
	nse "$RTR" ip link set br0 up
	nse "$RTR" ip link set wan0 up
	nse "$NET" ip link set i0 up
	nse "$HOST" ip route add default via 10.77.0.1
	nse "$HOST2" ip route add default via 10.77.0.1
	# The internet knows no route to the LAN: only NATed traffic can come back.
}
setup || { echo "FAIL: namespace setup"; exit 1; }

# The responder writes its own pid when its sockets are bound: we kill it by that pid
# (a $! here could be a subshell's, sim-recipes.md §5.7).
ip netns exec "$NET" python3 "$WORK/udp.py" responder "$A1,$A2" 4000,4001 "$WORK/responder.ready" \
	>"$WORK/responder.log" 2>&1 &
launcher=$!
for ((i = 0; i < 200; i++)); do
	[ -s "$WORK/responder.ready" ] && break
	kill -0 "$launcher" 2>/dev/null || break
	sleep 0.05
done
RESPONDER_PID=$(cat "$WORK/responder.ready" 2>/dev/null)
[[ "$RESPONDER_PID" =~ ^[0-9]+$ ]] || { echo "FAIL: responder did not start"; cat "$WORK/responder.log"; exit 1; }

client() { nse "$HOST" python3 "$WORK/udp.py" "$@"; }
sanitizer_check() { # a sanitizer build of natbox reports into natbox.out
	if grep -qE 'Sanitizer|runtime error' "$WORK/run/natbox.out" 2>/dev/null; then
		check_fail "natbox sanitizer report:"
		cat "$WORK/run/natbox.out"
	fi
	: >"$WORK/run/natbox.out" 2>/dev/null
}
nat() { # nat <natbox args>: (re)start natbox with these parameters
	natbox_stop "$RTR" "$WORK/run" >/dev/null 2>&1
	sanitizer_check
	natbox_start "$RTR" br0 wan0 "$W" "$WORK/run" -- "$@" || { echo "FAIL: natbox_start $*"; exit 1; }
}
field() { awk -v k="$1" '$1 == k { print $2 }'; }

# ---- EIM + EIF ----------------------------------------------------------------------------
nat --mapping ei --filtering ei --alloc preserve
out=$(client map 40001 "$A1:4000" "$A2:4000" "$A2:4001")
check_equal "EIM: A1:P1 sees the preserved port" "$W:40001" "$(echo "$out" | field "$A1:4000")"
check_equal "EIM: A2:P1 sees the same mapping" "$W:40001" "$(echo "$out" | field "$A2:4000")"
check_equal "EIM: A2:P2 sees the same mapping" "$W:40001" "$(echo "$out" | field "$A2:4001")"
out=$(client filter 40002 "$A1:4000" "$A2" 4001)
check_equal "EIF: control" yes "$(echo "$out" | field control)"
check_equal "EIF: other port gets in" yes "$(echo "$out" | field port)"
check_equal "EIF: other address gets in" yes "$(echo "$out" | field ip)"
check_equal "EIF: other address and port get in" yes "$(echo "$out" | field both)"

# ---- EIM + ADF ----------------------------------------------------------------------------
nat --mapping ei --filtering ad
out=$(client filter 40003 "$A1:4000" "$A2" 4001)
check_equal "ADF: control" yes "$(echo "$out" | field control)"
check_equal "ADF: other port gets in" yes "$(echo "$out" | field port)"
check_equal "ADF: other address is filtered" no "$(echo "$out" | field ip)"
check_equal "ADF: other address and port are filtered" no "$(echo "$out" | field both)"

# ---- EIM + APDF ---------------------------------------------------------------------------
nat --mapping ei --filtering apd
out=$(client filter 40004 "$A1:4000" "$A2" 4001)
check_equal "APDF: control" yes "$(echo "$out" | field control)"
check_equal "APDF: other port is filtered" no "$(echo "$out" | field port)"
check_equal "APDF: other address is filtered" no "$(echo "$out" | field ip)"
check_equal "APDF: other address and port are filtered" no "$(echo "$out" | field both)"

# ---- APDM, sequential, delta 1 --------------------------------------------------------------
nat --mapping apd --filtering apd --alloc sequential --delta 1 --port-range 20000-20999
out=$(client map 40005 "$A1:4000" "$A1:4001" "$A2:4000" "$A1:4000")
check_equal "APDM seq: first mapping" "$W:20000" "$(echo "$out" | awk 'NR==1 {print $2}')"
check_equal "APDM seq: new port, +1" "$W:20001" "$(echo "$out" | awk 'NR==2 {print $2}')"
check_equal "APDM seq: new address, +1" "$W:20002" "$(echo "$out" | awk 'NR==3 {print $2}')"
check_equal "APDM seq: first destination again reuses its mapping" "$W:20000" "$(echo "$out" | awk 'NR==4 {print $2}')"

# ---- hairpinning ----------------------------------------------------------------------------
nat --mapping ei --filtering ei --hairpin external
check_equal "hairpin external (EIF)" "received yes source external" "$(client hairpin "$A1:4000" noprime "$HOST2" 10.77.0.3)"
nat --mapping ei --filtering ei --hairpin internal
check_equal "hairpin internal (EIF)" "received yes source internal" "$(client hairpin "$A1:4000" noprime "$HOST2" 10.77.0.3)"
nat --mapping ei --filtering ei --hairpin off
check_equal "hairpin off" "received no source none" "$(client hairpin "$A1:4000" noprime "$HOST2" 10.77.0.3)"
nat --mapping ei --filtering apd --hairpin external --hairpin-filter on
check_equal "hairpin with APDF filtering, unsolicited" "received no source none" "$(client hairpin "$A1:4000" noprime "$HOST2" 10.77.0.3)"
check_equal "hairpin with APDF filtering, after S1 sent to S2" "received yes source external" "$(client hairpin "$A1:4000" prime "$HOST2" 10.77.0.3)"
nat --mapping ei --filtering apd --hairpin external --hairpin-filter off
check_equal "hairpin without filtering (APDF NAT)" "received yes source external" "$(client hairpin "$A1:4000" noprime "$HOST2" 10.77.0.3)"

# ---- binding lifetime, outbound-only refresh ----------------------------------------------
# One outbound packet, then 16 inbound pushes 300 ms apart (4.8 s). With a 3 s lifetime that
# inbound traffic does not refresh, the pushes stop getting through after about 3 s.
nat --mapping ei --filtering apd --lifetime 3 --refresh outbound
out=$(client lifetime "$A1:4000" 16 300)
n=$(echo "$out" | awk '{print $2}')
last=$(echo "$out" | awk '{print $4}')
if [ "$n" -ge 8 ] && [ "$n" -le 10 ] && awk -v l="$last" 'BEGIN { exit !(l < 3.3) }'; then
	check_pass "lifetime 3 s, outbound refresh: binding died despite inbound traffic ($out)"
else
	check_fail "lifetime 3 s, outbound refresh: expected 8-10 pushes, the last before 3.3 s; got '$out'"
fi
nat --mapping ei --filtering apd --lifetime 3 --refresh both
out=$(client lifetime "$A1:4000" 16 300)
check_equal "lifetime 3 s, two-way refresh: inbound traffic keeps the binding" 16 "$(echo "$out" | awk '{print $2}')"

# ---- delay without netem: 150 ms each way through natbox's delay queue -----------------------
nat --mapping ei --filtering ei --delay 150
rtt=$(client rtt "$A1:4000" | awk '{print $2}')
if [ "$rtt" != none ] && [ "$rtt" -ge 295 ] && [ "$rtt" -lt 1000 ]; then
	check_pass "delay 150 ms: echo round trip ${rtt} ms"
else
	check_fail "delay 150 ms: expected a round trip of 300-1000 ms, got '$rtt'"
fi

# ---- Debian's stun client against stund, through natbox, if installed -----------------------
if command -v stund >/dev/null && command -v stun >/dev/null; then
	# Started directly (not through the nse function): ip netns exec execs stund in the
	# forked child, so $! is stund's own pid.
	ip netns exec "$NET" stund -h "$A1" -a "$A2" </dev/null >"$WORK/stund.log" 2>&1 &
	STUND_PID=$!
	nat --mapping ei --filtering ei --hairpin external
	out=""
	for ((i = 0; i < 3; i++)); do # stund may still be binding; the client retransmits itself
		out=$(nse "$HOST" timeout 20 stun "$A1" 2>&1 | grep -E 'Mapping|Filter' | head -1)
		[ -n "$out" ] && break
	done
	case "$out" in
	*"Independent Mapping"*"Independent Filter"*) check_pass "stun client: $out" ;;
	*) check_fail "stun client through EIM+EIF natbox: got '$out'" ;;
	esac
	kill "$STUND_PID" 2>/dev/null
	wait "$STUND_PID" 2>/dev/null
	STUND_PID=
fi

natbox_stop "$RTR" "$WORK/run" >/dev/null 2>&1
sanitizer_check
if ! checks_verdict; then
	echo "--- natbox log ---"
	tail -n 50 "$WORK/run/natbox.log" 2>/dev/null
	exit 1
fi
