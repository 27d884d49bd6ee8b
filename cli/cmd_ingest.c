/*
 * rebound ingest: read feedback messages (files, Maildirs, directories,
 * mboxes, - for stdin), classify them and store them (store_ingest_*):
 * events, counters, suppressions, alerts, review queue.  Idempotent: a
 * message stored before changes nothing.  On a terminal (stderr) a
 * progress line shows messages, rate and, when the total is known
 * (files and directories, not mboxes or stdin), a bar and the ETA.  At
 * the end a summary (--json: as one JSON object) and a retention prune
 * in bounded batches.
 *
 * Also here: cli_store_open(), the --db/--config handling shared by
 * every command that touches the store.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "classify/classify.h"
#include "cli/cli.h"
#include "ingest/ingest.h"
#include "store/store.h"

/* Progress redraws per second at most. */
#define INGEST_PROGRESS_HZ 5
/* Characters of the progress bar: the line fits 80 columns. */
#define INGEST_BAR_WIDTH 20
/* Files counted for the ETA before giving up on knowing the total. */
#define INGEST_MAX_COUNT 10000000

const char cmd_ingest_usage[] =
    "usage: rebound ingest [--db FILE] [--config FILE] [--json]\n"
    "                      [--rules DIR] PATH...\n"
    "\n"
    "Classify feedback messages and store them: events per recipient,\n"
    "hourly counters per identity, suppressions, alerts, and a review\n"
    "queue for what could not be classified.  PATH is a message file, a\n"
    "Maildir, a directory of message files, an mbox, or - for stdin.\n"
    "A message stored before (same dedupe key) changes nothing.\n"
    "\n"
    "  --db FILE      database (default: store.db of the config,\n"
    "                 rebound.db)\n"
    "  --config FILE  settings (default: $REBOUND_CONFIG, else none)\n"
    "  --json         print the summary as JSON\n"
    "  --rules DIR    also load DIR/*.rules; its rules take precedence\n"
    "  -h, --help     show this help\n"
    "\n"
    "Environment: REBOUND_<SECTION>_<KEY> overrides a setting;\n"
    "REBOUND_NOW (unix seconds or RFC 3339) sets the clock.\n"
    "Exit status: 0 all stored, 1 a path could not be read or the\n"
    "database failed (batches committed before stay), 2 usage error.\n";

/* ---- shared by the store commands ------------------------------------ */

int
cli_config_load(
    const char *cmd, const struct cli_store_opts *o, struct config **cfg_r)
{
	const char *path = o->config;
	struct config *cfg = NULL;
	struct rb_error err = {0};

	if (path == NULL) {
		const char *env = getenv("REBOUND_CONFIG");

		if (env != NULL && env[0] != '\0')
			path = env;
	}
	if (config_load(path, &cfg, &err) < 0) {
		fprintf(stderr, "rebound %s: %s\n", cmd, err.msg);
		return -1;
	}
	if (o->db != NULL && config_set(cfg, "store.db", o->db, &err) < 0) {
		fprintf(stderr, "rebound %s: %s\n", cmd, err.msg);
		config_free(&cfg);
		return -1;
	}
	if (config_get(cfg, "stats.providers")[0] == '\0') {
		char prov[4096];
		struct stat sb;

		(void)snprintf(
		    prov, sizeof(prov), "%s/providers.tsv", cli_data_dir());
		if (stat(prov, &sb) == 0 &&
		    config_set(cfg, "stats.providers", prov, &err) < 0) {
			fprintf(stderr, "rebound %s: %s\n", cmd, err.msg);
			config_free(&cfg);
			return -1;
		}
	}
	*cfg_r = cfg;
	return 0;
}

int
cli_store_open(const char *cmd, const struct cli_store_opts *o,
    struct config **cfg_r, struct store **st_r)
{
	struct config *cfg = NULL;
	struct rb_error err = {0};

	if (cli_config_load(cmd, o, &cfg) < 0)
		return -1;
	if (store_open(cfg, st_r, &err) < 0) {
		fprintf(stderr, "rebound %s: %s\n", cmd, err.msg);
		config_free(&cfg);
		return -1;
	}
	*cfg_r = cfg;
	return 0;
}

void
cli_store_close(struct config **cfg, struct store **st)
{
	store_close(st);
	config_free(cfg);
}

static void
print_json(json_t *root)
{
	/* Seconds to the microsecond, not 0.0059895569997934217. */
	char *s = json_dumps(root,
	    JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));

	if (s != NULL) {
		puts(s);
		free(s);
	}
}

/* ---- ingest ------------------------------------------------------------ */

struct ingest_run {
	struct store_ingest *ing;
	struct rb_error err;
	int store_failed;
	uint64_t read_errors;
	uint64_t fed;
	uint64_t total; /* 0: unknown */
	int progress;
	double t0, last_draw;
};

static double
mono(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Redraw the progress line with done messages handled; final: erase. */
static void
draw_progress(struct ingest_run *r, uint64_t done, int final)
{
	double el = mono() - r->t0;
	double rate = el > 0 ? (double)done / el : 0;
	char eta[32] = "";

	if (r->total > 0 && rate > 0 && done <= r->total) {
		uint64_t s = (uint64_t)((double)(r->total - done) / rate);

		(void)snprintf(eta, sizeof(eta), "  ETA %llu:%02llu",
		    (unsigned long long)(s / 60), (unsigned long long)(s % 60));
	}
	if (r->total > 0) {
		char bar[INGEST_BAR_WIDTH + 1];
		uint64_t full = done >= r->total
		                    ? INGEST_BAR_WIDTH
		                    : done * INGEST_BAR_WIDTH / r->total;
		size_t i;

		for (i = 0; i < INGEST_BAR_WIDTH; i++)
			bar[i] = i < full ? '#' : '.';
		bar[INGEST_BAR_WIDTH] = '\0';
		fprintf(stderr,
		    "\r\033[K[%s] %3.0f%%  %llu/%llu messages  %.0f/s%s", bar,
		    done >= r->total ? 100.0
		                     : 100.0 * (double)done / (double)r->total,
		    (unsigned long long)done, (unsigned long long)r->total,
		    rate, eta);
	} else
		fprintf(stderr, "\r\033[K%llu messages  %.0f/s",
		    (unsigned long long)done, rate);
	if (final)
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

static int
on_message(const struct ingest_message *m, void *ctx)
{
	struct ingest_run *r = ctx;
	struct store_source src = {m->path, m->index, "file", NULL};

	if (store_ingest_feed(r->ing, m->data, m->len, &src, &r->err) < 0) {
		r->store_failed = 1;
		return -1;
	}
	r->fed++;
	if (r->progress) {
		double t = mono();

		if (t - r->last_draw >= 1.0 / INGEST_PROGRESS_HZ) {
			r->last_draw = t;
			draw_progress(r, store_ingest_done(r->ing), 0);
		}
	}
	return 0;
}

static void
on_read_error(const struct rb_error *err, void *ctx)
{
	struct ingest_run *r = ctx;

	r->read_errors++;
	if (r->progress)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "rebound ingest: %s\n", err->msg);
}

/* Regular files in dir (not dot files); -1 when unreadable. */
static long
count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	long n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL && n < INGEST_MAX_COUNT) {
		if (de->d_name[0] != '.' && de->d_type != DT_DIR)
			n++;
	}
	closedir(d);
	return n;
}

/* Messages at path when cheap to know; -1 when not (mbox, stdin). */
static long
count_path(const char *path)
{
	struct stat sb;
	char sub[4096];
	long a, b;

	if (strcmp(path, "-") == 0 || stat(path, &sb) < 0)
		return -1;
	if (S_ISREG(sb.st_mode)) {
		FILE *fp = fopen(path, "rb");
		char head[5];
		size_t n;
		size_t len = strlen(path);

		if (fp == NULL)
			return -1;
		n = fread(head, 1, sizeof(head), fp);
		fclose(fp);
		if (n == 5 && memcmp(head, "From ", 5) == 0 &&
		    !(len > 4 && (strcmp(path + len - 4, ".eml") == 0 ||
		                     strcmp(path + len - 4, ".msg") == 0)))
			return -1;
		return 1;
	}
	if (!S_ISDIR(sb.st_mode))
		return -1;
	(void)snprintf(sub, sizeof(sub), "%s/new", path);
	a = count_files(sub);
	(void)snprintf(sub, sizeof(sub), "%s/cur", path);
	b = count_files(sub);
	if (a >= 0 && b >= 0)
		return a + b;
	return count_files(path);
}

static void
print_summary(const struct store_ingest_summary *s, uint64_t read_errors,
    double secs, const struct store_prune_summary *p, const char *db, int json)
{
	static const enum classify_event_type types[] = {CLASSIFY_EVENT_BOUNCE,
	    CLASSIFY_EVENT_COMPLAINT, CLASSIFY_EVENT_AUTOREPLY,
	    CLASSIFY_EVENT_DELIVERY, CLASSIFY_EVENT_DELAY};
	uint64_t errors = s->errors + read_errors;
	size_t i;

	if (json) {
		json_t *o = json_object(), *ev = json_object();
		json_t *b = json_object(), *pr = json_object();

		json_object_set_new(o, "database", json_string(db));
		json_object_set_new(
		    o, "messages", json_integer((json_int_t)s->messages));
		json_object_set_new(
		    o, "stored", json_integer((json_int_t)s->stored));
		json_object_set_new(
		    o, "duplicates", json_integer((json_int_t)s->duplicates));
		for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			json_object_set_new(ev,
			    classify_event_type_name(types[i]),
			    json_integer((json_int_t)s->events[types[i]]));
		json_object_set_new(o, "events", ev);
		json_object_set_new(
		    b, "Permanent", json_integer((json_int_t)s->hard));
		json_object_set_new(
		    b, "Transient", json_integer((json_int_t)s->soft));
		json_object_set_new(b, "Undetermined",
		    json_integer((json_int_t)s->undetermined));
		json_object_set_new(o, "bounces", b);
		json_object_set_new(o, "unattributed",
		    json_integer((json_int_t)s->unattributed));
		json_object_set_new(
		    o, "untrusted", json_integer((json_int_t)s->untrusted));
		json_object_set_new(o, "unclassified",
		    json_integer((json_int_t)s->unclassified));
		json_object_set_new(
		    o, "suppressed", json_integer((json_int_t)s->suppressed));
		json_object_set_new(o, "suppressedAccount",
		    json_integer((json_int_t)s->suppressed_account));
		json_object_set_new(
		    o, "alerts", json_integer((json_int_t)s->alerts));
		json_object_set_new(
		    o, "errors", json_integer((json_int_t)errors));
		json_object_set_new(o, "seconds", json_real(secs));
		json_object_set_new(
		    pr, "raw", json_integer((json_int_t)p->raw));
		json_object_set_new(
		    pr, "messages", json_integer((json_int_t)p->messages));
		json_object_set_new(pr, "suppression",
		    json_integer((json_int_t)p->suppression));
		json_object_set_new(o, "pruned", pr);
		print_json(o);
		json_decref(o);
		return;
	}
	printf("messages      %llu (%.0f/s)\n", (unsigned long long)s->messages,
	    secs > 0 ? (double)s->messages / secs : 0.0);
	printf("stored        %llu\n", (unsigned long long)s->stored);
	printf("duplicates    %llu\n", (unsigned long long)s->duplicates);
	printf("events       ");
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		printf(" %s %llu%s", classify_event_type_name(types[i]),
		    (unsigned long long)s->events[types[i]],
		    i + 1 < sizeof(types) / sizeof(types[0]) ? "," : "\n");
	printf("bounces       Permanent %llu, Transient %llu, "
	       "Undetermined %llu\n",
	    (unsigned long long)s->hard, (unsigned long long)s->soft,
	    (unsigned long long)s->undetermined);
	printf("unattributed  %llu\n", (unsigned long long)s->unattributed);
	printf("untrusted     %llu\n", (unsigned long long)s->untrusted);
	printf("unclassified  %llu (rebound review list)\n",
	    (unsigned long long)s->unclassified);
	printf("suppressed    %llu (%llu global, %llu account-level)\n",
	    (unsigned long long)s->suppressed,
	    (unsigned long long)(s->suppressed - s->suppressed_account),
	    (unsigned long long)s->suppressed_account);
	printf("alerts        %llu\n", (unsigned long long)s->alerts);
	printf("errors        %llu\n", (unsigned long long)errors);
	if (p->raw + p->messages + p->suppression > 0)
		printf("pruned        %llu raw, %llu messages, %llu "
		       "suppressions\n",
		    (unsigned long long)p->raw, (unsigned long long)p->messages,
		    (unsigned long long)p->suppression);
}

int
cmd_ingest(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"rules", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cli_store_opts so = {NULL, NULL};
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct classify_rules *rules = NULL;
	struct store_ingest_summary sum;
	struct store_prune_summary pr;
	struct ingest_run run;
	struct rb_error err = {0};
	const char *dirs[2];
	const char *user_dir = NULL;
	char builtin[4096];
	size_t n_dirs = 0;
	time_t now;
	int c, i, json = 0, status = 0;

	memset(&run, 0, sizeof(run));
	memset(&sum, 0, sizeof(sum));
	memset(&pr, 0, sizeof(pr));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			so.db = optarg;
			break;
		case 'c':
			so.config = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'r':
			user_dir = optarg;
			break;
		case 'h':
			fputs(cmd_ingest_usage, stdout);
			return 0;
		default:
			fputs(cmd_ingest_usage, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "rebound ingest: no PATH given\n");
		fputs(cmd_ingest_usage, stderr);
		return 2;
	}
	if (cli_store_open("ingest", &so, &cfg, &st) < 0)
		return 1;
	(void)snprintf(builtin, sizeof(builtin), "%s/rules", cli_data_dir());
	if (user_dir != NULL)
		dirs[n_dirs++] = user_dir;
	dirs[n_dirs++] = builtin;
	classify_global_init();
	if (classify_rules_load(dirs, n_dirs, &rules, &err) < 0) {
		fprintf(stderr, "rebound ingest: %s\n", err.msg);
		status = 1;
		goto out;
	}
	now = config_now();
	run.progress = isatty(STDERR_FILENO);
	if (run.progress) {
		for (i = optind; i < argc; i++) {
			long n = count_path(argv[i]);

			if (n < 0) {
				run.total = 0;
				break;
			}
			run.total += (uint64_t)n;
		}
	}
	if (store_ingest_begin(st, rules, now, &run.ing, &err) < 0) {
		fprintf(stderr, "rebound ingest: %s\n", err.msg);
		status = 1;
		goto out;
	}
	run.t0 = run.last_draw = mono();
	for (i = optind; i < argc && !run.store_failed; i++) {
		if (ingest_read_path(argv[i], on_message, on_read_error, &run) <
		        0 &&
		    !run.store_failed)
			status = 1;
	}
	if (store_ingest_end(&run.ing, &sum, &err) < 0) {
		if (run.progress)
			fputs("\r\033[K", stderr);
		fprintf(stderr, "rebound ingest: %s\n", err.msg);
		fprintf(stderr,
		    "rebound ingest: stopped; every batch "
		    "committed before is intact, the rest was rolled back. "
		    "Run the same command again once fixed: what is stored "
		    "is skipped.\n");
		status = 1;
	} else {
		if (run.progress)
			draw_progress(&run, sum.messages, 1);
		if (store_prune(st, now, &pr, &err) < 0) {
			fprintf(stderr, "rebound ingest: prune: %s\n", err.msg);
			status = 1;
		}
	}
	print_summary(
	    &sum, run.read_errors, mono() - run.t0, &pr, store_path(st), json);
	if (fflush(stdout) != 0)
		status = 1;
out:
	classify_rules_free(&rules);
	classify_global_shutdown();
	cli_store_close(&cfg, &st);
	return status;
}
