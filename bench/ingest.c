/*
 * bench_ingest: throughput and memory of `rebound ingest` against the
 * classifier alone, in one run on the same messages.
 *
 * Loads every *.eml of a directory into memory (not timed).  First the
 * classify-only figure: each message through classify_message(), the
 * JSON of each event and classify_verdict_clear(), as bench_classify
 * does, single thread, for --seconds.  Then the ingest figure: --count
 * distinct messages (copy i of a corpus message gets a first header
 * "X-Rebound-Bench-Copy: i", so every copy has its own dedupe key) fed
 * through store_ingest_feed() into a fresh database: the code path of
 * `rebound ingest` after the mailbox reader (classification threads,
 * dedupe, compression, events, counters, suppressions, one transaction
 * per batch), including the final commit.  Peak RSS is getrusage()'s
 * ru_maxrss of the whole run.  Prints "key=value" lines for
 * bench/run-ingest.sh.
 *
 * With --maildir DIR it only writes the --count copies as the files of
 * a Maildir (half in new/, half in cur/) for timing `rebound ingest` on
 * real files, and exits.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "classify/classify.h"
#include "core/core.h"
#include "store/store.h"

#ifndef REBOUND_BENCH_RULES_DIR
#define REBOUND_BENCH_RULES_DIR "data/rules"
#endif

/* The clock of the run: verdicts and rows must not depend on the day. */
#define BENCH_NOW ((time_t)1717243200)
/* Longest classify-only run accepted. */
#define BENCH_MAX_SECONDS 3600
/* Most copies accepted: 100 M messages is days of real feedback. */
#define BENCH_MAX_COUNT 100000000u
/* Room for the copy header in front of a message. */
#define BENCH_HEADER_MAX 64

struct bench_msg {
	char *name;
	unsigned char *data;
	size_t len;
};

struct bench_set {
	struct bench_msg *msgs;
	size_t n, cap, bytes, max_len;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: bench_ingest [--count N] [--seconds S] [--db FILE]\n"
	    "                    [--config FILE] [--workers N] CORPUS_DIR\n"
	    "  --count N     distinct messages to ingest (default 200000)\n"
	    "  --seconds S   classify-only run time (default 3)\n"
	    "  --db FILE     database (default: a fresh one in $TMPDIR,\n"
	    "                removed after)\n"
	    "  --config FILE settings (default: the built-in defaults)\n"
	    "  --workers N   classifier threads (default: store.workers)\n"
	    "  --maildir DIR only write the copies into the Maildir DIR\n");
}

/* Write count distinct copies into the Maildir dir; 0 or -1. */
static int
write_maildir(const char *dir, const struct bench_set *set, uint64_t count)
{
	char path[4096];
	uint64_t i;

	(void)snprintf(path, sizeof(path), "%s", dir);
	(void)mkdir(path, 0755);
	(void)snprintf(path, sizeof(path), "%s/new", dir);
	(void)mkdir(path, 0755);
	(void)snprintf(path, sizeof(path), "%s/cur", dir);
	(void)mkdir(path, 0755);
	(void)snprintf(path, sizeof(path), "%s/tmp", dir);
	(void)mkdir(path, 0755);
	for (i = 0; i < count; i++) {
		const struct bench_msg *m = &set->msgs[i % set->n];
		FILE *fp;

		(void)snprintf(path, sizeof(path), "%s/%s/%09llu.bench", dir,
		    i % 2 ? "cur" : "new", (unsigned long long)i);
		fp = fopen(path, "wb");
		if (fp == NULL ||
		    fprintf(fp, "X-Rebound-Bench-Copy: %llu\n",
		        (unsigned long long)i) < 0 ||
		    fwrite(m->data, 1, m->len, fp) != m->len ||
		    fclose(fp) != 0) {
			fprintf(stderr, "bench_ingest: %s: %s\n", path,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int
has_eml_suffix(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".eml") == 0;
}

static int
read_file(const char *path, unsigned char **data_r, size_t *len_r)
{
	struct stat st;
	unsigned char *data;
	size_t len, off = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0) {
		(void)close(fd);
		return -1;
	}
	len = (size_t)st.st_size;
	data = xmalloc(len + 1);
	while (off < len) {
		ssize_t r = read(fd, data + off, len - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(data);
			(void)close(fd);
			return -1;
		}
		off += (size_t)r;
	}
	(void)close(fd);
	*data_r = data;
	*len_r = len;
	return 0;
}

static int
cmp_msg(const void *a, const void *b)
{
	return strcmp(((const struct bench_msg *)a)->name,
	    ((const struct bench_msg *)b)->name);
}

static int
load_corpus(const char *dir, struct bench_set *set)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];

	if (d == NULL) {
		fprintf(stderr, "bench_ingest: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct bench_msg *m;
		int n;

		if (!has_eml_suffix(de->d_name))
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		if (set->n == set->cap) {
			set->cap = set->cap ? set->cap * 2 : 256;
			set->msgs =
			    xrealloc(set->msgs, set->cap * sizeof(*set->msgs));
		}
		m = &set->msgs[set->n];
		if (read_file(path, &m->data, &m->len) < 0) {
			fprintf(stderr, "bench_ingest: %s: %s\n", path,
			    strerror(errno));
			continue;
		}
		m->name = xstrdup(de->d_name);
		set->bytes += m->len;
		if (m->len > set->max_len)
			set->max_len = m->len;
		set->n++;
	}
	(void)closedir(d);
	if (set->n > 0)
		qsort(set->msgs, set->n, sizeof(*set->msgs), cmp_msg);
	return 0;
}

static void
free_corpus(struct bench_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		free(set->msgs[i].name);
		free(set->msgs[i].data);
	}
	free(set->msgs);
}

static double
now_seconds(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		rb_panic("clock_gettime: %s", strerror(errno));
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Single-thread classify-only messages/s, as bench_classify. */
static double
classify_rate(const struct classify_rules *rules, const struct bench_set *set,
    uint64_t seconds)
{
	size_t passes = 0, i, e;
	double t0, el;

	t0 = now_seconds();
	do {
		for (i = 0; i < set->n; i++) {
			const struct bench_msg *m = &set->msgs[i];
			struct classify_source src = {
			    m->name, -1, NULL, "file"};
			struct classify_verdict v;

			(void)classify_message(
			    rules, m->data, m->len, BENCH_NOW, &v);
			for (e = 0; e < v.n_events; e++)
				free(classify_event_json(&v, e, &src));
			classify_verdict_clear(&v);
		}
		passes++;
		el = now_seconds() - t0;
	} while (el < (double)seconds);
	return (double)(passes * set->n) / el;
}

/* CPU seconds (user + system, every thread) of the process so far. */
static double
cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long
peak_rss_kb(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return ru.ru_maxrss;
}

int
main(int argc, char **argv)
{
	const char *corpus = NULL, *db = NULL, *config_path = NULL;
	const char *maildir = NULL;
	const char *dirs[1] = {REBOUND_BENCH_RULES_DIR};
	uint64_t count = 200000, seconds = 3, workers = UINT64_MAX, i;
	struct bench_set set = {0};
	struct classify_rules *rules = NULL;
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct store_ingest *ing = NULL;
	struct store_ingest_summary sum;
	struct rb_error err = {0};
	char tmpdir[256] = "", dbpath[512], workers_s[24];
	unsigned char *buf = NULL;
	double crate, t0, el, irate, c0, cpu;
	long rss_before;
	struct stat sb;
	int a, rc = 1;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--count") == 0 && a + 1 < argc) {
			if (parse_u64(argv[++a], &count) < 0 || count == 0 ||
			    count > BENCH_MAX_COUNT) {
				fprintf(stderr,
				    "bench_ingest: --count: 1..%u\n",
				    BENCH_MAX_COUNT);
				return 2;
			}
		} else if (strcmp(argv[a], "--seconds") == 0 && a + 1 < argc) {
			if (parse_u64(argv[++a], &seconds) < 0 ||
			    seconds == 0 || seconds > BENCH_MAX_SECONDS) {
				fprintf(stderr,
				    "bench_ingest: --seconds: "
				    "1..%d\n",
				    BENCH_MAX_SECONDS);
				return 2;
			}
		} else if (strcmp(argv[a], "--db") == 0 && a + 1 < argc) {
			db = argv[++a];
		} else if (strcmp(argv[a], "--maildir") == 0 && a + 1 < argc) {
			maildir = argv[++a];
		} else if (strcmp(argv[a], "--config") == 0 && a + 1 < argc) {
			config_path = argv[++a];
		} else if (strcmp(argv[a], "--workers") == 0 && a + 1 < argc) {
			if (parse_u64(argv[++a], &workers) < 0) {
				usage(stderr);
				return 2;
			}
		} else if (strcmp(argv[a], "-h") == 0 ||
		           strcmp(argv[a], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (argv[a][0] == '-' || corpus != NULL) {
			usage(stderr);
			return 2;
		} else {
			corpus = argv[a];
		}
	}
	if (corpus == NULL) {
		usage(stderr);
		return 2;
	}
	if (load_corpus(corpus, &set) < 0)
		return 1;
	if (set.n == 0) {
		fprintf(stderr, "bench_ingest: no *.eml in %s\n", corpus);
		free_corpus(&set);
		return 1;
	}
	if (maildir != NULL) {
		rc = write_maildir(maildir, &set, count) < 0 ? 1 : 0;
		free_corpus(&set);
		return rc;
	}
	classify_global_init();
	if (classify_rules_load(dirs, 1, &rules, &err) < 0) {
		fprintf(stderr, "bench_ingest: rules: %s\n", err.msg);
		goto out;
	}
	if (config_load(config_path, &cfg, &err) < 0) {
		fprintf(stderr, "bench_ingest: %s\n", err.msg);
		goto out;
	}
	if (db == NULL) {
		const char *t = getenv("TMPDIR");

		(void)snprintf(tmpdir, sizeof(tmpdir),
		    "%s/rebound-bench-XXXXXX",
		    t != NULL && t[0] != '\0' ? t : "/tmp");
		if (mkdtemp(tmpdir) == NULL) {
			perror("mkdtemp");
			goto out;
		}
		(void)snprintf(dbpath, sizeof(dbpath), "%s/bench.db", tmpdir);
		db = dbpath;
	}
	if (config_set(cfg, "store.db", db, &err) < 0)
		goto out;
	if (workers != UINT64_MAX) {
		(void)snprintf(workers_s, sizeof(workers_s), "%llu",
		    (unsigned long long)workers);
		if (config_set(cfg, "store.workers", workers_s, &err) < 0)
			goto out;
	}
	printf("corpus: %s: %zu messages, %.2f MB\n", corpus, set.n,
	    (double)set.bytes / 1e6);

	/* Warm-up, then the classify-only figure. */
	(void)classify_rate(rules, &set, 1);
	c0 = cpu_seconds();
	t0 = now_seconds();
	crate = classify_rate(rules, &set, seconds);
	cpu = cpu_seconds() - c0;
	printf("classify-only: %.0f messages/s (1 thread), %.1f us CPU per "
	       "message\n",
	    crate, cpu / (crate * (now_seconds() - t0)) * 1e6);

	if (store_open(cfg, &st, &err) < 0) {
		fprintf(stderr, "bench_ingest: %s\n", err.msg);
		goto out;
	}
	rss_before = peak_rss_kb();
	buf = xmalloc(set.max_len + BENCH_HEADER_MAX);
	t0 = now_seconds();
	c0 = cpu_seconds();
	if (store_ingest_begin(st, rules, BENCH_NOW, &ing, &err) < 0) {
		fprintf(stderr, "bench_ingest: %s\n", err.msg);
		goto out;
	}
	for (i = 0; i < count; i++) {
		const struct bench_msg *m = &set.msgs[i % set.n];
		struct store_source src = {m->name, -1, "bench", NULL};
		int h = snprintf((char *)buf, BENCH_HEADER_MAX,
		    "X-Rebound-Bench-Copy: %llu\n", (unsigned long long)i);

		memcpy(buf + h, m->data, m->len);
		if (store_ingest_feed(
		        ing, buf, (size_t)h + m->len, &src, &err) < 0)
			break;
	}
	if (store_ingest_end(&ing, &sum, &err) < 0) {
		fprintf(stderr, "bench_ingest: %s\n", err.msg);
		goto out;
	}
	el = now_seconds() - t0;
	cpu = cpu_seconds() - c0;
	irate = (double)sum.messages / el;
	printf("ingest: %llu messages (%llu stored, %llu duplicates) in "
	       "%.2f s: %.0f messages/s\n",
	    (unsigned long long)sum.messages, (unsigned long long)sum.stored,
	    (unsigned long long)sum.duplicates, el, irate);
	printf("ingest CPU: %.1f us per message (all threads, user + system), "
	       "%.2f cores busy on average\n",
	    cpu / (double)sum.messages * 1e6, cpu / el);
	printf("events: Bounce %llu, Complaint %llu, AutoReply %llu, "
	       "Delivery %llu, DeliveryDelay %llu; review %llu\n",
	    (unsigned long long)sum.events[CLASSIFY_EVENT_BOUNCE],
	    (unsigned long long)sum.events[CLASSIFY_EVENT_COMPLAINT],
	    (unsigned long long)sum.events[CLASSIFY_EVENT_AUTOREPLY],
	    (unsigned long long)sum.events[CLASSIFY_EVENT_DELIVERY],
	    (unsigned long long)sum.events[CLASSIFY_EVENT_DELAY],
	    (unsigned long long)sum.unclassified);
	store_close(&st);
	if (stat(db, &sb) == 0)
		printf("database: %.1f MB\n", (double)sb.st_size / 1e6);
	printf("peak RSS: %.1f MB (%.1f MB before the ingest)\n",
	    (double)peak_rss_kb() / 1024, (double)rss_before / 1024);
	printf("ingest_msgs_per_s=%.0f\n", irate);
	printf("classify_msgs_per_s=%.0f\n", crate);
	printf("ingest_to_classify=%.2f\n", irate / crate);
	printf("peak_rss_mb=%.1f\n", (double)peak_rss_kb() / 1024);
	printf("ingest_messages=%llu\n", (unsigned long long)sum.stored);
	rc = sum.stored == count ? 0 : 1;
	if (rc != 0)
		fprintf(stderr,
		    "bench_ingest: %llu of %llu copies stored: "
		    "not all distinct?\n",
		    (unsigned long long)sum.stored, (unsigned long long)count);
out:
	if (ing != NULL && store_ingest_end(&ing, &sum, &err) < 0)
		rc = 1;
	store_close(&st);
	config_free(&cfg);
	free(buf);
	classify_rules_free(&rules);
	classify_global_shutdown();
	free_corpus(&set);
	if (tmpdir[0] != '\0') {
		char p[600];

		(void)snprintf(p, sizeof(p), "%s/bench.db", tmpdir);
		(void)unlink(p);
		(void)snprintf(p, sizeof(p), "%s/bench.db-wal", tmpdir);
		(void)unlink(p);
		(void)snprintf(p, sizeof(p), "%s/bench.db-shm", tmpdir);
		(void)unlink(p);
		(void)rmdir(tmpdir);
	}
	return rc;
}
