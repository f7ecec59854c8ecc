#!/usr/bin/env bash
# punchvpn's NAT profile (vpn/lib/natprof.c, through vpn/tools/pvnatprof) in the lab: behind a
# Linux masquerade router with natcheck-reflector on the internet side, the fast measurement
# is in within its budget and says EIM + APDF; an address added to the tunnel's own interface
# changes nothing; an address (and its route) added to the LAN interface bumps net_generation
# once for the whole burst and brings a second measurement; an address removed, a third; a
# change during a measurement brings another after it; the lifetime stage measures 5 s behind
# 5 s conntrack timeouts (keepalive 2 s), and a network change cancels it; behind miniupnpd
# the gateway's mapping protocol is advertised only while its address is the observed one.
set -u
NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NC_BUILD=${NC_BUILD:-$NC_SRC/build}
PVNATPROF=$NC_BUILD/vpn/pvnatprof
REFLECTOR=$NC_BUILD/reflector/natcheck-reflector
# shellcheck source=../lib/nslab.sh
. "$NC_SRC/tests/lib/nslab.sh"
need_root
need_tool jq
for b in "$PVNATPROF" "$REFLECTOR"; do
	[ -x "$b" ] || { echo "FAIL: not built: $b"; exit 1; }
done

nslab_up "pvnp$$"
nslab_nat 'oifname "wan" masquerade'
nslab_daemon refl inet "$REFLECTOR" --primary "$NSLAB_A1" --alternate "$NSLAB_A2"
nslab_wait_udp inet "$NSLAB_A2:3479" || exit 1
# The tunnel's interface stand-in: a veth whose peer stays in the client namespace.
nslab_exec client ip link add pv0 type veth peer name pv0p
nslab_exec client ip link set pv0 up

t0=$(date +%s%N)
nslab_daemon natprof client "$PVNATPROF" --stun "$NSLAB_A1" --skip pv0 --timeout-ms 60000
# pvnatprof's stdout is natprof.log (nslab_daemon); its lines are JSON.
OUT=$NSLAB_DIR/natprof.log

# wait_for JQ_FILTER [TIMEOUT_S]: until a line satisfies the filter; prints that line.
wait_for() {
	local i line n=$((${2:-5} * 20))
	for i in $(seq "$n"); do
		line=$(grep '^{' "$OUT" 2>/dev/null | jq -c "select($1)" 2>/dev/null | head -n1)
		[ -n "$line" ] && { echo "$line"; return 0; }
		sleep 0.05
	done
	return 1
}

# 1. The first measurement: within the fast budget (1 s), EIM + APDF behind masquerade.
if first=$(wait_for '.generation == 1' 5); then
	t1=$(date +%s%N)
	check_pass "first measurement in ($(((t1 - t0) / 1000000)) ms after start, took $(jq .took_ms <<<"$first") ms)"
	took=$(jq .took_ms <<<"$first")
	[ "$took" -le 1000 ] && check_pass "within the fast budget: $took ms <= 1000 ms" ||
		check_fail "over the fast budget: $took ms"
	check_equal "mapping" endpoint-independent "$(jq -r .profile.mapping <<<"$first")"
	check_equal "filtering" address-and-port-dependent "$(jq -r .profile.filtering <<<"$first")"
	check_equal "UDP blocked" false "$(jq -r .profile.udp_blocked <<<"$first")"
	check_equal "summary" "EI mapping, APD filtering, preserving" "$(jq -r .summary <<<"$first")"
	check_equal "net_generation before any change" 0 "$(jq .net_generation <<<"$first")"
	check_equal "local candidates (the tunnel's interface skipped)" '["10.1.0.2:51900"]' \
		"$(jq -c .local <<<"$first")"
else
	check_fail "no measurement within 5 s" "$(cat "$OUT")"
fi

# 2. The tunnel's own interface changes: not a network change.
nslab_exec client ip addr add 10.100.0.1/24 dev pv0
nslab_exec client ip route add 10.200.0.0/16 dev pv0
if line=$(wait_for '.net_generation >= 1' 1); then
	check_fail "an address on the tunnel's interface counted as a network change" "$line"
else
	check_pass "the tunnel's own address and route are not a network change"
fi

# 3. A burst on the LAN interface (an address, its prefix route, a host route): one
# net_generation bump, signalled before the new measurement, then generation 2.
nslab_exec client ip addr add 10.1.0.50/24 dev c0
nslab_exec client ip route add 198.18.99.0/24 via 10.1.0.1
if line=$(wait_for '.net_generation == 1' 3); then
	check_pass "the LAN change bumped net_generation"
	check_equal "signalled at once, before the new measurement" 1 "$(jq .generation <<<"$line")"
else
	check_fail "no net_generation bump within 3 s" "$(cat "$OUT")"
fi
if second=$(wait_for '.generation == 2' 5); then
	check_pass "a second measurement followed"
	check_equal "its mapping" endpoint-independent "$(jq -r .profile.mapping <<<"$second")"
	check_equal "one bump for the whole burst" 1 "$(jq .net_generation <<<"$second")"
	check_equal "the new address is a local candidate" true \
		"$(jq 'any(.local[]; . == "10.1.0.50:51900")' <<<"$second")"
else
	check_fail "no second measurement within 5 s" "$(cat "$OUT")"
fi

# 4. An address removed: another change, another measurement.
nslab_exec client ip addr del 10.1.0.50/24 dev c0
if third=$(wait_for '.generation == 3' 5); then
	check_equal "net_generation after the removal" 2 "$(jq .net_generation <<<"$third")"
else
	check_fail "no third measurement after the address went away" "$(cat "$OUT")"
fi

# 4b. Changes that never pause (one every ~0.1 s for 3 s): measured 2 s after the stream
# began, not only once it ends (two bumps, not one).
before=$(grep '^{' "$OUT" | tail -n1 | jq .net_generation)
for _ in $(seq 15); do
	nslab_exec client ip addr add 10.1.0.90/24 dev c0
	sleep 0.1
	nslab_exec client ip addr del 10.1.0.90/24 dev c0
	sleep 0.1
done
if wait_for ".net_generation >= $before + 2" 3 >/dev/null; then
	check_pass "a change stream of ~3 s: measured during it and after it"
else
	check_fail "a change stream of ~3 s: not measured while it lasted" \
		"$(grep '^{' "$OUT" | jq -c '[.net_generation, .generation]' | tail -n5)"
fi

# 5. Stops on SIGTERM, promptly.
pid=$(cat "$NSLAB_DIR/natprof.pid")
kill -TERM "$pid"
for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$pid" 2>/dev/null; then
	check_fail "pvnatprof still runs 2 s after SIGTERM"
else
	check_pass "stopped on SIGTERM"
	rm -f "$NSLAB_DIR/natprof.pid"
fi

# 6. A change while a measurement runs: signalled at once, and the measurement is run again
# once the running one ends. A server address where nobody answers keeps the first
# measurement busy for most of a second (its retransmissions); the change comes as soon as
# the first line says the watcher is subscribed.
OUT=$NSLAB_DIR/slow.log
nslab_daemon slow client "$PVNATPROF" --stun 198.18.1.9 --budget-ms 1500 --timeout-ms 20000
if wait_for '.generation == 0' 2 >/dev/null; then
	nslab_exec client ip addr add 10.1.0.60/24 dev c0
	if line=$(wait_for '.net_generation == 1' 3); then
		check_equal "a change during a measurement: signalled while it runs (generation)" 0 \
			"$(jq .generation <<<"$line")"
	else
		check_fail "no net_generation bump during the measurement" "$(cat "$OUT")"
	fi
	if line=$(wait_for '.generation == 2' 6); then
		check_pass "the measurement ran again after the one the change interrupted"
		check_equal "that one says UDP does not get through" "UDP blocked, TCP punching unknown" \
			"$(jq -r .summary <<<"$line")"
	else
		check_fail "no second measurement after a change during the first" "$(cat "$OUT")"
	fi
else
	check_fail "pvnatprof (slow server) never reported a running measurement" "$(cat "$OUT")"
fi
kill "$(cat "$NSLAB_DIR/slow.pid")" 2>/dev/null

# 7. The binding lifetime, measured after the fast profile, behind 5 s UDP conntrack
# timeouts (the lab's short-lifetime profile): one more generation with the lifetime, and the
# keepalive follows it (5 s / 2.5 = 2 s). About 26 s.
nslab_exec router sysctl -qw net.netfilter.nf_conntrack_udp_timeout=5 \
	net.netfilter.nf_conntrack_udp_timeout_stream=5
OUT=$NSLAB_DIR/life.log
nslab_daemon life client "$PVNATPROF" --stun "$NSLAB_A1" --lifetime --lifetime-max 20 \
	--generations 2 --timeout-ms 90000
if line=$(wait_for '.generation == 2' 90); then
	life=$(jq .profile.lifetime_s <<<"$line")
	if [ "$life" -ge 4 ] && [ "$life" -le 6 ]; then
		check_pass "lifetime measured after the fast profile: $life s (conntrack: 5 s), took $(jq .took_ms <<<"$line") ms"
	else
		check_fail "lifetime $life s behind a 5 s conntrack timeout" "$line"
	fi
	check_equal "keepalive from the lifetime" "$((life * 1000 * 2 / 5))" "$(jq .keepalive_ms <<<"$line")"
	check_equal "its summary" "EI mapping, APD filtering, preserving, $life s" "$(jq -r .summary <<<"$line")"
	check_equal "no network change meanwhile" 0 "$(jq .net_generation <<<"$line")"
else
	check_fail "no lifetime measurement within 90 s" "$(cat "$OUT")"
fi

# 8. A network change cancels a running lifetime measurement: the fast profile of the new
# network comes within a second or two, not after the lifetime run (which would take 25 s).
OUT=$NSLAB_DIR/life2.log
nslab_daemon life2 client "$PVNATPROF" --stun "$NSLAB_A1" --lifetime --lifetime-max 20 \
	--timeout-ms 60000
if wait_for '.generation == 1' 5 >/dev/null; then
	nslab_exec client ip addr add 10.1.0.70/24 dev c0
	if line=$(wait_for '.generation == 2' 4); then
		check_equal "after a change during the lifetime run: the new fast profile" \
			"1 0" "$(jq -r '"\(.net_generation) \(.profile.lifetime_s)"' <<<"$line")"
	else
		check_fail "the lifetime run was not cancelled by a network change" "$(cat "$OUT")"
	fi
else
	check_fail "pvnatprof --lifetime: no first measurement" "$(cat "$OUT")"
fi

# 9. Port mapping (--portmap): a home router with miniupnpd (NAT-PMP, PCP, UPnP-IGD) whose
# external address 2.1.1.1 is the one the reflector sees: advertised. The same gateway when
# the router's source NAT uses another address (as behind a second NAT): not advertised.
# (The upnp-gateway lab profile, sim-recipes §7: 2.1.1.1 is outside miniupnpd's reserved list.)
MINIUPNPD=${MINIUPNPD:-/usr/sbin/miniupnpd}
if [ -x "$MINIUPNPD" ]; then
	nslab_down
	nslab_up "pvnm$$"
	nslab_exec router ip addr add 2.1.1.1/24 dev wan
	nslab_exec inet ip addr add 2.1.1.2/24 dev i0
	nslab_ruleset 'table inet filter {
 chain forward {
  type filter hook forward priority 0; policy drop
  jump miniupnpd
  ct state established,related accept
  iifname "lan" oifname "wan" accept
 }
 chain miniupnpd {
 }
 chain prerouting {
  type nat hook prerouting priority -100; policy accept
  jump prerouting_miniupnpd
 }
 chain postrouting {
  type nat hook postrouting priority 100; policy accept
  jump postrouting_miniupnpd
 }
 chain prerouting_miniupnpd {
 }
 chain postrouting_miniupnpd {
 }
}'
	nslab_nat 'oifname "wan" snat ip to 2.1.1.1'
	cat >"$NSLAB_DIR/miniupnpd.conf" <<CONF
ext_ifname=wan
ext_ip=2.1.1.1
listening_ip=lan
http_port=5000
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07c
lease_file=$NSLAB_DIR/miniupnpd.leases
allow 1024-65535 10.1.0.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
	nslab_daemon refl inet "$REFLECTOR" --primary "$NSLAB_A1" --alternate "$NSLAB_A2"
	nslab_daemon upnpd router "$MINIUPNPD" -f "$NSLAB_DIR/miniupnpd.conf" -d \
		-P "$NSLAB_DIR/miniupnpd-own.pid"
	if nslab_wait_udp inet "$NSLAB_A2:3479" && nslab_wait_udp router "10.1.0.1:5351"; then
		line=$(nslab_exec client "$PVNATPROF" --stun "$NSLAB_A1" --portmap --generations 1 \
			--timeout-ms 10000 | grep '^{' | tail -n1)
		check_equal "miniupnpd at the observed address: advertised" "1 2.1.1.1" \
			"$(jq -r '"\(.profile.portmap) \(.profile.portmap_ep)"' <<<"$line")"
		check_equal "its summary" "EI mapping, APD filtering, preserving, NAT-PMP at 2.1.1.1" \
			"$(jq -r .summary <<<"$line")"
		# The router now leaves through 198.18.10.1 while miniupnpd still claims 2.1.1.1.
		nslab_exec router nft flush table ip nslabnat
		nslab_nat 'oifname "wan" snat ip to 198.18.10.1'
		line=$(nslab_exec client "$PVNATPROF" --stun "$NSLAB_A1" --portmap --generations 1 \
			--timeout-ms 10000 | grep '^{' | tail -n1)
		check_equal "miniupnpd claiming another address than the observed one: not advertised" \
			"0 null" "$(jq -r '"\(.profile.portmap) \(.profile.portmap_ep)"' <<<"$line")"
	else
		check_fail "miniupnpd or the reflector did not start" \
			"$(cat "$NSLAB_DIR/upnpd.log" "$NSLAB_DIR/refl.log" 2>/dev/null | tail -n 20)"
	fi
	nslab_exec router nft delete table inet filter 2>/dev/null
else
	echo "  (not run: port mapping, $MINIUPNPD is not installed)"
fi
checks_verdict
