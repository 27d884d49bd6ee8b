/*
 * classify/status.c: enhanced status codes (RFC 3463 / RFC 5248) to
 * reasons.  Firm codes decide alone; loose ones are a fallback behind the
 * diagnostic text; an unregistered detail falls back to its subject's
 * X.0 entry, loose; anything that is not a whole status code is refused.
 */
#include <string.h>

#include "classify/classify_int.h"
#include "test.h"

int
main(void)
{
	/* clang-format off */
	static const struct {
		const char *in;
		bool found;
		enum classify_reason reason;
		bool firm;
	} cases[] = {
		{"5.1.1", true, CLASSIFY_R_USERUNKNOWN, true},
		{"4.1.1", true, CLASSIFY_R_USERUNKNOWN, true},
		{"5.1.2", true, CLASSIFY_R_HOSTUNKNOWN, true},
		{"5.2.2", true, CLASSIFY_R_MAILBOXFULL, true},
		{"4.2.2", true, CLASSIFY_R_MAILBOXFULL, true},
		{"5.3.4", true, CLASSIFY_R_EMAILTOOLARGE, true},
		{"5.7.1", true, CLASSIFY_R_SECURITYERROR, false},
		{"4.4.7", true, CLASSIFY_R_EXPIRED, true},
		{"5.7.25", true, CLASSIFY_R_REQUIREPTR, true},
		{"5.0.0", true, CLASSIFY_R_UNDEFINED, false},
		{"5.1.10", true, CLASSIFY_R_USERUNKNOWN, false},
		{"2.0.0", true, CLASSIFY_R_DELIVERED, true},
		{"2.1.5", true, CLASSIFY_R_DELIVERED, true},
		/* Unregistered detail: the subject's X.0 meaning, loose. */
		{"5.7.999", true, CLASSIFY_R_SECURITYERROR, false},
		{"5.1.999", true, CLASSIFY_R_USERUNKNOWN, false},
		{"4.4.100", true, CLASSIFY_R_NETWORKERROR, false},
		/* A routing loop says all; "no answer from host" is also what
		 * Exchange Online answers a refused recipient: vague. */
		{"5.4.6", true, CLASSIFY_R_NETWORKERROR, true},
		{"5.4.1", true, CLASSIFY_R_EXPIRED, false},
		/* Not a status code, or not only one. */
		{"5.9.9", false, CLASSIFY_R_UNDEFINED, false},
		{"3.1.1", false, CLASSIFY_R_UNDEFINED, false},
		{"5.1.1 ", false, CLASSIFY_R_UNDEFINED, false},
		{" 5.1.1", false, CLASSIFY_R_UNDEFINED, false},
		{"5.1", false, CLASSIFY_R_UNDEFINED, false},
		{"5.1.1.1", false, CLASSIFY_R_UNDEFINED, false},
		{"550", false, CLASSIFY_R_UNDEFINED, false},
		{"garbage", false, CLASSIFY_R_UNDEFINED, false},
		{"", false, CLASSIFY_R_UNDEFINED, false},
	};
	/* clang-format on */
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct status_info info = {CLASSIFY_R_VACATION, true};
		bool found = status_lookup(cases[i].in, &info);

		test_assert_idx(found == cases[i].found, i);
		test_assert_idx(
		    status_valid(cases[i].in) ==
		        (cases[i].found || strcmp(cases[i].in, "5.9.9") == 0),
		    i);
		if (!cases[i].found) {
			/* Out-param untouched on failure. */
			test_assert_idx(
			    info.reason == CLASSIFY_R_VACATION && info.firm, i);
			continue;
		}
		test_assert_idx(info.reason == cases[i].reason, i);
		test_assert_idx(info.firm == cases[i].firm, i);
	}
	{
		struct status_info info;

		test_assert(status_lookup("5.4.1", &info) && info.vague);
		test_assert(status_lookup("5.7.1", &info) && info.vague);
		test_assert(status_lookup("5.3.0", &info) && info.vague);
		test_assert(status_lookup("5.2.1", &info) && !info.vague);
	}
	test_assert(!status_valid(NULL));
	{
		struct status_info info;

		test_assert(!status_lookup(NULL, &info));
	}
	return test_exit();
}
