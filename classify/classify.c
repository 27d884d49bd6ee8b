/*
 * classify_message(): the one entry point.  It copies the input once with
 * line ends made LF (CRLF and bare CR alike), reads the MIME tree, and
 * asks the readers in order of certainty: an ARF feedback report, an
 * RFC 3464 delivery-status part, an RFC 3834 auto-reply, a bounce notice
 * in prose.  Whatever claims the message fills the recipients; each
 * recipient then gets its reason and bounce type, and recipients sharing
 * an event type and bounce type become one event (SES emits one event per
 * fate).  Nothing here does I/O or reads the clock.
 */
#include <string.h>

#include <gmime/gmime.h>

#include "classify_int.h"

void
classify_global_init(void)
{
	g_mime_init();
}

void
classify_global_shutdown(void)
{
	g_mime_shutdown();
}

const char *
classify_event_type_name(enum classify_event_type t)
{
	switch (t) {
	case CLASSIFY_EVENT_BOUNCE:
		return "Bounce";
	case CLASSIFY_EVENT_COMPLAINT:
		return "Complaint";
	case CLASSIFY_EVENT_AUTOREPLY:
		return "AutoReply";
	case CLASSIFY_EVENT_DELIVERY:
		return "Delivery";
	case CLASSIFY_EVENT_DELAY:
		return "DeliveryDelay";
	case CLASSIFY_EVENT_NOT_FEEDBACK:
		return "NotFeedback";
	}
	return "NotFeedback";
}

const char *
classify_bounce_type_name(enum classify_bounce_type t)
{
	switch (t) {
	case CLASSIFY_BOUNCE_PERMANENT:
		return "Permanent";
	case CLASSIFY_BOUNCE_TRANSIENT:
		return "Transient";
	case CLASSIFY_BOUNCE_UNDETERMINED:
		return "Undetermined";
	case CLASSIFY_BOUNCE_NONE:
		break;
	}
	return "";
}

struct classify_recipient *
ctx_add_recipient(struct classify_ctx *c)
{
	struct classify_recipient *r;

	if (c->n_rcpts >= CLASSIFY_MAX_RECIPIENTS) {
		c->v->flags |= CLASSIFY_F_TRUNCATED;
		return NULL;
	}
	if (c->n_rcpts == c->cap_rcpts) {
		struct classify_recipient *nr;

		c->cap_rcpts = c->cap_rcpts ? c->cap_rcpts * 2 : 8;
		nr = arena_alloc(c->a, c->cap_rcpts * sizeof(*nr));
		if (c->n_rcpts > 0)
			memcpy(nr, c->rcpts, c->n_rcpts * sizeof(*nr));
		c->rcpts = nr;
	}
	r = &c->rcpts[c->n_rcpts++];
	memset(r, 0, sizeof(*r));
	return r;
}

/* All addresses of an address-list header ("a@b, Name <c@d>"). */
static void
address_list(
    struct classify_arena *a, const char *v, const char ***list_r, size_t *n_r)
{
	const char **list = NULL;
	size_t n = 0, cap = 0;
	const char *p = v;

	while (p != NULL && *p != '\0') {
		const char *comma = p;
		bool quoted = false, angle = false;
		const char *addr;

		/* A comma inside quotes or <> does not end an address. */
		for (; *comma != '\0'; comma++) {
			if (*comma == '"')
				quoted = !quoted;
			else if (*comma == '<')
				angle = true;
			else if (*comma == '>')
				angle = false;
			else if (*comma == ',' && !quoted && !angle)
				break;
		}
		addr =
		    text_address(a, arena_strndup(a, p, (size_t)(comma - p)));
		if (addr != NULL && n < 100) {
			if (n == cap) {
				const char **nl;

				cap = cap ? cap * 2 : 4;
				nl = arena_alloc(a, cap * sizeof(*nl));
				if (n > 0)
					memcpy(nl, list, n * sizeof(*nl));
				list = nl;
			}
			list[n++] = addr;
		}
		p = *comma != '\0' ? comma + 1 : NULL;
	}
	*list_r = list;
	*n_r = n;
}

void
ctx_set_original(struct classify_ctx *c, const struct mime_headers *h)
{
	struct classify_original *o = &c->v->original;
	struct classify_arena *a = c->a;
	const char *s;

	if ((s = mime_header_get(a, h, "Message-ID")) != NULL) {
		const char *id = text_address(a, s);

		/* Message-IDs without '@' exist; strip the brackets. */
		if (id == NULL) {
			size_t n = strlen(s);

			if (n > 2 && s[0] == '<' && s[n - 1] == '>')
				id = arena_strndup(a, s + 1, n - 2);
			else
				id = s;
		}
		o->message_id = id;
	}
	if ((s = mime_header_get(a, h, "From")) != NULL) {
		o->from = s;
		o->from_addr = text_address(a, s);
	}
	if ((s = mime_header_get(a, h, "To")) != NULL)
		address_list(a, s, &o->to, &o->n_to);
	o->subject = mime_header_get(a, h, "Subject");
	if ((o->date = mime_header_get(a, h, "Date")) != NULL)
		o->date_t = text_parse_date(o->date);
	o->feedback_id = mime_header_get(a, h, "Feedback-ID");
	o->return_path = text_address(a, mime_header_get(a, h, "Return-Path"));
}

struct span
ctx_notice(struct classify_ctx *c)
{
	size_t i;

	for (i = 0; i < c->tree.n; i++) {
		struct mime_part *p = &c->tree.parts[i];

		if (p->in_message)
			continue;
		if (strncmp(p->type, "text/", 5) == 0 &&
		    strcmp(p->type, "text/rfc822-headers") != 0)
			return mime_decode(c->a, p);
	}
	/* A multipart whose boundary never occurs: its body is the text. */
	if (c->tree.n == 1 &&
	    strncmp(c->tree.parts[0].type, "multipart/", 10) == 0)
		return mime_decode(c->a, &c->tree.parts[0]);
	return (struct span){"", 0};
}

void
ctx_find_original(struct classify_ctx *c)
{
	size_t i;

	for (i = 0; i < c->tree.n; i++) {
		struct mime_part *p = &c->tree.parts[i];

		if (p->in_message)
			continue;
		if (strcmp(p->type, "message/rfc822") == 0 ||
		    strcmp(p->type, "message/global") == 0) {
			/* Its one child entity holds the original headers. */
			if (i + 1 < c->tree.n &&
			    c->tree.parts[i + 1].parent == (int)i)
				ctx_set_original(
				    c, &c->tree.parts[i + 1].headers);
			return;
		}
		if (strcmp(p->type, "text/rfc822-headers") == 0 ||
		    strcmp(p->type, "message/rfc822-headers") == 0 ||
		    strcmp(p->type, "message/global-headers") == 0) {
			struct span body = mime_decode(c->a, p), rest;
			struct mime_headers h;

			mime_parse_headers(c->a, body, &h, &rest);
			ctx_set_original(c, &h);
			c->v->flags |= CLASSIFY_F_HEADERS_ONLY;
			return;
		}
	}
}

/* Normalise line ends to LF into a fresh arena copy. */
static struct span
to_lf(struct classify_arena *a, const unsigned char *msg, size_t len)
{
	char *o = arena_alloc(a, len + 1);
	size_t i = 0, j = 0;

	while (i < len) {
		const unsigned char *cr = memchr(msg + i, '\r', len - i);
		size_t run = cr != NULL ? (size_t)(cr - (msg + i)) : len - i;

		memcpy(o + j, msg + i, run);
		i += run;
		j += run;
		if (cr == NULL)
			break;
		/* CRLF -> LF, bare CR -> LF. */
		o[j++] = '\n';
		i += (i + 1 < len && msg[i + 1] == '\n') ? 2 : 1;
	}
	o[j] = '\0';
	return (struct span){o, j};
}

static void
build_events(struct classify_ctx *c)
{
	struct classify_verdict *v = c->v;
	size_t i, j;

	v->events = arena_alloc(c->a, (c->n_rcpts + 1) * sizeof(*v->events));
	v->n_events = 0;
	for (i = 0; i < c->n_rcpts; i++) {
		struct classify_recipient *r = &c->rcpts[i];

		for (j = 0; j < v->n_events; j++) {
			struct classify_event *e = &v->events[j];

			if (e->type == r->type &&
			    e->bounce_type == r->bounce_type &&
			    (e->bounce_subtype == r->bounce_subtype ||
			        (e->bounce_subtype != NULL &&
			            r->bounce_subtype != NULL &&
			            strcmp(e->bounce_subtype,
			                r->bounce_subtype) == 0)))
				break;
		}
		if (j == v->n_events) {
			struct classify_event *e = &v->events[v->n_events++];

			e->type = r->type;
			e->bounce_type = r->bounce_type;
			e->bounce_subtype = r->bounce_subtype;
			e->n_recipients = 0;
		}
		r->event = (unsigned)j;
		v->events[j].n_recipients++;
	}
	if (v->n_events == 0) {
		struct classify_event *e = &v->events[v->n_events++];

		memset(e, 0, sizeof(*e));
		e->type = CLASSIFY_EVENT_NOT_FEEDBACK;
		v->kind = CLASSIFY_KIND_NONE;
	}
}

/* Reason, event type and bounce type of each bounce recipient. */
static void
finish_recipients(struct classify_ctx *c)
{
	size_t i;

	for (i = 0; i < c->n_rcpts; i++) {
		struct classify_recipient *r = &c->rcpts[i];

		if (r->reason == CLASSIFY_R_FEEDBACK ||
		    r->reason == CLASSIFY_R_VACATION)
			continue;
		if (r->evidence.kind == CLASSIFY_EV_NONE) {
			ctx_hosts(c, r);
			reason_decide(c->rules, c->a, r);
		}
		if (r->reason == CLASSIFY_R_DELIVERED) {
			r->type = CLASSIFY_EVENT_DELIVERY;
			r->bounce_type = CLASSIFY_BOUNCE_NONE;
		} else if (r->action != NULL &&
		           strcmp(r->action, "delayed") == 0) {
			r->type = CLASSIFY_EVENT_DELAY;
			r->delay_type = reason_delay_type(r->reason);
			r->bounce_type = CLASSIFY_BOUNCE_NONE;
		} else {
			r->type = CLASSIFY_EVENT_BOUNCE;
			if (r->bounce_type == CLASSIFY_BOUNCE_NONE)
				r->bounce_type = reason_bounce_type(
				    r->reason, r->status, r->reply_code);
			r->bounce_subtype =
			    reason_bounce_subtype(r->reason, r->bounce_type);
		}
	}
}

static bool
from_mail_system(struct classify_ctx *c)
{
	const char *from = c->v->report_from;
	struct rule_match m;

	return from != NULL && rules_match(c->rules, c->a, RULES_BOUNCE_FROM,
	                           from, strlen(from), NULL, &m);
}

int
classify_message(const struct classify_rules *rules, const unsigned char *msg,
    size_t len, time_t now, struct classify_verdict *verdict_r)
{
	struct classify_ctx c;
	struct classify_verdict *v = verdict_r;
	struct span lf;
	const char *s;

	memset(v, 0, sizeof(*v));
	memset(&c, 0, sizeof(c));
	v->arena = arena_new();
	c.rules = rules;
	c.a = v->arena;
	c.v = v;
	c.now = now;
	if (len > CLASSIFY_MAX_MESSAGE) {
		len = CLASSIFY_MAX_MESSAGE;
		v->flags |= CLASSIFY_F_TRUNCATED;
	}
	lf = to_lf(c.a, msg != NULL ? msg : (const unsigned char *)"", len);
	mime_parse_tree(c.a, lf, &c.tree);
	v->flags |= c.tree.flags;
	v->report_time = now;
	v->layout = "none";
	if (c.tree.n > 0) {
		c.top = &c.tree.parts[0].headers;
		v->report_message_id = text_address(
		    c.a, mime_header_get(c.a, c.top, "Message-ID"));
		v->report_from = mime_header_get(c.a, c.top, "From");
		v->report_subject = mime_header_get(c.a, c.top, "Subject");
		if ((s = mime_header_get(c.a, c.top, "Date")) != NULL) {
			time_t t = text_parse_date(s);

			if (t != 0)
				v->report_time = t;
		}
		/* Exim and others mark their bounces "Auto-Submitted:
		 * auto-replied"; and a notice from a mail system that cannot
		 * be read as a bounce is no person's auto-reply either: it is
		 * left NotFeedback, for review. */
		if (!arf_read(&c) && !dsn_read(&c) && !sesjson_read(&c) &&
		    !mlnotice_read(&c)) {
			if (from_mail_system(&c))
				(void)prose_read(&c);
			else if (!autoreply_read(&c))
				(void)prose_read(&c);
		}
		if (v->kind == CLASSIFY_KIND_DSN)
			ctx_find_original(&c);
	}
	finish_recipients(&c);
	v->recipients = c.rcpts;
	v->n_recipients = c.n_rcpts;
	build_events(&c);
	/* A stable id for this feedback: its Message-ID, or a digest. */
	if (v->report_message_id != NULL) {
		v->feedback_id = v->report_message_id;
	} else {
		gchar *d = g_compute_checksum_for_data(
		    G_CHECKSUM_SHA256, (const guchar *)lf.p, lf.len);

		v->feedback_id = arena_strndup(c.a, d, 32);
		g_free(d);
	}
	{
		const char *sender = v->original.from_addr;

		if (v->kind == CLASSIFY_KIND_ARF && sender == NULL)
			sender = v->original_mail_from;
		v->identity = text_domain(c.a, sender);
	}
	return 0;
}

void
classify_verdict_clear(struct classify_verdict *v)
{
	if (v == NULL)
		return;
	arena_free(&v->arena);
	memset(v, 0, sizeof(*v));
}
