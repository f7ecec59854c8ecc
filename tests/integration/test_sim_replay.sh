#!/usr/bin/env bash
# Replay round trip: measure every profile, then rebuild each measured result as a NAT
# (sim/run.sh --replay: natbox from the result) and measure that; the RFC 4787 fields must
# come back the same. Only collision is left out: its non-preserved port comes from a second
# host holding the port, which a one-host replay cannot recreate. Gated profiles (NEEDS=) are
# skipped by the matrix and so write no result to replay.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
export NC_BUILD=${NC_BUILD:-$SRC/build}
# shellcheck source=tests/lib/checks.sh
source "$SRC/tests/lib/checks.sh"
need_root
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
args=()
for f in "$SRC"/sim/profiles/*.profile; do
	n=$(basename "$f" .profile)
	[ "$n" = collision ] && continue
	args+=(--profile "$n")
done
bash "$SRC/sim/run.sh" -j 4 --out "$out/measured" "${args[@]}" >"$out/matrix.log" 2>&1 || { echo "FAIL: the matrix itself failed:"; cat "$out/matrix.log"; exit 1; }
# The replays are independent labs (namespaces named after each run's pid): 4 at a time, as
# the matrix runs its cases, so the test stays well inside its ctest timeout.
replay() {
	local f=$1 n
	n=$(basename "$f" .json)
	if bash "$SRC/sim/run.sh" --replay "$f" --out "$out/replay-$n" >"$out/replay-$n.log" 2>&1; then
		printf '  ok    %-34s round-trips\n' "$n" >"$out/replay-$n.res"
	else
		printf '  FAIL  %-34s %s\n' "$n" "$(grep -E '^(replay|    )' "$out/replay-$n.log" | tr '\n' ' ')" >"$out/replay-$n.res"
	fi
}
for f in "$out"/measured/*.json; do
	while [ "$(jobs -rp | wc -l)" -ge 4 ]; do wait -n || true; done
	replay "$f" &
done
wait
fail=0
for f in "$out"/measured/*.json; do
	r=$out/replay-$(basename "$f" .json).res
	if [ -s "$r" ]; then cat "$r"; else printf '  FAIL  %-34s no replay result\n' "$(basename "$f" .json)"; fi
	grep -q '^  ok ' "$r" 2>/dev/null || fail=1
done
exit "$fail"
