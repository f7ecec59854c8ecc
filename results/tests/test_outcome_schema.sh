#!/usr/bin/env bash
# The published schema (results/schema/punch-outcome.v1.schema.json) and libnatcheck's outcome
# reader agree: the examples are valid for both, and on every single-field mutation of them
# (deleted, null, each value of a pool of every type and word, unknown keys at every level) the
# reader accepts exactly what the schema accepts. Needs python3-jsonschema (skips without it).
set -euo pipefail
NC_SRC=${NC_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NC_BUILD=${NC_BUILD:-$NC_SRC/build}
source "$NC_SRC/tests/lib/checks.sh"
PY=''
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import jsonschema' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || skip "python3-jsonschema is not installed"
DRIVER=$NC_BUILD/results/tests/submit_driver
[ -x "$DRIVER" ] || { echo "FAIL: $DRIVER is not built"; exit 1; }
W=$(mktemp -d /tmp/nc-outcome-schema.XXXXXX)
trap 'rm -rf "$W"' EXIT
SCHEMA=$NC_SRC/results/schema/punch-outcome.v1.schema.json
EX=("$NC_SRC"/results/schema/examples/punch-outcome/*.json)

"$PY" -c 'import json,sys,jsonschema; jsonschema.Draft202012Validator.check_schema(json.load(open(sys.argv[1])))' "$SCHEMA" && rc=0 || rc=$?
check_status "the schema is a valid draft 2020-12 schema" $rc
"$DRIVER" check-outcome "${EX[@]}" >"$W/ex"
check_equal "the examples read" 0 "$(grep -vc '^ok$' "$W/ex" || true)"

"$PY" "$NC_SRC/results/tests/lib/outcome_mutants.py" "$W" "$SCHEMA" "${EX[@]}" >"$W/schema.verdicts"
"$DRIVER" check-outcome "$W"/m*.json >"$W/reader.out"
sed 's/^refused:.*/refused/' "$W/reader.out" >"$W/reader.verdicts"
n=$(wc -l <"$W/schema.verdicts")
acc=$(grep -c '^ok$' "$W/schema.verdicts" || true)
paste -d' ' <(ls "$W"/m*.json) "$W/schema.verdicts" "$W/reader.verdicts" "$W/reader.out" |
	awk '$2 != $3 {print "        " $0}' >"$W/diff"
check_equal "reader and schema agree on $n documents ($acc valid)" 0 "$(wc -l <"$W/diff")"
[ -s "$W/diff" ] && head -20 "$W/diff" | while read -r f s r rest; do echo "        $(cat "$f"): schema $s, reader $r $rest"; done
checks_verdict
