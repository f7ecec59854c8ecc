# shellcheck shell=bash
# How the integration tests report: one line per check, "  ok    NAME" or "  FAIL  NAME" with
# what was seen indented below, counted; checks_verdict prints the totals and is the test's
# last command (its status is the test's).
#
#   check_pass NAME               a check that held
#   check_fail NAME [DETAIL]      one that did not
#   check_status NAME 0|1 DETAIL  by an exit status (0 = held)
#   check_equal NAME WANT GOT     by comparing two strings

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
