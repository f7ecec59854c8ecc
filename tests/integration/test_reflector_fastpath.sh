#!/usr/bin/env bash
# natcheck-reflector --fast-path (packet rings, reflector/fastpath.h) beyond the interop checks
# that test_reflector_interop.sh runs in both modes:
#   - each request is answered exactly once on either side of the FRAME_MAX_UDP boundary
#     (548-byte datagrams by the rings, 552-byte ones by the UDP sockets), counted by path;
#   - frames the kernel would refuse are refused: a bad UDP checksum (with the veth's receive
#     checksum offload off, so nobody vouches for it), a bad IP header checksum, a loopback
#     source; a well-formed crafted frame is the positive control;
#   - two threads in one fanout group answer 200 sources once each;
#   - the rings keep answering after the interface goes down and up, without spinning;
#   - frames tagged for a VLAN device on the interface are left to that device's sockets;
#   - the per-source rate limit holds on the fast path;
#   - a stopped server's full receive ring drops, and counts, what does not fit (4096 frames);
#   - --fast-path auto finds the interface of the primary address;
#   - natcheck's verdicts through 8 lab NAT profiles are unchanged with the lab's reflectors
#     on the rings;
#   - clear errors and exit 1 for an interface that is not Ethernet or does not exist, "auto"
#     with no interface holding the address, an IPv6-only server, a user without CAP_NET_RAW.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NC_BUILD:-$SRC/build}
# shellcheck source=tests/lib/vethlab.sh
source "$SRC/tests/lib/vethlab.sh"
need_root
need_tool python3 ethtool setpriv
reflector=$BUILD/reflector/natcheck-reflector
[ -x "$reflector" ] || { echo "FAIL: $reflector is not built"; exit 1; }
vlab_up "ncfp$$" 198.18.7.2
A1=$NSLAB_A1 A2=$NSLAB_A2 DEV=$NSLAB_P-s
nslab_exec inet ethtool -K "$DEV" rx off >/dev/null
SMAC=$(nslab_exec inet cat "/sys/class/net/$DEV/address")
CMAC=$(nslab_exec client cat "/sys/class/net/$NSLAB_P-c/address")

py() { # MODE ARGS...: the python3 client; prints "key value" lines
	nslab_exec client python3 - "$@" <<'PY'
import os, select, socket, struct, sys, time
mode, A1 = sys.argv[1], sys.argv[2]
COOKIE = 0x2112A442

def request(pad=0):
    attrs = b""
    if pad:
        attrs = struct.pack("!HH", 0x0026, pad) + b"\0" * pad
    tid = os.urandom(12)
    return struct.pack("!HHI", 1, len(attrs), COOKIE) + tid + attrs, tid

def answers(socks, wait=0.5):
    """Counts success answers per socket until nothing arrives for `wait` seconds."""
    got = {s: 0 for s in socks}
    while True:
        r, _, _ = select.select(list(socks), [], [], wait)
        if not r:
            return got
        for s in r:
            data = s.recv(4096)
            if len(data) >= 20 and struct.unpack("!H", data[:2])[0] == 0x0101:
                got[s] += 1

def udp_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", 0))  # the source address follows the route to A1
    return s

if mode == "sizes":
    # UDP length = 8 + 20 + 4 + pad: 516 -> 548 bytes (rings), 520 -> 552 (sockets).
    for pad in (516, 520):
        socks = [udp_socket() for _ in range(20)]
        for s in socks:
            s.sendto(request(pad)[0], (A1, 3478))
        got = answers(socks)
        print(f"udp{8 + 20 + 4 + pad} once={sum(1 for n in got.values() if n == 1)} "
              f"more={sum(1 for n in got.values() if n > 1)}")
elif mode == "sources":
    socks = [udp_socket() for _ in range(200)]
    for s in socks:
        s.sendto(request()[0], (A1, 3478))
    got = answers(socks)
    print(f"sources once={sum(1 for n in got.values() if n == 1)} more={sum(1 for n in got.values() if n > 1)}")
elif mode == "burst":
    socks = [udp_socket() for _ in range(50)]
    for i in range(5000):
        socks[i % 50].sendto(request()[0], (A1, 3478))
    print("burst sent=5000")
elif mode == "flood":
    s = udp_socket()
    t0 = time.monotonic()
    for _ in range(1000):
        s.sendto(request()[0], (A1, 3478))
    elapsed = time.monotonic() - t0
    got = answers([s])
    print(f"flood answered={got[s]} seconds={elapsed:.3f}")
elif mode == "crafted":
    dev, smac, cmac = sys.argv[3], bytes.fromhex(sys.argv[4].replace(":", "")), bytes.fromhex(sys.argv[5].replace(":", ""))
    def csum(b):
        if len(b) % 2:
            b += b"\0"
        s = sum(struct.unpack(f"!{len(b) // 2}H", b))
        while s >> 16:
            s = (s & 0xffff) + (s >> 16)
        return ~s & 0xffff
    def frame(src, sport, payload, break_udp=False, break_ip=False):
        dst = socket.inet_aton(A1)
        src = socket.inet_aton(src)
        ulen = 8 + len(payload)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 1, 0x4000, 64, 17, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip) ^ (1 if break_ip else 0)) + ip[12:]
        pseudo = src + dst + struct.pack("!BBH", 0, 17, ulen)
        udp = struct.pack("!HHHH", sport, 3478, ulen, 0) + payload
        c = csum(pseudo + udp) or 0xffff
        udp = udp[:6] + struct.pack("!H", c ^ (0x0100 if break_udp else 0)) + udp[8:]
        return smac + cmac + b"\x08\x00" + ip + udp
    listener = udp_socket()
    port = listener.getsockname()[1]
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    raw.bind((dev, 0))
    cases = [("control", dict(src="198.18.7.2")), ("bad-udp-checksum", dict(src="198.18.7.2", break_udp=True)),
             ("bad-ip-checksum", dict(src="198.18.7.2", break_ip=True)), ("loopback-source", dict(src="127.0.0.1"))]
    for name, kw in cases:
        raw.send(frame(sport=port, payload=request()[0], **kw))
        got = answers([listener], 0.4)
        print(f"{name} answered={got[listener]}")
PY
}

echo "== fast path on $DEV, one thread"
vlab_reflector_start "$reflector" --primary "$A1" --alternate "$A2" --fast-path "$DEV" --threads 1 --rate 0 --byte-budget 0
f0=$(vlab_reflector_counter fast)
res=$(py sizes "$A1")
f1=$(vlab_reflector_counter fast)
check_status "548-byte datagrams (the rings' largest): 20 of 20 answered exactly once" \
	"$(grep -q '^udp548 once=20 more=0$' <<<"$res" && echo 0 || echo 1)" "$res"
check_status "552-byte datagrams (the UDP sockets'): 20 of 20 answered exactly once" \
	"$(grep -q '^udp552 once=20 more=0$' <<<"$res" && echo 0 || echo 1)" "$res"
check_status "the rings answered exactly the 20 small ones (fast path $f0 -> $f1)" "$([ $((f1 - f0)) -eq 20 ] && echo 0 || echo 1)" ""

m0=$(vlab_reflector_counter malformed) a0=$(vlab_reflector_counter answered)
res=$(py crafted "$A1" "$NSLAB_P-c" "$SMAC" "$CMAC")
m1=$(vlab_reflector_counter malformed) a1=$(vlab_reflector_counter answered)
check_status "crafted well-formed frame (positive control): answered" "$(grep -q '^control answered=1$' <<<"$res" && echo 0 || echo 1)" "$res"
for c in bad-udp-checksum bad-ip-checksum loopback-source; do
	check_status "crafted frame with a $c: not answered" "$(grep -q "^$c answered=0$" <<<"$res" && echo 0 || echo 1)" "$res"
done
check_status "the three refused frames are counted as malformed ($m0 -> $m1), one answer ($a0 -> $a1)" \
	"$([ $((m1 - m0)) -eq 3 ] && [ $((a1 - a0)) -eq 1 ] && echo 0 || echo 1)" "$(tail -2 "$NSLAB_DIR/refl.log")"
vlab_reflector_stop

echo "== two threads in one fanout group, --fast-path auto"
vlab_reflector_start "$reflector" --primary "$A1" --alternate "$A2" --fast-path auto --threads 2 --rate 0 --byte-budget 0
check_status "--fast-path auto chose $DEV" "$(grep -q "fast path on $DEV\$" "$NSLAB_DIR/refl.log" && echo 0 || echo 1)" \
	"$(grep ready: "$NSLAB_DIR/refl.log")"
res=$(py sources "$A1")
check_status "200 sources, each answered exactly once" "$(grep -q '^sources once=200 more=0$' <<<"$res" && echo 0 || echo 1)" "$res"
f=$(vlab_reflector_counter fast)
check_status "all 200 by the rings (fast path $f)" "$([ "$f" -eq 200 ] && echo 0 || echo 1)" ""
vlab_reflector_stop

echo "== the interface goes down and up"
vlab_reflector_start "$reflector" --primary "$A1" --alternate "$A2" --fast-path "$DEV" --threads 1 --rate 0 --byte-budget 0
pid=$(cat "$NSLAB_DIR/refl.pid")
nslab_exec inet ip link set "$DEV" down
sleep 0.3
nslab_exec inet ip link set "$DEV" up
sleep 1
t0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
sleep 1
t1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
check_status "idle after the flap: $((t1 - t0)) CPU ticks in 1 s (no spinning on the error)" \
	"$([ $((t1 - t0)) -le 5 ] && echo 0 || echo 1)" "$(tail -3 "$NSLAB_DIR/refl.log")"
check_status "the error was reported" "$(grep -q 'fast path: Network is down' "$NSLAB_DIR/refl.log" && echo 0 || echo 1)" \
	"$(tail -3 "$NSLAB_DIR/refl.log")"
res=$(py sources "$A1")
f=$(vlab_reflector_counter fast)
check_status "after the flap, 200 sources answered once each, all 200 by the rings (fast path $f)" \
	"$(grep -q '^sources once=200 more=0$' <<<"$res" && [ "$f" -eq 200 ] && echo 0 || echo 1)" "$res"
vlab_reflector_stop

echo "== a VLAN device on the interface"
if ! nslab_exec client ip link add link "$NSLAB_P-c" name vc type vlan id 100 2>/dev/null; then
	# No 802.1Q in this kernel (a module this machine cannot load): reported, not counted.
	echo "  skip  tagged requests: this kernel has no VLAN devices"
else
	nslab_exec inet ip link add link "$DEV" name vs type vlan id 100
	nslab_exec client ip addr add 198.19.100.2/24 dev vc
	nslab_exec inet ip addr add 198.19.100.1/24 dev vs
	nslab_exec client ip link set vc up
	nslab_exec inet ip link set vs up
	vlab_reflector_start "$reflector" --primary 198.19.100.1 --fast-path "$DEV" --rate 0 --byte-budget 0
	res=$(py sources 198.19.100.1)
	f=$(vlab_reflector_counter fast) a=$(vlab_reflector_counter answered)
	check_status "tagged requests: 200 sources answered once each, by the VLAN's sockets (answered $a, fast path $f)" \
		"$(grep -q '^sources once=200 more=0$' <<<"$res" && [ "$f" -eq 0 ] && [ "$a" -eq 200 ] && echo 0 || echo 1)" "$res"
	vlab_reflector_stop
fi

echo "== a full receive ring"
vlab_reflector_start "$reflector" --primary "$A1" --alternate "$A2" --fast-path "$DEV" --threads 1 --rate 0 --byte-budget 0
pid=$(cat "$NSLAB_DIR/refl.pid")
kill -STOP "$pid"
py burst "$A1" >/dev/null
kill -CONT "$pid"
sleep 0.5
f=$(vlab_reflector_counter fast) d=$(vlab_reflector_counter drops)
check_status "5000 requests to a stopped server: $f answered from the ring, $d counted as ring drops" \
	"$([ "$f" -ge 4000 ] && [ "$d" -gt 0 ] && [ $((f + d)) -eq 5000 ] && echo 0 || echo 1)" \
	"$(tail -1 "$NSLAB_DIR/refl.log")"
vlab_reflector_stop

echo "== default rate limits (200/s, burst 400)"
vlab_reflector_start "$reflector" --primary "$A1" --alternate "$A2" --fast-path "$DEV" --threads 1
res=$(py flood "$A1")
secs=$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$res")
n=$(vlab_reflector_counter answered) l=$(vlab_reflector_counter limited)
limit=$(awk -v s="$secs" 'BEGIN { printf "%d", 400 + 200 * (s + 0.6) + 1 }')
# The server's own counts: the client's receive buffer may not hold every answer of a burst.
check_status "1000 requests in ${secs}s from one source: the server answered $n (400 to $limit), limited $l" \
	"$([ "$n" -le "$limit" ] && [ "$n" -ge 400 ] && [ $((n + l)) -eq 1000 ] && echo 0 || echo 1)" \
	"$res; $(tail -1 "$NSLAB_DIR/refl.log")"
vlab_reflector_stop

echo "== natcheck through kernel NATs against lab reflectors on the rings (sim/run.sh)"
out=$(bash "$SRC/sim/run.sh" --reflector-args "--fast-path auto" --out "$NSLAB_DIR/sim" \
	--profile open-internet --profile port-restricted --profile symmetric-random \
	--profile full-cone --profile restricted-cone --profile address-dependent-mapping \
	--profile hairpin-on --profile symmetric-sequential 2>&1) && rc=0 || rc=$?
check_status "8 lab profiles, every expected field, with --fast-path auto" "$rc" "$out"

echo "== refusals"
refuse() { # NAME WANT-TEXT CMD...
	local name=$1 want=$2 out rc=0
	shift 2
	out=$("$@" 2>&1) || rc=$?
	check_status "$name: exit 1, \"$want\"" "$([ "$rc" -eq 1 ] && grep -qF -- "$want" <<<"$out" && echo 0 || echo 1)" "rc=$rc: $out"
}
refuse "--fast-path lo (not Ethernet)" "needs an Ethernet interface" \
	nslab_exec inet timeout 5 "$reflector" --primary "$A1" --fast-path lo --no-drop
refuse "--fast-path auto when no interface holds the primary address" "no interface holds 198.18.99.99" \
	nslab_exec inet timeout 5 "$reflector" --primary 198.18.99.99 --fast-path auto --no-drop
refuse "--fast-path on a missing interface" "No such device" \
	nslab_exec inet timeout 5 "$reflector" --primary "$A1" --fast-path nosuchdev0 --no-drop
nslab_exec inet ip addr add 2001:db8::1/64 dev "$DEV" nodad
refuse "--fast-path with an IPv6 server" "needs an Ethernet interface and an IPv4 address" \
	nslab_exec inet timeout 5 "$reflector" --primary 2001:db8::1 --fast-path "$DEV" --no-drop
refuse "--fast-path without CAP_NET_RAW" "Operation not permitted" \
	nslab_exec inet timeout 5 setpriv --reuid nobody --regid nogroup --clear-groups --inh-caps=-all \
	"$reflector" --primary "$A1" --port 20000 --alt-port 20001 --fast-path "$DEV"

checks_verdict
