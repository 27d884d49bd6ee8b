/*
 * rebound sends: the denominators of the rates.  "add" counts N sends of
 * an identity in the hour of --at (default now); "import" reads JSON
 * lines of SES Send events (mail.source gives the identity,
 * mail.timestamp the hour, one send per mail.destination entry) in one
 * transaction.  Both re-evaluate the alert state of the identities.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

const char cmd_sends_usage[] =
    "usage: rebound sends add --identity ID --count N [--at TIME]\n"
    "                         [--db FILE] [--config FILE]\n"
    "       rebound sends import [--db FILE] [--config FILE] FILE|-\n"
    "\n"
    "Count sends per identity in hourly buckets: the denominators of the\n"
    "bounce and complaint rates.  An identity is a domain, or an address\n"
    "when the config makes it one (identity.mode, identity.addresses).\n"
    "\n"
    "  add      --identity ID  the sending domain or address\n"
    "           --count N      number of sends (recipients)\n"
    "           --at TIME      unix seconds or RFC 3339 (default: now)\n"
    "  import   FILE: JSON lines of SES Send events (eventType \"Send\";\n"
    "           mail.source, mail.timestamp, mail.destination); other\n"
    "           event types are skipped; a bad line fails the import\n"
    "           and nothing of it is kept.  Importing a file twice\n"
    "           counts it twice.\n"
    "  --db FILE, --config FILE   as for rebound ingest\n"
    "\n"
    "Exit status: 0 ok, 1 failure, 2 usage error.\n";

struct sends_opts {
	struct cli_store_opts so;
	const char *identity, *count, *at;
};

static int
sends_add(const struct sends_opts *o, int nargs)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct rb_error err = {0};
	uint64_t count;
	time_t now, at;
	char when[40];
	int status = 0;

	if (o->identity == NULL || o->count == NULL || nargs != 0) {
		fprintf(stderr, "rebound sends add: --identity and --count "
		                "are needed, nothing else\n");
		fputs(cmd_sends_usage, stderr);
		return 2;
	}
	if (parse_u64(o->count, &count) < 0) {
		fprintf(stderr,
		    "rebound sends add: --count '%s': not a "
		    "whole number\n",
		    o->count);
		return 2;
	}
	now = config_now();
	at = now;
	if (o->at != NULL && config_parse_time(o->at, &at) < 0) {
		fprintf(stderr,
		    "rebound sends add: --at '%s': not unix "
		    "seconds or RFC 3339\n",
		    o->at);
		return 2;
	}
	if (cli_store_open("sends", &o->so, &cfg, &st) < 0)
		return 1;
	if (store_sends_add(st, o->identity, count, at, now, &err) < 0) {
		fprintf(stderr, "rebound sends add: %s\n", err.msg);
		status = err.code == EINVAL ? 2 : 1;
	} else {
		time_format_iso(at - at % 3600, when, sizeof(when));
		printf("added %llu sends to %s in the hour of %s\n",
		    (unsigned long long)count, o->identity, when);
	}
	cli_store_close(&cfg, &st);
	return status;
}

static int
sends_import(const struct sends_opts *o, int nargs, const char *path)
{
	struct store_import_summary sum;
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct rb_error err = {0};
	FILE *fp;
	int status = 0;

	if (nargs != 1 || o->identity != NULL || o->count != NULL ||
	    o->at != NULL) {
		fprintf(stderr, "rebound sends import: one FILE (or -)\n");
		fputs(cmd_sends_usage, stderr);
		return 2;
	}
	fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (fp == NULL) {
		perror(path);
		return 1;
	}
	if (cli_store_open("sends", &o->so, &cfg, &st) < 0) {
		if (fp != stdin)
			fclose(fp);
		return 1;
	}
	if (store_sends_import(st, fp, strcmp(path, "-") == 0 ? "stdin" : path,
	        config_now(), &sum, &err) < 0) {
		fprintf(stderr,
		    "rebound sends import: %s; nothing "
		    "imported\n",
		    err.msg);
		status = 1;
	} else {
		printf("imported %llu sends from %llu lines (%llu other "
		       "events skipped)\n",
		    (unsigned long long)sum.imported,
		    (unsigned long long)sum.lines,
		    (unsigned long long)sum.skipped);
	}
	if (fp != stdin)
		fclose(fp);
	cli_store_close(&cfg, &st);
	return status;
}

int
cmd_sends(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"identity", required_argument, NULL, 'i'},
	    {"count", required_argument, NULL, 'n'},
	    {"at", required_argument, NULL, 'a'},
	    {"db", required_argument, NULL, 'd'},
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sends_opts o;
	const char *sub;
	int c, nargs;

	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o.identity = optarg;
			break;
		case 'n':
			o.count = optarg;
			break;
		case 'a':
			o.at = optarg;
			break;
		case 'd':
			o.so.db = optarg;
			break;
		case 'c':
			o.so.config = optarg;
			break;
		case 'h':
			fputs(cmd_sends_usage, stdout);
			return 0;
		default:
			fputs(cmd_sends_usage, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(cmd_sends_usage, stderr);
		return 2;
	}
	sub = argv[optind];
	nargs = argc - optind - 1;
	if (strcmp(sub, "add") == 0)
		return sends_add(&o, nargs);
	if (strcmp(sub, "import") == 0)
		return sends_import(&o, nargs, argv[optind + 1]);
	fprintf(stderr, "rebound sends: no such subcommand '%s'\n", sub);
	fputs(cmd_sends_usage, stderr);
	return 2;
}
