#!/usr/bin/env bash
# Issue 10's faults, on the pair lab (sim/run.sh --pair, sim/lib/pairs.sh): this file is also
# the PAIR_VPN_HOOK that sim/lib/pairs.sh sources inside a pair case once the tunnel carries
# its 10 pings, so the faults hit a live tunnel between two NATed hosts.
#
#  Direct pair (port-restricted x port-restricted), a continuous ping from host A through the
#  tunnel (every 100 ms, time-stamped), one fault at a time:
#   (a) `conntrack -F` on A's router, then on B's router: the longest silence between two
#       answers is at most one keepalive interval (status: server.keepalive_s) plus 1 s;
#   (b) punchvpnd killed, restarted 2 s later: the direct tunnel loses at most 1 ping, and both
#       hosts register again (time measured from the restart);
#   (c) host A's LAN address replaced (10.1.0.2 -> 10.1.0.7, default route added again):
#       the longest silence is at most 2 s.
#  Relayed pair (symmetric-random x symmetric-random): punchvpnd killed and restarted 1 s later:
#  pings through the relay answered again once both hosts registered again (time measured
#  from the restart; bound: one registration interval, keepalive_s, plus 2 s).
# The measured times are printed. Exit 77 (skip) when not root or without namespaces.

# ---- The hook (sourced by sim/lib/pairs.sh inside the case; its globals: PP, PDIR, ...) ----

# faults_now: milliseconds since the epoch.
faults_now() { date +%s%3N; }

# faults_ping_start FILE: host A pings B's tunnel address every 100 ms, time-stamped (-D).
faults_ping_start() {
	ip netns exec "$(pair_host_ns A)" ping -n -D -i 0.1 -W 1 "$PV_ADDR_B" >"$1" 2>&1 &
	FAULTS_PING=$!
}

faults_ping_stop() {
	kill -INT "$FAULTS_PING" 2>/dev/null
	wait "$FAULTS_PING" 2>/dev/null
	return 0
}

# faults_measure FILE T_FAULT_MS: "lost=N gap_ms=G resume_ms=R replies=M": pings never answered
# (up to the last answered one), the longest time between two answers, and the time from the
# fault to the first answer after the longest gap when that gap ends after the fault (else 0).
faults_measure() {
	python3 - "$1" "$2" <<'PY'
import re, sys
t_fault = int(sys.argv[2]) / 1000.0
rep = {}
for l in open(sys.argv[1]):
    m = re.match(r"\[([0-9.]+)\] \d+ bytes from .* icmp_seq=(\d+)", l)
    if m:
        rep.setdefault(int(m.group(2)), float(m.group(1)))
if len(rep) < 2:
    print("lost=-1 gap_ms=-1 resume_ms=-1 replies=%d" % len(rep))
    sys.exit(0)
seqs = sorted(rep)
lost = seqs[-1] - seqs[0] + 1 - len(seqs)
ts = sorted(rep.values())
gap, start, end = max((b - a, a, b) for a, b in zip(ts, ts[1:]))
# Resumed at the end of the longest silence if that ends after the fault (and is more than a
# few ping intervals; it may start a moment after the time taken, as the fault's command runs).
resume = end - t_fault if end > t_fault and gap > 0.3 else 0
print("lost=%d gap_ms=%d resume_ms=%d replies=%d" % (lost, gap * 1000, resume * 1000, len(rep)))
PY
}

# faults_wait_replies FILE T_MS N MAX_S: until FILE holds N answers stamped after T_MS, at most
# MAX_S seconds after T_MS.
faults_wait_replies() {
	local f=$1 t=$2 n=$3 max=$4
	while [ "$(faults_now)" -lt $((t + max * 1000)) ]; do
		awk -v t="$t" '/bytes from/ { gsub(/[][]/, "", $1); if ($1 * 1000 > t) c++ } END { exit !(c >= '"$n"') }' "$f" && return 0
		sleep 0.2
	done
	return 1
}

# faults_status HOST FIELD: a field of host's status (python expression over the JSON `s`).
faults_status() {
	local ifn
	ifn=pv$(tr 'AB' 'ab' <<<"$1")
	pair_pv "$1" status "$ifn" --json 2>/dev/null | python3 -c 'import json, sys
s = json.load(sys.stdin)
s = s[0] if isinstance(s, list) else s
print(eval(sys.argv[1]))' "$2" 2>/dev/null
}

# faults_pvd_restart PAUSE_S: kill punchvpnd (by its pid), wait PAUSE_S, start it again with the
# same key and address; prints the restart time (ms) once it listens.
faults_pvd_restart() {
	local pid
	pid=$(cat "$PDIR/pv/punchvpnd.pid")
	kill "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	sleep "$1"
	pair_ctx inet
	# A second name: its pid file is removed by pair_down like the first, its log kept apart.
	nslab_daemon punchvpnd-restarted inet "$PVD" --listen "$PVD_ADDR:$PVD_PORT" --key "$PDIR/pv/S.key" --user nobody
	cp "$NSLAB_DIR/punchvpnd-restarted.pid" "$PDIR/pv/punchvpnd.pid"
	nslab_wait_udp inet "$PVD_ADDR:$PVD_PORT" >&2
	faults_now
}

# faults_wait_registered T_MS N0A N0B MAX_S: until both hosts' registration counts grew past
# N0A/N0B (answers from the restarted server); prints "A_MS B_MS BOTH_MS" from T_MS (-1: not
# within MAX_S).
faults_wait_registered() {
	local t=$1 a=$2 b=$3 max=$4 n ta=-1 tb=-1
	while [ "$(faults_now)" -lt $((t + max * 1000)) ]; do
		if [ "$ta" -lt 0 ]; then
			n=$(faults_status A 's["server"]["registrations"]')
			[ "${n:-0}" -gt "$a" ] && ta=$(($(faults_now) - t))
		fi
		if [ "$tb" -lt 0 ]; then
			n=$(faults_status B 's["server"]["registrations"]')
			[ "${n:-0}" -gt "$b" ] && tb=$(($(faults_now) - t))
		fi
		if [ "$ta" -ge 0 ] && [ "$tb" -ge 0 ]; then
			echo "$ta $tb $((ta > tb ? ta : tb))"
			return 0
		fi
		sleep 0.1
	done
	echo "$ta $tb -1"
}

# faults_record KEY=VALUE...: the results the test reads.
faults_record() { printf '%s\n' "$@" >>"$FAULTS_OUT"; }

# faults_paths WINDOW: both hosts' path, its reason and switch count (for a failure's story).
faults_paths() {
	local e='"%s/%s/%s" % (s["peers"][0]["path"], s["peers"][0]["path_reason"].replace(" ", "_"), s["peers"][0]["path_switches"])'
	faults_record "paths_$1=A:$(faults_status A "$e") B:$(faults_status B "$e")"
}

faults_direct() {
	local t ka f r regs_a regs_b hns side
	ka=$(faults_status A 's["server"]["keepalive_s"]')
	faults_record "keepalive_s=${ka:-}" "path_before=$(faults_status A 's["peers"][0]["path"]')"
	# The direct path's keepalive intervals (issue 11 §3: from the measured lifetimes, 2 s
	# while a side still measures its own) and silence limit, as both hosts' status shows them.
	faults_record "direct_ka_ms=$(faults_status A 's["peers"][0]["keepalive"]["interval_ms"]') $(faults_status B 's["peers"][0]["keepalive"]["interval_ms"]')" \
		"direct_silence_ms=$(faults_status A 's["peers"][0]["keepalive"]["silence_ms"]')"
	faults_paths before
	for side in a b; do
		f=$PDIR/ping-flush-$side.txt
		faults_ping_start "$f"
		sleep 2
		t=$(faults_now)
		ip netns exec "$PP-$side-router" conntrack -F >/dev/null 2>&1
		faults_record "flush_${side}_entries_after=$(ip netns exec "$PP-$side-router" conntrack -C 2>/dev/null)"
		faults_wait_replies "$f" "$t" 20 $((${ka:-15} + 3))
		faults_ping_stop
		faults_record "flush_$side=$(faults_measure "$f" "$t")"
		faults_paths "flush_$side"
	done
	f=$PDIR/ping-restart-direct.txt
	regs_a=$(faults_status A 's["server"]["registrations"]')
	regs_b=$(faults_status B 's["server"]["registrations"]')
	faults_ping_start "$f"
	sleep 1
	t=$(faults_pvd_restart 2)
	r=$(faults_wait_registered "$t" "${regs_a:-0}" "${regs_b:-0}" $((${ka:-15} + 5)))
	sleep 1
	faults_ping_stop
	faults_paths restart_direct
	faults_record "restart_direct=$(faults_measure "$f" "$t")" "restart_direct_reregistered_ms=${r##* }" "restart_direct_registered_a_b_ms=${r% *}" \
		"path_after_restart=$(faults_status A 's["peers"][0]["path"]')"
	f=$PDIR/ping-addr.txt
	hns=$(pair_host_ns A)
	faults_ping_start "$f"
	sleep 2
	t=$(faults_now)
	ip -n "$hns" addr del 10.1.0.2/24 dev c0
	ip -n "$hns" addr add 10.1.0.7/24 dev c0
	ip -n "$hns" route add default via 10.1.0.1
	faults_wait_replies "$f" "$t" 20 6
	faults_ping_stop
	faults_paths addr
	faults_record "addr=$(faults_measure "$f" "$t")" \
		"addr_now=$(ip -n "$hns" -4 -o addr show dev c0 | awk '{ print $4 }')" \
		"path_after_addr=$(faults_status A 's["peers"][0]["path"]')"
	return 0
}

faults_relay() {
	local t ka f r regs_a regs_b
	ka=$(faults_status A 's["server"]["keepalive_s"]')
	faults_record "keepalive_s=${ka:-}" "path_before=$(faults_status A 's["peers"][0]["path"]')"
	f=$PDIR/ping-restart-relay.txt
	regs_a=$(faults_status A 's["server"]["registrations"]')
	regs_b=$(faults_status B 's["server"]["registrations"]')
	faults_ping_start "$f"
	sleep 1
	t=$(faults_pvd_restart 1)
	r=$(faults_wait_registered "$t" "${regs_a:-0}" "${regs_b:-0}" $((${ka:-15} + 10)))
	faults_wait_replies "$f" "$t" 10 $((${ka:-15} + 10))
	faults_ping_stop
	faults_record "restart_relay=$(faults_measure "$f" "$t")" "restart_relay_reregistered_ms=${r##* }" "restart_relay_registered_a_b_ms=${r% *}" \
		"path_after_restart=$(faults_status A 's["peers"][0]["path"]')"
	return 0
}

pair_vpn_hook() {
	case $FAULTS_MODE in
	direct) faults_direct ;;
	relay) faults_relay ;;
	esac
}

# ---- The test ----
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0
set -u
NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$NC_SRC/tests/lib/pairtest.sh"
pairtest_init faults conntrack

# run NAME MODE PAIR: one pair case with this file as its hook; its results in $W/NAME.env.
run() {
	local name=$1 rc
	: >"$W/$name.env"
	PAIR_VPN_HOOK=$NC_SRC/tests/integration/test_vpn_faults.sh FAULTS_MODE=$2 FAULTS_OUT=$W/$name.env \
		pairtest_run "$name" "$W/$name" --keep --pair "$3"
	rc=$?
	sed 's/^/    measured: /' "$W/$name.env"
	check_status "$name: the pair case passed (10/10 pings, expected path, down cleanly, the hook ran)" "$rc"
}

# get NAME KEY [FIELD]: a recorded value, or one field (lost, gap_ms, ...) of it.
get() {
	local v
	v=$(sed -n "s/^$2=//p" "$W/$1.env" | tail -n 1)
	if [ -n "${3:-}" ]; then
		v=$(tr ' ' '\n' <<<"$v" | sed -n "s/^$3=//p")
	fi
	echo "${v:--1}"
}

# le NAME VALUE LIMIT: VALUE is measured (not -1) and at most LIMIT.
le() {
	[ "$2" -ge 0 ] && [ "$2" -le "$3" ]
	check_status "$1 ($2 <= $3)" $?
}

run direct direct port-restricted:port-restricted
ka=$(get direct keepalive_s)
check_equal "direct: path before the faults" direct "$(get direct path_before)"
[ "$ka" -gt 0 ] 2>/dev/null
check_status "direct: status shows the keepalive interval (server.keepalive_s=$ka)" $?
for side in a b; do
	echo "    conntrack -F on $side-router: $(get direct "flush_$side")"
	le "(a) flush on $side-router: longest silence within keepalive + 1 s (ms)" "$(get direct "flush_$side" gap_ms)" $((ka * 1000 + 1000))
	# The direct path's own keepalive (both ends, at the interval status shows) remakes a
	# flushed mapping: the tighter bound that follows from it, the longer of the two
	# intervals + 1 s.
	kaa=$(get direct direct_ka_ms | cut -d' ' -f1)
	kab=$(get direct direct_ka_ms | cut -d' ' -f2)
	kamax=$((kaa > kab ? kaa : kab))
	le "(a) flush on $side-router: longest silence within the direct path's keepalive ($kaa/$kab ms) + 1 s (ms)" "$(get direct "flush_$side" gap_ms)" $((kamax + 1000))
	le "(a) flush on $side-router: longest silence within the silence limit, 2 x interval + 1 s (ms)" "$(get direct "flush_$side" gap_ms)" "$(get direct direct_silence_ms)"
	[ "$(get direct "flush_$side" replies)" -ge 20 ]
	check_status "(a) flush on $side-router: answers continued after the flush" $?
done
echo "    punchvpnd restart, direct: $(get direct restart_direct), registered again (A B, ms after the restart): $(get direct restart_direct_registered_a_b_ms)"
le "(b) direct tunnel during a punchvpnd restart: pings lost" "$(get direct restart_direct lost)" 1
check_equal "(b) direct path after the restart" direct "$(get direct path_after_restart)"
le "(b) both hosts registered again with the restarted punchvpnd within keepalive + 2 s (ms)" \
	"$(get direct restart_direct_reregistered_ms)" $((ka * 1000 + 2000))
echo "    address change on host A ($(get direct addr_now)): $(get direct addr)"
check_equal "(c) host A's address changed" 10.1.0.7/24 "$(get direct addr_now)"
le "(c) address change: longest silence (ms)" "$(get direct addr gap_ms)" 2000
[ "$(get direct addr replies)" -ge 20 ]
check_status "(c) answers continued after the address change" $?

run relay relay symmetric-random:symmetric-random
ka=$(get relay keepalive_s)
check_equal "relay: path before the restart" relay "$(get relay path_before)"
echo "    punchvpnd restart, relayed: $(get relay restart_relay), registered again (A B, ms after the restart): $(get relay restart_relay_registered_a_b_ms)"
le "(b) relayed pair: both hosts registered again within keepalive + 2 s (ms)" \
	"$(get relay restart_relay_reregistered_ms)" $((ka * 1000 + 2000))
le "(b) relayed pair: pings answered again after the restart within keepalive + 2 s (ms)" \
	"$(get relay restart_relay resume_ms)" $((ka * 1000 + 2000))
check_equal "(b) relayed pair: path after the restart" relay "$(get relay path_after_restart)"
pairtest_done
