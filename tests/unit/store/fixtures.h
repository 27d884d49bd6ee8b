/*
 * Fixtures of the store tests: a temporary directory, a config for a
 * database in it, and feedback messages of our own (a DSN, an ARF
 * complaint) built from a few parameters.  Static functions: each test
 * includes this once.
 */
#ifndef REBOUND_TEST_STORE_FIXTURES_H
#define REBOUND_TEST_STORE_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "classify/classify.h"
#include "core/core.h"
#include "store/store.h"

/* 2024-06-01T12:00:00Z: the tests' clock. */
#define FX_NOW ((time_t)1717243200)
#define FX_DAY ((time_t)86400)

static char fx_dir[256];

/* A fresh temporary directory, removed by fx_cleanup(). */
static void
fx_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	(void)snprintf(fx_dir, sizeof(fx_dir), "%s/rebound-store-XXXXXX",
	    t != NULL && t[0] != '\0' ? t : "/tmp");
	if (mkdtemp(fx_dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

static void
fx_cleanup(void)
{
	char cmd[600];

	if (fx_dir[0] == '\0')
		return;
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fx_dir);
}

/*
 * A config for database NAME in the temporary directory, with the
 * extra settings "key=value" in sets (NULL-terminated).
 */
static struct config *
fx_config(const char *name, const char *const *sets)
{
	struct config *cfg;
	struct rb_error err;
	char path[512];

	if (config_load(NULL, &cfg, &err) < 0) {
		fprintf(stderr, "config: %s\n", err.msg);
		exit(1);
	}
	(void)snprintf(path, sizeof(path), "%s/%s", fx_dir, name);
	if (config_set(cfg, "store.db", path, &err) < 0)
		exit(1);
	for (; sets != NULL && *sets != NULL; sets++) {
		char kv[256], *eq;

		(void)snprintf(kv, sizeof(kv), "%s", *sets);
		eq = strchr(kv, '=');
		if (eq == NULL)
			exit(1);
		*eq = '\0';
		if (config_set(cfg, kv, eq + 1, &err) < 0) {
			fprintf(stderr, "config: %s\n", err.msg);
			exit(1);
		}
	}
	return cfg;
}

static struct store *
fx_open(const char *name, const char *const *sets)
{
	struct config *cfg = fx_config(name, sets);
	struct store *st;
	struct rb_error err;

	if (store_open(cfg, &st, &err) < 0) {
		fprintf(stderr, "store_open: %s\n", err.msg);
		exit(1);
	}
	config_free(&cfg);
	return st;
}

/*
 * Every row of every table of the database at path, in a fixed order,
 * one line per row (blobs in hex): two databases with the same content
 * give the same text.  Returns the number of rows, or -1.
 */
static long
fx_dump(const char *path, FILE *out)
{
	sqlite3 *db;
	sqlite3_stmt *t, *s;
	long rows = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db,
	        "SELECT name FROM sqlite_schema WHERE "
	        "type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
	        -1, &t, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	while (sqlite3_step(t) == SQLITE_ROW) {
		char sql[256];
		int i, n;

		/* Table names come from the schema itself. */
		(void)snprintf(sql, sizeof(sql),
		    "SELECT * FROM \"%s\" ORDER BY 1, 2",
		    (const char *)sqlite3_column_text(t, 0));
		if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
			rows = -1;
			break;
		}
		fprintf(
		    out, "== %s\n", (const char *)sqlite3_column_text(t, 0));
		n = sqlite3_column_count(s);
		while (sqlite3_step(s) == SQLITE_ROW) {
			for (i = 0; i < n; i++) {
				int type = sqlite3_column_type(s, i);

				if (type == SQLITE_BLOB) {
					const unsigned char *b =
					    sqlite3_column_blob(s, i);
					int k, len = sqlite3_column_bytes(s, i);

					for (k = 0; k < len; k++)
						fprintf(out, "%02x", b[k]);
				} else if (type == SQLITE_NULL) {
					fputs("NULL", out);
				} else {
					fputs((const char *)sqlite3_column_text(
					          s, i),
					    out);
				}
				fputc(i + 1 < n ? '|' : '\n', out);
			}
			rows++;
		}
		sqlite3_finalize(s);
	}
	sqlite3_finalize(t);
	sqlite3_close(db);
	return rows;
}

/* The built-in rules (REBOUND_SOURCE_DIR/data/rules); exits on error. */
static struct classify_rules *
fx_rules(void)
{
	const char *src = getenv("REBOUND_SOURCE_DIR");
	char dir[512];
	const char *dirs[1];
	struct classify_rules *rules;
	struct rb_error err;

	(void)snprintf(
	    dir, sizeof(dir), "%s/data/rules", src != NULL ? src : ".");
	dirs[0] = dir;
	classify_global_init();
	if (classify_rules_load(dirs, 1, &rules, &err) < 0) {
		fprintf(stderr, "rules: %s\n", err.msg);
		exit(1);
	}
	return rules;
}

/* data/providers.tsv of the source tree, as a "key=value" setting. */
static const char *
fx_providers_setting(void)
{
	static char kv[600];
	const char *src = getenv("REBOUND_SOURCE_DIR");

	(void)snprintf(kv, sizeof(kv), "stats.providers=%s/data/providers.tsv",
	    src != NULL ? src : ".");
	return kv;
}

/* Ingest n messages at now; returns the ingest's result. */
static int
fx_ingest(struct store *st, const struct classify_rules *rules,
    char *const *msgs, size_t n, time_t now, struct store_ingest_summary *sum_r)
{
	struct store_ingest *ing;
	struct rb_error err;
	size_t i;
	int rc = 0;

	if (store_ingest_begin(st, rules, now, &ing, &err) < 0) {
		fprintf(stderr, "ingest: %s\n", err.msg);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		struct store_source src = {"mem", (long)i, "test", NULL};

		rc = store_ingest_feed(ing, (const unsigned char *)msgs[i],
		    strlen(msgs[i]), &src, &err);
	}
	if (store_ingest_end(&ing, sum_r, &err) < 0) {
		fprintf(stderr, "ingest: %s\n", err.msg);
		rc = -1;
	}
	return rc;
}

/*
 * An RFC 3464 report: rcpt bounced with status (e.g. "5.1.1"), the
 * returned message was From: sender.  id makes the message distinct.
 * trace: extra leading trace headers (may be "").  Caller frees.
 */
static char *
fx_dsn(const char *id, const char *rcpt, const char *status, const char *sender,
    const char *trace)
{
	char *m = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&m, &len);

	fprintf(fp,
	    "%s"
	    "From: MAILER-DAEMON@mx.example.net\n"
	    "To: bounces@example.com\n"
	    "Subject: Undelivered Mail Returned to Sender\n"
	    "Date: Sat, 01 Jun 2024 10:00:00 +0000\n"
	    "Message-ID: <dsn-%s@mx.example.net>\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;"
	    " boundary=\"B%s\"\n"
	    "\n"
	    "--B%s\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "The mail could not be delivered.\n"
	    "\n"
	    "--B%s\n"
	    "Content-Type: message/delivery-status\n"
	    "\n"
	    "Reporting-MTA: dns; mx.example.net\n"
	    "\n"
	    "Final-Recipient: rfc822; %s\n"
	    "Action: %s\n"
	    "Status: %s\n"
	    "Diagnostic-Code: smtp; %c50 %s %s\n"
	    "\n"
	    "--B%s\n"
	    "Content-Type: text/rfc822-headers\n"
	    "\n"
	    "From: Sender <%s>\n"
	    "To: %s\n"
	    "Subject: hello %s\n"
	    "Message-ID: <orig-%s@example.com>\n"
	    "\n"
	    "--B%s--\n",
	    trace, id, id, id, id, rcpt,
	    status[0] == '4' ? "delayed" : "failed", status, status[0], status,
	    status[0] == '5' && strcmp(status, "5.1.1") == 0 ? "user unknown"
	                                                     : "mailbox full",
	    id, sender, rcpt, id, id, id);
	fclose(fp);
	return m;
}

/* An ARF complaint (feedback type type) about rcpt, sent by sender. */
static char *
fx_arf(const char *id, const char *rcpt, const char *sender, const char *type)
{
	char *m = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&m, &len);

	fprintf(fp,
	    "From: feedback@fbl.example.net\n"
	    "To: abuse@example.com\n"
	    "Subject: complaint about message\n"
	    "Date: Sat, 01 Jun 2024 10:00:00 +0000\n"
	    "Message-ID: <arf-%s@fbl.example.net>\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=feedback-report;"
	    " boundary=\"A%s\"\n"
	    "\n"
	    "--A%s\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "This is an email abuse report.\n"
	    "\n"
	    "--A%s\n"
	    "Content-Type: message/feedback-report\n"
	    "\n"
	    "Feedback-Type: %s\n"
	    "User-Agent: ExampleFBL/1.0\n"
	    "Version: 1\n"
	    "Original-Mail-From: <%s>\n"
	    "Original-Rcpt-To: <%s>\n"
	    "Source-IP: 192.0.2.10\n"
	    "\n"
	    "--A%s\n"
	    "Content-Type: message/rfc822\n"
	    "\n"
	    "From: Sender <%s>\n"
	    "To: %s\n"
	    "Subject: offer %s\n"
	    "Message-ID: <orig-%s@example.com>\n"
	    "\n"
	    "Buy now.\n"
	    "\n"
	    "--A%s--\n",
	    id, id, id, id, type, sender, rcpt, id, sender, rcpt, id, id, id);
	fclose(fp);
	return m;
}

#endif
