#!/usr/bin/env bash
# The lab's whole matrix: every profile in sim/profiles must measure as it expects.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
NC_BUILD=${NC_BUILD:-$SRC/build} bash "$SRC/sim/run.sh" -j 4 --out "$out"
