#!/usr/bin/env bash
# Wall time of a full UDP classification, natcheck against the peers installed from Debian, in
# the same namespace topology and run, behind two NATs:
#   1. Linux masquerade (port-restricted cone) on the lab's sub-millisecond LAN;
#   2. the same NAT behaviour (EIM + APDF, ports kept) in natbox with 40 ms delay and 10 ms
#      jitter each way (issue 13 item 14: an internet RTT of 80 +- 20 ms).
# Peers, each in both rounds:
#   - Vovida `stun` (stun-client) against `stund` (stun-server)
#   - coturn's `turnutils_natdiscovery -m -f` against coturn's `turnserver` (RFC 5780 mode)
#   - natcheck against the same turnserver, and against natcheck-reflector when it is built
# Each tool runs RUNS times (default 5); the median is reported, and every run must also give
# the right verdict (EIM + APDF), or its time would mean nothing.
# Targets: LAN (issue 2): natcheck <= 0.2 x the faster peer; delayed (issue 13): natcheck <=
# 0.4 x Vovida's time. natcheck runs with --no-portmap --no-topology, the same job as the peers
# (its NAT-PMP/PCP/UPnP probe waits up to 375 ms for SSDP answers, in parallel, when no
# gateway speaks UPnP). Exit status 0 when both targets are met, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/lib/nslab.sh
source tests/lib/nslab.sh
# shellcheck source=sim/lib/natbox.sh
source sim/lib/natbox.sh
nslab_need_root
BUILD=${NC_BUILD:-build}
RUNS=${RUNS:-5}
natcheck=$BUILD/natcheck/natcheck
reflector=$BUILD/reflector/natcheck-reflector
[ -x "$natcheck" ] || { echo "build natcheck first ($natcheck)" >&2; exit 2; }
[ -x "$BUILD/sim/natbox" ] || { echo "build natbox first ($BUILD/sim/natbox)" >&2; exit 2; }

nslab_up "ncbench$$"
nslab_nat 'oifname "wan" masquerade'

now_ms() { date +%s%3N; }

# median_ms CMD...: runs the command RUNS times in the client namespace, prints the median.
median_ms() {
	local i t0 t1 times=()
	for i in $(seq "$RUNS"); do
		t0=$(now_ms)
		nslab_exec client "$@" >"$NSLAB_DIR/last.out" 2>&1 || true
		t1=$(now_ms)
		times+=($((t1 - t0)))
		if [ -n "${CHECK:-}" ] && ! grep -q "$CHECK" "$NSLAB_DIR/last.out"; then
			echo "wrong or no verdict from: $*" >&2
			cat "$NSLAB_DIR/last.out" >&2
			exit 1
		fi
	done
	printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p"
}

stop() { kill "$(cat "$NSLAB_DIR/$1.pid")" 2>/dev/null || true; wait "$(cat "$NSLAB_DIR/$1.pid")" 2>/dev/null || true; }

# bench_round: times every tool behind the router as it is now; sets t_stun, t_disc,
# t_nc_turn and t_nc_refl (empty without a reflector).
bench_round() {
	nslab_daemon stund inet stund -h "$NSLAB_A1" -a "$NSLAB_A2"
	nslab_wait_udp inet "$NSLAB_A2:3479"
	CHECK="Independent Mapping, Port Dependent Filter" t_stun=$(median_ms stun "$NSLAB_A1")
	stop stund

	nslab_daemon turn inet turnserver -n -L "$NSLAB_A1" -L "$NSLAB_A2" --alt-listening-port 3479 \
		--no-tls --no-dtls --no-cli --no-auth-pings --log-file stdout --simple-log
	nslab_wait_udp inet "$NSLAB_A2:3479"
	CHECK="Address and Port Dependent Filtering" t_disc=$(median_ms turnutils_natdiscovery -m -f "$NSLAB_A1")
	CHECK='"filtering": "address-and-port-dependent"' t_nc_turn=$(median_ms "$natcheck" --json --no-portmap --no-topology "$NSLAB_A1")
	stop turn

	t_nc_refl=
	if [ -x "$reflector" ]; then
		nslab_daemon refl inet "$reflector" --primary "$NSLAB_A1" --alternate "$NSLAB_A2"
		nslab_wait_udp inet "$NSLAB_A2:3479"
		CHECK='"filtering": "address-and-port-dependent"' t_nc_refl=$(median_ms "$natcheck" --json --no-portmap --no-topology "$NSLAB_A1")
		stop refl
	fi
}

# show TITLE: prints the round's medians.
show() {
	printf '\n%s, median of %d runs (ms)\n' "$1" "$RUNS"
	printf '  %-44s %6d\n' "stun (Vovida) vs stund" "$t_stun"
	printf '  %-44s %6d\n' "turnutils_natdiscovery -m -f vs turnserver" "$t_disc"
	printf '  %-44s %6d\n' "natcheck vs turnserver" "$t_nc_turn"
	[ -n "$t_nc_refl" ] && printf '  %-44s %6d\n' "natcheck vs natcheck-reflector" "$t_nc_refl"
	return 0
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t) ? "PASS" : "FAIL" }'; }

# Round 1: masquerade on the LAN.
bench_round
show "full UDP classification behind masquerade"
best=$((t_stun < t_disc ? t_stun : t_disc))
nc=${t_nc_refl:-$t_nc_turn}
ratio_lan=$(ratio "$nc" "$best")
printf 'natcheck / faster peer = %s (target <= 0.200): %s\n' "$ratio_lan" "$(verdict "$ratio_lan" 0.2)"

# Round 2: the same NAT behaviour in natbox, 40 ms +- 10 ms each way (sim/profiles/
# natbox-port-restricted-delay). natbox replaces the kernel NAT: its raw-table notrack keeps
# conntrack out of the way.
nslab_exec router nft delete table ip nslabnat
natbox_start "$NSLAB_P-router" lan wan "$NSLAB_WAN" "$NSLAB_DIR/natbox" -- --mapping ei \
	--filtering apd --alloc preserve --hairpin off --delay 40 --jitter 10 >/dev/null
trap 'natbox_stop "$NSLAB_P-router" "$NSLAB_DIR/natbox" >/dev/null 2>&1; nslab_down' EXIT
bench_round
show "the same behind natbox with 40 ms +- 10 ms each way (RTT 80 +- 20 ms)"
printf '  ratios to Vovida stun: natcheck vs turnserver %s' "$(ratio "$t_nc_turn" "$t_stun")"
[ -n "$t_nc_refl" ] && printf ', natcheck vs natcheck-reflector %s' "$(ratio "$t_nc_refl" "$t_stun")"
printf ', turnutils_natdiscovery %s\n' "$(ratio "$t_disc" "$t_stun")"
ratio_delay=$(ratio "${t_nc_refl:-$t_nc_turn}" "$t_stun")
printf 'natcheck / Vovida stun at 80 ms RTT = %s (target <= 0.400): %s\n' "$ratio_delay" "$(verdict "$ratio_delay" 0.4)"
awk -v a="$ratio_lan" -v b="$ratio_delay" 'BEGIN { exit !(a <= 0.2 && b <= 0.4) }'
