/*
 * api_events: stored events over HTTP: GET /v1/events (filters, newest
 * first, paged by (time, id)), GET /v1/events/{id} and the original
 * feedback message GET /v1/events/{id}/raw, sent byte for byte as
 * message/rfc822.  Each event carries the SES-shaped JSON as stored,
 * spliced into the answer without parsing it again.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

static const char *const event_types[] = {
    "Bounce", "Complaint", "DeliveryDelay", "Delivery", "AutoReply", NULL};

void
api_event_object(struct jw *w, const struct store_event *ev)
{
	jw_obj(w);
	jw_kid(w, "id", ev->id);
	jw_ktime(w, "time", ev->time);
	jw_kstr(w, "eventType", ev->type);
	jw_kstr(w, "identity", ev->identity);
	jw_kstr(w, "recipient", ev->recipient);
	jw_kstr(w, "reason", ev->reason);
	jw_kstr(w, "bounceType", ev->bounce_type);
	jw_kstr(w, "status", ev->status);
	jw_kbool(w, "trusted", ev->trusted);
	jw_key(w, "event");
	jw_raw(w, ev->json);
	jw_obj_end(w);
}

static int
on_event(const struct store_event *ev, void *ctx)
{
	api_event_object(ctx, ev);
	return 0;
}

void
api_events(struct req *rq)
{
	static const char *const allowed[] = {"identity", "eventType",
	    "recipient", "since", "until", "pageSize", "nextToken", NULL};
	static const char *const filters[] = {
	    "identity", "eventType", "recipient", "since", "until", NULL};
	char tstore[HTTP_TOKEN_TEXT_MAX + 1], next[HTTP_TOKEN_TEXT_MAX + 1];
	char id[STORE_MAX_IDENTITY], rcpt[STORE_MAX_ADDRESS];
	const char *fields[2];
	struct store_event_filter f;
	struct store_event_pos after, pos;
	struct rb_error err;
	struct store *st;
	struct jw *w;
	size_t limit;
	int type, more = 0, t;
	uint32_t fh;

	if (params_check(rq, allowed) < 0 || (st = req_reader(rq)) == NULL)
		return;
	memset(&f, 0, sizeof(f));
	if (param_enum(rq, "eventType", event_types, &type) < 0 ||
	    param_time(rq, "since", &f.since) < 0 ||
	    param_time(rq, "until", &f.until) < 0 ||
	    param_page_size(rq, &limit) < 0)
		return;
	if (f.since != 0 && f.until != 0 && f.since >= f.until) {
		reply_bad_param(rq, "since", "since: must be before until");
		return;
	}
	f.type = type >= 0 ? event_types[type] : NULL;
	if (param(rq, "identity") != NULL) {
		if (store_identity_normalize(
		        st, param(rq, "identity"), id, sizeof(id), &err) < 0) {
			reply_bad_param(
			    rq, "identity", "identity: %s", err.msg);
			return;
		}
		f.identity = id;
	}
	if (param(rq, "recipient") != NULL) {
		if (store_address_normalize(st, param(rq, "recipient"), rcpt,
		        sizeof(rcpt), &err) < 0) {
			reply_bad_param(
			    rq, "recipient", "recipient: %s", err.msg);
			return;
		}
		f.recipient = rcpt;
	}
	fh = params_hash(rq, filters);
	t = token_read(rq, 'e', fh, tstore, fields, 2);
	if (t < 0)
		return;
	if (t == 1) {
		uint64_t tm, ei;

		if (parse_u64(fields[0], &tm) < 0 || tm > INT64_MAX ||
		    parse_u64(fields[1], &ei) < 0 || ei > INT64_MAX) {
			reply_bad_param(
			    rq, "nextToken", "nextToken: not valid");
			return;
		}
		after.time = (time_t)tm;
		after.id = (int64_t)ei;
	}
	w = reply_json(rq, 200);
	jw_obj(w);
	jw_key(w, "events");
	jw_arr(w);
	if (store_events_page(st, &f, t == 1 ? &after : NULL, limit, on_event,
	        w, &more, &pos, &err) < 0) {
		reply_store_error(rq, st, &err);
		return;
	}
	jw_arr_end(w);
	if (more) {
		char a[32], b[32];
		const char *nf[2] = {a, b};

		(void)snprintf(a, sizeof(a), "%" PRId64, (int64_t)pos.time);
		(void)snprintf(b, sizeof(b), "%" PRId64, pos.id);
		token_make(next, 'e', fh, nf, 2);
		jw_kstr(w, "nextToken", next);
	}
	jw_obj_end(w);
}

void
api_event(struct req *rq)
{
	struct rb_error err;
	struct store *st;
	int64_t id;
	struct jw *w;
	int rc;

	if (params_check(rq, NULL) < 0 ||
	    param_id(rq, rq->arg[0], "id", &id) < 0 ||
	    (st = req_reader(rq)) == NULL)
		return;
	w = reply_json(rq, 200);
	rc = store_event_get(st, id, on_event, w, &err);
	if (rc < 0)
		reply_store_error(rq, st, &err);
	else if (rc == 0)
		reply_error(rq, 404, "NotFound", NULL, "no event %" PRId64, id);
}

void
api_event_raw(struct req *rq)
{
	unsigned char *data = NULL;
	struct rb_error err;
	struct store *st;
	size_t len = 0;
	int64_t id;
	int rc;

	if (params_check(rq, NULL) < 0 ||
	    param_id(rq, rq->arg[0], "id", &id) < 0 ||
	    (st = req_reader(rq)) == NULL)
		return;
	rc = store_raw_get(st, id, 1, &data, &len, &err);
	if (rc < 0) {
		reply_store_error(rq, st, &err);
		return;
	}
	if (rc == 0) {
		reply_error(rq, 404, "NotFound", NULL,
		    "no raw message for event %" PRId64
		    " (unknown, or past retention.raw)",
		    id);
		return;
	}
	buf_free(&rq->out);
	rq->out.data = data;
	rq->out.len = len;
	rq->out.cap = len + 1;
	rq->out.max = len + 1;
	rq->status = 200;
	rq->ctype = "message/rfc822";
}
