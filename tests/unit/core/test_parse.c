/*
 * core/parse.c: parse_u64 takes a whole unsigned decimal string or
 * nothing; *v_r is untouched on failure.
 */
#include <stdint.h>

#include "core/core.h"
#include "test.h"

int
main(void)
{
	/* clang-format off */
	static const struct {
		const char *in;
		int want;
		uint64_t value;
	} cases[] = {
		{"0", 0, 0},
		{"7", 0, 7},
		{"0042", 0, 42},
		{"4294967296", 0, 4294967296u},
		{"18446744073709551615", 0, UINT64_MAX},
		/* overflow */
		{"18446744073709551616", -1, 0},
		{"18446744073709551620", -1, 0},
		{"99999999999999999999", -1, 0},
		{"184467440737095516150", -1, 0},
		/* empty */
		{"", -1, 0},
		/* signs */
		{"-1", -1, 0},
		{"+1", -1, 0},
		{"-0", -1, 0},
		/* spaces and garbage */
		{" 1", -1, 0},
		{"1 ", -1, 0},
		{"1\n", -1, 0},
		{"12a", -1, 0},
		{"a12", -1, 0},
		{"0x10", -1, 0},
		{"1e3", -1, 0},
		{"1.5", -1, 0},
		{"1,000", -1, 0},
		{"\xd9\xa3", -1, 0},  /* ARABIC-INDIC DIGIT THREE */
	};
	/* clang-format on */
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;
		int r = parse_u64(cases[i].in, &v);

		test_assert_idx(r == cases[i].want, i);
		if (cases[i].want == 0)
			test_assert_idx(v == cases[i].value, i);
		else
			test_assert_idx(v == 12345, i); /* untouched */
	}
	{
		uint64_t v = 5;

		test_assert(parse_u64(NULL, &v) == -1 && v == 5);
	}
	return test_exit();
}
