/*
 * http internals shared by the files of http/ (not a public header).
 * A request (struct req) goes: request target parsed strictly (uri.c),
 * route found (server.c), method and scope checked (auth.c), body read
 * within its limit, handler run (api_*.c, metrics.c, webroot.c), which
 * writes JSON with the writer of jw.c into rq->out and sets the status;
 * server.c queues it.  Handlers validate every parameter with params.c.
 */
#ifndef REBOUND_HTTP_INT_H
#define REBOUND_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "http/http.h"
#include "store/store.h"

/* ---- limits -------------------------------------------------------------- */

/* Request target (path and query) at most: far above any URL the API
 * needs (a 321-byte address, a few filters, a page token). */
#define URI_MAX_TARGET 8192
/* Path segments: /v1/identities/{identity}/timeseries is 4. */
#define URI_MAX_SEGMENTS 16
/* Query parameters: the richest endpoint takes 7. */
#define URI_MAX_PARAMS 32
/* Body of POST /v1/messages (the issue; SES's own message limit). */
#define HTTP_MAX_MESSAGE_BODY (10u * 1024 * 1024)
/* Body of every other request: a thousand addresses to check are 40 KB,
 * ten thousand send counts under 1 MB. */
#define HTTP_MAX_BODY (1024u * 1024)
/* A response body at most (1000 events of a few KB each fit). */
#define HTTP_MAX_RESPONSE (64u * 1024 * 1024)
/* pageSize: default and cap (STORE_MAX_PAGE is the store's own). */
#define HTTP_PAGE_DEFAULT 100
#define HTTP_PAGE_MAX 1000
/* Worker threads at most (http.threads). */
#define HTTP_MAX_THREADS 64
/* Bearer tokens: length bounds and how many of each scope. */
#define HTTP_TOKEN_MIN 16
#define HTTP_TOKEN_MAX 256
#define HTTP_MAX_TOKENS 64
/* http.metrics_identities at most: a series per identity and metric. */
#define HTTP_MAX_METRICS_IDENTITIES 10000
/* Windows of rates: counters are hourly; 90 days is a quarter. */
#define HTTP_WINDOW_MAX (90ull * 86400)
/* Time series: step at most 30 days, at most this many points. */
#define HTTP_STEP_MAX (30ull * 86400)
#define HTTP_MAX_POINTS 2000
/* POST /v1/suppression/check: addresses per call (the issue). */
#define HTTP_MAX_CHECK 1000
/* POST /v1/sends: count items per call. */
#define HTTP_MAX_SENDS 10000
/* A send count at most (10^12: a thousand billion). */
#define HTTP_MAX_SEND_COUNT 1000000000000ull
/* Page tokens: length of the encoded text at most. */
#define HTTP_TOKEN_TEXT_MAX 1024

/* ---- request target (uri.c) ---------------------------------------------- */

struct uri {
	char *buf; /* decoded strings live here */
	char *seg[URI_MAX_SEGMENTS];
	size_t n_seg;
	char *key[URI_MAX_PARAMS];
	char *val[URI_MAX_PARAMS];
	size_t n_params;
};

/*
 * Parse a request target ("/path?query", len bytes, not necessarily
 * NUL-terminated): path segments split at '/' and percent-decoded,
 * query pairs split at '&' and '=' and form-decoded ('+' is a space).
 * Refused (-1, why written into why): not starting with '/', longer
 * than URI_MAX_TARGET, a bad %-escape, a NUL or control character raw
 * or encoded, ".." anywhere in the decoded path, a '#', too many
 * segments or parameters, an empty parameter name.  0: *u filled;
 * free with uri_free (also after -1).
 */
int uri_parse(const char *target, size_t len, struct uri *u, char *why,
    size_t whylen) RB_WUR;
void uri_free(struct uri *u);

/* ---- JSON writer (jw.c) -------------------------------------------------- */

/* Nesting of the responses at most (the deepest is 3). */
#define JW_MAX_DEPTH 16

struct jw {
	struct buf *b;
	int depth;
	int first[JW_MAX_DEPTH];
	int after_key;
	int failed; /* the buffer's cap was reached */
};

void jw_init(struct jw *w, struct buf *b);
void jw_obj(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr(struct jw *w);
void jw_arr_end(struct jw *w);
void jw_key(struct jw *w, const char *k);
/* A string (NULL: null), as valid JSON whatever the bytes: invalid
 * UTF-8 becomes U+FFFD. */
void jw_str(struct jw *w, const char *s);
void jw_strn(struct jw *w, const char *s, size_t len);
void jw_int(struct jw *w, int64_t v);
void jw_uint(struct jw *w, uint64_t v);
/* A number (15 significant digits); NaN and infinities are null. */
void jw_num(struct jw *w, double v);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
/* RFC 3339 UTC with milliseconds; 0 is null. */
void jw_time(struct jw *w, time_t t);
/* An id as a decimal string; 0 or less is null. */
void jw_id(struct jw *w, int64_t id);
/* A JSON text as is (from the store: produced by the classifier). */
void jw_raw(struct jw *w, const char *json);
/* key + value in one call. */
void jw_kstr(struct jw *w, const char *k, const char *v);
void jw_kuint(struct jw *w, const char *k, uint64_t v);
void jw_knum(struct jw *w, const char *k, double v);
void jw_kbool(struct jw *w, const char *k, int v);
void jw_ktime(struct jw *w, const char *k, time_t t);
void jw_kid(struct jw *w, const char *k, int64_t id);

/* ---- the server and a request (server.c) --------------------------------- */

enum http_scope { SCOPE_PUBLIC, SCOPE_READ, SCOPE_ADMIN };
enum http_method { M_GET, M_HEAD, M_POST, M_PUT, M_DELETE, M_OTHER };

struct req;
typedef void route_fn(struct req *rq);

/* A route: path pattern ("{}" matches one segment), handlers by method. */
struct route {
	const char *pattern; /* "/v1/suppression/{}" */
	const char *name;    /* for metrics: "/v1/suppression/{address}" */
	route_fn *get, *post, *put, *del;
	enum http_scope get_scope, post_scope; /* PUT/DELETE: admin */
	size_t body_max;                       /* 0: HTTP_MAX_BODY */
};

struct http_auth {
	char *read[HTTP_MAX_TOKENS];
	size_t n_read;
	char *admin[HTTP_MAX_TOKENS];
	size_t n_admin;
};

struct metrics_state;

struct http_server {
	struct MHD_Daemon *d;
	struct http_auth auth;
	struct http_hooks hooks;
	time_t (*now)(void);
	uint16_t port;
	char url[192];
	int fd; /* the listening socket until libmicrohttpd has it */
	int v6;
	unsigned threads;
	uint64_t max_conn, timeout;
	char *web_root; /* realpath, or NULL */
	size_t metrics_identities;
	/* Read handles: a stack of the idle ones, one per thread (a
	 * thread runs one request at a time). */
	pthread_mutex_t pool_mu;
	struct store **pool;
	size_t n_pool, cap_pool;
	/* The write handle, one writer at a time. */
	pthread_mutex_t write_mu;
	struct store *writer;
	struct metrics_state *metrics;
	int stopping;
};

/* Route ids for metrics: the table's index, then these. */
#define ROUTE_STATIC_NAME "static"
#define ROUTE_UNKNOWN_NAME "unknown"

struct req {
	struct http_server *srv;
	struct MHD_Connection *con;
	char *target; /* raw request target, as received */
	struct uri uri;
	enum http_method method;
	const struct route *route; /* NULL: static file or unknown */
	int route_id;
	const char *arg[URI_MAX_SEGMENTS]; /* the "{}" segments */
	size_t n_arg;
	int started; /* the first call of the access handler is over */
	int done;    /* a response was queued */
	struct buf body;
	size_t body_max;
	uint64_t discarded; /* bytes of a refused body dropped */
	uint64_t t0_ns; /* monotonic time of the request's first byte seen */
	/* The response. */
	unsigned status;
	struct buf out;
	struct jw w; /* writing into out */
	const char *ctype;
	char allow[64];       /* Allow of a 405 */
	int retry_after;      /* Retry-After of a 503, 0: none */
	int www_authenticate; /* 401 */
	int fd;               /* a static file to send, or -1 */
	uint64_t fd_size;
	int is_static;
	time_t now;
	/* Store handles held for the request. */
	struct store *reader;
	int writer_held;
};

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t http_mono_ns(void);
/* The request's read handle (taken from the pool on first use); NULL
 * when none can be opened (the handler answers 503). */
struct store *req_reader(struct req *rq);
/* The write handle, locked until the request ends. */
struct store *req_writer(struct req *rq);
/* The value of request header name, or NULL. */
const char *req_header(struct req *rq, const char *name);

/* Start a JSON response of status: the writer over rq->out, empty. */
struct jw *reply_json(struct req *rq, unsigned status);
/*
 * An error response {"error": {"code", "message", "parameter"}}:
 * replaces whatever rq->out holds.  param may be NULL.
 */
void reply_error(struct req *rq, unsigned status, const char *code,
    const char *param, const char *fmt, ...) RB_PRINTF(5, 6);
/* 400 InvalidParameter naming param. */
void reply_bad_param(struct req *rq, const char *param, const char *fmt, ...)
    RB_PRINTF(3, 4);
/* The answer to a store failure: 503 when the database is busy or
 * locked, else 500 (logged). */
void reply_store_error(
    struct req *rq, struct store *st, const struct rb_error *err);
/* The answer to a failed import of the body: 400 naming the line when
 * the input was bad (the store says EINVAL), else reply_store_error. */
void reply_import_error(
    struct req *rq, struct store *st, const struct rb_error *err);

/* ---- parameters (params.c) ----------------------------------------------- */

/* Refuse (400) a parameter not in allowed (NULL-terminated) or given
 * twice.  0, or -1 with the reply queued. */
int params_check(struct req *rq, const char *const *allowed) RB_WUR;
/* The value of a query parameter, or NULL. */
const char *param(struct req *rq, const char *name);
/* pageSize: default HTTP_PAGE_DEFAULT, 1 to HTTP_PAGE_MAX. */
int param_page_size(struct req *rq, size_t *n_r) RB_WUR;
/* A duration of whole hours in [min, max]; def when absent. */
int param_hours(struct req *rq, const char *name, uint64_t def, uint64_t min,
    uint64_t max, uint64_t *secs_r) RB_WUR;
/* A time (RFC 3339 or unix seconds); *t_r untouched when absent. */
int param_time(struct req *rq, const char *name, time_t *t_r) RB_WUR;
/* One of values (NULL-terminated); *idx_r -1 when absent. */
int param_enum(struct req *rq, const char *name, const char *const *values,
    int *idx_r) RB_WUR;
/* A positive decimal id from a path segment (param names it). */
int param_id(
    struct req *rq, const char *value, const char *pname, int64_t *id_r) RB_WUR;

/*
 * Page tokens: base64url of "v1", the kind, a hash of the filters and
 * the fields of the position, NUL-separated.  token_make writes into
 * out (HTTP_TOKEN_TEXT_MAX + 1).  token_read checks the kind, the
 * filter hash and the number of fields (n) and points fields[] into
 * store (caller's, HTTP_TOKEN_TEXT_MAX + 1); -1 with a 400 queued.
 */
void token_make(char *out, char kind, uint32_t filters,
    const char *const *fields, size_t n);
int token_read(struct req *rq, char kind, uint32_t filters, char *store,
    const char **fields, size_t n) RB_WUR;
/* A hash of the filter parameters (names and values as given). */
uint32_t params_hash(struct req *rq, const char *const *names);

/*
 * The body as a JSON object (array_ok: or an array); NULL with a 400
 * queued when it is not.  Caller json_decref()s.  body_fields_check
 * refuses (400 naming it) a member of obj not in allowed.
 */
json_t *body_json(struct req *rq, int array_ok);
int body_fields_check(
    struct req *rq, json_t *obj, const char *const *allowed) RB_WUR;
/* A JSON object, or an array of objects, as JSON lines (for the line
 * importers of the store); caller frees.  NULL with a 400 queued. */
char *body_lines(struct req *rq, json_t *root, size_t *len_r);

/* ---- auth (auth.c) --------------------------------------------------------
 */

int auth_load(
    const struct config *cfg, struct http_auth *a, struct rb_error *err) RB_WUR;
void auth_free(struct http_auth *a);
/* Tokens configured at all? */
int auth_enabled(const struct http_auth *a);
/* 1 when the request may go on; else 0 with the reply (401/403)
 * queued. */
int auth_allow(struct req *rq, enum http_scope scope);
/* Is host (an address literal or "localhost") loopback? */
int auth_loopback(const char *host);

/* ---- routes -------------------------------------------------------------- */

/* api_identities.c */
void api_identities(struct req *rq);
void api_reputation(struct req *rq);
void api_timeseries(struct req *rq);
void api_alerts(struct req *rq);
/* api_suppression.c */
void api_suppression_list(struct req *rq);
void api_suppression_get(struct req *rq);
void api_suppression_put(struct req *rq);
void api_suppression_delete(struct req *rq);
void api_suppression_check(struct req *rq);
void api_suppression_import(struct req *rq);
/* api_events.c */
void api_events(struct req *rq);
void api_event(struct req *rq);
void api_event_raw(struct req *rq);
/* api_intake.c */
void api_sends(struct req *rq);
void api_messages(struct req *rq);
/* metrics.c */
void api_healthz(struct req *rq);
void api_readyz(struct req *rq);
void api_metrics(struct req *rq);
int metrics_new(struct http_server *srv, struct rb_error *err) RB_WUR;
void metrics_free(struct http_server *srv);
/* Account for one finished request (route id, status, seconds). */
void metrics_observe(
    struct http_server *srv, int route_id, unsigned status, uint64_t ns);
void metrics_message_received(struct http_server *srv);
/* webroot.c */
void webroot_serve(struct req *rq);
/* The Content-Security-Policy of the static files. */
extern const char webroot_csp[];

/* The route table (server.c), for metrics names. */
extern const struct route http_routes[];
extern const size_t http_n_routes;

/* JSON of shared shapes. */
/* api_suppression.c: one suppression entry (an object). */
void api_suppression_entry(struct jw *w, const struct store_suppression *e);
/* api_identities.c: the counts and rates of identity stats (the fields,
 * inside an open object). */
void api_stats_fields(
    struct jw *w, const struct store_identity_stats *s, const char *account);
/* api_events.c: one event (an object). */
void api_event_object(struct jw *w, const struct store_event *ev);

#endif
