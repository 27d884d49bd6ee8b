/*
 * prep: everything about one message that needs no database writes, so
 * that it runs in the classifier threads: the dedupe key (and a look at
 * the committed messages, to skip the work for a duplicate), the
 * verdict, the attribution, the raw bytes compressed, and one events row
 * per recipient with its SES-shaped JSON, in which rebound.identity,
 * rebound.attribution, rebound.trusted, rebound.geo and rebound.eventId
 * are set.  An event with several recipients gives one row each, whose
 * JSON lists that recipient only.  Feedback that could not be
 * classified is marked for the review queue.  Thread-safe for distinct
 * items and contexts.
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "store_int.h"

/* A report time this far past `now` is a wrong clock: use now. */
#define PREP_MAX_FUTURE 3600
/* Dedupe look-ups of a worker in one read transaction of its read-only
 * connection: starting one per message cost ~30 us under load (WAL
 * index locks, a cold page cache); a snapshot a few hundred messages
 * old only lets a duplicate through to the committer, which checks
 * again on its own connection. */
#define PREP_SNAPSHOT_LOOKUPS 256
/* jansson output: one line, the classifier's key order. */
#define PREP_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

static void
item_row_clear(struct item_row *r)
{
	free(r->json);
	r->json = NULL;
}

void
item_clear(struct item *it)
{
	size_t i;

	for (i = 0; i < it->n_rows; i++)
		item_row_clear(&it->rows[i]);
	it->n_rows = 0;
	free(it->review_json);
	it->review_json = NULL;
	it->review_why = NULL;
	if (it->classified)
		classify_verdict_clear(&it->v);
	it->classified = 0;
	it->layout = it->feedback_id = it->subject = it->from = NULL;
	it->dup = 0;
	it->raw_len = 0;
	it->encoding = RAW_AS_IS;
}

void
item_free(struct item *it)
{
	item_clear(it);
	free(it->rows);
	free(it->msg);
	free(it->raw);
	free(it->strs);
	memset(it, 0, sizeof(*it));
}

static struct item_row *
new_row(struct item *it)
{
	struct item_row *r;

	if (it->n_rows == it->cap_rows) {
		it->cap_rows = it->cap_rows ? it->cap_rows * 2 : 4;
		it->rows = xrealloc(it->rows, it->cap_rows * sizeof(*r));
	}
	r = &it->rows[it->n_rows++];
	memset(r, 0, sizeof(*r));
	return r;
}

static char *
dump(json_t *root)
{
	char *s = json_dumps(root, PREP_JSON_FLAGS);

	if (s == NULL)
		rb_panic("json_dumps failed");
	return s;
}

/* The recipient list of an event body, by event type (or NULL). */
static json_t *
recipient_list(json_t *root, enum classify_event_type t, const char **key_r,
    json_t **body_r)
{
	const char *obj = NULL, *key = NULL;
	json_t *body;

	switch (t) {
	case CLASSIFY_EVENT_BOUNCE:
		obj = "bounce";
		key = "bouncedRecipients";
		break;
	case CLASSIFY_EVENT_COMPLAINT:
		obj = "complaint";
		key = "complainedRecipients";
		break;
	case CLASSIFY_EVENT_DELAY:
		obj = "deliveryDelay";
		key = "delayedRecipients";
		break;
	case CLASSIFY_EVENT_DELIVERY:
		obj = "delivery";
		key = "recipients";
		break;
	case CLASSIFY_EVENT_AUTOREPLY:
	case CLASSIFY_EVENT_NOT_FEEDBACK:
		return NULL;
	}
	body = json_object_get(root, obj);
	*key_r = key;
	*body_r = body;
	return json_is_object(body) ? json_object_get(body, key) : NULL;
}

/*
 * rebound.identity, .attribution and .trusted first, in that order,
 * then the classifier's other members (geo replaced when given).
 */
static void
patch_rebound(json_t *root, const struct attrib_result *at, json_t *geo)
{
	json_t *rb = json_object_get(root, "rebound"), *n, *v;
	const char *key;

	if (!json_is_object(rb))
		return;
	n = json_object();
	if (at->identity[0] != '\0')
		json_object_set_new(n, "identity", json_string(at->identity));
	json_object_set_new(n, "attribution", json_string(at->attribution));
	json_object_set_new(n, "trusted", json_boolean(at->trusted));
	json_object_foreach(rb, key, v)
	{
		if (strcmp(key, "identity") == 0 ||
		    strcmp(key, "attribution") == 0 ||
		    strcmp(key, "trusted") == 0)
			continue;
		if (geo != NULL && strcmp(key, "geo") == 0)
			json_object_set(n, key, geo);
		else
			json_object_set(n, key, v);
	}
	json_object_set_new(root, "rebound", n);
}

/* s as a JSON string, escaped as jansson escapes it. */
static int
put_json_string(struct buf *b, const char *s)
{
	int rc = buf_putc(b, '"');

	for (; *s != '\0' && rc == 0; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"':
			rc = buf_append(b, "\\\"", 2);
			break;
		case '\\':
			rc = buf_append(b, "\\\\", 2);
			break;
		case '\b':
			rc = buf_append(b, "\\b", 2);
			break;
		case '\f':
			rc = buf_append(b, "\\f", 2);
			break;
		case '\n':
			rc = buf_append(b, "\\n", 2);
			break;
		case '\r':
			rc = buf_append(b, "\\r", 2);
			break;
		case '\t':
			rc = buf_append(b, "\\t", 2);
			break;
		default:
			if (c < 0x20)
				rc = buf_printf(b, "\\u%04X", c);
			else
				rc = buf_putc(b, c);
			break;
		}
	}
	if (rc == 0)
		rc = buf_putc(b, '"');
	return rc;
}

/* Past the JSON string starting at p (on its opening quote), or NULL. */
static const char *
skip_json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (; *p != '\0'; p++) {
		if (*p == '\\') {
			if (*++p == '\0')
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

char *
prep_patch_json(const char *js, const struct attrib_result *at)
{
	static const char key[] = ",\"rebound\":{";
	static const char id_key[] = "\"identity\":";
	static const char at_key[] = "\"attribution\":";
	const char *rb = NULL, *p, *q;
	struct buf b;

	/* The last one: a quote inside a value is escaped, so this is the
	 * top-level member the classifier writes last. */
	for (p = js; (p = strstr(p, key)) != NULL; p++)
		rb = p;
	if (rb == NULL)
		return NULL;
	p = rb + sizeof(key) - 1;
	if (strncmp(p, id_key, sizeof(id_key) - 1) == 0) {
		q = skip_json_string(p + sizeof(id_key) - 1);
		if (q == NULL || *q != ',')
			return NULL;
		p = q + 1;
	}
	if (strncmp(p, at_key, sizeof(at_key) - 1) != 0)
		return NULL;
	q = skip_json_string(p + sizeof(at_key) - 1);
	if (q == NULL || (*q != ',' && *q != '}'))
		return NULL;
	if (!g_utf8_validate(at->identity, -1, NULL))
		return NULL;
	buf_init(&b, CLASSIFY_MAX_MESSAGE);
	if (buf_append(&b, js, (size_t)(rb - js) + sizeof(key) - 1) < 0 ||
	    (at->identity[0] != '\0' &&
	        (buf_append(&b, id_key, sizeof(id_key) - 1) < 0 ||
	            put_json_string(&b, at->identity) < 0 ||
	            buf_putc(&b, ',') < 0)) ||
	    buf_printf(&b, "%s\"%s\",\"trusted\":%s", at_key, at->attribution,
	        at->trusted ? "true" : "false") < 0 ||
	    buf_append(&b, q, strlen(q)) < 0) {
		buf_free(&b);
		return NULL;
	}
	return (char *)buf_take(&b, NULL);
}

static void
fill_row(const struct prep_ctx *pc, struct item *it, struct item_row *row,
    const struct classify_recipient *r, const struct classify_event *e)
{
	const struct classify_verdict *v = &it->v;

	row->type = e->type;
	row->type_name = classify_event_type_name(e->type);
	row->trusted = attrib_row_trusted(&it->at, r);
	row->bounce_type = e->type == CLASSIFY_EVENT_BOUNCE
	                       ? e->bounce_type
	                       : CLASSIFY_BOUNCE_NONE;
	if (row->bounce_type != CLASSIFY_BOUNCE_NONE)
		row->bounce_name = classify_bounce_type_name(row->bounce_type);
	if (e->type == CLASSIFY_EVENT_COMPLAINT)
		row->feedback_type = v->feedback_type;
	if (r == NULL)
		return;
	row->reason = classify_reason_name(r->reason);
	row->recipient =
	    r->address != NULL && r->address[0] != '\0' ? r->address : NULL;
	row->status =
	    r->status != NULL && r->status[0] != '\0' ? r->status : NULL;
	if (row->recipient == NULL ||
	    address_normalize(row->recipient, pc->conf->local_sensitive,
	        row->address, sizeof(row->address), NULL) < 0)
		row->address[0] = '\0';
	row->original[0] = '\0';
	if (r->original != NULL && r->original[0] != '\0' &&
	    (address_normalize(r->original, pc->conf->local_sensitive,
	         row->original, sizeof(row->original), NULL) < 0 ||
	        strcmp(row->original, row->address) == 0))
		row->original[0] = '\0';
}

static void
mark_review(struct item *it, const char *why, json_t *root)
{
	if (it->review_why != NULL)
		return;
	it->review_why = why;
	it->review_json = dump(root);
}

/*
 * Rows of event ei (n recipients, at most one) from its JSON text js,
 * which this takes over.  0 when the text is not as expected (js is
 * left to the caller then).
 */
static int
fast_rows(struct prep_ctx *pc, struct item *it, size_t ei, char *js, size_t n)
{
	const struct classify_verdict *v = &it->v;
	const struct classify_event *e = &v->events[ei];
	const struct classify_recipient *r = NULL;
	struct attrib_result at = it->at;
	struct item_row *row;
	char *out;
	size_t i;

	for (i = 0; i < v->n_recipients && n > 0; i++) {
		if (v->recipients[i].event == ei) {
			r = &v->recipients[i];
			break;
		}
	}
	at.trusted = attrib_row_trusted(&it->at, r);
	out = prep_patch_json(js, &at);
	if (out == NULL)
		return 0;
	free(js);
	if (e->type == CLASSIFY_EVENT_NOT_FEEDBACK) {
		if (it->review_why == NULL) {
			it->review_why = "not-feedback";
			it->review_json = out;
		} else {
			free(out);
		}
		return 1;
	}
	if (e->type == CLASSIFY_EVENT_BOUNCE && it->review_why == NULL) {
		if (r == NULL || r->address == NULL || r->address[0] == '\0')
			it->review_why = "no-recipient";
		else if (r->reason == CLASSIFY_R_UNDEFINED)
			it->review_why = "reason-undefined";
		if (it->review_why != NULL)
			it->review_json = xstrdup(out);
	}
	row = new_row(it);
	fill_row(pc, it, row, r, e);
	row->json = out;
	return 1;
}

/* Rows of event ei. */
static void
event_rows(struct prep_ctx *pc, struct item *it, size_t ei,
    const struct classify_source *csrc, json_t *geo)
{
	const struct classify_verdict *v = &it->v;
	const struct classify_event *e = &v->events[ei];
	json_t *root, *list, *body = NULL, *one = NULL;
	const char *key = NULL;
	char *js;
	size_t i, k = 0, n = 0;

	js = classify_event_json(v, ei, csrc);
	if (js == NULL)
		rb_panic("no JSON for event %zu", ei);
	for (i = 0; i < v->n_recipients; i++) {
		if (v->recipients[i].event == ei)
			n++;
	}
	/* The common case (one recipient or none, no geo): splice the
	 * attribution into the classifier's text, no parse and dump. */
	if (n <= 1 && geo == NULL && fast_rows(pc, it, ei, js, n))
		return;
	root = json_loads(js, 0, NULL);
	free(js);
	if (root == NULL)
		rb_panic("classifier JSON does not parse");
	patch_rebound(root, &it->at, geo);
	if (e->type == CLASSIFY_EVENT_NOT_FEEDBACK) {
		mark_review(it, "not-feedback", root);
		json_decref(root);
		return;
	}
	list = recipient_list(root, e->type, &key, &body);
	if (e->type == CLASSIFY_EVENT_BOUNCE) {
		int undefined = 0, anonymous = n == 0;

		for (i = 0; i < v->n_recipients; i++) {
			const struct classify_recipient *r = &v->recipients[i];

			if (r->event != ei)
				continue;
			if (r->reason == CLASSIFY_R_UNDEFINED)
				undefined = 1;
			if (r->address == NULL || r->address[0] == '\0')
				anonymous = 1;
		}
		if (anonymous)
			mark_review(it, "no-recipient", root);
		else if (undefined)
			mark_review(it, "reason-undefined", root);
	}
	if (n == 0) {
		struct item_row *row = new_row(it);

		fill_row(pc, it, row, NULL, e);
		row->json = dump(root);
		json_decref(root);
		return;
	}
	if (list != NULL && n > 1 && json_array_size(list) == n) {
		json_incref(list);
		one = json_array();
	}
	for (i = 0; i < v->n_recipients; i++) {
		const struct classify_recipient *r = &v->recipients[i];
		struct item_row *row;

		if (r->event != ei)
			continue;
		row = new_row(it);
		fill_row(pc, it, row, r, e);
		if (one != NULL) {
			/* This recipient only, in the list of its event. */
			json_array_clear(one);
			json_array_append(one, json_array_get(list, k));
			json_object_set(body, key, one);
		}
		/* A row's own trust: its recipient and the token's. */
		json_object_set_new(json_object_get(root, "rebound"), "trusted",
		    json_boolean(row->trusted));
		row->json = dump(root);
		k++;
	}
	if (one != NULL) {
		json_object_set(body, key, list);
		json_decref(list);
		json_decref(one);
	}
	json_decref(root);
}

/* Room for s and its NUL in a pool (0 for NULL). */
static size_t
pool_need(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

/* s copied to *cur (which has room, pool_need), advanced: the copy. */
static const char *
pool_put(char **cur, const char *s)
{
	size_t n = pool_need(s);
	const char *p = *cur;

	if (n == 0)
		return NULL;
	memcpy(*cur, s, n);
	*cur += n;
	return p;
}

/*
 * Copy what the committer needs of the verdict (the feedback message's
 * fields, the rows' strings) into it->strs and free the verdict: an item
 * waiting for its commit then holds no arena.
 */
static void
item_detach(struct item *it)
{
	const struct classify_verdict *v = &it->v;
	size_t need, i;
	char *cur;

	it->kind = v->kind;
	need = pool_need(v->layout) + pool_need(v->feedback_id) +
	       pool_need(v->report_subject) + pool_need(v->report_from);
	for (i = 0; i < it->n_rows; i++)
		need += pool_need(it->rows[i].recipient) +
		        pool_need(it->rows[i].status) +
		        pool_need(it->rows[i].feedback_type);
	if (it->strs_cap < need) {
		free(it->strs);
		it->strs = xmalloc(need);
		it->strs_cap = need;
	}
	cur = it->strs;
	it->layout = pool_put(&cur, v->layout);
	it->feedback_id = pool_put(&cur, v->feedback_id);
	it->subject = pool_put(&cur, v->report_subject);
	it->from = pool_put(&cur, v->report_from);
	for (i = 0; i < it->n_rows; i++) {
		struct item_row *r = &it->rows[i];

		r->recipient = pool_put(&cur, r->recipient);
		r->status = pool_put(&cur, r->status);
		r->feedback_type = pool_put(&cur, r->feedback_type);
	}
	classify_verdict_clear(&it->v);
	it->classified = 0;
}

void
prep_idle(struct prep_ctx *pc)
{
	if (pc->ro != NULL && sqlite3_get_autocommit(pc->ro) == 0)
		(void)sqlite3_exec(pc->ro, "COMMIT", NULL, NULL, NULL);
	pc->snapshot_left = 0;
}

/* Was the message of key committed before?  Only a hint on a read-only
 * connection (a snapshot, see PREP_SNAPSHOT_LOOKUPS); final on the
 * committer's own (store.workers = 0). */
static int
prep_seen(struct prep_ctx *pc, const unsigned char *key)
{
	int rc;

	if (pc->ro != NULL && pc->snapshot_left == 0) {
		prep_idle(pc);
		if (sqlite3_exec(pc->ro, "BEGIN", NULL, NULL, NULL) !=
		    SQLITE_OK)
			return 0;
		pc->snapshot_left = PREP_SNAPSHOT_LOOKUPS;
	}
	if (pc->snapshot_left > 0)
		pc->snapshot_left--;
	(void)sqlite3_reset(pc->dup);
	(void)sqlite3_bind_blob(pc->dup, 1, key, STORE_KEY_LEN, SQLITE_STATIC);
	rc = sqlite3_step(pc->dup);
	(void)sqlite3_reset(pc->dup);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		prep_idle(pc); /* busy or failed: a fresh snapshot next time */
	return rc == SQLITE_ROW;
}

void
prep_item(struct prep_ctx *pc, struct item *it)
{
	struct classify_verdict *v = &it->v;
	struct classify_source csrc;
	json_t *geo;
	size_t i;

	dedupe_key(it->msg, it->len, it->key);
	/* Known: no need to classify it.  Not known: apply.c's insert
	 * settles it (a duplicate of the open batch, or of a process that
	 * committed meanwhile). */
	if (pc->dup != NULL && (it->dup = prep_seen(pc, it->key)) != 0)
		return;
	(void)classify_message(pc->rules, it->msg, it->len, pc->now, v);
	it->classified = 1;
	attrib_find(pc->conf, pc->known, v, it->msg, it->len,
	    it->src.envelope_to, &it->at);
	it->time = v->report_time;
	if (it->time <= 0 || it->time > pc->now + PREP_MAX_FUTURE)
		it->time = pc->now;
	it->encoding = RAW_AS_IS;
	if (pc->conf->compress &&
	    raw_compress(pc->compressor, it->msg, it->len, &it->raw,
	        &it->raw_cap, &it->raw_len) == 0 &&
	    it->raw_len < it->len)
		it->encoding = RAW_LZ4;
	csrc.file = it->src.file;
	csrc.index = it->src.index;
	csrc.session = NULL;
	csrc.via = it->src.via;
	geo = attrib_geo(pc->conf, v);
	for (i = 0; i < v->n_events; i++)
		event_rows(pc, it, i, &csrc, geo);
	if (geo != NULL)
		json_decref(geo);
	if (v->n_events == 0 && it->review_why == NULL) {
		/* No event at all: nothing to count, keep it for a look. */
		json_t *root = json_object();

		json_object_set_new(
		    root, "eventType", json_string("NotFeedback"));
		mark_review(it, "not-feedback", root);
		json_decref(root);
	}
	/* rebound.eventId: the dedupe key and the row, so the same event
	 * has the same id however often it is ingested (outbox.c). */
	for (i = 0; i < it->n_rows; i++)
		outbox_event_json(
		    &it->rows[i].json, it->key, i, it->rows[i].type);
	item_detach(it);
}
