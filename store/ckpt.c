/*
 * ckpt: WAL checkpoints in a thread of their own while an ingest runs.
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses
 * wal_autocheckpoint, so the committer waited for the copy of the WAL
 * into the database and its two fsyncs: a quarter of an ingest's time on
 * a busy disk, and the latency of every SMTP "250" waiting for that
 * commit.  Here the committer only notes the WAL's size (a wal_hook) and
 * wakes this thread, which checkpoints (PASSIVE: it never blocks the
 * writer) on its own connection, fsyncs included.  The WAL restarts from
 * its start only at a transaction that finds it wholly copied, which a
 * writer appending all the time never lets another connection achieve:
 * so after the thread's run the committer copies the tail itself (what
 * was committed meanwhile), a short wait instead of the whole one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* How long the committer waits for readers to leave the WAL. */
#define CKPT_READER_WAIT_MS 20

struct ckpt {
	struct store *st;
	sqlite3 *db; /* the thread's own connection */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv, cv_idle;
	int wanted, running, closing;
	int done;       /* the thread checkpointed since the committer's last */
	uint64_t runs;  /* checkpoints done by the thread (tests) */
	int every, max; /* WAL pages: STORE_WAL_CHECKPOINT_PAGES, _MAX_ */
};

static void
ck_lock(struct ckpt *c)
{
	if (pthread_mutex_lock(&c->mu) != 0)
		rb_panic("pthread_mutex_lock");
}

static void
ck_unlock(struct ckpt *c)
{
	if (pthread_mutex_unlock(&c->mu) != 0)
		rb_panic("pthread_mutex_unlock");
}

static void
ck_wait(pthread_cond_t *cv, struct ckpt *c)
{
	if (pthread_cond_wait(cv, &c->mu) != 0)
		rb_panic("pthread_cond_wait");
}

static void *
ckpt_main(void *arg)
{
	struct ckpt *c = arg;

	ck_lock(c);
	for (;;) {
		while (!c->wanted && !c->closing)
			ck_wait(&c->cv, c);
		if (c->closing)
			break;
		c->wanted = 0;
		c->running = 1;
		ck_unlock(c);
		/* An error (a full disk): the committer's own writes will
		 * report it; the next commit asks again. */
		(void)sqlite3_wal_checkpoint_v2(
		    c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		ck_lock(c);
		c->running = 0;
		c->done = 1;
		c->runs++;
		if (pthread_cond_broadcast(&c->cv_idle) != 0)
			rb_panic("pthread_cond_broadcast");
	}
	ck_unlock(c);
	return NULL;
}

/*
 * After each commit of the writer, in the committer's thread.  Past
 * every pages the thread is woken.  Once it has copied the WAL, the
 * committer copies the rest itself (the frames written meanwhile, a
 * batch or two), so that nothing is left and the next transaction
 * starts the WAL again from its beginning: a WAL that another
 * connection's checkpoint never finishes (the writer keeps appending)
 * would only grow.  Past max pages, it waits for the thread and does
 * the same.
 */
static int
ckpt_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct ckpt *c = arg;

	if (frames < c->every)
		return SQLITE_OK;
	ck_lock(c);
	if (frames >= c->max || (c->done && !c->running)) {
		while (c->running)
			ck_wait(&c->cv_idle, c);
		c->done = 0;
		/* Only this thread wakes the checkpointer: it stays idle
		 * while this runs. */
		ck_unlock(c);
		/* RESTART: also waits for the readers still on the WAL
		 * (a publisher, the HTTP API read all the time) so that
		 * the next transaction restarts it: with PASSIVE a reader
		 * at the wrong moment let the WAL grow to four times its
		 * size, and every page look-up with it.  A reader that
		 * takes longer is not waited for: the next time will do. */
		c->st->busy_limit_ms = CKPT_READER_WAIT_MS;
		(void)sqlite3_wal_checkpoint_v2(
		    db, name, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
		c->st->busy_limit_ms = 0;
		return SQLITE_OK;
	}
	if (!c->wanted && !c->running) {
		c->wanted = 1;
		if (pthread_cond_signal(&c->cv) != 0)
			rb_panic("pthread_cond_signal");
	}
	ck_unlock(c);
	return SQLITE_OK;
}

int
ckpt_start(struct store *st, struct ckpt **c_r, struct rb_error *err)
{
	struct ckpt *c;

	*c_r = NULL;
	/* No WAL to checkpoint in memory (tests). */
	if (strcmp(st->path, ":memory:") == 0 ||
	    strncmp(st->path, "file:", 5) == 0)
		return 0;
	c = xcalloc(1, sizeof(*c));
	c->st = st;
	c->every = STORE_WAL_CHECKPOINT_PAGES;
	c->max = STORE_WAL_MAX_PAGES;
	if (pthread_mutex_init(&c->mu, NULL) != 0 ||
	    pthread_cond_init(&c->cv, NULL) != 0 ||
	    pthread_cond_init(&c->cv_idle, NULL) != 0)
		rb_panic("pthread init");
	/* A connection learns that the database is in WAL mode when it
	 * first reads it; before that a checkpoint does nothing. */
	if (sqlite3_open_v2(st->path, &c->db,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(c->db, (int)st->conf.busy_ms) != SQLITE_OK ||
	    sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_schema", NULL,
	        NULL, NULL) != SQLITE_OK) {
		rb_error_set(err, EIO, "%s: checkpointer: %s", st->path,
		    c->db != NULL ? sqlite3_errmsg(c->db) : "out of memory");
		goto fail;
	}
	if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
		rb_error_set(err, EAGAIN, "cannot start the checkpointer");
		goto fail;
	}
	/* Replaces SQLite's automatic checkpoint on the writer. */
	(void)sqlite3_wal_hook(st->db, ckpt_hook, c);
	*c_r = c;
	return 0;
fail:
	(void)pthread_mutex_destroy(&c->mu);
	(void)pthread_cond_destroy(&c->cv);
	(void)pthread_cond_destroy(&c->cv_idle);
	(void)sqlite3_close(c->db);
	free(c);
	return -1;
}

void
ckpt_set_pages(struct ckpt *c, int every, int max)
{
	c->every = every;
	c->max = max;
}

uint64_t
ckpt_runs(struct ckpt *c)
{
	uint64_t n;

	if (c == NULL)
		return 0;
	ck_lock(c);
	n = c->runs;
	ck_unlock(c);
	return n;
}

void
ckpt_stop(struct ckpt **cp)
{
	struct ckpt *c = cp != NULL ? *cp : NULL;

	if (c == NULL)
		return;
	/* Back to SQLite's own automatic checkpoint. */
	(void)sqlite3_wal_autocheckpoint(c->st->db, STORE_WAL_CHECKPOINT_PAGES);
	ck_lock(c);
	c->closing = 1;
	if (pthread_cond_signal(&c->cv) != 0)
		rb_panic("pthread_cond_signal");
	ck_unlock(c);
	(void)pthread_join(c->thread, NULL);
	(void)pthread_mutex_destroy(&c->mu);
	(void)pthread_cond_destroy(&c->cv);
	(void)pthread_cond_destroy(&c->cv_idle);
	(void)sqlite3_close(c->db);
	free(c);
	*cp = NULL;
}
