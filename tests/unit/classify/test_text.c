/*
 * classify/text.c: the scanners run on diagnostic texts (enhanced status
 * codes, SMTP reply codes, IP literals), address extraction, whitespace
 * collapsing and the small case-insensitive helpers.  The functions are
 * private to classify/ (classify_int.h); tests may include it.
 */
#include <string.h>

#include "classify/classify_int.h"
#include "test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
test_find_status(void)
{
	/* clang-format off */
	static const struct {
		const char *in;
		const char *want; /* NULL: none found */
	} cases[] = {
		{"smtp; 550 5.1.1 <a@b>", "5.1.1"},
		{"version 10.5.1.2", NULL},
		{"4.7.650", "4.7.650"},
		{"Status: 4.4.7", "4.4.7"},
		{"550-5.2.2 mailbox full", "5.2.2"},
		{"#5.7.1 not authorized", "5.7.1"},
		{"(2.0.0) ok", "2.0.0"},
		{"failed: 5.1.10.", "5.1.10"},  /* sentence end */
		{"5.1.1.2", NULL},  /* longer dotted number */
		{"3.1.1 is not a class", NULL},  /* class 3 does not exist */
		{"15.1.1", NULL},  /* part of a larger number */
		{"5.1234.1", NULL},  /* subject over 3 digits */
		{"5.1.1234", NULL},  /* detail over 3 digits */
		{"5..1", NULL},
		{"5.1.", NULL},
		{"550 user unknown", NULL},
		{"", NULL},
		{"x 5.0.0 then 4.2.2", "5.0.0"},  /* the first one */
	};
	/* clang-format on */
	size_t i;

	for (i = 0; i < N(cases); i++) {
		char out[16] = "";
		bool found =
		    text_find_status(cases[i].in, strlen(cases[i].in), out);

		test_assert_idx(found == (cases[i].want != NULL), i);
		if (found && cases[i].want != NULL)
			test_assert_idx(strcmp(out, cases[i].want) == 0, i);
	}
	/* Only len bytes are looked at; no NUL needed. */
	{
		char out[16];

		test_assert(!text_find_status("5.1.1", 3, out));
		test_assert(text_find_status("5.1.1xyz", 5, out));
		test_assert_streq(out, "5.1.1");
	}
}

static void
test_find_reply_code(void)
{
	/* clang-format off */
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
		{"smtp; 550 5.1.1 <a@b>", "550"},
		{"smtp;550 user unknown", "550"},
		{"X-Postfix; 451 4.3.0 try again", "451"},
		{"550-5.7.1 first line", "550"},
		{"421 too busy", "421"},
		{"250", "250"},
		{"\"552 quota exceeded\"", "552"},
		{"(554) rejected", "554"},
		{"5.1.1 user unknown", NULL},  /* a status, not a reply */
		{"550.5.1.1", NULL},
		{"2000 items", NULL},
		{"999 odd", NULL},
		{"354 go ahead", NULL},  /* not a 2/4/5 class */
		{"user unknown 550", NULL},  /* must start the text */
		{"", NULL},
	};
	/* clang-format on */
	size_t i;

	for (i = 0; i < N(cases); i++) {
		char out[4] = "";
		bool found =
		    text_find_reply_code(cases[i].in, strlen(cases[i].in), out);

		test_assert_idx(found == (cases[i].want != NULL), i);
		if (found && cases[i].want != NULL)
			test_assert_idx(strcmp(out, cases[i].want) == 0, i);
	}
}

static void
test_address(struct classify_arena *a)
{
	/* clang-format off */
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
		{"Name <a@b>", "a@b"},
		{"\"Doe, Jane\" <jane@example.com>", "jane@example.com"},
		{"< jane@example.com >", "jane@example.com"},
		{"<>, then <x@example.org>", "x@example.org"},
		{"rfc822; a@b", "a@b"},
		{"rfc822;user@example.net", "user@example.net"},
		{"a@b.", "a@b"},
		{"mail to bob@example.com.", "bob@example.com"},
		{"a@b.example.com", "a@b.example.com"},
		{"user+tag@sub.example.org (x)", "user+tag@sub.example.org"},
		{"no address here", NULL},
		{"", NULL},
		{"@example.com", NULL},
		{"user@", NULL},
		{"<>", NULL},
		/* Sendmail transcripts: the innermost bracket is the address. */
		{"<<< 550 <kim@example.org>... User unknown", "kim@example.org"},
		{"<< 550 <a@b>", "a@b"},
		/* Exchange's link form: the address, not the scheme. */
		{"ann@example.org<mailto:ann@example.org>", "ann@example.org"},
		{"<MAILTO:ann@example.org>", "ann@example.org"},
	};
	/* clang-format on */
	size_t i;

	for (i = 0; i < N(cases); i++) {
		const char *got = text_address(a, cases[i].in);

		if (cases[i].want == NULL)
			test_assert_idx(got == NULL, i);
		else
			test_assert_idx(
			    got != NULL && strcmp(got, cases[i].want) == 0, i);
	}
	test_assert(text_address(a, NULL) == NULL);
}

static void
test_domain(struct classify_arena *a)
{
	test_assert_streq(text_domain(a, "User@Example.COM"), "example.com");
	test_assert_streq(text_domain(a, "a@b@c.example"), "c.example");
	test_assert(text_domain(a, "nodomain") == NULL);
	test_assert(text_domain(a, "user@") == NULL);
	test_assert(text_domain(a, NULL) == NULL);
}

static void
test_find_ip(struct classify_arena *a)
{
	/* clang-format off */
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
		{"mx.example.net [192.0.2.1]", "192.0.2.1"},
		{"host 198.51.100.7 said:", "198.51.100.7"},
		{"(203.0.113.25)", "203.0.113.25"},
		{"[IPv6:2001:db8::1]", "2001:db8::1"},
		{"remote [2001:db8:0:1::25] refused", "2001:db8:0:1::25"},
		{"version 1.2.3.4.5", NULL},  /* too many parts */
		{"1234.1.1.1", NULL},  /* an octet of 4 digits */
		{"5.1.1 user unknown", NULL},  /* a status code */
		{"[not:an:ip!]", NULL},
		{"[example]", NULL},
		{"no address", NULL},
		{"", NULL},
	};
	/* clang-format on */
	size_t i;

	for (i = 0; i < N(cases); i++) {
		const char *got = text_find_ip(a, cases[i].in);

		if (cases[i].want == NULL)
			test_assert_idx(got == NULL, i);
		else
			test_assert_idx(
			    got != NULL && strcmp(got, cases[i].want) == 0, i);
	}
	test_assert(text_find_ip(a, NULL) == NULL);
}

static void
test_collapse(struct classify_arena *a)
{
	/* clang-format off */
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
		{"  a \t b\n\nc  ", 12, "a b c"},
		{"550 5.1.1\r\n\tUser unknown", 24, "550 5.1.1 User unknown"},
		{"abc", 3, "abc"},
		{"", 0, ""},
		{" \t\r\n ", 5, ""},
		{"a\0b", 3, "a b"},  /* a NUL is a separator */
		{"abcdef", 3, "abc"},  /* only len bytes */
	};
	/* clang-format on */
	size_t i;

	for (i = 0; i < N(cases); i++) {
		char *got = text_collapse(a, cases[i].in, cases[i].len);

		test_assert_idx(
		    got != NULL && strcmp(got, cases[i].want) == 0, i);
	}
}

static void
test_case_helpers(struct classify_arena *a)
{
	static const char hay[] = "Diagnostic-Code: SMTP; 550 User Unknown";
	struct span s = {"Final-Recipient", 15};
	char *v;

	test_assert(text_ieq(s, "final-recipient"));
	test_assert(text_ieq(s, "FINAL-RECIPIENT"));
	test_assert(!text_ieq(s, "final-recipien"));
	test_assert(!text_ieq(s, "final-recipients"));
	test_assert(text_istarts(hay, sizeof(hay) - 1, "diagnostic-code:"));
	test_assert(!text_istarts(hay, 5, "diagnostic"));
	test_assert(
	    text_icase_find(hay, sizeof(hay) - 1, "user unknown") == hay + 27);
	test_assert(text_icase_find(hay, sizeof(hay) - 1, "mailbox") == NULL);
	test_assert(text_icase_find(hay, 10, "unknown") == NULL);
	test_assert_streq(text_lower(a, "MiXeD 5.1.1"), "mixed 5.1.1");
	/* Invalid UTF-8 is repaired (JSON needs valid UTF-8). */
	v = text_valid_utf8(a, "ok \xff end", 8);
	test_assert(v != NULL && strstr(v, "\xef\xbf\xbd") != NULL);
	test_assert_streq(text_valid_utf8(a, "caf\xc3\xa9", 5), "caf\xc3\xa9");
}

static void
test_parse_date(void)
{
	/* 2024-06-03T10:00:00Z */
	test_assert(
	    text_parse_date("Mon, 03 Jun 2024 10:00:00 +0000") == 1717408800);
	test_assert(
	    text_parse_date("Mon, 03 Jun 2024 12:00:00 +0200") == 1717408800);
	test_assert(text_parse_date("") == 0);
	test_assert(text_parse_date(NULL) == 0);
	test_assert(text_parse_date("not a date") == 0);
}

static void
test_join_reply(struct classify_arena *a)
{
	/* clang-format off */
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
		{"550-5.7.1 Our system has detected that this 550-5.7.1 message "
		 "is likely unsolicited mail. 550 5.7.1 More at example",
		 "550-5.7.1 Our system has detected that this message is likely "
		 "unsolicited mail. More at example"},
		{"smtp; 552-5.2.2 The inbox is out of 552-5.2.2 storage 552 5.2.2 x",
		 "smtp; 552-5.2.2 The inbox is out of storage x"},
		{"550-Mailbox 550-unavailable", "550-Mailbox unavailable"},
		/* One-line replies and other codes are left alone. */
		{"550 5.1.1 User unknown", "550 5.1.1 User unknown"},
		{"451-4.7.1 try 550 later", "451-4.7.1 try 550 later"},
		{"no code at all", "no code at all"},
		{"", ""},
	};
	/* clang-format on */
	size_t i;

	for (i = 0; i < N(cases); i++)
		test_assert_idx(
		    strcmp(text_join_reply(a, cases[i].in), cases[i].want) == 0,
		    i);
}

int
main(void)
{
	struct classify_arena *a;

	classify_global_init();
	a = arena_new();
	test_find_status();
	test_find_reply_code();
	test_address(a);
	test_domain(a);
	test_find_ip(a);
	test_collapse(a);
	test_join_reply(a);
	test_case_helpers(a);
	test_parse_date();
	arena_free(&a);
	test_assert(a == NULL);
	arena_free(&a); /* NULL is accepted */
	classify_global_shutdown();
	return test_exit();
}
