/*
 * serve_smtp: the SMTP feedback server as a component of `rebound
 * serve`.  prepare binds the [smtp] listen addresses (as root for port
 * 25); start opens the spool (replaying what a previous run left) and
 * runs the server, whose spool pipeline thread hands committed messages
 * in batches to serve_store(); the spool deletes them once stored.
 * stop is graceful: no new connection, sessions may finish within the
 * timeout, what was received is stored.  In JSON log mode each
 * transaction is one JSON line with its fields.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/serve.h"
#include "ingest/ingest.h"

/* "smtp:SESSION:QUEUEID" names the source of a stored message. */
#define SERVE_SMTP_SOURCE_MAX 128

struct serve_smtp {
	struct serve *sv;
	struct smtp_config cfg;
	struct smtp_server *srv;
	int json;
	/* serve_input for a batch, grown to the largest batch. */
	struct serve_input *in;
	char (*names)[SERVE_SMTP_SOURCE_MAX];
	size_t cap;
};

static const char *const verp_names[] = {
    "none", "trusted", "untrusted", "unchecked"};

static void
txn_json(const struct smtp_txn *t, void *ctx)
{
	const struct smtp_envelope *e = t->env;
	char text[SMTP_TXN_LINE_MAX];
	struct buf b;
	size_t i;
	int r;

	(void)ctx;
	smtp_txn_format(t, text, sizeof(text));
	buf_init(&b, LOG_LINE_MAX);
	r = buf_printf(&b, "{\"msg\":\"smtp transaction\",\"session\":");
	r |= serve_json_string(&b, e->session_id);
	r |= buf_printf(&b, ",\"client\":");
	r |= serve_json_string(&b, e->client);
	r |= buf_printf(&b, ",\"helo\":");
	r |= serve_json_string(&b, e->helo);
	r |= buf_printf(&b, ",\"from\":");
	r |= serve_json_string(&b, e->mail_from);
	r |= buf_printf(&b, ",\"rcpts\":[");
	for (i = 0; i < e->n_rcpts && r == 0; i++) {
		if (i > 0)
			r |= buf_putc(&b, ',');
		r |= buf_printf(&b, "{\"address\":");
		r |= serve_json_string(&b, e->rcpts[i].address);
		r |= buf_printf(
		    &b, ",\"verp\":\"%s\"}", verp_names[e->rcpts[i].verp]);
	}
	r |= buf_printf(&b,
	    "],\"rejected\":%zu,\"size\":%llu,\"queue\":", t->n_rejected,
	    (unsigned long long)t->size);
	if (t->queue_id != NULL)
		r |= serve_json_string(&b, t->queue_id);
	else
		r |= buf_printf(&b, "null");
	r |= buf_printf(&b, ",\"result\":");
	r |= serve_json_string(&b, t->result);
	r |= buf_printf(&b, ",\"tls\":%s}", e->tls ? "true" : "false");
	if (r != 0) {
		/* Too many recipients for one line: the text form, cut. */
		buf_reset(&b);
		r = buf_printf(&b, "{\"msg\":\"smtp transaction\",\"text\":");
		r |= serve_json_string(&b, text);
		r |= buf_putc(&b, '}');
	}
	serve_log_fields(LOG_INFO, r == 0 ? (const char *)b.data : "", text);
	buf_free(&b);
}

/* The recipient whose address attributes the message: the first with a
 * VERP token, else the first. */
static const char *
envelope_to(const struct smtp_envelope *env)
{
	size_t i;

	for (i = 0; i < env->n_rcpts; i++) {
		if (env->rcpts[i].verp != SMTP_VERP_NONE)
			return env->rcpts[i].address;
	}
	return env->n_rcpts > 0 ? env->rcpts[0].address : NULL;
}

static int
deliver(
    const struct smtp_message *msgs, size_t n, void *ctx, struct rb_error *err)
{
	struct serve_smtp *s = ctx;
	size_t i;

	if (n > s->cap) {
		s->cap = n;
		s->in = xrealloc(s->in, n * sizeof(*s->in));
		s->names = xrealloc(s->names, n * sizeof(*s->names));
	}
	for (i = 0; i < n; i++) {
		struct serve_input *in = &s->in[i];

		(void)snprintf(s->names[i], sizeof(s->names[i]), "smtp:%s:%s",
		    msgs[i].env->session_id, msgs[i].queue_id);
		in->data = msgs[i].data;
		in->len = msgs[i].len;
		in->src.file = s->names[i];
		in->src.index = -1;
		in->src.via = "smtp";
		in->src.envelope_to = envelope_to(msgs[i].env);
	}
	/* Committed now; durable before the spool deletes its segment. */
	return serve_store_committed(s->sv, s->in, n, err);
}

static int
sync_stored(void *ctx, struct rb_error *err)
{
	struct serve_smtp *s = ctx;

	return serve_sync(s->sv, err);
}

static int
setting_size(struct serve *sv, const char *name, size_t max, size_t *v_r,
    struct rb_error *err)
{
	uint64_t v;

	if (config_get_u64(serve_config(sv), name, &v, err) < 0)
		return -1;
	if (v == 0 || v > max)
		return rb_error_set(err, EINVAL, "%s: %llu is not in 1..%zu",
		    name, (unsigned long long)v, max);
	*v_r = (size_t)v;
	return 0;
}

static int
build_config(struct serve_smtp *s, struct rb_error *err)
{
	struct smtp_config *c = &s->cfg;
	struct serve *sv = s->sv;
	const struct config *cfg = serve_config(sv);
	const char **list;
	const char *v;
	size_t line = 0;
	int n;

	memset(c, 0, sizeof(*c));
	if ((n = serve_list(sv, "smtp.listen", &list, err)) < 0)
		return -1;
	if (n == 0)
		return rb_error_set(err, EINVAL, "smtp.listen: no address");
	if (n > SMTP_MAX_LISTEN)
		return rb_error_set(err, EINVAL,
		    "smtp.listen: more than %d addresses", SMTP_MAX_LISTEN);
	c->listen = list;
	c->n_listen = (size_t)n;
	if ((n = serve_list(sv, "smtp.domains", &list, err)) < 0)
		return -1;
	c->domains = list;
	c->n_domains = (size_t)n;
	if ((n = serve_list(sv, "smtp.local_parts", &list, err)) < 0)
		return -1;
	c->local_parts = list;
	c->n_local_parts = (size_t)n;
	v = config_get(cfg, "smtp.hostname");
	c->hostname = v[0] != '\0' ? v : NULL;
	v = config_get(cfg, "verp.secret");
	c->verp_secret = v[0] != '\0' ? v : NULL;
	c->spool_dir = serve_spool_dir(sv);
	v = config_get(cfg, "smtp.tls_cert");
	c->tls_cert = v[0] != '\0' ? v : NULL;
	v = config_get(cfg, "smtp.tls_key");
	c->tls_key = v[0] != '\0' ? v : NULL;
	if (setting_size(sv, "smtp.max_message", SMTP_MAX_MESSAGE_LIMIT,
	        &c->max_message, err) < 0 ||
	    setting_size(sv, "smtp.max_memory", (size_t)1 << 40, &c->max_memory,
	        err) < 0 ||
	    setting_size(sv, "smtp.max_line", SMTP_MAX_LINE_LIMIT, &line, err) <
	        0 ||
	    serve_u32(sv, "smtp.max_recipients", &c->max_recipients, err) < 0 ||
	    serve_u32(sv, "smtp.max_connections", &c->max_connections, err) <
	        0 ||
	    serve_u32(sv, "smtp.max_per_ip", &c->max_per_ip, err) < 0 ||
	    serve_u32(sv, "smtp.max_errors", &c->max_errors, err) < 0 ||
	    serve_u32(sv, "smtp.max_backlog", &c->max_backlog, err) < 0 ||
	    serve_secs(sv, "smtp.command_timeout", &c->command_timeout, err) <
	        0 ||
	    serve_secs(sv, "smtp.data_timeout", &c->data_timeout, err) < 0)
		return -1;
	c->max_line = (unsigned)line;
	/* One store transaction per spool batch: the store's batch size. */
	if (serve_u32(sv, "store.batch_size", &c->deliver_batch, err) < 0)
		return -1;
	c->sync = sync_stored;
	if (s->json) {
		c->txn_log = txn_json;
		c->txn_log_ctx = s;
	}
	return 0;
}

static int
smtp_prepare(struct serve *sv, void **state_r, struct rb_error *err)
{
	struct serve_smtp *s = xcalloc(1, sizeof(*s));

	s->sv = sv;
	s->json = serve_log_json(sv);
	*state_r = s;
	if (build_config(s, err) < 0)
		return -1;
	return smtp_server_listen(&s->cfg, &s->srv, err);
}

static int
smtp_start(struct serve *sv, void **state_r, struct rb_error *err)
{
	struct serve_smtp *s = *state_r;

	(void)sv;
	return smtp_server_run(s->srv, deliver, s, err);
}

static void
smtp_stop(void *state, unsigned timeout)
{
	struct serve_smtp *s = state;
	struct smtp_server_stats st;

	if (s->srv != NULL) {
		smtp_server_get_stats(s->srv, &st);
		smtp_server_stop(&s->srv, timeout);
		log_info("smtp: stopped; %llu connections, %llu refused, "
		         "%llu messages acknowledged in %llu group commits, "
		         "%llu timeouts, %llu over TLS",
		    (unsigned long long)st.connections,
		    (unsigned long long)st.refused,
		    (unsigned long long)st.messages,
		    (unsigned long long)st.spool.commit_rounds,
		    (unsigned long long)st.timeouts,
		    (unsigned long long)st.tls);
	}
	free(s->in);
	free(s->names);
	free(s);
}

/* /readyz: the spool takes messages, and the pipeline keeps up (below
 * smtp.max_backlog MAIL gets 451 4.3.1). */
static void
smtp_ready(void *state, struct http_ready *r)
{
	struct serve_smtp *s = state;
	struct smtp_server_stats st;
	char d[96];
	int ok;

	if (s->srv == NULL)
		return;
	ok = access(s->cfg.spool_dir, W_OK) == 0;
	http_ready_check(r, "spool", ok, ok ? "writable" : strerror(errno));
	smtp_server_get_stats(s->srv, &st);
	ok = st.spool.backlog < s->cfg.max_backlog;
	(void)snprintf(d, sizeof(d), "backlog %llu of %u",
	    (unsigned long long)st.spool.backlog, s->cfg.max_backlog);
	http_ready_check(r, "pipeline", ok, d);
}

static void
smtp_metrics(void *state, struct http_metrics *m)
{
	struct serve_smtp *s = state;
	struct smtp_server_stats st;
	char lab[32];
	size_t i;

	if (s->srv == NULL)
		return;
	smtp_server_get_stats(s->srv, &st);
	http_metrics_add(m, "rebound_messages_received_total", "counter",
	    "feedback messages received since start, by source",
	    "source=\"smtp\"", (double)st.messages);
	http_metrics_add(m, "rebound_smtp_sessions_total", "counter",
	    "SMTP connections accepted since start", NULL,
	    (double)st.connections);
	http_metrics_add(m, "rebound_smtp_sessions_active", "gauge",
	    "SMTP connections open now", NULL, (double)st.active);
	http_metrics_add(m, "rebound_smtp_connections_refused_total", "counter",
	    "SMTP connections refused for a connection limit", NULL,
	    (double)st.refused);
	for (i = 0; i <= SMTP_N_REJECT_CODES; i++) {
		unsigned code = smtp_reject_code(i);

		if (code != 0)
			(void)snprintf(lab, sizeof(lab), "code=\"%u\"", code);
		else
			(void)snprintf(lab, sizeof(lab), "code=\"other\"");
		http_metrics_add(m, "rebound_smtp_rejections_total", "counter",
		    "SMTP 4xx and 5xx replies sent since start, by reply code",
		    lab, (double)st.rejections[i]);
	}
	http_metrics_add(m, "rebound_smtp_timeouts_total", "counter",
	    "SMTP sessions cut by a timeout since start", NULL,
	    (double)st.timeouts);
	http_metrics_add(m, "rebound_spool_depth", "gauge",
	    "messages spooled, not yet processed", NULL,
	    (double)st.spool.backlog);
	http_metrics_add(m, "rebound_spool_failures_total", "counter",
	    "spool writes and deliveries that failed since start", NULL,
	    (double)(st.spool.commit_failures + st.spool.deliver_failures));
}

const struct serve_component serve_smtp_component = {"smtp", smtp_prepare,
    smtp_start, NULL, NULL, smtp_stop, smtp_ready, smtp_metrics};
