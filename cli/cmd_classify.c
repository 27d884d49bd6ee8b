/*
 * rebound classify: read messages from files, Maildirs, mboxes or stdin,
 * classify each and print its events, as JSON lines (--jsonl) or as one
 * aligned line per recipient.  --explain adds, per recipient, what
 * decided its reason.  Unreadable paths are reported on stderr and the
 * others still processed; the exit status is then 1.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "classify/classify.h"
#include "cli/cli.h"
#include "ingest/ingest.h"

const char cmd_classify_usage[] =
    "usage: rebound classify [--jsonl] [--explain] [--rules DIR] PATH...\n"
    "\n"
    "Classify feedback messages (bounces, complaints, auto-replies) and\n"
    "print their events.  PATH is a message file, a Maildir (its new/ and\n"
    "cur/), a directory of message files, an mbox file, or - for one\n"
    "message on stdin.\n"
    "\n"
    "  --jsonl        one SES-shaped JSON event per line\n"
    "  --explain      show which evidence decided each recipient's reason\n"
    "  --rules DIR    also load DIR/*.rules; its rules take precedence\n"
    "  -h, --help     show this help\n"
    "\n"
    "Exit status: 0 when every path was read, 1 when one could not be,\n"
    "2 on a usage error.\n";

struct classify_run {
	const struct classify_rules *rules;
	bool jsonl;
	bool explain;
	time_t now;
	unsigned long messages;
};

static const char *
evidence_text(const struct classify_recipient *r, char *buf, size_t len)
{
	const struct classify_evidence *e = &r->evidence;

	switch (e->kind) {
	case CLASSIFY_EV_RULE:
		(void)snprintf(buf, len, "%s %s:%u matched \"%s\"",
		    e->what ? e->what : "rule", e->rule_file, e->rule_line,
		    e->matched ? e->matched : "");
		break;
	case CLASSIFY_EV_STATUS:
	case CLASSIFY_EV_REPLY_CODE:
	case CLASSIFY_EV_ACTION:
	case CLASSIFY_EV_REPORT:
	case CLASSIFY_EV_DEFAULT:
		(void)snprintf(buf, len, "%s", e->what ? e->what : "");
		break;
	case CLASSIFY_EV_NONE:
		(void)snprintf(buf, len, "nothing");
		break;
	}
	return buf;
}

static void
print_jsonl(struct classify_run *run, const struct classify_verdict *v,
    const struct classify_source *src)
{
	size_t i, j;

	for (i = 0; i < v->n_events; i++) {
		char *js = classify_event_json(v, i, src);

		if (run->explain) {
			json_t *root = json_loads(js, 0, NULL);
			json_t *rb = json_object_get(root, "rebound");
			json_t *ex = json_array();
			char buf[1024];

			for (j = 0; j < v->n_recipients; j++) {
				const struct classify_recipient *r =
				    &v->recipients[j];
				json_t *o;

				if (r->event != i)
					continue;
				o = json_object();
				json_object_set_new(
				    o, "emailAddress", json_string(r->address));
				json_object_set_new(o, "reason",
				    json_string(
				        classify_reason_name(r->reason)));
				json_object_set_new(o, "evidence",
				    json_string(
				        evidence_text(r, buf, sizeof(buf))));
				json_array_append_new(ex, o);
			}
			json_object_set_new(rb, "explain", ex);
			free(js);
			js = json_dumps(
			    root, JSON_COMPACT | JSON_PRESERVE_ORDER);
			json_decref(root);
		}
		if (js != NULL)
			puts(js);
		free(js);
	}
}

static void
print_text(struct classify_run *run, const struct classify_verdict *v,
    const struct ingest_message *m)
{
	char name[512];
	const char *base = strrchr(m->path, '/');
	size_t i;

	base = base != NULL ? base + 1 : m->path;
	if (m->index >= 0)
		(void)snprintf(name, sizeof(name), "%s#%ld", base, m->index);
	else
		(void)snprintf(name, sizeof(name), "%s", base);
	if (v->n_recipients == 0) {
		printf("%-28s %-13s %-36s %-7s %-15s %s\n", name, "NotFeedback",
		    "-", "-", "-", "-");
		return;
	}
	for (i = 0; i < v->n_recipients; i++) {
		const struct classify_recipient *r = &v->recipients[i];
		const char *bt = classify_bounce_type_name(r->bounce_type);

		printf("%-28s %-13s %-36s %-7s %-15s %s\n", name,
		    classify_event_type_name(r->type),
		    r->address[0] ? r->address : "(unknown)",
		    r->status && r->status[0] ? r->status : "-",
		    classify_reason_name(r->reason), bt[0] ? bt : "-");
		if (run->explain) {
			char buf[1024];

			printf("    because: %s\n",
			    evidence_text(r, buf, sizeof(buf)));
			if (r->diagnostic != NULL)
				printf("    diagnostic: %s\n", r->diagnostic);
		}
	}
}

static int
on_message(const struct ingest_message *m, void *ctx)
{
	struct classify_run *run = ctx;
	struct classify_verdict v;
	struct classify_source src = {m->path, m->index, NULL, "file"};

	(void)classify_message(run->rules, m->data, m->len, run->now, &v);
	if (m->truncated)
		v.flags |= CLASSIFY_F_TRUNCATED;
	if (run->jsonl)
		print_jsonl(run, &v, &src);
	else
		print_text(run, &v, m);
	classify_verdict_clear(&v);
	run->messages++;
	return 0;
}

static void
on_error(const struct rb_error *err, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "rebound classify: %s\n", err->msg);
}

int
cmd_classify(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"jsonl", no_argument, NULL, 'j'},
	    {"explain", no_argument, NULL, 'e'},
	    {"rules", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct classify_run run;
	struct classify_rules *rules = NULL;
	struct rb_error err;
	const char *dirs[2];
	char builtin[4096];
	size_t n_dirs = 0;
	const char *user_dir = NULL;
	int c, i, status = 0;

	memset(&run, 0, sizeof(run));
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			run.jsonl = true;
			break;
		case 'e':
			run.explain = true;
			break;
		case 'r':
			user_dir = optarg;
			break;
		case 'h':
			fputs(cmd_classify_usage, stdout);
			return 0;
		default:
			fputs(cmd_classify_usage, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "rebound classify: no PATH given\n");
		fputs(cmd_classify_usage, stderr);
		return 2;
	}
	(void)snprintf(builtin, sizeof(builtin), "%s/rules", cli_data_dir());
	if (user_dir != NULL)
		dirs[n_dirs++] = user_dir;
	dirs[n_dirs++] = builtin;
	classify_global_init();
	if (classify_rules_load(dirs, n_dirs, &rules, &err) < 0) {
		fprintf(stderr, "rebound classify: %s\n", err.msg);
		classify_global_shutdown();
		return 1;
	}
	run.rules = rules;
	run.now = time(NULL);
	for (i = optind; i < argc; i++) {
		if (ingest_read_path(argv[i], on_message, on_error, &run) < 0)
			status = 1;
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "rebound classify: write error\n");
		status = 1;
	}
	classify_rules_free(&rules);
	classify_global_shutdown();
	return status;
}
