#!/usr/bin/env bash
# punchvpn's port mapping (vpn/lib/vpnmap.c, issue 11 §2) against a real miniupnpd, through
# the driver pvmap (vpn/tools/pvmap.c): the mapping appears in miniupnpd's list and lease file,
# a datagram from the internet reaches the host's port through it, refreshes keep it past its
# first lifetime (a mapping left unrefreshed lapses: the control), SIGTERM and SIGINT delete it,
# PCP and UPnP-IGD work when asked, a network change re-acquires it, a gateway without NAT-PMP
# and PCP falls back to UPnP-IGD, a gateway behind a second NAT gives advertise=false with the
# reason, and neither a host without a default route nor a gateway that refuses produces error spam.
#
#   lab A: client 10.1.0.2 -- router [miniupnpd, snat to 2.1.1.1] -- inet 198.18.1.1, 2.1.1.2
#   lab B: client 10.1.0.2 -- router [miniupnpd, wan 2.1.1.2] -- outer [masquerade to
#          198.18.30.1] -- inet 198.18.1.1   (double NAT: the gateway's claim is not public)
#
# Exit 77 (skip) when not root, without namespaces, or without miniupnpd / nft / upnpc /
# python3. Environment from ctest: NC_BUILD (build tree), NC_SRC (source tree).
set -u

NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NC_BUILD=${NC_BUILD:-$NC_SRC/build}
PVMAP=$NC_BUILD/vpn/pvmap

# shellcheck source=../lib/nslab.sh
. "$NC_SRC/tests/lib/nslab.sh"
# shellcheck source=../lib/upnplab.sh
. "$NC_SRC/tests/lib/upnplab.sh"
need_root
need_tool "$UPNPLAB_MINIUPNPD" nft upnpc python3
[ -x "$PVMAP" ] || { echo "FAIL: driver not built: $PVMAP"; exit 1; }

W=$(mktemp -d /tmp/vpn-portmap.XXXXXX)
PV_PID=
finish() {
	[ -n "$PV_PID" ] && kill -9 "$PV_PID" 2>/dev/null
	nslab_down
	rm -rf "$W"
}
# lab_up PREFIX [NET]: nslab_up, with this script's traps back in place (nslab_up sets its own)
lab_up() {
	nslab_up "$@" || return 1
	trap finish EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# pv_start NAME ARGS...: pvmap in the client, its JSON lines in $W/NAME.out
pv_start() {
	local name=$1
	shift
	: >"$W/$name.out"
	# ip netns exec execs pvmap: $! is pvmap's pid, which the signals must reach
	ip netns exec "$NSLAB_P-client" "$PVMAP" "$@" >"$W/$name.out" 2>"$W/$name.err" &
	PV_PID=$!
}
# pv_stop SIG NAME: sends SIG, waits; sets PV_RC
pv_stop() {
	kill "-$1" "$PV_PID"
	wait "$PV_PID"
	PV_RC=$?
	PV_PID=
}
# last_state NAME: the last state line (not an event)
last_state() {
	grep '"state"' "$W/$1.out" | tail -1
}
# jq-less field access: field NAME KEY
field() {
	last_state "$1" | python3 -c 'import json,sys
v=json.loads(sys.stdin.read())[sys.argv[1]]
print(json.dumps(v) if isinstance(v,(bool,type(None))) else v)' "$2"
}
state_is() { # state_is NAME STATE
	[ "$(field "$1" state)" = "$2" ]
}
refreshes_at_least() { # refreshes_at_least NAME N
	[ "$(field "$1" refreshes)" -ge "$2" ]
}
# observe: the address the internet sees the client's UDP come from (what punchvpnd's
# REGISTERED would say), through a listener in inet
observe() {
	nslab_exec inet python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.1.1", 7001)); s.settimeout(5)
print(s.recvfrom(64)[1][0])' >"$W/observed" &
	local pid=$!
	nslab_wait_udp inet 198.18.1.1:7001 &&
		nslab_exec client python3 -c 'import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("198.18.1.1", 7001))'
	wait "$pid"
	cat "$W/observed"
}
send_from_inet() { # send_from_inet IP PORT TEXT
	nslab_exec inet python3 -c 'import socket,sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))' "$@"
}
received() { # received NAME TEXT
	grep '"event":"recv"' "$W/$1.out" | grep -q "\"data\":\"$2\""
}
listed() { # listed PORT: miniupnpd's list has a UDP mapping of PORT to the client
	upnplab_list | grep -qE "UDP +$1->10\.1\.0\.2:$1 "
}
none_left() { # none_left: neither upnpc nor the DNAT chain nor the lease file has a mapping
	! upnplab_list | grep -qE 'UDP +[0-9]+->' && [ -z "$(upnplab_dnat_ports)" ] &&
		[ -z "$(upnplab_leases)" ]
}
show() {
	sed 's/^/        /' "$W/$1.out" "$W/$1.err"
}

# map_case NAME PORT PROTO-OPTION EXPECTED-PROTO SIGNAL: maps, checks the list, a datagram
# through, and that SIGNAL deletes it
map_case() {
	local name=$1 port=$2 protos=$3 want=$4 sig=$5
	pv_start "$name" "$port" --listen --observed "$OBS" ${protos:+--protos "$protos"}
	if poll_for 100 state_is "$name" mapped; then
		check_equal "$name: mapped through $want" "$want" "$(field "$name" proto)"
	else
		check_fail "$name: no mapping within 10 s" "$(show "$name")"
	fi
	check_equal "$name: external endpoint is the gateway's" "2.1.1.1:$port" \
		"$(field "$name" external)"
	check_equal "$name: advertised (claim = observed)" true "$(field "$name" advertise)"
	check_equal "$name: profile carries it" "$want 2.1.1.1:$port" \
		"$(field "$name" profile_portmap) $(field "$name" profile_portmap_ep)"
	if listed "$port"; then
		check_pass "$name: upnpc -l lists UDP $port->10.1.0.2:$port"
	else
		check_fail "$name: upnpc -l does not list it" "$(upnplab_list)"
	fi
	send_from_inet 2.1.1.1 "$port" "through-$name"
	if poll_for 30 received "$name" "through-$name"; then
		check_pass "$name: a datagram from the internet reached the host's port through it"
	else
		check_fail "$name: the datagram did not arrive" "$(show "$name")"
	fi
	pv_stop "$sig" "$name"
	if [ "$PV_RC" = 0 ] && grep -q '"event":"stopped","left":0' "$W/$name.out"; then
		check_pass "$name: SIG$sig: pvmap deleted its mapping ($(grep -o '"took_ms":[0-9]*' "$W/$name.out"))"
	else
		check_fail "$name: SIG$sig: rc $PV_RC" "$(show "$name")"
	fi
	if none_left; then
		check_pass "$name: miniupnpd lists no mapping after SIG$sig"
	else
		check_fail "$name: mappings left after SIG$sig" "$(upnplab_list; upnplab_leases)"
	fi
}

# ===== lab A: one NAT, miniupnpd on it ========================================================
lab_up "vm$$a" || exit 1
nslab_exec router ip addr add 2.1.1.1/24 dev wan
nslab_exec inet ip addr add 2.1.1.2/24 dev i0
nslab_nat 'oifname "wan" snat ip to 2.1.1.1'
upnplab_up 2.1.1.1 || exit 1
check_pass "miniupnpd runs in the router (NAT-PMP, PCP, UPnP-IGD)"
OBS=$(observe)
check_equal "the internet sees the client as 2.1.1.1" 2.1.1.1 "$OBS"

map_case natpmp 40000 "" nat-pmp TERM
map_case pcp 40100 pcp pcp INT
map_case upnp 40200 upnp-igd upnp-igd INT

# --- refresh keeps a 4 s mapping past its first lifetime; the lease file shows it ---------------
pv_start refresh 40300 --listen --observed "$OBS" --lifetime 4
poll_for 100 state_is refresh mapped || check_fail "refresh: no mapping" "$(show refresh)"
check_equal "refresh: granted lifetime 4 s" 4 "$(field refresh lifetime_s)"
if upnplab_leases | grep -q ':40300:10\.1\.0\.2:40300:'; then
	check_pass "refresh: miniupnpd's lease file holds it ($(upnplab_leases | head -1))"
else
	check_fail "refresh: not in the lease file" "$(upnplab_leases)"
fi
# three refreshes at half the lifetime: more than 6 s, past the first lifetime (4 s)
if poll_for 120 refreshes_at_least refresh 3; then
	check_pass "refresh: refreshed 3 times at half the lifetime ($(field refresh t_ms) ms after start)"
else
	check_fail "refresh: fewer than 3 refreshes in 12 s" "$(show refresh)"
fi
if listed 40300; then
	check_pass "refresh: still listed after more than its first lifetime"
else
	check_fail "refresh: gone after its first lifetime" "$(upnplab_list)"
fi
send_from_inet 2.1.1.1 40300 late-datagram
if poll_for 30 received refresh late-datagram; then
	check_pass "refresh: a datagram still gets through after more than one lifetime"
else
	check_fail "refresh: the late datagram did not arrive" "$(show refresh)"
fi

# --- a network change re-acquires (SIGHUP = vpnmap_network_changed) ----------------------------
gen=$(field refresh generation)
kill -HUP "$PV_PID"
if poll_for 50 python3 -c 'import json,sys
lines=[json.loads(l) for l in open(sys.argv[1]) if "\"state\"" in l]
seen=[l for l in lines if l["generation"]>int(sys.argv[2])]
sys.exit(not (any(l["state"]=="searching" for l in seen) and seen[-1]["state"]=="mapped"))' \
	"$W/refresh.out" "$gen"; then
	check_pass "network change: searching, then mapped again"
else
	check_fail "network change: not re-acquired" "$(show refresh)"
fi
check_equal "network change: advertised again once the observed address is back" true \
	"$(field refresh advertise)"
check_equal "network change: one mapping listed afterwards" 1 \
	"$(upnplab_list | grep -cE 'UDP +[0-9]+->')"

# --- the control: a mapping nobody refreshes lapses at the gateway ------------------------------
disown "$PV_PID" # so that bash does not report the SIGKILL as an error line
kill -9 "$PV_PID"
poll_for 30 sh -c "! kill -0 $PV_PID"
PV_PID=
if listed 40300; then
	check_pass "control: after SIGKILL the mapping is still there (nobody deleted it)"
else
	check_fail "control: gone right after SIGKILL?" "$(upnplab_list)"
fi
if poll_for 150 none_left; then
	check_pass "control: unrefreshed, miniupnpd drops it once its 4 s lifetime is over"
else
	check_fail "control: an unrefreshed 4 s mapping is still listed after 15 s" "$(upnplab_list)"
fi

# --- UPnP-IGD refreshes too (AddPortMapping again, with a 4 s lease) -----------------------------
pv_start refresh_upnp 40350 --observed "$OBS" --lifetime 4 --protos upnp-igd
poll_for 100 state_is refresh_upnp mapped || check_fail "UPnP refresh: no mapping" "$(show refresh_upnp)"
if poll_for 120 refreshes_at_least refresh_upnp 3 && listed 40350; then
	check_pass "UPnP refresh: refreshed 3 times, still listed past its 4 s lease ($(field refresh_upnp t_ms) ms)"
else
	check_fail "UPnP refresh: not kept alive" "$(show refresh_upnp; upnplab_list)"
fi
pv_stop INT refresh_upnp
if [ "$PV_RC" = 0 ] && ! listed 40350; then
	check_pass "UPnP refresh: SIGINT deleted it"
else
	check_fail "UPnP refresh: rc $PV_RC after SIGINT" "$(show refresh_upnp; upnplab_list)"
fi

# --- a gateway that stops serving (ICMP port unreachable): clear state, no error spam --------------------
upnplab_down
poll_for 50 sh -c "! ip netns exec $NSLAB_P-router ss -Hlun | grep -q ':5351 '"
pv_start refusing 40400 --observed "$OBS" --hold 8 --lifetime 4 --protos nat-pmp,pcp
wait "$PV_PID"
PV_RC=$?
PV_PID=
check_equal "refusing gateway: state unavailable" unavailable "$(field refusing state)"
echo "        why: $(field refusing why)"
n=$(grep -c '"state"' "$W/refusing.out")
if [ "$n" -le 3 ] && [ ! -s "$W/refusing.err" ] && [ "$PV_RC" = 0 ]; then
	check_pass "refusing gateway: $n state lines in 8 s, nothing on stderr, exit 0"
else
	check_fail "refusing gateway: $n state lines, rc $PV_RC" "$(show refusing)"
fi
nslab_down

# ===== lab B: miniupnpd behind a second NAT, without NAT-PMP/PCP ================================
lab_up "vm$$b" 2.1.1 || exit 1
nslab_nat 'oifname "wan" masquerade'
upnplab_up 2.1.1.2 enable_natpmp=no || exit 1
OBS=$(observe)
check_equal "double NAT: the internet sees the outer NAT's 198.18.30.1" 198.18.30.1 "$OBS"
pv_start double 40500 --observed "$OBS"
if poll_for 150 state_is double mapped; then
	check_equal "double NAT: NAT-PMP and PCP absent, mapped through UPnP-IGD" upnp-igd \
		"$(field double proto)"
else
	check_fail "double NAT: no mapping" "$(show double)"
fi
check_equal "double NAT: the gateway claims 2.1.1.2:40500" 2.1.1.2:40500 "$(field double external)"
check_equal "double NAT: advertise=false" false "$(field double advertise)"
check_equal "double NAT: the profile carries no mapping" none "$(field double profile_portmap)"
why=$(field double why)
if echo "$why" | grep -q 'claims 2.1.1.2 but punchvpnd observes 198.18.30.1: another NAT'; then
	check_pass "double NAT: the reason says so ($why)"
else
	check_fail "double NAT: the reason" "$why"
fi
pv_stop TERM double
if [ "$PV_RC" = 0 ] && none_left; then
	check_pass "double NAT: SIGTERM deleted it, miniupnpd lists none"
else
	check_fail "double NAT: rc $PV_RC after SIGTERM" "$(show double; upnplab_list)"
fi
nslab_down

# ===== no gateway at all ==========================================================================
NS=vm$$c
ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" "$PVMAP" 40600 --hold 6 >"$W/nogw.out" 2>"$W/nogw.err"
rc=$?
ip netns del "$NS"
check_equal "no gateway: state no-gateway" no-gateway "$(field nogw state)"
echo "        why: $(field nogw why)"
n=$(grep -c '"state"' "$W/nogw.out")
if [ "$n" -le 2 ] && [ ! -s "$W/nogw.err" ] && [ "$rc" = 0 ]; then
	check_pass "no gateway: $n state line(s) in 6 s, nothing on stderr, exit 0"
else
	check_fail "no gateway: $n state lines, rc $rc" "$(sed 's/^/        /' "$W/nogw.out" "$W/nogw.err")"
fi

checks_verdict
