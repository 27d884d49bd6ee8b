/*
 * store_dbtool: for the store's shell tests.
 *   store_dbtool check DB   integrity_check and foreign_key_check (via
 *                           store_check); prints "ok", exit 0, or why, 1
 *   store_dbtool dump DB    every row of every table, in a fixed order
 *   store_dbtool count DB TABLE   rows of a table
 */
#include <sqlite3.h>

#include "fixtures.h"

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "check") == 0) {
		struct config *cfg;
		struct store *st;
		struct rb_error err;
		int rc;

		if (config_load(NULL, &cfg, &err) < 0 ||
		    config_set(cfg, "store.db", argv[2], &err) < 0 ||
		    store_open(cfg, &st, &err) < 0) {
			fprintf(stderr, "store_dbtool: %s\n", err.msg);
			return 1;
		}
		config_free(&cfg);
		rc = store_check(st, &err);
		store_close(&st);
		if (rc < 0) {
			fprintf(stderr, "store_dbtool: %s\n", err.msg);
			return 1;
		}
		puts("ok");
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "dump") == 0)
		return fx_dump(argv[2], stdout) < 0 ? 1 : 0;
	if (argc == 4 && strcmp(argv[1], "count") == 0) {
		sqlite3 *db;
		sqlite3_stmt *s;
		char sql[128];
		int rc = 1;

		(void)snprintf(
		    sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", argv[3]);
		if (sqlite3_open_v2(argv[2], &db, SQLITE_OPEN_READONLY, NULL) ==
		        SQLITE_OK &&
		    sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
			if (sqlite3_step(s) == SQLITE_ROW) {
				printf("%lld\n", sqlite3_column_int64(s, 0));
				rc = 0;
			}
			sqlite3_finalize(s);
		}
		sqlite3_close(db);
		return rc;
	}
	fprintf(stderr, "usage: store_dbtool check|dump DB | count DB "
	                "TABLE\n");
	return 2;
}
