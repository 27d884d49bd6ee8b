/*
 * dedupe: the key that makes ingesting idempotent.  The same feedback
 * message comes back with different trace headers: re-read from a
 * Maildir (Delivered-To, Return-Path added at delivery), retried over
 * SMTP (one more Received), read from an mbox (the "From " line).  The
 * key is the SHA-256 of the message from its first header that is not a
 * trace header, to the end without its final line ends (an mbox keeps a
 * blank line after each message, SMTP data may end in one more CRLF),
 * with CRLF read as LF (SMTP vs. a Unix mailbox).  Trace headers skipped, only
 * at the top: a leading mbox "From " line, Received, X-Received, Return-Path,
 * Delivered-To, X-Original-To.  Everything after the first other header counts,
 * so two different notices never share a key.  SHA-256 is nettle's (it comes
 * with GnuTLS, which libmicrohttpd needs), which uses the CPU's SHA
 * extensions where there are any: ~4 us of a 4.4 KB message, where
 * GLib's portable GChecksum takes 17.
 */
#include <string.h>
#include <strings.h>

#include <nettle/sha2.h>

#include "store_int.h"

static const char *const trace_headers[] = {
    "Received",
    "X-Received",
    "Return-Path",
    "Delivered-To",
    "X-Original-To",
};

/* Is the header line at p (up to end) a trace header? */
static int
is_trace(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
	const unsigned char *colon;
	size_t n, i;

	colon = memchr(p, ':', (size_t)((nl != NULL ? nl : end) - p));
	if (colon == NULL)
		return 0;
	n = (size_t)(colon - p);
	for (i = 0; i < sizeof(trace_headers) / sizeof(trace_headers[0]); i++) {
		if (strlen(trace_headers[i]) == n &&
		    strncasecmp((const char *)p, trace_headers[i], n) == 0)
			return 1;
	}
	return 0;
}

/* End of the header field at p (after its continuation lines). */
static const unsigned char *
field_end(const unsigned char *p, const unsigned char *end)
{
	for (;;) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			return end;
		p = nl + 1;
		if (p >= end || (*p != ' ' && *p != '\t'))
			return p;
	}
}

void
dedupe_key(
    const unsigned char *msg, size_t len, unsigned char key_r[STORE_KEY_LEN])
{
	const unsigned char *p = msg, *end = msg + len;
	struct sha256_ctx ck;

	sha256_init(&ck);
	if (len >= 5 && memcmp(p, "From ", 5) == 0) {
		const unsigned char *nl = memchr(p, '\n', len);

		p = nl != NULL ? nl + 1 : end;
	}
	while (p < end && *p != '\n' && *p != '\r' && is_trace(p, end))
		p = field_end(p, end);
	while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	/* Hash with every CRLF read as LF. */
	while (p < end) {
		const unsigned char *cr = memchr(p, '\r', (size_t)(end - p));

		if (cr == NULL || cr + 1 >= end) {
			sha256_update(&ck, (size_t)(end - p), p);
			break;
		}
		if (cr[1] == '\n') {
			sha256_update(&ck, (size_t)(cr - p), p);
			p = cr + 1;
		} else {
			sha256_update(&ck, (size_t)(cr + 1 - p), p);
			p = cr + 1;
		}
	}
	sha256_digest(&ck, STORE_KEY_LEN, key_r);
}
