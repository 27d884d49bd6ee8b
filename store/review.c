/*
 * review: reading back what was stored: an event by id, and the review
 * queue of feedback the classifier could not make sense of (NotFeedback,
 * a bounce with reason undefined or without a recipient), with the
 * feedback message's subject, sender and source, so an operator can
 * look at it (and at its raw bytes, store_raw_get) and improve the rules.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

int
store_event_get(struct store *st, int64_t id, store_event_fn *fn, void *ctx,
    struct rb_error *err)
{
	static const char sql[] =
	    "SELECT id, message_id, time, identity, type, reason, bounce_type,"
	    " recipient, status, trusted, json FROM events WHERE id = ?1";
	sqlite3_stmt *s;
	int rc, found = 0;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_db_error(st, "event", err);
	(void)sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		struct store_event ev;

		query_event_row(s, &ev);
		(void)fn(&ev, ctx);
		found = 1;
	} else if (rc != SQLITE_DONE) {
		found = store_db_error(st, "event", err);
	}
	sqlite3_finalize(s);
	return found;
}

#define REVIEW_COLUMNS                                                         \
	"SELECT r.id, r.message_id, r.time, r.why, m.subject, m.sender,"       \
	" m.source, r.json FROM review r JOIN messages m"                      \
	" ON m.id = r.message_id"

static void
review_row(sqlite3_stmt *s, struct store_review *r)
{
	r->id = sqlite3_column_int64(s, 0);
	r->message_id = sqlite3_column_int64(s, 1);
	r->time = (time_t)sqlite3_column_int64(s, 2);
	r->why = col_text(s, 3);
	r->subject = col_text(s, 4);
	r->from = col_text(s, 5);
	r->source = col_text(s, 6);
	r->json = col_text(s, 7);
}

int
store_review_list(struct store *st, uint64_t limit, store_review_fn *fn,
    void *ctx, struct rb_error *err)
{
	static const char sql[] = REVIEW_COLUMNS " ORDER BY r.id DESC LIMIT ?1";
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_db_error(st, "review", err);
	(void)sqlite3_bind_int64(
	    s, 1, limit == 0 || limit > INT64_MAX ? -1 : (sqlite3_int64)limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_review r;

		review_row(s, &r);
		if (fn(&r, ctx) < 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return store_db_error(st, "review", err);
	return 0;
}

int
store_review_get(struct store *st, int64_t id, store_review_fn *fn, void *ctx,
    struct rb_error *err)
{
	static const char sql[] = REVIEW_COLUMNS " WHERE r.id = ?1";
	sqlite3_stmt *s;
	int rc, found = 0;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_db_error(st, "review", err);
	(void)sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		struct store_review r;

		review_row(s, &r);
		(void)fn(&r, ctx);
		found = 1;
	} else if (rc != SQLITE_DONE) {
		found = store_db_error(st, "review", err);
	}
	sqlite3_finalize(s);
	return found;
}
