/*
 * rebound stats: per identity, over a rolling window (default
 * rates.window, 24h): sends, hard and soft bounces, complaints,
 * auto-replies, bounceRate and complaintRate, their status against the
 * thresholds (ok below rates.min_sends sends), and the breakdown by
 * reason and by mailbox provider.  --json gives one object.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "store/store.h"

/* Significant digits of rates in JSON: 0.05, not 0.050000000000000003
 * (the nearest double printed whole); a rate is a ratio of counts. */
#define STATS_JSON_DIGITS 10
/* Breakdown rows shown per identity in text; JSON has them all. */
#define STATS_TEXT_ROWS 8

const char cmd_stats_usage[] =
    "usage: rebound stats [--identity ID] [--window DURATION] [--json]\n"
    "                     [--db FILE] [--config FILE]\n"
    "\n"
    "Bounce and complaint rates per identity over a rolling window of\n"
    "whole hours.  bounceRate = Permanent bounces / sends; complaintRate\n"
    "= complaints (not-spam reports and unsubscribes excluded) / sends.\n"
    "Status ok, warning or critical against the thresholds of the config\n"
    "(rates.*); ok while the window has fewer than rates.min_sends sends.\n"
    "\n"
    "  --identity ID      one identity (default: all with activity)\n"
    "  --window DURATION  e.g. 24h, 7d (default: rates.window)\n"
    "  --json             one JSON object\n"
    "  --db FILE, --config FILE   as for rebound ingest\n"
    "\n"
    "Exit status: 0 ok, 1 failure, 2 usage error.\n";

struct stats_run {
	int json;
	json_t *list;
	unsigned n;
};

static double
pct(double r)
{
	return r * 100.0;
}

static json_t *
breakdown_json(const struct store_breakdown *b, size_t n, const char *key)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, key, json_string(b[i].name));
		json_object_set_new(
		    o, "hard", json_integer((json_int_t)b[i].hard));
		json_object_set_new(
		    o, "soft", json_integer((json_int_t)b[i].soft));
		json_object_set_new(o, "undetermined",
		    json_integer((json_int_t)b[i].undetermined));
		json_object_set_new(
		    o, "complaints", json_integer((json_int_t)b[i].complaints));
		json_object_set_new(
		    o, "total", json_integer((json_int_t)b[i].total));
		json_array_append_new(a, o);
	}
	return a;
}

static void
breakdown_text(const char *label, const struct store_breakdown *b, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	printf("    %-10s", label);
	for (i = 0; i < n && i < STATS_TEXT_ROWS; i++)
		printf(" %s %llu%s", b[i].name, (unsigned long long)b[i].total,
		    i + 1 < n && i + 1 < STATS_TEXT_ROWS ? "," : "");
	if (n > STATS_TEXT_ROWS)
		printf(" (+%zu more)", n - STATS_TEXT_ROWS);
	putchar('\n');
}

static int
on_stats(const struct store_identity_stats *s, void *ctx)
{
	struct stats_run *r = ctx;

	r->n++;
	if (r->json) {
		json_t *o = json_object(), *b = json_object();

		json_object_set_new(o, "identity", json_string(s->identity));
		json_object_set_new(
		    o, "sends", json_integer((json_int_t)s->sends));
		json_object_set_new(
		    b, "Permanent", json_integer((json_int_t)s->hard));
		json_object_set_new(
		    b, "Transient", json_integer((json_int_t)s->soft));
		json_object_set_new(b, "Undetermined",
		    json_integer((json_int_t)s->undetermined));
		json_object_set_new(o, "bounces", b);
		json_object_set_new(
		    o, "complaints", json_integer((json_int_t)s->complaints));
		json_object_set_new(
		    o, "notSpam", json_integer((json_int_t)s->not_spam));
		json_object_set_new(o, "unsubscribes",
		    json_integer((json_int_t)s->unsubscribes));
		json_object_set_new(o, "autoReplies",
		    json_integer((json_int_t)s->auto_replies));
		json_object_set_new(
		    o, "deliveries", json_integer((json_int_t)s->deliveries));
		json_object_set_new(
		    o, "delays", json_integer((json_int_t)s->delays));
		json_object_set_new(
		    o, "untrusted", json_integer((json_int_t)s->untrusted));
		json_object_set_new(o, "bounceRate", json_real(s->bounce_rate));
		json_object_set_new(
		    o, "complaintRate", json_real(s->complaint_rate));
		json_object_set_new(o, "bounceStatus",
		    json_string(store_status_name(s->bounce_status)));
		json_object_set_new(o, "complaintStatus",
		    json_string(store_status_name(s->complaint_status)));
		json_object_set_new(
		    o, "status", json_string(store_status_name(s->status)));
		json_object_set_new(
		    o, "lowVolume", json_boolean(s->low_volume));
		json_object_set_new(o, "reasons",
		    breakdown_json(s->reasons, s->n_reasons, "reason"));
		json_object_set_new(o, "providers",
		    breakdown_json(s->providers, s->n_providers, "provider"));
		json_array_append_new(r->list, o);
		return 0;
	}
	if (r->n == 1)
		printf("%-32s %9s %7s %7s %7s %7s %8s %9s  %s\n", "identity",
		    "sends", "hard", "soft", "compl", "autorep", "bounce%",
		    "complaint%", "status");
	printf("%-32s %9llu %7llu %7llu %7llu %7llu %7.2f%% %9.3f%%  %s%s\n",
	    s->identity, (unsigned long long)s->sends,
	    (unsigned long long)s->hard, (unsigned long long)s->soft,
	    (unsigned long long)s->complaints,
	    (unsigned long long)s->auto_replies, pct(s->bounce_rate),
	    pct(s->complaint_rate), store_status_name(s->status),
	    s->low_volume ? " (low volume)" : "");
	breakdown_text("reasons:", s->reasons, s->n_reasons);
	breakdown_text("providers:", s->providers, s->n_providers);
	return 0;
}

int
cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"identity", required_argument, NULL, 'i'},
	    {"window", required_argument, NULL, 'w'},
	    {"json", no_argument, NULL, 'j'},
	    {"db", required_argument, NULL, 'd'},
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cli_store_opts so = {NULL, NULL};
	struct store_thresholds th;
	struct store_totals tot;
	struct stats_run run = {0, NULL, 0};
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct rb_error err = {0};
	const char *identity = NULL, *window_s = NULL;
	uint64_t window = 0;
	time_t now;
	int c, status = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			identity = optarg;
			break;
		case 'w':
			window_s = optarg;
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
			fputs(cmd_stats_usage, stdout);
			return 0;
		default:
			fputs(cmd_stats_usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(cmd_stats_usage, stderr);
		return 2;
	}
	if (window_s != NULL &&
	    (config_parse_duration(window_s, &window) < 0 || window < 3600)) {
		fprintf(stderr,
		    "rebound stats: --window '%s': a duration of "
		    "at least 1h (like 24h, 7d)\n",
		    window_s);
		return 2;
	}
	if (cli_store_open("stats", &so, &cfg, &st) < 0)
		return 1;
	now = config_now();
	store_thresholds(st, &th);
	if (window == 0)
		window = th.window;
	run.list = json_array();
	if (store_stats(st, identity, now, window, on_stats, &run, &err) < 0 ||
	    store_totals(st, now, window, &tot, &err) < 0) {
		fprintf(stderr, "rebound stats: %s\n", err.msg);
		status = err.code == EINVAL ? 2 : 1;
	} else if (run.json) {
		json_t *o = json_object(), *t = json_object();
		char when[40];
		char *s;

		time_format_iso(now, when, sizeof(when));
		json_object_set_new(o, "now", json_string(when));
		json_object_set_new(
		    o, "windowSeconds", json_integer((json_int_t)window));
		json_object_set_new(
		    t, "minSends", json_integer((json_int_t)th.min_sends));
		json_object_set_new(
		    t, "bounceWarning", json_real(th.bounce_warning));
		json_object_set_new(
		    t, "bounceCritical", json_real(th.bounce_critical));
		json_object_set_new(
		    t, "complaintWarning", json_real(th.complaint_warning));
		json_object_set_new(
		    t, "complaintCritical", json_real(th.complaint_critical));
		json_object_set_new(o, "thresholds", t);
		json_object_set(o, "identities", run.list);
		json_object_set_new(o, "unattributed",
		    json_integer((json_int_t)tot.unattributed));
		json_object_set_new(
		    o, "untrusted", json_integer((json_int_t)tot.untrusted));
		json_object_set_new(
		    o, "review", json_integer((json_int_t)tot.review));
		s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
		                      JSON_REAL_PRECISION(STATS_JSON_DIGITS));
		if (s != NULL)
			puts(s);
		free(s);
		json_decref(o);
	} else {
		if (run.n == 0)
			printf("no sends or feedback in the window\n");
		printf("window %llus; thresholds bounce %.2f%%/%.2f%%, "
		       "complaint %.2f%%/%.2f%%, min sends %llu\n",
		    (unsigned long long)window, pct(th.bounce_warning),
		    pct(th.bounce_critical), pct(th.complaint_warning),
		    pct(th.complaint_critical),
		    (unsigned long long)th.min_sends);
		printf("not in any rate: %llu unattributed, %llu untrusted, "
		       "%llu for review\n",
		    (unsigned long long)tot.unattributed,
		    (unsigned long long)tot.untrusted,
		    (unsigned long long)tot.review);
	}
	json_decref(run.list);
	cli_store_close(&cfg, &st);
	return status;
}
