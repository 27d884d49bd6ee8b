/*
 * fuzz_mime: libFuzzer target for classify's own MIME reader (mime.c) and
 * the DSN field-block parser (dsn.c), below classify_message().
 *
 * Input: any bytes, normalised to LF first as classify_message() does
 * (the readers' contract, classify_int.h).  The tree is built, every part
 * decoded, a few headers read; then the first part's body is parsed as
 * DSN field blocks.  Invariants, abort() on violation:
 *   - at most CLASSIFY_MAX_MIME_PARTS parts, depth at most
 *     CLASSIFY_MAX_MIME_DEPTH, parent index before the part (root: -1);
 *   - every part has a type; at most CLASSIFY_MAX_HEADERS headers;
 *   - a decoded span has a pointer unless empty;
 *   - mime_header_get() and mime_value_clean() give valid UTF-8.
 * Sanitizers check the rest (bounds, use after free, leaks).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "classify/classify_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_headers[] = {
    "From",
    "Subject",
    "Content-Type",
    "Message-ID",
    "Final-Recipient",
    "Status",
    "Diagnostic-Code",
    "Feedback-Type",
    "Auto-Submitted",
};

static void
fuzz_fail(const char *what, size_t idx)
{
	fprintf(stderr, "fuzz_mime: invariant violated: %s [%zu]\n", what, idx);
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* mime_decode() uses gmime's decoders and iconv cache. */
	classify_global_init();
	return 0;
}

static void
check_utf8(const char *s, size_t idx)
{
	if (s != NULL && !g_utf8_validate(s, -1, NULL))
		fuzz_fail("header value is not valid UTF-8", idx);
}

static void
check_headers(
    struct classify_arena *a, const struct mime_headers *h, size_t idx)
{
	size_t i;

	if (h->n > CLASSIFY_MAX_HEADERS)
		fuzz_fail("more than CLASSIFY_MAX_HEADERS headers", idx);
	if (h->n > 0 && h->h == NULL)
		fuzz_fail("headers NULL with n > 0", idx);
	for (i = 0; i < sizeof(fuzz_headers) / sizeof(fuzz_headers[0]); i++)
		check_utf8(mime_header_get(a, h, fuzz_headers[i]), idx);
	/* Every value, 2047-decoded, bounded so that one input stays fast. */
	for (i = 0; i < h->n && i < 64; i++)
		check_utf8(mime_value_clean(a, h->h[i].value, true), idx);
}

/* LF-only copy, as classify_message() hands to the readers. */
static char *
to_lf(const uint8_t *data, size_t size, size_t *len_r)
{
	char *o = xmalloc(size + 1);
	size_t i, j = 0;

	for (i = 0; i < size; i++) {
		char ch = (char)data[i];

		if (ch == '\r') {
			if (i + 1 < size && data[i + 1] == '\n')
				continue;
			ch = '\n';
		}
		o[j++] = ch;
	}
	o[j] = '\0';
	*len_r = j;
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct classify_arena *a = arena_new();
	struct mime_tree t;
	struct mime_headers fields;
	struct span msg;
	size_t i, len;
	char *copy;

	copy = to_lf(data, size, &len);
	msg.p = copy;
	msg.len = len;
	mime_parse_tree(a, msg, &t);
	if (t.n > CLASSIFY_MAX_MIME_PARTS)
		fuzz_fail("more than CLASSIFY_MAX_MIME_PARTS parts", t.n);
	if (t.n > 0 && t.parts == NULL)
		fuzz_fail("parts NULL with n > 0", t.n);
	for (i = 0; i < t.n; i++) {
		struct mime_part *p = &t.parts[i];
		struct span d;

		if (p->depth > CLASSIFY_MAX_MIME_DEPTH)
			fuzz_fail(
			    "part deeper than CLASSIFY_MAX_MIME_DEPTH", i);
		if (i == 0 ? p->parent != -1
		           : p->parent < 0 || (size_t)p->parent >= i)
			fuzz_fail("bad parent index", i);
		if (p->type == NULL)
			fuzz_fail("part without type", i);
		check_headers(a, &p->headers, i);
		d = mime_decode(a, p);
		if (d.p == NULL && d.len > 0)
			fuzz_fail("decoded span NULL with len > 0", i);
	}
	/* The DSN block reader on the top body and on the raw input. */
	if (t.n > 0) {
		dsn_fields(a, t.parts[0].body, &fields);
		check_headers(a, &fields, 0);
	}
	dsn_fields(a, msg, &fields);
	check_headers(a, &fields, 1);
	arena_free(&a);
	free(copy);
	return 0;
}
