/*
 * RFC 3464 delivery status notifications (and RFC 6533's
 * message/global-delivery-status): the per-message block and one block
 * per recipient, each "Name: value" fields separated by blank lines.
 * Accepted wherever the part sits, also outside multipart/report (some
 * MTAs forget the wrapper).  Leniencies, each seen in real mailers:
 * blocks separated by lines of spaces; a per-message block missing;
 * "Final-Recipient: <a@b>" without an address type; no Action (inferred
 * from the status class); Status "5.0.0" while the diagnostic names the
 * precise code (the precise one wins, as the receiving MTA wrote it).
 * Limit: CLASSIFY_MAX_RECIPIENTS recipient blocks.
 */
#include <string.h>

#include <glib.h>

#include "classify_int.h"

void
dsn_fields(
    struct classify_arena *a, struct span block, struct mime_headers *h_r)
{
	struct span rest;
	const char *p = block.p, *end = block.p + block.len;
	char *o = NULL;
	size_t j = 0;

	/*
	 * A Diagnostic-Code whose further lines of a multi-line SMTP reply
	 * are not indented ("550-..." at the start of the line, seen from
	 * Symantec's MessageLabs): a line that is not "Name: value" continues
	 * the field above, as if folded.  The block is copied only then.
	 */
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *e = eol != NULL ? eol + 1 : end;
		const char *q = p;

		while (q < e && (g_ascii_isalnum(*q) || *q == '-'))
			q++;
		if (o == NULL && p != block.p && *p != ' ' && *p != '\t' &&
		    !(q > p && q < e && *q == ':')) {
			/* One space more per line at most. */
			o = arena_alloc(a, block.len * 2 + 1);
			j = (size_t)(p - block.p);
			memcpy(o, block.p, j);
		}
		if (o != NULL) {
			if (p != block.p && *p != ' ' && *p != '\t' &&
			    !(q > p && q < e && *q == ':'))
				o[j++] = ' ';
			memcpy(o + j, p, (size_t)(e - p));
			j += (size_t)(e - p);
		}
		p = e;
	}
	if (o == NULL) {
		mime_parse_headers(a, block, h_r, &rest);
		return;
	}
	o[j] = '\0';
	mime_parse_headers(a, (struct span){o, j}, h_r, &rest);
}

static const char *
field(struct classify_ctx *c, const struct mime_headers *h, const char *name)
{
	return mime_header_get(c->a, h, name);
}

/* "rfc822; a@b" -> "a@b"; "utf-8; ..." kept as UTF-8. */
static const char *
dsn_address(struct classify_arena *a, const char *v)
{
	const char *semi, *s, *addr;
	size_t len;

	if (v == NULL)
		return NULL;
	semi = strchr(v, ';');
	s = semi != NULL ? semi + 1 : v;
	while (*s == ' ')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '.'))
		len--;
	if (len == 0)
		return NULL;
	addr = text_address(a, arena_strndup(a, s, len));
	if (addr != NULL)
		return addr;
	/* A local part only ("unknown; user"): keep as written. */
	if (s[0] == '<' && len > 2 && s[len - 1] == '>') {
		s++;
		len -= 2;
	}
	return arena_strndup(a, s, len);
}

static const char *
dsn_date(struct classify_arena *a, const char *v)
{
	time_t t = text_parse_date(v);
	char buf[40];

	if (t == 0)
		return NULL;
	time_format_iso(t, buf, sizeof(buf));
	return arena_strdup(a, buf);
}

static const char *
first_word_lower(struct classify_arena *a, const char *v)
{
	size_t n = 0;

	if (v == NULL)
		return NULL;
	while (v[n] != '\0' && v[n] != ' ' && v[n] != ';' && v[n] != '(')
		n++;
	return text_lower(a, arena_strndup(a, v, n));
}

static void
read_recipient(struct classify_ctx *c, const struct mime_headers *h)
{
	struct classify_arena *a = c->a;
	struct classify_recipient *r;
	const char *final = field(c, h, "Final-Recipient");
	const char *orig = field(c, h, "Original-Recipient");
	const char *actual = field(c, h, "X-Actual-Recipient");
	const char *status = field(c, h, "Status");
	const char *diag = field(c, h, "Diagnostic-Code");
	char code[16], reply[4];

	r = ctx_add_recipient(c);
	if (r == NULL)
		return;
	r->address = dsn_address(
	    a, final != NULL ? final : (actual != NULL ? actual : orig));
	if (r->address == NULL)
		r->address = "";
	r->original = dsn_address(a, orig);
	if (diag != NULL) {
		size_t dl = strlen(diag);

		if (dl > CLASSIFY_MAX_DIAGNOSTIC)
			diag = arena_strndup(a, diag, CLASSIFY_MAX_DIAGNOSTIC);
		r->diagnostic = diag;
	}
	r->status = "";
	if (status != NULL && text_find_status(status, strlen(status), code))
		r->status = arena_strdup(a, code);
	/*
	 * The remote server's own code, quoted in the diagnostic, is more
	 * precise than the Status the reporting MTA derived from it (which
	 * is often a generic 5.0.0, or a guess such as 4.4.7 for any
	 * deferral that ended in a bounce): it wins.
	 */
	if (diag != NULL && text_failure_status(diag, code))
		r->status = arena_strdup(a, code);
	/* "Status: 4.0.0 (host name lookup failure)": the comment is the
	 * only diagnostic some MTAs (PMDF, old Sendmail) give. */
	if (status != NULL && strchr(status, '(') != NULL) {
		if (diag == NULL)
			r->diagnostic = arena_strdup(a, strchr(status, '('));
		else /* "5.2.1 (mailbox disabled ...)": the MTA's gloss */
			r->status_note = arena_strdup(a, strchr(status, '('));
	}
	r->reply_code = "";
	if (diag != NULL && text_find_reply_code(diag, strlen(diag), reply))
		r->reply_code = arena_strdup(a, reply);
	r->action = first_word_lower(a, field(c, h, "Action"));
	if (r->action == NULL || r->action[0] == '\0') {
		char cls = r->status[0] ? r->status[0] : r->reply_code[0];

		r->action = cls == '2'   ? "delivered"
		            : cls == '4' ? "delayed"
		                         : "failed";
	}
	r->remote_mta = field(c, h, "Remote-MTA");
	r->remote_ip = text_find_ip(a, r->remote_mta);
	r->last_attempt = dsn_date(a, field(c, h, "Last-Attempt-Date"));
	r->will_retry_until = dsn_date(a, field(c, h, "Will-Retry-Until"));
}

static bool
is_recipient_block(const struct mime_headers *h)
{
	return mime_header_raw(h, "Final-Recipient") != NULL ||
	       mime_header_raw(h, "Original-Recipient") != NULL ||
	       mime_header_raw(h, "X-Actual-Recipient") != NULL;
}

static void
read_message_block(struct classify_ctx *c, const struct mime_headers *h)
{
	struct classify_verdict *v = c->v;
	const char *s;

	if ((s = field(c, h, "Reporting-MTA")) != NULL)
		v->reporting_mta = s;
	if ((s = field(c, h, "Original-Envelope-Id")) != NULL)
		v->envid = s;
	if ((s = field(c, h, "Arrival-Date")) != NULL) {
		time_t t = text_parse_date(s);

		v->arrival_date = dsn_date(c->a, s);
		if (t != 0)
			v->report_time = t;
	}
}

/*
 * Where a second recipient starts inside one block: MTAs that forget the
 * blank line between recipients (AOL's relays) write "Final-Recipient:"
 * twice in a row.  The cut comes before the second one, or before the
 * "Original-Recipient:" just above it.  NULL when the block holds one.
 */
static const char *
next_recipient(const char *start, const char *end)
{
	const char *p = start, *prev_field = NULL;
	bool seen = false;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *e = eol != NULL ? eol : end;
		size_t n = (size_t)(e - p);

		if (text_istarts(p, n, "Final-Recipient:")) {
			if (seen)
				return prev_field != NULL &&
				               text_istarts(prev_field,
				                   (size_t)(end - prev_field),
				                   "Original-Recipient:")
				           ? prev_field
				           : p;
			seen = true;
		}
		if (*p != ' ' && *p != '\t')
			prev_field = p;
		p = eol != NULL ? eol + 1 : end;
	}
	return NULL;
}

/* Parse "Name: value" blocks of text; true if a recipient was found. */
static bool
parse_blocks(struct classify_ctx *c, struct span body, bool inline_text)
{
	const char *end = body.p + body.len, *start = body.p;
	size_t before = c->n_rcpts;
	bool first = true;

	while (start < end) {
		const char *q = start, *bend;
		struct mime_headers h;

		/* Skip blank lines, then take lines up to the next blank. */
		while (q < end) {
			const char *eol = memchr(q, '\n', (size_t)(end - q));
			const char *e = eol != NULL ? eol : end;

			if (!text_blank(q, e))
				break;
			q = eol != NULL ? eol + 1 : end;
		}
		start = q;
		while (q < end) {
			const char *eol = memchr(q, '\n', (size_t)(end - q));
			const char *e = eol != NULL ? eol : end;

			if (text_blank(q, e))
				break;
			q = eol != NULL ? eol + 1 : end;
		}
		bend = q;
		if (bend <= start)
			break;
		{
			const char *cut = next_recipient(start, bend);

			if (cut != NULL)
				bend = cut;
		}
		dsn_fields(
		    c->a, (struct span){start, (size_t)(bend - start)}, &h);
		if (is_recipient_block(&h))
			read_recipient(c, &h);
		else if (first)
			read_message_block(c, &h);
		else if (inline_text)
			break; /* the returned message's headers follow */
		first = false;
		start = bend;
	}
	return c->n_rcpts > before;
}

/* Offset of the first line of text starting with one of the DSN fields. */
static const char *
inline_dsn_start(struct span t)
{
	static const char *const names[] = {
	    "Reporting-MTA:", "Final-Recipient:", "Original-Recipient:"};
	const char *p = t.p, *end = t.p + t.len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t i;

		for (i = 0; i < 3; i++) {
			if (text_istarts(p, (size_t)(end - p), names[i]))
				return p;
		}
		p = eol != NULL ? eol + 1 : end;
	}
	return NULL;
}

/*
 * No Diagnostic-Code: Sendmail and others put the SMTP transcript in the
 * human-readable part instead.  Take the notice lines naming the
 * recipient (address or local part) or starting with a reply code.
 */
static void
diagnostic_from_notice(
    struct classify_ctx *c, struct classify_recipient *r, struct span notice)
{
	const char *p = notice.p, *end = notice.p + notice.len;
	const char *at = strchr(r->address, '@');
	size_t lplen = at != NULL ? (size_t)(at - r->address) : 0;
	struct buf b;
	unsigned lines = 0;

	if (r->address[0] == '\0' || notice.len == 0)
		return;
	buf_init(&b, CLASSIFY_MAX_DIAGNOSTIC);
	while (p < end && lines < 8) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *e = eol != NULL ? eol : end;
		size_t n = (size_t)(e - p);
		bool take = text_icase_find(p, n, r->address) != NULL;

		if (!take && lplen >= 3) {
			char *lp = arena_strndup(c->a, r->address, lplen);

			take = text_icase_find(p, n, lp) != NULL;
		}
		if (!take && n > 4 && (p[0] == '4' || p[0] == '5') &&
		    p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
		    (p[3] == ' ' || p[3] == '-'))
			take = true;
		if (take) {
			if ((b.len > 0 && buf_putc(&b, ' ') < 0) ||
			    buf_append(&b, p, n) < 0)
				break;
			lines++;
		}
		p = eol != NULL ? eol + 1 : end;
	}
	if (b.len > 0) {
		char code[16], reply[4];
		const char *d = text_valid_utf8(c->a,
		    text_collapse(c->a, (const char *)b.data, b.len),
		    strlen(text_collapse(c->a, (const char *)b.data, b.len)));

		r->diagnostic = d;
		if (text_failure_status(d, code))
			r->status = arena_strdup(c->a, code);
		if (r->reply_code[0] == '\0') {
			const char *q;

			for (q = d; *q != '\0'; q++) {
				if ((q == d || q[-1] == ' ') &&
				    text_find_reply_code(q, strlen(q), reply) &&
				    q[0] != '2') {
					r->reply_code =
					    arena_strdup(c->a, reply);
					break;
				}
			}
		}
	}
	buf_free(&b);
}

/*
 * A Status that names only the class ("5.0.0") while the notice quotes
 * the remote server's or the local mailer's precise code (Sendmail's
 * "554 5.3.0 unknown mailer error 255"): the quoted code says more.
 */
static void
status_from_context(struct classify_ctx *c, struct classify_recipient *r)
{
	char code[16];

	if (r->context == NULL || strlen(r->status) != 5 ||
	    strcmp(r->status + 1, ".0.0") != 0)
		return;
	if (text_failure_status(r->context, code) && code[2] != '0')
		r->status = arena_strdup(c->a, code);
}

/*
 * A mail system's notice that names no address and carries, as the
 * returned message, another system's DSN (a gateway passing on the
 * bounce it got): that inner report is the one that says who failed.
 * *notice_r becomes the inner notice.
 */
static struct mime_part *
wrapped_dsn(struct classify_ctx *c, struct span *notice_r)
{
	const char *from = c->v->report_from;
	struct rule_match m;
	size_t i;

	if (from == NULL || !rules_match(c->rules, c->a, RULES_BOUNCE_FROM,
	                        from, strlen(from), NULL, &m))
		return NULL;
	for (i = 0; i < c->tree.n; i++) {
		struct mime_part *part = &c->tree.parts[i];

		if (part->in_message &&
		    strcmp(part->type, "message/delivery-status") == 0) {
			size_t j;

			/* Its report's first text part is the inner notice. */
			for (j = 0; j < c->tree.n; j++) {
				struct mime_part *t = &c->tree.parts[j];

				if (t->parent == part->parent &&
				    strcmp(t->type, "text/plain") == 0) {
					*notice_r = mime_decode(c->a, t);
					break;
				}
			}
			return part;
		}
	}
	return NULL;
}

bool
dsn_read(struct classify_ctx *c)
{
	struct mime_part *ds = NULL;
	struct span notice = ctx_notice(c);
	size_t i, before = c->n_rcpts;
	bool found = false;

	for (i = 0; i < c->tree.n; i++) {
		struct mime_part *part = &c->tree.parts[i];

		if (part->in_message)
			continue;
		if (strcmp(part->type, "message/delivery-status") == 0 ||
		    strcmp(part->type, "message/global-delivery-status") == 0) {
			ds = part;
			break;
		}
	}
	if (ds == NULL && memchr(notice.p, '@', notice.len) == NULL)
		ds = wrapped_dsn(c, &notice);
	if (ds != NULL) {
		found = parse_blocks(c, mime_decode(c->a, ds), false);
		c->v->layout =
		    strcmp(ds->type, "message/global-delivery-status") == 0
		        ? "rfc6533"
		        : "rfc3464";
	} else {
		/* The DSN fields written into the text itself (no MIME
		 * structure, or a text/plain part holding them). */
		const char *st = inline_dsn_start(notice);

		if (st != NULL) {
			found = parse_blocks(c,
			    (struct span){
			        st, (size_t)(notice.p + notice.len - st)},
			    true);
			c->v->layout = "rfc3464-inline";
			notice.len = (size_t)(st - notice.p);
		}
	}
	if (!found)
		return false;
	for (i = before; i < c->n_rcpts; i++) {
		if (c->rcpts[i].diagnostic == NULL)
			diagnostic_from_notice(c, &c->rcpts[i], notice);
	}
	notice_context(c, notice, before, c->n_rcpts - before);
	for (i = before; i < c->n_rcpts; i++)
		status_from_context(c, &c->rcpts[i]);
	c->v->kind = CLASSIFY_KIND_DSN;
	return true;
}
