/*
 * prune: retention.  Raw messages older than retention.raw, messages
 * (with their events and review rows, by foreign-key cascade) older than
 * retention.events, counters (with their breakdowns), alert transitions and
 * unpublished outbox rows of that age, and expired global suppressions
 * older than suppression.forget.  Ages count from when rebound stored a
 * row.  Each delete takes at most retention.prune_batch rows and is its
 * own transaction, so pruning a year never holds the write lock for long
 * nor grows the WAL past a batch.
 */
#include "store_int.h"

/* Delete in batches with sql (?1 cutoff, ?2 batch) until fewer rows
 * than a batch go; *n_r += rows. */
static int
prune_loop(struct store *st, const char *sql, int64_t cutoff,
    struct store_prune_summary *r, uint64_t *n_r, struct rb_error *err)
{
	for (;;) {
		sqlite3_stmt *s;
		int rc, changed;

		if (store_begin(st, err) < 0)
			return -1;
		if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) !=
		    SQLITE_OK) {
			store_db_error(st, "prune", err);
			store_rollback(st);
			return -1;
		}
		(void)sqlite3_bind_int64(s, 1, cutoff);
		(void)sqlite3_bind_int64(
		    s, 2, (sqlite3_int64)st->conf.prune_batch);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE) {
			store_db_error(st, "prune", err);
			store_rollback(st);
			return -1;
		}
		changed = sqlite3_changes(st->db);
		if (store_commit(st, err) < 0)
			return -1;
		r->transactions++;
		*n_r += (uint64_t)changed;
		if ((uint64_t)changed < st->conf.prune_batch)
			return 0;
	}
}

int
store_prune(struct store *st, time_t now, struct store_prune_summary *r,
    struct rb_error *err)
{
	struct store_prune_summary sum = {0};
	uint64_t other = 0;
	int64_t raw_cut = (int64_t)now - (int64_t)st->conf.raw_keep;
	int64_t ev_cut = (int64_t)now - (int64_t)st->conf.events_keep;
	int64_t supp_cut = (int64_t)now - (int64_t)st->conf.supp_forget;
	int rc;

	rc = prune_loop(st,
	    "DELETE FROM raw_messages WHERE message_id IN"
	    " (SELECT message_id FROM raw_messages WHERE received < ?1"
	    " LIMIT ?2)",
	    raw_cut, &sum, &sum.raw, err);
	if (rc == 0)
		rc = prune_loop(st,
		    "DELETE FROM messages WHERE id IN"
		    " (SELECT id FROM messages WHERE received < ?1 LIMIT ?2)",
		    ev_cut, &sum, &sum.messages, err);
	if (rc == 0)
		rc = prune_loop(st,
		    "DELETE FROM counters WHERE"
		    " (identity, hour) IN (SELECT identity, hour FROM counters"
		    " WHERE hour < ?1 / 3600 LIMIT ?2)",
		    ev_cut, &sum, &other, err);
	if (rc == 0)
		rc = prune_loop(st,
		    "DELETE FROM alerts WHERE id IN"
		    " (SELECT id FROM alerts WHERE time < ?1 LIMIT ?2)",
		    ev_cut, &sum, &other, err);
	/* Outbox rows never published (no publisher ran): their events
	 * are gone with the messages. */
	if (rc == 0)
		rc = prune_loop(st,
		    "DELETE FROM outbox WHERE id IN"
		    " (SELECT id FROM outbox WHERE created < ?1 LIMIT ?2)",
		    ev_cut, &sum, &other, err);
	if (rc == 0)
		rc = prune_loop(st,
		    "DELETE FROM suppression_global WHERE"
		    " address IN (SELECT address FROM suppression_global"
		    " WHERE until < ?1 LIMIT ?2)",
		    supp_cut, &sum, &sum.suppression, err);
	if (r != NULL)
		*r = sum;
	return rc;
}
