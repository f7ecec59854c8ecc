#!/usr/bin/env bash
# Issue 11's pair matrix (sim/run.sh --pairs-full, sim/pairs-full.list): every unordered pair
# of the 12 lab profiles (78), each with its expected path and winning method, two cases at a
# time (the full list has no time limits; the timed pairs are test_vpn_pairs.sh's). Every pair
# must pass: 10/10 pings through the tunnel, both hosts on the expected path, the expected
# method named, `down` clean. The Markdown table and the HTML grid must hold a row and a cell
# per pair. Exit 77 (skip) when not root or without namespaces.
set -u
NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$NC_SRC/tests/lib/pairtest.sh"
pairtest_init pairs-full
npairs=$(sed -e 's/#.*//' "$NC_SRC/sim/pairs-full.list" | grep -c '[^[:space:]]')

pairtest_run full "$W/full" -j 2 --pairs-full
rc=$?
check_status "every pair of the matrix pings 10/10 on its expected path and method" "$rc"
n=$(python3 - "$W/full" <<'PY'
import glob, json, sys
ok = 0
for f in glob.glob(sys.argv[1] + "/*.pair.json"):
    if json.load(open(f))["result"] == "PASS":
        ok += 1
print(ok)
PY
)
check_equal "pairs that passed (of $npairs)" "$npairs" "$n"
rows=$(grep -c '^| [a-z-]* x ' "$W/full/summary.md" 2>/dev/null)
check_equal "summary.md has a row per pair" "$npairs" "${rows:-0}"
[ -s "$W/full/grid.html" ]
check_status "grid.html written" $?
# The grid as a user sees it: headless Chromium renders it; every pair's cell must be there
# with its path and a pass.
if command -v chromium >/dev/null; then
	timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
		--user-data-dir="$W/profile" --dump-dom "file://$W/full/grid.html" >"$W/dom.html" 2>"$W/chromium.err" || true
	python3 "$NC_SRC/tests/lib/grid_cells.py" "$W/dom.html" >"$W/cells.txt"
	n=$(awk '$1 == "cell" && ($3 == "direct" || $3 == "relay") && $4 == "PASS"' "$W/cells.txt" | wc -l)
	check_equal "Chromium renders a passed cell with its path for every pair" "$npairs" "$n"
else
	check_fail "chromium is not installed (the grid cannot be checked in a browser)"
fi
pairtest_done
