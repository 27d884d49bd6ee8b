/*
 * breakdown: the counts behind a reputation's breakdowns by reason and
 * by mailbox provider, kept at ingest per identity and hour in the
 * counters row of that hour (column breakdown: its entries packed in a
 * blob), so that a window of H hours reads the same H rows as its rates,
 * in one statement, whatever the number of events.  Counted: what the
 * events table holds, trusted Bounce and Complaint rows of an identity,
 * by reason (none: "undefined") and by the provider of the recipient's
 * domain (providers.c).  The provider table's fingerprint is kept in
 * store_meta: a handle opened with another table (or on a database
 * migrated from before the column) recounts them from the events.
 *
 * A blob is a format byte (BD_FORMAT), then its entries in (kind, name)
 * order, each a kind byte (0 reason, 1 provider), the name's length and
 * bytes, then hard, soft, undetermined, complaints and total, numbers as
 * LEB128 varints.  The order is canonical: equal counts, equal bytes.
 * Two SQL functions of every store connection work on blobs:
 * rebound_bd_add(a, b), the sum of two (NULL: none), for the counters'
 * upsert, and the aggregate rebound_bd(x), the sum of a column's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Version of the blob layout (its first byte). */
#define BD_FORMAT 1
/* Longest name: a provider name is a line of the provider table
 * (PROVIDERS_MAX_LINE, 1 KB); reasons are short words. */
#define BD_MAX_NAME 1024
/* A LEB128 varint of 64 bits takes at most 10 bytes. */
#define BD_VARINT_MAX 10

/* The store_meta row of the fingerprint. */
static const char meta_key[] = "breakdown_providers";

int64_t
breakdown_hour(time_t t)
{
	/* Floor, like the events' window (time >= h0 * 3600). */
	return t >= 0 ? (int64_t)t / 3600 : -(((int64_t)-t + 3599) / 3600);
}

/* ---- sets of entries ------------------------------------------------------
 */

static const char *
name_of(const struct bd_set *s, const struct bd_entry *e)
{
	return (const char *)s->names.data + e->off;
}

/* The order of entries: by kind, then by name's bytes. */
static int
cmp_key(int ka, const char *na, size_t la, int kb, const char *nb, size_t lb)
{
	int c;

	if (ka != kb)
		return ka < kb ? -1 : 1;
	c = memcmp(na, nb, la < lb ? la : lb);
	if (c != 0)
		return c;
	return la == lb ? 0 : la < lb ? -1 : 1;
}

static int
cmp_name(const struct bd_set *s, const struct bd_entry *a, int kind,
    const char *name, size_t len)
{
	return cmp_key(a->kind, name_of(s, a), a->len, kind, name, len);
}

/* qsort has no context: the set being sorted. */
static _Thread_local const struct bd_set *sorting;

static int
cmp_entries(const void *x, const void *y)
{
	const struct bd_entry *b = y;

	return cmp_name(sorting, x, b->kind, name_of(sorting, b), b->len);
}

static void
set_grow(struct bd_set *s, size_t n)
{
	if (n <= s->cap)
		return;
	s->cap = s->cap ? s->cap * 2 : 16;
	if (s->cap < n)
		s->cap = n;
	s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
}

/* A copy of name (and a NUL) in s's names: its offset, or -1 past
 * BD_MAX_BLOB bytes of names. */
static int64_t
name_add(struct bd_set *s, const void *name, size_t len)
{
	size_t off;

	if (s->names.max == 0)
		buf_init(&s->names, BD_MAX_BLOB);
	off = s->names.len;
	if (buf_append(&s->names, name, len) < 0 || buf_putc(&s->names, 0) < 0)
		return -1;
	return (int64_t)off;
}

static struct bd_entry *
set_get(struct bd_set *s, int kind, const char *name)
{
	size_t len = strlen(name), i;
	struct bd_entry *e;
	int64_t off;

	/* Linear: an identity's hour has a few reasons and providers. */
	for (i = 0; i < s->n; i++) {
		if (s->v[i].len == len &&
		    cmp_name(s, &s->v[i], kind, name, len) == 0)
			return &s->v[i];
	}
	rb_assert(len <= BD_MAX_NAME);
	off = name_add(s, name, len);
	/* Names of one identity's hour: reasons and providers, far less. */
	rb_assert(off >= 0);
	set_grow(s, s->n + 1);
	e = &s->v[s->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->off = (uint32_t)off;
	e->len = (uint32_t)len;
	s->sorted = 0;
	return e;
}

static void
entry_count(struct bd_entry *e, const char *type, const char *bounce_type,
    const char *feedback_type)
{
	if (strcmp(type, "Complaint") == 0) {
		/* As the counters: not-spam reports and unsubscribes are
		 * no complaints. */
		if (complaint_kind(feedback_type) == COMPLAINT_SPAM)
			e->n[BD_COMPLAINTS]++;
	} else if (bounce_type != NULL) {
		if (strcmp(bounce_type, "Permanent") == 0)
			e->n[BD_HARD]++;
		else if (strcmp(bounce_type, "Transient") == 0)
			e->n[BD_SOFT]++;
		else if (strcmp(bounce_type, "Undetermined") == 0)
			e->n[BD_UNDETERMINED]++;
	}
	e->n[BD_TOTAL]++;
}

int
bd_counted(const char *type, int trusted)
{
	return trusted == 1 && type != NULL &&
	       (strcmp(type, "Bounce") == 0 || strcmp(type, "Complaint") == 0);
}

void
bd_set_event(struct bd_set *s, const char *type, const char *bounce_type,
    const char *reason, const char *provider, const char *feedback_type)
{
	/* As stored: "" is NULL (bind_text_null). */
	if (bounce_type != NULL && bounce_type[0] == '\0')
		bounce_type = NULL;
	if (feedback_type != NULL && feedback_type[0] == '\0')
		feedback_type = NULL;
	entry_count(
	    set_get(s, BD_REASON,
	        reason != NULL && reason[0] != '\0' ? reason : "undefined"),
	    type, bounce_type, feedback_type);
	entry_count(set_get(s, BD_PROVIDER, provider), type, bounce_type,
	    feedback_type);
}

void
bd_set_clear(struct bd_set *s)
{
	s->n = 0;
	buf_reset(&s->names);
	s->sorted = 1;
}

void
bd_set_free(struct bd_set *s)
{
	free(s->v);
	free(s->tmp);
	buf_free(&s->names);
	memset(s, 0, sizeof(*s));
}

static void
set_sort(struct bd_set *s)
{
	if (!s->sorted && s->n > 1) {
		sorting = s;
		qsort(s->v, s->n, sizeof(s->v[0]), cmp_entries);
		sorting = NULL;
	}
	s->sorted = 1;
}

/* ---- the blob -------------------------------------------------------------
 */

static int
put_varint(struct buf *b, uint64_t v)
{
	unsigned char t[BD_VARINT_MAX];
	size_t n = 0;

	do {
		t[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			t[n] |= 0x80;
		n++;
	} while (v != 0);
	return buf_append(b, t, n);
}

static int
get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v_r)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (*p < end && shift < 7 * BD_VARINT_MAX) {
		unsigned char c = *(*p)++;

		if (shift == 63 && (c & 0x7e) != 0)
			return -1;
		v |= (uint64_t)(c & 0x7f) << shift;
		if ((c & 0x80) == 0) {
			*v_r = v;
			return 0;
		}
		shift += 7;
	}
	return -1;
}

int
bd_set_encode(struct bd_set *s, struct buf *b)
{
	size_t i;
	int k, rc;

	set_sort(s);
	buf_reset(b);
	rc = buf_putc(b, BD_FORMAT);
	for (i = 0; i < s->n && rc == 0; i++) {
		const struct bd_entry *e = &s->v[i];

		rc = buf_putc(b, e->kind) < 0 || put_varint(b, e->len) < 0 ||
		             buf_append(b, name_of(s, e), e->len) < 0
		         ? -1
		         : 0;
		for (k = 0; k < BD_N && rc == 0; k++)
			rc = put_varint(b, e->n[k]);
	}
	return rc;
}

/* By a merge of two sorted lists into s->tmp, which then becomes s->v:
 * s is sorted first.  Names new to s go to its names; on an error they
 * stay there unused (s is unchanged otherwise). */
int
bd_set_merge_blob(struct bd_set *s, const void *blob, size_t len)
{
	const unsigned char *p = blob, *end = p + len;
	const char *last_name = NULL;
	size_t i = 0, o = 0, n_new, last_len = 0;
	int last_kind = -1;

	if (p == NULL || len == 0 || len > BD_MAX_BLOB || *p != BD_FORMAT)
		return -1;
	p++;
	set_sort(s);
	/* At most this many entries come: each takes 7 bytes or more. */
	n_new = s->n + (size_t)(end - p) / 7 + 1;
	if (s->cap_tmp < n_new) {
		s->cap_tmp = n_new;
		s->tmp = xrealloc(s->tmp, n_new * sizeof(*s->tmp));
	}
	while (p < end) {
		uint64_t nlen, n[BD_N];
		const char *name;
		int kind = *p++, k, c = 1;
		struct bd_entry *e;

		if ((kind != BD_REASON && kind != BD_PROVIDER) ||
		    get_varint(&p, end, &nlen) < 0 || nlen > BD_MAX_NAME ||
		    nlen > (uint64_t)(end - p) ||
		    memchr(p, '\0', (size_t)nlen) != NULL)
			return -1;
		name = (const char *)p;
		p += nlen;
		for (k = 0; k < BD_N; k++) {
			if (get_varint(&p, end, &n[k]) < 0)
				return -1;
		}
		/* Strictly increasing, or the merge would be wrong. */
		if (last_name != NULL && cmp_key(last_kind, last_name, last_len,
		                             kind, name, (size_t)nlen) >= 0)
			return -1;
		last_kind = kind;
		last_name = name;
		last_len = (size_t)nlen;
		while (i < s->n && (c = cmp_name(s, &s->v[i], kind, name,
		                        (size_t)nlen)) < 0)
			s->tmp[o++] = s->v[i++];
		e = &s->tmp[o++];
		if (i < s->n && c == 0) {
			*e = s->v[i++];
		} else {
			int64_t off = name_add(s, name, (size_t)nlen);

			if (off < 0)
				return -1;
			memset(e, 0, sizeof(*e));
			e->kind = kind;
			e->off = (uint32_t)off;
			e->len = (uint32_t)nlen;
		}
		for (k = 0; k < BD_N; k++)
			e->n[k] += n[k];
	}
	while (i < s->n)
		s->tmp[o++] = s->v[i++];
	/* The merged list becomes s; the old array is the next scratch. */
	{
		struct bd_entry *v = s->v;
		size_t cap = s->cap;

		s->v = s->tmp;
		s->cap = s->cap_tmp;
		s->n = o;
		s->tmp = v;
		s->cap_tmp = cap;
	}
	return 0;
}

/* ---- the SQL functions ----------------------------------------------------
 */

static void
fn_error(sqlite3_context *ctx)
{
	sqlite3_result_error(ctx, "not a breakdown blob", -1);
	sqlite3_result_error_code(ctx, SQLITE_CORRUPT);
}

/* The blob of s as the function's result (s emptied). */
static void
fn_result(sqlite3_context *ctx, struct bd_set *s)
{
	struct buf b;
	size_t len;
	unsigned char *p;

	buf_init(&b, BD_MAX_BLOB);
	if (bd_set_encode(s, &b) < 0) {
		buf_free(&b);
		sqlite3_result_error_toobig(ctx);
		return;
	}
	p = buf_take(&b, &len);
	sqlite3_result_blob64(ctx, p, len, free);
}

/* rebound_bd_add(a, b): a + b, NULL + x = x. */
static void
fn_add(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct bd_set s = {0};
	int i;

	rb_assert(argc == 2);
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL ||
	    sqlite3_value_type(argv[1]) == SQLITE_NULL) {
		sqlite3_result_value(ctx,
		    argv[sqlite3_value_type(argv[0]) == SQLITE_NULL ? 1 : 0]);
		return;
	}
	for (i = 0; i < 2; i++) {
		if (bd_set_merge_blob(&s, sqlite3_value_blob(argv[i]),
		        (size_t)sqlite3_value_bytes(argv[i])) < 0) {
			bd_set_free(&s);
			fn_error(ctx);
			return;
		}
	}
	fn_result(ctx, &s);
	bd_set_free(&s);
}

/* rebound_bd(x): the sum of the rows' blobs (none: NULL). */
static void
agg_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct bd_set *s = sqlite3_aggregate_context(ctx, sizeof(*s));

	rb_assert(argc == 1);
	if (s == NULL) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return;
	if (bd_set_merge_blob(s, sqlite3_value_blob(argv[0]),
	        (size_t)sqlite3_value_bytes(argv[0])) < 0)
		fn_error(ctx);
}

static void
agg_final(sqlite3_context *ctx)
{
	struct bd_set *s = sqlite3_aggregate_context(ctx, 0);

	if (s == NULL || s->n == 0)
		sqlite3_result_null(ctx);
	else
		fn_result(ctx, s);
	if (s != NULL)
		bd_set_free(s);
}

int
breakdown_register(sqlite3 *db)
{
	int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY;

	if (sqlite3_create_function_v2(db, "rebound_bd_add", 2, flags, NULL,
	        fn_add, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function_v2(db, "rebound_bd", 1, flags, NULL, NULL,
	        agg_step, agg_final, NULL) != SQLITE_OK)
		return -1;
	return 0;
}

static int
cmp_bd(const void *a, const void *b)
{
	const struct store_breakdown *x = a, *y = b;

	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return strcmp(x->name, y->name);
}

void
bd_set_lists(const struct bd_set *s, struct store_breakdown **reasons_r,
    size_t *n_reasons_r, struct store_breakdown **providers_r,
    size_t *n_providers_r)
{
	struct store_breakdown *v[2];
	size_t n[2] = {0, 0}, i;
	int k;

	v[0] = xmalloc((s->n + 1) * sizeof(*v[0]));
	v[1] = xmalloc((s->n + 1) * sizeof(*v[1]));
	for (i = 0; i < s->n; i++) {
		const struct bd_entry *e = &s->v[i];
		struct store_breakdown *b = &v[e->kind][n[e->kind]++];

		b->name = name_of(s, e);
		b->hard = e->n[BD_HARD];
		b->soft = e->n[BD_SOFT];
		b->undetermined = e->n[BD_UNDETERMINED];
		b->complaints = e->n[BD_COMPLAINTS];
		b->total = e->n[BD_TOTAL];
	}
	/* Most first, then by name: the order of the API and of stats. */
	for (k = 0; k < 2; k++) {
		if (n[k] > 1)
			qsort(v[k], n[k], sizeof(v[k][0]), cmp_bd);
	}
	*reasons_r = v[BD_REASON];
	*n_reasons_r = n[BD_REASON];
	*providers_r = v[BD_PROVIDER];
	*n_providers_r = n[BD_PROVIDER];
}

/* ---- the fingerprint and the recount --------------------------------------
 */

/* The blob of s into the counters row of identity and hour (none: the
 * hour's counters are gone, and its events with them soon). */
static int
put_row(struct store *st, const char *identity, int64_t hour, struct bd_set *s,
    struct buf *blob, struct rb_error *err)
{
	static const char sql[] = "UPDATE counters SET breakdown = ?3"
	                          " WHERE identity = ?1 AND hour = ?2";
	sqlite3_stmt *q;
	int rc;

	if (bd_set_encode(s, blob) < 0)
		return rb_error_set(err, EOVERFLOW,
		    "breakdown of %s at hour %lld: over %u bytes", identity,
		    (long long)hour, BD_MAX_BLOB);
	if ((q = query_stmt(st, sql, err)) == NULL)
		return -1;
	(void)bind_text(q, 1, identity);
	(void)sqlite3_bind_int64(q, 2, hour);
	(void)sqlite3_bind_blob64(q, 3, blob->data, blob->len, SQLITE_STATIC);
	rc = sqlite3_step(q);
	(void)sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return store_db_error(st, "recount breakdown", err);
	return 0;
}

/* Recount every breakdown from the events, in the open transaction: by
 * identity and time (events_identity_time), one identity and hour at a
 * time, so memory stays that of one row. */
static int
recount(struct store *st, struct rb_error *err)
{
	static const char sql[] =
	    "SELECT identity, time, type, bounce_type, reason, domain,"
	    " feedback_type FROM events"
	    " WHERE identity IS NOT NULL AND trusted = 1"
	    " AND type IN ('Bounce', 'Complaint') ORDER BY identity, time";
	struct bd_set set = {0};
	struct buf blob;
	char cur[STORE_MAX_IDENTITY] = "";
	int64_t cur_hour = 0;
	sqlite3_stmt *s;
	int rc, ret = 0;

	if (store_exec(st,
	        "UPDATE counters SET breakdown = NULL"
	        " WHERE breakdown IS NOT NULL",
	        err) < 0)
		return -1;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_db_error(st, "recount breakdown", err);
	buf_init(&blob, BD_MAX_BLOB);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = col_text(s, 0), *type = col_text(s, 2);
		int64_t hour =
		    breakdown_hour((time_t)sqlite3_column_int64(s, 1));
		size_t len = id != NULL ? strlen(id) : 0;

		/* Longer: not an identity store_identity_normalize gives. */
		if (type == NULL || len == 0 || len >= sizeof(cur))
			continue;
		if (set.n > 0 && (hour != cur_hour || strcmp(id, cur) != 0)) {
			if ((ret = put_row(
			         st, cur, cur_hour, &set, &blob, err)) < 0)
				break;
			bd_set_clear(&set);
		}
		memcpy(cur, id, len + 1);
		cur_hour = hour;
		bd_set_event(&set, type, col_text(s, 3), col_text(s, 4),
		    providers_lookup(st->providers, col_text(s, 5)),
		    col_text(s, 6));
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_db_error(st, "recount breakdown", err);
	sqlite3_finalize(s);
	if (ret == 0 && set.n > 0)
		ret = put_row(st, cur, cur_hour, &set, &blob, err);
	bd_set_free(&set);
	buf_free(&blob);
	return ret;
}
/* The fingerprint the counts were made with into out ("" if none):
 * 0, or -1 with err. */
static int
stored_fingerprint(
    struct store *st, char *out, size_t len, struct rb_error *err)
{
	sqlite3_stmt *s;
	int rc;

	out[0] = '\0';
	if (sqlite3_prepare_v2(st->db,
	        "SELECT value FROM store_meta WHERE name = ?1", -1, &s,
	        NULL) != SQLITE_OK)
		return store_db_error(st, "store_meta", err);
	(void)bind_text(s, 1, meta_key);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && col_text(s, 0) != NULL)
		(void)snprintf(out, len, "%s", col_text(s, 0));
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_db_error(st, "store_meta", err);
	return 0;
}

int
breakdown_check(struct store *st, struct rb_error *err)
{
	char have[PROVIDERS_FINGERPRINT_LEN + 1];
	const char *want = providers_fingerprint(st->providers);
	sqlite3_stmt *s;
	int rc;

	if (stored_fingerprint(st, have, sizeof(have), err) < 0)
		return -1;
	if (strcmp(have, want) == 0)
		return 0;
	if (store_begin(st, err) < 0)
		return -1;
	/* Another handle may have done it meanwhile. */
	if (stored_fingerprint(st, have, sizeof(have), err) < 0)
		goto fail;
	if (strcmp(have, want) == 0)
		return store_commit(st, err);
	if (recount(st, err) < 0)
		goto fail;
	if (sqlite3_prepare_v2(st->db,
	        "INSERT INTO store_meta(name, value) VALUES (?1, ?2)"
	        " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
	        -1, &s, NULL) != SQLITE_OK) {
		store_db_error(st, "store_meta", err);
		goto fail;
	}
	(void)bind_text(s, 1, meta_key);
	(void)bind_text(s, 2, want);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		store_db_error(st, "store_meta", err);
		goto fail;
	}
	return store_commit(st, err);
fail:
	store_rollback(st);
	return -1;
}
