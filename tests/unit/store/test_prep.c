/*
 * store/prep.c: prep_patch_json(), the splice that sets rebound.identity,
 * .attribution and .trusted in the classifier's event JSON without a
 * parse and dump, gives byte for byte what jansson gives (the same keys
 * put first, in the same order), for every event of every golden fixture
 * and for each kind of attribution; and it applies to all of them (if
 * the classifier's JSON changes shape, this fails rather than ingest
 * silently taking the slow path).  Bad input gives NULL, not a crash.
 */
#include <dirent.h>

#include <jansson.h>

#include "fixtures.h"
#include "store/store_int.h"
#include "test.h"

/* What prep's jansson path does (patch_rebound). */
static char *
slow(const char *js, const struct attrib_result *at)
{
	json_t *root = json_loads(js, 0, NULL), *rb, *n, *v;
	const char *key;
	char *out;

	rb = json_object_get(root, "rebound");
	n = json_object();
	if (at->identity[0] != '\0')
		json_object_set_new(n, "identity", json_string(at->identity));
	json_object_set_new(n, "attribution", json_string(at->attribution));
	json_object_set_new(n, "trusted", json_boolean(at->trusted));
	json_object_foreach(rb, key, v)
	{
		if (strcmp(key, "identity") != 0 &&
		    strcmp(key, "attribution") != 0 &&
		    strcmp(key, "trusted") != 0)
			json_object_set(n, key, v);
	}
	json_object_set_new(root, "rebound", n);
	out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	return out;
}

static char *
read_all(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0) {
		rewind(fp);
		buf = malloc((size_t)n + 1);
		if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			*len_r = (size_t)n;
		}
	}
	fclose(fp);
	return buf;
}

int
main(void)
{
	static const struct attrib_result ats[] = {
	    {"shop.example.com", "verp", 1},
	    {"ceo@shop.example.com", "headers", 1},
	    {"", "none", 1},
	    {"shop.example.com", "verp", 0},
	    {"we\"ird\\x@example.com", "envid", 1},
	};
	const char *src = getenv("REBOUND_SOURCE_DIR");
	struct classify_rules *rules = fx_rules();
	char dir[512], path[1024];
	size_t n_events = 0;
	DIR *d;
	struct dirent *de;

	(void)snprintf(dir, sizeof(dir), "%s/tests/corpus/classify",
	    src != NULL ? src : ".");
	d = opendir(dir);
	test_assert(d != NULL);
	while (d != NULL && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name), e, a;
		struct classify_verdict v;
		struct classify_source cs = {de->d_name, -1, NULL, "file"};
		char *msg;

		if (len < 5 || strcmp(de->d_name + len - 4, ".eml") != 0)
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		msg = read_all(path, &len);
		if (msg == NULL)
			continue;
		(void)classify_message(
		    rules, (unsigned char *)msg, len, FX_NOW, &v);
		for (e = 0; e < v.n_events; e++) {
			char *js = classify_event_json(&v, e, &cs);

			for (a = 0; a < sizeof(ats) / sizeof(ats[0]); a++) {
				char *f = prep_patch_json(js, &ats[a]);
				char *s = slow(js, &ats[a]);

				test_assert_idx(f != NULL, n_events);
				if (f != NULL && strcmp(f, s) != 0) {
					test_assert_idx(
					    strcmp(f, s) == 0, n_events);
					fprintf(stderr,
					    "%s:\n fast %s\n slow %s\n",
					    de->d_name, f, s);
				}
				free(f);
				free(s);
			}
			free(js);
			n_events++;
		}
		classify_verdict_clear(&v);
		free(msg);
	}
	if (d != NULL)
		closedir(d);
	test_assert(n_events > 40);
	/* Not what the classifier writes: NULL, the caller goes slow. */
	test_assert(prep_patch_json("{}", &ats[0]) == NULL);
	test_assert(prep_patch_json("{\"rebound\":{}}", &ats[0]) == NULL);
	test_assert(prep_patch_json("{\"a\":1,\"rebound\":{\"identity\":\"x",
	                &ats[0]) == NULL);
	test_assert(prep_patch_json("{\"a\":1,\"rebound\":{\"attribution\":",
	                &ats[0]) == NULL);
	classify_rules_free(&rules);
	classify_global_shutdown();
	return test_exit();
}
