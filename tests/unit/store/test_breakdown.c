/*
 * store/breakdown.c: the breakdowns by reason and provider that
 * store_stats() reads from the per identity and hour counts equal, entry
 * for entry, those recounted here from the events table (what the store
 * computed before the counts existed), over randomised ingests (several
 * seeds: multi-recipient DSNs of every action, complaints of every
 * feedback type, forged VERP tokens, malformed recipients, report times
 * over three days, small batches), for several windows; the same after
 * duplicates, after a migration from schema 4 (rows made from the
 * events), and after opening with another provider table.  A corrupt
 * blob is an error, for a reading and for an ingest.
 */
#include "fixtures.h"
#include "test.h"

#include "store/store_int.h"

#define SECRET "test-secret-0123456789"
#define FORGER "forger-secret-987654321"
/* Messages per seed: enough for every kind of row, fast. */
#define N_MSGS 160
/* Reasons or providers of one identity at most, in this test. */
#define MAX_ROWS 64

static uint64_t rnd_state;

static unsigned
rnd(unsigned n)
{
	rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)((rnd_state >> 33) % n);
}

static const char *const identities[] = {"shop.example.com", "news.example.org",
    "alerts.example.net", "solo@mail.example.com"};
static const char *const senders[] = {"orders@shop.example.com",
    "letter@news.example.org", "noreply@alerts.example.net",
    "solo@mail.example.com"};
static const char *const domains[] = {"gmail.com", "googlemail.com",
    "outlook.com", "hotmail.co.uk", "yahoo.com", "web.de", "gmx.net",
    "corp.example.com", "mx.example.org", "tenant.onmicrosoft.com"};
/* Status, action, diagnostic text. */
static const char *const dsn_rows[][3] = {
    {"5.1.1", "failed", "550 5.1.1 user unknown"},
    {"5.2.2", "failed", "552 5.2.2 mailbox full"},
    {"4.2.2", "failed", "452 4.2.2 mailbox full, try later"},
    {"5.7.1", "failed", "550 5.7.1 message rejected as spam"},
    {"5.4.4", "failed", "550 5.4.4 host not found"},
    {"4.4.7", "failed", "421 4.4.7 delivery time expired"},
    {"4.4.1", "delayed", "421 4.4.1 connection timed out"},
    {"2.0.0", "delivered", "250 2.0.0 ok"},
    {"5.0.0", "failed", "550 something went wrong"},
};
static const char *const feedback_types[] = {
    "abuse", "not-spam", "fraud", "other", "virus", "opt-out"};

/* A recipient: a local part and a domain of the list, or (rarely) an
 * address that does not normalise. */
static void
recipient(char *out, size_t len, unsigned i)
{
	if (rnd(25) == 0)
		(void)snprintf(out, len, "broken-address-%u", i);
	else
		(void)snprintf(out, len, "user%u.%u@%s", i, rnd(1000),
		    domains[rnd(sizeof(domains) / sizeof(domains[0]))]);
}

/* A Date header of an hour within three days before FX_NOW (none at
 * times: the time is then the ingest's). */
static void
date_header(char *out, size_t len)
{
	time_t t = FX_NOW - (time_t)rnd(72 * 3600);
	struct tm tm;

	if (rnd(10) == 0) {
		out[0] = '\0';
		return;
	}
	(void)gmtime_r(&t, &tm);
	(void)strftime(out, len, "Date: %a, %d %b %Y %H:%M:%S +0000\n", &tm);
}

/* A forged VERP token in Delivered-To, sometimes: untrusted rows. */
static void
trace_header(char *out, size_t len, unsigned who)
{
	struct classify_verp f;
	struct rb_error err;
	char addr[CLASSIFY_VERP_ADDRESS_SIZE];

	out[0] = '\0';
	if (rnd(8) != 0)
		return;
	memset(&f, 0, sizeof(f));
	(void)snprintf(f.identity, sizeof(f.identity), "%s", identities[who]);
	(void)snprintf(f.recipient, sizeof(f.recipient), "x@gmail.com");
	f.sent = FX_NOW;
	if (classify_verp_encode(&f, FORGER, strlen(FORGER),
	        "bounces.example.com", addr, sizeof(addr), &err) < 0) {
		fprintf(stderr, "encode: %s\n", err.msg);
		exit(1);
	}
	(void)snprintf(out, len, "Delivered-To: %s\n", addr);
}

/* A DSN with one to three recipients. */
static char *
dsn(unsigned seq, unsigned who)
{
	char *m = NULL, date[80], trace[512], rcpt[128];
	size_t len = 0;
	FILE *fp = open_memstream(&m, &len);
	unsigned n = 1 + rnd(3), i;

	date_header(date, sizeof(date));
	trace_header(trace, sizeof(trace), who);
	fprintf(fp,
	    "%sFrom: MAILER-DAEMON@relay.example.net\n"
	    "To: bounces@example.com\n"
	    "Subject: Delivery Status Notification\n"
	    "%sMessage-ID: <bd-dsn-%u-%llu@relay.example.net>\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;"
	    " boundary=\"Z%u\"\n\n--Z%u\nContent-Type: text/plain\n\n"
	    "Delivery report.\n\n--Z%u\n"
	    "Content-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; relay.example.net\n",
	    trace, date, seq, (unsigned long long)rnd_state, seq, seq, seq);
	for (i = 0; i < n; i++) {
		const char *const *r =
		    dsn_rows[rnd(sizeof(dsn_rows) / sizeof(dsn_rows[0]))];

		recipient(rcpt, sizeof(rcpt), seq * 4 + i);
		fprintf(fp,
		    "\nFinal-Recipient: rfc822; %s\nAction: %s\n"
		    "Status: %s\nDiagnostic-Code: smtp; %s\n",
		    rcpt, r[1], r[0], r[2]);
	}
	fprintf(fp,
	    "\n--Z%u\nContent-Type: text/rfc822-headers\n\n"
	    "From: Sender <%s>\nTo: someone@example.com\n"
	    "Subject: news %u\nMessage-ID: <bd-orig-%u@example.com>\n"
	    "\n--Z%u--\n",
	    seq, senders[who], seq, seq, seq);
	fclose(fp);
	return m;
}

/* An ARF report of a random feedback type. */
static char *
arf(unsigned seq, unsigned who)
{
	char *m = NULL, date[80], trace[512], rcpt[128];
	size_t len = 0;
	FILE *fp = open_memstream(&m, &len);

	date_header(date, sizeof(date));
	trace_header(trace, sizeof(trace), who);
	recipient(rcpt, sizeof(rcpt), seq * 4);
	fprintf(fp,
	    "%sFrom: fbl@isp.example.net\nTo: abuse@example.com\n"
	    "Subject: complaint\n%s"
	    "Message-ID: <bd-arf-%u-%llu@isp.example.net>\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=feedback-report;"
	    " boundary=\"Y%u\"\n\n--Y%u\nContent-Type: text/plain\n\n"
	    "An abuse report.\n\n--Y%u\n"
	    "Content-Type: message/feedback-report\n\n"
	    "Feedback-Type: %s\nUser-Agent: TestFBL/1.0\nVersion: 1\n"
	    "Original-Mail-From: <%s>\nOriginal-Rcpt-To: <%s>\n"
	    "\n--Y%u\nContent-Type: message/rfc822\n\n"
	    "From: Sender <%s>\nTo: %s\nSubject: offer %u\n"
	    "Message-ID: <bd-orig-c%u@example.com>\n\nBuy.\n\n--Y%u--\n",
	    trace, date, seq, (unsigned long long)rnd_state, seq, seq, seq,
	    feedback_types[rnd(
	        sizeof(feedback_types) / sizeof(feedback_types[0]))],
	    senders[who], rcpt, seq, senders[who], rcpt, seq, seq, seq);
	fclose(fp);
	return m;
}

/* ---- the recount from the events ------------------------------------------
 */

struct list {
	struct store_breakdown v[MAX_ROWS];
	char names[MAX_ROWS][128];
	size_t n;
};

static int
cmp_row(const void *a, const void *b)
{
	const struct store_breakdown *x = a, *y = b;

	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void
recount_row(struct list *l, const char *name, const char *type, const char *bt,
    const char *ft)
{
	struct store_breakdown *b = NULL;
	size_t i;

	for (i = 0; i < l->n && b == NULL; i++) {
		if (strcmp(l->v[i].name, name) == 0)
			b = &l->v[i];
	}
	if (b == NULL) {
		test_assert(l->n < MAX_ROWS);
		if (l->n == MAX_ROWS)
			return;
		(void)snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
		b = &l->v[l->n];
		memset(b, 0, sizeof(*b));
		b->name = l->names[l->n++];
	}
	if (strcmp(type, "Complaint") == 0) {
		if (ft == NULL ||
		    (strcmp(ft, "not-spam") != 0 && strcmp(ft, "opt-out") != 0))
			b->complaints++;
	} else if (bt != NULL) {
		if (strcmp(bt, "Permanent") == 0)
			b->hard++;
		else if (strcmp(bt, "Transient") == 0)
			b->soft++;
		else if (strcmp(bt, "Undetermined") == 0)
			b->undetermined++;
	}
	b->total++;
}

/* The breakdowns of identity over [t0, t1) from the events rows. */
static void
recount(sqlite3 *db, const struct providers *prov, const char *identity,
    int64_t t0, int64_t t1, struct list *reasons, struct list *providers)
{
	sqlite3_stmt *s;

	reasons->n = providers->n = 0;
	if (sqlite3_prepare_v2(db,
	        "SELECT type, bounce_type, coalesce(reason, 'undefined'),"
	        " coalesce(domain, ''), feedback_type FROM events"
	        " WHERE identity = ?1 AND time >= ?2 AND time < ?3"
	        " AND trusted = 1 AND type IN ('Bounce', 'Complaint')",
	        -1, &s, NULL) != SQLITE_OK)
		exit(1);
	(void)sqlite3_bind_text(s, 1, identity, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int64(s, 2, t0);
	(void)sqlite3_bind_int64(s, 3, t1);
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(s, 0);
		const char *bt = (const char *)sqlite3_column_text(s, 1);
		const char *ft = (const char *)sqlite3_column_text(s, 4);

		recount_row(reasons, (const char *)sqlite3_column_text(s, 2),
		    type, bt, ft);
		recount_row(providers,
		    providers_lookup(
		        prov, (const char *)sqlite3_column_text(s, 3)),
		    type, bt, ft);
	}
	sqlite3_finalize(s);
	qsort(reasons->v, reasons->n, sizeof(reasons->v[0]), cmp_row);
	qsort(providers->v, providers->n, sizeof(providers->v[0]), cmp_row);
}

struct got {
	struct list reasons, providers;
	int calls;
};

static void
copy_list(struct list *l, const struct store_breakdown *b, size_t n)
{
	size_t i;

	l->n = 0;
	test_assert(n <= MAX_ROWS);
	for (i = 0; i < n && i < MAX_ROWS; i++) {
		l->v[i] = b[i];
		(void)snprintf(
		    l->names[i], sizeof(l->names[0]), "%s", b[i].name);
		l->v[i].name = l->names[i];
		l->n++;
	}
}

static int
on_stats(const struct store_identity_stats *s, void *ctx)
{
	struct got *g = ctx;

	copy_list(&g->reasons, s->reasons, s->n_reasons);
	copy_list(&g->providers, s->providers, s->n_providers);
	g->calls++;
	return 0;
}

static int
same_list(const struct list *a, const struct list *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++) {
		const struct store_breakdown *x = &a->v[i], *y = &b->v[i];

		if (strcmp(x->name, y->name) != 0 || x->hard != y->hard ||
		    x->soft != y->soft || x->undetermined != y->undetermined ||
		    x->complaints != y->complaints || x->total != y->total)
			return 0;
	}
	return 1;
}

struct tally {
	uint64_t rows, reasons, providers;
};

/* Every identity, three clocks, four windows: the store's breakdowns
 * against the recount; *t sums what was compared. */
static void
compare(
    struct store *st, const char *path, const char *prov_path, struct tally *t)
{
	static const time_t clocks[] = {
	    FX_NOW, FX_NOW - 5 * 3600 - 17, FX_NOW + 30 * 3600};
	static const uint64_t windows[] = {3600, 3 * 3600, 86400, 4 * 86400};
	struct providers *prov = NULL;
	struct rb_error err;
	sqlite3 *db;
	size_t i, c, w, k;

	if (prov_path != NULL && providers_load(prov_path, &prov, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		exit(1);
	for (i = 0; i < sizeof(identities) / sizeof(identities[0]); i++) {
		for (c = 0; c < sizeof(clocks) / sizeof(clocks[0]); c++) {
			for (w = 0; w < sizeof(windows) / sizeof(windows[0]);
			     w++) {
				struct got g;
				struct list r, p;
				char id[STORE_MAX_IDENTITY];
				int64_t h0, h1;

				memset(&g, 0, sizeof(g));
				test_assert(
				    store_stats(st, identities[i], clocks[c],
				        windows[w], on_stats, &g, &err) == 0);
				test_assert(g.calls == 1);
				rates_window_hours(
				    clocks[c], windows[w], &h0, &h1);
				test_assert(
				    store_identity_normalize(st, identities[i],
				        id, sizeof(id), &err) == 0);
				recount(db, prov, id, h0 * 3600,
				    (h1 + 1) * 3600, &r, &p);
				test_assert_idx(same_list(&g.reasons, &r),
				    i * 100 + c * 10 + w);
				test_assert_idx(same_list(&g.providers, &p),
				    i * 100 + c * 10 + w);
				for (k = 0; k < r.n; k++)
					t->rows += r.v[k].total;
				t->reasons += r.n;
				t->providers += p.n;
			}
		}
	}
	sqlite3_close(db);
	providers_free(&prov);
}

static long
count(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	long n = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		exit(1);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

static void
exec_sql(const char *path, const char *sql)
{
	sqlite3 *db;

	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_close(db);
}

static void
run_seed(const struct classify_rules *rules, uint64_t seed)
{
	const char *sets[] = {"store.workers=0", "store.batch_size=7",
	    "verp.secret=" SECRET, fx_providers_setting(), NULL};
	const char *plain[] = {"store.workers=0", "verp.secret=" SECRET, NULL};
	char name[64], path[512], prov[512];
	char *m[N_MSGS];
	struct store_ingest_summary sum;
	struct tally t = {0, 0, 0};
	struct store *st;
	size_t i, part;
	long untrusted, not_spam;

	rnd_state = seed;
	(void)snprintf(
	    name, sizeof(name), "bd%llu.db", (unsigned long long)seed);
	(void)snprintf(path, sizeof(path), "%s/%s", fx_dir, name);
	(void)snprintf(
	    prov, sizeof(prov), "%s", strchr(fx_providers_setting(), '=') + 1);
	for (i = 0; i < N_MSGS; i++) {
		unsigned who = rnd(sizeof(identities) / sizeof(identities[0]));

		m[i] =
		    rnd(5) == 0 ? arf((unsigned)i, who) : dsn((unsigned)i, who);
	}
	st = fx_open(name, sets);
	/* In three ingests of small batches: rows merge across both. */
	for (part = 0; part < 3; part++) {
		size_t a = part * N_MSGS / 3, b = (part + 1) * N_MSGS / 3;

		test_assert(fx_ingest(st, rules, m + a, b - a,
		                FX_NOW + (time_t)part, &sum) == 0);
	}
	compare(st, path, prov, &t);
	/* The comparison is not empty: every kind of row was there. */
	untrusted = count(path, "SELECT count(*) FROM events WHERE trusted = 0"
	                        " AND type IN ('Bounce', 'Complaint')");
	not_spam = count(path, "SELECT count(*) FROM events"
	                       " WHERE feedback_type = 'not-spam'");
	test_assert(t.rows > 100 && t.reasons > 20 && t.providers > 20);
	test_assert(untrusted > 0 && not_spam > 0);
	test_assert(count(path, "SELECT count(*) FROM events WHERE domain IS"
	                        " NULL AND type = 'Bounce'") > 0);

	/* Duplicates change nothing. */
	test_assert(fx_ingest(st, rules, m, N_MSGS, FX_NOW + 9, &sum) == 0);
	test_assert(sum.stored == 0);
	compare(st, path, prov, &t);
	store_close(&st);

	/* A database of schema 4: migrated, its blobs made from the events. */
	exec_sql(path, "ALTER TABLE counters DROP COLUMN breakdown;"
	               " ALTER TABLE counters DROP COLUMN unsubscribes;"
	               " DROP TABLE store_meta;"
	               " CREATE INDEX events_breakdown ON events(identity,"
	               " time, type, bounce_type, reason, domain,"
	               " feedback_type, trusted) WHERE trusted = 1 AND"
	               " type IN ('Bounce', 'Complaint');"
	               " PRAGMA user_version = 4");
	st = fx_open(name, sets);
	compare(st, path, prov, &t);
	store_close(&st);
	test_assert(count(path, "PRAGMA user_version") == STORE_SCHEMA_VERSION);
	test_assert(count(path, "SELECT count(*) FROM sqlite_schema"
	                        " WHERE name = 'events_breakdown'") == 0);

	/* Another provider table (none: every provider is "Other"). */
	st = fx_open(name, plain);
	compare(st, path, NULL, &t);
	store_close(&st);
	/* And back. */
	st = fx_open(name, sets);
	compare(st, path, prov, &t);
	store_close(&st);

	for (i = 0; i < N_MSGS; i++)
		free(m[i]);
}

static int
on_nothing(const struct store_identity_stats *s, void *ctx)
{
	(void)s;
	(void)ctx;
	return 0;
}

/* A row that is not ours is an error, not a crash or a wrong count. */
static void
test_corrupt(const struct classify_rules *rules)
{
	static const char *const bad[] = {"X'02'", "X''", "X'0100'",
	    "X'0102417A0000000001'", "X'01000141FFFFFFFFFFFFFFFFFFFF01'",
	    /* Two entries out of order. */
	    "X'0100014201010101010001410101010101'"};
	const char *sets[] = {"store.workers=0", NULL};
	char path[512], sql[256], *m[1];
	struct store_ingest_summary sum;
	struct rb_error err;
	struct store *st;
	size_t i;

	(void)snprintf(path, sizeof(path), "%s/corrupt.db", fx_dir);
	st = fx_open("corrupt.db", sets);
	m[0] = fx_dsn("c1", "a@gmail.com", "5.1.1", "o@shop.example.com", "");
	test_assert(fx_ingest(st, rules, m, 1, FX_NOW, &sum) == 0);
	free(m[0]);
	test_assert(store_stats(st, "shop.example.com", FX_NOW, 0, on_nothing,
	                NULL, &err) == 0);
	store_close(&st);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(sql, sizeof(sql),
		    "UPDATE counters SET breakdown = %s", bad[i]);
		exec_sql(path, sql);
		st = fx_open("corrupt.db", sets);
		test_assert_idx(store_stats(st, "shop.example.com", FX_NOW, 0,
		                    on_nothing, NULL, &err) < 0,
		    i);
		test_assert_idx(strstr(err.msg, "not a breakdown") != NULL, i);
		store_close(&st);
	}
	/* Nor can an ingest add to it. */
	st = fx_open("corrupt.db", sets);
	m[0] = fx_dsn("c2", "b@gmail.com", "5.1.1", "o@shop.example.com", "");
	test_assert(fx_ingest(st, rules, m, 1, FX_NOW, &sum) < 0);
	free(m[0]);
	store_close(&st);
	/* Recounted from the events when store_meta says so. */
	exec_sql(path, "DELETE FROM store_meta");
	st = fx_open("corrupt.db", sets);
	test_assert(count(path, "SELECT count(*) FROM counters"
	                        " WHERE breakdown IS NOT NULL") == 1);
	test_assert(store_stats(st, "shop.example.com", FX_NOW, 0, on_nothing,
	                NULL, &err) == 0);
	store_close(&st);
}

int
main(void)
{
	static const uint64_t seeds[] = {1, 20240601, 987654321};
	struct classify_rules *rules;
	size_t i;

	fx_tmpdir();
	rules = fx_rules();
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		run_seed(rules, seeds[i]);
	test_corrupt(rules);
	classify_rules_free(&rules);
	classify_global_shutdown();
	fx_cleanup();
	return test_exit();
}
