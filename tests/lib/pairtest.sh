# What the pair-lab tests share (test_vpn_pairs*, _faults, _relay_capture, _birthday, ...):
# the preamble of a root-only namespace test, and one run of sim/run.sh with its output shown
# and its namespaces checked gone. Source after setting NC_SRC; the test's own functions and
# its PAIR_VPN_HOOK stay in the test.

# pairtest_init NAME [TOOLS...]: root, python3, nft, ping and TOOLS, /dev/net/tun; W is a
# fresh work directory, removed at exit unless NAME_KEEP (upper case) is set.
pairtest_init() {
	local name=$1 keep
	shift
	NC_BUILD=${NC_BUILD:-$NC_SRC/build}
	export NC_BUILD
	# shellcheck source=checks.sh
	. "$NC_SRC/tests/lib/checks.sh"
	need_root
	need_tool python3 nft ping "$@"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun"
	W=$(mktemp -d "/tmp/vpn-$name.XXXXXX")
	keep=$(tr 'a-z-' 'A-Z_' <<<"$name")_KEEP
	[ -n "${!keep:-}" ] || trap 'rm -rf "$W"' EXIT
}

# pairtest_run LABEL OUT ARGS...: sim/run.sh --out OUT ARGS... (the caller's environment, e.g.
# PAIR_VPN_HOOK, passes through), its output indented; checks that none of its namespaces is
# left. Returns sim/run.sh's status.
pairtest_run() {
	local label=$1 out=$2 pid rc left
	shift 2
	bash "$NC_SRC/sim/run.sh" --out "$out" "$@" >"$out.txt" 2>&1 &
	pid=$!
	wait "$pid"
	rc=$?
	sed 's/^/    /' "$out.txt"
	left=$(ip netns list 2>/dev/null | awk -v p="nc$pid-" 'index($1, p) == 1 { print $1 }')
	check_equal "$label: no namespace of the run is left" "" "$left"
	return "$rc"
}

# pairtest_done: no process started from the work directory is left; the verdict.
pairtest_done() {
	local left
	left=$(pgrep -af "$W/" | grep -v pgrep || true)
	check_equal "no process started from the runs' files is left" "" "$left"
	checks_verdict
}
