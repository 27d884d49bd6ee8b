/*
 * query: the read queries of the HTTP API (paged identities, events,
 * suppression entries and alerts, hourly series, monitoring totals), the
 * batch of send counts it writes, and the cache of prepared statements
 * that keeps its hot look-ups at a few microseconds.
 *
 * Paging is by keyset, never by offset: a page starts strictly after the
 * position where the last one ended, in an order that is an index of the
 * table, so rows inserted meanwhile never make a page repeat or skip a
 * row.  Each call examines at most STORE_MAX_SCAN keys whatever its
 * filters; it then ends early and says where it got to.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Distinct cached SQL texts per handle: the queries of this file and the
 * few hot ones of rates.c and suppress.c; a bug if exceeded. */
#define QUERY_CACHE_MAX 48
/* Bytes of the database a reader maps into memory (SQLite caps it at
 * its own maximum, 2 GiB in Debian's build): pages are then read from
 * the kernel's page cache without a copy or a system call, and shared
 * by every reader, instead of one 32 MiB cache each.  A database past
 * it is read the usual way beyond. */
#define STORE_READER_MMAP "2147418112"
/* Items of one store_sends_add_many call at most. */
#define QUERY_MAX_SENDS 100000

struct query_cache {
	size_t n;
	const char *sql[QUERY_CACHE_MAX];
	sqlite3_stmt *stmt[QUERY_CACHE_MAX];
};

sqlite3_stmt *
query_stmt(struct store *st, const char *sql, struct rb_error *err)
{
	struct query_cache *c = st->qcache;
	sqlite3_stmt *s;
	size_t i;

	if (c == NULL)
		c = st->qcache = xcalloc(1, sizeof(*c));
	for (i = 0; i < c->n; i++) {
		if (c->sql[i] == sql) {
			(void)sqlite3_reset(c->stmt[i]);
			(void)sqlite3_clear_bindings(c->stmt[i]);
			return c->stmt[i];
		}
	}
	rb_assert(c->n < QUERY_CACHE_MAX);
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s,
	        NULL) != SQLITE_OK) {
		store_db_error(st, "prepare", err);
		return NULL;
	}
	c->sql[c->n] = sql;
	c->stmt[c->n++] = s;
	return s;
}

void
query_cache_free(struct store *st)
{
	struct query_cache *c = st->qcache;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		sqlite3_finalize(c->stmt[i]);
	free(c);
	st->qcache = NULL;
}

void
query_event_row(sqlite3_stmt *s, struct store_event *ev)
{
	ev->id = sqlite3_column_int64(s, 0);
	ev->message_id = sqlite3_column_int64(s, 1);
	ev->time = (time_t)sqlite3_column_int64(s, 2);
	ev->identity = col_text(s, 3);
	ev->type = col_text(s, 4);
	ev->reason = col_text(s, 5);
	ev->bounce_type = col_text(s, 6);
	ev->recipient = col_text(s, 7);
	ev->status = col_text(s, 8);
	ev->trusted = sqlite3_column_int(s, 9);
	ev->json = col_text(s, 10);
}

void
store_global_init(void)
{
	/* Memory statistics take one process-wide mutex in every SQLite
	 * allocation: the HTTP threads queued on it.  Refused (harmless)
	 * once SQLite is initialised. */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int
store_open_reader(
    const struct config *cfg, struct store **st_r, struct rb_error *err)
{
	struct store *st;

	if (store_open(cfg, &st, err) < 0)
		return -1;
	if (store_exec(st,
	        "PRAGMA query_only = ON; PRAGMA mmap_size = " STORE_READER_MMAP,
	        err) < 0) {
		store_close(&st);
		return -1;
	}
	*st_r = st;
	return 0;
}

/*
 * Run a cached statement without parameters once: want_row 1 needs a
 * row (its column 0 into *v_r when v_r is not NULL), 0 needs none.
 * 0, or -1 with err.
 */
static int
query_once(struct store *st, const char *sql, int want_row, int64_t *v_r,
    const char *what, struct rb_error *err)
{
	sqlite3_stmt *s = query_stmt(st, sql, err);
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && v_r != NULL)
		*v_r = sqlite3_column_int64(s, 0);
	(void)sqlite3_reset(s);
	if (rc != (want_row ? SQLITE_ROW : SQLITE_DONE))
		return store_db_error(st, what, err);
	return 0;
}

int
store_read_begin(struct store *st, struct rb_error *err)
{
	static const char sql[] = "BEGIN";

	return query_once(st, sql, 0, NULL, "begin", err);
}

void
store_read_end(struct store *st)
{
	static const char sql[] = "COMMIT";
	sqlite3_stmt *s;

	if (sqlite3_get_autocommit(st->db))
		return;
	s = query_stmt(st, sql, NULL);
	if (s == NULL || sqlite3_step(s) != SQLITE_DONE)
		(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	if (s != NULL)
		(void)sqlite3_reset(s);
}

int
store_data_version(struct store *st, uint64_t *v_r, struct rb_error *err)
{
	static const char sql[] = "PRAGMA data_version";
	int64_t v = 0;

	if (query_once(st, sql, 1, &v, "data_version", err) < 0)
		return -1;
	*v_r = (uint64_t)v;
	return 0;
}

int
store_error_busy(struct store *st)
{
	int c = sqlite3_extended_errcode(st->db) & 0xff;

	return c == SQLITE_BUSY || c == SQLITE_LOCKED;
}

int
store_ping(struct store *st, struct rb_error *err)
{
	static const char sql[] = "SELECT count(*) FROM sqlite_master";

	return query_once(st, sql, 1, NULL, "ping", err);
}

/* Step s once more for a row: 1 row, 0 done, -1 error (err set). */
static int
step_row(
    struct store *st, sqlite3_stmt *s, const char *what, struct rb_error *err)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return store_db_error(st, what, err);
}

/* Copy a column into a fixed buffer (a key of a position). */
static void
copy_key(char *out, size_t outlen, const char *v)
{
	(void)snprintf(out, outlen, "%s", v != NULL ? v : "");
}

/* ---- identities ---------------------------------------------------------- */

int
store_identity_known(
    struct store *st, const char *identity, struct rb_error *err)
{
	static const char sql[] =
	    "SELECT 1 FROM counters WHERE identity = ?1 LIMIT 1";
	sqlite3_stmt *s = query_stmt(st, sql, err);
	int rc;

	if (s == NULL)
		return -1;
	(void)bind_text(s, 1, identity);
	rc = step_row(st, s, "identity", err);
	(void)sqlite3_reset(s);
	return rc;
}

int
store_stats_empty(const struct store_identity_stats *r)
{
	return r->sends == 0 && r->hard == 0 && r->soft == 0 &&
	       r->undetermined == 0 && r->complaints == 0 && r->not_spam == 0 &&
	       r->auto_replies == 0 && r->deliveries == 0 && r->delays == 0 &&
	       r->untrusted == 0 && r->unsubscribes == 0;
}

int
store_identities_page(struct store *st, time_t now, uint64_t window, int status,
    const char *after, size_t limit, store_stats_fn *fn, void *ctx, int *more_r,
    char *last_r, struct rb_error *err)
{
	/* A loose index scan: seek to the next identity of the primary
	 * key, then sum its hours of the window (rates_sum), so a page
	 * costs two seeks per identity examined, never a scan of every
	 * hour of every identity. */
	static const char sql_next[] = "SELECT identity FROM counters"
	                               " WHERE identity > ?1 ORDER BY identity"
	                               " LIMIT 1";
	char cur[STORE_MAX_IDENTITY], given[STORE_MAX_IDENTITY] = "";
	size_t n = 0, examined = 0;
	int64_t h0, h1;

	*more_r = 0;
	if (window == 0)
		window = st->conf.th.window;
	if (limit == 0 || limit > STORE_MAX_PAGE)
		limit = STORE_MAX_PAGE;
	rates_window_hours(now, window, &h0, &h1);
	copy_key(cur, sizeof(cur), after);
	copy_key(given, sizeof(given), after);
	for (;;) {
		struct store_identity_stats r;
		sqlite3_stmt *s;
		int rc;

		if (examined == STORE_MAX_SCAN) {
			*more_r = 1;
			copy_key(last_r, STORE_MAX_IDENTITY, cur);
			return 0;
		}
		if ((s = query_stmt(st, sql_next, err)) == NULL)
			return -1;
		(void)bind_text(s, 1, cur);
		rc = step_row(st, s, "identities", err);
		if (rc == 1)
			copy_key(cur, sizeof(cur), col_text(s, 0));
		(void)sqlite3_reset(s);
		if (rc <= 0)
			return rc;
		examined++;
		if (rates_sum(st, cur, h0, h1, &r, err) < 0)
			return -1;
		if (store_stats_empty(&r) ||
		    (status >= 0 && (int)r.status != status))
			continue;
		if (n == limit) {
			/* One more exists: the page ends at the last given. */
			*more_r = 1;
			copy_key(last_r, STORE_MAX_IDENTITY, given);
			return 0;
		}
		n++;
		copy_key(given, sizeof(given), cur);
		if (fn(&r, ctx) < 0)
			return 0;
	}
}

int
store_hours(struct store *st, const char *identity, int64_t h0, int64_t h1,
    store_hour_fn *fn, void *ctx, struct rb_error *err)
{
	static const char sql[] =
	    "SELECT hour, sends, hard, soft, undetermined, complaints,"
	    " not_spam, auto_replies, deliveries, delays, untrusted"
	    " FROM counters WHERE identity = ?1 AND hour BETWEEN ?2 AND ?3"
	    " ORDER BY hour";
	sqlite3_stmt *s = query_stmt(st, sql, err);
	int rc;

	if (s == NULL)
		return -1;
	(void)bind_text(s, 1, identity);
	(void)sqlite3_bind_int64(s, 2, h0);
	(void)sqlite3_bind_int64(s, 3, h1);
	while ((rc = step_row(st, s, "hours", err)) == 1) {
		struct store_hour h;

		h.hour = sqlite3_column_int64(s, 0);
		h.sends = (uint64_t)sqlite3_column_int64(s, 1);
		h.hard = (uint64_t)sqlite3_column_int64(s, 2);
		h.soft = (uint64_t)sqlite3_column_int64(s, 3);
		h.undetermined = (uint64_t)sqlite3_column_int64(s, 4);
		h.complaints = (uint64_t)sqlite3_column_int64(s, 5);
		h.not_spam = (uint64_t)sqlite3_column_int64(s, 6);
		h.auto_replies = (uint64_t)sqlite3_column_int64(s, 7);
		h.deliveries = (uint64_t)sqlite3_column_int64(s, 8);
		h.delays = (uint64_t)sqlite3_column_int64(s, 9);
		h.untrusted = (uint64_t)sqlite3_column_int64(s, 10);
		if (fn(&h, ctx) < 0)
			break;
	}
	(void)sqlite3_reset(s);
	return rc < 0 ? -1 : 0;
}

/* ---- identities ranked ------------------------------------------------- */

/* The sums of every identity's counters in hours [?1, ?2]. */
static const char window_sql[] =
    "SELECT identity, sum(sends), sum(hard), sum(soft),"
    " sum(undetermined), sum(complaints), sum(not_spam),"
    " sum(auto_replies), sum(deliveries), sum(delays), sum(untrusted),"
    " sum(unsubscribes)"
    " FROM counters WHERE hour BETWEEN ?1 AND ?2 GROUP BY identity";

/* A row of window_sql into *r (no rates yet): 0, or -1 when it counts
 * nothing. */
static int
window_row(sqlite3_stmt *s, struct store_identity_stats *r)
{
	memset(r, 0, sizeof(*r));
	r->identity = col_text(s, 0);
	r->sends = (uint64_t)sqlite3_column_int64(s, 1);
	r->hard = (uint64_t)sqlite3_column_int64(s, 2);
	r->soft = (uint64_t)sqlite3_column_int64(s, 3);
	r->undetermined = (uint64_t)sqlite3_column_int64(s, 4);
	r->complaints = (uint64_t)sqlite3_column_int64(s, 5);
	r->not_spam = (uint64_t)sqlite3_column_int64(s, 6);
	r->auto_replies = (uint64_t)sqlite3_column_int64(s, 7);
	r->deliveries = (uint64_t)sqlite3_column_int64(s, 8);
	r->delays = (uint64_t)sqlite3_column_int64(s, 9);
	r->untrusted = (uint64_t)sqlite3_column_int64(s, 10);
	r->unsubscribes = (uint64_t)sqlite3_column_int64(s, 11);
	return r->identity == NULL || store_stats_empty(r) ? -1 : 0;
}

struct ranked {
	struct store_identity_stats s; /* identity: malloc'd */
	double v;
};

/* A bounded max-heap of the page: its root the one ranked last, which
 * goes when a better one comes. */
struct rank_heap {
	struct ranked *v;
	size_t n, max;
};

static double
rank_value(const struct store_identity_stats *r, enum store_rank key)
{
	switch (key) {
	case STORE_RANK_BOUNCE_RATE:
		return r->bounce_rate;
	case STORE_RANK_COMPLAINT_RATE:
		return r->complaint_rate;
	case STORE_RANK_SENDS:
		break;
	}
	return (double)r->sends;
}

/* Is (va, ia) ranked after (vb, ib): a lower value, or equal and a
 * later name? */
static int
rank_after(double va, const char *ia, double vb, const char *ib)
{
	if (va != vb)
		return va < vb;
	return strcmp(ia, ib) > 0;
}

static int
ranked_after(const struct ranked *a, const struct ranked *b)
{
	return rank_after(a->v, a->s.identity, b->v, b->s.identity);
}

static void
ranked_swap(struct ranked *a, struct ranked *b)
{
	struct ranked t = *a;

	*a = *b;
	*b = t;
}

static void
rank_push(struct rank_heap *h, const struct store_identity_stats *r, double v)
{
	size_t i;

	if (h->max == 0)
		return;
	if (h->n == h->max) {
		size_t m;

		if (!rank_after(h->v[0].v, h->v[0].s.identity, v, r->identity))
			return;
		free((char *)(uintptr_t)h->v[0].s.identity);
		h->v[0].s = *r;
		h->v[0].s.identity = xstrdup(r->identity);
		h->v[0].v = v;
		for (i = 0;; i = m) {
			size_t l = 2 * i + 1;

			m = i;
			if (l < h->n && ranked_after(&h->v[l], &h->v[m]))
				m = l;
			if (l + 1 < h->n &&
			    ranked_after(&h->v[l + 1], &h->v[m]))
				m = l + 1;
			if (m == i)
				return;
			ranked_swap(&h->v[i], &h->v[m]);
		}
	}
	i = h->n++;
	h->v[i].s = *r;
	h->v[i].s.identity = xstrdup(r->identity);
	h->v[i].v = v;
	while (i > 0 && ranked_after(&h->v[i], &h->v[(i - 1) / 2])) {
		ranked_swap(&h->v[i], &h->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
}

static int
cmp_ranked(const void *a, const void *b)
{
	if (ranked_after(a, b))
		return 1;
	return ranked_after(b, a) ? -1 : 0;
}

int
store_identities_ranked(struct store *st, time_t now, uint64_t window,
    int status, enum store_rank key, double after_value, const char *after,
    size_t limit, store_stats_fn *fn, void *ctx, int *more_r,
    double *last_value_r, char *last_r, struct rb_error *err)
{
	static const char *const sql = window_sql;
	struct rank_heap h = {NULL, 0, 0};
	sqlite3_stmt *s;
	int64_t h0, h1;
	size_t i;
	int rc;

	*more_r = 0;
	if (window == 0)
		window = st->conf.th.window;
	if (limit == 0 || limit > STORE_MAX_PAGE)
		limit = STORE_MAX_PAGE;
	rates_window_hours(now, window, &h0, &h1);
	if ((s = query_stmt(st, sql, err)) == NULL)
		return -1;
	(void)sqlite3_bind_int64(s, 1, h0);
	(void)sqlite3_bind_int64(s, 2, h1);
	/* One more than the page: whether more follow. */
	h.max = limit + 1;
	h.v = xcalloc(h.max, sizeof(*h.v));
	while ((rc = step_row(st, s, "identities", err)) == 1) {
		struct store_identity_stats r;
		double v;

		if (window_row(s, &r) < 0)
			continue;
		rates_finish(&st->conf.th, &r);
		if (status >= 0 && (int)r.status != status)
			continue;
		v = rank_value(&r, key);
		if (after != NULL &&
		    !rank_after(v, r.identity, after_value, after))
			continue;
		rank_push(&h, &r, v);
	}
	(void)sqlite3_reset(s);
	if (rc == 0 && h.n > 1)
		qsort(h.v, h.n, sizeof(*h.v), cmp_ranked);
	for (i = 0; i < h.n; i++) {
		if (rc == 0 && i < limit && fn != NULL &&
		    fn(&h.v[i].s, ctx) < 0)
			fn = NULL;
		if (rc == 0 && i + 1 == limit && h.n > limit) {
			*more_r = 1;
			*last_value_r = h.v[i].v;
			copy_key(last_r, STORE_MAX_IDENTITY, h.v[i].s.identity);
		}
		free((char *)(uintptr_t)h.v[i].s.identity);
	}
	free(h.v);
	return rc < 0 ? -1 : 0;
}

/* ---- alerts -------------------------------------------------------------- */

/* Give up to limit alerts rows of s (bound, LIMIT limit + 1) to fn,
 * *more_r set when one more exists; s is reset. */
static int
alert_rows(struct store *st, sqlite3_stmt *s, size_t limit, store_alert_fn *fn,
    void *ctx, int *more_r, struct rb_error *err)
{
	size_t n = 0;
	int rc;

	while ((rc = step_row(st, s, "alerts", err)) == 1) {
		struct store_alert a;

		if (n == limit) {
			*more_r = 1;
			break;
		}
		n++;
		rates_alert_row(s, &a);
		if (fn(&a, ctx) < 0)
			break;
	}
	(void)sqlite3_reset(s);
	return rc < 0 ? -1 : 0;
}

int
store_alerts_active(struct store *st, const char *identity,
    const char *after_identity, const char *after_metric, size_t limit,
    store_alert_fn *fn, void *ctx, int *more_r, struct rb_error *err)
{
	/* The transition into the current state is the newest of the
	 * pair (alerts_identity index). */
	static const char sql[] =
	    "SELECT a.id, s.since, s.identity, s.metric,"
	    " coalesce(a.from_state, 0), s.state, coalesce(a.value, 0),"
	    " coalesce(a.threshold, 0), coalesce(a.sends, 0)"
	    " FROM alert_state s LEFT JOIN alerts a ON a.id = (SELECT max(id)"
	    "  FROM alerts x WHERE x.identity = s.identity"
	    "  AND x.metric = s.metric)"
	    " WHERE s.state <> 0 AND (?1 IS NULL OR s.identity = ?1)"
	    " AND (s.identity, s.metric) > (?2, ?3)"
	    " ORDER BY s.identity, s.metric LIMIT ?4";
	sqlite3_stmt *s = query_stmt(st, sql, err);

	*more_r = 0;
	if (s == NULL)
		return -1;
	if (limit == 0 || limit > STORE_MAX_PAGE)
		limit = STORE_MAX_PAGE;
	(void)bind_text(s, 1, identity);
	(void)bind_text(s, 2, after_identity != NULL ? after_identity : "");
	(void)bind_text(s, 3, after_metric != NULL ? after_metric : "");
	(void)sqlite3_bind_int64(s, 4, (sqlite3_int64)limit + 1);
	return alert_rows(st, s, limit, fn, ctx, more_r, err);
}

int
store_alerts_page(struct store *st, const char *identity, int64_t before,
    size_t limit, store_alert_fn *fn, void *ctx, int *more_r,
    struct rb_error *err)
{
	static const char sql_all[] =
	    "SELECT id, time, identity, metric, from_state, to_state, value,"
	    " threshold, sends FROM alerts WHERE id < ?2"
	    " ORDER BY id DESC LIMIT ?3";
	static const char sql_one[] =
	    "SELECT id, time, identity, metric, from_state, to_state, value,"
	    " threshold, sends FROM alerts WHERE identity = ?1 AND id < ?2"
	    " ORDER BY id DESC LIMIT ?3";
	sqlite3_stmt *s = query_stmt(st, identity ? sql_one : sql_all, err);

	*more_r = 0;
	if (s == NULL)
		return -1;
	if (limit == 0 || limit > STORE_MAX_PAGE)
		limit = STORE_MAX_PAGE;
	if (identity != NULL)
		(void)bind_text(s, 1, identity);
	(void)sqlite3_bind_int64(s, 2, before > 0 ? before : INT64_MAX);
	(void)sqlite3_bind_int64(s, 3, (sqlite3_int64)limit + 1);
	return alert_rows(st, s, limit, fn, ctx, more_r, err);
}

/* ---- suppression --------------------------------------------------------- */

struct supp_walk {
	const struct store_suppression_filter *f;
	time_t now;
	size_t limit, n, examined;
	store_suppression_fn *fn;
	void *ctx;
	int more, stop;
	struct store_suppression_pos *pos;
};

static int
supp_match(const struct supp_walk *w, const struct store_suppression *e)
{
	const struct store_suppression_filter *f = w->f;

	if (e->list == STORE_LIST_GLOBAL && e->until <= w->now)
		return 0;
	if (f->reason != NULL && strcmp(f->reason, e->reason) != 0)
		return 0;
	if (f->from != 0 && e->since < f->from)
		return 0;
	if (f->to != 0 && e->since >= f->to)
		return 0;
	return 1;
}

/* Walk the rows of s (bound), one list; 0 or -1.  The position is the
 * last row consumed (given, or examined and left out). */
static int
supp_rows(struct store *st, sqlite3_stmt *s, enum store_list list,
    struct supp_walk *w, struct rb_error *err)
{
	int rc;

	while ((rc = step_row(st, s, "suppression", err)) == 1) {
		struct store_suppression e;
		int match;

		if (list == STORE_LIST_GLOBAL)
			suppress_row_global(s, 0, &e);
		else
			suppress_row_account(s, &e);
		if (w->examined++ == STORE_MAX_SCAN) {
			w->more = w->stop = 1;
			return 0;
		}
		match = supp_match(w, &e);
		if (match && w->n == w->limit) {
			w->more = w->stop = 1;
			return 0;
		}
		w->pos->list = list;
		copy_key(w->pos->account, sizeof(w->pos->account), e.account);
		copy_key(w->pos->address, sizeof(w->pos->address), e.address);
		if (!match)
			continue;
		w->n++;
		if (w->fn(&e, w->ctx) < 0) {
			w->stop = 1;
			return 0;
		}
	}
	return rc < 0 ? -1 : 0;
}

int
store_suppression_page(struct store *st,
    const struct store_suppression_filter *f, time_t now,
    const struct store_suppression_pos *after, size_t limit,
    store_suppression_fn *fn, void *ctx, int *more_r,
    struct store_suppression_pos *pos_r, struct rb_error *err)
{
	static const char sql_g[] =
	    "SELECT address, reason, since, until, strikes, event_id"
	    " FROM suppression_global WHERE address > ?1 ORDER BY address";
	static const char sql_a[] =
	    "SELECT account, address, reason, since, origin, event_id"
	    " FROM suppression_account WHERE (account, address) > (?1, ?2)"
	    " ORDER BY account, address";
	static const char sql_a1[] =
	    "SELECT account, address, reason, since, origin, event_id"
	    " FROM suppression_account WHERE account = ?1 AND address > ?2"
	    " ORDER BY address";
	struct supp_walk w;
	sqlite3_stmt *s;
	int rc;

	memset(&w, 0, sizeof(w));
	w.f = f;
	w.now = now;
	w.limit = limit == 0 || limit > STORE_MAX_PAGE ? STORE_MAX_PAGE : limit;
	w.fn = fn;
	w.ctx = ctx;
	w.pos = pos_r;
	memset(pos_r, 0, sizeof(*pos_r));
	if (after != NULL)
		*pos_r = *after;
	*more_r = 0;
	if ((after == NULL || after->list == STORE_LIST_GLOBAL) &&
	    f->list != STORE_LIST_ACCOUNT &&
	    (f->reason == NULL || strcmp(f->reason, "BOUNCE") == 0)) {
		if ((s = query_stmt(st, sql_g, err)) == NULL)
			return -1;
		(void)bind_text(s, 1, after != NULL ? after->address : "");
		rc = supp_rows(st, s, STORE_LIST_GLOBAL, &w, err);
		(void)sqlite3_reset(s);
		if (rc < 0)
			return -1;
	}
	if (!w.stop && f->list != STORE_LIST_GLOBAL) {
		int cont = after != NULL && after->list == STORE_LIST_ACCOUNT;

		if ((s = query_stmt(st, f->account ? sql_a1 : sql_a, err)) ==
		    NULL)
			return -1;
		if (f->account != NULL) {
			(void)bind_text(s, 1, f->account);
			(void)bind_text(s, 2,
			    cont && strcmp(after->account, f->account) == 0
			        ? after->address
			        : "");
		} else {
			(void)bind_text(s, 1, cont ? after->account : "");
			(void)bind_text(s, 2, cont ? after->address : "");
		}
		rc = supp_rows(st, s, STORE_LIST_ACCOUNT, &w, err);
		(void)sqlite3_reset(s);
		if (rc < 0)
			return -1;
	}
	*more_r = w.more;
	return 0;
}

/* ---- events -------------------------------------------------------------- */

#define EVENT_COLUMNS                                                          \
	"SELECT id, message_id, time, identity, type, reason, bounce_type,"    \
	" recipient, status, trusted, json FROM events"

static int
event_match(const struct store_event_filter *f, const struct store_event *ev)
{
	if (f->type != NULL && (ev->type == NULL || strcmp(f->type, ev->type)))
		return 0;
	if (f->identity != NULL &&
	    (ev->identity == NULL || strcmp(f->identity, ev->identity) != 0))
		return 0;
	if (f->recipient != NULL &&
	    (ev->recipient == NULL || strcmp(f->recipient, ev->recipient)))
		return 0;
	return 1;
}

int
store_events_page(struct store *st, const struct store_event_filter *f,
    const struct store_event_pos *after, size_t limit, store_event_fn *fn,
    void *ctx, int *more_r, struct store_event_pos *pos_r, struct rb_error *err)
{
	/* The most selective filter drives an index ((identity, time),
	 * (recipient, time) or (time), each ending in the rowid, so that
	 * ORDER BY time DESC, id DESC is the index backwards); the others
	 * are checked here, within STORE_MAX_SCAN rows. */
	static const char sql_id[] =
	    EVENT_COLUMNS " WHERE identity = ?1 AND time >= ?2"
	                  " AND (time, id) < (?3, ?4)"
	                  " ORDER BY time DESC, id DESC";
	static const char sql_rcpt[] =
	    EVENT_COLUMNS " WHERE recipient = ?1 AND time >= ?2"
	                  " AND (time, id) < (?3, ?4)"
	                  " ORDER BY time DESC, id DESC";
	static const char sql_all[] =
	    EVENT_COLUMNS " WHERE time >= ?2 AND (time, id) < (?3, ?4)"
	                  " ORDER BY time DESC, id DESC";
	struct store_event_pos start = {(time_t)INT64_MAX, INT64_MAX};
	size_t n = 0, examined = 0;
	sqlite3_stmt *s;
	int rc;

	*more_r = 0;
	if (limit == 0 || limit > STORE_MAX_PAGE)
		limit = STORE_MAX_PAGE;
	/* time < until is (time, id) < (until, 0): ids are positive. */
	if (f->until != 0)
		start = (struct store_event_pos){f->until, 0};
	if (after != NULL &&
	    (after->time < start.time ||
	        (after->time == start.time && after->id < start.id)))
		start = *after;
	*pos_r = start;
	s = query_stmt(st,
	    f->identity != NULL    ? sql_id
	    : f->recipient != NULL ? sql_rcpt
	                           : sql_all,
	    err);
	if (s == NULL)
		return -1;
	if (f->identity != NULL)
		(void)bind_text(s, 1, f->identity);
	else if (f->recipient != NULL)
		(void)bind_text(s, 1, f->recipient);
	(void)sqlite3_bind_int64(
	    s, 2, f->since != 0 ? (sqlite3_int64)f->since : INT64_MIN);
	(void)sqlite3_bind_int64(s, 3, (sqlite3_int64)start.time);
	(void)sqlite3_bind_int64(s, 4, start.id);
	while ((rc = step_row(st, s, "events", err)) == 1) {
		struct store_event ev;

		query_event_row(s, &ev);
		if (examined++ == STORE_MAX_SCAN) {
			*more_r = 1;
			break;
		}
		if (!event_match(f, &ev)) {
			pos_r->time = ev.time;
			pos_r->id = ev.id;
			continue;
		}
		if (n == limit) {
			*more_r = 1;
			break;
		}
		n++;
		pos_r->time = ev.time;
		pos_r->id = ev.id;
		if (fn(&ev, ctx) < 0)
			break;
	}
	(void)sqlite3_reset(s);
	return rc < 0 ? -1 : 0;
}

int
store_message_events(struct store *st, const unsigned char *msg, size_t len,
    store_event_fn *fn, void *ctx, struct rb_error *err)
{
	static const char sql_msg[] =
	    "SELECT id FROM messages WHERE dedupe_key = ?1";
	static const char sql_ev[] =
	    EVENT_COLUMNS " WHERE message_id = ?1 ORDER BY id";
	unsigned char key[STORE_KEY_LEN];
	sqlite3_stmt *s;
	int64_t id;
	int rc;

	dedupe_key(msg, len, key);
	if ((s = query_stmt(st, sql_msg, err)) == NULL)
		return -1;
	(void)sqlite3_bind_blob(s, 1, key, sizeof(key), SQLITE_STATIC);
	rc = step_row(st, s, "message", err);
	id = rc == 1 ? sqlite3_column_int64(s, 0) : 0;
	(void)sqlite3_reset(s);
	if (rc <= 0)
		return rc;
	if ((s = query_stmt(st, sql_ev, err)) == NULL)
		return -1;
	(void)sqlite3_bind_int64(s, 1, id);
	while ((rc = step_row(st, s, "events", err)) == 1) {
		struct store_event ev;

		query_event_row(s, &ev);
		if (fn(&ev, ctx) < 0)
			break;
	}
	(void)sqlite3_reset(s);
	return rc < 0 ? -1 : 1;
}

/* ---- sends --------------------------------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
store_sends_add_many(struct store *st, const struct store_send *v, size_t n,
    time_t now, size_t *bad_r, struct rb_error *err)
{
	char(*ids)[STORE_MAX_IDENTITY];
	char **sorted;
	uint64_t alerts = 0;
	size_t i;
	int rc = 0;

	if (n > QUERY_MAX_SENDS)
		return rb_error_set(
		    err, EINVAL, "more than %d send counts", QUERY_MAX_SENDS);
	ids = xcalloc(n > 0 ? n : 1, sizeof(*ids));
	sorted = xcalloc(n > 0 ? n : 1, sizeof(*sorted));
	for (i = 0; i < n && rc == 0; i++) {
		if (store_identity_normalize(
		        st, v[i].identity, ids[i], sizeof(ids[i]), err) < 0)
			rc = -1;
		else if (v[i].count > INT64_MAX / 2)
			rc = rb_error_set(err, EINVAL, "%llu sends: too many",
			    (unsigned long long)v[i].count);
		if (rc < 0)
			*bad_r = i;
		sorted[i] = ids[i];
	}
	if (rc == 0 && store_begin(st, err) < 0)
		rc = -1;
	else if (rc == 0) {
		for (i = 0; i < n && rc == 0; i++) {
			struct counts c;

			memset(&c, 0, sizeof(c));
			c.sends = (int64_t)v[i].count;
			rc = rates_add(st, ids[i], v[i].at, &c, NULL, err);
		}
		if (n > 1)
			qsort(sorted, n, sizeof(*sorted), cmp_str);
		for (i = 0; i < n && rc == 0; i++) {
			if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0)
				continue;
			rc = rates_evaluate(st, sorted[i], now, &alerts, err);
		}
		if (rc == 0)
			rc = store_commit(st, err);
		else
			store_rollback(st);
	}
	free(sorted);
	free(ids);
	return rc;
}

/* ---- monitoring ---------------------------------------------------------- */

int
store_events_last_id(struct store *st, int64_t *id_r, struct rb_error *err)
{
	static const char sql[] = "SELECT coalesce(max(id), 0) FROM events";

	return query_once(st, sql, 1, id_r, "events", err);
}

int
store_events_count_since(struct store *st, int64_t *after_r, store_count_fn *fn,
    void *ctx, uint64_t *unattributed_r, uint64_t *untrusted_r,
    struct rb_error *err)
{
	/* A rowid range: the cost is the events added since the last
	 * call, never the table. */
	static const char sql[] =
	    "SELECT type, coalesce(reason, ''), count(*),"
	    " sum(identity IS NULL), sum(trusted = 0) FROM events"
	    " WHERE id > ?1 AND id <= ?2 GROUP BY 1, 2";
	sqlite3_stmt *s;
	int64_t hi;
	int rc;

	if (store_events_last_id(st, &hi, err) < 0)
		return -1;
	if (hi <= *after_r)
		return 0;
	if ((s = query_stmt(st, sql, err)) == NULL)
		return -1;
	(void)sqlite3_bind_int64(s, 1, *after_r);
	(void)sqlite3_bind_int64(s, 2, hi);
	while ((rc = step_row(st, s, "events", err)) == 1) {
		fn(col_text(s, 0), col_text(s, 1),
		    (uint64_t)sqlite3_column_int64(s, 2), ctx);
		*unattributed_r += (uint64_t)sqlite3_column_int64(s, 3);
		*untrusted_r += (uint64_t)sqlite3_column_int64(s, 4);
	}
	(void)sqlite3_reset(s);
	if (rc < 0)
		return -1;
	*after_r = hi;
	return 0;
}

/* One count(*)-like query of one integer (bound ?1 = now when asked). */
static int
query_count(struct store *st, const char *sql, int bind_now, time_t now,
    uint64_t *n_r, struct rb_error *err)
{
	sqlite3_stmt *s = query_stmt(st, sql, err);
	int rc;

	if (s == NULL)
		return -1;
	if (bind_now)
		(void)sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
	rc = step_row(st, s, "count", err);
	if (rc == 1)
		*n_r = (uint64_t)sqlite3_column_int64(s, 0);
	(void)sqlite3_reset(s);
	return rc == 1 ? 0 : -1;
}

int
store_overview(struct store *st, time_t now, uint64_t window, size_t top,
    struct store_overview *o_r, store_stats_fn *fn, void *ctx,
    struct rb_error *err)
{
	static const char sql_g[] =
	    "SELECT count(*) FROM suppression_global WHERE until > ?1";
	static const char sql_a[] = "SELECT count(*) FROM suppression_account";
	static const char sql_alerts[] =
	    "SELECT metric, state, count(*) FROM alert_state"
	    " WHERE state <> 0 GROUP BY 1, 2";
	static const char *const sql_ids = window_sql;
	/* The top by sends: the ranking of GET /v1/identities?sort=sends. */
	struct rank_heap h = {
	    NULL, 0, top > STORE_MAX_PAGE ? STORE_MAX_PAGE : top};
	sqlite3_stmt *s;
	int64_t h0, h1;
	size_t i;
	int rc;

	memset(o_r, 0, sizeof(*o_r));
	if (query_count(st, sql_g, 1, now, &o_r->global, err) < 0 ||
	    query_count(st, sql_a, 0, now, &o_r->account, err) < 0)
		return -1;
	if ((s = query_stmt(st, sql_alerts, err)) == NULL)
		return -1;
	while ((rc = step_row(st, s, "alerts", err)) == 1) {
		const char *m = col_text(s, 0);
		int state = sqlite3_column_int(s, 1);

		if (m != NULL && state > 0 && state <= STORE_CRITICAL)
			o_r->alerts[strcmp(m, "bounce") == 0 ? 0 : 1][state] +=
			    (uint64_t)sqlite3_column_int64(s, 2);
	}
	(void)sqlite3_reset(s);
	if (rc < 0)
		return -1;
	if (window == 0)
		window = st->conf.th.window;
	rates_window_hours(now, window, &h0, &h1);
	if ((s = query_stmt(st, sql_ids, err)) == NULL)
		return -1;
	(void)sqlite3_bind_int64(s, 1, h0);
	(void)sqlite3_bind_int64(s, 2, h1);
	h.v = xcalloc(h.max > 0 ? h.max : 1, sizeof(*h.v));
	while ((rc = step_row(st, s, "identities", err)) == 1) {
		struct store_identity_stats r;

		if (window_row(s, &r) < 0)
			continue;
		o_r->identities++;
		rates_finish(&st->conf.th, &r);
		rank_push(&h, &r, rank_value(&r, STORE_RANK_SENDS));
	}
	(void)sqlite3_reset(s);
	if (rc == 0 && h.n > 1)
		qsort(h.v, h.n, sizeof(*h.v), cmp_ranked);
	for (i = 0; i < h.n; i++) {
		if (rc == 0 && fn != NULL && fn(&h.v[i].s, ctx) < 0)
			fn = NULL;
		free((char *)(uintptr_t)h.v[i].s.identity);
	}
	free(h.v);
	return rc < 0 ? -1 : 0;
}
