# shellcheck shell=bash
# The integration-test library (tests/lib/), part 1: preconditions and checks. Every test,
# lab script and benchmark sources this file (nslab.sh and vethlab.sh do it for them).
#
# One skip rule for the whole suite: a test that cannot run here exits 77 (ctest: skipped,
# never passed) when it is not root, when network namespaces cannot be created, or when a
# tool it needs is missing. Something of our own that is missing (a binary that was not
# built) is a failure, not a skip.
#
#   need_root                     root and a working `ip netns add`, or exit 77
#   need_tool NAME...             every NAME on PATH (or an executable path), or exit 77
#   skip REASON                   print "SKIP: REASON" and exit 77
#
# How the tests report: one line per check, "  ok    NAME" or "  FAIL  NAME" with what was
# seen indented below, counted; checks_verdict prints the totals and is the test's last
# command (its status is the test's).
#
#   check_pass NAME               a check that held
#   check_fail NAME [DETAIL]      one that did not
#   check_status NAME 0|1 DETAIL  by an exit status (0 = held)
#   check_equal NAME WANT GOT     by comparing two strings

skip() {
	echo "SKIP: $*" >&2
	exit 77
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
	command -v ip >/dev/null || skip "ip (iproute2) is not installed"
	ip netns add "nc-probe-$$" 2>/dev/null || skip "cannot create network namespaces here"
	ip netns del "nc-probe-$$"
}

need_tool() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || skip "$t is not installed (scripts/setup-deps.sh installs the suite's tools)"
	done
}

CHECKS_PASSED=0
CHECKS_FAILED=0

check_pass() {
	printf '  ok    %s\n' "$1"
	CHECKS_PASSED=$((CHECKS_PASSED + 1))
}

check_fail() {
	printf '  FAIL  %s\n' "$1"
	if [ -n "${2:-}" ]; then printf '%s\n' "$2" | sed 's/^/        /'; fi
	CHECKS_FAILED=$((CHECKS_FAILED + 1))
}

check_status() {
	if [ "$2" -eq 0 ]; then check_pass "$1"; else check_fail "$1" "${3:-}"; fi
}

check_equal() {
	if [ "$2" = "$3" ]; then check_pass "$1 ($3)"; else check_fail "$1: expected '$2', got '$3'"; fi
}

checks_verdict() {
	echo "$CHECKS_PASSED passed, $CHECKS_FAILED failed"
	[ "$CHECKS_FAILED" -eq 0 ]
}

# poll_for TRIES CMD...: runs CMD every 0.1 s until it succeeds (true) or TRIES runs failed.
poll_for() {
	local n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
