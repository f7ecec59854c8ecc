# collector.sh: start and stop natcheck-collector instances for the results tests (source it).
#
#   res_setup                       NC_BUILD/NC_SRC defaults, a work dir in $W, cleanup on exit
#   res_store BACKEND               sets STORE to a fresh sqlite file or a throwaway PostgreSQL
#                                   (exit 77 when PostgreSQL cannot run here)
#   res_start NAME [ARGS...]        starts a collector on 127.0.0.1:<any> over $STORE; sets
#                                   URL_<NAME> (…/api/v1/results), BASE_<NAME>, PID_<NAME>
#   res_kill NAME [SIGNAL]          stops it (default TERM) and waits
NC_SRC=${NC_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
NC_BUILD=${NC_BUILD:-$NC_SRC/build}
COLLECTOR=$NC_BUILD/results/natcheck-collector
REPORT=$NC_BUILD/results/natcheck-report
# Debian's interpreter when there is one: a version manager's shim costs a second a call.
PY=$(command -v /usr/bin/python3 || command -v python3)
CLIENT="$PY $NC_SRC/results/tests/lib/client.py"
EXAMPLES=$NC_SRC/results/schema/examples
# shellcheck source=results/tests/lib/pg.sh
source "$NC_SRC/results/tests/lib/pg.sh"
# shellcheck source=tests/lib/checks.sh
source "$NC_SRC/tests/lib/checks.sh"

RES_PIDS=()
res_cleanup() {
	local p
	for p in ${RES_PIDS[@]+"${RES_PIDS[@]}"}; do kill -9 "$p" 2>/dev/null || true; done
	for p in ${RES_PIDS[@]+"${RES_PIDS[@]}"}; do wait "$p" 2>/dev/null || true; done
	pg_stop
	[ -n "${W:-}" ] && rm -rf "$W"
}

res_setup() {
	# Missing packages skip; a program of ours that was not built is a failure.
	pkg-config --exists libmicrohttpd sqlite3 libpq ||
		skip "libmicrohttpd-dev, libsqlite3-dev or libpq-dev missing (scripts/setup-deps.sh)"
	[ -x "$COLLECTOR" ] || { echo "FAIL: $COLLECTOR is not built"; exit 1; }
	W=$(mktemp -d /tmp/nc-results.XXXXXX)
	chmod 755 "$W"
	trap res_cleanup EXIT
}

res_store() {
	case $1 in
	sqlite) STORE="sqlite:$W/results.db" ;;
	postgresql)
		pg_start "$W/pg" || { echo "SKIP: PostgreSQL: $PG_WHY"; exit 77; }
		STORE=$PG_URI ;;
	*) echo "unknown backend '$1'" >&2; exit 2 ;;
	esac
	BACKEND=$1
}

res_start() {
	local name=$1 port i
	shift
	rm -f "$W/$name.port"
	"$COLLECTOR" --store "$STORE" --listen 127.0.0.1:0 --port-file "$W/$name.port" "$@" \
		2>>"$W/$name.log" &
	printf -v "PID_$name" %s $!
	RES_PIDS+=($!)
	for i in $(seq 200); do
		[ -s "$W/$name.port" ] && break
		kill -0 $! 2>/dev/null || { cat "$W/$name.log" >&2; echo "collector $name died" >&2; exit 1; }
		sleep 0.05
	done
	port=$(cat "$W/$name.port")
	printf -v "BASE_$name" %s "http://127.0.0.1:$port"
	printf -v "URL_$name" %s "http://127.0.0.1:$port/api/v1/results"
}

res_kill() {
	local pid_var="PID_$1"
	kill "-${2:-TERM}" "${!pid_var}" 2>/dev/null || true
	wait "${!pid_var}" 2>/dev/null || true
}
