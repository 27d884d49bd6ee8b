/*
 * store/ingest.c, prep.c, apply.c, attrib.c: ingesting is idempotent
 * (the same messages again, with more trace headers, with CRLF, or twice
 * in one run change nothing); one events row per recipient whose JSON
 * lists that recipient and carries rebound.identity, .attribution and
 * .trusted; the raw message comes back byte for byte by event id
 * (compressed or not); unattributed and unclassified feedback is kept
 * and counted; ENVID and Feedback-ID attribute to known identities;
 * any number of worker threads gives the same database; retention
 * prunes raw messages, then messages with their events; rebound.geo
 * comes from the GeoIP test database (data/geoip/test.mmdb); a flush
 * commits what was fed, with or without worker threads.
 */
#include <gio/gio.h>
#include <jansson.h>
#include <lz4.h>

#include "fixtures.h"
#include "test.h"

/* Messages of our own, varied. */
#define N_MSGS 40

static char *msgs[N_MSGS];

static void
make_msgs(void)
{
	size_t i;

	for (i = 0; i < N_MSGS; i++) {
		char id[32], rcpt[64];

		(void)snprintf(id, sizeof(id), "m%zu", i);
		(void)snprintf(rcpt, sizeof(rcpt), "r%zu@%s", i,
		    i % 3 == 0 ? "gmail.com" : "example.net");
		if (i % 5 == 4)
			msgs[i] = fx_arf(id, rcpt, "news@news.example.org",
			    i % 10 == 9 ? "not-spam" : "abuse");
		else
			msgs[i] =
			    fx_dsn(id, rcpt, i % 4 == 1 ? "5.2.2" : "5.1.1",
			        "orders@shop.example.com", "");
	}
}

static char *
dump(const char *name)
{
	char path[512], *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	(void)snprintf(path, sizeof(path), "%s/%s", fx_dir, name);
	test_assert(fx_dump(path, fp) > 0);
	fclose(fp);
	return buf;
}

static void
test_idempotent(const struct classify_rules *rules)
{
	const char *sets[] = {"store.workers=0", "store.batch_size=7", NULL};
	struct store *st = fx_open("idem.db", sets);
	struct store_ingest_summary a, b;
	char *d1, *d2, *again[N_MSGS];
	size_t i;

	test_assert(fx_ingest(st, rules, msgs, N_MSGS, FX_NOW, &a) == 0);
	test_assert(a.messages == N_MSGS && a.stored == N_MSGS);
	test_assert(a.duplicates == 0 && a.errors == 0);
	test_assert(a.events[CLASSIFY_EVENT_BOUNCE] == 32);
	test_assert(a.events[CLASSIFY_EVENT_COMPLAINT] == 8);
	test_assert(a.hard == 24 && a.soft == 8);
	store_close(&st);
	d1 = dump("idem.db");

	/* The same, with a retry's extra Received, or as CRLF. */
	for (i = 0; i < N_MSGS; i++) {
		const char *m = msgs[i];
		size_t n = strlen(m), k, o = 0;

		if (i % 2 == 0) {
			again[i] = malloc(n + 64);
			(void)snprintf(again[i], n + 64,
			    "Received: by mx9 with "
			    "ESMTP;\n\tSat, 1 Jun 2024 11:00:00 +0000\n%s",
			    m);
		} else {
			again[i] = malloc(2 * n + 1);
			for (k = 0; k < n; k++) {
				if (m[k] == '\n')
					again[i][o++] = '\r';
				again[i][o++] = m[k];
			}
			again[i][o] = '\0';
		}
	}
	st = fx_open("idem.db", sets);
	test_assert(
	    fx_ingest(st, rules, again, N_MSGS, FX_NOW + 3600, &b) == 0);
	test_assert(b.messages == N_MSGS && b.duplicates == N_MSGS);
	test_assert(b.stored == 0 && b.hard == 0 && b.suppressed == 0);
	/* Twice in one run: the second is a duplicate. */
	{
		char *two[2];

		two[0] = fx_dsn(
		    "twin", "t@example.net", "5.1.1", "a@shop.example.com", "");
		two[1] = two[0];
		test_assert(fx_ingest(st, rules, two, 2, FX_NOW, &b) == 0);
		test_assert(b.stored == 1 && b.duplicates == 1);
		free(two[0]);
	}
	store_close(&st);
	/* With classifier threads the twin of an uncommitted message is
	 * only found by the insert (the workers' snapshot predates it). */
	{
		const char *w2[] = {"store.workers=2", NULL};
		char *two[3];
		struct store *st2 = fx_open("twins.db", w2);

		two[0] = fx_dsn("twin2", "t@example.net", "5.1.1",
		    "a@shop.example.com", "");
		two[1] = two[0];
		two[2] = two[0];
		test_assert(fx_ingest(st2, rules, two, 3, FX_NOW, &b) == 0);
		test_assert(b.stored == 1 && b.duplicates == 2);
		test_assert(
		    b.events[CLASSIFY_EVENT_BOUNCE] == 1 && b.hard == 1);
		free(two[0]);
		store_close(&st2);
	}
	d2 = dump("idem.db");
	/* Only the twin was added. */
	test_assert(strlen(d2) > strlen(d1));
	for (i = 0; i < N_MSGS; i++)
		free(again[i]);
	free(d1);
	free(d2);
}

static void
test_workers(const struct classify_rules *rules)
{
	const char *w0[] = {"store.workers=0", "store.batch_size=5", NULL};
	const char *w3[] = {"store.workers=3", "store.batch_size=5", NULL};
	struct store *st;
	struct store_ingest_summary a, b;
	char *d0, *d3;

	st = fx_open("w0.db", w0);
	test_assert(fx_ingest(st, rules, msgs, N_MSGS, FX_NOW, &a) == 0);
	store_close(&st);
	st = fx_open("w3.db", w3);
	test_assert(fx_ingest(st, rules, msgs, N_MSGS, FX_NOW, &b) == 0);
	store_close(&st);
	test_assert(memcmp(&a, &b, sizeof(a)) == 0);
	d0 = dump("w0.db");
	d3 = dump("w3.db");
	/* Same rows, ids, JSON (source included: "mem"). */
	test_assert(strcmp(d0, d3) == 0);
	free(d0);
	free(d3);
}

struct ev {
	char json[8192];
	char type[32], recipient[128], identity[128];
	int64_t message_id;
	int trusted;
};

static int
on_event(const struct store_event *e, void *ctx)
{
	struct ev *v = ctx;

	(void)snprintf(v->json, sizeof(v->json), "%s", e->json);
	(void)snprintf(v->type, sizeof(v->type), "%s", e->type);
	(void)snprintf(v->recipient, sizeof(v->recipient), "%s",
	    e->recipient != NULL ? e->recipient : "");
	(void)snprintf(v->identity, sizeof(v->identity), "%s",
	    e->identity != NULL ? e->identity : "");
	v->message_id = e->message_id;
	v->trusted = e->trusted;
	return 0;
}

static const char *
jpath(json_t *root, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(root, a), b));
}

/* A report for three recipients, one reason each. */
static const char multi[] =
    "From: MAILER-DAEMON@mx.example.net\n"
    "Subject: Undelivered\n"
    "Message-ID: <multi@mx.example.net>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=delivery-status;"
    " boundary=\"M\"\n\n"
    "--M\nContent-Type: text/plain\n\nFailed.\n\n"
    "--M\nContent-Type: message/delivery-status\n\n"
    "Reporting-MTA: dns; mx.example.net\n"
    "Original-Envelope-Id: q7x1@bounces.shop.example.com\n\n"
    "Final-Recipient: rfc822; one@example.net\nAction: failed\n"
    "Status: 5.1.1\n\n"
    "Final-Recipient: rfc822; two@example.net\nAction: failed\n"
    "Status: 5.1.1\n\n"
    "Final-Recipient: rfc822; three@example.net\nAction: failed\n"
    "Status: 5.2.2\n\n"
    "--M\nContent-Type: text/rfc822-headers\n\n"
    "From: someone@elsewhere.example\n"
    "Feedback-ID: c1:cust9:mail:news.example.org\n"
    "Subject: hi\n\n"
    "--M--\n";

static void
test_rows(const struct classify_rules *rules, int compress)
{
	const char *sets[] = {"store.workers=0",
	    compress ? "store.compress=true" : "store.compress=false", NULL};
	struct store *st = fx_open(compress ? "rows1.db" : "rows0.db", sets);
	struct store_ingest_summary sum;
	struct rb_error err;
	struct ev e;
	char *m[1];
	json_t *root, *list;
	unsigned char *raw = NULL;
	size_t len = 0;
	int64_t id;

	m[0] = (char *)(uintptr_t)multi;
	/* No known identity yet: the returned From decides. */
	test_assert(fx_ingest(st, rules, m, 1, FX_NOW, &sum) == 0);
	test_assert(sum.stored == 1 && sum.events[CLASSIFY_EVENT_BOUNCE] == 3);
	for (id = 1; id <= 3; id++) {
		test_assert(store_event_get(st, id, on_event, &e, &err) == 1);
		test_assert_streq(e.identity, "elsewhere.example");
		root = json_loads(e.json, 0, NULL);
		test_assert(root != NULL);
		list = json_object_get(
		    json_object_get(root, "bounce"), "bouncedRecipients");
		test_assert(json_array_size(list) == 1);
		test_assert_streq(json_string_value(json_object_get(
		                      json_array_get(list, 0), "emailAddress")),
		    e.recipient);
		test_assert_streq(
		    jpath(root, "rebound", "attribution"), "headers");
		test_assert_streq(
		    jpath(root, "rebound", "identity"), "elsewhere.example");
		test_assert(json_is_true(json_object_get(
		    json_object_get(root, "rebound"), "trusted")));
		json_decref(root);
	}
	test_assert(store_event_get(st, 99, on_event, &e, &err) == 0);
	/* The raw message, by event id, byte for byte. */
	test_assert(store_raw_get(st, 2, 1, &raw, &len, &err) == 1);
	test_assert(len == strlen(multi) && memcmp(raw, multi, len) == 0);
	free(raw);
	test_assert(store_raw_get(st, 99, 1, &raw, &len, &err) == 0);

	/* Known identities: ENVID first, then Feedback-ID. */
	test_assert(store_sends_add(
	                st, "news.example.org", 10, FX_NOW, FX_NOW, &err) == 0);
	m[0] = xstrdup(multi);
	memcpy(strstr(m[0], "<multi@"), "<mult2@", 7);
	test_assert(fx_ingest(st, rules, m, 1, FX_NOW, &sum) == 0);
	test_assert(store_event_get(st, 4, on_event, &e, &err) == 1);
	test_assert_streq(e.identity, "news.example.org");
	root = json_loads(e.json, 0, NULL);
	test_assert_streq(jpath(root, "rebound", "attribution"), "feedback-id");
	json_decref(root);
	test_assert(store_sends_add(
	                st, "shop.example.com", 10, FX_NOW, FX_NOW, &err) == 0);
	memcpy(strstr(m[0], "<mult2@"), "<mult3@", 7);
	test_assert(fx_ingest(st, rules, m, 1, FX_NOW, &sum) == 0);
	test_assert(store_event_get(st, 7, on_event, &e, &err) == 1);
	test_assert_streq(e.identity, "shop.example.com");
	root = json_loads(e.json, 0, NULL);
	test_assert_streq(jpath(root, "rebound", "attribution"), "envid");
	json_decref(root);
	free(m[0]);
	store_close(&st);
}

/*
 * The first column of the first row of sql (its ?1, if any, bound to
 * arg) on database name, read from a connection of its own; -1 when
 * there is no row.
 */
static long
sql_value(const char *name, const char *sql, int64_t arg)
{
	char path[512];
	sqlite3 *db;
	sqlite3_stmt *s;
	long n = -1;

	(void)snprintf(path, sizeof(path), "%s/%s", fx_dir, name);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
	        SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_bind_parameter_count(s) > 0)
			(void)sqlite3_bind_int64(s, 1, arg);
		if (sqlite3_step(s) == SQLITE_ROW)
			n = (long)sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return n;
}

/* The encoding of the raw row of message id (raw.c's values), or -1. */
static int
raw_encoding(const char *db, int64_t id)
{
	return (int)sql_value(
	    db, "SELECT encoding FROM raw_messages WHERE message_id = ?1", id);
}

/* Set the raw row of message id to (encoding, size, data). */
static void
raw_put(const char *db, int64_t id, int enc, size_t size, const void *data,
    size_t len)
{
	char path[512];
	sqlite3 *h;
	sqlite3_stmt *s;

	(void)snprintf(path, sizeof(path), "%s/%s", fx_dir, db);
	test_assert(sqlite3_open(path, &h) == SQLITE_OK);
	test_assert(sqlite3_prepare_v2(h,
	                "UPDATE raw_messages SET encoding = ?2, size = ?3,"
	                " data = ?4 WHERE message_id = ?1",
	                -1, &s, NULL) == SQLITE_OK);
	(void)sqlite3_bind_int64(s, 1, id);
	(void)sqlite3_bind_int(s, 2, enc);
	(void)sqlite3_bind_int64(s, 3, (sqlite3_int64)size);
	(void)sqlite3_bind_blob(s, 4, data, (int)len, SQLITE_TRANSIENT);
	test_assert(sqlite3_step(s) == SQLITE_DONE);
	sqlite3_finalize(s);
	sqlite3_close(h);
}

/*
 * Raw messages: LZ4 by default, as is with store.compress=false,
 * deflate rows (of earlier versions) still read, a damaged blob is an
 * error, never wrong bytes.
 */
static void
test_raw_encodings(const struct classify_rules *rules)
{
	const char *sets[] = {"store.workers=0", NULL};
	const char *plain[] = {"store.workers=0", "store.compress=false", NULL};
	struct store *st;
	struct store_ingest_summary sum;
	struct rb_error err;
	GZlibCompressor *z;
	unsigned char out[8192], *raw = NULL;
	gsize rd = 0, wr = 0;
	size_t len = 0;
	char *m[1];

	m[0] = (char *)(uintptr_t)multi;
	st = fx_open("enc.db", sets);
	test_assert(fx_ingest(st, rules, m, 1, FX_NOW, &sum) == 0);
	store_close(&st);
	test_assert(raw_encoding("enc.db", 1) == 2);
	st = fx_open("enc0.db", plain);
	test_assert(fx_ingest(st, rules, m, 1, FX_NOW, &sum) == 0);
	store_close(&st);
	test_assert(raw_encoding("enc0.db", 1) == 0);

	/* A deflate row. */
	z = g_zlib_compressor_new(G_ZLIB_COMPRESSOR_FORMAT_RAW, 6);
	test_assert(g_converter_convert(G_CONVERTER(z), multi, strlen(multi),
	                out, sizeof(out), G_CONVERTER_INPUT_AT_END, &rd, &wr,
	                NULL) == G_CONVERTER_FINISHED);
	g_object_unref(z);
	raw_put("enc.db", 1, 1, strlen(multi), out, wr);
	st = fx_open("enc.db", sets);
	test_assert(store_raw_get(st, 1, 0, &raw, &len, &err) == 1);
	test_assert(len == strlen(multi) && memcmp(raw, multi, len) == 0);
	free(raw);
	store_close(&st);

	/* Damaged: truncated deflate, an LZ4 block cut short, a wrong
	 * size, an unknown encoding. */
	raw_put("enc.db", 1, 1, strlen(multi), out, wr / 2);
	st = fx_open("enc.db", sets);
	test_assert(store_raw_get(st, 1, 0, &raw, &len, &err) == -1);
	store_close(&st);
	{
		char block[8192];
		int n = LZ4_compress_default(
		    multi, block, (int)strlen(multi), (int)sizeof(block));

		test_assert(n > 0);
		raw_put("enc.db", 1, 2, strlen(multi), block, (size_t)n / 2);
	}
	st = fx_open("enc.db", sets);
	test_assert(store_raw_get(st, 1, 0, &raw, &len, &err) == -1);
	store_close(&st);
	raw_put("enc.db", 1, 1, strlen(multi) + 1, out, wr);
	st = fx_open("enc.db", sets);
	test_assert(store_raw_get(st, 1, 0, &raw, &len, &err) == -1);
	store_close(&st);
	raw_put("enc.db", 1, 7, strlen(multi), multi, strlen(multi));
	st = fx_open("enc.db", sets);
	test_assert(store_raw_get(st, 1, 0, &raw, &len, &err) == -1);
	store_close(&st);
}

struct rv {
	char why[32];
	int n;
};

static int
on_review(const struct store_review *r, void *ctx)
{
	struct rv *v = ctx;

	(void)snprintf(v->why, sizeof(v->why), "%s", r->why);
	v->n++;
	return 0;
}

static void
test_review(const struct classify_rules *rules)
{
	static const char not_feedback[] =
	    "From: Tom <tom@example.net>\nTo: bounces@example.com\n"
	    "Subject: Question about my order\nMessage-ID: <q@example.net>\n"
	    "\nWhere is my parcel?\n";
	static const char anonymous[] =
	    "From: MAILER-DAEMON@mx.example.net\n"
	    "Subject: Undelivered Mail Returned to Sender\n"
	    "Message-ID: <anon@mx.example.net>\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;"
	    " boundary=\"Z\"\n\n"
	    "--Z\nContent-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; mx.example.net\n\n"
	    "Action: failed\nStatus: 5.0.0\n\n--Z--\n";
	const char *sets[] = {"store.workers=0", NULL};
	struct store *st = fx_open("review.db", sets);
	struct store_ingest_summary sum;
	struct rb_error err;
	struct rv v = {"", 0};
	char *m[2];

	m[0] = (char *)(uintptr_t)not_feedback;
	m[1] = (char *)(uintptr_t)anonymous;
	test_assert(fx_ingest(st, rules, m, 2, FX_NOW, &sum) == 0);
	test_assert(sum.stored == 2 && sum.unclassified == 2);
	/* The anonymous bounce: kept, no identity. */
	test_assert(sum.unattributed == 1);
	test_assert(store_review_list(st, 0, on_review, &v, &err) == 0);
	test_assert(v.n == 2);
	test_assert_streq(v.why, "not-feedback"); /* oldest last */
	v.n = 0;
	test_assert(store_review_get(st, 2, on_review, &v, &err) == 1);
	test_assert_streq(v.why, "no-recipient");
	test_assert(store_review_get(st, 3, on_review, &v, &err) == 0);
	{
		struct store_totals t;

		test_assert(store_totals(st, FX_NOW, 0, &t, &err) == 0);
		test_assert(t.review == 2 && t.unattributed == 1);
	}
	store_close(&st);
}

static void
test_prune(const struct classify_rules *rules)
{
	const char *sets[] = {"store.workers=0", "retention.raw=10d",
	    "retention.events=20d", "retention.prune_batch=3", NULL};
	struct store *st = fx_open("prune.db", sets);
	struct store_ingest_summary sum;
	struct store_prune_summary pr;
	struct rb_error err;
	unsigned char *raw;
	size_t len;
	struct ev e;

	test_assert(fx_ingest(st, rules, msgs, 10, FX_NOW, &sum) == 0);
	test_assert(store_prune(st, FX_NOW + 5 * FX_DAY, &pr, &err) == 0);
	test_assert(pr.raw == 0 && pr.messages == 0);
	test_assert(store_prune(st, FX_NOW + 11 * FX_DAY, &pr, &err) == 0);
	/* 10 rows, 3 per transaction: 4 transactions (3 + 3 + 3 + 1). */
	test_assert(pr.raw == 10 && pr.messages == 0);
	test_assert(store_raw_get(st, 1, 1, &raw, &len, &err) == 0);
	test_assert(store_event_get(st, 1, on_event, &e, &err) == 1);
	test_assert(store_prune(st, FX_NOW + 21 * FX_DAY, &pr, &err) == 0);
	test_assert(pr.messages == 10);
	test_assert(store_event_get(st, 1, on_event, &e, &err) == 0);
	test_assert(store_check(st, &err) == 0);
	/* Forgotten: ingesting them again stores them again. */
	test_assert(
	    fx_ingest(st, rules, msgs, 10, FX_NOW + 21 * FX_DAY, &sum) == 0);
	test_assert(sum.stored == 10);
	store_close(&st);
}

/* Rows of messages committed, seen from another connection. */
static long
committed(const char *name)
{
	return sql_value(name, "SELECT count(*) FROM messages", 0);
}

/* store_ingest_flush: what was fed is committed, batch full or not. */
static void
test_flush(const struct classify_rules *rules, const char *workers)
{
	const char *sets[] = {workers, NULL};
	struct store *st = fx_open("flush.db", sets);
	struct store_ingest *ing;
	struct store_ingest_summary sum;
	struct rb_error err;
	size_t i;

	test_assert(store_ingest_begin(st, rules, FX_NOW, &ing, &err) == 0);
	for (i = 0; i < 8; i++) {
		struct store_source src = {"mem", (long)i, "smtp", NULL};

		test_assert(store_ingest_feed(ing, (unsigned char *)msgs[i],
		                strlen(msgs[i]), &src, &err) == 0);
		if (i == 4) {
			test_assert(store_ingest_flush(ing, &err) == 0);
			test_assert(committed("flush.db") == 5);
		}
	}
	test_assert(store_ingest_flush(ing, &err) == 0);
	test_assert(committed("flush.db") == 8);
	test_assert(store_ingest_flush(ing, &err) == 0);
	test_assert(store_ingest_end(&ing, &sum, &err) == 0);
	test_assert(sum.stored == 8 && sum.messages == 8);
	store_close(&st);
	{
		/* The next run (other workers) starts from nothing. */
		char path[600];

		(void)snprintf(path, sizeof(path), "%s/flush.db", fx_dir);
		(void)unlink(path);
	}
}

/* rebound.geo from data/geoip/test.mmdb: the ARF Source-IP 192.0.2.10
 * is DE, AS 64496 there. */
static void
test_geo(const struct classify_rules *rules)
{
	const char *src = getenv("REBOUND_SOURCE_DIR");
	char kv[600];
	const char *sets[] = {"store.workers=0", kv, NULL};
	struct store *st;
	struct store_ingest_summary sum;
	struct rb_error err;
	struct ev e;
	json_t *root, *g;
	char *m[1];

	(void)snprintf(kv, sizeof(kv),
	    "geoip.country_db=%s/data/geoip/"
	    "test.mmdb",
	    src != NULL ? src : ".");
	st = fx_open("geo.db", sets);
	m[0] = fx_arf(
	    "geo1", "someone@example.net", "news@news.example.org", "abuse");
	test_assert(fx_ingest(st, rules, m, 1, FX_NOW, &sum) == 0);
	free(m[0]);
	test_assert(store_event_get(st, 1, on_event, &e, &err) == 1);
	root = json_loads(e.json, 0, NULL);
	g = json_object_get(
	    json_object_get(json_object_get(root, "rebound"), "geo"),
	    "sourceIp");
	test_assert_streq(
	    json_string_value(json_object_get(g, "ip")), "192.0.2.10");
	test_assert_streq(
	    json_string_value(json_object_get(g, "country")), "DE");
	test_assert(json_integer_value(json_object_get(g, "asn")) == 64496);
	json_decref(root);
	store_close(&st);

	/* A database that is not there: a clear error at open. */
	{
		const char *bad[] = {
		    "geoip.asn_db=/nonexistent/asn.mmdb", NULL};
		struct config *cfg = fx_config("geo2.db", bad);

		test_assert(store_open(cfg, &st, &err) < 0);
		test_assert(strstr(err.msg, "/nonexistent/asn.mmdb") != NULL);
		config_free(&cfg);
	}
}

int
main(void)
{
	struct classify_rules *rules;
	size_t i;

	fx_tmpdir();
	rules = fx_rules();
	make_msgs();
	test_idempotent(rules);
	test_workers(rules);
	test_rows(rules, 1);
	test_rows(rules, 0);
	test_raw_encodings(rules);
	test_review(rules);
	test_prune(rules);
	test_geo(rules);
	test_flush(rules, "store.workers=0");
	test_flush(rules, "store.workers=2");
	for (i = 0; i < N_MSGS; i++)
		free(msgs[i]);
	classify_rules_free(&rules);
	classify_global_shutdown();
	fx_cleanup();
	return test_exit();
}
