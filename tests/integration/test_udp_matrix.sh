#!/usr/bin/env bash
# Issue 2's acceptance matrix: nine kernel NAT profiles, three runs each in the same lab;
# every mapping, filtering, allocation, hairpin and reachability field must be right in
# every run (sim/run.sh --runs 3 fails the case on any run's mismatch).
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
args=()
for p in open-internet port-restricted symmetric-random full-cone restricted-cone \
	address-dependent-mapping symmetric-sequential udp-blocked hairpin-on hairpin-off; do
	args+=(--profile "$p")
done
NC_BUILD=${NC_BUILD:-$SRC/build} bash "$SRC/sim/run.sh" --runs 3 -j 4 --out "$out" "${args[@]}"
