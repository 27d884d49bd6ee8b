/*
 * fuzz_classify: libFuzzer target for classify_message(), the whole
 * pipeline from raw bytes to SES JSON.
 *
 * Input: any bytes, taken as one feedback message.  Rules are loaded once
 * in LLVMFuzzerInitialize() from $REBOUND_RULES_DIR, else the project's
 * data/rules (compile definition).  Invariants checked on every input,
 * abort() on violation so libFuzzer saves the reproducer:
 *   - classify_message() returns 0 and yields at least one event;
 *   - every recipient's event index is < n_events, its reason is valid
 *     and its address is non-NULL ("" when unknown, classify.h);
 *   - every event's JSON is non-NULL, valid UTF-8, one line, and parses
 *     as a JSON object;
 *   - the same bytes classified again give byte-identical JSON (the
 *     classifier is pure: same bytes + rules + now, same verdict).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "classify/classify.h"
#include "core/core.h"

#ifndef REBOUND_FUZZ_RULES_DIR
#define REBOUND_FUZZ_RULES_DIR "data/rules"
#endif

/* Fixed clock: a verdict may only depend on the bytes. */
#define FUZZ_NOW ((time_t)1700000000)
/* Events compared for determinism; more are checked but not compared. */
#define FUZZ_MAX_COMPARED 64

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct classify_rules *fuzz_rules;

static void
fuzz_fail(const char *what, size_t idx)
{
	fprintf(
	    stderr, "fuzz_classify: invariant violated: %s [%zu]\n", what, idx);
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("REBOUND_RULES_DIR");
	struct rb_error err = {0};

	(void)argc;
	(void)argv;
	if (dir == NULL || *dir == '\0')
		dir = REBOUND_FUZZ_RULES_DIR;
	classify_global_init();
	if (classify_rules_load(&dir, 1, &fuzz_rules, &err) < 0) {
		fprintf(stderr, "fuzz_classify: rules %s: %s\n", dir, err.msg);
		exit(1);
	}
	return 0;
}

static void
check_json(const char *json, size_t idx)
{
	json_error_t jerr;
	json_t *root;

	if (json == NULL)
		fuzz_fail("classify_event_json returned NULL", idx);
	if (!g_utf8_validate(json, -1, NULL))
		fuzz_fail("event JSON is not valid UTF-8", idx);
	if (strchr(json, '\n') != NULL)
		fuzz_fail("event JSON is not one line", idx);
	root = json_loads(json, 0, &jerr);
	if (root == NULL) {
		fprintf(stderr, "fuzz_classify: %s at %d: %.300s\n", jerr.text,
		    jerr.position, json);
		fuzz_fail("event JSON does not parse", idx);
	}
	if (!json_is_object(root))
		fuzz_fail("event JSON is not an object", idx);
	json_decref(root);
}

/*
 * Classify once and check; the JSON of the first FUZZ_MAX_COMPARED events
 * goes to json_r[] (caller frees), the count to *n_r.
 */
static void
classify_and_check(const uint8_t *data, size_t size, char **json_r, size_t *n_r)
{
	struct classify_source src = {
	    .file = "fuzz", .index = -1, .via = "file"};
	struct classify_verdict v;
	size_t i;

	memset(&v, 0, sizeof(v));
	if (classify_message(fuzz_rules, data, size, FUZZ_NOW, &v) != 0)
		fuzz_fail("classify_message did not return 0", 0);
	if (v.n_events < 1 || v.events == NULL)
		fuzz_fail("no event", v.n_events);
	if (v.n_recipients > 0 && v.recipients == NULL)
		fuzz_fail(
		    "recipients NULL with n_recipients > 0", v.n_recipients);
	for (i = 0; i < v.n_recipients; i++) {
		const struct classify_recipient *r = &v.recipients[i];

		if (r->event >= v.n_events)
			fuzz_fail("recipient event index >= n_events", i);
		if ((unsigned)r->reason >= CLASSIFY_R_COUNT)
			fuzz_fail("recipient reason out of range", i);
		if (r->address == NULL)
			fuzz_fail("recipient address NULL", i);
	}
	*n_r = v.n_events;
	for (i = 0; i < v.n_events; i++) {
		char *json = classify_event_json(&v, i, &src);

		check_json(json, i);
		if (i < FUZZ_MAX_COMPARED)
			json_r[i] = json;
		else
			free(json);
	}
	classify_verdict_clear(&v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *first[FUZZ_MAX_COMPARED], *second[FUZZ_MAX_COMPARED];
	size_t n1 = 0, n2 = 0, i, n;

	classify_and_check(data, size, first, &n1);
	classify_and_check(data, size, second, &n2);
	if (n1 != n2)
		fuzz_fail("second run gave another number of events", n2);
	n = n1 < FUZZ_MAX_COMPARED ? n1 : FUZZ_MAX_COMPARED;
	for (i = 0; i < n; i++) {
		if (strcmp(first[i], second[i]) != 0) {
			fprintf(stderr, "first:  %.500s\nsecond: %.500s\n",
			    first[i], second[i]);
			fuzz_fail("second run gave other JSON", i);
		}
	}
	for (i = 0; i < n; i++) {
		free(first[i]);
		free(second[i]);
	}
	return 0;
}
