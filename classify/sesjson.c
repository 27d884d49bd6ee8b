/*
 * Amazon SES notifications delivered by e-mail (SNS topic subscriptions):
 * the body is SES's own JSON, {"notificationType": "Bounce" | "Complaint"
 * | "Delivery", ...} or an SNS envelope whose "Message" holds it as a
 * string.  SNS wraps long lines of the body, inside strings too (a "!"
 * ends the broken line, a space starts the next), so the line breaks and
 * those marks are removed before parsing.  The recipients keep SES's
 * status and diagnostic; the reason is decided as for any bounce.
 */
#include <string.h>

#include <jansson.h>

#include "classify_int.h"

/* The JSON of an SES notification is small; more is not one. */
#define SESJSON_MAX (1024u * 1024)

static const char *
jstr(struct classify_arena *a, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		return NULL;
	return text_valid_utf8(a, json_string_value(v), json_string_length(v));
}

static void
read_mail(struct classify_ctx *c, json_t *mail)
{
	struct classify_original *o = &c->v->original;
	json_t *ch = json_object_get(mail, "commonHeaders");
	json_t *to = json_object_get(ch, "to");
	json_t *from = json_object_get(ch, "from");
	size_t i, n;

	o->message_id = jstr(c->a, ch, "messageId");
	if (o->message_id == NULL)
		o->message_id = jstr(c->a, mail, "messageId");
	if (json_is_array(from) && json_array_size(from) > 0 &&
	    json_is_string(json_array_get(from, 0))) {
		o->from = text_valid_utf8(c->a,
		    json_string_value(json_array_get(from, 0)),
		    json_string_length(json_array_get(from, 0)));
		o->from_addr = text_address(c->a, o->from);
	}
	if (o->from_addr == NULL)
		o->from_addr = text_address(c->a, jstr(c->a, mail, "source"));
	o->subject = jstr(c->a, ch, "subject");
	o->date = jstr(c->a, ch, "date");
	if (o->date != NULL)
		o->date_t = text_parse_date(o->date);
	if (json_is_array(to) && (n = json_array_size(to)) > 0) {
		o->to = arena_alloc(c->a, n * sizeof(*o->to));
		for (i = 0; i < n; i++) {
			const char *s =
			    json_string_value(json_array_get(to, i));
			const char *addr =
			    s != NULL ? text_address(c->a,
			                    text_valid_utf8(c->a, s, strlen(s)))
			              : NULL;

			if (addr != NULL)
				o->to[o->n_to++] = addr;
		}
	}
}

static void
read_bounce(struct classify_ctx *c, json_t *b, bool delivery)
{
	json_t *list =
	    json_object_get(b, delivery ? "recipients" : "bouncedRecipients");
	const char *smtp = jstr(c->a, b, "smtpResponse");
	size_t i;

	c->v->reporting_mta = jstr(c->a, b, "reportingMTA");
	for (i = 0; i < json_array_size(list); i++) {
		json_t *x = json_array_get(list, i);
		struct classify_recipient *r = ctx_add_recipient(c);
		char code[16], reply[4];
		const char *addr;

		if (r == NULL)
			break;
		addr = json_is_string(x)
		           ? text_valid_utf8(c->a, json_string_value(x),
		                 json_string_length(x))
		           : jstr(c->a, x, "emailAddress");
		r->address = addr != NULL ? addr : "";
		r->action = delivery ? "delivered" : jstr(c->a, x, "action");
		if (r->action == NULL)
			r->action = "failed";
		r->diagnostic =
		    delivery ? smtp : jstr(c->a, x, "diagnosticCode");
		r->status = "";
		/* The remote server's code quoted in the diagnostic wins. */
		if (!delivery && r->diagnostic != NULL &&
		    text_failure_status(r->diagnostic, code))
			r->status = arena_strdup(c->a, code);
		else if (!delivery && jstr(c->a, x, "status") != NULL &&
		         text_find_status(jstr(c->a, x, "status"),
		             strlen(jstr(c->a, x, "status")), code))
			r->status = arena_strdup(c->a, code);
		else if (r->diagnostic != NULL &&
		         text_find_status(
		             r->diagnostic, strlen(r->diagnostic), code))
			r->status = arena_strdup(c->a, code);
		r->reply_code = "";
		if (r->diagnostic != NULL && text_find_reply_code(r->diagnostic,
		                                 strlen(r->diagnostic), reply))
			r->reply_code = arena_strdup(c->a, reply);
		r->remote_ip = jstr(c->a, b, "remoteMtaIp");
	}
}

static void
read_complaint(struct classify_ctx *c, json_t *o)
{
	struct classify_verdict *v = c->v;
	json_t *list = json_object_get(o, "complainedRecipients");
	size_t i;

	v->feedback_type = jstr(c->a, o, "complaintFeedbackType");
	if (v->feedback_type == NULL)
		v->feedback_type = "abuse";
	v->user_agent = jstr(c->a, o, "userAgent");
	v->arrival_date = jstr(c->a, o, "arrivalDate");
	for (i = 0; i < json_array_size(list); i++) {
		struct classify_recipient *r = ctx_add_recipient(c);
		const char *addr =
		    jstr(c->a, json_array_get(list, i), "emailAddress");

		if (r == NULL)
			break;
		r->address = addr != NULL ? addr : "";
		r->action = "";
		r->status = "";
		r->reply_code = "";
		r->reason = CLASSIFY_R_FEEDBACK;
		r->type = CLASSIFY_EVENT_COMPLAINT;
		r->evidence.kind = CLASSIFY_EV_REPORT;
		r->evidence.what = "Amazon SES complaint notification";
	}
}

bool
sesjson_read(struct classify_ctx *c)
{
	struct span body = ctx_notice(c);
	const char *s, *e;
	json_t *root, *inner = NULL, *n;
	char *flat;
	size_t i, j = 0;
	const char *type;
	bool ok = true;

	if (body.len == 0 || body.len > SESJSON_MAX ||
	    text_icase_find(body.p, body.len, "notificationType") == NULL)
		return false;
	s = memchr(body.p, '{', body.len);
	e = body.p + body.len;
	while (e > body.p && e[-1] != '}')
		e--;
	if (s == NULL || e <= s)
		return false;
	flat = arena_alloc(c->a, (size_t)(e - s) + 1);
	for (i = 0; i < (size_t)(e - s); i++) {
		/* SNS breaks a long line as "!", LF, space: the three are
		 * not part of the JSON (raw JSON never has a line ending in
		 * "!"). */
		if (s[i] == '!' && i + 2 < (size_t)(e - s) &&
		    s[i + 1] == '\n' && s[i + 2] == ' ') {
			i += 2;
			continue;
		}
		if (s[i] != '\n')
			flat[j++] = s[i];
	}
	root = json_loadb(flat, j, 0, NULL);
	if (root == NULL)
		return false;
	/* An SNS envelope carries the notification as a JSON string. */
	if (json_is_string(json_object_get(root, "Message"))) {
		inner = json_loads(
		    json_string_value(json_object_get(root, "Message")), 0,
		    NULL);
		if (inner != NULL) {
			json_decref(root);
			root = inner;
		}
	}
	type = json_string_value(json_object_get(root, "notificationType"));
	if (type == NULL)
		type = json_string_value(json_object_get(root, "eventType"));
	if (type == NULL) {
		json_decref(root);
		return false;
	}
	read_mail(c, json_object_get(root, "mail"));
	if (strcmp(type, "Bounce") == 0 &&
	    (n = json_object_get(root, "bounce")) != NULL)
		read_bounce(c, n, false);
	else if (strcmp(type, "Complaint") == 0 &&
	         (n = json_object_get(root, "complaint")) != NULL)
		read_complaint(c, n);
	else if (strcmp(type, "Delivery") == 0 &&
	         (n = json_object_get(root, "delivery")) != NULL)
		read_bounce(c, n, true);
	else
		ok = false;
	/* type points into root: read it before the tree is freed. */
	c->v->kind = strcmp(type, "Complaint") == 0 ? CLASSIFY_KIND_ARF
	                                            : CLASSIFY_KIND_DSN;
	json_decref(root);
	if (!ok) {
		c->v->kind = CLASSIFY_KIND_NONE;
		return false;
	}
	c->v->layout = "amazonses-json";
	return true;
}
