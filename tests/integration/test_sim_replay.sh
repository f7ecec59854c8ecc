#!/usr/bin/env bash
# Replay round trip: measure every profile, then rebuild each measured result as a NAT
# (sim/run.sh --replay: natbox from the result) and measure that; the RFC 4787 fields must
# come back the same. Only collision is left out: its non-preserved port comes from a second
# host holding the port, which a one-host replay cannot recreate.
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
fail=0
for f in "$out"/measured/*.json; do
	n=$(basename "$f" .json)
	if bash "$SRC/sim/run.sh" --replay "$f" --out "$out/replay-$n" >"$out/replay-$n.log" 2>&1; then
		printf '  ok    %-34s round-trips\n' "$n"
	else
		printf '  FAIL  %-34s %s\n' "$n" "$(grep -E '^(replay|    )' "$out/replay-$n.log" | tr '\n' ' ')"
		fail=1
	fi
done
exit "$fail"
