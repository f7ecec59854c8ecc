/* SQLite backend: WAL journal, one transaction per batch.
 *
 * In WAL mode a committed transaction survives the process being killed at any point;
 * synchronous=FULL makes it survive power loss too (the WAL is synced at every commit), and
 * a batch per commit keeps that affordable. A second handle (another thread or process) reads
 * while the writer writes; busy_timeout covers the short moments WAL still locks. */
#include "store_impl.h"

#include <natcheck/error.h>

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static int fail(sqlite3 *db, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "sqlite: %s: %s", what, sqlite3_errmsg(db));
	return -NC_E_PROTOCOL;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int sq_put(struct rs_store *s, struct rs_sub *subs, size_t n, const char *now, char *err,
		  size_t errlen)
{
	sqlite3 *db = s->db;
	sqlite3_stmt *ins = NULL, *look;
	int rc;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return fail(db, "begin", err, errlen);
	for (size_t i = 0; i < n; i++) {
		ins = s->stmt[RS_ST(subs[i].kind, RS_ST_INSERT)];
		look = s->stmt[RS_ST(subs[i].kind, RS_ST_LOOKUP)];
		sqlite3_reset(ins);
		bind_text(ins, 1, subs[i].sub_id);
		bind_text(ins, 2, now);
		if (subs[i].kind == RS_OUTCOME) {
			bind_text(ins, 3, subs[i].result);
		} else {
			bind_text(ins, 3, subs[i].vendor);
			bind_text(ins, 4, subs[i].model);
			bind_text(ins, 5, subs[i].note);
			bind_text(ins, 6, subs[i].result);
		}
		rc = sqlite3_step(ins);
		if (rc == SQLITE_ROW) {
			subs[i].id = sqlite3_column_int64(ins, 0);
			subs[i].dup = 0;
			rc = sqlite3_step(ins);
		} else if (rc == SQLITE_DONE) {
			/* Nothing inserted: the id is already stored; answer with its row. */
			sqlite3_reset(look);
			bind_text(look, 1, subs[i].sub_id);
			if (sqlite3_step(look) != SQLITE_ROW) {
				fail(db, "lookup", err, errlen);
				goto rollback;
			}
			subs[i].id = sqlite3_column_int64(look, 0);
			subs[i].dup = 1;
			sqlite3_reset(look);
		}
		if (rc != SQLITE_DONE) {
			fail(db, "insert", err, errlen);
			goto rollback;
		}
		sqlite3_reset(ins);
		sqlite3_clear_bindings(ins);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fail(db, "commit", err, errlen);
		goto rollback;
	}
	return 0;
rollback:
	if (ins)
		sqlite3_reset(ins);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -NC_E_PROTOCOL;
}

static const char *col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static int sq_export(struct rs_store *s, enum rs_kind kind, int64_t since, int64_t limit,
		     rs_row_cb cb, void *ctx, char *err, size_t errlen)
{
	sqlite3_stmt *st = s->stmt[RS_ST(kind, RS_ST_EXPORT)];
	int rc, stop = 0;

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, limit);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct rs_row row = {
		    .id = sqlite3_column_int64(st, 0),
		    .sub_id = col(st, 1),
		    .received = col(st, 2),
		    .vendor = col(st, 3),
		    .model = col(st, 4),
		    .note = col(st, 5),
		    .result = col(st, 6),
		};
		stop = cb(ctx, &row);
	}
	if (!stop && rc != SQLITE_DONE) {
		fail(s->db, "export", err, errlen);
		sqlite3_reset(st);
		return -NC_E_PROTOCOL;
	}
	sqlite3_reset(st);
	return stop;
}

static int64_t sq_count(struct rs_store *s, enum rs_kind kind)
{
	sqlite3_stmt *st = s->stmt[RS_ST(kind, RS_ST_COUNT)];
	int64_t n = -NC_E_PROTOCOL;

	sqlite3_reset(st);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

static void sq_close(struct rs_store *s)
{
	for (size_t i = 0; i < sizeof(s->stmt) / sizeof(s->stmt[0]); i++)
		sqlite3_finalize(s->stmt[i]);
	sqlite3_close(s->db);
}

static const struct rs_ops sq_ops = {"sqlite", sq_put, sq_export, sq_count, sq_close};

int rs_sqlite_open(const char *path, struct rs_store *s, char *err, size_t errlen)
{
	static const char *const sql[RS_NSTMT] = RS_SQL_STATEMENTS;
	char create[512], create_out[512];
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "sqlite: %s: %s", path,
			 db ? sqlite3_errmsg(db) : "no memory");
		sqlite3_close(db);
		return -NC_E_INVALID;
	}
	s->db = db;
	s->ops = &sq_ops;
	sqlite3_busy_timeout(db, 10000);
	snprintf(create, sizeof(create), RS_SQL_CREATE, "INTEGER");
	snprintf(create_out, sizeof(create_out), RS_SQL_CREATE_OUTCOME, "INTEGER");
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, create, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, create_out, NULL, NULL, NULL) != SQLITE_OK)
		goto bad;
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++)
		if (sqlite3_prepare_v2(db, sql[i], -1, (sqlite3_stmt **)&s->stmt[i], NULL) !=
		    SQLITE_OK)
			goto bad;
	return 0;
bad:
	snprintf(err, errlen, "sqlite: %s: %s", path, sqlite3_errmsg(db));
	sq_close(s);
	return -NC_E_INVALID;
}
