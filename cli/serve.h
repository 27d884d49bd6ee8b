/*
 * serve: the parts of `rebound serve` (cmd_serve.c), private to cli/.
 * One process runs the pipeline (classify and store, serve_pipeline.c)
 * and a list of components around it: the SMTP server
 * (serve_smtp.c), the Maildir watcher (serve_maildir.c), the HTTP
 * server (serve_http.c), and the Kafka publisher once it exists.  A component
 * is a table of hooks (struct serve_component) listed in cmd_serve.c; adding
 * one is a new serve_<name>.c and a line in that list.
 *
 * Threads: main() runs prepare/start/reload/stop in list order (stop in
 * reverse); the pipeline may be called by any thread (it serialises);
 * `committed` hooks are called by the thread that stored the batch.
 */
#ifndef REBOUND_CLI_SERVE_H
#define REBOUND_CLI_SERVE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/core.h"
#include "http/http.h"
#include "store/store.h"

/* Items of a comma-separated list setting (smtp.listen, smtp.domains). */
#define SERVE_MAX_LIST 64

struct serve;

/* One message for the pipeline. */
struct serve_input {
	const unsigned char *data; /* borrowed for the call */
	size_t len;
	struct store_source src; /* strings borrowed for the call */
};

/* What a stored batch was: for components that react to new rows (the
 * Kafka publisher drains the store's outbox, the HTTP server drops its
 * caches).  Borrowed for the call. */
struct serve_commit {
	size_t messages;     /* in this batch */
	uint64_t total;      /* messages stored since start */
	time_t now;          /* the clock of the batch */
	const char *db_path; /* the database written */
};

struct serve_component {
	const char *name;
	/*
	 * Before the privileges are dropped (as root for port 25): bind
	 * sockets, open what only root may.  NULL: nothing to do.  *state_r
	 * (NULL at first) is handed to the other hooks; leave it NULL for a
	 * component that is not configured (its other hooks are then not
	 * called).  Returns 0, or -1 with err set (serve stops).
	 */
	int (*prepare)(struct serve *sv, void **state_r, struct rb_error *err);
	/* After the pipeline is open: start threads.  A component without
	 * prepare gets *state_r NULL here and may set it.  0 or -1. */
	int (*start)(struct serve *sv, void **state_r, struct rb_error *err);
	/* SIGHUP (after the logs were reopened and the rules reloaded). */
	void (*reload)(void *state);
	/* A batch is committed; must not block (wake a thread). */
	void (*committed)(void *state, const struct serve_commit *c);
	/*
	 * Graceful stop within timeout seconds: stop taking new work, let
	 * what is under way finish, hand it to the pipeline, free state.
	 * Also called when start failed or was never called.
	 */
	void (*stop)(void *state, unsigned timeout);
	/* For GET /readyz (serve_ready): add this component's checks
	 * (http_ready_check).  NULL: none.  Any thread, while running. */
	void (*ready)(void *state, struct http_ready *r);
	/* For GET /metrics (serve_metrics): add its samples
	 * (http_metrics_add).  NULL: none.  Any thread, while running. */
	void (*metrics)(void *state, struct http_metrics *m);
};

/* ---- the daemon (cmd_serve.c) ------------------------------------------- */

/* The settings (read-only while serving).  Borrowed from sv. */
const struct config *serve_config(const struct serve *sv);
/* Split a comma-separated setting into items (spaces trimmed, empty
 * items dropped), at most SERVE_MAX_LIST; the strings are borrowed from
 * sv.  Returns the number, or -1 with err set when there are more. */
int serve_list(struct serve *sv, const char *name, const char ***items_r,
    struct rb_error *err) RB_WUR;
/* A typed setting, bounded: -1 with err naming key and value. */
int serve_u32(const struct serve *sv, const char *name, unsigned *v_r,
    struct rb_error *err) RB_WUR;
int serve_secs(const struct serve *sv, const char *name, unsigned *v_r,
    struct rb_error *err) RB_WUR;
/* The spool directory in effect (smtp.spool, else derived from
 * store.db); borrowed from sv. */
const char *serve_spool_dir(const struct serve *sv);
/* Whether logs are JSON lines (log.format = json). */
int serve_log_json(const struct serve *sv);
/* The checks and samples of every running component (their ready and
 * metrics hooks), for the HTTP server.  Any thread. */
void serve_ready(struct serve *sv, struct http_ready *r);
void serve_metrics(struct serve *sv, struct http_metrics *m);

/*
 * Store msgs[0..n) for good: classified, committed, made durable.
 * Returns 0 once every message is stored (the caller may then forget
 * its copy: delete the spool entry, move the mail to cur/), or -1 with
 * err set when none is (retry later; storing is idempotent).  Any
 * thread; calls are serialised.
 */
int serve_store(struct serve *sv, const struct serve_input *msgs, size_t n,
    struct rb_error *err) RB_WUR;
/*
 * serve_store() without the sync: 0 means committed (a crash of the
 * process keeps it, a power loss may not) until serve_sync() returns 0.
 * For a caller that keeps its copy a while anyway (the SMTP spool
 * deletes a segment of many batches at once): one sync for all.
 */
int serve_store_committed(struct serve *sv, const struct serve_input *msgs,
    size_t n, struct rb_error *err) RB_WUR;
int serve_sync(struct serve *sv, struct rb_error *err) RB_WUR;

/* ---- the pipeline (serve_pipeline.c) ------------------------------------ */

struct serve_pipeline;
typedef void serve_commit_fn(const struct serve_commit *c, void *ctx);

/*
 * Open the store named by cfg and load the rules (the user's directory
 * user_rules, may be NULL, before the built-in ones).  on_commit is
 * called after each stored batch.  Returns 0, or -1 with err set.
 */
int serve_pipeline_open(const struct config *cfg, const char *user_rules,
    serve_commit_fn *on_commit, void *ctx, struct serve_pipeline **pl_r,
    struct rb_error *err) RB_WUR;
/* durable: also sync (serve_store) or not (serve_store_committed). */
int serve_pipeline_store(struct serve_pipeline *pl,
    const struct serve_input *msgs, size_t n, int durable,
    struct rb_error *err) RB_WUR;
/* What was committed, on disk for good. */
int serve_pipeline_sync(struct serve_pipeline *pl, struct rb_error *err) RB_WUR;
/* Load the rules again; on failure the old ones stay (-1, err set). */
int serve_pipeline_reload(
    struct serve_pipeline *pl, struct rb_error *err) RB_WUR;
/* Periodic work from main (every second or so): end an idle ingest,
 * prune and re-evaluate alerts when due. */
void serve_pipeline_tick(struct serve_pipeline *pl);
/* Messages stored since open. */
uint64_t serve_pipeline_stored(struct serve_pipeline *pl);
/* Commit what is open and close the store. Accepts NULL. */
void serve_pipeline_close(struct serve_pipeline **pl);

/* ---- logs (serve_log.c) ------------------------------------------------- */

/*
 * Send the log lines to path ("" or NULL: stderr) as text or JSON lines
 * ({"time", "level", "msg", ...}) from now on.  Returns 0, or -1 with err
 * set (the file cannot be opened).
 */
int serve_log_open(const char *path, int json, struct rb_error *err) RB_WUR;
/* Open the file again (after logrotate moved it); -1 keeps the old. */
int serve_log_reopen(struct rb_error *err) RB_WUR;
/* Back to stderr, close the file. */
void serve_log_close(void);
/* Append s to b as a JSON string ("..." with escapes; octets that are
 * not UTF-8 become '?').  -1 when b is full (b then holds a part). */
int serve_json_string(struct buf *b, const char *s) RB_WUR;
/* A log line with fields: obj is a JSON object ("{\"msg\":...}"); in JSON
 * mode time and level are put before its members, in text mode text is
 * logged instead.  Any thread. */
void serve_log_fields(enum log_level level, const char *obj, const char *text);

/* ---- components -----------------------------------------------------------
 */

extern const struct serve_component serve_smtp_component;
extern const struct serve_component serve_maildir_component;
extern const struct serve_component serve_http_component;
extern const struct serve_component serve_kafka_component;

#endif
