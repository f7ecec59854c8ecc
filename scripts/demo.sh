#!/usr/bin/env bash
# The suite's main job on a fresh Debian 12 machine (as root): install, build, then show, in the
# built-in namespace lab (no network needed): natcheck's report behind four kinds of NAT, the
# lab's whole regression matrix, punchvpn pairs connecting through two NATs with punchvpnd (the
# path each pair took: direct or relay, and how fast), and the NAT Check report over the matrix. With a network,
# build/natcheck/natcheck with no arguments measures your own NAT against public servers.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (it installs packages and builds network namespaces)" >&2
	exit 1
fi
bash scripts/setup-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "built: build/natcheck/natcheck, build/reflector/natcheck-reflector, build/sim/natbox"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo
echo "== natcheck's report behind a home router, a predictable symmetric NAT, a full cone"
echo "   and a home router inside a carrier-grade NAT (sim/run.sh --report):"
bash sim/run.sh --report --out "$out/report" --profile port-restricted \
	--profile symmetric-sequential --profile full-cone --profile cgnat

echo
echo "== the whole lab matrix (sim/run.sh):"
bash sim/run.sh --out "$out/matrix"

echo
echo "== punchvpn between two hosts, each behind its own NAT, introduced by punchvpnd: every"
echo "   pair pings through the tunnel and shows the path it took (sim/run.sh --pairs;"
echo "   a grid in build/demo-pairs.html):"
# One pair at a time: the pairs carry time limits (first ping within 1 s of the second `up`).
bash sim/run.sh --pairs -j 1 --out "$out/pairs"
cp "$out/pairs/grid.html" build/demo-pairs.html

echo
echo "== the NAT Check report over the lab's results (natcheck-report; HTML with SVG charts"
echo "   in build/demo-report.html):"
build/results/natcheck-report --dir "$out/matrix" --name-vendor --md - \
	--html build/demo-report.html
