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

/* Header lines are matched as "Name: value" (one line, unfolded). */
static bool
header_rule(struct classify_ctx *c, const char **marker_r)
{
	const struct mime_headers *h = c->top;
	size_t i;

	for (i = 0; i < h->n; i++) {
		struct rule_match m;
		const char *v = mime_value_clean(c->a, h->h[i].value, false);
		char *line = arena_printf(c->a, "%.*s: %s",
		    (int)h->h[i].name.len, h->h[i].name.p, v);

		if (rules_match(c->rules, c->a, RULES_AUTOREPLY_HEADER, line,
		    strlen(line), NULL, NULL, &m)) {
			*marker_r = line;
			return true;
		}
	}
	return false;
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
	} else if (subj != NULL && rules_match(c->rules, c->a,
	    RULES_AUTOREPLY_SUBJECT, subj, strlen(subj), NULL, NULL, &m)) {
		marker = "subject";
		why = arena_printf(c->a, "subject rule %s:%u", m.file,
		    m.line);
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
	if (m.file != NULL && marker != NULL && strcmp(marker, "subject") == 0) {
		r->evidence.kind = CLASSIFY_EV_RULE;
		r->evidence.rule_file = m.file;
		r->evidence.rule_line = m.line;
		r->evidence.matched = text_valid_utf8(c->a, m.matched.p,
		    m.matched.len);
	}
	return true;
}
