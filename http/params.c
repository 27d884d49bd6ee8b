/*
 * params: validation of query parameters (every one is checked: an
 * unknown or repeated name, a malformed or out-of-range value is a 400
 * naming it) and the opaque page tokens.  A token is base64url of
 * "v1", a kind letter, a hash of the filters it was made for and the
 * position fields, NUL-separated: unsigned (a forged token is only
 * another valid position, every field is validated again by its
 * reader), but bound to its filters, so a token reused with other
 * filters is refused instead of paging something else.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "http_int.h"

int
params_check(struct req *rq, const char *const *allowed)
{
	size_t i, j;

	for (i = 0; i < rq->uri.n_params; i++) {
		const char *k = rq->uri.key[i];
		int ok = 0;

		for (j = 0; allowed != NULL && allowed[j] != NULL; j++) {
			if (strcmp(allowed[j], k) == 0)
				ok = 1;
		}
		if (!ok) {
			reply_bad_param(rq, k, "%s: unknown parameter", k);
			return -1;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(rq->uri.key[j], k) == 0) {
				reply_bad_param(
				    rq, k, "%s: given more than once", k);
				return -1;
			}
		}
	}
	return 0;
}

const char *
param(struct req *rq, const char *name)
{
	size_t i;

	for (i = 0; i < rq->uri.n_params; i++) {
		if (strcmp(rq->uri.key[i], name) == 0)
			return rq->uri.val[i];
	}
	return NULL;
}

int
param_page_size(struct req *rq, size_t *n_r)
{
	const char *v = param(rq, "pageSize");
	uint64_t n;

	if (v == NULL) {
		*n_r = HTTP_PAGE_DEFAULT;
		return 0;
	}
	if (parse_u64(v, &n) < 0 || n < 1 || n > HTTP_PAGE_MAX) {
		reply_bad_param(rq, "pageSize",
		    "pageSize: 1 to %d, not '%.64s'", HTTP_PAGE_MAX, v);
		return -1;
	}
	*n_r = (size_t)n;
	return 0;
}

int
param_hours(struct req *rq, const char *name, uint64_t def, uint64_t min,
    uint64_t max, uint64_t *secs_r)
{
	const char *v = param(rq, name);
	uint64_t s;

	if (v == NULL) {
		*secs_r = def;
		return 0;
	}
	if (config_parse_duration(v, &s) < 0 || s % 3600 != 0 || s < min ||
	    s > max) {
		reply_bad_param(rq, name,
		    "%s: whole hours from %lluh to %llud (as 24h or 7d), not "
		    "'%.64s'",
		    name, (unsigned long long)(min / 3600),
		    (unsigned long long)(max / 86400), v);
		return -1;
	}
	*secs_r = s;
	return 0;
}

int
param_time(struct req *rq, const char *name, time_t *t_r)
{
	const char *v = param(rq, name);
	time_t t;

	if (v == NULL)
		return 0;
	if (config_parse_time(v, &t) < 0 || t <= 0) {
		reply_bad_param(rq, name,
		    "%s: a time as RFC 3339 (2024-06-01T12:00:00Z) or unix "
		    "seconds, not '%.64s'",
		    name, v);
		return -1;
	}
	*t_r = t;
	return 0;
}

int
param_enum(
    struct req *rq, const char *name, const char *const *values, int *idx_r)
{
	const char *v = param(rq, name);
	char list[256] = "";
	size_t i, o = 0;

	*idx_r = -1;
	if (v == NULL)
		return 0;
	for (i = 0; values[i] != NULL; i++) {
		int n;

		if (strcmp(values[i], v) == 0) {
			*idx_r = (int)i;
			return 0;
		}
		n = snprintf(list + o, sizeof(list) - o, "%s%s",
		    i > 0 ? ", " : "", values[i]);
		if (n > 0 && (size_t)n < sizeof(list) - o)
			o += (size_t)n;
	}
	reply_bad_param(rq, name, "%s: one of %s, not '%.64s'", name, list, v);
	return -1;
}

int
param_id(struct req *rq, const char *value, const char *pname, int64_t *id_r)
{
	uint64_t n;

	if (parse_u64(value, &n) < 0 || n == 0 || n > INT64_MAX) {
		reply_bad_param(rq, pname,
		    "%s: a positive integer, not '%.64s'", pname, value);
		return -1;
	}
	*id_r = (int64_t)n;
	return 0;
}

/* ---- page tokens ----------------------------------------------------------
 */

/* FNV-1a of p[0..n). */
static uint32_t
fnv(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

uint32_t
params_hash(struct req *rq, const char *const *names)
{
	/* FNV-1a over "name=value\n" of each filter given. */
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; names[i] != NULL; i++) {
		const char *v = param(rq, names[i]);
		const char *p;

		if (v == NULL)
			continue;
		for (p = names[i]; *p != '\0'; p++)
			h = (h ^ (unsigned char)*p) * 16777619u;
		h = (h ^ '=') * 16777619u;
		for (p = v; *p != '\0'; p++)
			h = (h ^ (unsigned char)*p) * 16777619u;
		h = (h ^ '\n') * 16777619u;
	}
	return h;
}

/* base64url without padding of raw[0..n) into out. */
static void
b64url(const unsigned char *raw, size_t n, char *out)
{
	gchar *b64 = g_base64_encode(raw, n);
	size_t i, o = 0;

	for (i = 0; b64[i] != '\0' && b64[i] != '='; i++)
		out[o++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	out[o] = '\0';
	g_free(b64);
}

/* Is text the one encoding of raw[0..n)? */
static int
canonical(const unsigned char *raw, size_t n, const char *text)
{
	char again[2 * HTTP_TOKEN_TEXT_MAX];

	if (n > HTTP_TOKEN_TEXT_MAX)
		return 0;
	b64url(raw, n, again);
	return strcmp(again, text) == 0;
}

void
token_make(
    char *out, char kind, uint32_t filters, const char *const *fields, size_t n)
{
	char raw[HTTP_TOKEN_TEXT_MAX];
	size_t o, i;
	int len;

	len = snprintf(
	    raw, sizeof(raw), "v1%c%c%c%08x", 0, kind, 0, (unsigned)filters);
	o = len > 0 ? (size_t)len : 0;
	for (i = 0; i < n; i++) {
		size_t l = strlen(fields[i]);

		/* 3 bytes become 4: stay within the text limit, with room
		 * for the check at the end. */
		rb_assert(o + 1 + l < sizeof(raw) * 3 / 4 - 16);
		raw[o++] = '\0';
		memcpy(raw + o, fields[i], l);
		o += l;
	}
	/* A check of the rest: an edited token is refused, not read as
	 * some other position. */
	rb_assert(o + 9 < sizeof(raw));
	(void)snprintf(
	    raw + o, sizeof(raw) - o, "%c%08x", 0, (unsigned)fnv(raw, o));
	o += 9;
	/* base64url without padding (RFC 4648 5): safe in a query. */
	b64url((const unsigned char *)raw, o, out);
}

static int
token_bad(struct req *rq)
{
	reply_bad_param(rq, "nextToken",
	    "nextToken: not a token of this listing with these filters"
	    " (pass it back unchanged, with the same parameters)");
	return -1;
}

int
token_read(struct req *rq, char kind, uint32_t filters, char *store,
    const char **fields, size_t n)
{
	const char *v = param(rq, "nextToken");
	char head[16];
	size_t len, i, o = 0, f = 0;
	guchar *raw;
	gsize rlen = 0;
	gchar *std;

	if (v == NULL)
		return 0;
	len = strlen(v);
	if (len == 0 || len > HTTP_TOKEN_TEXT_MAX)
		return token_bad(rq);
	std = g_malloc(len + 4);
	for (i = 0; i < len; i++) {
		char c = v[i];

		if (!g_ascii_isalnum(c) && c != '-' && c != '_') {
			g_free(std);
			return token_bad(rq);
		}
		std[i] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	while (i % 4 != 0)
		std[i++] = '=';
	std[i] = '\0';
	raw = g_base64_decode(std, &rlen);
	g_free(std);
	if (raw != NULL && !canonical(raw, rlen, v)) {
		/* The unused low bits of the last character were changed:
		 * an edit, even if it decodes to the same bytes. */
		g_free(raw);
		return token_bad(rq);
	}
	(void)snprintf(
	    head, sizeof(head), "v1%c%c%c%08x", 0, kind, 0, (unsigned)filters);
	if (raw == NULL || rlen < 14 + 9 || rlen > HTTP_TOKEN_TEXT_MAX ||
	    memcmp(raw, head, 13) != 0) {
		g_free(raw);
		return token_bad(rq);
	}
	{
		char sum[10];

		rlen -= 9;
		(void)snprintf(sum, sizeof(sum), "%c%08x", 0,
		    (unsigned)fnv((const char *)raw, rlen));
		if (memcmp(raw + rlen, sum, 9) != 0) {
			g_free(raw);
			return token_bad(rq);
		}
	}
	/* Fields: after each NUL from byte 13 on. */
	for (i = 13; i < rlen; i++) {
		unsigned char c = raw[i];

		if (c == '\0') {
			if (f == n) {
				g_free(raw);
				return token_bad(rq);
			}
			if (f > 0)
				store[o++] = '\0';
			fields[f++] = store + o;
			continue;
		}
		if (f == 0 || c < 0x20) {
			g_free(raw);
			return token_bad(rq);
		}
		store[o++] = (char)c;
	}
	store[o] = '\0';
	g_free(raw);
	if (f != n)
		return token_bad(rq);
	return 1;
}

/* ---- bodies ---------------------------------------------------------------
 */

json_t *
body_json(struct req *rq, int array_ok)
{
	json_error_t jerr;
	json_t *root;

	if (rq->body.len == 0) {
		reply_error(rq, 400, "BadRequest", "body",
		    "body: a JSON %s is needed", array_ok ? "value" : "object");
		return NULL;
	}
	root = json_loadb((const char *)rq->body.data, rq->body.len, 0, &jerr);
	if (root == NULL) {
		reply_error(rq, 400, "BadRequest", "body",
		    "body: not JSON: %s (line %d)", jerr.text, jerr.line);
		return NULL;
	}
	if (!json_is_object(root) && !(array_ok && json_is_array(root))) {
		json_decref(root);
		reply_error(rq, 400, "BadRequest", "body",
		    "body: a JSON object is needed");
		return NULL;
	}
	return root;
}

int
body_fields_check(struct req *rq, json_t *obj, const char *const *allowed)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v)
	{
		size_t i;
		int ok = 0;

		for (i = 0; allowed[i] != NULL; i++) {
			if (strcmp(allowed[i], k) == 0)
				ok = 1;
		}
		if (!ok) {
			reply_bad_param(rq, k, "%s: unknown field", k);
			return -1;
		}
	}
	return 0;
}

char *
body_lines(struct req *rq, json_t *root, size_t *len_r)
{
	struct buf b;
	size_t i, n = json_is_array(root) ? json_array_size(root) : 1;

	/* Compact JSON is never much longer than the body it came from. */
	buf_init(&b, 2 * HTTP_MAX_BODY);
	for (i = 0; i < n; i++) {
		json_t *o =
		    json_is_array(root) ? json_array_get(root, i) : root;
		char *line;
		int rc;

		if (!json_is_object(o)) {
			char p[32];

			(void)snprintf(p, sizeof(p), "body[%zu]", i);
			reply_bad_param(rq, p, "%s: an object", p);
			buf_free(&b);
			return NULL;
		}
		line = json_dumps(o, JSON_COMPACT);
		rc = line != NULL ? buf_printf(&b, "%s\n", line) : -1;
		free(line);
		if (rc < 0) {
			reply_error(rq, 413, "PayloadTooLarge", "body",
			    "body: too large");
			buf_free(&b);
			return NULL;
		}
	}
	return (char *)buf_take(&b, len_r);
}
