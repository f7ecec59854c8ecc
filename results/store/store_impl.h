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

struct rs_ops {
	const char *name;
	int (*put)(struct rs_store *s, struct rs_sub *subs, size_t n, const char *now, char *err,
		   size_t errlen);
	int (*export_rows)(struct rs_store *s, int64_t since, int64_t limit, rs_row_cb cb,
			   void *ctx, char *err, size_t errlen);
	int64_t (*count)(struct rs_store *s);
	void (*close)(struct rs_store *s);
};

struct rs_store {
	const struct rs_ops *ops;
	void *db;
	void *stmt[4];
};

int rs_sqlite_open(const char *path, struct rs_store *s, char *err, size_t errlen);
int rs_pg_open(const char *conninfo, struct rs_store *s, char *err, size_t errlen);

#endif
