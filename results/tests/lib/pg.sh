# pg.sh: a throwaway PostgreSQL server for tests and benchmarks (source it).
#
#   pg_start DIR   initdb + start in DIR as the unprivileged "postgres" user, listening only on
#                  a Unix socket in DIR; sets PG_URI (a libpq URI for the collector) and
#                  PGDATA_DIR. Returns 1 with PG_WHY set when it cannot (not root, package
#                  missing): callers skip (exit 77), never pass.
#   pg_stop        fast shutdown; the caller removes DIR.
# The server refuses to run as root, hence runuser; DIR's parents must be traversable by it.
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}

pg_start() {
	local dir=$1
	PG_WHY=''
	if [ "$(id -u)" -ne 0 ]; then PG_WHY="not root (the server runs as user postgres)"; return 1; fi
	if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then PG_WHY="postgresql is not installed"; return 1; fi
	if ! id postgres >/dev/null 2>&1; then PG_WHY="no postgres user"; return 1; fi
	mkdir -p "$dir"
	chown postgres: "$dir"
	chmod 700 "$dir"
	if ! runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres \
		--no-sync -E UTF8 >"$dir/initdb.log" 2>&1; then
		PG_WHY="initdb failed: $(tail -1 "$dir/initdb.log")"; return 1
	fi
	if ! runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
		-o "-k $dir -c listen_addresses='' -c max_connections=50 -c shared_buffers=64MB" \
		start >/dev/null 2>&1; then
		PG_WHY="the server did not start: $(tail -1 "$dir/server.log")"; return 1
	fi
	PGDATA_DIR=$dir/data
	PG_URI="postgresql:///postgres?host=$dir&user=postgres"
}

pg_stop() {
	[ -n "${PGDATA_DIR:-}" ] || return 0
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1 || true
	PGDATA_DIR=''
}
