/*
 * Small text helpers for the classifier: case-insensitive comparisons,
 * whitespace collapsing, UTF-8 repair, address and domain extraction,
 * dates, and the scanners for enhanced status codes, reply codes and IP
 * literals inside diagnostic texts.  All results live in the arena.
 */
#include <string.h>

#include <gmime/gmime.h>

#include "classify_int.h"

static int
lc(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

bool
text_ieq(struct span s, const char *lit)
{
	size_t i;

	for (i = 0; i < s.len; i++) {
		if (lit[i] == '\0' ||
		    lc((unsigned char)s.p[i]) != lc((unsigned char)lit[i]))
			return false;
	}
	return lit[i] == '\0';
}

bool
text_istarts(const char *s, size_t len, const char *prefix)
{
	size_t i;

	for (i = 0; prefix[i] != '\0'; i++) {
		if (i >= len ||
		    lc((unsigned char)s[i]) != lc((unsigned char)prefix[i]))
			return false;
	}
	return true;
}

const char *
text_icase_find(const char *hay, size_t len, const char *needle)
{
	size_t nlen = strlen(needle), i;
	int first;

	if (nlen == 0)
		return hay;
	if (nlen > len)
		return NULL;
	first = lc((unsigned char)needle[0]);
	for (i = 0; i + nlen <= len; i++) {
		if (lc((unsigned char)hay[i]) == first &&
		    text_istarts(hay + i, len - i, needle))
			return hay + i;
	}
	return NULL;
}

bool
text_blank(const char *p, const char *e)
{
	for (; p < e; p++) {
		if (*p != ' ' && *p != '\t')
			return false;
	}
	return true;
}

char *
text_collapse(struct classify_arena *a, const char *s, size_t len)
{
	char *o = arena_alloc(a, len + 1);
	size_t i, j = 0;
	bool space = false;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '\0') {
			space = j > 0;
			continue;
		}
		if (space) {
			o[j++] = ' ';
			space = false;
		}
		o[j++] = c;
	}
	o[j] = '\0';
	return o;
}

/* Length of a reply prefix "550-", "550 ", "550-5.7.1 ", "550 5.7.1 " at
 * p with the given three digits, or 0. */
static size_t
reply_prefix(const char *p, const char code[3])
{
	size_t i = 4;

	/* Byte by byte: p may end (NUL) before three bytes. */
	if (p[0] != code[0] || p[1] != code[1] || p[2] != code[2] ||
	    (p[3] != '-' && p[3] != ' '))
		return 0;
	/* An enhanced status code after it belongs to the prefix. */
	if ((p[4] == '2' || p[4] == '4' || p[4] == '5') && p[5] == '.') {
		size_t j = 6, dots = 0;

		while (g_ascii_isdigit(p[j]) || (p[j] == '.' && ++dots == 1))
			j++;
		if (dots == 1 && g_ascii_isdigit(p[j - 1]) && p[j] == ' ')
			i = j + 1;
	}
	return i;
}

const char *
text_join_reply(struct classify_arena *a, const char *s)
{
	const char *p = s, *first = NULL;
	char code[3], *o;
	size_t j = 0;

	/* The first reply code standing as a word, with a dash: the
	 * reply runs over several lines. */
	for (; *p != '\0'; p++) {
		if ((p == s || p[-1] == ' ') && (*p == '4' || *p == '5') &&
		    g_ascii_isdigit(p[1]) && g_ascii_isdigit(p[2]) &&
		    p[3] == '-') {
			first = p;
			break;
		}
	}
	if (first == NULL)
		return s;
	memcpy(code, first, 3);
	o = arena_alloc(a, strlen(s) + 1);
	memcpy(o, s, (size_t)(first - s));
	j = (size_t)(first - s);
	/* Keep the first prefix (it carries the codes), drop the others. */
	p = first + reply_prefix(first, code);
	memcpy(o + j, first, (size_t)(p - first));
	j += (size_t)(p - first);
	while (*p != '\0') {
		size_t k;

		if ((p[-1] == ' ') && (k = reply_prefix(p, code)) > 0) {
			p += k;
			continue;
		}
		o[j++] = *p++;
	}
	o[j] = '\0';
	return o;
}

char *
text_lower(struct classify_arena *a, const char *s)
{
	size_t n = strlen(s), i;
	char *o = arena_alloc(a, n + 1);

	for (i = 0; i < n; i++)
		o[i] = (char)lc((unsigned char)s[i]);
	o[n] = '\0';
	return o;
}

char *
text_valid_utf8(struct classify_arena *a, const char *s, size_t len)
{
	char *fixed, *r;

	if (g_utf8_validate(s, (gssize)len, NULL) &&
	    memchr(s, '\0', len) == NULL)
		return arena_strndup(a, s, len);
	/* Invalid bytes become U+FFFD: mail is not always UTF-8, JSON is. */
	fixed = g_utf8_make_valid(s, (gssize)len);
	r = arena_strdup(a, fixed);
	g_free(fixed);
	return r;
}

static bool
addr_char(unsigned char c)
{
	return c > ' ' && c != '<' && c != '>' && c != '(' && c != ')' &&
	       c != ',' && c != ';' && c != '"' && c != '[' && c != ']' &&
	       c != ':' && c != '\'' && c != 127;
}

const char *
text_address(struct classify_arena *a, const char *s)
{
	const char *at, *st, *en, *lt;
	size_t len;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	/* Prefer the <...> form of "Name <a@b>". */
	lt = strchr(s, '<');
	while (lt != NULL) {
		const char *gt = strchr(lt, '>');

		if (gt == NULL)
			break;
		at = memchr(lt, '@', (size_t)(gt - lt));
		if (at != NULL) {
			/* The innermost '<': "<<< 550 <a@b>..." is <a@b>. */
			const char *in = at;

			while (in > lt && in[-1] != '<')
				in--;
			st = in;
			en = gt;
			while (st < en && (*st == ' '))
				st++;
			/* Exchange and Office 365 write the link form
			 * "a@b<mailto:a@b>": the address is after the
			 * scheme. */
			if ((size_t)(en - st) > 7 &&
			    g_ascii_strncasecmp(st, "mailto:", 7) == 0)
				st += 7;
			while (en > st && en[-1] == ' ')
				en--;
			if (en > st)
				return arena_strndup(a, st, (size_t)(en - st));
		}
		lt = strchr(gt, '<');
	}
	at = strchr(s, '@');
	if (at == NULL || at == s)
		return NULL;
	st = at;
	while (st > s && addr_char((unsigned char)st[-1]))
		st--;
	en = at + 1;
	while (en < s + len && addr_char((unsigned char)*en))
		en++;
	/* A trailing dot is sentence punctuation, not the domain. */
	while (en > at + 1 && en[-1] == '.')
		en--;
	if (st == at || en == at + 1)
		return NULL;
	return arena_strndup(a, st, (size_t)(en - st));
}

const char *
text_domain(struct classify_arena *a, const char *addr)
{
	const char *at;

	if (addr == NULL)
		return NULL;
	at = strrchr(addr, '@');
	if (at == NULL || at[1] == '\0')
		return NULL;
	return text_lower(a, at + 1);
}

time_t
text_parse_date(const char *s)
{
	GDateTime *dt;
	time_t t;

	if (s == NULL || *s == '\0')
		return 0;
	dt = g_mime_utils_header_decode_date(s);
	if (dt == NULL)
		return 0;
	t = (time_t)g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return t;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool
text_find_status(const char *s, size_t len, char out[16])
{
	size_t i;

	for (i = 0; i + 5 <= len; i++) {
		size_t j, k, m;

		if ((s[i] != '2' && s[i] != '4' && s[i] != '5') ||
		    s[i + 1] != '.')
			continue;
		/* Not part of a longer number or version ("10.5.1.2"). */
		if (i > 0 && (is_digit(s[i - 1]) || s[i - 1] == '.'))
			continue;
		j = i + 2;
		for (k = j; k < len && is_digit(s[k]) && k - j < 3; k++)
			;
		if (k == j || k >= len || s[k] != '.')
			continue;
		m = k + 1;
		for (k = m; k < len && is_digit(s[k]) && k - m < 3; k++)
			;
		if (k == m)
			continue;
		if (k < len && (is_digit(s[k]) || (s[k] == '.' && k + 1 < len &&
		                                      is_digit(s[k + 1]))))
			continue;
		if (k - i >= 16)
			continue;
		memcpy(out, s + i, k - i);
		out[k - i] = '\0';
		return true;
	}
	return false;
}

bool
text_find_reply_code(const char *s, size_t len, char out[4])
{
	size_t i = 0;

	/* Skip a "smtp;" / "X-Postfix;" type prefix and spaces. */
	{
		const char *semi = memchr(s, ';', len < 24 ? len : 24);

		if (semi != NULL)
			i = (size_t)(semi - s) + 1;
	}
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
	                      s[i] == '"' || s[i] == '<' || s[i] == '('))
		i++;
	if (i + 3 <= len && (s[i] == '2' || s[i] == '4' || s[i] == '5') &&
	    is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
	    (i + 3 == len || s[i + 3] == ' ' || s[i + 3] == '-' ||
	        s[i + 3] == '\n' || s[i + 3] == '.' || s[i + 3] == ')' ||
	        s[i + 3] == '"')) {
		if (s[i + 3] == '.' && i + 4 < len && is_digit(s[i + 4]))
			return false;
		memcpy(out, s + i, 3);
		out[3] = '\0';
		return true;
	}
	return false;
}

const char *
text_find_ip(struct classify_arena *a, const char *s)
{
	const char *p;

	if (s == NULL)
		return NULL;
	for (p = s; *p != '\0'; p++) {
		int parts = 0, digits = 0;
		const char *q = p;

		if (!is_digit(*p) ||
		    (p > s && (is_digit(p[-1]) || p[-1] == '.')))
			continue;
		for (; *q != '\0'; q++) {
			if (is_digit(*q)) {
				if (++digits > 3)
					break;
			} else if (*q == '.' && digits > 0 && parts < 3) {
				parts++;
				digits = 0;
			} else {
				break;
			}
		}
		if (parts == 3 && digits > 0 && digits <= 3 && !is_digit(*q) &&
		    *q != '.')
			return arena_strndup(a, p, (size_t)(q - p));
	}
	/* IPv6 in brackets: "[IPv6:2001:db8::1]" or "[2001:db8::1]". */
	p = strchr(s, '[');
	while (p != NULL) {
		const char *e = strchr(p, ']');
		const char *st = p + 1;

		if (e == NULL)
			break;
		if (text_istarts(st, (size_t)(e - st), "ipv6:"))
			st += 5;
		if (e - st >= 2 && memchr(st, ':', (size_t)(e - st)) != NULL) {
			const char *c;

			for (c = st; c < e; c++) {
				if (!g_ascii_isxdigit(*c) && *c != ':' &&
				    *c != '.')
					break;
			}
			if (c == e)
				return arena_strndup(a, st, (size_t)(e - st));
		}
		p = strchr(e, '[');
	}
	return NULL;
}

/*
 * The failure code of a diagnostic: the one the remote server put right
 * after its reply code ("550 5.2.2", "550-'5.2.2") when there is one, for
 * relays wrap the remote reply in text with codes of their own; else the
 * first 4.x.x or 5.x.x code (a transcript may show "250 2.1.5 Ok" first).
 */
bool
text_failure_status(const char *s, char out[16])
{
	size_t len = strlen(s), i;
	bool found = false;

	for (i = 0; i + 4 < len; i++) {
		size_t j;

		if ((s[i] != '4' && s[i] != '5') || s[i + 1] < '0' ||
		    s[i + 1] > '9' || s[i + 2] < '0' || s[i + 2] > '9' ||
		    (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9'))
			continue;
		j = i + 3;
		if (s[j] != ' ' && s[j] != '-')
			continue;
		j++;
		while (
		    j < len && j < i + 6 &&
		    (s[j] == '\'' || s[j] == '"' || s[j] == ' ' || s[j] == '('))
			j++;
		if (j < len && s[j] == s[i] &&
		    text_find_status(s + j, len - j < 16 ? len - j : 16, out) &&
		    strncmp(s + j, out, strlen(out)) == 0)
			return true;
	}
	while (!found && text_find_status(s, len, out)) {
		const char *at = strstr(s, out);

		if (out[0] != '2')
			return true;
		if (at == NULL)
			break;
		len -= (size_t)(at + strlen(out) - s);
		s = at + strlen(out);
	}
	return false;
}
