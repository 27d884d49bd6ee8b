/*
 * The mail servers a failure names, for rules that hold knowledge of one
 * receiver's own codes (mta= in data/rules: "OFR_506" means spam at
 * Orange, "AUP#CXBL" an IP block at Cox).  Receivers are known by their
 * servers as much as by the recipient's domain: a company whose mail
 * goes through Mimecast or MessageLabs answers with that filter's codes.
 *
 * Input: the Remote-MTA field, the diagnostic text (host
 * names standing as words, "host mx.example.net[192.0.2.1]", links to a
 * provider's help pages), the Reporting-MTA and the notice's sender
 * domain.  Domains of e-mail addresses are not servers and are skipped.
 * Limit: HOSTS_MAX names, HOSTS_MAX_BYTES bytes in all.
 */
#include <string.h>

#include "classify_int.h"

/* Names kept per recipient: a reply names a few servers at most. */
#define HOSTS_MAX 16
/* Bytes of the joined list (host names are at most 253 bytes). */
#define HOSTS_MAX_BYTES 1024

static bool
host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static bool
alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A dotted name whose last label is alphabetic (not an IP, not 4.4.7). */
static bool
looks_like_host(const char *p, size_t n)
{
	size_t i, dots = 0, last = 0;

	while (n > 0 && p[n - 1] == '.')
		n--;
	if (n < 4)
		return false;
	for (i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (i == 0 || p[i - 1] == '.')
				return false;
			dots++;
			last = i + 1;
		}
	}
	if (dots == 0 || n - last < 2)
		return false;
	for (i = last; i < n; i++) {
		if (!alpha(p[i]))
			return false;
	}
	return true;
}

struct hostlist {
	struct buf b;
	unsigned n;
};

static void
add(struct hostlist *h, const char *p, size_t n)
{
	size_t i;

	while (n > 0 && p[n - 1] == '.')
		n--;
	if (h->n >= HOSTS_MAX || n == 0)
		return;
	if ((h->b.len > 0 && buf_putc(&h->b, ' ') < 0))
		return;
	for (i = 0; i < n; i++) {
		char c = p[i];

		if (buf_putc(&h->b, (c >= 'A' && c <= 'Z') ? c + 32 : c) < 0)
			return;
	}
	h->n++;
}

/* Every host-like word of text that is not an address's domain. */
static void
scan(struct hostlist *h, const char *text)
{
	const char *p = text;

	if (text == NULL)
		return;
	while (*p != '\0' && h->n < HOSTS_MAX) {
		const char *s;

		if (!host_char(*p)) {
			p++;
			continue;
		}
		s = p;
		while (host_char(*p))
			p++;
		if ((s == text || s[-1] != '@') && *p != '@' &&
		    looks_like_host(s, (size_t)(p - s)))
			add(h, s, (size_t)(p - s));
	}
}

void
ctx_hosts(struct classify_ctx *c, struct classify_recipient *r)
{
	struct hostlist h;
	const char *from;

	h.n = 0;
	buf_init(&h.b, HOSTS_MAX_BYTES);
	scan(&h, r->remote_mta);
	scan(&h, r->diagnostic);
	/* (The notice text is not scanned: the fields and the diagnostic
	 * name the servers, and notices are long.) */
	scan(&h, c->v->reporting_mta);
	from = text_domain(c->a, text_address(c->a, c->v->report_from));
	if (from != NULL)
		add(&h, from, strlen(from));
	if (h.b.len > 0)
		r->hosts = arena_strndup(c->a, (const char *)h.b.data, h.b.len);
	buf_free(&h.b);
}
