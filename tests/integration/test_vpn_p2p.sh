#!/usr/bin/env bash
# punchvpn point to point: two namespaces joined by a veth, one peer in each with the other's
# static endpoint.
#
#   [pv-A: pvA 10.100.0.1] vA 10.99.0.1 ---- veth ---- 10.99.0.2 vB [pv-B: pvB 10.100.0.2]
#
# Checks: bad input (malformed config, readable key file) fails with one message and leaves
# nothing; 10/10 pings through the tunnel; status and status --json; a replayed packet, a
# modified packet, an initiation under a key B does not list and a packet for an unknown session
# are dropped and counted by reason; an oversize DF packet is answered with the tunnel MTU;
# `punchvpn down` and SIGTERM remove interface, routes, socket and process.
# Exit 77 (skip) when not root or without namespaces / TUN.
# Environment from ctest: NC_BUILD (build tree), NC_SRC (source tree).
set -u

NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NC_BUILD=${NC_BUILD:-$NC_SRC/build}
PV=$NC_BUILD/vpn/punchvpn
INJ=$NC_BUILD/vpn/pvinject

# shellcheck source=../lib/nslab.sh
. "$NC_SRC/tests/lib/nslab.sh"
nslab_need_root
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
need_tool ping tcpdump python3
[ -x "$PV" ] && [ -x "$INJ" ] || { echo "FAIL: punchvpn or pvinject not built in $NC_BUILD/vpn"; exit 1; }

# shellcheck source=../lib/checks.sh
. "$NC_SRC/tests/lib/checks.sh"

A=pv$$-A
B=pv$$-B
WORK=$(mktemp -d /tmp/vpn-p2p.XXXXXX)
export PUNCHVPN_RUN_DIR=$WORK/run
PIDS=()

cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for ns in "$A" "$B"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

ip netns add "$A"
ip netns add "$B"
ip link add vA netns "$A" type veth peer name vB netns "$B"
ip -n "$A" addr add 10.99.0.1/24 dev vA
ip -n "$B" addr add 10.99.0.2/24 dev vB
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set vA up
ip -n "$B" link set vB up

umask 077
KA=$("$PV" genkey)
KB=$("$PV" genkey)
PA=$(echo "$KA" | "$PV" pubkey)
PB=$(echo "$KB" | "$PV" pubkey)
check_status "genkey | pubkey gives a 44-character key" "$([ ${#PA} -eq 44 ] && echo 0 || echo 1)"

echo "$KA" > "$WORK/a.key"
cat > "$WORK/pvA.conf" <<CONF
[Interface]
PrivateKeyFile = $WORK/a.key
Address = 10.100.0.1/24
ListenPort = 51900
[Peer]
PublicKey = $PB
AllowedIPs = 10.100.0.2/32, 10.200.0.0/16
Endpoint = 10.99.0.2:51900
CONF
cat > "$WORK/pvB.conf" <<CONF
[Interface]
PrivateKey = $KB
Address = 10.100.0.2/24
ListenPort = 51900
[Peer]
PublicKey = $PA
AllowedIPs = 10.100.0.1/32
Endpoint = 10.99.0.1:51900
CONF

# --- bad input: one clear message, non-zero exit, nothing left behind ---
printf '[Interface]\nPrivateKey = %s\nAddress = 10.100.0.9/24\nMTU = big\n' "$KB" > "$WORK/pvX.conf"
out=$(ip netns exec "$A" "$PV" up "$WORK/pvX.conf" 2>&1); rc=$?
check_status "malformed config: exit 1 with file:line" "$([ $rc -eq 1 ] && [[ "$out" == *"pvX.conf:4:"* ]] && echo 0 || echo 1)" "$out"
check_status "malformed config: no secret in the message" "$([[ "$out" != *"$KB"* ]] && echo 0 || echo 1)" "$out"
chmod 644 "$WORK/a.key"
out=$(ip netns exec "$A" "$PV" up "$WORK/pvA.conf" 2>&1); rc=$?
check_status "group/world-readable key file refused" "$([ $rc -eq 1 ] && [[ "$out" == *"chmod 600"* ]] && echo 0 || echo 1)" "$out"
chmod 600 "$WORK/a.key"
left=$(ip -n "$A" -o link show | grep -c ': pv' ; ls "$PUNCHVPN_RUN_DIR" 2>/dev/null | wc -l)
check_equal "bad input left no interface or socket" "0 0" "$(echo $left)"

# --- up, ping ---
ip netns exec "$A" "$PV" up "$WORK/pvA.conf" > "$WORK/A.log" 2>&1 &
PIDS+=($!)
PID_A=$!
ip netns exec "$B" "$PV" up "$WORK/pvB.conf" > "$WORK/B.log" 2>&1 &
PIDS+=($!)
PID_B=$!
for _ in $(seq 100); do
	ip -n "$A" link show pvA >/dev/null 2>&1 && ip -n "$B" link show pvB >/dev/null 2>&1 && break
	sleep 0.05
done
out=$(ip netns exec "$A" ping -c 10 -i 0.2 -W 2 10.100.0.2 2>&1)
got=$(echo "$out" | sed -n 's/.* \([0-9]*\) received.*/\1/p')
check_equal "pings through the tunnel" "10" "${got:-0}"
check_status "route for an AllowedIPs prefix outside the address's subnet" \
	"$(ip -n "$A" route show 10.200.0.0/16 | grep -q pvA && echo 0 || echo 1)"

json=$(ip netns exec "$A" "$PV" status pvA --json)
py_get() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($2)" "$json"; }
check_equal "status --json: peer key" "$PB" "$(py_get '' "d['peers'][0]['public_key']")"
check_equal "status --json: endpoint" "10.99.0.2:51900" "$(py_get '' "d['peers'][0]['endpoint']")"
check_status "status --json: handshake age and bytes both ways" \
	"$(py_get '' "0 if d['peers'][0]['handshake_age_ms'] is not None and d['peers'][0]['rx_bytes']>0 and d['peers'][0]['tx_bytes']>0 else 1")" "$json"
text=$(ip netns exec "$B" "$PV" status pvB)
check_status "status text names the peer and its handshake" \
	"$([[ "$text" == *"peer: $PA"* && "$text" == *"latest handshake:"* ]] && echo 0 || echo 1)" "$text"
check_status "no secret in status or logs" \
	"$(cat "$WORK/A.log" "$WORK/B.log" <(echo "$text$json") | grep -qF -e "$KA" -e "$KB" && echo 1 || echo 0)"

# --- hostile packets: capture a real transport packet from A, replay it, modify it ---
ip netns exec "$B" tcpdump -i vB -U --immediate-mode -w "$WORK/cap.pcap" "udp and src host 10.99.0.1 and dst port 51900" \
	>"$WORK/tcpdump.out" 2>&1 &
TD=$!
PIDS+=($TD)
# Capturing once tcpdump says so, in immediate mode: without it libpcap holds packets in its
# ring until a 1 s block timeout, and the kill below can come first (a flaky capture).
for _ in $(seq 100); do grep -q "listening on" "$WORK/tcpdump.out" && break; sleep 0.05; done
ip netns exec "$A" ping -c 3 -i 0.1 10.100.0.2 >/dev/null 2>&1
sleep 0.3
kill "$TD"
wait "$TD" 2>/dev/null
pkt=$(python3 - "$WORK/cap.pcap" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
off, last = 24, None
while off + 16 <= len(d):
    incl = struct.unpack('<I', d[off+8:off+12])[0]
    frame = d[off+16:off+16+incl]
    off += 16 + incl
    ip = frame[14:] if frame[12:14] == b'\x08\x00' else frame
    if not ip or ip[0] >> 4 != 4: continue
    udp = ip[(ip[0] & 15) * 4:]
    payload = udp[8:]
    if payload[:1] == b'\x04' and len(payload) > 32: last = payload
print(last.hex() if last else '')
PY
)
check_status "captured a transport packet from A" "$([ -n "$pkt" ] && echo 0 || echo 1)"
drops() { ip netns exec "$B" "$PV" status pvB --json | python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
r0=$(drops "['peers'][0]['drops']['replay']")
t0=$(drops "['peers'][0]['drops']['bad_tag']")
u0=$(drops "['drops_unattributed']['unknown_key']")
ip netns exec "$A" "$INJ" raw "$pkt" 10.99.0.2:51900
# The same packet with one ciphertext byte flipped.
mod=$(python3 -c "import sys; b=bytearray.fromhex(sys.argv[1]); b[40]^=1; print(b.hex())" "$pkt")
ip netns exec "$A" "$INJ" raw "$mod" 10.99.0.2:51900
# An initiation under a key B does not list (authenticates, then refused), and a data packet
# for a session index nobody holds.
ip netns exec "$A" "$INJ" init "$PB" 10.99.0.2:51900
ip netns exec "$A" "$INJ" data 10.99.0.2:51900
sleep 0.3
check_equal "replayed packet dropped and counted" "$((r0 + 1))" "$(drops "['peers'][0]['drops']['replay']")"
check_equal "modified packet dropped and counted (bad tag)" "$((t0 + 1))" "$(drops "['peers'][0]['drops']['bad_tag']")"
check_equal "unlisted key and unknown session dropped and counted" "$((u0 + 2))" "$(drops "['drops_unattributed']['unknown_key']")"
out=$(ip netns exec "$A" ping -c 3 -i 0.2 -W 2 10.100.0.2 2>&1)
check_status "tunnel still works after the hostile packets" "$(echo "$out" | grep -q ' 3 received' && echo 0 || echo 1)" "$out"

# --- MTU: the interface's MTU raised above the tunnel's; a DF packet over 1420 is answered ---
ip -n "$A" link set pvA mtu 1500
out=$(ip netns exec "$A" ping -c 2 -i 0.3 -W 1 -M do -s 1450 10.100.0.2 2>&1)
check_status "oversize DF packet answered with the tunnel MTU 1420" \
	"$(echo "$out" | grep -Eq 'mtu ?= ?1420' && echo 0 || echo 1)" "$out"
out=$(ip netns exec "$A" ping -c 1 -W 2 -M do -s 1392 10.100.0.2 2>&1)
check_status "a packet of exactly 1420 bytes passes" "$(echo "$out" | grep -q ' 1 received' && echo 0 || echo 1)" "$out"

# --- teardown ---
ip netns exec "$A" "$PV" down pvA
rc=$?
sleep 0.2
check_status "punchvpn down: exit 0 and the process is gone" \
	"$([ $rc -eq 0 ] && ! kill -0 "$PID_A" 2>/dev/null && echo 0 || echo 1)"
check_status "down removed interface and routes" \
	"$( (ip -n "$A" link show pvA; ip -n "$A" route | grep 10.200) >/dev/null 2>&1 && echo 1 || echo 0)"
kill -TERM "$PID_B"
for _ in $(seq 50); do kill -0 "$PID_B" 2>/dev/null || break; sleep 0.1; done
check_status "SIGTERM: process gone, interface removed" \
	"$( (kill -0 "$PID_B" 2>/dev/null || ip -n "$B" link show pvB >/dev/null 2>&1) && echo 1 || echo 0)"
check_equal "no control socket left" "0" "$(ls "$PUNCHVPN_RUN_DIR" | wc -l)"
check_equal "no UDP socket left" "0 0" "$(ip netns exec "$A" ss -Huan | wc -l) $(ip netns exec "$B" ss -Huan | wc -l)"
checks_verdict
