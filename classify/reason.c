/*
 * Deciding one recipient's reason.  Evidence, strongest first:
 *   1. a user's rule (a --rules directory) or a built-in rule marked
 *      "force" matching the diagnostic text;
 *   2. a firm enhanced status code (x.1.1, x.2.2, ...);
 *   3. the first built-in [diagnostic] rule matching the diagnostic (with
 *      the reporting MTA's comment after the Status code);
 *   4. a loose but specific status code through the RFC 3463 table (one
 *      naming only a system, security or network error waits for 5
 *      and 6);
 *   5. a [diagnostic] rule matching the notice's own words about this
 *      recipient (r->context, see notice.c);
 *   6. a [diagnostic-fallback] rule (generic wordings);
 *   7. a vague status code (x.N.0, x.7.1), the reply code alone;
 *   8. nothing: expired for a delay naming no cause; onhold when the
 *      failure had a status or a text, else undefined.
 * The evidence kept says which of these decided, for --explain.
 * bounceType then follows from the reason (DESIGN.md).
 */
#include <string.h>

#include <glib.h>

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
	if (m->stage != NULL)
		r->evidence.what = arena_printf(
		    a, "%s (refused at %s)", r->evidence.what, m->stage);
	if (m->status != NULL && (r->status == NULL || r->status[0] == '\0'))
		r->status = m->status;
	if (m->bounce_type != CLASSIFY_BOUNCE_NONE)
		r->bounce_type = m->bounce_type;
}

static bool
word_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '@';
}

/* Does the capital word w stand alone in text (not in a host name)? */
static bool
has_word(const char *text, const char *w)
{
	size_t wl = strlen(w);
	const char *p = text;

	while ((p = strstr(p, w)) != NULL) {
		if ((p == text || !word_char(p[-1])) && !word_char(p[wl]))
			return true;
		p += wl;
	}
	return false;
}

/* Lower-case phrases naming a stage, and the stage they name. */
static const struct {
	const char *phrase;
	const char *command;
} stage_phrases[] = {
    /* Exim and Postfix. */
    {"end of data", "DATA"},
    /* qmail-remote's own sentences name the stage in words. */
    {"failed after i sent the message", "DATA"},
    {"does not like recipient", "RCPT"},
    {"rcpt to", "RCPT"},
    {"but sender was rejected", "MAIL"},
    {"after mail from", "MAIL"},
    {"but my name was rejected", "EHLO"},
    {"but greeting failed", "CONN"},
    {"after initial connection", "CONN"},
    {"connection greeting", "CONN"},
    /* Gmail's older notices: the state of its SMTP client. */
    {"(state 13)", "EHLO"},
    {"(state 14)", "RCPT"},
    {"(state 15)", "DATA"},
    {"(state 17)", "DATA"},
    {"(state 18)", "DATA"},
};

/* Stages from the earliest to the latest of a session. */
static int
stage_rank(const char *cmd)
{
	static const char *const order[] = {
	    "CONN", "EHLO", "MAIL", "RCPT", "DATA"};
	int i;

	for (i = 0; i < 5; i++) {
		if (strcmp(order[i], cmd) == 0)
			return i;
	}
	return -1;
}

const char *
reason_smtp_command(struct classify_arena *a, const char *text)
{
	const char *best = NULL;
	char *lower;
	size_t i;

	/*
	 * MTAs write the command in capitals in their transcripts and
	 * notes ("(in reply to RCPT TO command)" Postfix, ">>> DATA"
	 * Sendmail, "SMTP:RCPT" ...); Exim ("after end of data") and qmail
	 * ("does not like recipient") say it in words.  When several appear,
	 * the latest stage of the session is the one that failed: a
	 * transcript that got as far as DATA was refused there.
	 */
	if (has_word(text, "DATA"))
		return "DATA";
	if (has_word(text, "RCPT"))
		best = "RCPT";
	else if (strstr(text, "MAIL FROM") != NULL ||
	         strstr(text, "MAIL From") != NULL)
		best = "MAIL";
	else if (has_word(text, "EHLO") || has_word(text, "HELO"))
		best = "EHLO";
	lower = text_lower(a, text);
	for (i = 0; i < sizeof(stage_phrases) / sizeof(stage_phrases[0]); i++) {
		const char *cmd = stage_phrases[i].command;

		if ((best == NULL || stage_rank(cmd) > stage_rank(best)) &&
		    strstr(lower, stage_phrases[i].phrase) != NULL)
			best = cmd;
	}
	return best;
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

/*
 * The text the rules read first: the diagnostic with the Status comment,
 * if any.  Also sets r->command, the SMTP command the failure answered,
 * from these and the notice's words (r->context).
 */
static const char *
reason_text(struct classify_arena *a, struct classify_recipient *r)
{
	const char *d = r->diagnostic != NULL ? r->diagnostic : "";

	if (r->status_note != NULL)
		d = arena_printf(a, "%s %s", d, r->status_note);
	d = text_join_reply(a, d);
	r->command = reason_smtp_command(a, d);
	if (r->command == NULL && r->context != NULL)
		r->command = reason_smtp_command(a, r->context);
	return d;
}

/* Does the text hold a word (two letters, or any non-ASCII) beside the
 * address itself? */
static bool
says_something(const char *text, const char *addr)
{
	size_t al = addr != NULL ? strlen(addr) : 0;
	const char *p = text;

	while (*p != '\0') {
		if (al > 0 && g_ascii_strncasecmp(p, addr, al) == 0) {
			p += al;
			continue;
		}
		if ((unsigned char)*p >= 0x80 ||
		    (g_ascii_isalpha(p[0]) && g_ascii_isalpha(p[1])))
			return true;
		p++;
	}
	return false;
}

/*
 * A mailbox said to be full, disabled, moved, refusing this size or not
 * relayed for is a mailbox that exists: such words outrank "user
 * unknown" (and the filter it hides) and even an x.1.1 code, which
 * receivers give for any refused recipient ("552 mailbox is over quota
 * (#5.1.1)").
 */
static void
outrank_userunknown(const struct classify_rules *rules,
    struct classify_arena *a, struct classify_recipient *r, const char *text,
    const char *ctx, const struct rule_subject *subj)
{
	struct rule_subject s = *subj;
	struct rule_match m;

	s.reasons =
	    (1ull << CLASSIFY_R_MAILBOXFULL) |
	    (1ull << CLASSIFY_R_EMAILTOOLARGE) | (1ull << CLASSIFY_R_SUSPEND) |
	    (1ull << CLASSIFY_R_HASMOVED) | (1ull << CLASSIFY_R_NORELAYING);
	if (rules_match(
	        rules, a, RULES_DIAGNOSTIC, text, strlen(text), &s, &m) ||
	    (ctx[0] != '\0' && rules_match(rules, a, RULES_DIAGNOSTIC, ctx,
	                           strlen(ctx), &s, &m))) {
		set_rule_evidence(a, r, &m);
		r->evidence.what = m.user ? "user rule (outranks user unknown)"
		                          : "rule (outranks user unknown)";
	}
}

/*
 * Reasons a status code gives when it only names the part that failed
 * (x.3.x the mail system, x.7.x security, x.4.x the network): like the
 * vague codes, they let the notice's own words and the generic wordings
 * speak first ("#4.1.9 ... this message has been in the queue too long"
 * is an expiry).
 */
static bool
catch_all(enum classify_reason reason)
{
	return reason == CLASSIFY_R_SYSTEMERROR ||
	       reason == CLASSIFY_R_SECURITYERROR ||
	       reason == CLASSIFY_R_NETWORKERROR;
}

void
reason_decide(const struct classify_rules *rules, struct classify_arena *a,
    struct classify_recipient *r)
{
	const char *text = reason_text(a, r);
	const char *ctx =
	    r->context != NULL ? text_join_reply(a, r->context) : "";
	const struct rule_subject subj = {
	    r->status, r->reply_code, r->address, r->hosts, r->command, 0};
	struct status_info si;
	struct rule_match m;
	/* The generic wordings may outrank a catch-all status, the
	 * refusing stage alone may not (fsubj names no stage). */
	const struct rule_subject fsubj = {
	    r->status, r->reply_code, r->address, r->hosts, NULL, 0};
	bool have_status, have_rule, said_unknown = false, catch = false;
	bool delayed = r->action != NULL && strcmp(r->action, "delayed") == 0;

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
	catch = have_status && !si.vague && catch_all(si.reason);
	have_rule = rules_match(
	    rules, a, RULES_DIAGNOSTIC, text, strlen(text), &subj, &m);
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
		    !(have_status && si.reason == CLASSIFY_R_USERUNKNOWN) &&
		    (r->command == NULL || strcmp(r->command, "DATA") == 0)) {
			r->reason = CLASSIFY_R_FILTERED;
			said_unknown = true;
			r->evidence.what = arena_printf(a, "%s (%s: filtered)",
			    m.user ? "user rule" : "rule",
			    r->command != NULL ? "after DATA" : "not at RCPT");
		}
	} else if (have_status && si.reason != CLASSIFY_R_UNDEFINED &&
	           !si.vague && !catch) {
		r->reason = si.reason;
		r->evidence.kind = CLASSIFY_EV_STATUS;
		r->evidence.what =
		    arena_printf(a, "status %s (RFC 3463)", r->status);
	} else if (ctx[0] != '\0' && rules_match(rules, a, RULES_DIAGNOSTIC,
	                                 ctx, strlen(ctx), &subj, &m)) {
		/* The notice says what the diagnostic does not. */
		set_rule_evidence(a, r, &m);
		r->evidence.what =
		    m.user ? "user rule (notice text)" : "rule (notice text)";
	} else if (rules_match(rules, a, RULES_FALLBACK, text, strlen(text),
	               catch ? &fsubj : &subj, &m) ||
	           (ctx[0] != '\0' &&
	               rules_match(rules, a, RULES_FALLBACK, ctx, strlen(ctx),
	                   catch ? &fsubj : &subj, &m))) {
		/* Generic wordings, read only when nothing said more. */
		set_rule_evidence(a, r, &m);
	} else if (delayed &&
	           (!have_status || (si.vague && r->status[2] != '6' &&
	                                r->status[2] != '7'))) {
		/* Still being retried, with no cause named: the delay is
		 * the news (a security or content code still says more). */
		r->reason = CLASSIFY_R_EXPIRED;
		r->evidence.kind = CLASSIFY_EV_ACTION;
		r->evidence.what = "Action: delayed, no cause named";
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
	} else {
		/* A failure that says something no rule knows is on hold
		 * (for review); one that says nothing, or names no one (the
		 * whole notice is then only the banner), is undefined. */
		r->reason = ((r->status != NULL && r->status[0] != '\0') ||
		                (r->address != NULL && r->address[0] != '\0' &&
		                    says_something(text, r->address)))
		                ? CLASSIFY_R_ONHOLD
		                : CLASSIFY_R_UNDEFINED;
		r->evidence.kind = CLASSIFY_EV_DEFAULT;
		r->evidence.what = "no status, code or rule matched";
	}
	if ((r->reason == CLASSIFY_R_USERUNKNOWN || said_unknown) &&
	    !(have_rule && m.user))
		outrank_userunknown(rules, a, r, text, ctx, &subj);
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
