/*
 * api_identities: reputation over HTTP: GET /v1/identities (paged),
 * /v1/identities/{identity}/reputation (one identity with breakdowns by
 * reason and mailbox provider), /v1/identities/{identity}/timeseries
 * (one metric over time, rates over the same rolling window as the
 * alerts) and GET /v1/alerts.  Shapes and limits: http/API.md.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

/* GET .../timeseries: from at most this long before to (two years of
 * hourly counters; retention.events keeps 400 days by default). */
#define HTTP_SPAN_MAX (2ull * 366 * 86400)

static const char *const status_names[] = {"ok", "warning", "critical", NULL};

static const char *
metric_api(const char *store_metric)
{
	return store_metric != NULL && strcmp(store_metric, "bounce") == 0
	           ? "bounceRate"
	           : "complaintRate";
}

void
api_stats_fields(
    struct jw *w, const struct store_identity_stats *s, const char *account)
{
	jw_kstr(w, "identity", s->identity);
	jw_kstr(w, "account", account);
	jw_kuint(w, "sends", s->sends);
	jw_kuint(w, "hardBounces", s->hard);
	jw_kuint(w, "softBounces", s->soft);
	jw_kuint(w, "undeterminedBounces", s->undetermined);
	jw_kuint(w, "complaints", s->complaints);
	jw_knum(w, "bounceRate", s->bounce_rate);
	jw_knum(w, "complaintRate", s->complaint_rate);
	jw_kstr(w, "bounceStatus", store_status_name(s->bounce_status));
	jw_kstr(w, "complaintStatus", store_status_name(s->complaint_status));
	jw_kstr(w, "status", store_status_name(s->status));
	jw_kbool(w, "lowVolume", s->low_volume);
}

/* The identity of path argument 0, normalised; -1 with the reply. */
static int
path_identity_name(struct req *rq, struct store *st, char *id, size_t len)
{
	struct rb_error err;

	if (store_identity_normalize(st, rq->arg[0], id, len, &err) < 0) {
		reply_bad_param(rq, "identity", "identity: %s", err.msg);
		return -1;
	}
	return 0;
}

/* Is it known (404 otherwise)?  0, or -1 with the reply. */
static int
identity_known(struct req *rq, struct store *st, const char *id)
{
	struct rb_error err;
	int known = store_identity_known(st, id, &err);

	if (known < 0) {
		reply_store_error(rq, st, &err);
		return -1;
	}
	if (known == 0) {
		reply_error(rq, 404, "NotFound", NULL,
		    "identity %s: no sends and no feedback ever", id);
		return -1;
	}
	return 0;
}

static int
path_identity(struct req *rq, struct store *st, char *id, size_t len)
{
	if (path_identity_name(rq, st, id, len) < 0)
		return -1;
	return identity_known(rq, st, id);
}

/* ---- GET /v1/identities ---------------------------------------------------
 */

struct list_ctx {
	struct jw *w;
	struct store *st;
};

static int
on_identity(const struct store_identity_stats *s, void *ctx)
{
	struct list_ctx *lc = ctx;

	jw_obj(lc->w);
	api_stats_fields(lc->w, s, store_account_of(lc->st, s->identity));
	jw_obj_end(lc->w);
	return 0;
}

/* sort=: by name (the default), or ranked worst first. */
static const char *const sort_names[] = {
    "identity", "bounceRate", "complaintRate", "sends", NULL};
static const enum store_rank sort_ranks[] = {STORE_RANK_BOUNCE_RATE,
    STORE_RANK_BOUNCE_RATE, STORE_RANK_COMPLAINT_RATE, STORE_RANK_SENDS};

/* GET /v1/identities?sort=bounceRate|complaintRate|sends: the position
 * in the token is the value (its 64 bits in decimal: exact) and the
 * name. */
static void
identities_ranked(struct req *rq, struct store *st, uint64_t window, int status,
    int sort, size_t limit, uint32_t filters)
{
	char tstore[HTTP_TOKEN_TEXT_MAX + 1], last[STORE_MAX_IDENTITY];
	char next[HTTP_TOKEN_TEXT_MAX + 1], bits[24];
	const char *f[2] = {NULL, NULL};
	double after_value = 0, last_value = 0;
	struct list_ctx lc;
	struct rb_error err;
	int more = 0, t;

	t = token_read(rq, 'r', filters, tstore, f, 2);
	if (t < 0)
		return;
	if (t > 0) {
		uint64_t u;

		if (parse_u64(f[0], &u) < 0) {
			reply_bad_param(rq, "nextToken",
			    "nextToken: not a token of this listing");
			return;
		}
		memcpy(&after_value, &u, sizeof(u));
	}
	lc.w = reply_json(rq, 200);
	lc.st = st;
	jw_obj(lc.w);
	jw_kuint(lc.w, "window", window);
	jw_kstr(lc.w, "sort", sort_names[sort]);
	jw_key(lc.w, "identities");
	jw_arr(lc.w);
	if (store_identities_ranked(st, rq->now, window, status,
	        sort_ranks[sort], after_value, t > 0 ? f[1] : NULL, limit,
	        on_identity, &lc, &more, &last_value, last, &err) < 0) {
		reply_store_error(rq, st, &err);
		return;
	}
	jw_arr_end(lc.w);
	if (more) {
		uint64_t u;
		const char *pos[2] = {bits, last};

		memcpy(&u, &last_value, sizeof(u));
		(void)snprintf(bits, sizeof(bits), "%" PRIu64, u);
		token_make(next, 'r', filters, pos, 2);
		jw_kstr(lc.w, "nextToken", next);
	}
	jw_obj_end(lc.w);
}

void
api_identities(struct req *rq)
{
	static const char *const allowed[] = {
	    "window", "status", "sort", "pageSize", "nextToken", NULL};
	static const char *const filters[] = {"window", "status", "sort", NULL};
	char tstore[HTTP_TOKEN_TEXT_MAX + 1], last[STORE_MAX_IDENTITY];
	char next[HTTP_TOKEN_TEXT_MAX + 1];
	const char *after = NULL;
	struct store_thresholds th;
	struct list_ctx lc;
	struct rb_error err;
	struct store *st;
	uint64_t window;
	size_t limit;
	int status, sort, more = 0, t;

	if (params_check(rq, allowed) < 0 || (st = req_reader(rq)) == NULL)
		return;
	store_thresholds(st, &th);
	if (param_hours(
	        rq, "window", th.window, 3600, HTTP_WINDOW_MAX, &window) < 0 ||
	    param_enum(rq, "status", status_names, &status) < 0 ||
	    param_enum(rq, "sort", sort_names, &sort) < 0 ||
	    param_page_size(rq, &limit) < 0)
		return;
	if (sort > 0) {
		identities_ranked(rq, st, window, status, sort, limit,
		    params_hash(rq, filters));
		return;
	}
	t = token_read(rq, 'i', params_hash(rq, filters), tstore, &after, 1);
	if (t < 0)
		return;
	lc.w = reply_json(rq, 200);
	lc.st = st;
	jw_obj(lc.w);
	jw_kuint(lc.w, "window", window);
	jw_key(lc.w, "identities");
	jw_arr(lc.w);
	if (store_identities_page(st, rq->now, window, status, after, limit,
	        on_identity, &lc, &more, last, &err) < 0) {
		reply_store_error(rq, st, &err);
		return;
	}
	jw_arr_end(lc.w);
	if (more) {
		const char *f[1] = {last};

		token_make(next, 'i', params_hash(rq, filters), f, 1);
		jw_kstr(lc.w, "nextToken", next);
	}
	jw_obj_end(lc.w);
}

/* ---- GET /v1/identities/{identity}/reputation -----------------------------
 */

struct rep_ctx {
	struct jw *w;
	struct store *st;
	uint64_t window;
	time_t now;
	struct store_alert alerts[2];
	size_t n_alerts;
	int empty; /* nothing counted in the window */
};

static int
on_alert_state(const struct store_alert *a, void *ctx)
{
	struct rep_ctx *rc = ctx;

	if (rc->n_alerts < 2) {
		rc->alerts[rc->n_alerts] = *a;
		/* The metric name is copied: static strings only. */
		rc->alerts[rc->n_alerts].metric = metric_api(a->metric);
		rc->alerts[rc->n_alerts].identity = NULL;
		rc->n_alerts++;
	}
	return 0;
}

static void
breakdown(struct jw *w, const char *key, const char *name_key,
    const struct store_breakdown *b, size_t n)
{
	size_t i;

	jw_key(w, key);
	jw_arr(w);
	for (i = 0; i < n; i++) {
		jw_obj(w);
		jw_kstr(w, name_key, b[i].name);
		jw_kuint(w, "hardBounces", b[i].hard);
		jw_kuint(w, "softBounces", b[i].soft);
		jw_kuint(w, "undeterminedBounces", b[i].undetermined);
		jw_kuint(w, "complaints", b[i].complaints);
		jw_kuint(w, "total", b[i].total);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static int
on_reputation(const struct store_identity_stats *s, void *ctx)
{
	struct rep_ctx *rc = ctx;
	struct jw *w = rc->w;
	struct store_thresholds th;
	int64_t h1 = (int64_t)rc->now / 3600;
	int64_t h0 = h1 - (int64_t)(rc->window / 3600) + 1;
	size_t i;

	store_thresholds(rc->st, &th);
	rc->empty = store_stats_empty(s);
	jw_obj(w);
	api_stats_fields(w, s, store_account_of(rc->st, s->identity));
	jw_kuint(w, "window", rc->window);
	jw_ktime(w, "from", (time_t)(h0 * 3600));
	jw_ktime(w, "to", (time_t)((h1 + 1) * 3600));
	jw_kuint(w, "notSpam", s->not_spam);
	jw_kuint(w, "unsubscribes", s->unsubscribes);
	jw_kuint(w, "autoReplies", s->auto_replies);
	jw_kuint(w, "deliveries", s->deliveries);
	jw_kuint(w, "delays", s->delays);
	jw_kuint(w, "untrusted", s->untrusted);
	jw_key(w, "thresholds");
	jw_obj(w);
	jw_knum(w, "bounceWarning", th.bounce_warning);
	jw_knum(w, "bounceCritical", th.bounce_critical);
	jw_knum(w, "complaintWarning", th.complaint_warning);
	jw_knum(w, "complaintCritical", th.complaint_critical);
	jw_kuint(w, "minSends", th.min_sends);
	jw_obj_end(w);
	jw_key(w, "alerts");
	jw_arr(w);
	for (i = 0; i < rc->n_alerts; i++) {
		jw_obj(w);
		jw_kstr(w, "metric", rc->alerts[i].metric);
		jw_kstr(w, "status", store_status_name(rc->alerts[i].to));
		jw_ktime(w, "since", rc->alerts[i].time);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	breakdown(w, "byReason", "reason", s->reasons, s->n_reasons);
	breakdown(w, "byProvider", "provider", s->providers, s->n_providers);
	jw_obj_end(w);
	return 0;
}

void
api_reputation(struct req *rq)
{
	static const char *const allowed[] = {"window", NULL};
	char id[STORE_MAX_IDENTITY];
	struct store_thresholds th;
	char key[STORE_MAX_IDENTITY + 48];
	struct rep_ctx rc;
	struct rb_error err;
	struct store *st;
	uint64_t version = 0;
	int64_t hour;
	int more, cached;

	if (params_check(rq, allowed) < 0 || (st = req_reader(rq)) == NULL)
		return;
	memset(&rc, 0, sizeof(rc));
	store_thresholds(st, &th);
	if (param_hours(rq, "window", th.window, 3600, HTTP_WINDOW_MAX,
	        &rc.window) < 0 ||
	    path_identity_name(rq, st, id, sizeof(id)) < 0)
		return;
	/* The version first, then the snapshot of the request (its first
	 * query is below): an answer is never older than its version. */
	(void)snprintf(key, sizeof(key), "reputation %s %llu", id,
	    (unsigned long long)rc.window);
	hour = (int64_t)rq->now / 3600;
	cached = cache_version(rq->srv->cache, &version) == 0;
	if (cached &&
	    cache_get(rq->srv->cache, key, version, hour, &rq->out) == 1) {
		rq->status = 200;
		rq->ctype = "application/json";
		return;
	}
	rc.st = st;
	rc.now = rq->now;
	if (store_alerts_active(
	        st, id, NULL, NULL, 2, on_alert_state, &rc, &more, &err) < 0) {
		reply_store_error(rq, st, &err);
		return;
	}
	rc.w = reply_json(rq, 200);
	if (store_stats(st, id, rq->now, rc.window, on_reputation, &rc, &err) <
	    0) {
		reply_store_error(rq, st, &err);
		return;
	}
	/* Counts in the window: the identity is known.  Without, it may
	 * be known from other hours, or not at all (404, the answer
	 * replaced): a query only then. */
	if (rc.empty && identity_known(rq, st, id) < 0)
		return;
	if (cached && !rc.w->failed)
		cache_put(rq->srv->cache, key, version, hour, rq->out.data,
		    rq->out.len);
}

/* ---- GET /v1/identities/{identity}/timeseries -----------------------------
 */

enum ts_metric {
	TS_BOUNCE_RATE,
	TS_COMPLAINT_RATE,
	TS_SENDS,
	TS_BOUNCES,
	TS_COMPLAINTS
};

struct ts_ctx {
	enum ts_metric metric;
	int64_t base; /* first hour of the arrays */
	size_t n;
	/* Prefix sums once filled: [k] sums the hours before base + k. */
	uint64_t *sends, *bad;
};

static int
on_hour(const struct store_hour *h, void *ctx)
{
	struct ts_ctx *tc = ctx;
	int64_t i = h->hour - tc->base;

	if (i < 0 || (size_t)i >= tc->n)
		return 0;
	tc->sends[i + 1] = h->sends;
	tc->bad[i + 1] =
	    tc->metric == TS_BOUNCE_RATE || tc->metric == TS_BOUNCES ? h->hard
	    : tc->metric == TS_SENDS                                 ? h->sends
	                             : h->complaints;
	return 0;
}

void
api_timeseries(struct req *rq)
{
	static const char *const allowed[] = {
	    "metric", "from", "to", "step", "window", NULL};
	static const char *const metrics[] = {"bounceRate", "complaintRate",
	    "sends", "bounces", "complaints", NULL};
	char id[STORE_MAX_IDENTITY];
	struct store_thresholds th;
	struct ts_ctx tc;
	struct rb_error err;
	struct store *st;
	struct jw *w;
	time_t from = 0, to;
	uint64_t step, window;
	int64_t h_from, h_to, step_h, win_h, p, n_points;
	int metric, rate;
	size_t i;

	if (params_check(rq, allowed) < 0 || (st = req_reader(rq)) == NULL)
		return;
	store_thresholds(st, &th);
	to = rq->now;
	if (param_enum(rq, "metric", metrics, &metric) < 0 ||
	    param_time(rq, "to", &to) < 0 ||
	    param_time(rq, "from", &from) < 0 ||
	    param_hours(rq, "step", 3600, 3600, HTTP_STEP_MAX, &step) < 0 ||
	    param_hours(
	        rq, "window", th.window, 3600, HTTP_WINDOW_MAX, &window) < 0)
		return;
	if (metric < 0) {
		reply_bad_param(rq, "metric",
		    "metric: needed (bounceRate, complaintRate, sends, "
		    "bounces or complaints)");
		return;
	}
	if (from == 0)
		from = to - 7 * 86400;
	h_to = ((int64_t)to + 3599) / 3600;
	h_from = (int64_t)from / 3600;
	if (h_from >= h_to) {
		reply_bad_param(rq, "from", "from: must be before to");
		return;
	}
	if ((uint64_t)(h_to - h_from) * 3600 > HTTP_SPAN_MAX) {
		reply_bad_param(rq, "from", "from: at most 2 years before to");
		return;
	}
	step_h = (int64_t)(step / 3600);
	n_points = (h_to - h_from + step_h - 1) / step_h;
	if (n_points > HTTP_MAX_POINTS) {
		reply_bad_param(rq, "step",
		    "step: %" PRId64 " points; at most %d (a longer step)",
		    n_points, HTTP_MAX_POINTS);
		return;
	}
	if (path_identity(rq, st, id, sizeof(id)) < 0)
		return;
	rate = metric == TS_BOUNCE_RATE || metric == TS_COMPLAINT_RATE;
	win_h = rate ? (int64_t)(window / 3600) : 1;
	memset(&tc, 0, sizeof(tc));
	tc.metric = (enum ts_metric)metric;
	tc.base = h_from - (win_h - 1);
	tc.n = (size_t)(h_to - tc.base);
	tc.sends = xcalloc(tc.n + 1, sizeof(uint64_t));
	tc.bad = xcalloc(tc.n + 1, sizeof(uint64_t));
	if (store_hours(st, id, tc.base, h_to - 1, on_hour, &tc, &err) < 0) {
		reply_store_error(rq, st, &err);
		goto out;
	}
	for (i = 1; i <= tc.n; i++) {
		tc.sends[i] += tc.sends[i - 1];
		tc.bad[i] += tc.bad[i - 1];
	}
	w = reply_json(rq, 200);
	jw_obj(w);
	jw_kstr(w, "identity", id);
	jw_kstr(w, "metric", metrics[metric]);
	jw_kuint(w, "step", step);
	if (rate)
		jw_kuint(w, "window", window);
	jw_ktime(w, "from", (time_t)(h_from * 3600));
	jw_ktime(w, "to", (time_t)(h_to * 3600));
	if (rate) {
		jw_key(w, "thresholds");
		jw_obj(w);
		jw_knum(w, "warning",
		    metric == TS_BOUNCE_RATE ? th.bounce_warning
		                             : th.complaint_warning);
		jw_knum(w, "critical",
		    metric == TS_BOUNCE_RATE ? th.bounce_critical
		                             : th.complaint_critical);
		jw_obj_end(w);
	}
	jw_key(w, "points");
	jw_arr(w);
	for (p = 0; p < n_points; p++) {
		int64_t a = h_from + p * step_h, b = a + step_h;
		uint64_t sends, count;

		if (b > h_to)
			b = h_to;
		if (rate)
			a = b - win_h;
		sends = tc.sends[b - tc.base] - tc.sends[a - tc.base];
		count = tc.bad[b - tc.base] - tc.bad[a - tc.base];
		jw_obj(w);
		jw_ktime(
		    w, "timestamp", (time_t)((h_from + p * step_h) * 3600));
		if (rate)
			jw_knum(w, "value",
			    sends > 0 ? (double)count / (double)sends : 0);
		else
			jw_kuint(
			    w, "value", metric == TS_SENDS ? sends : count);
		jw_kuint(w, "sends", sends);
		jw_kuint(w, "count", metric == TS_SENDS ? sends : count);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
out:
	free(tc.sends);
	free(tc.bad);
}

/* ---- GET /v1/alerts -------------------------------------------------------
 */

struct alerts_ctx {
	struct jw *w;
	int active;
	char last_identity[STORE_MAX_IDENTITY];
	char last_metric[16];
	int64_t last_id;
};

static int
on_alert(const struct store_alert *a, void *ctx)
{
	struct alerts_ctx *ac = ctx;
	struct jw *w = ac->w;

	jw_obj(w);
	if (!ac->active) {
		jw_kid(w, "id", a->id);
		jw_ktime(w, "time", a->time);
	}
	jw_kstr(w, "identity", a->identity);
	jw_kstr(w, "metric", metric_api(a->metric));
	if (ac->active) {
		jw_kstr(w, "status", store_status_name(a->to));
		jw_ktime(w, "since", a->time);
	} else {
		jw_kstr(w, "from", store_status_name(a->from));
		jw_kstr(w, "to", store_status_name(a->to));
	}
	jw_knum(w, "value", a->value);
	jw_knum(w, "threshold", a->threshold);
	jw_kuint(w, "sends", a->sends);
	jw_obj_end(w);
	(void)snprintf(ac->last_identity, sizeof(ac->last_identity), "%s",
	    a->identity != NULL ? a->identity : "");
	(void)snprintf(ac->last_metric, sizeof(ac->last_metric), "%s",
	    a->metric != NULL ? a->metric : "");
	ac->last_id = a->id;
	return 0;
}

void
api_alerts(struct req *rq)
{
	static const char *const allowed[] = {
	    "state", "identity", "pageSize", "nextToken", NULL};
	static const char *const filters[] = {"state", "identity", NULL};
	static const char *const states[] = {"active", "all", NULL};
	char tstore[HTTP_TOKEN_TEXT_MAX + 1], next[HTTP_TOKEN_TEXT_MAX + 1];
	char id[STORE_MAX_IDENTITY];
	const char *identity = NULL, *fields[2] = {NULL, NULL};
	struct alerts_ctx ac;
	struct rb_error err;
	struct store *st;
	size_t limit;
	int state, more = 0, t, rc;
	uint32_t fh;

	if (params_check(rq, allowed) < 0 || (st = req_reader(rq)) == NULL)
		return;
	if (param_enum(rq, "state", states, &state) < 0 ||
	    param_page_size(rq, &limit) < 0)
		return;
	if (param(rq, "identity") != NULL) {
		if (store_identity_normalize(
		        st, param(rq, "identity"), id, sizeof(id), &err) < 0) {
			reply_bad_param(
			    rq, "identity", "identity: %s", err.msg);
			return;
		}
		identity = id;
	}
	memset(&ac, 0, sizeof(ac));
	ac.active = state != 1;
	fh = params_hash(rq, filters);
	t = token_read(
	    rq, ac.active ? 'A' : 'a', fh, tstore, fields, ac.active ? 2 : 1);
	if (t < 0)
		return;
	ac.w = reply_json(rq, 200);
	jw_obj(ac.w);
	jw_key(ac.w, "alerts");
	jw_arr(ac.w);
	if (ac.active) {
		rc = store_alerts_active(st, identity, fields[0], fields[1],
		    limit, on_alert, &ac, &more, &err);
	} else {
		int64_t before = 0;

		if (t == 1 && param_id(rq, fields[0], "nextToken", &before) < 0)
			return;
		rc = store_alerts_page(
		    st, identity, before, limit, on_alert, &ac, &more, &err);
	}
	if (rc < 0) {
		reply_store_error(rq, st, &err);
		return;
	}
	jw_arr_end(ac.w);
	if (more) {
		char idbuf[32];
		const char *f[2] = {ac.last_identity, ac.last_metric};

		if (!ac.active) {
			(void)snprintf(
			    idbuf, sizeof(idbuf), "%" PRId64, ac.last_id);
			f[0] = idbuf;
		}
		token_make(
		    next, ac.active ? 'A' : 'a', fh, f, ac.active ? 2 : 1);
		jw_kstr(ac.w, "nextToken", next);
	}
	jw_obj_end(ac.w);
}
