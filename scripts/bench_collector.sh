#!/usr/bin/env bash
# bench_collector.sh: acknowledged submissions per second of natcheck-collector, SQLite and
# PostgreSQL side by side, with 100 concurrent keep-alive clients (wrk), and p99 latency.
#
#   scripts/bench_collector.sh [-c CLIENTS] [-d SECONDS] [-t WRK_THREADS] [-r RUNS] [--sqlite-only]
#                              [--same-session]
#
# -r RUNS repeats each backend RUNS times (a fresh collector and store each time) and prints
# the spread: on a shared machine one run says little.
# Every request is a real submission, the document natcheck --submit sends (a schema example
# through nc_submit_document: wrapper, vendor, anonymised result), with its own
# Idempotency-Key, so every answer is a committed row; the rows are counted afterwards. Target (issue 12): >= 5000/s on SQLite, no failed request.
# PostgreSQL runs as a throwaway server in a temp dir (results/tests/lib/pg.sh), as root only.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
NC_BUILD=${NC_BUILD:-$SRC/build}
CLIENTS=100 DURATION=10 THREADS=1 SQLITE_ONLY=0 RUNS=1 SESSION=setsid
while [ $# -gt 0 ]; do
	case $1 in
	-c) CLIENTS=$2; shift ;;
	-d) DURATION=$2; shift ;;
	-t) THREADS=$2; shift ;;
	-r) RUNS=$2; shift ;;
	--sqlite-only) SQLITE_ONLY=1 ;;
	--same-session) SESSION='' ;;
	-h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench_collector: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
command -v wrk >/dev/null || { echo "bench_collector: wrk is not installed (scripts/setup-deps.sh)" >&2; exit 2; }
COLLECTOR=$NC_BUILD/results/natcheck-collector
[ -x "$COLLECTOR" ] || { echo "bench_collector: build $COLLECTOR first" >&2; exit 2; }
WORK=$(mktemp -d /tmp/bench-collector.XXXXXX)
chmod 755 "$WORK"
CPID=''
cleanup() {
	[ -n "$CPID" ] && kill "$CPID" 2>/dev/null && wait "$CPID" 2>/dev/null
	[ -n "${PGDATA_DIR:-}" ] && pg_stop
	rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=results/tests/lib/pg.sh
source "$SRC/results/tests/lib/pg.sh"

# The body: what natcheck would send, without its id (the Lua script gives each request its
# own key in the Idempotency-Key header).
DRIVER=$NC_BUILD/results/tests/submit_driver
[ -x "$DRIVER" ] || { echo "bench_collector: build $DRIVER first" >&2; exit 2; }
"$DRIVER" document "$SRC/results/schema/examples/port-restricted-cone.json" "Bench Router" >"$WORK/doc.json"
python3 - "$WORK/doc.json" >"$WORK/body.lua" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
del d["id"]
doc = json.dumps(d, separators=(",", ":"))
print("body = %s" % json.dumps(doc))
PY
cat >>"$WORK/body.lua" <<'LUA'
local counter = 0
local prefix = "b" .. os.time() .. "x"
tid = 0
local threads = {}
setup = function(thread)
	tid = tid + 1
	thread:set("tid", tid)
	table.insert(threads, thread)
end
request = function()
	counter = counter + 1
	local key = prefix .. tid .. "x" .. counter
	return wrk.format("POST", "/api/v1/results",
		{["Content-Type"] = "application/json", ["Idempotency-Key"] = key}, body)
end
LUA

# count_rows PORT: every stored row, paged through the export (at most 100000 a page; a run
# stores more than that, and a capped count would both hide a lost row and inflate the CPU
# per submission).
count_rows() {
	python3 - "$1" <<'PY'
import json, sys, urllib.request
since = n = 0
while True:
    url = "http://127.0.0.1:%s/api/v1/results?since=%d&limit=100000" % (sys.argv[1], since)
    lines = urllib.request.urlopen(url).read().splitlines()
    if not lines:
        break
    n += len(lines)
    since = json.loads(lines[-1])["id"]
print(n)
PY
}

# run_one NAME STORE_URI: prints "NAME req/s p99 rows"
run_one() {
	local name=$1 store=$2 port out rows
	# A fresh store per run, so the rows counted are this run's.
	rm -f "$WORK/port" "$WORK"/bench.db*
	[ "$name" = postgresql ] && PGOPTIONS='-c client_min_messages=warning' psql -q "$store" -c 'DROP TABLE IF EXISTS nc_submission, nc_outcome' >/dev/null
	# The collector runs in a session of its own, as under systemd (a service has its own
	# cgroup): with the kernel's autogroup scheduling, CPU is shared per session, and the
	# collector would otherwise share one session's share with its own load generator.
	# --same-session keeps it in the caller's.
	$SESSION "$COLLECTOR" --store "$store" --listen 127.0.0.1:0 --port-file "$WORK/port" --rate 0 \
		--per-ip-connections 1000 --threads 2 --log-interval 3600 2>"$WORK/$name.log" &
	CPID=$!
	for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
	port=$(cat "$WORK/port")
	out=$(wrk -c "$CLIENTS" -t "$THREADS" -d "${DURATION}s" --latency -s "$WORK/body.lua" \
		"http://127.0.0.1:$port/api/v1/results")
	echo "$out" >"$WORK/$name.wrk"
	# The collector's own CPU time per acknowledged submission: unlike req/s it does not
	# depend on what else the machine runs, and 1e6 / it bounds req/s per core.
	local ticks
	ticks=$(awk '{print $14 + $15}' "/proc/$CPID/stat")
	rows=$(count_rows "$port")
	kill "$CPID"; wait "$CPID" 2>/dev/null || true; CPID=''
	local rps p99 total bad
	rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	total=$(awk '/requests in/ {print $1}' <<<"$out")
	bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	errs=$(awk '/Socket errors/ {print}' <<<"$out")
	local cpu_us
	cpu_us=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v n="$rows" 'BEGIN {printf "%.0f", n ? t / hz * 1e6 / n : 0}')
	printf '%-11s %10s req/s   p99 %8s   requests %8s   rows stored %8s   non-2xx %s   collector CPU %s us/submission   load %s %s\n' \
		"$name" "$rps" "$p99" "$total" "$rows" "${bad:-0}" "$cpu_us" "$(cut -d' ' -f1 /proc/loadavg)" "${errs:+($errs)}"
	echo "$rps" >>"$WORK/$name.rates"
}

# spread NAME: min / median / max of NAME's runs
spread() {
	[ "$RUNS" -gt 1 ] || return 0
	sort -n "$WORK/$1.rates" | awk -v n="$1" '{v[NR] = $1} END {
		printf "%-11s %d runs: min %.0f, median %.0f, max %.0f req/s\n", n, NR, v[1],
			NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[NR] }'
}

WHERE="the caller's"
[ -n "$SESSION" ] && WHERE="its own"
echo "natcheck-collector: $CLIENTS keep-alive clients, $THREADS wrk thread(s), ${DURATION}s, $(nproc) CPUs, collector in $WHERE session, load average $(cut -d' ' -f1-3 /proc/loadavg)"
PG_OK=0
if [ "$SQLITE_ONLY" = 0 ]; then
	if pg_start "$WORK/pg"; then PG_OK=1; else echo "postgresql  skipped: $PG_WHY"; fi
fi
# The backends alternate, so both meet the same moments of the machine's load.
for _ in $(seq "$RUNS"); do
	run_one sqlite "sqlite:$WORK/bench.db"
	[ "$PG_OK" = 1 ] && run_one postgresql "$PG_URI"
done
spread sqlite
[ "$PG_OK" = 1 ] && spread postgresql
exit 0
