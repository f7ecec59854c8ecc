#!/usr/bin/env bash
# The three-host deployment (S1 at A1, S2 at A2, bouncer S3 at A3, each its own namespace,
# linked by a shared key) gives the same UDP and TCP verdicts as the one-host deployment; and
# the bouncer refuses, and counts, coordination datagrams without a valid authenticator and
# client requests toward any endpoint other than the observed one.
set -euo pipefail
# shellcheck source=tests/lib/tcplab.sh
source "$(dirname "$0")/../lib/tcplab.sh"
tcp_lab_need
nslab_up "nctcp3$$"
trap 'nslab_down; ip netns del "$NSLAB_P-h2" 2>/dev/null; ip netns del "$NSLAB_P-h3" 2>/dev/null' EXIT
nslab_nat 'oifname "wan" masquerade'
FIELDS="udp.mapping udp.filtering tcp.mapping tcp.filtering tcp.consistent tcp.unsolicited tcp.simultaneous_open tcp.hairpin"

# 1. One host: A1, A2 and the bouncer A3.
ip -n "$NSLAB_P-inet" addr add "$A3/16" dev i0
nslab_daemon one inet "$REFL" --no-drop --primary "$NSLAB_A1" --alternate "$NSLAB_A2" --bouncer "$A3"
nslab_wait_udp inet "$NSLAB_A2:3479"
nslab_exec client "$DRV" "$NSLAB_A1" >"$NSLAB_DIR/one.json" 2>"$NSLAB_DIR/one.err"
kill "$(cat "$NSLAB_DIR/one.pid")"
wait "$(cat "$NSLAB_DIR/one.pid")" 2>/dev/null || true
rm -f "$NSLAB_DIR/one.pid"

# 2. Three hosts: A2 and A3 move into namespaces of their own behind the internet namespace.
ip -n "$NSLAB_P-inet" addr del "$NSLAB_A2/16" dev i0
ip -n "$NSLAB_P-inet" addr del "$A3/16" dev i0
ip netns exec "$NSLAB_P-inet" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.i0.proxy_arp=1
for h in h2:$NSLAB_A2 h3:$A3; do
	n=${h%%:*} a=${h#*:}
	ip netns add "$NSLAB_P-$n"
	ip -n "$NSLAB_P-$n" link set lo up
	ip link add "v$n" netns "$NSLAB_P-inet" type veth peer name e0 netns "$NSLAB_P-$n"
	ip -n "$NSLAB_P-$n" addr add "$a/32" dev e0
	ip -n "$NSLAB_P-$n" link set e0 up
	ip -n "$NSLAB_P-$n" route add 169.254.1.1 dev e0
	ip -n "$NSLAB_P-$n" route add default via 169.254.1.1 dev e0 onlink
	ip -n "$NSLAB_P-inet" addr add 169.254.1.1/32 dev "v$n"
	ip -n "$NSLAB_P-inet" link set "v$n" up
	ip netns exec "$NSLAB_P-inet" sysctl -qw "net.ipv4.conf.v$n.proxy_arp=1"
	ip -n "$NSLAB_P-inet" route add "$a/32" dev "v$n"
done
(umask 077 && head -c 32 /dev/urandom >"$NSLAB_DIR/key") # key files must be private
ip netns exec "$NSLAB_P-h3" "$REFL" --no-drop -v --primary "$A3" --bouncer "$A3" --key "$NSLAB_DIR/key" >"$NSLAB_DIR/s3.log" 2>&1 &
echo $! >"$NSLAB_DIR/s3.pid"
ip netns exec "$NSLAB_P-h2" "$REFL" --no-drop --primary "$NSLAB_A2" --partner "$NSLAB_A1" --bouncer "$A3" --key "$NSLAB_DIR/key" >"$NSLAB_DIR/s2.log" 2>&1 &
echo $! >"$NSLAB_DIR/s2.pid"
nslab_daemon s1 inet "$REFL" --no-drop --primary "$NSLAB_A1" --partner "$NSLAB_A2" --bouncer "$A3" --key "$NSLAB_DIR/key"
for f in s1 s2 s3; do wait_log "$NSLAB_DIR/$f.log" "ready:"; done
nslab_exec client "$DRV" "$NSLAB_A1" >"$NSLAB_DIR/three.json" 2>"$NSLAB_DIR/three.err"

fail=0
for f in $FIELDS; do
	a=$(field "$NSLAB_DIR/one.json" "$f") b=$(field "$NSLAB_DIR/three.json" "$f")
	printf '  %-24s one host: %-28s three hosts: %s\n' "$f" "$a" "$b"
	[ "$a" = "$b" ] && [ -n "$a" ] || fail=1
done
[ "$fail" = 0 ] && echo "PASS three hosts give the same verdicts" || { echo "FAIL verdicts differ"; cat "$NSLAB_DIR/three.err"; }

# 3. Refusals. A forged coordination datagram (no key) asking the bouncer to connect to a
# third party, a stale one, and a client request naming another target.
forge() {
	python3 - "$@" <<'PY'
import os, socket, struct, sys, time
ts = int(time.time() * 1000) + int(sys.argv[1])
target = bytes([4, 0]) + struct.pack("!H", 80) + socket.inet_aton("198.18.99.9") + bytes(12)
body = bytes([3, 6, 0, 0]) + struct.pack("!I", 1000) + target + bytes(12)
msg = b"NCK\x01" + bytes([1, 0]) + struct.pack("!HQ", len(body), ts) + os.urandom(16) + bytes(8) + body
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(msg + os.urandom(32), ("198.18.1.3", 3480))
PY
}
ip netns exec "$NSLAB_P-inet" bash -c "$(declare -f forge); forge 0; forge -60000"
line=$(counters s3)
echo "  bouncer: $line"
case $line in *"bad-mac 1"*"stale 1"* | *"stale 1"*"bad-mac 1"*) echo "PASS forged and stale datagrams refused and counted" ;; *) echo "FAIL forged datagrams not counted"; fail=1 ;; esac
# A CONNECT-BACK naming a target other than the observed source, over TCP to S1.
nslab_exec client python3 - "$NSLAB_A1" <<'PY'
import os, socket, struct, sys
tid = os.urandom(12)
def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + bytes((4 - len(v) % 4) % 4)
cookie = 0x2112A442
ip = struct.unpack("!I", socket.inet_aton("198.18.99.9"))[0] ^ cookie
target = bytes([0, 1]) + struct.pack("!HI", 80 ^ (cookie >> 16), ip)
body = attr(0xC001, bytes([3, 6, 0, 0]) + struct.pack("!I", 1000)) + attr(0xC002, target)
typ = 0x2001  # method 0x801, class request, interleaved (RFC 8489 §5)
msg = struct.pack("!HHI", typ, len(body), cookie) + tid + body
s = socket.create_connection((sys.argv[1], 3478), timeout=2)
s.sendall(msg)
ans = s.recv(512)
cls = ((ans[0] & 1) << 1) | ((ans[1] >> 4) & 1)
print("  client asked for 198.18.99.9:80: answer class", cls, "code", ans[26] * 100 + ans[27] if cls == 3 else "-")
sys.exit(0 if cls == 3 else 1)
PY
line=$(counters s1)
echo "  reflector S1: $line"
case $line in *"target refused 1"*) echo "PASS wrong target refused and counted" ;; *) echo "FAIL wrong target not counted"; fail=1 ;; esac
exit $fail
