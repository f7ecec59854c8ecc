#!/usr/bin/env bash
# Stock STUN clients against natcheck-reflector, with no NAT in between (a client namespace and
# a server namespace on one veth), so every client must see "open"/no NAT and every change
# test must be answered from the endpoint it asked for:
#   - Debian's Vovida `stun` client (RFC 3489 "classic" messages, no magic cookie);
#   - coturn's `turnutils_natdiscovery -m -f` (RFC 5780), and `-f -P` (PADDING: requests and
#     answers larger than the MTU, so both are fragmented);
#   - a python3 client for what those do not cover: STUN over TCP on all four endpoints
#     (CHANGE-REQUEST and RESPONSE-PORT refused with 420 there), RESPONSE-PORT over UDP, the
#     exact source address of each change answer, and single-address mode (420, no
#     OTHER-ADDRESS).
# All of it twice: on the UDP sockets, and with --fast-path on the server's interface (packet
# rings, reflector/fastpath.h), where the counters must show that the fast path answered.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NC_BUILD:-$SRC/build}
# shellcheck source=tests/lib/vethlab.sh
source "$SRC/tests/lib/vethlab.sh"
need_root
need_tool stun turnutils_natdiscovery python3
reflector=$BUILD/reflector/natcheck-reflector
[ -x "$reflector" ] || { echo "FAIL: $reflector is not built"; exit 1; }
vlab_up "ncri$$" 198.18.7.2
A1=$NSLAB_A1 A2=$NSLAB_A2
has() { grep -qF -- "$2" <<<"$1" && echo 0 || echo 1; }

pyclient() { # MODE: the python3 protocol checks, one "ok ..." or "FAIL ..." line each
	nslab_exec client python3 - "$1" "$A1" "$A2" <<'PY'
import os, socket, struct, sys
mode, A1, A2 = sys.argv[1], sys.argv[2], sys.argv[3]
COOKIE = 0x2112A442

def req(attrs=b""):
    tid = os.urandom(12)
    return struct.pack("!HHI", 1, len(attrs), COOKIE) + tid + attrs, tid

def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)

def parse(data):
    mtype, mlen = struct.unpack("!HH", data[:4])
    out, off = {}, 20
    while off + 4 <= 20 + mlen:
        t, l = struct.unpack("!HH", data[off:off + 4])
        out[t] = data[off + 4:off + 4 + l]
        off += 4 + l + (-l % 4)
    return mtype, out

def addr(v, xor=False):
    port, ip = struct.unpack("!H", v[2:4])[0], v[4:8]
    if xor:
        port ^= COOKIE >> 16
        ip = bytes(a ^ b for a, b in zip(ip, struct.pack("!I", COOKIE)))
    return f"{socket.inet_ntoa(ip)}:{port}"

def report(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f" ({detail})"))

def udp(dest, attrs=b"", timeout=1.0, sock=None, listen=None):
    s = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if not sock:
        s.bind(("198.18.7.2", 0))
    r = listen or s
    r.settimeout(timeout)
    m, tid = req(attrs)
    s.sendto(m, dest)
    try:
        data, src = r.recvfrom(4096)
    except socket.timeout:
        return None, None, s
    return data, src, s

def tcp(dest, attrs=b""):
    s = socket.create_connection(dest, timeout=2)
    m, tid = req(attrs)
    s.sendall(m)
    def read(n):
        got = b""
        while len(got) < n:
            chunk = s.recv(n - len(got))
            if not chunk:
                return None  # closed by the server: callers see type 0
            got += chunk
        return got
    hdr = read(20)
    body = read(struct.unpack("!H", hdr[2:4])[0]) if hdr else None
    if hdr is None or body is None:
        s.close()
        return struct.pack("!HHI", 0, 0, 0) + bytes(12), None
    local = s.getsockname()
    s.close()
    return hdr + body, local

CR = lambda ip, port: attr(0x0003, struct.pack("!I", (4 if ip else 0) | (2 if port else 0)))

if mode == "dual":
    eps = [(A1, 3478), (A1, 3479), (A2, 3478), (A2, 3479)]
    other = {eps[0]: eps[3], eps[1]: eps[2], eps[2]: eps[1], eps[3]: eps[0]}
    # RFC 5780 Table 1 over UDP, from every endpoint: the answer's real source address,
    # RESPONSE-ORIGIN and OTHER-ADDRESS.
    for d in eps:
        for ip in (0, 1):
            for port in (0, 1):
                want = ((A2 if d[0] == A1 else A1) if ip else d[0],
                        (3479 if d[1] == 3478 else 3478) if port else d[1])
                data, src, s = udp(d, CR(ip, port))
                s.close()
                name = f"UDP {d[0]}:{d[1]} change ip={ip} port={port} answered from {want[0]}:{want[1]}"
                if data is None:
                    report(name, False, "no answer")
                    continue
                t, a = parse(data)
                o = other[d]
                report(name, t == 0x0101 and src == want and addr(a[0x802b]) == f"{want[0]}:{want[1]}"
                       and addr(a[0x802c]) == f"{o[0]}:{o[1]}",
                       f"type {t:#x} from {src} origin {addr(a.get(0x802b, bytes(8)))} other {addr(a.get(0x802c, bytes(8)))}")
    # RESPONSE-PORT (RFC 5780 §7.5): the answer goes to the same IP at the given port.
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("198.18.7.2", 0))
    lport = listener.getsockname()[1]
    data, src, s = udp(eps[0], attr(0x0027, struct.pack("!HH", lport, 0)), listen=listener)
    ok = data is not None and parse(data)[0] == 0x0101
    report(f"UDP RESPONSE-PORT {lport}: answer arrives on that port", ok, "no answer there")
    data, src, s = udp(eps[0], attr(0x0027, struct.pack("!HH", lport, 0)) + attr(0x0026, b"x" * 64))
    ok = data is not None and parse(data)[0] == 0x0111 and parse(data)[1][0x0009][2:4] == b"\x04\x00"
    report("UDP RESPONSE-PORT with PADDING: 400", ok, repr(data))
    # Unknown comprehension-required attribute: 420 with UNKNOWN-ATTRIBUTES.
    data, src, s = udp(eps[0], attr(0x7F01, b"abcd"))
    ok = data is not None and parse(data)[0] == 0x0111 and parse(data)[1].get(0x000A, b"")[:2] == b"\x7f\x01"
    report("UDP unknown comprehension-required attribute: 420 naming it", ok, repr(data))
    # STUN over TCP on every endpoint: Binding works, changes and RESPONSE-PORT get 420.
    for d in eps:
        data, local = tcp(d)
        t, a = parse(data)
        report(f"TCP {d[0]}:{d[1]} Binding: XOR-MAPPED-ADDRESS is the client's",
               t == 0x0101 and addr(a[0x0020], True) == f"{local[0]}:{local[1]}", f"type {t:#x}")
        data, _ = tcp(d, CR(1, 1))
        t, a = parse(data)
        report(f"TCP {d[0]}:{d[1]} CHANGE-REQUEST: 420", t == 0x0111 and a[0x0009][2:4] == b"\x04\x14", f"type {t:#x}")
    # 300 connections that never ask (above the limit of 256) do not lock a real client out.
    idle = [socket.create_connection(eps[1], timeout=2) for _ in range(300)]
    data, local = tcp(eps[1])
    report("TCP: answered while 300 idle connections are held open", parse(data)[0] == 0x0101)
    for c in idle:
        c.close()
    data, _ = tcp(eps[0], attr(0x0027, struct.pack("!HH", 40000, 0)))
    report("TCP RESPONSE-PORT: 420", parse(data)[0] == 0x0111 and parse(data)[1][0x0009][2:4] == b"\x04\x14")
    # Silence: a response, an indication and garbage get nothing.
    for name, pkt in (("a response", struct.pack("!HHI", 0x0101, 0, COOKIE) + os.urandom(12)),
                      ("an indication", struct.pack("!HHI", 0x0011, 0, COOKIE) + os.urandom(12)),
                      ("garbage", os.urandom(64))):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.3)
        s.sendto(pkt, eps[0])
        try:
            s.recvfrom(4096)
            report(f"UDP {name}: no answer", False, "answered")
        except socket.timeout:
            report(f"UDP {name}: no answer", True)
else:
    # Single-address mode (RFC 5780 §6): no OTHER-ADDRESS, CHANGE-REQUEST answered 420.
    data, src, s = udp((A1, 3478))
    t, a = parse(data)
    report("single address: Binding answered without OTHER-ADDRESS", t == 0x0101 and 0x802c not in a and 0x802b in a)
    for ip, port in ((1, 0), (0, 1), (1, 1)):
        data, src, s = udp((A1, 3478), CR(ip, port))
        ok = data is not None and parse(data)[0] == 0x0111 and parse(data)[1][0x0009][2:4] == b"\x04\x14" \
            and src == (A1, 3478)
        report(f"single address: CHANGE-REQUEST ip={ip} port={port}: 420 from the same endpoint", ok, repr(src))
PY
}

# fast_path_used: in the fast-path round, the counters must show answers sent by the rings.
fast_path_used() {
	local n
	[ "$mode" = fast-path ] || return 0
	n=$(vlab_reflector_counter fast)
	check_status "fast path: the packet rings sent $n answers" "$([ "$n" -gt 0 ] && echo 0 || echo 1)" \
		"$(tail -3 "$NSLAB_DIR/refl.log")"
}

for mode in sockets fast-path; do
	mode_args=()
	[ "$mode" = fast-path ] && mode_args=(--fast-path "$NSLAB_P-s")
	echo "== $mode, two addresses: natcheck-reflector --primary $A1 --alternate $A2 ${mode_args[*]}"
	vlab_reflector_start "$reflector" --primary "$A1" --alternate "$A2" "${mode_args[@]}"
	# Started as root, it binds and then becomes nobody: every uid and gid, and no other groups.
	nobody="$(id -u nobody) $(id -u nobody) $(id -u nobody) $(id -u nobody)"
	ids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$(cat "$NSLAB_DIR/refl.pid")/status")
	check_status "privileges dropped to nobody after binding (Uid: $ids)" "$([ "$ids" = "$nobody" ] && echo 0 || echo 1)" \
		"$(grep -E '^(Uid|Gid|Groups):' "/proc/$(cat "$NSLAB_DIR/refl.pid")/status")"
	out=$(nslab_exec client timeout 60 stun "$A1" -v 2>&1 || true)
	check_status "Vovida stun: tests I, II (change ip+port), III (change port) answered" \
		"$(grep -q "test I = 1" <<<"$out" && grep -q "test II = 1" <<<"$out" && grep -q "test III = 1" <<<"$out" && echo 0 || echo 1)" \
		"$(grep -E '^test|Primary' <<<"$out")"
	check_status "Vovida stun: CHANGED-ADDRESS is the other address and port" "$(has "$out" "ChangedAddress = $A2:3479")" \
		"$(grep ChangedAddress <<<"$out" | head -2)"
	check_status "Vovida stun: mapped address is the client's own (no NAT): \"Primary: Open\"" "$(has "$out" "Primary: Open")" \
		"$(grep -E 'Primary|MappedAddress' <<<"$out" | head -3)"

	out=$(nslab_exec client timeout 60 turnutils_natdiscovery -m -f "$A1" 2>&1 || true)
	check_status "natdiscovery -m: endpoint-independent mapping" "$(has "$out" "Endpoint Independent Mapping")" "$(tail -20 <<<"$out")"
	check_status "natdiscovery -f: endpoint-independent filtering (change answers received)" \
		"$(has "$out" "Endpoint Independent Filtering")" "$(tail -20 <<<"$out")"
	check_status "natdiscovery: RESPONSE-ORIGIN of the change ip+port answer is $A2:3479" \
		"$(has "$out" "Response origin: : $A2:3479")" "$(grep -i origin <<<"$out")"
	check_status "natdiscovery: mapped == xor-mapped (MAPPED-ADDRESS sent too)" "$(has "$out" "No ALG: Mapped == XOR-Mapped")" \
		"$(grep -i alg <<<"$out")"
	out=$(nslab_exec client timeout 60 turnutils_natdiscovery -f -P "$A1" 2>&1 || true)
	check_status "natdiscovery -f -P (1500 bytes of PADDING, fragmented both ways): endpoint-independent filtering" \
		"$(has "$out" "Endpoint Independent Filtering")" "$(tail -8 <<<"$out")"

	res=$(pyclient dual)
	while read -r status rest; do check_status "$rest" "$([ "$status" = ok ] && echo 0 || echo 1)" "$rest"; done <<<"$res"
	fast_path_used
	vlab_reflector_stop

	echo "== $mode, one address: natcheck-reflector --primary $A1 ${mode_args[*]}"
	vlab_reflector_start "$reflector" --primary "$A1" "${mode_args[@]}"
	res=$(pyclient single)
	while read -r status rest; do check_status "$rest" "$([ "$status" = ok ] && echo 0 || echo 1)" "$rest"; done <<<"$res"
	out=$(nslab_exec client timeout 60 stun "$A1" -v 2>&1 || true)
	check_status "Vovida stun against one address: test I answered, no CHANGED-ADDRESS to follow" \
		"$(grep -q "test I = 1" <<<"$out" && ! grep -q "ChangedAddress = $A2" <<<"$out" && echo 0 || echo 1)" \
		"$(grep -E '^test|Primary|Changed' <<<"$out")"
	fast_path_used
	vlab_reflector_stop

done

checks_verdict
