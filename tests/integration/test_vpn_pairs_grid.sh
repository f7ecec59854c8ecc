#!/usr/bin/env bash
# The pair cases' judge and report, from fixture cases (no namespaces, no VPN): what
# sim/lib/pairs.sh collects for a case (status --json of both hosts, pings, errors) goes through
# sim/lib/pairs_check.py, which must pass and fail the right cases for the right reasons, and
# sim/lib/pairs_report.py, whose HTML grid headless Chromium (Debian's chromium) then renders:
# every pair's cell must be in the DOM with its measured path and result, mirrored across the
# diagonal, and the page must need no script.
# Exit 77 (skip) without chromium or python3.
set -u
NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../lib/checks.sh
. "$NC_SRC/tests/lib/checks.sh"
need_tool python3 chromium
# The verdicts below are for the limits as written; NC_TIME_SCALE is checked on its own at the
# end (scripts/test.sh sets it for the sanitizer tree).
unset NC_TIME_SCALE
SIM=$NC_SRC/sim
W=$(mktemp -d /tmp/vpn-pairs-grid.XXXXXX)
trap 'rm -rf "$W"' EXIT INT TERM
OUT=$W/out
mkdir -p "$OUT"

# fixture NAME A B PATH METHOD LIMITS FIRST RECEIVED PATH-A METHOD-A EP-A INTRO-A PATH-B METHOD-B EP-B INTRO-B
# A case as pairs.sh leaves it ("null" = not reported), judged by pairs_check.py.
fixture() {
	local name=$1 a=$2 b=$3 path=$4 method=$5 limits=$6 first=$7 rx=$8 d=$W/$1
	shift 8
	mkdir -p "$d"
	: >"$d/errors"
	printf 'first_ping_ms=%s\nreceived=%s\n' "$first" "$rx" >"$d/vpn.env"
	for h in A B; do
		python3 - "$1" "$2" "$3" "$4" >"$d/status.$h.json" <<'PY'
import json, sys
path, method, ep, intro = [None if v == "null" else v for v in sys.argv[1:5]]
peer = {"public_key": "x" * 43 + "=", "path": path, "endpoint": ep, "rx_bytes": 840, "tx_bytes": 840}
if method is not None:
    peer["method"] = method
if intro is not None:
    peer["intro_to_direct_ms"] = int(intro)
print(json.dumps({"interface": "pva", "peers": [peer]}))
PY
		shift 4
	done
	[ "$method" = - ] && method=
	python3 "$SIM/lib/pairs_check.py" --name "$name" --a "$a" --b "$b" --path "$path" \
		${method:+--method "$method"} --limits "$limits" --dir "$d" --ms 1234 --out "$OUT/$name.pair.json" >"$OUT/$name.line"
}

fixture port-restricted+port-restricted port-restricted port-restricted direct punch "first_ping_ms<=1000 intro_direct_ms<=60" \
	312 10 "direct (punch)" punch 198.18.20.1:51900 4 "direct (punch)" punch 198.18.10.1:51900 5
fixture hairpin-off+same hairpin-off same direct lan "first_ping_ms<=1000" \
	120 10 direct null 10.1.0.3:51900 2 direct null 10.1.0.2:51900 2
fixture full-cone+symmetric-random full-cone symmetric-random direct peer-reflexive "" \
	640 10 "relay (udp)" null 198.18.1.1:51901 null "relay (udp)" null 198.18.1.1:51901 null
fixture symmetric-random+symmetric-random symmetric-random symmetric-random relay - "first_ping_ms<=1000" \
	1500 9 "relay (udp)" relay 198.18.1.1:51901 null "relay (udp)" relay 198.18.1.1:51901 null
fixture full-cone+port-restricted full-cone port-restricted direct punch "intro_direct_ms<=60" \
	200 10 "direct" punch 198.18.20.1:51900 null "direct" punch 198.18.10.1:51900 null
fixture open-internet+port-restricted open-internet port-restricted direct public "" \
	300 10 "direct" punch 198.18.20.1:51900 3 "direct" public 10.1.0.2:51900 3
# A case that wrote no document (it died): the report takes its .line.
printf 'udp-blocked+port-restricted\tERROR\t-\t-\t-\tthe case did not run (boom): see x.out\n' >"$OUT/udp-blocked+port-restricted.line"
cat >"$W/pairs.list" <<'EOF'
# fixture list
port-restricted   port-restricted   direct punch first_ping_ms<=1000 intro_direct_ms<=60
hairpin-off       same              direct lan   first_ping_ms<=1000
full-cone         symmetric-random  direct peer-reflexive
symmetric-random  symmetric-random  relay  -     first_ping_ms<=1000
full-cone         port-restricted   direct punch intro_direct_ms<=60
open-internet     port-restricted   direct public
udp-blocked       port-restricted   relay
EOF

verdict() { cut -f2 "$OUT/$1.line"; }
detail() { cut -f6 "$OUT/$1.line"; }
check_equal "direct punch within the limits passes" PASS "$(verdict port-restricted+port-restricted)"
check_equal "same-router pair on the LAN addresses passes, method pending" PASS "$(verdict hairpin-off+same)"
detail hairpin-off+same | grep -q 'PENDING method: expected lan'
check_status "  ... and names the pending method" $?
check_equal "relay where direct is expected fails" FAIL "$(verdict full-cone+symmetric-random)"
detail full-cone+symmetric-random | grep -q 'path: expected direct, host A: relay'
check_status "  ... naming the path of each host" $?
check_equal "9/10 pings and a slow first ping fail" FAIL "$(verdict symmetric-random+symmetric-random)"
d=$(detail symmetric-random+symmetric-random)
grep -q 'pings through the tunnel: 9/10' <<<"$d" && grep -q 'first ping after 1500 ms, limit 1000 ms' <<<"$d"
check_status "  ... naming both" $? "$d"
check_equal "no introduction->direct time under a limit fails" FAIL "$(verdict full-cone+port-restricted)"
check_equal "hosts that disagree on the method fail" FAIL "$(verdict open-internet+port-restricted)"
detail open-internet+port-restricted | grep -q 'method: expected public, host A: punch, host B: public'
check_status "  ... naming both methods" $?
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["schema"]=="natcheck-pair" and d["first_ping_ms"]==312 and d["intro_direct_ms"]==5 and d["pings"]=={"sent":10,"received":10} and d["hosts"]["A"]["endpoint"]=="198.18.20.1:51900"' \
	"$OUT/port-restricted+port-restricted.pair.json"
check_status "the pair document holds times, pings and both hosts' view" $?

python3 "$SIM/lib/pairs_report.py" --list "$W/pairs.list" --title "fixture pairs" "$OUT"
check_status "pairs_report.py writes the summary and the grid" $?
rows=$(grep -c '^| [a-z-]* x ' "$OUT/summary.md")
check_equal "summary.md: one row per pair" 7 "$rows"
grep -q '^| hairpin-off x same router | direct/lan | direct | 10/10 | 120 ms | 2 ms | PASS |' "$OUT/summary.md"
check_status "summary.md: the same-router row" $? "$(grep hairpin "$OUT/summary.md")"
grep -qi '<script' "$OUT/grid.html" && check_fail "grid.html holds no script" || check_pass "grid.html holds no script"

# As root Chromium needs --no-sandbox; a private profile keeps it off the caller's. The grid
# is opened from the file, as a user would.
timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
	--user-data-dir="$W/profile" --dump-dom "file://$OUT/grid.html" >"$W/dom.html" 2>"$W/chromium.err" || true
[ -s "$W/dom.html" ] || { check_fail "chromium printed the DOM" "$(tail -5 "$W/chromium.err")"; checks_verdict; exit 1; }
python3 "$NC_SRC/tests/lib/grid_cells.py" "$W/dom.html" >"$W/cells.txt"
sed 's/^/    /' "$W/cells.txt" | head -20
grep -q '^cols port-restricted|hairpin-off|full-cone|symmetric-random|open-internet|udp-blocked|same router$' "$W/cells.txt"
check_status "the grid's columns: the list's profiles, then 'same router'" $? "$(grep ^cols "$W/cells.txt")"
while read -r a b path _; do
	name=$a+$b
	want_path=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); h=d.get("hosts") or {}; s={v.get("path") for v in h.values()}; print(s.pop() if len(s)==1 else "none")' "$OUT/$name.pair.json" 2>/dev/null || echo none)
	want_result=$(verdict "$name")
	line=$(grep "^cell $name " "$W/cells.txt")
	n=$(grep -c "^cell $name " "$W/cells.txt")
	[ "$n" -eq 1 ] && grep -q "^cell $name $want_path $want_result " <<<"$line" &&
		{ [ "$want_path" = none ] || grep -q ":: $want_path" <<<"$line"; }
	check_status "cell $name rendered: path $want_path, $want_result" $? "$line"
	if [ "$b" != same ] && [ "$a" != "$b" ]; then
		grep -q "^mirror $name $want_path $want_result " "$W/cells.txt"
		check_status "  ... and its mirror" $?
	fi
done < <(grep -v '^#' "$W/pairs.list")
grep -q '^cell port-restricted+port-restricted direct PASS direct :: direct punch 312 ms / 5 ms$' "$W/cells.txt"
check_status "a cell shows path, method and both times" $? "$(grep '^cell port-restricted+port' "$W/cells.txt")"
grep -q '^cell full-cone+symmetric-random relay FAIL relay fail :: relay 640 ms FAIL (want direct/peer-reflexive)$' "$W/cells.txt"
check_status "a failed cell is coloured by what was measured, outlined, and says what was wanted" $? "$(grep '^cell full-cone+sym' "$W/cells.txt")"

# NC_TIME_SCALE stretches the time limits and says so; a value that is not a factor stops the
# judge. Judged into a folder of their own (the report above counts its rows).
OUT=$W/scaled
mkdir -p "$OUT"
scaled() { # NAME INTRO FIRST
	fixture "$1" full-cone port-restricted direct punch "first_ping_ms<=1000 intro_direct_ms<=60" \
		"$3" 10 direct punch 198.18.20.1:51900 "$2" direct punch 198.18.10.1:51900 "$2"
}
scaled unscaled 100 900
check_equal "100 ms to direct against 60 fails as written" FAIL "$(verdict unscaled)"
NC_TIME_SCALE=2 scaled doubled 100 1900
check_equal "... and passes with NC_TIME_SCALE=2 (1900 ms to the first ping too)" PASS "$(verdict doubled)"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["time_scale"] == 2' "$OUT/doubled.pair.json"
check_status "  ... the document records the scale" $?
NC_TIME_SCALE=2 scaled over 130 900
d=$(detail over)
check_equal "130 ms against 60 x 2 fails" FAIL "$(verdict over)"
grep -q 'introduction->direct 130 ms, limit 60 ms x 2 (NC_TIME_SCALE)' <<<"$d"
check_status "  ... naming the scale" $? "$d"
NC_TIME_SCALE=fast scaled bad 10 100 2>"$W/bad.err"
check_status "NC_TIME_SCALE=fast stops the judge" $((! $?)) "$(cat "$W/bad.err")"
grep -q 'NC_TIME_SCALE=.fast. is not a number' "$W/bad.err"
check_status "  ... with a message naming it" $? "$(cat "$W/bad.err")"
checks_verdict
