/*
 * smtp_session: one SMTP connection (RFC 5321) as a pure state machine.
 * Input: the bytes the client sent, in any split, and the time.  Output:
 * reply bytes, "message complete" events and a record per transaction.
 * No sockets, clock, files or logging: smtp_listener.c does those.
 *
 * Invariants: at most one message is in flight (after SMTP_EV_MESSAGE
 * the session takes no input until smtp_session_message_done); pending
 * replies stay under SESSION_OUT_HIGH plus one reply (input stops with
 * SMTP_EV_WRITE); a command line never takes more than max_line bytes,
 * a message never more than max_message plus the trace headers.
 * Extensions: PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES (every
 * reply but the greeting, 221 and 354 carries an RFC 3463 code),
 * SMTPUTF8, CHUNKING (BDAT), and STARTTLS (RFC 3207) when the config
 * names a certificate: the listener does the handshake.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingest/ingest.h"

/* Pending reply bytes above which input stops until they are written:
 * a pipelining client that never reads cannot grow them. */
#define SESSION_OUT_HIGH (16u * 1024)
/* The largest reply (EHLO, HELP) is well under 1 KB. */
#define SESSION_REPLY_MAX 1024u
#define SESSION_OUT_MAX (SESSION_OUT_HIGH + 4 * SESSION_REPLY_MAX)
/* Room for the Return-Path and Received headers we prepend (RFC 5321
 * 4.4), beyond max_message: a 255-octet HELO and 256-octet paths. */
#define SESSION_TRACE_MAX 2048u
/* A client IP address as text (INET6_ADDRSTRLEN is 46). */
#define SESSION_CLIENT_MAX 64
/* Session ids are made by the listener; this is plenty. */
#define SESSION_ID_MAX 64
/* The smallest max_line that still holds a MAIL FROM with a path. */
#define SESSION_MIN_LINE 64u
/* Recipients slots allocated at first (grown by doubling to the max). */
#define SESSION_RCPTS_INITIAL 4u

enum session_state {
	S_CMD,    /* reading command lines */
	S_DATA,   /* reading DATA up to the lone dot */
	S_BDAT,   /* reading the octets of a BDAT chunk */
	S_WAIT,   /* a message is out, waiting for smtp_session_message_done */
	S_TLS,    /* "220" to STARTTLS sent: waiting for the handshake */
	S_CLOSED, /* the last reply is queued; the rest of the input is lost */
};

/* Where DATA is in its line (dot-stuffing, RFC 5321 4.5.2). */
enum data_state {
	D_BOL,    /* at the start of a line */
	D_DOT,    /* a dot at the start of a line */
	D_DOT_CR, /* ".\r" at the start of a line */
	D_TEXT,   /* inside a line */
	D_CR,     /* a CR inside a line */
};

static const char *const default_local_parts[] = {SMTP_DEFAULT_LOCAL_PARTS};

struct smtp_session {
	const struct smtp_config *cfg;
	smtp_txn_fn *txn_fn;
	void *txn_ctx;
	char client[SESSION_CLIENT_MAX];
	char session_id[SESSION_ID_MAX];
	char helo[SMTP_MAX_HELO + 1];
	enum session_state state;
	int esmtp;
	int tls;          /* the connection is encrypted */
	int starttls_now; /* STARTTLS accepted: stop the input here */
	unsigned busy;    /* SMTP_BUSY* */
	int shutdown;
	int message_ready;
	unsigned errors;
	time_t last;
	/* The command line being read: max_line bytes, NUL-terminated. */
	char *line;
	size_t line_len;
	int line_long;
	/* The transaction. */
	int in_txn;
	char mail_from[SMTP_MAX_PATH + 1];
	int smtputf8;
	int eightbit;
	struct smtp_rcpt *rcpts; /* .address points into addrs */
	char **addrs;            /* owned, one per recipient */
	size_t n_rcpts;
	size_t cap_rcpts;
	size_t n_rejected;
	/* The message. */
	struct buf msg;
	enum data_state dstate;
	uint64_t size;
	int too_big;
	int dropped; /* refused for memory (SMTP_BUSY_MEMORY) */
	int bdat_started;
	uint64_t bdat_left;
	int bdat_last;
	const char *bdat_error; /* reply to give at the end of the chunk */
	struct smtp_envelope env;
	/* Replies not yet written: out.data[out_off..out.len). */
	struct buf out;
	size_t out_off;
};

void
smtp_config_defaults(struct smtp_config *cfg)
{
	if (cfg->n_listen == 0 || cfg->listen == NULL) {
		static const char *const def[] = {SMTP_DEFAULT_LISTEN};

		cfg->listen = def;
		cfg->n_listen = 1;
	}
	if (cfg->local_parts == NULL || cfg->n_local_parts == 0) {
		cfg->local_parts = default_local_parts;
		cfg->n_local_parts = sizeof(default_local_parts) /
		                     sizeof(default_local_parts[0]);
	}
	if (cfg->verp_secret != NULL && cfg->verp_secret_len == 0)
		cfg->verp_secret_len = strlen(cfg->verp_secret);
	if (cfg->verp_secret_len == 0)
		cfg->verp_secret = NULL;
	if (cfg->max_message == 0)
		cfg->max_message = SMTP_DEFAULT_MAX_MESSAGE;
	if (cfg->max_message > SMTP_MAX_MESSAGE_LIMIT)
		cfg->max_message = SMTP_MAX_MESSAGE_LIMIT;
	if (cfg->max_recipients == 0)
		cfg->max_recipients = SMTP_DEFAULT_MAX_RECIPIENTS;
	if (cfg->max_line == 0)
		cfg->max_line = SMTP_DEFAULT_MAX_LINE;
	if (cfg->max_line > SMTP_MAX_LINE_LIMIT)
		cfg->max_line = SMTP_MAX_LINE_LIMIT;
	if (cfg->max_line < SESSION_MIN_LINE)
		cfg->max_line = SESSION_MIN_LINE;
	if (cfg->max_connections == 0)
		cfg->max_connections = SMTP_DEFAULT_MAX_CONNECTIONS;
	if (cfg->max_per_ip == 0)
		cfg->max_per_ip = SMTP_DEFAULT_MAX_PER_IP;
	if (cfg->command_timeout == 0)
		cfg->command_timeout = SMTP_DEFAULT_COMMAND_TIMEOUT;
	if (cfg->data_timeout == 0)
		cfg->data_timeout = SMTP_DEFAULT_DATA_TIMEOUT;
	if (cfg->max_errors == 0)
		cfg->max_errors = SMTP_DEFAULT_MAX_ERRORS;
	if (cfg->max_backlog == 0)
		cfg->max_backlog = SMTP_DEFAULT_MAX_BACKLOG;
	if (cfg->max_memory == 0)
		cfg->max_memory = SMTP_DEFAULT_MAX_MEMORY;
	if (cfg->deliver_batch == 0)
		cfg->deliver_batch = SMTP_DEFAULT_DELIVER_BATCH;
}

static const char *
hostname(const struct smtp_session *s)
{
	return s->cfg->hostname != NULL ? s->cfg->hostname : "localhost";
}

static void reply(struct smtp_session *s, const char *fmt, ...) RB_PRINTF(2, 3);

/* Queue one reply line; fmt has no CRLF. */
static void
reply(struct smtp_session *s, const char *fmt, ...)
{
	char line[SESSION_REPLY_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	rb_assert(n >= 0);
	if ((size_t)n >= sizeof(line) - 2)
		n = (int)sizeof(line) - 3; /* cut: an echoed address */
	/* RFC 5321 4.2: a 4yz or 5yz reply is a failure; one count per
	 * reply, not per line of a multi-line one. */
	if (s->cfg->on_reject != NULL && n >= 4 &&
	    (line[0] == '4' || line[0] == '5') &&
	    isdigit((unsigned char)line[1]) &&
	    isdigit((unsigned char)line[2]) && line[3] == ' ')
		s->cfg->on_reject(
		    (unsigned)((line[0] - '0') * 100 + (line[1] - '0') * 10 +
		               (line[2] - '0')),
		    s->cfg->on_reject_ctx);
	line[n++] = '\r';
	line[n++] = '\n';
	if (s->out_off == s->out.len) {
		buf_reset(&s->out);
		s->out_off = 0;
	}
	if (buf_append(&s->out, line, (size_t)n) < 0)
		rb_panic("smtp session: reply buffer overflow");
}

static void
close_session(struct smtp_session *s)
{
	s->state = S_CLOSED;
}

/* The envelope of the transaction, pointing into the session. */
static void
build_env(struct smtp_session *s, time_t now)
{
	size_t i;

	s->env.session_id = s->session_id;
	s->env.client = s->client;
	s->env.helo = s->helo;
	s->env.mail_from = s->mail_from;
	s->env.rcpts = s->rcpts;
	s->env.n_rcpts = s->n_rcpts;
	s->env.received = now;
	s->env.smtputf8 = s->smtputf8;
	s->env.eightbit = s->eightbit;
	s->env.tls = s->tls;
	s->env.untrusted = 0;
	for (i = 0; i < s->n_rcpts; i++) {
		if (s->rcpts[i].verp == SMTP_VERP_UNTRUSTED)
			s->env.untrusted = 1;
	}
}

/* End the transaction (if any): report it, forget the envelope. */
static void
txn_end(struct smtp_session *s, const char *result, const char *queue_id)
{
	size_t i;

	if (!s->in_txn)
		return;
	if (s->txn_fn != NULL) {
		struct smtp_txn t;

		build_env(s, s->last);
		t.env = &s->env;
		t.n_rejected = s->n_rejected;
		t.size = s->size;
		t.queue_id = queue_id;
		t.result = result;
		s->txn_fn(&t, s->txn_ctx);
	}
	for (i = 0; i < s->n_rcpts; i++)
		free(s->addrs[i]);
	s->n_rcpts = 0;
	s->n_rejected = 0;
	s->in_txn = 0;
	s->mail_from[0] = '\0';
	s->smtputf8 = s->eightbit = 0;
	buf_free(&s->msg);
	s->size = 0;
	s->too_big = 0;
	s->dropped = 0;
	s->bdat_started = 0;
	s->bdat_error = NULL;
	memset(&s->env, 0, sizeof(s->env));
}

/* An error reply that counts toward max_errors (RFC 5321 leaves the
 * limit to the server; it stops dictionary attacks and confused
 * clients). */
static void error_reply(struct smtp_session *s, const char *fmt, ...)
    RB_PRINTF(2, 3);

static void
error_reply(struct smtp_session *s, const char *fmt, ...)
{
	char line[SESSION_REPLY_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	reply(s, "%s", line);
	if (++s->errors >= s->cfg->max_errors) {
		txn_end(s, "aborted: too many errors", NULL);
		reply(s, "421 4.7.0 %s Error: too many errors", hostname(s));
		close_session(s);
	}
}

struct smtp_session *
smtp_session_new(const struct smtp_config *cfg, const char *client_ip,
    const char *session_id, int refuse, time_t now, smtp_txn_fn *txn_fn,
    void *txn_ctx)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	rb_assert(cfg->max_line >= SESSION_MIN_LINE);
	s->cfg = cfg;
	s->txn_fn = txn_fn;
	s->txn_ctx = txn_ctx;
	(void)snprintf(s->client, sizeof(s->client), "%s", client_ip);
	(void)snprintf(s->session_id, sizeof(s->session_id), "%s", session_id);
	s->last = now;
	s->line = xmalloc(cfg->max_line);
	buf_init(&s->out, SESSION_OUT_MAX);
	buf_init(&s->msg, cfg->max_message + SESSION_TRACE_MAX);
	if (refuse) {
		reply(s,
		    "421 4.7.0 %s Error: too many connections, try "
		    "again later",
		    hostname(s));
		close_session(s);
	} else
		reply(s, "220 %s ESMTP rebound", hostname(s));
	return s;
}

void
smtp_session_free(struct smtp_session **sp)
{
	struct smtp_session *s = *sp;

	if (s == NULL)
		return;
	txn_end(s, "aborted: lost connection", NULL);
	free(s->rcpts);
	free(s->addrs);
	free(s->line);
	buf_free(&s->msg);
	buf_free(&s->out);
	free(s);
	*sp = NULL;
}

/* ---- addresses ---------------------------------------------------------- */

/* RFC 3629: well-formed UTF-8, no overlongs or surrogates. */
static int
utf8_valid(const unsigned char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned c = p[i], need, min, cp, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			min = 0x80;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			min = 0x800;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			min = 0x10000;
			cp = c & 0x07;
		} else
			return 0;
		if (len - i <= need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

/*
 * Read a path ("<a@b>", "<>", source route "<@x,@y:a@b>" reduced to
 * "a@b" as RFC 5321 4.1.2 and C.5 ask) from *pp, leaving *pp after it.
 * Leniency: a space before "<" and a path without "<>" (no spaces) are
 * accepted, as Postfix does, since broken bounce mailers send both.
 * Returns 0 with out set, -1 on bad syntax or length.  *eight_r is set
 * when the path has 8-bit octets.
 */
static int
parse_path(const char **pp, char *out, size_t outlen, int *eight_r)
{
	const char *p = *pp, *start, *end;
	int quoted = 0;
	size_t n, i;

	while (*p == ' ')
		p++;
	if (*p == '<') {
		start = ++p;
		for (; *p != '\0'; p++) {
			if (quoted && *p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				quoted = !quoted;
			else if (*p == '>' && !quoted)
				break;
		}
		if (*p != '>')
			return -1;
		end = p++;
	} else {
		start = p;
		while (*p != '\0' && *p != ' ')
			p++;
		end = p;
		if (end == start)
			return -1;
	}
	if (*p != '\0' && *p != ' ')
		return -1;
	/* A-d-l: "@relay1,@relay2:" before the mailbox is ignored. */
	if (start < end && *start == '@') {
		const char *colon = memchr(start, ':', (size_t)(end - start));

		if (colon == NULL)
			return -1;
		start = colon + 1;
	}
	n = (size_t)(end - start);
	if (n > SMTP_MAX_PATH || n >= outlen)
		return -1;
	*eight_r = 0;
	quoted = 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)start[i];

		if (c < 0x20 || c == 0x7f)
			return -1;
		if (c == '"')
			quoted = !quoted;
		else if (c == ' ' && !quoted)
			return -1;
		if (c >= 0x80)
			*eight_r = 1;
	}
	if (*eight_r && !utf8_valid((const unsigned char *)start, n))
		return -1;
	memcpy(out, start, n);
	out[n] = '\0';
	*pp = p;
	return 0;
}

static int
domain_ok(const struct smtp_config *cfg, const char *d)
{
	size_t n = strlen(d), i;

	/* A trailing dot names the same (fully qualified) domain. */
	if (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0)
		return 0;
	for (i = 0; i < cfg->n_domains; i++) {
		if (strlen(cfg->domains[i]) == n &&
		    strncasecmp(cfg->domains[i], d, n) == 0)
			return 1;
	}
	return 0;
}

static int
local_ok(const struct smtp_config *cfg, const char *l, size_t n)
{
	size_t i;

	for (i = 0; i < cfg->n_local_parts; i++) {
		if (strlen(cfg->local_parts[i]) == n &&
		    strncasecmp(cfg->local_parts[i], l, n) == 0)
			return 1;
	}
	return 0;
}

/*
 * Is addr one of ours: a configured local part at a feedback domain, a
 * VERP address "base+TOKEN" of one (base a configured local part or the
 * VERP prefix), or a bare "postmaster" (RFC 5321 4.5.1)?  A token that
 * does not verify is still accepted (the feedback is stored as
 * untrusted, DESIGN.md), only flagged.  0 accepted, -1 not ours.
 */
static int
rcpt_accept(
    const struct smtp_config *cfg, const char *addr, enum smtp_verp *verp_r)
{
	const char *at = strrchr(addr, '@'), *plus;
	size_t llen;
	struct classify_verp fields;

	if (at == NULL) {
		if (strcasecmp(addr, "postmaster") != 0)
			return -1;
		*verp_r = SMTP_VERP_NONE;
		return 0;
	}
	if (!domain_ok(cfg, at + 1))
		return -1;
	llen = (size_t)(at - addr);
	if (local_ok(cfg, addr, llen)) {
		*verp_r = SMTP_VERP_NONE;
		return 0;
	}
	plus = memchr(addr, '+', llen);
	if (plus == NULL)
		return -1;
	if (!local_ok(cfg, addr, (size_t)(plus - addr)) &&
	    !((size_t)(plus - addr) == strlen(CLASSIFY_VERP_PREFIX) &&
	        strncasecmp(
	            addr, CLASSIFY_VERP_PREFIX, (size_t)(plus - addr)) == 0))
		return -1;
	if (cfg->verp_secret == NULL)
		*verp_r = SMTP_VERP_UNCHECKED;
	else if (classify_verp_decode(addr, cfg->verp_secret,
	             cfg->verp_secret_len, &fields, NULL) == 0 &&
	         fields.trusted)
		*verp_r = SMTP_VERP_TRUSTED;
	else
		*verp_r = SMTP_VERP_UNTRUSTED;
	return 0;
}

/* ---- the message -------------------------------------------------------- */

/* Append message bytes, or only count them once past max_message or
 * when memory is short. */
static void
data_put(struct smtp_session *s, const void *p, size_t n)
{
	s->size += n;
	if (s->too_big || s->dropped)
		return;
	if ((s->busy & SMTP_BUSY_MEMORY) && s->msg.len + n + 1 > s->msg.cap) {
		s->dropped = 1;
		buf_free(&s->msg);
		return;
	}
	if (s->size > s->cfg->max_message || buf_append(&s->msg, p, n) < 0) {
		s->too_big = 1;
		buf_free(&s->msg); /* the memory goes at once */
	}
}

/* Copy v into out with octets that could break a header made '?'. */
static void
header_safe(const char *v, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; v[i] != '\0' && i + 1 < outlen; i++) {
		unsigned char c = (unsigned char)v[i];

		out[i] = (c < 0x20 || c == 0x7f || c == '(' || c == ')' ||
		             c == '\\' || c == ';')
		             ? '?'
		             : (char)c;
	}
	out[i] = '\0';
}

/*
 * RFC 5321 4.4: a server delivering a message adds Return-Path and a
 * Received line at the top.  The store's dedupe key skips both, so a
 * message retried after a lost 250 is still recognised.
 */
static void
trace_headers(struct smtp_session *s, time_t now)
{
	char date[64], helo[SMTP_MAX_HELO + 1], from[SMTP_MAX_PATH + 1];
	char rcpt[SMTP_MAX_PATH + 16];
	struct tm tm;
	const char *proto;
	int n;
	char hdr[SESSION_TRACE_MAX];

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm) ==
	        0)
		date[0] = '\0';
	header_safe(s->helo, helo, sizeof(helo));
	header_safe(s->mail_from, from, sizeof(from));
	rcpt[0] = '\0';
	if (s->n_rcpts == 1) {
		char r[SMTP_MAX_PATH + 1];

		header_safe(s->rcpts[0].address, r, sizeof(r));
		(void)snprintf(rcpt, sizeof(rcpt), "\r\n\tfor <%s>", r);
	}
	/* RFC 3848 / 6531 protocol names ("S": over TLS). */
	if (s->smtputf8)
		proto = s->tls ? "UTF8SMTPS" : "UTF8SMTP";
	else if (s->esmtp)
		proto = s->tls ? "ESMTPS" : "ESMTP";
	else
		proto = "SMTP";
	n = snprintf(hdr, sizeof(hdr),
	    "Return-Path: <%s>\r\n"
	    "Received: from %s (%s)\r\n\tby %s (rebound) with %s id %s%s;"
	    "\r\n\t%s\r\n",
	    from, helo[0] != '\0' ? helo : "unknown", s->client, hostname(s),
	    proto, s->session_id, rcpt, date);
	rb_assert(n > 0 && (size_t)n < sizeof(hdr));
	if (buf_append(&s->msg, hdr, (size_t)n) < 0)
		rb_panic("smtp session: trace headers");
}

static void
message_start(struct smtp_session *s, time_t now)
{
	buf_free(&s->msg);
	buf_init(&s->msg, s->cfg->max_message + SESSION_TRACE_MAX);
	s->size = 0;
	s->too_big = 0;
	s->dropped = 0;
	trace_headers(s, now);
}

/* The message is complete: hand it out, or refuse it if too large. */
static void
message_end(struct smtp_session *s)
{
	if (s->too_big) {
		reply(s,
		    "552 5.3.4 Error: message too large (limit %zu "
		    "bytes)",
		    s->cfg->max_message);
		txn_end(s, "552 5.3.4 message too large", NULL);
		s->state = S_CMD;
		return;
	}
	if (s->dropped) {
		reply(s, "451 4.3.1 Insufficient system resources, try again "
		         "later");
		txn_end(s, "451 4.3.1 dropped: memory short", NULL);
		s->state = S_CMD;
		return;
	}
	build_env(s, s->last);
	s->state = S_WAIT;
	s->message_ready = 1;
}

/*
 * DATA bytes up to the end-of-data line.  Lines end in CRLF or, for
 * mailers that send bare LF, in LF (stored as CRLF; we relay nothing,
 * so the "SMTP smuggling" ambiguity has no second reader here).  A
 * leading dot is removed (RFC 5321 4.5.2).  Returns bytes consumed;
 * *done when the lone dot was read.
 */
static size_t
data_feed(struct smtp_session *s, const unsigned char *p, size_t len, int *done)
{
	size_t i = 0, k;

	while (i < len) {
		switch (s->dstate) {
		case D_BOL:
			if (p[i] == '.') {
				s->dstate = D_DOT;
				i++;
			} else
				s->dstate = D_TEXT;
			break;
		case D_DOT:
			if (p[i] == '\r') {
				s->dstate = D_DOT_CR;
				i++;
			} else if (p[i] == '\n') {
				*done = 1;
				return i + 1;
			} else
				s->dstate = D_TEXT; /* the stuffed dot goes */
			break;
		case D_DOT_CR:
			if (p[i] == '\n') {
				*done = 1;
				return i + 1;
			}
			data_put(s, "\r", 1);
			s->dstate = D_TEXT;
			break;
		case D_CR:
			if (p[i] == '\n') {
				data_put(s, "\r\n", 2);
				s->dstate = D_BOL;
				i++;
			} else {
				data_put(s, "\r", 1); /* a bare CR is text */
				s->dstate = D_TEXT;
			}
			break;
		case D_TEXT:
			for (k = i; k < len && p[k] != '\r' && p[k] != '\n';
			     k++)
				;
			if (k > i)
				data_put(s, p + i, k - i);
			i = k;
			if (i < len) {
				if (p[i] == '\r')
					s->dstate = D_CR;
				else {
					data_put(s, "\r\n", 2);
					s->dstate = D_BOL;
				}
				i++;
			}
			break;
		}
	}
	return len;
}

/* The end of a BDAT chunk (RFC 3030 2). */
static void
bdat_end(struct smtp_session *s)
{
	s->state = S_CMD;
	if (s->bdat_error != NULL) {
		const char *e = s->bdat_error;

		s->bdat_error = NULL;
		if (!s->in_txn) /* 503: nothing to fail */
			error_reply(s, "%s", e);
		else {
			reply(s, "%s", e);
			/* RFC 3030 2: a failed chunk fails the transaction. */
			txn_end(s, e, NULL);
		}
		return;
	}
	if (s->too_big || s->dropped) {
		message_end(s);
		return;
	}
	if (s->bdat_last) {
		message_end(s);
		return;
	}
	reply(s, "250 2.0.0 Ok: %llu octets received",
	    (unsigned long long)s->size);
}

static size_t
bdat_feed(struct smtp_session *s, const unsigned char *p, size_t len)
{
	size_t n = len;

	if ((uint64_t)n > s->bdat_left)
		n = (size_t)s->bdat_left;
	if (s->bdat_error == NULL)
		data_put(s, p, n);
	s->bdat_left -= n;
	if (s->bdat_left == 0)
		bdat_end(s);
	return n;
}

/* ---- commands ----------------------------------------------------------- */

static int
verb_is(const char *line, size_t vlen, const char *verb)
{
	return strlen(verb) == vlen && strncasecmp(line, verb, vlen) == 0;
}

static int
starttls_offered(const struct smtp_session *s)
{
	return !s->tls && s->cfg->tls_cert != NULL && s->cfg->tls_key != NULL;
}

static void
cmd_ehlo(struct smtp_session *s, const char *arg, int esmtp)
{
	while (*arg == ' ')
		arg++;
	if (*arg == '\0') {
		error_reply(s, "501 5.5.4 Syntax: %s hostname",
		    esmtp ? "EHLO" : "HELO");
		return;
	}
	/* RFC 5321 4.1.4: EHLO in a transaction resets it. */
	txn_end(s, "aborted: EHLO", NULL);
	(void)snprintf(s->helo, sizeof(s->helo), "%s", arg);
	s->esmtp = esmtp;
	if (!esmtp) {
		reply(s, "250 %s", hostname(s));
		return;
	}
	reply(s, "250-%s", hostname(s));
	reply(s, "250-PIPELINING");
	reply(s, "250-SIZE %zu", s->cfg->max_message);
	reply(s, "250-8BITMIME");
	reply(s, "250-ENHANCEDSTATUSCODES");
	reply(s, "250-SMTPUTF8");
	/* RFC 3207 4.2: not offered again once TLS is up. */
	if (starttls_offered(s))
		reply(s, "250-STARTTLS");
	reply(s, "250 CHUNKING");
}

/* RFC 3207. */
static void
cmd_starttls(struct smtp_session *s, const char *args)
{
	if (s->cfg->tls_cert == NULL || s->cfg->tls_key == NULL) {
		error_reply(s, "502 5.5.1 Error: command not implemented");
		return;
	}
	if (*args != '\0') {
		error_reply(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (s->tls) {
		error_reply(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (s->in_txn) {
		error_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	reply(s, "220 2.0.0 Ready to start TLS");
	s->state = S_TLS;
	s->starttls_now = 1;
}

/* "KEY" or "KEY=VALUE" tokens after a path: 0, or -1 with a reply. */
static int
mail_params(struct smtp_session *s, const char *p, int *utf8_r, int *eight_r)
{
	char tok[SMTP_MAX_LINE_LIMIT];

	while (*p != '\0') {
		size_t n;
		char *eq;
		uint64_t v;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n == 0)
			break;
		memcpy(tok, p, n);
		tok[n] = '\0';
		p += n;
		eq = strchr(tok, '=');
		if (eq != NULL)
			*eq++ = '\0';
		if (strcasecmp(tok, "SIZE") == 0 && eq != NULL) {
			/* RFC 1870 6. */
			if (parse_u64(eq, &v) < 0) {
				error_reply(s, "501 5.5.4 Bad SIZE syntax");
				return -1;
			}
			if (v > s->cfg->max_message) {
				reply(s, "552 5.3.4 Message size exceeds "
				         "fixed limit");
				return -1;
			}
		} else if (strcasecmp(tok, "BODY") == 0 && eq != NULL) {
			/* RFC 6152; BINARYMIME is not offered. */
			if (strcasecmp(eq, "8BITMIME") == 0)
				*eight_r = 1;
			else if (strcasecmp(eq, "7BIT") != 0) {
				error_reply(s, "501 5.5.4 Unsupported BODY "
				               "type");
				return -1;
			}
		} else if (strcasecmp(tok, "SMTPUTF8") == 0 && eq == NULL)
			*utf8_r = 1; /* RFC 6531 3.4 */
		else {
			/* RFC 5321 4.1.1.11. */
			error_reply(s, "555 5.5.4 Unsupported option: %s", tok);
			return -1;
		}
	}
	return 0;
}

static void
cmd_mail(struct smtp_session *s, const char *args)
{
	char addr[SMTP_MAX_PATH + 1];
	int eight = 0, utf8 = 0, body8 = 0;
	const char *p = args;

	if (s->in_txn) {
		error_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (strncasecmp(p, " FROM:", 6) != 0) {
		error_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	p += 6;
	if (s->busy) {
		reply(s, "451 4.3.1 Insufficient system resources, try "
		         "again later");
		return;
	}
	if (parse_path(&p, addr, sizeof(addr), &eight) < 0) {
		error_reply(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	if (mail_params(s, p, &utf8, &body8) < 0)
		return;
	if (eight && !utf8) {
		/* RFC 6531 3.5. */
		error_reply(s, "553 5.6.7 Must declare SMTPUTF8 to send "
		               "UTF-8 address");
		return;
	}
	memcpy(s->mail_from, addr, strlen(addr) + 1);
	s->smtputf8 = utf8;
	s->eightbit = body8;
	s->in_txn = 1;
	s->n_rcpts = 0;
	s->n_rejected = 0;
	reply(s, "250 2.1.0 Ok");
}

static void
cmd_rcpt(struct smtp_session *s, const char *args)
{
	char addr[SMTP_MAX_PATH + 1];
	int eight = 0;
	const char *p = args;
	enum smtp_verp verp;

	if (!s->in_txn) {
		error_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (strncasecmp(p, " TO:", 4) != 0) {
		error_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	p += 4;
	if (parse_path(&p, addr, sizeof(addr), &eight) < 0 || addr[0] == '\0') {
		error_reply(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	while (*p == ' ')
		p++;
	if (*p != '\0') {
		/* No DSN extension is offered, so no NOTIFY or ORCPT. */
		error_reply(s, "555 5.5.4 Unsupported option: %.64s", p);
		return;
	}
	if (eight && !s->smtputf8) {
		error_reply(s, "553 5.6.7 Must declare SMTPUTF8 to send "
		               "UTF-8 address");
		return;
	}
	if (s->n_rcpts >= s->cfg->max_recipients) {
		/* RFC 5321 4.5.3.1.10. */
		reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (rcpt_accept(s->cfg, addr, &verp) < 0) {
		s->n_rejected++;
		error_reply(s, "550 5.7.1 <%s>: Relay access denied", addr);
		return;
	}
	if (s->n_rcpts == s->cap_rcpts) {
		s->cap_rcpts = s->cap_rcpts == 0 ? SESSION_RCPTS_INITIAL
		                                 : s->cap_rcpts * 2;
		s->rcpts = xrealloc(s->rcpts, s->cap_rcpts * sizeof(*s->rcpts));
		s->addrs = xrealloc(s->addrs, s->cap_rcpts * sizeof(*s->addrs));
	}
	s->addrs[s->n_rcpts] = xstrdup(addr);
	s->rcpts[s->n_rcpts].address = s->addrs[s->n_rcpts];
	s->rcpts[s->n_rcpts].verp = verp;
	s->n_rcpts++;
	reply(s, "250 2.1.5 Ok");
}

/* What stops a message from starting, or NULL. */
static const char *
message_refusal(const struct smtp_session *s)
{
	if (!s->in_txn)
		return "503 5.5.1 Error: need MAIL command";
	if (s->n_rcpts == 0)
		return "554 5.5.1 Error: no valid recipients";
	if (s->busy)
		return "451 4.3.1 Insufficient system resources, try again "
		       "later";
	return NULL;
}

static void
cmd_data(struct smtp_session *s, const char *args, time_t now)
{
	const char *why;

	if (*args != '\0') {
		error_reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (s->bdat_started) {
		/* RFC 3030 2: no DATA in a BDAT transaction. */
		error_reply(s, "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	why = message_refusal(s);
	if (why != NULL) {
		if (why[0] == '4')
			reply(s, "%s", why);
		else
			error_reply(s, "%s", why);
		return;
	}
	message_start(s, now);
	s->state = S_DATA;
	s->dstate = D_BOL;
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
cmd_bdat(struct smtp_session *s, const char *args, time_t now)
{
	char num[32];
	const char *p = args;
	size_t n;
	uint64_t size;

	while (*p == ' ')
		p++;
	n = strcspn(p, " ");
	if (n == 0 || n >= sizeof(num)) {
		error_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		return;
	}
	memcpy(num, p, n);
	num[n] = '\0';
	p += n;
	while (*p == ' ')
		p++;
	if (parse_u64(num, &size) < 0 ||
	    (*p != '\0' && strcasecmp(p, "LAST") != 0)) {
		/* The size is unknown: the chunk will read as commands. */
		error_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		return;
	}
	s->bdat_last = *p != '\0';
	s->bdat_left = size;
	s->bdat_error = NULL;
	/* RFC 3030 2: the octets are read even when the command fails. */
	if (!s->bdat_started) {
		s->bdat_error = message_refusal(s);
		if (s->bdat_error == NULL) {
			message_start(s, now);
			s->bdat_started = 1;
		}
	}
	s->state = S_BDAT;
	if (size == 0)
		bdat_end(s);
}

static void
command(struct smtp_session *s, char *line, size_t len, time_t now)
{
	size_t vlen;
	const char *args;

	if (memchr(line, '\0', len) != NULL) {
		error_reply(s, "500 5.5.2 Error: NUL in command");
		return;
	}
	vlen = strcspn(line, " ");
	args = line + vlen;
	if (verb_is(line, vlen, "QUIT")) {
		txn_end(s, "aborted: QUIT", NULL);
		reply(s, "221 2.0.0 Bye");
		close_session(s);
		return;
	}
	if (s->shutdown && !s->in_txn) {
		reply(s, "421 4.3.2 %s Service shutting down", hostname(s));
		close_session(s);
		return;
	}
	if (verb_is(line, vlen, "EHLO"))
		cmd_ehlo(s, args, 1);
	else if (verb_is(line, vlen, "HELO"))
		cmd_ehlo(s, args, 0);
	else if (verb_is(line, vlen, "MAIL"))
		cmd_mail(s, args);
	else if (verb_is(line, vlen, "RCPT"))
		cmd_rcpt(s, args);
	else if (verb_is(line, vlen, "DATA"))
		cmd_data(s, args, now);
	else if (verb_is(line, vlen, "BDAT"))
		cmd_bdat(s, args, now);
	else if (verb_is(line, vlen, "STARTTLS"))
		cmd_starttls(s, args);
	else if (verb_is(line, vlen, "RSET")) {
		if (*args != '\0')
			error_reply(s, "501 5.5.4 Syntax: RSET");
		else {
			txn_end(s, "aborted: RSET", NULL);
			reply(s, "250 2.0.0 Ok");
		}
	} else if (verb_is(line, vlen, "NOOP"))
		reply(s, "250 2.0.0 Ok");
	else if (verb_is(line, vlen, "VRFY")) {
		/* RFC 5321 3.5.3: 252 when we will not say. */
		if (*args == '\0')
			error_reply(s, "501 5.5.4 Syntax: VRFY address");
		else
			reply(s, "252 2.0.0 Cannot VRFY user, but will "
			         "accept message for feedback addresses");
	} else if (verb_is(line, vlen, "HELP"))
		reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT "
		         "RSET NOOP QUIT VRFY HELP");
	else if (verb_is(line, vlen, "EXPN") || verb_is(line, vlen, "AUTH") ||
	         verb_is(line, vlen, "ETRN") || verb_is(line, vlen, "TURN"))
		error_reply(s, "502 5.5.1 Error: command not implemented");
	else
		error_reply(s, "500 5.5.2 Error: command not recognized");
}

/*
 * Command bytes up to and including one LF.  A line longer than
 * max_line (with its CRLF) is read to its end and refused; memory stays
 * max_line however long it is.  Returns bytes consumed.
 */
static size_t
line_feed(
    struct smtp_session *s, const unsigned char *p, size_t len, time_t now)
{
	const unsigned char *nl = memchr(p, '\n', len);
	size_t take = nl != NULL ? (size_t)(nl - p) + 1 : len;
	size_t part = nl != NULL ? take - 1 : take;

	/* Room: max_line - 1 bytes before the LF, CR included. */
	if (!s->line_long && s->line_len + part > s->cfg->max_line - 1)
		s->line_long = 1;
	if (!s->line_long) {
		memcpy(s->line + s->line_len, p, part);
		s->line_len += part;
	}
	if (nl == NULL)
		return take;
	if (s->line_long) {
		s->line_long = 0;
		s->line_len = 0;
		error_reply(s, "500 5.5.2 Error: line too long");
		return take;
	}
	if (s->line_len > 0 && s->line[s->line_len - 1] == '\r')
		s->line_len--;
	s->line[s->line_len] = '\0';
	part = s->line_len;
	s->line_len = 0;
	command(s, s->line, part, now);
	return take;
}

enum smtp_event
smtp_session_input(struct smtp_session *s, const unsigned char *p, size_t len,
    time_t now, size_t *used_r)
{
	size_t off = 0;
	enum smtp_event ev = SMTP_EV_NEED_INPUT;

	rb_assert(s->state != S_WAIT && s->state != S_TLS);
	if (len > 0)
		s->last = now;
	for (;;) {
		if (s->message_ready) {
			s->message_ready = 0;
			ev = SMTP_EV_MESSAGE;
			break;
		}
		if (s->state == S_CLOSED) {
			ev = SMTP_EV_CLOSE;
			break;
		}
		if (s->starttls_now) {
			/* RFC 3207 5: what the client sent after STARTTLS
			 * in the clear is not read as commands (the caller
			 * drops it: CVE-2011-0411). */
			s->starttls_now = 0;
			ev = SMTP_EV_STARTTLS;
			break;
		}
		if (s->out.len - s->out_off > SESSION_OUT_HIGH) {
			ev = SMTP_EV_WRITE;
			break;
		}
		if (off == len)
			break;
		switch (s->state) {
		case S_CMD:
			off += line_feed(s, p + off, len - off, now);
			break;
		case S_DATA: {
			int done = 0;

			off += data_feed(s, p + off, len - off, &done);
			if (done) {
				s->state = S_CMD;
				message_end(s);
			}
			break;
		}
		case S_BDAT:
			off += bdat_feed(s, p + off, len - off);
			break;
		case S_WAIT:
		case S_TLS:
		case S_CLOSED:
			rb_panic("smtp session: bad state");
		}
	}
	*used_r = off;
	return ev;
}

const unsigned char *
smtp_session_output(const struct smtp_session *s, size_t *len_r)
{
	*len_r = s->out.len - s->out_off;
	return s->out.data + s->out_off;
}

void
smtp_session_output_consume(struct smtp_session *s, size_t n)
{
	rb_assert(n <= s->out.len - s->out_off);
	s->out_off += n;
	if (s->out_off == s->out.len) {
		buf_reset(&s->out);
		s->out_off = 0;
	}
}

int
smtp_session_closing(const struct smtp_session *s)
{
	return s->state == S_CLOSED;
}

const struct smtp_envelope *
smtp_session_envelope(const struct smtp_session *s)
{
	rb_assert(s->state == S_WAIT);
	return &s->env;
}

unsigned char *
smtp_session_take_message(struct smtp_session *s, size_t *len_r)
{
	rb_assert(s->state == S_WAIT);
	return buf_take(&s->msg, len_r);
}

void
smtp_session_message_done(
    struct smtp_session *s, const char *queue_id, time_t now)
{
	char result[SESSION_REPLY_MAX];

	rb_assert(s->state == S_WAIT);
	s->state = S_CMD;
	s->last = now;
	if (queue_id != NULL) {
		(void)snprintf(result, sizeof(result),
		    "250 2.0.0 Ok: queued as %s", queue_id);
		reply(s, "%s", result);
		txn_end(s, result, queue_id);
	} else {
		(void)snprintf(result, sizeof(result),
		    "451 4.3.0 Error: "
		    "queue file write error, try again later");
		reply(s, "%s", result);
		txn_end(s, result, NULL);
	}
	if (s->shutdown) {
		reply(s, "421 4.3.2 %s Service shutting down", hostname(s));
		close_session(s);
	}
}

void
smtp_session_set_busy(struct smtp_session *s, unsigned flags)
{
	s->busy = flags;
}

size_t
smtp_session_memory(const struct smtp_session *s)
{
	return s->msg.cap;
}

time_t
smtp_session_deadline(const struct smtp_session *s)
{
	switch (s->state) {
	case S_WAIT:
	case S_CLOSED:
		return 0;
	case S_DATA:
	case S_BDAT:
		return s->last + (time_t)s->cfg->data_timeout;
	case S_TLS: /* the handshake has the time of a command */
	case S_CMD:
		break;
	}
	return s->last + (time_t)s->cfg->command_timeout;
}

void
smtp_session_timeout(struct smtp_session *s)
{
	if (s->state == S_WAIT || s->state == S_CLOSED)
		return;
	if (s->state == S_TLS) {
		/* No reply in the clear in the middle of a handshake. */
		close_session(s);
		return;
	}
	txn_end(s, "aborted: timeout", NULL);
	reply(s, "421 4.4.2 %s Error: timeout exceeded", hostname(s));
	close_session(s);
}

void
smtp_session_tls_started(struct smtp_session *s, time_t now)
{
	rb_assert(s->state == S_TLS);
	/* RFC 3207 4.2: forget what the client said before; a new EHLO is
	 * due. */
	s->state = S_CMD;
	s->tls = 1;
	s->esmtp = 0;
	s->helo[0] = '\0';
	s->last = now;
	if (s->shutdown) {
		reply(s, "421 4.3.2 %s Service shutting down", hostname(s));
		close_session(s);
	}
}

int
smtp_session_tls_active(const struct smtp_session *s)
{
	return s->tls;
}

int
smtp_session_shutdown(struct smtp_session *s)
{
	s->shutdown = 1;
	if (s->state == S_CMD && !s->in_txn) {
		reply(s, "421 4.3.2 %s Service shutting down", hostname(s));
		close_session(s);
	}
	return s->state == S_CLOSED;
}
