/*
 * jw: a streaming JSON writer into a capped buffer (core buf).  The
 * responses are written straight as text: building jansson trees first
 * cost more than the query on the hot look-ups.  Whatever the bytes
 * given, the output is valid JSON in UTF-8 (RFC 8259): strings are
 * escaped, invalid UTF-8 becomes U+FFFD, non-finite numbers are null.
 * Commas and nesting are tracked here, so callers only say what comes
 * next.  Past the buffer's cap the writer stops and sets `failed`.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "http_int.h"

void
jw_init(struct jw *w, struct buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
	w->first[0] = 1;
}

static void
put(struct jw *w, const void *p, size_t n)
{
	struct buf *b = w->b;

	/* Room already there (the usual case): no call, no checks beyond
	 * this one; the cap holds since cap <= max + 1. */
	if (b->len + n < b->cap && !w->failed) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
		return;
	}
	if (!w->failed && buf_append(b, p, n) < 0)
		w->failed = 1;
}

static void
putc_(struct jw *w, char c)
{
	put(w, &c, 1);
}

/* Before a value: the comma of an array element or a top-level one. */
static void
sep(struct jw *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (!w->first[w->depth])
		putc_(w, ',');
	w->first[w->depth] = 0;
}

static void
open_(struct jw *w, char c)
{
	sep(w);
	putc_(w, c);
	rb_assert(w->depth + 1 < JW_MAX_DEPTH);
	w->first[++w->depth] = 1;
}

static void
close_(struct jw *w, char c)
{
	rb_assert(w->depth > 0 && !w->after_key);
	w->depth--;
	putc_(w, c);
}

void
jw_obj(struct jw *w)
{
	open_(w, '{');
}

void
jw_obj_end(struct jw *w)
{
	close_(w, '}');
}

void
jw_arr(struct jw *w)
{
	open_(w, '[');
}

void
jw_arr_end(struct jw *w)
{
	close_(w, ']');
}

/* Length of the valid UTF-8 sequence at p (RFC 3629), 0 if invalid. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates, beyond U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

void
jw_strn(struct jw *w, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	sep(w);
	putc_(w, '"');
	while (i < len) {
		unsigned char c = p[i];
		size_t n;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			run++;
			continue;
		}
		if (run > 0)
			put(w, p + i - run, run);
		run = 0;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};

			put(w, e, 2);
			i++;
		} else if (c < 0x20) {
			char e[6] = {
			    '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

			if (c == '\n')
				put(w, "\\n", 2);
			else if (c == '\t')
				put(w, "\\t", 2);
			else if (c == '\r')
				put(w, "\\r", 2);
			else
				put(w, e, 6);
			i++;
		} else if ((n = utf8_len(p + i, len - i)) > 0) {
			put(w, p + i, n);
			i += n;
		} else {
			put(w, "\xef\xbf\xbd", 3);
			i++;
		}
	}
	if (run > 0)
		put(w, p + i - run, run);
	putc_(w, '"');
}

void
jw_str(struct jw *w, const char *s)
{
	if (s == NULL)
		jw_null(w);
	else
		jw_strn(w, s, strlen(s));
}

void
jw_key(struct jw *w, const char *k)
{
	char t[64];
	size_t n = 1;

	/* Keys are the program's own names: plain ASCII, never escaped
	 * (checked here, in the copy), so they go out in one piece. */
	sep(w);
	t[0] = '"';
	for (; *k != '\0'; k++) {
		rb_assert(n + 3 < sizeof(t) && *k != '"' && *k != '\\');
		t[n++] = *k;
	}
	t[n++] = '"';
	t[n++] = ':';
	put(w, t, n);
	w->after_key = 1;
}

static void
put_fmt(struct jw *w, const char *txt, int n)
{
	if (n > 0)
		put(w, txt, (size_t)n);
}

/* Decimal digits of v, written backwards from end; returns the start.
 * (snprintf cost more than the rest of a number's output.) */
static char *
digits(uint64_t v, char *end)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}

void
jw_int(struct jw *w, int64_t v)
{
	char t[24], *p;

	sep(w);
	p = digits(v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, t + 24);
	if (v < 0)
		*--p = '-';
	put(w, p, (size_t)(t + 24 - p));
}

void
jw_uint(struct jw *w, uint64_t v)
{
	char t[24], *p = digits(v, t + 24);

	sep(w);
	put(w, p, (size_t)(t + 24 - p));
}

/* Doubles formatted lately, per thread: a response repeats the same
 * thresholds and rates, and "%.15g" costs more than the rest of it. */
#define JW_NUM_MEMO 8

struct num_memo {
	double v;
	int len; /* 0: empty */
	char txt[32];
};

void
jw_num(struct jw *w, double v)
{
	static _Thread_local struct num_memo memo[JW_NUM_MEMO];
	static _Thread_local unsigned next;
	char t[40];
	size_t i;
	int n;

	if (!isfinite(v)) {
		jw_null(w);
		return;
	}
	sep(w);
	for (i = 0; i < JW_NUM_MEMO; i++) {
		/* Bit for bit: 0.0 and -0.0 print differently. */
		if (memo[i].len > 0 && memcmp(&memo[i].v, &v, sizeof(v)) == 0) {
			put(w, memo[i].txt, (size_t)memo[i].len);
			return;
		}
	}
	n = snprintf(t, sizeof(t), "%.15g", v);
	put_fmt(w, t, n);
	if (n > 0 && (size_t)n < sizeof(memo[0].txt)) {
		struct num_memo *m = &memo[next++ % JW_NUM_MEMO];

		m->v = v;
		m->len = n;
		memcpy(m->txt, t, (size_t)n);
	}
}

void
jw_bool(struct jw *w, int v)
{
	sep(w);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void
jw_null(struct jw *w)
{
	sep(w);
	put(w, "null", 4);
}

void
jw_time(struct jw *w, time_t t)
{
	char iso[40];

	if (t == 0) {
		jw_null(w);
		return;
	}
	time_format_iso(t, iso, sizeof(iso));
	jw_str(w, iso);
}

void
jw_id(struct jw *w, int64_t id)
{
	char t[24], *p;

	if (id <= 0) {
		jw_null(w);
		return;
	}
	t[23] = '"';
	p = digits((uint64_t)id, t + 23);
	*--p = '"';
	sep(w);
	put(w, p, (size_t)(t + 24 - p));
}

void
jw_raw(struct jw *w, const char *json)
{
	if (json == NULL || json[0] == '\0') {
		jw_null(w);
		return;
	}
	sep(w);
	put(w, json, strlen(json));
}

void
jw_kstr(struct jw *w, const char *k, const char *v)
{
	jw_key(w, k);
	jw_str(w, v);
}

void
jw_kuint(struct jw *w, const char *k, uint64_t v)
{
	jw_key(w, k);
	jw_uint(w, v);
}

void
jw_knum(struct jw *w, const char *k, double v)
{
	jw_key(w, k);
	jw_num(w, v);
}

void
jw_kbool(struct jw *w, const char *k, int v)
{
	jw_key(w, k);
	jw_bool(w, v);
}

void
jw_ktime(struct jw *w, const char *k, time_t t)
{
	jw_key(w, k);
	jw_time(w, t);
}

void
jw_kid(struct jw *w, const char *k, int64_t id)
{
	jw_key(w, k);
	jw_id(w, id);
}
