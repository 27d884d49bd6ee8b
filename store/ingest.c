/*
 * ingest: the pipeline from message bytes to committed rows.
 *
 *   feeder (the caller) --> ring of slots --> N prep workers (classify,
 *   dedupe key, compression, JSON; no writes) --> one committer (apply.c,
 *   in input order, one transaction per batch of new messages)
 *   --> WAL --> the checkpointer (ckpt.c) copies it into the database
 *
 * The ring has STORE_QUEUE_SLOTS_PER_WORKER slots per worker and at most
 * INGEST_QUEUE_BYTES of queued messages, so memory is bounded whatever
 * the input size: the feeder waits when it is full.  Items commit in the
 * order they were fed, so a run gives the same rows, ids, batches and
 * alert transitions with any number of workers, and a run cut by a crash
 * then run again ends in the state of one clean run.  With
 * store.workers = 0 everything runs in the caller's thread.
 *
 * A database failure (disk full) stops the pipeline: the open batch is
 * rolled back, the remaining items are dropped, feed returns -1 and end
 * reports the first error.  Committed batches stay.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Slots per worker.  Items commit in order, so one slow message (or a
 * worker the system preempts, or a commit waiting for the disk) holds
 * the ring: 4 per worker left the workers idle a third of the time; at
 * 64 they still waited 15 % of the time on a machine shared with other
 * work, 3 % at 256.  An item waiting for its commit holds its message,
 * its compressed copy and its rows' JSON, no verdict (prep.c), so 256
 * cost ~10 MB for mail of a few KB. */
#define INGEST_SLOTS_PER_WORKER 256
/* Bytes of messages queued at most (a message larger than this still
 * passes, alone). */
#define INGEST_QUEUE_BYTES (64u * 1024 * 1024)
/* A slot buffer larger than this is given back after use: the ring
 * keeps at most 2 x INGEST_SLOT_KEEP per slot (the message and its
 * compressed copy) between messages, 32 MB per worker at worst. */
#define INGEST_SLOT_KEEP (64u * 1024)

struct store_ingest {
	struct store *st;
	const struct classify_rules *rules;
	time_t now;
	struct idset *known;
	unsigned n_workers;
	pthread_t workers[STORE_MAX_WORKERS];
	unsigned n_started;
	pthread_t committer;
	int committer_started;
	struct prep_ctx *ctxs; /* one per worker (one when synchronous) */
	struct item *slots;
	size_t n_slots;
	struct apply_batch *batch;
	struct ckpt *ckpt; /* NULL: SQLite's automatic checkpoint */
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_done, cv_space;
	uint64_t seq_in, seq_work, seq_out;
	size_t queued_bytes;
	/* Who sleeps, so that nobody is woken for nothing (a futex call
	 * and a context switch per message otherwise). */
	unsigned idle_workers;
	int committer_waits, feeder_waits;
	/* store_ingest_flush(): asked, and how many were done. */
	int flush_wanted;
	uint64_t flushes;
	pthread_cond_t cv_flush;
	int closing;
	int failed;
	struct rb_error fail;
	struct store_ingest_summary sum; /* committer's */
	uint64_t done;
};

static void
lock(struct store_ingest *ing)
{
	if (pthread_mutex_lock(&ing->mu) != 0)
		rb_panic("pthread_mutex_lock");
}

static void
unlock(struct store_ingest *ing)
{
	if (pthread_mutex_unlock(&ing->mu) != 0)
		rb_panic("pthread_mutex_unlock");
}

static void
wait_on(pthread_cond_t *cv, struct store_ingest *ing)
{
	if (pthread_cond_wait(cv, &ing->mu) != 0)
		rb_panic("pthread_cond_wait");
}

/* Under the lock: the first failure wins. */
static void
set_failed(struct store_ingest *ing, const struct rb_error *err)
{
	if (!ing->failed) {
		ing->failed = 1;
		ing->fail = *err;
	}
}

static void
slot_recycle(struct item *it)
{
	item_clear(it);
	if (it->cap > INGEST_SLOT_KEEP) {
		free(it->msg);
		it->msg = NULL;
		it->cap = 0;
	}
	if (it->raw_cap > INGEST_SLOT_KEEP) {
		free(it->raw);
		it->raw = NULL;
		it->raw_cap = 0;
	}
	it->len = 0;
}

/* Copy the message and its source into an empty slot. */
static void
slot_fill(struct item *it, const unsigned char *msg, size_t len,
    const struct store_source *src)
{
	if (it->cap < len + 1) {
		free(it->msg);
		it->cap = len + 1;
		it->msg = xmalloc(it->cap);
	}
	if (len > 0)
		memcpy(it->msg, msg, len);
	it->msg[len] = '\0';
	it->len = len;
	memset(&it->src, 0, sizeof(it->src));
	it->src.index = src != NULL ? src->index : -1;
	it->file[0] = it->via[0] = it->envelope_to[0] = '\0';
	if (src != NULL && src->file != NULL) {
		(void)snprintf(it->file, sizeof(it->file), "%s", src->file);
		it->src.file = it->file;
	}
	(void)snprintf(it->via, sizeof(it->via), "%s",
	    src != NULL && src->via != NULL ? src->via : "file");
	it->src.via = it->via;
	if (src != NULL && src->envelope_to != NULL) {
		(void)snprintf(it->envelope_to, sizeof(it->envelope_to), "%s",
		    src->envelope_to);
		it->src.envelope_to = it->envelope_to;
	}
	if (it->src.file != NULL && it->src.index >= 0) {
		int n =
		    snprintf(it->source, sizeof(it->source), "%s", it->file);

		/* "#index" only when it fits whole. */
		if (n > 0 && (size_t)n < sizeof(it->source) - 24)
			(void)snprintf(it->source + n,
			    sizeof(it->source) - (size_t)n, "#%ld",
			    it->src.index);
	} else if (it->src.file != NULL)
		(void)snprintf(it->source, sizeof(it->source), "%s", it->file);
	else
		(void)snprintf(it->source, sizeof(it->source), "%s", it->via);
}

static void *
worker_main(void *arg)
{
	struct prep_ctx *pc = arg;
	struct store_ingest *ing = (struct store_ingest *)pc->owner;

	lock(ing);
	for (;;) {
		struct item *it;
		int skip;

		if (ing->seq_work == ing->seq_in && pc->snapshot_left > 0) {
			/* About to wait: let go of the snapshot first. */
			unlock(ing);
			prep_idle(pc);
			lock(ing);
			continue;
		}
		while (ing->seq_work == ing->seq_in && !ing->closing) {
			ing->idle_workers++;
			wait_on(&ing->cv_work, ing);
			ing->idle_workers--;
		}
		if (ing->seq_work == ing->seq_in)
			break;
		it = &ing->slots[ing->seq_work % ing->n_slots];
		it->seq = ing->seq_work++;
		it->state = ITEM_WORKING;
		skip = ing->failed;
		unlock(ing);
		if (!skip)
			prep_item(pc, it);
		lock(ing);
		it->state = ITEM_DONE;
		/* The committer takes items in order: only the head wakes it.
		 */
		if (ing->committer_waits && it->seq == ing->seq_out &&
		    pthread_cond_signal(&ing->cv_done) != 0)
			rb_panic("pthread_cond_signal");
	}
	unlock(ing);
	return NULL;
}

static void *
committer_main(void *arg)
{
	struct store_ingest *ing = arg;
	struct rb_error err;

	lock(ing);
	for (;;) {
		struct item *it = &ing->slots[ing->seq_out % ing->n_slots];
		int failed;

		while (
		    !(ing->seq_out < ing->seq_in && it->state == ITEM_DONE) &&
		    !((ing->closing || ing->flush_wanted) &&
		        ing->seq_out == ing->seq_in)) {
			ing->committer_waits = 1;
			wait_on(&ing->cv_done, ing);
			ing->committer_waits = 0;
		}
		if (ing->seq_out == ing->seq_in && ing->flush_wanted) {
			/* Everything fed is applied: commit it now. */
			if (!ing->failed) {
				unlock(ing);
				if (apply_commit(ing->st, ing->batch, ing->now,
				        &ing->sum, &err) < 0) {
					lock(ing);
					set_failed(ing, &err);
				} else {
					lock(ing);
				}
			}
			ing->flush_wanted = 0;
			ing->flushes++;
			if (pthread_cond_broadcast(&ing->cv_flush) != 0)
				rb_panic("pthread_cond_broadcast");
			continue;
		}
		if (ing->seq_out == ing->seq_in)
			break;
		failed = ing->failed;
		unlock(ing);
		if (!failed && apply_item(ing->st, ing->batch, it, ing->now,
		                   &ing->sum, &err) < 0) {
			apply_abort(ing->st, ing->batch);
			lock(ing);
			set_failed(ing, &err);
			unlock(ing);
		}
		slot_recycle(it);
		lock(ing);
		ing->queued_bytes -= it->len_queued;
		it->len_queued = 0;
		it->state = ITEM_EMPTY;
		ing->seq_out++;
		ing->done++;
		/* Wake a waiting feeder only once a quarter of the ring is
		 * free: one wake-up per slot made the two threads take turns
		 * message by message. */
		if (ing->feeder_waits &&
		    (ing->seq_in - ing->seq_out <=
		            ing->n_slots - ing->n_slots / 4 ||
		        ing->queued_bytes <= INGEST_QUEUE_BYTES / 2 ||
		        ing->failed) &&
		    pthread_cond_signal(&ing->cv_space) != 0)
			rb_panic("pthread_cond_signal");
	}
	if (!ing->failed) {
		unlock(ing);
		if (apply_commit(
		        ing->st, ing->batch, ing->now, &ing->sum, &err) < 0) {
			lock(ing);
			set_failed(ing, &err);
		} else {
			lock(ing);
		}
	}
	unlock(ing);
	return NULL;
}

/* A read-only connection for the dedupe look-up of a worker. */
static void
open_ro(struct store *st, struct prep_ctx *pc)
{
	if (strcmp(st->path, ":memory:") == 0 ||
	    strncmp(st->path, "file:", 5) == 0)
		return;
	if (sqlite3_open_v2(st->path, &pc->ro,
	        SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(pc->ro,
	        "SELECT 1 FROM messages"
	        " WHERE dedupe_key = ?1",
	        -1, &pc->dup, NULL) != SQLITE_OK) {
		/* Only an optimisation: the committer checks again. */
		sqlite3_finalize(pc->dup);
		pc->dup = NULL;
		(void)sqlite3_close(pc->ro);
		pc->ro = NULL;
		return;
	}
	(void)sqlite3_busy_timeout(pc->ro, (int)st->conf.busy_ms);
}

static void
ingest_free(struct store_ingest *ing)
{
	size_t i;

	for (i = 0; i < ing->n_slots; i++)
		item_free(&ing->slots[i]);
	free(ing->slots);
	for (i = 0; i < (ing->n_workers ? ing->n_workers : 1); i++) {
		struct prep_ctx *pc = &ing->ctxs[i];

		raw_compressor_free(&pc->compressor);
		sqlite3_finalize(pc->dup);
		if (pc->ro != NULL)
			(void)sqlite3_close(pc->ro);
	}
	free(ing->ctxs);
	idset_free(&ing->known);
	apply_batch_free(&ing->batch);
	(void)pthread_mutex_destroy(&ing->mu);
	(void)pthread_cond_destroy(&ing->cv_work);
	(void)pthread_cond_destroy(&ing->cv_done);
	(void)pthread_cond_destroy(&ing->cv_space);
	(void)pthread_cond_destroy(&ing->cv_flush);
	ing->st->ingesting = 0;
	free(ing);
}

int
store_ingest_begin(struct store *st, const struct classify_rules *rules,
    time_t now, struct store_ingest **ing_r, struct rb_error *err)
{
	struct store_ingest *ing;
	unsigned i, n_ctx;

	rb_assert(!st->ingesting && !st->in_tx);
	ing = xcalloc(1, sizeof(*ing));
	ing->st = st;
	ing->rules = rules;
	ing->now = now;
	ing->n_workers = st->conf.workers;
	n_ctx = ing->n_workers ? ing->n_workers : 1;
	ing->n_slots = ing->n_workers
	                   ? (size_t)ing->n_workers * INGEST_SLOTS_PER_WORKER
	                   : 1;
	ing->slots = xcalloc(ing->n_slots, sizeof(*ing->slots));
	ing->ctxs = xcalloc(n_ctx, sizeof(*ing->ctxs));
	ing->batch = apply_batch_new();
	if (pthread_mutex_init(&ing->mu, NULL) != 0 ||
	    pthread_cond_init(&ing->cv_work, NULL) != 0 ||
	    pthread_cond_init(&ing->cv_done, NULL) != 0 ||
	    pthread_cond_init(&ing->cv_space, NULL) != 0 ||
	    pthread_cond_init(&ing->cv_flush, NULL) != 0)
		rb_panic("pthread init");
	st->ingesting = 1;
	ing->known = idset_load(st->db, &st->conf, err);
	if (ing->known == NULL) {
		ingest_free(ing);
		return -1;
	}
	for (i = 0; i < n_ctx; i++) {
		struct prep_ctx *pc = &ing->ctxs[i];

		pc->conf = &st->conf;
		pc->rules = rules;
		pc->known = ing->known;
		pc->now = now;
		pc->compressor = raw_compressor_new();
		pc->owner = ing;
		if (ing->n_workers > 0)
			open_ro(st, pc);
		else if (sqlite3_prepare_v2(st->db,
		             "SELECT 1 FROM messages"
		             " WHERE dedupe_key = ?1",
		             -1, &pc->dup, NULL) != SQLITE_OK)
			pc->dup = NULL;
	}
	for (i = 0; i < ing->n_workers; i++) {
		if (pthread_create(&ing->workers[i], NULL, worker_main,
		        &ing->ctxs[i]) != 0)
			break;
		ing->n_started++;
	}
	if (ing->n_workers > 0 && (ing->n_started < ing->n_workers ||
	                              pthread_create(&ing->committer, NULL,
	                                  committer_main, ing) != 0)) {
		rb_error_set(err, EAGAIN, "cannot start ingest threads");
		lock(ing);
		ing->closing = 1;
		(void)pthread_cond_broadcast(&ing->cv_work);
		unlock(ing);
		for (i = 0; i < ing->n_started; i++)
			(void)pthread_join(ing->workers[i], NULL);
		ingest_free(ing);
		return -1;
	}
	ing->committer_started = ing->n_workers > 0;
	{
		struct rb_error e;

		/* Without it, checkpoints run in the commits as before. */
		if (ckpt_start(st, &ing->ckpt, &e) < 0)
			ing->ckpt = NULL;
	}
	*ing_r = ing;
	return 0;
}

/* store.workers = 0: prep and apply here. */
static int
feed_sync(struct store_ingest *ing, const unsigned char *msg, size_t len,
    const struct store_source *src, struct rb_error *err)
{
	struct item *it = &ing->slots[0];
	int rc = 0;

	if (ing->failed) {
		*err = ing->fail;
		return -1;
	}
	slot_fill(it, msg, len, src);
	prep_item(&ing->ctxs[0], it);
	if (apply_item(ing->st, ing->batch, it, ing->now, &ing->sum, err) < 0) {
		apply_abort(ing->st, ing->batch);
		set_failed(ing, err);
		rc = -1;
	}
	slot_recycle(it);
	ing->done++;
	return rc;
}

int
store_ingest_feed(struct store_ingest *ing, const unsigned char *msg,
    size_t len, const struct store_source *src, struct rb_error *err)
{
	struct item *it;

	if (ing->n_workers == 0)
		return feed_sync(ing, msg, len, src, err);
	lock(ing);
	for (;;) {
		it = &ing->slots[ing->seq_in % ing->n_slots];
		if (ing->failed)
			break;
		if (it->state == ITEM_EMPTY &&
		    (ing->queued_bytes == 0 ||
		        ing->queued_bytes + len <= INGEST_QUEUE_BYTES))
			break;
		ing->feeder_waits = 1;
		wait_on(&ing->cv_space, ing);
		ing->feeder_waits = 0;
	}
	if (ing->failed) {
		*err = ing->fail;
		unlock(ing);
		return -1;
	}
	ing->queued_bytes += len;
	unlock(ing);
	/* The slot is invisible to the workers until seq_in moves. */
	slot_fill(it, msg, len, src);
	it->len_queued = len;
	lock(ing);
	it->state = ITEM_QUEUED;
	ing->seq_in++;
	if (ing->idle_workers > 0 && pthread_cond_signal(&ing->cv_work) != 0)
		rb_panic("pthread_cond_signal");
	unlock(ing);
	return 0;
}

int
store_ingest_flush(struct store_ingest *ing, struct rb_error *err)
{
	uint64_t want;
	int rc = 0;

	if (ing->n_workers == 0) {
		struct rb_error e;

		if (!ing->failed && apply_commit(ing->st, ing->batch, ing->now,
		                        &ing->sum, &e) < 0)
			set_failed(ing, &e);
		if (ing->failed) {
			*err = ing->fail;
			return -1;
		}
		return 0;
	}
	lock(ing);
	want = ing->flushes + 1;
	ing->flush_wanted = 1;
	if (pthread_cond_signal(&ing->cv_done) != 0)
		rb_panic("pthread_cond_signal");
	while (ing->flushes < want)
		wait_on(&ing->cv_flush, ing);
	if (ing->failed) {
		*err = ing->fail;
		rc = -1;
	}
	unlock(ing);
	return rc;
}

uint64_t
store_ingest_done(struct store_ingest *ing)
{
	uint64_t n;

	if (ing->n_workers == 0)
		return ing->done;
	lock(ing);
	n = ing->done;
	unlock(ing);
	return n;
}

int
store_ingest_end(struct store_ingest **ingp, struct store_ingest_summary *sum_r,
    struct rb_error *err)
{
	struct store_ingest *ing = *ingp;
	unsigned i;
	int rc;

	*ingp = NULL;
	if (ing->n_workers > 0) {
		lock(ing);
		ing->closing = 1;
		(void)pthread_cond_broadcast(&ing->cv_work);
		(void)pthread_cond_broadcast(&ing->cv_done);
		unlock(ing);
		for (i = 0; i < ing->n_started; i++)
			(void)pthread_join(ing->workers[i], NULL);
		if (ing->committer_started)
			(void)pthread_join(ing->committer, NULL);
		ckpt_stop(&ing->ckpt);
	} else if (!ing->failed) {
		struct rb_error e;

		if (apply_commit(ing->st, ing->batch, ing->now, &ing->sum, &e) <
		    0)
			set_failed(ing, &e);
	}
	ckpt_stop(&ing->ckpt);
	/* Every message fed is stored, a duplicate, or (after a failure:
	 * rolled back or never applied) an error. */
	ing->sum.messages = ing->n_workers > 0 ? ing->seq_in : ing->done;
	if (ing->failed)
		ing->sum.errors =
		    ing->sum.messages - ing->sum.stored - ing->sum.duplicates;
	if (sum_r != NULL)
		*sum_r = ing->sum;
	rc = ing->failed ? -1 : 0;
	if (rc < 0 && err != NULL)
		*err = ing->fail;
	ingest_free(ing);
	return rc;
}
