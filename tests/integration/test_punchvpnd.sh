#!/usr/bin/env bash
# punchvpnd, the rendezvous and blind relay, driven by pvcoord (a scriptable test client)
# in the namespace lab:
#
#   client  10.1.0.2 --+                                  +-- inet 198.18.1.1 punchvpnd
#   client2 10.1.0.3 --+-- router (masquerade) 198.18.10.1 +--      198.18.1.2/.3, fd18::1-3
#
# Peers: A (client, UDP) and B (client2, UDP) list each other; C (inet) lists A, who does not
# list C; D (client, TCP) and B list each other later; E seals under a wrong server key; F
# floods; G registers over IPv6; H (client, TCP) stops reading.
#
# Checks: bad command lines and key files get one clear message and a non-zero exit; the
# daemon drops to --user; REGISTERED shows the NAT's mapping; INTROs go to both mutual peers
# with endpoints and profiles, again on a profile change, never to a pair that is not mutual;
# relay forwards between mutual peers only, and not from unregistered sources; a replayed
# registration, one under a wrong server key and one with a skewed clock get no answer and
# are counted; the per-IP registration rate and the per-peer relay rate hold; TCP framing
# (register over TCP, relay TCP<->UDP), bad frames, idle and slow connections (a partial
# frame; a reader that stops), the connection cap; IPv6; SIGTERM exits 0 with the counters; after a restart re-registration restores
# introductions and relaying.
# Exit 77 (skip) when not root or without namespaces.
set -u

NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NC_BUILD=${NC_BUILD:-$NC_SRC/build}
PVD=$NC_BUILD/vpn/punchvpnd
PV=$NC_BUILD/vpn/punchvpn
PVC=$NC_BUILD/vpn/pvcoord
INJ=$NC_BUILD/vpn/pvinject

# shellcheck source=../lib/nslab.sh
. "$NC_SRC/tests/lib/nslab.sh"
nslab_need_root
need_tool python3 ss
for b in "$PVD" "$PV" "$PVC" "$INJ"; do
	[ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }
done

NSLAB_HOST2=1 nslab_up "pvd$$"
# A client that died must fail its checks, not kill the script on its FIFO.
trap '' PIPE
nslab_nat 'oifname "wan" masquerade'
ip -n "$NSLAB_P-inet" addr add 198.18.1.3/16 dev i0
for a in 1 2 3; do ip -n "$NSLAB_P-inet" addr add "fd18::$a/64" dev i0 nodad; done
W=$NSLAB_DIR
umask 077

SRV=198.18.1.1:51901
SRV6='[fd18::1]:51901'
"$PV" genkey >"$W/server.key"
"$PV" genkey >"$W/other.key"
SP=$("$PV" pubkey <"$W/server.key")
OTHER=$("$PV" pubkey <"$W/other.key")
declare -A PUB FD
for n in A B C D E F G H; do
	"$PV" genkey >"$W/$n.key"
	PUB[$n]=$("$PV" pubkey <"$W/$n.key")
done

# ---- bad input: one clear message, non-zero exit, nothing left running ----
bad() { # NAME WANT_STATUS PATTERN ARGS...
	local name=$1 want=$2 pat=$3 out st
	shift 3
	out=$(nslab_exec inet "$PVD" "$@" 2>&1)
	st=$?
	if [ "$st" -eq "$want" ] && grep -q -- "$pat" <<<"$out" && [ "$(grep -c . <<<"$out")" -le 2 ]; then
		check_pass "$name (exit $st: $(head -1 <<<"$out"))"
	else
		check_fail "$name: want exit $want and '$pat'" "exit $st: $out"
	fi
}
cp "$W/server.key" "$W/open.key"
chmod 644 "$W/open.key"
echo "not a key" >"$W/junk.key"
bad "no --listen" 2 "required" --key "$W/server.key" --user nobody
bad "wildcard --listen" 2 "not a unicast" --listen 0.0.0.0:51901 --key "$W/server.key" --user nobody
bad "bad --listen" 2 "not ADDR:PORT" --listen 198.18.1.1 --key "$W/server.key" --user nobody
bad "bad number" 2 "invalid value '12x'" --listen $SRV --key "$W/server.key" --user nobody --relay-pps 12x
bad "root without --user" 2 "without --user" --listen $SRV --key "$W/server.key"
bad "world-readable key" 1 "chmod 600" --listen $SRV --key "$W/open.key" --user nobody
bad "missing key" 1 "nokey" --listen $SRV --key "$W/nokey" --user nobody
bad "junk key" 1 "junk.key" --listen $SRV --key "$W/junk.key" --user nobody
bad "address not here" 1 "198.18.99.1:51901" --listen 198.18.99.1:51901 --key "$W/server.key" --user nobody
bad "unknown user" 1 "no such user" --listen $SRV --key "$W/server.key" --user no-such-user-$$
check_equal "nothing left running after bad input" "" "$(ip netns pids "$NSLAB_P-inet")"

# ---- helpers ----
server_start() {
	nslab_daemon punchvpnd inet "$PVD" --listen $SRV --listen "$SRV6" --key "$W/server.key" \
		--user nobody --reg-rate 20 --reg-burst 40 --relay-pps 50 --max-tcp 4 \
		--keepalive 5 --tcp-idle 6 -v
	nslab_wait_udp inet $SRV || { cat "$W/punchvpnd.log"; exit 1; }
	SPID=$(cat "$W/punchvpnd.pid")
	# "ready" follows the privilege drop.
	for _ in $(seq 100); do grep -q 'ready:' "$W/punchvpnd.log" && break; sleep 0.05; done
}

# client NAME NS ARGS...: pvcoord reading commands from a FIFO, JSON lines to $W/NAME.out.
client() {
	local n=$1 ns=$2 fd
	shift 2
	mkfifo "$W/$n.in"
	: >"$W/$n.out"
	ip netns exec "$NSLAB_P-$ns" "$PVC" --key "$W/$n.key" "$@" <"$W/$n.in" >"$W/$n.out" 2>&1 &
	exec {fd}>"$W/$n.in"
	FD[$n]=$fd
}
say() { echo "$2" >&"${FD[$1]}"; } 2>/dev/null
count() { grep -c -- "$2" "$W/$1.out"; }
# wait_for NAME PATTERN N: until NAME's output has N lines matching (5 s at most).
wait_for() {
	for _ in $(seq 100); do
		[ "$(count "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.05
	done
	return 1
}
field() { # NAME EVENT FIELD: FIELD of NAME's last EVENT line
	grep "\"event\":\"$2\"" "$W/$1.out" | tail -1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$3" 2>/dev/null
}
# register NAME: sends a REGISTER and waits for its REGISTERED (a barrier: what the server
# sent this peer before it has arrived).
register() {
	local before
	before=$(count "$1" '"registered"')
	say "$1" register
	wait_for "$1" '"registered"' $((before + 1))
}
# counter NAME: the daemon's counter, from a fresh SIGUSR1 line.
counter() {
	local before
	before=$(grep -c 'counters:' "$W/punchvpnd.log")
	kill -USR1 "$SPID"
	for _ in $(seq 100); do
		[ "$(grep -c 'counters:' "$W/punchvpnd.log")" -gt "$before" ] && break
		sleep 0.05
	done
	grep 'counters:' "$W/punchvpnd.log" | tail -1 | tr ' ' '\n' | sed -n "s/^$1=//p"
}
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

server_start
check_equal "daemon runs as --user nobody" nobody "$(ps -o user= -p "$SPID" | tr -d ' ')"

# Idle and slow TCP connections, left open now, checked at the end (6 s idle, 10 s slow).
nslab_exec inet python3 -c '
import socket, time
idle = socket.create_connection(("198.18.1.1", 51901))
slow = socket.create_connection(("198.18.1.1", 51901))
slow.send(b"\x00\x40")              # a frame of 64 bytes announced ...
try:
    for _ in range(15):              # ... and dribbled: never idle, never whole
        time.sleep(1)
        slow.send(b"x")
except OSError:
    pass                             # closed by the server: what the test wants
time.sleep(30)' &
SLOWPY=$!

# ---- registration and observed endpoints ----
client A client --server $SRV --server-key "$SP" --want "${PUB[B]}" --local 10.1.0.2:51820
client B client2 --server $SRV --server-key "$SP" --want "${PUB[A]}" --local 10.1.0.3:51820
say A "mapping 2"
register A
obs=$(field A registered observed)
check_status "REGISTERED shows the NAT's mapping (198.18.10.1), not the LAN address" \
	"$([[ $obs == 198.18.10.1:* ]] && echo 0 || echo 1)" "observed '$obs'"
check_equal "keepalive as configured" 5 "$(field A registered keepalive)"
AID=$(field A registered relay_id)

# ---- introductions ----
say B "mapping 4"
register B
BID=$(field B registered relay_id)
BOBS=$(field B registered observed)
wait_for A '"intro"' 1 && wait_for B '"intro"' 1
check_equal "A is introduced to B" "${PUB[B]}" "$(field A intro peer)"
check_equal "B is introduced to A" "${PUB[A]}" "$(field B intro peer)"
check_equal "A's INTRO has B's observed endpoint" "$BOBS" "$(field A intro observed)"
check_equal "B's INTRO has A's observed endpoint" "$obs" "$(field B intro observed)"
check_equal "A's INTRO has B's relay id" "$BID" "$(field A intro relay_id)"
check_equal "A's INTRO has B's local endpoint" "['10.1.0.3:51820']" "$(field A intro local)"
check_equal "B's INTRO has A's profile (mapping)" 2 "$(field B intro mapping)"
check_equal "A's INTRO has B's profile (mapping)" 4 "$(field A intro mapping)"
before=$(count B '"intro"')
say A "mapping 3"
register A
wait_for B '"intro"' $((before + 1))
check_equal "a profile change re-introduces at once" 3 "$(field B intro mapping)"

# ---- a peer the other does not list ----
client C inet --server $SRV --server-key "$SP" --bind 198.18.1.2:40000 --want "${PUB[A]}"
register C
CID=$(field C registered relay_id)
register A; register A; register C
check_equal "C (listing A, not listed by A) gets no INTRO" 0 "$(count C '"intro"')"
check_equal "A gets no INTRO about C" 0 "$(grep '"intro"' "$W/A.out" | grep -c -- "${PUB[C]}")"

# ---- relay ----
say A "relay $BID hello-from-a"
say B "relay $AID hello-from-b"
wait_for B '"relay"' 1 && wait_for A '"relay"' 1
check_equal "A -> B relayed, marked with A's id" "$AID $(hex hello-from-a)" \
	"$(field B relay from) $(field B relay hex)"
check_equal "B -> A relayed" "$BID $(hex hello-from-b)" "$(field A relay from) $(field A relay hex)"
nm0=$(counter relay_not_mutual)
say C "relay $AID from-c"
say A "relay $CID from-a"
register A; register C
check_equal "C -> A (not mutual) not relayed" 0 "$(grep -c "$(hex from-c)" "$W/A.out")"
check_equal "A -> C (not mutual) not relayed" 0 "$(count C '"relay"')"
check_equal "both counted as not mutual" $((nm0 + 2)) "$(counter relay_not_mutual)"
un0=$(counter relay_unregistered)
nslab_exec inet "$INJ" raw "06000000$(printf %08x "$AID")$(hex spoofed)" $SRV
nslab_exec inet "$INJ" raw "06000000$(printf %08x "$AID")$(hex spoofed)" $SRV
register A
check_equal "relay from an unregistered endpoint dropped and counted" \
	"0 $((un0 + 2))" "$(grep -c "$(hex spoofed)" "$W/A.out") $(counter relay_unregistered)"

# ---- refusals: replay, wrong server key, clock skew ----
rp0=$(counter replayed)
ra=$(count A '"registered"')
say A "raw $(field A sent hex)"
nslab_exec inet "$INJ" raw "$(field A sent hex)" 198.18.1.1:51901
register A # barrier: the replays were handled before this
check_equal "a replayed registration gets no answer" $((ra + 1)) "$(count A '"registered"')"
check_equal "replays counted" $((rp0 + 2)) "$(counter replayed)"
af0=$(counter auth_failed)
client E inet --server $SRV --server-key "$OTHER" --bind 198.18.1.2:40001
say E register
# E has sent it (a client just started may send after C otherwise), then C's round trip: the
# server handled E's datagram, queued before C's, by the time C is answered.
wait_for E '"event":"sent"' 1
register C # barrier for the inet side
check_equal "a registration under another server key gets no answer" 0 "$(count E '"registered"')"
check_equal "and is counted" $((af0 + 1)) "$(counter auth_failed)"
cs0=$(counter clock_skew)
say C "register -200000"
register C
check_equal "a registration 200 s in the past is refused and counted" $((cs0 + 1)) "$(counter clock_skew)"

# ---- rate limits ----
client F inet --server $SRV --server-key "$SP" --bind 198.18.1.3:40000
rl0=$(counter rate_limited)
say F "flood 300"
register C
wait_for F '"registered"' 40
sleep 0.3 # stragglers: the count is a bound, not a sync point
got=$(count F '"registered"')
rl=$(($(counter rate_limited) - rl0))
check_status "per-IP registration rate holds: $got of 300 answered (burst 40, 20/s), $rl limited" \
	"$([ "$got" -ge 40 ] && [ "$got" -le 60 ] && [ "$rl" -ge 240 ] && echo 0 || echo 1)"
check_equal "other sources are not limited" 1 "$(register C && echo 1)"
rr0=$(counter relay_rate)
rb=$(count B '"relay"')
say A "relayflood $BID 300 200"
register A
sleep 0.3
got=$(($(count B '"relay"') - rb))
rr=$(($(counter relay_rate) - rr0))
check_status "per-peer relay rate holds: $got of 300 forwarded (50/s), $rr limited" \
	"$([ "$got" -ge 45 ] && [ "$got" -le 70 ] && [ "$rr" -ge 230 ] && echo 0 || echo 1)"

# ---- TCP ----
# D re-registers every 2 s as a real client does every keepalive (5 s here): it must not
# idle out (6 s) while the test looks elsewhere.
client D client --tcp --server $SRV --server-key "$SP" --want "${PUB[B]}" --every 2
register D
check_status "REGISTER over TCP answered (observed $(field D registered observed))" \
	"$([[ $(field D registered observed) == 198.18.10.1:* ]] && echo 0 || echo 1)"
DID=$(field D registered relay_id)
say B "want ${PUB[D]}"
register B
wait_for D '"intro"' 1
check_equal "D (TCP) introduced to B" "${PUB[B]}" "$(field D intro peer)"
check_equal "B introduced to D, no UDP endpoint for a TCP-only peer" "${PUB[D]} " \
	"$(grep '"intro"' "$W/B.out" | grep -- "${PUB[D]}" | tail -1 | python3 -c 'import json,sys; j=json.loads(sys.stdin.read()); print(j["peer"], j["observed"])')"
say D "relay $BID tcp-to-udp"
say B "relay $DID udp-to-tcp"
wait_for D '"relay"' 1
register B
check_equal "TCP -> UDP relayed" "$DID $(hex tcp-to-udp)" \
	"$(grep "$(hex tcp-to-udp)" "$W/B.out" | python3 -c 'import json,sys; j=json.loads(sys.stdin.read()); print(j["from"], j["hex"])')"
check_equal "UDP -> TCP relayed" "$BID $(hex udp-to-tcp)" "$(field D relay from) $(field D relay hex)"

# ---- showing the TCP mapping (TCP simultaneous open, issue 11) ----
tcp_of() { # NAME PEER: the "tcp" field of NAME's last INTRO about PEER
	grep '"intro"' "$W/$1.out" | grep -- "$2" | tail -1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["tcp"])'
}
check_equal "B's INTRO about D carries D's TCP endpoint (its registration connection)" \
	"$(field D registered observed)" "$(tcp_of B "${PUB[D]}")"
check_equal "and A's none (A registered over UDP only)" "" "$(tcp_of B "${PUB[A]}")"
mf0=$(counter malformed)
say A "show 1"
say A "register"
for _ in $(seq 40); do [ "$(counter malformed)" -gt "$mf0" ] && break; sleep 0.05; done
check_equal "a REGISTER that shows a TCP mapping over UDP is refused, counted" $((mf0 + 1)) \
	"$(counter malformed)"
say A "show 0"
# A second connection of A's key (as punchvpn's showing connection) with COORD_REG_TCP_SHOW:
# B is introduced to A's TCP endpoint at once, and A's relay stays on UDP.
cp "$W/A.key" "$W/A2.key"
ib=$(count B '"intro"')
client A2 client --tcp --server $SRV --server-key "$SP" --want "${PUB[B]}"
A2PID=$!
say A2 "show 1"
register A2
wait_for B '"intro"' $((ib + 1))
check_equal "the showing REGISTER brings B a new INTRO with A's TCP endpoint" \
	"$(field A2 registered observed)" "$(tcp_of B "${PUB[A]}")"
check_status "whose UDP endpoint is A's still" "$(grep '"intro"' "$W/B.out" | grep -- "${PUB[A]}" |
	tail -1 | grep -q "\"observed\":\"$(field A registered observed)\"" && echo 0 || echo 1)"
ra=$(count A '"relay"')
say B "relay $AID still-udp"
wait_for A '"relay"' $((ra + 1))
check_equal "relayed to A over UDP, not over the showing connection" "0 $(hex still-udp)" \
	"$(count A2 '"relay"') $(field A relay hex)"
say A2 quit # gone before the idle-connection count below, which must not see it
for _ in $(seq 100); do kill -0 "$A2PID" 2>/dev/null || break; sleep 0.05; done
cb0=$(counter tcp_closed_bad)
nslab_exec inet python3 -c '
import socket
for frame in (b"\x00\x00", b"\x20\x00" + b"x" * 16):   # length 0; length 8192 > 4096
    s = socket.create_connection(("198.18.1.1", 51901)); s.send(frame)
    s.settimeout(5); assert s.recv(10) == b""           # closed by the server
'
check_equal "frames of length 0 or over the maximum close the connection" $((cb0 + 2)) "$(counter tcp_closed_bad)"

# ---- IPv6 ----
client G inet --server "$SRV6" --server-key "$SP" --bind '[fd18::3]:40000'
register G
check_equal "IPv6 registration sees its endpoint" "[fd18::3]:40000" "$(field G registered observed)"

# ---- idle and slow TCP connections, connection cap ----
for _ in $(seq 40); do
	[ "$(counter tcp_closed_slow)" -ge 1 ] && [ "$(counter tcp_closed_idle)" -ge 1 ] && break
	register D # as a real client does every keepalive: D must not idle out
	sleep 0.5
done
check_equal "an idle TCP connection is closed" 1 "$(counter tcp_closed_idle)"
check_equal "a connection stuck in a partial frame is closed" 1 "$(counter tcp_closed_slow)"
kill "$SLOWPY" 2>/dev/null
register D # still connected: it spoke within the idle time
check_status "a TCP peer that keeps registering stays connected" $?
tr0=$(counter tcp_refused)
nslab_exec inet python3 -c '
import socket, time
conns = [socket.create_connection(("198.18.1.1", 51901)) for _ in range(4)]
time.sleep(0.5)
closed = 0
for c in conns:
    c.settimeout(0.5)
    try:
        closed += c.recv(1) == b""
    except socket.timeout:
        pass
assert closed >= 1, closed
'
check_status "over --max-tcp 4 a new connection is closed at once" $?
check_status "and counted" "$([ "$(counter tcp_refused)" -gt "$tr0" ] && echo 0 || echo 1)"

# A TCP peer that stops reading: what does not fit its 64 KiB is dropped (counted), and after
# 10 s of a full buffer the connection is closed. H lists B, B lists H; B relays 4000-byte
# datagrams to H at B's 50/s, about 200 KB/s, for 3 s.
client H client --tcp --server $SRV --server-key "$SP" --want "${PUB[B]}" --every 2 --rcvbuf 4096
register H
HID=$(field H registered relay_id)
say B "want ${PUB[H]}"
register B
say H pause
ru0=$(counter relay_unreachable)
cs0=$(counter tcp_closed_slow)
for _ in 1 2 3; do
	say B "relayflood $HID 50 4000"
	sleep 1
done
check_status "frames for a TCP peer that does not read are dropped once its buffer is full" \
	"$([ "$(counter relay_unreachable)" -gt "$ru0" ] && echo 0 || echo 1)"
for _ in $(seq 30); do
	[ "$(counter tcp_closed_slow)" -gt "$cs0" ] && break
	sleep 0.5
done
check_equal "and its connection is closed as slow" $((cs0 + 1)) "$(counter tcp_closed_slow)"

# ---- SIGTERM, restart, re-registration ----
kill -TERM "$SPID"
wait "$SPID"
check_equal "SIGTERM: exit status 0" 0 "$?"
check_status "the last log line has the counters" "$(tail -1 "$W/punchvpnd.log" | grep -q 'counters: peers=' && echo 0 || echo 1)"
mv "$W/punchvpnd.log" "$W/punchvpnd-1.log"
server_start
ia=$(count A '"intro"')
ib=$(count B '"intro"')
register A
register B
wait_for A '"intro"' $((ia + 1)) && wait_for B '"intro"' $((ib + 1))
AID2=$(field A registered relay_id)
BID2=$(field B registered relay_id)
check_equal "after a restart re-registration brings the INTROs back (new ids)" "$BID2 $AID2" \
	"$(field A intro relay_id) $(field B intro relay_id)"
say A "relay $BID2 after-restart"
wait_for B "$(hex after-restart)" 1
check_equal "and relaying resumes" "$AID2 $(hex after-restart)" "$(field B relay from) $(field B relay hex)"

for n in A B C D E F G H; do say "$n" quit; done
checks_verdict
