/*
 * ingest: where feedback messages come from.  For now the mailbox
 * readers: a single message file, a Maildir (new/ then cur/), a directory
 * of message files, an mbox file (streamed: memory stays bounded by the
 * largest message, never the mailbox), or "-" for one message on stdin.
 */
#ifndef REBOUND_INGEST_H
#define REBOUND_INGEST_H

#include <stddef.h>

#include "core/core.h"

/* A message larger than this is cut (the tail is a returned attachment). */
#define INGEST_MAX_MESSAGE (32u * 1024 * 1024)

struct ingest_message {
	const unsigned char *data; /* borrowed until the callback returns */
	size_t len;
	const char *path;          /* file the message came from */
	long index;                /* position in an mbox (0-based), or -1 */
	int truncated;             /* cut at INGEST_MAX_MESSAGE */
};

/* Return 0 to go on, -1 to stop reading. */
typedef int ingest_message_fn(const struct ingest_message *m, void *ctx);

/*
 * Call fn for each message found at path.  Returns 0 when every message
 * was read; -1 with err set for the first path or file that could not be
 * read (the others are still read and reported to on_error, if given).
 */
typedef void ingest_error_fn(const struct rb_error *err, void *ctx);
int ingest_read_path(const char *path, ingest_message_fn *fn,
    ingest_error_fn *on_error, void *ctx) RB_WUR;

#endif
