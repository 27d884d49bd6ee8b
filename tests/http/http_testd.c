/*
 * http_testd: the HTTP server of http/ over a database, for the tests
 * and the benchmark, until SIGTERM or SIGINT.  POST /v1/messages goes
 * through a submit hook that ingests the message into the store on a
 * handle of its own (what `rebound serve` does through its spool and
 * pipeline); the readiness hook reports a "spool" check that fails
 * while the file given with --not-ready exists, and submit answers
 * "not now" while the --busy file exists, so tests can reach both 503s.
 * --ready FILE is written (atomically) with the server's URL once it
 * listens.  Built for tests only.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classify/classify.h"
#include "core/core.h"
#include "http/http.h"
#include "store/store.h"

/* --set options at most. */
#define TESTD_MAX_SETS 32

struct testd {
	pthread_mutex_t mu;
	struct store *st; /* the submit hook's own handle */
	struct classify_rules *rules;
	const char *not_ready, *busy;
	unsigned submitted;
};

static int
submit(void *ctx, const unsigned char *msg, size_t len, struct rb_error *err)
{
	struct testd *t = ctx;
	struct store_source src = {NULL, -1, "http", NULL};
	struct store_ingest_summary sum;
	struct store_ingest *ing;
	int rc = -1;

	if (t->busy != NULL && access(t->busy, F_OK) == 0)
		return 1;
	pthread_mutex_lock(&t->mu);
	if (store_ingest_begin(t->st, t->rules, config_now(), &ing, err) == 0) {
		rc = store_ingest_feed(ing, msg, len, &src, err);
		if (store_ingest_end(&ing, &sum, rc < 0 ? NULL : err) < 0)
			rc = -1;
		t->submitted++;
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

static void
ready(void *ctx, struct http_ready *r)
{
	struct testd *t = ctx;
	int bad = t->not_ready != NULL && access(t->not_ready, F_OK) == 0;

	http_ready_check(r, "spool", !bad, bad ? "not writable" : "writable");
}

static void
metrics(void *ctx, struct http_metrics *m)
{
	struct testd *t = ctx;

	pthread_mutex_lock(&t->mu);
	http_metrics_add(m, "rebound_messages_received_total", "counter",
	    "feedback messages received since start, by source",
	    "source=\"smtp\"", 0);
	http_metrics_add(m, "rebound_spool_depth", "gauge",
	    "messages spooled, not yet processed", NULL, 0);
	http_metrics_add(m, "rebound_testd_submitted_total", "counter",
	    "messages the test daemon's submit hook stored", NULL,
	    t->submitted);
	pthread_mutex_unlock(&t->mu);
}

static void
usage(void)
{
	fprintf(stderr, "usage: http_testd --db FILE [--listen ADDR] "
	                "[--web DIR] [--ready FILE] [--not-ready FILE] "
	                "[--busy FILE] [--no-submit] [--set KEY=VALUE]...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"db", 1, NULL, 'd'},
	    {"listen", 1, NULL, 'l'}, {"web", 1, NULL, 'w'},
	    {"ready", 1, NULL, 'r'}, {"not-ready", 1, NULL, 'n'},
	    {"busy", 1, NULL, 'b'}, {"no-submit", 0, NULL, 'S'},
	    {"set", 1, NULL, 's'}, {NULL, 0, NULL, 0}};
	const char *db = NULL, *listen = "127.0.0.1:0", *web = NULL;
	const char *ready_file = NULL, *sets[TESTD_MAX_SETS];
	size_t n_sets = 0, i;
	int no_submit = 0, c, sig;
	struct http_settings set;
	struct http_server *srv = NULL;
	struct testd t;
	struct config *cfg = NULL;
	struct rb_error err;
	char rules_dir[1024], prov[1024];
	const char *dirs[1] = {rules_dir};
	sigset_t ss;

	memset(&t, 0, sizeof(t));
	pthread_mutex_init(&t.mu, NULL);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'w':
			web = optarg;
			break;
		case 'r':
			ready_file = optarg;
			break;
		case 'n':
			t.not_ready = optarg;
			break;
		case 'b':
			t.busy = optarg;
			break;
		case 'S':
			no_submit = 1;
			break;
		case 's':
			if (n_sets == TESTD_MAX_SETS)
				usage();
			sets[n_sets++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (db == NULL)
		usage();
	if (config_load(getenv("REBOUND_CONFIG"), &cfg, &err) < 0 ||
	    config_set(cfg, "store.db", db, &err) < 0)
		goto fail;
	(void)snprintf(
	    prov, sizeof(prov), "%s/data/providers.tsv", REBOUND_SOURCE_DIR);
	if (config_set(cfg, "stats.providers", prov, &err) < 0)
		goto fail;
	for (i = 0; i < n_sets; i++) {
		char kv[CONFIG_MAX_VALUE + 64], *eq;

		(void)snprintf(kv, sizeof(kv), "%s", sets[i]);
		eq = strchr(kv, '=');
		if (eq == NULL)
			usage();
		*eq = '\0';
		if (config_set(cfg, kv, eq + 1, &err) < 0)
			goto fail;
	}
	(void)snprintf(
	    rules_dir, sizeof(rules_dir), "%s/data/rules", REBOUND_SOURCE_DIR);
	classify_global_init();
	if (classify_rules_load(dirs, 1, &t.rules, &err) < 0 ||
	    store_open(cfg, &t.st, &err) < 0)
		goto fail;
	/* Signals go to sigwait below, not to the server's threads. */
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	memset(&set, 0, sizeof(set));
	set.cfg = cfg;
	set.listen = listen;
	set.web_root = web;
	set.hooks.ctx = &t;
	set.hooks.ready = ready;
	set.hooks.metrics = metrics;
	set.hooks.submit = no_submit ? NULL : submit;
	if (http_server_start(&set, &srv, &err) < 0)
		goto fail;
	if (ready_file != NULL) {
		char tmp[1100];
		FILE *fp;

		(void)snprintf(tmp, sizeof(tmp), "%s.tmp", ready_file);
		fp = fopen(tmp, "w");
		if (fp == NULL ||
		    fprintf(fp, "%s\n", http_server_url(srv)) < 0 ||
		    fclose(fp) != 0 || rename(tmp, ready_file) < 0) {
			perror(ready_file);
			goto fail;
		}
	}
	fprintf(stderr, "http_testd: listening on %s\n", http_server_url(srv));
	(void)sigwait(&ss, &sig);
	http_server_stop(&srv);
	store_close(&t.st);
	classify_rules_free(&t.rules);
	classify_global_shutdown();
	config_free(&cfg);
	return 0;
fail:
	fprintf(stderr, "http_testd: %s\n", err.msg);
	http_server_stop(&srv);
	store_close(&t.st);
	classify_rules_free(&t.rules);
	config_free(&cfg);
	return 1;
}
