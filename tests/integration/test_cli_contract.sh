#!/usr/bin/env bash
# natcheck's command-line contract (issue 13, item 8; issue 9, item 3): usage errors exit 2 with
# a clear message, address-shaped literals are parsed as addresses and never resolved, output
# errors are reported and exit 3, the --pcap error names the path once, SIGINT exits 130,
# --reclassify reads a saved result. Needs no root: everything talks to 127.0.0.1 only.
set -u
NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NC_BUILD=${NC_BUILD:-$NC_SRC/build}
NATCHECK=$NC_BUILD/natcheck/natcheck
# shellcheck source=../lib/checks.sh
. "$NC_SRC/tests/lib/checks.sh"
[ -x "$NATCHECK" ] || { echo "FAIL: build natcheck first ($NATCHECK)"; exit 1; }
WORK=$(mktemp -d)
SILENT_PID=
cleanup() {
	[ -n "$SILENT_PID" ] && kill "$SILENT_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
# A run that ends at once: nothing listens on 127.0.0.1:9 (ICMP port unreachable).
QUICK=(--no-portmap --no-topology --budget 500 127.0.0.1:9)

# expect_exit NAME WANT_STATUS STDERR_REGEX ARGS...: runs natcheck, checks status and message.
expect_exit() {
	local name=$1 want=$2 re=$3 rc
	shift 3
	"$NATCHECK" "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	if [ "$rc" = "$want" ] && grep -Eq -- "$re" "$WORK/err"; then
		check_pass "$name: exit $rc, '$(head -1 "$WORK/err")'"
	else
		check_fail "$name: expected exit $want and /$re/, got exit $rc" "$(cat "$WORK/err")"
	fi
}

# ---- usage errors: exit 2 ----------------------------------------------------------------
expect_exit "port 0" 2 "server port: invalid value '0'" 127.0.0.1:0
expect_exit "empty port" 2 "server port: invalid value ''" 127.0.0.1:
expect_exit "empty server" 2 "empty server address" ''
expect_exit "--fast with --tcp" 2 "--fast leaves out" --fast --tcp 127.0.0.1
expect_exit "--reclassify with a server" 2 "no servers" --reclassify x.json 127.0.0.1
expect_exit "--budget out of range" 2 "--budget: invalid value '5'" --budget 5 127.0.0.1

# ---- address-shaped literals: rejected as addresses, never resolved -----------------------
for lit in 300.1.1.1 '[::1]:99999' 1.2.3 1.2.3.4.5 '::1::2'; do
	expect_exit "literal '$lit'" 2 "is not a valid IPv[46] address" "$lit"
done
if command -v strace >/dev/null; then
	# A name lookup would open a socket to port 53 or read /etc/hosts. (The leak checker of an
	# ASan build cannot run under ptrace: it is switched off for this one traced run.)
	ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0" \
		strace -f -e trace=connect,sendto,openat -o "$WORK/trace" "$NATCHECK" 300.1.1.1 2>/dev/null
	if grep -Eq 'htons\(53\)|/etc/hosts|/etc/resolv.conf' "$WORK/trace"; then
		check_fail "300.1.1.1 reached the resolver" "$(grep -E '53|hosts|resolv' "$WORK/trace")"
	else
		check_pass "300.1.1.1 never reached the resolver (strace: no port 53, hosts, resolv.conf)"
	fi
else
	echo "  note  strace not installed: the resolver check relies on the messages above"
fi

# ---- output errors: exit 3 with the reason -------------------------------------------------
"$NATCHECK" --json "${QUICK[@]}" >/dev/full 2>"$WORK/err"
rc=$?
if [ "$rc" = 3 ] && grep -q "cannot write the result to standard output: No space left" "$WORK/err"; then
	check_pass "--json >/dev/full: exit 3, '$(cat "$WORK/err")'"
else
	check_fail "--json >/dev/full: exit $rc" "$(cat "$WORK/err")"
fi
"$NATCHECK" --json "${QUICK[@]}" >&- 2>"$WORK/err"
rc=$?
if [ "$rc" = 3 ] && grep -q "standard output is closed" "$WORK/err"; then
	check_pass "--json >&-: exit 3, '$(cat "$WORK/err")'"
else
	check_fail "--json >&-: exit $rc" "$(cat "$WORK/err")"
fi
"$NATCHECK" "${QUICK[@]}" >/dev/full 2>"$WORK/err"
rc=$?
check_equal "report >/dev/full: exit" 3 "$rc"

# ---- --pcap names the path once --------------------------------------------------------------
P=/nonexistent-dir-$$/x.pcap
"$NATCHECK" --pcap "$P" "${QUICK[@]}" >/dev/null 2>"$WORK/err"
rc=$?
n=$(grep -o -- "$P" "$WORK/err" | wc -l)
if [ "$rc" = 3 ] && [ "$n" = 1 ]; then
	check_pass "--pcap error: exit 3, path named once: '$(cat "$WORK/err")'"
else
	check_fail "--pcap error: exit $rc, path named $n times" "$(cat "$WORK/err")"
fi

# ---- --reclassify ----------------------------------------------------------------------------
"$NATCHECK" --json "${QUICK[@]}" >"$WORK/r.json" 2>/dev/null
"$NATCHECK" --reclassify "$WORK/r.json" --json >"$WORK/r2.json" 2>"$WORK/err"
rc=$?
# nothing answered on 127.0.0.1:9: the saved verdict is "unreachable", exit 1 again
if [ "$rc" = 1 ] && grep -q '"reachable": false' "$WORK/r2.json"; then
	check_pass "--reclassify of a saved result: exit 1 (unreachable), JSON printed"
else
	check_fail "--reclassify: exit $rc" "$(cat "$WORK/err"; head -20 "$WORK/r2.json")"
fi
printf '{"schema": "natcheck-result", "version": 1}' >"$WORK/bad.json"
expect_exit "--reclassify of an invalid document" 3 "is not a natcheck result" --reclassify "$WORK/bad.json"
expect_exit "--reclassify of a missing file" 3 "cannot open" --reclassify "$WORK/none.json"

# ---- SIGINT: exit 130 within a second ------------------------------------------------------
if command -v python3 >/dev/null; then
	# A server that takes every request and never answers.
	python3 -c 'import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0))
print(s.getsockname()[1],flush=True)
while True: s.recv(2048)' >"$WORK/port" &
	SILENT_PID=$!
	for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.05; done
	"$NATCHECK" --no-portmap --no-topology --budget 20000 "127.0.0.1:$(cat "$WORK/port")" >/dev/null 2>"$WORK/err" &
	pid=$!
	sleep 0.5
	t0=$(date +%s%3N)
	kill -INT "$pid"
	wait "$pid"
	rc=$?
	el=$(($(date +%s%3N) - t0))
	if [ "$rc" = 130 ] && [ "$el" -le 1000 ] && grep -q cancelled "$WORK/err"; then
		check_pass "SIGINT against a silent server: exit 130 after $el ms, '$(cat "$WORK/err")'"
	else
		check_fail "SIGINT against a silent server: exit $rc after $el ms" "$(cat "$WORK/err")"
	fi
else
	echo "  note  python3 not installed: the SIGINT check is in test_run_bounded.sh"
fi
checks_verdict
