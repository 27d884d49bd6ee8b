/*
 * store: the state of rebound in one SQLite database (WAL mode, foreign
 * keys on, schema versioned by PRAGMA user_version and migrated at open,
 * prepared statements only).  It keeps every feedback message once
 * (deduplicated, raw bytes compressed), its events per recipient, hourly
 * per-identity counters and sends, rates and alert transitions, and the
 * global and account-level suppression lists.
 *
 * A handle is used by one thread at a time.  An ingest runs its own
 * worker threads (classification) and writes from one committer thread
 * in input order, one transaction per batch of new messages; the handle
 * must not be used otherwise until store_ingest_end().
 *
 * Every function that changes state takes `now`, so callers (and tests)
 * own the clock.  Errors of the environment (disk full, locked, corrupt
 * database) are -1 with err set; a malformed address is -1 with err
 * saying so.  Callbacks get borrowed strings, valid during the call; a
 * callback returning -1 stops the walk (the function then returns 0).
 */
#ifndef REBOUND_STORE_H
#define REBOUND_STORE_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "classify/classify.h"
#include "core/core.h"

/* The schema this code writes; older databases are migrated at open. */
#define STORE_SCHEMA_VERSION 6
/* RFC 5321 4.5.3.1: 64 octets of local part, 255 of domain, the "@". */
#define STORE_MAX_ADDRESS 321
/* An identity is a domain or an address. */
#define STORE_MAX_IDENTITY STORE_MAX_ADDRESS
/* Account (tenant) names come from the config; short by design. */
#define STORE_MAX_ACCOUNT 128
/* Classifier threads of one ingest (store.workers = auto caps here). */
#define STORE_MAX_WORKERS 8
/* New messages per transaction: above this a crash loses too much work
 * and the WAL grows past any use. */
#define STORE_MAX_BATCH 100000

struct store;

/*
 * Open (creating if needed) the database named by store.db of cfg and
 * migrate it to STORE_SCHEMA_VERSION.  Every setting of the store is
 * read from cfg now; cfg may be freed afterwards.  Returns 0 or -1 (bad
 * setting, unreadable file, a schema newer than this program).  Caller
 * closes with store_close().
 */
int store_open(
    const struct config *cfg, struct store **st_r, struct rb_error *err) RB_WUR;
void store_close(struct store **st);
/* The database file name; borrowed until store_close. */
const char *store_path(const struct store *st);
/* PRAGMA user_version of the open database. */
int store_schema_version(
    struct store *st, int *version_r, struct rb_error *err) RB_WUR;
/* PRAGMA integrity_check and foreign_key_check: 0 when both are clean. */
int store_check(struct store *st, struct rb_error *err) RB_WUR;

/* ---- ingest ------------------------------------------------------------ */

/* Where a message came from, for rebound.source and attribution. */
struct store_source {
	const char *file;        /* path, or NULL */
	long index;              /* position in an mbox, or -1 */
	const char *via;         /* "file", "smtp", "http", "bench" */
	const char *envelope_to; /* SMTP RCPT TO of the feedback, or NULL */
};

/* What an ingest did.  Event counts are per recipient row. */
struct store_ingest_summary {
	uint64_t messages;   /* fed */
	uint64_t stored;     /* new messages kept */
	uint64_t duplicates; /* seen before (dedupe key), nothing changed */
	uint64_t events[CLASSIFY_EVENT_NOT_FEEDBACK + 1]; /* by type */
	uint64_t hard, soft, undetermined; /* bounce rows by bounceType */
	uint64_t unattributed;             /* feedback with no identity */
	uint64_t untrusted;    /* a token with a bad signature, or a report
	                          for another recipient than its token's */
	uint64_t unclassified; /* queued for review */
	uint64_t suppressed;   /* suppression rows added or renewed */
	uint64_t suppressed_account; /* of those, account-level entries */
	uint64_t alerts;             /* alert transitions */
	uint64_t errors;             /* fed, but not stored after a failure */
};

struct store_ingest;

/*
 * Start an ingest: messages are classified with rules (borrowed until
 * store_ingest_end) at time now.  Returns 0 or -1.
 */
int store_ingest_begin(struct store *st, const struct classify_rules *rules,
    time_t now, struct store_ingest **ing_r, struct rb_error *err) RB_WUR;
/*
 * Hand one message over.  The bytes are copied; memory stays bounded (a
 * full queue makes this wait).  Returns 0, or -1 once the store failed
 * (err set; stop feeding and call store_ingest_end).
 */
int store_ingest_feed(struct store_ingest *ing, const unsigned char *msg,
    size_t len, const struct store_source *src, struct rb_error *err) RB_WUR;
/*
 * Wait until every message fed so far is applied and commit the open
 * batch, whatever its size: a daemon calls this before it forgets its
 * own copy of the messages (an SMTP spool segment), so that nothing it
 * acknowledged exists only in memory.  Call from the feeding thread.
 * Returns 0, or -1 with err set once the store failed.
 */
int store_ingest_flush(struct store_ingest *ing, struct rb_error *err) RB_WUR;
/* Messages fully handled so far (for a progress display; any thread). */
uint64_t store_ingest_done(struct store_ingest *ing);
/*
 * Finish: wait for the queue, commit the last batch, stop the threads
 * and free *ing (always).  Fills *sum_r (also on failure: what was
 * committed).  Returns 0, or -1 with err set for the first failure.
 */
int store_ingest_end(struct store_ingest **ing,
    struct store_ingest_summary *sum_r, struct rb_error *err) RB_WUR;

/* ---- stored events, raw messages, review queue ------------------------- */

struct store_event {
	int64_t id;
	int64_t message_id;
	time_t time;
	const char *identity; /* NULL: unattributed */
	const char *type;     /* SES eventType */
	const char *reason;
	const char *bounce_type;
	const char *recipient;
	const char *status;
	int trusted;
	const char *json; /* the SES-shaped event */
};
typedef int store_event_fn(const struct store_event *ev, void *ctx);
/* Calls fn for event id.  Returns 1 found, 0 not found, -1 error. */
int store_event_get(struct store *st, int64_t id, store_event_fn *fn, void *ctx,
    struct rb_error *err) RB_WUR;

/*
 * The raw feedback message of an event (by_event != 0) or of a stored
 * message.  Returns 1 with *data_r (caller frees with free()) and
 * *len_r, 0 when there is none (unknown id or pruned), -1 on error.
 */
int store_raw_get(struct store *st, int64_t id, int by_event,
    unsigned char **data_r, size_t *len_r, struct rb_error *err) RB_WUR;

struct store_review {
	int64_t id;
	int64_t message_id;
	time_t time;
	const char *why;     /* not-feedback, reason-undefined, no-recipient */
	const char *subject; /* of the feedback message, or NULL */
	const char *from;
	const char *source;
	const char *json; /* what the classifier made of it */
};
typedef int store_review_fn(const struct store_review *r, void *ctx);
/* Newest first, at most limit (0: all). */
int store_review_list(struct store *st, uint64_t limit, store_review_fn *fn,
    void *ctx, struct rb_error *err) RB_WUR;
/* Returns 1 found (fn called), 0 not found, -1 error. */
int store_review_get(struct store *st, int64_t id, store_review_fn *fn,
    void *ctx, struct rb_error *err) RB_WUR;

/* ---- sends, rates, alerts ---------------------------------------------- */

/*
 * Normalise an identity given by a user or a send event: a domain, or
 * an address (lower case, "Name <a@b>" accepted).  With the default
 * identity.mode = domain an address becomes its domain unless it is
 * listed in identity.addresses.  -1 when it is neither.
 */
int store_identity_normalize(const struct store *st, const char *in, char *out,
    size_t outlen, struct rb_error *err) RB_WUR;

/* Add count sends of identity at time `at` (hour bucket). */
int store_sends_add(struct store *st, const char *identity, uint64_t count,
    time_t at, time_t now, struct rb_error *err) RB_WUR;

struct store_import_summary {
	uint64_t lines;
	uint64_t imported; /* sends counted, or addresses imported */
	uint64_t skipped;  /* lines that were not of the kind imported */
};
/*
 * JSON lines of SES Send events (eventType "Send"; mail.source gives the
 * identity, mail.timestamp the hour, mail.destination the count).  Other
 * event types are skipped; a line that is not JSON fails the import
 * (nothing is kept), err naming the line.  One transaction.
 */
int store_sends_import(struct store *st, FILE *fp, const char *name, time_t now,
    struct store_import_summary *sum_r, struct rb_error *err) RB_WUR;

enum store_status { STORE_OK, STORE_WARNING, STORE_CRITICAL };
const char *store_status_name(enum store_status s);

/* A row of a breakdown (by reason or by mailbox provider). */
struct store_breakdown {
	const char *name;
	uint64_t hard, soft, undetermined, complaints, total;
};

struct store_identity_stats {
	const char *identity;
	uint64_t sends;
	uint64_t hard, soft, undetermined; /* bounces by bounceType */
	uint64_t complaints; /* not-spam and unsubscribes excluded */
	uint64_t not_spam, auto_replies, deliveries, delays, untrusted;
	uint64_t unsubscribes; /* opt-out reports (one-click unsubscribes) */
	double bounce_rate;    /* hard / sends; 0 without sends */
	double complaint_rate; /* complaints / sends */
	enum store_status bounce_status, complaint_status, status;
	int low_volume; /* sends < rates.min_sends: status stays ok */
	const struct store_breakdown *reasons;
	size_t n_reasons;
	const struct store_breakdown *providers;
	size_t n_providers;
};
typedef int store_stats_fn(const struct store_identity_stats *s, void *ctx);
/* Nothing counted: no sends and no feedback of any kind. */
int store_stats_empty(const struct store_identity_stats *s);

struct store_thresholds {
	uint64_t window; /* seconds */
	uint64_t min_sends;
	double bounce_warning, bounce_critical;
	double complaint_warning, complaint_critical;
};
/* The thresholds in effect (from the config). */
void store_thresholds(const struct store *st, struct store_thresholds *t_r);

/*
 * Rates of identity (NULL: every identity with sends or feedback in the
 * window), over the window ending at now (window 0: rates.window), in
 * identity order.  The window is whole hours: the current one and
 * those before it.
 */
int store_stats(struct store *st, const char *identity, time_t now,
    uint64_t window, store_stats_fn *fn, void *ctx,
    struct rb_error *err) RB_WUR;

/* Feedback of the window that rates do not count. */
struct store_totals {
	uint64_t unattributed; /* event rows without identity */
	uint64_t untrusted;    /* event rows not trusted (attribution) */
	uint64_t review;       /* messages queued for review */
};
int store_totals(struct store *st, time_t now, uint64_t window,
    struct store_totals *t_r, struct rb_error *err) RB_WUR;

struct store_alert {
	int64_t id;
	time_t time;
	const char *identity;
	const char *metric; /* "bounce" or "complaint" */
	enum store_status from, to;
	double value;     /* the rate that made the transition */
	double threshold; /* the threshold crossed (of `to`, or of `from`
	                     when going down) */
	uint64_t sends;   /* sends in the window */
};
typedef int store_alert_fn(const struct store_alert *a, void *ctx);
/*
 * Re-evaluate the state of every identity at now (a window moves on even
 * without new feedback) and record the transitions.  *n_r: how many.
 */
int store_alerts_evaluate(
    struct store *st, time_t now, uint64_t *n_r, struct rb_error *err) RB_WUR;
/* Transitions, newest first, of identity (NULL: all); limit 0: all. */
int store_alerts_list(struct store *st, const char *identity, uint64_t limit,
    store_alert_fn *fn, void *ctx, struct rb_error *err) RB_WUR;

/* ---- suppression ------------------------------------------------------- */

enum store_list { STORE_LIST_GLOBAL, STORE_LIST_ACCOUNT };

struct store_suppression {
	enum store_list list;
	const char *address;
	const char *account; /* NULL for the global list */
	const char *reason;  /* "BOUNCE" or "COMPLAINT" */
	const char *detail;  /* global: the bounce reason; account: origin */
	time_t since;
	time_t until;     /* 0: until removed (account list) */
	unsigned strikes; /* global: suppressions so far */
	int64_t event_id; /* the event that suppressed, or 0 */
};
typedef int store_suppression_fn(const struct store_suppression *s, void *ctx);

/*
 * Normalise an address as the lists compare it: domain in lower case,
 * local part per suppression.local_part; "<a@b>" accepted.  -1 with err
 * saying what is wrong when it is not an address.
 */
int store_address_normalize(const struct store *st, const char *in, char *out,
    size_t outlen, struct rb_error *err) RB_WUR;
/* The account of an identity (config [accounts], else account.default);
 * identity NULL gives the default account.  Borrowed from st. */
const char *store_account_of(const struct store *st, const char *identity);

/*
 * Is address suppressed at now: fn is called for each entry that
 * suppresses it (the global one if unexpired, the account-level one of
 * account; account NULL: any account).  *suppressed_r 1 or 0.
 */
int store_suppression_check(struct store *st, const char *address,
    const char *account, time_t now, store_suppression_fn *fn, void *ctx,
    int *suppressed_r, struct rb_error *err) RB_WUR;
/* Add address to the account-level list of account with reason
 * "BOUNCE" or "COMPLAINT" (a row already there is updated). */
int store_suppression_add(struct store *st, const char *account,
    const char *address, const char *reason, time_t now,
    struct rb_error *err) RB_WUR;
/*
 * Remove address from the account-level list of account (NULL: all
 * accounts) and end its global suppression (the row is kept, expired,
 * so a later hard bounce still escalates).  *removed_r: entries ended.
 */
int store_suppression_remove(struct store *st, const char *account,
    const char *address, time_t now, unsigned *removed_r,
    struct rb_error *err) RB_WUR;
/* Entries in force at now; reason NULL or "BOUNCE"/"COMPLAINT";
 * account NULL: all accounts.  Global entries first, by address. */
int store_suppression_list(struct store *st, const char *account,
    const char *reason, time_t now, store_suppression_fn *fn, void *ctx,
    struct rb_error *err) RB_WUR;

enum store_format { STORE_FORMAT_JSONL, STORE_FORMAT_CSV };
/* Write the entries in force (store_suppression_list) to fp. */
int store_suppression_export(struct store *st, FILE *fp, enum store_format fmt,
    time_t now, uint64_t *n_r, struct rb_error *err) RB_WUR;
/*
 * Read entries (the export formats; "address" and "reason" are needed,
 * "list", "account", "since" and "until" are optional; the account
 * defaults to account) and add them in one transaction.  Any bad line
 * fails the whole import, err naming the line.
 */
int store_suppression_import(struct store *st, FILE *fp, const char *name,
    enum store_format fmt, const char *account, time_t now,
    struct store_import_summary *sum_r, struct rb_error *err) RB_WUR;

/* ---- queries of the HTTP API (query.c) ---------------------------------- */

/*
 * Process-wide settings of SQLite for a server with many threads; call
 * once, before any other store function (later it does nothing).
 */
void store_global_init(void);

/*
 * A handle for reading only (PRAGMA query_only; a write fails), for
 * servers: one per thread, beside the one writer (WAL lets readers run
 * while it commits).  As store_open otherwise.
 */
int store_open_reader(
    const struct config *cfg, struct store **st_r, struct rb_error *err) RB_WUR;
/*
 * Group the reads of a reader handle into one read transaction (one
 * snapshot, one lock of the WAL index instead of one per query) until
 * store_read_end.  Reader handles only (store_open_reader).
 */
int store_read_begin(struct store *st, struct rb_error *err) RB_WUR;
void store_read_end(struct store *st);
/*
 * A number that changes whenever another connection (of this process or
 * another) commits to the database: equal values mean nothing changed
 * in between, so an answer computed from it still holds.  Outside a
 * read transaction of st.
 */
int store_data_version(
    struct store *st, uint64_t *v_r, struct rb_error *err) RB_WUR;
/* Did the last failure on st come from the database being locked or
 * busy beyond store.busy_timeout (worth retrying later)? */
int store_error_busy(struct store *st);
/* Run a trivial query: 0 when the database answers, -1 with err. */
int store_ping(struct store *st, struct rb_error *err) RB_WUR;

/* Rows per call of the paged queries below, at most. */
#define STORE_MAX_PAGE 10000
/* Keys examined per paged call at most, whatever the filters, so that a
 * rare filter over a big table costs bounded time: the call then ends
 * early with *more_r set and the position reached. */
#define STORE_MAX_SCAN 200000

/*
 * Has identity (normalised) ever had sends or feedback (a counters
 * row)?  1, 0, or -1 on error.
 */
int store_identity_known(
    struct store *st, const char *identity, struct rb_error *err) RB_WUR;

/*
 * Identities with sends or feedback in the window ending at now (window
 * 0: rates.window), by name, after `after` (NULL: from the start), with
 * status `status` (-1: any), at most limit; stats without breakdowns.
 * *more_r is 1 when there may be more, and then last_r (size
 * STORE_MAX_IDENTITY) holds the position to go on after (the last
 * identity examined, which need not be the last one given to fn).
 */
int store_identities_page(struct store *st, time_t now, uint64_t window,
    int status, const char *after, size_t limit, store_stats_fn *fn, void *ctx,
    int *more_r, char *last_r, struct rb_error *err) RB_WUR;

/*
 * The same ranked, worst first: by key descending, ties by name, after
 * the position (after_value, after) when after is not NULL; at most
 * limit to fn.  The window's identities are all summed (one pass over
 * their counters rows), a page kept in memory.  *more_r is 1 when more
 * follow, and then *last_value_r and last_r (size STORE_MAX_IDENTITY)
 * hold the position of the last one given.
 */
enum store_rank {
	STORE_RANK_BOUNCE_RATE,
	STORE_RANK_COMPLAINT_RATE,
	STORE_RANK_SENDS
};
int store_identities_ranked(struct store *st, time_t now, uint64_t window,
    int status, enum store_rank key, double after_value, const char *after,
    size_t limit, store_stats_fn *fn, void *ctx, int *more_r,
    double *last_value_r, char *last_r, struct rb_error *err) RB_WUR;

/* The counters of one hour of one identity. */
struct store_hour {
	int64_t hour; /* unix time / 3600 */
	uint64_t sends, hard, soft, undetermined, complaints, not_spam;
	uint64_t auto_replies, deliveries, delays, untrusted;
};
typedef int store_hour_fn(const struct store_hour *h, void *ctx);
/* The hours of identity (normalised) in [h0, h1] that have counters,
 * in order. */
int store_hours(struct store *st, const char *identity, int64_t h0, int64_t h1,
    store_hour_fn *fn, void *ctx, struct rb_error *err) RB_WUR;

/*
 * Alerts in force: identity/metric pairs not in ok, by identity and
 * metric, after (after_identity, after_metric) (NULL: from the start),
 * of identity only (NULL: all), at most limit.  fn gets the transition
 * into the current state (id, time = since, value, threshold, sends;
 * from/to of that transition); *more_r as above.
 */
int store_alerts_active(struct store *st, const char *identity,
    const char *after_identity, const char *after_metric, size_t limit,
    store_alert_fn *fn, void *ctx, int *more_r, struct rb_error *err) RB_WUR;
/* Transitions newest first with id < before (0: from the newest). */
int store_alerts_page(struct store *st, const char *identity, int64_t before,
    size_t limit, store_alert_fn *fn, void *ctx, int *more_r,
    struct rb_error *err) RB_WUR;

struct store_suppression_filter {
	int list;            /* -1 both, else enum store_list */
	const char *account; /* account-level entries of it only, or NULL */
	const char *reason;  /* "BOUNCE", "COMPLAINT" or NULL */
	time_t from, to;     /* since in [from, to); 0: unbounded */
};
/* A position in the listing: the last entry given. */
struct store_suppression_pos {
	enum store_list list;
	char account[STORE_MAX_ACCOUNT];
	char address[STORE_MAX_ADDRESS];
};
/*
 * Entries in force at now matching f, global ones first (by address),
 * then account-level ones (by account, address), after *after (NULL:
 * from the start), at most limit.  *more_r as above; *pos_r is the
 * position to go on after.
 */
int store_suppression_page(struct store *st,
    const struct store_suppression_filter *f, time_t now,
    const struct store_suppression_pos *after, size_t limit,
    store_suppression_fn *fn, void *ctx, int *more_r,
    struct store_suppression_pos *pos_r, struct rb_error *err) RB_WUR;

struct store_event_filter {
	const char *identity;  /* normalised, or NULL */
	const char *type;      /* SES eventType, or NULL */
	const char *recipient; /* normalised address, or NULL */
	time_t since, until;   /* event time in [since, until); 0: unbounded */
};
/* A position: the (time, id) of the last event given. */
struct store_event_pos {
	time_t time;
	int64_t id;
};
/*
 * Events matching f, newest first (time, then id, descending), after
 * *after (NULL: from the newest), at most limit.  *more_r and *pos_r as
 * above.
 */
int store_events_page(struct store *st, const struct store_event_filter *f,
    const struct store_event_pos *after, size_t limit, store_event_fn *fn,
    void *ctx, int *more_r, struct store_event_pos *pos_r,
    struct rb_error *err) RB_WUR;

/*
 * The events of a stored feedback message, found by its content (the
 * dedupe key of store_ingest), in id order.  Returns 1 when the message
 * is stored (fn called for each of its events, maybe none), 0 when it
 * is not, -1 on error.
 */
int store_message_events(struct store *st, const unsigned char *msg, size_t len,
    store_event_fn *fn, void *ctx, struct rb_error *err) RB_WUR;

/* Sends of one identity in the hour of `at`. */
struct store_send {
	const char *identity;
	uint64_t count;
	time_t at;
};
/*
 * Add n send counts in one transaction (all or none) and re-evaluate
 * the alerts of their identities at now.  A bad item (identity, count)
 * fails the call with *bad_r its index.
 */
int store_sends_add_many(struct store *st, const struct store_send *v, size_t n,
    time_t now, size_t *bad_r, struct rb_error *err) RB_WUR;

/* Counts of events (one call per type, reason pair). */
typedef void store_count_fn(
    const char *type, const char *reason, uint64_t n, void *ctx);
/*
 * Events stored with an id above *after_r: fn gets the counts by type
 * and reason ("" for none), *unattributed_r and *untrusted_r are added
 * to, and *after_r moves to the newest id counted.  For counters since
 * a start: set *after_r with store_events_last_id first.
 */
int store_events_count_since(struct store *st, int64_t *after_r,
    store_count_fn *fn, void *ctx, uint64_t *unattributed_r,
    uint64_t *untrusted_r, struct rb_error *err) RB_WUR;
int store_events_last_id(
    struct store *st, int64_t *id_r, struct rb_error *err) RB_WUR;

struct store_overview {
	uint64_t global;       /* global entries in force */
	uint64_t account;      /* account-level entries */
	uint64_t identities;   /* with sends or feedback in the window */
	uint64_t alerts[2][3]; /* [bounce, complaint][enum store_status] */
};
/*
 * Totals for monitoring at now, and the `top` identities with most
 * sends in the window (window 0: rates.window) to fn (stats without
 * breakdowns), most sends first.
 */
int store_overview(struct store *st, time_t now, uint64_t window, size_t top,
    struct store_overview *o_r, store_stats_fn *fn, void *ctx,
    struct rb_error *err) RB_WUR;

/* ---- retention --------------------------------------------------------- */

struct store_prune_summary {
	uint64_t raw;         /* raw messages past retention.raw */
	uint64_t messages;    /* messages (and their events) past
	                         retention.events */
	uint64_t suppression; /* expired global entries past
	                         suppression.forget */
	uint64_t transactions;
};
/* Delete what is past retention at now, retention.prune_batch rows per
 * transaction. */
int store_prune(struct store *st, time_t now, struct store_prune_summary *r,
    struct rb_error *err) RB_WUR;

/* ---- Kafka: outbox and consumed offsets (outbox.c) --------------------- */

/*
 * With kafka.enabled every stored event, every change of a suppression
 * list and every alert transition adds an outbox row in the transaction
 * that makes it; the publisher reads the rows in id order, produces
 * them and removes them once the brokers acknowledged them.  Each
 * event's JSON carries rebound.eventId: the first 16 bytes of its
 * message's dedupe key in hex, "-", the row's index in the message, so
 * the same feedback gives the same id in any database, on any
 * re-delivery.
 */
enum store_topic {
	STORE_TOPIC_EVENTS,      /* key identity, value the event JSON */
	STORE_TOPIC_SUPPRESSION, /* key address, value its entries */
	STORE_TOPIC_ALERTS       /* key identity, value the transition */
};
#define STORE_N_TOPICS 3
/* "events", "suppression", "alerts". */
const char *store_topic_name(enum store_topic t);

struct store_outbox_msg {
	int64_t id; /* of the outbox row; increasing */
	enum store_topic topic;
	time_t created;
	const char *key; /* NULL: none (unattributed event) */
	size_t key_len;
	const char *value; /* NULL: a tombstone (suppression) */
	size_t value_len;
	int gone; /* its event or alert was pruned: nothing to publish */
};
/* Borrowed strings, valid during the call; -1 stops the walk before
 * this row (it is read again next time). */
typedef int store_outbox_fn(const struct store_outbox_msg *m, void *ctx);

/*
 * Call fn for at most limit outbox rows with id > after, in id order.
 * A suppression row's value is built at now from the lists as they are
 * then: {emailAddress, list, reason, lastUpdateTime, expiresAt} of the
 * address's first entry in force (global before account, accounts by
 * name) and "entries", all of them; no entry in force: a tombstone.
 * Returns the number of rows walked, or -1.
 */
int store_outbox_read(struct store *st, int64_t after, size_t limit, time_t now,
    store_outbox_fn *fn, void *ctx, struct rb_error *err) RB_WUR;
/* Remove the rows with id <= upto (delivered), waiting at most wait_ms
 * for the write lock (0: store.busy_timeout).  0 done, 1 the lock was
 * busy that long (nothing done: try later), or -1. */
int store_outbox_done(struct store *st, int64_t upto, unsigned wait_ms,
    struct rb_error *err) RB_WUR;
/*
 * Add an outbox row for each global entry that expired since the last
 * sweep (by time, so nothing else would tell the compacted topic).  The
 * first sweep of a database only sets the mark: what expired before was
 * published after its expiry (values are built at read time).  *n_r:
 * rows added (may be NULL).
 */
int store_outbox_sweep(
    struct store *st, time_t now, uint64_t *n_r, struct rb_error *err) RB_WUR;

struct store_outbox_stats {
	uint64_t depth; /* rows not yet delivered */
	uint64_t by_topic[STORE_N_TOPICS];
	time_t oldest;            /* created of the oldest row; 0: empty */
	int64_t last_id;          /* highest outbox id given so far */
	time_t swept;             /* last expiry sweep; 0: never */
	uint64_t sends_records;   /* send records consumed so far */
	uint64_t sends_malformed; /* of them, skipped as malformed */
};
/* The state of the outbox (for rebound status and /metrics). */
int store_outbox_stats(struct store *st, struct store_outbox_stats *r,
    struct rb_error *err) RB_WUR;

/* One record of the sends topic. */
struct store_send_record {
	int32_t partition;
	int64_t offset;
	const char *data; /* an SES Send event (JSON), not NUL-terminated */
	size_t len;
};
struct store_consume_summary {
	uint64_t records;  /* handed over */
	uint64_t sends;    /* sends counted */
	uint64_t replayed; /* offset already counted before: ignored */
	uint64_t skipped;  /* other event types */
	uint64_t malformed;
};
/* A malformed record: why, borrowed during the call. */
typedef void store_malformed_fn(
    const struct store_send_record *r, const char *why, void *ctx);
/*
 * Count n records of topic as store_sends_import counts a line, and
 * store the next offset of each partition, in one transaction: a record
 * at an offset below the one stored for its partition was counted
 * before and changes nothing.  A malformed record (not JSON, a Send
 * without mail.source, a bad time or identity) is skipped, counted and
 * told to bad (may be NULL).  Alerts of the identities are evaluated.
 * Returns 0, or -1 on a database error (nothing of the call is kept).
 */
int store_sends_consume(struct store *st, const char *topic,
    const struct store_send_record *recs, size_t n, time_t now,
    store_malformed_fn *bad, void *ctx, struct store_consume_summary *sum_r,
    struct rb_error *err) RB_WUR;
/* fn for each partition of topic (NULL: all topics) with the next offset
 * to consume, in partition order. */
typedef int store_offset_fn(
    const char *topic, int32_t partition, int64_t next, void *ctx);
int store_sends_offsets(struct store *st, const char *topic,
    store_offset_fn *fn, void *ctx, struct rb_error *err) RB_WUR;

#endif
