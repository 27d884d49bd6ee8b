/*
 * http: the HTTP/JSON API of rebound (http/API.md is the contract) and
 * the static files of the dashboard, on libmicrohttpd with its own pool
 * of threads, each polling with epoll.  Reads run on one read-only store
 * handle per worker thread (SQLite WAL lets them run beside the writer);
 * writes go through one write handle, one at a time.  What the server
 * cannot know by itself (is the spool writable, does the pipeline keep
 * up, how to hand a message to the pipeline, the daemon's own counters)
 * comes from the embedding program through struct http_hooks.
 */
#ifndef REBOUND_HTTP_H
#define REBOUND_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/core.h"

/* Where to listen when nothing is configured (DESIGN.md defaults). */
#define HTTP_DEFAULT_LISTEN "127.0.0.1:8025"

/* ---- what the embedding program provides --------------------------------- */

/* The checks of GET /readyz; add one per component. */
struct http_ready;
/* Record a check: ok 1 or 0, detail a short text ("writable", "backlog
 * 12"); strings are copied. */
void http_ready_check(
    struct http_ready *r, const char *name, int ok, const char *detail);

/* The samples of GET /metrics. */
struct http_metrics;
/*
 * Add one sample of family `name` (rebound_...): type "counter" or
 * "gauge", help one line (used the first time the name is seen), labels
 * the text between the braces (`code="550"`, label values escaped with
 * http_metrics_label) or NULL.  Samples of one family may come in any
 * order: they are grouped when written.
 */
void http_metrics_add(struct http_metrics *m, const char *name,
    const char *type, const char *help, const char *labels, double value);
/* Write `key="value"` into out (size outlen), value escaped as the
 * Prometheus text format wants; truncated to fit. */
void http_metrics_label(
    char *out, size_t outlen, const char *key, const char *value);

/*
 * Called from the server's worker threads, any number at once: each
 * must be thread-safe.  Any may be NULL.
 */
struct http_hooks {
	void *ctx;
	/* /readyz and rebound_ready: add the checks of the components
	 * (spool writable, pipeline keeping up).  The server checks the
	 * database itself. */
	void (*ready)(void *ctx, struct http_ready *r);
	/* /metrics: add the daemon's samples (spool and outbox depth, SMTP
	 * sessions and rejections, messages received over SMTP). */
	void (*metrics)(void *ctx, struct http_metrics *m);
	/*
	 * POST /v1/messages: store one raw feedback message (borrowed for
	 * the call) exactly as an SMTP delivery would be (spool, pipeline,
	 * commit) and return once it is committed: 0, then the server
	 * reads the message's events back from the store.  1: not accepted
	 * now (back-pressure, shutting down): 503.  -1: failed, err set:
	 * 500.  NULL: the endpoint answers 503.
	 */
	int (*submit)(void *ctx, const unsigned char *msg, size_t len,
	    struct rb_error *err);
};

/* ---- the server ---------------------------------------------------------- */

struct config;
struct http_server;

struct http_settings {
	/* The http.* keys: borrowed for the call. */
	const struct config *cfg;
	/* NULL: http.listen.  "HOST:PORT", "[V6]:PORT"; port 0 picks a
	 * free one (http_server_port says which). */
	const char *listen;
	/* Static files: NULL takes http.web_root, and when that is empty
	 * too no static files are served (404). */
	const char *web_root;
	/* The clock (tests): NULL is config_now(). */
	time_t (*now)(void);
	struct http_hooks hooks;
};

/*
 * Check the settings and bind: nothing runs yet and no file but the
 * web root is touched (a daemon binds as root, then drops its
 * privileges).  Refuses (-1, err saying why) a non-loopback address
 * when no token is configured, a bad setting or a busy port.  set is
 * borrowed for the call.  Free with http_server_stop(), run or not.
 */
int http_server_listen(const struct http_settings *set,
    struct http_server **srv_r, struct rb_error *err) RB_WUR;
/*
 * Open the store handles from cfg (the database is created and migrated
 * if needed) and start the worker threads.  0, or -1 with err set (the
 * database cannot be opened): then only http_server_stop() is left.
 */
int http_server_run(struct http_server *srv, const struct config *cfg,
    struct rb_error *err) RB_WUR;
/* Both in one: listen, then run. */
int http_server_start(const struct http_settings *set,
    struct http_server **srv_r, struct rb_error *err) RB_WUR;
/* The port bound (the one picked for port 0). */
uint16_t http_server_port(const struct http_server *srv);
/* "http://127.0.0.1:8025": borrowed until http_server_stop. */
const char *http_server_url(const struct http_server *srv);
/*
 * Stop accepting, let requests in flight finish (threads joined), close
 * the store handles and free *srv; NULL is accepted.  The hooks are not
 * called after this returns.
 */
void http_server_stop(struct http_server **srv);

#endif
