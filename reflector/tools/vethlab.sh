# shellcheck shell=bash
# Two namespaces on one veth, for natcheck-reflector's tests and benchmark (no router, no NAT;
# scripts/lib/nslab.sh is the lab with a NAT in between):
#
#   $VLAB_P-cli  dev $VLAB_P-c  (the addresses given to vlab_up)
#        |
#   $VLAB_P-srv  dev $VLAB_P-s  198.18.1.1/16 and 198.18.1.2/16 (VLAB_A1, VLAB_A2)
#
# Usage: source it, then
#   vlab_up PREFIX ADDR...        creates both (PREFIX at most 12 characters: the device
#                                 names are PREFIX-c and PREFIX-s, unique on the machine, so
#                                 their NAPI threads can be found); installs vlab_down as the
#                                 EXIT/INT/TERM trap; VLAB_DIR is a scratch directory
#   vlab_exec cli|srv CMD...      runs CMD in a namespace
#   vlab_daemon NAME cli|srv CMD... starts CMD in the background, its pid in VLAB_DIR/NAME.pid
#   vlab_wait_listen ADDR:PORT [PID]  waits (bounded, polling) until UDP and TCP listen there
#                                 in srv; fails early if PID has exited
#   vlab_down                     kills every recorded pid and whatever still runs in the
#                                 namespaces, by pid, and deletes the namespaces

VLAB_A1=198.18.1.1
VLAB_A2=198.18.1.2

vlab_need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: needs root for network namespaces"
		exit 77
	fi
	if ! ip netns add "vlab-probe-$$" 2>/dev/null; then
		echo "SKIP: ip netns is unavailable here"
		exit 77
	fi
	ip netns del "vlab-probe-$$"
}

vlab_exec() {
	local ns=$1
	shift
	ip netns exec "$VLAB_P-$ns" "$@"
}

vlab_daemon() {
	local name=$1 ns=$2
	shift 2
	ip netns exec "$VLAB_P-$ns" "$@" >"$VLAB_DIR/$name.log" 2>&1 &
	echo $! >"$VLAB_DIR/$name.pid"
}

vlab_wait_listen() {
	local i
	for i in $(seq 200); do
		vlab_exec srv ss -Hlun | grep -q " $1 " && vlab_exec srv ss -Hltn | grep -q " $1 " && return 0
		if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
			break
		fi
		sleep 0.05
	done
	echo "vlab: nothing listens on $1" >&2
	return 1
}

vlab_down() {
	local f ns
	# Runs as a trap, where the caller's `set -e` still holds: no step may stop the rest.
	set +e
	[ -n "${VLAB_DIR:-}" ] || return 0
	for f in "$VLAB_DIR"/*.pid; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	for ns in cli srv; do
		ip netns pids "$VLAB_P-$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$VLAB_P-$ns" 2>/dev/null
	done
	rm -rf "$VLAB_DIR"
	VLAB_DIR=
}

vlab_up() {
	local a ns
	VLAB_P=$1
	shift
	VLAB_DIR=$(mktemp -d)
	trap vlab_down EXIT
	trap 'vlab_down; exit 130' INT TERM
	ip netns add "$VLAB_P-cli"
	ip netns add "$VLAB_P-srv"
	ip link add "$VLAB_P-c" netns "$VLAB_P-cli" type veth peer name "$VLAB_P-s" netns "$VLAB_P-srv"
	for a in "$@"; do
		ip -n "$VLAB_P-cli" addr add "$a/16" dev "$VLAB_P-c"
	done
	ip -n "$VLAB_P-srv" addr add "$VLAB_A1/16" dev "$VLAB_P-s"
	ip -n "$VLAB_P-srv" addr add "$VLAB_A2/16" dev "$VLAB_P-s"
	for ns in cli srv; do
		ip -n "$VLAB_P-$ns" link set lo up
	done
	ip -n "$VLAB_P-cli" link set "$VLAB_P-c" up
	ip -n "$VLAB_P-srv" link set "$VLAB_P-s" up
}
