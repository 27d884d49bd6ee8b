/*
 * golden_runner: the classify golden corpus (tests/corpus/classify).
 *
 * For every <name>.eml of a directory, in name order, classify the bytes
 * with the rules of a rules directory, render each event with
 * classify_event_json() and compare the events with <name>.want.json: a
 * JSON array of partial events.  Only the keys written in the want file
 * are checked; objects are compared recursively the same way, arrays must
 * have the same length and are compared element by element, scalars must
 * be equal.  Every fixture is also classified twice: the JSON must be
 * byte-identical (same bytes + rules + now give the same verdict).
 *
 * --threads: two threads classify every fixture GOLDEN_THREAD_ROUNDS
 * times with the shared rules and compare each event with a
 * single-threaded reference (classify.h promises thread safety).
 *
 * usage: golden_runner [-v] DIR RULES [NAME ...]
 *        golden_runner --threads DIR RULES
 * Exit 0 when everything passed, 1 on a failure, 2 on usage or I/O error.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "classify/classify.h"
#include "core/core.h"

/* A fixed clock: verdicts must not depend on the time the test runs. */
#define GOLDEN_NOW ((time_t)1700000000)
/* Fixtures are small notices; a bigger file is a mistake in the corpus. */
#define GOLDEN_MAX_FILE (4u * 1024 * 1024)
/* Enough for any corpus we will write; guards a runaway directory. */
#define GOLDEN_MAX_FIXTURES 4096
/* JSON paths of the fields compared ("$[0].bounce.bouncedRecipients[1]"). */
#define GOLDEN_MAX_PATH 512
/* Rounds per thread in --threads mode: enough to interleave, still fast. */
#define GOLDEN_THREAD_ROUNDS 50
#define GOLDEN_THREADS 2

struct fixture {
	char *name;          /* "dsn-x.eml" */
	unsigned char *data; /* file bytes, never NULL (empty file: 1 byte) */
	size_t len;
	char **ref; /* reference JSON of each event */
	size_t n_ref;
};

struct thread_job {
	const struct classify_rules *rules;
	const struct fixture *fx;
	size_t n_fx;
	unsigned long mismatches;
	const char *first_bad; /* name of the first fixture that differed */
};

static int verbose;

static int
ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

static char *
path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = xmalloc(n);

	if (snprintf(p, n, "%s/%s", dir, name) >= (int)n)
		rb_panic("path_join: truncated");
	return p;
}

/* Whole file into *data_r (caller frees); -1 with a message on failure. */
static int
read_file(const char *path, unsigned char **data_r, size_t *len_r)
{
	FILE *f;
	unsigned char *data;
	size_t len = 0, cap = 8192, n;
	int ret = -1;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "golden: %s: %s\n", path, strerror(errno));
		return -1;
	}
	data = xmalloc(cap);
	for (;;) {
		if (len == cap) {
			if (cap >= GOLDEN_MAX_FILE) {
				fprintf(stderr,
				    "golden: %s: larger than %u bytes\n", path,
				    GOLDEN_MAX_FILE);
				goto out;
			}
			cap *= 2;
			data = xrealloc(data, cap);
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "golden: %s: read error\n", path);
		goto out;
	}
	*data_r = data;
	*len_r = len;
	data = NULL;
	ret = 0;
out:
	free(data);
	fclose(f);
	return ret;
}

static int
cmp_names(const void *a, const void *b)
{
	const char *const *x = a;
	const char *const *y = b;

	return strcmp(*x, *y);
}

/* The *.eml names of dir, sorted; caller frees each and the array. */
static int
list_fixtures(const char *dir, char ***names_r, size_t *n_r)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "golden: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !ends_with(de->d_name, ".eml"))
			continue;
		if (n == GOLDEN_MAX_FIXTURES) {
			fprintf(stderr, "golden: more than %d fixtures\n",
			    GOLDEN_MAX_FIXTURES);
			break;
		}
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	*names_r = names;
	*n_r = n;
	return 0;
}

static void
free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Classify msg and render every event.  Returns the JSON strings (caller
 * frees with free_strings()) and their number in *n_r.
 */
static char **
classify_json(const struct classify_rules *rules, const char *name,
    const unsigned char *msg, size_t len, size_t *n_r)
{
	struct classify_verdict v;
	struct classify_source src;
	char **out;
	size_t i;

	memset(&v, 0, sizeof(v));
	memset(&src, 0, sizeof(src));
	src.file = name;
	src.index = -1;
	src.via = "file";
	(void)classify_message(rules, msg, len, GOLDEN_NOW, &v);
	out = xcalloc(v.n_events + 1, sizeof(*out));
	for (i = 0; i < v.n_events; i++) {
		out[i] = classify_event_json(&v, i, &src);
		if (out[i] == NULL)
			out[i] = xstrdup("(classify_event_json returned NULL)");
	}
	*n_r = v.n_events;
	classify_verdict_clear(&v);
	return out;
}

static char *
dump(json_t *j)
{
	char *s;

	if (j == NULL)
		return xstrdup("(absent)");
	s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
	return s != NULL ? s : xstrdup("(unprintable)");
}

static void
report(const char *fx, const char *path, const char *what, json_t *want,
    json_t *got)
{
	char *w = dump(want), *g = dump(got);

	printf("  %s: %s: %s: want %s, got %s\n", fx, path, what, w, g);
	free(w);
	free(g);
}

/*
 * Partial match of want against got at path (a buffer of
 * GOLDEN_MAX_PATH bytes whose first plen bytes are the path so far).
 * Prints each difference; returns the number of differences.
 */
static unsigned
match(const char *fx, json_t *want, json_t *got, char *path, size_t plen)
{
	unsigned bad = 0;
	int n;

	if (got == NULL) {
		report(fx, path, "missing", want, NULL);
		return 1;
	}
	if (json_is_object(want)) {
		void *it;

		if (!json_is_object(got)) {
			report(fx, path, "not an object", want, got);
			return 1;
		}
		for (it = json_object_iter(want); it != NULL;
		     it = json_object_iter_next(want, it)) {
			const char *key = json_object_iter_key(it);

			n = snprintf(
			    path + plen, GOLDEN_MAX_PATH - plen, ".%s", key);
			if (n < 0 || (size_t)n >= GOLDEN_MAX_PATH - plen)
				rb_panic("match: path too long");
			bad += match(fx, json_object_iter_value(it),
			    json_object_get(got, key), path, plen + (size_t)n);
			path[plen] = '\0';
		}
		return bad;
	}
	if (json_is_array(want)) {
		size_t i;

		if (!json_is_array(got)) {
			report(fx, path, "not an array", want, got);
			return 1;
		}
		if (json_array_size(want) != json_array_size(got)) {
			report(fx, path, "length differs", want, got);
			return 1;
		}
		for (i = 0; i < json_array_size(want); i++) {
			n = snprintf(
			    path + plen, GOLDEN_MAX_PATH - plen, "[%zu]", i);
			if (n < 0 || (size_t)n >= GOLDEN_MAX_PATH - plen)
				rb_panic("match: path too long");
			bad += match(fx, json_array_get(want, i),
			    json_array_get(got, i), path, plen + (size_t)n);
			path[plen] = '\0';
		}
		return bad;
	}
	if (!json_equal(want, got)) {
		report(fx, path, "differs", want, got);
		return 1;
	}
	return 0;
}

static const char *
event_type_of(const json_t *ev)
{
	const char *t = json_string_value(json_object_get(ev, "eventType"));

	return t != NULL ? t : "?";
}

/* One fixture; returns 0 when it passed. */
static int
run_fixture(
    const struct classify_rules *rules, const char *dir, const char *name)
{
	char *eml = NULL, *wantpath = NULL, *base = NULL;
	unsigned char *data = NULL;
	size_t len = 0, n = 0, n2 = 0, i;
	char **ev = NULL, **ev2 = NULL;
	json_t *want = NULL, *got = NULL;
	json_error_t jerr;
	char path[GOLDEN_MAX_PATH];
	unsigned bad = 0;

	eml = path_join(dir, name);
	base = xstrndup(name, strlen(name) - strlen(".eml"));
	{
		size_t wl = strlen(dir) + strlen(base) + sizeof("/.want.json");

		wantpath = xmalloc(wl);
		if (snprintf(wantpath, wl, "%s/%s.want.json", dir, base) >=
		    (int)wl)
			rb_panic("run_fixture: truncated");
	}
	if (read_file(eml, &data, &len) == -1) {
		printf("FAIL %s: cannot read the fixture\n", name);
		bad++;
		goto out;
	}
	want = json_load_file(wantpath, 0, &jerr);
	if (want == NULL || !json_is_array(want)) {
		printf("FAIL %s: %s.want.json: %s\n", name, base,
		    want == NULL ? jerr.text : "not a JSON array");
		bad++;
		goto out;
	}

	ev = classify_json(rules, name, data, len, &n);
	got = json_array();
	for (i = 0; i < n; i++) {
		json_t *e = json_loads(ev[i], 0, &jerr);

		if (e == NULL) {
			printf(
			    "  %s: $[%zu]: event is not valid JSON (%s): %s\n",
			    name, i, jerr.text, ev[i]);
			bad++;
			e = json_null();
		}
		json_array_append_new(got, e);
	}

	if (json_array_size(want) != n) {
		printf("  %s: $: want %zu events, got %zu:", name,
		    json_array_size(want), n);
		for (i = 0; i < n; i++)
			printf(" %s", event_type_of(json_array_get(got, i)));
		printf("\n");
		bad++;
	}
	for (i = 0; i < json_array_size(want) && i < n; i++) {
		int pl = snprintf(path, sizeof(path), "$[%zu]", i);

		bad += match(name, json_array_get(want, i),
		    json_array_get(got, i), path, (size_t)pl);
	}

	/* Same bytes, same rules, same clock: the same JSON. */
	ev2 = classify_json(rules, name, data, len, &n2);
	if (n2 != n) {
		printf("  %s: not deterministic: %zu events, then %zu\n", name,
		    n, n2);
		bad++;
	} else {
		for (i = 0; i < n; i++) {
			if (strcmp(ev[i], ev2[i]) != 0) {
				printf("  %s: $[%zu]: not deterministic:\n"
				       "    first:  %s\n    second: %s\n",
				    name, i, ev[i], ev2[i]);
				bad++;
			}
		}
	}

	if (bad > 0 || verbose) {
		for (i = 0; i < n; i++)
			printf("    got[%zu] %s\n", i, ev[i]);
	}
	printf("%s %s\n", bad > 0 ? "FAIL" : "ok  ", name);
out:
	if (ev != NULL)
		free_strings(ev, n);
	if (ev2 != NULL)
		free_strings(ev2, n2);
	json_decref(want);
	json_decref(got);
	free(data);
	free(wantpath);
	free(base);
	free(eml);
	return bad > 0 ? -1 : 0;
}

static void *
thread_main(void *arg)
{
	struct thread_job *job = arg;
	size_t r, f, n, i;
	char **ev;

	for (r = 0; r < GOLDEN_THREAD_ROUNDS; r++) {
		for (f = 0; f < job->n_fx; f++) {
			const struct fixture *fx = &job->fx[f];
			int same;

			ev = classify_json(
			    job->rules, fx->name, fx->data, fx->len, &n);
			same = n == fx->n_ref;
			for (i = 0; same && i < n; i++)
				same = strcmp(ev[i], fx->ref[i]) == 0;
			if (!same) {
				if (job->first_bad == NULL)
					job->first_bad = fx->name;
				job->mismatches++;
			}
			free_strings(ev, n);
		}
	}
	return NULL;
}

static int
run_threads(const struct classify_rules *rules, const char *dir, char **names,
    size_t n_names)
{
	struct fixture *fx = xcalloc(n_names + 1, sizeof(*fx));
	struct thread_job job[GOLDEN_THREADS];
	pthread_t tid[GOLDEN_THREADS];
	size_t i;
	int t, started = 0, ret = 0;
	unsigned long total = 0;

	for (i = 0; i < n_names; i++) {
		char *p = path_join(dir, names[i]);

		fx[i].name = names[i];
		if (read_file(p, &fx[i].data, &fx[i].len) == -1) {
			free(p);
			ret = 2;
			goto out;
		}
		free(p);
		fx[i].ref = classify_json(
		    rules, fx[i].name, fx[i].data, fx[i].len, &fx[i].n_ref);
	}
	for (t = 0; t < GOLDEN_THREADS; t++) {
		memset(&job[t], 0, sizeof(job[t]));
		job[t].rules = rules;
		job[t].fx = fx;
		job[t].n_fx = n_names;
		if (pthread_create(&tid[t], NULL, thread_main, &job[t]) != 0) {
			fprintf(stderr, "golden: pthread_create failed\n");
			ret = 2;
			break;
		}
		started++;
	}
	for (t = 0; t < started; t++) {
		pthread_join(tid[t], NULL);
		total += job[t].mismatches;
		if (job[t].mismatches > 0)
			printf("thread %d: %lu mismatches, first in %s\n", t,
			    job[t].mismatches, job[t].first_bad);
	}
	printf("golden: %d threads x %d rounds x %zu fixtures: %lu "
	       "mismatches\n",
	    started, GOLDEN_THREAD_ROUNDS, n_names, total);
	if (ret == 0 && total > 0)
		ret = 1;
out:
	for (i = 0; i < n_names; i++) {
		free(fx[i].data);
		if (fx[i].ref != NULL)
			free_strings(fx[i].ref, fx[i].n_ref);
	}
	free(fx);
	return ret;
}

static int
selected(const char *name, char **only, int n_only)
{
	int i;
	size_t l;

	if (n_only == 0)
		return 1;
	for (i = 0; i < n_only; i++) {
		l = strlen(only[i]);
		if (strcmp(name, only[i]) == 0 ||
		    (strncmp(name, only[i], l) == 0 &&
		        strcmp(name + l, ".eml") == 0))
			return 1;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: golden_runner [-v] DIR RULES [NAME ...]\n"
	                "       golden_runner --threads DIR RULES\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct classify_rules *rules = NULL;
	struct rb_error err;
	char **names = NULL;
	size_t n_names = 0, i, passed = 0, failed = 0;
	const char *dirs[1];
	int threads = 0, argi = 1, ret;

	for (; argi < argc && argv[argi][0] == '-'; argi++) {
		if (strcmp(argv[argi], "-v") == 0)
			verbose = 1;
		else if (strcmp(argv[argi], "--threads") == 0)
			threads = 1;
		else
			usage();
	}
	if (argc - argi < 2)
		usage();

	classify_global_init();
	memset(&err, 0, sizeof(err));
	dirs[0] = argv[argi + 1];
	if (classify_rules_load(dirs, 1, &rules, &err) == -1) {
		fprintf(stderr, "golden: rules %s: %s\n", dirs[0], err.msg);
		classify_global_shutdown();
		return 2;
	}
	if (list_fixtures(argv[argi], &names, &n_names) == -1 || n_names == 0) {
		if (n_names == 0)
			fprintf(stderr, "golden: no *.eml in %s\n", argv[argi]);
		ret = 2;
		goto out;
	}

	if (threads) {
		ret = run_threads(rules, argv[argi], names, n_names);
		goto out;
	}
	for (i = 0; i < n_names; i++) {
		if (!selected(names[i], argv + argi + 2, argc - argi - 2))
			continue;
		if (run_fixture(rules, argv[argi], names[i]) == 0)
			passed++;
		else
			failed++;
	}
	printf("golden: %zu passed, %zu failed\n", passed, failed);
	ret = failed > 0 || passed == 0 ? 1 : 0;
out:
	free_strings(names, n_names);
	classify_rules_free(&rules);
	classify_global_shutdown();
	return ret;
}
