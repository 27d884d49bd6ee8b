/*
 * fuzz_text: libFuzzer target for classify's string helpers (text.c) and
 * the status-code table (status.c): the pieces that pick addresses, status
 * and reply codes and IPs out of hostile diagnostic text.
 *
 * Input: any bytes, used as a span and (copied, NUL-terminated) as a C
 * string.  Invariants, abort() on violation:
 *   - text_valid_utf8() gives valid UTF-8; text_collapse() leaves no
 *     CR, LF, tab or double space; text_lower() no upper-case ASCII;
 *   - a found address holds '@', its domain none;
 *   - a found status is "[245].x.y" under 16 bytes, a reply code three
 *     digits starting 2, 4 or 5, a found IP non-empty; all three are
 *     substrings of the input; text_icase_find() stays inside it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "classify/classify_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_text: invariant violated: %s\n", what);
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* text_parse_date() uses gmime's date parser. */
	classify_global_init();
	return 0;
}

/* memmem() is a GNU extension; inputs are small enough for this. */
static bool
is_sub(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; n <= len && i <= len - n; i++) {
		if (memcmp(hay + i, needle, n) == 0)
			return true;
	}
	return false;
}

static void
check_strings(struct classify_arena *a, const char *s, size_t len)
{
	const char *addr, *dom, *ip, *hit;
	char *o;
	size_t i;

	o = text_valid_utf8(a, s, len);
	if (o == NULL || !g_utf8_validate(o, -1, NULL))
		fuzz_fail("text_valid_utf8 output not valid UTF-8");
	o = text_collapse(a, s, len);
	if (o == NULL || strpbrk(o, "\r\n\t") != NULL ||
	    strstr(o, "  ") != NULL)
		fuzz_fail("text_collapse left whitespace runs");
	o = text_lower(a, s);
	for (i = 0; o[i] != '\0'; i++) {
		if (o[i] >= 'A' && o[i] <= 'Z')
			fuzz_fail("text_lower left upper case");
	}
	addr = text_address(a, s);
	if (addr != NULL && strchr(addr, '@') == NULL)
		fuzz_fail("text_address result without '@'");
	dom = text_domain(a, addr);
	if (dom != NULL && strchr(dom, '@') != NULL)
		fuzz_fail("text_domain result with '@'");
	ip = text_find_ip(a, s);
	if (ip != NULL && (ip[0] == '\0' || !is_sub(s, strlen(s), ip)))
		fuzz_fail("text_find_ip result empty or not in the input");
	hit = text_icase_find(s, strlen(s), "user unknown");
	if (hit != NULL && (hit < s || hit + 12 > s + strlen(s)))
		fuzz_fail("text_icase_find result outside the input");
	(void)text_parse_date(s);
	(void)text_istarts(s, len, "smtp;");
}

static void
check_codes(const char *s, size_t len)
{
	struct status_info info;
	char status[16], code[4];

	memset(status, 'X', sizeof(status));
	if (text_find_status(s, len, status)) {
		if (memchr(status, '\0', sizeof(status)) == NULL)
			fuzz_fail("status not NUL-terminated in 16 bytes");
		if ((status[0] != '2' && status[0] != '4' &&
		        status[0] != '5') ||
		    status[1] != '.')
			fuzz_fail("status does not start [245].");
		if (!is_sub(s, len, status))
			fuzz_fail("status not in the input");
		if (status_lookup(status, &info) &&
		    (unsigned)info.reason >= CLASSIFY_R_COUNT)
			fuzz_fail("status_lookup reason out of range");
		(void)status_valid(status);
	}
	memset(code, 'X', sizeof(code));
	if (text_find_reply_code(s, len, code)) {
		if (code[3] != '\0' || code[1] < '0' || code[1] > '9' ||
		    code[2] < '0' || code[2] > '9' ||
		    (code[0] != '2' && code[0] != '4' && code[0] != '5'))
			fuzz_fail("reply code not [245]DD");
		if (!is_sub(s, len, code))
			fuzz_fail("reply code not in the input");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct classify_arena *a = arena_new();
	char *s = xmalloc(size + 1);

	memcpy(s, data, size);
	s[size] = '\0';
	check_codes(s, size);
	check_strings(a, s, size);
	arena_free(&a);
	free(s);
	return 0;
}
