#!/usr/bin/env bash
# Interoperability, both directions, with Debian's STUN tools, behind two kernel NATs
# (masquerade: EIM + APDF; masquerade random: APDM + APDF):
#   - Vovida `stun` and coturn's `turnutils_natdiscovery -m -f` against natcheck-reflector
#     must give the same mapping and filtering classes as natcheck does;
#   - natcheck must give the same verdict against Debian's `stund` and coturn's `turnserver`
#     (RFC 5780 mode: -n, two -L, --alt-listening-port) as against natcheck-reflector.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NC_BUILD:-$SRC/build}
# shellcheck source=tests/lib/nslab.sh
source "$SRC/tests/lib/nslab.sh"
need_root
need_tool stun stund turnserver turnutils_natdiscovery
natcheck=$BUILD/natcheck/natcheck
reflector=$BUILD/reflector/natcheck-reflector

verdict() { # natcheck's "mapping filtering" against SERVER
	nslab_exec client "$natcheck" --json "$1" | python3 -c \
		'import json,sys; d=json.load(sys.stdin)["udp"]; print(d["mapping"], d["filtering"])'
}
# Vovida's words -> ours. It cannot tell ADM from APDM: "dependent" stands for either.
vovida() {
	local out m f
	out=$(nslab_exec client stun "$NSLAB_A1" 2>&1 | grep '^Primary' || true)
	case "$out" in
	*"Independent Mapping"*) m=endpoint-independent ;;
	*"Dependent Mapping"*) m=dependent ;;
	*) m="?($out)" ;;
	esac
	case "$out" in
	*"Independent Filter"*) f=endpoint-independent ;;
	*"Address Dependent Filter"*) f=address-dependent ;;
	*"Port Dependent Filter"*) f=address-and-port-dependent ;;
	*"Dependent Mapping"*) f=unknown ;; # Vovida runs no filtering test on symmetric NATs
	*) f="?" ;;
	esac
	echo "$m $f"
}
natdiscovery() {
	local out m f
	out=$(nslab_exec client turnutils_natdiscovery -m -f "$NSLAB_A1" 2>&1 || true)
	m=$(sed -n 's/.*with \(.*\) Mapping!.*/\1/p' <<<"$out" | head -1)
	f=$(sed -n 's/.*with \(.*\) Filtering!.*/\1/p' <<<"$out" | head -1)
	echo "$(tr 'A-Z ' 'a-z-' <<<"$m") $(tr 'A-Z ' 'a-z-' <<<"$f")"
}
start() { nslab_daemon "$1" inet "${@:2}"; nslab_wait_udp inet "$NSLAB_A2:3479"; }
stop() { kill "$(cat "$NSLAB_DIR/$1.pid")"; wait "$(cat "$NSLAB_DIR/$1.pid")" 2>/dev/null || true; }

run_profile() { # NAME NFT-STATEMENT
	echo "== $1"
	nslab_up "ncio$$"
	nslab_nat "$2"
	start refl "$reflector" --primary "$NSLAB_A1" --alternate "$NSLAB_A2"
	local ours m f
	ours=$(verdict "$NSLAB_A1")
	read -r m f <<<"$ours"
	echo "  natcheck vs natcheck-reflector: $ours"
	local vm vf
	read -r vm vf <<<"$(vovida)"
	[ "$m" != endpoint-independent ] && [ "$vm" = dependent ] && vm=$m
	[ "$vf" = unknown ] && vf=$f
	check_equal "stun (Vovida) vs natcheck-reflector" "$ours" "$vm $vf"
	check_equal "turnutils_natdiscovery vs natcheck-reflector" "$ours" "$(natdiscovery)"
	stop refl
	start stund stund -h "$NSLAB_A1" -a "$NSLAB_A2"
	check_equal "natcheck vs stund" "$ours" "$(verdict "$NSLAB_A1")"
	stop stund
	start turn turnserver -n -L "$NSLAB_A1" -L "$NSLAB_A2" --alt-listening-port 3479 \
		--no-tls --no-dtls --no-cli --log-file stdout --simple-log
	check_equal "natcheck vs turnserver" "$ours" "$(verdict "$NSLAB_A1")"
	stop turn
	nslab_down
}

run_profile "port-restricted cone (masquerade)" 'oifname "wan" masquerade'
run_profile "symmetric (masquerade random)" 'oifname "wan" masquerade random'
checks_verdict
