#!/usr/bin/env bash
# Wall time of a full UDP classification at an internet RTT: behind natbox as a
# port-restricted NAT (EIM + APDF, no hairpin) with DELAY ms delay and JITTER ms jitter each
# way (default 40 and 10, so an RTT of about 80 ms), natcheck against the Vovida client, in the
# same namespace topology and run:
#   - Vovida `stun` (stun-client) against `stund` (stun-server)
#   - natcheck --no-portmap --no-topology against natcheck-reflector
# Each tool runs RUNS times (default 7); the median is reported, and every run must give the
# same verdicts (EIM, APDF, no hairpin), or its time would mean nothing.
# Target (issue 13 item 14): natcheck's time <= 0.4 x the Vovida client's. The wait for a
# negative answer follows the evidence (the control's answer and the measured RTT), not a
# retransmission schedule: about one RTT for the answers plus a few for the silences.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/lib/nslab.sh
source tests/lib/nslab.sh
# shellcheck source=sim/lib/natbox.sh
source sim/lib/natbox.sh
nslab_need_root
BUILD=${NC_BUILD:-build}
RUNS=${RUNS:-7}
DELAY=${DELAY:-40}
JITTER=${JITTER:-10}
natcheck=$BUILD/natcheck/natcheck
reflector=$BUILD/reflector/natcheck-reflector
export NATBOX_BIN=${NATBOX_BIN:-$BUILD/sim/natbox}
[ -x "$natcheck" ] && [ -x "$reflector" ] || { echo "build natcheck and the reflector first" >&2; exit 2; }
need_tool stun stund

nslab_up "ncbd$$"
trap 'natbox_stop "$NSLAB_P-router" "$NSLAB_DIR/nb" 2>/dev/null; nslab_down' EXIT
natbox_start "$NSLAB_P-router" lan wan "$NSLAB_WAN" "$NSLAB_DIR/nb" -- \
	--mapping ei --filtering apd --hairpin off --delay "$DELAY" --jitter "$JITTER"

now_ms() { date +%s%3N; }

# median_ms CMD...: runs the command RUNS times in the client namespace, prints the median;
# CHECK (a python expression over `out`, the output text) must hold for every run.
median_ms() {
	local i t0 t1 times=()
	for i in $(seq "$RUNS"); do
		t0=$(now_ms)
		nslab_exec client "$@" >"$NSLAB_DIR/last.out" 2>&1 || true
		t1=$(now_ms)
		times+=($((t1 - t0)))
		if ! python3 -c "import sys, json; out = open(sys.argv[1]).read(); sys.exit(0 if ($CHECK) else 1)" "$NSLAB_DIR/last.out"; then
			echo "wrong or no verdict from: $*" >&2
			cat "$NSLAB_DIR/last.out" >&2
			exit 1
		fi
		echo "  run $i: ${times[-1]} ms" >&2
	done
	printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p"
}

stop() { kill "$(cat "$NSLAB_DIR/$1.pid")" 2>/dev/null || true; wait "$(cat "$NSLAB_DIR/$1.pid")" 2>/dev/null || true; }

nslab_daemon stund inet stund -h "$NSLAB_A1" -a "$NSLAB_A2"
nslab_wait_udp inet "$NSLAB_A2:3479"
echo "stun (Vovida) vs stund:" >&2
CHECK="'Independent Mapping, Port Dependent Filter' in out and 'no hairpin' in out" \
	t_stun=$(median_ms stun "$NSLAB_A1")
stop stund

nslab_daemon refl inet "$reflector" --primary "$NSLAB_A1" --alternate "$NSLAB_A2" --no-drop
nslab_wait_udp inet "$NSLAB_A2:3479"
echo "natcheck vs natcheck-reflector:" >&2
CHECK="(lambda u: u['mapping'] == 'endpoint-independent' and u['filtering'] == 'address-and-port-dependent' and u['hairpin'] is False)(json.loads(out)['udp'])" \
	t_nc=$(median_ms "$natcheck" --json --no-portmap --no-topology "$NSLAB_A1")
stop refl

printf '\nUDP classification behind natbox EIM+APDF, %s ms +- %s ms each way, median of %d runs (ms)\n' \
	"$DELAY" "$JITTER" "$RUNS"
printf '  %-44s %6d\n' "stun (Vovida) vs stund" "$t_stun" "natcheck vs natcheck-reflector" "$t_nc"
ratio=$(awk -v a="$t_nc" -v b="$t_stun" 'BEGIN { printf "%.3f", a / b }')
printf 'natcheck / Vovida = %s (target <= 0.400): %s\n' "$ratio" \
	"$(awk -v r="$ratio" 'BEGIN { print (r <= 0.4) ? "PASS" : "FAIL" }')"
awk -v r="$ratio" 'BEGIN { exit !(r <= 0.4) }'
