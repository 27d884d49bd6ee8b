/*
 * ingest/mailbox.c: what each kind of path yields.  An mbox is split on
 * its "From " lines (not kept) with ">From " unquoted one level (mboxrd)
 * and indexes 0, 1, ...; a .eml starting with "From " is one message; a
 * Maildir gives new/ then cur/, sorted, never tmp/; a plain directory its
 * regular files, sorted, no dot files; an unreadable path goes to
 * on_error while the others are still read; a callback returning -1 stops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "test.h"

#define MAX_GOT 16

struct got {
	char *data[MAX_GOT];
	size_t len[MAX_GOT];
	long index[MAX_GOT];
	char path[MAX_GOT][512];
	size_t n;
	size_t errors;
	char last_error[256];
	size_t stop_after; /* 0: never stop */
};

static char dir[] = "/tmp/rebound-test-mailbox.XXXXXX";

static int
on_message(const struct ingest_message *m, void *ctx)
{
	struct got *g = ctx;

	if (g->n < MAX_GOT) {
		g->data[g->n] = xstrndup((const char *)m->data, m->len);
		g->len[g->n] = m->len;
		g->index[g->n] = m->index;
		(void)snprintf(
		    g->path[g->n], sizeof(g->path[g->n]), "%s", m->path);
	}
	g->n++;
	return g->stop_after != 0 && g->n >= g->stop_after ? -1 : 0;
}

static void
on_error(const struct rb_error *err, void *ctx)
{
	struct got *g = ctx;

	g->errors++;
	(void)snprintf(g->last_error, sizeof(g->last_error), "%s", err->msg);
}

static void
got_free(struct got *g)
{
	size_t i;

	for (i = 0; i < g->n && i < MAX_GOT; i++)
		free(g->data[i]);
	memset(g, 0, sizeof(*g));
}

static const char *
at(const char *name)
{
	static char path[512];

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void
put(const char *name, const char *content)
{
	FILE *fp = fopen(at(name), "wb");

	if (fp == NULL || fputs(content, fp) == EOF || fclose(fp) != 0)
		rb_panic("cannot write %s", at(name));
}

static void
mkdir_at(const char *name)
{
	if (mkdir(at(name), 0700) < 0)
		rb_panic("cannot mkdir %s", at(name));
}

static const char mbox[] = "From MAILER-DAEMON Mon Jun  3 10:00:00 2024\n"
                           "Subject: one\n"
                           "\n"
                           "body one\n"
                           "\n"
                           "From alice@example.com Mon Jun  3 10:01:00 2024\n"
                           "Subject: two\n"
                           "\n"
                           ">From the desk of Alice\n"
                           ">>From a quote\n"
                           "> From stays\n"
                           "\n"
                           "From bob@example.com Mon Jun  3 10:02:00 2024\n"
                           "Subject: three\n"
                           "\n"
                           "body three\n";

static void
test_mbox(void)
{
	struct got g;

	memset(&g, 0, sizeof(g));
	put("box", mbox);
	test_assert(ingest_read_path(at("box"), on_message, on_error, &g) == 0);
	test_assert(g.n == 3 && g.errors == 0);
	if (g.n == 3) {
		test_assert(
		    g.index[0] == 0 && g.index[1] == 1 && g.index[2] == 2);
		/* The separator line is not part of the message. */
		test_assert(strncmp(g.data[0], "Subject: one\n", 13) == 0);
		test_assert(strstr(g.data[0], "body one") != NULL);
		test_assert(
		    strstr(g.data[1], "\nFrom the desk of Alice\n") != NULL);
		test_assert(strstr(g.data[1], "\n>From a quote\n") != NULL);
		test_assert(strstr(g.data[1], "\n> From stays\n") != NULL);
		test_assert(strstr(g.data[1], ">>From") == NULL);
		test_assert(
		    strcmp(g.data[2], "Subject: three\n\nbody three\n") == 0);
		test_assert_streq(g.path[2], at("box"));
	}
	got_free(&g);

	/* Stop after the first message. */
	g.stop_after = 1;
	test_assert(ingest_read_path(at("box"), on_message, on_error, &g) == 0);
	test_assert(g.n == 1);
	got_free(&g);
}

static void
test_single_files(void)
{
	static const char eml[] =
	    "From someone Mon Jun  3 10:00:00 2024\n"
	    "Subject: saved by a client\n\nFrom here on, one message.\n";
	struct got g;

	memset(&g, 0, sizeof(g));
	put("saved.eml", eml);
	test_assert(
	    ingest_read_path(at("saved.eml"), on_message, on_error, &g) == 0);
	test_assert(g.n == 1);
	if (g.n == 1) {
		test_assert(g.index[0] == -1);
		test_assert(g.len[0] == strlen(eml));
		test_assert(strcmp(g.data[0], eml) == 0);
	}
	got_free(&g);

	put("empty", "");
	test_assert(
	    ingest_read_path(at("empty"), on_message, on_error, &g) == 0);
	test_assert(g.n == 1 && g.len[0] == 0);
	got_free(&g);
}

static void
test_maildir(void)
{
	struct got g;

	memset(&g, 0, sizeof(g));
	mkdir_at("md");
	mkdir_at("md/tmp");
	mkdir_at("md/new");
	mkdir_at("md/cur");
	put("md/tmp/3.host", "Subject: in delivery\n\n");
	put("md/cur/1.host:2,S", "Subject: cur 1\n\n");
	put("md/new/2.host", "Subject: new 2\n\n");
	put("md/new/1.host", "Subject: new 1\n\n");
	put("md/new/.hidden", "Subject: hidden\n\n");
	test_assert(ingest_read_path(at("md"), on_message, on_error, &g) == 0);
	test_assert(g.n == 3);
	if (g.n == 3) {
		test_assert_streq(g.data[0], "Subject: new 1\n\n");
		test_assert_streq(g.data[1], "Subject: new 2\n\n");
		test_assert_streq(g.data[2], "Subject: cur 1\n\n");
		test_assert(g.index[0] == -1);
	}
	got_free(&g);

	/* An empty cur/ (a fresh Maildir) and an empty new/. */
	mkdir_at("md2");
	mkdir_at("md2/tmp");
	mkdir_at("md2/new");
	mkdir_at("md2/cur");
	test_assert(ingest_read_path(at("md2"), on_message, on_error, &g) == 0);
	test_assert(g.n == 0 && g.errors == 0);
	put("md2/new/1.host", "Subject: only\n\n");
	test_assert(ingest_read_path(at("md2"), on_message, on_error, &g) == 0);
	test_assert(g.n == 1);
	got_free(&g);
}

static void
test_plain_dir_and_errors(void)
{
	struct got g;

	memset(&g, 0, sizeof(g));
	mkdir_at("plain");
	mkdir_at("plain/sub");
	put("plain/b.eml", "Subject: b\n\n");
	put("plain/a.eml", "Subject: a\n\n");
	put("plain/sub/c.eml", "Subject: c\n\n");
	test_assert(
	    ingest_read_path(at("plain"), on_message, on_error, &g) == 0);
	test_assert(g.n == 2);
	if (g.n == 2) {
		test_assert_streq(g.data[0], "Subject: a\n\n");
		test_assert_streq(g.data[1], "Subject: b\n\n");
	}
	got_free(&g);

	test_assert(ingest_read_path(
	                at("nonexistent"), on_message, on_error, &g) == -1);
	test_assert(g.n == 0 && g.errors == 1);
	test_assert(strstr(g.last_error, at("nonexistent")) != NULL);
	got_free(&g);
	/* No on_error given: still -1, no crash. */
	test_assert(
	    ingest_read_path(at("nonexistent"), on_message, NULL, &g) == -1);
	got_free(&g);
}

static void
cleanup(void)
{
	static const char *const files[] = {
	    "box",
	    "saved.eml",
	    "empty",
	    "md/tmp/3.host",
	    "md/cur/1.host:2,S",
	    "md/new/2.host",
	    "md/new/1.host",
	    "md/new/.hidden",
	    "md2/new/1.host",
	    "plain/b.eml",
	    "plain/a.eml",
	    "plain/sub/c.eml",
	};
	static const char *const dirs[] = {
	    "md/tmp",
	    "md/new",
	    "md/cur",
	    "md",
	    "md2/tmp",
	    "md2/new",
	    "md2/cur",
	    "md2",
	    "plain/sub",
	    "plain",
	};
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		(void)unlink(at(files[i]));
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		(void)rmdir(at(dirs[i]));
	(void)rmdir(dir);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		rb_panic("mkdtemp failed");
	test_mbox();
	test_single_files();
	test_maildir();
	test_plain_dir_and_errors();
	cleanup();
	return test_exit();
}
