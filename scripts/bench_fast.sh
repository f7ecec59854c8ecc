#!/usr/bin/env bash
# The fast preset (natcheck --fast, what punchvpn measures at start and on network changes)
# against the full run, behind Linux masquerade (the lab's port-restricted profile) with
# natcheck-reflector: RUNS runs each (default 10), wall time per run, the medians, and whether
# every fast run gave the same mapping and filtering verdicts as the full runs.
# Target (issue 9): fast median <= 300 ms. Exit 0 when both hold, 1 otherwise.
# Port mapping: the lab's router speaks no NAT-PMP, PCP or UPnP, so each is refused at once.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/lib/nslab.sh
source tests/lib/nslab.sh
nslab_need_root
BUILD=${NC_BUILD:-build}
RUNS=${RUNS:-10}
TARGET_MS=${TARGET_MS:-300}
natcheck=$BUILD/natcheck/natcheck
reflector=$BUILD/reflector/natcheck-reflector
for b in "$natcheck" "$reflector"; do
	[ -x "$b" ] || { echo "build it first: $b" >&2; exit 2; }
done

nslab_up "ncfast$$"
nslab_nat 'oifname "wan" masquerade'
nslab_daemon refl inet "$reflector" --primary "$NSLAB_A1" --alternate "$NSLAB_A2"
nslab_wait_udp inet "$NSLAB_A2:3479"

now_ms() { date +%s%3N; }

# series NAME ARGS...: RUNS runs; wall times (process start to exit, namespace entry
# included) to $NSLAB_DIR/NAME.ms, the run's own duration_ms to NAME.run, verdicts to
# NAME.verdicts
series() {
	local name=$1 i t0 t1 m f
	shift
	: >"$NSLAB_DIR/$name.ms"
	: >"$NSLAB_DIR/$name.run"
	: >"$NSLAB_DIR/$name.verdicts"
	for i in $(seq "$RUNS"); do
		t0=$(now_ms)
		nslab_exec client "$natcheck" --json "$@" "$NSLAB_A1" >"$NSLAB_DIR/out.json" || true
		t1=$(now_ms)
		echo $((t1 - t0)) >>"$NSLAB_DIR/$name.ms"
		grep -m1 -o '"duration_ms": [0-9]*' "$NSLAB_DIR/out.json" | grep -o '[0-9]*$' \
			>>"$NSLAB_DIR/$name.run" || echo 0 >>"$NSLAB_DIR/$name.run"
		m=$(grep -m1 -o '"mapping": "[a-z-]*"' "$NSLAB_DIR/out.json" | cut -d'"' -f4)
		f=$(grep -m1 -o '"filtering": "[a-z-]*"' "$NSLAB_DIR/out.json" | cut -d'"' -f4)
		echo "${m:-none} ${f:-none}" >>"$NSLAB_DIR/$name.verdicts"
	done
}
median() { sort -n "$1" | sed -n "$(((RUNS + 1) / 2))p"; }

series full
series fast --fast
t_full=$(median "$NSLAB_DIR/full.ms")
t_fast=$(median "$NSLAB_DIR/fast.ms")
printf 'natcheck behind Linux masquerade (port-restricted), %d runs each (ms)\n' "$RUNS"
for s in full fast; do
	printf '  %-5s wall median %4d  (nc_run itself: median %4d)   wall runs: %s\n' "$s" \
		"$(median "$NSLAB_DIR/$s.ms")" "$(median "$NSLAB_DIR/$s.run")" \
		"$(tr '\n' ' ' <"$NSLAB_DIR/$s.ms")"
done
printf 'verdicts (mapping filtering):\n'
sort "$NSLAB_DIR/full.verdicts" | uniq -c | sed 's/^/  full /'
sort "$NSLAB_DIR/fast.verdicts" | uniq -c | sed 's/^/  fast /'
agree=no
if [ "$(sort -u "$NSLAB_DIR/full.verdicts" "$NSLAB_DIR/fast.verdicts" | wc -l)" = 1 ] &&
	! grep -q none "$NSLAB_DIR/full.verdicts"; then
	agree=yes
fi
fast_ok=no
[ "$t_fast" -le "$TARGET_MS" ] && fast_ok=yes
printf 'fast median %d ms <= %d ms: %s\n' "$t_fast" "$TARGET_MS" "$fast_ok"
printf 'mapping and filtering verdicts agree across all runs: %s\n' "$agree"
[ "$fast_ok" = yes ] && [ "$agree" = yes ]
