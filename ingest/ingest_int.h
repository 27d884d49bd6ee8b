/*
 * ingest_int: private to ingest/.  The TLS layer of the SMTP listener
 * (smtp_tls.c, GnuTLS behind a few functions so that no GnuTLS type
 * leaves that file).  A context holds the certificate and key, loaded
 * once and shared read-only by every connection of the loop thread; a
 * connection wraps one non-blocking socket.
 */
#ifndef REBOUND_INGEST_INT_H
#define REBOUND_INGEST_INT_H

#include <stddef.h>
#include <sys/types.h>

#include "ingest/ingest.h"

struct smtp_tls_ctx;
struct smtp_tls;

/* Load the PEM certificate (chain) and key.  0, or -1 with err naming
 * the file and the cause.  Free with smtp_tls_ctx_free(). */
int smtp_tls_ctx_new(const char *cert, const char *key,
    struct smtp_tls_ctx **ctx_r, struct rb_error *err) RB_WUR;
void smtp_tls_ctx_free(struct smtp_tls_ctx **ctx);

/* A server side TLS session on fd (non-blocking).  Never NULL. */
struct smtp_tls *smtp_tls_new(struct smtp_tls_ctx *ctx, int fd);
void smtp_tls_free(struct smtp_tls **t);

/* Results of the calls below besides byte counts. */
#define SMTP_TLS_AGAIN (-1) /* would block: wait for smtp_tls_wants() */
#define SMTP_TLS_ERROR (-2) /* the connection is broken: close it */

/* Go on with the handshake: 0 done, SMTP_TLS_AGAIN or SMTP_TLS_ERROR
 * (why_r, if not NULL, says why; static string). */
int smtp_tls_handshake(struct smtp_tls *t, const char **why_r);
/* Bytes read (0: the peer closed), SMTP_TLS_AGAIN or SMTP_TLS_ERROR. */
ssize_t smtp_tls_read(struct smtp_tls *t, void *buf, size_t len);
/* Bytes written, SMTP_TLS_AGAIN or SMTP_TLS_ERROR.  After AGAIN call
 * again with the same bytes at least (more may follow them). */
ssize_t smtp_tls_write(struct smtp_tls *t, const void *buf, size_t len);
/* Decrypted bytes waiting inside the TLS layer (the socket may not be
 * readable although there is input). */
size_t smtp_tls_pending(struct smtp_tls *t);
/* After AGAIN: 1 when the layer waits to write, 0 to read. */
int smtp_tls_wants_write(struct smtp_tls *t);
/* "TLS1.3/AES-256-GCM" for the log. */
void smtp_tls_describe(struct smtp_tls *t, char *out, size_t outlen);
/* Send close_notify if it goes at once (best effort, never blocks). */
void smtp_tls_bye(struct smtp_tls *t);

#endif
