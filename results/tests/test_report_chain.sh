#!/usr/bin/env bash
# The whole chain: the namespace lab measures a few NAT profiles with natcheck (sim/run.sh
# writes one result JSON per profile), the report renders that folder, every result is
# submitted through natcheck's submission client to a collector, and the report from the
# store, and the live page, show the same Table 1 - whose cells are also recomputed here from
# the JSON files by an independent reading of the definitions in results/README.md.
# NC_RESULTS_FULL_MATRIX=1 runs every profile of the lab instead of four.
set -euo pipefail
source "$(dirname "$0")/lib/collector.sh"
need_root
for b in natcheck/natcheck reflector/natcheck-reflector; do
	[ -x "$NC_BUILD/$b" ] || { echo "FAIL: $NC_BUILD/$b is not built"; exit 1; }
done
res_setup
profiles=(full-cone port-restricted symmetric-random hairpin-on)
if [ "${NC_RESULTS_FULL_MATRIX:-0}" = 1 ]; then
	mapfile -t profiles < <(ls "$NC_SRC/sim/profiles" | sed -n 's/\.profile$//p')
fi
args=()
for p in "${profiles[@]}"; do args+=(--profile "$p"); done
# The collector first: sim/run.sh --submit sends every case's result to it as natcheck would.
res_store sqlite
res_start c --rate 0
rc=0
NC_BUILD=$NC_BUILD "$NC_SRC/sim/run.sh" -j 2 --out "$W/sim" --submit "$URL_c" "${args[@]}" >"$W/sim.log" 2>&1 || rc=$?
[ "$rc" -eq 77 ] && { echo "SKIP: the lab cannot run here"; exit 77; }
tail -3 "$W/sim.log" | sed 's/^/    lab: /'
n=$(ls "$W/sim"/*.json 2>/dev/null | wc -l)
check_equal "the lab wrote one result per profile" "${#profiles[@]}" "$n"

# The report from the folder; each profile is a row.
"$REPORT" --dir "$W/sim" --name-vendor --md "$W/dir.md" 2>"$W/dir.err"
check_status "natcheck-report --dir" $?
# The oracle: Table 1 rows recomputed from the files.
"$PY" - "$W/sim" >"$W/expected" <<'PY'
import json, os, sys
cols = [[0, 0] for _ in range(4)]
rows = []
def cell(n, m):
    return "0/0" if m == 0 else "%d/%d (%d%%)" % (n, m, (n * 200 + m) // (2 * m))
for f in sorted(os.listdir(sys.argv[1])):
    if not f.endswith(".json"):
        continue
    d = json.load(open(os.path.join(sys.argv[1], f)))
    u, t = d["udp"], d.get("tcp") or {}
    nat = u.get("nat") is True
    tested = [nat and u.get("mapping") in ("endpoint-independent", "address-dependent", "address-and-port-dependent"),
              nat and u.get("hairpin") in (True, False),
              nat and t.get("tested") is True and t.get("consistent") in (True, False),
              nat and t.get("tested") is True and t.get("hairpin") in (True, False)]
    uns = t.get("unsolicited") or ""
    ok = [tested[0] and u["mapping"] == "endpoint-independent",
          tested[1] and u["hairpin"] is True,
          tested[2] and t["consistent"] is True and not uns.startswith(("rst", "icmp")) and t.get("simultaneous_open") is not False,
          tested[3] and t["hairpin"] is True]
    rows.append("| %s | 1 | %s |" % (f[:-5], " | ".join(cell(int(o), int(x)) for o, x in zip(ok, tested))))
    for c in range(4):
        cols[c][0] += ok[c]; cols[c][1] += tested[c]
for r in rows:
    print(r)
print("| **All vendors** | %d | %s |" % (len(rows), " | ".join("**%s**" % cell(*c) for c in cols)))
PY
grep -E '^\| ' "$W/dir.md" | sed -n '/^| Vendor/,/All vendors/p' | tail -n +2 | sort >"$W/dir.rows"
sort "$W/expected" >"$W/expected.rows"
if diff "$W/expected.rows" "$W/dir.rows" >"$W/diff1"; then
	check_pass "Table 1 from the folder matches the results ($(wc -l <"$W/expected.rows") rows)"
else
	check_fail "Table 1 from the folder matches the results" "$(cat "$W/diff1")"
fi
sed 's/^/    /' "$W/expected"

# Through the collector: sim/run.sh --submit stored one anonymised submission per profile.
check_equal "every result stored (sim/run.sh --submit)" "${#profiles[@]}" "$(curl -s "$URL_c?limit=1000" | wc -l)"
"$REPORT" --store "$STORE" --md "$W/store.md" 2>/dev/null
grep -E '^\| ' "$W/store.md" | sed -n '/^| Vendor/,/All vendors/p' | tail -n +2 | sort >"$W/store.rows"
if diff "$W/dir.rows" "$W/store.rows" >"$W/diff2"; then
	check_pass "the report from the store shows the same Table 1"
else
	check_fail "the report from the store shows the same Table 1" "$(cat "$W/diff2")"
fi
# The rest of the report (mapping x filtering, allocation, ...) agrees as well: the
# anonymised submissions kept every verdict the report uses.
diff <(sed 1,3d "$W/dir.md") <(sed 1,3d "$W/store.md") >"$W/diff3" && check_pass "the whole report agrees (folder vs store)" || check_fail "the whole report agrees (folder vs store)" "$(head -20 "$W/diff3")"
curl -s "$BASE_c/" >"$W/live.html"
total=$(sed -n 's/.*<span id="total">\([0-9]*\)<.*/\1/p' "$W/live.html")
check_equal "the live page counts every report" "${#profiles[@]}" "$total"
res_kill c
checks_verdict
