#!/usr/bin/env bash
# Mapping stability (issue 13 item 11): natcheck --lifetime keeps one binding busy and records
# the public endpoint of every answer. Behind a NAT that moves a binding in use to a new
# public port (here: the kernel with `masquerade random`, whose UDP conntrack entries are
# flushed 3 s into the run, so the next packet of the busy binding gets a new random port)
# the result says udp.mapping_stable false, with the time of the change; behind a plain
# masquerade it says true. A kernel recipe; the natbox mode for the lab matrix is separate.
set -euo pipefail
SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NC_BUILD=${NC_BUILD:-$SRC/build}
# shellcheck source=tests/lib/nslab.sh
source "$SRC/tests/lib/nslab.sh"
nslab_need_root
NC=$NC_BUILD/natcheck/natcheck
REFL=$NC_BUILD/reflector/natcheck-reflector
[ -x "$NC" ] && [ -x "$REFL" ] || { echo "SKIP: natcheck / natcheck-reflector not built"; exit 77; }
need_tool conntrack python3
fail=0

run() { # NAME NAT-STATEMENT FLUSH_AFTER_S(0 = never) -> $NSLAB_DIR/NAME.json
	local name=$1 nat=$2 flush=$3 fl=
	nslab_up "ncmstab$$$name"
	nslab_nat "$nat"
	nslab_daemon refl inet "$REFL" --no-drop --primary "$NSLAB_A1" --alternate "$NSLAB_A2"
	nslab_wait_udp inet "$NSLAB_A2:3479"
	if [ "$flush" != 0 ]; then
		(sleep "$flush"; nslab_exec router conntrack -D -p udp >/dev/null 2>&1 || true) &
		fl=$!
	fi
	nslab_exec client "$NC" --json --no-portmap --no-topology --lifetime --lifetime-max 8 "$NSLAB_A1" \
		>"$OUT/$name.json" 2>"$OUT/$name.err" || true
	[ -n "$fl" ] && wait "$fl"
	nslab_down
}

summary() {
	python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); u=d["udp"]; s=d.get("mapping_samples") or {}
print(json.dumps(u.get("mapping_stable")), u.get("mapping_change_ms"),
      " ".join("%s@%s" % (x["public"], x["at_ms"]) for x in s.get("samples", [])))' "$1"
}

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
run stable 'oifname "wan" masquerade' 0
run moved 'oifname "wan" masquerade random' 3
read -r st ms samples < <(summary "$OUT/stable.json")
echo "  stable NAT: mapping_stable $st; samples $samples"
[ "$st" = true ] || { echo "FAIL stable: want true"; fail=1; }
read -r st ms samples < <(summary "$OUT/moved.json")
echo "  moving NAT: mapping_stable $st, change after $ms ms; samples $samples"
if [ "$st" != false ] || [ "$ms" -lt 1000 ] || [ "$ms" -gt 5000 ]; then
	echo "FAIL moved: want false with the change about 3 s in"; fail=1
	cat "$OUT/moved.err"
fi
[ "$fail" = 0 ] && echo "PASS the lifetime test tells a stable mapping from one that moves"
exit "$fail"
