/*
 * Private to classify/: the pieces the classifier's files share.  Not
 * included outside this folder (the public header is classify.h).
 *
 * All text handled here is LF-only: classify_message() copies the input
 * once, turning CRLF and bare CR into LF, so no parser below has to care
 * about line ends.  Spans point into that copy or into the arena.
 */
#ifndef REBOUND_CLASSIFY_INT_H
#define REBOUND_CLASSIFY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "classify.h"

struct span {
	const char *p;
	size_t len;
};

/* arena.c: bump allocator freed at once with the verdict. */
struct classify_arena *arena_new(void);
void arena_free(struct classify_arena **a);
void *arena_alloc(struct classify_arena *a, size_t n);
char *arena_strndup(struct classify_arena *a, const char *s, size_t n);
char *arena_strdup(struct classify_arena *a, const char *s);
char *arena_printf(struct classify_arena *a, const char *fmt, ...)
    RB_PRINTF(2, 3);
/* One scratch object per arena (a PCRE2 match block), destroyed with it. */
void **arena_scratch(struct classify_arena *a, void (*destroy)(void *));

/* mime.c: headers and the MIME tree. */
struct mime_header {
	struct span name;
	struct span value; /* raw, folded, without the trailing LF */
};

struct mime_headers {
	struct mime_header *h;
	size_t n;
	bool truncated;
};

enum mime_cte { MIME_CTE_IDENTITY, MIME_CTE_BASE64, MIME_CTE_QP };

struct mime_part {
	struct mime_headers headers;
	const char *type;        /* lower-case "text/plain" */
	const char *boundary;    /* or NULL */
	const char *charset;     /* lower-case, or NULL */
	const char *report_type; /* lower-case, or NULL */
	enum mime_cte cte;
	struct span body; /* raw body, still transfer-encoded */
	unsigned depth;
	int parent;          /* index, -1 for the root */
	bool in_message;     /* inside a message/rfc822 part */
	struct span decoded; /* filled by mime_decode() */
	bool is_decoded;
};

struct mime_tree {
	struct mime_part *parts;
	size_t n;
	unsigned flags; /* CLASSIFY_F_* */
};

void mime_parse_headers(struct classify_arena *a, struct span in,
    struct mime_headers *h_r, struct span *body_r);
/* First header named name (case-insensitive), raw value, or NULL. */
const struct span *mime_header_raw(
    const struct mime_headers *h, const char *name);
/* Unfolded, whitespace-collapsed, RFC 2047-decoded, valid UTF-8; or NULL. */
const char *mime_header_get(
    struct classify_arena *a, const struct mime_headers *h, const char *name);
/* Same for a raw value. */
const char *mime_value_clean(
    struct classify_arena *a, struct span raw, bool decode_2047);
/* The whole tree below a message (headers + body). */
void mime_parse_tree(
    struct classify_arena *a, struct span msg, struct mime_tree *t_r);
/* Transfer-decoded body of a part (cached); text parts converted to UTF-8. */
struct span mime_decode(struct classify_arena *a, struct mime_part *p);

/* text.c: small string helpers. */
bool text_ieq(struct span s, const char *lit);
bool text_istarts(const char *s, size_t len, const char *prefix);
const char *text_icase_find(const char *hay, size_t len, const char *needle);
/* Is the text p..e only spaces and tabs? */
bool text_blank(const char *p, const char *e);
char *text_collapse(struct classify_arena *a, const char *s, size_t len);
char *text_lower(struct classify_arena *a, const char *s);
/* A multi-line SMTP reply read as one: "550-5.7.1 Our system has
 * detected that this 550-5.7.1 message is ..." without the repeated
 * "550-5.7.1" prefixes (the first is kept).  s itself when the text has
 * no continued reply; otherwise in the arena.  s must be collapsed (one
 * space between words). */
const char *text_join_reply(struct classify_arena *a, const char *s);
char *text_valid_utf8(struct classify_arena *a, const char *s, size_t len);
/* Bare address out of "Name <a@b>", "rfc822; a@b", "<a@b>"; or NULL. */
const char *text_address(struct classify_arena *a, const char *s);
/* Domain part of an address (after the last '@'), lower-case, or NULL. */
const char *text_domain(struct classify_arena *a, const char *addr);
/* Parse an RFC 5322 date; 0 when unparseable. */
time_t text_parse_date(const char *s);
/* First enhanced status code (class 2/4/5) in text, into out[16]. */
bool text_find_status(const char *s, size_t len, char out[16]);
/* First 4.x.x or 5.x.x code in s (skipping a transcript's 2.x.x). */
bool text_failure_status(const char *s, char out[16]);
/* SMTP reply code (2xx/4xx/5xx) starting a diagnostic, into out[4]. */
bool text_find_reply_code(const char *s, size_t len, char out[4]);
/* First IPv4/IPv6 literal in s, or NULL. */
const char *text_find_ip(struct classify_arena *a, const char *s);

/* status.c: enhanced status codes (RFC 3463, RFC 5248 registry). */
struct status_info {
	enum classify_reason reason;
	bool firm;  /* the code alone decides; text cannot override */
	bool vague; /* x.N.0-style catch-alls: even generic text says more */
};
bool status_lookup(const char *status, struct status_info *info_r);
bool status_valid(const char *status);

/* rules.c: the compiled rules. */
enum rules_section {
	RULES_DIAGNOSTIC, /* diagnostic text -> reason */
	RULES_FALLBACK,   /* the same, after a loose status code */
	RULES_AUTOREPLY_SUBJECT,
	RULES_AUTOREPLY_HEADER,
	RULES_BOUNCE_FROM, /* sender of a prose bounce */
	RULES_BOUNCE_SUBJECT,
	RULES_BOUNCE_BODY, /* markers that a body is a bounce notice */
	RULES_NOT_BOUNCE,  /* markers that it is not */
	RULES_RETURNED,    /* line where the returned message starts */
	RULES_DELAYED,     /* notice wording of a delay warning */
	RULES_SECTION_COUNT
};

struct rule_match {
	enum classify_reason reason;
	enum classify_bounce_type
	    bounce_type;    /* NONE unless the rule sets it */
	const char *status; /* status the rule sets, or NULL */
	bool user;          /* from a user's directory */
	bool force;         /* overrides a firm status code */
	bool rcptstage;     /* wording only said of a missing mailbox */
	const char *file;
	unsigned line;
	struct span matched;
	const char *stage; /* the rule's cmd= condition, or NULL */
};

/* What a rule's conditions are tested against; any member may be NULL. */
struct rule_subject {
	const char *status;  /* enhanced status code, for status= */
	const char *code;    /* SMTP reply code, for code= */
	const char *rcpt;    /* recipient address, for rcpt= */
	const char *hosts;   /* space-separated mail server names, for mta= */
	const char *command; /* SMTP command the failure answered, for cmd= */
	/* Only rules of these reasons (bit 1 << reason); 0 = any. */
	unsigned long long reasons;
};

/*
 * First rule of section (in order) whose conditions hold and whose
 * pattern matches text.  subj may be NULL (then rules with conditions
 * never match).
 */
bool rules_match(const struct classify_rules *rules, struct classify_arena *a,
    enum rules_section sec, const char *text, size_t len,
    const struct rule_subject *subj, struct rule_match *m_r);

/* Earliest offset in text where any rule of sec matches (multi-line). */
bool rules_earliest(const struct classify_rules *rules,
    struct classify_arena *a, enum rules_section sec, const char *text,
    size_t len, size_t *off_r);

/* reason.c: decide a recipient's reason from status, code and text. */
void reason_decide(const struct classify_rules *rules, struct classify_arena *a,
    struct classify_recipient *r);
/* SMTP command a failure text says it answered, or NULL (see reason.c). */
const char *reason_smtp_command(struct classify_arena *a, const char *text);
enum classify_bounce_type reason_bounce_type(
    enum classify_reason reason, const char *status, const char *code);
const char *reason_bounce_subtype(
    enum classify_reason reason, enum classify_bounce_type bt);
const char *reason_delay_type(enum classify_reason reason);

/* Builder shared by the report readers. */
struct classify_ctx {
	const struct classify_rules *rules;
	struct classify_arena *a;
	struct classify_verdict *v;
	struct mime_tree tree;
	struct mime_headers *top; /* headers of the message itself */
	struct classify_recipient *rcpts;
	size_t n_rcpts;
	size_t cap_rcpts;
	time_t now;
};

struct classify_recipient *ctx_add_recipient(struct classify_ctx *c);
/* Fill v->original from a header block (message/rfc822 or headers). */
void ctx_set_original(struct classify_ctx *c, const struct mime_headers *h);
/* The human-readable notice: first text part outside the returned
 * message (transfer-decoded, UTF-8), or the whole body of a multipart
 * that has no parts.  Empty span if none. */
struct span ctx_notice(struct classify_ctx *c);
/* Find and read the returned/reported message part, if any. */
void ctx_find_original(struct classify_ctx *c);

/* prose.c: s cut where a [returned-message] rule says the copy of the
 * original starts; *rest_r is the text after the marker line, or empty. */
struct span prose_cut_returned(
    struct classify_ctx *c, struct span s, struct span *rest_r);

/* dsn.c, arf.c, autoreply.c, prose.c, mlnotice.c: each returns true if
 * it claimed the message. */
bool mlnotice_read(struct classify_ctx *c);
bool dsn_read(struct classify_ctx *c);
bool arf_read(struct classify_ctx *c);
bool autoreply_read(struct classify_ctx *c);
bool prose_read(struct classify_ctx *c);
bool sesjson_read(struct classify_ctx *c);

/* hosts.c: r->hosts, the mail servers the failure names (mta= rules). */
void ctx_hosts(struct classify_ctx *c, struct classify_recipient *r);

/* notice.c: r->context of recipients [first, first + n) of one report
 * from its human-readable notice. */
void notice_context(
    struct classify_ctx *c, struct span notice, size_t first, size_t n);

/* dsn.c: parse one block of "Name: value" fields. */
void dsn_fields(
    struct classify_arena *a, struct span block, struct mime_headers *h_r);

#endif
