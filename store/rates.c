/*
 * rates: hourly counters per identity (sends and feedback), the rates
 * over a rolling window of whole hours, their status against the
 * thresholds, and the alert state machine per identity and metric
 * (ok -> warning -> critical -> ok, any step allowed) with a row per
 * transition.  As SES: bounceRate = Permanent bounces / sends,
 * complaintRate = complaints (not-spam reports and unsubscribes
 * excluded) / sends; below
 * rates.min_sends sends in the window the status stays ok, since three
 * bounces of twenty sends say nothing yet.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "store_int.h"

/* Longest line of a sends import (an SES Send event is ~2 KB). */
#define RATES_MAX_LINE (1024u * 1024)
/* Identities per stats answer; more is a paging job for the API. */
#define RATES_MAX_IDENTITIES 100000

static const char *const metric_names[] = {"bounce", "complaint"};

const char *
store_status_name(enum store_status s)
{
	switch (s) {
	case STORE_OK:
		return "ok";
	case STORE_WARNING:
		return "warning";
	case STORE_CRITICAL:
		return "critical";
	}
	return "ok";
}

/* First and last hour bucket of the window ending at now. */
void
rates_window_hours(time_t now, uint64_t window, int64_t *h0, int64_t *h1)
{
	*h1 = (int64_t)now / 3600;
	*h0 = *h1 - (int64_t)(window / 3600) + 1;
}

int
rates_add(struct store *st, const char *identity, time_t t,
    const struct counts *c, const struct buf *bd, struct rb_error *err)
{
	sqlite3_stmt *s = store_stmt(st, STMT_COUNTER_ADD, err);

	if (s == NULL)
		return -1;
	(void)bind_text(s, 1, identity);
	(void)sqlite3_bind_int64(s, 2, (sqlite3_int64)t / 3600);
	(void)sqlite3_bind_int64(s, 3, c->sends);
	(void)sqlite3_bind_int64(s, 4, c->hard);
	(void)sqlite3_bind_int64(s, 5, c->soft);
	(void)sqlite3_bind_int64(s, 6, c->undetermined);
	(void)sqlite3_bind_int64(s, 7, c->complaints);
	(void)sqlite3_bind_int64(s, 8, c->not_spam);
	(void)sqlite3_bind_int64(s, 9, c->auto_replies);
	(void)sqlite3_bind_int64(s, 10, c->deliveries);
	(void)sqlite3_bind_int64(s, 11, c->delays);
	(void)sqlite3_bind_int64(s, 12, c->untrusted);
	if (bd != NULL && bd->len > 0)
		(void)sqlite3_bind_blob64(
		    s, 13, bd->data, bd->len, SQLITE_STATIC);
	else
		(void)sqlite3_bind_null(s, 13);
	(void)sqlite3_bind_int64(s, 14, c->unsubscribes);
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_db_error(st, "update counters", err);
		(void)sqlite3_reset(s);
		return -1;
	}
	(void)sqlite3_reset(s);
	return 0;
}

static enum store_status
status_of(double rate, double warn, double crit)
{
	if (rate >= crit)
		return STORE_CRITICAL;
	if (rate >= warn)
		return STORE_WARNING;
	return STORE_OK;
}

static double
threshold_of(const struct store_thresholds *th, int metric, enum store_status s)
{
	if (metric == 0)
		return s == STORE_CRITICAL ? th->bounce_critical
		                           : th->bounce_warning;
	return s == STORE_CRITICAL ? th->complaint_critical
	                           : th->complaint_warning;
}

int
rates_evaluate(struct store *st, const char *identity, time_t now,
    uint64_t *n_r, struct rb_error *err)
{
	const struct store_thresholds *th = &st->conf.th;
	sqlite3_stmt *s;
	int64_t h0, h1, sends, bad[2];
	int m;

	rates_window_hours(now, th->window, &h0, &h1);
	if ((s = store_stmt(st, STMT_WINDOW_SUM, err)) == NULL)
		return -1;
	(void)bind_text(s, 1, identity);
	(void)sqlite3_bind_int64(s, 2, h0);
	(void)sqlite3_bind_int64(s, 3, h1);
	if (sqlite3_step(s) != SQLITE_ROW) {
		(void)sqlite3_reset(s);
		return store_db_error(st, "rates", err);
	}
	sends = sqlite3_column_int64(s, 0);
	bad[0] = sqlite3_column_int64(s, 1);
	bad[1] = sqlite3_column_int64(s, 2);
	(void)sqlite3_reset(s);
	for (m = 0; m < 2; m++) {
		double rate = sends > 0 ? (double)bad[m] / (double)sends : 0;
		enum store_status now_s = STORE_OK, was = STORE_OK;
		int rc;

		if (sends >= (int64_t)th->min_sends && sends > 0)
			now_s = m == 0 ? status_of(rate, th->bounce_warning,
			                     th->bounce_critical)
			               : status_of(rate, th->complaint_warning,
			                     th->complaint_critical);
		if ((s = store_stmt(st, STMT_ALERT_STATE_GET, err)) == NULL)
			return -1;
		(void)bind_text(s, 1, identity);
		(void)bind_text(s, 2, metric_names[m]);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			was = (enum store_status)sqlite3_column_int(s, 0);
		(void)sqlite3_reset(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return store_db_error(st, "alert state", err);
		if (now_s == was)
			continue;
		if ((s = store_stmt(st, STMT_ALERT_INSERT, err)) == NULL)
			return -1;
		(void)sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
		(void)bind_text(s, 2, identity);
		(void)bind_text(s, 3, metric_names[m]);
		(void)sqlite3_bind_int(s, 4, (int)was);
		(void)sqlite3_bind_int(s, 5, (int)now_s);
		(void)sqlite3_bind_double(s, 6, rate);
		/* Up: the threshold reached; down: the one fallen below. */
		(void)sqlite3_bind_double(s, 7,
		    threshold_of(th, m,
		        now_s > was ? now_s : (enum store_status)(now_s + 1)));
		(void)sqlite3_bind_int64(s, 8, sends);
		rc = sqlite3_step(s);
		(void)sqlite3_reset(s);
		if (rc != SQLITE_DONE)
			return store_db_error(st, "insert alert", err);
		if (outbox_add(st, STORE_TOPIC_ALERTS, identity,
		        sqlite3_last_insert_rowid(st->db), now, err) < 0)
			return -1;
		if ((s = store_stmt(st, STMT_ALERT_STATE_PUT, err)) == NULL)
			return -1;
		(void)bind_text(s, 1, identity);
		(void)bind_text(s, 2, metric_names[m]);
		(void)sqlite3_bind_int(s, 3, (int)now_s);
		(void)sqlite3_bind_int64(s, 4, (sqlite3_int64)now);
		rc = sqlite3_step(s);
		(void)sqlite3_reset(s);
		if (rc != SQLITE_DONE)
			return store_db_error(st, "alert state", err);
		(*n_r)++;
	}
	return 0;
}

int
store_sends_add(struct store *st, const char *identity, uint64_t count,
    time_t at, time_t now, struct rb_error *err)
{
	struct counts c;
	char id[STORE_MAX_IDENTITY];
	uint64_t n = 0;

	if (store_identity_normalize(st, identity, id, sizeof(id), err) < 0)
		return -1;
	if (count > INT64_MAX / 2)
		return rb_error_set(err, EINVAL, "%llu sends: too many",
		    (unsigned long long)count);
	memset(&c, 0, sizeof(c));
	c.sends = (int64_t)count;
	if (store_begin(st, err) < 0)
		return -1;
	if (rates_add(st, id, at, &c, NULL, err) < 0 ||
	    rates_evaluate(st, id, now, &n, err) < 0) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st, err);
}

/* One SES Send event line into the counters: 0, 1 malformed, -1 database
 * error; err (no line number) for both. */
int
rates_send_line(struct store *st, const char *line, size_t len, time_t now,
    struct store_import_summary *sum, void *touched, struct rb_error *err)
{
	json_error_t jerr;
	json_t *root, *mail, *type, *dest;
	const char *source, *ts;
	char id[STORE_MAX_IDENTITY];
	struct counts c;
	time_t at = now;
	int rc = 1;

	root = json_loadb(line, len, 0, &jerr);
	if (root == NULL) {
		rb_error_set(err, EINVAL, "not JSON: %s", jerr.text);
		return 1;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		rb_error_set(err, EINVAL, "not a JSON object");
		return 1;
	}
	type = json_object_get(root, "eventType");
	if (type == NULL)
		type = json_object_get(root, "notificationType");
	if (!json_is_string(type) ||
	    strcmp(json_string_value(type), "Send") != 0) {
		sum->skipped++;
		rc = 0;
		goto out;
	}
	mail = json_object_get(root, "mail");
	source = json_string_value(json_object_get(mail, "source"));
	if (source == NULL) {
		rb_error_set(err, EINVAL, "Send event without mail.source");
		goto out;
	}
	if (store_identity_normalize(st, source, id, sizeof(id), err) < 0)
		goto out;
	ts = json_string_value(json_object_get(mail, "timestamp"));
	if (ts != NULL && config_parse_time(ts, &at) < 0) {
		rb_error_set(
		    err, EINVAL, "mail.timestamp '%s': not RFC 3339", ts);
		goto out;
	}
	memset(&c, 0, sizeof(c));
	/* SES counts a send per recipient. */
	dest = json_object_get(mail, "destination");
	c.sends = json_is_array(dest) && json_array_size(dest) > 0
	              ? (int64_t)json_array_size(dest)
	              : 1;
	if (rates_add(st, id, at, &c, NULL, err) < 0) {
		rc = -1;
		goto out;
	}
	g_hash_table_add(touched, g_strdup(id));
	sum->imported += (uint64_t)c.sends;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
rates_evaluate_set(struct store *st, void *identities, time_t now,
    uint64_t *n_r, struct rb_error *err)
{
	guint k = 0, i;
	gpointer *ids = g_hash_table_get_keys_as_array(identities, &k);
	int rc = 0;

	/* Same order in every run: alert ids must not depend on hashing. */
	if (k > 1)
		qsort(ids, k, sizeof(*ids), cmp_str);
	for (i = 0; i < k && rc == 0; i++)
		rc = rates_evaluate(st, ids[i], now, n_r, err);
	g_free(ids);
	return rc;
}

int
store_sends_import(struct store *st, FILE *fp, const char *name, time_t now,
    struct store_import_summary *sum_r, struct rb_error *err)
{
	GHashTable *touched;
	struct store_import_summary sum;
	char *line = NULL;
	size_t cap = 0, len;
	uint64_t alerts = 0;
	int rc = 0, got;

	memset(&sum, 0, sizeof(sum));
	if (store_begin(st, err) < 0)
		return -1;
	touched = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	while (
	    (got = store_getline(fp, &line, &cap, RATES_MAX_LINE, &len)) != 0) {
		struct rb_error lerr;

		sum.lines++;
		if (got < 0) {
			rc = store_line_error(
			    err, name, sum.lines, got, RATES_MAX_LINE);
			break;
		}
		while (len > 0 && line[len - 1] == ' ')
			len--;
		if (len == 0)
			continue;
		if (rates_send_line(st, line, len, now, &sum, touched, &lerr) !=
		    0) {
			rc = rb_error_set(err, lerr.code, "%s:%llu: %s", name,
			    (unsigned long long)sum.lines, lerr.msg);
			break;
		}
	}
	free(line);
	if (rc == 0 && ferror(fp))
		rc = rb_error_set(err, EIO, "%s: read error", name);
	if (rc == 0)
		rc = rates_evaluate_set(st, touched, now, &alerts, err);
	g_hash_table_destroy(touched);
	if (rc == 0)
		rc = store_commit(st, err);
	else
		store_rollback(st);
	if (rc == 0 && sum_r != NULL)
		*sum_r = sum;
	return rc;
}

/* ---- stats --------------------------------------------------------------- */

/* The sums of the counters of identity in hours [h0, h1] into *r, and
 * with set_r not NULL the sum of their breakdowns into *set_r: one pass
 * over the hours. */
static int
sum_hours(struct store *st, const char *identity, int64_t h0, int64_t h1,
    struct store_identity_stats *r, struct bd_set *set_r, struct rb_error *err)
{
	/* The rows, summed here: SQLite's sum() of eleven columns and an
	 * aggregate of the blobs cost more than the columns read. */
	static const char sql[] =
	    "SELECT sends, hard, soft, undetermined, complaints, not_spam,"
	    " auto_replies, deliveries, delays, untrusted, unsubscribes,"
	    " breakdown"
	    " FROM counters WHERE identity = ?1 AND hour BETWEEN ?2 AND ?3";
	enum { N_SUMS = 11 };
	uint64_t v[N_SUMS] = {0};
	sqlite3_stmt *s;
	int rc, i;

	memset(r, 0, sizeof(*r));
	if ((s = query_stmt(st, sql, err)) == NULL)
		return -1;
	(void)bind_text(s, 1, identity);
	(void)sqlite3_bind_int64(s, 2, h0);
	(void)sqlite3_bind_int64(s, 3, h1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		for (i = 0; i < N_SUMS; i++)
			v[i] += (uint64_t)sqlite3_column_int64(s, i);
		if (set_r != NULL &&
		    sqlite3_column_type(s, N_SUMS) != SQLITE_NULL &&
		    bd_set_merge_blob(set_r, sqlite3_column_blob(s, N_SUMS),
		        (size_t)sqlite3_column_bytes(s, N_SUMS)) < 0) {
			(void)sqlite3_reset(s);
			return rb_error_set(err, EIO,
			    "%s: breakdown of %s: not a breakdown blob",
			    st->path, identity);
		}
	}
	(void)sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return store_db_error(st, "stats", err);
	r->sends = v[0];
	r->hard = v[1];
	r->soft = v[2];
	r->undetermined = v[3];
	r->complaints = v[4];
	r->not_spam = v[5];
	r->auto_replies = v[6];
	r->deliveries = v[7];
	r->delays = v[8];
	r->untrusted = v[9];
	r->unsubscribes = v[10];
	r->identity = identity;
	rates_finish(&st->conf.th, r);
	return 0;
}

int
rates_sum(struct store *st, const char *identity, int64_t h0, int64_t h1,
    struct store_identity_stats *r, struct rb_error *err)
{
	return sum_hours(st, identity, h0, h1, r, NULL, err);
}

void
rates_finish(const struct store_thresholds *th, struct store_identity_stats *r)
{
	r->bounce_rate = r->complaint_rate = 0;
	if (r->sends > 0) {
		r->bounce_rate = (double)r->hard / (double)r->sends;
		r->complaint_rate = (double)r->complaints / (double)r->sends;
	}
	r->low_volume = r->sends < th->min_sends || r->sends == 0;
	r->bounce_status = r->complaint_status = STORE_OK;
	if (!r->low_volume) {
		r->bounce_status = status_of(
		    r->bounce_rate, th->bounce_warning, th->bounce_critical);
		r->complaint_status = status_of(r->complaint_rate,
		    th->complaint_warning, th->complaint_critical);
	}
	r->status = r->bounce_status > r->complaint_status
	                ? r->bounce_status
	                : r->complaint_status;
}

/* The stats of one identity over hours [h0, h1], its breakdowns from
 * the same counters rows: one per hour whatever the events. */
static int
identity_stats(struct store *st, const char *identity, int64_t h0, int64_t h1,
    store_stats_fn *fn, void *ctx, int *stop_r, struct rb_error *err)
{
	struct store_identity_stats r;
	struct store_breakdown *reasons, *providers;
	struct bd_set set = {0};

	if (sum_hours(st, identity, h0, h1, &r, &set, err) < 0) {
		bd_set_free(&set);
		return -1;
	}
	bd_set_lists(&set, &reasons, &r.n_reasons, &providers, &r.n_providers);
	r.reasons = reasons;
	r.providers = providers;
	if (fn(&r, ctx) < 0)
		*stop_r = 1;
	free(reasons);
	free(providers);
	bd_set_free(&set);
	return 0;
}

int
store_stats(struct store *st, const char *identity, time_t now, uint64_t window,
    store_stats_fn *fn, void *ctx, struct rb_error *err)
{
	static const char sql[] =
	    "SELECT DISTINCT identity FROM counters"
	    " WHERE hour BETWEEN ?1 AND ?2 ORDER BY identity";
	char **ids = NULL;
	size_t n = 0, i;
	sqlite3_stmt *s;
	int64_t h0, h1;
	int rc = 0, stop = 0;

	if (window == 0)
		window = st->conf.th.window;
	if (window < 3600)
		return rb_error_set(
		    err, EINVAL, "window: at least 1h (counters are hourly)");
	rates_window_hours(now, window, &h0, &h1);
	if (identity != NULL) {
		char id[STORE_MAX_IDENTITY];

		if (store_identity_normalize(
		        st, identity, id, sizeof(id), err) < 0)
			return -1;
		return identity_stats(st, id, h0, h1, fn, ctx, &stop, err);
	}
	/* Collect first: the callback may take its time. */
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_db_error(st, "stats", err);
	(void)sqlite3_bind_int64(s, 1, h0);
	(void)sqlite3_bind_int64(s, 2, h1);
	while (
	    (rc = sqlite3_step(s)) == SQLITE_ROW && n < RATES_MAX_IDENTITIES) {
		ids = xrealloc(ids, (n + 1) * sizeof(*ids));
		ids[n++] = xstrdup(col_text(s, 0));
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		rc = store_db_error(st, "stats", err);
	else
		rc = 0;
	for (i = 0; i < n && rc == 0 && !stop; i++)
		rc = identity_stats(st, ids[i], h0, h1, fn, ctx, &stop, err);
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return rc;
}

static int
count_query(struct store *st, const char *sql, int64_t t0, int64_t t1,
    uint64_t *n_r, struct rb_error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_db_error(st, "totals", err);
	(void)sqlite3_bind_int64(s, 1, t0);
	(void)sqlite3_bind_int64(s, 2, t1);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*n_r = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return store_db_error(st, "totals", err);
	return 0;
}

int
store_totals(struct store *st, time_t now, uint64_t window,
    struct store_totals *t_r, struct rb_error *err)
{
	int64_t h0, h1;

	if (window == 0)
		window = st->conf.th.window;
	rates_window_hours(now, window, &h0, &h1);
	memset(t_r, 0, sizeof(*t_r));
	if (count_query(st,
	        "SELECT count(*) FROM events WHERE"
	        " identity IS NULL AND time >= ?1 AND time < ?2",
	        h0 * 3600, (h1 + 1) * 3600, &t_r->unattributed, err) < 0 ||
	    count_query(st,
	        "SELECT count(*) FROM events WHERE"
	        " trusted = 0 AND time >= ?1 AND time < ?2",
	        h0 * 3600, (h1 + 1) * 3600, &t_r->untrusted, err) < 0 ||
	    count_query(st,
	        "SELECT count(*) FROM review WHERE"
	        " time >= ?1 AND time < ?2",
	        h0 * 3600, (h1 + 1) * 3600, &t_r->review, err) < 0)
		return -1;
	return 0;
}

/* ---- alerts -------------------------------------------------------------- */

int
store_alerts_evaluate(
    struct store *st, time_t now, uint64_t *n_r, struct rb_error *err)
{
	static const char sql[] =
	    "SELECT identity FROM counters WHERE hour BETWEEN ?1 AND ?2"
	    " UNION SELECT identity FROM alert_state WHERE state <> 0"
	    " ORDER BY 1";
	char **ids = NULL;
	size_t n = 0, i;
	sqlite3_stmt *s;
	int64_t h0, h1;
	uint64_t count = 0;
	int rc;

	rates_window_hours(now, st->conf.th.window, &h0, &h1);
	if (store_begin(st, err) < 0)
		return -1;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		store_db_error(st, "alerts", err);
		store_rollback(st);
		return -1;
	}
	(void)sqlite3_bind_int64(s, 1, h0);
	(void)sqlite3_bind_int64(s, 2, h1);
	while (
	    (rc = sqlite3_step(s)) == SQLITE_ROW && n < RATES_MAX_IDENTITIES) {
		ids = xrealloc(ids, (n + 1) * sizeof(*ids));
		ids[n++] = xstrdup(col_text(s, 0));
	}
	sqlite3_finalize(s);
	rc = rc == SQLITE_DONE || rc == SQLITE_ROW
	         ? 0
	         : store_db_error(st, "alerts", err);
	for (i = 0; i < n && rc == 0; i++)
		rc = rates_evaluate(st, ids[i], now, &count, err);
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	if (rc < 0) {
		store_rollback(st);
		return -1;
	}
	if (store_commit(st, err) < 0)
		return -1;
	if (n_r != NULL)
		*n_r = count;
	return 0;
}

void
rates_alert_row(sqlite3_stmt *s, struct store_alert *a)
{
	a->id = sqlite3_column_int64(s, 0);
	a->time = (time_t)sqlite3_column_int64(s, 1);
	a->identity = col_text(s, 2);
	a->metric = col_text(s, 3);
	a->from = (enum store_status)sqlite3_column_int(s, 4);
	a->to = (enum store_status)sqlite3_column_int(s, 5);
	a->value = sqlite3_column_double(s, 6);
	a->threshold = sqlite3_column_double(s, 7);
	a->sends = (uint64_t)sqlite3_column_int64(s, 8);
}

int
store_alerts_list(struct store *st, const char *identity, uint64_t limit,
    store_alert_fn *fn, void *ctx, struct rb_error *err)
{
	static const char sql[] =
	    "SELECT id, time, identity, metric, from_state, to_state, value,"
	    " threshold, sends FROM alerts"
	    " WHERE ?1 IS NULL OR identity = ?1 ORDER BY id DESC LIMIT ?2";
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_db_error(st, "alerts", err);
	(void)bind_text(s, 1, identity);
	(void)sqlite3_bind_int64(
	    s, 2, limit == 0 || limit > INT64_MAX ? -1 : (sqlite3_int64)limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_alert a;

		rates_alert_row(s, &a);
		if (fn(&a, ctx) < 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return store_db_error(st, "alerts", err);
	return 0;
}
