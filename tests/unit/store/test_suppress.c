/*
 * store/suppress.c: the global list (suppression, expiry, escalation,
 * cap, forgetting) and the account-level list (automatic entries,
 * accounts of identities, add, remove, list, export, import) with the
 * test's clock; what never suppresses (transient bounces, auto-replies
 * of a DSN delay, not-spam); malformed addresses are errors, never rows.
 */
#include "fixtures.h"
#include "test.h"

struct seen {
	int global, account;
	time_t until;
	unsigned strikes;
	char reason[16], account_name[64], detail[32];
};

static int
on_entry(const struct store_suppression *e, void *ctx)
{
	struct seen *s = ctx;

	if (e->list == STORE_LIST_GLOBAL) {
		s->global++;
		s->until = e->until;
		s->strikes = e->strikes;
		(void)snprintf(s->detail, sizeof(s->detail), "%s",
		    e->detail != NULL ? e->detail : "");
	} else {
		s->account++;
		(void)snprintf(s->reason, sizeof(s->reason), "%s", e->reason);
		(void)snprintf(
		    s->account_name, sizeof(s->account_name), "%s", e->account);
	}
	return 0;
}

static struct seen
check(struct store *st, const char *addr, const char *account, time_t now,
    int *suppressed_r)
{
	struct seen s;
	struct rb_error err;
	int sup = -1;

	memset(&s, 0, sizeof(s));
	if (store_suppression_check(
	        st, addr, account, now, on_entry, &s, &sup, &err) < 0)
		fprintf(stderr, "check: %s\n", err.msg);
	*suppressed_r = sup;
	return s;
}

static void
ingest_one(
    struct store *st, const struct classify_rules *rules, char *m, time_t now)
{
	struct store_ingest_summary sum;

	test_assert(fx_ingest(st, rules, &m, 1, now, &sum) == 0);
	test_assert(sum.stored == 1);
	free(m);
}

static void
test_global(const struct classify_rules *rules)
{
	const char *sets[] = {"store.workers=0", "suppression.max_ttl=50d",
	    "suppression.forget=30d", NULL};
	struct store *st = fx_open("global.db", sets);
	struct seen s;
	time_t t = FX_NOW;
	int sup;

	ingest_one(st, rules,
	    fx_dsn("g1", "Bob@Example.NET", "5.1.1", "a@shop.example.com", ""),
	    t);
	s = check(st, "bob@example.net", NULL, t + FX_DAY, &sup);
	test_assert(sup == 1 && s.global == 1 && s.account == 1);
	test_assert(s.until == t + 14 * FX_DAY && s.strikes == 1);
	test_assert_streq(s.detail, "userunknown");
	test_assert_streq(s.reason, "BOUNCE");
	test_assert_streq(s.account_name, "default");
	/* Case-insensitive in the domain and (by default) the local part. */
	s = check(st, "BOB@example.net", NULL, t + FX_DAY, &sup);
	test_assert(sup == 1);
	/* Another hard bounce while suppressed: nothing changes. */
	ingest_one(st, rules,
	    fx_dsn("g2", "bob@example.net", "5.1.1", "a@shop.example.com", ""),
	    t + FX_DAY);
	s = check(st, "bob@example.net", NULL, t + 2 * FX_DAY, &sup);
	test_assert(s.until == t + 14 * FX_DAY && s.strikes == 1);

	/* Expired: not suppressed globally (the account entry stays). */
	s = check(st, "bob@example.net", NULL, t + 14 * FX_DAY, &sup);
	test_assert(s.global == 0 && s.account == 1);
	/* Remove the account entry: not suppressed at all. */
	{
		struct rb_error err;
		unsigned removed = 0;

		test_assert(
		    store_suppression_remove(st, NULL, "bob@example.net",
		        t + 14 * FX_DAY, &removed, &err) == 0);
		test_assert(removed == 1);
	}
	s = check(st, "bob@example.net", NULL, t + 14 * FX_DAY, &sup);
	test_assert(sup == 0 && s.global == 0 && s.account == 0);

	/* Escalation: 28 days after the first expiry ... */
	t += 15 * FX_DAY;
	ingest_one(st, rules,
	    fx_dsn("g3", "bob@example.net", "5.1.1", "a@shop.example.com", ""),
	    t);
	s = check(st, "bob@example.net", NULL, t, &sup);
	test_assert(sup == 1 && s.strikes == 2 && s.until == t + 28 * FX_DAY);
	/* ... then capped at max_ttl (50 days, not 56). */
	t += 29 * FX_DAY;
	ingest_one(st, rules,
	    fx_dsn("g4", "bob@example.net", "5.1.1", "a@shop.example.com", ""),
	    t);
	s = check(st, "bob@example.net", NULL, t, &sup);
	test_assert(s.strikes == 3 && s.until == t + 50 * FX_DAY);
	/* Forgotten after suppression.forget past the expiry: 14 days. */
	t += 50 * FX_DAY + 31 * FX_DAY;
	ingest_one(st, rules,
	    fx_dsn("g5", "bob@example.net", "5.1.1", "a@shop.example.com", ""),
	    t);
	s = check(st, "bob@example.net", NULL, t, &sup);
	test_assert(s.strikes == 1 && s.until == t + 14 * FX_DAY);

	/* Pruning drops expired entries older than forget, no others. */
	{
		struct store_prune_summary pr;
		struct rb_error err;

		test_assert(store_prune(st, t + 14 * FX_DAY + 29 * FX_DAY, &pr,
		                &err) == 0);
		test_assert(pr.suppression == 0);
		test_assert(store_prune(st, t + 14 * FX_DAY + 31 * FX_DAY, &pr,
		                &err) == 0);
		test_assert(pr.suppression == 1);
	}
	store_close(&st);
}

static int list_count(
    struct store *st, const char *account, const char *reason);

static void
test_never(const struct classify_rules *rules)
{
	const char *sets[] = {"store.workers=0", NULL};
	struct store *st = fx_open("never.db", sets);
	struct seen s;
	int sup;

	/* Mailbox full: Transient.  A delay (4.x): DeliveryDelay.
	 * Not-spam: a complaint that is none. */
	ingest_one(st, rules,
	    fx_dsn("n1", "full@example.net", "5.2.2", "a@shop.example.com", ""),
	    FX_NOW);
	ingest_one(st, rules,
	    fx_dsn("n2", "slow@example.net", "4.4.1", "a@shop.example.com", ""),
	    FX_NOW);
	ingest_one(st, rules,
	    fx_arf("n3", "happy@example.net", "a@shop.example.com", "not-spam"),
	    FX_NOW);
	s = check(st, "full@example.net", NULL, FX_NOW, &sup);
	test_assert(sup == 0);
	s = check(st, "slow@example.net", NULL, FX_NOW, &sup);
	test_assert(sup == 0);
	s = check(st, "happy@example.net", NULL, FX_NOW, &sup);
	test_assert(sup == 0);
	/* An auto-reply: its sender is not suppressed. */
	ingest_one(st, rules,
	    xstrdup("From: George <george@example.net>\n"
	            "To: orders@shop.example.com\n"
	            "Subject: Out of Office: your invoice\n"
	            "Auto-Submitted: auto-replied\n"
	            "Message-ID: <ooo@example.net>\n\n"
	            "I am out of the office until Monday.\n"),
	    FX_NOW);
	s = check(st, "george@example.net", NULL, FX_NOW, &sup);
	test_assert(sup == 0);
	test_assert(list_count(st, NULL, NULL) == 0);
	/* A real complaint: account level only, reason COMPLAINT. */
	ingest_one(st, rules,
	    fx_arf("n4", "angry@example.net", "a@shop.example.com", "abuse"),
	    FX_NOW);
	s = check(st, "angry@example.net", NULL, FX_NOW, &sup);
	test_assert(sup == 1 && s.global == 0 && s.account == 1);
	test_assert_streq(s.reason, "COMPLAINT");
	store_close(&st);
}

static void
test_accounts(const struct classify_rules *rules)
{
	char path[512];
	FILE *fp;
	struct config *cfg;
	struct store *st;
	struct rb_error err;
	struct seen s;
	int sup;

	(void)snprintf(path, sizeof(path), "%s/acc.conf", fx_dir);
	fp = fopen(path, "w");
	fprintf(fp,
	    "[store]\ndb = %s/acc.db\nworkers = 0\n"
	    "[suppression]\naccount_auto = complaint\n"
	    "[accounts]\nshop.example.com = shop\n",
	    fx_dir);
	fclose(fp);
	test_assert(config_load(path, &cfg, &err) == 0);
	test_assert(store_open(cfg, &st, &err) == 0);
	config_free(&cfg);
	test_assert_streq(store_account_of(st, "shop.example.com"), "shop");
	test_assert_streq(store_account_of(st, "x@shop.example.com"), "shop");
	test_assert_streq(store_account_of(st, "other.example"), "default");
	test_assert_streq(store_account_of(st, NULL), "default");

	/* account_auto = complaint: a hard bounce is global only. */
	ingest_one(st, rules,
	    fx_dsn("a1", "gone@example.net", "5.1.1", "a@shop.example.com", ""),
	    FX_NOW);
	s = check(st, "gone@example.net", NULL, FX_NOW, &sup);
	test_assert(sup == 1 && s.global == 1 && s.account == 0);
	ingest_one(st, rules,
	    fx_arf("a2", "angry@example.net", "a@shop.example.com", "abuse"),
	    FX_NOW);
	s = check(st, "angry@example.net", "shop", FX_NOW, &sup);
	test_assert(sup == 1 && s.account == 1);
	test_assert_streq(s.account_name, "shop");
	s = check(st, "angry@example.net", "default", FX_NOW, &sup);
	test_assert(sup == 0);
	store_close(&st);
}

static int
count_entry(const struct store_suppression *e, void *ctx)
{
	(void)e;
	(*(int *)ctx)++;
	return 0;
}

static int
list_count(struct store *st, const char *account, const char *reason)
{
	struct rb_error err;
	int n = 0;

	if (store_suppression_list(
	        st, account, reason, FX_NOW, count_entry, &n, &err) < 0)
		return -1;
	return n;
}

static void
test_manual(void)
{
	const char *sets[] = {"store.workers=0", NULL};
	const char *sens[] = {
	    "store.workers=0", "suppression.local_part=sensitive", NULL};
	struct store *st = fx_open("manual.db", sets), *st2;
	struct rb_error err;
	struct seen s;
	int sup;
	unsigned removed;

	test_assert(store_suppression_add(st, NULL, "Carl@Example.org",
	                "complaint", FX_NOW, &err) == 0);
	test_assert(store_suppression_add(st, "t2", "dora@example.org",
	                "BOUNCE", FX_NOW, &err) == 0);
	s = check(st, "carl@EXAMPLE.org", NULL, FX_NOW, &sup);
	test_assert(sup == 1);
	test_assert_streq(s.reason, "COMPLAINT");
	/* Malformed addresses and reasons: errors, no rows. */
	test_assert(store_suppression_add(st, NULL, "not-an-address", "BOUNCE",
	                FX_NOW, &err) < 0);
	test_assert(strstr(err.msg, "not-an-address") != NULL);
	test_assert(store_suppression_add(
	                st, NULL, "e@example.org", "SPAM", FX_NOW, &err) < 0);
	test_assert(store_suppression_check(
	                st, "a@@", NULL, FX_NOW, NULL, NULL, &sup, &err) < 0);
	test_assert(list_count(st, NULL, NULL) == 2);
	test_assert(list_count(st, NULL, "BOUNCE") == 1);
	test_assert(list_count(st, NULL, "complaint") == 1);
	test_assert(list_count(st, "t2", NULL) == 1);
	test_assert(list_count(st, NULL, "nonsense") < 0);

	/* Export then import into a fresh database: the same entries. */
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *fp;
		struct store_import_summary sum;
		uint64_t n = 0;
		int k;

		for (k = 0; k < 2; k++) {
			enum store_format f =
			    k ? STORE_FORMAT_CSV : STORE_FORMAT_JSONL;
			char name[32];

			fp = open_memstream(&buf, &len);
			test_assert(store_suppression_export(
			                st, fp, f, FX_NOW, &n, &err) == 0);
			fclose(fp);
			test_assert(n == 2);
			(void)snprintf(name, sizeof(name), "copy%d.db", k);
			st2 = fx_open(name, sets);
			fp = fmemopen(buf, len, "r");
			test_assert(store_suppression_import(st2, fp, "x", f,
			                NULL, FX_NOW, &sum, &err) == 0);
			fclose(fp);
			test_assert(sum.imported == 2);
			test_assert(list_count(st2, "t2", "BOUNCE") == 1);
			test_assert(
			    list_count(st2, "default", "COMPLAINT") == 1);
			store_close(&st2);
			free(buf);
			buf = NULL;
		}
	}
	/* A bad line fails the whole import. */
	{
		static const char bad[] =
		    "{\"address\":\"f@example.org\",\"reason\":\"BOUNCE\"}\n"
		    "{\"address\":\"broken@\",\"reason\":\"BOUNCE\"}\n";
		static const char csv[] =
		    "address,reason\n\"\"\"g,h\"\"@example.org\",BOUNCE\n"
		    "i@example.org,complaint\n";
		struct store_import_summary sum;
		FILE *fp =
		    fmemopen((void *)(uintptr_t)bad, sizeof(bad) - 1, "r");

		test_assert(
		    store_suppression_import(st, fp, "bad.jsonl",
		        STORE_FORMAT_JSONL, NULL, FX_NOW, &sum, &err) < 0);
		fclose(fp);
		test_assert(strstr(err.msg, "bad.jsonl:2") != NULL);
		test_assert(list_count(st, NULL, NULL) == 2);
		fp = fmemopen((void *)(uintptr_t)csv, sizeof(csv) - 1, "r");
		test_assert(
		    store_suppression_import(st, fp, "ok.csv", STORE_FORMAT_CSV,
		        NULL, FX_NOW, &sum, &err) == 0);
		fclose(fp);
		test_assert(list_count(st, NULL, NULL) == 4);
		s = check(st, "\"g,h\"@example.org", NULL, FX_NOW, &sup);
		test_assert(sup == 1);
	}
	/* Lines past the limit, or with a NUL, fail the import with bounded
	 * memory; CRLF lines are fine. */
	{
		static const char nul[] = "address,reason\nj\0@example.org,"
		                          "BOUNCE\n";
		static const char crlf[] = "address,reason\r\n"
		                           "k@example.org,BOUNCE\r\n";
		size_t big = 1024 * 1024;
		char *huge = xmalloc(big);
		struct store_import_summary sum;
		FILE *fp;

		memset(huge, 'x', big);
		memcpy(huge, "address,reason\n", 15);
		fp = fmemopen(huge, big, "r");
		test_assert(
		    store_suppression_import(st, fp, "huge.csv",
		        STORE_FORMAT_CSV, NULL, FX_NOW, &sum, &err) < 0);
		test_assert(strstr(err.msg, "huge.csv:2: line longer") != NULL);
		fclose(fp);
		free(huge);
		fp = fmemopen((void *)(uintptr_t)nul, sizeof(nul) - 1, "r");
		test_assert(
		    store_suppression_import(st, fp, "nul.csv",
		        STORE_FORMAT_CSV, NULL, FX_NOW, &sum, &err) < 0);
		test_assert(strstr(err.msg, "nul.csv:2: a NUL") != NULL);
		fclose(fp);
		test_assert(list_count(st, NULL, NULL) == 4);
		fp = fmemopen((void *)(uintptr_t)crlf, sizeof(crlf) - 1, "r");
		test_assert(
		    store_suppression_import(st, fp, "crlf.csv",
		        STORE_FORMAT_CSV, NULL, FX_NOW, &sum, &err) == 0);
		fclose(fp);
		test_assert(list_count(st, NULL, NULL) == 5);
		test_assert(store_suppression_remove(st, NULL, "k@example.org",
		                FX_NOW, &removed, &err) == 0);
	}
	test_assert(store_suppression_remove(st, "t2", "dora@example.org",
	                FX_NOW, &removed, &err) == 0);
	test_assert(removed == 1);
	test_assert(store_suppression_remove(st, NULL, "nobody@example.org",
	                FX_NOW, &removed, &err) == 0);
	test_assert(removed == 0);
	store_close(&st);

	/* Local parts compared as written when so configured. */
	st = fx_open("sens.db", sens);
	test_assert(store_suppression_add(st, NULL, "Carl@Example.org",
	                "BOUNCE", FX_NOW, &err) == 0);
	s = check(st, "carl@example.org", NULL, FX_NOW, &sup);
	test_assert(sup == 0);
	s = check(st, "Carl@EXAMPLE.ORG", NULL, FX_NOW, &sup);
	test_assert(sup == 1);
	store_close(&st);
}

/* An alias or forward: Final-Recipient is the mailbox that failed,
 * Original-Recipient the address the sender mails; both are suppressed.
 * A soft bounce of a forward suppresses neither. */
/* A DSN of one forwarded recipient: final failed, original given. */
static char *
forward_dsn(
    const char *id, const char *final, const char *orig, const char *status)
{
	char buf[2048];

	(void)snprintf(buf, sizeof(buf),
	    "From: MAILER-DAEMON@mx.example.net\n"
	    "Subject: Undelivered Mail Returned to Sender\n"
	    "Date: Sat, 01 Jun 2024 10:00:00 +0000\n"
	    "Message-ID: <fwd-%s@mx.example.net>\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;"
	    " boundary=\"F\"\n\n"
	    "--F\nContent-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; mx.example.net\n\n"
	    "Final-Recipient: rfc822; %s\n"
	    "Original-Recipient: rfc822; %s\n"
	    "Action: failed\nStatus: %s\n\n"
	    "--F\nContent-Type: text/rfc822-headers\n\n"
	    "From: Sender <a@shop.example.com>\nTo: %s\n"
	    "Subject: hello\n\n--F--\n",
	    id, final, orig, status, orig);
	return xstrdup(buf);
}

/* An alias or forward: Final-Recipient is the mailbox that failed,
 * Original-Recipient the address the sender mails; both are suppressed.
 * A soft bounce of a forward suppresses neither. */
static void
test_forward(const struct classify_rules *rules)
{
	const char *sets[] = {"store.workers=0", NULL};
	struct store *st = fx_open("forward.db", sets);
	struct seen s;
	int sup;

	ingest_one(st, rules,
	    forward_dsn(
	        "1", "gone@internal.example.net", "Team@Example.NET", "5.1.1"),
	    FX_NOW);
	s = check(st, "gone@internal.example.net", NULL, FX_NOW, &sup);
	test_assert(sup == 1 && s.global == 1 && s.account == 1);
	s = check(st, "team@example.net", NULL, FX_NOW, &sup);
	test_assert(sup == 1 && s.global == 1 && s.account == 1);
	test_assert_streq(s.detail, "userunknown");

	ingest_one(st, rules,
	    forward_dsn(
	        "2", "full@internal.example.net", "list@example.net", "5.2.2"),
	    FX_NOW);
	s = check(st, "list@example.net", NULL, FX_NOW, &sup);
	test_assert(sup == 0);
	s = check(st, "full@internal.example.net", NULL, FX_NOW, &sup);
	test_assert(sup == 0);
	store_close(&st);
}

int
main(void)
{
	struct classify_rules *rules;

	fx_tmpdir();
	rules = fx_rules();
	test_global(rules);
	test_never(rules);
	test_accounts(rules);
	test_manual();
	test_forward(rules);
	classify_rules_free(&rules);
	classify_global_shutdown();
	fx_cleanup();
	return test_exit();
}
