# shellcheck shell=bash
# sim/lib/pairs.sh: the lab's pair cases (sim/run.sh --pairs, --pair A:B, --pairs-full).
# Sourced by sim/run.sh after its own functions (profile_source, profile_up, start_servers).
#
# One pair case, namespaces nc<pid>-p<n>-*:
#
#   a-client 10.1.0.2 -- a-router (profile A) 198.18.10.1 --+
#                        [a-outer 198.18.30.1 for CGN sides] |
#                                                            +-- inet: bridge i0, 198.18.1.1/.1.2
#   b-client 10.2.0.2 -- b-router (profile B) 198.18.20.1 --+   reflector, bouncer 198.18.2.1,
#                        [b-outer 198.18.40.1]                   punchvpnd 198.18.1.1:51901
#
# Each side is one profile's lab (profile_up, with NSLAB_INET pointing at the shared internet),
# so a profile's rules, natbox, miniupnpd and upstream NAT come up per side unchanged. "same"
# as profile B puts both hosts behind A's one router (a-client 10.1.0.2, a-client2 10.1.0.3).
# The internet namespace routes (2.1.x.0/24 of miniupnpd gateways, the LANs of open-internet
# sides), and every router's default route points at it.
#
# A case: both hosts reach the internet (ping 198.18.1.1); with --verify-sides each measures
# its NAT with natcheck and must get its profile's verdict (EXPECT); then keys and configs
# (punchvpn genkey/pubkey, key files 0600, Server/ServerPublicKey, the peer with AllowedIPs, no
# Endpoint), punchvpnd, both `punchvpn up`, the time from the second `up` to the first ping
# answered through the tunnel, 10 pings, `punchvpn status --json` on both sides judged by
# sim/lib/pairs_check.py against the pair's expected path (and method, once status reports
# one), `punchvpn down`, and the profiles' after_measure hooks (e.g. miniupnpd holds no
# mapping). Files: $OUT/PAIR.pair.json (the case), PAIR.line, PAIR.work/ (kept on failure:
# logs, configs without keys, status, rulesets).

# shellcheck disable=SC2034 # read by sim/run.sh (--pair looks a pair up in both lists)
PAIRS_DEFAULT_LIST=$SIM/pairs.list
# shellcheck disable=SC2034
PAIRS_FULL_LIST=$SIM/pairs-full.list
PV_ADDR_A=10.100.0.1
PV_ADDR_B=10.100.0.2
PVD_ADDR=198.18.1.1
PVD_PORT=51901
PV_PORT=51900
PAIR_SETTLE_S=10 # a direct pair's path settles within this (pair_vpn_run)

# pairs_read LIST: the pair lines of LIST, one per line, comments and blank lines removed:
#   PROFILE-A PROFILE-B|same PATH [METHOD|-] [LIMIT...]
# PATH is direct or relay; METHOD (optional) what status must name once it reports a method;
# LIMIT is first_ping_ms<=N or intro_direct_ms<=N.
pairs_read() {
	sed -e 's/#.*//' -e 's/[[:space:]]\+/ /g' -e 's/^ //' -e 's/ $//' "$1" | sed '/^$/d'
}

# pairs_validate LINE...: every profile exists, every path and limit parses. Exit 2 otherwise.
pairs_validate() {
	local line a b path method rest w
	for line in "$@"; do
		read -r a b path method rest <<<"$line"
		for w in "$a" "$b"; do
			[ "$w" = same ] && [ "$w" = "$b" ] && continue
			[ -r "$PROFILE_DIR/$w.profile" ] || { echo "sim/run.sh: pair '$line': no profile '$w'" >&2; exit 2; }
		done
		case $path in direct | relay | any) ;; *) echo "sim/run.sh: pair '$line': path must be direct, relay or any" >&2; exit 2 ;; esac
		for w in $rest; do
			case $w in first_ping_ms\<=[0-9]* | intro_direct_ms\<=[0-9]*) ;;
			*) echo "sim/run.sh: pair '$line': unknown limit '$w' (first_ping_ms<=N, intro_direct_ms<=N)" >&2; exit 2 ;;
			esac
		done
	done
}

pair_name() { echo "$1+$2"; }

# pair_side_env SIDE: the addresses of side a or b (each side is its own profile lab).
pair_side_env() {
	if [ "$1" = a ]; then
		NSLAB_LAN=10.1.0 NSLAB_WAN_ADDR=198.18.10.1 NSLAB_OUTER_WAN=198.18.30.1 UPNP_WAN=2.1.1.1
	else
		NSLAB_LAN=10.2.0 NSLAB_WAN_ADDR=198.18.20.1 NSLAB_OUTER_WAN=198.18.40.1 UPNP_WAN=2.1.2.1
	fi
	NSLAB_INET_PORT=u$1
	export NSLAB_LAN NSLAB_WAN_ADDR NSLAB_OUTER_WAN UPNP_WAN NSLAB_INET_PORT
}

# pair_ctx SIDE: make side a or b (or "inet") the current lab for nslab_* and profile hooks.
pair_ctx() {
	if [ "$1" = inet ]; then
		NSLAB_P=$PP NSLAB_DIR=$PDIR/inet
		return
	fi
	pair_side_env "$1"
	NSLAB_P=$PP-$1
	NSLAB_DIR=${SIDE_DIR[$1]}
	NSLAB_WAN=${SIDE_WAN[$1]}
	# shellcheck disable=SC2034 # read by nslab.sh and the profiles' hooks
	NSLAB_CLIENT=$NSLAB_LAN.2 W=$NSLAB_WAN
}

# pair_inet_up: the shared internet: a bridge i0 with the servers' addresses, forwarding on.
pair_inet_up() {
	ip netns add "$NSLAB_INET"
	ip -n "$NSLAB_INET" link set lo up
	ip -n "$NSLAB_INET" link add i0 type bridge
	ip -n "$NSLAB_INET" addr add "$NSLAB_A1/16" dev i0
	ip -n "$NSLAB_INET" addr add "$NSLAB_A2/16" dev i0
	ip -n "$NSLAB_INET" link set i0 up
	ip netns exec "$NSLAB_INET" sysctl -qw net.ipv4.ip_forward=1
	mkdir -p "$PDIR/inet"
}

# pair_side_up SIDE PROFILE [HOSTS2]: one side's lab from its profile; its hook before_measure
# runs once the side is up (e.g. miniupnpd starts).
pair_side_up() {
	local side=$1 prof=$2
	pair_side_env "$side"
	profile_source "$prof"
	# shellcheck disable=SC2034 # read by profile_up
	[ "${3:-}" = 2 ] && HOSTS=2
	SIDE_ROUTED[$side]=$ROUTED
	mkdir -p "$PDIR/$side"
	profile_up "$PP-$side" "$PDIR/$side"
	# nslab_up made NSLAB_DIR and installed its own traps: the case's teardown owns both sides.
	trap pair_down EXIT
	trap 'pair_down; exit 130' INT TERM
	SIDE_DIR[$side]=$NSLAB_DIR
	SIDE_WAN[$side]=$NSLAB_WAN
	SIDE_NATBOX[$side]=$([ -n "$NATBOX_ARGS" ] && echo 1 || echo 0)
	# The shared internet routes between the sides: every router's (or outer NAT's) default
	# route points at it.
	if [ -n "$UPSTREAM" ]; then
		nslab_exec outer ip route add default via "$NSLAB_A1"
	else
		nslab_exec router ip route add default via "$NSLAB_A1"
	fi
	if declare -F before_measure >/dev/null; then
		before_measure
	fi
}

# pair_down: everything the case started, by pid and by name: punchvpn, punchvpnd, natbox,
# the sides (nslab_down: their daemons by pid, then whatever runs in their namespaces, then
# the namespaces), the shared internet.
pair_down() {
	local side f
	set +e
	[ "${PAIR_DOWN_DONE:-0}" = 1 ] && return 0
	PAIR_DOWN_DONE=1
	for f in "$PDIR"/pv/*.pid "$PDIR"/inet/*.pid; do
		[ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	for side in a b; do
		[ -n "${SIDE_DIR[$side]:-}" ] || continue
		pair_ctx "$side"
		[ "${SIDE_NATBOX[$side]:-0}" = 1 ] && natbox_stop "$NSLAB_P-router" "$PDIR/$side/natbox" >/dev/null 2>&1
		nslab_down
		SIDE_DIR[$side]=
	done
	ip netns pids "$NSLAB_INET" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$NSLAB_INET" 2>/dev/null
	rm -rf "/tmp/pvrun.$PP"
	return 0
}

# pair_host_ns A|B: the namespace of host A or B.
pair_host_ns() {
	if [ "$1" = A ]; then echo "$PP-a-client"
	elif [ "$PAIR_SAME" = 1 ]; then echo "$PP-a-client2"
	else echo "$PP-b-client"; fi
}

# pair_reach HOSTNS: ping 198.18.1.1, else a STUN Binding answer from 198.18.1.1:3478.
pair_reach() {
	ip netns exec "$1" ping -n -q -c 1 -W 2 "$NSLAB_A1" >/dev/null 2>&1 && return 0
	ip netns exec "$1" python3 "$STUNPROBE" --tries 5 "$NSLAB_A1:3478" 2>/dev/null |
		python3 -c 'import json, sys; sys.exit(0 if any(json.loads(l).get("t_ms") is not None for l in sys.stdin if l.strip()) else 1)'
}

# pair_reach_host FROM TO TO-ADDR: host FROM pings host TO, or (routers that translate only UDP
# and TCP) gets a UDP echo from it: a one-datagram responder on TO-ADDR:40999.
pair_reach_host() {
	local from to=$2 addr=$3 pid rc
	from=$(pair_host_ns "$1")
	ip netns exec "$from" ping -n -q -c 1 -W 2 "$addr" >/dev/null 2>&1 && return 0
	ip netns exec "$(pair_host_ns "$to")" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 40999))
s.settimeout(5)
d, a = s.recvfrom(64)
s.sendto(d, a)' "$addr" 2>/dev/null &
	pid=$!
	for _ in $(seq 40); do
		ip netns exec "$(pair_host_ns "$to")" ss -Hlun | grep -q " $addr:40999 " && break
		sleep 0.05
	done
	ip netns exec "$from" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for _ in range(6):
    s.sendto(b"pair", (sys.argv[1], 40999))
    try:
        if s.recvfrom(64)[0] == b"pair":
            sys.exit(0)
    except socket.timeout:
        pass
sys.exit(1)' "$addr"
	rc=$?
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return "$rc"
}

# pair_verify_side SIDE HOSTNS NAME: natcheck from that host through its own router must give
# the side's profile's verdict.
pair_verify_side() {
	local side=$1 hns=$2 tag=$3
	pair_ctx "$side"
	profile_source "${SIDE_PROFILE[$side]}"
	local r=$PDIR/$tag.natcheck.json
	# shellcheck disable=SC2086
	ip netns exec "$hns" "$NC_BUILD/natcheck/natcheck" --json $NATCHECK_ARGS "$NSLAB_A1" >"$r" 2>"$PDIR/$tag.natcheck.err" || true
	# shellcheck disable=SC2086
	if ! python3 "$SIM/lib/expect.py" --summary "$PDIR/$tag.verdict" "$r" $EXPECT >"$PDIR/$tag.mismatch"; then
		sed "s/^/$tag side (${SIDE_PROFILE[$side]}): natcheck: /" "$PDIR/$tag.mismatch" >>"$PDIR/errors"
	fi
	cut -f2 "$PDIR/$tag.verdict" 2>/dev/null >"$PDIR/$tag.measured" || true
}

# pair_run_dir HOST: host A's or B's punchvpn run directory (its control socket). Short and
# outside the case's directory: a socket path has 107 bytes at most, and the case directories
# of the longer profile names are deeper than that.
pair_run_dir() { echo "/tmp/pvrun.$PP/$1"; }

# pair_pv HOST ARGS...: punchvpn on host A or B, with that host's run directory.
pair_pv() {
	local h=$1
	shift
	PUNCHVPN_RUN_DIR=$(pair_run_dir "$h") ip netns exec "$(pair_host_ns "$h")" "$PV" "$@"
}

# pair_vpn_setup: keys (0600), the server's key, both configs, punchvpnd on 198.18.1.1:51901.
pair_vpn_setup() {
	local d=$PDIR/pv h
	mkdir -p "$d" "$(pair_run_dir A)" "$(pair_run_dir B)"
	(
		umask 077
		for h in A B S; do "$PV" genkey >"$d/$h.key"; done
	)
	for h in A B S; do "$PV" pubkey <"$d/$h.key" >"$d/$h.pub"; done
	pair_pv_conf A "$PV_ADDR_A" B "$PV_ADDR_B" >"$d/pva.conf"
	pair_pv_conf B "$PV_ADDR_B" A "$PV_ADDR_A" >"$d/pvb.conf"
	pair_ctx inet
	nslab_daemon punchvpnd inet "$PVD" --listen "$PVD_ADDR:$PVD_PORT" --key "$d/S.key" --user nobody
	cp "$NSLAB_DIR/punchvpnd.pid" "$d/punchvpnd.pid"
	for _ in $(seq 100); do
		nslab_exec inet ss -Hlun | grep -q " $PVD_ADDR:$PVD_PORT " && return 0
		kill -0 "$(cat "$d/punchvpnd.pid")" 2>/dev/null || break
		sleep 0.05
	done
	echo "punchvpnd did not start: $(tail -n 3 "$NSLAB_DIR/punchvpnd.log" | tr '\n' ' ')" >>"$PDIR/errors"
	return 1
}

# pair_pv_conf ME MYADDR PEER PEERADDR: a config with no Endpoint: the peers find each other
# through punchvpnd. PAIR_PV_OUTCOMES=DIR (tests): each host writes its punch outcome documents
# into DIR/ME (OutcomeLog).
pair_pv_conf() {
	local d=$PDIR/pv
	cat <<CONF
[Interface]
PrivateKeyFile = $d/$1.key
Address = $2/24
ListenPort = $PV_PORT
Server = $PVD_ADDR:$PVD_PORT
ServerPublicKey = $(cat "$d/S.pub")
${PAIR_PV_OUTCOMES:+OutcomeLog = $PAIR_PV_OUTCOMES/$1}

[Peer]
PublicKey = $(cat "$d/$3.pub")
AllowedIPs = $4/32
CONF
}

# pair_both_direct: both hosts' status names a direct path to the peer.
pair_both_direct() {
	local h
	for h in A B; do
		pair_pv "$h" status "pv$(tr 'AB' 'ab' <<<"$h")" --json 2>/dev/null | python3 -c 'import json, sys
s = json.load(sys.stdin)
s = s[0] if isinstance(s, list) else s
sys.exit(0 if str(s["peers"][0].get("path") or "").startswith("direct") else 1)' 2>/dev/null || return 1
	done
}

# pair_vpn_run EXPECTED-PATH: both `punchvpn up`, the first ping, (a direct pair: its path
# settled), 10 pings, both statuses, both down. Writes $PDIR/vpn.env (first_ping_ms, received)
# and $PDIR/status.A.json, status.B.json.
pair_vpn_run() {
	local expect=$1 d=$PDIR/pv h t0 i first=null rx=0 ifn
	for h in A B; do
		ifn=pv$(tr 'AB' 'ab' <<<"$h")
		[ "$h" = B ] && t0=$(date +%s%3N)
		PUNCHVPN_RUN_DIR=$(pair_run_dir "$h") ip netns exec "$(pair_host_ns "$h")" "$PV" up "$d/$ifn.conf" --foreground >"$d/up$h.log" 2>&1 &
		echo $! >"$d/up$h.pid"
	done
	# Both interfaces up (bounded): an `up` that exits instead is an error with its message.
	for h in A B; do
		ifn=pv$(tr 'AB' 'ab' <<<"$h")
		for i in $(seq 200); do
			ip -n "$(pair_host_ns "$h")" link show "$ifn" >/dev/null 2>&1 && break
			kill -0 "$(cat "$d/up$h.pid")" 2>/dev/null || break
			sleep 0.05
		done
		if ! ip -n "$(pair_host_ns "$h")" link show "$ifn" >/dev/null 2>&1; then
			echo "punchvpn up on host $h did not bring $ifn up: $(tail -n 3 "$d/up$h.log" | tr '\n' ' ')" >>"$PDIR/errors"
			return 1
		fi
	done
	# First answer through the tunnel: ping every 50 ms until one reply, at most 20 s; the
	# time is the reply's own time stamp (-D) minus the second `up`'s start.
	if ip netns exec "$(pair_host_ns A)" ping -n -D -c 1 -i 0.05 -w 20 "$PV_ADDR_B" >"$d/ping-first.txt" 2>&1; then
		first=$(awk -v t0="$t0" '/bytes from/ { gsub(/[][]/, "", $1); printf "%d\n", $1 * 1000 - t0; exit }' "$d/ping-first.txt")
		[ -n "$first" ] || first=$(($(date +%s%3N) - t0))
	fi
	# A pair expected direct: both hosts on a direct path before the 10 pings, at most
	# PAIR_SETTLE_S. The slowest method (birthday probing) gives up after 8 s (vpn/lib/bday.h),
	# and on a loaded machine it took over 2 s, the time the 10 pings alone leave it. The
	# wait only lets the path settle: the path is still judged below, from the status after
	# the pings, and the time to the direct path is status's intro_direct_ms.
	if [ "$expect" = direct ]; then
		for i in $(seq $((PAIR_SETTLE_S * 10))); do
			pair_both_direct && break
			sleep 0.1
		done
	fi
	ip netns exec "$(pair_host_ns A)" ping -n -c 10 -i 0.2 -W 2 "$PV_ADDR_B" >"$d/ping10.txt" 2>&1 || true
	rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$d/ping10.txt")
	for h in A B; do
		ifn=pv$(tr 'AB' 'ab' <<<"$h")
		pair_pv "$h" status "$ifn" --json >"$PDIR/status.$h.json" 2>"$d/status$h.err" || true
	done
	printf 'first_ping_ms=%s\nreceived=%s\n' "$first" "${rx:-0}" >"$PDIR/vpn.env"
	# PAIR_VPN_HOOK (tests): a bash file defining pair_vpn_hook, run here against the live
	# tunnel (after the 10 pings and the statuses, before `down`); a failure or a line it adds to
	# $PDIR/errors fails the case.
	if [ -n "${PAIR_VPN_HOOK:-}" ]; then
		# shellcheck disable=SC1090
		. "$PAIR_VPN_HOOK"
		pair_vpn_hook || echo "PAIR_VPN_HOOK: pair_vpn_hook failed (exit $?)" >>"$PDIR/errors"
	fi
	# down, then the interface and the process must be gone (bounded).
	for h in A B; do
		ifn=pv$(tr 'AB' 'ab' <<<"$h")
		pair_pv "$h" down "$ifn" >"$d/down$h.log" 2>&1 || echo "punchvpn down on host $h failed: $(tail -n 1 "$d/down$h.log")" >>"$PDIR/errors"
		for _ in $(seq 100); do
			kill -0 "$(cat "$d/up$h.pid")" 2>/dev/null || break
			sleep 0.05
		done
		kill -0 "$(cat "$d/up$h.pid")" 2>/dev/null && echo "punchvpn on host $h still runs 5 s after down" >>"$PDIR/errors"
		ip -n "$(pair_host_ns "$h")" link show "$ifn" >/dev/null 2>&1 && echo "host $h: $ifn left after down" >>"$PDIR/errors"
	done
	return 0
}

# pair_save_failure: rulesets and conntrack of the routers, logs, in PAIR.work/.
pair_save_failure() {
	local ns
	for ns in $(ip netns list 2>/dev/null | awk -v p="$PP-" 'index($1, p) == 1 { print $1 }'); do
		ip netns exec "$ns" nft list ruleset >"$PDIR/${ns#"$PP"-}.nft" 2>&1 || true
		case $ns in *router | *outer) ip netns exec "$ns" conntrack -L >"$PDIR/${ns#"$PP"-}.conntrack" 2>&1 || true ;; esac
	done
	cp "$PDIR"/inet/*.log "$PDIR/" 2>/dev/null || true
	for side in a b; do
		[ -n "${SIDE_DIR[$side]:-}" ] && for f in "${SIDE_DIR[$side]}"/*.log; do
			[ -e "$f" ] && cp "$f" "$PDIR/$side-$(basename "$f")"
		done
	done
	rm -f "$PDIR"/pv/*.key # never keep private keys
	return 0
}

# run_pair INDEX LINE: one pair case (a subshell: its traps and profile functions stay in it).
run_pair() (
	local idx=$1 line=$2 a b path method rest name side status t0
	read -r a b path method rest <<<"$line"
	[ "${method:-}" = - ] && method=
	name=$(pair_name "$a" "$b")
	PP=nc$$-p$idx
	PDIR=$OUT/$name.work
	NSLAB_INET=$PP-inet
	PAIR_SAME=0
	[ "$b" = same ] && PAIR_SAME=1
	# Globals of this subshell: the EXIT trap (pair_down) reads them after the body ends.
	declare -gA SIDE_DIR=() SIDE_WAN=() SIDE_NATBOX=() SIDE_ROUTED=([a]=0 [b]=0) SIDE_PROFILE=([a]=$a [b]=$b)
	rm -rf "$PDIR"
	mkdir -p "$PDIR"
	: >"$PDIR/errors"
	trap pair_down EXIT
	trap 'pair_down; exit 130' INT TERM
	t0=$(date +%s%3N)
	pair_inet_up
	pair_ctx inet
	start_servers
	if [ "$PAIR_SAME" = 1 ]; then
		pair_side_up a "$a" 2
	else
		pair_side_up a "$a"
		pair_side_up b "$b"
	fi
	# Both hosts reach the internet: a ping to the reflector's address, or, through the
	# routers that translate only UDP and TCP (address-dependent-mapping,
	# port-restricted-no-preservation, symmetric-sequential), a STUN answer from it.
	for h in A B; do
		pair_reach "$(pair_host_ns "$h")" || echo "host $h reaches $NSLAB_A1 neither by ping nor by STUN" >>"$PDIR/errors"
	done
	# A side without NAT is public: the other host reaches its host directly.
	if [ "$PAIR_SAME" = 0 ]; then
		if [ "${SIDE_ROUTED[a]}" = 1 ]; then
			pair_reach_host B A 10.1.0.2 || echo "host B reaches host A (10.1.0.2, no NAT) neither by ping nor by UDP" >>"$PDIR/errors"
		fi
		if [ "${SIDE_ROUTED[b]}" = 1 ]; then
			pair_reach_host A B 10.2.0.2 || echo "host A reaches host B (10.2.0.2, no NAT) neither by ping nor by UDP" >>"$PDIR/errors"
		fi
	fi
	if [ "$VERIFY_SIDES" = 1 ]; then
		pair_verify_side a "$(pair_host_ns A)" A
		if [ "$PAIR_SAME" = 1 ]; then pair_verify_side a "$(pair_host_ns B)" B; else pair_verify_side b "$(pair_host_ns B)" B; fi
	fi
	if [ "$TOPOLOGY_ONLY" = 0 ] && [ ! -s "$PDIR/errors" ]; then
		pair_vpn_setup && pair_vpn_run "$path"
		# The profiles' own checks after the VPN went down (e.g. miniupnpd holds no mapping).
		for side in a b; do
			[ -n "${SIDE_DIR[$side]:-}" ] || continue
			pair_ctx "$side"
			profile_source "${SIDE_PROFILE[$side]}"
			if declare -F after_measure >/dev/null && ! after_measure >"$PDIR/after.$side" 2>&1; then
				sed "s/^/side $side (${SIDE_PROFILE[$side]}): /" "$PDIR/after.$side" >>"$PDIR/errors"
			fi
		done
	fi
	local topo=()
	[ "$TOPOLOGY_ONLY" = 1 ] && topo=(--topology-only)
	python3 "$SIM/lib/pairs_check.py" --name "$name" --a "$a" --b "$b" --path "$path" \
		${method:+--method "$method"} --limits "${rest:-}" --dir "$PDIR" \
		--ms $(($(date +%s%3N) - t0)) ${topo[@]+"${topo[@]}"} \
		--out "$OUT/$name.pair.json" >"$OUT/$name.line"
	status=$(cut -f2 "$OUT/$name.line")
	[ "$status" = PASS ] || pair_save_failure
	pair_down
	[ "$status" = PASS ] && [ "$KEEP" = 0 ] && rm -rf "$PDIR"
	[ "$status" = PASS ]
)

# pairs_main LINE...: every pair, -j at a time; the summary (Markdown) and the grid (HTML).
pairs_main() {
	local line name idx=0 failed=0 start n status ms exp got detail
	start=$(date +%s)
	for line in "$@"; do
		while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
		idx=$((idx + 1))
		read -r a b _ <<<"$line"
		name=$(pair_name "$a" "$b")
		run_pair "$idx" "$line" >"$OUT/$name.out" 2>&1 &
		CASE_PIDS+=($!)
	done
	wait || true
	printf '%s\n' "$@" >"$OUT/pairs.list"
	for line in "$@"; do
		read -r a b _ <<<"$line"
		name=$(pair_name "$a" "$b")
		if [ ! -s "$OUT/$name.line" ]; then
			printf '%s\tERROR\t-\t-\t-\tthe case did not run (%s): see %s\n' "$name" \
				"$(grep -v '^+' "$OUT/$name.out" | sed '/^$/d' | tail -n 1 | tr -d '\t')" "$OUT/$name.out" >"$OUT/$name.line"
		fi
	done
	python3 "$SIM/lib/pairs_report.py" --list "$OUT/pairs.list" --title "sim/run.sh pairs ($(date -u +%Y-%m-%dT%H:%M:%SZ))" "$OUT"
	printf '%-48s %-16s %-16s %9s %9s  %s\n' pair expected measured "ping ms" "intro ms" result
	for line in "$@"; do
		read -r a b _ <<<"$line"
		name=$(pair_name "$a" "$b")
		IFS=$'\t' read -r n status ms exp got detail <"$OUT/$name.line"
		printf '%-48s %-16s %-16s %9s %9s  %s\n' "$n" "$exp" "$got" "${ms%%/*}" "${ms#*/}" "$status"
		[ "$status" = PASS ] || failed=$((failed + 1))
		# One line per failure, naming the pair; pending expectations as PENDING lines.
		tr ';' '\n' <<<"$detail" | sed '/^$/d' | sed -e "/^PENDING /s/^PENDING /    PENDING $n: /" -e "/^    PENDING /!s/^/    $status $n: /"
	done
	echo "$# pair(s), $failed failed, $(($(date +%s) - start)) s; results in $OUT (summary.md, grid.html)"
	[ "$failed" -eq 0 ]
}
