/*
 * suppress: the two suppression lists.
 *
 * Global list (DESIGN.md): a Permanent bounce of trusted feedback
 * suppresses the address for suppression.ttl (14 days).  While it is
 * suppressed, further hard bounces change nothing.  A hard bounce after
 * the entry expired suppresses again for the last period times
 * suppression.escalation (doubling), at most suppression.max_ttl.  An
 * expired entry is not suppressed; it is remembered for
 * suppression.forget (so the next hard bounce escalates), then pruned;
 * once forgotten an address starts again at ttl.
 *
 * Account-level list: per account (tenant), reason BOUNCE or COMPLAINT,
 * kept until removed; hard bounces and complaints (not-spam excluded)
 * add to it automatically as suppression.account_auto says; the CLI adds,
 * removes, imports and exports.  The first reason stays (an automatic
 * entry never overwrites one already there).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "store_int.h"

/* Longest line of an import (one entry is < 1 KB). */
#define SUPPRESS_MAX_LINE (64u * 1024)
/* Fields of a CSV line: the export writes 8. */
#define SUPPRESS_MAX_FIELDS 16
/* Columns of an import (the export's 8). */
#define SUPPRESS_N_COLS 8
/* Strikes an imported entry may claim: escalation doubles the period
 * per strike up to suppression.max_ttl long before this. */
#define SUPPRESS_MAX_STRIKES 1000

int
suppress_global(struct store *st, const char *address, const char *reason,
    int64_t event_id, time_t now, int *changed_r, struct rb_error *err)
{
	const struct store_conf *c = &st->conf;
	sqlite3_stmt *s = store_stmt(st, STMT_GLOBAL_SUPPRESS, err);
	int rc;

	*changed_r = 0;
	if (s == NULL)
		return -1;
	(void)bind_text(s, 1, address);
	(void)bind_text(s, 2, reason != NULL ? reason : "undefined");
	(void)sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
	(void)sqlite3_bind_int64(s, 4, (sqlite3_int64)c->supp_ttl);
	if (event_id > 0)
		(void)sqlite3_bind_int64(s, 5, event_id);
	(void)sqlite3_bind_int64(s, 6, (sqlite3_int64)c->supp_forget);
	(void)sqlite3_bind_int64(s, 7, (sqlite3_int64)c->supp_factor);
	(void)sqlite3_bind_int64(s, 8, (sqlite3_int64)c->supp_max_ttl);
	rc = sqlite3_step(s);
	(void)sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return store_db_error(st, "suppress", err);
	*changed_r = sqlite3_changes(st->db) > 0;
	if (*changed_r)
		return outbox_add(
		    st, STORE_TOPIC_SUPPRESSION, address, 0, now, err);
	return 0;
}

int
suppress_account_auto(struct store *st, const char *account,
    const char *address, const char *reason, int64_t event_id, time_t now,
    int *changed_r, struct rb_error *err)
{
	sqlite3_stmt *s = store_stmt(st, STMT_ACCOUNT_AUTO, err);
	int rc;

	*changed_r = 0;
	if (s == NULL)
		return -1;
	(void)bind_text(s, 1, account);
	(void)bind_text(s, 2, address);
	(void)bind_text(s, 3, reason);
	(void)sqlite3_bind_int64(s, 4, (sqlite3_int64)now);
	if (event_id > 0)
		(void)sqlite3_bind_int64(s, 5, event_id);
	rc = sqlite3_step(s);
	(void)sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return store_db_error(st, "suppress", err);
	*changed_r = sqlite3_changes(st->db) > 0;
	if (*changed_r)
		return outbox_add(
		    st, STORE_TOPIC_SUPPRESSION, address, 0, now, err);
	return 0;
}

static const char *
reason_norm(const char *reason)
{
	if (reason == NULL)
		return NULL;
	if (strcasecmp(reason, "BOUNCE") == 0)
		return "BOUNCE";
	if (strcasecmp(reason, "COMPLAINT") == 0)
		return "COMPLAINT";
	return NULL;
}

void
suppress_row_global(sqlite3_stmt *s, int first, struct store_suppression *e)
{
	memset(e, 0, sizeof(*e));
	e->list = STORE_LIST_GLOBAL;
	e->address = col_text(s, first);
	e->reason = "BOUNCE";
	e->detail = col_text(s, first + 1);
	e->since = (time_t)sqlite3_column_int64(s, first + 2);
	e->until = (time_t)sqlite3_column_int64(s, first + 3);
	e->strikes = (unsigned)sqlite3_column_int(s, first + 4);
	e->event_id = sqlite3_column_int64(s, first + 5);
}

void
suppress_row_account(sqlite3_stmt *s, struct store_suppression *e)
{
	memset(e, 0, sizeof(*e));
	e->list = STORE_LIST_ACCOUNT;
	e->account = col_text(s, 0);
	e->address = col_text(s, 1);
	e->reason = col_text(s, 2);
	e->since = (time_t)sqlite3_column_int64(s, 3);
	e->detail = col_text(s, 4);
	e->event_id = sqlite3_column_int64(s, 5);
}

/* Walk the rows of s (already bound) with fn; *n_r counts them. */
static int
walk(struct store *st, sqlite3_stmt *s, int global, store_suppression_fn *fn,
    void *ctx, uint64_t *n_r, int *stop_r, struct rb_error *err)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_suppression e;

		if (global)
			suppress_row_global(s, 0, &e);
		else
			suppress_row_account(s, &e);
		if (n_r != NULL)
			(*n_r)++;
		if (fn != NULL && fn(&e, ctx) < 0) {
			*stop_r = 1;
			return 0;
		}
	}
	if (rc != SQLITE_DONE)
		return store_db_error(st, "suppression list", err);
	return 0;
}

/* A row of the check's query: list, account, address, reason, since,
 * until, strikes, detail, event_id. */
static void
check_row(sqlite3_stmt *s, struct store_suppression *e)
{
	memset(e, 0, sizeof(*e));
	e->list = sqlite3_column_int(s, 0) == 0 ? STORE_LIST_GLOBAL
	                                        : STORE_LIST_ACCOUNT;
	e->account = col_text(s, 1);
	e->address = col_text(s, 2);
	e->reason = col_text(s, 3);
	e->since = (time_t)sqlite3_column_int64(s, 4);
	e->until = (time_t)sqlite3_column_int64(s, 5);
	e->strikes = (unsigned)sqlite3_column_int(s, 6);
	e->detail = col_text(s, 7);
	e->event_id = sqlite3_column_int64(s, 8);
}

int
store_suppression_check(struct store *st, const char *address,
    const char *account, time_t now, store_suppression_fn *fn, void *ctx,
    int *suppressed_r, struct rb_error *err)
{
	/* One cached statement for both lists: this is the look-up a
	 * sender makes before every message (GET /v1/suppression/
	 * {address}), and each statement is a read transaction.  No ORDER
	 * BY (a sorter doubled the cost): a compound SELECT gives its parts
	 * in order, the global row first, then the account rows in the
	 * order of the suppression_account_address index, whose entries
	 * end with the key (account). */
	static const char sql[] =
	    "SELECT 0, NULL, address, 'BOUNCE', since, until, strikes, reason,"
	    " event_id FROM suppression_global WHERE address = ?1"
	    " AND until > ?2"
	    " UNION ALL"
	    " SELECT 1, account, address, reason, since, 0, 0, origin, event_id"
	    " FROM suppression_account WHERE address = ?1"
	    " AND (?3 IS NULL OR account = ?3)";
	char addr[STORE_MAX_ADDRESS];
	sqlite3_stmt *s;
	uint64_t n = 0;
	int rc;

	if (store_address_normalize(st, address, addr, sizeof(addr), err) < 0)
		return -1;
	if ((s = query_stmt(st, sql, err)) == NULL)
		return -1;
	(void)bind_text(s, 1, addr);
	(void)sqlite3_bind_int64(s, 2, (sqlite3_int64)now);
	(void)bind_text(s, 3, account);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_suppression e;

		check_row(s, &e);
		n++;
		if (fn != NULL && fn(&e, ctx) < 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	(void)sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return store_db_error(st, "suppression check", err);
	*suppressed_r = n > 0;
	return 0;
}

/* Account-level upsert (manual or import); inside a transaction. */
static int
account_put(struct store *st, const char *account, const char *addr,
    const char *reason, time_t since, const char *origin, struct rb_error *err)
{
	sqlite3_stmt *s = store_stmt(st, STMT_ACCOUNT_PUT, err);
	int rc;

	if (s == NULL)
		return -1;
	(void)bind_text(s, 1, account);
	(void)bind_text(s, 2, addr);
	(void)bind_text(s, 3, reason);
	(void)sqlite3_bind_int64(s, 4, (sqlite3_int64)since);
	(void)bind_text(s, 5, origin);
	rc = sqlite3_step(s);
	(void)sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return store_db_error(st, "suppression add", err);
	return 0;
}

static int
check_account(const char *account, struct rb_error *err)
{
	if (account == NULL || account[0] == '\0' ||
	    strlen(account) >= STORE_MAX_ACCOUNT)
		return rb_error_set(err, EINVAL, "account: 1 to %d bytes",
		    STORE_MAX_ACCOUNT - 1);
	return 0;
}

int
store_suppression_add(struct store *st, const char *account,
    const char *address, const char *reason, time_t now, struct rb_error *err)
{
	char addr[STORE_MAX_ADDRESS];
	const char *r = reason_norm(reason);

	if (account == NULL)
		account = st->conf.default_account;
	if (check_account(account, err) < 0)
		return -1;
	if (r == NULL)
		return rb_error_set(err, EINVAL,
		    "reason: BOUNCE or COMPLAINT, not '%s'",
		    reason != NULL ? reason : "");
	if (store_address_normalize(st, address, addr, sizeof(addr), err) < 0)
		return -1;
	if (store_begin(st, err) < 0)
		return -1;
	if (account_put(st, account, addr, r, now, "manual", err) < 0 ||
	    outbox_add(st, STORE_TOPIC_SUPPRESSION, addr, 0, now, err) < 0) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st, err);
}

int
store_suppression_remove(struct store *st, const char *account,
    const char *address, time_t now, unsigned *removed_r, struct rb_error *err)
{
	static const char sql_a[] =
	    "DELETE FROM suppression_account WHERE address = ?1"
	    " AND (?2 IS NULL OR account = ?2)";
	/* Ended, not deleted: escalation remembers it. */
	static const char sql_g[] = "UPDATE suppression_global SET until = ?2"
	                            " WHERE address = ?1 AND until > ?2";
	char addr[STORE_MAX_ADDRESS];
	sqlite3_stmt *s;
	unsigned n = 0;
	int rc;

	if (store_address_normalize(st, address, addr, sizeof(addr), err) < 0)
		return -1;
	if (store_begin(st, err) < 0)
		return -1;
	if (sqlite3_prepare_v2(st->db, sql_a, -1, &s, NULL) != SQLITE_OK)
		goto fail;
	(void)bind_text(s, 1, addr);
	(void)bind_text(s, 2, account);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		goto fail;
	n += (unsigned)sqlite3_changes(st->db);
	if (sqlite3_prepare_v2(st->db, sql_g, -1, &s, NULL) != SQLITE_OK)
		goto fail;
	(void)bind_text(s, 1, addr);
	(void)sqlite3_bind_int64(s, 2, (sqlite3_int64)now);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		goto fail;
	n += (unsigned)sqlite3_changes(st->db);
	if (n > 0 &&
	    outbox_add(st, STORE_TOPIC_SUPPRESSION, addr, 0, now, err) < 0) {
		store_rollback(st);
		return -1;
	}
	if (store_commit(st, err) < 0)
		return -1;
	*removed_r = n;
	return 0;
fail:
	store_db_error(st, "suppression remove", err);
	store_rollback(st);
	return -1;
}

int
store_suppression_list(struct store *st, const char *account,
    const char *reason, time_t now, store_suppression_fn *fn, void *ctx,
    struct rb_error *err)
{
	static const char sql_g[] =
	    "SELECT address, reason, since, until, strikes, event_id"
	    " FROM suppression_global WHERE until > ?1 ORDER BY address";
	static const char sql_a[] =
	    "SELECT account, address, reason, since, origin, event_id"
	    " FROM suppression_account WHERE (?1 IS NULL OR account = ?1)"
	    " AND (?2 IS NULL OR reason = ?2) ORDER BY account, address";
	const char *r = NULL;
	sqlite3_stmt *s;
	int stop = 0, rc;

	if (reason != NULL && (r = reason_norm(reason)) == NULL)
		return rb_error_set(err, EINVAL,
		    "reason: BOUNCE or COMPLAINT, not '%s'", reason);
	if (r == NULL || strcmp(r, "BOUNCE") == 0) {
		if (sqlite3_prepare_v2(st->db, sql_g, -1, &s, NULL) !=
		    SQLITE_OK)
			return store_db_error(st, "suppression list", err);
		(void)sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
		rc = walk(st, s, 1, fn, ctx, NULL, &stop, err);
		sqlite3_finalize(s);
		if (rc < 0 || stop)
			return rc;
	}
	if (sqlite3_prepare_v2(st->db, sql_a, -1, &s, NULL) != SQLITE_OK)
		return store_db_error(st, "suppression list", err);
	(void)bind_text(s, 1, account);
	(void)bind_text(s, 2, r);
	rc = walk(st, s, 0, fn, ctx, NULL, &stop, err);
	sqlite3_finalize(s);
	return rc;
}

/* ---- export and import ------------------------------------------------- */

struct export_ctx {
	FILE *fp;
	enum store_format fmt;
	uint64_t n;
};

/* A CSV field, quoted when it needs to be (RFC 4180). */
static void
csv_field(FILE *fp, const char *v, int last)
{
	if (v == NULL)
		v = "";
	if (strpbrk(v, ",\"\r\n") != NULL) {
		fputc('"', fp);
		for (; *v != '\0'; v++) {
			if (*v == '"')
				fputc('"', fp);
			fputc(*v, fp);
		}
		fputc('"', fp);
	} else {
		fputs(v, fp);
	}
	fputc(last ? '\n' : ',', fp);
}

static int
export_one(const struct store_suppression *e, void *ctx)
{
	struct export_ctx *x = ctx;
	char since[40], until[40] = "", strikes[24] = "";

	time_format_iso(e->since, since, sizeof(since));
	if (e->until != 0)
		time_format_iso(e->until, until, sizeof(until));
	if (e->list == STORE_LIST_GLOBAL)
		(void)snprintf(strikes, sizeof(strikes), "%u", e->strikes);
	if (x->fmt == STORE_FORMAT_CSV) {
		csv_field(x->fp,
		    e->list == STORE_LIST_GLOBAL ? "global" : "account", 0);
		csv_field(x->fp, e->account, 0);
		csv_field(x->fp, e->address, 0);
		csv_field(x->fp, e->reason, 0);
		csv_field(x->fp, since, 0);
		csv_field(x->fp, until, 0);
		csv_field(x->fp, e->detail, 0);
		csv_field(x->fp, strikes, 1);
	} else {
		json_t *o = json_object();
		char *s;

		json_object_set_new(o, "list",
		    json_string(
		        e->list == STORE_LIST_GLOBAL ? "global" : "account"));
		if (e->account != NULL)
			json_object_set_new(
			    o, "account", json_string(e->account));
		json_object_set_new(o, "address", json_string(e->address));
		json_object_set_new(o, "reason", json_string(e->reason));
		json_object_set_new(o, "since", json_string(since));
		if (e->until != 0)
			json_object_set_new(o, "until", json_string(until));
		if (e->detail != NULL)
			json_object_set_new(o,
			    e->list == STORE_LIST_GLOBAL ? "bounceReason"
			                                 : "origin",
			    json_string(e->detail));
		if (e->list == STORE_LIST_GLOBAL)
			json_object_set_new(
			    o, "strikes", json_integer(e->strikes));
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (s != NULL) {
			fputs(s, x->fp);
			fputc('\n', x->fp);
			free(s);
		}
	}
	x->n++;
	return ferror(x->fp) ? -1 : 0;
}

int
store_suppression_export(struct store *st, FILE *fp, enum store_format fmt,
    time_t now, uint64_t *n_r, struct rb_error *err)
{
	struct export_ctx x = {fp, fmt, 0};

	if (fmt == STORE_FORMAT_CSV)
		fputs("list,account,address,reason,since,until,detail,"
		      "strikes\n",
		    fp);
	if (store_suppression_list(st, NULL, NULL, now, export_one, &x, err) <
	    0)
		return -1;
	if (fflush(fp) != 0 || ferror(fp))
		return rb_error_set(
		    err, errno ? errno : EIO, "export: write error");
	if (n_r != NULL)
		*n_r = x.n;
	return 0;
}

/* Split a CSV line in place; quoted fields unquoted.  Count or -1. */
static int
csv_split(char *line, char **fields, int max)
{
	char *p = line, *o;
	int n = 0;

	for (;;) {
		if (n == max)
			return -1;
		fields[n++] = o = p;
		if (*p == '"') {
			p++;
			for (;;) {
				if (*p == '\0')
					return -1;
				if (*p == '"') {
					if (p[1] != '"')
						break;
					p++;
				}
				*o++ = *p++;
			}
			p++;
			if (*p != ',' && *p != '\0')
				return -1;
		} else {
			while (*p != ',' && *p != '\0')
				*o++ = *p++;
		}
		if (*p == '\0') {
			*o = '\0';
			return n;
		}
		*o = '\0';
		p++;
	}
}

struct entry {
	const char *list, *account, *address, *reason, *since, *until;
	const char *detail;
	const char *strikes; /* CSV text, or NULL */
	uint64_t n_strikes;  /* JSON, or 0 */
};

static int
import_entry(struct store *st, const struct entry *e, const char *account,
    time_t now, struct rb_error *err)
{
	char addr[STORE_MAX_ADDRESS];
	const char *r = reason_norm(e->reason);
	time_t since = now, until = 0;
	uint64_t strikes = e->n_strikes;

	if (e->address == NULL || e->address[0] == '\0')
		return rb_error_set(err, EINVAL, "no address");
	if (store_address_normalize(st, e->address, addr, sizeof(addr), err) <
	    0)
		return -1;
	if (r == NULL)
		return rb_error_set(err, EINVAL,
		    "reason: BOUNCE or COMPLAINT, not '%s'",
		    e->reason != NULL ? e->reason : "");
	if (e->since != NULL && e->since[0] != '\0' &&
	    config_parse_time(e->since, &since) < 0)
		return rb_error_set(
		    err, EINVAL, "since '%s': not a time", e->since);
	if (e->until != NULL && e->until[0] != '\0' &&
	    config_parse_time(e->until, &until) < 0)
		return rb_error_set(
		    err, EINVAL, "until '%s': not a time", e->until);
	if (e->strikes != NULL && e->strikes[0] != '\0' &&
	    parse_u64(e->strikes, &strikes) < 0)
		return rb_error_set(
		    err, EINVAL, "strikes '%s': not a number", e->strikes);
	if (strikes > SUPPRESS_MAX_STRIKES)
		return rb_error_set(
		    err, EINVAL, "strikes: at most %d", SUPPRESS_MAX_STRIKES);
	if (e->list != NULL && strcmp(e->list, "global") == 0) {
		sqlite3_stmt *s;
		int rc;

		if (strcmp(r, "BOUNCE") != 0)
			return rb_error_set(
			    err, EINVAL, "the global list holds bounces only");
		if (until == 0)
			until = since + (time_t)st->conf.supp_ttl;
		if (until <= since)
			return rb_error_set(
			    err, EINVAL, "until is not after since");
		if ((s = store_stmt(st, STMT_GLOBAL_PUT, err)) == NULL)
			return -1;
		(void)bind_text(s, 1, addr);
		(void)bind_text(s, 2,
		    e->detail != NULL && e->detail[0] ? e->detail
		                                      : "undefined");
		(void)sqlite3_bind_int64(s, 3, (sqlite3_int64)since);
		(void)sqlite3_bind_int64(s, 4, (sqlite3_int64)until);
		(void)sqlite3_bind_int64(s, 5, (sqlite3_int64)(until - since));
		(void)sqlite3_bind_int64(
		    s, 6, strikes > 0 ? (sqlite3_int64)strikes : 1);
		rc = sqlite3_step(s);
		(void)sqlite3_reset(s);
		if (rc != SQLITE_DONE)
			return store_db_error(st, "import", err);
		return outbox_add(
		    st, STORE_TOPIC_SUPPRESSION, addr, 0, now, err);
	}
	if (e->list != NULL && e->list[0] != '\0' &&
	    strcmp(e->list, "account") != 0)
		return rb_error_set(
		    err, EINVAL, "list: global or account, not '%s'", e->list);
	if (e->account != NULL && e->account[0] != '\0')
		account = e->account;
	if (check_account(account, err) < 0)
		return -1;
	if (account_put(st, account, addr, r, since, "import", err) < 0)
		return -1;
	return outbox_add(st, STORE_TOPIC_SUPPRESSION, addr, 0, now, err);
}

static const char *
jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int
store_suppression_import(struct store *st, FILE *fp, const char *name,
    enum store_format fmt, const char *account, time_t now,
    struct store_import_summary *sum_r, struct rb_error *err)
{
	struct store_import_summary sum;
	int col[SUPPRESS_N_COLS], have_header = 0, i;
	/* The export's columns, and Amazon SES's names for two. */
	static const char *const cols[SUPPRESS_N_COLS] = {"list", "account",
	    "address", "reason", "since", "until", "detail", "strikes"};
	char *line = NULL;
	size_t cap = 0, len;
	int rc = 0, got;

	if (account == NULL)
		account = st->conf.default_account;
	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < SUPPRESS_N_COLS; i++)
		col[i] = -1;
	if (store_begin(st, err) < 0)
		return -1;
	while (rc == 0 && (got = store_getline(fp, &line, &cap,
	                       SUPPRESS_MAX_LINE, &len)) != 0) {
		struct rb_error lerr;
		struct entry e;
		json_t *o = NULL;

		sum.lines++;
		if (got < 0) {
			rc = store_line_error(
			    err, name, sum.lines, got, SUPPRESS_MAX_LINE);
			break;
		}
		if (len == 0)
			continue;
		memset(&e, 0, sizeof(e));
		if (fmt == STORE_FORMAT_CSV) {
			char *f[SUPPRESS_MAX_FIELDS];
			int nf = csv_split(line, f, SUPPRESS_MAX_FIELDS), j;

			if (nf < 0) {
				rc = rb_error_set(err, EINVAL,
				    "%s:%llu: bad CSV", name,
				    (unsigned long long)sum.lines);
				break;
			}
			if (!have_header) {
				have_header = 1;
				/* The header names the columns. */
				for (j = 0; j < nf; j++) {
					for (i = 0; i < SUPPRESS_N_COLS; i++) {
						if (strcasecmp(f[j], cols[i]) ==
						        0 ||
						    (i == 2 &&
						        strcasecmp(f[j],
						            "emailaddress") ==
						            0))
							col[i] = j;
					}
				}
				if (col[2] < 0 && nf >= 2 &&
				    strchr(f[0], '@') != NULL) {
					/* No header: ADDRESS,REASON lines, as
					 * SES's bulk import takes them. */
					col[2] = 0;
					col[3] = 1;
				} else if (col[2] < 0 || col[3] < 0) {
					rc = rb_error_set(err, EINVAL,
					    "%s:1: the CSV header needs "
					    "address and reason columns",
					    name);
					break;
				} else {
					continue;
				}
			}
#define CSV_COL(k) (col[k] >= 0 && col[k] < nf ? f[col[k]] : NULL)
			e.list = CSV_COL(0);
			e.account = CSV_COL(1);
			e.address = CSV_COL(2);
			e.reason = CSV_COL(3);
			e.since = CSV_COL(4);
			e.until = CSV_COL(5);
			e.detail = CSV_COL(6);
			e.strikes = CSV_COL(7);
#undef CSV_COL
		} else {
			json_error_t jerr;

			o = json_loadb(line, len, 0, &jerr);
			if (!json_is_object(o)) {
				json_decref(o);
				rc = rb_error_set(err, EINVAL,
				    "%s:%llu: not a JSON object: %s", name,
				    (unsigned long long)sum.lines, jerr.text);
				break;
			}
			e.list = jstr(o, "list");
			e.account = jstr(o, "account");
			/* Ours, else SES's ListSuppressedDestinations. */
			e.address = jstr(o, "address");
			if (e.address == NULL)
				e.address = jstr(o, "emailAddress");
			if (e.address == NULL)
				e.address = jstr(o, "EmailAddress");
			e.reason = jstr(o, "reason");
			if (e.reason == NULL)
				e.reason = jstr(o, "Reason");
			e.since = jstr(o, "since");
			if (e.since == NULL)
				e.since = jstr(o, "LastUpdateTime");
			e.until = jstr(o, "until");
			e.detail = jstr(o, "bounceReason");
			if (json_is_integer(json_object_get(o, "strikes")) &&
			    json_integer_value(json_object_get(o, "strikes")) >
			        0)
				e.n_strikes = (uint64_t)json_integer_value(
				    json_object_get(o, "strikes"));
		}
		if (import_entry(st, &e, account, now, &lerr) < 0)
			rc = rb_error_set(err, lerr.code, "%s:%llu: %s", name,
			    (unsigned long long)sum.lines, lerr.msg);
		else
			sum.imported++;
		json_decref(o);
	}
	free(line);
	if (rc == 0 && ferror(fp))
		rc = rb_error_set(err, EIO, "%s: read error", name);
	if (rc == 0)
		rc = store_commit(st, err);
	else
		store_rollback(st);
	if (rc == 0 && sum_r != NULL)
		*sum_r = sum;
	return rc;
}
