/*
 * api_suppression: the suppression lists over HTTP: the paged listing,
 * the look-up of one address (the call a sender makes before each
 * message: one normalisation and two cached point queries), PUT and
 * DELETE of an account-level entry, the bulk check of up to
 * HTTP_MAX_CHECK addresses and the bulk import (the formats of
 * `rebound suppression export`).  Shapes and limits: http/API.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

/* Entries of one address kept for an answer: the global one and one per
 * account; more accounts than this for one address are not listed. */
#define SUPP_MAX_ENTRIES 64

static const char *const list_names[] = {"global", "account", NULL};
static const char *const reason_names[] = {"BOUNCE", "COMPLAINT", NULL};

void
api_suppression_entry(struct jw *w, const struct store_suppression *e)
{
	int global = e->list == STORE_LIST_GLOBAL;

	jw_obj(w);
	jw_kstr(w, "emailAddress", e->address);
	jw_kstr(w, "list", global ? "global" : "account");
	if (!global)
		jw_kstr(w, "account", e->account);
	jw_kstr(w, "reason", e->reason);
	jw_ktime(w, "lastUpdateTime", e->since);
	jw_ktime(w, "expiresAt", global ? e->until : 0);
	if (global) {
		jw_kstr(w, "bounceReason", e->detail);
		jw_kuint(w, "strikes", e->strikes);
	} else {
		jw_kstr(w, "origin", e->detail);
	}
	jw_kid(w, "eventId", e->event_id);
	jw_obj_end(w);
}

/* An account parameter or field: 1 to STORE_MAX_ACCOUNT - 1 bytes. */
static int
account_ok(struct req *rq, const char *a, const char *pname)
{
	if (a != NULL && (a[0] == '\0' || strlen(a) >= STORE_MAX_ACCOUNT)) {
		reply_bad_param(rq, pname, "%s: 1 to %d bytes", pname,
		    STORE_MAX_ACCOUNT - 1);
		return -1;
	}
	return 0;
}

/* ---- entries of one address -----------------------------------------------
 */

struct entry_copy {
	struct store_suppression e;
	char account[STORE_MAX_ACCOUNT];
	char detail[64];
	const char *reason; /* static */
};

struct entries {
	struct entry_copy v[SUPP_MAX_ENTRIES];
	size_t n;
	char address[STORE_MAX_ADDRESS];
};

static int
on_entry(const struct store_suppression *e, void *ctx)
{
	struct entries *es = ctx;
	struct entry_copy *c;

	if (es->n == SUPP_MAX_ENTRIES)
		return -1;
	c = &es->v[es->n++];
	c->e = *e;
	(void)snprintf(c->account, sizeof(c->account), "%s",
	    e->account != NULL ? e->account : "");
	(void)snprintf(c->detail, sizeof(c->detail), "%s",
	    e->detail != NULL ? e->detail : "");
	c->e.address = es->address;
	c->e.account = e->account != NULL ? c->account : NULL;
	c->e.detail = e->detail != NULL ? c->detail : NULL;
	c->e.reason = e->reason != NULL && strcmp(e->reason, "COMPLAINT") == 0
	                  ? "COMPLAINT"
	                  : "BOUNCE";
	return 0;
}

/* The entry that lasts longest: an account one (until removed), else
 * the global one. */
static const struct store_suppression *
entries_top(const struct entries *es)
{
	size_t i;

	for (i = 0; i < es->n; i++) {
		if (es->v[i].e.list == STORE_LIST_ACCOUNT)
			return &es->v[i].e;
	}
	return es->n > 0 ? &es->v[0].e : NULL;
}

/* Check one normalised address: 0 (es filled) or -1 with err. */
static int
entries_get(struct store *st, const char *addr, const char *account, time_t now,
    struct entries *es, struct rb_error *err)
{
	int suppressed;

	es->n = 0;
	(void)snprintf(es->address, sizeof(es->address), "%s", addr);
	return store_suppression_check(
	    st, addr, account, now, on_entry, es, &suppressed, err);
}

/* The top-level fields of an answer about one address. */
static void
entry_summary(struct jw *w, const struct store_suppression *top)
{
	jw_kstr(
	    w, "list", top->list == STORE_LIST_GLOBAL ? "global" : "account");
	if (top->list == STORE_LIST_ACCOUNT)
		jw_kstr(w, "account", top->account);
	jw_kstr(w, "reason", top->reason);
	jw_ktime(w, "lastUpdateTime", top->since);
	jw_ktime(
	    w, "expiresAt", top->list == STORE_LIST_GLOBAL ? top->until : 0);
}

/* The address of path argument 0, normalised; -1 with the reply. */
static int
path_address(struct req *rq, struct store *st, char *addr, size_t len)
{
	struct rb_error err;

	if (store_address_normalize(st, rq->arg[0], addr, len, &err) < 0) {
		reply_bad_param(rq, "address", "address: %s", err.msg);
		return -1;
	}
	return 0;
}

/* ---- GET /v1/suppression/{address} ----------------------------------------
 */

void
api_suppression_get(struct req *rq)
{
	static const char *const allowed[] = {"account", NULL};
	char addr[STORE_MAX_ADDRESS];
	const struct store_suppression *top;
	struct entries es;
	struct rb_error err;
	struct store *st;
	const char *account;
	struct jw *w;
	size_t i;

	if (params_check(rq, allowed) < 0 || (st = req_reader(rq)) == NULL)
		return;
	account = param(rq, "account");
	if (account_ok(rq, account, "account") < 0 ||
	    path_address(rq, st, addr, sizeof(addr)) < 0)
		return;
	if (entries_get(st, addr, account, rq->now, &es, &err) < 0) {
		reply_store_error(rq, st, &err);
		return;
	}
	top = entries_top(&es);
	if (top == NULL) {
		reply_error(
		    rq, 404, "NotFound", NULL, "%s is not suppressed", addr);
		return;
	}
	w = reply_json(rq, 200);
	jw_obj(w);
	jw_kstr(w, "emailAddress", addr);
	jw_kbool(w, "suppressed", 1);
	entry_summary(w, top);
	jw_key(w, "entries");
	jw_arr(w);
	for (i = 0; i < es.n; i++)
		api_suppression_entry(w, &es.v[i].e);
	jw_arr_end(w);
	jw_obj_end(w);
}

/* ---- PUT and DELETE /v1/suppression/{address} -----------------------------
 */

void
api_suppression_put(struct req *rq)
{
	static const char *const fields[] = {"reason", "account", NULL};
	char addr[STORE_MAX_ADDRESS];
	const char *reason, *account;
	struct entries es;
	struct rb_error err;
	struct store *st;
	json_t *body, *jr, *ja;
	size_t i;

	if (params_check(rq, NULL) < 0 || (st = req_writer(rq)) == NULL)
		return;
	if ((body = body_json(rq, 0)) == NULL)
		return;
	if (body_fields_check(rq, body, fields) < 0)
		goto out;
	jr = json_object_get(body, "reason");
	ja = json_object_get(body, "account");
	reason = json_string_value(jr);
	if (reason == NULL || (strcmp(reason, "BOUNCE") != 0 &&
	                          strcmp(reason, "COMPLAINT") != 0)) {
		reply_bad_param(rq, "reason",
		    "reason: \"BOUNCE\" or \"COMPLAINT\" is needed");
		goto out;
	}
	if (ja != NULL && !json_is_string(ja)) {
		reply_bad_param(rq, "account", "account: a string");
		goto out;
	}
	account = json_string_value(ja);
	if (account_ok(rq, account, "account") < 0 ||
	    path_address(rq, st, addr, sizeof(addr)) < 0)
		goto out;
	if (account == NULL)
		account = store_account_of(st, NULL);
	if (store_suppression_add(st, account, addr, reason, rq->now, &err) <
	        0 ||
	    entries_get(st, addr, account, rq->now, &es, &err) < 0) {
		reply_store_error(rq, st, &err);
		goto out;
	}
	for (i = 0; i < es.n; i++) {
		if (es.v[i].e.list == STORE_LIST_ACCOUNT) {
			struct jw *w = reply_json(rq, 200);

			api_suppression_entry(w, &es.v[i].e);
			goto out;
		}
	}
	reply_error(rq, 500, "InternalError", NULL,
	    "entry not found after "
	    "adding it");
out:
	json_decref(body);
}

void
api_suppression_delete(struct req *rq)
{
	static const char *const allowed[] = {"account", NULL};
	char addr[STORE_MAX_ADDRESS];
	const char *account;
	struct rb_error err;
	struct store *st;
	unsigned removed = 0;
	struct jw *w;

	if (params_check(rq, allowed) < 0 || (st = req_writer(rq)) == NULL)
		return;
	account = param(rq, "account");
	if (account_ok(rq, account, "account") < 0 ||
	    path_address(rq, st, addr, sizeof(addr)) < 0)
		return;
	if (store_suppression_remove(
	        st, account, addr, rq->now, &removed, &err) < 0) {
		reply_store_error(rq, st, &err);
		return;
	}
	if (removed == 0) {
		reply_error(rq, 404, "NotFound", NULL,
		    "%s is not suppressed%s%s", addr,
		    account ? " in account " : "", account ? account : "");
		return;
	}
	w = reply_json(rq, 200);
	jw_obj(w);
	jw_kstr(w, "emailAddress", addr);
	jw_kuint(w, "removed", removed);
	jw_obj_end(w);
}

/* ---- POST /v1/suppression/check -------------------------------------------
 */

void
api_suppression_check(struct req *rq)
{
	static const char *const fields[] = {"emailAddresses", "account", NULL};
	struct entries *es = NULL;
	const char *account = NULL;
	struct store *st;
	json_t *body, *list, *ja;
	struct jw *w;
	size_t i, n;

	if (params_check(rq, NULL) < 0 || (st = req_reader(rq)) == NULL)
		return;
	if ((body = body_json(rq, 0)) == NULL)
		return;
	if (body_fields_check(rq, body, fields) < 0)
		goto out;
	list = json_object_get(body, "emailAddresses");
	ja = json_object_get(body, "account");
	n = json_array_size(list);
	if (!json_is_array(list) || n == 0 || n > HTTP_MAX_CHECK) {
		reply_bad_param(rq, "emailAddresses",
		    "emailAddresses: an array of 1 to %d addresses",
		    HTTP_MAX_CHECK);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!json_is_string(json_array_get(list, i))) {
			char p[40];

			(void)snprintf(p, sizeof(p), "emailAddresses[%zu]", i);
			reply_bad_param(rq, p, "%s: a string", p);
			goto out;
		}
	}
	if (ja != NULL && !json_is_string(ja)) {
		reply_bad_param(rq, "account", "account: a string");
		goto out;
	}
	account = json_string_value(ja);
	if (account_ok(rq, account, "account") < 0)
		goto out;
	es = xmalloc(sizeof(*es));
	w = reply_json(rq, 200);
	jw_obj(w);
	jw_key(w, "results");
	jw_arr(w);
	for (i = 0; i < n; i++) {
		const char *in = json_string_value(json_array_get(list, i));
		char addr[STORE_MAX_ADDRESS];
		const struct store_suppression *top;
		struct rb_error err;

		jw_obj(w);
		if (store_address_normalize(st, in, addr, sizeof(addr), &err) <
		    0) {
			jw_kstr(w, "emailAddress", in);
			jw_kbool(w, "suppressed", 0);
			jw_key(w, "error");
			jw_obj(w);
			jw_kstr(w, "code", "InvalidParameter");
			jw_kstr(w, "message", err.msg);
			jw_obj_end(w);
			jw_obj_end(w);
			continue;
		}
		if (entries_get(st, addr, account, rq->now, es, &err) < 0) {
			reply_store_error(rq, st, &err);
			goto out;
		}
		top = entries_top(es);
		jw_kstr(w, "emailAddress", addr);
		jw_kbool(w, "suppressed", top != NULL);
		if (top != NULL)
			entry_summary(w, top);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
out:
	free(es);
	json_decref(body);
}

/* ---- GET /v1/suppression --------------------------------------------------
 */

struct page_ctx {
	struct jw *w;
};

static int
on_listed(const struct store_suppression *e, void *ctx)
{
	struct page_ctx *pc = ctx;

	api_suppression_entry(pc->w, e);
	return 0;
}

void
api_suppression_list(struct req *rq)
{
	static const char *const allowed[] = {"list", "account", "reason",
	    "startDate", "endDate", "pageSize", "nextToken", NULL};
	static const char *const filters[] = {
	    "list", "account", "reason", "startDate", "endDate", NULL};
	char tstore[HTTP_TOKEN_TEXT_MAX + 1], next[HTTP_TOKEN_TEXT_MAX + 1];
	const char *fields[3];
	struct store_suppression_filter f;
	struct store_suppression_pos after, pos;
	struct page_ctx pc;
	struct rb_error err;
	struct store *st;
	size_t limit;
	int list, reason, more = 0, t;
	uint32_t fh;

	if (params_check(rq, allowed) < 0 || (st = req_reader(rq)) == NULL)
		return;
	memset(&f, 0, sizeof(f));
	if (param_enum(rq, "list", list_names, &list) < 0 ||
	    param_enum(rq, "reason", reason_names, &reason) < 0 ||
	    account_ok(rq, param(rq, "account"), "account") < 0 ||
	    param_time(rq, "startDate", &f.from) < 0 ||
	    param_time(rq, "endDate", &f.to) < 0 ||
	    param_page_size(rq, &limit) < 0)
		return;
	if (f.from != 0 && f.to != 0 && f.from >= f.to) {
		reply_bad_param(
		    rq, "startDate", "startDate: must be before endDate");
		return;
	}
	f.list = list < 0    ? -1
	         : list == 0 ? STORE_LIST_GLOBAL
	                     : STORE_LIST_ACCOUNT;
	f.account = param(rq, "account");
	f.reason = reason < 0 ? NULL : reason_names[reason];
	fh = params_hash(rq, filters);
	t = token_read(rq, 's', fh, tstore, fields, 3);
	if (t < 0)
		return;
	if (t == 1) {
		if ((strcmp(fields[0], "g") != 0 &&
		        strcmp(fields[0], "a") != 0) ||
		    strlen(fields[1]) >= sizeof(after.account) ||
		    strlen(fields[2]) >= sizeof(after.address)) {
			reply_bad_param(
			    rq, "nextToken", "nextToken: not valid");
			return;
		}
		after.list = fields[0][0] == 'g' ? STORE_LIST_GLOBAL
		                                 : STORE_LIST_ACCOUNT;
		(void)snprintf(
		    after.account, sizeof(after.account), "%s", fields[1]);
		(void)snprintf(
		    after.address, sizeof(after.address), "%s", fields[2]);
	}
	pc.w = reply_json(rq, 200);
	jw_obj(pc.w);
	jw_key(pc.w, "suppressedDestinations");
	jw_arr(pc.w);
	if (store_suppression_page(st, &f, rq->now, t == 1 ? &after : NULL,
	        limit, on_listed, &pc, &more, &pos, &err) < 0) {
		reply_store_error(rq, st, &err);
		return;
	}
	jw_arr_end(pc.w);
	if (more) {
		const char *nf[3] = {pos.list == STORE_LIST_GLOBAL ? "g" : "a",
		    pos.account, pos.address};

		token_make(next, 's', fh, nf, 3);
		jw_kstr(pc.w, "nextToken", next);
	}
	jw_obj_end(pc.w);
}

/* ---- POST /v1/suppression/import ------------------------------------------
 */

/* "jsonl", "csv" or "json" from format= or the Content-Type. */
static int
import_format(struct req *rq)
{
	static const char *const formats[] = {"jsonl", "csv", "json", NULL};
	const char *ct = req_header(rq, "Content-Type");
	int f;

	if (param_enum(rq, "format", formats, &f) < 0)
		return -1;
	if (f >= 0)
		return f;
	if (ct != NULL && strncmp(ct, "text/csv", 8) == 0)
		return 1;
	if (ct != NULL && strncmp(ct, "application/json", 16) == 0)
		return 2;
	return 0;
}

void
api_suppression_import(struct req *rq)
{
	static const char *const allowed[] = {"account", "format", NULL};
	struct store_import_summary sum;
	const char *account;
	struct rb_error err;
	struct store *st;
	char *lines = NULL;
	size_t len = 0;
	FILE *fp;
	struct jw *w;
	int fmt, rc;

	if (params_check(rq, allowed) < 0 || (fmt = import_format(rq)) < 0)
		return;
	account = param(rq, "account");
	if (account_ok(rq, account, "account") < 0)
		return;
	if (fmt == 2) {
		json_t *arr = body_json(rq, 1);

		if (arr == NULL)
			return;
		if (!json_is_array(arr)) {
			json_decref(arr);
			reply_error(rq, 400, "BadRequest", "body",
			    "body: a JSON array of entries is needed");
			return;
		}
		lines = body_lines(rq, arr, &len);
		json_decref(arr);
		if (lines == NULL)
			return;
	} else {
		lines = (char *)buf_take(&rq->body, &len);
	}
	if (len == 0) {
		free(lines);
		reply_error(rq, 400, "BadRequest", "body",
		    "body: no entries to import");
		return;
	}
	fp = fmemopen(lines, len, "r");
	if (fp == NULL) {
		free(lines);
		reply_error(rq, 500, "InternalError", NULL, "fmemopen failed");
		return;
	}
	st = req_writer(rq);
	rc = store_suppression_import(st, fp, "body",
	    fmt == 1 ? STORE_FORMAT_CSV : STORE_FORMAT_JSONL, account, rq->now,
	    &sum, &err);
	fclose(fp);
	free(lines);
	if (rc < 0) {
		reply_import_error(rq, st, &err);
		return;
	}
	w = reply_json(rq, 200);
	jw_obj(w);
	jw_kuint(w, "lines", sum.lines);
	jw_kuint(w, "imported", sum.imported);
	jw_obj_end(w);
}
