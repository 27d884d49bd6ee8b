/*
 * The human-readable part of a delivery report, as evidence for the
 * reasons of its recipients.  Many MTAs say the cause there and not in
 * the machine-readable fields: "Not enough disk space" above a DSN whose
 * Diagnostic-Code only says "User Unknown", EZweb's "The user(s) account
 * is disabled.", Amavis's "Duplicate header field", Postfix's "(in reply
 * to RCPT TO command)" that tells the SMTP stage.
 *
 * A report with one recipient: the whole notice explains it, less the
 * MIME preamble and the banner lines every MTA prints.  A report with
 * several: only the lines that name the recipient and the lines after
 * them up to a blank line or another recipient's line, so that one
 * recipient's cause never leaks into another's.  Limits: the context is
 * at most NOTICE_MAX_CONTEXT bytes, NOTICE_MAX_SEGMENT_LINES lines per
 * segment.
 */
#include <string.h>

#include "classify_int.h"

/* Bytes of notice kept as context: the cause is stated near the top; a
 * long transcript or a pasted original adds nothing but matching cost. */
#define NOTICE_MAX_CONTEXT 2048
/* Lines kept after a line naming the recipient (one SMTP reply's worth). */
#define NOTICE_MAX_SEGMENT_LINES 8

/* Banner and MIME lines that say nothing about the failure. */
static bool
boilerplate(const char *p, size_t n)
{
	/* Postfix's delay template ("Your message could not be delivered
	 * for more than 4 hour(s). It will be retried until ...") says how
	 * long, not why. */
	static const char *const prefixes[] = {"content-", "this is a mime",
	    "this is a multi", "this is an auto", "this multi-part", "###",
	    "***", "--", "mime-version:",
	    "your message could not be delivered for more than",
	    "it will be retried until"};
	const char *dash;
	size_t i;

	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	if (n == 0)
		return true;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (text_istarts(p, n, prefixes[i]))
			return true;
	}
	/* Sendmail's section titles ("----- Transcript of session
	 * follows -----") introduce text, they are not text. */
	dash = memchr(p, '-', n);
	return dash != NULL && (size_t)(p + n - dash) > 3 &&
	       memcmp(dash, "---", 3) == 0 &&
	       (text_icase_find(p, n, "--- the follow") != NULL ||
	           text_icase_find(p, n, "--- transcript") != NULL);
}

/* Does the line name another recipient of the report than self? */
static bool
names_other(struct classify_ctx *c, size_t first, size_t n,
    const struct classify_recipient *self, const char *p, size_t len)
{
	size_t i;

	for (i = first; i < first + n; i++) {
		const struct classify_recipient *o = &c->rcpts[i];

		if (o == self || o->address[0] == '\0' ||
		    strcmp(o->address, self->address) == 0)
			continue;
		if (text_icase_find(p, len, o->address) != NULL)
			return true;
	}
	return false;
}

static const char *
finish(struct classify_ctx *c, struct buf *b)
{
	const char *t = NULL;

	if (b->len > 0) {
		char *col = text_collapse(c->a, (const char *)b->data, b->len);

		t = text_valid_utf8(c->a, col, strlen(col));
	}
	buf_free(b);
	return t;
}

/* The whole notice, less boilerplate lines. */
static const char *
whole(struct classify_ctx *c, struct span notice)
{
	const char *p = notice.p, *end = notice.p + notice.len;
	struct buf b;

	buf_init(&b, NOTICE_MAX_CONTEXT);
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *e = eol != NULL ? eol : end;
		size_t n = (size_t)(e - p);

		if (!boilerplate(p, n) &&
		    ((b.len > 0 && buf_putc(&b, ' ') < 0) ||
		        buf_append(&b, p, n) < 0))
			break;
		p = eol != NULL ? eol + 1 : end;
	}
	return finish(c, &b);
}

/* The lines naming r and those following them (see the top). */
static const char *
segments(struct classify_ctx *c, struct span notice, size_t first, size_t n,
    const struct classify_recipient *r)
{
	const char *p = notice.p, *end = notice.p + notice.len;
	unsigned open = 0; /* lines left in the current segment */
	struct buf b;

	buf_init(&b, NOTICE_MAX_CONTEXT);
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *e = eol != NULL ? eol : end;
		size_t len = (size_t)(e - p);
		bool take = false;

		if (text_icase_find(p, len, r->address) != NULL) {
			open = NOTICE_MAX_SEGMENT_LINES;
			take = true;
		} else if (open > 0) {
			if (text_blank(p, e) ||
			    names_other(c, first, n, r, p, len))
				open = 0;
			else
				take = true;
		}
		if (take) {
			open--;
			if ((b.len > 0 && buf_putc(&b, ' ') < 0) ||
			    buf_append(&b, p, len) < 0)
				break;
		}
		p = eol != NULL ? eol + 1 : end;
	}
	return finish(c, &b);
}

/* Keep what the reader already put there (a Status comment). */
static void
add(struct classify_ctx *c, struct classify_recipient *r, const char *t)
{
	if (t == NULL)
		return;
	r->context =
	    r->context != NULL ? arena_printf(c->a, "%s %s", r->context, t) : t;
}

void
notice_context(
    struct classify_ctx *c, struct span notice, size_t first, size_t n)
{
	size_t i;

	if (notice.len == 0 || n == 0)
		return;
	if (n == 1) {
		add(c, &c->rcpts[first], whole(c, notice));
		return;
	}
	for (i = first; i < first + n; i++) {
		struct classify_recipient *r = &c->rcpts[i];

		if (r->address[0] != '\0')
			add(c, r, segments(c, notice, first, n, r));
	}
}
