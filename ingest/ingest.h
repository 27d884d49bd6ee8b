/*
 * ingest: where feedback messages come from.  The mailbox readers: a
 * single message file, a Maildir (new/ then cur/), a directory of
 * message files, an mbox file (streamed: memory stays bounded by the
 * largest message, never the mailbox), or "-" for one message on stdin;
 * a watcher of Maildirs for the daemon (maildir_watch.c).
 * And the SMTP feedback server (the MX of the bounce domains) with its
 * spool, in the second half of this header.
 */
#ifndef REBOUND_INGEST_H
#define REBOUND_INGEST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "classify/classify.h"
#include "core/core.h"

/* A message larger than this is cut (the tail is a returned attachment). */
#define INGEST_MAX_MESSAGE (32u * 1024 * 1024)

struct ingest_message {
	const unsigned char *data; /* borrowed until the callback returns */
	size_t len;
	const char *path; /* file the message came from */
	long index;       /* position in an mbox (0-based), or -1 */
	int truncated;    /* cut at INGEST_MAX_MESSAGE */
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

/*
 * Watch Maildirs (each with new/ and cur/) with inotify, in one thread:
 * every message in new/ (those there at start, then each one delivered)
 * is read and handed with others in batches to fn; once fn returns 0
 * the messages are stored for good and are moved to cur/ ("NAME:2,").
 * fn returning -1 (err set) keeps them in new/ for a retry after a
 * back-off.  fn is called from the watcher's thread; msgs are borrowed
 * for the call.  Returns 0, or -1 with err set (not a Maildir, inotify
 * unavailable).  Stop with maildir_watch_stop().
 */
typedef int maildir_store_fn(const struct ingest_message *msgs, size_t n,
    void *ctx, struct rb_error *err);
struct maildir_watch;
int maildir_watch_start(const char *const *dirs, size_t n, maildir_store_fn *fn,
    void *ctx, struct maildir_watch **w_r, struct rb_error *err) RB_WUR;
/* Messages stored (and moved) so far; any thread. */
uint64_t maildir_watch_stored(struct maildir_watch *w);
/* Stop after the batch being stored (a scan stops between messages);
 * free *w and NULL it.  Accepts NULL. */
void maildir_watch_stop(struct maildir_watch **w);

/*
 * ==== SMTP feedback server ==============================================
 * The MX of the senders' bounce domains (DESIGN.md "Data flow"), in
 * three files:
 *
 *   smtp_session.c   the RFC 5321 state machine: bytes in, reply bytes
 *                    and "message complete" events out.  No sockets, no
 *                    clock (time is passed in), no logging.
 *   spool.c          the durable queue: completed messages are written
 *                    and fsync'd in group commits (one segment file
 *                    per round), then handed in batches to the deliver
 *                    callback by one pipeline thread; replayed at start.
 *   smtp_listener.c  sockets, the epoll loop, limits per client and
 *                    timeouts; the daemon core behind `rebound serve`.
 *
 * A "250 OK" after DATA is sent only once the message is on disk (file
 * and directory fsync'd), so a crash loses nothing acknowledged.
 */

/* ---- SMTP settings (all three files) ------------------------------------ */

/* Where to listen when no address is configured (DESIGN.md defaults). */
#define SMTP_DEFAULT_LISTEN "127.0.0.1:2525"
/* Listen addresses of one server: a v4 and a v6 address per interface of
 * a multi-homed MX fit many times over. */
#define SMTP_MAX_LISTEN 16
/* Local parts accepted at each feedback domain when none are configured
 * ("postmaster" is required by RFC 5321 4.5.1). */
#define SMTP_DEFAULT_LOCAL_PARTS "bounces", "fbl", "postmaster"
/* Largest message accepted (552 5.3.4 beyond).  Bounces are a few KB; a
 * returned original with attachments rarely passes 10 MB, which is also
 * the limit of Amazon SES. */
#define SMTP_DEFAULT_MAX_MESSAGE (10u * 1024 * 1024)
/* Upper bound of the setting: classify reads at most this much. */
#define SMTP_MAX_MESSAGE_LIMIT CLASSIFY_MAX_MESSAGE
/* Recipients per message (452 4.5.3 beyond).  RFC 5321 4.5.3.1.8: a
 * server must accept at least 100; a bounce has one. */
#define SMTP_DEFAULT_MAX_RECIPIENTS 100u
/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its
 * CRLF (500 5.5.2 beyond).  A MAIL FROM with a 256-octet path, SIZE,
 * BODY and SMTPUTF8 still fits. */
#define SMTP_DEFAULT_MAX_LINE 512u
/* Largest max_line accepted: keeps the per-session line buffer small. */
#define SMTP_MAX_LINE_LIMIT 4096u
/* RFC 5321 4.5.3.1.3: a path is at most 256 octets with its "<>". */
#define SMTP_MAX_PATH 254
/* A HELO/EHLO argument kept (a domain is at most 255 octets). */
#define SMTP_MAX_HELO 255
/* Open connections in all (421 4.7.0 beyond).  Each costs one fd and
 * about 2 KB while idle. */
#define SMTP_DEFAULT_MAX_CONNECTIONS 1000u
/* Open connections per client IP (421 4.7.0 beyond): Postfix's
 * smtpd_client_connection_count_limit; one MTA opens a few. */
#define SMTP_DEFAULT_MAX_PER_IP 50u
/* RFC 5321 4.5.3.2.7: a server waits at least 5 minutes for a command. */
#define SMTP_DEFAULT_COMMAND_TIMEOUT 300u
/* RFC 5321 4.5.3.2.5: 3 minutes between two blocks of DATA. */
#define SMTP_DEFAULT_DATA_TIMEOUT 180u
/* Errors (unknown commands, bad syntax, refused recipients) before
 * "421 4.7.0" and a disconnect: Postfix's smtpd_hard_error_limit. */
#define SMTP_DEFAULT_MAX_ERRORS 20u
/* Messages spooled but not yet delivered to the callback above which new
 * transactions get "451 4.3.1" (back-pressure instead of a spool that
 * grows while the store is down: senders retry for days). */
#define SMTP_DEFAULT_MAX_BACKLOG 10000u
/* Bytes of messages held in memory (being received, waiting for the
 * fsync, queued for delivery).  Near it MAIL and DATA get "451 4.3.1",
 * at it messages being received are dropped (451 4.3.1 at their end):
 * the memory of the daemon stays bounded whatever the load. */
#define SMTP_DEFAULT_MAX_MEMORY (256u * 1024 * 1024)
/* Messages handed to the deliver callback at once (one store
 * transaction). */
#define SMTP_DEFAULT_DELIVER_BATCH 256u
/* Seconds a graceful stop lets sessions finish (smtp_server_stop). */
#define SMTP_DEFAULT_STOP_TIMEOUT 10u

struct smtp_txn;

/*
 * Settings of the server (a 0 or NULL field takes the default above).
 * Strings are borrowed: they must outlive the server or session using
 * them.  Read-only once a server is started; may be shared by threads.
 */
struct smtp_config {
	/* "127.0.0.1:2525", "[::1]:2525", "localhost:25"; port 0 picks a
	 * free port (smtp_server_address tells which). */
	const char *const *listen;
	size_t n_listen;
	const char *hostname;       /* greeting and EHLO; NULL: gethostname */
	const char *const *domains; /* feedback domains (no other mail) */
	size_t n_domains;
	const char *const *local_parts; /* NULL: SMTP_DEFAULT_LOCAL_PARTS */
	size_t n_local_parts;
	const char *verp_secret; /* NULL: VERP tokens are not checked */
	size_t verp_secret_len;
	const char *spool_dir; /* required by smtp_server_start */
	/* PEM files: both set offers STARTTLS (smtp_server_listen loads
	 * them, and fails when they do not load). */
	const char *tls_cert;
	const char *tls_key;
	size_t max_message; /* bytes, <= SMTP_MAX_MESSAGE_LIMIT */
	unsigned max_recipients;
	unsigned max_line; /* <= SMTP_MAX_LINE_LIMIT */
	unsigned max_connections;
	unsigned max_per_ip;
	unsigned command_timeout; /* seconds */
	unsigned data_timeout;    /* seconds */
	unsigned max_errors;
	unsigned max_backlog;   /* messages */
	size_t max_memory;      /* bytes */
	unsigned deliver_batch; /* messages */
	/* The transaction log (smtp_listener.c): NULL logs the line of
	 * smtp_txn_format() at info level; a daemon with JSON logs gives
	 * its own.  Called from the loop thread. */
	void (*txn_log)(const struct smtp_txn *t, void *ctx);
	void *txn_log_ctx;
	/* Given to the spool (spool_config.sync) with the deliver ctx:
	 * NULL when deliver's 0 is durable already. */
	int (*sync)(void *ctx, struct rb_error *err);
	/* Each 4xx or 5xx reply a session sends (its code, 421 to 554),
	 * for counters; NULL: none.  The server sets its own (the counts
	 * of smtp_server_get_stats).  Called from the session's thread. */
	void (*on_reject)(unsigned code, void *ctx);
	void *on_reject_ctx;
};

/* Reply codes counted apart in smtp_server_stats.rejections: those
 * RFC 5321 4.2.2 lists for failures, plus 421/554 at the greeting. */
#define SMTP_REJECT_CODES                                                      \
	421, 450, 451, 452, 454, 500, 501, 502, 503, 504, 521, 530, 535, 550,  \
	    551, 552, 553, 554, 555
#define SMTP_N_REJECT_CODES 19

/* Replace every 0/NULL field of cfg by its default.  Pure. */
void smtp_config_defaults(struct smtp_config *cfg);

/* What a recipient's VERP token said (DESIGN.md "Attribution and trust"). */
enum smtp_verp {
	SMTP_VERP_NONE,      /* a plain feedback address, no token */
	SMTP_VERP_TRUSTED,   /* the signature verified */
	SMTP_VERP_UNTRUSTED, /* a token that is forged, altered or not ours */
	SMTP_VERP_UNCHECKED, /* a token, but no secret is configured */
};

struct smtp_rcpt {
	const char *address; /* as given, without "<>" */
	enum smtp_verp verp;
};

/* The envelope of one message.  Strings are never NULL. */
struct smtp_envelope {
	const char *session_id;        /* of the SMTP connection */
	const char *client;            /* IP address of the client */
	const char *helo;              /* HELO/EHLO argument, "" if none */
	const char *mail_from;         /* "" for the null sender <> */
	const struct smtp_rcpt *rcpts; /* accepted recipients, >= 1 */
	size_t n_rcpts;
	time_t received; /* when the last byte arrived */
	int smtputf8;    /* MAIL FROM ... SMTPUTF8 */
	int eightbit;    /* BODY=8BITMIME */
	int tls;         /* received over TLS (STARTTLS) */
	int untrusted;   /* a recipient is SMTP_VERP_UNTRUSTED */
};

/* ---- SMTP session (ingest/smtp_session.c) ------------------------------- */
/*
 * One SMTP connection as a pure state machine.  The caller feeds the
 * bytes the client sent and writes out the reply bytes the session
 * produced; the same bytes in give the same bytes out however they are
 * split.  Each session is used by one thread at a time.  Memory: a line
 * buffer of max_line bytes, the envelope, the message being received
 * (at most max_message bytes) and the pending replies (bounded: input
 * stops with SMTP_EV_WRITE until they are written).
 */

struct smtp_session;

/* What smtp_session_input() stopped for. */
enum smtp_event {
	/* Everything consumed: feed more bytes. */
	SMTP_EV_NEED_INPUT,
	/* Replies piled up: write them, then feed the rest of the input. */
	SMTP_EV_WRITE,
	/* A message is complete: take it, spool it, then call
	 * smtp_session_message_done(); feed nothing until then. */
	SMTP_EV_MESSAGE,
	/* Write the replies, then close. */
	SMTP_EV_CLOSE,
	/* STARTTLS was accepted: write the replies ("220"), drop the rest
	 * of the input (sent in the clear after STARTTLS), do the TLS
	 * handshake, then call smtp_session_tls_started() (or close). */
	SMTP_EV_STARTTLS,
};

/* One finished transaction (MAIL ... end), for the log line. */
struct smtp_txn {
	const struct smtp_envelope *env; /* rcpts: the accepted ones */
	size_t n_rejected;               /* recipients refused */
	uint64_t size;                   /* bytes of message received */
	const char *queue_id; /* NULL unless the message was queued */
	/* The final reply without CRLF, or why the transaction ended
	 * ("aborted: RSET"). */
	const char *result;
};
/* Called at the end of each transaction; t is borrowed for the call. */
typedef void smtp_txn_fn(const struct smtp_txn *t, void *ctx);
/* Longest line smtp_txn_format() writes (100 recipients would be long:
 * the list is cut with "...(+N)"). */
#define SMTP_TXN_LINE_MAX 2048
/* The log line of t: "smtp: session=... client=... helo=... from=<...>
 * rcpts=<...>,<...> rejected=N size=N queue=ID result="..." [tls=yes]", control
 * octets as '?', cut to outlen.  Pure. */
void smtp_txn_format(const struct smtp_txn *t, char *out, size_t outlen);

/*
 * A session for a client at client_ip (text), named session_id (both
 * copied).  cfg (defaults applied) is borrowed for the session's life.
 * The greeting is queued at once: "220" normally, or "421 4.7.0" and
 * SMTP_EV_CLOSE on the first input when refuse is non-zero (too many
 * connections).  txn_fn may be NULL.  Caller frees with
 * smtp_session_free().
 */
struct smtp_session *smtp_session_new(const struct smtp_config *cfg,
    const char *client_ip, const char *session_id, int refuse, time_t now,
    smtp_txn_fn *txn_fn, void *txn_ctx);
/* Frees *s and NULLs it; a transaction in progress is logged as
 * "aborted: lost connection".  Accepts NULL. */
void smtp_session_free(struct smtp_session **s);

/*
 * Feed len bytes (any content, NULs included).  Sets *used_r to the
 * bytes consumed: less than len only for SMTP_EV_WRITE, SMTP_EV_MESSAGE
 * (feed the rest later) and SMTP_EV_CLOSE (drop the rest).
 */
enum smtp_event smtp_session_input(struct smtp_session *s,
    const unsigned char *p, size_t len, time_t now, size_t *used_r);

/* Pending reply bytes, borrowed until the next call on s. */
const unsigned char *smtp_session_output(
    const struct smtp_session *s, size_t *len_r);
/* n of them were written. */
void smtp_session_output_consume(struct smtp_session *s, size_t n);
/* Non-zero once the session wants to be closed (after its output). */
int smtp_session_closing(const struct smtp_session *s);

/* After SMTP_EV_MESSAGE: the envelope, borrowed until message_done. */
const struct smtp_envelope *smtp_session_envelope(const struct smtp_session *s);
/* After SMTP_EV_MESSAGE: the message bytes (dot-unstuffed, CRLF line
 * ends).  Caller frees with free(). */
unsigned char *smtp_session_take_message(struct smtp_session *s, size_t *len_r);
/* The message is on disk as queue_id, or could not be stored (NULL):
 * queues "250 2.0.0" or "451 4.3.0" and ends the transaction. */
void smtp_session_message_done(
    struct smtp_session *s, const char *queue_id, time_t now);

/* After SMTP_EV_STARTTLS: the handshake succeeded; the session starts
 * over (RFC 3207 4.2: a new EHLO is due). */
void smtp_session_tls_started(struct smtp_session *s, time_t now);
/* Non-zero once TLS is up. */
int smtp_session_tls_active(const struct smtp_session *s);

/* Back-pressure flags, set before each smtp_session_input(). */
/* The pipeline is behind: MAIL and DATA get "451 4.3.1". */
#define SMTP_BUSY 0x1u
/* Memory is short: also, a message being received may take no more
 * memory; it is read to its end, dropped and refused with "451 4.3.1". */
#define SMTP_BUSY_MEMORY 0x2u
void smtp_session_set_busy(struct smtp_session *s, unsigned flags);
/* Bytes of message held by the session now. */
size_t smtp_session_memory(const struct smtp_session *s);
/* When the session times out (0: never, it waits for the spool). */
time_t smtp_session_deadline(const struct smtp_session *s);
/* The deadline passed: queues "421 4.4.2" and closes. */
void smtp_session_timeout(struct smtp_session *s);
/*
 * The server stops: an idle session gets "421 4.3.2" at once, a session
 * in a transaction may finish it first.  Returns non-zero when the
 * session is closing now.
 */
int smtp_session_shutdown(struct smtp_session *s);

/* ---- spool (ingest/spool.c) --------------------------------------------- */
/*
 * The durable queue between "250 OK" and the store, in one directory.
 * Group commit: a committer thread takes every message submitted since
 * its last round and writes them together as one segment file (each
 * message an envelope header and its bytes) under a temporary name,
 * fdatasyncs it, renames it and fsyncs the directory: one data sync and
 * one directory sync serve all sessions that finished at that moment;
 * only then is each message committed.  One pipeline thread hands committed
 * messages in batches to the deliver callback and deletes a segment once all
 * its messages were delivered. At open, segments left by a previous run are
 * delivered again (and temporary files, never acknowledged, removed): delivery
 * is at least once.  A lock file keeps a second process off the directory.
 */

/* "<16 hex digits>": time-ordered, so replay keeps arrival order. */
#define SPOOL_ID_SIZE 17

/* One message handed to the deliver callback. */
struct smtp_message {
	const char *queue_id;
	/* Its spool segment (which may hold other messages too). */
	const char *path;
	const unsigned char *data; /* the message, borrowed */
	size_t len;
	const struct smtp_envelope *env; /* borrowed */
};

/*
 * Store msgs[0..n) (n >= 1).  Called by the pipeline thread only, so ctx
 * needs no locking against itself.  Return 0 once every message is
 * stored for good (the spool files are then deleted); -1 with err set
 * when none is (the whole batch is retried after a back-off).  Storing
 * must be idempotent: after a crash a batch may be delivered again.
 */
typedef int smtp_deliver_fn(
    const struct smtp_message *msgs, size_t n, void *ctx, struct rb_error *err);

/*
 * Make durable what deliver stored (fsync a database's log), called by
 * the pipeline thread with the deliver ctx before segments whose
 * messages were all delivered are deleted: deliver's 0 then need only
 * mean "committed" (a process crash keeps it), and one sync serves
 * every batch of a segment.  0, or -1 with err set (the segments stay
 * and the sync is tried again later).
 */
typedef int spool_sync_fn(void *ctx, struct rb_error *err);
/* Called by the committer thread after each round (to wake a loop). */
typedef void spool_notify_fn(void *ctx);
/* One submitted message is committed (queue_id) or failed (NULL). */
typedef void spool_result_fn(void *tag, const char *queue_id, void *ctx);

struct spool_config {
	const char *dir; /* created (0700) if missing */
	smtp_deliver_fn *deliver;
	void *deliver_ctx;
	spool_sync_fn *sync;    /* NULL: deliver's 0 is durable already */
	unsigned deliver_batch; /* 0: SMTP_DEFAULT_DELIVER_BATCH */
	/* Bytes of queued messages kept in memory for the pipeline (the
	 * rest is read back from disk); 0: SMTP_DEFAULT_MAX_MEMORY / 4. */
	size_t max_memory;
	spool_notify_fn *notify; /* may be NULL */
	void *notify_ctx;
};

struct spool;

struct spool_stats {
	uint64_t committed;        /* messages written and fsync'd */
	uint64_t commit_failures;  /* messages that could not be written */
	uint64_t commit_rounds;    /* group commits (directory fsyncs) */
	uint64_t delivered;        /* messages delivered and deleted */
	uint64_t deliver_failures; /* failed callback calls */
	uint64_t replayed;         /* found at open */
	uint64_t backlog;          /* submitted, not yet delivered */
	uint64_t memory;           /* bytes waiting for the committer */
};

/*
 * Open the spool at cfg->dir, lock it, queue what a previous run left
 * and start the two threads.  Returns 0, or -1 with err set (the
 * directory cannot be made or locked).  Close with spool_close().
 */
int spool_open(const struct spool_config *cfg, struct spool **sp_r,
    struct rb_error *err) RB_WUR;
/*
 * Hand a complete message over (any thread; the envelope is copied, data
 * is taken and freed by the spool).  Its queue id is written to id_r at
 * once; the result comes later through spool_collect() with tag.
 */
void spool_submit(struct spool *sp, const struct smtp_envelope *env,
    unsigned char *data, size_t len, void *tag, char id_r[SPOOL_ID_SIZE]);
/* Call fn for each message committed or failed since the last call.
 * Returns how many. */
size_t spool_collect(struct spool *sp, spool_result_fn *fn, void *ctx);
/* At most n messages can come at once (the open connections): a round
 * waits briefly for them (SPOOL_GATHER_US) before its fsync.  Any
 * thread; 0 (the default) never waits. */
void spool_set_expected(struct spool *sp, unsigned n);
/* Counters, any thread. */
void spool_get_stats(struct spool *sp, struct spool_stats *st_r);
/*
 * Stop: commit what was submitted (results stay collectable until the
 * close), deliver what is queued for up to drain_ms milliseconds, stop
 * the threads and free *sp.  What was not delivered stays on disk for
 * the next open.  Accepts NULL.
 */
void spool_close(struct spool **sp, unsigned drain_ms);

/* ---- SMTP server (ingest/smtp_listener.c) ------------------------------- */
/*
 * The daemon core: listens on cfg->listen, runs the sessions in one
 * epoll thread (never blocking: disk work is the spool's threads), and
 * delivers every committed message to deliver from the spool's pipeline
 * thread.  Logs one line per transaction (client, sender, recipients,
 * size, result, queue id) at info level.  Signals are the caller's:
 * block or handle them, then call smtp_server_stop().
 *
 *	smtp_config_defaults(&cfg);  (optional)
 *	smtp_server_start(&cfg, deliver, ctx, &srv, &err);
 *	... wait for SIGTERM ...
 *	smtp_server_stop(&srv, SMTP_DEFAULT_STOP_TIMEOUT);
 */

struct smtp_server;

struct smtp_server_stats {
	uint64_t connections; /* accepted since start */
	uint64_t refused;     /* 421 for a connection limit */
	uint64_t active;      /* open now */
	uint64_t messages;    /* acknowledged with 250 */
	uint64_t timeouts;
	uint64_t tls; /* sessions that did STARTTLS */
	/* 4xx/5xx replies sent, by code: rejections[i] counts the i-th of
	 * SMTP_REJECT_CODES (smtp_reject_code), the last one any other. */
	uint64_t rejections[SMTP_N_REJECT_CODES + 1];
	struct spool_stats spool;
};
/* The code of rejections[i]; 0 for the last ("other"). */
unsigned smtp_reject_code(size_t i);

/*
 * Check cfg (a copy with defaults is kept; its strings stay borrowed),
 * open the spool (replaying it), bind every listen address and start
 * the threads.  Returns 0, or -1 with err set (bad address, address in
 * use, spool directory unusable); nothing is left running then.  The
 * server is stopped and freed with smtp_server_stop().  deliver may be
 * called (with messages of a previous run) before this returns.
 */
int smtp_server_start(const struct smtp_config *cfg, smtp_deliver_fn *deliver,
    void *ctx, struct smtp_server **srv_r, struct rb_error *err) RB_WUR;
/*
 * smtp_server_start() in two steps, for a daemon that binds port 25 as
 * root and then drops its privileges: smtp_server_listen() checks cfg
 * and binds (nothing runs yet; no file is touched); smtp_server_run()
 * opens the spool (replaying it) and starts the threads.  After either
 * fails, or to give up in between, free with smtp_server_stop().
 */
int smtp_server_listen(const struct smtp_config *cfg,
    struct smtp_server **srv_r, struct rb_error *err) RB_WUR;
int smtp_server_run(struct smtp_server *srv, smtp_deliver_fn *deliver,
    void *ctx, struct rb_error *err) RB_WUR;
/* The address listener i is bound to ("127.0.0.1:2525", "[::1]:2525"),
 * with the port chosen for port 0.  -1 when there is no listener i. */
int smtp_server_address(
    const struct smtp_server *srv, size_t i, char *out, size_t outlen);
/* Counters, any thread. */
void smtp_server_get_stats(
    struct smtp_server *srv, struct smtp_server_stats *st_r);
/*
 * Graceful stop: close the listeners, let sessions finish their
 * transaction for up to timeout seconds (then cut them), commit and
 * acknowledge what was received, deliver what is queued within the
 * same time, stop the threads and free *srv.  Accepts NULL.
 */
void smtp_server_stop(struct smtp_server **srv, unsigned timeout);

#endif
