/*
 * core/config.c: defaults, the file, the environment and flags in that
 * order of precedence; unknown keys refused; typed getters; the
 * duration, ratio and time parsers; and data/rebound.conf.example
 * documents every key with its default (and loads).
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "test.h"

static char tmp[256];

static const char *
write_file(const char *name, const char *text)
{
	static char path[512];
	FILE *fp;

	(void)snprintf(path, sizeof(path), "%s/%s", tmp, name);
	fp = fopen(path, "w");
	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0)
		exit(1);
	return path;
}

static void
test_precedence(void)
{
	struct config *cfg;
	struct rb_error err;
	const char *path;
	uint64_t u = 0;

	test_assert(config_load(NULL, &cfg, &err) == 0);
	test_assert_streq(config_get(cfg, "store.db"), "rebound.db");
	test_assert_streq(config_get(cfg, "rates.bounce_warning"), "5%");
	config_free(&cfg);
	test_assert(cfg == NULL);

	path = write_file("a.conf",
	    "# comment\n[store]\ndb = from-file.db\n"
	    "batch_size = 250\n[accounts]\nshop.example.com = shop\n");
	test_assert(config_load(path, &cfg, &err) == 0);
	test_assert_streq(config_get(cfg, "store.db"), "from-file.db");
	test_assert(config_get_u64(cfg, "store.batch_size", &u, &err) == 0);
	test_assert(u == 250);
	config_free(&cfg);

	/* The environment beats the file, a flag beats both. */
	setenv("REBOUND_STORE_DB", "from-env.db", 1);
	test_assert(config_load(path, &cfg, &err) == 0);
	test_assert_streq(config_get(cfg, "store.db"), "from-env.db");
	test_assert(config_set(cfg, "store.db", "from-flag.db", &err) == 0);
	test_assert_streq(config_get(cfg, "store.db"), "from-flag.db");
	test_assert(config_set(cfg, "store.nope", "x", &err) < 0);
	config_free(&cfg);
	unsetenv("REBOUND_STORE_DB");

	/* A bad value names the key and where it came from. */
	setenv("REBOUND_STORE_BATCH_SIZE", "lots", 1);
	test_assert(config_load(NULL, &cfg, &err) == 0);
	test_assert(config_get_u64(cfg, "store.batch_size", &u, &err) < 0);
	test_assert(strstr(err.msg, "REBOUND_STORE_BATCH_SIZE") != NULL);
	config_free(&cfg);
	unsetenv("REBOUND_STORE_BATCH_SIZE");
}

static void
test_refused(void)
{
	struct config *cfg = NULL;
	struct rb_error err;

	test_assert(config_load(write_file("b.conf", "[store]\ndbb = x\n"),
	                &cfg, &err) < 0);
	test_assert(strstr(err.msg, "dbb") != NULL);
	test_assert(cfg == NULL);
	test_assert(config_load(write_file("c.conf", "[nosuch]\na = 1\n"), &cfg,
	                &err) < 0);
	test_assert(strstr(err.msg, "nosuch") != NULL);
	test_assert(config_load(write_file("d.conf", "not ini at all\n"), &cfg,
	                &err) < 0);
	test_assert(config_load("/nonexistent/rebound.conf", &cfg, &err) < 0);
}

struct pairs {
	int n;
	int found;
};

static void
on_pair(const char *key, const char *value, void *ctx)
{
	struct pairs *p = ctx;

	p->n++;
	if (strcmp(key, "shop.example.com") == 0 && strcmp(value, "shop") == 0)
		p->found = 1;
}

static void
test_sections(void)
{
	struct config *cfg;
	struct rb_error err;
	struct pairs p = {0, 0};

	test_assert(
	    config_load(
	        write_file("e.conf",
	            "[accounts]\n"
	            "shop.example.com = shop\nnews.example.org = news\n"),
	        &cfg, &err) == 0);
	config_section_foreach(cfg, "accounts", on_pair, &p);
	test_assert(p.n == 2 && p.found);
	config_free(&cfg);
}

static void
test_parsers(void)
{
	/* clang-format off */
	static const struct {
		const char *in;
		int ok;
		uint64_t secs;
	} durations[] = {
		{"30s", 0, 30}, {"15m", 0, 900}, {"24h", 0, 86400},
		{"14d", 0, 1209600}, {"2w", 0, 1209600}, {"3600", 0, 3600},
		{"0", 0, 0}, {"", -1, 0}, {"d", -1, 0}, {"1.5d", -1, 0},
		{"-1d", -1, 0}, {"1y", -1, 0}, {" 1d", -1, 0},
		{"99999999999999d", -1, 0},
	};
	static const struct {
		const char *in;
		int ok;
		double v;
	} ratios[] = {
		{"5%", 0, 0.05}, {"0.1%", 0, 0.001}, {"0.05", 0, 0.05},
		{"100%", 0, 1}, {"1", 0, 1}, {"0", 0, 0},
		{"101%", -1, 0}, {"2", -1, 0}, {"-1%", -1, 0}, {"5 %", -1, 0},
		{"x", -1, 0}, {"", -1, 0}, {"nan", -1, 0},
	};
	static const struct {
		const char *in;
		int ok;
		long long t;
	} times[] = {
		{"1717243200", 0, 1717243200},
		{"2024-06-01T12:00:00Z", 0, 1717243200},
		{"2024-06-01T12:00:00.123Z", 0, 1717243200},
		{"2024-06-01T14:00:00+02:00", 0, 1717243200},
		{"2024-06-01T10:30:00-01:30", 0, 1717243200},
		{"2024-06-01 12:00:00Z", 0, 1717243200},
		{"2024-06-01", -1, 0}, {"2024-13-01T00:00:00Z", -1, 0},
		{"2024-06-01T12:00:00", -1, 0}, {"yesterday", -1, 0},
		{"2024-06-01T12:00:00Zjunk", -1, 0},
	};
	/* clang-format on */
	size_t i;

	for (i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		uint64_t v = 7;

		test_assert_idx(config_parse_duration(durations[i].in, &v) ==
		                    durations[i].ok,
		    i);
		test_assert_idx(
		    v == (durations[i].ok == 0 ? durations[i].secs : 7), i);
	}
	for (i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++) {
		double v = 7;
		int r = config_parse_ratio(ratios[i].in, &v);

		test_assert_idx(r == ratios[i].ok, i);
		if (r == 0) {
			test_assert_idx(
			    v > ratios[i].v - 1e-12 && v < ratios[i].v + 1e-12,
			    i);
		}
	}
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		time_t t = 7;
		int r = config_parse_time(times[i].in, &t);

		test_assert_idx(r == times[i].ok, i);
		test_assert_idx((long long)t == (r == 0 ? times[i].t : 7), i);
	}
	setenv("REBOUND_NOW", "2024-06-01T12:00:00Z", 1);
	test_assert(config_now() == 1717243200);
	unsetenv("REBOUND_NOW");
}

/* The example documents each key as "#key = default" in its section. */
struct example {
	char *text;
	int missing;
};

static void
on_key(const char *name, const char *def, const char *help, void *ctx)
{
	struct example *ex = ctx;
	char section[64], want[256];
	const char *dot = strchr(name, '.'), *sec;

	(void)help;
	(void)snprintf(
	    section, sizeof(section), "\n[%.*s]\n", (int)(dot - name), name);
	(void)snprintf(want, sizeof(want), "\n#%s =%s%s\n", dot + 1,
	    def[0] != '\0' ? " " : "", def);
	sec = strstr(ex->text, section);
	if (sec == NULL || strstr(sec, want) == NULL ||
	    (strstr(sec + 1, "\n[") != NULL &&
	        strstr(sec, want) > strstr(sec + 1, "\n["))) {
		fprintf(stderr, "rebound.conf.example: missing %s under %s",
		    want + 1, section + 1);
		ex->missing++;
	}
}

static void
test_example(void)
{
	const char *src = getenv("REBOUND_SOURCE_DIR");
	char path[512];
	struct example ex = {NULL, 0};
	struct config *cfg;
	struct rb_error err;
	FILE *fp;
	long n;

	(void)snprintf(path, sizeof(path), "%s/data/rebound.conf.example",
	    src != NULL ? src : ".");
	fp = fopen(path, "r");
	test_assert(fp != NULL);
	if (fp == NULL)
		return;
	(void)fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	ex.text = calloc(1, (size_t)n + 2);
	ex.text[0] = '\n';
	test_assert(fread(ex.text + 1, 1, (size_t)n, fp) == (size_t)n);
	fclose(fp);
	config_keys_foreach(on_key, &ex);
	test_assert(ex.missing == 0);
	free(ex.text);
	/* Uncommented, it loads and gives the defaults. */
	test_assert(config_load(path, &cfg, &err) == 0);
	config_free(&cfg);
}

int
main(void)
{
	const char *t = getenv("TMPDIR");
	char cmd[300];

	(void)snprintf(tmp, sizeof(tmp), "%s/rebound-config-XXXXXX",
	    t != NULL && t[0] != '\0' ? t : "/tmp");
	if (mkdtemp(tmp) == NULL)
		return 1;
	test_precedence();
	test_refused();
	test_sections();
	test_parsers();
	test_example();
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		return 1;
	return test_exit();
}
