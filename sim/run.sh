#!/usr/bin/env bash
# sim/run.sh: the natcheck namespace lab and regression matrix.
#
# Each case builds its own lab in network namespaces named after this run's id (nc<pid>-<n>-):
#   client (10.1.0.2) -- router running the profile's NAT -- [upstream NAT] -- internet
# with natcheck-reflector on 198.18.1.1 and 198.18.1.2 (bouncer 198.18.2.1), measures from the
# client, and compares the JSON result with the profile's expectations. Profiles are small
# bash files in sim/profiles/ (format in sim/README.md). Everything a case starts is removed
# when it ends, also on failure or Ctrl-C.
#
#   sim/run.sh                      the whole matrix
#   sim/run.sh --list               profiles and what they model
#   sim/run.sh --profile NAME ...   only these (repeatable)
#   sim/run.sh -j N                 N cases in parallel (default 4)
#   sim/run.sh --runs N             measure each case N times; every run must match
#   sim/run.sh --keep --profile X   leave the lab up and print how to enter and remove it
#   sim/run.sh --report             also print natcheck's human report for each case
#   sim/run.sh --measure vovida     measure with Debian's RFC 3489 `stun` client against
#                                   `stund` instead of natcheck (fewer fields: the others
#                                   read "not measured"); default: natcheck
#   sim/run.sh --natcheck-args "A"  extra natcheck arguments for every case
#   sim/run.sh --reflector-args "A" extra natcheck-reflector arguments, e.g. "--fast-path auto"
#   sim/run.sh --replay R.json      rebuild the NAT a result describes (natbox) and check that
#                                   measuring it gives the same RFC 4787 fields
#   sim/run.sh --expect-override FIELD=VALUE
#                                   replace (or add) an expectation, e.g. to see a mismatch
#                                   named (--expect is the same)
#   sim/run.sh --expect-new FIELD=VALUE
#                                   add an expectation on a field natcheck may not write yet:
#                                   PENDING (reported, not failed) while the field is missing
#   sim/run.sh --out DIR            results, summary.md and failure dumps (default sim/out/<time>)
#   sim/run.sh --submit URL         submit every case's result to a natcheck collector
#                                   (natcheck --reclassify R.json --submit=URL --yes; the
#                                   profile is the vendor); a failed one fails the case
#   sim/run.sh --gated              also run the profiles gated by NEEDS= (behaviours natcheck
#                                   does not report yet; skipped otherwise, also when named)
#   sim/run.sh --pairs [LIST]       pair cases instead of the matrix (sim/lib/pairs.sh): two
#                                   hosts behind two profiles' routers bring punchvpn up through
#                                   punchvpnd; path and time to a working tunnel are checked
#                                   against the list (default sim/pairs.list: issue 10's pairs)
#   sim/run.sh --pairs-full         the pair matrix of issue 11 (sim/pairs-full.list, 78 pairs)
#   sim/run.sh --pair A:B[:PATH]    only this pair (repeatable; its line from the lists, A:B or
#                                   B:A, else PATH or "any"); B = same: both hosts behind A's router
#   sim/run.sh --verify-sides       pairs: each host first measures its NAT with natcheck and
#                                   must get its profile's verdict
#   sim/run.sh --topology-only      pairs: build, check and remove the labs, no VPN
# Exit status: 0 all cases match, 1 a mismatch or a case that could not run, 2 usage,
# 77 not root / no namespaces.
set -euo pipefail
SIM=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$SIM/.." && pwd)
export NC_BUILD=${NC_BUILD:-$SRC/build}
# SIM_PROFILE_DIR: another folder of profiles (the lab's self-check uses one of its own).
PROFILE_DIR=${SIM_PROFILE_DIR:-$SIM/profiles}
# shellcheck source=tests/lib/nslab.sh
source "$SRC/tests/lib/nslab.sh"
# shellcheck source=sim/lib/natbox.sh
source "$SIM/lib/natbox.sh"
# shellcheck source=sim/lib/rules.sh
source "$SIM/lib/rules.sh"
# shellcheck source=sim/lib/truth.sh
source "$SIM/lib/truth.sh"

PAIRS='' PAIR_PICK=() VERIFY_SIDES=0 TOPOLOGY_ONLY=0 GATED=0 JOBS=4 RUNS=1 KEEP=0 REPORT=0 SUBMIT='' REPLAY='' OUT='' MEASURE=natcheck EXTRA_ARGS='' REFLECTOR_ARGS='' OVERRIDES=() NEW_OVERRIDES=() PROFILES=()
usage() { sed -n '2,48p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--list)
		for f in "$PROFILE_DIR"/*.profile; do
			# shellcheck disable=SC1090
			printf '%-34s %s\n' "$(basename "$f" .profile)" "$(. "$f" 2>/dev/null; echo "${DESCRIPTION:-}")"
		done
		exit 0 ;;
	--profile) PROFILES+=("${2:?--profile needs a name}"); shift ;;
	-j) JOBS=${2:?-j needs a number}; shift ;;
	--runs) RUNS=${2:?--runs needs a number}; shift ;;
	--keep) KEEP=1 ;;
	--report) REPORT=1 ;;
	--replay) REPLAY=${2:?--replay needs a result file}; shift ;;
	--measure) MEASURE=${2:?--measure needs natcheck or vovida}; shift ;;
	--natcheck-args) EXTRA_ARGS=${2?--natcheck-args needs a string}; shift ;;
	--reflector-args) REFLECTOR_ARGS=${2?--reflector-args needs a string}; shift ;;
	--expect | --expect-override) OVERRIDES+=("${2:?$1 needs FIELD=VALUE}"); shift ;;
	--expect-new) NEW_OVERRIDES+=("${2:?$1 needs FIELD=VALUE}"); shift ;;
	--out) OUT=${2:?--out needs a directory}; shift ;;
	--gated) GATED=1 ;;
	--submit) SUBMIT=${2:?--submit needs a collector URL}; shift ;;
	--pairs)
		PAIRS=$SIM/pairs.list
		case ${2:-} in '' | -*) ;; *) PAIRS=$2; shift ;; esac ;;
	--pairs-full) PAIRS=$SIM/pairs-full.list ;;
	--pair) PAIR_PICK+=("${2:?--pair needs A:B}"); shift ;;
	--verify-sides) VERIFY_SIDES=1 ;;
	--topology-only) TOPOLOGY_ONLY=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "sim/run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
case $JOBS in '' | *[!0-9]* | 0) echo "sim/run.sh: -j: invalid value '$JOBS'" >&2; exit 2 ;; esac
case $RUNS in '' | *[!0-9]* | 0) echo "sim/run.sh: --runs: invalid value '$RUNS'" >&2; exit 2 ;; esac
case $MEASURE in natcheck | vovida) ;; *) echo "sim/run.sh: --measure: invalid value '$MEASURE' (natcheck or vovida)" >&2; exit 2 ;; esac
for o in ${OVERRIDES[@]+"${OVERRIDES[@]}"} ${NEW_OVERRIDES[@]+"${NEW_OVERRIDES[@]}"}; do
	case $o in ?*=*) ;; *) echo "sim/run.sh: --expect-override / --expect-new: invalid value '$o' (FIELD=VALUE)" >&2; exit 2 ;; esac
done
[ -n "$REPLAY" ] && [ "$MEASURE" != natcheck ] && { echo "sim/run.sh: --replay measures with natcheck" >&2; exit 2; }
# Pair mode: the pair lines to run (sim/lib/pairs.sh).
PAIR_LINES=()
if [ -n "$PAIRS" ] || [ ${#PAIR_PICK[@]} -gt 0 ]; then
	# shellcheck source=sim/lib/pairs.sh
	source "$SIM/lib/pairs.sh"
	[ -z "$PAIRS" ] || [ -r "$PAIRS" ] || { echo "sim/run.sh: cannot read pair list '$PAIRS'" >&2; exit 2; }
	if [ ${#PAIR_PICK[@]} -eq 0 ]; then
		mapfile -t PAIR_LINES < <(pairs_read "$PAIRS")
	else
		for pick in "${PAIR_PICK[@]}"; do
			IFS=: read -r pa pb ppath <<<"$pick"
			[ -n "$pa" ] && [ -n "$pb" ] || { echo "sim/run.sh: --pair: invalid value '$pick' (A:B[:PATH])" >&2; exit 2; }
			line=''
			for f in ${PAIRS:-$PAIRS_DEFAULT_LIST $PAIRS_FULL_LIST}; do
				line=$(pairs_read "$f" | awk -v a="$pa" -v b="$pb" '($1 == a && $2 == b) || ($1 == b && $2 == a) { print; exit }')
				[ -n "$line" ] && break
			done
			[ -n "$ppath" ] && line="$pa $pb $ppath"
			PAIR_LINES+=("${line:-$pa $pb any}")
		done
	fi
	[ ${#PAIR_LINES[@]} -gt 0 ] || { echo "sim/run.sh: no pairs to run" >&2; exit 2; }
	pairs_validate "${PAIR_LINES[@]}"
fi
nslab_need_root # exit 77 when not root or without namespaces
if [ ${#PAIR_LINES[@]} -gt 0 ]; then
	PV=$NC_BUILD/vpn/punchvpn PVD=$NC_BUILD/vpn/punchvpnd
	bins=(reflector/natcheck-reflector)
	[ "$VERIFY_SIDES" = 1 ] && bins+=(natcheck/natcheck)
	[ "$TOPOLOGY_ONLY" = 0 ] && bins+=(vpn/punchvpn vpn/punchvpnd)
	for bin in "${bins[@]}"; do
		[ -x "$NC_BUILD/$bin" ] || { echo "sim/run.sh: $NC_BUILD/$bin is not built (build it, set NC_BUILD, or use --topology-only)" >&2; exit 2; }
	done
	[ "$TOPOLOGY_ONLY" = 1 ] || [ -c /dev/net/tun ] || { echo "sim/run.sh: pairs need /dev/net/tun" >&2; exit 77; }
	MEASURE=natcheck
fi
if [ ${#PAIR_LINES[@]} -gt 0 ]; then
	:
elif [ "$MEASURE" = natcheck ]; then
	for bin in natcheck/natcheck reflector/natcheck-reflector; do
		[ -x "$NC_BUILD/$bin" ] || { echo "sim/run.sh: $NC_BUILD/$bin is not built (build it, set NC_BUILD, or use --measure vovida)" >&2; exit 2; }
	done
else
	for bin in stun stund; do
		command -v "$bin" >/dev/null || { echo "sim/run.sh: no '$bin' (apt-get install stun-client stun-server)" >&2; exit 2; }
	done
fi

if [ -n "$REPLAY" ]; then
	[ -r "$REPLAY" ] || { echo "sim/run.sh: cannot read $REPLAY" >&2; exit 2; }
	[ -x "$NC_BUILD/sim/natbox" ] || { echo "sim/run.sh: --replay needs natbox, and natbox is not built ($NC_BUILD/sim/natbox)" >&2; exit 2; }
	REPLAY=$(cd "$(dirname "$REPLAY")" && pwd)/$(basename "$REPLAY")
	PROFILES=(replay)
elif [ ${#PROFILES[@]} -eq 0 ]; then
	for f in "$PROFILE_DIR"/*.profile; do PROFILES+=("$(basename "$f" .profile)"); done
fi
for p in "${PROFILES[@]}"; do
	[ "$p" = replay ] || [ -r "$PROFILE_DIR/$p.profile" ] || { echo "sim/run.sh: no profile '$p' (see --list)" >&2; exit 2; }
done
[ "$KEEP" -eq 1 ] && [ ${#PAIR_LINES[@]} -eq 0 ] && [ ${#PROFILES[@]} -ne 1 ] && { echo "sim/run.sh: --keep takes exactly one --profile" >&2; exit 2; }
OUT=${OUT:-$SIM/out/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# The fields a replay must reproduce: what natbox models and natcheck measures.
REPLAY_FIELDS="udp.nat udp.mapping udp.filtering udp.port_preservation udp.allocation.pattern udp.allocation.delta udp.hairpin"

# start_servers: the STUN servers in the internet namespace, listening before it returns.
start_servers() {
	# 198.18.2.1 is the bouncer: an address the client never contacts (TCP and third-party
	# tests), linked to the reflector by a key made for this lab.
	nslab_exec inet ip addr add 198.18.2.1/16 dev i0
	if [ "$MEASURE" = vovida ]; then
		nslab_daemon stund inet stund -h "$NSLAB_A1" -a "$NSLAB_A2"
	else
		(umask 077 && head -c 32 /dev/urandom >"$NSLAB_DIR/link.key")
		nslab_daemon reflector inet "$NC_BUILD/reflector/natcheck-reflector" --primary "$NSLAB_A1" \
			--alternate "$NSLAB_A2" --key "$NSLAB_DIR/link.key" --bouncer 198.18.2.1 $REFLECTOR_ARGS
	fi
	# Ready when it listens on both addresses (polled, at most 5 s); a server that exits is
	# not waited for.
	local d=reflector i ss
	[ "$MEASURE" = vovida ] && d=stund
	for i in $(seq 100); do
		ss=$(nslab_exec inet ss -Hlun)
		grep -q " $NSLAB_A1:3478 " <<<"$ss" && grep -q " $NSLAB_A2:3479 " <<<"$ss" && return 0
		kill -0 "$(cat "$NSLAB_DIR/$d.pid")" 2>/dev/null || break
		sleep 0.05
	done
	echo "sim/run.sh: the STUN server did not start: $(tail -n 3 "$NSLAB_DIR/$d.log" | tr '\n' ' ')" >&2
	return 1
}

# measure RESULT.json: the one place that measures. Runs the measurer on $MEASURE_HOST and
# writes a natcheck-result document (natcheck's stdout, or the Vovida verdict converted).
measure() {
	if [ "$MEASURE" = vovida ]; then
		# shellcheck disable=SC2086
		nslab_exec "$MEASURE_HOST" stun "$NSLAB_A1" $VOVIDA_ARGS >"${1%.json}.vovida.txt" 2>&1 || true
		python3 "$SIM/lib/vovida.py" "${1%.json}.vovida.txt" >"$1"
	else
		# shellcheck disable=SC2086
		nslab_exec "$MEASURE_HOST" "$NC_BUILD/natcheck/natcheck" --json $NATCHECK_ARGS $EXTRA_ARGS "$NSLAB_A1" >"$1" 2>"$dir/natcheck.err" || true
	fi
}

# capture_start / capture_stop: tcpdump on every interface of the router during the measurement.
capture_start() {
	local i
	nslab_daemon tcpdump router tcpdump -i any -n -U -w "$dir/router.pcap" udp or icmp or tcp
	# Ready when it has written the pcap file header (it does so once the capture is open).
	for i in $(seq 100); do
		[ -s "$dir/router.pcap" ] && return 0
		kill -0 "$(cat "$NSLAB_DIR/tcpdump.pid")" 2>/dev/null || break
		sleep 0.05
	done
	echo "sim/run.sh: tcpdump did not start" >&2
	cat "$NSLAB_DIR/tcpdump.log" >&2
	return 1
}
capture_stop() {
	local pid
	pid=$(cat "$NSLAB_DIR/tcpdump.pid")
	kill "$pid" 2>/dev/null || return 0
	wait "$pid" 2>/dev/null || true # tcpdump flushes and exits on SIGTERM
	rm -f "$NSLAB_DIR/tcpdump.pid"
}

# save_failure: what a mismatch needs to be understood, in $OUT/NAME.fail/.
save_failure() {
	local f=$OUT/$name.fail ns
	mkdir -p "$f"
	for ns in router outer client client2 inet; do
		ip netns list 2>/dev/null | grep -q "^$NSLAB_P-$ns\b" || continue
		ip netns exec "$NSLAB_P-$ns" nft list ruleset >"$f/$ns.nft" 2>&1 || true
		[ "$ns" = router ] || [ "$ns" = outer ] || continue
		ip netns exec "$NSLAB_P-$ns" conntrack -L >"$f/$ns.conntrack" 2>&1 || true
	done
	cp "$NSLAB_DIR"/*.log "$f/" 2>/dev/null || true
	cp "$dir/natcheck.err" "$dir/router.pcap" "$f/" 2>/dev/null || true
	[ -d "$dir/natbox" ] && cp "$dir/natbox/natbox.log" "$f/" 2>/dev/null
	return 0
}

# profile_reset: every profile variable back to its default, and no hook of a previous
# profile left defined (a pair case loads two profiles in one shell).
profile_reset() {
	DESCRIPTION='' UPSTREAM='' ROUTED=0 NATBOX_ARGS='' SYSCTL='' NATCHECK_ARGS='' VOVIDA_ARGS='' EXPECT='' VOVIDA_EXPECT='' HOSTS=1 MEASURE_HOST=client NEEDS_NATCHECK=0
	NEEDS='' EXPECT_NEW='' ICMP_RATELIMIT=
	unset -f router_setup router_rules before_measure after_measure
}

# profile_source NAME: loads sim/profiles/NAME.profile over the defaults.
profile_source() {
	profile_reset
	# shellcheck disable=SC1090
	. "$PROFILE_DIR/$1.profile"
}

# profile_up PREFIX DIR: the loaded profile's lab, namespaces PREFIX-*: nslab_up, then the
# router's addresses, rules, sysctls or natbox (its files in DIR/natbox). The one place a
# profile becomes a router: the matrix builds one lab per case, a pair case one per side
# (sim/lib/pairs.sh sets NSLAB_INET, NSLAB_LAN, NSLAB_WAN_ADDR, ... per side first).
profile_up() {
	local e
	NSLAB_HOST2=
	[ "$HOSTS" = 2 ] && NSLAB_HOST2=1
	nslab_up "$1" "$UPSTREAM"
	[ "$ROUTED" = 1 ] && nslab_route_lan
	if [ "$ICMP_RATELIMIT" = default ]; then
		# nslab_up turns the routers' ICMP rate limits off; these profiles keep the kernel's
		# defaults (1000 ms per destination, burst 6, for unreachable / time exceeded /
		# source quench / parameter problem), as real routers do (issue 13, item 13).
		for e in router ${UPSTREAM:+outer}; do
			nslab_exec "$e" sysctl -qw net.ipv4.icmp_ratelimit=1000 net.ipv4.icmp_ratemask=6168
		done
	fi
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
		natbox_start "$NSLAB_P-router" lan wan "$NSLAB_WAN" "$2/natbox" -- $NATBOX_ARGS >/dev/null
	fi
	return 0
}

# run_case INDEX NAME: one lab, one measurement; writes $OUT/NAME.json, $OUT/NAME.line
# (tab-separated: name, result, ms, expected, measured, details) and, on a mismatch,
# $OUT/NAME.fail/ with the rulesets, conntrack tables, logs and the capture.
run_case() (
	local idx=$1 name=$2 dir t0 t1=0 t0run status=PASS partial=() new=() ne=() summary detail e
	profile_reset
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
		profile_source "$name"
	fi
	if [ "$MEASURE" = vovida ] && [ "$NEEDS_NATCHECK" = 1 ]; then
		printf '%s\tSKIP\t-\t-\t-\tthis case runs natcheck itself\n' "$name" >"$OUT/$name.line"
		rm -rf "$dir"
		return 0
	fi
	# Gated: natcheck cannot report this behaviour yet (its expectations would fail, or pass
	# for the wrong reason). The lead removes NEEDS= when the natcheck side lands.
	if [ -n "$NEEDS" ] && [ "$GATED" = 0 ] && [ "$MEASURE" = natcheck ]; then
		printf '%s\tSKIP\t-\t-\t-\tgated: needs %s (run with --gated)\n' "$name" "$NEEDS" >"$OUT/$name.line"
		rm -rf "$dir"
		return 0
	fi
	read -ra ne <<<"$EXPECT_NEW" # no globbing: values may hold [ ]
	for e in ${ne[@]+"${ne[@]}"} ${NEW_OVERRIDES[@]+"${NEW_OVERRIDES[@]}"}; do new+=(--new "$e"); done
	# A profile may state where Vovida's RFC 3489 tests read the NAT differently.
	[ "$MEASURE" = vovida ] && partial=(--partial) && EXPECT="$EXPECT $VOVIDA_EXPECT"
	profile_up "nc$$-$idx" "$dir"
	start_servers
	if declare -F before_measure >/dev/null; then
		before_measure
	fi
	capture_start
	: >"$dir/mismatch"
	t0=$(date +%s%3N)
	for run in $(seq "$RUNS"); do
		t0run=$(date +%s%3N)
		measure "$OUT/$name.json"
		t1=$(($(date +%s%3N) - t0run))
		[ "$RUNS" -gt 1 ] && cp "$OUT/$name.json" "$OUT/$name.run$run.json"
		if [ "$name" = replay ]; then
			# shellcheck disable=SC2086
			python3 "$SIM/lib/expect.py" --summary "$dir/summary" --same "$REPLAY" "$OUT/$name.json" $REPLAY_FIELDS >"$dir/run" || status=FAIL
		else
			# shellcheck disable=SC2086
			python3 "$SIM/lib/expect.py" ${partial[@]+"${partial[@]}"} --summary "$dir/summary" "$OUT/$name.json" \
				$EXPECT ${new[@]+"${new[@]}"} ${OVERRIDES[@]+"${OVERRIDES[@]}"} >"$dir/run" || status=FAIL
		fi
		# A profile can check the router after the measurement (e.g. that no mapping was left).
		# Its output (e.g. the ground-truth checks of sim/lib/truth.sh) is kept in
		# NAME.truth, and joins the mismatches when the check fails.
		if declare -F after_measure >/dev/null; then
			if ! after_measure >"$dir/after" 2>&1; then
				status=FAIL
				cat "$dir/after" >>"$dir/run"
			fi
			cat "$dir/after" >>"$OUT/$name.truth"
		fi
		[ "$RUNS" -gt 1 ] && sed -i "s/^/run $run: /" "$dir/run"
		cat "$dir/run" >>"$dir/mismatch"
	done
	[ "$RUNS" -gt 1 ] && t1=$((($(date +%s%3N) - t0) / RUNS))
	if [ -n "$SUBMIT" ] && [ "$MEASURE" = natcheck ] && [ -s "$OUT/$name.json" ]; then
		# From the host namespace, where the collector's URL is reachable; the document is
		# the one just checked, anonymised by natcheck as for any user.
		if ! XDG_STATE_HOME=$dir "$NC_BUILD/natcheck/natcheck" --reclassify "$OUT/$name.json" \
			--submit="$SUBMIT" --vendor "$name" --model "natcheck lab" --yes >/dev/null 2>"$dir/submit"; then
			# exit 1 / 4 (the case's own verdict) are not submission failures
			grep -q 'submitted (id' "$dir/submit" || { status=FAIL; { echo "submit:"; cat "$dir/submit"; } >>"$dir/mismatch"; }
		fi
	fi
	if [ "$REPORT" -eq 1 ] && [ "$MEASURE" = natcheck ]; then
		# shellcheck disable=SC2086
		nslab_exec "$MEASURE_HOST" "$NC_BUILD/natcheck/natcheck" $NATCHECK_ARGS $EXTRA_ARGS "$NSLAB_A1" >"$OUT/$name.report" 2>&1 || true
	fi
	capture_stop
	[ "$status" = FAIL ] && save_failure
	summary=$(cat "$dir/summary" 2>/dev/null || printf '?\t?\t0\t0')
	# Expectations on fields natcheck does not write yet: reported, not failed.
	grep '^\(run [0-9]*: \)\{0,1\}PENDING ' "$dir/mismatch" | sed 's/^run [0-9]*: //' | sort -u >"$OUT/$name.pending" || true
	sed -i '/^\(run [0-9]*: \)\{0,1\}PENDING /d' "$dir/mismatch"
	if [ "$status" = FAIL ]; then
		detail=$(tr '\n' ';' <"$dir/mismatch")
	else
		detail=$(echo "${EXPECT:-$REPLAY_FIELDS} ${EXPECT_NEW:+(new: $EXPECT_NEW)} ${OVERRIDES[*]+"${OVERRIDES[*]}"}" | tr '\n' ' ' | tr -s ' ')
		[ "$(cut -f4 <<<"$summary")" -gt 0 ] && detail="$(cut -f4 <<<"$summary") field(s) not measured by $MEASURE; $detail"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$t1" "$(cut -f1 <<<"$summary")" "$(cut -f2 <<<"$summary")" "$detail" >"$OUT/$name.line"
	if [ "$KEEP" -eq 1 ]; then
		trap - EXIT INT TERM
		{
			echo "The lab of '$name' stays up (namespaces $NSLAB_P-*). Enter it with:"
			echo "  ip netns exec $NSLAB_P-client bash      # the host behind the NAT"
			echo "  ip netns exec $NSLAB_P-router nft list ruleset"
			echo "  ip netns exec $NSLAB_P-router conntrack -L"
			echo "Tear it down with:"
			echo "  for ns in \$(ip netns list | awk '/^$NSLAB_P-/ { print \$1 }'); do ip netns pids \$ns | xargs -r kill; ip netns del \$ns; done; rm -rf $NSLAB_DIR"
		} >"$OUT/$name.keep"
	else
		[ -d "$dir/natbox" ] && natbox_stop "$NSLAB_P-router" "$dir/natbox" >/dev/null 2>&1
		nslab_down
		rm -rf "$dir"
	fi
	[ "$status" = PASS ]
)

# Whatever happens, no namespace or process of this run survives it (the namespaces' names
# carry our pid). Processes inside the labs go first, so a case blocked on its measurement
# can run its own cleanup; then the cases themselves; whatever is left is killed.
our_netns() { ip netns list 2>/dev/null | awk -v p="nc$$-" 'index($1, p) == 1 { print $1 }'; }
netns_pids() { local ns; for ns in $(our_netns); do ip netns pids "$ns" 2>/dev/null; done; }
cleanup_all() {
	local i ns p alive
	set +e
	# --keep leaves a matrix case's lab up; a pair case keeps only its files.
	[ "$KEEP" -eq 1 ] && [ ${#PAIR_LINES[@]} -eq 0 ] && return
	netns_pids | xargs -r kill 2>/dev/null
	[ ${#CASE_PIDS[@]} -gt 0 ] && kill "${CASE_PIDS[@]}" 2>/dev/null
	for i in $(seq 200); do # at most 10 s: natcheck may hold signals while it deletes mappings
		alive=$(netns_pids)
		for p in ${CASE_PIDS[@]+"${CASE_PIDS[@]}"}; do kill -0 "$p" 2>/dev/null && alive+=" $p"; done
		[ -z "${alive// /}" ] && break
		sleep 0.05
	done
	netns_pids | xargs -r kill -KILL 2>/dev/null
	for ns in $(our_netns); do
		ip netns del "$ns" 2>/dev/null
	done
	wait 2>/dev/null
}
CASE_PIDS=()
trap cleanup_all EXIT
trap 'echo "sim/run.sh: interrupted" >&2; exit 130' INT TERM

if [ ${#PAIR_LINES[@]} -gt 0 ]; then
	pairs_main "${PAIR_LINES[@]}" && exit 0
	exit 1
fi

start=$(date +%s)
idx=0
for name in "${PROFILES[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
	idx=$((idx + 1))
	run_case "$idx" "$name" >"$OUT/$name.out" 2>&1 &
	CASE_PIDS+=($!)
done
wait || true

failed=0
for name in "${PROFILES[@]}"; do
	if [ ! -s "$OUT/$name.line" ]; then
		printf '%s\tERROR\t-\t-\t-\tthe case did not run (%s): see %s\n' "$name" \
			"$(grep -v '^+' "$OUT/$name.out" | sed '/^$/d' | tail -n 1 | tr -d '\t')" "$OUT/$name.out" >"$OUT/$name.line"
	fi
done
{
	echo "# sim/run.sh matrix ($(date -u +%Y-%m-%dT%H:%M:%SZ), measured with $MEASURE)"
	echo
	echo '| profile | expected | measured | time (ms) | result | expectations / mismatches |'
	echo '|---|---|---|---|---|---|'
	for name in "${PROFILES[@]}"; do
		awk -F'\t' '{ for (i = 1; i <= NF; i++) gsub(/\|/, "\\|", $i); gsub(/;/, "<br>", $6); printf "| %s | %s | %s | %s | %s | %s |\n", $1, $4, $5, $3, $2, $6 }' "$OUT/$name.line"
	done
	if cat "$OUT"/*.pending 2>/dev/null | grep -q .; then
		echo
		echo '## Expectations pending a natcheck field (issue 13)'
		echo
		for name in "${PROFILES[@]}"; do
			[ -s "$OUT/$name.pending" ] && sed "s/^PENDING /* $name: /" "$OUT/$name.pending"
		done
	fi
} >"$OUT/summary.md"
printf '%-34s %-10s %-10s %8s  %s\n' profile expected measured "time ms" result
gated=0 pending=0
for name in "${PROFILES[@]}"; do
	IFS=$'\t' read -r n status ms exp meas detail <"$OUT/$name.line"
	printf '%-34s %-10s %-10s %8s  %s\n' "$n" "$exp" "$meas" "$ms" "$status"
	case $status in
	PASS) ;;
	SKIP) echo "    SKIP $n: $detail" ;;
	*)
		failed=$((failed + 1))
		# One line per mismatch, naming the profile and the field.
		tr ';' '\n' <<<"$detail" | sed '/^$/d' | sed "s/^/    $status $n: /" ;;
	esac
	if [ -s "$OUT/$name.pending" ]; then
		pending=$((pending + $(wc -l <"$OUT/$name.pending")))
		sed "s/^PENDING /    PENDING $n: /" "$OUT/$name.pending"
	fi
	[ "$status" = SKIP ] && case $detail in gated:*) gated=$((gated + 1)) ;; esac
	if [ "$REPORT" -eq 1 ] && [ -s "$OUT/$name.report" ]; then sed 's/^/    /' "$OUT/$name.report"; echo; fi
	if [ -s "$OUT/$name.keep" ]; then cat "$OUT/$name.keep"; fi
done
echo "${#PROFILES[@]} case(s), $failed failed, $gated gated (--gated runs them), $pending expectation(s) pending a natcheck field, $(($(date +%s) - start)) s, measured with $MEASURE; results in $OUT"
[ "$failed" -eq 0 ]
