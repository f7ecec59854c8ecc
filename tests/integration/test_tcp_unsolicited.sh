#!/usr/bin/env bash
# TCP tests through kernel NAT routers (one-host deployment: A1, A2 and a bouncer address A3):
# the four R11 answers to an unsolicited SYN (drop, RST, ICMP port unreachable, ICMP admin
# prohibited), a full-cone-ish 1:1 NAT and a symmetric (masquerade random) router; and the
# default TCP tests' time (at most 2 s).
set -euo pipefail
# shellcheck source=tests/lib/tcplab.sh
source "$(dirname "$0")/../lib/tcplab.sh"
tcp_lab_need
fail=0 idx=0

# case NAME NAT-STATEMENT INPUT-RULE FIELD=VALUE...
run_case() (
	local name=$1 nat=$2 input=$3 out
	shift 3
	nslab_up "nctcpu$$-$idx"
	trap nslab_down EXIT
	ip -n "$NSLAB_P-inet" addr add "$A3/16" dev i0
	if [ "$nat" = one-to-one ]; then
		nslab_ruleset "$(printf 'table ip o {\n chain pre {\n  type nat hook prerouting priority dstnat\n  iifname "wan" ip daddr %s dnat ip to 10.1.0.2\n }\n chain post {\n  type nat hook postrouting priority srcnat\n  oifname "wan" ip saddr 10.1.0.2 snat ip to %s\n }\n}\n' "$NSLAB_WAN" "$NSLAB_WAN")"
	else
		nslab_nat "$nat"
	fi
	[ -n "$input" ] && nslab_ruleset "$(printf 'table ip i {\n chain filt_in {\n  type filter hook input priority filter - 1\n  %s\n }\n}\n' "$input")"
	nslab_daemon reflector inet "$REFL" --no-drop --primary "$NSLAB_A1" --alternate "$NSLAB_A2" --bouncer "$A3"
	nslab_wait_udp inet "$NSLAB_A2:3479"
	out=$NSLAB_DIR/$name.json
	nslab_exec client "$DRV" "$NSLAB_A1" >"$out" 2>"$NSLAB_DIR/$name.err"
	ms=$(sed -n 's/^tcp probe took \([0-9]*\) ms.*/\1/p' "$NSLAB_DIR/$name.err")
	if expect "$out" "$@" && [ "$ms" -le 2000 ]; then
		echo "PASS $name (TCP tests $ms ms): $(field "$out" tcp.unsolicited) after $(field "$out" tcp.unsolicited_ms) ms"
	else
		echo "FAIL $name (TCP tests $ms ms)"
		cat "$NSLAB_DIR/$name.err"
		exit 1
	fi
)

M='oifname "wan" masquerade'
IN='iifname "wan" ct state new'
cases=(
	"drop|$M||tcp.unsolicited=dropped tcp.simultaneous_open=true tcp.mapping=endpoint-independent tcp.consistent=true tcp.filtering=address-and-port-dependent tcp.hairpin=false"
	"rst|$M|$IN meta l4proto tcp reject with tcp reset|tcp.unsolicited=rst tcp.simultaneous_open=false tcp.mapping=endpoint-independent"
	"icmp-port|$M|$IN reject with icmp type port-unreachable|tcp.unsolicited=icmp-port-unreachable tcp.simultaneous_open=false"
	"icmp-admin|$M|$IN reject with icmp type admin-prohibited|tcp.unsolicited=icmp-admin-prohibited tcp.simultaneous_open=false"
	"one-to-one|one-to-one||tcp.unsolicited=accepted tcp.filtering=endpoint-independent tcp.mapping=endpoint-independent tcp.simultaneous_open=true udp.filtering=endpoint-independent"
	"symmetric|oifname \"wan\" masquerade random||tcp.mapping=address-and-port-dependent tcp.consistent=false tcp.unsolicited=dropped tcp.simultaneous_open=false"
)
for c in "${cases[@]}"; do
	IFS='|' read -r name nat input fields <<<"$c"
	idx=$((idx + 1))
	# shellcheck disable=SC2086
	run_case "$name" "$nat" "$input" $fields || fail=1
done
exit $fail
