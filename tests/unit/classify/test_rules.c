/*
 * classify/rules.c: the literal every match of a pattern must contain
 * (the prefilter that skips a pattern on texts without it), and the rule
 * conditions rcpt=, mta=, cmd= and the reason mask.  A prefilter that
 * skipped a text the pattern matches would lose verdicts silently, so
 * each literal case is also checked against PCRE2 itself.
 */
#include <stdlib.h>
#include <unistd.h>

#include "classify/rules.c"
#include "test.h"

static void
test_required_literal(void)
{
	/* clang-format off */
	static const struct {
		const char *pattern;
		const char *want; /* NULL: no literal; "|" between several */
	} cases[] = {
		{"\\bover ?quota\\b", "quota"},
		{"\\bmailbox full\\b", "mailbox full"},
		{"\\b(?:user|mailbox)\\b.{0,40}\\bunknown\\b", "unknown"},
		{"\\bdoesn't have an? \\S+ account\\b", "doesn't have a"},
		{"xx+yzw", "yzw"},
		{"ab*cdef", "cdef"},
		{"\\(state 1[578]\\)", "(state 1"},
		{"\\bresolver\\.adr\\.recip(?:ient)?notfound\\b", "resolver.adr.recip"},
		{"^x-unix;", "x-unix;"},
		{"\\bIP=\\d{1,3}(?:\\.\\d{1,3}){3}\\b", "ip="},
		/* One literal per top-level alternative ("|" joins them
		 * here), none when an alternative has none. */
		{"user unknown|no such user", "user unknown|no such user"},
		{"\\bfoo bar\\b|(?:x|y)bazz\\b", "foo bar|bazz"},
		{"mailbox full|ab", NULL},
		/* No run of its own: the first mandatory group's list. */
		{"\\b(?:no such user|unknown user)\\b", "no such user|unknown user"},
		{"\\b(?:ab|cd) (?:valid )?(?:ptr|reverse[- ]?dns)\\b", "ptr|reverse"},
		{"(?:optional)?\\b(?:x|y)z", NULL},
		{"(?!never)(?:a|bcd)", NULL},
		{"\\(state 1[578]\\)|x\\|yz", "(state 1|x|yz"},
		{"(?:OFR|LPN)\\d*_?506", "506"},
		{"[abc]def", "def"},
		{"(?:a[)]b)cdef", "cdef"},
		{"ab", NULL},
		{"", NULL},
		{"a{2,3}bcd", "bcd"},
		{"caf\xc3\xa9 noir", " noir"},
		{"\\Qa.b\\E", NULL},
	};
	/* clang-format on */
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = required_literal(cases[i].pattern, false);
		char joined[256] = "";
		const char *l;

		for (l = got; l != NULL && *l != '\0'; l += strlen(l) + 1) {
			if (joined[0] != '\0')
				(void)snprintf(joined + strlen(joined),
				    sizeof(joined) - strlen(joined), "|");
			(void)snprintf(joined + strlen(joined),
			    sizeof(joined) - strlen(joined), "%s", l);
		}
		if (cases[i].want == NULL)
			test_assert_idx(got == NULL, i);
		else
			test_assert_idx(
			    got != NULL && strcmp(joined, cases[i].want) == 0,
			    i);
		free(got);
	}
	test_assert(required_literal("mailbox full", true) == NULL);
}

static char dir[] = "/tmp/test_rules_XXXXXX";

static struct classify_rules *
load(const char *text)
{
	char path[256];
	FILE *fp;
	struct classify_rules *rules = NULL;
	struct rb_error err;
	const char *dirs[1];

	(void)snprintf(path, sizeof(path), "%s/10-test.rules", dir);
	fp = fopen(path, "w");
	test_assert(fp != NULL);
	if (fp == NULL)
		return NULL;
	fputs(text, fp);
	fclose(fp);
	dirs[0] = dir;
	if (classify_rules_load(dirs, 1, &rules, &err) < 0) {
		fprintf(stderr, "load: %s\n", err.msg);
		return NULL;
	}
	unlink(path);
	return rules;
}

static const char *
reason_of(const struct classify_rules *rules, const char *text,
    const struct rule_subject *subj)
{
	struct classify_arena *a = arena_new();
	struct rule_match m;
	const char *r = "-";

	if (rules_match(
	        rules, a, RULES_DIAGNOSTIC, text, strlen(text), subj, &m))
		r = classify_reason_name(m.reason);
	arena_free(&a);
	return r;
}

static void
test_conditions(void)
{
	struct classify_rules *rules =
	    load("filtered rcpt=example.net,Example.ORG /\\brefused\\b/\n"
	         "blocked mta=filter.example.com /\\brefused\\b/\n"
	         "rejected cmd=MAIL /\\brefused\\b/\n"
	         "mailboxfull /\\bOver Quota\\b/\n"
	         "systemerror /\\brefused\\b/\n");
	struct rule_subject s;

	test_assert(rules != NULL);
	if (rules == NULL)
		return;
	memset(&s, 0, sizeof(s));
	/* The prefilter lower-cases both sides: case still does not matter. */
	test_assert_streq(
	    reason_of(rules, "550 OVER QUOTA", &s), "mailboxfull");
	test_assert_streq(reason_of(rules, "550 over  quota", &s), "-");
	/* rcpt= lists, subdomains, any case. */
	s.rcpt = "a@mx.EXAMPLE.net";
	test_assert_streq(reason_of(rules, "550 refused", &s), "filtered");
	s.rcpt = "a@example.org";
	test_assert_streq(reason_of(rules, "550 refused", &s), "filtered");
	s.rcpt = "a@badexample.org";
	test_assert_streq(reason_of(rules, "550 refused", &s), "systemerror");
	/* mta=: any of the named servers. */
	s.hosts = "mx1.example.jp in2.filter.example.com";
	test_assert_streq(reason_of(rules, "550 refused", &s), "blocked");
	s.hosts = "filter.example.com.evil.example";
	test_assert_streq(reason_of(rules, "550 refused", &s), "systemerror");
	/* cmd=: only at that stage. */
	s.hosts = NULL;
	s.command = "MAIL";
	test_assert_streq(reason_of(rules, "550 refused", &s), "rejected");
	s.command = "RCPT";
	test_assert_streq(reason_of(rules, "550 refused", &s), "systemerror");
	/* The reason mask keeps the rules of some reasons only. */
	s.reasons = 1ull << CLASSIFY_R_MAILBOXFULL;
	test_assert_streq(reason_of(rules, "550 refused", &s), "-");
	test_assert_streq(
	    reason_of(rules, "550 over quota", &s), "mailboxfull");
	/* A NUL in the text hides nothing after it. */
	{
		char t[] = "550 x\0 over quota";
		struct classify_arena *a = arena_new();
		struct rule_match m;

		s.reasons = 0;
		test_assert(rules_match(
		    rules, a, RULES_DIAGNOSTIC, t, sizeof(t) - 1, &s, &m));
		arena_free(&a);
	}
	classify_rules_free(&rules);
	/* Unknown stages and empty lists are refused at load. */
	test_assert(load("rejected cmd=QUIT /x/\n") == NULL);
	test_assert(load("rejected mta= /x/\n") == NULL);
}

int
main(void)
{
	test_required_literal();
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_conditions();
	rmdir(dir);
	return test_exit();
}
