#!/usr/bin/env bash
# Every result the lab writes re-classifies to identical verdicts (issue 9 item 4): the whole
# matrix (UDP, port mapping, topology incl. double NAT and CGNAT), then a set of profiles with
# --tcp (TCP tests and the third-party bounce). Each JSON goes through tests/tools/reclassify
# (nc_result_classify() on the document as read, through the public API and the core layer
# alone): udp, tcp, bounce, topology and summary must come out as saved, and a second
# classification must change nothing. The run also checks that TCP, bounce and topology
# verdicts were actually covered.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
export NC_BUILD=${NC_BUILD:-$SRC/build}
RECL=$NC_BUILD/tests/reclassify
# shellcheck source=tests/lib/checks.sh
source "$SRC/tests/lib/checks.sh"
need_root
need_tool python3 "$RECL"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The lab's verdict matches are the matrix test's business; here only the documents count.
rc=0
bash "$SRC/sim/run.sh" -j "${NC_JOBS:-4}" --out "$out/udp" >"$out/udp.log" 2>&1 || rc=$?
[ "$rc" -eq 77 ] && { echo "SKIP: the lab cannot run here"; exit 77; }
rc=0
tcp_profiles=(port-restricted full-cone restricted-cone symmetric-random double-nat cgnat
	      unsolicited-rst unsolicited-icmp-port hairpin-on open-internet)
args=()
for p in "${tcp_profiles[@]}"; do args+=(--profile "$p"); done
bash "$SRC/sim/run.sh" -j "${NC_JOBS:-4}" --natcheck-args "--tcp" "${args[@]}" --out "$out/tcp" \
	>"$out/tcp.log" 2>&1 || rc=$?

mapfile -t files < <(find "$out/udp" "$out/tcp" -maxdepth 1 -name '*.json' -size +0 | sort)
echo "re-classifying ${#files[@]} results"
[ "${#files[@]}" -ge 30 ] || { echo "FAIL: the lab wrote only ${#files[@]} results"; cat "$out/udp.log"; exit 1; }
fail=0
"$RECL" --check "${files[@]}" >"$out/check.txt" || fail=1
sed "s|$out/||" "$out/check.txt"

# Coverage: the verdicts this test is for were measured, not all unknown.
python3 - "${files[@]}" <<'PY' || fail=1
import json, sys
tcp = bounce = hops = double = cgnat = 0
for f in sys.argv[1:]:
    d = json.load(open(f))
    tcp += bool(d.get("tcp", {}).get("tested")) and bool(d["tcp"].get("probes"))
    bounce += bool(d.get("bounce"))
    hops += bool(d.get("topology", {}).get("hops"))
    double += d.get("topology", {}).get("nat_layers") == 2
    cgnat += d.get("topology", {}).get("cgnat") is True
print(f"coverage: {tcp} with TCP tests, {bounce} with a bounce, {hops} with hops, "
      f"{double} with two NAT layers, {cgnat} with CGNAT")
sys.exit(0 if tcp >= 5 and bounce >= 5 and hops >= 10 and double >= 2 and cgnat >= 1 else 1)
PY
[ "$fail" = 0 ] && echo "PASS every lab result re-classifies to the same verdicts"
exit "$fail"
