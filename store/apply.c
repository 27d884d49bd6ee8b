/*
 * apply: every database write of an ingest, in the committer thread, in
 * input order.  A batch is one transaction holding up to
 * store.batch_size new messages; duplicates do not count toward it, and
 * those the workers recognised open none (a re-read Maildir holds no
 * write lock).  Per new message: the messages row (its dedupe key is
 * UNIQUE: inserting it is the final duplicate check), the raw bytes,
 * one events row per recipient, the hourly counters of its identity,
 * suppressions, the review queue, the outbox rows (outbox.c).  Before
 * the commit the alert state of every identity the batch touched is
 * evaluated, so counters, lists, alerts and outbox rows are always
 * committed together: after a crash the database
 * holds whole batches only, and ingesting again completes it exactly.
 *
 * Untrusted rows (a forged token, or a token of another recipient) are
 * stored and counted in the "untrusted" counter only: they move no rate
 * and no list.  Transient
 * bounces, auto-replies and not-spam reports never suppress.
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "store_int.h"

struct apply_batch {
	uint64_t n;          /* new messages in the open transaction */
	GHashTable *touched; /* identities whose counters changed */
	/* Counter deltas of the batch, "hour identity" -> struct
	 * batch_count: one upsert per identity and hour at commit, not per
	 * message. */
	GHashTable *counts;
	struct buf blob;                  /* scratch of flush_counts */
	struct store_ingest_summary pend; /* counts of the open batch */
};

/* The deltas of one identity and hour: counters and breakdown. */
struct batch_count {
	struct counts c;
	struct bd_set bd;
};

static void
batch_count_free(gpointer p)
{
	struct batch_count *d = p;

	bd_set_free(&d->bd);
	g_free(d);
}

struct apply_batch *
apply_batch_new(void)
{
	struct apply_batch *b = xcalloc(1, sizeof(*b));

	b->touched =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	b->counts = g_hash_table_new_full(
	    g_str_hash, g_str_equal, g_free, batch_count_free);
	buf_init(&b->blob, BD_MAX_BLOB);
	return b;
}

void
apply_batch_free(struct apply_batch **bp)
{
	struct apply_batch *b = bp != NULL ? *bp : NULL;

	if (b == NULL)
		return;
	g_hash_table_destroy(b->touched);
	g_hash_table_destroy(b->counts);
	buf_free(&b->blob);
	free(b);
	*bp = NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Counts of a committed batch join the summary; a failed one's not. */
static void
sum_add(struct store_ingest_summary *d, const struct store_ingest_summary *s)
{
	size_t i;

	d->messages += s->messages;
	d->stored += s->stored;
	d->duplicates += s->duplicates;
	for (i = 0; i < sizeof(d->events) / sizeof(d->events[0]); i++)
		d->events[i] += s->events[i];
	d->hard += s->hard;
	d->soft += s->soft;
	d->undetermined += s->undetermined;
	d->unattributed += s->unattributed;
	d->untrusted += s->untrusted;
	d->unclassified += s->unclassified;
	d->suppressed += s->suppressed;
	d->suppressed_account += s->suppressed_account;
	d->alerts += s->alerts;
	d->errors += s->errors;
}

static void
counts_add(struct counts *d, const struct counts *c)
{
	d->sends += c->sends;
	d->hard += c->hard;
	d->soft += c->soft;
	d->undetermined += c->undetermined;
	d->complaints += c->complaints;
	d->not_spam += c->not_spam;
	d->auto_replies += c->auto_replies;
	d->deliveries += c->deliveries;
	d->delays += c->delays;
	d->untrusted += c->untrusted;
	d->unsubscribes += c->unsubscribes;
}

/* Into the batch's deltas of the identity and hour of the item: the
 * counters c, and the breakdown of each of its rows that counts in one
 * (the rows as insert_event stores them). */
static void
batch_count(struct apply_batch *b, struct store *st, const struct item *it,
    const struct counts *c)
{
	const char *identity = it->at.identity;
	char *key;
	struct batch_count *d;
	size_t i;

	/* prep gives every item a time after 1970: the counters' hour
	 * (t / 3600) is the breakdown's (breakdown_hour). */
	rb_assert(it->time > 0);
	key =
	    g_strdup_printf("%lld %s", (long long)(it->time / 3600), identity);
	d = g_hash_table_lookup(b->counts, key);
	if (d == NULL) {
		d = g_new0(struct batch_count, 1);
		g_hash_table_insert(b->counts, key, d);
	} else {
		g_free(key);
	}
	counts_add(&d->c, c);
	if (!g_hash_table_contains(b->touched, identity))
		g_hash_table_add(b->touched, g_strdup(identity));
	for (i = 0; i < it->n_rows; i++) {
		const struct item_row *r = &it->rows[i];

		if (!bd_counted(r->type_name, r->trusted))
			continue;
		bd_set_event(&d->bd, r->type_name, r->bounce_name, r->reason,
		    providers_lookup(st->providers,
		        r->address[0] != '\0' ? address_domain(r->address)
		                              : NULL),
		    r->feedback_type);
	}
}

static int
flush_counts(struct store *st, struct apply_batch *b, struct rb_error *err)
{
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, b->counts);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const char *key = k, *sp = strchr(key, ' ');
		long long hour = strtoll(key, NULL, 10);
		struct batch_count *d = v;

		rb_assert(sp != NULL);
		buf_reset(&b->blob);
		if (d->bd.n > 0 && bd_set_encode(&d->bd, &b->blob) < 0)
			return rb_error_set(err, EOVERFLOW,
			    "breakdown of %s at hour %lld: over %u bytes",
			    sp + 1, hour, BD_MAX_BLOB);
		if (rates_add(st, sp + 1, (time_t)(hour * 3600), &d->c,
		        &b->blob, err) < 0)
			return -1;
	}
	g_hash_table_remove_all(b->counts);
	return 0;
}

int
apply_commit(struct store *st, struct apply_batch *b, time_t now,
    struct store_ingest_summary *sum, struct rb_error *err)
{
	guint n = 0, i;
	gpointer *ids;
	int rc = 0;

	if (!st->in_tx)
		return 0;
	if (flush_counts(st, b, err) < 0) {
		apply_abort(st, b);
		return -1;
	}
	/* Same order in every run: the alert ids must not depend on
	 * hashing. */
	ids = g_hash_table_get_keys_as_array(b->touched, &n);
	if (n > 1)
		qsort(ids, n, sizeof(*ids), cmp_str);
	for (i = 0; i < n && rc == 0; i++)
		rc = rates_evaluate(st, ids[i], now, &b->pend.alerts, err);
	g_free(ids);
	if (rc == 0)
		rc = store_commit(st, err);
	else
		store_rollback(st);
	if (rc == 0)
		sum_add(sum, &b->pend);
	memset(&b->pend, 0, sizeof(b->pend));
	g_hash_table_remove_all(b->touched);
	b->n = 0;
	return rc;
}

static const char *
kind_name(enum classify_kind k)
{
	switch (k) {
	case CLASSIFY_KIND_DSN:
		return "dsn";
	case CLASSIFY_KIND_ARF:
		return "arf";
	case CLASSIFY_KIND_AUTOREPLY:
		return "autoreply";
	case CLASSIFY_KIND_PROSE:
		return "prose";
	case CLASSIFY_KIND_NONE:
		break;
	}
	return "none";
}

/* 0 stored, 1 a duplicate after all, -1 error. */
static int
insert_message(struct store *st, const struct item *it, time_t now,
    int64_t *id_r, struct rb_error *err)
{
	sqlite3_stmt *s = store_stmt(st, STMT_MSG_INSERT, err);

	if (s == NULL)
		return -1;
	(void)sqlite3_bind_blob(s, 1, it->key, STORE_KEY_LEN, SQLITE_STATIC);
	(void)sqlite3_bind_int64(s, 2, (sqlite3_int64)now);
	(void)sqlite3_bind_int64(s, 3, (sqlite3_int64)it->time);
	(void)bind_text(s, 4, kind_name(it->kind));
	(void)bind_text_null(s, 5, it->layout);
	(void)bind_text_null(s, 6, it->feedback_id);
	(void)bind_text_null(s, 7, it->at.identity);
	(void)bind_text(s, 8, it->at.attribution);
	(void)sqlite3_bind_int(s, 9, it->at.trusted);
	(void)bind_text_null(s, 10, it->subject);
	(void)bind_text_null(s, 11, it->from);
	(void)bind_text_null(s, 12, it->source);
	(void)sqlite3_bind_int64(s, 13, (sqlite3_int64)it->len);
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_db_error(st, "insert message", err);
		(void)sqlite3_reset(s);
		return -1;
	}
	(void)sqlite3_reset(s);
	/* The dedupe key is taken (ON CONFLICT DO NOTHING): a duplicate
	 * the workers' snapshot did not know yet, of this batch or of
	 * another process.  One index look-up either way. */
	if (sqlite3_changes(st->db) == 0)
		return 1;
	*id_r = sqlite3_last_insert_rowid(st->db);
	s = store_stmt(st, STMT_RAW_INSERT, err);
	if (s == NULL)
		return -1;
	(void)sqlite3_bind_int64(s, 1, *id_r);
	(void)sqlite3_bind_int64(s, 2, (sqlite3_int64)now);
	(void)sqlite3_bind_int(s, 3, (int)it->encoding);
	(void)sqlite3_bind_int64(s, 4, (sqlite3_int64)it->len);
	if (it->encoding != RAW_AS_IS)
		(void)sqlite3_bind_blob64(
		    s, 5, it->raw, it->raw_len, SQLITE_STATIC);
	else
		(void)sqlite3_bind_blob64(s, 5,
		    it->len > 0 ? it->msg : (const unsigned char *)"", it->len,
		    SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_db_error(st, "insert raw message", err);
		(void)sqlite3_reset(s);
		return -1;
	}
	(void)sqlite3_reset(s);
	return 0;
}

static int
insert_event(struct store *st, const struct item *it,
    const struct item_row *row, int64_t mid, int64_t *id_r,
    struct rb_error *err)
{
	sqlite3_stmt *s = store_stmt(st, STMT_EVENT_INSERT, err);
	const char *rcpt =
	    row->address[0] != '\0' ? row->address : row->recipient;

	if (s == NULL)
		return -1;
	(void)sqlite3_bind_int64(s, 1, mid);
	(void)sqlite3_bind_int64(s, 2, (sqlite3_int64)it->time);
	(void)bind_text_null(s, 3, it->at.identity);
	(void)bind_text(s, 4, row->type_name);
	(void)bind_text_null(s, 5, row->reason);
	(void)bind_text_null(s, 6, row->bounce_name);
	(void)bind_text_null(s, 7, rcpt);
	(void)bind_text_null(s, 8,
	    row->address[0] != '\0' ? address_domain(row->address) : NULL);
	(void)bind_text_null(s, 9, row->status);
	(void)bind_text_null(s, 10, row->feedback_type);
	(void)sqlite3_bind_int(s, 11, row->trusted);
	(void)bind_text(s, 12, row->json);
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_db_error(st, "insert event", err);
		(void)sqlite3_reset(s);
		return -1;
	}
	(void)sqlite3_reset(s);
	*id_r = sqlite3_last_insert_rowid(st->db);
	return 0;
}

enum complaint_kind
complaint_kind(const char *feedback_type)
{
	if (feedback_type == NULL)
		return COMPLAINT_SPAM;
	if (strcmp(feedback_type, "not-spam") == 0)
		return COMPLAINT_NOT_SPAM;
	/* Apple Mail's one-click unsubscribe: the recipient wants no more
	 * mail, which suppresses, but did not call it spam. */
	if (strcmp(feedback_type, "opt-out") == 0)
		return COMPLAINT_UNSUBSCRIBE;
	return COMPLAINT_SPAM;
}

/* Count the row and apply its suppressions (trusted feedback only). */

/* The automatic suppressions of one events row, for address. */
static int
suppress_row_address(struct store *st, const struct item_row *row,
    const char *address, const char *account, int64_t eid, time_t now,
    struct store_ingest_summary *sum, struct rb_error *err)
{
	int changed = 0;

	if (row->type == CLASSIFY_EVENT_BOUNCE &&
	    row->bounce_type == CLASSIFY_BOUNCE_PERMANENT) {
		if (suppress_global(
		        st, address, row->reason, eid, now, &changed, err) < 0)
			return -1;
		sum->suppressed += (uint64_t)changed;
		if (st->conf.auto_bounce) {
			if (suppress_account_auto(st, account, address,
			        "BOUNCE", eid, now, &changed, err) < 0)
				return -1;
			sum->suppressed += (uint64_t)changed;
			sum->suppressed_account += (uint64_t)changed;
		}
	} else if (row->type == CLASSIFY_EVENT_COMPLAINT &&
	           complaint_kind(row->feedback_type) != COMPLAINT_NOT_SPAM &&
	           st->conf.auto_complaint) {
		if (suppress_account_auto(st, account, address, "COMPLAINT",
		        eid, now, &changed, err) < 0)
			return -1;
		sum->suppressed += (uint64_t)changed;
		sum->suppressed_account += (uint64_t)changed;
	}
	return 0;
}

static int
row_effects(struct store *st, const struct item *it, const struct item_row *row,
    int64_t eid, time_t now, struct counts *c, struct store_ingest_summary *sum,
    struct rb_error *err)
{
	const char *account;

	sum->events[row->type]++;
	if (row->type == CLASSIFY_EVENT_BOUNCE) {
		if (row->bounce_type == CLASSIFY_BOUNCE_PERMANENT)
			sum->hard++;
		else if (row->bounce_type == CLASSIFY_BOUNCE_TRANSIENT)
			sum->soft++;
		else
			sum->undetermined++;
	}
	if (!row->trusted) {
		c->untrusted++;
		return 0;
	}
	switch (row->type) {
	case CLASSIFY_EVENT_BOUNCE:
		if (row->bounce_type == CLASSIFY_BOUNCE_PERMANENT)
			c->hard++;
		else if (row->bounce_type == CLASSIFY_BOUNCE_TRANSIENT)
			c->soft++;
		else
			c->undetermined++;
		break;
	case CLASSIFY_EVENT_COMPLAINT:
		switch (complaint_kind(row->feedback_type)) {
		case COMPLAINT_NOT_SPAM:
			c->not_spam++;
			break;
		case COMPLAINT_UNSUBSCRIBE:
			c->unsubscribes++;
			break;
		case COMPLAINT_SPAM:
			c->complaints++;
			break;
		}
		break;
	case CLASSIFY_EVENT_AUTOREPLY:
		c->auto_replies++;
		break;
	case CLASSIFY_EVENT_DELIVERY:
		c->deliveries++;
		break;
	case CLASSIFY_EVENT_DELAY:
		c->delays++;
		break;
	case CLASSIFY_EVENT_NOT_FEEDBACK:
		break;
	}
	if (row->address[0] == '\0')
		return 0;
	account = conf_account_of(&st->conf, it->at.identity);
	if (suppress_row_address(
	        st, row, row->address, account, eid, now, sum, err) < 0)
		return -1;
	/* An alias or forward: the address the sender mails is the
	 * Original-Recipient; it is as dead as the final one. */
	if (row->original[0] != '\0' &&
	    suppress_row_address(
	        st, row, row->original, account, eid, now, sum, err) < 0)
		return -1;
	return 0;
}

static int
insert_review(
    struct store *st, const struct item *it, int64_t mid, struct rb_error *err)
{
	sqlite3_stmt *s = store_stmt(st, STMT_REVIEW_INSERT, err);

	if (s == NULL)
		return -1;
	(void)sqlite3_bind_int64(s, 1, mid);
	(void)sqlite3_bind_int64(s, 2, (sqlite3_int64)it->time);
	(void)bind_text(s, 3, it->review_why);
	(void)bind_text(s, 4, it->review_json != NULL ? it->review_json : "{}");
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_db_error(st, "insert review", err);
		(void)sqlite3_reset(s);
		return -1;
	}
	(void)sqlite3_reset(s);
	return 0;
}

int
apply_item(struct store *st, struct apply_batch *b, struct item *it, time_t now,
    struct store_ingest_summary *sum, struct rb_error *err)
{
	struct store_ingest_summary *p = &b->pend;
	struct counts c;
	int64_t mid, eid;
	size_t i;
	int feedback = 0, untrusted = !it->at.trusted, rc;

	sum->messages++;
	if (it->dup) {
		sum->duplicates++;
		return 0;
	}
	if (!st->in_tx && store_begin(st, err) < 0)
		return -1;
	if ((rc = insert_message(st, it, now, &mid, err)) != 0) {
		if (rc < 0)
			return -1;
		sum->duplicates++;
		return 0;
	}
	memset(&c, 0, sizeof(c));
	for (i = 0; i < it->n_rows; i++) {
		if (insert_event(st, it, &it->rows[i], mid, &eid, err) < 0 ||
		    outbox_add(st, STORE_TOPIC_EVENTS, NULL, eid, now, err) <
		        0 ||
		    row_effects(st, it, &it->rows[i], eid, now, &c, p, err) < 0)
			return -1;
		feedback = 1;
		untrusted |= !it->rows[i].trusted;
	}
	if (it->at.identity[0] != '\0' && feedback)
		batch_count(b, st, it, &c);
	if (feedback && it->at.identity[0] == '\0')
		p->unattributed++;
	if (untrusted)
		p->untrusted++;
	if (it->review_why != NULL) {
		if (insert_review(st, it, mid, err) < 0)
			return -1;
		p->unclassified++;
	}
	p->stored++;
	b->n++;
	if (b->n >= st->conf.batch_size)
		return apply_commit(st, b, now, sum, err);
	return 0;
}

void
apply_abort(struct store *st, struct apply_batch *b)
{
	store_rollback(st);
	memset(&b->pend, 0, sizeof(b->pend));
	g_hash_table_remove_all(b->touched);
	g_hash_table_remove_all(b->counts);
	b->n = 0;
}
