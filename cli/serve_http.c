/*
 * serve_http: the HTTP API and the dashboard (http/) as a component of
 * `rebound serve`.  prepare binds http.listen (as root if need be, and
 * refusing a non-loopback address without tokens); start opens the
 * server's database handles (after the privileges were dropped) and
 * runs its threads.  The hooks tie it to the daemon: /readyz and
 * /metrics ask every component (serve_ready, serve_metrics), and
 * POST /v1/messages goes into the same pipeline as SMTP and Maildir
 * mail (serve_store: classified, committed, durable) before the answer.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/serve.h"
#include "http/http.h"

/* "http:N" names the source of a stored message. */
#define SERVE_HTTP_SOURCE_MAX 32

struct serve_http {
	struct serve *sv;
	struct http_server *srv;
	_Atomic uint64_t received;
	char web[PATH_MAX];
};

static void
on_ready(void *ctx, struct http_ready *r)
{
	struct serve_http *h = ctx;

	serve_ready(h->sv, r);
}

static void
on_metrics(void *ctx, struct http_metrics *m)
{
	struct serve_http *h = ctx;

	serve_metrics(h->sv, m);
}

static int
on_submit(void *ctx, const unsigned char *msg, size_t len, struct rb_error *err)
{
	struct serve_http *h = ctx;
	char name[SERVE_HTTP_SOURCE_MAX];
	struct serve_input in;
	struct rb_error serr;

	(void)err;
	(void)snprintf(name, sizeof(name), "http:%llu",
	    (unsigned long long)atomic_fetch_add(&h->received, 1) + 1);
	memset(&in, 0, sizeof(in));
	in.data = msg;
	in.len = len;
	in.src.file = name;
	in.src.index = -1;
	in.src.via = "http";
	if (serve_store(h->sv, &in, 1, &serr) < 0) {
		/* Nothing was stored; the client may retry (idempotent). */
		log_warn("http: POST /v1/messages not stored: %s", serr.msg);
		return 1;
	}
	return 0;
}

static int
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* http.web_root, else the dashboard of the data directory (installed),
 * else the one of the source tree; "" when there is none. */
static const char *
web_root(struct serve_http *h)
{
	const char *v = config_get(serve_config(h->sv), "http.web_root");

	if (v[0] != '\0')
		return v;
	(void)snprintf(h->web, sizeof(h->web), "%s/web", cli_data_dir());
	if (is_dir(h->web))
		return h->web;
	(void)snprintf(
	    h->web, sizeof(h->web), "%s/dashboards/web", REBOUND_SOURCE_DIR);
	if (is_dir(h->web))
		return h->web;
	return "";
}

static int
http_prepare(struct serve *sv, void **state_r, struct rb_error *err)
{
	struct serve_http *h = xcalloc(1, sizeof(*h));
	struct http_settings set;

	h->sv = sv;
	*state_r = h;
	memset(&set, 0, sizeof(set));
	set.cfg = serve_config(sv);
	set.web_root = web_root(h);
	set.hooks.ctx = h;
	set.hooks.ready = on_ready;
	set.hooks.metrics = on_metrics;
	set.hooks.submit = on_submit;
	return http_server_listen(&set, &h->srv, err);
}

static int
http_start(struct serve *sv, void **state_r, struct rb_error *err)
{
	struct serve_http *h = *state_r;

	if (http_server_run(h->srv, serve_config(sv), err) < 0)
		return -1;
	log_info("http: API and dashboard on %s", http_server_url(h->srv));
	return 0;
}

static void
http_stop(void *state, unsigned timeout)
{
	struct serve_http *h = state;

	(void)timeout; /* requests in flight are short; they finish */
	http_server_stop(&h->srv);
	log_info("http: stopped; %llu messages received",
	    (unsigned long long)atomic_load(&h->received));
	free(h);
}

const struct serve_component serve_http_component = {
    "http", http_prepare, http_start, NULL, NULL, http_stop, NULL, NULL};
