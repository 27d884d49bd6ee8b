/*
 * smtp_tls: STARTTLS for the SMTP listener, with GnuTLS (which
 * libmicrohttpd already brings).  Server side only, non-blocking: every
 * call returns at once with SMTP_TLS_AGAIN when the socket would block
 * and smtp_tls_wants_write() tells which way to wait.  The system's
 * default priorities (TLS 1.2 and 1.3, no client certificate asked).
 * Used by the loop thread only; the context is read-only once loaded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "ingest/ingest_int.h"

/* Non-fatal GnuTLS results (warnings) retried at once before giving the
 * loop back: a peer cannot keep a call spinning. */
#define TLS_MAX_RETRIES 8

struct smtp_tls_ctx {
	gnutls_certificate_credentials_t cred;
};

struct smtp_tls {
	gnutls_session_t s;
	size_t again_len; /* bytes of a write that returned AGAIN */
};

int
smtp_tls_ctx_new(const char *cert, const char *key, struct smtp_tls_ctx **ctx_r,
    struct rb_error *err)
{
	struct smtp_tls_ctx *c = xcalloc(1, sizeof(*c));
	int r;

	r = gnutls_certificate_allocate_credentials(&c->cred);
	if (r < 0) {
		free(c);
		return rb_error_set(
		    err, ENOMEM, "smtp: TLS: %s", gnutls_strerror(r));
	}
	r = gnutls_certificate_set_x509_key_file(
	    c->cred, cert, key, GNUTLS_X509_FMT_PEM);
	if (r < 0) {
		gnutls_certificate_free_credentials(c->cred);
		free(c);
		return rb_error_set(err, EINVAL,
		    "smtp: TLS certificate %s / key %s: %s", cert, key,
		    gnutls_strerror(r));
	}
	*ctx_r = c;
	return 0;
}

void
smtp_tls_ctx_free(struct smtp_tls_ctx **cp)
{
	struct smtp_tls_ctx *c = *cp;

	if (c == NULL)
		return;
	gnutls_certificate_free_credentials(c->cred);
	free(c);
	*cp = NULL;
}

struct smtp_tls *
smtp_tls_new(struct smtp_tls_ctx *ctx, int fd)
{
	struct smtp_tls *t = xcalloc(1, sizeof(*t));

	if (gnutls_init(&t->s, GNUTLS_SERVER | GNUTLS_NONBLOCK) < 0 ||
	    gnutls_set_default_priority(t->s) < 0 ||
	    gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, ctx->cred) < 0)
		rb_panic("smtp: TLS session setup failed");
	gnutls_certificate_server_set_request(t->s, GNUTLS_CERT_IGNORE);
	gnutls_transport_set_int(t->s, fd);
	return t;
}

void
smtp_tls_free(struct smtp_tls **tp)
{
	struct smtp_tls *t = *tp;

	if (t == NULL)
		return;
	gnutls_deinit(t->s);
	free(t);
	*tp = NULL;
}

int
smtp_tls_handshake(struct smtp_tls *t, const char **why_r)
{
	int r, i;

	for (i = 0; i < TLS_MAX_RETRIES; i++) {
		r = gnutls_handshake(t->s);
		if (r == GNUTLS_E_SUCCESS)
			return 0;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			return SMTP_TLS_AGAIN;
		if (gnutls_error_is_fatal(r))
			break;
	}
	if (why_r != NULL)
		*why_r = gnutls_strerror(r);
	return SMTP_TLS_ERROR;
}

ssize_t
smtp_tls_read(struct smtp_tls *t, void *buf, size_t len)
{
	int i;

	for (i = 0; i < TLS_MAX_RETRIES; i++) {
		ssize_t r = gnutls_record_recv(t->s, buf, len);

		if (r >= 0)
			return r;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			return SMTP_TLS_AGAIN;
		if (gnutls_error_is_fatal((int)r))
			return SMTP_TLS_ERROR;
	}
	return SMTP_TLS_ERROR;
}

ssize_t
smtp_tls_write(struct smtp_tls *t, const void *buf, size_t len)
{
	ssize_t r;

	/* GnuTLS: after AGAIN, call again with the same data, or with
	 * NULL and 0 to finish that record. */
	if (t->again_len > 0) {
		rb_assert(len >= t->again_len);
		r = gnutls_record_send(t->s, NULL, 0);
	} else
		r = gnutls_record_send(t->s, buf, len);
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
		if (t->again_len == 0)
			t->again_len = len;
		return SMTP_TLS_AGAIN;
	}
	t->again_len = 0;
	if (r < 0)
		return SMTP_TLS_ERROR;
	return r;
}

size_t
smtp_tls_pending(struct smtp_tls *t)
{
	return gnutls_record_check_pending(t->s);
}

int
smtp_tls_wants_write(struct smtp_tls *t)
{
	return gnutls_record_get_direction(t->s);
}

void
smtp_tls_describe(struct smtp_tls *t, char *out, size_t outlen)
{
	const char *p =
	    gnutls_protocol_get_name(gnutls_protocol_get_version(t->s));
	const char *c = gnutls_cipher_get_name(gnutls_cipher_get(t->s));

	(void)snprintf(
	    out, outlen, "%s/%s", p != NULL ? p : "?", c != NULL ? c : "?");
}

void
smtp_tls_bye(struct smtp_tls *t)
{
	(void)gnutls_bye(t->s, GNUTLS_SHUT_WR);
}
