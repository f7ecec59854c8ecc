#!/usr/bin/env bash
# The live report page in a real browser: headless Chromium loads it from the collector, and
# the DOM it built holds Table 1's rows (per vendor and overall), the SVG charts and the punch
# outcome table.
set -euo pipefail
source "$(dirname "$0")/lib/collector.sh"
need_tool chromium
CHROMIUM=$(command -v chromium)
res_setup
res_store sqlite
res_start c --rate 0
drv=$NC_BUILD/results/tests/submit_driver
for i in 1 2 3; do "$drv" submit "$URL_c" "$EXAMPLES/port-restricted-cone.json" "$W/ob" "Linksys" >/dev/null 2>&1; done
"$drv" submit "$URL_c" "$EXAMPLES/symmetric.json" "$W/ob" "Carrier <CGN>" >/dev/null 2>&1
"$drv" submit "$URL_c" "$EXAMPLES/open-internet.json" "$W/ob" >/dev/null 2>&1
for f in "$EXAMPLES"/punch-outcome/*.json; do
	$CLIENT post "$BASE_c/api/v1/outcomes" "$f" >/dev/null
done
# As root Chromium needs --no-sandbox; a private profile keeps it off the caller's.
timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
	--user-data-dir="$W/profile" --dump-dom "$BASE_c/" >"$W/dom.html" 2>"$W/chromium.err" || true
[ -s "$W/dom.html" ] || { echo "chromium printed no DOM:"; tail -5 "$W/chromium.err"; exit 1; }
"$PY" - "$W/dom.html" <<'PY' >"$W/dom.txt"
import sys
from html.parser import HTMLParser

class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.row, self.cell, self.svgs, self.intable = [], None, None, [], None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") in ("table1", "punch"): self.intable = "row" if a["id"] == "table1" else "punch"
        if self.intable and tag == "tr": self.row = []
        if self.intable and tag in ("td", "th") and self.row is not None: self.cell = ""
        if tag == "svg": self.svgs.append(a.get("id", ""))
    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None: self.row.append(self.cell.strip()); self.cell = None
        if tag == "tr" and self.row is not None: self.rows.append((self.intable, self.row)); self.row = None
        if tag == "table": self.intable = None
    def handle_data(self, d):
        if self.cell is not None: self.cell += d

p = P()
p.feed(open(sys.argv[1]).read())
for k, r in p.rows: print(k, " | ".join(r))
for s in p.svgs: print("svg", s)
PY
cat "$W/dom.txt" | sed 's/^/    /' | head -8
grep -q '^row Vendor | Reports | UDP hole punching | UDP hairpin | TCP hole punching | TCP hairpin$' "$W/dom.txt"
check_status "Table 1 header in the DOM" $?
grep -q '^row Linksys | 3 | 3/3 (100%) | 3/3 (100%) |' "$W/dom.txt"
check_status "the Linksys row (3 reports, EIM, hairpin)" $?
grep -q '^row Carrier <CGN> | 1 | 0/1 (0%) | 0/1 (0%) |' "$W/dom.txt"
check_status "the carrier row, its name escaped and shown as text" $?
grep -q '^row All vendors | 5 | 3/4 (75%) | 3/4 (75%) |' "$W/dom.txt"
check_status "the overall row" $?
nsvg=$(grep -c '^svg chart-' "$W/dom.txt")
[ "$nsvg" -ge 10 ]
check_status "SVG charts in the DOM ($nsvg)" $?
grep -q '^svg chart-mapping-filtering$' "$W/dom.txt" && grep -q '^svg chart-lifetime$' "$W/dom.txt"
check_status "mapping x filtering and lifetime charts present" $?
grep -q '^punch EIM+APDF × APDM+APDF | 1 | 1/1 (100%) | -$' "$W/dom.txt" &&
	grep -q '^punch All pairs | 2 | 1/1 (100%) | 1/1 (100%)$' "$W/dom.txt" && rc=0 || rc=$?
check_status "the punch outcome table in the DOM" $rc "$(grep '^punch' "$W/dom.txt")"
res_kill c
checks_verdict
