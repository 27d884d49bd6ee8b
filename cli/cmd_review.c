/*
 * rebound review: the review queue, feedback the classifier could not
 * make sense of (NotFeedback, a bounce with reason undefined or without
 * a recipient), kept with its raw message so that an operator can look
 * at it and improve the rules.  "show --event ID" shows any stored event
 * with its raw feedback message.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "store/store.h"

const char cmd_review_usage[] =
    "usage: rebound review list [--limit N] [--json]\n"
    "       rebound review show ID [--raw | --json]\n"
    "       rebound review show --event ID [--raw | --json]\n"
    "  (every form also takes --db FILE and --config FILE)\n"
    "\n"
    "Feedback that could not be classified: not feedback at all, a\n"
    "bounce whose reason is undefined, or a bounce without a recipient.\n"
    "\n"
    "  list          newest first (default at most 50; --limit 0: all)\n"
    "  show ID       one entry: what the classifier made of it and the\n"
    "                raw message\n"
    "  --event ID    show a stored event (any, not only in review)\n"
    "  --raw         only the raw message (pipe it to rebound classify -)\n"
    "  --json        only the JSON\n"
    "\n"
    "Exit status: 0 ok, 1 not found or failure, 2 usage error.\n";

struct review_run {
	int json;
	unsigned n;
	int64_t message_id;
	char *json_text;
};

static void
pretty(const char *js)
{
	json_t *o = js != NULL ? json_loads(js, 0, NULL) : NULL;
	char *s = o != NULL
	              ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
	              : NULL;

	puts(s != NULL ? s : (js != NULL ? js : "{}"));
	free(s);
	json_decref(o);
}

static int
on_list(const struct store_review *r, void *ctx)
{
	struct review_run *run = ctx;
	char when[40];

	time_format_iso(r->time, when, sizeof(when));
	run->n++;
	if (run->json) {
		json_t *o = json_object();
		char *s;

		json_object_set_new(o, "id", json_integer(r->id));
		json_object_set_new(o, "time", json_string(when));
		json_object_set_new(o, "why", json_string(r->why));
		if (r->subject != NULL)
			json_object_set_new(
			    o, "subject", json_string(r->subject));
		if (r->from != NULL)
			json_object_set_new(o, "from", json_string(r->from));
		if (r->source != NULL)
			json_object_set_new(
			    o, "source", json_string(r->source));
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (s != NULL)
			puts(s);
		free(s);
		json_decref(o);
		return 0;
	}
	if (run->n == 1)
		printf("%-6s %-24s %-17s %-30s %s\n", "id", "time", "why",
		    "from", "subject");
	printf("%-6lld %-24s %-17s %-30.30s %s\n", (long long)r->id, when,
	    r->why, r->from != NULL ? r->from : "-",
	    r->subject != NULL ? r->subject : "-");
	return 0;
}

static int
on_show(const struct store_review *r, void *ctx)
{
	struct review_run *run = ctx;
	char when[40];

	run->message_id = r->message_id;
	run->json_text = xstrdup(r->json != NULL ? r->json : "{}");
	if (run->json)
		return 0;
	time_format_iso(r->time, when, sizeof(when));
	printf("review %lld: %s\n", (long long)r->id, r->why);
	printf("time:    %s\n", when);
	printf("from:    %s\n", r->from != NULL ? r->from : "-");
	printf("subject: %s\n", r->subject != NULL ? r->subject : "-");
	printf("source:  %s\n", r->source != NULL ? r->source : "-");
	return 0;
}

static int
on_event(const struct store_event *e, void *ctx)
{
	struct review_run *run = ctx;
	char when[40];

	run->message_id = e->message_id;
	run->json_text = xstrdup(e->json != NULL ? e->json : "{}");
	if (run->json)
		return 0;
	time_format_iso(e->time, when, sizeof(when));
	printf("event %lld: %s %s %s\n", (long long)e->id, e->type,
	    e->bounce_type != NULL ? e->bounce_type : "",
	    e->reason != NULL ? e->reason : "");
	printf("time:      %s\n", when);
	printf("identity:  %s\n",
	    e->identity != NULL ? e->identity : "(unattributed)");
	printf("recipient: %s\n", e->recipient != NULL ? e->recipient : "-");
	printf("status:    %s\n", e->status != NULL ? e->status : "-");
	printf("trusted:   %s\n", e->trusted ? "yes" : "no");
	return 0;
}

int
cmd_review(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"limit", required_argument, NULL, 'l'},
	    {"event", required_argument, NULL, 'e'},
	    {"raw", no_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'j'},
	    {"db", required_argument, NULL, 'd'},
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cli_store_opts so = {NULL, NULL};
	struct review_run run = {0, 0, 0, NULL};
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct rb_error err = {0};
	const char *sub, *event_s = NULL;
	uint64_t limit = 50, id = 0;
	int c, raw = 0, status = 0, nargs, found;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (parse_u64(optarg, &limit) < 0) {
				fprintf(stderr,
				    "rebound review: --limit '%s':"
				    " not a whole number\n",
				    optarg);
				return 2;
			}
			break;
		case 'e':
			event_s = optarg;
			break;
		case 'r':
			raw = 1;
			break;
		case 'j':
			run.json = 1;
			break;
		case 'd':
			so.db = optarg;
			break;
		case 'c':
			so.config = optarg;
			break;
		case 'h':
			fputs(cmd_review_usage, stdout);
			return 0;
		default:
			fputs(cmd_review_usage, stderr);
			return 2;
		}
	}
	/* Operands (permuted after the options): SUB [ID]. */
	if (optind >= argc) {
		fputs(cmd_review_usage, stderr);
		return 2;
	}
	sub = argv[optind];
	nargs = argc - optind - 1;
	if (strcmp(sub, "list") == 0) {
		if (nargs != 0 || event_s != NULL || raw) {
			fputs(cmd_review_usage, stderr);
			return 2;
		}
		if (cli_store_open("review", &so, &cfg, &st) < 0)
			return 1;
		if (store_review_list(st, limit, on_list, &run, &err) < 0) {
			fprintf(stderr, "rebound review: %s\n", err.msg);
			status = 1;
		} else if (run.n == 0 && !run.json) {
			printf("the review queue is empty\n");
		}
		cli_store_close(&cfg, &st);
		return status;
	}
	if (strcmp(sub, "show") != 0) {
		fprintf(
		    stderr, "rebound review: no such subcommand '%s'\n", sub);
		fputs(cmd_review_usage, stderr);
		return 2;
	}
	if ((event_s != NULL) == (nargs == 1) || nargs > 1 ||
	    parse_u64(event_s != NULL ? event_s : argv[optind + 1], &id) < 0 ||
	    id > INT64_MAX || (raw && run.json)) {
		fputs(cmd_review_usage, stderr);
		return 2;
	}
	if (cli_store_open("review", &so, &cfg, &st) < 0)
		return 1;
	if (raw)
		run.json = 1; /* no header lines */
	found = event_s != NULL
	            ? store_event_get(st, (int64_t)id, on_event, &run, &err)
	            : store_review_get(st, (int64_t)id, on_show, &run, &err);
	if (found < 0) {
		fprintf(stderr, "rebound review: %s\n", err.msg);
		status = 1;
	} else if (found == 0) {
		fprintf(stderr, "rebound review: no %s %llu\n",
		    event_s != NULL ? "event" : "review entry",
		    (unsigned long long)id);
		status = 1;
	} else {
		unsigned char *data = NULL;
		size_t len = 0;
		int r;

		if (!raw) {
			if (!run.json)
				putchar('\n');
			pretty(run.json_text);
		}
		if (!run.json || raw) {
			r = store_raw_get(
			    st, run.message_id, 0, &data, &len, &err);
			if (r < 0) {
				fprintf(
				    stderr, "rebound review: %s\n", err.msg);
				status = 1;
			} else if (r == 0) {
				if (!raw)
					printf("\n(raw message pruned: "
					       "retention.raw)\n");
				else
					status = 1;
			} else {
				if (!raw)
					printf("\n--- raw message, %zu bytes "
					       "---\n",
					    len);
				if (fwrite(data, 1, len, stdout) != len)
					status = 1;
				free(data);
			}
		}
	}
	free(run.json_text);
	if (fflush(stdout) != 0)
		status = 1;
	cli_store_close(&cfg, &st);
	return status;
}
