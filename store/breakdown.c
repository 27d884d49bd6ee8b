/*
 * breakdown: the counts behind a reputation's breakdowns by reason and
 * by mailbox provider, kept at ingest per identity and hour (table
 * breakdown: one row per identity and hour, its entries packed in a
 * blob), so that a window of H hours reads at most H rows whatever the
 * number of events.  Counted: what the events table holds, trusted
 * Bounce and Complaint rows of an identity, by reason (none:
 * "undefined") and by the provider of the recipient's domain
 * (providers.c).  The provider table's fingerprint is kept in
 * store_meta: a handle opened with another table (or on a database
 * migrated from before this table) rebuilds the counts from the events.
 *
 * A blob is a format byte (BD_FORMAT), then its entries in (kind, name)
 * order, each a kind byte (0 reason, 1 provider), the name's length and
 * bytes, then hard, soft, undetermined, complaints and total, numbers as
 * LEB128 varints.  The order is canonical: equal counts, equal bytes.
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

static const char meta_key[] = "breakdown_providers";

int64_t
breakdown_hour(time_t t)
{
	/* Floor, like the events' window (time >= h0 * 3600). */
	return t >= 0 ? (int64_t)t / 3600 : -(((int64_t)-t + 3599) / 3600);
}

/* ---- sets of entries ------------------------------------------------------
 */

static int
cmp_entry(const struct bd_entry *a, int kind, const char *name, size_t len)
{
	size_t n = a->len < len ? a->len : len;
	int c;

	if (a->kind != kind)
		return a->kind < kind ? -1 : 1;
	c = memcmp(a->name, name, n);
	if (c != 0)
		return c;
	return a->len == len ? 0 : a->len < len ? -1 : 1;
}

static int
cmp_entries(const void *x, const void *y)
{
	const struct bd_entry *b = y;

	return cmp_entry(x, b->kind, b->name, b->len);
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

static struct bd_entry *
set_get(struct bd_set *s, int kind, const char *name)
{
	size_t len = strlen(name), i;
	struct bd_entry *e;

	/* Linear: an identity's hour has a few reasons and providers. */
	for (i = 0; i < s->n; i++) {
		if (s->v[i].len == len &&
		    cmp_entry(&s->v[i], kind, name, len) == 0)
			return &s->v[i];
	}
	rb_assert(len <= BD_MAX_NAME);
	set_grow(s, s->n + 1);
	e = &s->v[s->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->name = xstrndup(name, len);
	e->len = len;
	s->sorted = 0;
	return e;
}

static void
entry_count(struct bd_entry *e, const char *type, const char *bounce_type,
    const char *feedback_type)
{
	if (strcmp(type, "Complaint") == 0) {
		if (feedback_type == NULL || strcmp(feedback_type, "not-spam"))
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
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].name);
	s->n = 0;
	s->sorted = 1;
}

void
bd_set_free(struct bd_set *s)
{
	bd_set_clear(s);
	free(s->v);
	free(s->tmp);
	memset(s, 0, sizeof(*s));
}

static void
set_sort(struct bd_set *s)
{
	if (!s->sorted && s->n > 1)
		qsort(s->v, s->n, sizeof(s->v[0]), cmp_entries);
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

/* The blob of s (sorted here) into b: 0, or -1 past BD_MAX_BLOB. */
static int
set_encode(struct bd_set *s, struct buf *b)
{
	size_t i;
	int k, rc;

	set_sort(s);
	buf_reset(b);
	rc = buf_putc(b, BD_FORMAT);
	for (i = 0; i < s->n && rc == 0; i++) {
		const struct bd_entry *e = &s->v[i];

		rc = buf_putc(b, e->kind) < 0 || put_varint(b, e->len) < 0 ||
		             buf_append(b, e->name, e->len) < 0
		         ? -1
		         : 0;
		for (k = 0; k < BD_N && rc == 0; k++)
			rc = put_varint(b, e->n[k]);
	}
	return rc;
}

/* Add the entries of a blob to s (sorted), by a merge of two sorted
 * lists: 0, or -1 if the blob is not one of ours (s unchanged then). */
static int
set_merge_blob(struct bd_set *s, const unsigned char *p, size_t len)
{
	const unsigned char *end = p + len;
	size_t i = 0, o = 0, n_new;
	int last_kind = -1;
	const unsigned char *last_name = NULL;
	size_t last_len = 0;

	if (len == 0 || len > BD_MAX_BLOB || *p != BD_FORMAT)
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
		const unsigned char *name;
		int kind = *p++, k, c = 1;

		if ((kind != BD_REASON && kind != BD_PROVIDER) ||
		    get_varint(&p, end, &nlen) < 0 || nlen > BD_MAX_NAME ||
		    nlen > (uint64_t)(end - p) ||
		    memchr(p, '\0', (size_t)nlen) != NULL)
			goto bad;
		name = p;
		p += nlen;
		for (k = 0; k < BD_N; k++) {
			if (get_varint(&p, end, &n[k]) < 0)
				goto bad;
		}
		/* Strictly increasing, or the merge would be wrong. */
		if (last_name != NULL) {
			struct bd_entry prev = {last_kind,
			    (char *)(uintptr_t)last_name, last_len, {0}};

			if (cmp_entry(&prev, kind, (const char *)name,
			        (size_t)nlen) >= 0)
				goto bad;
		}
		last_kind = kind;
		last_name = name;
		last_len = (size_t)nlen;
		while (i < s->n && (c = cmp_entry(&s->v[i], kind,
		                        (const char *)name, (size_t)nlen)) < 0)
			s->tmp[o++] = s->v[i++];
		if (i < s->n && c == 0) {
			s->tmp[o] = s->v[i++];
		} else {
			memset(&s->tmp[o], 0, sizeof(s->tmp[o]));
			s->tmp[o].kind = kind;
			s->tmp[o].name =
			    xstrndup((const char *)name, (size_t)nlen);
			s->tmp[o].len = (size_t)nlen;
		}
		for (k = 0; k < BD_N; k++)
			s->tmp[o].n[k] += n[k];
		o++;
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
bad:
	/* Names copied for entries new to s are freed; s keeps its own. */
	{
		size_t j;

		for (j = 0; j < o; j++) {
			size_t m;
			int own = 0;

			for (m = 0; m < s->n && !own; m++)
				own = s->tmp[j].name == s->v[m].name;
			if (!own)
				free(s->tmp[j].name);
		}
	}
	return -1;
}

/* ---- reading and writing rows --------------------------------------------
 */

static int
corrupt(
    struct store *st, const char *identity, int64_t hour, struct rb_error *err)
{
	return rb_error_set(err, EIO,
	    "%s: breakdown of %s at hour %lld: not a breakdown blob", st->path,
	    identity, (long long)hour);
}

int
breakdown_add(struct store *st, const char *identity, int64_t hour,
    struct bd_set *delta, struct buf *scratch, struct rb_error *err)
{
	static const char get[] =
	    "SELECT data FROM breakdown WHERE identity = ?1 AND hour = ?2";
	static const char put[] =
	    "INSERT INTO breakdown(identity, hour, data) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT(identity, hour) DO UPDATE SET data = excluded.data";
	sqlite3_stmt *s;
	int rc;

	if (delta->n == 0)
		return 0;
	set_sort(delta);
	if ((s = query_stmt(st, get, err)) == NULL)
		return -1;
	(void)bind_text(s, 1, identity);
	(void)sqlite3_bind_int64(s, 2, hour);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && set_merge_blob(delta, sqlite3_column_blob(s, 0),
	                            (size_t)sqlite3_column_bytes(s, 0)) < 0) {
		(void)sqlite3_reset(s);
		return corrupt(st, identity, hour, err);
	}
	(void)sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_db_error(st, "breakdown", err);
	if (set_encode(delta, scratch) < 0)
		return rb_error_set(err, EOVERFLOW,
		    "breakdown of %s at hour %lld: over %u bytes", identity,
		    (long long)hour, BD_MAX_BLOB);
	if ((s = query_stmt(st, put, err)) == NULL)
		return -1;
	(void)bind_text(s, 1, identity);
	(void)sqlite3_bind_int64(s, 2, hour);
	(void)sqlite3_bind_blob64(
	    s, 3, scratch->data, scratch->len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	(void)sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return store_db_error(st, "update breakdown", err);
	return 0;
}

int
breakdown_window(struct store *st, const char *identity, int64_t h0, int64_t h1,
    struct bd_set *set_r, struct rb_error *err)
{
	static const char sql[] =
	    "SELECT hour, data FROM breakdown"
	    " WHERE identity = ?1 AND hour BETWEEN ?2 AND ?3";
	sqlite3_stmt *s = query_stmt(st, sql, err);
	int rc;

	if (s == NULL)
		return -1;
	(void)bind_text(s, 1, identity);
	(void)sqlite3_bind_int64(s, 2, h0);
	(void)sqlite3_bind_int64(s, 3, h1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (set_merge_blob(set_r, sqlite3_column_blob(s, 1),
		        (size_t)sqlite3_column_bytes(s, 1)) < 0) {
			int64_t hour = sqlite3_column_int64(s, 0);

			(void)sqlite3_reset(s);
			return corrupt(st, identity, hour, err);
		}
	}
	(void)sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return store_db_error(st, "breakdown", err);
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

		b->name = e->name;
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

/* ---- the fingerprint and the rebuild --------------------------------------
 */

/* Recount every breakdown row from the events, in the open transaction:
 * by identity and time (events_identity_time), one identity and hour at
 * a time, so memory stays that of one row. */
static int
rebuild(struct store *st, struct rb_error *err)
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

	if (store_exec(st, "DELETE FROM breakdown", err) < 0)
		return -1;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_db_error(st, "rebuild breakdown", err);
	buf_init(&blob, BD_MAX_BLOB);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = col_text(s, 0), *type = col_text(s, 2);
		int64_t hour =
		    breakdown_hour((time_t)sqlite3_column_int64(s, 1));

		if (id == NULL || type == NULL)
			continue;
		if (set.n > 0 && (hour != cur_hour || strcmp(id, cur) != 0)) {
			if ((ret = breakdown_add(
			         st, cur, cur_hour, &set, &blob, err)) < 0)
				break;
			bd_set_clear(&set);
		}
		if (strlen(id) >= sizeof(cur))
			continue;
		memcpy(cur, id, strlen(id) + 1);
		cur_hour = hour;
		bd_set_event(&set, type, col_text(s, 3), col_text(s, 4),
		    providers_lookup(st->providers, col_text(s, 5)),
		    col_text(s, 6));
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_db_error(st, "rebuild breakdown", err);
	sqlite3_finalize(s);
	if (ret == 0 && set.n > 0)
		ret = breakdown_add(st, cur, cur_hour, &set, &blob, err);
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
	if (rebuild(st, err) < 0)
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
