/*
 * bench_classify: single-thread throughput of the classifier.
 *
 * Loads every *.eml of a directory into memory (loading is not timed),
 * then classifies the whole set again and again for at least --seconds,
 * each message through classify_message(), the JSON of every event
 * (classify_event_json(), freed at once) and classify_verdict_clear():
 * the work one message costs the daemon, minus I/O.  Prints a human
 * summary and machine-readable "key=value" lines (rebound_msgs_per_s=...,
 * per wall-clock and per CPU second) for bench/run-classify.sh.  One
 * untimed warm-up pass comes first.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "classify/classify.h"
#include "core/core.h"

#ifndef REBOUND_BENCH_RULES_DIR
#define REBOUND_BENCH_RULES_DIR "data/rules"
#endif

/* A fixed "now": the verdicts must not depend on when the bench runs. */
#define BENCH_NOW ((time_t)1700000000)
/* Longest run accepted; an hour is already far past any useful figure. */
#define BENCH_MAX_SECONDS 3600
/* --rules may be repeated; more directories than this is a typo. */
#define BENCH_MAX_RULE_DIRS 8

struct bench_msg {
	char *name;
	unsigned char *data;
	size_t len;
};

struct bench_set {
	struct bench_msg *msgs;
	size_t n;
	size_t cap;
	size_t bytes;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: bench_classify [--seconds N] [--rules DIR]... "
	    "CORPUS_DIR\n"
	    "  --seconds N  run the timed loop for at least N seconds "
	    "(default 3)\n"
	    "  --rules DIR  rules directory (repeatable; default %s)\n",
	    REBOUND_BENCH_RULES_DIR);
}

static int
has_eml_suffix(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".eml") == 0;
}

/* Read a whole regular file; 0 or -1 with errno set. */
static int
read_file(const char *path, unsigned char **data_r, size_t *len_r)
{
	struct stat st;
	unsigned char *data;
	size_t len, off = 0;
	int fd, saved;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 0) {
		(void)close(fd);
		errno = EINVAL;
		return -1;
	}
	len = (size_t)st.st_size;
	data = xmalloc(len);
	while (off < len) {
		ssize_t r = read(fd, data + off, len - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			saved = r < 0 ? errno : EIO;
			free(data);
			(void)close(fd);
			errno = saved;
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
	const struct bench_msg *ma = a, *mb = b;

	return strcmp(ma->name, mb->name);
}

static int
load_corpus(const char *dir, struct bench_set *set)
{
	DIR *d;
	struct dirent *de;
	char path[4096];

	d = opendir(dir);
	if (d == NULL) {
		fprintf(
		    stderr, "bench_classify: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct bench_msg *m;
		int n;

		if (!has_eml_suffix(de->d_name))
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			fprintf(stderr, "bench_classify: path too long: %s\n",
			    de->d_name);
			continue;
		}
		if (set->n == set->cap) {
			set->cap = set->cap ? set->cap * 2 : 256;
			set->msgs =
			    xrealloc(set->msgs, set->cap * sizeof(*set->msgs));
		}
		m = &set->msgs[set->n];
		if (read_file(path, &m->data, &m->len) < 0) {
			fprintf(stderr, "bench_classify: %s: %s\n", path,
			    strerror(errno));
			continue;
		}
		m->name = xstrdup(de->d_name);
		set->bytes += m->len;
		set->n++;
	}
	(void)closedir(d);
	/* Same order on every run and machine: readdir order is not. */
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
	set->msgs = NULL;
	set->n = set->cap = set->bytes = 0;
}

static double
clock_seconds(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) < 0)
		rb_panic("clock_gettime: %s", strerror(errno));
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
now_seconds(void)
{
	return clock_seconds(CLOCK_MONOTONIC);
}

/* CPU time of this (single-threaded) process: unlike the wall clock, it
 * does not count the time other programs of a busy machine take. */
static double
cpu_seconds(void)
{
	return clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
}

/*
 * One pass over the set; adds to *events_r and *json_bytes_r.  Returns 0,
 * or -1 when the classifier broke its contract (printed to stderr).
 */
static int
run_pass(const struct classify_rules *rules, const struct bench_set *set,
    size_t *events_r, size_t *json_bytes_r)
{
	size_t i, e;

	for (i = 0; i < set->n; i++) {
		const struct bench_msg *m = &set->msgs[i];
		struct classify_source src = {
		    .file = m->name, .index = -1, .via = "file"};
		struct classify_verdict v;

		memset(&v, 0, sizeof(v));
		if (classify_message(rules, m->data, m->len, BENCH_NOW, &v) !=
		    0) {
			fprintf(
			    stderr, "bench_classify: %s: failed\n", m->name);
			return -1;
		}
		for (e = 0; e < v.n_events; e++) {
			char *json = classify_event_json(&v, e, &src);

			if (json == NULL) {
				fprintf(stderr,
				    "bench_classify: %s: no JSON for event "
				    "%zu\n",
				    m->name, e);
				classify_verdict_clear(&v);
				return -1;
			}
			*json_bytes_r += strlen(json);
			free(json);
		}
		*events_r += v.n_events;
		classify_verdict_clear(&v);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *rule_dirs[BENCH_MAX_RULE_DIRS];
	size_t n_rule_dirs = 0;
	uint64_t seconds = 3;
	const char *corpus = NULL;
	struct bench_set set = {0};
	struct classify_rules *rules = NULL;
	struct rb_error err = {0};
	size_t passes = 0, events = 0, json_bytes = 0, warm_events = 0;
	size_t warm_json = 0, msgs;
	double t0, elapsed, c0, cpu;
	int i, inited = 0, rc = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			if (parse_u64(argv[++i], &seconds) < 0 ||
			    seconds == 0 || seconds > BENCH_MAX_SECONDS) {
				fprintf(stderr,
				    "bench_classify: --seconds: "
				    "1..%d\n",
				    BENCH_MAX_SECONDS);
				return 2;
			}
		} else if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc) {
			if (n_rule_dirs == BENCH_MAX_RULE_DIRS) {
				fprintf(stderr,
				    "bench_classify: --rules: "
				    "at most %d\n",
				    BENCH_MAX_RULE_DIRS);
				return 2;
			}
			rule_dirs[n_rule_dirs++] = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 ||
		           strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' || corpus != NULL) {
			usage(stderr);
			return 2;
		} else
			corpus = argv[i];
	}
	if (corpus == NULL) {
		usage(stderr);
		return 2;
	}
	if (n_rule_dirs == 0)
		rule_dirs[n_rule_dirs++] = REBOUND_BENCH_RULES_DIR;

	if (load_corpus(corpus, &set) < 0)
		goto out;
	if (set.n == 0) {
		fprintf(
		    stderr, "bench_classify: no *.eml files in %s\n", corpus);
		goto out;
	}

	classify_global_init();
	inited = 1;
	if (classify_rules_load(rule_dirs, n_rule_dirs, &rules, &err) < 0) {
		fprintf(stderr, "bench_classify: rules: %s\n", err.msg);
		goto out;
	}
	printf("corpus: %s: %zu messages, %.2f MB\n", corpus, set.n,
	    (double)set.bytes / 1e6);
	printf("rules: %zu loaded from %s%s\n", classify_rules_count(rules),
	    rule_dirs[0], n_rule_dirs > 1 ? " ..." : "");

	/* Warm-up: page in code and tables, let malloc settle. */
	if (run_pass(rules, &set, &warm_events, &warm_json) < 0)
		goto out;

	t0 = now_seconds();
	c0 = cpu_seconds();
	do {
		if (run_pass(rules, &set, &events, &json_bytes) < 0)
			goto out;
		passes++;
		elapsed = now_seconds() - t0;
	} while (elapsed < (double)seconds);
	cpu = cpu_seconds() - c0;
	if (cpu <= 0)
		cpu = elapsed;

	msgs = passes * set.n;
	printf("passes: %zu (%zu events and %zu JSON bytes per pass)\n", passes,
	    warm_events, warm_json);
	printf("messages: %zu\n", msgs);
	printf("seconds: %.3f (CPU %.3f)\n", elapsed, cpu);
	printf("messages/s: %.1f\n", (double)msgs / elapsed);
	printf(
	    "MB/s: %.2f\n", (double)set.bytes * (double)passes / 1e6 / elapsed);
	printf("events/s: %.1f\n", (double)events / elapsed);
	printf("rebound_msgs_per_s=%.0f\n", (double)msgs / elapsed);
	printf("rebound_mb_per_s=%.2f\n",
	    (double)set.bytes * (double)passes / 1e6 / elapsed);
	printf("rebound_events_per_s=%.0f\n", (double)events / elapsed);
	printf("rebound_msgs_per_cpu_s=%.0f\n", (double)msgs / cpu);
	rc = 0;
out:
	classify_rules_free(&rules);
	if (inited)
		classify_global_shutdown();
	free_corpus(&set);
	return rc;
}
