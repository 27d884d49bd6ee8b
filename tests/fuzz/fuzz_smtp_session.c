/*
 * fuzz_smtp_session: libFuzzer target for the SMTP state machine
 * (ingest/smtp_session.c, included so its statics are reachable): the
 * bytes a hostile client sends.
 *
 * Input: byte 0 picks the settings (STARTTLS offered, small limits,
 * back-pressure flags, a failing spool), byte 1 the chunk size; the rest
 * is fed in chunks, every event answered as the listener would
 * (replies written, messages taken and "spooled", STARTTLS "done").
 * Invariants, abort() on violation:
 *   - pending replies stay under SESSION_OUT_MAX; every reply line is
 *     "DDD " or "DDD-" followed by text and CRLF, code 2xx-5xx;
 *   - a message never exceeds max_message plus the trace headers, and
 *     the session's memory never exceeds that either;
 *   - input is consumed whole unless the session stopped for an event.
 */
#define _GNU_SOURCE /* memmem() in the session tests' style */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/smtp_session.c"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fz_domains[] = {"fb.example"};

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_smtp_session: invariant violated: %s\n", what);
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* Check and drop the pending replies. */
static void
drain(struct smtp_session *s)
{
	size_t len, i = 0;
	const unsigned char *p = smtp_session_output(s, &len);

	if (len > SESSION_OUT_MAX)
		fuzz_fail("reply bytes over SESSION_OUT_MAX");
	while (i < len) {
		const unsigned char *nl = memchr(p + i, '\n', len - i);
		size_t n;

		if (nl == NULL)
			fuzz_fail("reply without LF");
		n = (size_t)(nl - (p + i)) + 1;
		if (n < 6 || p[i] < '2' || p[i] > '5' || p[i + 1] < '0' ||
		    p[i + 1] > '9' || p[i + 2] < '0' || p[i + 2] > '9' ||
		    (p[i + 3] != ' ' && p[i + 3] != '-') || nl[-1] != '\r')
			fuzz_fail("malformed reply line");
		i += n;
	}
	smtp_session_output_consume(s, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_config cfg;
	struct smtp_session *s;
	unsigned opts;
	size_t step, off = 2, msg_max;
	int spool_ok = 1;

	if (size < 2)
		return 0;
	opts = data[0];
	step = 1 + data[1] * 4u;
	memset(&cfg, 0, sizeof(cfg));
	cfg.hostname = "mx.fuzz";
	cfg.domains = fz_domains;
	cfg.n_domains = 1;
	if (opts & 0x01) {
		cfg.tls_cert = "cert.pem";
		cfg.tls_key = "key.pem";
	}
	if (opts & 0x02) {
		cfg.max_message = 256;
		cfg.max_line = 64;
		cfg.max_recipients = 2;
		cfg.max_errors = 3;
	}
	if (opts & 0x04)
		cfg.verp_secret = "0123456789abcdef0123456789abcdef";
	smtp_config_defaults(&cfg);
	msg_max = cfg.max_message + SESSION_TRACE_MAX;
	s = smtp_session_new(
	    &cfg, "192.0.2.7", "F1", 0, 1717232400, NULL, NULL);
	while (off < size) {
		size_t n = size - off < step ? size - off : step, used = 0;
		enum smtp_event ev;

		smtp_session_set_busy(s, (opts >> 4) & 0x03);
		ev = smtp_session_input(s, data + off, n, 1717232400, &used);
		if (used > n)
			fuzz_fail("consumed more than given");
		if (smtp_session_memory(s) > msg_max + 1)
			fuzz_fail("session memory over the message limit");
		off += used;
		switch (ev) {
		case SMTP_EV_NEED_INPUT:
			if (used != n)
				fuzz_fail("input left without an event");
			break;
		case SMTP_EV_WRITE:
			break;
		case SMTP_EV_MESSAGE: {
			size_t len;
			unsigned char *m = smtp_session_take_message(s, &len);

			if (len > msg_max)
				fuzz_fail("message over max_message + trace");
			if (smtp_session_envelope(s)->n_rcpts == 0)
				fuzz_fail("message without a recipient");
			free(m);
			/* Every other message "fails to spool" if asked. */
			if (opts & 0x08)
				spool_ok = !spool_ok;
			smtp_session_message_done(
			    s, spool_ok ? "QID" : NULL, 1717232400);
			break;
		}
		case SMTP_EV_STARTTLS:
			/* The listener drops the rest of the chunk. */
			off += n - used;
			drain(s);
			smtp_session_tls_started(s, 1717232400);
			break;
		case SMTP_EV_CLOSE:
			off = size;
			break;
		}
		drain(s);
	}
	if (opts & 0x40) {
		smtp_session_timeout(s);
		drain(s);
	} else if (opts & 0x80) {
		(void)smtp_session_shutdown(s);
		drain(s);
	}
	smtp_session_free(&s);
	return 0;
}
