#!/usr/bin/env bash
# Issue 10's security checks on the relay, on the pair lab (sim/run.sh --pair, sim/lib/pairs.sh):
# this file is also the PAIR_VPN_HOOK that pairs.sh sources inside the case once the relayed
# tunnel (symmetric-random x symmetric-random) carries its 10 pings.
#
#  1. A capture (tcpdump, libpcap) on punchvpnd's link (the internet namespace's bridge i0)
#     while a 16-byte marker crosses the tunnel from host A to host B: 50 pings with the marker
#     as their pad (-p) and 64 KiB of the repeated marker over TCP. The capture must hold
#     relayed traffic (UDP to and from punchvpnd's port, at least 100 packets) and none of the
#     marker's 16 rotations. A control proves the search can fail: the marker sent in clear
#     (UDP from host A to 198.18.1.2, outside the tunnel) must be found in the same capture.
#  2. punchvpnd holds no key that opens tunnel traffic:
#     - its command line names one key file, the server's own (S.key), and no config;
#     - its open files include neither host's key file;
#     - its readable memory holds neither host's private key (the 32 raw bytes), while the
#       same scan finds its own private key there (the scan works);
#     - the server's key is not a host's key.
# Exit 77 (skip) when not root or without namespaces.

MARK=PVMARK-7f3a9c1e! # 16 bytes

# ---- The hook (sourced by sim/lib/pairs.sh inside the case; its globals: PP, PDIR, ...) ----

# cap_keys PID: "S_found A_found B_found": whether each key's raw bytes are in PID's memory.
cap_keys() {
	python3 - "$1" "$PDIR/pv" <<'PY'
import base64, re, sys
pid, d = sys.argv[1], sys.argv[2]
keys = {h: base64.b64decode(open("%s/%s.key" % (d, h)).read().strip()) for h in "SAB"}
found = dict.fromkeys(keys, 0)
with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
    for l in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) r", l)
        if not m:
            continue
        lo, hi = int(m.group(1), 16), int(m.group(2), 16)
        try:
            mem.seek(lo)
            buf = mem.read(hi - lo)
        except (OSError, ValueError, OverflowError):
            continue
        for h, k in keys.items():
            if k in buf:
                found[h] = 1
print("S_found=%d A_found=%d B_found=%d" % (found["S"], found["A"], found["B"]))
PY
}

pair_vpn_hook() {
	local inet=$PP-inet pcap=$PDIR/relay.pcap tpid pid hex srv
	ip netns exec "$inet" tcpdump -i i0 -n -s 0 --immediate-mode -U -w "$pcap" >"$PDIR/tcpdump.log" 2>&1 &
	tpid=$!
	for _ in $(seq 100); do
		grep -q 'listening on' "$PDIR/tcpdump.log" && break
		sleep 0.05
	done
	hex=$(printf %s "$MARK" | od -An -tx1 | tr -d ' \n')
	ip netns exec "$(pair_host_ns A)" ping -n -q -c 50 -i 0.05 -s 1000 -p "$hex" "$PV_ADDR_B" >"$PDIR/ping-marker.txt" 2>&1
	echo "ping_received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$PDIR/ping-marker.txt")" >>"$CAP_OUT"
	# 64 KiB of the marker over TCP through the tunnel: B listens on its tunnel address.
	ip netns exec "$(pair_host_ns B)" python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 40997))
s.listen(1)
s.settimeout(20)
c, _ = s.accept()
c.settimeout(20)
n = 0
while True:
    b = c.recv(65536)
    if not b:
        break
    n += len(b)
print(n)' "$PV_ADDR_B" >"$PDIR/tcp-rx.txt" 2>&1 &
	srv=$!
	for _ in $(seq 100); do
		ip netns exec "$(pair_host_ns B)" ss -Hltn | grep -q " $PV_ADDR_B:40997 " && break
		sleep 0.05
	done
	ip netns exec "$(pair_host_ns A)" python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 40997), timeout=20)
s.sendall(sys.argv[2].encode() * 4096)
s.close()' "$PV_ADDR_B" "$MARK" 2>>"$PDIR/tcp-rx.txt"
	wait "$srv"
	echo "tcp_received=$(head -n 1 "$PDIR/tcp-rx.txt")" >>"$CAP_OUT"
	# The control: the marker in clear, outside the tunnel, on the same link, to a sink (no
	# ICMP error quoting it back).
	ip netns exec "$inet" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 40998))
s.settimeout(5)
for _ in range(3):
    s.recv(2048)' "$NSLAB_A2" 2>/dev/null &
	srv=$!
	for _ in $(seq 100); do
		ip netns exec "$inet" ss -Hlun | grep -q " $NSLAB_A2:40998 " && break
		sleep 0.05
	done
	ip netns exec "$(pair_host_ns A)" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(sys.argv[2].encode() * 4, (sys.argv[1], 40998))' "$NSLAB_A2" "$MARK"
	wait "$srv"
	sleep 0.3
	kill -INT "$tpid"
	wait "$tpid"
	python3 - "$pcap" "$MARK" "$PVD_PORT" >>"$CAP_OUT" <<'PY'
import struct, sys
raw = open(sys.argv[1], "rb").read()
mark = sys.argv[2].encode()
port = int(sys.argv[3])
rot = [mark[i:] + mark[:i] for i in range(len(mark))]
# pcap records (Ethernet): every record with a rotation of the marker counts (any protocol);
# the control is UDP to port 40998. UDP to or from the server's port is the relayed traffic.
le = raw[:4] == b"\xd4\xc3\xb2\xa1"
off, udp, hits, ctl_hits, n, leaks = 24, 0, 0, 0, 0, []
while off + 16 <= len(raw):
    incl = struct.unpack("<I" if le else ">I", raw[off + 8:off + 12])[0]
    pkt = raw[off + 16:off + 16 + incl]
    off += 16 + incl
    n += 1
    has = any(r in pkt for r in rot)
    ctl = False
    if len(pkt) >= 42 and pkt[12:14] == b"\x08\x00" and pkt[23] == 17:
        ihl = (pkt[14] & 15) * 4
        sp, dp = struct.unpack(">HH", pkt[14 + ihl:18 + ihl])
        ctl = dp == 40998
        udp += port in (sp, dp)
    if ctl:
        ctl_hits += has
    elif has:
        hits += 1
        leaks.append(pkt[14:34].hex())
print("relay_udp=%d marker_hits=%d control_hits=%d packets=%d leaks=%s" %
      (udp, hits, ctl_hits, n, ",".join(leaks) or "-"))
PY
	pid=$(cat "$PDIR/pv/punchvpnd.pid")
	{
		echo "pvd_cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")"
		echo "pvd_files=$(find "/proc/$pid/fd" -mindepth 1 -printf '%l ' 2>/dev/null)"
		echo "pvd_user=$(ps -o user= -p "$pid")"
		# ASan reserves terabytes of shadow and allocator address space: its heap (where
		# the key is) cannot be read through /proc/PID/mem in any useful time, so the
		# sanitizer tree does not scan (the plain tree does).
		if grep -q '^NC_SANITIZE:BOOL=ON' "$NC_BUILD/CMakeCache.txt" 2>/dev/null; then
			echo "pvd_mem=sanitizer-build"
		else
			echo "pvd_mem=$(cap_keys "$pid")"
		fi
		echo "keydir=$PDIR/pv"
		echo "pvd_pub=$(cat "$PDIR/pv/S.pub") a_pub=$(cat "$PDIR/pv/A.pub") b_pub=$(cat "$PDIR/pv/B.pub")"
	} >>"$CAP_OUT"
	return 0
}

# ---- The test ----
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0
set -u
NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$NC_SRC/tests/lib/pairtest.sh"
pairtest_init relaycap tcpdump
: >"$W/cap.env"

PAIR_VPN_HOOK=$NC_SRC/tests/integration/test_vpn_relay_capture.sh CAP_OUT=$W/cap.env \
	pairtest_run relay "$W/out" --pair symmetric-random:symmetric-random
rc=$?
sed 's/^/    measured: /' "$W/cap.env"
check_status "the relayed pair case passed (10/10 pings, path relay, down cleanly)" "$rc"

# get KEY: a recorded value (the first word after KEY=).
get() { grep -o "\b$1=[^ ]*" "$W/cap.env" | head -n 1 | cut -d= -f2-; }

check_equal "50 marker pings answered through the tunnel" 50 "$(get ping_received)"
check_equal "64 KiB of the marker received over TCP through the tunnel" 65536 "$(get tcp_received)"
n=$(get relay_udp)
[ "${n:-0}" -ge 100 ]
check_status "the capture on punchvpnd's link saw the relayed traffic (UDP to/from port 51901: ${n:-none} >= 100)" $?
check_equal "no packet of the capture but the control holds the marker ($(get packets) packets)" 0 "$(get marker_hits)"
c=$(get control_hits)
[ "${c:-0}" -ge 1 ]
check_status "control: the marker sent in clear is found in the same capture (${c:-none} packets)" $?
kd=$(get keydir)
cmd=$(sed -n 's/^pvd_cmdline=//p' "$W/cap.env")
case $cmd in
*--key\ "$kd/S.key"*) check_pass "punchvpnd's command line names the server's own key file (S.key)" ;;
*) check_fail "punchvpnd's command line names the server's own key file (S.key)" "$cmd" ;;
esac
others=$(tr ' ' '\n' <<<"$cmd" | grep -c -e '\.key$' -e '\.conf$')
check_equal "punchvpnd's command line names no other key file and no config" 1 "$others"
files=$(sed -n 's/^pvd_files=//p' "$W/cap.env")
case $files in
*"$kd/A.key"* | *"$kd/B.key"* | *"$kd/pva.conf"* | *"$kd/pvb.conf"*) check_fail "punchvpnd has no host key or config open" "$files" ;;
*) check_pass "punchvpnd has no host key or config open" ;;
esac
check_equal "punchvpnd runs as nobody (cannot read the 0600 host keys)" nobody "$(get pvd_user)"
if [ "$(sed -n 's/^pvd_mem=//p' "$W/cap.env")" = sanitizer-build ]; then
	echo "  skip  punchvpnd's memory scan (ASan build: its multi-terabyte mappings cannot be read; the plain tree checks it)"
else
	check_equal "control: punchvpnd's own private key is found by the memory scan" 1 "$(get S_found)"
	check_equal "punchvpnd's memory holds no private key of host A" 0 "$(get A_found)"
	check_equal "punchvpnd's memory holds no private key of host B" 0 "$(get B_found)"
fi
s=$(get pvd_pub)
[ -n "$s" ] && [ "$s" != "$(get a_pub)" ] && [ "$s" != "$(get b_pub)" ]
check_status "the server's key is neither host's key" $?
pairtest_done
