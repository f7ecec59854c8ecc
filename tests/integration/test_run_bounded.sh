#!/usr/bin/env bash
# Every phase of a natcheck run lives inside its budget and stops at Ctrl-C (issue 13, item 1;
# issue 9, item 3), with test mappings deleted:
#
#   1. a UPnP gateway that answers SSDP and the probe's description fetch at once, then drips
#      the real test's fetch one byte every 2 s (tests/integration/slow_upnp_gateway.py):
#      a default run ends within its budget + 1 s; SIGINT ends a run within 1 s, exit 130;
#   2. miniupnpd on the router, with the router dropping the STUN requests that carry
#      RESPONSE-PORT (so each real test mapping stays live for its 800 ms of retries): SIGINT
#      as soon as a test mapping shows in the router's nft chain ends natcheck within 1 s,
#      exit 130, and no mapping is left (nft chain and upnpc -l).
#
#   client 10.1.0.2 -- router 10.1.0.1 [gateway under test, masquerade] -- inet 198.18.1.1/.2
# Exit 77 (skip) when not root, without namespaces, or without python3, miniupnpd or upnpc.
set -u
NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NC_BUILD=${NC_BUILD:-$NC_SRC/build}
NATCHECK=$NC_BUILD/natcheck/natcheck
REFLECTOR=$NC_BUILD/reflector/natcheck-reflector
MINIUPNPD=${MINIUPNPD:-/usr/sbin/miniupnpd}
# shellcheck source=../lib/nslab.sh
. "$NC_SRC/tests/lib/nslab.sh"
need_root
need_tool python3 "$MINIUPNPD" upnpc
for b in "$NATCHECK" "$REFLECTOR"; do
	[ -x "$b" ] || { echo "FAIL: not built: $b"; exit 1; }
done

now_ms() { date +%s%3N; }

# timed_run NAME LIMIT_MS OUT ARGS...: natcheck --json ARGS in the client, stdout to OUT; it
# must exit 0 within LIMIT_MS.
timed_run() {
	local name=$1 limit=$2 out=$3 t0 rc el
	shift 3
	t0=$(now_ms)
	nslab_exec client timeout 60 "$NATCHECK" --json "$@" "$NSLAB_A1" >"$out" 2>"$out.err"
	rc=$?
	el=$(($(now_ms) - t0))
	if [ "$el" -le "$limit" ] && [ "$rc" = 0 ]; then
		check_pass "$name: ended in $el ms (limit $limit), exit 0"
	else
		check_fail "$name: took $el ms (limit $limit), exit $rc" "$(cat "$out.err")"
	fi
}

# interrupted_run NAME OUT WAIT_CMD...: natcheck --json in the client, SIGINT once WAIT_CMD
# returns; it must end within 1 s of the signal with exit 130.
interrupted_run() {
	local name=$1 out=$2 pid t0 rc el
	shift 2
	# Not through nslab_exec: a function in the background is a subshell, and the signal
	# must reach natcheck itself (ip netns exec execs it under the same pid).
	ip netns exec "$NSLAB_P-client" "$NATCHECK" --json "$NSLAB_A1" >"$out" 2>"$out.err" &
	pid=$!
	"$@" "$pid"
	t0=$(now_ms)
	kill -INT "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	el=$(($(now_ms) - t0))
	if [ "$el" -le 1000 ] && [ "$rc" = 130 ]; then
		check_pass "$name: ended $el ms after SIGINT, exit 130"
	else
		check_fail "$name: ended $el ms after SIGINT, exit $rc" "$(cat "$out.err")"
	fi
}

nslab_up "ncrb$$"
nslab_nat 'oifname "wan" masquerade'
nslab_daemon refl inet "$REFLECTOR" --primary "$NSLAB_A1" --alternate "$NSLAB_A2"
nslab_wait_udp inet "$NSLAB_A2:3479" || exit 1

# ---- 1. the slow UPnP gateway -------------------------------------------------------------
# A fresh gateway per run: only the first description fetch of each is fast.
gw_start() {
	nslab_daemon gw router python3 "$NC_SRC/tests/integration/slow_upnp_gateway.py" 10.1.0.1
	for _ in $(seq 100); do grep -q ready "$NSLAB_DIR/gw.log" 2>/dev/null && break; sleep 0.05; done
	nslab_wait_udp router "0.0.0.0:1900" || exit 1
}
gw_stop() {
	kill "$(cat "$NSLAB_DIR/gw.pid")" 2>/dev/null
	wait "$(cat "$NSLAB_DIR/gw.pid")" 2>/dev/null
	rm -f "$NSLAB_DIR/gw.pid"
}

gw_start
BUDGET=1000
timed_run "slow UPnP gateway, --budget $BUDGET" $((BUDGET + 1000)) "$NSLAB_DIR/slow.json" \
	--budget "$BUDGET" --no-topology
if grep -q '"upnp-igd"' "$NSLAB_DIR/slow.json" && grep -q 'drip' "$NSLAB_DIR/gw.log"; then
	check_pass "the probe found the gateway and the real test's fetch was dripped"
else
	check_fail "the slow gateway was not exercised" "$(cat "$NSLAB_DIR/gw.log")"
fi
# --reclassify reads the document through nc_result_from_json, the schema's validator.
if "$NATCHECK" --reclassify "$NSLAB_DIR/slow.json" --json >/dev/null 2>"$NSLAB_DIR/val.err"; then
	check_pass "the result of the cut-short run is a valid document"
else
	check_fail "invalid result document" "$(cat "$NSLAB_DIR/val.err")"
fi
if grep -q '"test_mapping": true' "$NSLAB_DIR/slow.json"; then
	check_fail "a UPnP test mapping claimed to work through a gateway that never answered"
else
	check_pass "no test mapping claimed through the dripping gateway"
fi

gw_stop

# default budget (5 s): within 6 s
gw_start
timed_run "slow UPnP gateway, default budget" 6000 "$NSLAB_DIR/slow2.json"
gw_stop

# SIGINT in the middle of the dripped fetch (1.5 s in: the probe and the UDP tests are over)
gw_start
after_1500ms() { sleep 1.5; }
interrupted_run "SIGINT during the dripped fetch" "$NSLAB_DIR/int.json" after_1500ms
if grep -q 'partial' "$NSLAB_DIR/int.json.err"; then
	check_pass "the cancelled run says its result is partial"
else
	check_fail "no word on the partial result" "$(cat "$NSLAB_DIR/int.json.err")"
fi
gw_stop

# ---- 2. miniupnpd: Ctrl-C while test mappings are live ------------------------------------
# The nft skeleton miniupnpd 2.3.1 expects (sim-recipes.md §7), next to the lab's own tables.
nslab_ruleset 'table inet filter {
	chain forward {
		type filter hook forward priority 0; policy accept;
		jump miniupnpd
	}
	chain miniupnpd {
	}
	chain prerouting {
		type nat hook prerouting priority -100; policy accept;
		jump prerouting_miniupnpd
	}
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		jump postrouting_miniupnpd
	}
	chain prerouting_miniupnpd {
	}
	chain postrouting_miniupnpd {
	}
}'
cat >"$NSLAB_DIR/miniupnpd.conf" <<CONF
ext_ifname=wan
ext_ip=2.1.1.1
listening_ip=lan
http_port=5000
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07c
allow 1024-65535 10.1.0.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
nslab_daemon upnpd router "$MINIUPNPD" -f "$NSLAB_DIR/miniupnpd.conf" -d
for _ in $(seq 100); do
	nslab_exec router ss -Hlun | grep -q '10.1.0.1:5351' && nslab_exec router ss -Hltn | grep -q ':5000' && break
	sleep 0.05
done
dnat_rules() { nslab_exec router nft list chain inet filter prerouting_miniupnpd 2>/dev/null | grep -c dnat; }

# A whole run first: each protocol's real test mapping carries traffic and is deleted.
nslab_exec client "$NATCHECK" --json "$NSLAB_A1" >"$NSLAB_DIR/ok.json" 2>"$NSLAB_DIR/ok.err"
check_equal "miniupnpd: test mappings that carried the test packet" 3 \
	"$(grep -c '"test_mapping": true' "$NSLAB_DIR/ok.json")"
check_equal "miniupnpd: test mappings deleted" 3 "$(grep -c '"deleted": true' "$NSLAB_DIR/ok.json")"
check_equal "dnat rules left after a whole run" 0 "$(dnat_rules)"

# Then hold each test mapping live for its 800 ms of retries: the router drops the STUN
# requests that carry RESPONSE-PORT (its attribute type 0x0027 first after the 20-byte header).
nslab_ruleset 'table ip slowtest {
	chain rpdrop {
		type filter hook forward priority -10; policy accept;
		iifname "lan" udp dport 3478 @th,224,16 0x0027 drop
	}
}'

# SIGINT as soon as a test mapping shows in the router's chain (or natcheck ended: a failure).
seen=0
until_mapping() {
	for _ in $(seq 200); do
		if [ "$(dnat_rules)" -gt 0 ]; then seen=1; return; fi
		kill -0 "$1" 2>/dev/null || return
		sleep 0.02
	done
}
interrupted_run "SIGINT with live test mappings" "$NSLAB_DIR/pm.json" until_mapping
if [ "$seen" = 1 ]; then
	check_pass "a test mapping was live on the gateway when SIGINT came"
else
	check_fail "no test mapping seen on the gateway before SIGINT" "$(cat "$NSLAB_DIR/pm.json.err" "$NSLAB_DIR/upnpd.log")"
fi
left=$(dnat_rules)
check_equal "dnat rules left on the gateway" 0 "$left"
if nslab_exec client upnpc -u http://10.1.0.1:5000/rootDesc.xml -l 2>/dev/null | grep -q 'natcheck'; then
	check_fail "upnpc -l still lists a natcheck mapping"
else
	check_pass "upnpc -l lists no natcheck mapping"
fi
checks_verdict
