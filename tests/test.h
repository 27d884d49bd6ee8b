/*
 * Minimal test helpers: table-driven checks that report the failing index
 * (Dovecot test_assert_idx).  A test program returns test_exit().
 */
#ifndef REBOUND_TEST_H
#define REBOUND_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define test_assert(cond)                                                      \
	do {                                                                   \
		test_checks++;                                                 \
		if (!(cond)) {                                                 \
			test_failures++;                                       \
			fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__,         \
			    __LINE__, #cond);                                  \
		}                                                              \
	} while (0)

#define test_assert_idx(cond, idx)                                             \
	do {                                                                   \
		test_checks++;                                                 \
		if (!(cond)) {                                                 \
			test_failures++;                                       \
			fprintf(stderr, "%s:%d: FAIL [%zu]: %s\n", __FILE__,   \
			    __LINE__, (size_t)(idx), #cond);                   \
		}                                                              \
	} while (0)

#define test_assert_streq(a, b)                                                \
	do {                                                                   \
		const char *ta_ = (a), *tb_ = (b);                             \
		test_checks++;                                                 \
		if (ta_ == NULL || tb_ == NULL || strcmp(ta_, tb_) != 0) {     \
			test_failures++;                                       \
			fprintf(stderr, "%s:%d: FAIL: \"%s\" != \"%s\"\n",     \
			    __FILE__, __LINE__, ta_ ? ta_ : "(null)",          \
			    tb_ ? tb_ : "(null)");                             \
		}                                                              \
	} while (0)

static inline int
test_exit(void)
{
	printf("%d checks, %d failed\n", test_checks, test_failures);
	return test_failures == 0 ? 0 : 1;
}

#endif
