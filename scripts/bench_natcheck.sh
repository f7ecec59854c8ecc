#!/usr/bin/env bash
# Wall time of a full UDP classification behind Linux masquerade (port-restricted cone):
# natcheck against the peers installed from Debian, in the same namespace topology and run.
#   - Vovida `stun` (stun-client) against `stund` (stun-server)
#   - coturn's `turnutils_natdiscovery -m -f` against coturn's `turnserver` (RFC 5780 mode)
#   - natcheck against the same turnserver, and against natcheck-reflector when it is built
# Each tool runs RUNS times (default 5); the median is reported, and every natcheck run must
# also give the right verdict (EIM + APDF), or its time would mean nothing.
# Target (issue 2): natcheck's time <= 1/5 of the faster peer's, for the same job as the peers:
# the UDP classification, so natcheck runs with --no-portmap --no-topology (its NAT-PMP/PCP/
# UPnP probe waits up to 375 ms for SSDP answers, in parallel, when no gateway speaks UPnP).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/lib/nslab.sh
source tests/lib/nslab.sh
nslab_need_root
BUILD=${NC_BUILD:-build}
RUNS=${RUNS:-5}
natcheck=$BUILD/natcheck/natcheck
reflector=$BUILD/reflector/natcheck-reflector
[ -x "$natcheck" ] || { echo "build natcheck first ($natcheck)" >&2; exit 2; }

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

best=$((t_stun < t_disc ? t_stun : t_disc))
nc=${t_nc_refl:-$t_nc_turn}
printf '\nfull UDP classification behind masquerade, median of %d runs (ms)\n' "$RUNS"
printf '  %-44s %6d\n' "stun (Vovida) vs stund" "$t_stun"
printf '  %-44s %6d\n' "turnutils_natdiscovery -m -f vs turnserver" "$t_disc"
printf '  %-44s %6d\n' "natcheck vs turnserver" "$t_nc_turn"
[ -n "$t_nc_refl" ] && printf '  %-44s %6d\n' "natcheck vs natcheck-reflector" "$t_nc_refl"
ratio=$(awk -v a="$nc" -v b="$best" 'BEGIN { printf "%.3f", a / b }')
printf 'natcheck / faster peer = %s (target <= 0.200): %s\n' "$ratio" \
	"$(awk -v r="$ratio" 'BEGIN { print (r <= 0.2) ? "PASS" : "FAIL" }')"
awk -v r="$ratio" 'BEGIN { exit !(r <= 0.2) }'
