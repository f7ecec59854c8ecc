# shellcheck shell=bash
# Ground-truth checks for lab profiles: each one looks at a behaviour with tools that share no
# code with natcheck (ping, sysctl, nft counters, sim/lib/stunprobe.py, a Python STUN client),
# so a profile can prove that its router really does what its expectations say. Profiles call
# them from after_measure(); each prints what it saw and returns non-zero, with the reason,
# when the router does not behave as claimed (the case then fails with that line).

STUNPROBE=${STUNPROBE:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/stunprobe.py}

# truth_rtt LO HI: the client's ping RTT to the reflector (8 echoes) is never below LO ms,
# averages at most HI ms and varies by at least 4 ms (jitter). natbox --delay D --jitter J
# each way never gives less than 2 (D - J); HI is loose, as a loaded machine adds delay.
truth_rtt() {
	local lo=$1 hi=$2 out
	out=$(nslab_exec client ping -n -q -c 8 -i 0.05 -W 2 "$NSLAB_A1" 2>&1 | tail -n 1)
	# "rtt min/avg/max/mdev = 61.2/80.3/99.0/12.1 ms"
	awk -F'[/ =]+' -v lo="$lo" -v hi="$hi" -v line="$out" '
		/rtt/ { found = 1; min = $6; avg = $7; max = $8
			ok = min >= lo && avg <= hi && max - min >= 4
			printf "truth_rtt: ping rtt min/avg/max %s/%s/%s ms (want min >= %s, avg <= %s, spread >= 4): %s\n", min, avg, max, lo, hi, ok ? "ok" : "WRONG"
			exit !ok }
		END { if (!found) { print "truth_rtt: no ping answer: " line; exit 1 } }' <<<"$out"
}

# truth_icmp_limited TTL: 15 TTL-limited pings from the client, 100 ms apart (1.4 s), get Time
# Exceeded from the router TTL hops away; with Linux's default limit (icmp_ratelimit 1000 ms,
# burst 6, per destination) at most 7 come back (a full bucket of 6 plus one refill) and at
# least 1 (one refill, even right after natcheck's own probes emptied the bucket); with
# icmp_ratelimit=0 all 15 would.
truth_icmp_limited() {
	local ttl=$1 n
	n=$(nslab_exec client ping -n -c 15 -i 0.1 -W 1 -t "$ttl" "$NSLAB_A1" 2>&1 | grep -c 'Time to live exceeded' || true)
	if [ "$n" -ge 1 ] && [ "$n" -le 7 ]; then
		echo "truth_icmp_limited: $n of 15 TTL=$ttl probes got Time Exceeded (rate-limited): ok"
	else
		echo "truth_icmp_limited: $n of 15 TTL=$ttl probes got Time Exceeded, want 1..7 (default rate limit): WRONG"
		return 1
	fi
}

# truth_stun ARGS...: runs stunprobe.py in the client with ARGS and prints its JSON lines.
truth_stun() {
	nslab_exec client python3 "$STUNPROBE" "$@"
}

# truth_py 'PYTHON EXPRESSION PROGRAM' < stunprobe output: runs the program with `rs` = the list
# of stunprobe results; it prints its verdict and exits non-zero when the truth is not there.
truth_py() {
	python3 -c "
import json, sys
rs = [json.loads(l) for l in sys.stdin if l.strip()]
$1"
}
