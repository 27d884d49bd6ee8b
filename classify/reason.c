/*
 * Deciding one recipient's reason.  Evidence, strongest first:
 *   1. a user's rule (a --rules directory) matching the diagnostic text;
 *   2. a firm enhanced status code (x.1.1, x.2.2, ...), unless a built-in
 *      rule marked "force" matched;
 *   3. the first built-in rule matching the diagnostic text;
 *   4. a loose status code (x.0.0, x.7.1, ...) through the table;
 *   5. the SMTP reply code alone (RFC 5321 4.2.2, RFC 7504);
 *   6. nothing: onhold when a failure had a status, else undefined.
 * The evidence kept says which of these decided, for --explain.
 * bounceType then follows from the reason (DESIGN.md).
 */
#include <string.h>

#include "classify_int.h"

static const char *const reason_names[CLASSIFY_R_COUNT] = {
    "undefined",
    "userunknown",
    "hostunknown",
    "hasmoved",
    "notaccept",
    "mailboxfull",
    "emailtoolarge",
    "filtered",
    "blocked",
    "rejected",
    "spamdetected",
    "virusdetected",
    "policyviolation",
    "contenterror",
    "securityerror",
    "authfailure",
    "badreputation",
    "requireptr",
    "notcompliantrfc",
    "failedstarttls",
    "norelaying",
    "suspend",
    "systemerror",
    "systemfull",
    "networkerror",
    "ratelimited",
    "expired",
    "mailererror",
    "syntaxerror",
    "suppressed",
    "onhold",
    "delivered",
    "feedback",
    "vacation",
};

static const char *const reason_descriptions[CLASSIFY_R_COUNT] = {
    "no reason could be found in the notice",
    "the mailbox does not exist at the destination",
    "the destination domain or host does not exist",
    "the recipient has moved and left no forwarding",
    "the destination accepts no mail (null MX, no MX and no A)",
    "the recipient's mailbox is full",
    "the message is larger than the destination accepts",
    "refused by the recipient's own filter or a disabled mailbox",
    "the sending IP or host is blocked by the destination",
    "the sender address or domain was rejected",
    "the content was judged to be spam",
    "the message carried a virus",
    "refused by the destination's local policy",
    "the content is malformed or not acceptable",
    "a security check failed (certificates, sender authentication)",
    "SPF, DKIM or DMARC authentication failed",
    "the sending IP or domain has a bad reputation",
    "the sending IP has no valid reverse DNS (PTR)",
    "the message does not comply with RFC 5322 or 5321",
    "STARTTLS was required and failed",
    "the destination refused to relay",
    "the mailbox is disabled or suspended for now",
    "a temporary or permanent error of the destination system",
    "the destination system's disk is full",
    "network or DNS trouble reaching the destination",
    "too many messages or connections: rate limited",
    "delivery time expired after retries",
    "the local mailer program (pipe, procmail) failed",
    "an SMTP command syntax error or protocol mix-up",
    "the address is on a suppression list",
    "a failure whose cause could not be told apart",
    "delivered successfully",
    "a complaint or feedback report (ARF)",
    "an auto-reply such as an out-of-office notice",
};

const char *
classify_reason_name(enum classify_reason r)
{
	return (unsigned)r < CLASSIFY_R_COUNT ? reason_names[r] : "undefined";
}

const char *
classify_reason_description(enum classify_reason r)
{
	return (unsigned)r < CLASSIFY_R_COUNT ? reason_descriptions[r] : "";
}

int
classify_reason_from_name(const char *name)
{
	int i;

	for (i = 0; i < CLASSIFY_R_COUNT; i++) {
		if (strcmp(reason_names[i], name) == 0)
			return i;
	}
	return -1;
}

static void
set_rule_evidence(struct classify_arena *a, struct classify_recipient *r,
    const struct rule_match *m)
{
	r->reason = m->reason;
	r->evidence.kind = CLASSIFY_EV_RULE;
	r->evidence.rule_file = m->file;
	r->evidence.rule_line = m->line;
	r->evidence.matched = text_valid_utf8(a, m->matched.p, m->matched.len);
	r->evidence.what = m->user ? "user rule" : "rule";
	if (m->status != NULL && (r->status == NULL || r->status[0] == '\0'))
		r->status = m->status;
	if (m->bounce_type != CLASSIFY_BOUNCE_NONE)
		r->bounce_type = m->bounce_type;
}

/* Is there a reply code ("550 ", "550-") in text before p? */
static bool
reply_code_before(const char *text, const char *p)
{
	const char *q;

	for (q = text; q + 3 < p; q++) {
		if ((q[0] == '4' || q[0] == '5') && q[1] >= '0' &&
		    q[1] <= '9' && q[2] >= '0' && q[2] <= '9' &&
		    (q[3] == ' ' || q[3] == '-' || q[3] == ':') &&
		    (q == text || q[-1] == ' ' || q[-1] == ';'))
			return true;
	}
	return false;
}

/*
 * The SMTP command a reply answered, when the text says: "(in reply to
 * RCPT TO command)", ">>> DATA", "after end of data".  NULL if unknown.
 */
static const char *
smtp_command(const char *text, const char *addr)
{
	size_t n = strlen(text);

	if (text_icase_find(text, n, "rcpt to") != NULL ||
	    text_icase_find(text, n, "rcpt command") != NULL ||
	    text_icase_find(text, n, ">>> rcpt") != NULL ||
	    text_icase_find(text, n, "recipient address rejected") != NULL)
		return "RCPT"; /* the last is Postfix's RCPT-stage wording */
	if (text_icase_find(text, n, "end of data") != NULL ||
	    text_icase_find(text, n, "command data") != NULL ||
	    text_icase_find(text, n, "reply to data") != NULL ||
	    text_icase_find(text, n, "after data") != NULL ||
	    text_icase_find(text, n, ">>> data") != NULL)
		return "DATA";
	if (text_icase_find(text, n, "mail from") != NULL)
		return "MAIL";
	/* The server's reply quoting "<recipient>:" or "<recipient>..."
	 * (Postfix and Sendmail RCPT replies) after its reply code. */
	if (addr != NULL && addr[0] != '\0') {
		const char *p = text;
		size_t al = strlen(addr);

		while ((p = text_icase_find(p, n - (size_t)(p - text), addr)) !=
		       NULL) {
			const char *after = p + al;

			if (p > text && p[-1] == '<' && after[0] == '>' &&
			    (after[1] == ':' || after[1] == '.') &&
			    reply_code_before(text, p))
				return "RCPT";
			p = after;
		}
	}
	return NULL;
}

static enum classify_reason
reply_code_reason(const char *code)
{
	if (code == NULL || code[0] == '\0')
		return CLASSIFY_R_UNDEFINED;
	if (strcmp(code, "452") == 0)
		return CLASSIFY_R_SYSTEMFULL; /* insufficient storage */
	if (strcmp(code, "552") == 0)
		return CLASSIFY_R_MAILBOXFULL; /* storage allocation */
	if (strcmp(code, "521") == 0 || strcmp(code, "556") == 0)
		return CLASSIFY_R_NOTACCEPT; /* RFC 7504 */
	return CLASSIFY_R_UNDEFINED;
}

void
reason_decide(const struct classify_rules *rules, struct classify_arena *a,
    struct classify_recipient *r)
{
	const char *text = r->diagnostic != NULL ? r->diagnostic : "";
	struct status_info si;
	struct rule_match m;
	bool have_status, have_rule;

	r->bounce_type = CLASSIFY_BOUNCE_NONE;
	if (r->action != NULL && (strcmp(r->action, "delivered") == 0 ||
	                             strcmp(r->action, "relayed") == 0 ||
	                             strcmp(r->action, "expanded") == 0)) {
		r->reason = CLASSIFY_R_DELIVERED;
		r->evidence.kind = CLASSIFY_EV_ACTION;
		r->evidence.what = arena_printf(a, "Action: %s", r->action);
		return;
	}
	have_status = status_lookup(r->status, &si);
	have_rule = rules_match(rules, a, RULES_DIAGNOSTIC, text, strlen(text),
	    r->status, r->reply_code, r->address, &m);
	if (have_rule && (m.user || m.force)) {
		set_rule_evidence(a, r, &m);
	} else if (have_status && si.firm) {
		r->reason = si.reason;
		r->evidence.kind = CLASSIFY_EV_STATUS;
		r->evidence.what =
		    arena_printf(a, "status %s (RFC 3463)", r->status);
	} else if (have_rule) {
		set_rule_evidence(a, r, &m);
		/*
		 * "User unknown" that is not known to answer RCPT TO, with no
		 * status naming a bad mailbox, is read as a filter in
		 * disguise: receivers (Japanese carriers notably) accept the
		 * recipient, then refuse the message with this text.  Such an
		 * address is not proven dead, so it is not suppressed.  Rules
		 * marked "force" (wordings only ever said of a missing
		 * mailbox) are exempt.
		 */
		if (r->reason == CLASSIFY_R_USERUNKNOWN && !m.rcptstage &&
		    !(have_status && (si.reason == CLASSIFY_R_USERUNKNOWN ||
		                         strcmp(r->status + 1, ".2.1") == 0)) &&
		    (smtp_command(text, r->address) == NULL ||
		        strcmp(smtp_command(text, r->address), "RCPT") != 0)) {
			r->reason = CLASSIFY_R_FILTERED;
			r->evidence.what = m.user
			                       ? "user rule (not at RCPT: "
			                         "filtered)"
			                       : "rule (not at RCPT: filtered)";
		}
	} else if (have_status && si.reason != CLASSIFY_R_UNDEFINED &&
	           !si.vague) {
		r->reason = si.reason;
		r->evidence.kind = CLASSIFY_EV_STATUS;
		r->evidence.what =
		    arena_printf(a, "status %s (RFC 3463)", r->status);
	} else if (rules_match(rules, a, RULES_FALLBACK, text, strlen(text),
	               r->status, r->reply_code, r->address, &m)) {
		/* Generic wordings, read only when nothing said more. */
		set_rule_evidence(a, r, &m);
	} else if (have_status && si.reason != CLASSIFY_R_UNDEFINED) {
		r->reason = si.reason;
		r->evidence.kind = CLASSIFY_EV_STATUS;
		r->evidence.what =
		    arena_printf(a, "status %s (RFC 3463)", r->status);
	} else if (reply_code_reason(r->reply_code) != CLASSIFY_R_UNDEFINED) {
		r->reason = reply_code_reason(r->reply_code);
		r->evidence.kind = CLASSIFY_EV_REPLY_CODE;
		r->evidence.what =
		    arena_printf(a, "reply code %s", r->reply_code);
	} else if (r->action != NULL && strcmp(r->action, "delayed") == 0) {
		r->reason = CLASSIFY_R_UNDEFINED;
		r->evidence.kind = CLASSIFY_EV_ACTION;
		r->evidence.what = "Action: delayed";
	} else {
		r->reason = (r->status != NULL && r->status[0] != '\0')
		                ? CLASSIFY_R_ONHOLD
		                : CLASSIFY_R_UNDEFINED;
		r->evidence.kind = CLASSIFY_EV_DEFAULT;
		r->evidence.what = "no status, code or rule matched";
	}
	if (r->bounce_type == CLASSIFY_BOUNCE_NONE)
		r->bounce_type =
		    reason_bounce_type(r->reason, r->status, r->reply_code);
}

enum classify_bounce_type
reason_bounce_type(
    enum classify_reason reason, const char *status, const char *code)
{
	switch (reason) {
	case CLASSIFY_R_USERUNKNOWN:
	case CLASSIFY_R_HOSTUNKNOWN:
	case CLASSIFY_R_HASMOVED:
	case CLASSIFY_R_SUPPRESSED:
		return CLASSIFY_BOUNCE_PERMANENT;
	case CLASSIFY_R_NOTACCEPT:
		/* Permanent only when the destination said so with a 5xx. */
		if ((status != NULL && status[0] == '5') ||
		    (code != NULL && code[0] == '5') ||
		    ((status == NULL || status[0] == '\0') &&
		        (code == NULL || code[0] == '\0')))
			return CLASSIFY_BOUNCE_PERMANENT;
		return CLASSIFY_BOUNCE_TRANSIENT;
	case CLASSIFY_R_UNDEFINED:
	case CLASSIFY_R_ONHOLD:
		return CLASSIFY_BOUNCE_UNDETERMINED;
	default:
		return CLASSIFY_BOUNCE_TRANSIENT;
	}
}

const char *
reason_bounce_subtype(enum classify_reason reason, enum classify_bounce_type bt)
{
	if (bt == CLASSIFY_BOUNCE_UNDETERMINED)
		return "Undetermined";
	switch (reason) {
	case CLASSIFY_R_SUPPRESSED:
		return "Suppressed";
	case CLASSIFY_R_MAILBOXFULL:
		return bt == CLASSIFY_BOUNCE_TRANSIENT ? "MailboxFull"
		                                       : "General";
	case CLASSIFY_R_EMAILTOOLARGE:
		return bt == CLASSIFY_BOUNCE_TRANSIENT ? "MessageTooLarge"
		                                       : "General";
	case CLASSIFY_R_SPAMDETECTED:
	case CLASSIFY_R_CONTENTERROR:
	case CLASSIFY_R_VIRUSDETECTED:
		return bt == CLASSIFY_BOUNCE_TRANSIENT ? "ContentRejected"
		                                       : "General";
	default:
		return "General";
	}
}

const char *
reason_delay_type(enum classify_reason reason)
{
	switch (reason) {
	case CLASSIFY_R_MAILBOXFULL:
		return "MailboxFull";
	case CLASSIFY_R_SPAMDETECTED:
		return "SpamDetected";
	case CLASSIFY_R_SYSTEMERROR:
	case CLASSIFY_R_SYSTEMFULL:
	case CLASSIFY_R_MAILERERROR:
		return "RecipientServerError";
	case CLASSIFY_R_NETWORKERROR:
	case CLASSIFY_R_EXPIRED:
		return "TransientCommunicationFailure";
	case CLASSIFY_R_BLOCKED:
	case CLASSIFY_R_BADREPUTATION:
	case CLASSIFY_R_REQUIREPTR:
		return "IPFailure";
	case CLASSIFY_R_UNDEFINED:
	case CLASSIFY_R_ONHOLD:
		return "Undetermined";
	default:
		return "General";
	}
}
