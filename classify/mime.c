/*
 * A small zero-copy MIME reader over LF-only text: header blocks, the
 * Content-Type parameters that matter (boundary, charset, report-type)
 * and the multipart tree.  Bodies stay spans into the message until a
 * reader asks for one decoded; transfer decoding and charset conversion
 * then use gmime's stateless helpers.  Building a full GMimeMessage per
 * notice costs more than all the rest of classification together, which
 * is why the tree is walked here instead.
 *
 * Limits: CLASSIFY_MAX_HEADERS, CLASSIFY_MAX_HEADER_BYTES,
 * CLASSIFY_MAX_MIME_DEPTH, CLASSIFY_MAX_MIME_PARTS; past them the tree is
 * cut and CLASSIFY_F_TRUNCATED set.  Broken MIME (no closing boundary,
 * a boundary that never occurs) is read leniently and marked MALFORMED.
 */
/* memmem() */
#define _GNU_SOURCE
#include <string.h>

#include <gmime/gmime.h>

#include "classify_int.h"

static const char *
next_line(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? nl + 1 : end;
}

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t';
}

void
mime_parse_headers(struct classify_arena *a, struct span in,
    struct mime_headers *h_r, struct span *body_r)
{
	const char *p = in.p, *end = in.p + in.len, *limit;
	struct mime_header *hs = NULL;
	size_t n = 0, cap = 0;

	h_r->h = NULL;
	h_r->n = 0;
	h_r->truncated = false;
	limit = in.len > CLASSIFY_MAX_HEADER_BYTES
	            ? in.p + CLASSIFY_MAX_HEADER_BYTES
	            : end;
	/* An mbox "From " separator line is not a header: skip it. */
	if (in.len > 5 && memcmp(p, "From ", 5) == 0)
		p = next_line(p, end);
	while (p < end) {
		const char *eol = next_line(p, end), *colon, *q;
		size_t linelen = (size_t)(eol - p);

		if (*p == '\n') {
			p = eol;
			break;
		}
		if (is_ws(*p) && n > 0) {
			/* RFC 5322 2.2.3: folded continuation. */
			struct mime_header *h = &hs[n - 1];
			const char *vend = eol;

			if (vend > p && vend[-1] == '\n')
				vend--;
			h->value.len = (size_t)(vend - h->value.p);
			p = eol;
			continue;
		}
		colon = memchr(p, ':', linelen);
		/*
		 * A parameter line that lost its indentation after a value
		 * ending in ';' ("Content-Type: multipart/mixed;" then
		 * "boundary=..." at column 0): some webmail gateways write
		 * this.  Read it as the continuation it was meant to be.
		 */
		if (n > 0 && hs[n - 1].value.len > 0 &&
		    hs[n - 1].value.p[hs[n - 1].value.len - 1] == ';' &&
		    (colon == NULL || memchr(p, '=', linelen) != NULL) &&
		    memchr(p, '=', linelen) != NULL) {
			const char *vend = eol;

			if (vend > p && vend[-1] == '\n')
				vend--;
			hs[n - 1].value.len =
			    (size_t)(vend - hs[n - 1].value.p);
			p = eol;
			continue;
		}
		/* Field names are printable ASCII without spaces (RFC 5322
		 * 3.6.8); tolerate spaces before the colon as old mailers
		 * write "Subject :". */
		if (colon == NULL || colon == p) {
			/* Not a header: the body begins here (lenient, as
			 * Postfix's header_token does for broken mail). */
			break;
		}
		for (q = p; q < colon; q++) {
			if ((unsigned char)*q <= ' ' && !is_ws(*q))
				break;
			if ((unsigned char)*q >= 127)
				break;
		}
		if (q < colon)
			break;
		if (p >= limit || n >= CLASSIFY_MAX_HEADERS) {
			h_r->truncated = true;
			/* Skip the rest of the oversized block. */
			while (p < end && *p != '\n')
				p = next_line(p, end);
			if (p < end)
				p++;
			break;
		}
		if (n == cap) {
			struct mime_header *nh;

			cap = cap ? cap * 2 : 32;
			nh = arena_alloc(a, cap * sizeof(*nh));
			if (n > 0)
				memcpy(nh, hs, n * sizeof(*nh));
			hs = nh;
		}
		{
			const char *ne = colon, *vs = colon + 1, *vend = eol;

			while (ne > p && is_ws(ne[-1]))
				ne--;
			if (vend > vs && vend[-1] == '\n')
				vend--;
			hs[n].name.p = p;
			hs[n].name.len = (size_t)(ne - p);
			hs[n].value.p = vs;
			hs[n].value.len = (size_t)(vend - vs);
			n++;
		}
		p = eol;
	}
	h_r->h = hs;
	h_r->n = n;
	body_r->p = p;
	body_r->len = (size_t)(end - p);
}

const struct span *
mime_header_raw(const struct mime_headers *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		if (text_ieq(h->h[i].name, name))
			return &h->h[i].value;
	}
	return NULL;
}

const char *
mime_value_clean(struct classify_arena *a, struct span raw, bool decode_2047)
{
	char *s = text_collapse(a, raw.p, raw.len);

	if (decode_2047 && strstr(s, "=?") != NULL) {
		char *d = g_mime_utils_header_decode_text(NULL, s);

		if (d != NULL) {
			s = text_valid_utf8(a, d, strlen(d));
			g_free(d);
			return text_collapse(a, s, strlen(s));
		}
	}
	return text_valid_utf8(a, s, strlen(s));
}

const char *
mime_header_get(
    struct classify_arena *a, const struct mime_headers *h, const char *name)
{
	const struct span *v = mime_header_raw(h, name);

	return v != NULL ? mime_value_clean(a, *v, true) : NULL;
}

/* Value of parameter name in a Content-Type value, lower-cased if asked. */
static const char *
ct_param(struct classify_arena *a, struct span v, const char *name, bool lower)
{
	const char *p = v.p, *end = v.p + v.len;
	size_t nlen = strlen(name);

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *q;

		if (semi == NULL)
			return NULL;
		p = semi + 1;
		while (p < end && (is_ws(*p) || *p == '\n'))
			p++;
		if ((size_t)(end - p) <= nlen || !text_istarts(p, nlen, name))
			continue;
		q = p + nlen;
		while (q < end && (is_ws(*q) || *q == '\n'))
			q++;
		if (q >= end || *q != '=')
			continue;
		q++;
		while (q < end && (is_ws(*q) || *q == '\n'))
			q++;
		if (q < end && *q == '"') {
			const char *e = ++q;

			while (e < end && *e != '"')
				e++;
			{
				char *r = arena_strndup(a, q, (size_t)(e - q));
				return lower ? text_lower(a, r) : r;
			}
		} else {
			const char *e = q;
			char *r;

			while (e < end && *e != ';' && !is_ws(*e) && *e != '\n')
				e++;
			r = arena_strndup(a, q, (size_t)(e - q));
			return lower ? text_lower(a, r) : r;
		}
	}
	return NULL;
}

static void
part_content_type(
    struct classify_arena *a, struct mime_part *part, const char *dflt)
{
	const struct span *ct = mime_header_raw(&part->headers, "Content-Type");
	const struct span *cte =
	    mime_header_raw(&part->headers, "Content-Transfer-Encoding");

	part->type = dflt;
	if (ct != NULL) {
		const char *p = ct->p, *end = ct->p + ct->len, *s;

		while (p < end && (is_ws(*p) || *p == '\n'))
			p++;
		s = p;
		while (p < end && *p != ';' && !is_ws(*p) && *p != '\n')
			p++;
		if (p > s && memchr(s, '/', (size_t)(p - s)) != NULL) {
			part->type =
			    text_lower(a, arena_strndup(a, s, (size_t)(p - s)));
		}
		part->boundary = ct_param(a, *ct, "boundary", false);
		part->charset = ct_param(a, *ct, "charset", true);
		part->report_type = ct_param(a, *ct, "report-type", true);
	}
	part->cte = MIME_CTE_IDENTITY;
	if (cte != NULL) {
		char *v = text_collapse(a, cte->p, cte->len);

		if (text_istarts(v, strlen(v), "base64"))
			part->cte = MIME_CTE_BASE64;
		else if (text_istarts(v, strlen(v), "quoted-printable"))
			part->cte = MIME_CTE_QP;
	}
}

struct tree_builder {
	struct classify_arena *a;
	struct mime_tree *t;
	size_t cap;
};

static int
tree_add(struct tree_builder *tb)
{
	struct mime_tree *t = tb->t;

	if (t->n >= CLASSIFY_MAX_MIME_PARTS) {
		t->flags |= CLASSIFY_F_TRUNCATED;
		return -1;
	}
	if (t->n == tb->cap) {
		struct mime_part *np;

		tb->cap = tb->cap ? tb->cap * 2 : 8;
		np = arena_alloc(tb->a, tb->cap * sizeof(*np));
		if (t->n > 0)
			memcpy(np, t->parts, t->n * sizeof(*np));
		t->parts = np;
	}
	memset(&t->parts[t->n], 0, sizeof(t->parts[0]));
	return (int)t->n++;
}

/* Is the line at p a delimiter "--boundary" (or close "--boundary--")? */
static int
delimiter(const char *p, const char *end, const char *b, size_t blen)
{
	const char *q;

	if ((size_t)(end - p) < blen + 2 || p[0] != '-' || p[1] != '-' ||
	    memcmp(p + 2, b, blen) != 0)
		return 0;
	q = p + 2 + blen;
	if (q + 1 < end && q[0] == '-' && q[1] == '-')
		return 2;
	/* RFC 2046 5.1.1: only linear whitespace may follow. */
	while (q < end && is_ws(*q))
		q++;
	return (q >= end || *q == '\n') ? 1 : 0;
}

static void parse_entity(struct tree_builder *tb, struct span in, int parent,
    unsigned depth, bool in_message, const char *dflt);

static void
parse_multipart(struct tree_builder *tb, int idx)
{
	struct mime_part *part = &tb->t->parts[idx];
	const char *b = part->boundary;
	size_t blen = strlen(b);
	const char *p = part->body.p, *end = part->body.p + part->body.len;
	const char *start = NULL;
	unsigned depth = part->depth;
	bool in_message = part->in_message;
	bool closed = false, any = false;
	const char *dflt = strcmp(part->type, "multipart/digest") == 0
	                       ? "message/rfc822"
	                       : "text/plain";
	/* "\n--boundary": delimiters start a line (RFC 2046 5.1.1). */
	char *needle = arena_alloc(tb->a, blen + 4);

	needle[0] = '\n';
	needle[1] = '-';
	needle[2] = '-';
	memcpy(needle + 3, b, blen + 1);
	while (p < end) {
		const char *line, *eol;
		int d;

		if (p == part->body.p && (size_t)(end - p) >= blen + 2 &&
		    p[0] == '-' && p[1] == '-' && memcmp(p + 2, b, blen) == 0) {
			line = p; /* a delimiter on the body's first line */
		} else {
			const char *hit = memmem(p - (p > part->body.p ? 1 : 0),
			    (size_t)(end - p) + (p > part->body.p ? 1 : 0),
			    needle, blen + 3);

			if (hit == NULL)
				break;
			line = hit + 1;
		}
		eol = memchr(line, '\n', (size_t)(end - line));
		eol = eol != NULL ? eol + 1 : end;
		d = delimiter(line, end, b, blen);
		if (d == 0) {
			p = eol;
			continue;
		}
		if (start != NULL) {
			/* The LF before a delimiter belongs to it. */
			const char *e = line;

			if (e > start && e[-1] == '\n')
				e--;
			parse_entity(tb,
			    (struct span){start, (size_t)(e - start)}, idx,
			    depth + 1, in_message, dflt);
		}
		any = true;
		if (d == 2) {
			closed = true;
			break;
		}
		start = eol;
		p = eol;
	}
	if (!closed) {
		tb->t->flags |= CLASSIFY_F_MALFORMED;
		if (start != NULL && start < end)
			parse_entity(tb,
			    (struct span){start, (size_t)(end - start)}, idx,
			    depth + 1, in_message, dflt);
	}
	if (!any)
		tb->t->flags |= CLASSIFY_F_MALFORMED;
}

static void
parse_entity(struct tree_builder *tb, struct span in, int parent,
    unsigned depth, bool in_message, const char *dflt)
{
	struct mime_part *part;
	int idx;

	if (depth > CLASSIFY_MAX_MIME_DEPTH) {
		tb->t->flags |= CLASSIFY_F_TRUNCATED;
		return;
	}
	idx = tree_add(tb);
	if (idx < 0)
		return;
	part = &tb->t->parts[idx];
	part->parent = parent;
	part->depth = depth;
	part->in_message = in_message;
	mime_parse_headers(tb->a, in, &part->headers, &part->body);
	if (part->headers.truncated)
		tb->t->flags |= CLASSIFY_F_TRUNCATED;
	part_content_type(tb->a, part, dflt);
	if (strncmp(part->type, "multipart/", 10) == 0) {
		if (part->boundary != NULL && part->boundary[0] != '\0')
			parse_multipart(tb, idx);
		else
			tb->t->flags |= CLASSIFY_F_MALFORMED;
	} else if (strcmp(part->type, "message/rfc822") == 0 ||
	           strcmp(part->type, "message/global") == 0) {
		/* The returned message: one child entity, its own tree.
		 * Encoded message parts (against RFC 2046 5.2.1, but seen)
		 * are decoded first. */
		struct span body = part->body;

		if (part->cte != MIME_CTE_IDENTITY)
			body = mime_decode(tb->a, part);
		parse_entity(tb, body, idx, depth + 1, true, "text/plain");
	}
}

void
mime_parse_tree(
    struct classify_arena *a, struct span msg, struct mime_tree *t_r)
{
	struct tree_builder tb = {a, t_r, 0};

	t_r->parts = NULL;
	t_r->n = 0;
	t_r->flags = 0;
	parse_entity(&tb, msg, -1, 0, false, "text/plain");
}

static struct span
decode_transfer(struct classify_arena *a, const struct mime_part *p)
{
	struct span out = p->body;
	int state = 0;
	guint32 save = 0;
	char *buf;
	size_t n;

	switch (p->cte) {
	case MIME_CTE_BASE64:
		/* Decoding never grows the data. */
		buf = arena_alloc(a, p->body.len + 4);
		n = g_mime_encoding_base64_decode_step(
		    (const unsigned char *)p->body.p, p->body.len,
		    (unsigned char *)buf, &state, &save);
		buf[n] = '\0';
		out.p = buf;
		out.len = n;
		break;
	case MIME_CTE_QP:
		buf = arena_alloc(a, p->body.len + 4);
		n = g_mime_encoding_quoted_decode_step(
		    (const unsigned char *)p->body.p, p->body.len,
		    (unsigned char *)buf, &state, &save);
		buf[n] = '\0';
		out.p = buf;
		out.len = n;
		break;
	case MIME_CTE_IDENTITY:
		break;
	}
	return out;
}

static bool
needs_conversion(const char *charset, struct span s)
{
	size_t i;

	if (charset == NULL || strcmp(charset, "utf-8") == 0 ||
	    strcmp(charset, "us-ascii") == 0 || strcmp(charset, "utf8") == 0)
		return false;
	/* ISO-2022-JP is 7-bit with escape sequences. */
	if (strstr(charset, "2022") != NULL)
		return memchr(s.p, 0x1b, s.len) != NULL;
	for (i = 0; i < s.len; i++) {
		if ((unsigned char)s.p[i] >= 0x80)
			return true;
	}
	return false;
}

struct span
mime_decode(struct classify_arena *a, struct mime_part *p)
{
	struct span s;

	if (p->is_decoded)
		return p->decoded;
	s = decode_transfer(a, p);
	/* LF-only invariant: decoded base64 text may carry CRLF again. */
	if (memchr(s.p, '\r', s.len) != NULL) {
		char *o = arena_alloc(a, s.len + 1);
		size_t i, j = 0;

		for (i = 0; i < s.len; i++) {
			if (s.p[i] == '\r') {
				if (i + 1 < s.len && s.p[i + 1] == '\n')
					continue;
				o[j++] = '\n';
			} else {
				o[j++] = s.p[i];
			}
		}
		o[j] = '\0';
		s.p = o;
		s.len = j;
	}
	if ((strncmp(p->type, "text/", 5) == 0 ||
	        strncmp(p->type, "message/", 8) == 0) &&
	    needs_conversion(p->charset, s)) {
		/* gmime's iconv cache keeps converters open: g_convert()
		 * would load the charset module anew on every call. */
		iconv_t cd = g_mime_iconv_open("UTF-8", p->charset);

		if (cd != (iconv_t)-1) {
			char *u = g_mime_iconv_strndup(cd, s.p, s.len);

			g_mime_iconv_close(cd);
			if (u != NULL) {
				s.len = strlen(u);
				s.p = arena_strndup(a, u, s.len);
				g_free(u);
			}
		}
	}
	p->decoded = s;
	p->is_decoded = true;
	return s;
}
