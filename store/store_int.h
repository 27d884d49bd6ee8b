/*
 * store internals shared by the files of store/ (not a public header:
 * nothing outside store/ includes it).  The settings read from the
 * config at open, the prepared-statement cache, and the "item": one
 * feedback message on its way from the classifier threads (prep.c, no
 * database writes) to the committer (apply.c, all writes).
 */
#ifndef REBOUND_STORE_INT_H
#define REBOUND_STORE_INT_H

#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"

/* WAL pages between checkpoints (store.c, ckpt.c). */
#define STORE_WAL_CHECKPOINT_PAGES 8192
/* WAL pages past which the committer waits for the checkpointer thread
 * and finishes its work (ckpt.c): the thread fell behind.  128 MiB at
 * 8 KiB pages. */
#define STORE_WAL_MAX_PAGES (2 * STORE_WAL_CHECKPOINT_PAGES)
/* SHA-256 digest: the dedupe key of a message. */
#define STORE_KEY_LEN 32
/* "path#index" kept as the source of a message. */
#define STORE_MAX_SOURCE 1024
/* Identities listed in identity.addresses. */
#define STORE_MAX_ID_ADDRESSES 10000

struct account_map {
	char *identity;
	char *account;
};

/* The settings of config, parsed once at store_open(). */
struct store_conf {
	uint64_t batch_size;
	uint64_t busy_ms;
	unsigned workers;
	int compress;
	uint64_t raw_keep, events_keep, prune_batch;
	int address_identities; /* identity.mode = address */
	char **id_addresses;    /* sorted, for bsearch */
	size_t n_id_addresses;
	char *default_account;
	struct account_map *accounts; /* sorted by identity */
	size_t n_accounts;
	struct store_thresholds th;
	uint64_t supp_ttl, supp_max_ttl, supp_factor, supp_forget;
	int local_sensitive;
	int auto_bounce, auto_complaint;
	char *providers_path;
	char *verp_secret;
	struct geo_db *geo; /* NULL: no GeoIP database configured */
	int outbox;         /* kafka.enabled: write outbox rows */
};

enum stmt_id {
	STMT_MSG_INSERT,
	STMT_RAW_INSERT,
	STMT_EVENT_INSERT,
	STMT_COUNTER_ADD,
	STMT_REVIEW_INSERT,
	STMT_GLOBAL_SUPPRESS,
	STMT_GLOBAL_PUT,
	STMT_ACCOUNT_AUTO,
	STMT_ACCOUNT_PUT,
	STMT_WINDOW_SUM,
	STMT_ALERT_STATE_GET,
	STMT_ALERT_STATE_PUT,
	STMT_ALERT_INSERT,
	STMT_SENDS_ADD,
	STMT_OUTBOX_ADD,
	STMT_COUNT
};

struct providers;

struct store {
	sqlite3 *db;
	char *path;
	struct store_conf conf;
	sqlite3_stmt *stmts[STMT_COUNT];
	struct providers *providers;
	int in_tx;
	int ingesting;
	struct query_cache *qcache; /* query.c: statements by SQL text */
	/* The busy handler (store.c): when the wait for a lock began, and
	 * how long it may last (0: store.busy_timeout). */
	struct timespec busy_since;
	uint64_t busy_limit_ms;
};

/* store.c */
/* The cached statement id, reset and unbound; NULL with err set. */
sqlite3_stmt *store_stmt(
    struct store *st, enum stmt_id id, struct rb_error *err);
/* err from the connection's last error: "PATH: WHAT: sqlite message". */
int store_db_error(struct store *st, const char *what, struct rb_error *err);
int store_begin(struct store *st, struct rb_error *err) RB_WUR;
int store_commit(struct store *st, struct rb_error *err) RB_WUR;
void store_rollback(struct store *st);
/* Run SQL without results (no user data in it). */
int store_exec(struct store *st, const char *sql, struct rb_error *err) RB_WUR;
/* Bind helpers: NULL and "" are bound as SQL NULL by bind_text_null. */
int bind_text(sqlite3_stmt *s, int i, const char *v);
int bind_text_null(sqlite3_stmt *s, int i, const char *v);
/* Column text or NULL. */
const char *col_text(sqlite3_stmt *s, int i);
/*
 * One line of fp, without its LF (or CRLF), into *line (grown, NUL
 * terminated, *cap its size), never more than max bytes: a line is read
 * with bounded memory whatever the file.  Returns 1 a line (*len_r its
 * length), 0 end of file, -1 a line longer than max, -2 a NUL byte in it
 * (not text); a read error shows in ferror(fp).
 */
int store_getline(
    FILE *fp, char **line, size_t *cap, size_t max, size_t *len_r) RB_WUR;
/* err for a store_getline() result got < 0 at line lineno of name. */
int store_line_error(struct rb_error *err, const char *name, uint64_t lineno,
    int got, size_t max);

/* query.c: a cache of prepared statements keyed by the address of their
 * SQL text (a static string), for read queries on hot paths.  The
 * statement comes back reset; the caller resets it again when done, at
 * once (an unreset statement keeps a read transaction open, which holds
 * back WAL checkpoints).  NULL with err set.  Not re-entrant for the
 * same SQL (a callback must not run the same query). */
sqlite3_stmt *query_stmt(
    struct store *st, const char *sql, struct rb_error *err);
void query_cache_free(struct store *st);
/* An events row (columns id, message_id, time, identity, type, reason,
 * bounce_type, recipient, status, trusted, json) into *ev. */
void query_event_row(sqlite3_stmt *s, struct store_event *ev);

/* migrate.c */
int migrate_run(sqlite3 *db, const char *path, struct rb_error *err) RB_WUR;
int migrate_latest(void);

/* dedupe.c: SHA-256 of msg from its first non-trace header, CRLF as LF. */
void dedupe_key(
    const unsigned char *msg, size_t len, unsigned char key_r[STORE_KEY_LEN]);

/* address.c */
int address_normalize(const char *in, int local_sensitive, char *out,
    size_t outlen, struct rb_error *err) RB_WUR;
/* The lower-case domain of a normalised address (after the last '@'). */
const char *address_domain(const char *addr);
/* Identity of a sender address per the identity settings; "" if none. */
void address_identity(
    const struct store_conf *conf, const char *addr, char *out, size_t outlen);
const char *conf_account_of(
    const struct store_conf *conf, const char *identity);

/* providers.c */
int providers_load(
    const char *path, struct providers **p_r, struct rb_error *err) RB_WUR;
void providers_free(struct providers **p);
/* "Gmail", "Microsoft", ... or "Other"; never NULL. */
const char *providers_lookup(const struct providers *p, const char *domain);
/* Hex SHA-256 of the table's entries (p NULL: "none"), what the
 * breakdown counts were made with; borrowed while p lives. */
#define PROVIDERS_FINGERPRINT_LEN 64
const char *providers_fingerprint(const struct providers *p);

/* raw.c: raw_messages.encoding values, and LZ4 compression. */
enum raw_encoding { RAW_AS_IS = 0, RAW_DEFLATE = 1, RAW_LZ4 = 2 };
struct raw_compressor;
struct raw_compressor *raw_compressor_new(void);
void raw_compressor_free(struct raw_compressor **c);
/* Compress in into *out (grown as needed, *cap its size); *out_len is
 * the compressed size.  0, or -1 when it cannot be compressed. */
int raw_compress(struct raw_compressor *c, const unsigned char *in, size_t len,
    unsigned char **out, size_t *cap, size_t *out_len) RB_WUR;

/* Known identities (with sends), for ENVID/Feedback-ID attribution. */
struct idset;
struct idset *idset_load(
    sqlite3 *db, const struct store_conf *conf, struct rb_error *err);
void idset_free(struct idset **s);

/* attrib.c */
struct attrib_result {
	char identity[STORE_MAX_IDENTITY]; /* "" when none */
	const char *attribution; /* verp, envid, feedback-id, headers, none */
	int trusted;             /* no token with a bad signature */
	/* The recipient hash of a valid token, "" without one. */
	char rcpt_hash[CLASSIFY_VERP_HASH_LEN + 1];
};
void attrib_find(const struct store_conf *conf, const struct idset *known,
    const struct classify_verdict *v, const unsigned char *msg, size_t len,
    const char *envelope_to, struct attrib_result *r);
/* Is a report row for recipient r (NULL: none) trusted: the message is,
 * and a valid token's recipient is its Final- or Original-Recipient. */
int attrib_row_trusted(
    const struct attrib_result *at, const struct classify_recipient *r);
/* rebound.geo of a verdict: a jansson object (json_t *, as void * to
 * keep jansson out of this header) or NULL. */
void *attrib_geo(
    const struct store_conf *conf, const struct classify_verdict *v);

/* One events row of an item. */
struct item_row {
	enum classify_event_type type;
	enum classify_bounce_type bounce_type;
	const char *type_name;   /* static */
	const char *reason;      /* static, or NULL */
	const char *bounce_name; /* static, or NULL */
	/* Strings in the item's strs (see item_detach), or NULL. */
	const char *recipient;           /* as reported */
	char address[STORE_MAX_ADDRESS]; /* normalised; "" if malformed */
	/* Original-Recipient normalised, when it is another address (an
	 * alias or forward): also suppressed.  "" otherwise. */
	char original[STORE_MAX_ADDRESS];
	const char *status;
	const char *feedback_type;
	int trusted; /* attrib_row_trusted */
	char *json;  /* malloc'd */
};

enum item_state { ITEM_EMPTY, ITEM_QUEUED, ITEM_WORKING, ITEM_DONE };

struct item {
	enum item_state state;
	uint64_t seq;
	/* Input: a copy of the message (the pipeline owns it). */
	unsigned char *msg;
	size_t len, cap;
	size_t len_queued; /* counted in the queue's bytes */
	char file[STORE_MAX_SOURCE];
	char source[STORE_MAX_SOURCE]; /* "file#index" */
	char via[16];
	char envelope_to[STORE_MAX_ADDRESS];
	struct store_source src; /* pointing into the above */
	/* Output of prep. */
	unsigned char key[STORE_KEY_LEN];
	int dup;        /* known committed at prep time */
	int classified; /* v holds a verdict (during prep only) */
	struct classify_verdict v;
	/* What the committer needs of the verdict, copied into strs at the
	 * end of prep so that the verdict's arena is freed by the worker:
	 * an item waiting for its commit holds no arena. */
	enum classify_kind kind;
	const char *layout, *feedback_id, *subject, *from;
	char *strs; /* malloc'd, strs_cap bytes, reused */
	size_t strs_cap;
	struct attrib_result at;
	time_t time;
	unsigned char *raw; /* compressed message, when encoding RAW_LZ4 */
	size_t raw_len, raw_cap;
	enum raw_encoding encoding; /* RAW_AS_IS: the bytes are msg */
	struct item_row *rows;
	size_t n_rows, cap_rows;
	const char *review_why; /* static, or NULL */
	char *review_json;      /* malloc'd, or NULL */
};

/* Per-thread context of prep. */
struct prep_ctx {
	const struct store_conf *conf;
	const struct classify_rules *rules;
	const struct idset *known;
	time_t now;
	struct raw_compressor *compressor;
	sqlite3 *ro;            /* read-only connection, or NULL */
	sqlite3_stmt *dup;      /* on ro, or on the store's own (sync) */
	unsigned snapshot_left; /* look-ups left in ro's read transaction */
	void *owner;            /* the ingest running this context */
};

/* prep.c */
void prep_item(struct prep_ctx *pc, struct item *it);
/* End the read transaction of pc->ro (before a worker waits for work:
 * an idle reader must not hold the WAL back). */
void prep_idle(struct prep_ctx *pc);
/* The classifier's event JSON with rebound.identity, .attribution and
 * .trusted set, spliced as text; NULL when js is not as expected.
 * Caller frees with free(). */
char *prep_patch_json(const char *js, const struct attrib_result *at);
/* Free what prep made (rows' JSON, the verdict); keeps buffers. */
void item_clear(struct item *it);
void item_free(struct item *it);

/* ckpt.c: the checkpointer thread of an ingest (none, *c_r NULL, for a
 * database in memory).  -1 when it cannot start: SQLite's automatic
 * checkpoint then stays. */
struct ckpt;
int ckpt_start(struct store *st, struct ckpt **c_r, struct rb_error *err);
/* For tests: checkpoints the thread ran; other WAL sizes (in pages)
 * than STORE_WAL_CHECKPOINT_PAGES and STORE_WAL_MAX_PAGES. */
uint64_t ckpt_runs(struct ckpt *c);
void ckpt_set_pages(struct ckpt *c, int every, int max);
void ckpt_stop(struct ckpt **c);

/* apply.c: write an item; counts into sum.  -1 on a database error. */
struct apply_batch;
struct apply_batch *apply_batch_new(void);
void apply_batch_free(struct apply_batch **b);
int apply_item(struct store *st, struct apply_batch *b, struct item *it,
    time_t now, struct store_ingest_summary *sum, struct rb_error *err) RB_WUR;
/* Commit the open batch (alerts of its identities first). */
int apply_commit(struct store *st, struct apply_batch *b, time_t now,
    struct store_ingest_summary *sum, struct rb_error *err) RB_WUR;
/* Roll the open batch back (after a failed apply_item). */
void apply_abort(struct store *st, struct apply_batch *b);

/* rates.c */
struct counts {
	int64_t sends, hard, soft, undetermined, complaints, not_spam;
	int64_t auto_replies, deliveries, delays, untrusted, unsubscribes;
};
/* c (and the breakdown blob bd, NULL: none) into the counters of the
 * identity's hour of t. */
int rates_add(struct store *st, const char *identity, time_t t,
    const struct counts *c, const struct buf *bd, struct rb_error *err) RB_WUR;
/* Evaluate alerts of one identity at now; *n_r += transitions. */
int rates_evaluate(struct store *st, const char *identity, time_t now,
    uint64_t *n_r, struct rb_error *err) RB_WUR;
/* First and last hour bucket of the window ending at now. */
void rates_window_hours(time_t now, uint64_t window, int64_t *h0, int64_t *h1);
/* The counters of identity in hours [h0, h1] into *r (no breakdowns),
 * with rates and statuses (rates_finish). */
int rates_sum(struct store *st, const char *identity, int64_t h0, int64_t h1,
    struct store_identity_stats *r, struct rb_error *err) RB_WUR;
/* An alerts row (id, time, identity, metric, from_state, to_state,
 * value, threshold, sends) into *a. */
void rates_alert_row(sqlite3_stmt *s, struct store_alert *a);
/* Rates, low volume and statuses of r from its counts. */
void rates_finish(
    const struct store_thresholds *th, struct store_identity_stats *r);
/* The same for each identity of a set (a GHashTable of strings), in
 * identity order. */
int rates_evaluate_set(struct store *st, void *identities, time_t now,
    uint64_t *n_r, struct rb_error *err) RB_WUR;

/* apply.c: what a Complaint row of this feedbackType counts as, in the
 * counters and the breakdowns alike.  Only COMPLAINT_SPAM is in the
 * complaint rate; not-spam reports never suppress. */
enum complaint_kind {
	COMPLAINT_SPAM,        /* abuse, fraud, virus, other, none */
	COMPLAINT_NOT_SPAM,    /* not-spam */
	COMPLAINT_UNSUBSCRIBE, /* opt-out */
};
enum complaint_kind complaint_kind(const char *feedback_type);

/* breakdown.c: the per identity and hour counts of the breakdowns by
 * reason and by provider (counters.breakdown).  A set of entries (kind, name,
 * counts), as counted or read; zero-initialised is empty. */
enum { BD_REASON, BD_PROVIDER };
/* Bytes of a blob at most: every reason and a whole provider table would
 * not reach it; a bigger one is not ours. */
#define BD_MAX_BLOB (4u * 1024 * 1024)
enum { BD_HARD, BD_SOFT, BD_UNDETERMINED, BD_COMPLAINTS, BD_TOTAL, BD_N };
struct bd_entry {
	int kind;
	uint32_t off, len; /* the name: len bytes at off of the names */
	uint64_t n[BD_N];
};
struct bd_set {
	struct bd_entry *v, *tmp; /* tmp: scratch of a merge */
	size_t n, cap, cap_tmp;
	struct buf names; /* NUL-terminated names of the entries */
	int sorted;       /* v in (kind, name) order */
};
/* Does an events row of this type and trusted value count in one? */
int bd_counted(const char *type, int trusted);
/* One counted events row into s (its columns as insert_event binds
 * them; provider: providers_lookup of its domain). */
void bd_set_event(struct bd_set *s, const char *type, const char *bounce_type,
    const char *reason, const char *provider, const char *feedback_type);
void bd_set_clear(struct bd_set *s);
void bd_set_free(struct bd_set *s);
/* The entries of s by kind, most first (then by name), in arrays the
 * caller frees with free(); names borrowed from s. */
void bd_set_lists(const struct bd_set *s, struct store_breakdown **reasons_r,
    size_t *n_reasons_r, struct store_breakdown **providers_r,
    size_t *n_providers_r);
/* Add the entries of a blob (of a counters row, or of rebound_bd) to
 * s: 0, or -1 if it is not one of ours (s unchanged then). */
int bd_set_merge_blob(struct bd_set *s, const void *blob, size_t len) RB_WUR;
/* The blob of s (sorted here) into b: 0, or -1 past BD_MAX_BLOB. */
int bd_set_encode(struct bd_set *s, struct buf *b) RB_WUR;
/* The hour bucket of t (floor of t / 3600). */
int64_t breakdown_hour(time_t t);
/* The SQL functions rebound_bd_add and rebound_bd on a connection. */
int breakdown_register(sqlite3 *db) RB_WUR;
/* At open: recount the breakdowns from the events unless they were made
 * with this handle's provider table (store_meta). */
int breakdown_check(struct store *st, struct rb_error *err) RB_WUR;

/* suppress.c: the automatic suppressions of one events row. */
int suppress_global(struct store *st, const char *address, const char *reason,
    int64_t event_id, time_t now, int *changed_r, struct rb_error *err) RB_WUR;
/* A suppression_global row (columns address, reason, since, until,
 * strikes, event_id from first) or a suppression_account row (account,
 * address, reason, since, origin, event_id) into *e. */
void suppress_row_global(
    sqlite3_stmt *s, int first, struct store_suppression *e);
void suppress_row_account(sqlite3_stmt *s, struct store_suppression *e);
int suppress_account_auto(struct store *st, const char *account,
    const char *address, const char *reason, int64_t event_id, time_t now,
    int *changed_r, struct rb_error *err) RB_WUR;

/* outbox.c: an outbox row of topic (key: the suppressed address; ref:
 * events.id or alerts.id) in the open transaction; nothing without
 * kafka.enabled. */
int outbox_add(struct store *st, enum store_topic topic, const char *key,
    int64_t ref, time_t now, struct rb_error *err) RB_WUR;
/* rebound.eventId (and notificationType for the SES notification types)
 * into the JSON of row index of the message with dedupe key: *json is
 * replaced (freed and reallocated); left as it is if it is no JSON
 * object. */
void outbox_event_json(char **json, const unsigned char key[STORE_KEY_LEN],
    size_t index, enum classify_event_type type);

/* rates.c: one SES Send event into the counters (the identities counted
 * join touched, a GHashTable of strings).  0 counted or skipped (another
 * event type), 1 malformed, -1 database error; err set for both. */
int rates_send_line(struct store *st, const char *line, size_t len, time_t now,
    struct store_import_summary *sum, void *touched,
    struct rb_error *err) RB_WUR;

#endif
