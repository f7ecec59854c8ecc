#!/usr/bin/env bash
# CPU time per answered Binding request: natcheck-reflector against coturn's turnserver, under
# the same load from the same generator (build/reflector/stunload, recvmmsg/sendmmsg), in two
# namespaces of their own. Target (issue 2): at most a third of coturn's CPU per request,
# with no request left unanswered at the offered load.
#   RATE=requests/s (default 40000)  SECONDS_=duration (default 5)  THREADS=reflector threads
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${NC_BUILD:-build}
RATE=${RATE:-40000}
DUR=${SECONDS_:-5}
THREADS=${THREADS:-1}
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root for namespaces" >&2; exit 77; fi
P=ncbr$$
dir=$(mktemp -d)
cleanup() {
	set +e
	for f in "$dir"/*.pid; do [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
	for ns in gen srv; do ip netns pids "$P-$ns" 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del "$P-$ns" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
ip netns add "$P-gen"
ip netns add "$P-srv"
ip link add g0 netns "$P-gen" type veth peer name s0 netns "$P-srv"
ip -n "$P-gen" addr add 198.18.5.2/16 dev g0
ip -n "$P-srv" addr add 198.18.1.1/16 dev s0
ip -n "$P-srv" addr add 198.18.1.2/16 dev s0
for ns in gen srv; do ip -n "$P-$ns" link set lo up; done
ip -n "$P-gen" link set g0 up
ip -n "$P-srv" link set s0 up
# Without NAPI a veth delivers each datagram in the sender's context, so a server would be
# billed for the generator receiving its answers (and the generator for the server's
# receives). GRO gives the veths NAPI, and threaded NAPI runs that work in its own kernel
# thread, as a NIC's interrupt and softirq work is not the server's either. Same for both.
for end in "gen g0" "srv s0"; do
	set -- $end
	ip netns exec "$P-$1" ethtool -K "$2" gro on >/dev/null
	ip netns exec "$P-$1" sh -c "echo 1 > /sys/class/net/$2/threaded"
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
wait_udp() {
	for _ in $(seq 100); do ip netns exec "$P-srv" ss -Hlun | grep -q " 198.18.1.2:3479 " && return 0; sleep 0.05; done
	echo "server did not start" >&2; exit 1
}
# measure NAME CMD...: prints "answered cpu_us_per_request lost"
measure() {
	local name=$1 pid before after out
	shift
	ip netns exec "$P-srv" "$@" >"$dir/$name.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/$name.pid"
	wait_udp
	before=$(cpu_ticks "$pid")
	out=$(ip netns exec "$P-gen" "$BUILD/reflector/stunload" 198.18.1.1:3478 --rate "$RATE" --seconds "$DUR")
	after=$(cpu_ticks "$pid")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	rm -f "$dir/$name.pid"
	awk -v o="$out" -v b="$before" -v a="$after" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		split(o, f, /[ =]/); sent = f[2]; ans = f[4]; lost = f[6]
		printf "%d %.3f %d %d\n", ans, (a - b) * 1e6 / hz / (ans > 0 ? ans : 1), lost, sent }'
}

read -r r_ans r_us r_lost r_sent < <(measure refl "$BUILD/reflector/natcheck-reflector" --primary 198.18.1.1 \
	--alternate 198.18.1.2 --threads "$THREADS" --rate 0 --byte-budget 0 --no-drop)
read -r c_ans c_us c_lost c_sent < <(measure coturn turnserver -n -L 198.18.1.1 -L 198.18.1.2 \
	--alt-listening-port 3479 --no-tls --no-dtls --no-cli --log-file stdout --simple-log)

printf '\nBinding requests at %d/s for %s s, CPU time per answered request\n' "$RATE" "$DUR"
printf '  %-22s %9s answered of %9s sent, %6s lost, %8.3f us/request\n' natcheck-reflector "$r_ans" "$r_sent" "$r_lost" "$r_us"
printf '  %-22s %9s answered of %9s sent, %6s lost, %8.3f us/request\n' "coturn turnserver" "$c_ans" "$c_sent" "$c_lost" "$c_us"
ratio=$(awk -v a="$r_us" -v b="$c_us" 'BEGIN { printf "%.3f", a / b }')
verdict=$(awk -v r="$ratio" -v l="$r_lost" 'BEGIN { print (r <= 1/3 && l == 0) ? "PASS" : "FAIL" }')
printf 'reflector / coturn CPU per request = %s (target <= 0.333, no loss): %s\n' "$ratio" "$verdict"
[ "$verdict" = PASS ]
