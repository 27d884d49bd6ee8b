/*
 * rebound status: the state of a database and of its Kafka side, read
 * from the database alone (works beside a running daemon): schema
 * version, the outbox (rows not yet delivered, by topic, the age of the
 * oldest), the consumed offsets of the sends topic with the records
 * counted and skipped as malformed, and the last expiry sweep.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "store/store.h"

/* Partitions listed per topic; a topic with more shows the count. */
#define STATUS_MAX_PARTITIONS 64

const char cmd_status_usage[] =
    "usage: rebound status [--db FILE] [--config FILE] [--json]\n"
    "\n"
    "Show the state of the database and of its Kafka side: the outbox\n"
    "(events, suppression changes and alert transitions not yet\n"
    "delivered to the brokers, by topic, and the age of the oldest), the\n"
    "offsets of the sends topic consumed so far, the send records skipped\n"
    "as malformed, and the last sweep of expired suppressions.  Safe\n"
    "beside a running rebound serve.\n"
    "\n"
    "  --db FILE, --config FILE   as for rebound ingest\n"
    "  --json                     print one JSON object\n"
    "\n"
    "Exit status: 0 ok, 1 failure, 2 usage error.\n";

struct offsets {
	json_t *list; /* [{topic, partition, next}] */
};

static int
on_offset(const char *topic, int32_t partition, int64_t next, void *ctx)
{
	struct offsets *o = ctx;
	json_t *e;

	if (json_array_size(o->list) >= STATUS_MAX_PARTITIONS)
		return -1;
	e = json_object();
	json_object_set_new(e, "topic", json_string(topic));
	json_object_set_new(e, "partition", json_integer(partition));
	json_object_set_new(e, "next", json_integer(next));
	json_array_append_new(o->list, e);
	return 0;
}

static json_t *
iso(time_t t)
{
	char buf[40];

	if (t == 0)
		return json_null();
	time_format_iso(t, buf, sizeof(buf));
	return json_string(buf);
}

static void
print_text(json_t *root)
{
	json_t *ob = json_object_get(root, "outbox");
	json_t *bt = json_object_get(ob, "by_topic");
	json_t *sends = json_object_get(root, "sends");
	json_t *offs = json_object_get(sends, "offsets"), *e;
	const char *oldest = json_string_value(json_object_get(ob, "oldest"));
	const char *swept =
	    json_string_value(json_object_get(root, "expiry_swept"));
	size_t i;

	printf("database      %s (schema %lld)\n",
	    json_string_value(json_object_get(root, "database")),
	    (long long)json_integer_value(json_object_get(root, "schema")));
	printf("kafka         %s\n",
	    json_is_true(json_object_get(root, "kafka_enabled"))
	        ? "enabled"
	        : "disabled (kafka.enabled = false: no outbox rows)");
	printf("outbox        %lld rows not yet delivered (events %lld, "
	       "suppression %lld, alerts %lld)\n",
	    (long long)json_integer_value(json_object_get(ob, "depth")),
	    (long long)json_integer_value(json_object_get(bt, "events")),
	    (long long)json_integer_value(json_object_get(bt, "suppression")),
	    (long long)json_integer_value(json_object_get(bt, "alerts")));
	if (oldest != NULL)
		printf("              oldest from %s (%lld s ago)\n", oldest,
		    (long long)json_integer_value(
		        json_object_get(ob, "oldest_age_seconds")));
	printf("              %lld rows written so far\n",
	    (long long)json_integer_value(json_object_get(ob, "last_id")));
	printf("sends topic   %lld records consumed, %lld malformed "
	       "(skipped)\n",
	    (long long)json_integer_value(json_object_get(sends, "records")),
	    (long long)json_integer_value(json_object_get(sends, "malformed")));
	json_array_foreach(offs, i, e)
	{
		printf("              %s [%lld] next offset %lld\n",
		    json_string_value(json_object_get(e, "topic")),
		    (long long)json_integer_value(
		        json_object_get(e, "partition")),
		    (long long)json_integer_value(json_object_get(e, "next")));
	}
	printf("expiry sweep  %s\n", swept != NULL ? swept : "never");
}

int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cli_store_opts so = {NULL, NULL};
	struct store_outbox_stats s;
	struct offsets o;
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct rb_error err = {0};
	json_t *root, *ob, *bt, *sends;
	time_t now = config_now();
	int c, json = 0, version = 0, enabled = 1, t;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			so.db = optarg;
			break;
		case 'c':
			so.config = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			fputs(cmd_status_usage, stdout);
			return 0;
		default:
			fputs(cmd_status_usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(cmd_status_usage, stderr);
		return 2;
	}
	if (cli_store_open("status", &so, &cfg, &st) < 0)
		return 1;
	o.list = json_array();
	if (config_get_bool(cfg, "kafka.enabled", &enabled, &err) < 0 ||
	    store_schema_version(st, &version, &err) < 0 ||
	    store_outbox_stats(st, &s, &err) < 0 ||
	    store_sends_offsets(st, NULL, on_offset, &o, &err) < 0) {
		fprintf(stderr, "rebound status: %s\n", err.msg);
		json_decref(o.list);
		cli_store_close(&cfg, &st);
		return 1;
	}
	root = json_object();
	json_object_set_new(root, "database", json_string(store_path(st)));
	json_object_set_new(root, "schema", json_integer(version));
	json_object_set_new(root, "kafka_enabled", json_boolean(enabled));
	ob = json_object();
	json_object_set_new(ob, "depth", json_integer((json_int_t)s.depth));
	bt = json_object();
	for (t = 0; t < STORE_N_TOPICS; t++)
		json_object_set_new(bt, store_topic_name((enum store_topic)t),
		    json_integer((json_int_t)s.by_topic[t]));
	json_object_set_new(ob, "by_topic", bt);
	json_object_set_new(ob, "oldest", iso(s.oldest));
	json_object_set_new(ob, "oldest_age_seconds",
	    s.oldest != 0 ? json_integer((json_int_t)(now - s.oldest))
	                  : json_null());
	json_object_set_new(ob, "last_id", json_integer(s.last_id));
	json_object_set_new(root, "outbox", ob);
	sends = json_object();
	json_object_set_new(
	    sends, "records", json_integer((json_int_t)s.sends_records));
	json_object_set_new(
	    sends, "malformed", json_integer((json_int_t)s.sends_malformed));
	json_object_set_new(sends, "offsets", o.list);
	json_object_set_new(root, "sends", sends);
	json_object_set_new(root, "expiry_swept", iso(s.swept));
	if (json) {
		char *out =
		    json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (out != NULL)
			puts(out);
		free(out);
	} else {
		print_text(root);
	}
	json_decref(root);
	cli_store_close(&cfg, &st);
	return 0;
}
