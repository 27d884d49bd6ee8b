/*
 * metrics: GET /healthz, GET /readyz and GET /metrics (Prometheus text
 * format 0.0.4).  Request counts and latency histograms per route are
 * lock-free counters updated as each request completes; the route label
 * is the route's template, never the raw path, so the series stay
 * bounded.  Values derived from the database (suppression list sizes,
 * alerts, events stored since start, the top identities) are refreshed
 * at most every METRICS_REFRESH_NS under a mutex: a scrape storm costs
 * one refresh.  Per-identity series exist only for the
 * http.metrics_identities identities with most sends.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_int.h"

/* Database-derived values are at most this old. */
#define METRICS_REFRESH_NS (5ull * 1000000000)
/* Distinct (eventType, reason) pairs kept: 6 types x 35 reasons fit;
 * more would be a classifier bug, counted under reason "other". */
#define METRICS_MAX_PAIRS 512
/* Checks of /readyz at most. */
#define READY_MAX_CHECKS 16

/* Latency buckets (seconds): the p99 target of the API is 5 ms. */
static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
#define N_BUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))
/* Status codes counted apart; others add to "other". */
static const unsigned codes[] = {
    200, 202, 304, 400, 401, 403, 404, 405, 413, 500, 503};
#define N_CODES (sizeof(codes) / sizeof(codes[0]))

struct route_stats {
	_Atomic uint64_t code[N_CODES + 1];
	_Atomic uint64_t bucket[N_BUCKETS];
	_Atomic uint64_t count;
	_Atomic uint64_t sum_ns;
};

struct pair_count {
	char type[32];
	char reason[32];
	uint64_t n;
};

struct metrics_state {
	struct route_stats *routes; /* http_n_routes, static, unknown */
	_Atomic uint64_t received;
	pthread_mutex_t mu;
	int have;
	uint64_t refreshed_ns;
	int64_t cursor; /* events counted up to this id */
	struct pair_count *pairs;
	size_t n_pairs;
	uint64_t unattributed, untrusted;
	struct store_overview ov;
	struct store_outbox_stats outbox;
	struct store_identity_stats *top; /* identity strdup'd */
	size_t n_top, cap_top;
};

/* ---- the text writer ------------------------------------------------------
 */

struct mfamily {
	char *name, *type, *help;
};

struct msample {
	size_t fam;
	const char *suffix; /* "_bucket", ... or "" */
	char *labels;
	double v;
};

struct http_metrics {
	struct mfamily *f;
	size_t nf;
	struct msample *s;
	size_t ns;
};

static void
sample_add(struct http_metrics *m, const char *name, const char *type,
    const char *help, const char *suffix, const char *labels, double v)
{
	size_t i;

	for (i = 0; i < m->nf; i++) {
		if (strcmp(m->f[i].name, name) == 0)
			break;
	}
	if (i == m->nf) {
		m->f = xrealloc(m->f, (m->nf + 1) * sizeof(*m->f));
		m->f[i].name = xstrdup(name);
		m->f[i].type = xstrdup(type);
		m->f[i].help = xstrdup(help != NULL ? help : "");
		m->nf++;
	}
	if (m->ns % 64 == 0)
		m->s = xrealloc(m->s, (m->ns + 64) * sizeof(*m->s));
	m->s[m->ns].fam = i;
	m->s[m->ns].suffix = suffix;
	m->s[m->ns].labels =
	    labels != NULL && labels[0] ? xstrdup(labels) : NULL;
	m->s[m->ns].v = v;
	m->ns++;
}

void
http_metrics_add(struct http_metrics *m, const char *name, const char *type,
    const char *help, const char *labels, double value)
{
	sample_add(m, name, type, help, "", labels, value);
}

void
http_metrics_label(char *out, size_t outlen, const char *key, const char *v)
{
	size_t o;
	int n = snprintf(out, outlen, "%s=\"", key);

	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return;
	}
	o = (size_t)n;
	for (; v != NULL && *v != '\0' && o + 3 < outlen; v++) {
		if (*v == '\\' || *v == '"') {
			out[o++] = '\\';
			out[o++] = *v;
		} else if (*v == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *v;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* Write the families in first-seen order, samples grouped. */
static int
metrics_write(const struct http_metrics *m, struct buf *b)
{
	size_t i, j;
	int rc = 0;

	for (i = 0; i < m->nf && rc == 0; i++) {
		const struct mfamily *f = &m->f[i];

		rc = buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", f->name,
		    f->help, f->name, f->type);
		for (j = 0; j < m->ns && rc == 0; j++) {
			const struct msample *s = &m->s[j];

			if (s->fam != i)
				continue;
			rc = buf_printf(b, "%s%s%s%s%s %.15g\n", f->name,
			    s->suffix, s->labels ? "{" : "",
			    s->labels ? s->labels : "", s->labels ? "}" : "",
			    s->v);
		}
	}
	return rc;
}

static void
metrics_writer_free(struct http_metrics *m)
{
	size_t i;

	for (i = 0; i < m->nf; i++) {
		free(m->f[i].name);
		free(m->f[i].type);
		free(m->f[i].help);
	}
	for (i = 0; i < m->ns; i++)
		free(m->s[i].labels);
	free(m->f);
	free(m->s);
}

/* ---- readiness ------------------------------------------------------------
 */

struct http_ready {
	struct {
		char name[32];
		char detail[128];
		int ok;
	} c[READY_MAX_CHECKS];
	size_t n;
};

void
http_ready_check(
    struct http_ready *r, const char *name, int ok, const char *detail)
{
	if (r->n == READY_MAX_CHECKS)
		return;
	(void)snprintf(r->c[r->n].name, sizeof(r->c[r->n].name), "%s", name);
	(void)snprintf(r->c[r->n].detail, sizeof(r->c[r->n].detail), "%s",
	    detail != NULL ? detail : "");
	r->c[r->n].ok = ok != 0;
	r->n++;
}

/* Run the checks; returns the first failing one's index, or -1. */
static int
ready_run(struct req *rq, struct http_ready *r)
{
	struct http_server *srv = rq->srv;
	struct store *st = req_reader(rq);
	struct rb_error err;
	size_t i;

	memset(r, 0, sizeof(*r));
	if (st == NULL) {
		http_ready_check(r, "database", 0, "no connection free");
	} else {
		int v = 0;
		char d[64];

		if (store_ping(st, &err) < 0 ||
		    store_schema_version(st, &v, &err) < 0) {
			http_ready_check(r, "database", 0, err.msg);
		} else {
			(void)snprintf(d, sizeof(d), "schema %d", v);
			http_ready_check(r, "database", 1, d);
		}
	}
	if (srv->hooks.ready != NULL)
		srv->hooks.ready(srv->hooks.ctx, r);
	for (i = 0; i < r->n; i++) {
		if (!r->c[i].ok)
			return (int)i;
	}
	return -1;
}

void
api_healthz(struct req *rq)
{
	struct jw *w;

	if (params_check(rq, NULL) < 0)
		return;
	w = reply_json(rq, 200);
	jw_obj(w);
	jw_kstr(w, "status", "ok");
	jw_kstr(w, "version", REBOUND_VERSION);
	jw_obj_end(w);
}

void
api_readyz(struct req *rq)
{
	struct http_ready r;
	struct jw *w;
	size_t i;
	int bad;

	if (params_check(rq, NULL) < 0)
		return;
	bad = ready_run(rq, &r);
	w = reply_json(rq, bad < 0 ? 200 : 503);
	jw_obj(w);
	jw_kstr(w, "status", bad < 0 ? "ready" : "not ready");
	jw_key(w, "checks");
	jw_arr(w);
	for (i = 0; i < r.n; i++) {
		jw_obj(w);
		jw_kstr(w, "name", r.c[i].name);
		jw_kbool(w, "ok", r.c[i].ok);
		jw_kstr(w, "detail", r.c[i].detail);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	if (bad >= 0) {
		char msg[200];

		(void)snprintf(
		    msg, sizeof(msg), "%s: %s", r.c[bad].name, r.c[bad].detail);
		rq->retry_after = 1;
		jw_key(w, "error");
		jw_obj(w);
		jw_kstr(w, "code", "NotReady");
		jw_kstr(w, "message", msg);
		jw_obj_end(w);
	}
	jw_obj_end(w);
}

/* ---- state ----------------------------------------------------------------
 */

int
metrics_new(struct http_server *srv, struct rb_error *err)
{
	struct metrics_state *ms = xcalloc(1, sizeof(*ms));

	ms->routes = xcalloc(http_n_routes + 2, sizeof(*ms->routes));
	pthread_mutex_init(&ms->mu, NULL);
	srv->metrics = ms;
	/* Events are counted from now on: a counter starts at 0. */
	return store_events_last_id(srv->writer, &ms->cursor, err);
}

static void
top_clear(struct metrics_state *ms)
{
	size_t i;

	for (i = 0; i < ms->n_top; i++)
		free((char *)(uintptr_t)ms->top[i].identity);
	ms->n_top = 0;
}

void
metrics_free(struct http_server *srv)
{
	struct metrics_state *ms = srv->metrics;

	if (ms == NULL)
		return;
	top_clear(ms);
	free(ms->top);
	free(ms->pairs);
	free(ms->routes);
	pthread_mutex_destroy(&ms->mu);
	free(ms);
	srv->metrics = NULL;
}

void
metrics_observe(
    struct http_server *srv, int route_id, unsigned status, uint64_t ns)
{
	struct metrics_state *ms = srv->metrics;
	struct route_stats *r;
	double secs = (double)ns / 1e9;
	size_t i;

	r = &ms->routes[route_id >= 0    ? (size_t)route_id
	                : route_id == -2 ? http_n_routes
	                                 : http_n_routes + 1];
	for (i = 0; i < N_CODES && codes[i] != status; i++)
		;
	atomic_fetch_add_explicit(&r->code[i], 1, memory_order_relaxed);
	for (i = 0; i < N_BUCKETS; i++) {
		if (secs <= bucket_le[i]) {
			atomic_fetch_add_explicit(
			    &r->bucket[i], 1, memory_order_relaxed);
			break;
		}
	}
	atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->sum_ns, ns, memory_order_relaxed);
}

void
metrics_message_received(struct http_server *srv)
{
	atomic_fetch_add_explicit(
	    &srv->metrics->received, 1, memory_order_relaxed);
}

static void
on_pair(const char *type, const char *reason, uint64_t n, void *ctx)
{
	struct metrics_state *ms = ctx;
	size_t i;

	if (type == NULL)
		type = "";
	if (reason == NULL)
		reason = "";
	for (i = 0; i < ms->n_pairs; i++) {
		if (strcmp(ms->pairs[i].type, type) == 0 &&
		    strcmp(ms->pairs[i].reason, reason) == 0)
			break;
	}
	if (i == ms->n_pairs) {
		if (ms->n_pairs == METRICS_MAX_PAIRS)
			reason = "other";
		for (i = 0; i < ms->n_pairs; i++) {
			if (strcmp(ms->pairs[i].type, type) == 0 &&
			    strcmp(ms->pairs[i].reason, reason) == 0)
				break;
		}
	}
	if (i == ms->n_pairs) {
		ms->pairs =
		    xrealloc(ms->pairs, (ms->n_pairs + 1) * sizeof(*ms->pairs));
		memset(&ms->pairs[i], 0, sizeof(ms->pairs[i]));
		(void)snprintf(
		    ms->pairs[i].type, sizeof(ms->pairs[i].type), "%s", type);
		(void)snprintf(ms->pairs[i].reason, sizeof(ms->pairs[i].reason),
		    "%s", reason);
		ms->n_pairs++;
	}
	ms->pairs[i].n += n;
}

static int
on_top(const struct store_identity_stats *s, void *ctx)
{
	struct metrics_state *ms = ctx;

	if (ms->n_top == ms->cap_top) {
		ms->cap_top = ms->cap_top ? ms->cap_top * 2 : 16;
		ms->top = xrealloc(ms->top, ms->cap_top * sizeof(*ms->top));
	}
	ms->top[ms->n_top] = *s;
	ms->top[ms->n_top].identity = xstrdup(s->identity);
	ms->top[ms->n_top].reasons = ms->top[ms->n_top].providers = NULL;
	ms->n_top++;
	return 0;
}

/* Refresh the database-derived values when stale; under ms->mu. */
static int
refresh(struct req *rq, struct store *st, struct rb_error *err)
{
	struct metrics_state *ms = rq->srv->metrics;
	uint64_t t = http_mono_ns();

	if (ms->have && t - ms->refreshed_ns < METRICS_REFRESH_NS)
		return 0;
	if (store_events_count_since(st, &ms->cursor, on_pair, ms,
	        &ms->unattributed, &ms->untrusted, err) < 0)
		return -1;
	if (store_outbox_stats(st, &ms->outbox, err) < 0)
		return -1;
	top_clear(ms);
	if (store_overview(st, rq->now, 0, rq->srv->metrics_identities, &ms->ov,
	        on_top, ms, err) < 0)
		return -1;
	ms->have = 1;
	ms->refreshed_ns = t;
	return 0;
}

/* ---- GET /metrics ---------------------------------------------------------
 */

static void
add_db(struct http_metrics *m, struct metrics_state *ms, time_t now)
{
	static const char *const metric[] = {"bounceRate", "complaintRate"};
	static const char *const status[] = {"ok", "warning", "critical"};
	char lab[STORE_MAX_IDENTITY * 2 + 64], l2[64];
	size_t i, k, s;

	for (i = 0; i < ms->n_pairs; i++) {
		int n = snprintf(
		    lab, sizeof(lab), "type=\"%s\",", ms->pairs[i].type);

		if (n > 0 && (size_t)n < sizeof(lab))
			http_metrics_label(lab + n, sizeof(lab) - (size_t)n,
			    "reason", ms->pairs[i].reason);
		http_metrics_add(m, "rebound_events_total", "counter",
		    "events stored since start, by eventType and reason", lab,
		    (double)ms->pairs[i].n);
	}
	if (ms->n_pairs == 0)
		http_metrics_add(m, "rebound_events_total", "counter",
		    "events stored since start, by eventType and reason",
		    "type=\"Bounce\",reason=\"\"", 0);
	http_metrics_add(m, "rebound_events_unattributed_total", "counter",
	    "events stored since start with no identity", NULL,
	    (double)ms->unattributed);
	http_metrics_add(m, "rebound_events_untrusted_total", "counter",
	    "events stored since start whose VERP signature failed", NULL,
	    (double)ms->untrusted);
	http_metrics_add(m, "rebound_suppression_entries", "gauge",
	    "suppression entries in force", "list=\"global\"",
	    (double)ms->ov.global);
	http_metrics_add(m, "rebound_suppression_entries", "gauge",
	    "suppression entries in force", "list=\"account\"",
	    (double)ms->ov.account);
	for (k = 0; k < 2; k++) {
		for (s = 1; s < 3; s++) {
			(void)snprintf(l2, sizeof(l2),
			    "metric=\"%s\",status=\"%s\"", metric[k],
			    status[s]);
			http_metrics_add(m, "rebound_alerts_active", "gauge",
			    "identities in warning or critical", l2,
			    (double)ms->ov.alerts[k][s]);
		}
	}
	http_metrics_add(m, "rebound_outbox_depth", "gauge",
	    "outbox rows not yet delivered to Kafka", NULL,
	    (double)ms->outbox.depth);
	http_metrics_add(m, "rebound_outbox_oldest_seconds", "gauge",
	    "age of the oldest outbox row (0: empty)", NULL,
	    ms->outbox.oldest > 0 && now > ms->outbox.oldest
	        ? (double)(now - ms->outbox.oldest)
	        : 0);
	http_metrics_add(m, "rebound_kafka_send_records_total", "counter",
	    "records of the sends topic consumed", NULL,
	    (double)ms->outbox.sends_records);
	http_metrics_add(m, "rebound_kafka_send_records_malformed_total",
	    "counter", "records of the sends topic skipped as malformed", NULL,
	    (double)ms->outbox.sends_malformed);
	http_metrics_add(m, "rebound_identities", "gauge",
	    "identities with sends or feedback in the window", NULL,
	    (double)ms->ov.identities);
	for (i = 0; i < ms->n_top; i++) {
		const struct store_identity_stats *t = &ms->top[i];

		http_metrics_label(lab, sizeof(lab), "identity", t->identity);
		http_metrics_add(m, "rebound_identity_sends", "gauge",
		    "sends in the window (identities with most sends)", lab,
		    (double)t->sends);
		http_metrics_add(m, "rebound_identity_bounce_rate", "gauge",
		    "bounce rate over the window (identities with most sends)",
		    lab, t->bounce_rate);
		http_metrics_add(m, "rebound_identity_complaint_rate", "gauge",
		    "complaint rate over the window (identities with most "
		    "sends)",
		    lab, t->complaint_rate);
	}
}

static void
add_http(struct http_metrics *m, struct metrics_state *ms)
{
	static const char h_req[] = "HTTP requests answered";
	static const char h_dur[] =
	    "HTTP request latency, first byte in to last byte out";
	char lab[160], le[32];
	size_t r, i;

	for (r = 0; r < http_n_routes + 2; r++) {
		struct route_stats *rs = &ms->routes[r];
		const char *name = r < http_n_routes    ? http_routes[r].name
		                   : r == http_n_routes ? ROUTE_STATIC_NAME
		                                        : ROUTE_UNKNOWN_NAME;
		uint64_t cum = 0, count = atomic_load(&rs->count);

		if (count == 0)
			continue;
		for (i = 0; i <= N_CODES; i++) {
			uint64_t n = atomic_load(&rs->code[i]);
			char code[16];

			if (n == 0)
				continue;
			if (i < N_CODES)
				(void)snprintf(
				    code, sizeof(code), "%u", codes[i]);
			else
				(void)snprintf(code, sizeof(code), "other");
			(void)snprintf(lab, sizeof(lab),
			    "route=\"%s\",code=\"%s\"", name, code);
			http_metrics_add(m, "rebound_http_requests_total",
			    "counter", h_req, lab, (double)n);
		}
		for (i = 0; i < N_BUCKETS; i++) {
			cum += atomic_load(&rs->bucket[i]);
			(void)snprintf(le, sizeof(le), "%g", bucket_le[i]);
			(void)snprintf(lab, sizeof(lab),
			    "route=\"%s\",le=\"%s\"", name, le);
			sample_add(m, "rebound_http_request_duration_seconds",
			    "histogram", h_dur, "_bucket", lab, (double)cum);
		}
		(void)snprintf(
		    lab, sizeof(lab), "route=\"%s\",le=\"+Inf\"", name);
		sample_add(m, "rebound_http_request_duration_seconds",
		    "histogram", h_dur, "_bucket", lab, (double)count);
		(void)snprintf(lab, sizeof(lab), "route=\"%s\"", name);
		sample_add(m, "rebound_http_request_duration_seconds",
		    "histogram", h_dur, "_sum", lab,
		    (double)atomic_load(&rs->sum_ns) / 1e9);
		sample_add(m, "rebound_http_request_duration_seconds",
		    "histogram", h_dur, "_count", lab, (double)count);
	}
}

void
api_metrics(struct req *rq)
{
	struct http_server *srv = rq->srv;
	struct metrics_state *ms = srv->metrics;
	struct http_metrics m;
	struct http_ready r;
	struct rb_error err;
	struct store *st;
	char lab[64];
	int rc;

	if (params_check(rq, NULL) < 0 || (st = req_reader(rq)) == NULL)
		return;
	memset(&m, 0, sizeof(m));
	http_metrics_add(
	    &m, "rebound_up", "gauge", "1 while rebound runs", NULL, 1);
	http_metrics_label(lab, sizeof(lab), "version", REBOUND_VERSION);
	http_metrics_add(&m, "rebound_build_info", "gauge",
	    "the version of rebound", lab, 1);
	http_metrics_add(&m, "rebound_ready", "gauge",
	    "1 when /readyz says ready", NULL, ready_run(rq, &r) < 0 ? 1 : 0);
	http_metrics_add(&m, "rebound_messages_received_total", "counter",
	    "feedback messages received since start, by source",
	    "source=\"http\"", (double)atomic_load(&ms->received));
	pthread_mutex_lock(&ms->mu);
	rc = refresh(rq, st, &err);
	if (rc == 0)
		add_db(&m, ms, rq->now);
	pthread_mutex_unlock(&ms->mu);
	if (rc < 0) {
		metrics_writer_free(&m);
		reply_store_error(rq, st, &err);
		return;
	}
	if (srv->hooks.metrics != NULL)
		srv->hooks.metrics(srv->hooks.ctx, &m);
	add_http(&m, ms);
	(void)reply_json(rq, 200);
	rq->ctype = "text/plain; version=0.0.4; charset=utf-8";
	if (metrics_write(&m, &rq->out) < 0)
		rq->w.failed = 1;
	metrics_writer_free(&m);
}
