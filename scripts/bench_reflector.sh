#!/usr/bin/env bash
# CPU time per answered Binding request: natcheck-reflector, on its UDP sockets and with
# --fast-path (packet rings, reflector/fastpath.h), against coturn's turnserver, under the same
# load from the same generator (build/reflector/stunload, recvmmsg/sendmmsg), in two namespaces
# of their own. Target: at most a third of coturn's CPU per request, with no request that
# reached the server left unanswered. The verdict is the fast path's (the configuration for
# loaded servers); the socket path's ratio is printed next to it.
#   RATE=requests/s (default 20000)  SECONDS_=duration (default 5)  REPS=runs each (default 5)
#   THREADS=reflector threads (default 1)  NC_BUILD=build dir (default build)
#   PIN=0 to let the scheduler place everything (default: pin, see below)
# Prints one line per run, then the medians, the ratio and PASS/FAIL; exit 0 only on PASS.
#
# How the lab keeps the numbers about the servers (read before changing it):
#  * A veth pair hands a datagram to the peer in the sender's context (the per-CPU backlog),
#    so without care a server is billed for the generator receiving its answers. Threaded
#    NAPI moves that work to a kernel thread of its own, as a NIC's softirq is not the
#    server's either. veth only takes the NAPI path for UDP when the sending device has no
#    TSO (veth_skb_is_eligible_for_gro), hence "tso off" next to "gro on".
#  * With two or more CPUs the server runs alone on the last CPU, at FIFO priority 1; the
#    generator and the NAPI threads share the others. The server's CPU time is then its own
#    syscalls and nothing else, and neither the load it is measured under nor other work on
#    the machine (test suites running meanwhile) preempts it. Both servers get the same.
#  * Loss is split by place: "lab" = dropped in the veths before the server saw it or after
#    it answered (the generator side ran out of CPU), "server" = reached the server's
#    socket or receive ring and was not answered (receive-buffer overflow, ring drops).
#    Only server loss fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${NC_BUILD:-build}
RATE=${RATE:-20000}
DUR=${SECONDS_:-5}
REPS=${REPS:-5}
THREADS=${THREADS:-1}
# shellcheck source=tests/lib/vethlab.sh
source tests/lib/vethlab.sh
need_root
need_tool turnserver
for f in "$BUILD/reflector/natcheck-reflector" "$BUILD/reflector/stunload"; do
	[ -x "$f" ] || { echo "FAIL: $f is not built" >&2; exit 1; }
done
vlab_up "ncbr$$" 198.18.5.2
GDEV=$NSLAB_P-c SDEV=$NSLAB_P-s # unique names: the NAPI threads are found by them
for end in "client $GDEV" "inet $SDEV"; do
	set -- $end
	nslab_exec "$1" ethtool -K "$2" gro on tso off >/dev/null
	nslab_exec "$1" sh -c "echo 1 > /sys/class/net/$2/threaded"
done

ncpu=$(nproc)
if [ "$ncpu" -ge 2 ] && [ "${PIN:-1}" != 0 ]; then
	SRV_CPUS=$((ncpu - 1)) GEN_CPUS=0
	[ "$ncpu" -gt 2 ] && GEN_CPUS=0-$((ncpu - 2))
	# A kernel thread's name is cut at 15 characters: match on what is left of "napi/DEV-".
	napi=0
	for t in $(ps -eo pid=,comm= | awk -v g="napi/$GDEV-" -v s="napi/$SDEV-" \
		'index($2, substr(g, 1, 15)) == 1 || index($2, substr(s, 1, 15)) == 1 { print $1 }'); do
		taskset -pc "$GEN_CPUS" "$t" >/dev/null
		napi=$((napi + 1))
	done
	[ "$napi" -eq 2 ] || { echo "FAIL: found $napi NAPI threads of the lab's veths, not 2" >&2; exit 1; }
	pin_srv=(taskset -c "$SRV_CPUS" chrt -f 1) pin_gen=(taskset -c "$GEN_CPUS")
	layout="server alone on CPU $SRV_CPUS; generator and veth NAPI threads on CPU $GEN_CPUS"
else
	pin_srv=() pin_gen=()
	layout="not pinned: server, generator and NAPI threads share the $ncpu CPU(s)"
fi

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
udp_rcvbuf_errors() { nslab_exec inet awk '/^Udp:/ && $2 ~ /^[0-9]/ { print $6 }' /proc/net/snmp; }
veth_drops() {
	echo $(($(nslab_exec client cat "/sys/class/net/$GDEV/statistics/tx_dropped") + \
		$(nslab_exec inet cat "/sys/class/net/$SDEV/statistics/tx_dropped")))
}
# measure NAME CMD...: prints "sent answered us_per_request lab_loss server_loss"
measure() {
	local name=$1 pid before after out lab0 lab1 rb0 rb1 ring
	shift
	nslab_daemon "$name" inet "${pin_srv[@]}" "$@"
	pid=$(cat "$NSLAB_DIR/$name.pid")
	vlab_wait_listen "$NSLAB_A2:3479" "$pid" || { cat "$NSLAB_DIR/$name.log" >&2; exit 1; }
	lab0=$(veth_drops) rb0=$(udp_rcvbuf_errors)
	before=$(cpu_ticks "$pid")
	out=$(nslab_exec client "${pin_gen[@]}" "$BUILD/reflector/stunload" "$NSLAB_A1:3478" \
		--rate "$RATE" --seconds "$DUR")
	after=$(cpu_ticks "$pid")
	lab1=$(veth_drops) rb1=$(udp_rcvbuf_errors)
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	rm -f "$NSLAB_DIR/$name.pid"
	ring=$(vlab_log_counter "$NSLAB_DIR/$name.log" drops) # the reflector's rings; coturn: 0
	awk -v o="$out" -v b="$before" -v a="$after" -v hz="$(getconf CLK_TCK)" \
		-v lab=$((lab1 - lab0)) -v srv=$((rb1 - rb0 + ring)) 'BEGIN {
		split(o, f, /[ =]/); sent = f[2]; ans = f[4]
		printf "%d %d %.3f %d %d\n", sent, ans, (a - b) * 1e6 / hz / (ans > 0 ? ans : 1), lab, srv }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf 'Binding requests at %d/s for %s s, %d run(s) each; %s\n' "$RATE" "$DUR" "$REPS" "$layout"
printf '  %-20s %9s %9s %10s %8s %8s\n' server sent answered "us/request" "lab loss" "srv loss"
: >"$NSLAB_DIR/refl.runs"
: >"$NSLAB_DIR/fast.runs"
: >"$NSLAB_DIR/coturn.runs"
refl=("$BUILD/reflector/natcheck-reflector" --primary "$NSLAB_A1" --alternate "$NSLAB_A2"
	--threads "$THREADS" --rate 0 --byte-budget 0 --no-drop)
for _ in $(seq "$REPS"); do
	# Alternate the servers so drifts in the machine's load hit all alike.
	measure refl "${refl[@]}" >>"$NSLAB_DIR/refl.runs"
	printf '  %-20s %9d %9d %10.3f %8d %8d\n' "reflector, sockets" $(tail -1 "$NSLAB_DIR/refl.runs")
	measure fast "${refl[@]}" --fast-path "$SDEV" >>"$NSLAB_DIR/fast.runs"
	printf '  %-20s %9d %9d %10.3f %8d %8d\n' "reflector, fast path" $(tail -1 "$NSLAB_DIR/fast.runs")
	measure coturn turnserver -n -L "$NSLAB_A1" -L "$NSLAB_A2" --alt-listening-port 3479 \
		--no-tls --no-dtls --no-cli --log-file stdout --simple-log >>"$NSLAB_DIR/coturn.runs"
	printf '  %-20s %9d %9d %10.3f %8d %8d\n' "coturn turnserver" $(tail -1 "$NSLAB_DIR/coturn.runs")
done
med() { awk '{ print $3 }' "$NSLAB_DIR/$1.runs" | median; }
srv_loss() { awk '{ s += $5 } END { print s }' "$NSLAB_DIR/$1.runs"; }
lost() { awk '{ s += $1 - $2 } END { print s }' "$NSLAB_DIR/$1.runs"; }
r_us=$(med refl) f_us=$(med fast) c_us=$(med coturn)
ratio() { awk -v a="$1" -v b="$c_us" 'BEGIN { printf "%.3f", a / b }'; }
printf 'median CPU per answered request: reflector on sockets %.3f us, with the fast path %.3f us, coturn %.3f us\n' \
	"$r_us" "$f_us" "$c_us"
printf 'unanswered in total: sockets %d (server-side %d), fast path %d (server-side %d), coturn %d\n' \
	"$(lost refl)" "$(srv_loss refl)" "$(lost fast)" "$(srv_loss fast)" "$(lost coturn)"
printf 'reflector on sockets / coturn = %s\n' "$(ratio "$r_us")"
verdict=$(awk -v r="$(ratio "$f_us")" -v l=$(($(srv_loss fast) + $(srv_loss refl))) \
	'BEGIN { print (r <= 1/3 && l == 0) ? "PASS" : "FAIL" }')
printf 'reflector with the fast path / coturn = %s (target <= 0.333, no server-side loss): %s\n' \
	"$(ratio "$f_us")" "$verdict"
[ "$verdict" = PASS ]
