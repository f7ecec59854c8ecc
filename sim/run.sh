#!/usr/bin/env bash
# sim/run.sh: the natcheck namespace lab and regression matrix.
#
# Each case builds its own lab in network namespaces named after this run's id (nc<pid>-<n>-):
#   client (10.1.0.2) -- router running the profile's NAT -- [upstream NAT] -- internet
# with natcheck-reflector on 198.18.1.1 and 198.18.1.2, runs natcheck from the client, and
# compares the JSON result with the profile's expectations. Profiles are small bash files in
# sim/profiles/ (format in sim/README.md). Everything a case starts is removed when it ends,
# also on failure or Ctrl-C.
#
#   sim/run.sh                      the whole matrix
#   sim/run.sh --list               profiles and what they model
#   sim/run.sh --profile NAME ...   only these (repeatable)
#   sim/run.sh -j N                 N cases in parallel (default 4)
#   sim/run.sh --runs N             measure each case N times; every run must match
#   sim/run.sh --keep --profile X   leave the lab up and print how to enter it
#   sim/run.sh --report             also print natcheck's human report for each case
#   sim/run.sh --replay R.json      rebuild the NAT a result describes (natbox) and check that
#                                   measuring it gives the same RFC 4787 fields
#   sim/run.sh --expect FIELD=VALUE override an expectation (to see a failure named)
#   sim/run.sh --out DIR            results, summary.md and failure dumps (default sim/out/<time>)
# Exit status: 0 all cases match, 1 a mismatch, 2 usage, 77 not root / no namespaces.
set -euo pipefail
SIM=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$SIM/.." && pwd)
export NC_BUILD=${NC_BUILD:-$SRC/build}
# shellcheck source=scripts/lib/nslab.sh
source "$SRC/scripts/lib/nslab.sh"
# shellcheck source=sim/lib/natbox.sh
source "$SIM/lib/natbox.sh"
# shellcheck source=sim/lib/rules.sh
source "$SIM/lib/rules.sh"

JOBS=4 RUNS=1 KEEP=0 REPORT=0 REPLAY= OUT= OVERRIDES=() PROFILES=()
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--list)
		for f in "$SIM"/profiles/*.profile; do
			printf '%-34s %s\n' "$(basename "$f" .profile)" "$(. "$f" 2>/dev/null; echo "${DESCRIPTION:-}")"
		done
		exit 0 ;;
	--profile) PROFILES+=("${2:?--profile needs a name}"); shift ;;
	-j) JOBS=${2:?-j needs a number}; shift ;;
	--runs) RUNS=${2:?--runs needs a number}; shift ;;
	--keep) KEEP=1 ;;
	--report) REPORT=1 ;;
	--replay) REPLAY=${2:?--replay needs a result file}; shift ;;
	--expect) OVERRIDES+=("${2:?--expect needs FIELD=VALUE}"); shift ;;
	--out) OUT=${2:?--out needs a directory}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "sim/run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
case $JOBS in '' | *[!0-9]* | 0) echo "sim/run.sh: -j: invalid value '$JOBS'" >&2; exit 2 ;; esac
case $RUNS in '' | *[!0-9]* | 0) echo "sim/run.sh: --runs: invalid value '$RUNS'" >&2; exit 2 ;; esac
nslab_need_root # exit 77 when not root or without namespaces
for bin in natcheck/natcheck reflector/natcheck-reflector; do
	[ -x "$NC_BUILD/$bin" ] || { echo "sim/run.sh: $NC_BUILD/$bin is not built" >&2; exit 2; }
done

if [ -n "$REPLAY" ]; then
	[ -r "$REPLAY" ] || { echo "sim/run.sh: cannot read $REPLAY" >&2; exit 2; }
	[ -x "$NC_BUILD/sim/natbox" ] || { echo "sim/run.sh: natbox is not built" >&2; exit 2; }
	REPLAY=$(cd "$(dirname "$REPLAY")" && pwd)/$(basename "$REPLAY")
	PROFILES=(replay)
elif [ ${#PROFILES[@]} -eq 0 ]; then
	for f in "$SIM"/profiles/*.profile; do PROFILES+=("$(basename "$f" .profile)"); done
fi
for p in "${PROFILES[@]}"; do
	[ "$p" = replay ] || [ -r "$SIM/profiles/$p.profile" ] || { echo "sim/run.sh: no profile '$p' (see --list)" >&2; exit 2; }
done
[ "$KEEP" -eq 1 ] && [ ${#PROFILES[@]} -ne 1 ] && { echo "sim/run.sh: --keep takes exactly one --profile" >&2; exit 2; }
OUT=${OUT:-$SIM/out/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

# The fields a replay must reproduce: what natbox models and natcheck measures.
REPLAY_FIELDS="udp.nat udp.mapping udp.filtering udp.port_preservation udp.allocation.pattern udp.allocation.delta udp.hairpin"

# run_case INDEX NAME: one lab, one measurement; writes $OUT/NAME.{json,line,report} and,
# on a mismatch, $OUT/NAME.fail/ with the ruleset, conntrack table, logs and a capture.
run_case() (
	local idx=$1 name=$2 dir t0 t1 status=PASS
	DESCRIPTION= UPSTREAM= ROUTED=0 NATBOX_ARGS= SYSCTL= NATCHECK_ARGS= EXPECT= HOSTS=1
	dir=$OUT/$name.work
	mkdir -p "$dir"
	if [ "$name" = replay ]; then
		# natbox models NATs; a result without one is a plain router, and "UDP blocked" a
		# router that drops UDP.
		case $(python3 -c 'import json,sys; u=json.load(open(sys.argv[1]))["udp"]; print(u.get("reachable"), u.get("nat"))' "$REPLAY") in
		"False "*)
			DESCRIPTION="UDP blocked, as $(basename "$REPLAY") says"
			router_rules() { fwdrule 'meta l4proto udp drop'; natrule 'oifname "wan" masquerade'; } ;;
		"True False")
			DESCRIPTION="no NAT, as $(basename "$REPLAY") says"
			ROUTED=1 ;;
		*)
			DESCRIPTION="natbox replaying $(basename "$REPLAY")"
			NATBOX_ARGS="--from-result $REPLAY" ;;
		esac
	else
		# shellcheck disable=SC1090
		. "$SIM/profiles/$name.profile"
	fi
	NSLAB_HOST2=
	[ "$HOSTS" = 2 ] && NSLAB_HOST2=1
	nslab_up "nc$$-$idx" "$UPSTREAM"
	[ "$ROUTED" = 1 ] && nslab_route_lan
	# shellcheck disable=SC2034 # W is the router's WAN address for the rule helpers
	W=$NSLAB_WAN
	if declare -F router_setup >/dev/null; then
		router_setup
	fi
	if declare -F router_rules >/dev/null; then
		nslab_ruleset "$(router_rules)"
	fi
	# shellcheck disable=SC2086
	[ -n "$SYSCTL" ] && nslab_exec router sysctl -qw $SYSCTL
	if [ -n "$NATBOX_ARGS" ]; then
		# shellcheck disable=SC2086
		natbox_start "$NSLAB_P-router" lan wan "$NSLAB_WAN" "$dir/natbox" -- $NATBOX_ARGS >/dev/null
	fi
	# The reflector also has a bouncer (198.18.2.1, an address the client never contacts) for
	# the TCP and third-party tests, linked by a key made for this lab.
	nslab_exec inet ip addr add 198.18.2.1/16 dev i0
	head -c 32 /dev/urandom >"$NSLAB_DIR/link.key"
	nslab_daemon reflector inet "$NC_BUILD/reflector/natcheck-reflector" --primary "$NSLAB_A1" --alternate "$NSLAB_A2" \
		--key "$NSLAB_DIR/link.key" --bouncer 198.18.2.1
	nslab_wait_udp inet "$NSLAB_A2:3479"
	if declare -F before_measure >/dev/null; then
		before_measure
	fi
	nslab_daemon tcpdump router tcpdump -i any -n -w "$dir/router.pcap" -U udp or icmp
	: >"$dir/mismatch"
	for run in $(seq "$RUNS"); do
		t0=$(date +%s%3N)
		# shellcheck disable=SC2086
		nslab_exec client "$NC_BUILD/natcheck/natcheck" --json $NATCHECK_ARGS "$NSLAB_A1" >"$OUT/$name.json" 2>"$dir/natcheck.err" || true
		t1=$(date +%s%3N)
		[ "$RUNS" -gt 1 ] && cp "$OUT/$name.json" "$OUT/$name.run$run.json"
		if [ "$name" = replay ]; then
			# shellcheck disable=SC2086
			python3 "$SIM/lib/expect.py" --same "$REPLAY" "$OUT/$name.json" $REPLAY_FIELDS >"$dir/run" || status=FAIL
		else
			# shellcheck disable=SC2086
			python3 "$SIM/lib/expect.py" "$OUT/$name.json" $EXPECT ${OVERRIDES[@]+"${OVERRIDES[@]}"} >"$dir/run" || status=FAIL
		fi
		# A profile can check the router after natcheck (e.g. that no mapping was left).
		if declare -F after_measure >/dev/null && ! after_measure >>"$dir/run"; then
			status=FAIL
		fi
		[ "$RUNS" -gt 1 ] && sed -i "s/^/run $run: /" "$dir/run"
		cat "$dir/run" >>"$dir/mismatch"
	done
	if [ "$REPORT" -eq 1 ]; then
		# shellcheck disable=SC2086
		nslab_exec client "$NC_BUILD/natcheck/natcheck" $NATCHECK_ARGS "$NSLAB_A1" >"$OUT/$name.report" 2>&1 || true
	fi
	kill "$(cat "$NSLAB_DIR/tcpdump.pid")" 2>/dev/null || true
	if [ "$status" = FAIL ]; then
		mkdir -p "$OUT/$name.fail"
		for ns in router outer; do
			ip netns exec "$NSLAB_P-$ns" nft list ruleset >"$OUT/$name.fail/$ns.nft" 2>/dev/null || true
			ip netns exec "$NSLAB_P-$ns" conntrack -L >"$OUT/$name.fail/$ns.conntrack" 2>&1 || true
		done
		cp "$NSLAB_DIR"/*.log "$dir/natcheck.err" "$OUT/$name.fail/" 2>/dev/null || true
		[ -d "$dir/natbox" ] && cp "$dir/natbox/natbox.log" "$OUT/$name.fail/" 2>/dev/null
		sleep 0.2 # let tcpdump flush its last packets
		cp "$dir/router.pcap" "$OUT/$name.fail/" 2>/dev/null || true
	fi
	printf '%-34s %-5s %6s ms  %s\n' "$name" "$status" $((t1 - t0)) \
		"$( [ "$status" = PASS ] && echo "${EXPECT:-$REPLAY_FIELDS}" | tr '\n' ' ' || tr '\n' ';' <"$dir/mismatch")" >"$OUT/$name.line"
	if [ "$KEEP" -eq 1 ]; then
		trap - EXIT INT TERM
		{
			echo "The lab of '$name' stays up. Enter it with:"
			echo "  ip netns exec $NSLAB_P-client bash      # the host behind the NAT"
			echo "  ip netns exec $NSLAB_P-router nft list ruleset"
			echo "Tear it down with:"
			echo "  for ns in \$(ip netns list | awk '/^$NSLAB_P-/ { print \$1 }'); do ip netns pids \$ns | xargs -r kill; ip netns del \$ns; done"
		} >>"$OUT/$name.line"
	else
		[ -d "$dir/natbox" ] && natbox_stop "$NSLAB_P-router" "$dir/natbox" >/dev/null 2>&1
		nslab_down
		rm -rf "$dir"
	fi
	[ "$status" = PASS ]
)

# Whatever happens, no namespace of this run survives it (their names carry our pid).
cleanup_all() {
	set +e
	[ "$KEEP" -eq 1 ] && return
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	for ns in $(ip netns list | awk -v p="nc$$-" 'index($1, p) == 1 { print $1 }'); do
		ip netns pids "$ns" | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
}
trap cleanup_all EXIT
trap 'echo "sim/run.sh: interrupted" >&2; exit 130' INT TERM

start=$(date +%s)
idx=0
for name in "${PROFILES[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
	idx=$((idx + 1))
	run_case "$idx" "$name" >"$OUT/$name.out" 2>&1 &
done
wait || true

failed=0
{
	printf '| profile | result | natcheck time | expected / mismatch |\n|---|---|---|---|\n'
	for name in "${PROFILES[@]}"; do
		if [ ! -s "$OUT/$name.line" ]; then
			printf '%-34s %-5s %6s     %s\n' "$name" ERROR - "the case did not run: see $OUT/$name.out" >"$OUT/$name.line"
		fi
		awk '{ printf "| %s | %s | %s %s | ", $1, $2, $3, $4; $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print $0 " |" }' "$OUT/$name.line"
	done
} >"$OUT/summary.md"
printf '%-34s %-5s %9s  %s\n' profile result natcheck "expected (or the mismatch)"
for name in "${PROFILES[@]}"; do
	cat "$OUT/$name.line"
	grep -q "^$name *PASS" "$OUT/$name.line" || failed=$((failed + 1))
	if [ "$REPORT" -eq 1 ] && [ -s "$OUT/$name.report" ]; then sed 's/^/    /' "$OUT/$name.report"; echo; fi
done
echo "${#PROFILES[@]} case(s), $failed failed, $(($(date +%s) - start)) s; results in $OUT"
[ "$failed" -eq 0 ]
