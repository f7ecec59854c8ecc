/* Private to the store: the backend table and the SQL both backends run. */
#ifndef RS_STORE_IMPL_H
#define RS_STORE_IMPL_H

#include "store.h"

/* The same statements on SQLite and PostgreSQL: $n parameters are positional in both
 * (SQLite numbers "$1"... in order of first appearance, which is their order here). */
#define RS_SQL_CREATE                                                                              \
	"CREATE TABLE IF NOT EXISTS nc_submission ("                                               \
	" id %s PRIMARY KEY,"                                                                      \
	" sub_id TEXT NOT NULL UNIQUE,"                                                            \
	" received TEXT NOT NULL,"                                                                 \
	" vendor TEXT, model TEXT, note TEXT,"                                                     \
	" result TEXT NOT NULL)"
#define RS_SQL_INSERT                                                                              \
	"INSERT INTO nc_submission (sub_id, received, vendor, model, note, result)"                \
	" VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sub_id) DO NOTHING RETURNING id"
#define RS_SQL_LOOKUP "SELECT id FROM nc_submission WHERE sub_id = $1"
#define RS_SQL_EXPORT                                                                              \
	"SELECT id, sub_id, received, vendor, model, note, result FROM nc_submission"              \
	" WHERE id > $1 ORDER BY id LIMIT $2"
#define RS_SQL_COUNT "SELECT count(*) FROM nc_submission"

/* Punch outcomes: the same shape without the metadata. The export names the columns of
 * nc_submission's export (NULL metadata), so one row reader serves both. */
#define RS_SQL_CREATE_OUTCOME                                                                      \
	"CREATE TABLE IF NOT EXISTS nc_outcome ("                                                  \
	" id %s PRIMARY KEY,"                                                                      \
	" sub_id TEXT NOT NULL UNIQUE,"                                                            \
	" received TEXT NOT NULL,"                                                                 \
	" outcome TEXT NOT NULL)"
#define RS_SQL_OUT_INSERT                                                                          \
	"INSERT INTO nc_outcome (sub_id, received, outcome)"                                       \
	" VALUES ($1, $2, $3) ON CONFLICT (sub_id) DO NOTHING RETURNING id"
#define RS_SQL_OUT_LOOKUP "SELECT id FROM nc_outcome WHERE sub_id = $1"
#define RS_SQL_OUT_EXPORT                                                                          \
	"SELECT id, sub_id, received, NULL, NULL, NULL, outcome FROM nc_outcome"                   \
	" WHERE id > $1 ORDER BY id LIMIT $2"
#define RS_SQL_OUT_COUNT "SELECT count(*) FROM nc_outcome"

/* Statement slots, the same on both backends: per kind, insert / lookup / export / count. */
enum { RS_ST_INSERT, RS_ST_LOOKUP, RS_ST_EXPORT, RS_ST_COUNT, RS_ST_PER_KIND };
#define RS_ST(kind, which) ((kind)*RS_ST_PER_KIND + (which))
#define RS_NSTMT	   (2 * RS_ST_PER_KIND)
#define RS_SQL_STATEMENTS                                                                          \
	{                                                                                          \
		RS_SQL_INSERT, RS_SQL_LOOKUP, RS_SQL_EXPORT, RS_SQL_COUNT, RS_SQL_OUT_INSERT,      \
		    RS_SQL_OUT_LOOKUP, RS_SQL_OUT_EXPORT, RS_SQL_OUT_COUNT                         \
	}

struct rs_ops {
	const char *name;
	int (*put)(struct rs_store *s, struct rs_sub *subs, size_t n, const char *now, char *err,
		   size_t errlen);
	int (*export_rows)(struct rs_store *s, enum rs_kind kind, int64_t since, int64_t limit,
			   rs_row_cb cb, void *ctx, char *err, size_t errlen);
	int64_t (*count)(struct rs_store *s, enum rs_kind kind);
	void (*close)(struct rs_store *s);
};

struct rs_store {
	const struct rs_ops *ops;
	void *db;
	void *stmt[RS_NSTMT];
};

int rs_sqlite_open(const char *path, struct rs_store *s, char *err, size_t errlen);
int rs_pg_open(const char *conninfo, struct rs_store *s, char *err, size_t errlen);

#endif
