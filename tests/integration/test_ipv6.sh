#!/usr/bin/env bash
# IPv6 end to end: natcheck-reflector on two IPv6 addresses, natcheck from an IPv6 host with
# no NAT (the usual IPv6 case), then behind an IPv6 firewall that drops unsolicited inbound
# UDP (stuntman #61: such a host is filtered, not "endpoint-independent"), then behind NAT66
# (nftables masquerade in the ip6 family: EIM + APDF, the port kept; with "random": APDM).
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NC_BUILD:-$SRC/build}
# shellcheck source=tests/lib/checks.sh
source "$SRC/tests/lib/checks.sh"
need_root
P=nc6$$
cleanup() {
	set +e
	for ns in host fw net; do ip netns pids "$P-$ns" 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del "$P-$ns" 2>/dev/null; done
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
ip netns add "$P-host"
ip netns add "$P-fw"
ip netns add "$P-net"
ip link add h0 netns "$P-host" type veth peer name lan netns "$P-fw"
ip link add wan netns "$P-fw" type veth peer name n0 netns "$P-net"
for ns in host fw net; do ip -n "$P-$ns" link set lo up; done
ip -n "$P-host" addr add 2001:db8:1::2/64 dev h0 nodad
ip -n "$P-fw" addr add 2001:db8:1::1/64 dev lan nodad
ip -n "$P-fw" addr add 2001:db8:2::1/64 dev wan nodad
ip -n "$P-net" addr add 2001:db8:2::10/64 dev n0 nodad
ip -n "$P-net" addr add 2001:db8:2::11/64 dev n0 nodad
ip -n "$P-host" link set h0 up
ip -n "$P-fw" link set lan up
ip -n "$P-fw" link set wan up
ip -n "$P-net" link set n0 up
ip -n "$P-host" -6 route add default via 2001:db8:1::1
ip -n "$P-net" -6 route add 2001:db8:1::/64 via 2001:db8:2::1
ip netns exec "$P-fw" sysctl -qw net.ipv6.conf.all.forwarding=1
ip netns exec "$P-net" "$BUILD/reflector/natcheck-reflector" --primary 2001:db8:2::10 \
	--alternate 2001:db8:2::11 >/dev/null 2>&1 &
for _ in $(seq 100); do ip netns exec "$P-net" ss -Hlun | grep -q '\[2001:db8:2::11\]:3479' && break; sleep 0.05; done

# Fresh IPv6 links take a moment before the host's address is usable: poll with a plain
# Binding request until the reflector answers (bounded), then measure.
ip netns exec "$P-host" python3 - <<'PY' || { echo "FAIL: the IPv6 lab never came up"; exit 1; }
import os, socket, struct, sys, time
for _ in range(100):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(0.1)
    try:
        s.sendto(struct.pack("!HHI", 1, 0, 0x2112A442) + os.urandom(12), ("2001:db8:2::10", 3478))
        s.recv(512)
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
    finally:
        s.close()
sys.exit(1)
PY

measure() {
	ip netns exec "$P-host" "$BUILD/natcheck/natcheck" --json '[2001:db8:2::10]' | python3 -c '
import json, sys
d = json.load(sys.stdin); u = d["udp"]
print(u["reachable"], u["nat"], u["mapping"], u["filtering"], u["public"], d["server"]["other"])'
}
fail=0
got=$(measure)
want="True False none none [2001:db8:1::2]:"
case $got in "$want"*" [2001:db8:2::11]:3479") echo "ok    no NAT:   $got" ;; *) echo "FAIL  no NAT:   $got"; fail=1 ;; esac
printf 'table ip6 fw {\n chain filt_fwd {\n  type filter hook forward priority filter\n  iifname "wan" ct state new drop\n }\n}\n' |
	ip netns exec "$P-fw" nft -f -
got=$(measure)
case $got in "True False none address-and-port-dependent "*) echo "ok    firewall: $got" ;; *) echo "FAIL  firewall: $got"; fail=1 ;; esac
ip netns exec "$P-fw" nft delete table ip6 fw
nat66() { # STATEMENT: masquerade what leaves by wan
	ip netns exec "$P-fw" nft delete table ip6 nat 2>/dev/null || true
	printf 'table ip6 nat {\n chain post {\n  type nat hook postrouting priority srcnat\n  oifname "wan" %s\n }\n}\n' "$1" |
		ip netns exec "$P-fw" nft -f -
	ip netns exec "$P-fw" conntrack -F >/dev/null 2>&1 || true
}
nat66 masquerade
got=$(measure)
case $got in "True True endpoint-independent address-and-port-dependent [2001:db8:2::1]:"*) echo "ok    NAT66:    $got" ;;
*) echo "FAIL  NAT66:    $got"; fail=1 ;; esac
nat66 "masquerade random"
got=$(measure)
case $got in "True True address-and-port-dependent address-and-port-dependent [2001:db8:2::1]:"*) echo "ok    NAT66 random: $got" ;;
*) echo "FAIL  NAT66 random: $got"; fail=1 ;; esac
exit "$fail"
