/*
 * The event contract: Amazon SES event-publishing JSON (field names,
 * values and casing as SES writes them), plus `reason` on every recipient
 * object and the top-level `rebound` object (DESIGN.md).  Unknown fields
 * are left out rather than written as null.  Every string put here is
 * valid UTF-8 already (the readers repair it), which jansson requires.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "classify_int.h"

static void
set_str(json_t *o, const char *key, const char *val)
{
	if (val != NULL && val[0] != '\0')
		json_object_set_new(o, key, json_string(val));
}

static const char *
iso(char *buf, size_t len, time_t t)
{
	time_format_iso(t, buf, len);
	return buf;
}

static json_t *
mail_object(const struct classify_verdict *v)
{
	const struct classify_original *o = &v->original;
	json_t *mail = json_object(), *ch = json_object(), *dest = json_array();
	char buf[40];
	size_t i;

	if (o->date_t != 0)
		set_str(mail, "timestamp", iso(buf, sizeof(buf), o->date_t));
	set_str(mail, "messageId", o->message_id);
	set_str(mail, "source", o->from_addr);
	for (i = 0; i < o->n_to; i++)
		json_array_append_new(dest, json_string(o->to[i]));
	if (o->n_to == 0) {
		/* No returned headers: the recipients are the destination. */
		for (i = 0; i < v->n_recipients; i++) {
			const char *a = v->recipients[i].address;

			if (a != NULL && a[0] != '\0' &&
			    v->recipients[i].type != CLASSIFY_EVENT_AUTOREPLY)
				json_array_append_new(dest, json_string(a));
		}
	}
	json_object_set_new(mail, "destination", dest);
	json_object_set_new(mail, "headersTruncated",
	    json_boolean(v->flags & CLASSIFY_F_TRUNCATED));
	if (o->from != NULL) {
		json_t *from = json_array();

		json_array_append_new(from, json_string(o->from));
		json_object_set_new(ch, "from", from);
	}
	if (o->n_to > 0) {
		json_t *to = json_array();

		for (i = 0; i < o->n_to; i++)
			json_array_append_new(to, json_string(o->to[i]));
		json_object_set_new(ch, "to", to);
	}
	set_str(ch, "messageId", o->message_id);
	set_str(ch, "subject", o->subject);
	set_str(ch, "date", o->date);
	if (o->return_path != NULL)
		set_str(ch, "returnPath", o->return_path);
	json_object_set_new(mail, "commonHeaders", ch);
	return mail;
}

static json_t *
recipient_object(const struct classify_recipient *r, bool with_action)
{
	json_t *o = json_object();

	json_object_set_new(o, "emailAddress", json_string(r->address));
	if (with_action)
		set_str(o, "action", r->action);
	set_str(o, "status", r->status);
	set_str(o, "diagnosticCode", r->diagnostic);
	json_object_set_new(o, "reason",
	    json_string(classify_reason_name(r->reason)));
	return o;
}

static json_t *
rebound_object(const struct classify_verdict *v,
    const struct classify_source *src)
{
	json_t *rb = json_object(), *s = json_object();
	const char *attribution = "none";

	if (v->identity != NULL) {
		json_object_set_new(rb, "identity", json_string(v->identity));
		attribution = "headers";
	}
	json_object_set_new(rb, "attribution", json_string(attribution));
	json_object_set_new(rb, "geo", json_object());
	if (src != NULL) {
		set_str(s, "via", src->via);
		set_str(s, "file", src->file);
		if (src->index >= 0)
			json_object_set_new(s, "index",
			    json_integer(src->index));
		set_str(s, "session", src->session);
	}
	json_object_set_new(rb, "source", s);
	set_str(rb, "layout", v->layout);
	set_str(rb, "envelopeId", v->envid);
	set_str(rb, "feedbackFrom", v->report_from);
	set_str(rb, "feedbackSubject", v->report_subject);
	if (v->flags & CLASSIFY_F_TRUNCATED)
		json_object_set_new(rb, "truncated", json_true());
	if (v->flags & CLASSIFY_F_MALFORMED)
		json_object_set_new(rb, "malformed", json_true());
	if (v->kind == CLASSIFY_KIND_ARF) {
		json_t *arf = json_object();

		set_str(arf, "sourceIp", v->source_ip);
		set_str(arf, "reportedDomain", v->reported_domain);
		set_str(arf, "originalMailFrom", v->original_mail_from);
		set_str(arf, "authenticationResults", v->auth_results);
		set_str(arf, "version", v->arf_version);
		set_str(arf, "incidents", v->incidents);
		json_object_set_new(rb, "arf", arf);
	}
	return rb;
}

char *
classify_event_json(const struct classify_verdict *v, size_t ei,
    const struct classify_source *src)
{
	const struct classify_event *e;
	json_t *root, *body, *list = NULL;
	const char *reporting = v->reporting_mta;
	const char *remote_ip = NULL, *expiry = NULL, *smtp = NULL;
	char buf[40];
	char *out;
	size_t i;

	if (ei >= v->n_events)
		return NULL;
	e = &v->events[ei];
	root = json_object();
	json_object_set_new(root, "eventType",
	    json_string(classify_event_type_name(e->type)));
	body = json_object();
	iso(buf, sizeof(buf), v->report_time);
	switch (e->type) {
	case CLASSIFY_EVENT_BOUNCE:
		set_str(body, "bounceType",
		    classify_bounce_type_name(e->bounce_type));
		set_str(body, "bounceSubType", e->bounce_subtype);
		list = json_array();
		json_object_set_new(body, "bouncedRecipients", list);
		break;
	case CLASSIFY_EVENT_DELAY:
		list = json_array();
		json_object_set_new(body, "delayedRecipients", list);
		break;
	case CLASSIFY_EVENT_COMPLAINT:
		list = json_array();
		json_object_set_new(body, "complainedRecipients", list);
		break;
	case CLASSIFY_EVENT_DELIVERY:
		list = json_array();
		json_object_set_new(body, "recipients", list);
		break;
	case CLASSIFY_EVENT_AUTOREPLY:
	case CLASSIFY_EVENT_NOT_FEEDBACK:
		break;
	}
	for (i = 0; i < v->n_recipients; i++) {
		const struct classify_recipient *r = &v->recipients[i];

		if (r->event != ei)
			continue;
		if (remote_ip == NULL)
			remote_ip = r->remote_ip;
		if (smtp == NULL)
			smtp = r->diagnostic;
		switch (e->type) {
		case CLASSIFY_EVENT_BOUNCE:
			json_array_append_new(list, recipient_object(r, true));
			break;
		case CLASSIFY_EVENT_DELAY:
			if (expiry == NULL)
				expiry = r->will_retry_until;
			json_array_append_new(list, recipient_object(r, false));
			break;
		case CLASSIFY_EVENT_COMPLAINT: {
			json_t *o = json_object();

			json_object_set_new(o, "emailAddress",
			    json_string(r->address));
			json_object_set_new(o, "reason",
			    json_string("feedback"));
			json_array_append_new(list, o);
			break;
		}
		case CLASSIFY_EVENT_DELIVERY:
			json_array_append_new(list, json_string(r->address));
			break;
		case CLASSIFY_EVENT_AUTOREPLY:
			set_str(body, "recipient", r->address);
			break;
		case CLASSIFY_EVENT_NOT_FEEDBACK:
			break;
		}
	}
	switch (e->type) {
	case CLASSIFY_EVENT_BOUNCE:
		json_object_set_new(body, "timestamp", json_string(buf));
		set_str(body, "feedbackId", v->feedback_id);
		set_str(body, "reportingMTA", reporting);
		set_str(body, "remoteMtaIp", remote_ip);
		json_object_set_new(root, "bounce", body);
		break;
	case CLASSIFY_EVENT_DELAY:
		set_str(body, "delayType", v->recipients != NULL ?
		    NULL : "Undetermined");
		for (i = 0; i < v->n_recipients; i++) {
			if (v->recipients[i].event == ei) {
				set_str(body, "delayType",
				    v->recipients[i].delay_type);
				break;
			}
		}
		set_str(body, "expirationTime", expiry);
		set_str(body, "reportingMTA", reporting);
		json_object_set_new(body, "timestamp", json_string(buf));
		json_object_set_new(root, "deliveryDelay", body);
		break;
	case CLASSIFY_EVENT_COMPLAINT:
		set_str(body, "complaintFeedbackType", v->feedback_type);
		set_str(body, "userAgent", v->user_agent);
		set_str(body, "arrivalDate", v->arrival_date);
		json_object_set_new(body, "timestamp", json_string(buf));
		set_str(body, "feedbackId", v->feedback_id);
		json_object_set_new(root, "complaint", body);
		break;
	case CLASSIFY_EVENT_DELIVERY:
		json_object_set_new(body, "timestamp", json_string(buf));
		set_str(body, "smtpResponse", smtp);
		set_str(body, "reportingMTA", reporting);
		set_str(body, "remoteMtaIp", remote_ip);
		json_object_set_new(root, "delivery", body);
		break;
	case CLASSIFY_EVENT_AUTOREPLY:
		set_str(body, "autoSubmitted", v->auto_submitted);
		set_str(body, "subject", v->report_subject);
		json_object_set_new(body, "timestamp", json_string(buf));
		json_object_set_new(root, "autoReply", body);
		break;
	case CLASSIFY_EVENT_NOT_FEEDBACK:
		json_decref(body);
		break;
	}
	if (e->type != CLASSIFY_EVENT_NOT_FEEDBACK)
		json_object_set_new(root, "mail", mail_object(v));
	json_object_set_new(root, "rebound", rebound_object(v, src));
	out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (out == NULL)
		rb_panic("json_dumps failed");
	return out;
}
