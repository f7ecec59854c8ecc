# shellcheck shell=bash
# The integration-test library (tests/lib/), part 3: nslab.sh without the router: two namespaces on one veth, for natcheck-reflector's
# tests and benchmark, where nothing may sit between client and server.
#
#   $NSLAB_P-client  dev $NSLAB_P-c  (the addresses given to vlab_up)
#        |
#   $NSLAB_P-inet    dev $NSLAB_P-s  198.18.1.1/16 and 198.18.1.2/16 (NSLAB_A1, NSLAB_A2)
#
# Usage: source it, then
#   vlab_up PREFIX ADDR...       creates both. PREFIX has at most 12 characters: the device
#                                names PREFIX-c and PREFIX-s are unique on the machine, so
#                                their NAPI threads can be found. nslab_down is the
#                                EXIT/INT/TERM trap; NSLAB_DIR is a scratch directory.
#   vlab_wait_listen ADDR:PORT [PID]  waits (bounded, polling) until UDP and TCP listen there
#                                in inet; gives up early if PID has exited.
#   vlab_reflector_start BINARY ARGS...  starts natcheck-reflector in inet as daemon "refl" and
#                                waits (bounded) for its "ready:" line, logged once every socket
#                                is open and privileges are dropped; exits 1 if it never comes.
#   vlab_reflector_stop          SIGTERM, and a check that it exits 0 (check_status, from
#                                tests/lib/checks.sh, which comes with this file).
#   vlab_reflector_counter NAME  one of its counters after a SIGUSR1: answered, fast,
#                                malformed, limited or drops.
#   vlab_log_counter FILE NAME   the same counter from the last counters line in a reflector's
#                                log (the one it writes at exit), 0 if there is none.
# and nslab's nslab_exec client|inet CMD..., nslab_daemon NAME inet CMD..., with checks.sh
# (need_root, need_tool, check_*).

# shellcheck source=tests/lib/nslab.sh
source "$(dirname "${BASH_SOURCE[0]}")/nslab.sh"

vlab_wait_listen() {
	local i
	for i in $(seq 200); do
		nslab_exec inet ss -Hlun | grep -q " $1 " && nslab_exec inet ss -Hltn | grep -q " $1 " && return 0
		if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
			break
		fi
		sleep 0.05
	done
	echo "vlab: nothing listens on $1" >&2
	return 1
}

vlab_up() {
	local a ns
	NSLAB_P=$1
	shift
	NSLAB_DIR=$(mktemp -d)
	trap nslab_down EXIT
	trap 'nslab_down; exit 130' INT TERM
	for ns in client inet; do
		ip netns add "$NSLAB_P-$ns"
		ip -n "$NSLAB_P-$ns" link set lo up
	done
	ip link add "$NSLAB_P-c" netns "$NSLAB_P-client" type veth peer name "$NSLAB_P-s" netns "$NSLAB_P-inet"
	for a in "$@"; do
		ip -n "$NSLAB_P-client" addr add "$a/16" dev "$NSLAB_P-c"
	done
	ip -n "$NSLAB_P-inet" addr add "$NSLAB_A1/16" dev "$NSLAB_P-s"
	ip -n "$NSLAB_P-inet" addr add "$NSLAB_A2/16" dev "$NSLAB_P-s"
	ip -n "$NSLAB_P-client" link set "$NSLAB_P-c" up
	ip -n "$NSLAB_P-inet" link set "$NSLAB_P-s" up
}

vlab_reflector_start() {
	local pid
	nslab_daemon refl inet "$@"
	pid=$(cat "$NSLAB_DIR/refl.pid")
	for _ in $(seq 200); do
		grep -q 'ready:' "$NSLAB_DIR/refl.log" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "FAIL: the reflector never said ready"
	cat "$NSLAB_DIR/refl.log"
	exit 1
}

vlab_reflector_stop() {
	local pid rc
	pid=$(cat "$NSLAB_DIR/refl.pid")
	kill "$pid"
	wait "$pid" && rc=0 || rc=$?
	rm -f "$NSLAB_DIR/refl.pid"
	check_status "the reflector exits 0 on SIGTERM" "$rc" "exit status $rc"
}

vlab_reflector_counter() {
	local pid line before
	pid=$(cat "$NSLAB_DIR/refl.pid")
	before=$(grep -c 'answered [0-9]' "$NSLAB_DIR/refl.log" || true)
	kill -USR1 "$pid"
	for _ in $(seq 100); do
		[ "$(grep -c 'answered [0-9]' "$NSLAB_DIR/refl.log" || true)" -gt "$before" ] && break
		sleep 0.02
	done
	vlab_log_counter "$NSLAB_DIR/refl.log" "$1"
}

vlab_log_counter() {
	local words
	case $2 in
	answered) words="answered" ;;
	fast) words="fast path" ;;
	malformed) words="malformed" ;;
	limited) words="rate-limited" ;;
	drops) words="ring drops" ;;
	*) echo "vlab_log_counter: no counter '$2'" >&2; return 2 ;;
	esac
	{ grep 'answered [0-9]' "$1" || true; } | tail -1 |
		sed -nE "s/.*$words ([0-9]+).*/\1/p" | awk '{ n = $1 } END { print n + 0 }'
}
