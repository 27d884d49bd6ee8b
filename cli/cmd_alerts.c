/*
 * rebound alerts: the transitions of the alert state machine per
 * identity and metric (ok -> warning -> critical -> ok), newest first,
 * each with its time, the rate and the threshold crossed.  The state of
 * every identity is evaluated at now first: a window moves on without
 * new feedback, and a critical identity goes back to ok by itself.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "store/store.h"

/* Significant digits of rates and thresholds in JSON (cmd_stats.c). */
#define ALERTS_JSON_DIGITS 10

const char cmd_alerts_usage[] =
    "usage: rebound alerts [--identity ID] [--limit N] [--json]\n"
    "                      [--db FILE] [--config FILE]\n"
    "\n"
    "Alert transitions (ok, warning, critical) of the bounce and\n"
    "complaint rates per identity, newest first, after evaluating every\n"
    "identity at the current time.\n"
    "\n"
    "  --identity ID  one identity\n"
    "  --limit N      at most N transitions (default 100, 0: all)\n"
    "  --json         a JSON array\n"
    "  --db FILE, --config FILE   as for rebound ingest\n"
    "\n"
    "Exit status: 0 ok, 1 failure, 2 usage error.\n";

struct alerts_run {
	int json;
	json_t *list;
	unsigned n;
};

static int
on_alert(const struct store_alert *a, void *ctx)
{
	struct alerts_run *r = ctx;
	char when[40];

	time_format_iso(a->time, when, sizeof(when));
	r->n++;
	if (r->json) {
		json_t *o = json_object();

		json_object_set_new(o, "id", json_integer(a->id));
		json_object_set_new(o, "time", json_string(when));
		json_object_set_new(o, "identity", json_string(a->identity));
		json_object_set_new(o, "metric", json_string(a->metric));
		json_object_set_new(
		    o, "from", json_string(store_status_name(a->from)));
		json_object_set_new(
		    o, "to", json_string(store_status_name(a->to)));
		json_object_set_new(o, "value", json_real(a->value));
		json_object_set_new(o, "threshold", json_real(a->threshold));
		json_object_set_new(
		    o, "sends", json_integer((json_int_t)a->sends));
		json_array_append_new(r->list, o);
		return 0;
	}
	if (r->n == 1)
		printf("%-24s %-32s %-9s %-20s %9s %9s %9s\n", "time",
		    "identity", "metric", "transition", "rate", "threshold",
		    "sends");
	{
		char tr[32];

		(void)snprintf(tr, sizeof(tr), "%s -> %s",
		    store_status_name(a->from), store_status_name(a->to));
		printf("%-24s %-32s %-9s %-20s %8.3f%% %8.3f%% %9llu\n", when,
		    a->identity, a->metric, tr, a->value * 100,
		    a->threshold * 100, (unsigned long long)a->sends);
	}
	return 0;
}

int
cmd_alerts(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"identity", required_argument, NULL, 'i'},
	    {"limit", required_argument, NULL, 'l'},
	    {"json", no_argument, NULL, 'j'},
	    {"db", required_argument, NULL, 'd'},
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cli_store_opts so = {NULL, NULL};
	struct alerts_run run = {0, NULL, 0};
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct rb_error err = {0};
	const char *identity = NULL;
	char id[STORE_MAX_IDENTITY];
	uint64_t limit = 100, n = 0;
	int c, status = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			identity = optarg;
			break;
		case 'l':
			if (parse_u64(optarg, &limit) < 0) {
				fprintf(stderr,
				    "rebound alerts: --limit '%s': "
				    "not a whole number\n",
				    optarg);
				return 2;
			}
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
			fputs(cmd_alerts_usage, stdout);
			return 0;
		default:
			fputs(cmd_alerts_usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(cmd_alerts_usage, stderr);
		return 2;
	}
	if (cli_store_open("alerts", &so, &cfg, &st) < 0)
		return 1;
	if (identity != NULL &&
	    store_identity_normalize(st, identity, id, sizeof(id), &err) < 0) {
		fprintf(stderr, "rebound alerts: %s\n", err.msg);
		cli_store_close(&cfg, &st);
		return 2;
	}
	run.list = json_array();
	if (store_alerts_evaluate(st, config_now(), &n, &err) < 0 ||
	    store_alerts_list(st, identity != NULL ? id : NULL, limit, on_alert,
	        &run, &err) < 0) {
		fprintf(stderr, "rebound alerts: %s\n", err.msg);
		status = 1;
	} else if (run.json) {
		char *s = json_dumps(
		    run.list, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
		                  JSON_REAL_PRECISION(ALERTS_JSON_DIGITS));

		if (s != NULL)
			puts(s);
		free(s);
	} else if (run.n == 0) {
		printf("no alert transitions\n");
	}
	json_decref(run.list);
	cli_store_close(&cfg, &st);
	return status;
}
