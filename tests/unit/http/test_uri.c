/*
 * Unit tests of http/uri.c (request targets), http/jw.c (the JSON
 * writer: valid JSON whatever the bytes, checked by parsing the output
 * back with jansson) and the page tokens of http/params.c (round trip,
 * and refusal of edited tokens, other kinds and other filters).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"
#include "test.h"

struct uri_case {
	const char *in;
	int ok;
	const char *segs;   /* segments joined with '|' */
	const char *params; /* key=value joined with '|' */
};

static const struct uri_case uri_cases[] = {
    {"/", 1, "", ""},
    {"/healthz", 1, "healthz", ""},
    {"/v1/events/12/raw", 1, "v1|events|12|raw", ""},
    {"/v1/suppression/a%40b.example", 1, "v1|suppression|a@b.example", ""},
    {"/v1/suppression/a+b@x.example", 1, "v1|suppression|a+b@x.example", ""},
    {"/v1/suppression/a%2Fb@x", 1, "v1|suppression|a/b@x", ""},
    {"/v1/events/", 1, "v1|events|", ""},
    {"/v1/e?a=1&b=x+y&c=%26%3D", 1, "v1|e", "a=1|b=x y|c=&="},
    {"/v1/e?a", 1, "v1|e", "a="},
    {"/v1/e?a=&&b=2&", 1, "v1|e", "a=|b=2"},
    {"/v1/e?", 1, "v1|e", ""},
    {"/v1/e?a=%C3%A9", 1, "v1|e", "a=\xc3\xa9"},
    {"/v1/e?x=a?b", 1, "v1|e", "x=a?b"},
    {"", 0, NULL, NULL},
    {"v1/events", 0, NULL, NULL},
    {"*", 0, NULL, NULL},
    {"/v1/%00", 0, NULL, NULL},
    {"/v1/%0a", 0, NULL, NULL},
    {"/v1/%7f", 0, NULL, NULL},
    {"/v1/%G0", 0, NULL, NULL},
    {"/v1/%0", 0, NULL, NULL},
    {"/v1/%", 0, NULL, NULL},
    {"/v1/..", 0, NULL, NULL},
    {"/v1/../x", 0, NULL, NULL},
    {"/v1/%2e%2e/x", 0, NULL, NULL},
    {"/v1/%2E./x", 0, NULL, NULL},
    {"/v1/a..b", 0, NULL, NULL},
    {"/v1/x#frag", 0, NULL, NULL},
    {"/v1/x y", 0, NULL, NULL},
    {"/v1/x\ty", 0, NULL, NULL},
    {"/v1/e?a=%00", 0, NULL, NULL},
    {"/v1/e?%00=1", 0, NULL, NULL},
    {"/v1/e?=1", 0, NULL, NULL},
    {"/v1/e?a=%ZZ", 0, NULL, NULL},
    {"/v1/e?a=1%", 0, NULL, NULL},
    {"/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", 0, NULL, NULL},
};

static void
join(char *out, size_t len, char *const *v, size_t n, char *const *v2)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		int w = snprintf(out + o, len - o, "%s%s%s%s", i ? "|" : "",
		    v[i], v2 ? "=" : "", v2 ? v2[i] : "");

		if (w > 0)
			o += (size_t)w;
	}
}

static void
test_uri(void)
{
	size_t i;
	char big[URI_MAX_TARGET + 2];
	struct uri u;
	char why[128];

	for (i = 0; i < sizeof(uri_cases) / sizeof(uri_cases[0]); i++) {
		const struct uri_case *c = &uri_cases[i];
		int r = uri_parse(c->in, strlen(c->in), &u, why, sizeof(why));
		char segs[512], params[512];

		test_assert_idx((r == 0) == c->ok, i);
		if (r == 0 && c->ok) {
			join(segs, sizeof(segs), u.seg, u.n_seg, NULL);
			join(params, sizeof(params), u.key, u.n_params, u.val);
			test_assert_idx(strcmp(segs, c->segs) == 0, i);
			test_assert_idx(strcmp(params, c->params) == 0, i);
		}
		if (r < 0)
			test_assert_idx(why[0] != '\0', i);
		uri_free(&u);
	}
	/* Not NUL-terminated input: only len bytes are read. */
	test_assert(uri_parse("/abc/def", 4, &u, why, sizeof(why)) == 0);
	test_assert(u.n_seg == 1 && strcmp(u.seg[0], "abc") == 0);
	uri_free(&u);
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	test_assert(uri_parse(big, URI_MAX_TARGET, &u, why, sizeof(why)) == 0);
	uri_free(&u);
	test_assert(
	    uri_parse(big, URI_MAX_TARGET + 1, &u, why, sizeof(why)) < 0);
	uri_free(&u);
}

/* Write s with jw_strn and parse it back: the decoded string. */
static char *
roundtrip(const char *s, size_t len)
{
	struct buf b;
	struct jw w;
	json_t *v;
	json_error_t e;
	char *out = NULL;

	buf_init(&b, 1 << 20);
	jw_init(&w, &b);
	jw_arr(&w);
	jw_strn(&w, s, len);
	jw_arr_end(&w);
	v = json_loadb((const char *)b.data, b.len, 0, &e);
	if (v != NULL && json_is_string(json_array_get(v, 0)))
		out = strdup(json_string_value(json_array_get(v, 0)));
	json_decref(v);
	buf_free(&b);
	return out;
}

static void
test_jw(void)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
	    {"plain", 5, "plain"},
	    {"q\"b\\s", 5, "q\"b\\s"},
	    {"\n\t\r\x01\x1f", 5, "\n\t\r\x01\x1f"},
	    {"caf\xc3\xa9", 5, "caf\xc3\xa9"},
	    {"\xe2\x82\xac \xf0\x9f\x98\x80", 8,
	        "\xe2\x82\xac \xf0\x9f\x98\x80"},
	    {"bad\xff", 4, "bad\xef\xbf\xbd"},
	    {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},
	    {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
	    {"\xe2\x82", 2, "\xef\xbf\xbd\xef\xbf\xbd"},
	    {"\xf4\x90\x80\x80", 4,
	        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
	};
	struct buf b;
	struct jw w;
	json_t *v;
	json_error_t e;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = roundtrip(cases[i].in, cases[i].len);

		test_assert_idx(
		    got != NULL && strcmp(got, cases[i].want) == 0, i);
		free(got);
	}
	/* NUL inside: written as \u0000 (the bytes are kept as given). */
	buf_init(&b, 1024);
	jw_init(&w, &b);
	jw_strn(&w, "a\0b", 3);
	test_assert(strcmp((char *)b.data, "\"a\\u0000b\"") == 0);
	buf_free(&b);
	/* Structure, numbers, commas. */
	buf_init(&b, 4096);
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "s", NULL);
	jw_kuint(&w, "u", UINT64_MAX);
	jw_key(&w, "i");
	jw_int(&w, INT64_MIN);
	jw_knum(&w, "r", 0.05);
	jw_knum(&w, "nan", 0.0 / 0.0);
	jw_kbool(&w, "t", 1);
	jw_ktime(&w, "time", 1717243200);
	jw_ktime(&w, "never", 0);
	jw_kid(&w, "id", 42);
	jw_kid(&w, "none", 0);
	jw_key(&w, "a");
	jw_arr(&w);
	jw_arr(&w);
	jw_arr_end(&w);
	jw_obj(&w);
	jw_obj_end(&w);
	jw_raw(&w, "{\"x\":[1,2]}");
	jw_arr_end(&w);
	jw_obj_end(&w);
	test_assert_streq((char *)b.data,
	    "{\"s\":null,\"u\":18446744073709551615,\"i\":-9223372036854775808,"
	    "\"r\":0.05,\"nan\":null,\"t\":true,"
	    "\"time\":\"2024-06-01T12:00:00.000Z\",\"never\":null,"
	    "\"id\":\"42\",\"none\":null,\"a\":[[],{},{\"x\":[1,2]}]}");
	/* (jansson reads integers past int64 only as reals.) */
	v = json_loadb(
	    (const char *)b.data, b.len, JSON_DECODE_INT_AS_REAL, &e);
	test_assert(v != NULL);
	json_decref(v);
	buf_free(&b);
	/* Past the cap: failed, never a partial success. */
	buf_init(&b, 8);
	jw_init(&w, &b);
	jw_str(&w, "longer than eight");
	test_assert(w.failed);
	buf_free(&b);
}

/* A request with a query, enough for params.c. */
static void
req_with(struct req *rq, const char *target)
{
	char why[128];

	memset(rq, 0, sizeof(*rq));
	buf_init(&rq->out, 1 << 16);
	test_assert(
	    uri_parse(target, strlen(target), &rq->uri, why, sizeof(why)) == 0);
}

static void
req_done(struct req *rq)
{
	uri_free(&rq->uri);
	buf_free(&rq->out);
}

static void
test_tokens(void)
{
	static const char *const filters[] = {"list", "reason", NULL};
	const char *fields[3] = {"g", "", "a|b@example.com"};
	const char *got[3];
	char tok[HTTP_TOKEN_TEXT_MAX + 1], store[HTTP_TOKEN_TEXT_MAX + 1];
	char target[2 * HTTP_TOKEN_TEXT_MAX], bad[HTTP_TOKEN_TEXT_MAX + 1];
	struct req rq;
	uint32_t h;
	size_t i;

	req_with(&rq, "/x?list=global&reason=BOUNCE");
	h = params_hash(&rq, filters);
	token_make(tok, 's', h, fields, 3);
	req_done(&rq);
	for (i = 0; tok[i] != '\0'; i++)
		test_assert_idx((tok[i] >= 'a' && tok[i] <= 'z') ||
		                    (tok[i] >= 'A' && tok[i] <= 'Z') ||
		                    (tok[i] >= '0' && tok[i] <= '9') ||
		                    tok[i] == '-' || tok[i] == '_',
		    i);
	(void)snprintf(target, sizeof(target),
	    "/x?list=global&reason=BOUNCE&nextToken=%s", tok);
	req_with(&rq, target);
	test_assert(token_read(&rq, 's', params_hash(&rq, filters), store, got,
	                3) == 1);
	test_assert_streq(got[0], "g");
	test_assert_streq(got[1], "");
	test_assert_streq(got[2], "a|b@example.com");
	/* Another kind or another field count: refused. */
	test_assert(
	    token_read(&rq, 'e', params_hash(&rq, filters), store, got, 3) < 0);
	test_assert(rq.status == 400);
	test_assert(
	    token_read(&rq, 's', params_hash(&rq, filters), store, got, 2) < 0);
	req_done(&rq);
	/* Other filters. */
	(void)snprintf(
	    target, sizeof(target), "/x?list=global&nextToken=%s", tok);
	req_with(&rq, target);
	test_assert(
	    token_read(&rq, 's', params_hash(&rq, filters), store, got, 3) < 0);
	req_done(&rq);
	/* Every one-character edit is refused. */
	for (i = 0; tok[i] != '\0'; i++) {
		(void)snprintf(bad, sizeof(bad), "%s", tok);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		(void)snprintf(target, sizeof(target),
		    "/x?list=global&reason=BOUNCE&nextToken=%s", bad);
		req_with(&rq, target);
		test_assert_idx(token_read(&rq, 's', params_hash(&rq, filters),
		                    store, got, 3) < 0,
		    i);
		req_done(&rq);
	}
	/* No token: 0. */
	req_with(&rq, "/x");
	test_assert(token_read(&rq, 's', 0, store, got, 3) == 0);
	req_done(&rq);
}

int
main(void)
{
	test_uri();
	test_jw();
	test_tokens();
	return test_exit();
}
