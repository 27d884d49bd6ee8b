/*
 * smtp_session: scripts of client bytes and the reply codes they must
 * get, each fed whole, byte by byte and split at every offset (the
 * replies and messages must be the same bytes every time); limits, the
 * API around a message (busy, failure, timeout, shutdown), VERP trust,
 * STARTTLS (RFC 3207: the rest of the clear input is dropped, the
 * session starts over), and 10,000 random command lines (no crash; run
 * it under ASan for leaks).
 */
#define _GNU_SOURCE /* memmem() */
#include <stdlib.h>

#include "ingest/smtp_session.c"
#include "test.h"

#define T_NOW ((time_t)1717232400) /* 2024-06-01T09:00:00Z */
#define T_SECRET "0123456789abcdef0123456789abcdef"

static const char *const t_domains[] = {"fb.example", "bounces.shop.test"};

struct run {
	struct buf out;  /* every reply byte */
	struct buf msgs; /* "<from>|<rcpt>,..|<bytes after the trace>\n" */
	struct buf txns; /* each transaction result, one a line */
	int closed;
	int fail_spool; /* message_done(NULL) */
};

static void
t_config(struct smtp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->hostname = "mx.test";
	cfg->domains = t_domains;
	cfg->n_domains = 2;
	smtp_config_defaults(cfg);
}

static void
on_txn(const struct smtp_txn *t, void *ctx)
{
	struct run *r = ctx;

	if (buf_printf(&r->txns, "%s|%zu|%zu\n", t->result, t->env->n_rcpts,
	        t->n_rejected) < 0)
		abort();
}

static void
drain(struct smtp_session *s, struct run *r)
{
	size_t len;
	const unsigned char *p = smtp_session_output(s, &len);

	if (buf_append(&r->out, p, len) < 0)
		abort();
	smtp_session_output_consume(s, len);
}

/* The message without our Return-Path and Received lines. */
static const unsigned char *
skip_trace(const unsigned char *p, size_t len, size_t *rest_r)
{
	const unsigned char *q = p, *end = p + len;

	while (q < end && (memcmp(q, "Return-Path:", 12) == 0 ||
	                      memcmp(q, "Received:", 9) == 0 || *q == '\t')) {
		const unsigned char *nl = memchr(q, '\n', (size_t)(end - q));

		if (nl == NULL)
			break;
		q = nl + 1;
	}
	*rest_r = (size_t)(end - q);
	return q;
}

static void
record_message(struct smtp_session *s, struct run *r)
{
	const struct smtp_envelope *e = smtp_session_envelope(s);
	size_t len, rest, i;
	unsigned char *m = smtp_session_take_message(s, &len);
	const unsigned char *body = skip_trace(m, len, &rest);

	if (buf_printf(&r->msgs, "%s|", e->mail_from) < 0)
		abort();
	for (i = 0; i < e->n_rcpts; i++) {
		if (buf_printf(&r->msgs, "%s%s:%d", i ? "," : "",
		        e->rcpts[i].address, (int)e->rcpts[i].verp) < 0)
			abort();
	}
	if (buf_putc(&r->msgs, '|') < 0 ||
	    buf_append(&r->msgs, body, rest) < 0 ||
	    buf_putc(&r->msgs, '\n') < 0)
		abort();
	free(m);
	smtp_session_message_done(s, r->fail_spool ? NULL : "QID", T_NOW);
}

/* Feed one chunk; returns 0, or -1 once the session closed. */
static int
feed(struct smtp_session *s, const unsigned char *p, size_t len, struct run *r)
{
	for (;;) {
		size_t used;
		enum smtp_event ev =
		    smtp_session_input(s, p, len, T_NOW, &used);

		p += used;
		len -= used;
		switch (ev) {
		case SMTP_EV_NEED_INPUT:
			test_assert(len == 0);
			return 0;
		case SMTP_EV_WRITE:
			drain(s, r);
			break;
		case SMTP_EV_MESSAGE:
			record_message(s, r);
			break;
		case SMTP_EV_CLOSE:
			r->closed = 1;
			return -1;
		case SMTP_EV_STARTTLS:
			/* As the listener: the rest of the chunk goes, the
			 * handshake "succeeds". */
			drain(s, r);
			smtp_session_tls_started(s, T_NOW);
			return 0;
		}
	}
}

/* Run in on a new session, in chunks of step bytes (0: whole) or split
 * once at split (when step is SIZE_MAX). */
static void
run(const struct smtp_config *cfg, const char *in, size_t len, size_t step,
    size_t split, int busy, struct run *r)
{
	struct smtp_session *s =
	    smtp_session_new(cfg, "192.0.2.1", "S1", 0, T_NOW, on_txn, r);
	const unsigned char *p = (const unsigned char *)in;

	buf_init(&r->out, 64u * 1024 * 1024);
	buf_init(&r->msgs, 64u * 1024 * 1024);
	buf_init(&r->txns, 1024u * 1024);
	r->closed = 0;
	r->fail_spool = 0;
	smtp_session_set_busy(s, busy);
	if (step == 0)
		(void)feed(s, p, len, r);
	else if (step == SIZE_MAX) {
		if (feed(s, p, split, r) == 0)
			(void)feed(s, p + split, len - split, r);
	} else {
		size_t off;

		for (off = 0; off < len; off += step) {
			size_t n = len - off < step ? len - off : step;

			if (feed(s, p + off, n, r) < 0)
				break;
		}
	}
	drain(s, r);
	smtp_session_free(&s);
}

static void
run_free(struct run *r)
{
	buf_free(&r->out);
	buf_free(&r->msgs);
	buf_free(&r->txns);
}

/* "220 250 354 ..." : the code of each final reply line. */
static void
codes(const struct buf *out, char *dst, size_t dstlen)
{
	size_t i = 0, o = 0;

	dst[0] = '\0';
	while (i + 4 <= out->len) {
		const unsigned char *nl =
		    memchr(out->data + i, '\n', out->len - i);
		size_t end =
		    nl != NULL ? (size_t)(nl - out->data) + 1 : out->len;

		if (out->data[i + 3] == ' ' && o + 5 < dstlen) {
			if (o > 0)
				dst[o++] = ' ';
			memcpy(dst + o, out->data + i, 3);
			o += 3;
			dst[o] = '\0';
		}
		i = end;
	}
}

/* The buffer as a string ("" when nothing was appended). */
static const char *
bstr(const struct buf *b)
{
	return b->data != NULL ? (const char *)b->data : "";
}

static int
same(const struct buf *a, const struct buf *b)
{
	return a->len == b->len &&
	       (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

struct script {
	const char *in;
	const char *codes;
	const char *msgs; /* NULL: don't check */
	int busy;
	unsigned max_recipients;
	size_t max_message;
};

#define EHLO "EHLO client.test\r\n"
#define TXN "MAIL FROM:<>\r\nRCPT TO:<bounces@fb.example>\r\n"

static const struct script scripts[] = {
    /* 0: a plain transaction. */
    {EHLO TXN "DATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n",
        "220 250 250 250 354 250 221",
        "|bounces@fb.example:0|Subject: hi\r\n\r\nbody\r\n\n"},
    /* 1: dot-stuffing: one leading dot goes. */
    {EHLO TXN "DATA\r\n..one\r\n...two\r\n.x\r\n.\r\n",
        "220 250 250 250 354 250",
        "|bounces@fb.example:0|.one\r\n..two\r\nx\r\n\n"},
    /* 2: bare LF everywhere, stored as CRLF. */
    {"HELO c\nMAIL FROM:<a@b.example>\nRCPT TO:<fbl@fb.example>\nDATA\n"
     "l1\nl2\r\n.\nQUIT\n",
        "220 250 250 250 354 250 221",
        "a@b.example|fbl@fb.example:0|l1\r\nl2\r\n\n"},
    /* 3: relay denied, then no valid recipients. */
    {EHLO "MAIL FROM:<a@b.example>\r\nRCPT TO:<x@other.example>\r\n"
          "RCPT TO:<nobody@fb.example>\r\nDATA\r\nRSET\r\n",
        "220 250 250 550 550 554 250", ""},
    /* 4: a declared SIZE over the limit. */
    {EHLO "MAIL FROM:<> SIZE=99999999999\r\nMAIL FROM:<> SIZE=10\r\n",
        "220 250 552 250", ""},
    /* 5: a message over the limit (max_message 64). */
    {EHLO TXN "DATA\r\n"
              "0123456789012345678901234567890123456789\r\n"
              "0123456789012345678901234567890123456789\r\n.\r\n" TXN
              "DATA\r\nsmall\r\n.\r\n",
        "220 250 250 250 354 552 250 250 354 250",
        "|bounces@fb.example:0|small\r\n\n", 0, 0, 64},
    /* 6: recipients limit (2). */
    {EHLO TXN "RCPT TO:<fbl@fb.example>\r\nRCPT TO:<postmaster@fb.example>"
              "\r\n",
        "220 250 250 250 250 452", "", 0, 2, 0},
    /* 7: NUL in a command, an empty line, unknown verbs. */
    {EHLO "NO\0OP\r\n\r\nFOO\r\nEXPN x\r\nSTARTTLS\r\nNOOP\r\n",
        "220 250 500 500 500 502 502 250", ""},
    /* 8: VRFY, HELP, NOOP, RSET, syntax errors. */
    {EHLO "VRFY bounces\r\nVRFY\r\nHELP\r\nNOOP x\r\nRSET x\r\nRSET\r\n"
          "DATA x\r\nEHLO\r\n",
        "220 250 252 501 214 250 501 250 501 501", ""},
    /* 9: order: RCPT and DATA before MAIL, nested MAIL. */
    {EHLO "RCPT TO:<bounces@fb.example>\r\nDATA\r\nMAIL FROM:<>\r\n"
          "MAIL FROM:<>\r\n",
        "220 250 503 503 250 503", ""},
    /* 10: BDAT chunks, pipelined. */
    {EHLO TXN "BDAT 7\r\nhello\r\nBDAT 9 LAST\r\nworld\r\n\r\nQUIT\r\n",
        "220 250 250 250 250 250 221",
        "|bounces@fb.example:0|hello\r\nworld\r\n\r\n\n"},
    /* 11: BDAT without MAIL: the octets are still read. */
    {EHLO "BDAT 6 LAST\r\nNOOP\r\nNOOP\r\n", "220 250 503 250", ""},
    /* 12: BDAT 0 LAST ends an empty message; DATA after BDAT. */
    {EHLO TXN "BDAT 3\r\nabcDATA\r\nBDAT 0 LAST\r\n",
        "220 250 250 250 250 503 250", "|bounces@fb.example:0|abc\n"},
    /* 13: SMTPUTF8 and 8-bit addresses. */
    {EHLO "MAIL FROM:<j\xc3\xb6rg@example.de>\r\n"
          "MAIL FROM:<j\xc3\xb6rg@example.de> SMTPUTF8 BODY=8BITMIME\r\n"
          "RCPT TO:<bounces@fb.example>\r\nRCPT TO:<b\xc3\xbc@other.test>\r\n"
          "DATA\r\n\xc3\xa4\r\n.\r\n",
        "220 250 553 250 250 550 354 250",
        "j\xc3\xb6rg@example.de|bounces@fb.example:0|\xc3\xa4\r\n\n"},
    /* 14: invalid UTF-8, 8-bit without SMTPUTF8 in RCPT. */
    {EHLO "MAIL FROM:<\xff@x.example> SMTPUTF8\r\nMAIL FROM:<>\r\n"
          "RCPT TO:<bounces\xc3\xa4@fb.example>\r\n",
        "220 250 501 250 553", ""},
    /* 15: lenient paths: a space, no brackets, a source route. */
    {EHLO "MAIL FROM: <a@b.example>\r\nRSET\r\nMAIL FROM:a@b.example\r\n"
          "RCPT TO:<@relay.example,@r2.example:bounces@fb.example>\r\n"
          "RCPT TO:<Postmaster>\r\nRCPT TO:<BOUNCES@FB.EXAMPLE.>\r\n"
          "DATA\r\nx\r\n.\r\n",
        "220 250 250 250 250 250 250 250 354 250",
        "a@b.example|bounces@fb.example:0,Postmaster:0,"
        "BOUNCES@FB.EXAMPLE.:0|x\r\n\n"},
    /* 16: parameters: unknown, BODY types, RCPT options. */
    {EHLO "MAIL FROM:<> FOO=1\r\nMAIL FROM:<> BODY=BINARYMIME\r\n"
          "MAIL FROM:<> SIZE=x\r\nMAIL FROM:<> BODY=7BIT\r\n"
          "RCPT TO:<bounces@fb.example> NOTIFY=NEVER\r\n",
        "220 250 555 501 501 250 555", ""},
    /* 17: busy: MAIL gets 451, nothing counts as an error. */
    {EHLO "MAIL FROM:<>\r\nMAIL FROM:<>\r\n", "220 250 451 451", "", 1},
    /* 18: VERP addresses without a secret: unchecked (3). */
    {EHLO "MAIL FROM:<>\r\nRCPT TO:<b+abc@fb.example>\r\n"
          "RCPT TO:<bounces+x@fb.example>\r\nRCPT TO:<c+abc@fb.example>\r\n"
          "DATA\r\n.\r\n",
        "220 250 250 250 250 550 354 250",
        "|b+abc@fb.example:3,bounces+x@fb.example:3|\n"},
    /* 19: ".\r" that is not the end; a bare CR inside a line. */
    {EHLO TXN "DATA\r\n.\rX\r\na\rb\r\n.\r\n", "220 250 250 250 354 250",
        "|bounces@fb.example:0|\rX\r\na\rb\r\n\n"},
    /* 20: EHLO inside a transaction resets it. */
    {EHLO TXN "EHLO again\r\nDATA\r\n", "220 250 250 250 250 503", ""},
};

#define N_SCRIPTS (sizeof(scripts) / sizeof(scripts[0]))
/* The script with a NUL: its length runs on past the NUL. */
#define SCRIPT_WITH_NUL 7

static void
test_scripts(void)
{
	size_t i;

	for (i = 0; i < N_SCRIPTS; i++) {
		const struct script *sc = &scripts[i];
		struct smtp_config cfg;
		size_t len = strlen(sc->in), k;
		struct run whole, r;
		char got[512];

		if (i == SCRIPT_WITH_NUL)
			len = strlen(sc->in) + 1 +
			      strlen(sc->in + strlen(sc->in) + 1);
		t_config(&cfg);
		if (sc->max_recipients)
			cfg.max_recipients = sc->max_recipients;
		if (sc->max_message)
			cfg.max_message = sc->max_message;
		run(&cfg, sc->in, len, 0, 0, sc->busy, &whole);
		codes(&whole.out, got, sizeof(got));
		if (strcmp(got, sc->codes) != 0)
			fprintf(stderr, "[%zu] codes \"%s\", want \"%s\"\n%s",
			    i, got, sc->codes, bstr(&whole.out));
		test_assert_idx(strcmp(got, sc->codes) == 0, i);
		if (sc->msgs != NULL) {
			if (strcmp(bstr(&whole.msgs), sc->msgs))
				fprintf(stderr, "[%zu] msgs \"%s\"\n", i,
				    bstr(&whole.msgs));
			test_assert_idx(
			    strcmp(bstr(&whole.msgs), sc->msgs) == 0, i);
		}
		/* Byte by byte, then split at every offset. */
		run(&cfg, sc->in, len, 1, 0, sc->busy, &r);
		test_assert_idx(same(&whole.out, &r.out), i);
		test_assert_idx(same(&whole.msgs, &r.msgs), i);
		test_assert_idx(same(&whole.txns, &r.txns), i);
		run_free(&r);
		for (k = 1; k < len; k++) {
			run(&cfg, sc->in, len, SIZE_MAX, k, sc->busy, &r);
			if (!same(&whole.out, &r.out) ||
			    !same(&whole.msgs, &r.msgs) ||
			    !same(&whole.txns, &r.txns)) {
				test_assert_idx(0, i * 10000 + k);
				run_free(&r);
				break;
			}
			run_free(&r);
		}
		run_free(&whole);
	}
}

/* The EHLO reply and the greeting, as bytes. */
static void
test_ehlo(void)
{
	struct smtp_config cfg;
	struct run r;
	static const char want[] =
	    "220 mx.test ESMTP rebound\r\n"
	    "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n"
	    "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n"
	    "250 CHUNKING\r\n"
	    "250 mx.test\r\n";

	t_config(&cfg);
	run(&cfg, "EHLO a\r\nHELO a\r\n", 16, 0, 0, 0, &r);
	test_assert(r.out.len == strlen(want) &&
	            memcmp(r.out.data, want, r.out.len) == 0);
	run_free(&r);
}

/* Every reply but 220, 221 and 354 has an enhanced status code. */
static void
test_enhanced_codes(void)
{
	struct smtp_config cfg;
	size_t i;

	t_config(&cfg);
	for (i = 0; i < N_SCRIPTS; i++) {
		struct run r;
		size_t off = 0;

		if (i == SCRIPT_WITH_NUL)
			continue;
		run(&cfg, scripts[i].in, strlen(scripts[i].in), 0, 0,
		    scripts[i].busy, &r);
		while (off < r.out.len) {
			const char *l = bstr(&r.out) + off;
			const char *nl = strchr(l, '\n');

			/* RFC 2034: not the greeting, 354, nor the last
			 * line of a HELO/EHLO reply. */
			if (l[3] == ' ' && strncmp(l, "220 ", 4) != 0 &&
			    strncmp(l, "354 ", 4) != 0 &&
			    strncmp(l, "250 mx.test", 11) != 0 &&
			    strncmp(l, "250 CHUNKING", 12) != 0)
				test_assert_idx(l[4] == l[0] && l[5] == '.', i);
			off = (size_t)(nl - bstr(&r.out)) + 1;
		}
		run_free(&r);
	}
}

/* Lines over 512 octets (CRLF included) get 500 5.5.2, also at 100 KB;
 * 512 exactly is fine. */
static void
test_long_lines(void)
{
	struct smtp_config cfg;
	struct run r, r1;
	struct buf in;
	char got[256];
	size_t i;

	t_config(&cfg);
	buf_init(&in, 1024 * 1024);
	test_assert(buf_printf(&in, "NOOP ") == 0);
	for (i = 0; i < 512 - 5 - 2; i++)
		test_assert(buf_putc(&in, 'x') == 0);
	test_assert(buf_printf(&in, "\r\nNOOP ") == 0);
	for (i = 0; i < 512 - 5 - 1; i++)
		test_assert(buf_putc(&in, 'x') == 0);
	test_assert(buf_printf(&in, "\r\nNOOP ") == 0);
	for (i = 0; i < 100 * 1024; i++)
		test_assert(buf_putc(&in, 'y') == 0);
	test_assert(buf_printf(&in, "\r\nNOOP\r\n") == 0);
	run(&cfg, (const char *)in.data, in.len, 0, 0, 0, &r);
	codes(&r.out, got, sizeof(got));
	test_assert_streq(got, "220 250 500 500 250");
	test_assert(strstr(bstr(&r.out), "500 5.5.2") != NULL);
	run(&cfg, (const char *)in.data, in.len, 1, 0, 0, &r1);
	test_assert(same(&r.out, &r1.out));
	run_free(&r1);
	run(&cfg, (const char *)in.data, in.len, 4093, 0, 0, &r1);
	test_assert(same(&r.out, &r1.out));
	run_free(&r1);
	run_free(&r);
	buf_free(&in);
}

/* max_errors errors: 421 4.7.0 and the rest of the input is dropped. */
static void
test_error_limit(void)
{
	struct smtp_config cfg;
	struct run r;
	struct buf in;
	char got[512];
	size_t i;

	t_config(&cfg);
	buf_init(&in, 4096);
	for (i = 0; i < 25; i++)
		test_assert(buf_printf(&in, "BOGUS\r\n") == 0);
	run(&cfg, (const char *)in.data, in.len, 0, 0, 0, &r);
	codes(&r.out, got, sizeof(got));
	test_assert(r.closed);
	test_assert(strstr(got, "500 421") != NULL);
	test_assert(strstr(bstr(&r.out), "421 4.7.0") != NULL);
	test_assert(strlen(got) == 4 * 22 - 1); /* 220, 20 x 500, 421 */
	run_free(&r);
	buf_free(&in);
}

/* The spool failed: 451 4.3.0, the transaction ends, a new one works. */
static void
test_spool_failure(void)
{
	struct smtp_config cfg;
	struct run r;
	char got[256];
	static const char in[] = EHLO TXN "DATA\r\nx\r\n.\r\n" TXN;

	t_config(&cfg);
	memset(&r, 0, sizeof(r));
	r.fail_spool = 1;
	{
		struct smtp_session *s =
		    smtp_session_new(&cfg, "::1", "S2", 0, T_NOW, on_txn, &r);

		buf_init(&r.out, 65536);
		buf_init(&r.msgs, 65536);
		buf_init(&r.txns, 65536);
		(void)feed(s, (const unsigned char *)in, strlen(in), &r);
		drain(s, &r);
		smtp_session_free(&s);
	}
	codes(&r.out, got, sizeof(got));
	test_assert_streq(got, "220 250 250 250 354 451 250 250");
	test_assert(strstr(bstr(&r.out), "451 4.3.0") != NULL);
	/* The second transaction is aborted by the free. */
	test_assert(
	    strstr(bstr(&r.txns), "aborted: lost connection|1|0") != NULL);
	run_free(&r);
}

/* Refusal, timeout and shutdown replies; deadlines. */
static void
test_lifecycle(void)
{
	struct smtp_config cfg;
	struct smtp_session *s;
	size_t len, used;
	const unsigned char *p;
	struct run r;

	t_config(&cfg);
	cfg.command_timeout = 300;
	cfg.data_timeout = 180;
	s = smtp_session_new(&cfg, "192.0.2.9", "S3", 1, T_NOW, NULL, NULL);
	p = smtp_session_output(s, &len);
	test_assert(len > 9 && memcmp(p, "421 4.7.0", 9) == 0);
	test_assert(smtp_session_closing(s));
	test_assert(smtp_session_input(s, (const unsigned char *)"x", 1, T_NOW,
	                &used) == SMTP_EV_CLOSE);
	smtp_session_free(&s);
	test_assert(s == NULL);
	smtp_session_free(&s);

	memset(&r, 0, sizeof(r));
	buf_init(&r.txns, 4096);
	s = smtp_session_new(&cfg, "192.0.2.9", "S4", 0, T_NOW, on_txn, &r);
	test_assert(smtp_session_deadline(s) == T_NOW + 300);
	(void)smtp_session_input(s, (const unsigned char *)EHLO TXN "DATA\r\n",
	    strlen(EHLO TXN "DATA\r\n"), T_NOW + 5, &used);
	test_assert(smtp_session_deadline(s) == T_NOW + 5 + 180);
	smtp_session_timeout(s);
	test_assert(smtp_session_closing(s));
	p = smtp_session_output(s, &len);
	test_assert(len > 9 && memmem(p, len, "421 4.4.2", 9) != NULL);
	test_assert(strstr(bstr(&r.txns), "aborted: timeout") != NULL);
	smtp_session_free(&s);
	buf_free(&r.txns);

	/* Shutdown: idle closes at once; in a transaction after it. */
	s = smtp_session_new(&cfg, "192.0.2.9", "S5", 0, T_NOW, NULL, NULL);
	test_assert(smtp_session_shutdown(s));
	p = smtp_session_output(s, &len);
	test_assert(memmem(p, len, "421 4.3.2", 9) != NULL);
	smtp_session_free(&s);
	s = smtp_session_new(&cfg, "192.0.2.9", "S6", 0, T_NOW, NULL, NULL);
	(void)smtp_session_input(
	    s, (const unsigned char *)EHLO TXN, strlen(EHLO TXN), T_NOW, &used);
	test_assert(!smtp_session_shutdown(s));
	test_assert(
	    smtp_session_input(s, (const unsigned char *)"DATA\r\nx\r\n.\r\n",
	        12, T_NOW, &used) == SMTP_EV_MESSAGE);
	test_assert(smtp_session_deadline(s) == 0);
	free(smtp_session_take_message(s, &len));
	smtp_session_message_done(s, "Q1", T_NOW);
	test_assert(smtp_session_closing(s));
	p = smtp_session_output(s, &len);
	test_assert(memmem(p, len, "250 2.0.0 Ok: queued as Q1\r\n421 4.3.2",
	                37) != NULL);
	smtp_session_free(&s);
}

/* Memory short in the middle of DATA: the message is read to its end,
 * dropped, refused with 451 4.3.1; the next one is fine again. */
static void
test_memory_pressure(void)
{
	struct smtp_config cfg;
	struct smtp_session *s;
	struct run r;
	struct buf in;
	size_t used, i, len;
	const unsigned char *p;
	static const char start[] = EHLO TXN "DATA\r\nSubject: big\r\n\r\n";

	t_config(&cfg);
	memset(&r, 0, sizeof(r));
	buf_init(&r.txns, 4096);
	buf_init(&in, 1024 * 1024);
	for (i = 0; i < 2000; i++)
		test_assert(buf_printf(&in, "%070zu\r\n", i) == 0);
	test_assert(buf_printf(&in, ".\r\n") == 0);
	s = smtp_session_new(&cfg, "192.0.2.1", "S9", 0, T_NOW, on_txn, &r);
	test_assert(smtp_session_input(s, (const unsigned char *)start,
	                strlen(start), T_NOW, &used) == SMTP_EV_NEED_INPUT);
	smtp_session_set_busy(s, SMTP_BUSY | SMTP_BUSY_MEMORY);
	test_assert(smtp_session_input(s, in.data, in.len, T_NOW, &used) ==
	            SMTP_EV_NEED_INPUT);
	test_assert(used == in.len);
	test_assert(smtp_session_memory(s) == 0);
	p = smtp_session_output(s, &len);
	test_assert(memmem(p, len, "\r\n451 4.3.1 ", 12) != NULL);
	test_assert(strstr(bstr(&r.txns), "dropped: memory short") != NULL);
	smtp_session_output_consume(s, len);
	smtp_session_set_busy(s, 0);
	test_assert(smtp_session_input(s,
	                (const unsigned char *)TXN "DATA\r\nx\r\n.\r\n",
	                strlen(TXN "DATA\r\nx\r\n.\r\n"), T_NOW,
	                &used) == SMTP_EV_MESSAGE);
	free(smtp_session_take_message(s, &len));
	smtp_session_message_done(s, "Q", T_NOW);
	smtp_session_free(&s);
	buf_free(&in);
	buf_free(&r.txns);
}

/* Trace headers on top of the message. */
static void
test_trace(void)
{
	struct smtp_config cfg;
	struct smtp_session *s;
	size_t len, used;
	unsigned char *m;
	static const char in[] =
	    "EHLO evil(host)\r\nMAIL FROM:<>\r\n"
	    "RCPT TO:<bounces@fb.example>\r\nDATA\r\nX: y\r\n\r\n.\r\n";

	t_config(&cfg);
	s = smtp_session_new(&cfg, "192.0.2.1", "S7", 0, T_NOW, NULL, NULL);
	test_assert(smtp_session_input(s, (const unsigned char *)in, strlen(in),
	                T_NOW, &used) == SMTP_EV_MESSAGE);
	test_assert(smtp_session_envelope(s)->received == T_NOW);
	m = smtp_session_take_message(s, &len);
	test_assert(
	    len > 0 &&
	    memcmp(m,
	        "Return-Path: <>\r\nReceived: from "
	        "evil?host? (192.0.2.1)\r\n\tby mx.test (rebound) with ESMTP "
	        "id "
	        "S7\r\n\tfor <bounces@fb.example>;\r\n\tSat, 01 Jun 2024 "
	        "09:00:00 +0000\r\nX: y\r\n\r\n",
	        len) == 0);
	free(m);
	smtp_session_message_done(s, "Q", T_NOW);
	smtp_session_free(&s);
}

/* Signed VERP tokens: trusted, altered (accepted, untrusted). */
static void
test_verp(void)
{
	struct smtp_config cfg;
	struct classify_verp f;
	struct rb_error err;
	char addr[CLASSIFY_VERP_ADDRESS_SIZE], bad[CLASSIFY_VERP_ADDRESS_SIZE];
	struct buf in;
	struct run r;
	char *at;
	char got[256];

	t_config(&cfg);
	cfg.verp_secret = T_SECRET;
	cfg.verp_secret_len = strlen(T_SECRET);
	memset(&f, 0, sizeof(f));
	(void)snprintf(f.identity, sizeof(f.identity), "shop.example.com");
	(void)snprintf(f.recipient, sizeof(f.recipient), "anna@example.net");
	f.sent = T_NOW;
	test_assert(classify_verp_encode(&f, T_SECRET, strlen(T_SECRET),
	                "fb.example", addr, sizeof(addr), &err) == 0);
	(void)snprintf(bad, sizeof(bad), "%s", addr);
	at = strchr(bad, '@');
	test_assert(at != NULL && at - bad > 4);
	at[-2] = at[-2] == 'a' ? 'b' : 'a';
	buf_init(&in, 4096);
	test_assert(
	    buf_printf(&in,
	        EHLO "MAIL FROM:<>\r\nRCPT TO:<%s>\r\n"
	             "RCPT TO:<%s>\r\nRCPT TO:<b+nonsense@fb.example>\r\n"
	             "DATA\r\n.\r\n",
	        addr, bad) == 0);
	run(&cfg, (const char *)in.data, in.len, 0, 0, 0, &r);
	codes(&r.out, got, sizeof(got));
	test_assert_streq(got, "220 250 250 250 250 250 354 250");
	{
		char want[1024];

		(void)snprintf(want, sizeof(want),
		    "|%s:1,%s:2,"
		    "b+nonsense@fb.example:2|\n",
		    addr, bad);
		test_assert_streq(bstr(&r.msgs), want);
	}
	run_free(&r);
	buf_free(&in);
}

/* A client that pipelines forever without reading: replies stay
 * bounded, input stops with SMTP_EV_WRITE. */
static void
test_output_bound(void)
{
	struct smtp_config cfg;
	struct smtp_session *s;
	struct buf in;
	size_t used, i, len;
	enum smtp_event ev;

	t_config(&cfg);
	buf_init(&in, 1024 * 1024);
	for (i = 0; i < 10000; i++)
		test_assert(buf_printf(&in, "NOOP\r\n") == 0);
	s = smtp_session_new(&cfg, "192.0.2.1", "S8", 0, T_NOW, NULL, NULL);
	ev = smtp_session_input(s, in.data, in.len, T_NOW, &used);
	test_assert(ev == SMTP_EV_WRITE);
	test_assert(used < in.len);
	(void)smtp_session_output(s, &len);
	test_assert(len <= SESSION_OUT_MAX);
	smtp_session_free(&s);
	buf_free(&in);
}

static uint32_t rng = 12345;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* 10,000 random command lines in random chunks: no crash, bounded. */
static void
test_random(void)
{
	static const char *const verbs[] = {"EHLO", "HELO",
	    "MAIL FROM:", "RCPT TO:", "DATA", "BDAT", "RSET", "NOOP", "QUIT",
	    "VRFY", "HELP", "EXPN", "STARTTLS", "mail from:", "rcpt to:", ".",
	    "", "BDAT 3 LAST", "AUTH"};
	static const char *const args[] = {"<>", "<bounces@fb.example>",
	    "<b+x@fb.example>", "<a@other.test>", " SIZE=100", " SMTPUTF8",
	    " BODY=8BITMIME", "<\"q u\"@fb.example>", "<@a:b@c>", "\r", "<",
	    ">", "LAST", "0", "99999999999999999999"};
	struct smtp_config cfg;
	struct buf in;
	unsigned line, sessions = 0;
	struct run r;

	t_config(&cfg);
	cfg.max_message = 4096;
	cfg.tls_cert = "cert.pem"; /* STARTTLS offered (and accepted) */
	cfg.tls_key = "key.pem";
	buf_init(&in, 64u * 1024 * 1024);
	for (line = 0; line < 10000; line++) {
		unsigned k = rnd() % 4, j;

		if (buf_printf(&in, "%s",
		        verbs[rnd() % (sizeof(verbs) / sizeof(verbs[0]))]) < 0)
			abort();
		for (j = 0; j < k; j++) {
			if (rnd() % 3 == 0) {
				unsigned n = rnd() % 40, b;

				for (b = 0; b < n; b++) {
					if (buf_putc(&in, (int)(rnd() & 0xff)) <
					    0)
						abort();
				}
			} else if (buf_printf(&in, "%s",
			               args[rnd() % (sizeof(args) /
			                                sizeof(args[0]))]) < 0)
				abort();
		}
		if (buf_printf(&in, rnd() % 5 ? "\r\n" : "\n") < 0)
			abort();
	}
	/* Feed it as many sessions (each ends at QUIT or an error limit),
	 * in random chunk sizes. */
	{
		size_t off = 0;

		while (off < in.len) {
			struct smtp_session *s = smtp_session_new(
			    &cfg, "192.0.2.1", "R", 0, T_NOW, on_txn, &r);

			buf_init(&r.out, 64u * 1024 * 1024);
			buf_init(&r.msgs, 64u * 1024 * 1024);
			buf_init(&r.txns, 64u * 1024 * 1024);
			r.closed = 0;
			r.fail_spool = (int)(rnd() % 2);
			sessions++;
			while (off < in.len && !r.closed) {
				size_t n = 1 + rnd() % 300, used;

				if (n > in.len - off)
					n = in.len - off;
				for (;;) {
					enum smtp_event ev = smtp_session_input(
					    s, in.data + off, n, T_NOW, &used);

					off += used;
					n -= used;
					if (ev == SMTP_EV_MESSAGE)
						record_message(s, &r);
					else if (ev == SMTP_EV_WRITE)
						drain(s, &r);
					else if (ev == SMTP_EV_CLOSE) {
						r.closed = 1;
						break;
					} else if (ev == SMTP_EV_STARTTLS) {
						smtp_session_tls_started(
						    s, T_NOW);
						break;
					} else
						break;
				}
				if (rnd() % 2)
					drain(s, &r);
			}
			drain(s, &r);
			smtp_session_free(&s);
			run_free(&r);
		}
	}
	test_assert(sessions > 1);
	buf_free(&in);
}

/* STARTTLS: refusals, the clear input after it dropped, a new session
 * on TLS (no STARTTLS offered, EHLO needed again, ESMTPS trace). */
static void
test_starttls(void)
{
	struct smtp_config cfg;
	struct smtp_session *s;
	size_t len, used;
	const unsigned char *p;
	unsigned char *m;
	char got[256];
	struct run r;
	static const char in1[] =
	    "EHLO c\r\nSTARTTLS now\r\nMAIL FROM:<>\r\nSTARTTLS\r\n"
	    "RSET\r\nSTARTTLS\r\nNOOP\r\nMAIL FROM:<>\r\n";
	static const char in2[] =
	    "EHLO c\r\nSTARTTLS\r\n" TXN "DATA\r\nX: y\r\n.\r\n";

	/* Without a certificate: not offered, not implemented. */
	t_config(&cfg);
	run(&cfg, "EHLO c\r\nSTARTTLS\r\n", 18, 0, 0, 0, &r);
	test_assert(strstr(bstr(&r.out), "STARTTLS") == NULL);
	codes(&r.out, got, sizeof(got));
	test_assert_streq(got, "220 250 502");
	run_free(&r);

	t_config(&cfg);
	cfg.tls_cert = "cert.pem";
	cfg.tls_key = "key.pem";
	memset(&r, 0, sizeof(r));
	buf_init(&r.out, 65536);
	buf_init(&r.txns, 65536);
	s = smtp_session_new(&cfg, "192.0.2.1", "T1", 0, T_NOW, on_txn, &r);
	test_assert(smtp_session_input(s, (const unsigned char *)in1,
	                strlen(in1), T_NOW, &used) == SMTP_EV_STARTTLS);
	/* Stopped right after the STARTTLS line: NOOP and MAIL are not
	 * read (they came in the clear). */
	test_assert(used == strlen(in1) - strlen("NOOP\r\nMAIL FROM:<>\r\n"));
	drain(s, &r);
	codes(&r.out, got, sizeof(got));
	test_assert_streq(got, "220 250 501 250 503 250 220");
	test_assert(strstr(bstr(&r.out), "250-STARTTLS\r\n") != NULL);
	test_assert(
	    strstr(bstr(&r.out), "220 2.0.0 Ready to start TLS") != NULL);
	test_assert(smtp_session_deadline(s) == T_NOW + 300);
	test_assert(!smtp_session_tls_active(s));
	smtp_session_tls_started(s, T_NOW);
	test_assert(smtp_session_tls_active(s));
	buf_reset(&r.out);
	test_assert(smtp_session_input(s, (const unsigned char *)in2,
	                strlen(in2), T_NOW, &used) == SMTP_EV_MESSAGE);
	test_assert(used == strlen(in2));
	drain(s, &r);
	test_assert(strstr(bstr(&r.out), "STARTTLS") == NULL);
	codes(&r.out, got, sizeof(got));
	test_assert_streq(got, "250 503 250 250 354");
	test_assert(smtp_session_envelope(s)->tls);
	m = smtp_session_take_message(s, &len);
	test_assert(memmem(m, len, "with ESMTPS id T1", 17) != NULL);
	free(m);
	smtp_session_message_done(s, "Q", T_NOW);
	smtp_session_free(&s);
	run_free(&r);

	/* A handshake that never ends: closed without a clear reply. */
	s = smtp_session_new(&cfg, "192.0.2.1", "T2", 0, T_NOW, NULL, NULL);
	test_assert(smtp_session_input(s, (const unsigned char *)"STARTTLS\r\n",
	                10, T_NOW, &used) == SMTP_EV_STARTTLS);
	p = smtp_session_output(s, &len);
	smtp_session_output_consume(s, len);
	smtp_session_timeout(s);
	test_assert(smtp_session_closing(s));
	(void)smtp_session_output(s, &len);
	test_assert(len == 0);
	smtp_session_free(&s);

	/* Shutdown during the handshake: 421 once TLS is up. */
	s = smtp_session_new(&cfg, "192.0.2.1", "T3", 0, T_NOW, NULL, NULL);
	test_assert(smtp_session_input(s, (const unsigned char *)"STARTTLS\r\n",
	                10, T_NOW, &used) == SMTP_EV_STARTTLS);
	p = smtp_session_output(s, &len);
	smtp_session_output_consume(s, len);
	test_assert(!smtp_session_shutdown(s));
	smtp_session_tls_started(s, T_NOW);
	test_assert(smtp_session_closing(s));
	p = smtp_session_output(s, &len);
	test_assert(len > 9 && memcmp(p, "421 4.3.2", 9) == 0);
	smtp_session_free(&s);
}

static void
test_utf8(void)
{
	static const struct {
		const char *s;
		int ok;
	} cases[] = {
	    {"plain", 1},
	    {"j\xc3\xb6rg", 1},
	    {"\xe2\x82\xac", 1},
	    {"\xf0\x9f\x98\x80", 1},
	    {"\xc0\xaf", 0},         /* overlong */
	    {"\xed\xa0\x80", 0},     /* surrogate */
	    {"\xf4\x90\x80\x80", 0}, /* > U+10FFFF */
	    {"\xc3", 0},             /* cut */
	    {"\x80", 0},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_assert_idx(utf8_valid((const unsigned char *)cases[i].s,
		                    strlen(cases[i].s)) == cases[i].ok,
		    i);
}

int
main(void)
{
	test_utf8();
	test_scripts();
	test_ehlo();
	test_enhanced_codes();
	test_long_lines();
	test_error_limit();
	test_spool_failure();
	test_lifecycle();
	test_trace();
	test_memory_pressure();
	test_verp();
	test_output_bound();
	test_starttls();
	test_random();
	return test_exit();
}
