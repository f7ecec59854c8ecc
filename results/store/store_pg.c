/* PostgreSQL backend (libpq): the same statements as SQLite, prepared once per connection.
 *
 * Several collector instances may share one database. ON CONFLICT DO NOTHING on the unique
 * sub_id makes a submission stored once whichever instance gets it (a second inserter waits
 * for the first to commit, then inserts nothing). Rows of a batch are inserted in sub_id
 * order so that two instances' batches can never wait on each other in a cycle. */
#include "store_impl.h"

#include <natcheck/error.h>

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const pg_name[RS_NSTMT] = {"nc_ins",	    "nc_look",	   "nc_export",
					      "nc_count",   "nc_out_ins",  "nc_out_look",
					      "nc_out_exp", "nc_out_count"};

static int pg_prepare(PGconn *c, char *err, size_t errlen)
{
	static const char *const sql[RS_NSTMT] = RS_SQL_STATEMENTS;
	char create[2][512];
	PGresult *res;

	snprintf(create[0], sizeof(create[0]), RS_SQL_CREATE, "BIGSERIAL");
	snprintf(create[1], sizeof(create[1]), RS_SQL_CREATE_OUTCOME, "BIGSERIAL");
	for (size_t t = 0; t < 2; t++) {
		res = PQexec(c, create[t]);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			/* Two instances creating the table at once: the loser sees a unique
			 * violation on the catalog; the table exists either way. */
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
			if (!state || strcmp(state, "23505") != 0) {
				snprintf(err, errlen, "postgresql: create: %s", PQerrorMessage(c));
				PQclear(res);
				return -NC_E_PROTOCOL;
			}
		}
		PQclear(res);
	}
	for (size_t i = 0; i < RS_NSTMT; i++) {
		res = PQprepare(c, pg_name[i], sql[i], 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			snprintf(err, errlen, "postgresql: prepare: %s", PQerrorMessage(c));
			PQclear(res);
			return -NC_E_PROTOCOL;
		}
		PQclear(res);
	}
	return 0;
}

static int command(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	PQclear(res);
	return ok;
}

static int by_subid(const void *a, const void *b, void *base)
{
	const struct rs_sub *x = (const struct rs_sub *)base + *(const size_t *)a;
	const struct rs_sub *y = (const struct rs_sub *)base + *(const size_t *)b;

	/* Table by table, each in sub_id order: every instance takes the locks in one order. */
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->sub_id, y->sub_id);
}

/* Inserts order[from..to) in pipeline mode: every INSERT is sent before any answer is read,
 * so a chunk costs one round trip instead of one per row. Chunks stay small enough that the
 * answers never fill the socket while libpq is still sending (blocking pipelines deadlock
 * that way). Returns 0, or the failed result (caller clears) in *bad. */
#define PG_CHUNK 64
static int pg_insert_chunk(PGconn *c, struct rs_sub *subs, const size_t *order, size_t from,
			   size_t to, const char *now, PGresult **bad)
{
	int rc = 0;

	*bad = NULL;
	if (!PQenterPipelineMode(c))
		return -1;
	for (size_t k = from; k < to; k++) {
		struct rs_sub *sb = &subs[order[k]];
		const char *v[6] = {sb->sub_id, now, sb->vendor, sb->model, sb->note, sb->result};
		const char *vo[3] = {sb->sub_id, now, sb->result};
		bool out = sb->kind == RS_OUTCOME;
		if (!PQsendQueryPrepared(c, pg_name[RS_ST(sb->kind, RS_ST_INSERT)], out ? 3 : 6,
					 out ? vo : v, NULL, NULL, 0)) {
			rc = -1;
			break;
		}
	}
	if (!PQpipelineSync(c))
		rc = -1;
	/* Every query's result, each followed by NULL, then the sync's. */
	for (size_t k = from; k < to && rc == 0; k++) {
		struct rs_sub *sb = &subs[order[k]];
		PGresult *res = PQgetResult(c);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			*bad = res;
			rc = -1;
			break;
		}
		sb->dup = PQntuples(res) == 0;
		sb->id = sb->dup ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		PQclear(PQgetResult(c)); /* the NULL that ends this query */
	}
	/* Drain to the sync (after an error the rest come back PGRES_PIPELINE_ABORTED). */
	for (int nulls = 0; PQstatus(c) == CONNECTION_OK;) {
		PGresult *res = PQgetResult(c);
		if (!res) {
			if (++nulls > 2 * PG_CHUNK + 2)
				break;
			continue;
		}
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_FATAL_ERROR && !*bad)
			*bad = res;
		else
			PQclear(res);
		if (st == PGRES_PIPELINE_SYNC)
			break;
	}
	if (!PQexitPipelineMode(c))
		rc = -1;
	return rc;
}

/* One attempt at the batch; 1 = retry (deadlock, serialization, lost connection). */
static int pg_try_put(PGconn *c, struct rs_sub *subs, const size_t *order, size_t n,
		      const char *now, char *err, size_t errlen)
{
	PGresult *res = NULL;

	if (!command(c, "BEGIN"))
		goto bad;
	for (size_t k = 0; k < n; k += PG_CHUNK)
		if (pg_insert_chunk(c, subs, order, k, k + PG_CHUNK < n ? k + PG_CHUNK : n, now,
				    &res) < 0)
			goto bad;
	/* A repeated id inserted nothing: its row is already there (committed, or being
	 * committed by another instance, whose commit this lookup then waited for). */
	for (size_t k = 0; k < n; k++) {
		struct rs_sub *sb = &subs[order[k]];
		const char *v[1] = {sb->sub_id};
		if (!sb->dup)
			continue;
		res =
		    PQexecPrepared(c, pg_name[RS_ST(sb->kind, RS_ST_LOOKUP)], 1, v, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
			goto bad;
		sb->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		res = NULL;
	}
	res = PQexec(c, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto bad;
	PQclear(res);
	return 0;
bad:;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	int retry = PQstatus(c) != CONNECTION_OK ||
		    (state && (!strcmp(state, "40P01") || !strcmp(state, "40001")));

	snprintf(err, errlen, "postgresql: %s",
		 res ? PQresultErrorMessage(res) : PQerrorMessage(c));
	PQclear(res);
	if (PQstatus(c) == CONNECTION_OK)
		command(c, "ROLLBACK");
	return retry ? 1 : -NC_E_PROTOCOL;
}

static int pg_put(struct rs_store *s, struct rs_sub *subs, size_t n, const char *now, char *err,
		  size_t errlen)
{
	PGconn *c = s->db;
	size_t *order = malloc(n * sizeof(*order));
	int rc = -NC_E_PROTOCOL;

	if (!order)
		return -NC_E_NOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), by_subid, subs);
	for (int attempt = 0; attempt < 3; attempt++) {
		if (PQstatus(c) != CONNECTION_OK) {
			PQreset(c);
			if (PQstatus(c) != CONNECTION_OK || pg_prepare(c, err, errlen) < 0)
				continue;
		}
		rc = pg_try_put(c, subs, order, n, now, err, errlen);
		if (rc <= 0)
			break;
		rc = -NC_E_PROTOCOL;
	}
	free(order);
	return rc;
}

static int pg_export(struct rs_store *s, enum rs_kind kind, int64_t since, int64_t limit,
		     rs_row_cb cb, void *ctx, char *err, size_t errlen)
{
	char a[24], b[24];
	const char *v[2] = {a, b};
	PGresult *res;
	int stop = 0;

	snprintf(a, sizeof(a), "%lld", (long long)since);
	snprintf(b, sizeof(b), "%lld", (long long)limit);
	res = PQexecPrepared(s->db, pg_name[RS_ST(kind, RS_ST_EXPORT)], 2, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "postgresql: export: %s", PQerrorMessage(s->db));
		PQclear(res);
		if (PQstatus(s->db) != CONNECTION_OK) {
			PQreset(s->db);
			if (PQstatus(s->db) == CONNECTION_OK)
				pg_prepare(s->db, err, errlen);
		}
		return -NC_E_PROTOCOL;
	}
	for (int i = 0; !stop && i < PQntuples(res); i++) {
#define PGV(k) (PQgetisnull(res, i, k) ? NULL : PQgetvalue(res, i, k))
		struct rs_row row = {
		    .id = strtoll(PQgetvalue(res, i, 0), NULL, 10),
		    .sub_id = PGV(1),
		    .received = PGV(2),
		    .vendor = PGV(3),
		    .model = PGV(4),
		    .note = PGV(5),
		    .result = PGV(6),
		};
#undef PGV
		stop = cb(ctx, &row);
	}
	PQclear(res);
	return stop;
}

static int64_t pg_count(struct rs_store *s, enum rs_kind kind)
{
	PGresult *res =
	    PQexecPrepared(s->db, pg_name[RS_ST(kind, RS_ST_COUNT)], 0, NULL, NULL, NULL, 0);
	int64_t n = -NC_E_PROTOCOL;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

static void pg_close(struct rs_store *s)
{
	PQfinish(s->db);
}

static const struct rs_ops pg_ops = {"postgresql", pg_put, pg_export, pg_count, pg_close};

int rs_pg_open(const char *conninfo, struct rs_store *s, char *err, size_t errlen)
{
	PGconn *c = PQconnectdb(conninfo);

	s->db = c;
	s->ops = &pg_ops;
	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errlen, "postgresql: %s", PQerrorMessage(c));
		PQfinish(c);
		return -NC_E_INVALID;
	}
	/* Quiet the server's NOTICEs ("relation already exists, skipping") on stderr. */
	command(c, "SET client_min_messages = warning");
	if (pg_prepare(c, err, errlen) < 0) {
		PQfinish(c);
		return -NC_E_PROTOCOL;
	}
	return 0;
}
