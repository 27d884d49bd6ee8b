/*
 * classify: bytes of one feedback message in, a verdict out.
 *
 * A pure function over bytes: no sockets, files, clock (the time is passed
 * in), logging or mutable globals.  Rules are compiled once by
 * classify_rules_load() and are then read-only and may be shared by any
 * number of threads; each call owns its verdict.  Same bytes + same rules
 * + same `now` give the same verdict.
 *
 * Call classify_global_init() once from main() before any thread starts
 * (it initialises gmime, whose init is not thread-safe).
 */
#ifndef REBOUND_CLASSIFY_H
#define REBOUND_CLASSIFY_H

#include <stddef.h>
#include <time.h>

#include "core/core.h"

/*
 * Limits.  Input past a limit is classified as far as it goes and the
 * verdict carries CLASSIFY_F_TRUNCATED; it never fails or crashes.
 */
/* Feedback larger than this is a returned attachment, not the notice. */
#define CLASSIFY_MAX_MESSAGE (32u * 1024 * 1024)
/* RFC 5322 sets no header count; real notices have < 100 headers. */
#define CLASSIFY_MAX_HEADERS 1000
/* Bytes of one header block we look at; 10 MB headers are an attack. */
#define CLASSIFY_MAX_HEADER_BYTES (256u * 1024)
/* Nesting of multipart and message/rfc822 (a bounce of a bounce ...). */
#define CLASSIFY_MAX_MIME_DEPTH 12
/* MIME parts walked per message. */
#define CLASSIFY_MAX_MIME_PARTS 256
/* Recipients kept per report (RFC 3464 per-recipient blocks). */
#define CLASSIFY_MAX_RECIPIENTS 500
/* Bytes of a diagnostic text kept (SMTP replies are < 4 KB, multi-line). */
#define CLASSIFY_MAX_DIAGNOSTIC 4096

enum classify_event_type {
	CLASSIFY_EVENT_BOUNCE,
	CLASSIFY_EVENT_COMPLAINT,
	CLASSIFY_EVENT_AUTOREPLY,
	CLASSIFY_EVENT_DELIVERY,
	CLASSIFY_EVENT_DELAY,
	CLASSIFY_EVENT_NOT_FEEDBACK,
};

enum classify_bounce_type {
	CLASSIFY_BOUNCE_NONE,
	CLASSIFY_BOUNCE_PERMANENT,
	CLASSIFY_BOUNCE_TRANSIENT,
	CLASSIFY_BOUNCE_UNDETERMINED,
};

/* The fine reasons (DESIGN.md; Sisimai's names). */
enum classify_reason {
	CLASSIFY_R_UNDEFINED,
	CLASSIFY_R_USERUNKNOWN,
	CLASSIFY_R_HOSTUNKNOWN,
	CLASSIFY_R_HASMOVED,
	CLASSIFY_R_NOTACCEPT,
	CLASSIFY_R_MAILBOXFULL,
	CLASSIFY_R_EMAILTOOLARGE,
	CLASSIFY_R_FILTERED,
	CLASSIFY_R_BLOCKED,
	CLASSIFY_R_REJECTED,
	CLASSIFY_R_SPAMDETECTED,
	CLASSIFY_R_VIRUSDETECTED,
	CLASSIFY_R_POLICYVIOLATION,
	CLASSIFY_R_CONTENTERROR,
	CLASSIFY_R_SECURITYERROR,
	CLASSIFY_R_AUTHFAILURE,
	CLASSIFY_R_BADREPUTATION,
	CLASSIFY_R_REQUIREPTR,
	CLASSIFY_R_NOTCOMPLIANTRFC,
	CLASSIFY_R_FAILEDSTARTTLS,
	CLASSIFY_R_NORELAYING,
	CLASSIFY_R_SUSPEND,
	CLASSIFY_R_SYSTEMERROR,
	CLASSIFY_R_SYSTEMFULL,
	CLASSIFY_R_NETWORKERROR,
	CLASSIFY_R_RATELIMITED,
	CLASSIFY_R_EXPIRED,
	CLASSIFY_R_MAILERERROR,
	CLASSIFY_R_SYNTAXERROR,
	CLASSIFY_R_SUPPRESSED,
	CLASSIFY_R_ONHOLD,
	CLASSIFY_R_DELIVERED,
	CLASSIFY_R_FEEDBACK,
	CLASSIFY_R_VACATION,
	CLASSIFY_R_COUNT
};

/* "userunknown" ...; never NULL for a valid value. */
const char *classify_reason_name(enum classify_reason r);
/* -1 when name is not a reason. */
int classify_reason_from_name(const char *name);
/* One line describing the reason, for help texts and README. */
const char *classify_reason_description(enum classify_reason r);
const char *classify_event_type_name(enum classify_event_type t);
/* "Permanent", "Transient", "Undetermined" or "" for NONE. */
const char *classify_bounce_type_name(enum classify_bounce_type t);

/* What decided a recipient's reason (for --explain). */
enum classify_evidence_kind {
	CLASSIFY_EV_NONE,
	CLASSIFY_EV_STATUS,     /* the enhanced status code (table) */
	CLASSIFY_EV_RULE,       /* a rule in a rules file matched text */
	CLASSIFY_EV_REPLY_CODE, /* only the SMTP reply code */
	CLASSIFY_EV_ACTION,     /* the DSN Action (delayed, delivered) */
	CLASSIFY_EV_REPORT,     /* the report type itself (ARF, RFC 3834) */
	CLASSIFY_EV_DEFAULT,    /* nothing found */
};

struct classify_evidence {
	enum classify_evidence_kind kind;
	const char *what;      /* e.g. "Status: 5.1.1" or the rule text */
	const char *rule_file; /* for RULE: file name, else NULL */
	unsigned rule_line;    /* for RULE: line number */
	const char *matched;   /* for RULE: the text the rule matched */
};

/* One recipient of a report.  All strings live in the verdict's arena. */
struct classify_recipient {
	const char *address;    /* Final-Recipient (or prose); "" if unknown */
	const char *original;   /* Original-Recipient, or NULL */
	const char *action;     /* failed, delayed, delivered, relayed, ... */
	const char *status;     /* "5.1.1", or "" */
	const char *diagnostic; /* "smtp; 550 5.1.1 ..." whitespace-collapsed */
	const char *reply_code; /* "550" or "" */
	const char *remote_mta; /* "dns; mx.example.net" or NULL */
	const char
	    *remote_ip; /* IP found in Remote-MTA / diagnostic, or NULL */
	const char *last_attempt;     /* RFC 3339, or NULL */
	const char *will_retry_until; /* RFC 3339, or NULL */
	/* The reporting MTA's comment after the Status code ("5.2.1
	 * (mailbox disabled)"): read by the rules as part of the
	 * diagnostic.  NULL if none. */
	const char *status_note;
	/* The notice's own words when they explain this recipient alone
	 * (a report with one recipient): read by the rules with the
	 * diagnostic.  NULL if none. */
	const char *context;
	/* Mail servers named for this recipient (Remote-MTA, hosts in the
	 * texts, Reporting-MTA, the notice's sender domain), lower-case,
	 * space-separated: what mta= rules test.  NULL if none. */
	const char *hosts;
	/* SMTP command the failure answered ("RCPT", "DATA", "MAIL",
	 * "EHLO", "CONN"), as far as the texts say; or NULL. */
	const char *command;
	enum classify_reason reason;
	enum classify_event_type type;
	enum classify_bounce_type bounce_type;
	const char *bounce_subtype; /* SES bounceSubType, or NULL */
	const char *delay_type;     /* SES delayType, or NULL */
	unsigned event;             /* index into verdict->events */
	struct classify_evidence evidence;
};

/* One event: a group of recipients sharing type and bounce type. */
struct classify_event {
	enum classify_event_type type;
	enum classify_bounce_type bounce_type;
	const char *bounce_subtype;
	size_t n_recipients;
};

/* Headers of the original (returned or reported) message. */
struct classify_original {
	const char *message_id; /* without angle brackets, or NULL */
	const char *from;       /* header value, decoded */
	const char *from_addr;  /* bare address, or NULL */
	const char **to;        /* bare addresses */
	size_t n_to;
	const char *subject;
	const char *date;        /* the Date header as written */
	time_t date_t;           /* parsed Date, 0 if none */
	const char *feedback_id; /* Feedback-ID header */
	const char *return_path;
};

enum classify_kind {
	CLASSIFY_KIND_NONE, /* not feedback */
	CLASSIFY_KIND_DSN,  /* RFC 3464 delivery-status */
	CLASSIFY_KIND_ARF,  /* RFC 5965 feedback-report */
	CLASSIFY_KIND_AUTOREPLY,
	CLASSIFY_KIND_PROSE, /* bounce without a delivery-status part */
};

#define CLASSIFY_F_TRUNCATED 0x01u    /* a limit was hit */
#define CLASSIFY_F_MALFORMED 0x02u    /* broken MIME, repaired leniently */
#define CLASSIFY_F_HEADERS_ONLY 0x04u /* only headers of the original */

struct classify_arena;

struct classify_verdict {
	enum classify_kind kind;
	unsigned flags;
	const char *layout; /* which decoder read it: "rfc3464", "arf", ... */
	/* The feedback message itself. */
	const char *report_message_id;
	const char *report_from;
	const char *report_subject;
	const char *feedback_id; /* stable id of this feedback message */
	time_t report_time;      /* Arrival-Date / Date / now */
	/* RFC 3464 per-message fields. */
	const char *reporting_mta;
	const char *envid;        /* Original-Envelope-Id */
	const char *arrival_date; /* RFC 3339 */
	/* RFC 5965 fields (complaints). */
	const char *feedback_type; /* abuse, fraud, not-spam, ... */
	const char *user_agent;
	const char *arf_version;
	const char *original_mail_from;
	const char *source_ip;
	const char *reported_domain;
	const char *auth_results;
	const char *incidents;
	/* RFC 3834 auto-replies. */
	const char *auto_submitted; /* header value, or the marker seen */
	const char *autoreply_from; /* who replied */
	/* The original message (mail object). */
	struct classify_original original;
	/* Domain of the original sender: the identity before attribution. */
	const char *identity;
	struct classify_recipient *recipients;
	size_t n_recipients;
	struct classify_event *events;
	size_t n_events;
	struct classify_arena *arena;
};

struct classify_rules;

/*
 * Load and compile the rules: every "*.rules" file of each directory in
 * dirs (in order; earlier directories take precedence, so pass the user's
 * directory first).  Returns 0, or -1 with err filled (file and line of a
 * bad rule).  Caller frees with classify_rules_free().
 */
int classify_rules_load(const char *const *dirs, size_t n_dirs,
    struct classify_rules **rules_r, struct rb_error *err) RB_WUR;
void classify_rules_free(struct classify_rules **rules);
/* Number of rules loaded (for logs and tests). */
size_t classify_rules_count(const struct classify_rules *rules);

/* Once per process, before threads (gmime init is not thread-safe). */
void classify_global_init(void);
void classify_global_shutdown(void);

/*
 * Classify one message.  Always fills *verdict_r (NotFeedback at worst)
 * and returns 0; hostile input is a verdict, never an error.  The
 * verdict's strings are in its arena: free with classify_verdict_clear().
 * Thread-safe for distinct verdicts with shared rules.
 */
int classify_message(const struct classify_rules *rules,
    const unsigned char *msg, size_t len, time_t now,
    struct classify_verdict *verdict_r);
void classify_verdict_clear(struct classify_verdict *v);

/* Where the message came from, for the rebound.source object. */
struct classify_source {
	const char *file;    /* path, or NULL */
	long index;          /* position in an mbox, -1 when not an mbox */
	const char *session; /* SMTP session id, or NULL */
	const char *via;     /* "file", "smtp", "http" ... */
};

/*
 * The SES-shaped JSON of event i (0 <= i < n_events; for NotFeedback the
 * verdict has one event).  Caller frees with free().  One line, no
 * newline.  Returns NULL only if i is out of range.
 */
char *classify_event_json(const struct classify_verdict *v, size_t i,
    const struct classify_source *src);

/*
 * ---- VERP (classify/verp.c) ------------------------------------------
 * Signed VERP return paths: b+TOKEN@FEEDBACK_DOMAIN, where TOKEN carries
 * the sending identity, a hash of the recipient, an optional message id,
 * the day of sending and an HMAC-SHA256 signature, in lower-case base32
 * so that an MTA that lower-cases the local part does not break it.  The
 * local part is at most 64 octets (RFC 5321 4.5.3.1.1) whatever the
 * lengths of the fields; the format is described at the top of verp.c.
 * Pure: no globals, clock or I/O; every function is thread-safe.
 */

/* The local part before the '+' that encode writes. */
#define CLASSIFY_VERP_PREFIX "b"
/* RFC 5321 4.5.3.1.1: a local part is at most 64 octets. */
#define CLASSIFY_VERP_LOCAL_MAX 64
/* RFC 1035 2.3.4: a domain name is at most 253 characters as text. */
#define CLASSIFY_VERP_DOMAIN_MAX 253
/* An output buffer this large always holds what encode writes. */
#define CLASSIFY_VERP_ADDRESS_SIZE                                             \
	(CLASSIFY_VERP_LOCAL_MAX + 1 + CLASSIFY_VERP_DOMAIN_MAX + 1)
/* A 64-bit hash in base32 (identity, recipient). */
#define CLASSIFY_VERP_HASH_LEN 13
/* A 40-bit hash in base32 (message id; only matched against candidates,
 * so shorter, leaving room for a literal identity). */
#define CLASSIFY_VERP_MSGID_HASH_LEN 8
/* RFC 5321 4.5.3.1.3: a path is at most 256 octets with its "<>"; an
 * identity (a domain or an address) and a recipient fit in 254. */
#define CLASSIFY_VERP_IDENTITY_MAX 254
#define CLASSIFY_VERP_ADDRESS_MAX 254
/* RFC 5322 2.1.1: a line, and so a Message-ID, is at most 998 octets. */
#define CLASSIFY_VERP_MESSAGE_ID_MAX 998
/* Shortest secret the CLI and config accept (128 bits). */
#define CLASSIFY_VERP_SECRET_MIN 16
/* decode: a well-formed token whose signature does not verify. */
#define CLASSIFY_VERP_FORGED 1

struct classify_verp {
	/* In for encode.  Out of decode: identity and message_id are set
	 * (lower-case) when the token carries them as text, else "";
	 * recipient is always "" (the token holds only its hash). */
	char identity[CLASSIFY_VERP_IDENTITY_MAX + 1];
	char recipient[CLASSIFY_VERP_ADDRESS_MAX + 1];
	char message_id[CLASSIFY_VERP_MESSAGE_ID_MAX + 1]; /* "" = none */
	time_t sent; /* time of sending; kept to the day (UTC midnight) */
	/* Out of decode only (encode ignores them). */
	char identity_hash[CLASSIFY_VERP_HASH_LEN + 1];   /* always set */
	char recipient_hash[CLASSIFY_VERP_HASH_LEN + 1];  /* always set */
	char message_id_hash[CLASSIFY_VERP_HASH_LEN + 1]; /* "" = none */
	int trusted; /* 1: the signature verified */
};

/*
 * Write the return path "b+TOKEN@domain" for fields (identity and
 * recipient required, message_id optional, sent >= 0) to out.  Text too
 * long to fit the 64-octet local part is carried as a hash.  secret must
 * not be empty (a bug otherwise).  Returns 0, or -1 with err set (empty
 * identity or recipient, a bad domain, sent out of range, outlen too
 * small: CLASSIFY_VERP_ADDRESS_SIZE always suffices).
 */
int classify_verp_encode(const struct classify_verp *fields, const char *secret,
    size_t secret_len, const char *domain, char *out, size_t outlen,
    struct rb_error *err) RB_WUR;
/*
 * Read the token of address (an envelope recipient, "<>" allowed; any
 * prefix before the first '+' of the local part; case-insensitive).
 * Returns 0 with *fields_r filled and trusted = 1 when the signature
 * verifies; CLASSIFY_VERP_FORGED with *fields_r filled as the token
 * claims and trusted = 0 when it is well-formed but does not verify
 * (forged, altered, cut inside a field, or another secret); -1 with err
 * saying why when address is not a VERP address of this format (then
 * *fields_r is untouched).  err may be NULL.
 */
int classify_verp_decode(const char *address, const char *secret,
    size_t secret_len, struct classify_verp *fields_r, struct rb_error *err);
/*
 * 1 when address (a recipient found in the feedback; "<>" and case are
 * ignored) is the one of fields (its recipient_hash after decode, else
 * its recipient), else 0.
 */
int classify_verp_match_recipient(
    const struct classify_verp *fields, const char *address);
/* The same for an identity (case-insensitive) and a message id ("<>"
 * ignored, case kept). */
int classify_verp_match_identity(
    const struct classify_verp *fields, const char *identity);
int classify_verp_match_message_id(
    const struct classify_verp *fields, const char *message_id);
/*
 * The hashes a token carries, for a table of known identities or sent
 * message ids when a token holds only the hash.  out: at least
 * CLASSIFY_VERP_HASH_LEN + 1 bytes, NUL-terminated.
 */
void classify_verp_hash_identity(const char *identity, char *out);
void classify_verp_hash_message_id(const char *message_id, char *out);

#endif
