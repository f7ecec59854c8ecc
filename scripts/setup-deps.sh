#!/usr/bin/env bash
# Installs the Debian 12 packages the suite builds and tests with (as root). Idempotent.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
	echo "setup-deps: run as root (it installs Debian packages)" >&2
	exit 1
fi
pkgs=(
	build-essential cmake pkg-config clang libclang-rt-dev       # toolchain, libFuzzer
	libsodium-dev libssl-dev libjansson-dev libpcap-dev libcmocka-dev # the suite's libraries
	libnatpmp-dev libminiupnpc-dev
	iproute2 nftables conntrack tcpdump procps python3 ethtool           # the namespace lab
	stun-client stun-server coturn                               # interop and benchmark peers
	miniupnpd-nftables natpmpc miniupnpc                         # port-mapping lab
	hyperfine
	libmicrohttpd-dev libsqlite3-dev libpq-dev                   # results collector and store
	postgresql chromium wrk                                      # results tests and benchmark
	iperf3 iputils-ping wireguard-go wireguard-tools nebula openvpn tinc  # punchvpn benchmark peers
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# coturn and miniupnpd would start services on a machine with systemd; the lab starts
	# its own instances inside namespaces, so keep the packaged services from starting.
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
	rm -f /usr/sbin/policy-rc.d
fi
