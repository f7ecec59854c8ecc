#!/usr/bin/env bash
# The lab checks itself:
#   1. a deliberately wrong expectation fails, naming the profile and the field, and saves
#      the failure dump (rulesets, conntrack, capture);
#   2. the Vovida stand-in measurer agrees with the same profile;
#   3. after a normal run and after a run interrupted with SIGINT, no namespace, interface or
#      process of the lab remains.
# Only the run's own namespaces (named nc<its pid>-), the processes inside them or in its
# session, and lab interface names in the root namespace count, so other labs running on the
# machine at the same time do not disturb the check.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
export NC_BUILD=${NC_BUILD:-$SRC/build}
# shellcheck source=tests/lib/checks.sh
source "$SRC/tests/lib/checks.sh"
need_root
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0
LAB_IFS='^(c0|lan|wan|i0|lp1|lp2|nb0)$'
root_links() { ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -E "$LAB_IFS" | sort || true; }
links_before=$(root_links)

# leftovers PID INODES OUTDIR: prints what of run PID is left, nothing if all is gone.
leftovers() {
	local pid=$1 inodes=$2 dir=$3 p ino n=0
	for p in /run/netns/nc"$pid"-*; do [ -e "$p" ] && echo "namespace ${p##*/}"; done
	for p in /proc/[0-9]*; do
		ino=$(stat -L -c %i "$p/ns/net" 2>/dev/null) || continue
		if grep -qx "$ino" <<<"$inodes"; then n=$((n + 1)); fi
	done
	[ "$n" -eq 0 ] || echo "$n process(es) in the run's namespaces"
	# Everything the run started directly shares its session; natbox (its own session) and
	# tcpdump name the run's output folder on their command line.
	# (Zombies are left out: an exited grandchild waits there for init to reap it.)
	ps -o pid=,stat=,args= -s "$pid" 2>/dev/null | awk '$2 !~ /^Z/' | sed 's/^/session process /' || true
	pgrep -af -- "$dir" | grep -v "^$$ " | sed 's/^/process /' || true
	[ "$(root_links)" = "$links_before" ] || echo "interfaces in the root namespace: $(root_links | tr '\n' ' ')"
}

# run_watched OUTDIR ARGS...: starts sim/run.sh in its own session, records the inodes of the
# namespaces it builds in $out/inodes (polled until its last case is up), sets $pid.
run_watched() {
	local dir=$1
	shift
	setsid bash "$SRC/sim/run.sh" --out "$dir" "$@" >"$dir.log" 2>&1 &
	pid=$!
	: >"$out/inodes"
	for _ in $(seq 400); do
		stat -L -c %i /run/netns/nc"$pid"-* 2>/dev/null >>"$out/inodes" || true
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
		[ -n "${STOP_AFTER_UP:-}" ] && [ -s "$out/inodes" ] && break
	done
	sort -u -o "$out/inodes" "$out/inodes"
}

# 1. A deliberately wrong expectation.
run_watched "$out/wrong" --profile restricted-cone --expect-override udp.filtering=endpoint-independent
wait "$pid" && rc=0 || rc=$?
if [ "$rc" -eq 0 ]; then
	echo "FAIL: a wrong expectation passed"; fail=1
elif grep -q '^ *FAIL restricted-cone: udp.filtering: expected endpoint-independent, measured address-dependent$' "$out/wrong.log"; then
	echo "ok: the wrong expectation failed (exit $rc), naming restricted-cone and udp.filtering"
else
	echo "FAIL: the failure does not name the profile and field:"; cat "$out/wrong.log"; fail=1
fi
if [ -s "$out/wrong/restricted-cone.fail/router.nft" ] && [ -s "$out/wrong/restricted-cone.fail/router.pcap" ] &&
	[ -e "$out/wrong/restricted-cone.fail/router.conntrack" ]; then
	echo "ok: the failure saved the ruleset, the conntrack table and a capture"
else
	echo "FAIL: no failure dump"; fail=1
fi
if grep -q '| restricted-cone | EIM+EIF | EIM+ADF | .* | FAIL |' "$out/wrong/summary.md"; then
	echo "ok: summary.md has the failing row"
else
	echo "FAIL: summary.md lacks the failing row"; fail=1
fi
left=$(leftovers "$pid" "$(cat "$out/inodes")" "$out/wrong")
if [ -z "$left" ]; then
	echo "ok: after the run nothing of its lab remains"
else
	echo "FAIL: after the run: $left"; fail=1
fi

# 2. The stand-in measurer (Debian's stun against stund) reads the same profile alike.
if command -v stun >/dev/null && command -v stund >/dev/null; then
	if bash "$SRC/sim/run.sh" --measure vovida --profile restricted-cone --out "$out/vovida" >"$out/vovida.log" 2>&1; then
		echo "ok: --measure vovida reads restricted-cone as expected"
	else
		echo "FAIL: --measure vovida:"; cat "$out/vovida.log"; fail=1
	fi
fi

# 2b. Gating and pending expectations (issue 13): a profile with NEEDS= is skipped as gated
# (and builds nothing), an expectation on a field natcheck does not write is reported as
# PENDING without failing the case, and a wrong value for an existing field still fails.
# The gated profile is a copy of a real one with a NEEDS= word, in a profile folder of its own.
mkdir -p "$out/profiles"
cp "$SRC/sim/profiles/open-internet.profile" "$SRC/sim/profiles/natbox-stun-alg.profile" "$out/profiles/"
echo 'NEEDS="selfcheck-gate"' >>"$out/profiles/natbox-stun-alg.profile"
if SIM_PROFILE_DIR=$out/profiles bash "$SRC/sim/run.sh" --profile natbox-stun-alg --profile open-internet \
	--expect-new udp.selfcheck_no_such_field=1 --out "$out/gate" >"$out/gate.log" 2>&1 &&
	grep -q '^natbox-stun-alg .* SKIP$' "$out/gate.log" &&
	grep -q '^ *PENDING open-internet: udp.selfcheck_no_such_field: expected 1; natcheck does not report this field yet' "$out/gate.log" &&
	grep -q ', 1 gated (--gated runs them), 1 expectation(s) pending' "$out/gate.log"; then
	echo "ok: a gated profile is skipped, a missing new field is PENDING, and neither fails the run"
else
	echo "FAIL: gating / pending:"; cat "$out/gate.log"; fail=1
fi
if bash "$SRC/sim/run.sh" --profile open-internet --expect-new udp.nat=true --out "$out/gate2" >"$out/gate2.log" 2>&1; then
	echo "FAIL: a new-field expectation on a field that exists was not compared"; cat "$out/gate2.log"; fail=1
elif grep -q '^ *FAIL open-internet: udp.nat: expected true, measured false$' "$out/gate2.log"; then
	echo "ok: once natcheck writes a new field, its expectation is enforced"
else
	echo "FAIL: --expect-new on an existing field:"; cat "$out/gate2.log"; fail=1
fi

# 3. Interrupted in the middle of a run, once both cases measure (the lifetime profiles take
# 16-26 s) with the reflector, natbox and tcpdump up: Ctrl-C (SIGINT to the whole process
# group, as a terminal sends it) and SIGTERM to sim/run.sh alone (as a CI timeout sends it).
interrupted() {
	local sig=$1 target=$2 dir=$out/int-$1
	STOP_AFTER_UP=1 run_watched "$dir" --profile short-lifetime --profile natbox-outbound-refresh
	[ -s "$out/inodes" ] || { echo "FAIL: the run built no lab"; cat "$dir.log"; fail=1; return; }
	for _ in $(seq 400); do
		stat -L -c %i /run/netns/nc"$pid"-* 2>/dev/null >>"$out/inodes" || true
		[ "$(pgrep -c -s "$pid" -f 'natcheck --json')" -ge 2 ] && break
		sleep 0.05
	done
	sort -u -o "$out/inodes" "$out/inodes"
	if [ "$target" = group ]; then kill "-$sig" -- -"$pid"; else kill "-$sig" "$pid"; fi
	wait "$pid" 2>/dev/null || true
	left=$(leftovers "$pid" "$(cat "$out/inodes")" "$dir")
	if [ -z "$left" ]; then
		echo "ok: after SIG$sig to the $target none of the run's $(wc -l <"$out/inodes") namespaces, no interface and no process remains"
	else
		echo "FAIL: after SIG$sig to the $target: $left"; fail=1
	fi
}
interrupted INT group
interrupted TERM script
exit "$fail"
