/*
 * RFC 3834 automatic responses: "Auto-Submitted: auto-replied", and the
 * markers real responders use instead (X-Autoreply, X-Autorespond,
 * Precedence: auto_reply, Exchange's X-MS-Exchange-Inbox-Rules-Loop ...)
 * and subject forms in several languages.  Markers and subjects are data:
 * the [autoreply-header] and [autoreply-subject] sections of the rules.
 * An auto-reply is never a bounce: it proves the mailbox exists.
 */
#include <string.h>

#include "classify_int.h"

/*
 * The header block, one "Name: value" per line (unfolded), is matched
 * once with multi-line anchors, not one call per header.
 */
static bool
header_rule(struct classify_ctx *c, const char **marker_r)
{
	const struct mime_headers *h = c->top;
	struct rule_match m;
	struct buf b;
	size_t i;
	bool hit;

	buf_init(&b, CLASSIFY_MAX_HEADER_BYTES);
	for (i = 0; i < h->n; i++) {
		const struct mime_header *x = &h->h[i];
		size_t k;

		if (buf_append(&b, x->name.p, x->name.len) < 0 ||
		    buf_append(&b, ": ", 2) < 0)
			break;
		for (k = 0; k < x->value.len; k++) {
			char ch = x->value.p[k] == '\n' ? ' ' : x->value.p[k];

			if (buf_putc(&b, ch) < 0)
				break;
		}
		if (buf_putc(&b, '\n') < 0)
			break;
	}
	hit = b.len > 0 && rules_match(c->rules, c->a, RULES_AUTOREPLY_HEADER,
	                       (const char *)b.data, b.len, NULL, &m);
	if (hit) {
		const char *s = m.matched.p, *e;
		const char *base = (const char *)b.data;

		/* The whole matched line is the marker. */
		while (s > base && s[-1] != '\n')
			s--;
		e = strchr(s, '\n');
		*marker_r = text_collapse(
		    c->a, s, e != NULL ? (size_t)(e - s) : strlen(s));
		*marker_r = text_valid_utf8(c->a, *marker_r, strlen(*marker_r));
	}
	buf_free(&b);
	return hit;
}

bool
autoreply_read(struct classify_ctx *c)
{
	struct classify_verdict *v = c->v;
	const char *as = mime_header_get(c->a, c->top, "Auto-Submitted");
	const char *marker = NULL;
	struct classify_recipient *r;
	struct rule_match m = {0};
	const char *subj = v->report_subject;
	const char *why;

	if (as != NULL && text_istarts(as, strlen(as), "auto-replied")) {
		marker = text_lower(c->a, as);
		why = "Auto-Submitted: auto-replied (RFC 3834)";
	} else if (header_rule(c, &marker)) {
		why = "auto-reply header marker";
	} else if (subj != NULL &&
	           rules_match(c->rules, c->a, RULES_AUTOREPLY_SUBJECT, subj,
	               strlen(subj), NULL, &m)) {
		marker = "subject";
		why = arena_printf(c->a, "subject rule %s:%u", m.file, m.line);
	} else {
		return false;
	}
	v->kind = CLASSIFY_KIND_AUTOREPLY;
	v->layout = "rfc3834";
	v->auto_submitted = marker;
	v->autoreply_from = text_address(c->a, v->report_from);
	/* The auto-reply answers our message: In-Reply-To names it, and
	 * its To is our sender. */
	{
		const char *irt = mime_header_get(c->a, c->top, "In-Reply-To");
		const char *to = mime_header_get(c->a, c->top, "To");

		if (irt != NULL) {
			const char *id = text_address(c->a, irt);

			v->original.message_id = id != NULL ? id : irt;
		}
		if (to != NULL) {
			v->original.from = to;
			v->original.from_addr = text_address(c->a, to);
		}
	}
	r = ctx_add_recipient(c);
	if (r == NULL)
		return true;
	r->address = v->autoreply_from != NULL ? v->autoreply_from : "";
	r->action = "";
	r->status = "";
	r->reply_code = "";
	r->reason = CLASSIFY_R_VACATION;
	r->type = CLASSIFY_EVENT_AUTOREPLY;
	r->evidence.kind = CLASSIFY_EV_REPORT;
	r->evidence.what = why;
	if (m.file != NULL && marker != NULL &&
	    strcmp(marker, "subject") == 0) {
		r->evidence.kind = CLASSIFY_EV_RULE;
		r->evidence.rule_file = m.file;
		r->evidence.rule_line = m.line;
		r->evidence.matched =
		    text_valid_utf8(c->a, m.matched.p, m.matched.len);
	}
	return true;
}
