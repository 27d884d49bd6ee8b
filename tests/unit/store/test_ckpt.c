/*
 * store/ckpt.c and the readers of an ingest: while an ingest is open the
 * checkpointer thread copies the WAL into the database (the committer
 * only wakes it), the WAL stays bounded, and SQLite's automatic
 * checkpoint is back once the ingest ends.  An idle ingest holds no
 * read transaction (prep_idle): a TRUNCATE checkpoint, which needs every
 * reader gone, succeeds while it waits for work.
 */
#include <sys/stat.h>
#include <time.h>

#include "fixtures.h"
#include "store/store_int.h"
#include "test.h"

/* Rows written per transaction by fill(): 1 MiB, ~130 pages. */
#define FILL_ROW 65536
#define FILL_ROWS_PER_TX 16
#define FILL_PAGES_PER_TX 140
/* The thread's sizes in the test: 1 MiB and 4 MiB of 8 KiB pages. */
#define TEST_EVERY 128
#define TEST_MAX 512

static long long
wal_size(const struct store *st)
{
	char path[600];
	struct stat sb;

	(void)snprintf(path, sizeof(path), "%s-wal", store_path(st));
	return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

/* PRAGMA wal_autocheckpoint: 0 while the checkpointer's hook is set. */
static int
autocheckpoint(struct store *st)
{
	sqlite3_stmt *s;
	int v = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA wal_autocheckpoint", -1, &s,
	        NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* n transactions of FILL_ROWS_PER_TX rows of FILL_ROW random bytes. */
static void
fill(struct store *st, int n)
{
	struct rb_error err;
	sqlite3_stmt *s;
	int t, r;

	test_assert(sqlite3_prepare_v2(st->db,
	                "INSERT INTO filler(b) VALUES (randomblob(?1))", -1, &s,
	                NULL) == SQLITE_OK);
	for (t = 0; t < n; t++) {
		test_assert(store_begin(st, &err) == 0);
		for (r = 0; r < FILL_ROWS_PER_TX; r++) {
			(void)sqlite3_bind_int(s, 1, FILL_ROW);
			test_assert(sqlite3_step(s) == SQLITE_DONE);
			(void)sqlite3_reset(s);
		}
		test_assert(store_commit(st, &err) == 0);
	}
	sqlite3_finalize(s);
}

static void
test_thread(void)
{
	const char *sets[] = {"store.workers=0", NULL};
	struct store *st = fx_open("ckpt.db", sets);
	struct rb_error err;
	struct ckpt *c = NULL;
	long long max_wal;
	int i;

	test_assert(store_exec(st, "CREATE TABLE filler(b BLOB)", &err) == 0);
	test_assert(autocheckpoint(st) == STORE_WAL_CHECKPOINT_PAGES);
	test_assert(ckpt_start(st, &c, &err) == 0 && c != NULL);
	test_assert(autocheckpoint(st) == 0);
	/* Small sizes, so that little is written: 1 MiB and 4 MiB. */
	ckpt_set_pages(c, TEST_EVERY, TEST_MAX);
	/* 12 MiB through a 1 MiB threshold: the thread runs. */
	fill(st, 12);
	for (i = 0; i < 500 && ckpt_runs(c) == 0; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		(void)nanosleep(&ts, NULL);
	}
	test_assert(ckpt_runs(c) > 0);
	/* Bounded: never more than a transaction past the maximum. */
	max_wal = ((long long)TEST_MAX + 2 * FILL_PAGES_PER_TX) * 8192;
	test_assert(wal_size(st) <= max_wal);
	ckpt_stop(&c);
	test_assert(c == NULL);
	/* SQLite's own checkpoint again (the pragma reads 0 while another
	 * wal_hook is installed). */
	test_assert(autocheckpoint(st) == STORE_WAL_CHECKPOINT_PAGES);
	test_assert(store_exec(st, "DROP TABLE filler", &err) == 0);
	store_close(&st);
}

static void
test_idle_readers(const struct classify_rules *rules)
{
	const char *sets[] = {"store.workers=2", NULL};
	struct store *st = fx_open("idle.db", sets);
	struct store_ingest *ing;
	struct store_ingest_summary sum;
	struct rb_error err;
	sqlite3 *other;
	int i, log = -1, done = -1, rc;

	test_assert(store_ingest_begin(st, rules, FX_NOW, &ing, &err) == 0);
	for (i = 0; i < 40; i++) {
		char id[16], rcpt[64];
		char *m;
		struct store_source src = {"mem", i, "test", NULL};

		(void)snprintf(id, sizeof(id), "idle%d", i);
		(void)snprintf(rcpt, sizeof(rcpt), "u%d@example.net", i);
		m = fx_dsn(id, rcpt, "5.1.1", "orders@shop.example.com", "");
		test_assert(store_ingest_feed(ing, (unsigned char *)m,
		                strlen(m), &src, &err) == 0);
		free(m);
	}
	test_assert(store_ingest_flush(ing, &err) == 0);
	/* The workers wait for work now; give them a moment to get there. */
	for (i = 0; i < 100; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		test_assert(sqlite3_open(store_path(st), &other) == SQLITE_OK);
		/* A fresh connection knows of the WAL once it has read. */
		test_assert(
		    sqlite3_exec(other, "SELECT count(*) FROM sqlite_schema",
		        NULL, NULL, NULL) == SQLITE_OK);
		rc = sqlite3_wal_checkpoint_v2(
		    other, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
		sqlite3_close(other);
		if (rc == SQLITE_OK)
			break;
		(void)nanosleep(&ts, NULL);
	}
	test_assert(rc == SQLITE_OK && log == 0 && done == 0);
	test_assert(store_ingest_end(&ing, &sum, &err) == 0);
	test_assert(sum.stored == 40);
	store_close(&st);
}

int
main(void)
{
	struct classify_rules *rules;

	fx_tmpdir();
	rules = fx_rules();
	test_thread();
	test_idle_readers(rules);
	classify_rules_free(&rules);
	classify_global_shutdown();
	fx_cleanup();
	return test_exit();
}
