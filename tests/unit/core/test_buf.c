/*
 * core/buf.c: the cap is enforced by every append (a failed append leaves
 * the buffer as it was), data stays NUL-terminated and may hold NULs,
 * buf_take hands the bytes over and empties the buffer, buf_printf
 * formats within the cap.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "test.h"

static void
test_append_cap(void)
{
	/* clang-format off */
	static const struct {
		size_t max;
		size_t first;  /* bytes appended first */
		size_t second; /* then these */
		int want_first;
		int want_second;
		size_t want_len;
	} cases[] = {
		{10, 5, 5, 0, 0, 10},  /* exactly the cap */
		{10, 5, 6, 0, -1, 5},  /* one past: refused, unchanged */
		{10, 11, 0, -1, 0, 0},  /* too big at once */
		{0, 0, 1, 0, -1, 0},  /* cap 0 holds nothing */
		{100, 64, 36, 0, 0, 100},  /* growth across the first block */
		{1000, 999, 2, 0, -1, 999},
	};
	/* clang-format on */
	unsigned char src[2048];
	size_t i;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)('a' + i % 26);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		int r1, r2;

		buf_init(&b, cases[i].max);
		r1 = buf_append(&b, src, cases[i].first);
		r2 = buf_append(&b, src, cases[i].second);
		test_assert_idx(r1 == cases[i].want_first, i);
		test_assert_idx(r2 == cases[i].want_second, i);
		test_assert_idx(b.len == cases[i].want_len, i);
		test_assert_idx(b.len <= b.max, i);
		if (b.data != NULL)
			test_assert_idx(b.data[b.len] == '\0', i);
		buf_free(&b);
		test_assert_idx(b.data == NULL && b.len == 0, i);
	}
}

static void
test_binary_and_putc(void)
{
	struct buf b;
	size_t i;

	buf_init(&b, 4);
	test_assert(buf_append(&b, "a\0b", 3) == 0);
	test_assert(b.len == 3 && memcmp(b.data, "a\0b", 3) == 0);
	test_assert(buf_putc(&b, 0x80 + 'x') == 0);
	test_assert(b.data[3] == (unsigned char)(0x80 + 'x'));
	test_assert(buf_putc(&b, 'y') == -1);
	test_assert(b.len == 4 && b.data[4] == '\0');
	buf_reset(&b);
	test_assert(b.len == 0 && b.data[0] == '\0');
	/* After a reset the whole cap is available again. */
	for (i = 0; i < 4; i++)
		test_assert_idx(buf_putc(&b, 'z') == 0, i);
	test_assert(buf_putc(&b, 'z') == -1);
	buf_free(&b);
	buf_free(&b); /* twice is harmless */
}

static void
test_take(void)
{
	struct buf b;
	unsigned char *p;
	size_t len = 99;

	/* An empty buffer still hands over a NUL-terminated allocation. */
	buf_init(&b, 16);
	p = buf_take(&b, &len);
	test_assert(p != NULL && p[0] == '\0' && len == 0);
	free(p);

	test_assert(buf_append(&b, "hello", 5) == 0);
	p = buf_take(&b, &len);
	test_assert(len == 5 && strcmp((char *)p, "hello") == 0);
	test_assert(b.data == NULL && b.len == 0 && b.cap == 0);
	test_assert(b.max == 16);
	free(p);

	/* The buffer is usable after a take; NULL len_r is allowed. */
	test_assert(buf_append(&b, "again", 5) == 0);
	p = buf_take(&b, NULL);
	test_assert(strcmp((char *)p, "again") == 0);
	free(p);
	buf_free(&b);
}

static void
test_printf(void)
{
	struct buf b;

	buf_init(&b, 16);
	test_assert(buf_printf(&b, "%s=%d", "n", 42) == 0);
	test_assert_streq((char *)b.data, "n=42");
	test_assert(buf_printf(&b, ";%03u", 7u) == 0);
	test_assert_streq((char *)b.data, "n=42;007");
	test_assert(b.len == 8);
	/* 8 + 8 = 16 fits exactly; one more byte does not. */
	test_assert(buf_printf(&b, "%8s", "x") == 0);
	test_assert(b.len == 16);
	test_assert(buf_printf(&b, "%s", "y") == -1);
	test_assert(b.len == 16 && b.data[16] == '\0');
	test_assert(buf_printf(&b, "%s", "") == 0);
	buf_reset(&b);
	/* A long result refused as a whole, nothing half-written. */
	test_assert(buf_printf(&b, "%s", "0123456789abcdefg") == -1);
	test_assert(b.len == 0 && b.data[0] == '\0');
	buf_free(&b);
}

int
main(void)
{
	test_append_cap();
	test_binary_and_putc();
	test_take();
	test_printf();
	return test_exit();
}
