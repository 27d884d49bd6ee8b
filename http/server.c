/*
 * server: the libmicrohttpd daemon (its own pool of threads, each with
 * its own epoll), the life of a request, the route table and the
 * responses.  A request is taken from its raw target (the URI log
 * callback sees it before libmicrohttpd decodes anything), checked on
 * the first call of the access handler (target, route, method, scope,
 * Content-Length), its body gathered within the route's limit, and
 * answered on the last call: answering on the first call makes
 * libmicrohttpd 0.9.75 close the connection after every response
 * (TOOLCHAIN.md 4), so only refusals that must not read a body do that.
 * Store handles: a pool of read-only ones (one per worker thread is
 * enough: a thread runs one request at a time) and one write handle
 * behind a mutex.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http_int.h"

/* Thread stacks and connection state are small; a thread per CPU keeps
 * both cores busy, and two keep a slow query from stalling everything
 * on one core. */
#define HTTP_MIN_THREADS 2
/* http.max_connections at most (each costs a descriptor and ~32 KB). */
#define HTTP_MAX_CONNECTIONS 100000
/* http.timeout at most. */
#define HTTP_MAX_TIMEOUT 3600
/* Pending connections of the listening socket (SOMAXCONN's default):
 * a burst of clients waits in the kernel rather than being refused. */
#define HTTP_LISTEN_BACKLOG 4096
/* Bytes of a refused body read and dropped before the connection is
 * cut: enough for a client that sent a little too much to get its 413,
 * not a sink for anyone's gigabytes. */
#define HTTP_MAX_DISCARD (32u * 1024 * 1024)
/* Security headers of every API response: nothing of it is a page. */
#define HTTP_API_CSP "default-src 'none'; frame-ancestors 'none'"

/* clang-format off */
const struct route http_routes[] = {
	{"/healthz", "/healthz", api_healthz, NULL, NULL, NULL,
	    SCOPE_PUBLIC, SCOPE_PUBLIC, 0},
	{"/readyz", "/readyz", api_readyz, NULL, NULL, NULL,
	    SCOPE_PUBLIC, SCOPE_PUBLIC, 0},
	{"/metrics", "/metrics", api_metrics, NULL, NULL, NULL,
	    SCOPE_READ, SCOPE_READ, 0},
	{"/v1/identities", "/v1/identities", api_identities, NULL, NULL, NULL,
	    SCOPE_READ, SCOPE_ADMIN, 0},
	{"/v1/identities/{}/reputation", "/v1/identities/{identity}/reputation",
	    api_reputation, NULL, NULL, NULL, SCOPE_READ, SCOPE_ADMIN, 0},
	{"/v1/identities/{}/timeseries", "/v1/identities/{identity}/timeseries",
	    api_timeseries, NULL, NULL, NULL, SCOPE_READ, SCOPE_ADMIN, 0},
	{"/v1/alerts", "/v1/alerts", api_alerts, NULL, NULL, NULL,
	    SCOPE_READ, SCOPE_ADMIN, 0},
	{"/v1/suppression", "/v1/suppression", api_suppression_list, NULL,
	    NULL, NULL, SCOPE_READ, SCOPE_ADMIN, 0},
	/* Before {address}: "check" and "import" are not addresses. */
	{"/v1/suppression/check", "/v1/suppression/check", NULL,
	    api_suppression_check, NULL, NULL, SCOPE_READ, SCOPE_READ, 0},
	{"/v1/suppression/import", "/v1/suppression/import", NULL,
	    api_suppression_import, NULL, NULL, SCOPE_READ, SCOPE_ADMIN, 0},
	{"/v1/suppression/{}", "/v1/suppression/{address}",
	    api_suppression_get, NULL, api_suppression_put,
	    api_suppression_delete, SCOPE_READ, SCOPE_ADMIN, 0},
	{"/v1/events", "/v1/events", api_events, NULL, NULL, NULL,
	    SCOPE_READ, SCOPE_ADMIN, 0},
	{"/v1/events/{}", "/v1/events/{id}", api_event, NULL, NULL, NULL,
	    SCOPE_READ, SCOPE_ADMIN, 0},
	{"/v1/events/{}/raw", "/v1/events/{id}/raw", api_event_raw, NULL,
	    NULL, NULL, SCOPE_READ, SCOPE_ADMIN, 0},
	{"/v1/sends", "/v1/sends", NULL, api_sends, NULL, NULL,
	    SCOPE_READ, SCOPE_ADMIN, 0},
	{"/v1/messages", "/v1/messages", NULL, api_messages, NULL, NULL,
	    SCOPE_READ, SCOPE_ADMIN, HTTP_MAX_MESSAGE_BODY},
};
/* clang-format on */
const size_t http_n_routes = sizeof(http_routes) / sizeof(http_routes[0]);

/* ---- responses ------------------------------------------------------------
 */

struct jw *
reply_json(struct req *rq, unsigned status)
{
	rq->status = status;
	rq->ctype = "application/json";
	buf_reset(&rq->out);
	jw_init(&rq->w, &rq->out);
	return &rq->w;
}

static void
reply_verror(struct req *rq, unsigned status, const char *code,
    const char *param, const char *fmt, va_list ap)
{
	char msg[512];
	struct jw *w;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	w = reply_json(rq, status);
	jw_obj(w);
	jw_key(w, "error");
	jw_obj(w);
	jw_kstr(w, "code", code);
	jw_kstr(w, "message", msg);
	if (param != NULL)
		jw_kstr(w, "parameter", param);
	jw_obj_end(w);
	jw_obj_end(w);
}

void
reply_error(struct req *rq, unsigned status, const char *code,
    const char *param, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_verror(rq, status, code, param, fmt, ap);
	va_end(ap);
}

void
reply_bad_param(struct req *rq, const char *param, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_verror(rq, 400, "InvalidParameter", param, fmt, ap);
	va_end(ap);
}

void
reply_store_error(struct req *rq, struct store *st, const struct rb_error *err)
{
	if (st != NULL && store_error_busy(st)) {
		rq->retry_after = 1;
		reply_error(
		    rq, 503, "NotReady", NULL, "the database is busy; retry");
		return;
	}
	log_error("http: %s %s: %s", rq->route ? rq->route->name : "",
	    rq->target, err->msg);
	reply_error(rq, 500, "InternalError", NULL,
	    "database error (logged by the server)");
}

void
reply_import_error(struct req *rq, struct store *st, const struct rb_error *err)
{
	if (err->code == EINVAL)
		reply_error(rq, 400, "BadRequest", "body", "%s", err->msg);
	else
		reply_store_error(rq, st, err);
}

/* ---- store handles --------------------------------------------------------
 */

struct store *
req_reader(struct req *rq)
{
	struct http_server *srv = rq->srv;

	if (rq->reader != NULL)
		return rq->reader;
	pthread_mutex_lock(&srv->pool_mu);
	if (srv->n_pool > 0)
		rq->reader = srv->pool[--srv->n_pool];
	pthread_mutex_unlock(&srv->pool_mu);
	if (rq->reader == NULL) {
		/* Every handle is busy: more requests at once than threads
		 * (cannot happen with MHD's pool), so say busy. */
		rq->retry_after = 1;
		reply_error(rq, 503, "NotReady", NULL,
		    "no database connection free; retry");
	}
	return rq->reader;
}

struct store *
req_writer(struct req *rq)
{
	if (!rq->writer_held) {
		pthread_mutex_lock(&rq->srv->write_mu);
		rq->writer_held = 1;
	}
	return rq->srv->writer;
}

static void
req_release(struct req *rq)
{
	struct http_server *srv = rq->srv;

	if (rq->reader != NULL) {
		pthread_mutex_lock(&srv->pool_mu);
		srv->pool[srv->n_pool++] = rq->reader;
		pthread_mutex_unlock(&srv->pool_mu);
		rq->reader = NULL;
	}
	if (rq->writer_held) {
		pthread_mutex_unlock(&srv->write_mu);
		rq->writer_held = 0;
	}
}

const char *
req_header(struct req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->con, MHD_HEADER_KIND, name);
}

/* ---- requests -------------------------------------------------------------
 */

uint64_t
http_mono_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The URI log callback: the first sight of a request, its raw target. */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
	struct req *rq = xcalloc(1, sizeof(*rq));

	rq->srv = cls;
	rq->con = con;
	rq->target = xstrdup(uri != NULL ? uri : "");
	rq->t0_ns = http_mono_ns();
	rq->fd = -1;
	rq->route_id = -1;
	buf_init(&rq->out, HTTP_MAX_RESPONSE);
	return rq;
}

static enum http_method
method_of(const char *m)
{
	if (strcmp(m, "GET") == 0)
		return M_GET;
	if (strcmp(m, "HEAD") == 0)
		return M_HEAD;
	if (strcmp(m, "POST") == 0)
		return M_POST;
	if (strcmp(m, "PUT") == 0)
		return M_PUT;
	if (strcmp(m, "DELETE") == 0)
		return M_DELETE;
	return M_OTHER;
}

/* Does the path match pattern?  The "{}" segments go to rq->arg. */
static int
route_match(struct req *rq, const char *pattern)
{
	const char *p = pattern + 1;
	size_t i = 0;

	rq->n_arg = 0;
	if (strcmp(pattern, "/") == 0)
		return rq->uri.n_seg == 0;
	for (;;) {
		const char *e = strchr(p, '/');
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);

		if (i == rq->uri.n_seg)
			return 0;
		if (n == 2 && p[0] == '{' && p[1] == '}') {
			if (rq->uri.seg[i][0] == '\0')
				return 0;
			rq->arg[rq->n_arg++] = rq->uri.seg[i];
		} else if (strlen(rq->uri.seg[i]) != n ||
		           memcmp(rq->uri.seg[i], p, n) != 0) {
			return 0;
		}
		i++;
		if (e == NULL)
			return i == rq->uri.n_seg;
		p = e + 1;
	}
}

static route_fn *
route_handler(const struct route *r, enum http_method m)
{
	switch (m) {
	case M_GET:
	case M_HEAD:
		return r->get;
	case M_POST:
		return r->post;
	case M_PUT:
		return r->put;
	case M_DELETE:
		return r->del;
	case M_OTHER:
		break;
	}
	return NULL;
}

static void
route_allow(const struct route *r, char *out, size_t len)
{
	(void)snprintf(out, len, "%s%s%s%s", r->get ? "GET, HEAD" : "",
	    r->post ? (r->get ? ", POST" : "POST") : "", r->put ? ", PUT" : "",
	    r->del ? ", DELETE" : "");
}

/* Reserved first segments: never static files. */
static int
api_path(const struct uri *u)
{
	static const char *const api[] = {"v1", "metrics", "healthz", "readyz"};
	size_t i;

	if (u->n_seg == 0)
		return 0;
	for (i = 0; i < sizeof(api) / sizeof(api[0]); i++) {
		if (strcmp(u->seg[0], api[i]) == 0)
			return 1;
	}
	return 0;
}

/* The first call: everything decidable from the request line and the
 * headers.  A refusal is left in rq (status set). */
static void
req_begin(struct req *rq, const char *method)
{
	char why[256];
	const char *cl;
	route_fn *fn = NULL;
	enum http_scope scope;
	size_t i;

	rq->method = method_of(method);
	rq->now = rq->srv->now();
	if (uri_parse(rq->target, strlen(rq->target), &rq->uri, why,
	        sizeof(why)) < 0) {
		reply_error(rq, 400, "BadRequest", NULL, "%s", why);
		return;
	}
	for (i = 0; i < http_n_routes; i++) {
		if (route_match(rq, http_routes[i].pattern)) {
			rq->route = &http_routes[i];
			rq->route_id = (int)i;
			break;
		}
	}
	if (rq->route == NULL) {
		if (api_path(&rq->uri)) {
			reply_error(rq, 404, "NotFound", NULL,
			    "no such endpoint (see http/API.md)");
			return;
		}
		rq->is_static = 1;
		if (rq->method != M_GET && rq->method != M_HEAD) {
			(void)snprintf(
			    rq->allow, sizeof(rq->allow), "GET, HEAD");
			reply_error(rq, 405, "MethodNotAllowed", NULL,
			    "%s: static files are read with GET", method);
		}
		rq->body_max = 0;
		return;
	}
	fn = route_handler(rq->route, rq->method);
	if (fn == NULL) {
		route_allow(rq->route, rq->allow, sizeof(rq->allow));
		reply_error(rq, 405, "MethodNotAllowed", NULL,
		    "%s is not allowed here; allowed: %s", method, rq->allow);
		return;
	}
	scope = rq->method == M_GET || rq->method == M_HEAD
	            ? rq->route->get_scope
	        : rq->method == M_POST ? rq->route->post_scope
	                               : SCOPE_ADMIN;
	if (!auth_allow(rq, scope))
		return;
	rq->body_max =
	    rq->route->body_max != 0 ? rq->route->body_max : HTTP_MAX_BODY;
	cl = req_header(rq, "Content-Length");
	if (cl != NULL) {
		uint64_t n;

		if (parse_u64(cl, &n) == 0 && n > rq->body_max) {
			reply_error(rq, 413, "PayloadTooLarge", "body",
			    "body of %llu bytes; at most %zu here",
			    (unsigned long long)n, rq->body_max);
			return;
		}
	}
	buf_init(&rq->body, rq->body_max);
}

/* Does a body follow the headers? */
static int
req_has_body(struct req *rq)
{
	const char *cl = req_header(rq, "Content-Length");

	return req_header(rq, "Transfer-Encoding") != NULL ||
	       (cl != NULL && strcmp(cl, "0") != 0);
}

static void
add_header(struct MHD_Response *r, const char *name, const char *value)
{
	(void)MHD_add_response_header(r, name, value);
}

static enum MHD_Result
req_queue(struct req *rq)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	req_release(rq);
	rq->done = 1;
	if (rq->w.failed) {
		/* A response over HTTP_MAX_RESPONSE: a bug of a limit. */
		reply_error(
		    rq, 500, "InternalError", NULL, "response too large");
	}
	if (rq->status == 0)
		reply_error(rq, 500, "InternalError", NULL, "no response");
	if (rq->fd >= 0) {
		r = MHD_create_response_from_fd64(rq->fd_size, rq->fd);
		rq->fd = -1;
	} else {
		size_t len = 0;
		unsigned char *data = buf_take(&rq->out, &len);

		r = MHD_create_response_from_buffer(
		    len, data, MHD_RESPMEM_MUST_FREE);
		if (r == NULL)
			free(data);
	}
	if (r == NULL)
		return MHD_NO;
	add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    rq->ctype != NULL ? rq->ctype : "application/json");
	add_header(r, "X-Content-Type-Options", "nosniff");
	if (rq->is_static && rq->status < 300) {
		add_header(r, "Content-Security-Policy", webroot_csp);
		add_header(r, "Cache-Control", "no-cache");
		add_header(r, "Referrer-Policy", "no-referrer");
		add_header(r, "X-Frame-Options", "DENY");
	} else {
		add_header(r, "Content-Security-Policy", HTTP_API_CSP);
		add_header(r, "Cache-Control", "no-store");
	}
	if (rq->allow[0] != '\0')
		add_header(r, MHD_HTTP_HEADER_ALLOW, rq->allow);
	if (rq->retry_after > 0) {
		char v[16];

		(void)snprintf(v, sizeof(v), "%d", rq->retry_after);
		add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
	}
	if (rq->www_authenticate)
		add_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"rebound\"");
	ret = MHD_queue_response(rq->con, rq->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *con, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct req *rq = *con_cls;

	(void)url;
	(void)version;
	if (rq == NULL) /* no URI callback: cannot happen */
		*con_cls = rq = on_uri(cls, "", con);
	rq->con = con;
	if (!rq->started) {
		rq->started = 1;
		req_begin(rq, method);
		/* Refused with a body coming: answer now (and the connection
		 * closes, so the body is never read).  Without a body the
		 * answer waits for the next call, keeping the connection. */
		if (rq->status != 0 && req_has_body(rq))
			return req_queue(rq);
		return MHD_YES;
	}
	if (rq->status != 0 && !rq->done && *upload_data_size == 0)
		return req_queue(rq);
	if (rq->done) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0 && rq->status != 0) {
		/* Refused already: the body is read and dropped, so that the
		 * answer can go out after it (libmicrohttpd 0.9.75 queues a
		 * response only before or after a body, never inside one);
		 * past HTTP_MAX_DISCARD the connection is cut instead. */
		rq->discarded += *upload_data_size;
		*upload_data_size = 0;
		return rq->discarded > HTTP_MAX_DISCARD ? MHD_NO : MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (buf_append(&rq->body, upload_data, *upload_data_size) < 0) {
			/* A chunked body past the limit. */
			buf_free(&rq->body);
			reply_error(rq, 413, "PayloadTooLarge", "body",
			    "body over %zu bytes", rq->body_max);
			rq->discarded = *upload_data_size;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rq->is_static) {
		webroot_serve(rq);
	} else {
		route_fn *fn = route_handler(rq->route, rq->method);

		fn(rq);
	}
	return req_queue(rq);
}

static void
on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct req *rq = *con_cls;

	(void)con;
	if (rq == NULL)
		return;
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && rq->done)
		metrics_observe(srv, rq->is_static ? -2 : rq->route_id,
		    rq->status, http_mono_ns() - rq->t0_ns);
	req_release(rq);
	if (rq->fd >= 0)
		(void)close(rq->fd);
	uri_free(&rq->uri);
	buf_free(&rq->body);
	buf_free(&rq->out);
	free(rq->target);
	free(rq);
	*con_cls = NULL;
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("http: %s", msg);
}

/* ---- start and stop -------------------------------------------------------
 */

/* "HOST:PORT" or "[V6]:PORT" into a socket address. */
static int
parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len_r,
    char *host, size_t hostlen, uint16_t *port_r, struct rb_error *err)
{
	const char *colon, *h = s;
	size_t hlen;
	uint64_t port;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || end[1] != ':')
			goto bad;
		h = s + 1;
		hlen = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			goto bad;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= hostlen || parse_u64(colon + 1, &port) < 0 ||
	    port > 65535)
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (strcmp(host, "localhost") == 0) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len_r = sizeof(*a);
	} else if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			goto bad;
		*len_r = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			goto bad;
		*len_r = sizeof(*a);
	}
	*port_r = (uint16_t)port;
	return 0;
bad:
	return rb_error_set(err, EINVAL,
	    "http.listen: '%s' is not ADDRESS:PORT (127.0.0.1:8025, "
	    "[::1]:8025)",
	    s);
}

static int
conf_threads(const struct config *cfg, unsigned *n_r, struct rb_error *err)
{
	const char *v = config_get(cfg, "http.threads");
	uint64_t n;

	if (strcmp(v, "auto") == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		n = c < HTTP_MIN_THREADS ? HTTP_MIN_THREADS : (uint64_t)c;
		if (n > 16)
			n = 16;
	} else if (config_get_u64(cfg, "http.threads", &n, err) < 0) {
		return -1;
	} else if (n < 1 || n > HTTP_MAX_THREADS) {
		return rb_error_set(err, EINVAL,
		    "http.threads: auto or 1 to %d", HTTP_MAX_THREADS);
	}
	*n_r = (unsigned)n;
	return 0;
}

void
http_server_stop(struct http_server **srvp)
{
	struct http_server *srv = srvp != NULL ? *srvp : NULL;
	size_t i;

	if (srv == NULL)
		return;
	srv->stopping = 1;
	if (srv->d != NULL)
		MHD_stop_daemon(srv->d);
	if (srv->fd >= 0)
		(void)close(srv->fd);
	for (i = 0; i < srv->n_pool; i++)
		store_close(&srv->pool[i]);
	free(srv->pool);
	store_close(&srv->writer);
	metrics_free(srv);
	auth_free(&srv->auth);
	free(srv->web_root);
	pthread_mutex_destroy(&srv->pool_mu);
	pthread_mutex_destroy(&srv->write_mu);
	free(srv);
	*srvp = NULL;
}

int
http_server_listen(const struct http_settings *set, struct http_server **srv_r,
    struct rb_error *err)
{
	struct http_server *srv = xcalloc(1, sizeof(*srv));
	const struct config *cfg = set->cfg;
	const char *addr = set->listen, *web = set->web_root;
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	char host[128];
	uint64_t mid;
	int one = 1;

	pthread_mutex_init(&srv->pool_mu, NULL);
	pthread_mutex_init(&srv->write_mu, NULL);
	srv->fd = -1;
	srv->hooks = set->hooks;
	srv->now = set->now != NULL ? set->now : config_now;
	if (addr == NULL || addr[0] == '\0')
		addr = config_get(cfg, "http.listen");
	if (parse_listen(
	        addr, &ss, &sslen, host, sizeof(host), &srv->port, err) < 0 ||
	    auth_load(cfg, &srv->auth, err) < 0 ||
	    conf_threads(cfg, &srv->threads, err) < 0 ||
	    config_get_u64(cfg, "http.max_connections", &srv->max_conn, err) <
	        0 ||
	    config_get_duration(cfg, "http.timeout", &srv->timeout, err) < 0 ||
	    config_get_u64(cfg, "http.metrics_identities", &mid, err) < 0)
		goto fail;
	if (!auth_enabled(&srv->auth) && !auth_loopback(host)) {
		rb_error_set(err, EPERM,
		    "http.listen %s: not a loopback address, and no token is "
		    "configured: set http.read_tokens and http.admin_tokens "
		    "(or listen on 127.0.0.1)",
		    addr);
		goto fail;
	}
	if (srv->max_conn < 1 || srv->max_conn > HTTP_MAX_CONNECTIONS) {
		rb_error_set(err, EINVAL, "http.max_connections: 1 to %d",
		    HTTP_MAX_CONNECTIONS);
		goto fail;
	}
	if (srv->timeout < 1 || srv->timeout > HTTP_MAX_TIMEOUT) {
		rb_error_set(
		    err, EINVAL, "http.timeout: 1s to %ds", HTTP_MAX_TIMEOUT);
		goto fail;
	}
	if (mid > HTTP_MAX_METRICS_IDENTITIES) {
		rb_error_set(err, EINVAL, "http.metrics_identities: 0 to %d",
		    HTTP_MAX_METRICS_IDENTITIES);
		goto fail;
	}
	srv->metrics_identities = (size_t)mid;
	if (web == NULL)
		web = config_get(cfg, "http.web_root");
	if (web[0] != '\0') {
		srv->web_root = realpath(web, NULL);
		if (srv->web_root == NULL) {
			rb_error_set(err, errno, "http.web_root %s: %s", web,
			    strerror(errno));
			goto fail;
		}
	}
	/* Bound here, served by libmicrohttpd once running: a daemon binds
	 * as root and drops its privileges before opening the database. */
	srv->v6 = ss.ss_family == AF_INET6;
	srv->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv->fd < 0 ||
	    setsockopt(srv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) <
	        0 ||
	    bind(srv->fd, (struct sockaddr *)&ss, sslen) < 0 ||
	    listen(srv->fd, HTTP_LISTEN_BACKLOG) < 0) {
		rb_error_set(
		    err, errno, "http.listen %s: %s", addr, strerror(errno));
		goto fail;
	}
	sslen = sizeof(ss);
	if (getsockname(srv->fd, (struct sockaddr *)&ss, &sslen) == 0)
		srv->port = ntohs(ss.ss_family == AF_INET6
		                      ? ((struct sockaddr_in6 *)&ss)->sin6_port
		                      : ((struct sockaddr_in *)&ss)->sin_port);
	(void)snprintf(srv->url, sizeof(srv->url), "http://%s%s%s:%u",
	    srv->v6 ? "[" : "", host, srv->v6 ? "]" : "", (unsigned)srv->port);
	*srv_r = srv;
	return 0;
fail:
	http_server_stop(&srv);
	return -1;
}

int
http_server_run(
    struct http_server *srv, const struct config *cfg, struct rb_error *err)
{
	unsigned flags;
	size_t i;

	rb_assert(srv->d == NULL && srv->fd >= 0);
	/* The writer first: it creates and migrates the database. */
	if (store_open(cfg, &srv->writer, err) < 0)
		return -1;
	srv->cap_pool = srv->threads;
	srv->pool = xcalloc(srv->cap_pool, sizeof(*srv->pool));
	for (i = 0; i < srv->cap_pool; i++) {
		if (store_open_reader(cfg, &srv->pool[srv->n_pool], err) < 0)
			return -1;
		srv->n_pool++;
	}
	if (metrics_new(srv, err) < 0)
		return -1;
	flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (srv->v6)
		flags |= MHD_USE_IPv6;
	srv->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
	    MHD_OPTION_LISTEN_SOCKET, srv->fd, MHD_OPTION_THREAD_POOL_SIZE,
	    srv->threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)srv->max_conn,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->timeout,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, MHD_OPTION_END);
	if (srv->d == NULL)
		return rb_error_set(err, EIO,
		    "%s: the HTTP server could not start its threads",
		    srv->url);
	/* libmicrohttpd closes the socket when it stops. */
	srv->fd = -1;
	return 0;
}

int
http_server_start(const struct http_settings *set, struct http_server **srv_r,
    struct rb_error *err)
{
	struct http_server *srv;

	if (http_server_listen(set, &srv, err) < 0)
		return -1;
	if (http_server_run(srv, set->cfg, err) < 0) {
		http_server_stop(&srv);
		return -1;
	}
	*srv_r = srv;
	return 0;
}

uint16_t
http_server_port(const struct http_server *srv)
{
	return srv->port;
}

const char *
http_server_url(const struct http_server *srv)
{
	return srv->url;
}
