/*
 * RFC 5965 Abuse Reporting Format complaints, with the RFC 6591
 * (auth-failure) and RFC 6650 fields.  The machine-readable part is a
 * message/feedback-report block of "Name: value" fields; the complained
 * recipients are its Original-Rcpt-To fields or, when the provider strips
 * them (most do), the To of the reported message.  Redacted addresses
 * ("xxxxxxxx@example.net") are kept as written: rebound never guesses.
 * The mail object describes the reported message, never the report.
 * Also Microsoft's older JMRP reports and Apple Mail's unsubscribe
 * requests, which carry no feedback-report part.
 */
#include <string.h>

#include <glib.h>

#include "classify_int.h"

static struct mime_part *
find_report(struct classify_ctx *c)
{
	size_t i;

	for (i = 0; i < c->tree.n; i++) {
		struct mime_part *p = &c->tree.parts[i];

		if (!p->in_message &&
		    strcmp(p->type, "message/feedback-report") == 0)
			return p;
	}
	return NULL;
}

static void
add_recipient(struct classify_ctx *c, const char *addr)
{
	struct classify_recipient *r;
	size_t i;

	for (i = 0; i < c->n_rcpts; i++) {
		if (strcmp(c->rcpts[i].address, addr) == 0)
			return;
	}
	r = ctx_add_recipient(c);
	if (r == NULL)
		return;
	r->address = addr;
	r->action = "";
	r->status = "";
	r->reply_code = "";
	r->reason = CLASSIFY_R_FEEDBACK;
	r->type = CLASSIFY_EVENT_COMPLAINT;
	r->evidence.kind = CLASSIFY_EV_REPORT;
	r->evidence.what = "message/feedback-report (RFC 5965)";
}

/*
 * Microsoft's JMRP/SNDS complaints predate ARF's wide use: a plain
 * multipart/mixed message whose one message/rfc822 part is the reported
 * message, stamped with X-HmXmrOriginalRecipient (the complainer).
 */
static bool
jmrp_read(struct classify_ctx *c)
{
	struct classify_verdict *v = c->v;
	const char *rcpt = NULL;
	size_t i;

	for (i = 0; i + 1 < c->tree.n; i++) {
		const struct mime_part *p = &c->tree.parts[i];

		if (p->in_message || strcmp(p->type, "message/rfc822") != 0 ||
		    c->tree.parts[i + 1].parent != (int)i)
			continue;
		rcpt = mime_header_get(c->a, &c->tree.parts[i + 1].headers,
		    "X-HmXmrOriginalRecipient");
		break;
	}
	if (rcpt == NULL)
		return false;
	v->kind = CLASSIFY_KIND_ARF;
	v->layout = "jmrp";
	v->feedback_type = "abuse";
	v->source_ip = mime_header_get(
	    c->a, &c->tree.parts[i + 1].headers, "X-Reporter-IP");
	ctx_find_original(c);
	{
		const char *addr = text_address(c->a, rcpt);

		add_recipient(c, addr != NULL ? addr : rcpt);
	}
	return true;
}

/*
 * Apple Mail's one-click unsubscribe: a message sent by the subscriber to
 * the List-Unsubscribe address, marked "X-Apple-Unsubscribe: true".  An
 * opt-out request from the address in its From.
 */
static bool
apple_unsubscribe_read(struct classify_ctx *c)
{
	struct classify_verdict *v = c->v;
	const char *mark = mime_header_get(c->a, c->top, "X-Apple-Unsubscribe");
	const char *from;

	if (mark == NULL || g_ascii_strcasecmp(mark, "true") != 0)
		return false;
	from = text_address(c->a, v->report_from);
	if (from == NULL)
		return false;
	v->kind = CLASSIFY_KIND_ARF;
	v->layout = "apple-unsubscribe";
	v->feedback_type = "opt-out";
	/* The list's unsubscribe address names the sender it is for. */
	v->original_mail_from =
	    text_address(c->a, mime_header_get(c->a, c->top, "To"));
	add_recipient(c, from);
	if (c->n_rcpts > 0)
		c->rcpts[c->n_rcpts - 1].evidence.what =
		    "X-Apple-Unsubscribe: true (an unsubscribe request)";
	return true;
}

bool
arf_read(struct classify_ctx *c)
{
	struct classify_verdict *v = c->v;
	struct mime_part *rp = find_report(c);
	struct mime_headers h;
	struct span body;
	const char *s;
	size_t i;

	if (rp == NULL)
		return jmrp_read(c) || apple_unsubscribe_read(c);
	body = mime_decode(c->a, rp);
	dsn_fields(c->a, body, &h);
	v->kind = CLASSIFY_KIND_ARF;
	v->layout = "arf";
	s = mime_header_get(c->a, &h, "Feedback-Type");
	v->feedback_type = s != NULL ? text_lower(c->a, s) : "other";
	v->user_agent = mime_header_get(c->a, &h, "User-Agent");
	v->arf_version = mime_header_get(c->a, &h, "Version");
	v->original_mail_from =
	    text_address(c->a, mime_header_get(c->a, &h, "Original-Mail-From"));
	v->source_ip = mime_header_get(c->a, &h, "Source-IP");
	v->reported_domain = mime_header_get(c->a, &h, "Reported-Domain");
	v->auth_results = mime_header_get(c->a, &h, "Authentication-Results");
	v->incidents = mime_header_get(c->a, &h, "Incidents");
	s = mime_header_get(c->a, &h, "Arrival-Date");
	if (s == NULL)
		s = mime_header_get(c->a, &h, "Received-Date");
	if (s != NULL) {
		time_t t = text_parse_date(s);
		char buf[40];

		if (t != 0) {
			time_format_iso(t, buf, sizeof(buf));
			v->arrival_date = arena_strdup(c->a, buf);
			v->report_time = t;
		}
	}
	for (i = 0; i < h.n; i++) {
		if (text_ieq(h.h[i].name, "Original-Rcpt-To") ||
		    text_ieq(h.h[i].name, "Removal-Recipient")) {
			const char *val =
			    mime_value_clean(c->a, h.h[i].value, false);
			const char *addr = text_address(c->a, val);

			add_recipient(c, addr != NULL ? addr : val);
		}
	}
	ctx_find_original(c);
	if (c->n_rcpts == 0) {
		for (i = 0; i < v->original.n_to; i++)
			add_recipient(c, v->original.to[i]);
	}
	if (c->n_rcpts == 0)
		add_recipient(c, "");
	return true;
}
