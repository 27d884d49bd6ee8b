/*
 * uri: the request target, parsed strictly (RFC 3986 3.3 and 3.4;
 * query as application/x-www-form-urlencoded).  Input: the raw target
 * as it came on the request line, before libmicrohttpd decodes anything.
 * Output: decoded path segments and query pairs, each a NUL-terminated
 * string that cannot hold a NUL or a control character.  Anything
 * dubious is refused rather than repaired: a bad %-escape, an encoded
 * NUL, ".." anywhere in the decoded path (no file name is ever built
 * from a path that could climb), a fragment.  Pure: no I/O, no globals
 * (fuzzed by tests/fuzz/fuzz_http_uri.c).
 */
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode s[0..len) into out (room for len + 1), form-style when plus is
 * set.  Returns the decoded length, or -1 with why.
 */
static long
decode(const char *s, size_t len, int plus, char *out, const char *what,
    char *why, size_t whylen)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int h, l;

			if (i + 2 >= len) {
				(void)snprintf(why, whylen,
				    "%s: truncated %%-escape", what);
				return -1;
			}
			h = hexval((unsigned char)s[i + 1]);
			l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0) {
				(void)snprintf(
				    why, whylen, "%s: bad %%-escape", what);
				return -1;
			}
			c = (unsigned char)(h * 16 + l);
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		if (c < 0x20 || c == 0x7f) {
			(void)snprintf(
			    why, whylen, "%s: NUL or control character", what);
			return -1;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (long)o;
}

void
uri_free(struct uri *u)
{
	free(u->buf);
	memset(u, 0, sizeof(*u));
}

int
uri_parse(const char *t, size_t len, struct uri *u, char *why, size_t whylen)
{
	size_t plen, i, start;
	const char *q;
	char *o;

	memset(u, 0, sizeof(*u));
	if (len == 0 || t[0] != '/') {
		(void)snprintf(why, whylen, "request target: not a path");
		return -1;
	}
	if (len > URI_MAX_TARGET) {
		(void)snprintf(why, whylen,
		    "request target: longer than %d bytes", URI_MAX_TARGET);
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];

		/* Raw bytes: no controls, no space, no fragment (a client
		 * never sends one; RFC 9112 3.2). */
		if (c <= 0x20 || c == 0x7f || c == '#') {
			(void)snprintf(why, whylen,
			    "request target: a space, control character or"
			    " '#'");
			return -1;
		}
	}
	/* Decoded strings are never longer than their source; each gets
	 * its NUL. */
	u->buf = o = xmalloc(len + URI_MAX_SEGMENTS + 2 * URI_MAX_PARAMS + 2);
	q = memchr(t, '?', len);
	plen = q != NULL ? (size_t)(q - t) : len;
	/* Path: segments after each '/'. */
	start = 1;
	for (i = 1; i <= plen; i++) {
		long n;

		if (i < plen && t[i] != '/')
			continue;
		if (u->n_seg == URI_MAX_SEGMENTS) {
			(void)snprintf(why, whylen,
			    "path: more than %d segments", URI_MAX_SEGMENTS);
			return -1;
		}
		n = decode(t + start, i - start, 0, o, "path", why, whylen);
		if (n < 0)
			return -1;
		if (strstr(o, "..") != NULL) {
			(void)snprintf(why, whylen, "path: '..' is refused");
			return -1;
		}
		u->seg[u->n_seg++] = o;
		o += n + 1;
		start = i + 1;
	}
	/* "/" is no segment at all. */
	if (u->n_seg == 1 && u->seg[0][0] == '\0')
		u->n_seg = 0;
	if (q == NULL)
		return 0;
	/* Query: pairs between '&'; empty pairs ("a=1&&b=2") are none. */
	start = plen + 1;
	for (i = start; i <= len; i++) {
		const char *eq;
		size_t klen;
		long n;

		if (i < len && t[i] != '&')
			continue;
		if (i == start) {
			start = i + 1;
			continue;
		}
		if (u->n_params == URI_MAX_PARAMS) {
			(void)snprintf(why, whylen,
			    "query: more than %d parameters", URI_MAX_PARAMS);
			return -1;
		}
		eq = memchr(t + start, '=', i - start);
		klen = eq != NULL ? (size_t)(eq - (t + start)) : i - start;
		n = decode(t + start, klen, 1, o, "query", why, whylen);
		if (n < 0)
			return -1;
		if (n == 0) {
			(void)snprintf(
			    why, whylen, "query: a parameter without a name");
			return -1;
		}
		u->key[u->n_params] = o;
		o += n + 1;
		if (eq != NULL)
			n = decode(eq + 1, (size_t)(t + i - (eq + 1)), 1, o,
			    u->key[u->n_params], why, whylen);
		else
			n = decode("", 0, 1, o, "query", why, whylen);
		if (n < 0)
			return -1;
		u->val[u->n_params++] = o;
		o += n + 1;
		start = i + 1;
	}
	return 0;
}
