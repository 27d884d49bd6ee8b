/*
 * VERP: signed tokens in the envelope sender, so a bounce names the
 * identity, recipient and message it belongs to (DESIGN.md, Attribution
 * and trust).  Return path: b+TOKEN@FEEDBACK_DOMAIN.  TOKEN, version 1,
 * all lower-case base32 (RFC 4648 alphabet a-z2-7, no padding) so an MTA
 * that lower-cases the local part leaves it intact:
 *
 *   offset len  field
 *   0      1    kind: 5 bits, 0x18 version - 1 (0), 0x04 identity is a
 *               hash, 0x02 message id present, 0x01 message id is a hash
 *   1      4    day of sending, days since 1970-01-01 UTC (20 bits)
 *   5      13   signature: HMAC-SHA256(secret, "rebound-verp-1" NUL
 *               kind day recipient identity ["_" message-id]), 64 bits
 *   18     13   recipient: SHA-256 of the lower-cased address, 64 bits
 *   31     ...  identity: as text (lower-cased; [a-z0-9.-], '@' written
 *               '='), or its SHA-256 (lower-cased), 64 bits, 13 chars
 *   ...    ...  optional "_" message id: as text (already lower-case,
 *               [a-z0-9.-], '@' as '='), or its SHA-256, 40 bits, 8 chars
 *
 * The local part is "b+" and 32 to 62 characters, never over 64 octets
 * (RFC 5321 4.5.3.1.1).  An identity of up to 31 characters (22 beside a
 * hashed message id) travels as text; longer ones
 * as a hash the receiver resolves against its known identities
 * (classify_verp_hash_identity).  The recipient is only ever a hash: the
 * bounce names the recipient, the token proves it was ours.  The
 * signature covers every field; the comparison is constant-time.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "classify.h"

/* The version-1 layout above. */
#define VERP_CONTEXT "rebound-verp-1"
#define VERP_KIND_LEN 1
#define VERP_DAY_LEN 4
#define VERP_OFF_DAY VERP_KIND_LEN
#define VERP_OFF_SIG (VERP_OFF_DAY + VERP_DAY_LEN)
#define VERP_OFF_RCPT (VERP_OFF_SIG + CLASSIFY_VERP_HASH_LEN)
#define VERP_OFF_ID (VERP_OFF_RCPT + CLASSIFY_VERP_HASH_LEN)
#define VERP_K_VERSION 0x18u
#define VERP_K_ID_HASH 0x04u
#define VERP_K_MSGID 0x02u
#define VERP_K_MSGID_HASH 0x01u
#define VERP_MSGID_SEP '_'
/* 20 bits of days: until the year 4840. */
#define VERP_DAY_LIMIT (1L << 20)
#define VERP_DAY_SECS 86400
/* Room for the token after the prefix and '+'. */
#define VERP_TOKEN_MAX                                                         \
	(CLASSIFY_VERP_LOCAL_MAX - (sizeof(CLASSIFY_VERP_PREFIX) - 1) - 1)

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

/* A text field: a pointer and a length, trimmed, not NUL-terminated. */
struct verp_text {
	const char *p;
	size_t len;
};

static int
b32_value(int c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

static int
b32_valid(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (b32_value((unsigned char)s[i]) < 0)
			return 0;
	}
	return 1;
}

/* Encode the first nbits of in (a multiple of 8) in ceil(nbits / 5)
 * characters, the last one padded with zero bits (RFC 4648 6). */
static void
b32_encode(const unsigned char *in, size_t nbits, char *out)
{
	size_t i, n = (nbits + 4) / 5;

	for (i = 0; i < n; i++) {
		unsigned v = 0, b;

		for (b = 0; b < 5; b++) {
			size_t bit = i * 5 + b;

			v <<= 1;
			if (bit < nbits &&
			    (in[bit / 8] & (0x80u >> (bit % 8))) != 0)
				v |= 1;
		}
		out[i] = b32[v];
	}
	out[n] = '\0';
}

static int
is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* s without surrounding blanks and, when angle, one pair of "<>". */
static struct verp_text
text_trim(const char *s, int angle)
{
	struct verp_text t;
	const char *end;

	if (s == NULL)
		s = "";
	while (is_blank((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && is_blank((unsigned char)end[-1]))
		end--;
	if (angle && end - s >= 2 && *s == '<' && end[-1] == '>') {
		s++;
		end--;
	}
	t.p = s;
	t.len = (size_t)(end - s);
	return t;
}

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* SHA-256 of t (ASCII-lower-cased when lower), base32 of nbits of it. */
static void
text_hash(struct verp_text t, int lower, size_t nbits, char *out)
{
	GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
	unsigned char chunk[64], digest[32];
	gsize dlen = sizeof(digest);
	size_t off, n, i;

	for (off = 0; off < t.len; off += n) {
		n = t.len - off < sizeof(chunk) ? t.len - off : sizeof(chunk);
		for (i = 0; i < n; i++) {
			int c = (unsigned char)t.p[off + i];

			chunk[i] = (unsigned char)(lower ? ascii_lower(c) : c);
		}
		g_checksum_update(ck, chunk, (gssize)n);
	}
	g_checksum_get_digest(ck, digest, &dlen);
	g_checksum_free(ck);
	b32_encode(digest, nbits, out);
}

/*
 * t as token text into out (room for max characters and a NUL): a-z 0-9
 * '.' '-' as they are, '@' as '='; upper case is lowered when lower, else
 * refused (a message id's case matters).  Returns the length, or -1 when
 * t cannot travel as text.
 */
static int
text_literal(struct verp_text t, int lower, char *out, size_t max)
{
	size_t i;

	if (t.len == 0 || t.len > max)
		return -1;
	for (i = 0; i < t.len; i++) {
		int c = (unsigned char)t.p[i];

		if (lower)
			c = ascii_lower(c);
		if (c == '@')
			c = '=';
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		             c == '.' || c == '-'))
			return -1;
		out[i] = (char)c;
	}
	out[t.len] = '\0';
	return (int)t.len;
}

/* The signature of a token (lower-case, with its signature field
 * ignored) into sig (CLASSIFY_VERP_HASH_LEN + 1). */
static void
token_sign(const char *tok, size_t len, const char *secret, size_t secret_len,
    char *sig)
{
	GHmac *h;
	unsigned char digest[32];
	gsize dlen = sizeof(digest);

	rb_assert(len >= VERP_OFF_RCPT);
	h = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)secret, secret_len);
	g_hmac_update(h, (const guchar *)VERP_CONTEXT, sizeof(VERP_CONTEXT));
	g_hmac_update(h, (const guchar *)tok, VERP_OFF_SIG);
	g_hmac_update(h, (const guchar *)tok + VERP_OFF_RCPT,
	    (gssize)(len - VERP_OFF_RCPT));
	g_hmac_get_digest(h, digest, &dlen);
	g_hmac_unref(h);
	b32_encode(digest, 64, sig);
}

/* RFC 5321 4.1.2 Dot-string: no empty atom (no "..", no dot at an end). */
static int
dot_string_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 1; i < len; i++) {
		if (s[i] == '.' && s[i - 1] == '.')
			return 0;
	}
	return 1;
}

/* A domain of letters, digits, '-' and dots (no IDN U-labels: use
 * their A-label form). */
static int
domain_ok(const char *d)
{
	size_t i, len = strlen(d);

	if (len == 0 || len > CLASSIFY_VERP_DOMAIN_MAX ||
	    !dot_string_ok(d, len))
		return 0;
	for (i = 0; i < len; i++) {
		int c = (unsigned char)d[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

/*
 * Build the unsigned token of one layout into tok (VERP_TOKEN_MAX + 1):
 * identity and message id as text or hash as id_hash and msg_hash say.
 * Returns its length, or -1 when that layout does not fit.
 */
static int
token_build(char *tok, unsigned day, const char *rcpt_hash, struct verp_text id,
    struct verp_text msg, int id_hash, int msg_hash)
{
	size_t len = VERP_OFF_ID, room;
	unsigned kind = 0;
	int n, i;

	if (id_hash)
		kind |= VERP_K_ID_HASH;
	if (msg.len > 0)
		kind |= VERP_K_MSGID | (msg_hash ? VERP_K_MSGID_HASH : 0);
	tok[0] = b32[kind];
	for (i = 0; i < VERP_DAY_LEN; i++)
		tok[VERP_OFF_DAY + i] =
		    b32[(day >> (5 * (VERP_DAY_LEN - 1 - i))) & 31];
	memset(tok + VERP_OFF_SIG, 'a', CLASSIFY_VERP_HASH_LEN);
	memcpy(tok + VERP_OFF_RCPT, rcpt_hash, CLASSIFY_VERP_HASH_LEN);
	room = VERP_TOKEN_MAX - len;
	if (id_hash) {
		text_hash(id, 1, 64, tok + len);
		n = CLASSIFY_VERP_HASH_LEN;
	} else if ((n = text_literal(id, 1, tok + len, room)) < 0)
		return -1;
	len += (size_t)n;
	if (msg.len > 0) {
		if (len + 1 > VERP_TOKEN_MAX)
			return -1;
		tok[len++] = VERP_MSGID_SEP;
		room = VERP_TOKEN_MAX - len;
		if (msg_hash) {
			if (room < CLASSIFY_VERP_MSGID_HASH_LEN)
				return -1;
			text_hash(msg, 0, 40, tok + len);
			n = CLASSIFY_VERP_MSGID_HASH_LEN;
		} else if ((n = text_literal(msg, 0, tok + len, room)) < 0)
			return -1;
		len += (size_t)n;
	}
	tok[len] = '\0';
	/* The token follows "b+", so only its end and inner dots matter. */
	if (tok[len - 1] == '.' || strstr(tok, "..") != NULL)
		return -1;
	return (int)len;
}

int
classify_verp_encode(const struct classify_verp *f, const char *secret,
    size_t secret_len, const char *domain, char *out, size_t outlen,
    struct rb_error *err)
{
	/* Text first, identity before message id: the identity is what a
	 * sender most needs back without a lookup. */
	static const int layouts[][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
	char tok[VERP_TOKEN_MAX + 1], rcpt_hash[CLASSIFY_VERP_HASH_LEN + 1];
	char sig[CLASSIFY_VERP_HASH_LEN + 1];
	struct verp_text id, rcpt, msg;
	size_t i;
	int len = -1, n;

	rb_assert(secret != NULL && secret_len > 0);
	if (memchr(f->identity, '\0', sizeof(f->identity)) == NULL ||
	    memchr(f->recipient, '\0', sizeof(f->recipient)) == NULL ||
	    memchr(f->message_id, '\0', sizeof(f->message_id)) == NULL)
		return rb_error_set(err, EINVAL, "VERP field not terminated");
	id = text_trim(f->identity, 0);
	rcpt = text_trim(f->recipient, 1);
	msg = text_trim(f->message_id, 1);
	if (id.len == 0)
		return rb_error_set(err, EINVAL, "VERP: empty identity");
	if (rcpt.len == 0)
		return rb_error_set(err, EINVAL, "VERP: empty recipient");
	if (domain == NULL || !domain_ok(domain))
		return rb_error_set(err, EINVAL,
		    "VERP: bad feedback domain '%s'", domain ? domain : "");
	if (f->sent < 0 || f->sent / VERP_DAY_SECS >= VERP_DAY_LIMIT)
		return rb_error_set(err, ERANGE,
		    "VERP: send time %lld out of range", (long long)f->sent);
	text_hash(rcpt, 1, 64, rcpt_hash);
	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]) && len < 0; i++)
		len = token_build(tok, (unsigned)(f->sent / VERP_DAY_SECS),
		    rcpt_hash, id, msg, layouts[i][0], layouts[i][1]);
	/* The all-hash layout is at most 1 + 4 + 13 * 3 + 1 + 8 = 53. */
	rb_assert(len > 0);
	token_sign(tok, (size_t)len, secret, secret_len, sig);
	memcpy(tok + VERP_OFF_SIG, sig, CLASSIFY_VERP_HASH_LEN);
	n = snprintf(
	    out, outlen, "%s+%s@%s", CLASSIFY_VERP_PREFIX, tok, domain);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return rb_error_set(err, ENOBUFS,
		    "VERP: output buffer of %zu bytes too small", outlen);
	}
	return 0;
}

/* Constant-time comparison of n bytes: no early exit on a mismatch. */
static int
ct_equal(const char *a, const char *b, size_t n)
{
	unsigned diff = 0;
	size_t i;

	for (i = 0; i < n; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return diff == 0;
}

/* A text field of a received token: [a-z0-9.-=], not empty. */
static int
token_text_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		        c == '.' || c == '-' || c == '='))
			return 0;
	}
	return 1;
}

/* Token text back to the field: '=' is '@'. */
static void
token_text_copy(char *dst, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		dst[i] = s[i] == '=' ? '@' : s[i];
	dst[len] = '\0';
}

int
classify_verp_decode(const char *address, const char *secret, size_t secret_len,
    struct classify_verp *f, struct rb_error *err)
{
	char tok[VERP_TOKEN_MAX + 1], sig[CLASSIFY_VERP_HASH_LEN + 1];
	struct verp_text a = text_trim(address, 1), t;
	const char *at = NULL, *plus, *id, *msg = NULL;
	size_t i, len, id_len, msg_len = 0;
	unsigned kind;
	long day = 0;
	int trusted;

	rb_assert(secret != NULL && secret_len > 0);
	for (i = 0; i < a.len; i++) {
		if (a.p[i] == '@')
			at = a.p + i;
	}
	if (at == NULL || at == a.p || at + 1 == a.p + a.len)
		return rb_error_set(
		    err, EINVAL, "not an address (no local part@domain)");
	plus = memchr(a.p, '+', (size_t)(at - a.p));
	if (plus == NULL || plus == a.p)
		return rb_error_set(err, EINVAL,
		    "not a VERP address (no PREFIX+TOKEN local part)");
	len = (size_t)(at - plus - 1);
	if (len > VERP_TOKEN_MAX)
		return rb_error_set(err, EINVAL,
		    "malformed VERP token (%zu characters, at most %zu)", len,
		    (size_t)VERP_TOKEN_MAX);
	if (len <= VERP_OFF_ID)
		return rb_error_set(err, EINVAL,
		    "malformed VERP token (%zu characters, truncated)", len);
	/* Some MTAs change the case of local parts: compare lower-cased. */
	for (i = 0; i < len; i++)
		tok[i] = (char)ascii_lower((unsigned char)plus[1 + i]);
	tok[len] = '\0';
	if (!b32_valid(tok, VERP_OFF_ID))
		return rb_error_set(
		    err, EINVAL, "malformed VERP token (not base32)");
	kind = (unsigned)b32_value(tok[0]);
	if ((kind & VERP_K_VERSION) != 0)
		return rb_error_set(err, EINVAL,
		    "unknown VERP token version %u", (kind >> 3) + 1);
	if ((kind & VERP_K_MSGID_HASH) && !(kind & VERP_K_MSGID))
		return rb_error_set(err, EINVAL, "malformed VERP token (kind)");
	for (i = 0; i < VERP_DAY_LEN; i++)
		day = day * 32 + b32_value(tok[VERP_OFF_DAY + i]);
	id = tok + VERP_OFF_ID;
	id_len = len - VERP_OFF_ID;
	t.p = memchr(id, VERP_MSGID_SEP, id_len);
	if ((t.p != NULL) != ((kind & VERP_K_MSGID) != 0))
		return rb_error_set(
		    err, EINVAL, "malformed VERP token (message id)");
	if (t.p != NULL) {
		msg = t.p + 1;
		msg_len = (size_t)(tok + len - msg);
		id_len = (size_t)(t.p - id);
		if ((kind & VERP_K_MSGID_HASH)
		        ? msg_len != CLASSIFY_VERP_MSGID_HASH_LEN ||
		              !b32_valid(msg, msg_len)
		        : !token_text_ok(msg, msg_len))
			return rb_error_set(
			    err, EINVAL, "malformed VERP token (message id)");
	}
	if ((kind & VERP_K_ID_HASH)
	        ? id_len != CLASSIFY_VERP_HASH_LEN || !b32_valid(id, id_len)
	        : !token_text_ok(id, id_len))
		return rb_error_set(
		    err, EINVAL, "malformed VERP token (identity)");

	token_sign(tok, len, secret, secret_len, sig);
	trusted = ct_equal(sig, tok + VERP_OFF_SIG, CLASSIFY_VERP_HASH_LEN);

	memset(f, 0, sizeof(*f));
	if (kind & VERP_K_ID_HASH)
		memcpy(f->identity_hash, id, CLASSIFY_VERP_HASH_LEN);
	else {
		token_text_copy(f->identity, id, id_len);
		classify_verp_hash_identity(f->identity, f->identity_hash);
	}
	memcpy(f->recipient_hash, tok + VERP_OFF_RCPT, CLASSIFY_VERP_HASH_LEN);
	if (msg != NULL && (kind & VERP_K_MSGID_HASH))
		memcpy(f->message_id_hash, msg, CLASSIFY_VERP_MSGID_HASH_LEN);
	else if (msg != NULL) {
		token_text_copy(f->message_id, msg, msg_len);
		classify_verp_hash_message_id(
		    f->message_id, f->message_id_hash);
	}
	f->sent = (time_t)day * VERP_DAY_SECS;
	f->trusted = trusted;
	if (!trusted) {
		(void)rb_error_set(
		    err, EPERM, "VERP signature does not verify");
		return CLASSIFY_VERP_FORGED;
	}
	return 0;
}

void
classify_verp_hash_identity(const char *identity, char *out)
{
	text_hash(text_trim(identity, 0), 1, 64, out);
}

void
classify_verp_hash_message_id(const char *message_id, char *out)
{
	text_hash(text_trim(message_id, 1), 0, 40, out);
}

/* Does text (normalised as trim_angle and lower say) match hash, or,
 * without a hash, the plain field? */
static int
match_field(const char *hash, const char *field, const char *text, int angle,
    int lower, size_t nbits)
{
	struct verp_text t = text_trim(text, angle), u;
	char h[CLASSIFY_VERP_HASH_LEN + 1];
	size_t i;

	if (t.len == 0)
		return 0;
	if (hash[0] != '\0') {
		text_hash(t, lower, nbits, h);
		return strcmp(h, hash) == 0;
	}
	u = text_trim(field, angle);
	if (u.len != t.len || u.len == 0)
		return 0;
	for (i = 0; i < t.len; i++) {
		int c = (unsigned char)t.p[i], d = (unsigned char)u.p[i];

		if (lower ? ascii_lower(c) != ascii_lower(d) : c != d)
			return 0;
	}
	return 1;
}

int
classify_verp_match_recipient(
    const struct classify_verp *f, const char *address)
{
	return match_field(f->recipient_hash, f->recipient, address, 1, 1, 64);
}

int
classify_verp_match_identity(
    const struct classify_verp *f, const char *identity)
{
	return match_field(f->identity_hash, f->identity, identity, 0, 1, 64);
}

int
classify_verp_match_message_id(
    const struct classify_verp *f, const char *message_id)
{
	return match_field(
	    f->message_id_hash, f->message_id, message_id, 1, 0, 40);
}
