/*
 * serve_pipeline: the store side of `rebound serve`.  Batches of
 * messages (from the SMTP spool, the Maildir watcher, later HTTP) are
 * classified and stored through one store_ingest, committed, and made
 * durable before serve_store() returns, so that the caller may forget
 * them.  One mutex serialises every use of the store handle.
 *
 * An ingest runs at a fixed clock and with the identities known at its
 * start, so it is ended and a new one begun when it is older than
 * PIPELINE_INGEST_AGE (at the next batch, or at a tick when idle).
 * Durability: the store commits with synchronous=NORMAL (a commit
 * survives a crash of the process, not of the machine), so the WAL file
 * is fdatasync'd after each commit (serve_store) or before the caller
 * forgets its copies (serve_store_committed, then serve_pipeline_sync:
 * the SMTP spool syncs once before deleting a segment of many batches):
 * a message gone from the spool or from new/ is in the database, also
 * after a power loss.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "classify/classify.h"
#include "cli/cli.h"
#include "cli/serve.h"

/* Seconds an ingest is kept open: its clock and its snapshot of the
 * identities with sends are at most this old; restarting one costs a
 * few milliseconds. */
#define PIPELINE_INGEST_AGE 1.0
/* Retention prune and alert re-evaluation: every hour (counters are
 * hourly buckets), the first a minute after the start. */
#define PIPELINE_MAINT_FIRST 60.0
#define PIPELINE_MAINT_EVERY 3600.0
/* Longest path of the database's WAL file. */
#define PIPELINE_PATH_MAX 4096

struct serve_pipeline {
	pthread_mutex_t mu;
	struct store *st;
	struct classify_rules *rules;
	char *user_rules;
	struct store_ingest *ing;
	double ing_started;
	int wal_fd;
	serve_commit_fn *on_commit;
	void *ctx;
	uint64_t stored;
	double next_maint;
	char wal[PIPELINE_PATH_MAX];
};

static double
mono(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
load_rules(
    const char *user_dir, struct classify_rules **rules_r, struct rb_error *err)
{
	const char *dirs[2];
	char builtin[PIPELINE_PATH_MAX];
	size_t n = 0;

	(void)snprintf(builtin, sizeof(builtin), "%s/rules", cli_data_dir());
	if (user_dir != NULL && user_dir[0] != '\0')
		dirs[n++] = user_dir;
	dirs[n++] = builtin;
	return classify_rules_load(dirs, n, rules_r, err);
}

/* Under the lock: end the open ingest (commits what it holds). */
static int
end_ingest(struct serve_pipeline *pl, struct rb_error *err)
{
	struct store_ingest_summary sum;
	int rc;

	if (pl->ing == NULL)
		return 0;
	rc = store_ingest_end(&pl->ing, &sum, err);
	/* One line per ingest (at most one a second under load). */
	if (sum.messages > 0)
		log_info("pipeline: %llu messages (%llu new, %llu seen "
		         "before): events Bounce %llu, Complaint %llu, "
		         "AutoReply %llu, Delivery %llu, DeliveryDelay %llu; "
		         "%llu suppressions, %llu alert transitions, %llu "
		         "for review",
		    (unsigned long long)sum.messages,
		    (unsigned long long)sum.stored,
		    (unsigned long long)sum.duplicates,
		    (unsigned long long)sum.events[CLASSIFY_EVENT_BOUNCE],
		    (unsigned long long)sum.events[CLASSIFY_EVENT_COMPLAINT],
		    (unsigned long long)sum.events[CLASSIFY_EVENT_AUTOREPLY],
		    (unsigned long long)sum.events[CLASSIFY_EVENT_DELIVERY],
		    (unsigned long long)sum.events[CLASSIFY_EVENT_DELAY],
		    (unsigned long long)sum.suppressed,
		    (unsigned long long)sum.alerts,
		    (unsigned long long)sum.unclassified);
	return rc;
}

/* Under the lock: an ingest fresh enough for a batch now. */
static int
fresh_ingest(struct serve_pipeline *pl, struct rb_error *err)
{
	if (pl->ing != NULL &&
	    mono() - pl->ing_started >= PIPELINE_INGEST_AGE &&
	    end_ingest(pl, err) < 0)
		return -1;
	if (pl->ing != NULL)
		return 0;
	if (store_ingest_begin(pl->st, pl->rules, config_now(), &pl->ing, err) <
	    0)
		return -1;
	pl->ing_started = mono();
	return 0;
}

/* Under the lock, after a commit: the WAL on disk. */
static int
sync_wal(struct serve_pipeline *pl, struct rb_error *err)
{
	struct stat a, b;

	/* SQLite may have removed and made the WAL again (it does when
	 * the last connection closes): sync the file of that name. */
	if (pl->wal_fd >= 0 &&
	    (stat(pl->wal, &a) < 0 || fstat(pl->wal_fd, &b) < 0 ||
	        a.st_ino != b.st_ino || a.st_dev != b.st_dev)) {
		(void)close(pl->wal_fd);
		pl->wal_fd = -1;
	}
	if (pl->wal_fd < 0)
		pl->wal_fd = open(pl->wal, O_RDONLY | O_CLOEXEC);
	if (pl->wal_fd < 0)
		return 0; /* no WAL (yet): the commit went to the file */
	if (fdatasync(pl->wal_fd) < 0)
		return rb_error_set(
		    err, errno, "%s: fdatasync: %s", pl->wal, strerror(errno));
	return 0;
}

int
serve_pipeline_open(const struct config *cfg, const char *user_rules,
    serve_commit_fn *on_commit, void *ctx, struct serve_pipeline **pl_r,
    struct rb_error *err)
{
	struct serve_pipeline *pl = xcalloc(1, sizeof(*pl));

	pl->wal_fd = -1;
	pl->on_commit = on_commit;
	pl->ctx = ctx;
	pl->user_rules = user_rules != NULL ? xstrdup(user_rules) : NULL;
	if (pthread_mutex_init(&pl->mu, NULL) != 0)
		rb_panic("pthread_mutex_init");
	if (load_rules(pl->user_rules, &pl->rules, err) < 0 ||
	    store_open(cfg, &pl->st, err) < 0) {
		serve_pipeline_close(&pl);
		return -1;
	}
	(void)snprintf(pl->wal, sizeof(pl->wal), "%s-wal", store_path(pl->st));
	pl->next_maint = mono() + PIPELINE_MAINT_FIRST;
	log_info("pipeline: database %s, %zu rules", store_path(pl->st),
	    classify_rules_count(pl->rules));
	*pl_r = pl;
	return 0;
}

int
serve_pipeline_store(struct serve_pipeline *pl, const struct serve_input *msgs,
    size_t n, int durable, struct rb_error *err)
{
	struct serve_commit c;
	struct rb_error e2;
	size_t i;

	pthread_mutex_lock(&pl->mu);
	if (fresh_ingest(pl, err) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		if (store_ingest_feed(pl->ing, msgs[i].data, msgs[i].len,
		        &msgs[i].src, err) < 0)
			goto fail;
	}
	if (store_ingest_flush(pl->ing, err) < 0 ||
	    (durable && sync_wal(pl, err) < 0))
		goto fail;
	pl->stored += n;
	c.messages = n;
	c.total = pl->stored;
	c.now = config_now();
	c.db_path = store_path(pl->st);
	if (pl->on_commit != NULL)
		pl->on_commit(&c, pl->ctx);
	pthread_mutex_unlock(&pl->mu);
	return 0;
fail:
	/* The batch is rolled back; the next one starts a new ingest. */
	if (pl->ing != NULL)
		(void)end_ingest(pl, &e2);
	pthread_mutex_unlock(&pl->mu);
	return -1;
}

int
serve_pipeline_sync(struct serve_pipeline *pl, struct rb_error *err)
{
	int rc;

	pthread_mutex_lock(&pl->mu);
	rc = sync_wal(pl, err);
	pthread_mutex_unlock(&pl->mu);
	return rc;
}

int
serve_pipeline_reload(struct serve_pipeline *pl, struct rb_error *err)
{
	struct classify_rules *rules = NULL, *old;
	struct rb_error e2;
	size_t n;

	/* Compiling takes a while: outside the lock. */
	if (load_rules(pl->user_rules, &rules, err) < 0)
		return -1;
	n = classify_rules_count(rules);
	pthread_mutex_lock(&pl->mu);
	/* The open ingest borrows the old rules. */
	if (end_ingest(pl, &e2) < 0)
		log_error("pipeline: %s", e2.msg);
	old = pl->rules;
	pl->rules = rules;
	pthread_mutex_unlock(&pl->mu);
	classify_rules_free(&old);
	log_info("pipeline: rules reloaded, %zu rules", n);
	return 0;
}

void
serve_pipeline_tick(struct serve_pipeline *pl)
{
	struct rb_error err;
	double t = mono();

	if (pthread_mutex_trylock(&pl->mu) != 0)
		return; /* busy storing: the next tick */
	if (pl->ing != NULL && t - pl->ing_started >= PIPELINE_INGEST_AGE &&
	    end_ingest(pl, &err) < 0)
		log_error("pipeline: %s", err.msg);
	if (t >= pl->next_maint) {
		struct store_prune_summary pr;
		time_t now = config_now();
		uint64_t alerts = 0;

		pl->next_maint = t + PIPELINE_MAINT_EVERY;
		if (pl->ing != NULL && end_ingest(pl, &err) < 0)
			log_error("pipeline: %s", err.msg);
		memset(&pr, 0, sizeof(pr));
		if (store_prune(pl->st, now, &pr, &err) < 0)
			log_error("pipeline: prune: %s", err.msg);
		else if (pr.raw + pr.messages + pr.suppression > 0)
			log_info("pipeline: pruned %llu raw, %llu messages, "
			         "%llu suppressions",
			    (unsigned long long)pr.raw,
			    (unsigned long long)pr.messages,
			    (unsigned long long)pr.suppression);
		if (store_alerts_evaluate(pl->st, now, &alerts, &err) < 0)
			log_error("pipeline: alerts: %s", err.msg);
		else if (alerts > 0)
			log_info("pipeline: %llu alert transition(s)",
			    (unsigned long long)alerts);
	}
	pthread_mutex_unlock(&pl->mu);
}

uint64_t
serve_pipeline_stored(struct serve_pipeline *pl)
{
	uint64_t n;

	pthread_mutex_lock(&pl->mu);
	n = pl->stored;
	pthread_mutex_unlock(&pl->mu);
	return n;
}

void
serve_pipeline_close(struct serve_pipeline **plp)
{
	struct serve_pipeline *pl = *plp;
	struct rb_error err;

	if (pl == NULL)
		return;
	pthread_mutex_lock(&pl->mu);
	if (end_ingest(pl, &err) < 0)
		log_error("pipeline: %s", err.msg);
	pthread_mutex_unlock(&pl->mu);
	if (pl->wal_fd >= 0)
		(void)close(pl->wal_fd);
	store_close(&pl->st);
	classify_rules_free(&pl->rules);
	pthread_mutex_destroy(&pl->mu);
	free(pl->user_rules);
	free(pl);
	*plp = NULL;
}
