# shellcheck shell=bash
# The integration-test library (tests/lib/), part 4, for tests/integration/test_tcp_*.sh: the
# nslab three-namespace lab plus a bouncer address, and the TCP test driver built against
# libnatcheck.
SRC=${NC_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
NC_BUILD=${NC_BUILD:-$SRC/build}
# shellcheck source=tests/lib/nslab.sh
source "$SRC/tests/lib/nslab.sh"
A3=198.18.1.3
REFL=$NC_BUILD/reflector/natcheck-reflector

tcp_lab_need() {
	need_root
	DRV=$NC_BUILD/tests/tcp_driver
	[ -x "$REFL" ] && [ -x "$DRV" ] ||
		{ echo "FAIL: natcheck-reflector / tests/tcp_driver not built in $NC_BUILD" >&2; exit 1; }
}

# field JSON PATH: prints one field of a result ("tcp.unsolicited").
field() {
	python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d=d[k]
print(json.dumps(d) if not isinstance(d,str) else d)' "$1" "$2" 2>/dev/null || true
}

# expect JSON FIELD=VALUE...: every field must match; prints the mismatches.
expect() {
	local f=$1 kv bad=0 got
	shift
	for kv in "$@"; do
		got=$(field "$f" "${kv%%=*}")
		if [ "$got" != "${kv#*=}" ]; then
			echo "  MISMATCH ${kv%%=*}: got '$got', want '${kv#*=}'"
			bad=1
		fi
	done
	return $bad
}

# wait_log FILE PATTERN: polls (bounded) until PATTERN appears in FILE.
wait_log() {
	local i
	for i in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "no '$2' in $1" >&2
	return 1
}

# counters NAME: asks the reflector NAME for its counters; prints the coordination line.
counters() {
	local log=$NSLAB_DIR/$1.log n
	n=$(grep -c "connect-back requests" "$log" || true)
	kill -USR1 "$(cat "$NSLAB_DIR/$1.pid")"
	for _ in $(seq 100); do
		[ "$(grep -c "connect-back requests" "$log")" -gt "$n" ] && break
		sleep 0.05
	done
	grep "connect-back requests" "$log" | tail -1
}
