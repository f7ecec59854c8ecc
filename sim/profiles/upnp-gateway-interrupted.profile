DESCRIPTION="miniupnpd router; natcheck interrupted with SIGINT at 15 moments: no mapping may remain"
# Same router as upnp-gateway. After the normal measurement, natcheck runs 15 more times and
# gets SIGINT 0.05 s to 0.40 s in, every 25 ms: here the probe ends ~50 ms in and the three
# test mappings live between ~0.1 and ~0.25 s. After each, miniupnpd must hold no mapping.
# (A natcheck built without its signal blocking fails this case.)
# shellcheck source=sim/profiles/upnp-gateway.profile
. "$SIM/profiles/upnp-gateway.profile"
NEEDS_NATCHECK=1 # after_measure runs natcheck itself
after_measure() {
	local i pid left delay
	# Job control on: otherwise bash starts background jobs with SIGINT ignored, and the
	# interrupts below would never reach natcheck.
	set -m
	for i in $(seq 0 14); do
		delay=$(awk -v i="$i" 'BEGIN { printf "%.3f", 0.05 + i * 0.025 }')
		# Not nslab_exec: a backgrounded function is a subshell, and $! would not be natcheck.
		ip netns exec "$NSLAB_P-client" "$NC_BUILD/natcheck/natcheck" --json "$NSLAB_A1" >/dev/null 2>&1 &
		pid=$!
		sleep "$delay"
		kill -INT "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		left=$(nslab_exec router nft list chain inet filter prerouting_miniupnpd | grep -c dnat || true)
		[ "$left" -eq 0 ] || { set +m; echo "SIGINT after ${delay}s left $left mapping(s) in miniupnpd"; return 1; }
	done
	set +m
}
