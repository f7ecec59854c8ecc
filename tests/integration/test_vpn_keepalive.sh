#!/usr/bin/env bash
# Issue 11 §3, keepalives from the measured binding lifetime, on the pair lab (sim/run.sh
# --pair, sim/lib/pairs.sh): this file is also the PAIR_VPN_HOOK that sim/lib/pairs.sh sources
# inside each pair case once the tunnel carries its 10 pings. Two pairs run in parallel:
#
#   short-lifetime x short-lifetime          masquerade, 5 s UDP conntrack timeouts both sides
#   natbox-outbound-refresh x port-restricted natbox: 4 s bindings refreshed by outbound
#                                            traffic only
#
# In each (the "kernel side" is the router the test can flush and block: a-router in the
# first pair, b-router, Linux masquerade, in the second):
#  0. Right after `up`, while host A still measures its lifetime: the unmeasured interval
#     (10 s) agreed, 2 s sent.
#  1. Both hosts' `punchvpn status --json` show the interval taken from the measured lifetime
#     (keepalive.source "measured", interval = lifetime / 2.5, the silence limit 2 x interval
#     + 1 s), and `punchvpn status` says so in words.
#  2. The tunnel idles 5 minutes (no traffic but keepalives): the path stays direct on both
#     hosts (status polled every 20 s, the switch count unchanged), host A sent about one
#     keepalive per interval, then 10/10 pings.
#  3. A binding lost anyway: UDP between the two routers dropped on the kernel side, before
#     conntrack (so its entry expires as an idle one would): both hosts fall back to the relay
#     within 2 x interval + 1 s (plus 0.5 s for the 100 ms tick), and after the block
#     is lifted they are direct again within 3 s, 10/10 pings.
#  4. conntrack -F on the kernel side's router while idle: pings from the other host are
#     answered again within 2 x interval + 1 s + 2 s (detection and re-punch, when the next
#     keepalive does not simply remake the binding), both hosts direct, 10/10 pings.
# Times of path switches come from status (the switch's age), not from when a poll saw them.
# Exit 77 (skip) when not root or without namespaces.

# ---- The hook (sourced by sim/lib/pairs.sh inside the case; its globals: PP, PDIR, ...) ----

keep_now() { date +%s%3N; }

# keep_status HOST EXPR: a python expression over host's status JSON (s = the first peer,
# r = the whole interface).
keep_status() {
	local ifn
	ifn=pv$(tr 'AB' 'ab' <<<"$1")
	pair_pv "$1" status "$ifn" --json 2>/dev/null | python3 -c 'import json, sys
r = json.load(sys.stdin)
r = r[0] if isinstance(r, list) else r
s = r["peers"][0]
print(eval(sys.argv[1]))' "$2" 2>/dev/null
}

# keep_record KEY=VALUE...: results the test reads, one file per pair.
keep_record() { printf '%s\n' "$@" >>"$KEEP_OUT/${SIDE_PROFILE[a]}+${SIDE_PROFILE[b]}.env"; }

# keep_ping FROM TO-ADDR COUNT: "received" of COUNT pings through the tunnel.
keep_ping() {
	ip netns exec "$(pair_host_ns "$1")" ping -n -q -c "$3" -i 0.2 -W 2 "$2" 2>&1 |
		sed -n 's/.* \([0-9]*\) received.*/\1/p'
}

# keep_block SIDE ON|OFF: UDP to and from the other side's router dropped on SIDE's router,
# in a table of the test's own at raw priority (before conntrack: nothing refreshes the entry).
keep_block() {
	local ns=$PP-$1-router other=198.18.20.1
	[ "$1" = b ] && other=198.18.10.1
	if [ "$2" = on ]; then
		ip netns exec "$ns" nft -f - <<NFT
table inet keepalive_test {
	chain pre {
		type filter hook prerouting priority -310; policy accept;
		ip saddr $other meta l4proto udp drop
		ip daddr $other meta l4proto udp drop
	}
}
NFT
	else
		ip netns exec "$ns" nft delete table inet keepalive_test
	fi
}

# keep_switched HOST WANT T0: when host's path became WANT (its status: the path and the age
# of its latest switch), in ms from T0; nothing while it is not WANT or switched before T0.
# The age makes the time exact whatever a status call costs on a loaded machine.
keep_switched() {
	local t r
	t=$(keep_now)
	r=$(keep_status "$1" '"%s %s" % (s["path"], s["path_switch_age_ms"])')
	[ "${r% *}" = "$2" ] || return 0
	[ "${r#* }" -ge 0 ] 2>/dev/null || return 0
	[ $((t - ${r#* })) -ge "$3" ] && echo $((t - ${r#* } - $3))
}

# keep_wait_path WANT T0 MAX_MS: until both hosts show path WANT, switched after T0; prints
# "A_MS B_MS", the switch times from T0 (-1: not within MAX_MS).
keep_wait_path() {
	local want=$1 t0=$2 max=$3 ta=-1 tb=-1 v
	while [ "$(keep_now)" -lt $((t0 + max)) ]; do
		[ "$ta" -lt 0 ] && v=$(keep_switched A "$want" "$t0") && [ -n "$v" ] && ta=$v
		[ "$tb" -lt 0 ] && v=$(keep_switched B "$want" "$t0") && [ -n "$v" ] && tb=$v
		[ "$ta" -ge 0 ] && [ "$tb" -ge 0 ] && break
		sleep 0.1
	done
	echo "$ta $tb"
}

keep_hook() {
	local kside=a other=B oaddr=$PV_ADDR_A t0 i ka sil sw_a sw_b tx0 tx1 bad=0 r h ok
	# The kernel side: the one the test can flush and block (natbox keeps its own table).
	[ "${SIDE_NATBOX[a]:-0}" = 1 ] && kside=b other=A oaddr=$PV_ADDR_B
	keep_record "kernel_side=$kside"
	# 0. Right after `up` the lifetimes are still being measured: the agreed interval is the
	# unmeasured 10 s, and each host sends every 2 s meanwhile (a 5 s binding must live).
	keep_record "early_A=$(keep_status A '"%(source)s %(measuring)s %(interval_ms)s %(peer_interval_ms)s" % s["keepalive"]')"
	# 1. The measured interval, on both hosts (natprof's lifetime stage: ~26 s for 5 s).
	t0=$(keep_now)
	for h in A B; do
		ok=0
		while [ "$(keep_now)" -lt $((t0 + 150000)) ]; do
			[ "$(keep_status "$h" 's["keepalive"]["source"]')" = measured ] && { ok=1; break; }
			sleep 1
		done
		keep_record "measured_after_ms_$h=$(($(keep_now) - t0))" "measured_$h=$ok" \
			"ka_json_$h=$(keep_status "$h" 'json.dumps(s["keepalive"], sort_keys=True)')" \
			"ka_text_$h=$(pair_pv "$h" status "pv$(tr 'AB' 'ab' <<<"$h")" | grep 'keepalive:' | sed 's/^ *//')"
	done
	ka=$(keep_status A 's["keepalive"]["peer_interval_ms"]')
	sil=$(keep_status A 's["keepalive"]["silence_ms"]')
	keep_record "interval_ms=${ka:--1}" "silence_ms=${sil:--1}"
	[ -n "$ka" ] || return 1
	# 2. Idle for 5 minutes: nothing but keepalives.
	sw_a=$(keep_status A 's["path_switches"]')
	sw_b=$(keep_status B 's["path_switches"]')
	tx0=$(keep_status A 's["tx_packets"]')
	t0=$(keep_now)
	keep_record "idle_switches_before=$sw_a/$sw_b" "idle_path_before=$(keep_status A 's["path"]')/$(keep_status B 's["path"]')"
	for i in $(seq 15); do
		sleep $(((t0 + i * 20000 - $(keep_now)) / 1000)) 2>/dev/null
		r=$(keep_status A '"%s/%s" % (s["path"], s["path_switches"])')
		[ "$r" = "direct/$sw_a" ] || { bad=$((bad + 1)); keep_record "idle_bad_A_at_$((i * 20))s=$r"; }
		r=$(keep_status B '"%s/%s" % (s["path"], s["path_switches"])')
		[ "$r" = "direct/$sw_b" ] || { bad=$((bad + 1)); keep_record "idle_bad_B_at_$((i * 20))s=$r"; }
	done
	tx1=$(keep_status A 's["tx_packets"]')
	# The silence limit now (the longer one that held after the interval shrank has run out).
	sil=$(keep_status A 's["keepalive"]["silence_ms"]')
	keep_record "silence_ms=${sil:--1}" "silence_ms_B=$(keep_status B 's["keepalive"]["silence_ms"]')"
	keep_record "idle_ms=$(($(keep_now) - t0))" "idle_bad=$bad" "idle_tx_A=$((tx1 - tx0))" \
		"idle_a_interval_ms=$(keep_status A 's["keepalive"]["interval_ms"]')" \
		"idle_switches_after=$(keep_status A 's["path_switches"]')/$(keep_status B 's["path_switches"]')" \
		"idle_path_after=$(keep_status A 's["path"]')/$(keep_status B 's["path"]')" \
		"idle_pings=$(keep_ping A "$PV_ADDR_B" 10)"
	# 3. The binding lost: blocked on the kernel side until both fell back (or the bound
	# plus 3 s passed), then re-punched.
	sleep 3
	t0=$(keep_now)
	keep_block "$kside" on
	r=$(keep_wait_path relay "$t0" $((sil + 3000)))
	keep_record "block_relay_ms=$r" "block_reason=$(keep_status A 's["path_reason"]' | tr ' ' _)/$(keep_status B 's["path_reason"]' | tr ' ' _)"
	keep_record "block_conntrack_peer_entries=$(ip netns exec "$PP-$kside-router" conntrack -L -p udp 2>/dev/null | grep -c "dport=$PV_PORT")"
	t0=$(keep_now)
	keep_block "$kside" off
	keep_record "unblock_direct_ms=$(keep_wait_path direct "$t0" 10000)" "block_pings=$(keep_ping A "$PV_ADDR_B" 10)" \
		"block_switches=$(keep_status A 's["path_switches"]')/$(keep_status B 's["path_switches"]')"
	# 4. conntrack -F while idle; the other host pings the kernel side's host.
	sleep 3
	t0=$(keep_now)
	ip netns exec "$PP-$kside-router" conntrack -F >/dev/null 2>&1
	r=-1
	while [ "$(keep_now)" -lt $((t0 + sil + 8000)) ]; do
		if ip netns exec "$(pair_host_ns "$other")" ping -n -q -c 1 -W 0.2 "$oaddr" >/dev/null 2>&1; then
			r=$(($(keep_now) - t0))
			break
		fi
	done
	# Direct on both hosts again (whether the path fell back and was re-punched or the next
	# keepalive remade the binding: the switch count tells).
	while [ "$(keep_now)" -lt $((t0 + sil + 3000)) ]; do
		[ "$(keep_status A 's["path"]')/$(keep_status B 's["path"]')" = direct/direct ] && break
		sleep 0.2
	done
	keep_record "flush_answer_ms=$r" "flush_path=$(keep_status A 's["path"]')/$(keep_status B 's["path"]')" \
		"flush_switches=$(keep_status A 's["path_switches"]')/$(keep_status B 's["path_switches"]')" \
		"flush_pings=$(keep_ping "$other" "$oaddr" 10)"
	[ "${SIDE_PROFILE[$kside]}" = short-lifetime ] && keep_relay_idle "$kside" "$other" "$oaddr" "$sil"
	return 0
}

# 5. Relayed and idle behind the 5 s NAT (keep_relay_idle KSIDE OTHER-HOST KSIDE-HOST-ADDR
# SILENCE_MS): direct UDP blocked on the kernel side for good, both hosts on the relay. For 16 s
# (more than the server's 15 s keepalive) the kernel side's binding toward punchvpnd must never
# lapse: its host registers at its own measured interval (status: register_every_ms), not only
# every 15 s, so the relay still reaches it; then the other host's pings through the relay.
keep_relay_idle() {
	local kside=$1 other=$2 oaddr=$3 sil=$4 t0 n gaps=0 samples=0
	sleep 3
	t0=$(keep_now)
	keep_block "$kside" on
	keep_record "relay_idle_switch_ms=$(keep_wait_path relay "$t0" $((sil + 3000)))"
	keep_record "relay_register_every_ms=$(keep_status "$(tr ab AB <<<"$kside")" 'r["server"]["register_every_ms"]')"
	t0=$(keep_now)
	while [ "$(keep_now)" -lt $((t0 + 16000)) ]; do
		n=$(ip netns exec "$PP-$kside-router" conntrack -L -p udp 2>/dev/null | grep -c "dport=$PVD_PORT ")
		samples=$((samples + 1))
		[ "$n" -gt 0 ] || gaps=$((gaps + 1))
		sleep 0.5
	done
	keep_record "relay_binding_samples=$samples" "relay_binding_gaps=$gaps" \
		"relay_idle_path=$(keep_status A 's["path"]')/$(keep_status B 's["path"]')" \
		"relay_idle_pings=$(keep_ping "$other" "$oaddr" 10)"
	keep_block "$kside" off
}

pair_vpn_hook() { keep_hook; }

# ---- The test ----
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0
set -u
NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$NC_SRC/tests/lib/pairtest.sh"
pairtest_init keepalive conntrack
P1=short-lifetime+short-lifetime
P2=natbox-outbound-refresh+port-restricted

PAIR_VPN_HOOK=$NC_SRC/tests/integration/test_vpn_keepalive.sh KEEP_OUT=$W \
	pairtest_run both "$W/run" -j 2 \
	--pair short-lifetime:short-lifetime:direct \
	--pair natbox-outbound-refresh:port-restricted:direct
check_status "both pair cases passed (10/10 pings, direct, down cleanly, the hook ran)" $?

# get PAIR KEY [N]: a recorded value (the Nth space-separated field of it).
get() {
	local v
	v=$(sed -n "s/^$2=//p" "$W/$1.env" 2>/dev/null | tail -n 1)
	[ -n "${3:-}" ] && v=$(cut -d' ' -f"$3" <<<"$v")
	echo "${v:--1}"
}

# le NAME VALUE LIMIT: VALUE is measured (not negative) and at most LIMIT.
le() {
	[ "$2" -ge 0 ] 2>/dev/null && [ "$2" -le "$3" ]
	check_status "$1 ($2 <= $3)" $?
}

# interval_of LIFETIME_S: the keepalive interval strategy_keepalive derives (ms): lifetime /
# 2.5, at least 1 s.
interval_of() { echo $(($1 * 400 < 1000 ? 1000 : $1 * 400)); }

# jget PAIR HOST FIELD: a field of the host's recorded keepalive JSON.
jget() {
	get "$1" "ka_json_$2" | python3 -c 'import json, sys
try:
    print(json.load(sys.stdin)[sys.argv[1]])
except Exception:
    print(-1)' "$3"
}

for p in $P1 $P2; do
	sed "s/^/    $p: /" "$W/$p.env" 2>/dev/null
	ka=$(get "$p" interval_ms)
	sil=$(get "$p" silence_ms)
	for h in A B; do
		check_equal "$p: host $h's status: interval from the measured lifetime" measured "$(jget "$p" "$h" source)"
		life=$(jget "$p" "$h" lifetime_s)
		case $p in short-*) max=5 ;; *) max=4 ;; esac
		[ "$life" -ge 1 ] 2>/dev/null && [ "$life" -le "$max" ]
		check_status "$p: host $h: the lifetime measured ($life s) is within the profile's $max s" $?
		# The rule: lifetime / 2.5, at least 1 s; both hosts derive the same interval.
		want=$(interval_of "$life")
		check_equal "$p: host $h: interval = lifetime / 2.5" "$want" "$(jget "$p" "$h" peer_interval_ms)"
		case $(get "$p" "ka_text_$h") in
		"keepalive: $want ms from measured lifetime $life s ("*) check_pass "$p: host $h: punchvpn status says it: $(get "$p" "ka_text_$h")" ;;
		*) check_fail "$p: host $h: punchvpn status names the interval and its source" "$(get "$p" "ka_text_$h")" ;;
		esac
	done
	# Unless host A's lifetime was measured already (a slow start), status showed it measuring.
	case $(get "$p" early_A) in
	"measured "*) check_pass "$p: host A measured before the hook looked (no early check): $(get "$p" early_A)" ;;
	*) check_equal "$p: host A while measuring: default source, measuring, sends every 2000 ms, agreed 10000 ms" \
		"default True 2000 10000" "$(get "$p" early_A)" ;;
	esac
	check_equal "$p: path direct on both hosts before the idle time" direct/direct "$(get "$p" idle_path_before)"
	# Right after the measurement the old limit may still hold (the peer may not have
	# switched yet); after the idle time it is the interval's.
	check_equal "$p: host A: silence limit = 2 x interval + 1 s" "$((2 * ka + 1000))" "$sil"
	check_equal "$p: host B: silence limit = 2 x interval + 1 s" "$((2 * ka + 1000))" "$(get "$p" silence_ms_B)"
	le "$p: idle time covered (ms, at least 5 min)" 300000 "$(get "$p" idle_ms)"
	check_equal "$p: 5 idle minutes: every poll showed the direct path with no switch" 0 "$(get "$p" idle_bad)"
	check_equal "$p: switch counts unchanged over the idle time" "$(get "$p" idle_switches_before)" "$(get "$p" idle_switches_after)"
	check_equal "$p: path direct on both hosts after 5 idle minutes" direct/direct "$(get "$p" idle_path_after)"
	check_equal "$p: 10/10 pings after 5 idle minutes" 10 "$(get "$p" idle_pings)"
	# Keepalives at the interval: host A sends at its own (<= the agreed) interval, one per
	# tick (100 ms) late at most.
	ia=$(get "$p" idle_a_interval_ms)
	tx=$(get "$p" idle_tx_A)
	idle=$(get "$p" idle_ms)
	lo=$((idle * 85 / 100 / (ia + 100)))
	hi=$((idle * 110 / 100 / ia + 5))
	[ "$tx" -ge "$lo" ] 2>/dev/null && [ "$tx" -le "$hi" ]
	check_status "$p: host A sent one keepalive per interval of $ia ms while idle ($tx packets in $idle ms, $lo..$hi)" $?
	for h in 1 2; do
		le "$p: blocked binding: host $(tr 12 AB <<<"$h") on the relay within 2 x interval + 1 s (+ 0.5 s: the tick, a loaded machine) (ms)" \
			"$(get "$p" block_relay_ms "$h")" $((sil + 500))
	done
	echo "    $p: fallback reasons: $(get "$p" block_reason); the kernel side's conntrack entries for the tunnel port while blocked: $(get "$p" block_conntrack_peer_entries); switches after: $(get "$p" block_switches)"
	for h in 1 2; do
		le "$p: block lifted: host $(tr 12 AB <<<"$h") direct again within 3 s (ms)" "$(get "$p" unblock_direct_ms "$h")" 3000
	done
	check_equal "$p: 10/10 pings after the re-punch" 10 "$(get "$p" block_pings)"
	le "$p: conntrack -F on the kernel side: answered again within 2 x interval + 1 s + 2 s (ms)" \
		"$(get "$p" flush_answer_ms)" $((sil + 2000))
	check_equal "$p: conntrack -F: direct on both hosts within 2 x interval + 4 s (switches now $(get "$p" flush_switches))" direct/direct "$(get "$p" flush_path)"
	check_equal "$p: 10/10 pings after the flush" 10 "$(get "$p" flush_pings)"
	[ "$p" = "$P1" ] || continue
	for h in 1 2; do
		le "$p: blocked for good: host $(tr 12 AB <<<"$h") on the relay (ms)" "$(get "$p" relay_idle_switch_ms "$h")" $((sil + 500))
	done
	want=$(interval_of "$(jget "$p" A lifetime_s)")
	check_equal "$p: host A registers every lifetime / 2.5 (its own binding toward the server), not the server's 15 s" \
		"$want" "$(get "$p" relay_register_every_ms)"
	check_equal "$p: relayed and idle 16 s: host A's binding toward punchvpnd never lapsed ($(get "$p" relay_binding_samples) conntrack samples)" \
		0 "$(get "$p" relay_binding_gaps)"
	check_equal "$p: still on the relay after the idle time" relay/relay "$(get "$p" relay_idle_path)"
	check_equal "$p: 10/10 pings from host B through the relay after the idle time" 10 "$(get "$p" relay_idle_pings)"
done
pairtest_done
