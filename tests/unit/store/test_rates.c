/*
 * store/rates.c: hourly counters, rates over a window of whole hours,
 * status against the thresholds and rates.min_sends, the alert state
 * machine (ok -> warning -> critical -> ok) with a row per transition
 * (time, value, threshold), the breakdown by reason and provider, and
 * the SES Send import.  The clock is the test's.
 */
#include "fixtures.h"
#include "test.h"

struct grab {
	struct store_identity_stats s;
	char reason0[64], provider0[64];
	uint64_t reason0_n, provider0_n;
	size_t n;
};

static int
on_stats(const struct store_identity_stats *s, void *ctx)
{
	struct grab *g = ctx;

	g->s = *s;
	g->s.reasons = NULL;
	g->s.providers = NULL;
	g->n++;
	g->reason0[0] = g->provider0[0] = '\0';
	if (s->n_reasons > 0) {
		(void)snprintf(
		    g->reason0, sizeof(g->reason0), "%s", s->reasons[0].name);
		g->reason0_n = s->reasons[0].total;
	}
	if (s->n_providers > 0) {
		(void)snprintf(g->provider0, sizeof(g->provider0), "%s",
		    s->providers[0].name);
		g->provider0_n = s->providers[0].total;
	}
	return 0;
}

static struct grab
stats(struct store *st, const char *identity, time_t now)
{
	struct grab g;
	struct rb_error err;

	memset(&g, 0, sizeof(g));
	if (store_stats(st, identity, now, 0, on_stats, &g, &err) < 0)
		fprintf(stderr, "stats: %s\n", err.msg);
	return g;
}

struct alerts {
	struct store_alert a[16];
	char metric[16][16];
	size_t n;
};

static int
on_alert(const struct store_alert *a, void *ctx)
{
	struct alerts *l = ctx;

	if (l->n < 16) {
		l->a[l->n] = *a;
		(void)snprintf(l->metric[l->n], 16, "%s", a->metric);
		l->a[l->n].metric = l->metric[l->n];
		l->a[l->n].identity = NULL;
		l->n++;
	}
	return 0;
}

static struct alerts
alerts(struct store *st, const char *identity)
{
	struct alerts l;
	struct rb_error err;

	memset(&l, 0, sizeof(l));
	if (store_alerts_list(st, identity, 0, on_alert, &l, &err) < 0)
		fprintf(stderr, "alerts: %s\n", err.msg);
	return l;
}

/* n hard bounces (5.1.1) to distinct gmail.com recipients. */
static void
bounces(struct store *st, const struct classify_rules *rules, const char *tag,
    const char *sender, size_t n, time_t now)
{
	char **m = calloc(n, sizeof(char *));
	struct store_ingest_summary sum;
	size_t i;

	for (i = 0; i < n; i++) {
		char id[64], rcpt[128];

		(void)snprintf(id, sizeof(id), "%s%zu", tag, i);
		(void)snprintf(
		    rcpt, sizeof(rcpt), "user.%s%zu@gmail.com", tag, i);
		m[i] = fx_dsn(id, rcpt, "5.1.1", sender, "");
	}
	test_assert(fx_ingest(st, rules, m, n, now, &sum) == 0);
	test_assert(sum.stored == n);
	test_assert(sum.hard == n);
	for (i = 0; i < n; i++)
		free(m[i]);
	free(m);
}

static void
test_states(const struct classify_rules *rules)
{
	const char *sets[] = {"store.workers=0", fx_providers_setting(), NULL};
	struct store *st = fx_open("states.db", sets);
	struct rb_error err;
	struct grab g;
	struct alerts l;
	uint64_t n = 9;

	test_assert(store_sends_add(st, "Shop.Example.com", 1000, FX_NOW - 3600,
	                FX_NOW, &err) == 0);
	g = stats(st, "shop.example.com", FX_NOW);
	test_assert(g.n == 1 && g.s.sends == 1000 && g.s.hard == 0);
	test_assert(g.s.status == STORE_OK && !g.s.low_volume);

	/* 60 of 1000: 6 % -> warning. */
	bounces(st, rules, "a", "orders@shop.example.com", 60, FX_NOW);
	g = stats(st, "shop.example.com", FX_NOW);
	test_assert(g.s.hard == 60);
	test_assert(g.s.bounce_rate > 0.0599 && g.s.bounce_rate < 0.0601);
	test_assert(g.s.bounce_status == STORE_WARNING);
	test_assert(g.s.status == STORE_WARNING);
	test_assert_streq(g.reason0, "userunknown");
	test_assert(g.reason0_n == 60);
	test_assert_streq(g.provider0, "Gmail");
	l = alerts(st, NULL);
	test_assert(l.n == 1);
	test_assert(l.a[0].from == STORE_OK && l.a[0].to == STORE_WARNING);
	test_assert_streq(l.a[0].metric, "bounce");
	test_assert(l.a[0].threshold > 0.0499 && l.a[0].threshold < 0.0501);
	test_assert(l.a[0].sends == 1000 && l.a[0].time == FX_NOW);

	/* 110 of 1000 -> critical. */
	bounces(st, rules, "b", "news@shop.example.com", 50, FX_NOW + 60);
	g = stats(st, "shop.example.com", FX_NOW + 60);
	test_assert(g.s.hard == 110 && g.s.bounce_status == STORE_CRITICAL);
	l = alerts(st, "shop.example.com");
	test_assert(l.n == 2);
	test_assert(
	    l.a[0].from == STORE_WARNING && l.a[0].to == STORE_CRITICAL);
	test_assert(l.a[0].threshold > 0.0999 && l.a[0].threshold < 0.1001);

	/* More sends: 110 / 3000 = 3.7 % -> ok straight from critical. */
	test_assert(store_sends_add(st, "shop.example.com", 2000, FX_NOW,
	                FX_NOW + 120, &err) == 0);
	l = alerts(st, NULL);
	test_assert(l.n == 3);
	test_assert(l.a[0].from == STORE_CRITICAL && l.a[0].to == STORE_OK);
	/* Down: the threshold fallen below is the warning one. */
	test_assert(l.a[0].threshold > 0.0499 && l.a[0].threshold < 0.0501);

	/* Evaluating again changes nothing. */
	test_assert(store_alerts_evaluate(st, FX_NOW + 120, &n, &err) == 0);
	test_assert(n == 0);

	/* Complaints: 2 of 3000 abuse reports (0.067 %) stay ok, a not-spam
	 * report counts for nothing, 2 more make 0.13 % -> warning. */
	{
		char *m[6];
		struct store_ingest_summary sum;
		size_t i;

		m[0] = fx_arf(
		    "c1", "x1@yahoo.com", "orders@shop.example.com", "abuse");
		m[1] = fx_arf(
		    "c2", "x2@yahoo.com", "orders@shop.example.com", "abuse");
		m[2] = fx_arf("c3", "x3@yahoo.com", "orders@shop.example.com",
		    "not-spam");
		/* An unsubscribe is no complaint either: counted apart. */
		m[5] = fx_arf(
		    "c6", "x6@yahoo.com", "orders@shop.example.com", "opt-out");
		test_assert(
		    fx_ingest(st, rules, m, 3, FX_NOW + 180, &sum) == 0);
		test_assert(
		    fx_ingest(st, rules, m + 5, 1, FX_NOW + 180, &sum) == 0);
		test_assert(sum.stored == 1);
		g = stats(st, "shop.example.com", FX_NOW + 180);
		test_assert(g.s.complaints == 2 && g.s.not_spam == 1);
		test_assert(g.s.unsubscribes == 1);
		test_assert(g.s.complaint_status == STORE_OK);
		m[3] = fx_arf(
		    "c4", "x4@yahoo.com", "orders@shop.example.com", "abuse");
		m[4] = fx_arf(
		    "c5", "x5@yahoo.com", "orders@shop.example.com", "abuse");
		test_assert(
		    fx_ingest(st, rules, m + 3, 2, FX_NOW + 240, &sum) == 0);
		g = stats(st, "shop.example.com", FX_NOW + 240);
		test_assert(g.s.complaints == 4);
		test_assert(g.s.complaint_status == STORE_WARNING);
		l = alerts(st, NULL);
		test_assert(l.n == 4);
		test_assert_streq(l.a[0].metric, "complaint");
		test_assert(l.a[0].to == STORE_WARNING);
		for (i = 0; i < 6; i++)
			free(m[i]);
	}

	/* Two days later the window is empty: back to ok by itself. */
	test_assert(
	    store_alerts_evaluate(st, FX_NOW + 2 * FX_DAY, &n, &err) == 0);
	test_assert(n == 1);
	g = stats(st, "shop.example.com", FX_NOW + 2 * FX_DAY);
	test_assert(g.s.sends == 0 && g.s.status == STORE_OK);
	test_assert(g.s.low_volume);
	/* A wider window still sees them. */
	{
		struct grab g2;

		memset(&g2, 0, sizeof(g2));
		test_assert(
		    store_stats(st, "shop.example.com", FX_NOW + 2 * FX_DAY,
		        7 * FX_DAY, on_stats, &g2, &err) == 0);
		test_assert(g2.s.sends == 3000 && g2.s.hard == 110);
	}
	store_close(&st);
}

static void
test_low_volume(const struct classify_rules *rules)
{
	const char *sets[] = {"store.workers=0", NULL};
	struct store *st = fx_open("low.db", sets);
	struct rb_error err;
	struct grab g;

	test_assert(store_sends_add(st, "tiny.example.org", 100, FX_NOW, FX_NOW,
	                &err) == 0);
	bounces(st, rules, "t", "a@tiny.example.org", 50, FX_NOW);
	g = stats(st, "tiny.example.org", FX_NOW);
	test_assert(g.s.bounce_rate > 0.49 && g.s.bounce_rate < 0.51);
	test_assert(g.s.low_volume && g.s.status == STORE_OK);
	test_assert(alerts(st, NULL).n == 0);
	/* Bad input. */
	test_assert(
	    store_sends_add(st, "not a domain", 1, FX_NOW, FX_NOW, &err) < 0);
	test_assert(store_stats(st, NULL, FX_NOW, 60, on_stats, &g, &err) < 0);
	store_close(&st);
}

static void
test_thresholds(const struct classify_rules *rules)
{
	const char *sets[] = {"store.workers=0", "rates.min_sends=10",
	    "rates.bounce_warning=1%", "rates.bounce_critical=2%",
	    "rates.window=3h", NULL};
	struct store *st = fx_open("th.db", sets);
	struct rb_error err;
	struct store_thresholds th;
	struct grab g;

	store_thresholds(st, &th);
	test_assert(th.min_sends == 10 && th.window == 3 * 3600);
	test_assert(store_sends_add(
	                st, "x.example.net", 100, FX_NOW, FX_NOW, &err) == 0);
	bounces(st, rules, "x", "a@x.example.net", 2, FX_NOW);
	g = stats(st, NULL, FX_NOW);
	test_assert(g.n == 1 && g.s.bounce_status == STORE_CRITICAL);
	/* The window is three whole hours: the current and two before (the
	 * bounces are of 10:00, the sends of 12:00). */
	g = stats(st, NULL, FX_NOW + 3600);
	test_assert(g.n == 1 && g.s.sends == 100 && g.s.hard == 0);
	g = stats(st, NULL, FX_NOW + 3 * 3600);
	test_assert(g.n == 0);
	store_close(&st);
}

static void
test_import(void)
{
	static const char lines[] =
	    "{\"eventType\":\"Send\",\"mail\":{\"timestamp\":"
	    "\"2024-06-01T11:59:00.000Z\",\"source\":\"Shop <orders@shop."
	    "example.com>\",\"destination\":[\"a@x.com\",\"b@y.com\"]},"
	    "\"send\":{}}\n"
	    "\n"
	    "{\"eventType\":\"Delivery\",\"mail\":{\"source\":\"o@shop."
	    "example.com\"}}\n"
	    "{\"eventType\":\"Send\",\"mail\":{\"source\":\"news@news."
	    "example.org\",\"destination\":[\"c@z.com\"]}}\n";
	const char *sets[] = {"store.workers=0", NULL};
	struct store *st = fx_open("imp.db", sets);
	struct store_import_summary sum;
	struct rb_error err;
	struct grab g;
	FILE *fp;

	fp = fmemopen((void *)(uintptr_t)lines, sizeof(lines) - 1, "r");
	test_assert(
	    store_sends_import(st, fp, "sends.jsonl", FX_NOW, &sum, &err) == 0);
	fclose(fp);
	test_assert(sum.lines == 4 && sum.imported == 3 && sum.skipped == 1);
	g = stats(st, "shop.example.com", FX_NOW);
	test_assert(g.s.sends == 2);
	g = stats(st, "news.example.org", FX_NOW);
	test_assert(g.s.sends == 1);

	/* A bad line fails the whole import, naming the line. */
	{
		static const char bad[] =
		    "{\"eventType\":\"Send\",\"mail\":{\"source\":\"a@b.com\"}}"
		    "\nnot json\n";

		fp = fmemopen((void *)(uintptr_t)bad, sizeof(bad) - 1, "r");
		test_assert(store_sends_import(
		                st, fp, "bad.jsonl", FX_NOW, &sum, &err) < 0);
		fclose(fp);
		test_assert(strstr(err.msg, "bad.jsonl:2") != NULL);
		g = stats(st, "b.com", FX_NOW);
		test_assert(g.s.sends == 0);
	}
	store_close(&st);
}

struct ranked_page {
	char ids[64][32];
	uint64_t sends[64];
	size_t n;
};

static int
on_ranked(const struct store_identity_stats *s, void *ctx)
{
	struct ranked_page *p = ctx;

	if (p->n < 64) {
		(void)snprintf(
		    p->ids[p->n], sizeof(p->ids[0]), "%s", s->identity);
		p->sends[p->n++] = s->sends;
	}
	return 0;
}

/* Identities ranked by sends in pages of 7: ties (five identities per
 * value) ordered by name across the pages, every one once; the page is
 * the best 7 of 50, so the heap keeps and evicts. */
static void
test_ranked(void)
{
	const char *sets[] = {"store.workers=0", NULL};
	struct store *st = fx_open("ranked.db", sets);
	struct ranked_page all, page;
	struct rb_error err;
	char last[STORE_MAX_IDENTITY];
	double last_v = 0;
	int more = 1, pages = 0;
	size_t i;

	for (i = 0; i < 50; i++) {
		char id[32];

		(void)snprintf(id, sizeof(id), "r%02zu.example.com", i);
		test_assert(store_sends_add(st, id, 100 + (i % 10) * 5, FX_NOW,
		                FX_NOW, &err) == 0);
	}
	memset(&all, 0, sizeof(all));
	while (more && pages < 20) {
		memset(&page, 0, sizeof(page));
		test_assert(
		    store_identities_ranked(st, FX_NOW, 0, -1, STORE_RANK_SENDS,
		        last_v, pages > 0 ? last : NULL, 7, on_ranked, &page,
		        &more, &last_v, last, &err) == 0);
		test_assert(page.n == (more ? 7u : 1u));
		for (i = 0; i < page.n && all.n < 64; i++) {
			memcpy(all.ids[all.n], page.ids[i], sizeof(all.ids[0]));
			all.sends[all.n++] = page.sends[i];
		}
		pages++;
	}
	test_assert(pages == 8 && all.n == 50);
	for (i = 1; i < all.n; i++)
		test_assert(all.sends[i - 1] > all.sends[i] ||
		            (all.sends[i - 1] == all.sends[i] &&
		                strcmp(all.ids[i - 1], all.ids[i]) < 0));
	test_assert(all.sends[0] == 145 && all.sends[49] == 100);
	test_assert_streq(all.ids[0], "r09.example.com");
	test_assert_streq(all.ids[1], "r19.example.com");
	/* A status no identity has: nothing, no more. */
	memset(&page, 0, sizeof(page));
	test_assert(store_identities_ranked(st, FX_NOW, 0, STORE_CRITICAL,
	                STORE_RANK_BOUNCE_RATE, 0, NULL, 7, on_ranked, &page,
	                &more, &last_v, last, &err) == 0);
	test_assert(page.n == 0 && !more);
	store_close(&st);
}

/* A database of schema 5 counted unsubscribes as complaints: the
 * migration moves them, hour by hour, from the events. */
static void
test_unsubscribe_migration(const struct classify_rules *rules)
{
	const char *sets[] = {"store.workers=0", NULL};
	struct store_ingest_summary sum;
	char path[512], *m[5];
	struct store *st;
	struct grab g;
	sqlite3 *db;
	size_t i;

	st = fx_open("unsub.db", sets);
	for (i = 0; i < 5; i++) {
		char id[16], rcpt[64];

		(void)snprintf(id, sizeof(id), "u%zu", i);
		(void)snprintf(rcpt, sizeof(rcpt), "u%zu@yahoo.com", i);
		m[i] = fx_arf(id, rcpt, "orders@shop.example.com",
		    i < 2 ? "abuse" : "opt-out");
	}
	/* Two hours: the moves are per counters row. */
	test_assert(fx_ingest(st, rules, m, 3, FX_NOW, &sum) == 0);
	test_assert(fx_ingest(st, rules, m + 3, 2, FX_NOW + 3600, &sum) == 0);
	store_close(&st);
	(void)snprintf(path, sizeof(path), "%s/unsub.db", fx_dir);
	test_assert(sqlite3_open(path, &db) == SQLITE_OK);
	test_assert(sqlite3_exec(db,
	                "UPDATE counters SET complaints = complaints +"
	                " unsubscribes;"
	                " ALTER TABLE counters DROP COLUMN unsubscribes;"
	                " PRAGMA user_version = 5",
	                NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	st = fx_open("unsub.db", sets);
	g = stats(st, "shop.example.com", FX_NOW + 3600);
	test_assert(g.s.complaints == 2 && g.s.unsubscribes == 3);
	test_assert(g.n == 1);
	store_close(&st);
	for (i = 0; i < 5; i++)
		free(m[i]);
}

int
main(void)
{
	struct classify_rules *rules;

	fx_tmpdir();
	rules = fx_rules();
	test_states(rules);
	test_low_volume(rules);
	test_thresholds(rules);
	test_import();
	test_unsubscribe_migration(rules);
	test_ranked();
	classify_rules_free(&rules);
	classify_global_shutdown();
	fx_cleanup();
	return test_exit();
}
