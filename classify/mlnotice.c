/*
 * Notices of a mailing-list manager that refused a post: fml, the list
 * server common in Japan ("X-MLServer: fml ...", sent from the list's
 * -admin address).  Not an MTA's delivery failure, but a bounce all the
 * same: the list turned the message away and names itself in the notice
 * ("You are not a member of this mailing list <list@example.org>.",
 * "Duplicated Message-ID in <list@example.org>.").
 *
 * Claimed only with the list server header and a notice worded as a
 * refusal ([bounce-subject] or [bounce-body] rules), never for an
 * ordinary post the list distributes.  The recipient is the list: the
 * address fml writes as "<address>." closing a line, else the first one
 * in the notice.  The reason comes from the rules over the notice, and
 * the subject ("Loop Alert: ...") as the notice's own words.  The copy of
 * the post after "Original mail as follows:" is cut by a
 * [returned-message] rule.
 */
#include <string.h>

#include "classify_int.h"

/* The list's address: "<list@example.org>." at the end of a line. */
static const char *
list_address(struct classify_ctx *c, struct span notice)
{
	const char *p = notice.p, *end = notice.p + notice.len;
	const char *first = NULL;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *e = eol != NULL ? eol : end;
		size_t n = (size_t)(e - p);
		const char *addr = NULL;

		if (memchr(p, '@', n) != NULL)
			addr = text_address(c->a, arena_strndup(c->a, p, n));
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (addr != NULL && n >= 2 && p[n - 1] == '.' &&
		    p[n - 2] == '>')
			return addr;
		if (addr != NULL && first == NULL)
			first = addr;
		p = eol != NULL ? eol + 1 : end;
	}
	return first;
}

bool
mlnotice_read(struct classify_ctx *c)
{
	struct classify_verdict *v = c->v;
	const char *server = mime_header_get(c->a, c->top, "X-MLServer");
	const char *subj = v->report_subject;
	struct classify_recipient *r;
	struct span notice, rest;
	struct rule_match m;
	const char *addr, *t;
	size_t n;

	if (server == NULL || !text_istarts(server, strlen(server), "fml"))
		return false;
	if (subj != NULL && rules_match(c->rules, c->a, RULES_NOT_BOUNCE, subj,
	                        strlen(subj), NULL, &m))
		return false;
	notice = prose_cut_returned(c, ctx_notice(c), &rest);
	if (!(subj != NULL && rules_match(c->rules, c->a, RULES_BOUNCE_SUBJECT,
	                          subj, strlen(subj), NULL, &m)) &&
	    !rules_match(c->rules, c->a, RULES_BOUNCE_BODY, notice.p,
	        notice.len, NULL, &m))
		return false;
	if ((addr = list_address(c, notice)) == NULL)
		return false;
	r = ctx_add_recipient(c);
	if (r == NULL)
		return true;
	r->address = addr;
	r->action = "failed";
	r->status = "";
	r->reply_code = "";
	n = notice.len < CLASSIFY_MAX_DIAGNOSTIC ? notice.len
	                                         : CLASSIFY_MAX_DIAGNOSTIC;
	t = text_collapse(c->a, notice.p, n);
	r->diagnostic = text_valid_utf8(c->a, t, strlen(t));
	r->context = subj;
	v->kind = CLASSIFY_KIND_PROSE;
	v->layout = "fml";
	return true;
}
