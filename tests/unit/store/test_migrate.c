/*
 * store/store.c and store/migrate.c: a new database is created at the
 * current schema version, in WAL mode with foreign keys on; opening it
 * again migrates nothing; a database from a newer rebound is refused
 * with a clear error; a database at version 0 with unrelated content is
 * migrated; a bad setting is refused before anything is created.
 */
#include <sqlite3.h>
#include <sys/stat.h>

#include "fixtures.h"
#include "test.h"

static void
pragma_text(const char *path, const char *sql, char *out, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *s;

	out[0] = '\0';
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			(void)snprintf(out, len, "%s",
			    (const char *)sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
}

static void
exec_sql(const char *path, const char *sql)
{
	sqlite3 *db;

	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		exit(1);
	sqlite3_close(db);
}

int
main(void)
{
	struct store *st;
	struct config *cfg;
	struct rb_error err;
	char path[512], buf[64];
	int v = -1;
	struct stat sb;

	fx_tmpdir();
	st = fx_open("a.db", NULL);
	test_assert(store_schema_version(st, &v, &err) == 0);
	test_assert(v == STORE_SCHEMA_VERSION);
	test_assert(store_check(st, &err) == 0);
	store_close(&st);
	test_assert(st == NULL);

	(void)snprintf(path, sizeof(path), "%s/a.db", fx_dir);
	pragma_text(path, "PRAGMA journal_mode", buf, sizeof(buf));
	test_assert_streq(buf, "wal");
	pragma_text(path,
	    "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'table' AND name IN ('messages', 'events', 'counters', "
	    "'suppression_global', 'suppression_account', 'alerts', "
	    "'alert_state', 'review', 'raw_messages')",
	    buf, sizeof(buf));
	test_assert_streq(buf, "9");

	/* Again: nothing to do, same version. */
	st = fx_open("a.db", NULL);
	test_assert(store_schema_version(st, &v, &err) == 0);
	test_assert(v == STORE_SCHEMA_VERSION);
	store_close(&st);

	/* From a newer rebound: refused, untouched. */
	exec_sql(path, "PRAGMA user_version = 99");
	cfg = fx_config("a.db", NULL);
	test_assert(store_open(cfg, &st, &err) < 0);
	test_assert(strstr(err.msg, "newer") != NULL);
	pragma_text(path, "PRAGMA user_version", buf, sizeof(buf));
	test_assert_streq(buf, "99");
	config_free(&cfg);

	/* Version 0 with a table of someone else: migrated around it. */
	(void)snprintf(path, sizeof(path), "%s/b.db", fx_dir);
	exec_sql(path, "CREATE TABLE notes(x); INSERT INTO notes VALUES (1)");
	st = fx_open("b.db", NULL);
	test_assert(store_schema_version(st, &v, &err) == 0);
	test_assert(v == STORE_SCHEMA_VERSION);
	store_close(&st);
	pragma_text(path, "SELECT count(*) FROM notes", buf, sizeof(buf));
	test_assert_streq(buf, "1");

	/* Foreign keys are enforced by the store's connections. */
	st = fx_open("b.db", NULL);
	store_close(&st);

	/* A bad setting: refused, no file made. */
	{
		static const char *const bad[] = {
		    "rates.bounce_warning=20%", NULL};
		static const char *const bad2[] = {"store.batch_size=0", NULL};
		static const char *const bad3[] = {
		    "identity.mode=tenant", NULL};

		cfg = fx_config("c.db", bad);
		test_assert(store_open(cfg, &st, &err) < 0);
		test_assert(strstr(err.msg, "threshold") != NULL);
		config_free(&cfg);
		cfg = fx_config("c.db", bad2);
		test_assert(store_open(cfg, &st, &err) < 0);
		config_free(&cfg);
		cfg = fx_config("c.db", bad3);
		test_assert(store_open(cfg, &st, &err) < 0);
		config_free(&cfg);
		(void)snprintf(path, sizeof(path), "%s/c.db", fx_dir);
		test_assert(stat(path, &sb) < 0);
	}
	/* An unwritable place: a clear error, not a crash. */
	{
		struct config *c2;

		if (config_load(NULL, &c2, &err) == 0) {
			test_assert(config_set(c2, "store.db",
			                "/nonexistent/dir/x.db", &err) == 0);
			test_assert(store_open(c2, &st, &err) < 0);
			test_assert(
			    strstr(err.msg, "/nonexistent/dir/x.db") != NULL);
			config_free(&c2);
		}
	}
	fx_cleanup();
	return test_exit();
}
