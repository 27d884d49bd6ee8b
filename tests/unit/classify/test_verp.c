/*
 * classify/verp.c: round trips of short and very long identities,
 * recipients and message ids (the local part never over 64 octets), case
 * changes of the token, a wrong secret, every character flipped, every
 * truncation, addresses that are not VERP, recipient / identity / message
 * id matching, encode's errors, and one known answer pinning the format.
 */
#include <stdio.h>
#include <string.h>

#include "classify/classify.h"
#include "test.h"

static const char secret[] = "0123456789abcdef-test-secret";
#define SECRET_LEN (sizeof(secret) - 1)

/* 2024-05-01T10:00:00Z and its day. */
#define SENT 1714557600
#define SENT_DAY 1714521600

static char long_domain[254];  /* 253 characters */
static char long_address[255]; /* 254 characters */
static char long_msgid[999];   /* 998 characters */

static void
make_long(void)
{
	size_t i;

	/* a.b.c...: labels of 63, a domain of 253. */
	memset(long_domain, 'x', 253);
	for (i = 63; i < 253; i += 64)
		long_domain[i] = '.';
	long_domain[253] = '\0';
	/* 64-octet local part @ 189-octet domain. */
	memset(long_address, 'U', 64);
	long_address[64] = '@';
	memcpy(long_address + 65, long_domain, 189);
	long_address[254] = '\0';
	long_address[65 + 188] = 'z';
	memset(long_msgid, 'M', 998);
	long_msgid[500] = '@';
	long_msgid[998] = '\0';
}

static void
fields_set(struct classify_verp *f, const char *id, const char *rcpt,
    const char *msgid)
{
	memset(f, 0, sizeof(*f));
	(void)snprintf(f->identity, sizeof(f->identity), "%s", id);
	(void)snprintf(f->recipient, sizeof(f->recipient), "%s", rcpt);
	(void)snprintf(f->message_id, sizeof(f->message_id), "%s", msgid);
	f->sent = SENT;
}

/* Length of the local part, and whether it is a lower-case dot-string. */
static size_t
local_len(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? (size_t)(at - addr) : 0;
}

static int
local_ok(const char *addr)
{
	size_t i, n = local_len(addr);

	if (n == 0 || addr[0] == '.' || addr[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		char c = addr[i];

		if (i > 0 && c == '.' && addr[i - 1] == '.')
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		        c == '.' || c == '-' || c == '=' || c == '_' ||
		        c == '+'))
			return 0;
	}
	return 1;
}

static void
change_case(char *s, size_t n, int upper)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (upper && s[i] >= 'a' && s[i] <= 'z')
			s[i] = (char)(s[i] - 'a' + 'A');
		else if (!upper && s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
	}
}

static void
test_round_trip(void)
{
	/* clang-format off */
	static const struct {
		const char *id, *rcpt, *msgid;
		const char *want_id;    /* NULL: carried as a hash */
		const char *want_msgid; /* NULL: a hash ("" none) */
	} cases[] = {
		{"example.com", "user@example.net", "", "example.com", ""},
		{"Example.COM", "User@Example.NET", "", "example.com", ""},
		{"news@example.com", "a@b.c", "", "news@example.com", ""},
		{"mail-1.example-company.com", "u@x.y", "", "mail-1.example-company.com", ""},
		/* 31 characters fit as text, 32 do not */
		{"abcdefghij.abcdefghij.abcdefghi", "u@x.y", "", "abcdefghij.abcdefghij.abcdefghi", ""},
		{"abcdefghij.abcdefghij.abcdefghij", "u@x.y", "", NULL, ""},
		{"example.com", "u@x.y", "42", "example.com", "42"},
		{"example.com", "u@x.y", "<msg-7@mta.example>", "example.com", "msg-7@mta.example"},
		{"example.com", "u@x.y", "0b9e3f7c-5b1a-4c2e-9d8f-1a2b3c4d5e6f", "example.com", NULL},
		{"example.com", "u@x.y", "<0100018f2c3d4e5f-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d-000000@email.amazonses.com>", "example.com", NULL},
		/* upper case in a message id matters: a hash */
		{"example.com", "u@x.y", "ABC", "example.com", NULL},
		/* 22 characters beside a hashed message id, 23 not */
		{"abcdefghij.abcdefghij.", "u@x.y", "ABC", "abcdefghij.abcdefghij.", NULL},
		{"abcdefghij.abcdefghijk", "u@x.y", "ABC", "abcdefghij.abcdefghijk", NULL},
		{"abcdefghij.abcdefghijkl", "u@x.y", "ABC", NULL, NULL},
		/* the identity yields to a message id only when it must */
		{"abcdefghij.abcdefghijkl", "u@x.y", "7", "abcdefghij.abcdefghijkl", "7"},
		/* not a dot-string or not our alphabet: hashes */
		{"example.com.", "u@x.y", "", NULL, ""},
		{"a..b", "u@x.y", "", NULL, ""},
		{"b\xc3\xbc" "cher.example", "u@x.y", "", NULL, ""},
		{"acct_42", "u@x.y", "", NULL, ""},
		{"a=b", "u@x.y", "", NULL, ""},
		{"example.com", "u@x.y", "a..b", "example.com", NULL},
		{"example.com", "u@x.y", "a_b", "example.com", NULL},
		/* very long everything */
		{long_domain, long_address, long_msgid, NULL, NULL},
		{long_domain, long_address, "", NULL, ""},
		{"example.com", long_address, long_msgid, "example.com", NULL},
		{" example.com\t", " <u@x.y> ", " <42> ", "example.com", "42"},
	};
	/* clang-format on */
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct classify_verp in, out;
		struct rb_error err;
		char addr[CLASSIFY_VERP_ADDRESS_SIZE], copy[sizeof(addr)];
		char h[CLASSIFY_VERP_HASH_LEN + 1];
		size_t n;

		fields_set(&in, cases[i].id, cases[i].rcpt, cases[i].msgid);
		test_assert_idx(
		    classify_verp_encode(&in, secret, SECRET_LEN,
		        "fb.example.org", addr, sizeof(addr), &err) == 0,
		    i);
		n = local_len(addr);
		test_assert_idx(n >= 34 && n <= CLASSIFY_VERP_LOCAL_MAX, i);
		test_assert_idx(local_ok(addr), i);
		test_assert_idx(strncmp(addr, "b+", 2) == 0, i);
		test_assert_idx(strcmp(addr + n, "@fb.example.org") == 0, i);

		memset(&out, 'x', sizeof(out));
		test_assert_idx(classify_verp_decode(
		                    addr, secret, SECRET_LEN, &out, &err) == 0,
		    i);
		test_assert_idx(out.trusted == 1, i);
		test_assert_idx(out.sent == SENT_DAY, i);
		test_assert_idx(
		    strcmp(out.identity,
		        cases[i].want_id ? cases[i].want_id : "") == 0,
		    i);
		classify_verp_hash_identity(cases[i].id, h);
		test_assert_idx(strcmp(out.identity_hash, h) == 0, i);
		test_assert_idx(
		    strlen(out.identity_hash) == CLASSIFY_VERP_HASH_LEN, i);
		test_assert_idx(out.recipient[0] == '\0', i);
		test_assert_idx(
		    strlen(out.recipient_hash) == CLASSIFY_VERP_HASH_LEN, i);
		test_assert_idx(
		    strcmp(out.message_id,
		        cases[i].want_msgid ? cases[i].want_msgid : "") == 0,
		    i);
		if (cases[i].msgid[0] == '\0')
			test_assert_idx(out.message_id_hash[0] == '\0', i);
		else {
			classify_verp_hash_message_id(cases[i].msgid, h);
			test_assert_idx(strcmp(out.message_id_hash, h) == 0, i);
			test_assert_idx(
			    strlen(h) == CLASSIFY_VERP_MSGID_HASH_LEN, i);
			test_assert_idx(classify_verp_match_message_id(
			                    &out, cases[i].msgid),
			    i);
			test_assert_idx(
			    !classify_verp_match_message_id(&out, "other@id"),
			    i);
		}

		/* The identity, given back or matched through the hash. */
		test_assert_idx(
		    classify_verp_match_identity(&out, cases[i].id), i);
		test_assert_idx(
		    !classify_verp_match_identity(&out, "other.example"), i);

		/* The recipient of the bounce, any case, "<>". */
		test_assert_idx(
		    classify_verp_match_recipient(&out, cases[i].rcpt), i);
		if (in.recipient[0] != ' ')
			(void)snprintf(
			    copy, sizeof(copy), "<%s>", in.recipient);
		else
			(void)snprintf(copy, sizeof(copy), "%s", in.recipient);
		change_case(copy, strlen(copy), 1);
		test_assert_idx(classify_verp_match_recipient(&out, copy), i);
		test_assert_idx(!classify_verp_match_recipient(
		                    &out, "someone.else@example.net"),
		    i);
		test_assert_idx(!classify_verp_match_recipient(&out, ""), i);
		/* Before encoding, the fields match by their text. */
		test_assert_idx(classify_verp_match_recipient(&in, copy), i);
		test_assert_idx(!classify_verp_match_recipient(&in, "x@y"), i);

		/* An MTA lower-cased or upper-cased the local part. */
		memcpy(copy, addr, sizeof(addr));
		change_case(copy, n, 1);
		test_assert_idx(classify_verp_decode(
		                    copy, secret, SECRET_LEN, &out, &err) == 0,
		    i);
		change_case(copy, n, 0);
		test_assert_idx(classify_verp_decode(
		                    copy, secret, SECRET_LEN, &out, &err) == 0,
		    i);
		change_case(copy, strlen(copy), 1); /* and the domain */
		test_assert_idx(classify_verp_decode(
		                    copy, secret, SECRET_LEN, &out, &err) == 0,
		    i);
		test_assert_idx(out.trusted == 1, i);
		/* As written in an SMTP command or a header. */
		(void)snprintf(copy, sizeof(copy), " <%s>\r\n", addr);
		test_assert_idx(classify_verp_decode(
		                    copy, secret, SECRET_LEN, &out, &err) == 0,
		    i);
		/* Another prefix. */
		(void)snprintf(copy, sizeof(copy), "bounces%s", addr + 1);
		test_assert_idx(classify_verp_decode(
		                    copy, secret, SECRET_LEN, &out, &err) == 0,
		    i);

		/* Deterministic. */
		test_assert_idx(
		    classify_verp_encode(&in, secret, SECRET_LEN,
		        "fb.example.org", copy, sizeof(copy), &err) == 0,
		    i);
		test_assert_idx(strcmp(copy, addr) == 0, i);
	}
}

static void
test_forged(void)
{
	static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
	struct classify_verp in, out;
	struct rb_error err;
	char addr[CLASSIFY_VERP_ADDRESS_SIZE], copy[sizeof(addr)];
	size_t i, n;
	int r;

	fields_set(&in, "example.com", "user@example.net", "42");
	test_assert(classify_verp_encode(&in, secret, SECRET_LEN,
	                "fb.example.org", addr, sizeof(addr), &err) == 0);
	n = local_len(addr);

	/* Another secret: well-formed, not trusted, fields as claimed. */
	memset(&out, 0, sizeof(out));
	out.trusted = 1;
	r = classify_verp_decode(addr, "another secret", 14, &out, &err);
	test_assert(r == CLASSIFY_VERP_FORGED);
	test_assert(out.trusted == 0);
	test_assert_streq(out.identity, "example.com");
	test_assert_streq(out.message_id, "42");
	test_assert(classify_verp_match_recipient(&out, "user@example.net"));
	test_assert(strstr(err.msg, "signature") != NULL);
	/* A secret that is a prefix of the right one. */
	test_assert(classify_verp_decode(addr, secret, SECRET_LEN - 1, &out,
	                &err) == CLASSIFY_VERP_FORGED);

	/* Every character of the token changed: never trusted.  In the
	 * base32 fields (day, signature, recipient) always "forged". */
	for (i = 2; i < n; i++) {
		memcpy(copy, addr, sizeof(addr));
		copy[i] = copy[i] == 'q' ? '7' : 'q';
		r = classify_verp_decode(copy, secret, SECRET_LEN, &out, &err);
		test_assert_idx(r != 0, i);
		if (i >= 3 && i < 2 + 31)
			test_assert_idx(r == CLASSIFY_VERP_FORGED, i);
		/* ... and every other base32 value in the fixed fields. */
		if (i >= 3 && i < 2 + 31) {
			size_t k;

			for (k = 0; k < 32; k++) {
				if (b32[k] == addr[i])
					continue;
				copy[i] = b32[k];
				test_assert_idx(
				    classify_verp_decode(copy, secret,
				        SECRET_LEN, &out,
				        &err) == CLASSIFY_VERP_FORGED,
				    i * 100 + k);
			}
		}
	}
	/* A swapped identity or message id keeps the form, not the trust. */
	memcpy(copy, addr, sizeof(addr));
	copy[2 + 31] = 'f';
	test_assert(classify_verp_decode(copy, secret, SECRET_LEN, &out,
	                &err) == CLASSIFY_VERP_FORGED);
	test_assert_streq(out.identity, "fxample.com");
	memcpy(copy, addr, sizeof(addr));
	copy[n - 1] = '3';
	test_assert(classify_verp_decode(copy, secret, SECRET_LEN, &out,
	                &err) == CLASSIFY_VERP_FORGED);
	test_assert_streq(out.message_id, "43");
}

static void
test_truncated(void)
{
	struct classify_verp in, out;
	struct rb_error err;
	char addr[CLASSIFY_VERP_ADDRESS_SIZE], copy[sizeof(addr)];
	size_t cut, n;
	int r;

	fields_set(&in, "example.com", "user@example.net", "");
	test_assert(classify_verp_encode(&in, secret, SECRET_LEN,
	                "fb.example.org", addr, sizeof(addr), &err) == 0);
	n = local_len(addr);
	/* Cut anywhere in the fixed part: malformed, fields untouched. */
	for (cut = 2; cut <= 2 + 31; cut++) {
		memcpy(copy, addr, cut);
		(void)snprintf(copy + cut, sizeof(copy) - cut, "%s", addr + n);
		memset(&out, 'x', sizeof(out));
		r = classify_verp_decode(copy, secret, SECRET_LEN, &out, &err);
		test_assert_idx(r == -1, cut);
		test_assert_idx(
		    out.identity[0] == 'x' && out.trusted != 0, cut);
		test_assert_idx(strstr(err.msg, "truncated") != NULL ||
		                    strstr(err.msg, "not a VERP") != NULL,
		    cut);
	}
	/* Cut inside the identity: a different token, not trusted. */
	for (cut = 2 + 32; cut < n; cut++) {
		memcpy(copy, addr, cut);
		(void)snprintf(copy + cut, sizeof(copy) - cut, "%s", addr + n);
		r = classify_verp_decode(copy, secret, SECRET_LEN, &out, &err);
		test_assert_idx(r == CLASSIFY_VERP_FORGED, cut);
	}
	/* The message id cut off with its separator, or only its text. */
	fields_set(&in, "example.com", "user@example.net", "12345");
	test_assert(classify_verp_encode(&in, secret, SECRET_LEN,
	                "fb.example.org", addr, sizeof(addr), &err) == 0);
	n = local_len(addr);
	memcpy(copy, addr, n - 6);
	(void)snprintf(copy + n - 6, sizeof(copy) - (n - 6), "%s", addr + n);
	test_assert(
	    classify_verp_decode(copy, secret, SECRET_LEN, &out, &err) == -1);
	memcpy(copy, addr, n - 5);
	(void)snprintf(copy + n - 5, sizeof(copy) - (n - 5), "%s", addr + n);
	test_assert(
	    classify_verp_decode(copy, secret, SECRET_LEN, &out, &err) == -1);
}

static void
test_not_verp(void)
{
	/* clang-format off */
	static const char *const cases[] = {
		"",
		"@",
		"user@example.com",
		"user+tag@example.com",
		"b+@fb.example.org",
		"+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@fb.example.org",
		"b+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"b+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaexample.com@",
		"b+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@fb.example.org",
		/* unknown version (kind 'z') */
		"b+zaaaaaaaaaaaaaaaaaaaaaaaaaaaaaexample.com@fb.example.org",
		/* message id hash flag without a message id */
		"b+baaaaaaaaaaaaaaaaaaaaaaaaaaaaaexample.com@fb.example.org",
		/* message id flag without a separator, and the reverse */
		"b+caaaaaaaaaaaaaaaaaaaaaaaaaaaaaexample.com@fb.example.org",
		"b+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaexample.com_42@fb.example.org",
		/* not base32 in the fixed part (0, 1, 8, 9 are not) */
		"b+aaaa0aaaaaaaaaaaaaaaaaaaaaaaaaexample.com@fb.example.org",
		"b+aaaaaaaaaaaaaaaaaaaaaaaaaaaa1aexample.com@fb.example.org",
		/* identity hash of the wrong length or alphabet */
		"b+eaaaaaaaaaaaaaaaaaaaaaaaaaaaaaexample.com@fb.example.org",
		"b+eaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@fb.example.org",
		/* characters no encoder writes */
		"b+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaexa_mple@fb.example.org",
		"b+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaexa!mple@fb.example.org",
		"b+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaexam\xc3\xa9@fb.example.org",
		"b+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa+b@fb.example.org",
		/* too long for a local part */
		"b+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x",
	};
	/* clang-format on */
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct classify_verp out;
		struct rb_error err;

		memset(&out, 'x', sizeof(out));
		err.msg[0] = '\0';
		test_assert_idx(classify_verp_decode(cases[i], secret,
		                    SECRET_LEN, &out, &err) == -1,
		    i);
		test_assert_idx(out.identity[0] == 'x', i); /* untouched */
		test_assert_idx(err.msg[0] != '\0', i);
		test_assert_idx(classify_verp_decode(cases[i], secret,
		                    SECRET_LEN, &out, NULL) == -1,
		    i);
	}
	{
		struct classify_verp out;

		test_assert(classify_verp_decode(
		                NULL, secret, SECRET_LEN, &out, NULL) == -1);
	}
}

static void
test_encode_errors(void)
{
	struct classify_verp in;
	struct rb_error err;
	char addr[CLASSIFY_VERP_ADDRESS_SIZE];

	fields_set(&in, "", "u@x.y", "");
	test_assert(classify_verp_encode(&in, secret, SECRET_LEN, "fb.x", addr,
	                sizeof(addr), &err) == -1);
	test_assert(strstr(err.msg, "identity") != NULL);
	fields_set(&in, "x.y", " <> ", "");
	test_assert(classify_verp_encode(&in, secret, SECRET_LEN, "fb.x", addr,
	                sizeof(addr), &err) == -1);
	test_assert(strstr(err.msg, "recipient") != NULL);
	fields_set(&in, "x.y", "u@x.y", "");
	test_assert(classify_verp_encode(&in, secret, SECRET_LEN, "", addr,
	                sizeof(addr), &err) == -1);
	test_assert(classify_verp_encode(&in, secret, SECRET_LEN, NULL, addr,
	                sizeof(addr), &err) == -1);
	test_assert(classify_verp_encode(&in, secret, SECRET_LEN, "fb..example",
	                addr, sizeof(addr), &err) == -1);
	test_assert(classify_verp_encode(&in, secret, SECRET_LEN, "fb example",
	                addr, sizeof(addr), &err) == -1);
	test_assert(classify_verp_encode(&in, secret, SECRET_LEN, long_domain,
	                addr, sizeof(addr), &err) == 0);
	test_assert(classify_verp_encode(
	                &in, secret, SECRET_LEN, "fb.x", addr, 20, &err) == -1);
	test_assert(addr[0] == '\0');
	test_assert(strstr(err.msg, "too small") != NULL);
	in.sent = -1;
	test_assert(classify_verp_encode(&in, secret, SECRET_LEN, "fb.x", addr,
	                sizeof(addr), &err) == -1);
	in.sent = 0;
	test_assert(classify_verp_encode(&in, secret, SECRET_LEN, "fb.x", addr,
	                sizeof(addr), NULL) == 0);
	memset(in.identity, 'a', sizeof(in.identity)); /* no NUL */
	test_assert(classify_verp_encode(&in, secret, SECRET_LEN, "fb.x", addr,
	                sizeof(addr), &err) == -1);
}

/* The format is a contract with every return path already sent: this
 * answer must not change (checked against an independent Python
 * implementation of the layout in verp.c). */
#define KNOWN_ANSWER                                                           \
	"b+catmebtp7cwt56lzqyt7aved75iekn2example.com_42@fb.example.org"

static void
test_known_answer(void)
{
	struct classify_verp in, out;
	struct rb_error err;
	char addr[CLASSIFY_VERP_ADDRESS_SIZE];

	fields_set(&in, "example.com", "user@example.net", "42");
	test_assert(classify_verp_encode(&in, "secret", 6, "fb.example.org",
	                addr, sizeof(addr), &err) == 0);
	test_assert_streq(addr, KNOWN_ANSWER);
	test_assert(
	    classify_verp_decode(KNOWN_ANSWER, "secret", 6, &out, &err) == 0);
}

int
main(void)
{
	make_long();
	test_round_trip();
	test_forged();
	test_truncated();
	test_not_verp();
	test_encode_errors();
	test_known_answer();
	return test_exit();
}
