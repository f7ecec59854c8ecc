#!/usr/bin/env bash
# natcheck-reflector under a flood of random and truncated datagrams from 32 source addresses
# (and valid requests far beyond the per-source limit from one of them): a separate client
# must keep getting every answer, the flood must get no amplification, and the server's memory
# must not grow.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NC_BUILD:-$SRC/build}
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root for namespaces"; exit 77; fi
P=ncfl$$
dir=$(mktemp -d)
cleanup() {
	set +e
	[ -e "$dir/refl.pid" ] && kill "$(cat "$dir/refl.pid")" 2>/dev/null
	for ns in gen srv; do ip netns pids "$P-$ns" 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del "$P-$ns" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
ip netns add "$P-gen" || { echo "SKIP: cannot create namespaces"; exit 77; }
ip netns add "$P-srv"
ip link add g0 netns "$P-gen" type veth peer name s0 netns "$P-srv"
for i in $(seq 10 41); do ip -n "$P-gen" addr add "198.18.5.$i/16" dev g0; done
ip -n "$P-gen" addr add 198.18.6.1/16 dev g0 # the well-behaved client
ip -n "$P-srv" addr add 198.18.1.1/16 dev s0
ip -n "$P-srv" addr add 198.18.1.2/16 dev s0
for ns in gen srv; do ip -n "$P-$ns" link set lo up; done
ip -n "$P-gen" link set g0 up
ip -n "$P-srv" link set s0 up

ip netns exec "$P-srv" "$BUILD/reflector/natcheck-reflector" --primary 198.18.1.1 --alternate 198.18.1.2 \
	--pidfile "$dir/refl.pid" >"$dir/refl.log" 2>&1 &
for _ in $(seq 100); do
	ip netns exec "$P-srv" ss -Hlun | grep -q " 198.18.1.2:3479 " && [ -s "$dir/refl.pid" ] && break
	sleep 0.05
done
pid=$(cat "$dir/refl.pid")
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }

# Valid requests from the client: each must be answered (5 tries at 200 ms, like a real client).
probe() {
	ip netns exec "$P-gen" python3 - "$@" <<'PY'
import os, socket, struct, sys
ok = 0
for i in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("198.18.6.1", 0))
    s.settimeout(0.2)
    tid = os.urandom(12)
    req = struct.pack("!HHI", 1, 0, 0x2112A442) + tid
    for _ in range(5):
        s.sendto(req, ("198.18.1.1", 3478))
        try:
            data, src = s.recvfrom(2048)
            if data[8:20] == tid and data[:2] == b"\x01\x01":
                ok += 1
                break
        except socket.timeout:
            pass
    s.close()
print(ok)
PY
}

[ "$(probe 20)" = 20 ] || { echo "FAIL: the reflector does not answer before the flood"; exit 1; }
rss_before=$(rss)

# The flood: random bytes, truncated STUN headers, bad lengths, and valid requests beyond the
# rate limit, from 32 source addresses and many ports, for 6 seconds.
ip netns exec "$P-gen" python3 - <<'PY' >"$dir/flood.out" &
import os, random, socket, struct, time
socks = []
for i in range(10, 42):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((f"198.18.5.{i}", 0))
    s.setblocking(False)
    socks.append(s)
valid = struct.pack("!HHI", 1, 0, 0x2112A442) + os.urandom(12)
sent, answers, end = 0, 0, time.time() + 6
while time.time() < end:
    for s in socks:
        k = random.randrange(4)
        if k == 0:
            pkt = os.urandom(random.randrange(0, 600))
        elif k == 1:
            pkt = valid[:random.randrange(0, 20)]
        elif k == 2:
            pkt = struct.pack("!HHI", 1, random.randrange(4, 2000, 4), 0x2112A442) + os.urandom(12 + random.randrange(8))
        else:
            pkt = valid
        try:
            s.sendto(pkt, ("198.18.1.1", 3478 + random.randrange(2)))
            sent += 1
        except BlockingIOError:
            pass
        try:
            while True:
                s.recv(2048)
                answers += 1
        except BlockingIOError:
            pass
print(sent, answers)
PY
flood=$!
during=$(probe 30)
wait "$flood"
read -r sent answers <"$dir/flood.out"
after=$(probe 20)
rss_after=$(rss)
kill -USR1 "$pid"
sleep 0.2
echo "flood: $sent datagrams sent, $answers answers came back to the flooders"
echo "client: $during/30 answered during the flood, $after/20 after"
echo "reflector RSS: $rss_before kB before, $rss_after kB after"
grep -E "answered|malformed" "$dir/refl.log" | tail -1
fail=0
[ "$during" -eq 30 ] || { echo "FAIL: valid requests went unanswered during the flood"; fail=1; }
[ "$after" -eq 20 ] || { echo "FAIL: valid requests went unanswered after the flood"; fail=1; }
# The rate limit holds: each of 32 sources may get its burst (400) plus 200/s for the ~6 s of
# the flood, far below what it sent.
[ "$answers" -lt $((32 * (400 + 200 * 7))) ] || { echo "FAIL: flooders got $answers answers"; fail=1; }
[ "$rss_after" -le $((rss_before + 1024)) ] || { echo "FAIL: RSS grew by more than 1 MB"; fail=1; }
[ "$fail" -eq 0 ] && echo "PASS"
exit "$fail"
