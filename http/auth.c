/*
 * auth: bearer tokens (RFC 6750) of two scopes from the config,
 * http.read_tokens and http.admin_tokens (an admin token reads too).
 * Tokens are compared in constant time, against every configured token
 * whatever matched, so timing tells nothing about them.  With no token
 * configured every request is allowed, and the server refuses to listen
 * anywhere but on loopback (server.c asks auth_loopback).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"

static int
add_tokens(const char *key, const char *list, char **v, size_t *n,
    struct rb_error *err)
{
	const char *p = list;

	while (*p != '\0') {
		const char *e;
		size_t len, i;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ',' && *e != ' ' && *e != '\t';
		     e++)
			;
		len = (size_t)(e - p);
		if (len < HTTP_TOKEN_MIN || len > HTTP_TOKEN_MAX)
			return rb_error_set(err, EINVAL,
			    "%s: a token of %zu characters; %d to %d are "
			    "needed",
			    key, len, HTTP_TOKEN_MIN, HTTP_TOKEN_MAX);
		for (i = 0; i < len; i++) {
			if ((unsigned char)p[i] < 0x21 ||
			    (unsigned char)p[i] > 0x7e)
				return rb_error_set(err, EINVAL,
				    "%s: tokens are printable ASCII", key);
		}
		if (*n == HTTP_MAX_TOKENS)
			return rb_error_set(err, EINVAL,
			    "%s: more than %d tokens", key, HTTP_MAX_TOKENS);
		v[(*n)++] = xstrndup(p, len);
		p = e;
	}
	return 0;
}

int
auth_load(const struct config *cfg, struct http_auth *a, struct rb_error *err)
{
	memset(a, 0, sizeof(*a));
	if (add_tokens("http.read_tokens", config_get(cfg, "http.read_tokens"),
	        a->read, &a->n_read, err) < 0 ||
	    add_tokens("http.admin_tokens",
	        config_get(cfg, "http.admin_tokens"), a->admin, &a->n_admin,
	        err) < 0) {
		auth_free(a);
		return -1;
	}
	return 0;
}

void
auth_free(struct http_auth *a)
{
	size_t i;

	for (i = 0; i < a->n_read; i++)
		free(a->read[i]);
	for (i = 0; i < a->n_admin; i++)
		free(a->admin[i]);
	memset(a, 0, sizeof(*a));
}

int
auth_enabled(const struct http_auth *a)
{
	return a->n_read + a->n_admin > 0;
}

/* Equal in time that depends only on the lengths. */
static int
ct_equal(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b), i;
	unsigned char d = alen != blen;

	for (i = 0; i < alen; i++)
		d |= (unsigned char)(a[i] ^ b[i < blen ? i : 0]);
	return d == 0;
}

/* Does tok match one of v?  Every one is compared. */
static int
matches(const char *tok, size_t len, char *const *v, size_t n)
{
	int hit = 0;
	size_t i;

	for (i = 0; i < n; i++)
		hit |= ct_equal(tok, len, v[i]);
	return hit;
}

int
auth_allow(struct req *rq, enum http_scope scope)
{
	const struct http_auth *a = &rq->srv->auth;
	const char *h, *tok;
	size_t len;
	int is_admin, is_read;

	if (scope == SCOPE_PUBLIC || !auth_enabled(a))
		return 1;
	h = req_header(rq, "Authorization");
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		rq->www_authenticate = 1;
		reply_error(rq, 401, "Unauthorized", NULL,
		    "an Authorization: Bearer token is needed");
		return 0;
	}
	for (tok = h + 7; *tok == ' '; tok++)
		;
	len = strlen(tok);
	while (len > 0 && tok[len - 1] == ' ')
		len--;
	is_admin = matches(tok, len, a->admin, a->n_admin);
	is_read = matches(tok, len, a->read, a->n_read);
	if (!is_admin && !is_read) {
		rq->www_authenticate = 1;
		reply_error(rq, 401, "Unauthorized", NULL, "unknown token");
		return 0;
	}
	if (scope == SCOPE_ADMIN && !is_admin) {
		reply_error(rq, 403, "Forbidden", NULL,
		    "this token has the read scope; an admin token is needed");
		return 0;
	}
	return 1;
}

int
auth_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}
