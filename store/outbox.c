/*
 * outbox: the Kafka side of the store.  Every stored event, every change
 * of a suppression list and every alert transition adds an outbox row
 * (topic, and a reference to its row or the address) in the transaction
 * that makes it, so what is committed is published and nothing else; the
 * publisher (publish/) reads the rows in id order and removes them once
 * the brokers acknowledged them.  Values are built when read: an event's
 * stored JSON, an alert row, the entries of an address in force at that
 * time (a tombstone when there are none), so a row read again after a
 * restart gives what is true then.  Global entries expire by time: a
 * sweep adds the rows that tell the compacted topic.  Also the consumed
 * offsets of the sends topic, kept in the transaction that counts the
 * records, so a replayed record never counts twice.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "store_int.h"

/* Bytes of the dedupe key shown in rebound.eventId: 128 bits do not
 * collide in any realistic volume of feedback. */
#define OUTBOX_ID_BYTES 16
/* Partitions of the sends topic one consume call keeps track of; a
 * batch of records spans a few (a topic may have thousands). */
#define OUTBOX_MAX_PARTITIONS 4096
/* Names of the rows of kafka_state. */
#define OUTBOX_SWEPT "expiry_swept"
#define OUTBOX_RECORDS "sends_records"
#define OUTBOX_MALFORMED "sends_malformed"

const char *
store_topic_name(enum store_topic t)
{
	switch (t) {
	case STORE_TOPIC_EVENTS:
		return "events";
	case STORE_TOPIC_SUPPRESSION:
		return "suppression";
	case STORE_TOPIC_ALERTS:
		return "alerts";
	}
	return "events";
}

int
outbox_add(struct store *st, enum store_topic topic, const char *key,
    int64_t ref, time_t now, struct rb_error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (!st->conf.outbox)
		return 0;
	if ((s = store_stmt(st, STMT_OUTBOX_ADD, err)) == NULL)
		return -1;
	(void)sqlite3_bind_int(s, 1, (int)topic);
	(void)bind_text(s, 2, key);
	if (ref > 0)
		(void)sqlite3_bind_int64(s, 3, ref);
	(void)sqlite3_bind_int64(s, 4, (sqlite3_int64)now);
	rc = sqlite3_step(s);
	(void)sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return store_db_error(st, "outbox", err);
	return 0;
}

/* ---- rebound.eventId ------------------------------------------------- */

static int
is_notification(enum classify_event_type t)
{
	/* The types of SES identity notifications (notificationType). */
	return t == CLASSIFY_EVENT_BOUNCE || t == CLASSIFY_EVENT_COMPLAINT ||
	       t == CLASSIFY_EVENT_DELIVERY;
}

/* The same with jansson, for a text not laid out as the classifier
 * writes it; NULL when it is no JSON object. */
static char *
event_json_slow(const char *js, const char *id, enum classify_event_type t)
{
	json_t *root = json_loads(js, 0, NULL), *rb, *type;
	char *out;

	if (!json_is_object(root)) {
		json_decref(root);
		return NULL;
	}
	rb = json_object_get(root, "rebound");
	if (!json_is_object(rb)) {
		rb = json_object();
		json_object_set_new(root, "rebound", rb);
	}
	json_object_set_new(rb, "eventId", json_string(id));
	type = json_object_get(root, "eventType");
	if (is_notification(t) && json_is_string(type))
		json_object_set(root, "notificationType", type);
	out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	return out;
}

void
outbox_event_json(char **json, const unsigned char key[STORE_KEY_LEN],
    size_t index, enum classify_event_type type)
{
	static const char head[] = "{\"eventType\":\"";
	static const char rbkey[] = ",\"rebound\":{";
	const char *js = *json, *tname = NULL, *tend = NULL, *rb = NULL, *p;
	char id[OUTBOX_ID_BYTES * 2 + 24];
	struct buf b;
	size_t i, o = 0;
	char *out = NULL;

	for (i = 0; i < OUTBOX_ID_BYTES; i++)
		o += (size_t)snprintf(id + o, sizeof(id) - o, "%02x", key[i]);
	(void)snprintf(id + o, sizeof(id) - o, "-%zu", index);
	/* The classifier's layout: eventType first, rebound last (a quote
	 * inside a value is escaped, so the last ",\"rebound\":{" is the
	 * top-level member). */
	if (strncmp(js, head, sizeof(head) - 1) == 0) {
		tname = js + sizeof(head) - 1;
		tend = strchr(tname, '"');
	}
	for (p = js; (p = strstr(p, rbkey)) != NULL; p++)
		rb = p;
	if (tend != NULL && rb != NULL && rb > tend) {
		const char *in = rb + sizeof(rbkey) - 1;

		buf_init(&b, strlen(js) + 2 * (size_t)(tend - tname) + 128);
		if (buf_append(&b, js, (size_t)(tend + 1 - js)) < 0 ||
		    (is_notification(type) &&
		        buf_printf(&b, ",\"notificationType\":\"%.*s\"",
		            (int)(tend - tname), tname) < 0) ||
		    buf_append(&b, tend + 1, (size_t)(in - tend - 1)) < 0 ||
		    buf_printf(&b, "\"eventId\":\"%s\"%s", id,
		        *in == '}' ? "" : ",") < 0 ||
		    buf_append(&b, in, strlen(in)) < 0)
			buf_free(&b);
		else
			out = (char *)buf_take(&b, NULL);
	}
	if (out == NULL)
		out = event_json_slow(js, id, type);
	if (out == NULL)
		return;
	free(*json);
	*json = out;
}

/* ---- reading ----------------------------------------------------------- */

struct read_ctx {
	struct store *st;
	time_t now;
	sqlite3_stmt *global, *account;
};

static json_t *
iso_time(time_t t)
{
	char buf[40];

	time_format_iso(t, buf, sizeof(buf));
	return json_string(buf);
}

/* The entries of addr in force at now; NULL: none (a tombstone). */
static char *
suppression_value(
    struct read_ctx *rc, const char *addr, struct rb_error *err, int *failed_r)
{
	json_t *root, *entries = json_array(), *first = NULL;
	char *out = NULL;
	int rc1;

	*failed_r = 0;
	(void)sqlite3_reset(rc->global);
	(void)bind_text(rc->global, 1, addr);
	(void)sqlite3_bind_int64(rc->global, 2, (sqlite3_int64)rc->now);
	while ((rc1 = sqlite3_step(rc->global)) == SQLITE_ROW) {
		json_t *e = json_object();

		json_object_set_new(e, "list", json_string("global"));
		json_object_set_new(e, "reason", json_string("BOUNCE"));
		json_object_set_new(e, "lastUpdateTime",
		    iso_time((time_t)sqlite3_column_int64(rc->global, 1)));
		json_object_set_new(e, "expiresAt",
		    iso_time((time_t)sqlite3_column_int64(rc->global, 2)));
		json_object_set_new(
		    e, "bounceReason", json_string(col_text(rc->global, 0)));
		json_object_set_new(e, "strikes",
		    json_integer(sqlite3_column_int64(rc->global, 3)));
		json_array_append_new(entries, e);
	}
	(void)sqlite3_reset(rc->global);
	if (rc1 == SQLITE_DONE) {
		(void)bind_text(rc->account, 1, addr);
		while ((rc1 = sqlite3_step(rc->account)) == SQLITE_ROW) {
			json_t *e = json_object();

			json_object_set_new(e, "list", json_string("account"));
			json_object_set_new(e, "account",
			    json_string(col_text(rc->account, 0)));
			json_object_set_new(
			    e, "reason", json_string(col_text(rc->account, 1)));
			json_object_set_new(e, "lastUpdateTime",
			    iso_time(
			        (time_t)sqlite3_column_int64(rc->account, 2)));
			json_object_set_new(e, "expiresAt", json_null());
			json_object_set_new(
			    e, "origin", json_string(col_text(rc->account, 3)));
			json_array_append_new(entries, e);
		}
		(void)sqlite3_reset(rc->account);
	}
	if (rc1 != SQLITE_DONE) {
		json_decref(entries);
		*failed_r = 1;
		store_db_error(rc->st, "outbox: suppression entries", err);
		return NULL;
	}
	if (json_array_size(entries) == 0) {
		json_decref(entries);
		return NULL;
	}
	first = json_array_get(entries, 0);
	root = json_object();
	json_object_set_new(root, "emailAddress", json_string(addr));
	json_object_set(root, "list", json_object_get(first, "list"));
	if (json_object_get(first, "account") != NULL)
		json_object_set(
		    root, "account", json_object_get(first, "account"));
	json_object_set(root, "reason", json_object_get(first, "reason"));
	json_object_set(
	    root, "lastUpdateTime", json_object_get(first, "lastUpdateTime"));
	json_object_set(root, "expiresAt", json_object_get(first, "expiresAt"));
	json_object_set_new(root, "entries", entries);
	out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (out == NULL)
		rb_panic("json_dumps failed");
	return out;
}

/* The alert row of the current result row of s (columns from 5). */
static char *
alert_value(sqlite3_stmt *s)
{
	json_t *o = json_object();
	char *out;

	json_object_set_new(
	    o, "alertId", json_integer(sqlite3_column_int64(s, 5)));
	json_object_set_new(
	    o, "timestamp", iso_time((time_t)sqlite3_column_int64(s, 6)));
	json_object_set_new(o, "identity", json_string(col_text(s, 7)));
	json_object_set_new(o, "metric", json_string(col_text(s, 8)));
	json_object_set_new(o, "from",
	    json_string(store_status_name(
	        (enum store_status)sqlite3_column_int(s, 9))));
	json_object_set_new(o, "to",
	    json_string(store_status_name(
	        (enum store_status)sqlite3_column_int(s, 10))));
	json_object_set_new(
	    o, "value", json_real(sqlite3_column_double(s, 11)));
	json_object_set_new(
	    o, "threshold", json_real(sqlite3_column_double(s, 12)));
	json_object_set_new(
	    o, "sends", json_integer(sqlite3_column_int64(s, 13)));
	out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (out == NULL)
		rb_panic("json_dumps failed");
	return out;
}

int
store_outbox_read(struct store *st, int64_t after, size_t limit, time_t now,
    store_outbox_fn *fn, void *ctx, struct rb_error *err)
{
	static const char sql[] =
	    "SELECT o.id, o.topic, o.key, o.created, e.identity, a.id,"
	    " a.time, a.identity, a.metric, a.from_state, a.to_state,"
	    " a.value, a.threshold, a.sends, e.json"
	    " FROM outbox o"
	    " LEFT JOIN events e ON o.topic = 0 AND e.id = o.ref"
	    " LEFT JOIN alerts a ON o.topic = 2 AND a.id = o.ref"
	    " WHERE o.id > ?1 ORDER BY o.id LIMIT ?2";
	static const char sql_g[] =
	    "SELECT reason, since, until, strikes FROM suppression_global"
	    " WHERE address = ?1 AND until > ?2";
	static const char sql_a[] =
	    "SELECT account, reason, since, origin FROM suppression_account"
	    " WHERE address = ?1 ORDER BY account";
	struct read_ctx rc = {st, now, NULL, NULL};
	sqlite3_stmt *s = NULL;
	int n = 0, step, failed = 0;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, sql_g, -1, &rc.global, NULL) !=
	        SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, sql_a, -1, &rc.account, NULL) !=
	        SQLITE_OK) {
		store_db_error(st, "outbox read", err);
		n = -1;
		goto out;
	}
	(void)sqlite3_bind_int64(s, 1, after);
	(void)sqlite3_bind_int64(
	    s, 2, limit > INT32_MAX ? INT32_MAX : (sqlite3_int64)limit);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_outbox_msg m;
		char *owned = NULL;
		int stop;

		memset(&m, 0, sizeof(m));
		m.id = sqlite3_column_int64(s, 0);
		m.topic = (enum store_topic)sqlite3_column_int(s, 1);
		m.created = (time_t)sqlite3_column_int64(s, 3);
		switch (m.topic) {
		case STORE_TOPIC_EVENTS:
			m.key = col_text(s, 4);
			m.value = col_text(s, 14);
			m.value_len = (size_t)sqlite3_column_bytes(s, 14);
			m.gone = m.value == NULL;
			break;
		case STORE_TOPIC_SUPPRESSION:
			m.key = col_text(s, 2);
			if (m.key == NULL) {
				m.gone = 1;
				break;
			}
			owned = suppression_value(&rc, m.key, err, &failed);
			if (failed) {
				n = -1;
				goto out;
			}
			m.value = owned;
			m.value_len = owned != NULL ? strlen(owned) : 0;
			break;
		case STORE_TOPIC_ALERTS:
			if (sqlite3_column_type(s, 5) == SQLITE_NULL) {
				m.gone = 1;
				break;
			}
			m.key = col_text(s, 7);
			m.value = owned = alert_value(s);
			m.value_len = strlen(owned);
			break;
		default:
			m.gone = 1;
			break;
		}
		m.key_len = m.key != NULL ? strlen(m.key) : 0;
		stop = fn(&m, ctx) < 0;
		free(owned);
		if (stop)
			break;
		n++;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		store_db_error(st, "outbox read", err);
		n = -1;
	}
out:
	sqlite3_finalize(s);
	sqlite3_finalize(rc.global);
	sqlite3_finalize(rc.account);
	return n;
}

int
store_outbox_done(
    struct store *st, int64_t upto, unsigned wait_ms, struct rb_error *err)
{
	sqlite3_stmt *s;
	int rc;

	st->busy_limit_ms = wait_ms;
	rc = store_begin(st, err);
	st->busy_limit_ms = 0;
	if (rc < 0)
		return wait_ms > 0 &&
		               (sqlite3_errcode(st->db) & 0xff) == SQLITE_BUSY
		           ? 1
		           : -1;
	if (sqlite3_prepare_v2(st->db, "DELETE FROM outbox WHERE id <= ?1", -1,
	        &s, NULL) != SQLITE_OK) {
		store_db_error(st, "outbox done", err);
		store_rollback(st);
		return -1;
	}
	(void)sqlite3_bind_int64(s, 1, upto);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		store_db_error(st, "outbox done", err);
		store_rollback(st);
		return -1;
	}
	return store_commit(st, err);
}

/* ---- kafka_state --------------------------------------------------------- */

/* Value of name into *v_r (untouched when absent); 1 found, 0, -1. */
static int
state_get(
    struct store *st, const char *name, int64_t *v_r, struct rb_error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db,
	        "SELECT value FROM kafka_state WHERE name = ?1", -1, &s,
	        NULL) != SQLITE_OK)
		return store_db_error(st, "kafka state", err);
	(void)bind_text(s, 1, name);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v_r = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_db_error(st, "kafka state", err);
	return rc == SQLITE_ROW;
}

/* Set name to v (add: v is added to the value). */
static int
state_put(struct store *st, const char *name, int64_t v, int add,
    struct rb_error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db,
	        add ? "INSERT INTO kafka_state(name, value) VALUES (?1, ?2)"
	              " ON CONFLICT(name) DO UPDATE SET"
	              " value = value + excluded.value"
	            : "INSERT INTO kafka_state(name, value) VALUES (?1, ?2)"
	              " ON CONFLICT(name) DO UPDATE SET"
	              " value = excluded.value",
	        -1, &s, NULL) != SQLITE_OK)
		return store_db_error(st, "kafka state", err);
	(void)bind_text(s, 1, name);
	(void)sqlite3_bind_int64(s, 2, v);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return store_db_error(st, "kafka state", err);
	return 0;
}

int
store_outbox_sweep(
    struct store *st, time_t now, uint64_t *n_r, struct rb_error *err)
{
	static const char sql_any[] =
	    "SELECT 1 FROM suppression_global WHERE until > ?1 AND until <= ?2"
	    " LIMIT 1";
	static const char sql_add[] =
	    "INSERT INTO outbox(topic, key, ref, created)"
	    " SELECT 1, address, NULL, ?2 FROM suppression_global"
	    " WHERE until > ?1 AND until <= ?2 ORDER BY until, address";
	sqlite3_stmt *s;
	int64_t swept = 0;
	int found, rc;

	if (n_r != NULL)
		*n_r = 0;
	if (!st->conf.outbox)
		return 0;
	/* A look first, outside a transaction: most sweeps find nothing
	 * and need not take the write lock. */
	if ((found = state_get(st, OUTBOX_SWEPT, &swept, err)) < 0)
		return -1;
	if (found) {
		if (swept >= (int64_t)now)
			return 0;
		if (sqlite3_prepare_v2(st->db, sql_any, -1, &s, NULL) !=
		    SQLITE_OK)
			return store_db_error(st, "expiry sweep", err);
		(void)sqlite3_bind_int64(s, 1, swept);
		(void)sqlite3_bind_int64(s, 2, (sqlite3_int64)now);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc == SQLITE_DONE)
			return 0;
		if (rc != SQLITE_ROW)
			return store_db_error(st, "expiry sweep", err);
	}
	if (store_begin(st, err) < 0)
		return -1;
	/* Again inside: another process may have swept meanwhile. */
	if ((found = state_get(st, OUTBOX_SWEPT, &swept, err)) < 0)
		goto fail;
	if (found && swept < (int64_t)now) {
		if (sqlite3_prepare_v2(st->db, sql_add, -1, &s, NULL) !=
		    SQLITE_OK) {
			store_db_error(st, "expiry sweep", err);
			goto fail;
		}
		(void)sqlite3_bind_int64(s, 1, swept);
		(void)sqlite3_bind_int64(s, 2, (sqlite3_int64)now);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE) {
			store_db_error(st, "expiry sweep", err);
			goto fail;
		}
		if (n_r != NULL)
			*n_r = (uint64_t)sqlite3_changes(st->db);
	}
	if ((!found || swept < (int64_t)now) &&
	    state_put(st, OUTBOX_SWEPT, (int64_t)now, 0, err) < 0)
		goto fail;
	return store_commit(st, err);
fail:
	store_rollback(st);
	return -1;
}

int
store_outbox_stats(
    struct store *st, struct store_outbox_stats *r, struct rb_error *err)
{
	sqlite3_stmt *s;
	int64_t v;
	int rc;

	memset(r, 0, sizeof(*r));
	if (sqlite3_prepare_v2(st->db,
	        "SELECT topic, count(*), min(created) FROM outbox"
	        " GROUP BY topic",
	        -1, &s, NULL) != SQLITE_OK)
		return store_db_error(st, "outbox stats", err);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int t = sqlite3_column_int(s, 0);
		uint64_t n = (uint64_t)sqlite3_column_int64(s, 1);
		time_t oldest = (time_t)sqlite3_column_int64(s, 2);

		if (t >= 0 && t < STORE_N_TOPICS)
			r->by_topic[t] += n;
		r->depth += n;
		if (r->oldest == 0 || oldest < r->oldest)
			r->oldest = oldest;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return store_db_error(st, "outbox stats", err);
	if (sqlite3_prepare_v2(st->db,
	        "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'", -1, &s,
	        NULL) != SQLITE_OK)
		return store_db_error(st, "outbox stats", err);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		r->last_id = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_db_error(st, "outbox stats", err);
	v = 0;
	if (state_get(st, OUTBOX_SWEPT, &v, err) < 0)
		return -1;
	r->swept = (time_t)v;
	v = 0;
	if (state_get(st, OUTBOX_RECORDS, &v, err) < 0)
		return -1;
	r->sends_records = (uint64_t)v;
	v = 0;
	if (state_get(st, OUTBOX_MALFORMED, &v, err) < 0)
		return -1;
	r->sends_malformed = (uint64_t)v;
	return 0;
}

/* ---- the sends topic ----------------------------------------------------- */

struct part_next {
	int32_t partition;
	int64_t next; /* -1: nothing stored */
	int changed;
};

/* The entry of partition p in parts (loaded from the database when new);
 * NULL with err set on a database error or too many partitions. */
static struct part_next *
part_get(struct store *st, sqlite3_stmt *get, struct part_next *parts,
    size_t *n, int32_t p, struct rb_error *err)
{
	struct part_next *e;
	size_t i;
	int rc;

	for (i = 0; i < *n; i++) {
		if (parts[i].partition == p)
			return &parts[i];
	}
	if (*n == OUTBOX_MAX_PARTITIONS) {
		rb_error_set(err, E2BIG, "more than %d partitions in a batch",
		    OUTBOX_MAX_PARTITIONS);
		return NULL;
	}
	e = &parts[(*n)++];
	e->partition = p;
	e->next = -1;
	e->changed = 0;
	(void)sqlite3_reset(get);
	(void)sqlite3_bind_int(get, 2, p);
	rc = sqlite3_step(get);
	if (rc == SQLITE_ROW)
		e->next = sqlite3_column_int64(get, 0);
	(void)sqlite3_reset(get);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_db_error(st, "consumed offsets", err);
		return NULL;
	}
	return e;
}

int
store_sends_consume(struct store *st, const char *topic,
    const struct store_send_record *recs, size_t n, time_t now,
    store_malformed_fn *bad, void *ctx, struct store_consume_summary *sum_r,
    struct rb_error *err)
{
	static const char sql_get[] = "SELECT next FROM kafka_offsets WHERE "
	                              "topic = ?1 AND partition = ?2";
	static const char sql_put[] =
	    "INSERT INTO kafka_offsets(topic, partition, next)"
	    " VALUES (?1, ?2, ?3) ON CONFLICT(topic, partition)"
	    " DO UPDATE SET next = excluded.next";
	struct store_consume_summary sum;
	struct part_next *parts = NULL;
	size_t n_parts = 0, i;
	sqlite3_stmt *get = NULL, *put = NULL;
	GHashTable *touched;
	uint64_t alerts = 0;
	int rc = -1;

	memset(&sum, 0, sizeof(sum));
	touched = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (store_begin(st, err) < 0)
		goto out;
	if (sqlite3_prepare_v2(st->db, sql_get, -1, &get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, sql_put, -1, &put, NULL) != SQLITE_OK) {
		store_db_error(st, "consumed offsets", err);
		goto out;
	}
	(void)bind_text(get, 1, topic);
	parts =
	    xcalloc(n < OUTBOX_MAX_PARTITIONS ? n + 1 : OUTBOX_MAX_PARTITIONS,
	        sizeof(*parts));
	for (i = 0; i < n; i++) {
		const struct store_send_record *r = &recs[i];
		struct store_import_summary line;
		struct part_next *p;
		struct rb_error lerr;
		int lrc;

		sum.records++;
		p = part_get(st, get, parts, &n_parts, r->partition, err);
		if (p == NULL)
			goto out;
		if (r->offset < p->next) {
			sum.replayed++;
			continue;
		}
		memset(&line, 0, sizeof(line));
		lrc = 1;
		if (r->len > 0)
			lrc = rates_send_line(
			    st, r->data, r->len, now, &line, touched, &lerr);
		if (lrc < 0) {
			*err = lerr;
			goto out;
		}
		if (lrc > 0) {
			sum.malformed++;
			if (bad != NULL)
				bad(r, r->len == 0 ? "empty record" : lerr.msg,
				    ctx);
		}
		sum.sends += line.imported;
		sum.skipped += line.skipped;
		p->next = r->offset + 1;
		p->changed = 1;
	}
	for (i = 0; i < n_parts; i++) {
		int step;

		if (!parts[i].changed)
			continue;
		(void)sqlite3_reset(put);
		(void)bind_text(put, 1, topic);
		(void)sqlite3_bind_int(put, 2, parts[i].partition);
		(void)sqlite3_bind_int64(put, 3, parts[i].next);
		step = sqlite3_step(put);
		if (step != SQLITE_DONE) {
			store_db_error(st, "consumed offsets", err);
			goto out;
		}
	}
	if (sum.records > sum.replayed &&
	    (state_put(st, OUTBOX_RECORDS,
	         (int64_t)(sum.records - sum.replayed), 1, err) < 0 ||
	        (sum.malformed > 0 && state_put(st, OUTBOX_MALFORMED,
	                                  (int64_t)sum.malformed, 1, err) < 0)))
		goto out;
	if (rates_evaluate_set(st, touched, now, &alerts, err) < 0)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(get);
	sqlite3_finalize(put);
	free(parts);
	g_hash_table_destroy(touched);
	if (rc == 0)
		rc = store_commit(st, err);
	else
		store_rollback(st);
	if (rc == 0 && sum_r != NULL)
		*sum_r = sum;
	return rc;
}

int
store_sends_offsets(struct store *st, const char *topic, store_offset_fn *fn,
    void *ctx, struct rb_error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db,
	        "SELECT topic, partition, next FROM kafka_offsets"
	        " WHERE ?1 IS NULL OR topic = ?1 ORDER BY topic, partition",
	        -1, &s, NULL) != SQLITE_OK)
		return store_db_error(st, "consumed offsets", err);
	(void)bind_text(s, 1, topic);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (fn(col_text(s, 0), sqlite3_column_int(s, 1),
		        sqlite3_column_int64(s, 2), ctx) < 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return store_db_error(st, "consumed offsets", err);
	return 0;
}
