/*
 * store/outbox.c: rebound.eventId and notificationType in the event
 * JSON (the classifier's layout and any other); the outbox rows of an
 * ingest, a manual suppression, a removal and an alert, read in order
 * with the stored JSON and the identity as key; removal after delivery;
 * suppression values built at read time (tombstone when nothing is in
 * force); the expiry sweep; kafka.enabled = false; the sends topic:
 * offsets kept with the counts, replays and malformed records.
 */
#include <jansson.h>

#include "fixtures.h"
#include "test.h"

#include "../../../store/outbox.c"

static const unsigned char key16[STORE_KEY_LEN] = {0x01, 0x23, 0x45, 0x67, 0x89,
    0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10, 0xff};

static void
test_event_json(void)
{
	/* clang-format off */
	static const struct {
		const char *in;
		enum classify_event_type type;
		const char *want;
	} cases[] = {
		{"{\"eventType\":\"Bounce\",\"bounce\":{},\"rebound\":"
		 "{\"identity\":\"a.example\"}}", CLASSIFY_EVENT_BOUNCE,
		 "{\"eventType\":\"Bounce\",\"notificationType\":\"Bounce\","
		 "\"bounce\":{},\"rebound\":{\"eventId\":"
		 "\"0123456789abcdeffedcba9876543210-2\","
		 "\"identity\":\"a.example\"}}"},
		{"{\"eventType\":\"AutoReply\",\"autoReply\":{},\"rebound\":{}}",
		 CLASSIFY_EVENT_AUTOREPLY,
		 "{\"eventType\":\"AutoReply\",\"autoReply\":{},\"rebound\":"
		 "{\"eventId\":\"0123456789abcdeffedcba9876543210-2\"}}"},
		{"{\"eventType\":\"DeliveryDelay\",\"x\":\",\\\"rebound\\\":{\","
		 "\"rebound\":{\"a\":1}}", CLASSIFY_EVENT_DELAY,
		 "{\"eventType\":\"DeliveryDelay\",\"x\":\",\\\"rebound\\\":{\","
		 "\"rebound\":{\"eventId\":\"0123456789abcdeffedcba9876543210-2\","
		 "\"a\":1}}"},
		/* Not the classifier's layout: through jansson. */
		{"{\"bounce\":{},\"eventType\":\"Complaint\"}",
		 CLASSIFY_EVENT_COMPLAINT,
		 "{\"bounce\":{},\"eventType\":\"Complaint\",\"rebound\":"
		 "{\"eventId\":\"0123456789abcdeffedcba9876543210-2\"},"
		 "\"notificationType\":\"Complaint\"}"},
		{"not json", CLASSIFY_EVENT_BOUNCE, "not json"},
	};
	/* clang-format on */
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *js = xstrdup(cases[i].in);

		outbox_event_json(&js, key16, 2, cases[i].type);
		test_assert_idx(strcmp(js, cases[i].want) == 0, i);
		if (strcmp(js, cases[i].want) != 0)
			fprintf(
			    stderr, "got  %s\nwant %s\n", js, cases[i].want);
		free(js);
	}
}

struct rows {
	struct store_outbox_msg m[64];
	char *key[64], *value[64];
	size_t n;
	int64_t last;
};

static int
on_row(const struct store_outbox_msg *m, void *ctx)
{
	struct rows *r = ctx;

	if (r->n == 64)
		return -1;
	r->m[r->n] = *m;
	r->key[r->n] = m->key != NULL ? xstrndup(m->key, m->key_len) : NULL;
	r->value[r->n] =
	    m->value != NULL ? xstrndup(m->value, m->value_len) : NULL;
	r->last = m->id;
	r->n++;
	return 0;
}

static void
rows_free(struct rows *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->key[i]);
		free(r->value[i]);
	}
	memset(r, 0, sizeof(*r));
}

static void
read_all(struct store *st, time_t now, struct rows *r)
{
	struct rb_error err;

	memset(r, 0, sizeof(*r));
	test_assert(
	    store_outbox_read(st, 0, 64, now, on_row, r, &err) == (int)r->n);
}

/* The suppression value of r's row i: the lists of its entries. */
static void
entries_of(const char *value, char *out, size_t len)
{
	json_t *root = json_loads(value, 0, NULL), *e;
	size_t i, o = 0;

	out[0] = '\0';
	json_array_foreach(json_object_get(root, "entries"), i, e)
	{
		o +=
		    (size_t)snprintf(out + o, len - o, "%s%s", o > 0 ? "," : "",
		        json_string_value(json_object_get(e, "list")));
	}
	json_decref(root);
}

static void
test_rows(const struct classify_rules *rules)
{
	const char *sets[] = {
	    fx_providers_setting(), "rates.min_sends=1", NULL};
	struct store *st = fx_open("rows.db", sets);
	struct store_outbox_stats os;
	struct rb_error err;
	struct rows r;
	char *msgs[2], ents[64];
	unsigned removed = 0;
	uint64_t n = 0;
	json_t *v;

	msgs[0] = fx_dsn(
	    "r1", "anna@example.org", "5.1.1", "orders@shop.example.com", "");
	msgs[1] = fx_dsn(
	    "r2", "ben@example.org", "4.2.2", "orders@shop.example.com", "");
	test_assert(fx_ingest(st, rules, msgs, 2, FX_NOW, NULL) == 0);
	free(msgs[0]);
	free(msgs[1]);
	read_all(st, FX_NOW, &r);
	/* Event 1, its global and account suppression, event 2. */
	test_assert(r.n == 4);
	test_assert(r.m[0].topic == STORE_TOPIC_EVENTS);
	test_assert_streq(r.key[0], "shop.example.com");
	test_assert(r.value[0] != NULL &&
	            strstr(r.value[0], "\"eventId\":\"") != NULL &&
	            strstr(r.value[0], "anna@example.org") != NULL);
	test_assert(r.m[1].topic == STORE_TOPIC_SUPPRESSION);
	test_assert_streq(r.key[1], "anna@example.org");
	v = json_loads(r.value[1] != NULL ? r.value[1] : "", 0, NULL);
	test_assert_streq(json_string_value(json_object_get(v, "emailAddress")),
	    "anna@example.org");
	test_assert_streq(
	    json_string_value(json_object_get(v, "list")), "global");
	test_assert_streq(
	    json_string_value(json_object_get(v, "reason")), "BOUNCE");
	test_assert_streq(json_string_value(json_object_get(v, "expiresAt")),
	    "2024-06-15T12:00:00.000Z");
	test_assert_streq(
	    json_string_value(json_object_get(v, "lastUpdateTime")),
	    "2024-06-01T12:00:00.000Z");
	json_decref(v);
	entries_of(r.value[1], ents, sizeof(ents));
	test_assert_streq(ents, "global,account");
	test_assert(r.m[3].topic == STORE_TOPIC_EVENTS &&
	            strstr(r.value[3], "ben@example.org") != NULL);
	test_assert(r.m[0].id < r.m[1].id && r.m[2].id < r.m[3].id);
	/* The stored event is what is published. */
	{
		sqlite3_stmt *s;

		test_assert(sqlite3_prepare_v2(st->db,
		                "SELECT json FROM events ORDER BY id LIMIT 1",
		                -1, &s, NULL) == SQLITE_OK);
		test_assert(sqlite3_step(s) == SQLITE_ROW);
		test_assert_streq(col_text(s, 0), r.value[0]);
		sqlite3_finalize(s);
	}
	test_assert(store_outbox_stats(st, &os, &err) == 0);
	test_assert(os.depth == 4 && os.by_topic[STORE_TOPIC_EVENTS] == 2 &&
	            os.by_topic[STORE_TOPIC_SUPPRESSION] == 2 &&
	            os.oldest == FX_NOW && os.last_id == r.m[3].id);
	/* Another writer holds the lock: a removal with a short wait is
	 * put off (1), nothing removed; then done once the lock is free. */
	{
		char path[512];
		sqlite3 *other;

		(void)snprintf(path, sizeof(path), "%s/rows.db", fx_dir);
		test_assert(sqlite3_open(path, &other) == SQLITE_OK);
		test_assert(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
		                NULL) == SQLITE_OK);
		test_assert(store_outbox_done(st, r.m[1].id, 30, &err) == 1);
		test_assert(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL) ==
		            SQLITE_OK);
		sqlite3_close(other);
		test_assert(store_outbox_stats(st, &os, &err) == 0);
		test_assert(os.depth == 4);
	}
	/* Delivered up to row 2: two are left, in order. */
	test_assert(store_outbox_done(st, r.m[1].id, 30, &err) == 0);
	rows_free(&r);
	read_all(st, FX_NOW, &r);
	test_assert(r.n == 2 && r.m[0].topic == STORE_TOPIC_SUPPRESSION);
	test_assert(store_outbox_done(st, r.last, 0, &err) == 0);
	rows_free(&r);
	read_all(st, FX_NOW, &r);
	test_assert(r.n == 0);
	/* Ids go on after the table was emptied. */
	test_assert(store_suppression_add(st, "shop", "Carl@Example.org",
	                "COMPLAINT", FX_NOW + 10, &err) == 0);
	read_all(st, FX_NOW + 10, &r);
	test_assert(r.n == 1 && r.m[0].id > os.last_id);
	test_assert_streq(r.key[0], "carl@example.org");
	v = json_loads(r.value[0] != NULL ? r.value[0] : "", 0, NULL);
	test_assert_streq(
	    json_string_value(json_object_get(v, "account")), "shop");
	test_assert(json_is_null(json_object_get(v, "expiresAt")));
	json_decref(v);
	/* Removed: the row is read as a tombstone. */
	test_assert(store_suppression_remove(st, NULL, "carl@example.org",
	                FX_NOW + 20, &removed, &err) == 0);
	test_assert(removed == 1);
	rows_free(&r);
	read_all(st, FX_NOW + 20, &r);
	test_assert(r.n == 2 && r.value[0] == NULL && r.value[1] == NULL);
	test_assert(store_outbox_done(st, r.last, 0, &err) == 0);
	rows_free(&r);
	/* A sends add crossing the threshold: an alert row. */
	test_assert(store_sends_add(st, "shop.example.com", 10, FX_NOW,
	                FX_NOW + 30, &err) == 0);
	read_all(st, FX_NOW + 30, &r);
	test_assert(r.n == 1 && r.m[0].topic == STORE_TOPIC_ALERTS);
	test_assert_streq(r.key[0], "shop.example.com");
	v = json_loads(r.value[0] != NULL ? r.value[0] : "", 0, NULL);
	test_assert_streq(
	    json_string_value(json_object_get(v, "metric")), "bounce");
	test_assert_streq(json_string_value(json_object_get(v, "from")), "ok");
	test_assert_streq(
	    json_string_value(json_object_get(v, "to")), "critical");
	json_decref(v);
	test_assert(store_outbox_done(st, r.last, 0, &err) == 0);
	rows_free(&r);

	/* Expiry: the first sweep only sets the mark; after the 14 days
	 * the next one adds a row, read without the global entry. */
	test_assert(store_outbox_sweep(st, FX_NOW + 40, &n, &err) == 0);
	test_assert(n == 0);
	test_assert(
	    store_outbox_sweep(st, FX_NOW + 15 * FX_DAY, &n, &err) == 0);
	test_assert(n == 1);
	read_all(st, FX_NOW + 15 * FX_DAY, &r);
	test_assert(r.n == 1 && r.m[0].topic == STORE_TOPIC_SUPPRESSION);
	test_assert_streq(r.key[0], "anna@example.org");
	entries_of(r.value[0] != NULL ? r.value[0] : "{}", ents, sizeof(ents));
	test_assert_streq(ents, "account");
	test_assert(
	    store_outbox_sweep(st, FX_NOW + 16 * FX_DAY, &n, &err) == 0);
	test_assert(n == 0);
	test_assert(store_outbox_stats(st, &os, &err) == 0);
	test_assert(os.swept == FX_NOW + 15 * FX_DAY);
	rows_free(&r);
	store_close(&st);
}

static void
test_disabled(const struct classify_rules *rules)
{
	const char *sets[] = {"kafka.enabled=false", NULL};
	struct store *st = fx_open("off.db", sets);
	struct store_outbox_stats os;
	struct rb_error err;
	char *m = fx_dsn(
	    "d1", "dora@example.org", "5.1.1", "orders@shop.example.com", "");
	uint64_t n = 9;

	test_assert(fx_ingest(st, rules, &m, 1, FX_NOW, NULL) == 0);
	free(m);
	test_assert(
	    store_outbox_sweep(st, FX_NOW + 30 * FX_DAY, &n, &err) == 0);
	test_assert(store_outbox_stats(st, &os, &err) == 0);
	test_assert(os.depth == 0 && os.last_id == 0 && n == 0);
	store_close(&st);
}

struct offs {
	int n;
	int64_t next[4];
};

static int
on_off(const char *topic, int32_t p, int64_t next, void *ctx)
{
	struct offs *o = ctx;

	(void)topic;
	if (p >= 0 && p < 4)
		o->next[p] = next;
	o->n++;
	return 0;
}

struct bads {
	int n;
	int64_t offset;
};

static void
on_bad_rec(const struct store_send_record *r, const char *why, void *ctx)
{
	struct bads *b = ctx;

	(void)why;
	b->n++;
	b->offset = r->offset;
}

static uint64_t
sends_of(struct store *st, const char *identity)
{
	struct rb_error err;
	sqlite3_stmt *s;
	uint64_t n = 0;

	(void)err;
	if (sqlite3_prepare_v2(st->db,
	        "SELECT coalesce(sum(sends), 0) FROM counters"
	        " WHERE identity = ?1",
	        -1, &s, NULL) != SQLITE_OK)
		return 0;
	(void)bind_text(s, 1, identity);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

static void
test_sends(void)
{
	static const char send1[] =
	    "{\"eventType\":\"Send\",\"mail\":{\"timestamp\":"
	    "\"2024-06-01T11:00:00Z\",\"source\":\"a@shop.example.com\","
	    "\"destination\":[\"x@example.org\",\"y@example.org\"]}}";
	static const char send2[] =
	    "{\"eventType\":\"Send\",\"mail\":{\"source\":"
	    "\"News "
	    "<n@news.example.org>\",\"destination\":[\"z@example.org\"]}}";
	static const char other[] = "{\"eventType\":\"Delivery\",\"mail\":{}}";
	static const char junk[] = "{\"eventType\":\"Send\",\"mail\":";
	static const char nosrc[] = "{\"eventType\":\"Send\",\"mail\":{}}";
	struct store *st = fx_open("sends.db", NULL);
	struct store_send_record recs[] = {
	    {0, 0, send1, sizeof(send1) - 1},
	    {0, 1, junk, sizeof(junk) - 1},
	    {1, 7, send2, sizeof(send2) - 1},
	    {0, 2, other, sizeof(other) - 1},
	    {1, 8, nosrc, sizeof(nosrc) - 1},
	    {1, 9, "", 0},
	    {0, 3, "[1]", 3},
	};
	struct store_consume_summary sum;
	struct store_outbox_stats os;
	struct bads b = {0, -1};
	struct offs o = {0, {-1, -1, -1, -1}};
	struct rb_error err;

	test_assert(store_sends_consume(st, "s", recs, 7, FX_NOW, on_bad_rec,
	                &b, &sum, &err) == 0);
	test_assert(sum.records == 7 && sum.sends == 3 && sum.skipped == 1 &&
	            sum.malformed == 4 && sum.replayed == 0);
	test_assert(b.n == 4);
	test_assert(sends_of(st, "shop.example.com") == 2);
	test_assert(sends_of(st, "news.example.org") == 1);
	test_assert(store_sends_offsets(st, "s", on_off, &o, &err) == 0);
	test_assert(o.n == 2 && o.next[0] == 4 && o.next[1] == 10);
	/* The same records again (a lost commit): nothing counts twice;
	 * a new one after them does. */
	recs[6].offset = 4;
	recs[6].data = send1;
	recs[6].len = sizeof(send1) - 1;
	test_assert(store_sends_consume(st, "s", recs, 7, FX_NOW, on_bad_rec,
	                &b, &sum, &err) == 0);
	test_assert(sum.replayed == 6 && sum.sends == 2 && sum.malformed == 0);
	test_assert(sends_of(st, "shop.example.com") == 4);
	/* Another topic has offsets of its own. */
	test_assert(store_sends_consume(
	                st, "t", recs, 1, FX_NOW, NULL, NULL, &sum, &err) == 0);
	test_assert(sum.sends == 2 && sends_of(st, "shop.example.com") == 6);
	test_assert(store_outbox_stats(st, &os, &err) == 0);
	test_assert(os.sends_records == 9 && os.sends_malformed == 4);
	store_close(&st);
}

int
main(void)
{
	struct classify_rules *rules;

	fx_tmpdir();
	rules = fx_rules();
	test_event_json();
	test_rows(rules);
	test_disabled(rules);
	test_sends();
	classify_rules_free(&rules);
	fx_cleanup();
	return test_exit();
}
