/*
 * store/attrib.c with signed VERP tokens (classify/verp.c): a valid token
 * in the envelope recipient or the Delivered-To header attributes the
 * feedback to the token's identity whatever the returned headers say; a
 * token signed with another secret (forged) makes the feedback untrusted:
 * stored and counted, but no rate, no suppression, no alert moves.  A
 * valid token replayed in a report about another recipient is untrusted
 * for that row; a forwarded recipient named by Original-Recipient is not.
 */
#include <jansson.h>

#include "fixtures.h"
#include "test.h"

#define SECRET "test-secret-0123456789"
#define OTHER "forger-secret-987654321"

static void
token(const char *secret, const char *identity, const char *rcpt, char *out,
    size_t len)
{
	struct classify_verp f;
	struct rb_error err;

	memset(&f, 0, sizeof(f));
	(void)snprintf(f.identity, sizeof(f.identity), "%s", identity);
	(void)snprintf(f.recipient, sizeof(f.recipient), "%s", rcpt);
	f.sent = FX_NOW;
	if (classify_verp_encode(&f, secret, strlen(secret),
	        "bounces.example.com", out, len, &err) < 0) {
		fprintf(stderr, "encode: %s\n", err.msg);
		exit(1);
	}
}

struct ev {
	char json[8192];
	int trusted;
	char identity[128];
};

static int
on_event(const struct store_event *e, void *ctx)
{
	struct ev *v = ctx;

	(void)snprintf(v->json, sizeof(v->json), "%s", e->json);
	(void)snprintf(v->identity, sizeof(v->identity), "%s",
	    e->identity != NULL ? e->identity : "");
	v->trusted = e->trusted;
	return 0;
}

static const char *
rb_field(const char *js, const char *key, char *buf, size_t len)
{
	json_t *root = json_loads(js, 0, NULL);
	json_t *v = json_object_get(json_object_get(root, "rebound"), key);

	if (json_is_string(v))
		(void)snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_boolean(v))
		(void)snprintf(
		    buf, len, "%s", json_is_true(v) ? "true" : "false");
	else
		(void)snprintf(buf, len, "(none)");
	json_decref(root);
	return buf;
}

static int
on_stats(const struct store_identity_stats *s, void *ctx)
{
	*(struct store_identity_stats *)ctx = *s;
	return 0;
}

/* Counters, suppressions and alerts as text (not messages/events). */
static char *
state(const char *db)
{
	char path[512], *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	sqlite3 *h;
	sqlite3_stmt *s;
	static const char *const q[] = {
	    "SELECT identity, hour, sends, hard, soft, complaints FROM counters"
	    " ORDER BY 1, 2",
	    "SELECT * FROM suppression_global ORDER BY 1",
	    "SELECT * FROM suppression_account ORDER BY 1, 2",
	    "SELECT * FROM alerts ORDER BY 1"};
	size_t i;

	(void)snprintf(path, sizeof(path), "%s/%s", fx_dir, db);
	if (sqlite3_open(path, &h) != SQLITE_OK)
		exit(1);
	for (i = 0; i < 4; i++) {
		int c, n;

		if (sqlite3_prepare_v2(h, q[i], -1, &s, NULL) != SQLITE_OK)
			exit(1);
		n = sqlite3_column_count(s);
		while (sqlite3_step(s) == SQLITE_ROW) {
			for (c = 0; c < n; c++)
				fprintf(fp, "%s|",
				    sqlite3_column_text(s, c)
				        ? (const char *)sqlite3_column_text(
				              s, c)
				        : "NULL");
			fputc('\n', fp);
		}
		sqlite3_finalize(s);
	}
	sqlite3_close(h);
	fclose(fp);
	return buf;
}

/* A DSN for final (and original, unless NULL), with trace on top. */
static char *
dsn_orig(
    const char *id, const char *final, const char *original, const char *trace)
{
	char *m = fx_dsn(id, final, "5.1.1", "orders@shop.example.com", trace);
	char *at = strstr(m, "Final-Recipient:"), *out;
	size_t n;

	if (original == NULL)
		return m;
	n = strlen(m) + strlen(original) + 64;
	out = xmalloc(n);
	(void)snprintf(out, n, "%.*sOriginal-Recipient: rfc822; %s\n%s",
	    (int)(at - m), m, original, at);
	free(m);
	return out;
}

/*
 * A valid token of gone@example.net in reports about others: one
 * naming victim@example.net only is untrusted for that row (no
 * suppression, only the untrusted counter); one whose Original-Recipient
 * is the token's (a forward to another mailbox) is trusted.
 */
static void
test_replay(const struct classify_rules *rules, const char *const *sets)
{
	struct store *st = fx_open("replay.db", sets);
	struct store_ingest_summary sum;
	struct store_identity_stats s;
	struct rb_error err;
	struct ev e;
	char addr[CLASSIFY_VERP_ADDRESS_SIZE], trace[512], buf[128];
	char *m[2];
	int sup;

	test_assert(store_sends_add(st, "shop.example.com", 100, FX_NOW, FX_NOW,
	                &err) == 0);
	token(
	    SECRET, "shop.example.com", "Gone@Example.NET", addr, sizeof(addr));
	(void)snprintf(trace, sizeof(trace), "Delivered-To: %s\n", addr);
	m[0] = dsn_orig("r1", "victim@example.net", NULL, trace);
	m[1] = dsn_orig(
	    "r2", "gone.forward@mail.example.org", "gone@example.net", trace);
	test_assert(fx_ingest(st, rules, m, 2, FX_NOW, &sum) == 0);
	free(m[0]);
	free(m[1]);
	test_assert(sum.stored == 2 && sum.untrusted == 1);
	test_assert(store_event_get(st, 1, on_event, &e, &err) == 1);
	test_assert(e.trusted == 0);
	test_assert_streq(e.identity, "shop.example.com");
	test_assert_streq(
	    rb_field(e.json, "trusted", buf, sizeof(buf)), "false");
	test_assert(store_suppression_check(st, "victim@example.net", NULL,
	                FX_NOW, NULL, NULL, &sup, &err) == 0 &&
	            sup == 0);
	test_assert(store_event_get(st, 2, on_event, &e, &err) == 1);
	test_assert(e.trusted == 1);
	test_assert_streq(
	    rb_field(e.json, "trusted", buf, sizeof(buf)), "true");
	test_assert(store_suppression_check(st, "gone.forward@mail.example.org",
	                NULL, FX_NOW, NULL, NULL, &sup, &err) == 0 &&
	            sup == 1);
	memset(&s, 0, sizeof(s));
	test_assert(store_stats(st, "shop.example.com", FX_NOW, 0, on_stats, &s,
	                &err) == 0);
	test_assert(s.hard == 1 && s.untrusted == 1);
	store_close(&st);
}

int
main(void)
{
	const char *sets[] = {"store.workers=0", "verp.secret=" SECRET,
	    "rates.min_sends=10", NULL};
	struct classify_rules *rules;
	struct store *st;
	struct store_ingest_summary sum;
	struct store_identity_stats s;
	struct rb_error err;
	struct ev e;
	char addr[CLASSIFY_VERP_ADDRESS_SIZE], trace[512], buf[128];
	char *m[1], *before, *after;
	int sup;

	fx_tmpdir();
	rules = fx_rules();
	st = fx_open("verp.db", sets);
	test_assert(store_sends_add(st, "shop.example.com", 100, FX_NOW, FX_NOW,
	                &err) == 0);

	/* A valid token in Delivered-To beats the returned From. */
	token(
	    SECRET, "shop.example.com", "gone@example.net", addr, sizeof(addr));
	(void)snprintf(trace, sizeof(trace), "Delivered-To: %s\n", addr);
	m[0] = fx_dsn("v1", "gone@example.net", "5.1.1",
	    "someone@elsewhere.example", trace);
	test_assert(fx_ingest(st, rules, m, 1, FX_NOW, &sum) == 0);
	free(m[0]);
	test_assert(sum.stored == 1 && sum.untrusted == 0);
	test_assert(store_event_get(st, 1, on_event, &e, &err) == 1);
	test_assert(e.trusted == 1);
	test_assert_streq(e.identity, "shop.example.com");
	test_assert_streq(
	    rb_field(e.json, "attribution", buf, sizeof(buf)), "verp");
	test_assert_streq(
	    rb_field(e.json, "trusted", buf, sizeof(buf)), "true");
	test_assert(store_suppression_check(st, "gone@example.net", NULL,
	                FX_NOW, NULL, NULL, &sup, &err) == 0 &&
	            sup == 1);

	/* The same in the SMTP envelope recipient. */
	token(
	    SECRET, "news.example.org", "away@example.net", addr, sizeof(addr));
	{
		struct store_ingest *ing;
		struct store_source src = {"smtp", -1, "smtp", addr};

		m[0] = fx_dsn("v2", "away@example.net", "5.1.1",
		    "someone@elsewhere.example", "");
		test_assert(
		    store_ingest_begin(st, rules, FX_NOW, &ing, &err) == 0);
		test_assert(store_ingest_feed(ing, (unsigned char *)m[0],
		                strlen(m[0]), &src, &err) == 0);
		test_assert(store_ingest_end(&ing, &sum, &err) == 0);
		free(m[0]);
		test_assert(store_event_get(st, 2, on_event, &e, &err) == 1);
		test_assert_streq(e.identity, "news.example.org");
	}
	store_close(&st);

	/* Forged: signed with another secret.  Stored, counted, untrusted;
	 * rates, lists and alerts do not move. */
	before = state("verp.db");
	st = fx_open("verp.db", sets);
	token(OTHER, "shop.example.com", "victim@example.net", addr,
	    sizeof(addr));
	(void)snprintf(trace, sizeof(trace), "Delivered-To: %s\n", addr);
	{
		char *many[20];
		size_t i;

		/* Twenty would make 20 % bounces: critical, if believed. */
		for (i = 0; i < 20; i++) {
			char id[16], rcpt[64];

			(void)snprintf(id, sizeof(id), "f%zu", i);
			(void)snprintf(
			    rcpt, sizeof(rcpt), "victim%zu@example.net", i);
			many[i] = fx_dsn(id, rcpt, "5.1.1",
			    "orders@shop.example.com", trace);
		}
		test_assert(fx_ingest(st, rules, many, 20, FX_NOW, &sum) == 0);
		for (i = 0; i < 20; i++)
			free(many[i]);
	}
	test_assert(sum.stored == 20 && sum.untrusted == 20);
	test_assert(sum.suppressed == 0 && sum.alerts == 0);
	test_assert(store_event_get(st, 3, on_event, &e, &err) == 1);
	test_assert(e.trusted == 0);
	test_assert_streq(
	    rb_field(e.json, "trusted", buf, sizeof(buf)), "false");
	test_assert_streq(
	    rb_field(e.json, "attribution", buf, sizeof(buf)), "verp");
	test_assert(store_suppression_check(st, "victim0@example.net", NULL,
	                FX_NOW, NULL, NULL, &sup, &err) == 0 &&
	            sup == 0);
	memset(&s, 0, sizeof(s));
	test_assert(store_stats(st, "shop.example.com", FX_NOW, 0, on_stats, &s,
	                &err) == 0);
	test_assert(s.hard == 1 && s.untrusted == 20);
	test_assert(s.status == STORE_OK);
	{
		struct store_totals t;

		test_assert(store_totals(st, FX_NOW, 0, &t, &err) == 0);
		test_assert(t.untrusted == 20);
	}
	store_close(&st);
	after = state("verp.db");
	/* Only the untrusted counter column (not in the text) changed. */
	test_assert(strcmp(before, after) == 0);
	free(before);
	free(after);
	test_replay(rules, sets);
	classify_rules_free(&rules);
	classify_global_shutdown();
	fx_cleanup();
	return test_exit();
}
