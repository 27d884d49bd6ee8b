/*
 * api_intake: what comes in over HTTP.  POST /v1/sends: send counts (the
 * rates' denominators) as count items in one transaction, or SES Send
 * events (an object, an array or JSON lines) through the same import as
 * `rebound sends`.  POST /v1/messages: one raw feedback message handed
 * to the embedding daemon's pipeline (the submit hook: spooled and
 * processed like an SMTP delivery), then its events read back by the
 * message's content, so a retry answers with the same ids.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

/* ---- POST /v1/sends -------------------------------------------------------
 */

/* A count item into *s (strings borrowed from o); -1 with the reply. */
static int
send_item(struct req *rq, json_t *o, const char *where, struct store_send *s)
{
	static const char *const fields[] = {
	    "identity", "count", "timestamp", NULL};
	char p[64];
	json_t *id, *count, *ts;
	const char *k;
	json_t *v;

	if (!json_is_object(o)) {
		reply_bad_param(rq, where, "%s: an object", where);
		return -1;
	}
	json_object_foreach(o, k, v)
	{
		size_t i;
		int ok = 0;

		for (i = 0; fields[i] != NULL; i++)
			ok |= strcmp(fields[i], k) == 0;
		if (!ok) {
			(void)snprintf(p, sizeof(p), "%s.%s", where, k);
			reply_bad_param(rq, p, "%s: unknown field", p);
			return -1;
		}
	}
	id = json_object_get(o, "identity");
	count = json_object_get(o, "count");
	ts = json_object_get(o, "timestamp");
	if (!json_is_string(id)) {
		(void)snprintf(p, sizeof(p), "%s.identity", where);
		reply_bad_param(rq, p, "%s: a string is needed", p);
		return -1;
	}
	if (!json_is_integer(count) || json_integer_value(count) < 0 ||
	    (uint64_t)json_integer_value(count) > HTTP_MAX_SEND_COUNT) {
		(void)snprintf(p, sizeof(p), "%s.count", where);
		reply_bad_param(rq, p, "%s: an integer from 0 to %llu", p,
		    (unsigned long long)HTTP_MAX_SEND_COUNT);
		return -1;
	}
	s->identity = json_string_value(id);
	s->count = (uint64_t)json_integer_value(count);
	s->at = rq->now;
	if (ts == NULL)
		return 0;
	if (json_is_integer(ts) && json_integer_value(ts) > 0) {
		s->at = (time_t)json_integer_value(ts);
		return 0;
	}
	if (json_is_string(ts) &&
	    config_parse_time(json_string_value(ts), &s->at) == 0)
		return 0;
	(void)snprintf(p, sizeof(p), "%s.timestamp", where);
	reply_bad_param(rq, p, "%s: a time as RFC 3339 or unix seconds", p);
	return -1;
}

static void
sends_counts(struct req *rq, json_t *list, int single)
{
	struct store_send *v;
	struct rb_error err;
	struct store *st;
	uint64_t total = 0;
	size_t n = single ? 1 : json_array_size(list), i, bad = 0;
	struct jw *w;

	if (!single && (!json_is_array(list) || n == 0 || n > HTTP_MAX_SENDS)) {
		reply_bad_param(rq, "sends", "sends: an array of 1 to %d items",
		    HTTP_MAX_SENDS);
		return;
	}
	v = xcalloc(n, sizeof(*v));
	for (i = 0; i < n; i++) {
		char where[32];

		(void)snprintf(where, sizeof(where), "sends[%zu]", i);
		if (send_item(rq, single ? list : json_array_get(list, i),
		        single ? "body" : where, &v[i]) < 0)
			goto out;
		total += v[i].count;
	}
	st = req_writer(rq);
	if (store_sends_add_many(st, v, n, rq->now, &bad, &err) < 0) {
		if (err.code == EINVAL) {
			char p[48];

			(void)snprintf(p, sizeof(p), "%s%zu%s",
			    single ? "" : "sends[", bad,
			    single ? "" : "].identity");
			reply_bad_param(rq, single ? "identity" : p, "%s: %s",
			    single ? "identity" : p, err.msg);
		} else {
			reply_store_error(rq, st, &err);
		}
		goto out;
	}
	w = reply_json(rq, 200);
	jw_obj(w);
	jw_kuint(w, "imported", total);
	jw_kuint(w, "skipped", 0);
	jw_obj_end(w);
out:
	free(v);
}

/* SES events as JSON lines (data, len: owned by the caller). */
static void
sends_events(struct req *rq, char *data, size_t len)
{
	struct store_import_summary sum;
	struct rb_error err;
	struct store *st;
	struct jw *w;
	FILE *fp;
	int rc;

	fp = len > 0 ? fmemopen(data, len, "r") : NULL;
	if (fp == NULL) {
		reply_error(rq, 400, "BadRequest", "body", "body: no events");
		return;
	}
	st = req_writer(rq);
	rc = store_sends_import(st, fp, "body", rq->now, &sum, &err);
	fclose(fp);
	if (rc < 0) {
		reply_import_error(rq, st, &err);
		return;
	}
	w = reply_json(rq, 200);
	jw_obj(w);
	jw_kuint(w, "imported", sum.imported);
	jw_kuint(w, "skipped", sum.skipped);
	jw_obj_end(w);
}

void
api_sends(struct req *rq)
{
	const char *ct = req_header(rq, "Content-Type");
	json_t *root;
	char *lines;
	size_t len = 0;

	if (params_check(rq, NULL) < 0)
		return;
	if (ct != NULL && strncmp(ct, "application/x-ndjson", 20) == 0) {
		lines = (char *)buf_take(&rq->body, &len);
		sends_events(rq, lines, len);
		free(lines);
		return;
	}
	if ((root = body_json(rq, 1)) == NULL)
		return;
	if (json_is_object(root) && json_object_get(root, "sends") != NULL) {
		if (json_object_size(root) != 1)
			reply_bad_param(rq, "body",
			    "body: {\"sends\": [...]} and nothing else");
		else
			sends_counts(rq, json_object_get(root, "sends"), 0);
	} else if (json_is_object(root) &&
	           json_object_get(root, "identity") != NULL) {
		sends_counts(rq, root, 1);
	} else if ((lines = body_lines(rq, root, &len)) != NULL) {
		sends_events(rq, lines, len);
		free(lines);
	}
	json_decref(root);
}

/* ---- POST /v1/messages ----------------------------------------------------
 */

struct msg_events {
	struct jw *w; /* NULL: only count */
	size_t n;
};

static int
on_msg_event(const struct store_event *ev, void *ctx)
{
	struct msg_events *me = ctx;

	me->n++;
	if (me->w != NULL) {
		jw_obj(me->w);
		jw_kid(me->w, "id", ev->id);
		jw_kstr(me->w, "eventType", ev->type);
		jw_kstr(me->w, "recipient", ev->recipient);
		jw_kstr(me->w, "reason", ev->reason);
		jw_kstr(me->w, "bounceType", ev->bounce_type);
		jw_obj_end(me->w);
	}
	return 0;
}

static int
on_msg_id(const struct store_event *ev, void *ctx)
{
	jw_id(ctx, ev->id);
	return 0;
}

void
api_messages(struct req *rq)
{
	struct http_server *srv = rq->srv;
	struct msg_events me = {NULL, 0};
	struct rb_error err;
	struct store *st;
	struct jw *w;
	int existed, rc;

	if (params_check(rq, NULL) < 0 || (st = req_reader(rq)) == NULL)
		return;
	if (rq->body.len == 0) {
		reply_error(rq, 400, "BadRequest", "body",
		    "body: one raw RFC 5322 feedback message is needed");
		return;
	}
	if (srv->hooks.submit == NULL) {
		rq->retry_after = 1;
		reply_error(rq, 503, "NotReady", NULL,
		    "message intake is not running in this process");
		return;
	}
	metrics_message_received(srv);
	existed = store_message_events(
	    st, rq->body.data, rq->body.len, on_msg_event, &me, &err);
	if (existed < 0) {
		reply_store_error(rq, st, &err);
		return;
	}
	rc = srv->hooks.submit(
	    srv->hooks.ctx, rq->body.data, rq->body.len, &err);
	if (rc > 0) {
		rq->retry_after = 1;
		reply_error(rq, 503, "NotReady", NULL,
		    "the pipeline does not accept messages now; retry");
		return;
	}
	if (rc < 0) {
		log_error("http: POST /v1/messages: %s", err.msg);
		reply_error(rq, 500, "InternalError", NULL,
		    "the message could not be stored (logged by the server)");
		return;
	}
	w = reply_json(rq, 202);
	jw_obj(w);
	jw_kbool(w, "duplicate", existed == 1);
	jw_key(w, "eventIds");
	jw_arr(w);
	rc = store_message_events(
	    st, rq->body.data, rq->body.len, on_msg_id, w, &err);
	jw_arr_end(w);
	if (rc == 1) {
		me.w = w;
		jw_key(w, "events");
		jw_arr(w);
		rc = store_message_events(
		    st, rq->body.data, rq->body.len, on_msg_event, &me, &err);
		jw_arr_end(w);
	}
	jw_obj_end(w);
	if (rc < 0) {
		reply_store_error(rq, st, &err);
	} else if (rc == 0) {
		log_error("http: POST /v1/messages: committed, but not found "
		          "in the store");
		reply_error(rq, 500, "InternalError", NULL,
		    "the message was not found after its commit");
	}
}
