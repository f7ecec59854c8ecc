#!/usr/bin/env bash
# punchvpn against the userspace tunnels Debian ships, over one namespace link, in one run
# (field-notes-vpn.md §5, topology T1):
#
#   [bA] vA 10.99.0.1/24 ---- veth ---- 10.99.0.2/24 vB [bB]
#         overlay 10.100.0.1              overlay 10.100.0.2   (MTU 1420 on every tunnel)
#
# Tools: raw veth (the ceiling), punchvpn, wireguard-go, nebula, openvpn (p2p, TLS with
# peer fingerprints, AES-256-GCM), tinc 1.0 (its defaults: AES-256-CBC + HMAC-SHA256, not AEAD).
# Per tool: iperf3 one TCP stream A->B and B->A (-R), BENCH_RUNS runs of BENCH_SECONDS each,
# medians; CPU per Gbit/s (whole system from /proc/stat, and the tunnel daemons alone from
# /proc/PID/stat); ping RTT and the RTT added over raw veth, in BENCH_RTT_ROUNDS rounds: round 1
# right after each tool's throughput runs, then every tool once more per round, brought up
# afresh, so that a slow minute of the machine falls on all tools and not on one. A round's
# figure is the median of 200 pings at 10 ms (on two vCPUs a single ping that has to wake a
# halted vCPU moves a mean by tens of microseconds; the same binary's median moved between 0.18
# and 0.51 ms from one minute to the next); the table gives the median over rounds of each
# round's added RTT (tool minus raw veth in that round).
# Prints a table and punchvpn's throughput as a multiple of the best other tunnel.
#
# Usage (root): scripts/bench_vpn.sh [TOOL...]   (default: all; names as in the table)
# Environment: BENCH_RUNS (5), BENCH_SECONDS (5), BENCH_RTT_ROUNDS (5), BENCH_PIN=1 to pin side A to CPU 0 and
# side B to CPU 1, BENCH_VETH_GRO=0 to leave GRO off on the veth (on by default, as on a NIC),
# NC_BUILD (build tree, default ./build).
set -euo pipefail

NC_SRC=$(cd "$(dirname "$0")/.." && pwd)
NC_BUILD=${NC_BUILD:-$NC_SRC/build}
RUNS=${BENCH_RUNS:-5}
SECS=${BENCH_SECONDS:-5}
RTT_ROUNDS=${BENCH_RTT_ROUNDS:-5}
PIN=${BENCH_PIN:-0}
VETH_GRO=${BENCH_VETH_GRO:-1}
PV=$NC_BUILD/vpn/punchvpn
TOOLS=("$@")
[ ${#TOOLS[@]} -gt 0 ] || TOOLS=(raw punchvpn wireguard-go nebula openvpn tinc)

[ "$(id -u)" -eq 0 ] || { echo "bench_vpn: run as root (namespaces)" >&2; exit 1; }
for t in iperf3 ping python3; do
	command -v $t >/dev/null || { echo "bench_vpn: $t missing (scripts/setup-deps.sh)" >&2; exit 1; }
done

A=bA-$$
B=bB-$$
W=$(mktemp -d /tmp/bench-vpn.XXXXXX)
DPIDS=()

netns_up() {
	ip netns add "$A"
	ip netns add "$B"
	ip link add vA netns "$A" type veth peer name vB netns "$B"
	ip -n "$A" addr add 10.99.0.1/24 dev vA
	ip -n "$B" addr add 10.99.0.2/24 dev vB
	for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
	ip -n "$A" link set vA up
	ip -n "$B" link set vB up
	# A veth does no GRO unless asked (it has no NAPI otherwise); a physical NIC does it by
	# default. With it, UDP GRO sockets (punchvpn) receive batches, as they would from a NIC.
	if [ "$VETH_GRO" = 1 ]; then
		ip netns exec "$A" ethtool -K vA gro on >/dev/null
		ip netns exec "$B" ethtool -K vB gro on >/dev/null
	fi
}

stop_daemons() {
	local p
	for p in "${DPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${DPIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
	done
	DPIDS=()
}

cleanup() {
	set +e
	stop_daemons
	for ns in "$A" "$B"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

# pin SIDE CMD...: CPU 0 for side A, 1 for side B when BENCH_PIN=1. It execs CMD, so that
# `pin ... &` leaves CMD's own PID in $! (not a subshell's, whose death would leave CMD running).
pin() {
	local side=$1
	shift
	if [ "$PIN" = 1 ]; then exec taskset -c "$([ "$side" = A ] && echo 0 || echo 1)" "$@"; else exec "$@"; fi
}

# daemon SIDE NAME CMD...: starts CMD in that side's namespace, remembers its PID.
daemon() {
	local side=$1 name=$2 ns
	shift 2
	ns=$([ "$side" = A ] && echo "$A" || echo "$B")
	pin "$side" ip netns exec "$ns" "$@" >"$W/$name.log" 2>&1 &
	DPIDS+=($!)
}

overlay_addr() { # NS DEV ADDR
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$1" link set "$2" mtu 1420 up
}

wait_ping() {
	for _ in $(seq 100); do
		ip netns exec "$A" ping -c 1 -W 0.2 10.100.0.2 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "bench_vpn: $1: no ping through the tunnel; logs in $W" >&2
	return 1
}

setup_raw() {
	ip -n "$A" addr add 10.100.0.1/24 dev vA
	ip -n "$B" addr add 10.100.0.2/24 dev vB
}
teardown_raw() {
	ip -n "$A" addr del 10.100.0.1/24 dev vA
	ip -n "$B" addr del 10.100.0.2/24 dev vB
}

setup_punchvpn() {
	local ka kb pa pb
	ka=$("$PV" genkey); kb=$("$PV" genkey)
	pa=$(echo "$ka" | "$PV" pubkey); pb=$(echo "$kb" | "$PV" pubkey)
	(umask 077
	printf '[Interface]\nPrivateKey = %s\nAddress = 10.100.0.1/24\nListenPort = 51900\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.100.0.2/32\nEndpoint = 10.99.0.2:51900\n' "$ka" "$pb" >"$W/pvbA.conf"
	printf '[Interface]\nPrivateKey = %s\nAddress = 10.100.0.2/24\nListenPort = 51900\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.100.0.1/32\nEndpoint = 10.99.0.1:51900\n' "$kb" "$pa" >"$W/pvbB.conf")
	export PUNCHVPN_RUN_DIR=$W/run
	daemon A pvA "$PV" up "$W/pvbA.conf"
	daemon B pvB "$PV" up "$W/pvbB.conf"
}

setup_wireguard-go() {
	local ka kb
	ka=$(wg genkey); kb=$(wg genkey)
	echo "$ka" >"$W/wa.key"; echo "$kb" >"$W/wb.key"
	export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
	daemon A wgA wireguard-go -f "wgb$$a"
	daemon B wgB wireguard-go -f "wgb$$b"
	for _ in $(seq 50); do
		ip -n "$A" link show "wgb$$a" >/dev/null 2>&1 && ip -n "$B" link show "wgb$$b" >/dev/null 2>&1 && break
		sleep 0.1
	done
	ip netns exec "$A" wg set "wgb$$a" private-key "$W/wa.key" listen-port 51820 peer "$(echo "$kb" | wg pubkey)" \
		allowed-ips 10.100.0.2/32 endpoint 10.99.0.2:51820
	ip netns exec "$B" wg set "wgb$$b" private-key "$W/wb.key" listen-port 51820 peer "$(echo "$ka" | wg pubkey)" \
		allowed-ips 10.100.0.1/32 endpoint 10.99.0.1:51820
	overlay_addr "$A" "wgb$$a" 10.100.0.1
	overlay_addr "$B" "wgb$$b" 10.100.0.2
}

setup_nebula() {
	local s
	# Fresh certificates each time a round brings it up (nebula-cert will not overwrite).
	rm -f "$W"/ca.crt "$W"/ca.key "$W"/a.crt "$W"/a.key "$W"/b.crt "$W"/b.key
	(cd "$W" && nebula-cert ca -name bench -duration 2h >/dev/null &&
		nebula-cert sign -name a -ip 10.100.0.1/24 >/dev/null &&
		nebula-cert sign -name b -ip 10.100.0.2/24 >/dev/null)
	for s in a b; do
		local other ip oip
		other=$([ $s = a ] && echo b || echo a)
		ip=$([ $s = a ] && echo 10.99.0.1 || echo 10.99.0.2)
		oip=$([ $s = a ] && echo 10.99.0.2 || echo 10.99.0.1)
		cat >"$W/neb-$s.yml" <<NEB
pki: {ca: $W/ca.crt, cert: $W/$s.crt, key: $W/$s.key}
static_host_map: {"10.100.0.$([ $other = a ] && echo 1 || echo 2)": ["$oip:4242"]}
lighthouse: {am_lighthouse: false}
listen: {host: $ip, port: 4242}
punchy: {punch: false}
cipher: aes
tun: {dev: neb$$$s, mtu: 1420}
logging: {level: warning}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
NEB
	done
	daemon A nebA nebula -config "$W/neb-a.yml"
	daemon B nebB nebula -config "$W/neb-b.yml"
}

setup_openvpn() {
	local s fa fb
	for s in a b; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout "$W/ov$s.key" \
			-out "$W/ov$s.crt" -nodes -days 1 -subj "/CN=$s" >/dev/null 2>&1
	done
	fa=$(openssl x509 -fingerprint -sha256 -noout -in "$W/ova.crt" | cut -d= -f2)
	fb=$(openssl x509 -fingerprint -sha256 -noout -in "$W/ovb.crt" | cut -d= -f2)
	local common=(--dev-type tun --proto udp --port 1194 --data-ciphers AES-256-GCM --tun-mtu 1420
		--verb 1 --persist-tun --ping 10 --ping-restart 60)
	daemon B ovB openvpn "${common[@]}" --dev "ovb$$b" --local 10.99.0.2 --ifconfig 10.100.0.2 10.100.0.1 \
		--tls-server --dh none --cert "$W/ovb.crt" --key "$W/ovb.key" --peer-fingerprint "$fa"
	daemon A ovA openvpn "${common[@]}" --dev "ovb$$a" --remote 10.99.0.2 1194 --ifconfig 10.100.0.1 10.100.0.2 \
		--tls-client --cert "$W/ova.crt" --key "$W/ova.key" --peer-fingerprint "$fb"
}

setup_tinc() {
	local s
	for s in a b; do
		local d=$W/tinc-$s other ip
		other=$([ $s = a ] && echo b || echo a)
		ip=$([ $s = a ] && echo 10.99.0.1 || echo 10.99.0.2)
		rm -rf "$d" # fresh keys each round (tincd -K appends to the host file)
		mkdir -p "$d/hosts"
		printf 'Name = %s\nConnectTo = %s\nInterface = tnb%s%s\nMode = router\nAddressFamily = ipv4\n' \
			"$s" "$other" "$$" "$s" >"$d/tinc.conf"
		printf 'Address = %s\nSubnet = 10.100.0.%s/32\n' "$ip" "$([ $s = a ] && echo 1 || echo 2)" >"$d/hosts/$s"
		printf '#!/bin/sh\nip addr add 10.100.0.%s/24 dev $INTERFACE\nip link set $INTERFACE mtu 1420 up\n' \
			"$([ $s = a ] && echo 1 || echo 2)" >"$d/tinc-up"
		chmod +x "$d/tinc-up"
		tincd -c "$d" -K 2048 </dev/null >/dev/null 2>&1
	done
	cp "$W/tinc-a/hosts/a" "$W/tinc-b/hosts/a"
	cp "$W/tinc-b/hosts/b" "$W/tinc-a/hosts/b"
	daemon A tincA tincd -c "$W/tinc-a" -D --pidfile="$W/tinc-a/pid"
	daemon B tincB tincd -c "$W/tinc-b" -D --pidfile="$W/tinc-b/pid"
}

# Every tool's tunnel carries 10.100.0.0/24: one left running would carry the next tool's
# traffic (its route comes first) and the next row would measure it. So after each tool no
# process may remain in the namespaces and no link but lo and the veth; else the run stops.
teardown_tool() {
	local ns left
	stop_daemons
	[ "$1" = raw ] && teardown_raw
	for ns in "$A" "$B"; do
		for _ in $(seq 50); do
			left=$(ip netns pids "$ns"; ip -n "$ns" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
				grep -vx -e lo -e vA -e vB || true)
			[ -z "$left" ] && break
			sleep 0.1
		done
		if [ -n "$left" ]; then
			echo "bench_vpn: $1 left behind in $ns: $(echo $left)" >&2
			exit 1
		fi
	done
}

nonidle() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
# utime+stime of every process in the two namespaces but iperf3 and ping: the tunnel daemons
# and whatever they forked (wireguard-go re-executes itself, tinc runs scripts).
daemon_cpu() {
	local p t=0 v
	for p in $(ip netns pids "$A"; ip netns pids "$B"); do
		case "$(cat "/proc/$p/comm" 2>/dev/null)" in iperf3 | ping | "") continue ;; esac
		v=$(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0)
		t=$((t + v))
	done
	echo $t
}

# iperf once: prints "Mbit/s system-jiffies daemon-jiffies seconds"
iperf_once() {
	local rev=$1 s0 d0 s1 d1 j
	pin B ip netns exec "$B" iperf3 -s -B 10.100.0.2 -1 >/dev/null 2>&1 &
	local srv=$!
	for _ in $(seq 50); do ip netns exec "$B" ss -Htln | grep -q '10.100.0.2:5201' && break; sleep 0.05; done
	s0=$(nonidle); d0=$(daemon_cpu)
	j=$(pin A ip netns exec "$A" iperf3 -c 10.100.0.2 -t "$SECS" -O 1 $rev -J 2>/dev/null || true)
	s1=$(nonidle); d1=$(daemon_cpu)
	wait "$srv" 2>/dev/null || true
	python3 -c "
import json,sys
try:
    d=json.loads(sys.argv[1]); bps=d['end']['sum_received']['bits_per_second']
except Exception: bps=0
print('%.1f %d %d' % (bps/1e6, int(sys.argv[2]), int(sys.argv[3])))" "$j" $((s1 - s0)) $((d1 - d0))
}

median() { sort -n | awk '{a[NR]=$1} END{if(NR==0){print 0}else if(NR%2){print a[(NR+1)/2]}else{printf "%.3f\n",(a[NR/2]+a[NR/2+1])/2}}'; }

HZ=$(getconf CLK_TCK)
netns_up
printf '%s\n' "kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, pin=$PIN, veth gro=$VETH_GRO, $RUNS x ${SECS}s per direction"
printf 'versions: punchvpn %s; wireguard-go %s; nebula %s; %s; tinc %s\n' \
	"$("$PV" --version | awk '{print $2}')" "$(wireguard-go --version 2>/dev/null | awk '{print $2}' | head -1)" \
	"$(nebula -version 2>/dev/null | awk '{print $2}')" "$(openvpn --version | head -1 | awk '{print $1, $2}')" \
	"$(tincd --version | head -1 | awk '{print $3}')"
RESULTS=$W/results
RTTS=$W/rtts # TOOL ROUND MS
: >"$RESULTS"
: >"$RTTS"
# rtt_once: the median of 200 pings at 10 ms through the tunnel, ms.
rtt_once() {
	ip netns exec "$A" ping -c 200 -i 0.01 10.100.0.2 | awk -F'time=' 'NF > 1 { split($2, t, " "); print t[1] }' | median
}
for tool in "${TOOLS[@]}"; do
	if ! declare -F "setup_$tool" >/dev/null; then echo "bench_vpn: unknown tool $tool" >&2; continue; fi
	if ! "setup_$tool" || ! wait_ping "$tool"; then
		echo "$tool FAILED" >>"$RESULTS"
		for f in "$W"/*.log; do [ -e "$f" ] && sed 's/^/    /' "$f" | tail -5 >&2; done
		teardown_tool "$tool"
		continue
	fi
	fwd=(); rev=()
	for _ in $(seq "$RUNS"); do
		for dir in "" "-R"; do
			read -r mbps sj dj < <(iperf_once "$dir")
			if [ -z "$dir" ]; then fwd+=("$mbps"); else rev+=("$mbps"); fi
			# cores/Gbit/s = (CPU-seconds / wall seconds) / Gbit/s (the -O 1 second included in both)
			python3 -c "
import sys; m,s,d,hz,t=map(float,sys.argv[1:])
g=m/1000
print('%.3f %.3f' % ((s/hz/(t+1))/g if g else 0, (d/hz/(t+1))/g if g else 0))" "$mbps" "$sj" "$dj" "$HZ" "$SECS" >>"$W/cpu.$tool"
		done
	done
	mf=$(printf '%s\n' "${fwd[@]}" | median)
	mr=$(printf '%s\n' "${rev[@]}" | median)
	cs=$(awk '{print $1}' "$W/cpu.$tool" | median)
	cd_=$(awk '{print $2}' "$W/cpu.$tool" | median)
	echo "$tool $mf $mr $cs $cd_ ${fwd[*]} / ${rev[*]}" >>"$RESULTS"
	echo "$tool 1 $(rtt_once)" >>"$RTTS"
	teardown_tool "$tool"
done
# RTT rounds 2..BENCH_RTT_ROUNDS: every tool that came up, afresh, in the same order.
for round in $(seq 2 "$RTT_ROUNDS"); do
	for tool in "${TOOLS[@]}"; do
		grep -q "^$tool [0-9]" "$RESULTS" || continue
		if "setup_$tool" && wait_ping "$tool"; then
			echo "$tool $round $(rtt_once)" >>"$RTTS"
		fi
		teardown_tool "$tool"
	done
done

python3 - "$RESULTS" "$RTTS" <<'PY'
import statistics, sys
rtts = {}  # tool -> {round: ms}
for line in open(sys.argv[2]):
    t, rnd, ms = line.split()
    rtts.setdefault(t, {})[int(rnd)] = float(ms)
def added(tool):
    """Per round: the tool's RTT minus raw veth's in that round."""
    raw_r = rtts.get('raw', {})
    return {k: v - raw_r[k] for k, v in rtts.get(tool, {}).items() if k in raw_r}
def med(d):
    return statistics.median(d.values()) if d else float('nan')
rows, failed = [], []
for line in open(sys.argv[1]):
    f = line.split()
    if f[1] == 'FAILED':
        failed.append(f[0]); continue
    runs = ' '.join(f[5:])
    rows.append((f[0], float(f[1]), float(f[2]), med(rtts.get(f[0], {})), float(f[3]), float(f[4]), runs))
raw = next((r for r in rows if r[0] == 'raw'), None)
print('\n%-13s %10s %10s %9s %9s %12s %12s' % ('tool', 'A->B Mb/s', 'B->A Mb/s', 'rtt ms', '+rtt ms', 'sys c/Gbps', 'daemon c/Gbps'))
for r in rows:
    add = '%9.3f' % med(added(r[0])) if raw and r[0] != 'raw' else '%9s' % '-'
    d = '%12.3f' % r[5] if r[0] != 'raw' else '%12s' % '-'
    print('%-13s %10.0f %10.0f %9.3f %s %12.3f %s' % (r[0], r[1], r[2], r[3], add, r[4], d))
for n in failed:
    print('%-13s failed to come up (see stderr)' % n)
print('\nruns (Mbit/s, A->B / B->A):')
for r in rows:
    print('  %-13s %s' % (r[0], r[6]))
print('\nRTT per round (ms; added over raw veth in brackets):')
for r in rows:
    a = added(r[0])
    print('  %-13s %s' % (r[0], '  '.join('%.3f%s' % (v, ' (%+.3f)' % a[k] if k in a and r[0] != 'raw' else '')
                                         for k, v in sorted(rtts.get(r[0], {}).items()))))
pv = next((r for r in rows if r[0] == 'punchvpn'), None)
others = [r for r in rows if r[0] not in ('raw', 'punchvpn')]
if pv and others:
    best = max(others, key=lambda r: (r[1] + r[2]) / 2)
    print('\npunchvpn / best other (%s): A->B %.2fx, B->A %.2fx; target >= 3x' %
          (best[0], pv[1] / best[1] if best[1] else 0, pv[2] / best[2] if best[2] else 0))
    if raw:
        # Per round, punchvpn against the best other tool of that same round.
        pa = added('punchvpn')
        oa = [added(o[0]) for o in others]
        rounds = [k for k in pa if any(k in a for a in oa)]
        won = sum(1 for k in rounds if pa[k] <= min(a[k] for a in oa if k in a))
        bestrtt = min(med(a) for a in oa)
        print('added RTT: punchvpn %.3f ms, best other %.3f ms (medians over rounds; punchvpn lowest in %d of %d rounds)'
              % (med(pa), bestrtt, won, len(rounds)))
PY
