/*
 * fuzz_http_uri: libFuzzer target for the HTTP request parsing of http/:
 * the request target parser (uri.c), the page-token reader (params.c)
 * and the JSON writer (jw.c) that echoes parameters back in errors.
 *
 * Input: any bytes, taken as a raw request target.  Invariants, abort()
 * on violation:
 *   - uri_parse() accepts only what starts with '/' and fits
 *     URI_MAX_TARGET; then segments and parameters are within their
 *     counts, hold no NUL, control character or DEL, no segment holds
 *     "..", no parameter name is empty, and the decoded text is never
 *     longer than the input;
 *   - each decoded string written by jw_str() parses back with jansson
 *     as a JSON string, equal to it when it is valid UTF-8;
 *   - token_read() on the parsed query answers 0, 1 (then every field
 *     lies inside the caller's buffer) or -1 with a 400 reply, whatever
 *     the token.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "http/http_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_http_uri: invariant violated: %s\n", what);
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
check_string(const char *s, int segment)
{
	const unsigned char *p;
	struct buf b;
	struct jw w;
	json_t *v;
	json_error_t e;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			fuzz_fail("a control character decoded");
	}
	if (segment && strstr(s, "..") != NULL)
		fuzz_fail("'..' in a segment");
	buf_init(&b, 1 << 20);
	jw_init(&w, &b);
	jw_arr(&w);
	jw_str(&w, s);
	jw_arr_end(&w);
	if (w.failed)
		fuzz_fail("jw failed under its cap");
	v = json_loadb((const char *)b.data, b.len, 0, &e);
	if (v == NULL || !json_is_string(json_array_get(v, 0)))
		fuzz_fail("jw wrote what jansson cannot read");
	if (g_utf8_validate(s, -1, NULL) &&
	    strcmp(json_string_value(json_array_get(v, 0)), s) != 0)
		fuzz_fail("jw changed valid UTF-8");
	json_decref(v);
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct req rq;
	char why[256], store[HTTP_TOKEN_TEXT_MAX + 1];
	const char *fields[3];
	size_t i, total = 0;
	int r;

	memset(&rq, 0, sizeof(rq));
	buf_init(&rq.out, 1 << 16);
	r = uri_parse((const char *)data, size, &rq.uri, why, sizeof(why));
	if (r == 0) {
		if (size == 0 || data[0] != '/' || size > URI_MAX_TARGET)
			fuzz_fail("accepted a target it should refuse");
		if (rq.uri.n_seg > URI_MAX_SEGMENTS ||
		    rq.uri.n_params > URI_MAX_PARAMS)
			fuzz_fail("too many segments or parameters");
		for (i = 0; i < rq.uri.n_seg; i++) {
			check_string(rq.uri.seg[i], 1);
			total += strlen(rq.uri.seg[i]);
		}
		for (i = 0; i < rq.uri.n_params; i++) {
			if (rq.uri.key[i][0] == '\0')
				fuzz_fail("an empty parameter name");
			check_string(rq.uri.key[i], 0);
			check_string(rq.uri.val[i], 0);
			total += strlen(rq.uri.key[i]) + strlen(rq.uri.val[i]);
		}
		if (total > size)
			fuzz_fail("decoded text longer than the input");
		r = token_read(&rq, 's', 0, store, fields, 3);
		if (r == 1) {
			for (i = 0; i < 3; i++) {
				if (fields[i] < store ||
				    fields[i] > store + HTTP_TOKEN_TEXT_MAX)
					fuzz_fail("a token field outside");
			}
		} else if (r < 0 && rq.status != 400) {
			fuzz_fail("a bad token without a 400");
		} else if (r == 0 && param(&rq, "nextToken") != NULL) {
			fuzz_fail("a token ignored");
		}
	} else if (why[0] == '\0') {
		fuzz_fail("refused without saying why");
	}
	uri_free(&rq.uri);
	buf_free(&rq.out);
	return 0;
}
