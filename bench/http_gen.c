/*
 * bench_http_gen: a database for bench/http.sh, made fast.  The schema
 * comes from store_open() (every migration); the rows are written with
 * SQL in big transactions, the indexes of the big tables dropped first
 * and rebuilt after (their SQL is read back from the database itself,
 * so it is exactly the schema's).  Sizes by default: 1,000,000
 * suppressed addresses (global list; a fifth also on an account list),
 * 10,000 identities with hourly counters over the last 48 hours and
 * 1,000,000 events (100 per identity, bounces of several reasons and
 * providers, and complaints) over those hours.
 *
 * Usage: bench_http_gen DB [--addresses N] [--identities N]
 *            [--events N] [--now UNIX]
 * Prints the address and identity patterns, one a line, for the load
 * generator: "address u%07d@d%03d.example" and "identity
 * id%05d.example".
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "core/core.h"
#include "store/store.h"

/* Rows per transaction: big, the database is new and nobody reads it. */
#define GEN_BATCH 100000
/* Hours of counters and events per identity. */
#define GEN_HOURS 48
/* Recipient domains (providers by domain: gmail.com, outlook.com...). */
#define GEN_DOMAINS 1000
/* Index SQL texts kept while a table is filled. */
#define GEN_MAX_INDEXES 32

static const char *const reasons[] = {"userunknown", "mailboxfull",
    "hostunknown", "blocked", "spamdetected", "expired"};
static const char *const bounce_types[] = {"Permanent", "Transient",
    "Permanent", "Transient", "Transient", "Transient"};
static const char *const providers[] = {
    "gmail.com", "outlook.com", "yahoo.com", "web.de", "example.net"};

static void
die_db(sqlite3 *db, const char *what)
{
	fprintf(stderr, "bench_http_gen: %s: %s\n", what, sqlite3_errmsg(db));
	exit(1);
}

static void
exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		die_db(db, sql);
}

static sqlite3_stmt *
prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		die_db(db, sql);
	return s;
}

static void
step(sqlite3 *db, sqlite3_stmt *s)
{
	if (sqlite3_step(s) != SQLITE_DONE)
		die_db(db, "insert");
	(void)sqlite3_reset(s);
}

/* Commit and begin again every GEN_BATCH rows. */
static void
batch(sqlite3 *db, uint64_t i)
{
	if (i > 0 && i % GEN_BATCH == 0)
		exec(db, "COMMIT; BEGIN");
}

struct saved {
	char *sql[GEN_MAX_INDEXES];
	size_t n;
};

/* Drop the indexes of tables (SQL list), keeping their SQL. */
static void
drop_indexes(sqlite3 *db, const char *tables, struct saved *sv)
{
	char q[256], drop[200];
	sqlite3_stmt *s;
	char *names[GEN_MAX_INDEXES];
	size_t n = 0, i;

	(void)snprintf(q, sizeof(q),
	    "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
	    " AND sql IS NOT NULL AND tbl_name IN (%s)",
	    tables);
	s = prep(db, q);
	while (sqlite3_step(s) == SQLITE_ROW && n < GEN_MAX_INDEXES) {
		names[n] = xstrdup((const char *)sqlite3_column_text(s, 0));
		sv->sql[sv->n++] =
		    xstrdup((const char *)sqlite3_column_text(s, 1));
		n++;
	}
	sqlite3_finalize(s);
	for (i = 0; i < n; i++) {
		(void)snprintf(drop, sizeof(drop), "DROP INDEX %s", names[i]);
		exec(db, drop);
		free(names[i]);
	}
}

static void
restore_indexes(sqlite3 *db, struct saved *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++) {
		exec(db, sv->sql[i]);
		free(sv->sql[i]);
	}
	sv->n = 0;
}

static double
now_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
gen_suppression(sqlite3 *db, uint64_t n, time_t now)
{
	sqlite3_stmt *g = prep(db,
	    "INSERT INTO suppression_global(address, reason, since, until, ttl,"
	    " strikes, event_id) VALUES (?1, 'userunknown', ?2, ?3, 1209600,"
	    " 1, NULL)");
	sqlite3_stmt *a = prep(db,
	    "INSERT INTO suppression_account(account, address, reason, since,"
	    " origin, event_id) VALUES ('default', ?1, ?2, ?3, 'auto', NULL)");
	struct saved sv = {{NULL}, 0};
	char addr[64];
	uint64_t i;

	drop_indexes(db, "'suppression_global', 'suppression_account'", &sv);
	exec(db, "BEGIN");
	for (i = 0; i < n; i++) {
		/* Zero-padded: inserted in key order. */
		(void)snprintf(addr, sizeof(addr),
		    "u%07" PRIu64 "@d%03u.example", i,
		    (unsigned)(i % GEN_DOMAINS));
		(void)sqlite3_bind_text(g, 1, addr, -1, SQLITE_STATIC);
		(void)sqlite3_bind_int64(g, 2, (sqlite3_int64)now - 86400);
		(void)sqlite3_bind_int64(g, 3, (sqlite3_int64)now + 13 * 86400);
		step(db, g);
		if (i % 5 == 0) {
			(void)sqlite3_bind_text(a, 1, addr, -1, SQLITE_STATIC);
			(void)sqlite3_bind_text(a, 2,
			    i % 10 == 0 ? "COMPLAINT" : "BOUNCE", -1,
			    SQLITE_STATIC);
			(void)sqlite3_bind_int64(
			    a, 3, (sqlite3_int64)now - 86400);
			step(db, a);
		}
		batch(db, i + 1);
	}
	exec(db, "COMMIT");
	restore_indexes(db, &sv);
	sqlite3_finalize(g);
	sqlite3_finalize(a);
}

static void
gen_counters(sqlite3 *db, uint64_t n_id, uint64_t per_id, time_t now)
{
	sqlite3_stmt *s = prep(db,
	    "INSERT INTO counters(identity, hour, sends, hard, soft,"
	    " undetermined, complaints) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)");
	int64_t h1 = (int64_t)now / 3600;
	char id[64];
	uint64_t i, k = 0;
	int h;

	exec(db, "BEGIN");
	for (i = 0; i < n_id; i++) {
		(void)snprintf(id, sizeof(id), "id%05" PRIu64 ".example", i);
		for (h = GEN_HOURS - 1; h >= 0; h--) {
			/* The events of this identity and hour (see
			 * gen_events): a third hard, half soft. */
			uint64_t ev = per_id / GEN_HOURS +
			              ((uint64_t)h < per_id % GEN_HOURS);
			uint64_t sends = 200 + (i * 7 + (uint64_t)h) % 400;

			(void)sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
			(void)sqlite3_bind_int64(s, 2, h1 - h);
			(void)sqlite3_bind_int64(s, 3, (sqlite3_int64)sends);
			(void)sqlite3_bind_int64(s, 4, (sqlite3_int64)ev / 3);
			(void)sqlite3_bind_int64(s, 5, (sqlite3_int64)ev / 2);
			(void)sqlite3_bind_int64(s, 6, (sqlite3_int64)(ev / 6));
			step(db, s);
			batch(db, ++k);
		}
	}
	exec(db, "COMMIT");
	sqlite3_finalize(s);
}

static void
gen_events(sqlite3 *db, uint64_t n, uint64_t n_id, time_t now)
{
	sqlite3_stmt *m = prep(db,
	    "INSERT INTO messages(id, dedupe_key, received, time, kind,"
	    " identity, attribution, trusted, source, size)"
	    " VALUES (?1, ?2, ?3, ?3, 'dsn', ?4, 'headers', 1, 'bench', 2000)");
	sqlite3_stmt *e = prep(db,
	    "INSERT INTO events(id, message_id, time, identity, type, reason,"
	    " bounce_type, recipient, domain, status, feedback_type, trusted,"
	    " json) VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1,"
	    " ?11)");
	struct saved sv = {{NULL}, 0};
	char id[64], rcpt[96], json[1024];
	unsigned char key[32];
	uint64_t i;

	drop_indexes(db, "'events', 'messages'", &sv);
	exec(db, "BEGIN");
	for (i = 0; i < n; i++) {
		uint64_t ident = i % n_id, j = i / n_id;
		const char *dom = providers[(i / 7) % 5];
		int complaint = j % 6 == 5, r = (int)(j % 6);
		time_t t =
		    now - (time_t)((j % GEN_HOURS) * 3600) - (time_t)(i % 3000);
		char iso[40];

		(void)snprintf(
		    id, sizeof(id), "id%05" PRIu64 ".example", ident);
		(void)snprintf(rcpt, sizeof(rcpt), "r%07" PRIu64 "@%s", i, dom);
		time_format_iso(t, iso, sizeof(iso));
		(void)snprintf(json, sizeof(json),
		    "{\"eventType\":\"%s\",\"mail\":{\"timestamp\":\"%s\","
		    "\"messageId\":\"m%07" PRIu64 "@%s\",\"source\":"
		    "\"news@%s\",\"destination\":[\"%s\"]},\"%s\":{"
		    "\"%s\":[{\"emailAddress\":\"%s\",\"reason\":\"%s\"}],"
		    "\"timestamp\":\"%s\"},\"rebound\":{\"identity\":\"%s\","
		    "\"attribution\":\"headers\",\"source\":\"bench\"}}",
		    complaint ? "Complaint" : "Bounce", iso, i, id, id, rcpt,
		    complaint ? "complaint" : "bounce",
		    complaint ? "complainedRecipients" : "bouncedRecipients",
		    rcpt, complaint ? "feedback" : reasons[r], iso, id);
		memset(key, 0, sizeof(key));
		memcpy(key, &i, sizeof(i));
		(void)sqlite3_bind_int64(m, 1, (sqlite3_int64)i + 1);
		(void)sqlite3_bind_blob(m, 2, key, sizeof(key), SQLITE_STATIC);
		(void)sqlite3_bind_int64(m, 3, (sqlite3_int64)t);
		(void)sqlite3_bind_text(m, 4, id, -1, SQLITE_STATIC);
		step(db, m);
		(void)sqlite3_bind_int64(e, 1, (sqlite3_int64)i + 1);
		(void)sqlite3_bind_int64(e, 2, (sqlite3_int64)t);
		(void)sqlite3_bind_text(e, 3, id, -1, SQLITE_STATIC);
		(void)sqlite3_bind_text(e, 4,
		    complaint ? "Complaint" : "Bounce", -1, SQLITE_STATIC);
		(void)sqlite3_bind_text(e, 5,
		    complaint ? "feedback" : reasons[r], -1, SQLITE_STATIC);
		if (!complaint)
			(void)sqlite3_bind_text(
			    e, 6, bounce_types[r], -1, SQLITE_STATIC);
		else
			(void)sqlite3_bind_null(e, 6);
		(void)sqlite3_bind_text(e, 7, rcpt, -1, SQLITE_STATIC);
		(void)sqlite3_bind_text(e, 8, dom, -1, SQLITE_STATIC);
		(void)sqlite3_bind_text(
		    e, 9, complaint ? NULL : "5.1.1", -1, SQLITE_STATIC);
		if (complaint)
			(void)sqlite3_bind_text(
			    e, 10, "abuse", -1, SQLITE_STATIC);
		else
			(void)sqlite3_bind_null(e, 10);
		(void)sqlite3_bind_text(e, 11, json, -1, SQLITE_STATIC);
		step(db, e);
		batch(db, i + 1);
	}
	exec(db, "COMMIT");
	restore_indexes(db, &sv);
	sqlite3_finalize(m);
	sqlite3_finalize(e);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"addresses", 1, NULL, 'a'},
	    {"identities", 1, NULL, 'i'}, {"events", 1, NULL, 'e'},
	    {"now", 1, NULL, 'n'}, {NULL, 0, NULL, 0}};
	uint64_t n_addr = 1000000, n_id = 10000, n_ev = 1000000, v;
	time_t now = time(NULL);
	struct config *cfg;
	struct store *st;
	struct rb_error err;
	sqlite3 *db;
	double t0;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (optarg == NULL || parse_u64(optarg, &v) < 0) {
			fprintf(stderr, "bench_http_gen: bad number\n");
			return 2;
		}
		if (c == 'a')
			n_addr = v;
		else if (c == 'i')
			n_id = v;
		else if (c == 'e')
			n_ev = v;
		else if (c == 'n')
			now = (time_t)v;
		else
			return 2;
	}
	if (optind + 1 != argc || n_id == 0) {
		fprintf(stderr, "usage: bench_http_gen DB [--addresses N] "
		                "[--identities N] [--events N] [--now UNIX]\n");
		return 2;
	}
	/* The schema, by the store itself. */
	if (config_load(NULL, &cfg, &err) < 0 ||
	    config_set(cfg, "store.db", argv[optind], &err) < 0 ||
	    store_open(cfg, &st, &err) < 0) {
		fprintf(stderr, "bench_http_gen: %s\n", err.msg);
		return 1;
	}
	store_close(&st);
	config_free(&cfg);
	if (sqlite3_open(argv[optind], &db) != SQLITE_OK)
		die_db(db, "open");
	exec(db, "PRAGMA synchronous = OFF; PRAGMA cache_size = -524288;"
	         " PRAGMA foreign_keys = OFF");
	t0 = now_s();
	gen_suppression(db, n_addr, now);
	fprintf(stderr, "bench_http_gen: %" PRIu64 " addresses in %.1fs\n",
	    n_addr, now_s() - t0);
	t0 = now_s();
	gen_counters(db, n_id, n_ev / n_id, now);
	gen_events(db, n_ev, n_id, now);
	fprintf(stderr,
	    "bench_http_gen: %" PRIu64 " identities, %" PRIu64
	    " events in %.1fs\n",
	    n_id, n_ev, now_s() - t0);
	/* The breakdown counts of those events, as a migration makes them:
	 * by the store, at its next open (with the provider table of the
	 * servers). */
	exec(db, "DELETE FROM store_meta");
	exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	sqlite3_close(db);
	t0 = now_s();
	if (config_load(NULL, &cfg, &err) < 0 ||
	    config_set(cfg, "store.db", argv[optind], &err) < 0 ||
	    config_set(cfg, "stats.providers",
	        REBOUND_SOURCE_DIR "/data/providers.tsv", &err) < 0 ||
	    store_open(cfg, &st, &err) < 0) {
		fprintf(stderr, "bench_http_gen: %s\n", err.msg);
		return 1;
	}
	store_close(&st);
	config_free(&cfg);
	fprintf(stderr,
	    "bench_http_gen: breakdown counts of the events made in %.1fs\n",
	    now_s() - t0);
	if (sqlite3_open(argv[optind], &db) != SQLITE_OK)
		die_db(db, "open");
	exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	sqlite3_close(db);
	printf("address u%%07d@d%%03d.example %" PRIu64 "\n", n_addr);
	printf("identity id%%05d.example %" PRIu64 "\n", n_id);
	return 0;
}
