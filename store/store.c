/*
 * store: opening the database (WAL, synchronous=NORMAL, foreign keys,
 * busy timeout, migrations), the settings read from the config, the
 * cache of prepared statements (prepared once, reset and reused, never
 * built from user data) and the transaction helpers.  Errors keep the
 * database file name and SQLite's own message ("database or disk is
 * full"), so the one log line that reports them says what to fix.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"

/* A connection waits this long at most for another writer by default. */
#define STORE_DEFAULT_BUSY_MS 5000
/* Page cache per connection (KiB): a batch of 1000 new messages dirties
 * ~8 MB; indexes stay hot beside it.  Bounded whatever the input. */
#define STORE_CACHE_KIB 32768
/* Page size of a new database: a raw message and an event's JSON fit
 * one page more often than at 4 KiB; measured ~15 % faster ingest. */
#define STORE_PAGE_SIZE 8192
/* STORE_WAL_CHECKPOINT_PAGES (store_int.h), 64 MiB at 8 KiB: each
 * checkpoint costs two fsyncs, which dominated ingest at SQLite's
 * default of 1000 pages.  The WAL is truncated back to this after a
 * checkpoint.  During an ingest a thread of its own checkpoints (ckpt.c);
 * otherwise SQLite's automatic checkpoint does. */

/* clang-format off */
static const char *const stmt_sql[STMT_COUNT] = {
	[STMT_MSG_INSERT] =
	    "INSERT INTO messages(dedupe_key, received, time, kind, layout,"
	    " feedback_id, identity, attribution, trusted, subject, sender,"
	    " source, size)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
	    " ON CONFLICT(dedupe_key) DO NOTHING",
	[STMT_RAW_INSERT] =
	    "INSERT INTO raw_messages(message_id, received, encoding, size,"
	    " data) VALUES (?1, ?2, ?3, ?4, ?5)",
	[STMT_EVENT_INSERT] =
	    "INSERT INTO events(message_id, time, identity, type, reason,"
	    " bounce_type, recipient, domain, status, feedback_type, trusted,"
	    " json)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[STMT_COUNTER_ADD] =
	    "INSERT INTO counters(identity, hour, sends, hard, soft,"
	    " undetermined, complaints, not_spam, auto_replies, deliveries,"
	    " delays, untrusted, breakdown, unsubscribes)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	    " ?14)"
	    " ON CONFLICT(identity, hour) DO UPDATE SET"
	    " sends = sends + excluded.sends,"
	    " hard = hard + excluded.hard,"
	    " soft = soft + excluded.soft,"
	    " undetermined = undetermined + excluded.undetermined,"
	    " complaints = complaints + excluded.complaints,"
	    " not_spam = not_spam + excluded.not_spam,"
	    " auto_replies = auto_replies + excluded.auto_replies,"
	    " deliveries = deliveries + excluded.deliveries,"
	    " delays = delays + excluded.delays,"
	    " untrusted = untrusted + excluded.untrusted,"
	    " unsubscribes = unsubscribes + excluded.unsubscribes,"
	    " breakdown = rebound_bd_add(breakdown, excluded.breakdown)",
	[STMT_REVIEW_INSERT] =
	    "INSERT INTO review(message_id, time, why, json)"
	    " VALUES (?1, ?2, ?3, ?4)",
	/* New: ?4 (suppression.ttl).  Expired and remembered: the last
	 * period times ?7, within [?4, ?8].  Forgotten (expired ?6 ago):
	 * ?4 again.  Still suppressed: unchanged (WHERE). */
	[STMT_GLOBAL_SUPPRESS] =
	    "INSERT INTO suppression_global(address, reason, since, until,"
	    " ttl, strikes, event_id) VALUES (?1, ?2, ?3, ?3 + ?4, ?4, 1, ?5)"
	    " ON CONFLICT(address) DO UPDATE SET reason = excluded.reason,"
	    " since = excluded.since, event_id = excluded.event_id,"
	    " ttl = CASE WHEN until + ?6 <= excluded.since THEN ?4"
	    "  ELSE min(max(ttl * ?7, ?4), ?8) END,"
	    " until = excluded.since + CASE WHEN until + ?6 <= excluded.since"
	    "  THEN ?4 ELSE min(max(ttl * ?7, ?4), ?8) END,"
	    " strikes = CASE WHEN until + ?6 <= excluded.since THEN 1"
	    "  ELSE strikes + 1 END"
	    " WHERE until <= excluded.since",
	[STMT_GLOBAL_PUT] =
	    "INSERT INTO suppression_global(address, reason, since, until,"
	    " ttl, strikes, event_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	    " ON CONFLICT(address) DO UPDATE SET reason = excluded.reason,"
	    " since = excluded.since, until = excluded.until,"
	    " ttl = excluded.ttl, strikes = excluded.strikes,"
	    " event_id = excluded.event_id",
	[STMT_ACCOUNT_AUTO] =
	    "INSERT INTO suppression_account(account, address, reason, since,"
	    " origin, event_id) VALUES (?1, ?2, ?3, ?4, 'auto', ?5)"
	    " ON CONFLICT(account, address) DO NOTHING",
	[STMT_ACCOUNT_PUT] =
	    "INSERT INTO suppression_account(account, address, reason, since,"
	    " origin, event_id) VALUES (?1, ?2, ?3, ?4, ?5, NULL)"
	    " ON CONFLICT(account, address) DO UPDATE SET"
	    " reason = excluded.reason, origin = excluded.origin",
	[STMT_WINDOW_SUM] =
	    "SELECT coalesce(sum(sends), 0), coalesce(sum(hard), 0),"
	    " coalesce(sum(complaints), 0) FROM counters"
	    " WHERE identity = ?1 AND hour BETWEEN ?2 AND ?3",
	[STMT_ALERT_STATE_GET] =
	    "SELECT state FROM alert_state WHERE identity = ?1 AND metric = ?2",
	[STMT_ALERT_STATE_PUT] =
	    "INSERT INTO alert_state(identity, metric, state, since)"
	    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT(identity, metric)"
	    " DO UPDATE SET state = excluded.state, since = excluded.since",
	[STMT_ALERT_INSERT] =
	    "INSERT INTO alerts(time, identity, metric, from_state, to_state,"
	    " value, threshold, sends) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[STMT_OUTBOX_ADD] =
	    "INSERT INTO outbox(topic, key, ref, created)"
	    " VALUES (?1, ?2, ?3, ?4)",
};
/* clang-format on */

int
store_db_error(struct store *st, const char *what, struct rb_error *err)
{
	int code = sqlite3_extended_errcode(st->db);
	int sys = sqlite3_system_errno(st->db);

	/* "disk I/O error" says little; the system's errno says more. */
	if ((code & 0xff) == SQLITE_IOERR && sys != 0)
		return rb_error_set(err, code, "%s: %s: %s (%s)", st->path,
		    what, sqlite3_errmsg(st->db), strerror(sys));
	return rb_error_set(
	    err, code, "%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
}

sqlite3_stmt *
store_stmt(struct store *st, enum stmt_id id, struct rb_error *err)
{
	sqlite3_stmt *s = st->stmts[id];

	if (s == NULL) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[id], -1,
		        SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
			store_db_error(st, "prepare", err);
			return NULL;
		}
		st->stmts[id] = s;
	} else {
		(void)sqlite3_reset(s);
		(void)sqlite3_clear_bindings(s);
	}
	return s;
}

int
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

int
bind_text_null(sqlite3_stmt *s, int i, const char *v)
{
	return bind_text(s, i, v != NULL && v[0] != '\0' ? v : NULL);
}

const char *
col_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

int
store_exec(struct store *st, const char *sql, struct rb_error *err)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_db_error(st, sql, err);
	return 0;
}

int
store_begin(struct store *st, struct rb_error *err)
{
	rb_assert(!st->in_tx);
	/* IMMEDIATE: take the write lock now, not at the first write, so
	 * busy_timeout applies and no transaction fails half way. */
	if (store_exec(st, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	st->in_tx = 1;
	return 0;
}

int
store_commit(struct store *st, struct rb_error *err)
{
	rb_assert(st->in_tx);
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		store_db_error(st, "commit", err);
		store_rollback(st);
		return -1;
	}
	st->in_tx = 0;
	return 0;
}

void
store_rollback(struct store *st)
{
	if (!st->in_tx)
		return;
	/* After some errors (SQLITE_FULL) SQLite has already rolled back;
	 * the ROLLBACK then fails harmlessly. */
	if (sqlite3_get_autocommit(st->db) == 0)
		(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->in_tx = 0;
}

int
store_getline(FILE *fp, char **line, size_t *cap, size_t max, size_t *len_r)
{
	size_t len = 0;
	int c, rc = 1;

	flockfile(fp);
	for (;;) {
		c = getc_unlocked(fp);
		if (c == EOF) {
			rc = len > 0 ? 1 : 0;
			break;
		}
		if (c == '\n')
			break;
		if (c == '\0' || len >= max) {
			rc = c == '\0' ? -2 : -1;
			/* The rest of the line is dropped: the caller stops. */
			break;
		}
		if (len + 2 > *cap) {
			*cap = *cap < 256 ? 256 : *cap * 2;
			if (*cap > max + 2)
				*cap = max + 2;
			*line = xrealloc(*line, *cap);
		}
		(*line)[len++] = (char)c;
	}
	funlockfile(fp);
	if (rc == 1) {
		if (*line == NULL)
			*line = xmalloc(*cap = 1);
		/* CRLF files: the CR is not part of the line. */
		if (len > 0 && (*line)[len - 1] == '\r')
			len--;
		(*line)[len] = '\0';
		*len_r = len;
	}
	return rc;
}

int
store_line_error(struct rb_error *err, const char *name, uint64_t lineno,
    int got, size_t max)
{
	if (got == -1)
		return rb_error_set(err, EINVAL,
		    "%s:%llu: line longer than %zu bytes", name,
		    (unsigned long long)lineno, max);
	return rb_error_set(err, EINVAL,
	    "%s:%llu: a NUL byte: not a line of text", name,
	    (unsigned long long)lineno);
}

/* ---- settings ------------------------------------------------------------ */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_account(const void *a, const void *b)
{
	return strcmp(((const struct account_map *)a)->identity,
	    ((const struct account_map *)b)->identity);
}

struct accounts_ctx {
	struct store_conf *conf;
	struct rb_error *err;
	int failed;
};

static void
on_account(const char *key, const char *value, void *ctx)
{
	struct accounts_ctx *ac = ctx;
	struct store_conf *c = ac->conf;
	struct account_map *m;
	size_t i;

	if (ac->failed)
		return;
	if (value[0] == '\0' || strlen(value) >= STORE_MAX_ACCOUNT ||
	    strlen(key) >= STORE_MAX_IDENTITY) {
		rb_error_set(ac->err, EINVAL,
		    "[accounts] %s: an account "
		    "name of 1 to %d bytes is needed",
		    key, STORE_MAX_ACCOUNT - 1);
		ac->failed = 1;
		return;
	}
	c->accounts =
	    xrealloc(c->accounts, (c->n_accounts + 1) * sizeof(*c->accounts));
	m = &c->accounts[c->n_accounts++];
	m->identity = xstrdup(key);
	for (i = 0; m->identity[i] != '\0'; i++)
		m->identity[i] = (char)tolower((unsigned char)m->identity[i]);
	m->account = xstrdup(value);
}

static int
parse_addresses(struct store_conf *c, const char *list, struct rb_error *err)
{
	char *copy = xstrdup(list), *save = NULL, *tok;
	int rc = 0;

	for (tok = strtok_r(copy, ",; \t", &save); tok != NULL;
	     tok = strtok_r(NULL, ",; \t", &save)) {
		char norm[STORE_MAX_ADDRESS];

		if (address_normalize(tok, 0, norm, sizeof(norm), err) < 0 ||
		    c->n_id_addresses >= STORE_MAX_ID_ADDRESSES) {
			if (c->n_id_addresses >= STORE_MAX_ID_ADDRESSES)
				rb_error_set(err, EINVAL,
				    "identity.addresses:"
				    " more than %d",
				    STORE_MAX_ID_ADDRESSES);
			rc = -1;
			break;
		}
		c->id_addresses = xrealloc(
		    c->id_addresses, (c->n_id_addresses + 1) * sizeof(char *));
		c->id_addresses[c->n_id_addresses++] = xstrdup(norm);
	}
	free(copy);
	if (c->n_id_addresses > 1)
		qsort(c->id_addresses, c->n_id_addresses, sizeof(char *),
		    cmp_str);
	return rc;
}

static void
conf_free(struct store_conf *c)
{
	size_t i;

	for (i = 0; i < c->n_id_addresses; i++)
		free(c->id_addresses[i]);
	free(c->id_addresses);
	for (i = 0; i < c->n_accounts; i++) {
		free(c->accounts[i].identity);
		free(c->accounts[i].account);
	}
	free(c->accounts);
	free(c->default_account);
	free(c->providers_path);
	free(c->verp_secret);
	geo_close(&c->geo);
	memset(c, 0, sizeof(*c));
}

static int
conf_load(const struct config *cfg, struct store_conf *c, struct rb_error *err)
{
	struct accounts_ctx ac = {c, err, 0};
	const char *v;
	uint64_t u;

	memset(c, 0, sizeof(*c));
	if (config_get_u64(cfg, "store.batch_size", &c->batch_size, err) < 0)
		return -1;
	if (c->batch_size == 0 || c->batch_size > STORE_MAX_BATCH)
		return rb_error_set(
		    err, EINVAL, "store.batch_size: 1 to %d", STORE_MAX_BATCH);
	if (config_get_duration(cfg, "store.busy_timeout", &u, err) < 0)
		return -1;
	c->busy_ms = u * 1000;
	if (c->busy_ms > INT32_MAX)
		c->busy_ms = INT32_MAX;
	v = config_get(cfg, "store.workers");
	if (strcmp(v, "auto") == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		c->workers = n < 1                   ? 1
		             : n > STORE_MAX_WORKERS ? STORE_MAX_WORKERS
		                                     : (unsigned)n;
	} else {
		if (config_get_u64(cfg, "store.workers", &u, err) < 0)
			return -1;
		if (u > STORE_MAX_WORKERS)
			return rb_error_set(err, EINVAL,
			    "store.workers: auto or 0 to %d",
			    STORE_MAX_WORKERS);
		c->workers = (unsigned)u;
	}
	if (config_get_bool(cfg, "store.compress", &c->compress, err) < 0 ||
	    config_get_duration(cfg, "retention.raw", &c->raw_keep, err) < 0 ||
	    config_get_duration(cfg, "retention.events", &c->events_keep, err) <
	        0 ||
	    config_get_u64(cfg, "retention.prune_batch", &c->prune_batch, err) <
	        0)
		return -1;
	if (c->prune_batch == 0 || c->prune_batch > STORE_MAX_BATCH)
		return rb_error_set(err, EINVAL,
		    "retention.prune_batch: 1 to %d", STORE_MAX_BATCH);
	v = config_get(cfg, "identity.mode");
	if (strcmp(v, "domain") == 0)
		c->address_identities = 0;
	else if (strcmp(v, "address") == 0)
		c->address_identities = 1;
	else
		return rb_error_set(err, EINVAL,
		    "identity.mode: domain or address, not '%s'", v);
	if (parse_addresses(c, config_get(cfg, "identity.addresses"), err) < 0)
		return -1;
	v = config_get(cfg, "account.default");
	if (v[0] == '\0' || strlen(v) >= STORE_MAX_ACCOUNT)
		return rb_error_set(err, EINVAL,
		    "account.default: 1 to %d bytes", STORE_MAX_ACCOUNT - 1);
	c->default_account = xstrdup(v);
	config_section_foreach(cfg, "accounts", on_account, &ac);
	if (ac.failed)
		return -1;
	if (c->n_accounts > 1)
		qsort(c->accounts, c->n_accounts, sizeof(*c->accounts),
		    cmp_account);
	if (config_get_duration(cfg, "rates.window", &c->th.window, err) < 0 ||
	    config_get_u64(cfg, "rates.min_sends", &c->th.min_sends, err) < 0 ||
	    config_get_ratio(
	        cfg, "rates.bounce_warning", &c->th.bounce_warning, err) < 0 ||
	    config_get_ratio(cfg, "rates.bounce_critical",
	        &c->th.bounce_critical, err) < 0 ||
	    config_get_ratio(cfg, "rates.complaint_warning",
	        &c->th.complaint_warning, err) < 0 ||
	    config_get_ratio(cfg, "rates.complaint_critical",
	        &c->th.complaint_critical, err) < 0)
		return -1;
	if (c->th.window < 3600)
		return rb_error_set(err, EINVAL,
		    "rates.window: at least 1h (counters are hourly)");
	if (c->th.bounce_warning > c->th.bounce_critical ||
	    c->th.complaint_warning > c->th.complaint_critical)
		return rb_error_set(err, EINVAL,
		    "rates: a warning threshold above its critical one");
	if (config_get_duration(cfg, "suppression.ttl", &c->supp_ttl, err) <
	        0 ||
	    config_get_duration(
	        cfg, "suppression.max_ttl", &c->supp_max_ttl, err) < 0 ||
	    config_get_u64(
	        cfg, "suppression.escalation", &c->supp_factor, err) < 0 ||
	    config_get_duration(
	        cfg, "suppression.forget", &c->supp_forget, err) < 0)
		return -1;
	if (c->supp_ttl == 0 || c->supp_max_ttl < c->supp_ttl)
		return rb_error_set(err, EINVAL,
		    "suppression.ttl must be "
		    "positive and at most suppression.max_ttl");
	if (c->supp_factor < 1 || c->supp_factor > 100)
		return rb_error_set(
		    err, EINVAL, "suppression.escalation: 1 to 100");
	v = config_get(cfg, "suppression.local_part");
	if (strcmp(v, "insensitive") == 0)
		c->local_sensitive = 0;
	else if (strcmp(v, "sensitive") == 0)
		c->local_sensitive = 1;
	else
		return rb_error_set(err, EINVAL,
		    "suppression.local_part: "
		    "insensitive or sensitive, not '%s'",
		    v);
	v = config_get(cfg, "suppression.account_auto");
	if (strcmp(v, "both") == 0 || strcmp(v, "bounce,complaint") == 0 ||
	    strcmp(v, "complaint,bounce") == 0) {
		c->auto_bounce = c->auto_complaint = 1;
	} else if (strcmp(v, "bounce") == 0) {
		c->auto_bounce = 1;
	} else if (strcmp(v, "complaint") == 0) {
		c->auto_complaint = 1;
	} else if (strcmp(v, "none") != 0) {
		return rb_error_set(err, EINVAL,
		    "suppression.account_auto: "
		    "bounce, complaint, both or none, not '%s'",
		    v);
	}
	if (config_get_bool(cfg, "kafka.enabled", &c->outbox, err) < 0)
		return -1;
	c->providers_path = xstrdup(config_get(cfg, "stats.providers"));
	c->verp_secret = xstrdup(config_get(cfg, "verp.secret"));
	{
		const char *cdb = config_get(cfg, "geoip.country_db");
		const char *adb = config_get(cfg, "geoip.asn_db");

		if ((cdb[0] != '\0' || adb[0] != '\0') &&
		    geo_open(cdb, adb, &c->geo, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- open and close ------------------------------------------------------ */

static int
set_wal(struct store *st, struct rb_error *err)
{
	sqlite3_stmt *s;
	const char *mode;
	int ok;

	if (sqlite3_prepare_v2(
	        st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL) != SQLITE_OK)
		return store_db_error(st, "journal_mode", err);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_finalize(s);
		return store_db_error(st, "journal_mode", err);
	}
	mode = col_text(s, 0);
	/* An in-memory database (tests) has no WAL. */
	ok = mode != NULL &&
	     (strcmp(mode, "wal") == 0 || strcmp(mode, "memory") == 0);
	sqlite3_finalize(s);
	if (!ok)
		return rb_error_set(err, EIO,
		    "%s: cannot use WAL mode "
		    "(a read-only or network file system?)",
		    st->path);
	return 0;
}

/* Once per process, before SQLite's first use: no statistics of its
 * allocations.  They are kept under one global mutex, which every
 * allocation of every connection takes: the HTTP server's threads,
 * each with its own connection, contended on it for every look-up. */
static void
sqlite_setup(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/*
 * While another connection holds the write lock.  SQLite's own handler
 * sleeps 1, 2, 5, 10 ... up to 100 ms between tries: a writer holding
 * the lock for a few milliseconds (the publisher's deletes, an HTTP
 * write) cost the ingest tens of them, and a writer taking it again at
 * once (the ingest's batches) starved the other for the whole timeout.
 * Here the tries start at 50 us and double up to 2 ms, for the same
 * total time.
 */
static int
busy_wait(void *ctx, int n)
{
	struct store *st = ctx;
	uint64_t limit =
	    st->busy_limit_ms > 0 ? st->busy_limit_ms : st->conf.busy_ms;
	struct timespec now, d;
	int64_t us;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (n == 0)
		st->busy_since = now;
	us = (int64_t)(now.tv_sec - st->busy_since.tv_sec) * 1000000 +
	     (now.tv_nsec - st->busy_since.tv_nsec) / 1000;
	if (us >= (int64_t)(limit * 1000))
		return 0;
	us = n < 5 ? (int64_t)50 << n : 2000; /* 50 us ... 800 us, 2 ms */
	d.tv_sec = 0;
	d.tv_nsec = (long)(us * 1000);
	(void)nanosleep(&d, NULL);
	return 1;
}

int
store_open(const struct config *cfg, struct store **st_r, struct rb_error *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct store *st = xcalloc(1, sizeof(*st));
	const char *path = config_get(cfg, "store.db");
	char pragmas[256];

	(void)pthread_once(&once, sqlite_setup);
	if (conf_load(cfg, &st->conf, err) < 0)
		goto fail;
	if (path[0] == '\0') {
		rb_error_set(err, EINVAL, "store.db: no database file given");
		goto fail;
	}
	st->path = xstrdup(path);
	/* NOMUTEX: a handle is used by one thread at a time (store.h), so
	 * the connection's own mutex was pure cost, 6 % of a committer. */
	if (sqlite3_open_v2(path, &st->db,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	            SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK) {
		if (st->db == NULL)
			rb_error_set(err, ENOMEM, "%s: out of memory", path);
		else
			store_db_error(st, "open", err);
		goto fail;
	}
	(void)sqlite3_extended_result_codes(st->db, 1);
	(void)sqlite3_busy_handler(st->db, busy_wait, st);
	if (breakdown_register(st->db) < 0) {
		store_db_error(st, "breakdown functions", err);
		goto fail;
	}
	/* No effect on an existing database: only before the first write. */
	(void)snprintf(
	    pragmas, sizeof(pragmas), "PRAGMA page_size = %d", STORE_PAGE_SIZE);
	if (store_exec(st, pragmas, err) < 0)
		goto fail;
	(void)snprintf(pragmas, sizeof(pragmas),
	    "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
	    " PRAGMA cache_size = -%d; PRAGMA wal_autocheckpoint = %d;"
	    " PRAGMA journal_size_limit = %d",
	    STORE_CACHE_KIB, STORE_WAL_CHECKPOINT_PAGES,
	    STORE_WAL_CHECKPOINT_PAGES * STORE_PAGE_SIZE);
	if (set_wal(st, err) < 0 || store_exec(st, pragmas, err) < 0)
		goto fail;
	if (migrate_run(st->db, st->path, err) < 0)
		goto fail;
	if (st->conf.providers_path[0] != '\0' &&
	    providers_load(st->conf.providers_path, &st->providers, err) < 0)
		goto fail;
	if (breakdown_check(st, err) < 0)
		goto fail;
	*st_r = st;
	return 0;
fail:
	store_close(&st);
	return -1;
}

void
store_close(struct store **stp)
{
	struct store *st = stp != NULL ? *stp : NULL;
	size_t i;

	if (st == NULL)
		return;
	rb_assert(!st->ingesting);
	store_rollback(st);
	for (i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(st->stmts[i]);
	query_cache_free(st);
	if (st->db != NULL)
		(void)sqlite3_close(st->db);
	providers_free(&st->providers);
	conf_free(&st->conf);
	free(st->path);
	free(st);
	*stp = NULL;
}

const char *
store_path(const struct store *st)
{
	return st->path;
}

int
store_schema_version(struct store *st, int *version_r, struct rb_error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) !=
	    SQLITE_OK)
		return store_db_error(st, "user_version", err);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*version_r = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return store_db_error(st, "user_version", err);
	return 0;
}

/* Run a check PRAGMA; clean when it returns no row or one "ok". */
static int
check_pragma(struct store *st, const char *sql, struct rb_error *err)
{
	sqlite3_stmt *s;
	int rc, rows = 0, clean = 1;
	char first[200] = "";

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_db_error(st, sql, err);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t = col_text(s, 0);

		if (rows++ == 0)
			(void)snprintf(first, sizeof(first), "%s",
			    t != NULL ? t : "(null)");
		if (t == NULL || strcmp(t, "ok") != 0)
			clean = 0;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return store_db_error(st, sql, err);
	if (!clean)
		return rb_error_set(err, EIO, "%s: %s: %s%s", st->path, sql,
		    first, rows > 1 ? " ..." : "");
	return 0;
}

int
store_check(struct store *st, struct rb_error *err)
{
	if (check_pragma(st, "PRAGMA integrity_check", err) < 0 ||
	    check_pragma(st, "PRAGMA foreign_key_check", err) < 0)
		return -1;
	return 0;
}

void
store_thresholds(const struct store *st, struct store_thresholds *t_r)
{
	*t_r = st->conf.th;
}

const char *
store_account_of(const struct store *st, const char *identity)
{
	return conf_account_of(&st->conf, identity);
}
