/*
 * address: what the suppression lists and identities compare.  An
 * address is normalised to local@domain with the domain in lower case
 * (RFC 5321 2.4: domains are case-insensitive) and the local part in
 * lower case unless suppression.local_part = sensitive (RFC 5321 says
 * local parts may be case-sensitive; no large mailbox provider treats
 * them so).  Accepted: dot-atom or quoted local parts (RFC 5322 3.4.1),
 * UTF-8 (RFC 6531), "Name <addr>" and "<addr>".  Refused with a message
 * saying why: no "@", empty parts, over-long parts (RFC 5321 4.5.3.1),
 * forbidden characters, address literals, a domain without a dot.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* RFC 5321 4.5.3.1.1 and 4.5.3.1.2. */
#define ADDRESS_MAX_LOCAL 64
#define ADDRESS_MAX_DOMAIN 255
#define ADDRESS_MAX_LABEL 63

static int
is_atext(unsigned char c)
{
	return isalnum(c) || c >= 0x80 ||
	       strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Check a domain of n bytes; NULL when fine, else why not. */
static const char *
domain_problem(const char *d, size_t n)
{
	size_t i, label = 0, dots = 0;

	if (n == 0)
		return "empty domain";
	if (n > ADDRESS_MAX_DOMAIN)
		return "domain longer than 255 bytes";
	if (d[0] == '[')
		return "address literals are not supported";
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			if (label == 0)
				return "empty label in the domain";
			if (d[i - 1] == '-')
				return "domain label ending with '-'";
			label = 0;
			dots++;
			continue;
		}
		if (!isalnum(c) && c != '-' && c < 0x80)
			return "character not allowed in the domain";
		if (c == '-' && label == 0)
			return "domain label starting with '-'";
		if (++label > ADDRESS_MAX_LABEL)
			return "domain label longer than 63 bytes";
	}
	if (label == 0)
		return "empty label in the domain";
	if (d[n - 1] == '-')
		return "domain label ending with '-'";
	if (dots == 0)
		return "domain without a dot";
	return NULL;
}

static const char *
local_problem(const char *l, size_t n)
{
	size_t i;

	if (n == 0)
		return "empty local part";
	if (n > ADDRESS_MAX_LOCAL)
		return "local part longer than 64 bytes";
	if (l[0] == '"') {
		if (n < 2 || l[n - 1] != '"')
			return "unterminated quoted local part";
		for (i = 1; i + 1 < n; i++) {
			unsigned char c = (unsigned char)l[i];

			if (c == '\\') {
				if (++i + 1 >= n)
					return "bad escape in the local part";
				continue;
			}
			if (c == '"' || c < 0x20 || c == 0x7f)
				return "character not allowed in the quoted "
				       "local part";
		}
		return NULL;
	}
	if (l[0] == '.' || l[n - 1] == '.')
		return "local part starting or ending with '.'";
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)l[i];

		if (c == '.') {
			if (l[i + 1] == '.')
				return "'..' in the local part";
			continue;
		}
		if (!is_atext(c))
			return "character not allowed in the local part";
	}
	return NULL;
}

int
address_normalize(const char *in, int local_sensitive, char *out, size_t outlen,
    struct rb_error *err)
{
	const char *s, *e, *lt, *at;
	const char *why;
	size_t n, ln, dn, i;

	if (in == NULL)
		return rb_error_set(err, EINVAL, "no address");
	s = in;
	e = in + strlen(in);
	/* "Name <addr>": the last <...>. */
	lt = strrchr(in, '<');
	if (lt != NULL) {
		const char *gt = strchr(lt, '>');

		if (gt == NULL)
			return rb_error_set(err, EINVAL,
			    "'%s': not an address: '<' without '>'", in);
		s = lt + 1;
		e = gt;
	}
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	n = (size_t)(e - s);
	if (n == 0)
		return rb_error_set(err, EINVAL, "empty address");
	at = NULL;
	for (i = n; i > 0; i--) {
		if (s[i - 1] == '@') {
			at = s + i - 1;
			break;
		}
	}
	if (at == NULL)
		return rb_error_set(
		    err, EINVAL, "'%s': not an address: no '@'", in);
	ln = (size_t)(at - s);
	dn = (size_t)(e - at - 1);
	/* A trailing dot (the DNS root) names the same domain. */
	if (dn > 1 && at[dn] == '.')
		dn--;
	if ((why = local_problem(s, ln)) != NULL ||
	    (why = domain_problem(at + 1, dn)) != NULL)
		return rb_error_set(
		    err, EINVAL, "'%s': not an address: %s", in, why);
	if (ln + 1 + dn + 1 > outlen)
		return rb_error_set(err, EINVAL, "'%s': address too long", in);
	for (i = 0; i < ln; i++)
		out[i] =
		    local_sensitive ? s[i] : (char)tolower((unsigned char)s[i]);
	out[ln] = '@';
	for (i = 0; i < dn; i++)
		out[ln + 1 + i] = (char)tolower((unsigned char)at[1 + i]);
	out[ln + 1 + dn] = '\0';
	return 0;
}

const char *
address_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : addr;
}

static int
cmp_key_str(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

void
address_identity(
    const struct store_conf *conf, const char *addr, char *out, size_t outlen)
{
	char norm[STORE_MAX_ADDRESS];

	out[0] = '\0';
	if (addr == NULL ||
	    address_normalize(addr, 0, norm, sizeof(norm), NULL) < 0)
		return;
	if (conf->address_identities ||
	    (conf->n_id_addresses > 0 &&
	        bsearch(norm, conf->id_addresses, conf->n_id_addresses,
	            sizeof(char *), cmp_key_str) != NULL))
		(void)snprintf(out, outlen, "%s", norm);
	else
		(void)snprintf(out, outlen, "%s", address_domain(norm));
}

static int
cmp_key_account(const void *key, const void *elem)
{
	return strcmp(key, ((const struct account_map *)elem)->identity);
}

const char *
conf_account_of(const struct store_conf *conf, const char *identity)
{
	const struct account_map *m;

	if (identity == NULL || identity[0] == '\0' || conf->n_accounts == 0)
		return conf->default_account;
	m = bsearch(identity, conf->accounts, conf->n_accounts,
	    sizeof(*conf->accounts), cmp_key_account);
	/* An address identity falls back to its domain's account. */
	if (m == NULL && strchr(identity, '@') != NULL)
		m = bsearch(address_domain(identity), conf->accounts,
		    conf->n_accounts, sizeof(*conf->accounts), cmp_key_account);
	return m != NULL ? m->account : conf->default_account;
}

int
store_address_normalize(const struct store *st, const char *in, char *out,
    size_t outlen, struct rb_error *err)
{
	return address_normalize(
	    in, st->conf.local_sensitive, out, outlen, err);
}

int
store_identity_normalize(const struct store *st, const char *in, char *out,
    size_t outlen, struct rb_error *err)
{
	const char *why;
	size_t n, i;

	if (in == NULL || in[0] == '\0')
		return rb_error_set(err, EINVAL, "empty identity");
	if (strchr(in, '@') != NULL) {
		char norm[STORE_MAX_ADDRESS];

		if (address_normalize(in, 0, norm, sizeof(norm), err) < 0)
			return -1;
		address_identity(&st->conf, norm, out, outlen);
		return 0;
	}
	n = strlen(in);
	if (n > 1 && in[n - 1] == '.')
		n--;
	if ((why = domain_problem(in, n)) != NULL)
		return rb_error_set(
		    err, EINVAL, "'%s': not a domain or address: %s", in, why);
	if (n + 1 > outlen)
		return rb_error_set(err, EINVAL, "'%s': too long", in);
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[n] = '\0';
	return 0;
}
