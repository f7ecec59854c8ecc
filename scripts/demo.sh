#!/usr/bin/env bash
# The suite's main job on a fresh Debian 12 machine (as root): install, build, then show
# natcheck classifying NATs in a built-in namespace lab (no network needed): natcheck-reflector
# on two addresses in an "internet" namespace, a router namespace running each NAT profile in
# turn, and natcheck's report from the client behind it. With a network, run
# build/natcheck/natcheck with no arguments to measure your own NAT against public servers.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (it installs packages and builds network namespaces)" >&2
	exit 1
fi
bash scripts/setup-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "built: build/natcheck/natcheck, build/reflector/natcheck-reflector"

if [ -x sim/run.sh ] && sim/run.sh --help 2>/dev/null | grep -q -- '--report'; then
	# The lab's own matrix, with natcheck's report for every profile.
	exec sim/run.sh --report
fi

# shellcheck source=scripts/lib/nslab.sh
source scripts/lib/nslab.sh
show() { # TITLE NFT-STATEMENT [SHORT-FORM]
	printf '\n=== %s: the router runs nftables `%s`\n' "$1" "${3:-$2}"
	nslab_up "ncdemo$$"
	nslab_nat "$2"
	nslab_daemon refl inet build/reflector/natcheck-reflector --primary "$NSLAB_A1" --alternate "$NSLAB_A2"
	nslab_wait_udp inet "$NSLAB_A2:3479"
	nslab_exec client build/natcheck/natcheck "$NSLAB_A1"
	nslab_down
}
show "Linux home router" 'oifname "wan" masquerade'
show "Symmetric NAT" 'oifname "wan" masquerade random'
ports=$(for i in $(seq 0 999); do printf '%d : %d, ' "$i" $((30000 + i)); done)
show "Predictable symmetric NAT" "oifname \"wan\" meta l4proto udp snat ip to $NSLAB_WAN : numgen inc mod 1000 map { ${ports%, } }" \
	"snat ip to $NSLAB_WAN : numgen inc mod 1000 map { 0 : 30000, ... }"
