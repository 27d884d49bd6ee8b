/*
 * rebound suppression: the global list (hard bounces, time-limited,
 * escalating) and the account-level lists (BOUNCE or COMPLAINT, kept
 * until removed).  check answers by its exit status (0 not suppressed,
 * 1 suppressed) and says by which list, why, since and until when; list,
 * add, remove, export and import (JSON lines or CSV, one transaction)
 * manage them.  A malformed address is an error, never a row.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "store/store.h"

const char cmd_suppression_usage[] =
    "usage: rebound suppression check ADDRESS [--account A] [--json]\n"
    "       rebound suppression list [--reason BOUNCE|COMPLAINT]\n"
    "                                [--account A] [--json]\n"
    "       rebound suppression add ADDRESS --reason BOUNCE|COMPLAINT\n"
    "                                [--account A]\n"
    "       rebound suppression remove ADDRESS [--account A]\n"
    "       rebound suppression export [--format jsonl|csv]\n"
    "       rebound suppression import [--format jsonl|csv] [--account A]\n"
    "                                FILE|-\n"
    "  (every form also takes --db FILE and --config FILE)\n"
    "\n"
    "Global list: a Permanent bounce suppresses an address for\n"
    "suppression.ttl (14d); a hard bounce after it expired suppresses\n"
    "again for longer (suppression.escalation, up to\n"
    "suppression.max_ttl).  Account-level list: per account, reason\n"
    "BOUNCE or COMPLAINT, until removed.  Addresses compare\n"
    "case-insensitively in the domain, and in the local part unless\n"
    "suppression.local_part = sensitive.\n"
    "\n"
    "  check    exit 0: not suppressed, 1: suppressed; prints which list,\n"
    "           why, since and until when (--json: one object with the\n"
    "           normalised address, \"suppressed\" and \"entries\")\n"
    "  list     entries in force (--json: one JSON object per line)\n"
    "  add      to the account-level list of --account (default:\n"
    "           account.default)\n"
    "  remove   from the account-level list(s) (all accounts unless\n"
    "           --account) and end a global suppression; exit 1 when the\n"
    "           address was not suppressed\n"
    "  export   every entry in force to stdout (default JSON lines)\n"
    "  import   entries of an export (address and reason needed; list,\n"
    "           account, since, until, strikes optional), or of Amazon\n"
    "           SES (JSON EmailAddress, Reason, LastUpdateTime; CSV lines\n"
    "           ADDRESS,REASON without a header), in one transaction;\n"
    "           any bad line fails the whole import\n"
    "\n"
    "Exit status: check as above; otherwise 0 ok, 1 failure; 2 usage\n"
    "error or malformed address; 3 database error in check.\n";

struct supp_run {
	int json;
	unsigned n;
	json_t *entries; /* check --json: collected here */
};

/* An entry as JSON (the fields of `list --json` and `check --json`). */
static json_t *
entry_json(const struct store_suppression *e)
{
	json_t *o = json_object();
	char since[40], until[40];

	time_format_iso(e->since, since, sizeof(since));
	json_object_set_new(o, "list",
	    json_string(e->list == STORE_LIST_GLOBAL ? "global" : "account"));
	if (e->account != NULL)
		json_object_set_new(o, "account", json_string(e->account));
	json_object_set_new(o, "address", json_string(e->address));
	json_object_set_new(o, "reason", json_string(e->reason));
	if (e->detail != NULL)
		json_object_set_new(o,
		    e->list == STORE_LIST_GLOBAL ? "bounceReason" : "origin",
		    json_string(e->detail));
	json_object_set_new(o, "since", json_string(since));
	if (e->until != 0) {
		time_format_iso(e->until, until, sizeof(until));
		json_object_set_new(o, "until", json_string(until));
	}
	if (e->list == STORE_LIST_GLOBAL)
		json_object_set_new(o, "strikes", json_integer(e->strikes));
	if (e->event_id > 0)
		json_object_set_new(o, "eventId", json_integer(e->event_id));
	return o;
}

/* One line of JSON on stdout. */
static void
put_json_line(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (s == NULL)
		rb_panic("json_dumps: out of memory");
	puts(s);
	free(s);
}

static void
print_entry(const struct store_suppression *e)
{
	char since[40], until[40] = "";

	time_format_iso(e->since, since, sizeof(since));
	if (e->until != 0)
		time_format_iso(e->until, until, sizeof(until));
	if (e->list == STORE_LIST_GLOBAL)
		printf("global             %-40s BOUNCE    %-12s since %s "
		       "until %s (strike %u)\n",
		    e->address, e->detail != NULL ? e->detail : "-", since,
		    until, e->strikes);
	else
		printf("account %-10s %-40s %-9s %-12s since %s, until "
		       "removed\n",
		    e->account, e->address, e->reason,
		    e->detail != NULL ? e->detail : "-", since);
}

static int
on_entry(const struct store_suppression *e, void *ctx)
{
	struct supp_run *r = ctx;

	r->n++;
	if (r->entries != NULL) {
		json_array_append_new(r->entries, entry_json(e));
	} else if (r->json) {
		json_t *o = entry_json(e);

		put_json_line(o);
		json_decref(o);
	} else {
		print_entry(e);
	}
	return 0;
}

static int
open_or_fail(struct cli_store_opts *so, struct config **cfg, struct store **st)
{
	return cli_store_open("suppression", so, cfg, st);
}

int
cmd_suppression(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"account", required_argument, NULL, 'a'},
	    {"reason", required_argument, NULL, 'r'},
	    {"format", required_argument, NULL, 'f'},
	    {"json", no_argument, NULL, 'j'},
	    {"db", required_argument, NULL, 'd'},
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cli_store_opts so = {NULL, NULL};
	struct supp_run run = {0, 0, NULL};
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct rb_error err = {0};
	const char *sub, *account = NULL, *reason = NULL, *format = NULL;
	const char *arg = NULL;
	enum store_format fmt = STORE_FORMAT_JSONL;
	time_t now;
	int c, status = 0, nargs;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			account = optarg;
			break;
		case 'r':
			reason = optarg;
			break;
		case 'f':
			format = optarg;
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
			fputs(cmd_suppression_usage, stdout);
			return 0;
		default:
			fputs(cmd_suppression_usage, stderr);
			return 2;
		}
	}
	/* Operands (permuted after the options): SUB [ARG]. */
	if (optind >= argc) {
		fputs(cmd_suppression_usage, stderr);
		return 2;
	}
	sub = argv[optind];
	nargs = argc - optind - 1;
	if (nargs > 0)
		arg = argv[optind + 1];
	if (format != NULL) {
		if (strcmp(format, "csv") == 0)
			fmt = STORE_FORMAT_CSV;
		else if (strcmp(format, "jsonl") != 0 &&
		         strcmp(format, "json") != 0) {
			fprintf(stderr, "rebound suppression: --format: jsonl "
			                "or csv\n");
			return 2;
		}
	}
	now = config_now();
	if (strcmp(sub, "check") == 0) {
		int suppressed = 0;

		if (nargs != 1) {
			fprintf(stderr, "rebound suppression check: one "
			                "ADDRESS\n");
			return 2;
		}
		if (open_or_fail(&so, &cfg, &st) < 0)
			return 3;
		if (run.json)
			run.entries = json_array();
		else if (store_suppression_check(st, arg, account, now, NULL,
		             NULL, &suppressed, &err) == 0)
			/* First the verdict, then the entries that make it. */
			printf("%s: %s\n", arg,
			    suppressed ? "suppressed" : "not suppressed");
		if (err.msg[0] == '\0' &&
		    store_suppression_check(st, arg, account, now, on_entry,
		        &run, &suppressed, &err) == 0) {
			status = suppressed ? 1 : 0;
			if (run.json) {
				json_t *o = json_object();
				char norm[STORE_MAX_ADDRESS];

				if (store_address_normalize(
				        st, arg, norm, sizeof(norm), &err) < 0)
					rb_panic("checked, then malformed");
				json_object_set_new(
				    o, "address", json_string(norm));
				json_object_set_new(
				    o, "suppressed", json_boolean(suppressed));
				json_object_set(o, "entries", run.entries);
				put_json_line(o);
				json_decref(o);
			}
		} else {
			fprintf(
			    stderr, "rebound suppression check: %s\n", err.msg);
			status = err.code == EINVAL ? 2 : 3;
		}
		json_decref(run.entries);
		run.entries = NULL;
	} else if (strcmp(sub, "list") == 0) {
		if (nargs != 0) {
			fputs(cmd_suppression_usage, stderr);
			return 2;
		}
		if (open_or_fail(&so, &cfg, &st) < 0)
			return 1;
		if (store_suppression_list(
		        st, account, reason, now, on_entry, &run, &err) < 0) {
			fprintf(
			    stderr, "rebound suppression list: %s\n", err.msg);
			status = err.code == EINVAL ? 2 : 1;
		} else if (run.n == 0 && !run.json) {
			printf("no suppressed addresses\n");
		}
	} else if (strcmp(sub, "add") == 0) {
		if (nargs != 1 || reason == NULL) {
			fprintf(stderr, "rebound suppression add: ADDRESS "
			                "--reason BOUNCE|COMPLAINT\n");
			return 2;
		}
		if (open_or_fail(&so, &cfg, &st) < 0)
			return 1;
		if (account == NULL)
			account = store_account_of(st, NULL);
		if (store_suppression_add(st, account, arg, reason, now, &err) <
		    0) {
			fprintf(
			    stderr, "rebound suppression add: %s\n", err.msg);
			status = err.code == EINVAL ? 2 : 1;
		} else {
			printf("added %s to the account-level list of %s "
			       "(%s)\n",
			    arg, account, reason);
		}
	} else if (strcmp(sub, "remove") == 0) {
		unsigned removed = 0;

		if (nargs != 1) {
			fprintf(stderr, "rebound suppression remove: one "
			                "ADDRESS\n");
			return 2;
		}
		if (open_or_fail(&so, &cfg, &st) < 0)
			return 1;
		if (store_suppression_remove(
		        st, account, arg, now, &removed, &err) < 0) {
			fprintf(stderr, "rebound suppression remove: %s\n",
			    err.msg);
			status = err.code == EINVAL ? 2 : 1;
		} else if (removed == 0) {
			fprintf(stderr,
			    "rebound suppression remove: %s is not "
			    "suppressed%s%s: nothing removed\n",
			    arg, account != NULL ? " in account " : "",
			    account != NULL ? account : "");
			status = 1;
		} else {
			printf("%s: %u entr%s removed\n", arg, removed,
			    removed == 1 ? "y" : "ies");
		}
	} else if (strcmp(sub, "export") == 0) {
		uint64_t n = 0;

		if (nargs != 0) {
			fputs(cmd_suppression_usage, stderr);
			return 2;
		}
		if (open_or_fail(&so, &cfg, &st) < 0)
			return 1;
		if (store_suppression_export(st, stdout, fmt, now, &n, &err) <
		    0) {
			fprintf(stderr, "rebound suppression export: %s\n",
			    err.msg);
			status = 1;
		}
	} else if (strcmp(sub, "import") == 0) {
		struct store_import_summary sum;
		FILE *fp;
		size_t len;

		if (nargs != 1) {
			fprintf(stderr, "rebound suppression import: one FILE "
			                "(or -)\n");
			return 2;
		}
		len = strlen(arg);
		if (format == NULL && len > 4 &&
		    strcmp(arg + len - 4, ".csv") == 0)
			fmt = STORE_FORMAT_CSV;
		fp = strcmp(arg, "-") == 0 ? stdin : fopen(arg, "r");
		if (fp == NULL) {
			perror(arg);
			return 1;
		}
		if (open_or_fail(&so, &cfg, &st) < 0) {
			if (fp != stdin)
				fclose(fp);
			return 1;
		}
		if (store_suppression_import(st, fp,
		        strcmp(arg, "-") == 0 ? "stdin" : arg, fmt, account,
		        now, &sum, &err) < 0) {
			fprintf(stderr,
			    "rebound suppression import: %s; "
			    "nothing imported\n",
			    err.msg);
			status = 1;
		} else {
			printf("imported %llu entr%s\n",
			    (unsigned long long)sum.imported,
			    sum.imported == 1 ? "y" : "ies");
		}
		if (fp != stdin)
			fclose(fp);
	} else {
		fprintf(stderr,
		    "rebound suppression: no such subcommand "
		    "'%s'\n",
		    sub);
		fputs(cmd_suppression_usage, stderr);
		return 2;
	}
	if (fflush(stdout) != 0 && status == 0)
		status = 1;
	cli_store_close(&cfg, &st);
	return status;
}
