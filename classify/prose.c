/*
 * Bounces without a delivery-status part: the notice is prose written by
 * the MTA (qmail, Exim, old Sendmail, Exchange, webmail providers ...).
 * Recognised by its sender ([bounce-from] rules: MAILER-DAEMON,
 * postmaster, "Mail Delivery System"), its subject ([bounce-subject]) and
 * its wording ([bounce-body]); an ordinary message must match two of
 * these, or carry X-Failed-Recipients, before it is called a bounce,
 * because a false bounce suppresses a good address.
 *
 * The notice is the first text part outside the returned message, cut
 * where a [returned-message] rule says the copy of the original starts.
 * Each address in the notice that is not the sender, the report's own
 * addresses or a postmaster is a failed recipient; its diagnostic is the
 * text from its line up to the next recipient's line.  The returned
 * message is a message/rfc822 part, the text after the marker line, or a
 * part that is the original's header block itself.  au's "X-SPASIGN: NG"
 * header names its spam filter as the cause.
 */
#include <string.h>

#include <glib.h>

#include "classify_int.h"

/* Lines of notice text kept per recipient as its diagnostic. */
#define PROSE_MAX_DIAG_LINES 12
/* Bytes of notice read: the notice is short, the rest is the original. */
#define PROSE_MAX_NOTICE (64u * 1024)

/*
 * Cut the notice where the returned message begins; *rest_r is the text
 * after the marker line (the returned message inline), or empty.
 */
struct span
prose_cut_returned(struct classify_ctx *c, struct span s, struct span *rest_r)
{
	size_t off, full = s.len;

	rest_r->p = "";
	rest_r->len = 0;
	if (s.len > PROSE_MAX_NOTICE)
		s.len = PROSE_MAX_NOTICE;
	if (rules_earliest(c->rules, c->a, RULES_RETURNED, s.p, s.len, &off)) {
		const char *nl = memchr(s.p + off, '\n', full - off);

		if (nl != NULL) {
			const char *r = nl + 1, *end = s.p + full;

			/* Blank lines and indentation before the headers. */
			while (r < end && (*r == '\n' || *r == ' '))
				r++;
			rest_r->p = r;
			rest_r->len = (size_t)(end - r);
		}
		s.len = off;
	}
	return s;
}

/* The returned message pasted into the notice: read its headers. */
static void
inline_original(struct classify_ctx *c, struct span rest)
{
	struct mime_headers h;
	struct span body;

	if (rest.len == 0 || c->v->original.message_id != NULL ||
	    c->v->original.from != NULL)
		return;
	mime_parse_headers(c->a, rest, &h, &body);
	if (mime_header_raw(&h, "From") != NULL ||
	    mime_header_raw(&h, "Message-ID") != NULL)
		ctx_set_original(c, &h);
}

/*
 * A MIME part that is the returned message's header block itself, with
 * no message/rfc822 wrapper (some MTAs put the original's "Received:",
 * "From:" ... right after the boundary): its part headers are the
 * original headers.
 */
static void
part_original(struct classify_ctx *c)
{
	size_t i;

	if (c->v->original.message_id != NULL || c->v->original.from != NULL)
		return;
	for (i = 1; i < c->tree.n; i++) {
		const struct mime_part *p = &c->tree.parts[i];

		if (p->in_message || p->parent != 0)
			continue;
		if (mime_header_raw(&p->headers, "Message-ID") != NULL &&
		    mime_header_raw(&p->headers, "From") != NULL) {
			ctx_set_original(c, &p->headers);
			return;
		}
	}
}

static bool
excluded(struct classify_ctx *c, const char *addr, bool self_ok)
{
	const struct classify_verdict *v = c->v;
	const char *lp_end = strchr(addr, '@');
	size_t lp = lp_end != NULL ? (size_t)(lp_end - addr) : strlen(addr);
	const char *from = text_address(c->a, v->report_from);
	const char *to =
	    text_address(c->a, mime_header_get(c->a, c->top, "To"));

	if ((lp == 10 && text_istarts(addr, lp, "postmaster")) ||
	    (lp == 13 && text_istarts(addr, lp, "mailer-daemon")) ||
	    (lp == 13 && text_istarts(addr, lp, "mail-delivery")))
		return true;
	if (from != NULL && g_ascii_strcasecmp(from, addr) == 0)
		return true;
	if (to != NULL && g_ascii_strcasecmp(to, addr) == 0)
		return true;
	if (!self_ok && v->original.from_addr != NULL &&
	    g_ascii_strcasecmp(v->original.from_addr, addr) == 0)
		return true;
	return false;
}

/*
 * "For further assistance, please contact <support@example.net>": an
 * address the notice gives for help, after words inviting the reader to
 * write, is no recipient.  next is the line after (the Japanese verb
 * may be wrapped onto it), or NULL.
 */
/* Length of the line starting at p (up to its LF or end). */
static size_t
line_len(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return (size_t)((nl != NULL ? nl : end) - p);
}

static bool
contact_address(const char *line, const char *next, const char *addr)
{
	static const char *const invites[] = {"contact", "send mail to",
	    "write to", "reply to", "questions to", "assistance"};
	/* "get in touch", "inquiries" (Japanese). */
	static const char *const invites_after[] = {"\xe9\x80\xa3\xe7\xb5\xa1",
	    "\xe5\x95\x8f\xe3\x81\x84\xe5\x90\x88\xe3\x82\x8f\xe3\x81\x9b"};
	const char *at = text_icase_find(line, strlen(line), addr);
	size_t before, i;

	if (at == NULL)
		return false;
	/* Only the words before the address count; Japanese puts the verb
	 * after it ("<support@...> へご連絡ください"), so those count
	 * anywhere. */
	before = (size_t)(at - line);
	for (i = 0; i < sizeof(invites) / sizeof(invites[0]); i++) {
		if (text_icase_find(line, before, invites[i]) != NULL)
			return true;
	}
	for (i = 0; i < sizeof(invites_after) / sizeof(invites_after[0]); i++) {
		if (strstr(line, invites_after[i]) != NULL ||
		    (next != NULL && strstr(next, invites_after[i]) != NULL))
			return true;
	}
	return false;
}

/* "Message-Id: <x@y>", "Received: ..." inside a notice are not recipients. */
static bool
header_like(const char *line, size_t len)
{
	static const char *const names[] = {"message-id:", "return-path:",
	    "received:", "reporting-mta:", "x-postfix-sender:", "reply-to:",
	    "in-reply-to:", "references:", "arrival-date:", "sender:", "from:",
	    "to:", "cc:", "envelope-to:", "delivered-to:", "x-original-to:",
	    "return-receipt-to:", "errors-to:", "date:", "dkim-signature:",
	    "list-unsubscribe:", "x-"};
	size_t i;

	while (len > 0 && (*line == ' ' || *line == '>')) {
		line++;
		len--;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (text_istarts(line, len, names[i]))
			return true;
	}
	return false;
}

static bool
already(struct classify_ctx *c, size_t before, const char *addr)
{
	size_t i;

	for (i = before; i < c->n_rcpts; i++) {
		if (g_ascii_strcasecmp(c->rcpts[i].address, addr) == 0)
			return true;
	}
	return false;
}

/* First "[245]dd" reply code standing as a word in s. */
static bool
find_code(const char *s, char out[4])
{
	const char *p;

	for (p = s; p[0] != '\0' && p[1] != '\0' && p[2] != '\0'; p++) {
		if ((p[0] == '2' || p[0] == '4' || p[0] == '5') &&
		    p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
		    (p == s || p[-1] == ' ' || p[-1] == ':' || p[-1] == '(' ||
		        p[-1] == '"' || p[-1] == '<' || p[-1] == '\n') &&
		    (p[3] == ' ' || p[3] == '-' || p[3] == '\0' ||
		        p[3] == ')')) {
			memcpy(out, p, 3);
			out[3] = '\0';
			return true;
		}
	}
	return false;
}

static void
fill_recipient(
    struct classify_ctx *c, struct classify_recipient *r, const char *diag)
{
	char code[16], reply[4];

	r->action = "failed";
	r->diagnostic = diag;
	r->status = "";
	r->reply_code = "";
	if (text_failure_status(diag, code))
		r->status = arena_strdup(c->a, code);
	if (find_code(diag, reply))
		r->reply_code = arena_strdup(c->a, reply);
	if (r->status[0] == '4' ||
	    (r->status[0] == '\0' && r->reply_code[0] == '4'))
		r->action = "failed"; /* a notice in prose is final */
	r->remote_ip = text_find_ip(c->a, diag);
}

/* Text of lines [from, to) collapsed, valid UTF-8, capped. */
static const char *
lines_text(struct classify_ctx *c, const char *from, const char *to)
{
	size_t n = (size_t)(to - from);
	const char *t;

	if (n > CLASSIFY_MAX_DIAGNOSTIC)
		n = CLASSIFY_MAX_DIAGNOSTIC;
	t = text_collapse(c->a, from, n);
	return text_valid_utf8(c->a, t, strlen(t));
}

static void
scan_recipients(struct classify_ctx *c, struct span notice, const char **failed,
    size_t n_failed, bool self_ok)
{
	const char *p = notice.p, *end = notice.p + notice.len;
	size_t before = c->n_rcpts;
	/* Start of each recipient's diagnostic, to close it at the next. */
	struct classify_recipient *open = NULL;
	const char *open_from = NULL;
	unsigned open_lines = 0;
	/* "While talking to mx.example.org:" opening a transcript no
	 * recipient's segment has taken yet, or Lotus Notes' "Failure
	 * Reasons" section: the lines that follow belong to the recipient
	 * named next (old Sendmail writes ">>> MAIL From: ... <<< 550 ..."
	 * before the recipient's line, Notes the reason above the address). */
	const char *talk = NULL;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *e = eol != NULL ? eol : end;
		const char *at = memchr(p, '@', (size_t)(e - p));
		const char *addr = NULL;

		if (open == NULL && (text_icase_find(p, (size_t)(e - p),
		                         "while talking to") != NULL ||
		                        text_icase_find(p, (size_t)(e - p),
		                            "failure reasons") != NULL))
			talk = p;

		if (at != NULL) {
			char *line = arena_strndup(c->a, p, (size_t)(e - p));

			addr = text_address(c->a, line);
			if (addr != NULL &&
			    (excluded(c, addr, self_ok) ||
			        header_like(line, strlen(line)) ||
			        contact_address(line,
			            eol != NULL ? arena_strndup(c->a, eol + 1,
			                              line_len(eol + 1, end))
			                        : NULL,
			            addr)))
				addr = NULL;
			if (addr != NULL && n_failed > 0) {
				size_t i;
				bool listed = false;

				for (i = 0; i < n_failed; i++) {
					if (g_ascii_strcasecmp(
					        failed[i], addr) == 0)
						listed = true;
				}
				if (!listed)
					addr = NULL;
			}
		}
		if (addr != NULL && !already(c, before, addr)) {
			if (open != NULL)
				fill_recipient(
				    c, open, lines_text(c, open_from, p));
			open = ctx_add_recipient(c);
			if (open == NULL)
				return;
			open->address = addr;
			open_from = talk != NULL ? talk : p;
			open_lines = 0;
			talk = NULL;
		} else if (open != NULL &&
		           ++open_lines >= PROSE_MAX_DIAG_LINES) {
			fill_recipient(c, open, lines_text(c, open_from, e));
			open = NULL;
		}
		p = eol != NULL ? eol + 1 : end;
	}
	if (open != NULL)
		fill_recipient(c, open, lines_text(c, open_from, end));
}

/* A message/rfc822 or text/rfc822-headers part: the returned message. */
static bool
has_returned_part(struct classify_ctx *c)
{
	size_t i;

	for (i = 1; i < c->tree.n; i++) {
		const struct mime_part *p = &c->tree.parts[i];

		if (!p->in_message &&
		    (strcmp(p->type, "message/rfc822") == 0 ||
		        strcmp(p->type, "text/rfc822-headers") == 0))
			return true;
	}
	return false;
}

/*
 * The returned message's one To address, for a notice that names nobody
 * (V5 Sendmail's deferrals and transcripts without an address line,
 * some appliances): whom it was sent to, unless it is one the notice's
 * own addresses would not be taken for either (excluded: the report's
 * sender or addressee, the original's sender, a postmaster).  NULL
 * then, or with several.
 */
static const char *
original_to(struct classify_ctx *c)
{
	const struct classify_original *o = &c->v->original;

	if (o->n_to != 1 || o->to[0] == NULL || o->to[0][0] == '\0' ||
	    excluded(c, o->to[0], false))
		return NULL;
	return o->to[0];
}

bool
prose_read(struct classify_ctx *c)
{
	struct classify_verdict *v = c->v;
	const char *from = v->report_from, *subj = v->report_subject;
	const char *xf = mime_header_get(c->a, c->top, "X-Failed-Recipients");
	struct rule_match m;
	struct span notice, rest;
	bool from_hit, subj_hit, body_hit, returned, weak;
	const char **failed = NULL;
	struct classify_recipient *unnamed = NULL;
	size_t n_failed = 0, i, before = c->n_rcpts;

	from_hit =
	    from != NULL && rules_match(c->rules, c->a, RULES_BOUNCE_FROM, from,
	                        strlen(from), NULL, &m);
	if (!from_hit && subj != NULL &&
	    rules_match(
	        c->rules, c->a, RULES_NOT_BOUNCE, subj, strlen(subj), NULL, &m))
		return false;
	subj_hit =
	    subj != NULL && rules_match(c->rules, c->a, RULES_BOUNCE_SUBJECT,
	                        subj, strlen(subj), NULL, &m);
	returned = has_returned_part(c);
	if (xf == NULL && !from_hit && !subj_hit && !returned)
		return false;
	notice = prose_cut_returned(c, ctx_notice(c), &rest);
	/* The body wording is read only when it can decide. */
	body_hit = (xf == NULL && !(from_hit && subj_hit)) &&
	           rules_match(c->rules, c->a, RULES_BOUNCE_BODY, notice.p,
	               notice.len, NULL, &m);
	/* Two signals must agree; a returned message attached to a notice
	 * worded as a failure counts as one. */
	if (!(xf != NULL || (from_hit && (subj_hit || body_hit)) ||
	        (subj_hit && body_hit) || (returned && body_hit)))
		return false;
	/* Mail sent to a list or by a newsletter, and not by a mail system:
	 * a person or a publisher writing about bounces, not a bounce. */
	if (!from_hit && xf == NULL &&
	    (mime_header_raw(c->top, "List-Unsubscribe") != NULL ||
	        mime_header_raw(c->top, "List-Id") != NULL))
		return false;
	/* Only the subject and the wording agree: unless the notice names
	 * someone it failed for or returns a message, it is prose about a
	 * bounce rather than a bounce. */
	weak = !from_hit && xf == NULL && !returned;
	ctx_find_original(c);
	inline_original(c, rest);
	part_original(c);
	if (xf != NULL) {
		/* Exim: the header lists every failed address. */
		char *list = arena_strdup(c->a, xf), *save = NULL, *tok;

		failed =
		    arena_alloc(c->a, (strlen(xf) / 2 + 1) * sizeof(*failed));
		for (tok = strtok_r(list, ", ", &save); tok != NULL;
		     tok = strtok_r(NULL, ", ", &save)) {
			const char *a = text_address(c->a, tok);

			if (a != NULL)
				failed[n_failed++] = a;
		}
	}
	scan_recipients(c, notice, failed, n_failed, false);
	/* Nobody but the original sender named: a message to oneself. */
	if (c->n_rcpts == before && v->original.from_addr != NULL)
		scan_recipients(c, notice, failed, n_failed, true);
	/* Listed in X-Failed-Recipients but not named in the text. */
	for (i = 0; i < n_failed; i++) {
		if (!already(c, before, failed[i])) {
			struct classify_recipient *r = ctx_add_recipient(c);

			if (r == NULL)
				break;
			r->address = failed[i];
			fill_recipient(c, r,
			    lines_text(c, notice.p, notice.p + notice.len));
		}
	}
	if (c->n_rcpts == before && weak && rest.len == 0) {
		memset(&v->original, 0, sizeof(v->original));
		return false;
	}
	if (c->n_rcpts == before) {
		/* A bounce whose recipient the notice does not name: an
		 * address-less recipient (SES's NoEmail) so it is seen; its
		 * address is the returned message's To when that says it,
		 * set once its reason is decided (the notice named nobody,
		 * and the reason is read as such). */
		struct classify_recipient *r = ctx_add_recipient(c);

		if (r == NULL)
			return true;
		r->address = "";
		fill_recipient(
		    c, r, lines_text(c, notice.p, notice.p + notice.len));
		unnamed = r;
	}
	/* The one recipient's segment naming no cause: read the whole
	 * notice (some MTAs state the cause above the address). */
	{
		struct classify_recipient whole;
		bool have_whole = false;

		for (i = before; i < c->n_rcpts; i++) {
			struct classify_recipient *r = &c->rcpts[i];

			ctx_hosts(c, r);
			reason_decide(c->rules, c->a, r);
			/* Only a notice about one recipient: with several, the
			 * rest of the notice is the others' causes. */
			if (c->n_rcpts - before == 1 &&
			    (r->reason == CLASSIFY_R_UNDEFINED ||
			        r->reason == CLASSIFY_R_ONHOLD)) {
				struct classify_recipient copy;

				if (!have_whole) {
					memset(&whole, 0, sizeof(whole));
					whole.address = r->address;
					fill_recipient(c, &whole,
					    lines_text(c, notice.p,
					        notice.p + notice.len));
					ctx_hosts(c, &whole);
					reason_decide(c->rules, c->a, &whole);
					have_whole = true;
				}
				copy = whole;
				if (copy.reason != CLASSIFY_R_UNDEFINED &&
				    copy.reason != CLASSIFY_R_ONHOLD) {
					r->reason = copy.reason;
					r->evidence = copy.evidence;
					r->bounce_type = copy.bounce_type;
					if (r->status[0] == '\0')
						r->status = copy.status;
				}
			}
		}
	}
	/* au (KDDI) marks the notice of a message its spam filter refused
	 * with "X-SPASIGN: NG": whatever the wording, a filter. */
	{
		const char *spa = mime_header_get(c->a, c->top, "X-SPASIGN");

		if (spa != NULL && g_ascii_strncasecmp(spa, "NG", 2) == 0) {
			for (i = before; i < c->n_rcpts; i++) {
				struct classify_recipient *r = &c->rcpts[i];

				r->reason = CLASSIFY_R_FILTERED;
				r->evidence.kind = CLASSIFY_EV_REPORT;
				r->evidence.what = "X-SPASIGN: NG (the "
				                   "receiver's spam filter)";
				r->bounce_type = reason_bounce_type(
				    r->reason, r->status, r->reply_code);
			}
		}
	}
	/* A delay warning in prose: the MTA is still trying. */
	if (rules_match(c->rules, c->a, RULES_DELAYED, notice.p, notice.len,
	        NULL, &m)) {
		for (i = before; i < c->n_rcpts; i++)
			c->rcpts[i].action = "delayed";
	}
	if (unnamed != NULL) {
		const char *to = original_to(c);

		if (to != NULL)
			unnamed->address = to;
	}
	v->kind = CLASSIFY_KIND_PROSE;
	v->layout = "prose";
	return true;
}
