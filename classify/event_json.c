/*
 * The event contract: Amazon SES event-publishing JSON (field names,
 * values and casing as SES writes them), plus `reason` on every recipient
 * object and the top-level `rebound` object (DESIGN.md).  Unknown fields
 * are left out rather than written as null.  Every string put here is
 * valid UTF-8 already (the readers repair it).
 *
 * Written straight into one growing buffer, in a fixed key order: events
 * are produced for every message on the hot path, and building a jansson
 * tree first cost a fifth of classification time.  Tests parse the output
 * with jansson, so the two cannot drift apart unnoticed.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <glib.h>

#include "classify_int.h"

/* An event is a few KB; a cap keeps a hostile message from growing it. */
#define EVENT_JSON_MAX (8u * 1024 * 1024)

struct jw {
	struct buf b;
	bool first; /* no comma before the next member */
};

static void
jw_raw(struct jw *w, const char *s, size_t n)
{
	/* Inputs are capped far below this (diagnostics, recipients), so
	 * reaching it is a bug, not hostile input. */
	if (buf_append(&w->b, s, n) < 0)
		rb_panic("event JSON over %u bytes", EVENT_JSON_MAX);
}

static void
jw_lit(struct jw *w, const char *s)
{
	jw_raw(w, s, strlen(s));
}

static void jw_string_valid(struct jw *w, const char *s);

/* Strings from outside the readers (a file name) may not be UTF-8. */
static void
jw_string(struct jw *w, const char *s)
{
	if (!g_utf8_validate(s, -1, NULL)) {
		char *fixed = g_utf8_make_valid(s, -1);

		jw_string_valid(w, fixed);
		g_free(fixed);
		return;
	}
	jw_string_valid(w, s);
}

static void
jw_string_valid(struct jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	jw_raw(w, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[6];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jw_raw(w, run, (size_t)(s - run));
		run = s + 1;
		switch (c) {
		case '"':
			jw_raw(w, "\\\"", 2);
			break;
		case '\\':
			jw_raw(w, "\\\\", 2);
			break;
		case '\n':
			jw_raw(w, "\\n", 2);
			break;
		case '\r':
			jw_raw(w, "\\r", 2);
			break;
		case '\t':
			jw_raw(w, "\\t", 2);
			break;
		default:
			esc[0] = '\\';
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			jw_raw(w, esc, 6);
			break;
		}
	}
	jw_raw(w, run, (size_t)(s - run));
	jw_raw(w, "\"", 1);
}

static void
jw_key(struct jw *w, const char *key)
{
	if (!w->first)
		jw_raw(w, ",", 1);
	w->first = false;
	jw_string(w, key);
	jw_raw(w, ":", 1);
}

static void
jw_open(struct jw *w, const char *key, const char *bracket)
{
	if (key != NULL)
		jw_key(w, key);
	else if (!w->first)
		jw_raw(w, ",", 1);
	jw_lit(w, bracket);
	w->first = true;
}

static void
jw_close(struct jw *w, const char *bracket)
{
	jw_lit(w, bracket);
	w->first = false;
}

/* A string member, left out when the value is unknown or empty. */
static void
jw_str(struct jw *w, const char *key, const char *val)
{
	if (val == NULL || val[0] == '\0')
		return;
	jw_key(w, key);
	jw_string(w, val);
}

/* An array element. */
static void
jw_elem(struct jw *w, const char *val)
{
	if (!w->first)
		jw_raw(w, ",", 1);
	w->first = false;
	jw_string(w, val);
}

static void
jw_bool(struct jw *w, const char *key, bool val)
{
	jw_key(w, key);
	jw_lit(w, val ? "true" : "false");
}

static const char *
iso(char *buf, size_t len, time_t t)
{
	time_format_iso(t, buf, len);
	return buf;
}

static void
mail_object(struct jw *w, const struct classify_verdict *v)
{
	const struct classify_original *o = &v->original;
	char buf[40];
	size_t i;

	jw_open(w, "mail", "{");
	if (o->date_t != 0)
		jw_str(w, "timestamp", iso(buf, sizeof(buf), o->date_t));
	jw_str(w, "messageId", o->message_id);
	jw_str(w, "source", o->from_addr);
	jw_open(w, "destination", "[");
	for (i = 0; i < o->n_to; i++)
		jw_elem(w, o->to[i]);
	if (o->n_to == 0) {
		/* No returned headers: the recipients are the destination. */
		for (i = 0; i < v->n_recipients; i++) {
			const char *a = v->recipients[i].address;

			if (a != NULL && a[0] != '\0' &&
			    v->recipients[i].type != CLASSIFY_EVENT_AUTOREPLY)
				jw_elem(w, a);
		}
	}
	jw_close(w, "]");
	jw_bool(w, "headersTruncated", v->flags & CLASSIFY_F_TRUNCATED);
	jw_open(w, "commonHeaders", "{");
	if (o->from != NULL) {
		jw_open(w, "from", "[");
		jw_elem(w, o->from);
		jw_close(w, "]");
	}
	if (o->n_to > 0) {
		jw_open(w, "to", "[");
		for (i = 0; i < o->n_to; i++)
			jw_elem(w, o->to[i]);
		jw_close(w, "]");
	}
	jw_str(w, "messageId", o->message_id);
	jw_str(w, "subject", o->subject);
	jw_str(w, "date", o->date);
	jw_str(w, "returnPath", o->return_path);
	jw_close(w, "}");
	jw_close(w, "}");
}

static void
recipient_object(
    struct jw *w, const struct classify_recipient *r, bool with_action)
{
	jw_open(w, NULL, "{");
	jw_key(w, "emailAddress");
	jw_string(w, r->address);
	/* RFC 3464 2.3.1: the address the sender gave, when an alias or a
	 * forward turned it into another Final-Recipient (rebound's
	 * extension; the store suppresses both). */
	if (r->original != NULL && r->original[0] != '\0' &&
	    strcasecmp(r->original, r->address) != 0)
		jw_str(w, "originalRecipient", r->original);
	if (with_action)
		jw_str(w, "action", r->action);
	jw_str(w, "status", r->status);
	jw_str(w, "diagnosticCode", r->diagnostic);
	jw_str(w, "reason", classify_reason_name(r->reason));
	jw_close(w, "}");
}

static void
rebound_object(struct jw *w, const struct classify_verdict *v,
    const struct classify_source *src)
{
	jw_open(w, "rebound", "{");
	jw_str(w, "identity", v->identity);
	jw_str(w, "attribution", v->identity != NULL ? "headers" : "none");
	jw_open(w, "geo", "{");
	jw_close(w, "}");
	jw_open(w, "source", "{");
	if (src != NULL) {
		jw_str(w, "via", src->via);
		jw_str(w, "file", src->file);
		if (src->index >= 0) {
			char num[24];

			(void)snprintf(num, sizeof(num), "%ld", src->index);
			jw_key(w, "index");
			jw_lit(w, num);
		}
		jw_str(w, "session", src->session);
	}
	jw_close(w, "}");
	jw_str(w, "layout", v->layout);
	jw_str(w, "envelopeId", v->envid);
	jw_str(w, "originalFeedbackId", v->original.feedback_id);
	jw_str(w, "feedbackFrom", v->report_from);
	jw_str(w, "feedbackSubject", v->report_subject);
	if (v->flags & CLASSIFY_F_TRUNCATED)
		jw_bool(w, "truncated", true);
	if (v->flags & CLASSIFY_F_MALFORMED)
		jw_bool(w, "malformed", true);
	if (v->kind == CLASSIFY_KIND_ARF) {
		jw_open(w, "arf", "{");
		jw_str(w, "sourceIp", v->source_ip);
		jw_str(w, "reportedDomain", v->reported_domain);
		jw_str(w, "originalMailFrom", v->original_mail_from);
		jw_str(w, "authenticationResults", v->auth_results);
		jw_str(w, "version", v->arf_version);
		jw_str(w, "incidents", v->incidents);
		jw_close(w, "}");
	}
	jw_close(w, "}");
}

/* The first recipient of event ei with a non-NULL field, or NULL. */
#define FIRST_FIELD(v, ei, field)                                              \
	first_field((v), (ei), offsetof(struct classify_recipient, field))

static const char *
first_field(const struct classify_verdict *v, size_t ei, size_t off)
{
	size_t i;

	for (i = 0; i < v->n_recipients; i++) {
		const char *s;

		if (v->recipients[i].event != ei)
			continue;
		memcpy(&s, (const char *)&v->recipients[i] + off, sizeof(s));
		if (s != NULL && s[0] != '\0')
			return s;
	}
	return NULL;
}

char *
classify_event_json(const struct classify_verdict *v, size_t ei,
    const struct classify_source *src)
{
	const struct classify_event *e;
	struct jw w;
	char ts[40];
	size_t i;

	if (ei >= v->n_events)
		return NULL;
	e = &v->events[ei];
	buf_init(&w.b, EVENT_JSON_MAX);
	w.first = true;
	iso(ts, sizeof(ts), v->report_time);
	jw_open(&w, NULL, "{");
	jw_str(&w, "eventType", classify_event_type_name(e->type));
	switch (e->type) {
	case CLASSIFY_EVENT_BOUNCE:
		jw_open(&w, "bounce", "{");
		jw_str(&w, "bounceType",
		    classify_bounce_type_name(e->bounce_type));
		jw_str(&w, "bounceSubType", e->bounce_subtype);
		jw_open(&w, "bouncedRecipients", "[");
		for (i = 0; i < v->n_recipients; i++) {
			if (v->recipients[i].event == ei)
				recipient_object(&w, &v->recipients[i], true);
		}
		jw_close(&w, "]");
		jw_str(&w, "timestamp", ts);
		jw_str(&w, "feedbackId", v->feedback_id);
		jw_str(&w, "reportingMTA", v->reporting_mta);
		jw_str(&w, "remoteMtaIp", FIRST_FIELD(v, ei, remote_ip));
		jw_close(&w, "}");
		break;
	case CLASSIFY_EVENT_DELAY:
		jw_open(&w, "deliveryDelay", "{");
		jw_str(&w, "delayType", FIRST_FIELD(v, ei, delay_type));
		jw_open(&w, "delayedRecipients", "[");
		for (i = 0; i < v->n_recipients; i++) {
			if (v->recipients[i].event == ei)
				recipient_object(&w, &v->recipients[i], false);
		}
		jw_close(&w, "]");
		jw_str(
		    &w, "expirationTime", FIRST_FIELD(v, ei, will_retry_until));
		jw_str(&w, "reportingMTA", v->reporting_mta);
		jw_str(&w, "timestamp", ts);
		jw_close(&w, "}");
		break;
	case CLASSIFY_EVENT_COMPLAINT:
		jw_open(&w, "complaint", "{");
		jw_open(&w, "complainedRecipients", "[");
		for (i = 0; i < v->n_recipients; i++) {
			if (v->recipients[i].event != ei)
				continue;
			jw_open(&w, NULL, "{");
			jw_key(&w, "emailAddress");
			jw_string(&w, v->recipients[i].address);
			jw_str(&w, "reason", "feedback");
			jw_close(&w, "}");
		}
		jw_close(&w, "]");
		jw_str(&w, "complaintFeedbackType", v->feedback_type);
		jw_str(&w, "userAgent", v->user_agent);
		jw_str(&w, "arrivalDate", v->arrival_date);
		jw_str(&w, "timestamp", ts);
		jw_str(&w, "feedbackId", v->feedback_id);
		jw_close(&w, "}");
		break;
	case CLASSIFY_EVENT_DELIVERY:
		jw_open(&w, "delivery", "{");
		jw_str(&w, "timestamp", ts);
		jw_open(&w, "recipients", "[");
		for (i = 0; i < v->n_recipients; i++) {
			if (v->recipients[i].event == ei)
				jw_elem(&w, v->recipients[i].address);
		}
		jw_close(&w, "]");
		jw_str(&w, "smtpResponse", FIRST_FIELD(v, ei, diagnostic));
		jw_str(&w, "reportingMTA", v->reporting_mta);
		jw_str(&w, "remoteMtaIp", FIRST_FIELD(v, ei, remote_ip));
		jw_close(&w, "}");
		break;
	case CLASSIFY_EVENT_AUTOREPLY:
		jw_open(&w, "autoReply", "{");
		jw_str(&w, "recipient", FIRST_FIELD(v, ei, address));
		jw_str(&w, "autoSubmitted", v->auto_submitted);
		jw_str(&w, "subject", v->report_subject);
		jw_str(&w, "timestamp", ts);
		jw_close(&w, "}");
		break;
	case CLASSIFY_EVENT_NOT_FEEDBACK:
		break;
	}
	if (e->type != CLASSIFY_EVENT_NOT_FEEDBACK)
		mail_object(&w, v);
	rebound_object(&w, v, src);
	jw_close(&w, "}");
	return (char *)buf_take(&w.b, NULL);
}
