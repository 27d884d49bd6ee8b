/*
 * kafkatool: the helper of the Kafka tests (tests/kafka/test_NAME.sh), one
 * subcommand per role, each a separate process so a test can kill one:
 *
 *   gen DIR N            N distinct feedback messages (a Maildir): hard
 *                        and soft bounces and complaints of 4 identities
 *   broker [N]           an embedded broker of N brokers; prints
 *                        "broker ADDRESS", then obeys stdin lines "down",
 *                        "up" (each answered "ok") until "quit" or EOF
 *   publish ADDR [MS]    the publisher on the database of the config
 *                        ($REBOUND_CONFIG, $REBOUND_STORE_DB): with MS,
 *                        drain and exit (1 if not drained in MS); else
 *                        until stdin ends
 *   status               the outbox depth, one number
 *   events ADDR [dups]   read rebound.events from the start over TCP
 *                        and check it against the events table: every
 *                        event there, key = identity, the stored JSON,
 *                        SES-shaped; each id once (dups: at least once)
 *   suppression ADDR     read rebound.suppression from the start, apply
 *                        it as a mirror would, and compare with the
 *                        lists in force at $REBOUND_NOW
 *   consume ADDR MS      the sends consumer for MS milliseconds
 *   wait SQL OP N MS     until the number SQL gives on the database is
 *                        OP (ge, eq) N; exit 1 after MS milliseconds
 * Prints what it found; exit 0 when the check holds, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <sqlite3.h>

#include "core/core.h"
#include "publish/publish.h"
#include "store/store.h"

/* How long reading a topic to its end may take. */
#define TOOL_READ_MS 30000
/* Identities of the generated messages. */
#define TOOL_IDENTITIES 4

static struct config *
load_config(void)
{
	struct config *cfg;
	struct rb_error err;
	const char *path = getenv("REBOUND_CONFIG");

	if (config_load(path != NULL && path[0] ? path : NULL, &cfg, &err) <
	    0) {
		fprintf(stderr, "kafkatool: %s\n", err.msg);
		exit(1);
	}
	return cfg;
}

/* ---- gen --------------------------------------------------------------- */

static void
write_msg(const char *dir, unsigned i)
{
	char path[4096];
	unsigned id = i % TOOL_IDENTITIES, user = i / 2, kind = i % 10;
	FILE *fp;

	(void)snprintf(path, sizeof(path), "%s/new/%08u.kafkatest", dir, i);
	fp = fopen(path, "w");
	if (fp == NULL) {
		perror(path);
		exit(1);
	}
	if (kind == 8 || kind == 9) {
		fprintf(fp,
		    "From: Feedback Loop <fbl@isp.example.net>\n"
		    "To: fbl@shop%u.example.com\n"
		    "Subject: complaint %u\n"
		    "Date: Sat, 01 Jun 2024 11:30:00 +0000\n"
		    "Message-ID: <fbl-%u@isp.example.net>\n"
		    "MIME-Version: 1.0\n"
		    "Content-Type: multipart/report; "
		    "report-type=feedback-report; boundary=\"F\"\n\n"
		    "--F\nContent-Type: text/plain\n\nA complaint.\n\n"
		    "--F\nContent-Type: message/feedback-report\n\n"
		    "Feedback-Type: abuse\nUser-Agent: TestFBL/1.0\n"
		    "Version: 1\nOriginal-Rcpt-To: <user%u@isp.example.net>\n"
		    "Arrival-Date: Sat, 01 Jun 2024 11:00:00 +0000\n\n"
		    "--F\nContent-Type: message/rfc822\n\n"
		    "From: Shop <news@shop%u.example.com>\n"
		    "To: user%u@isp.example.net\n"
		    "Subject: offer %u\n"
		    "Message-ID: <offer-%u@shop%u.example.com>\n\n"
		    "Buy now.\n\n--F--\n",
		    id, i, i, user, id, user, i, i, id);
	} else {
		int hard = kind < 6;

		fprintf(fp,
		    "From: MAILER-DAEMON@mx.example.org\n"
		    "To: bounces@shop%u.example.com\n"
		    "Subject: Undelivered Mail Returned to Sender\n"
		    "Date: Sat, 01 Jun 2024 11:00:00 +0000\n"
		    "Message-ID: <dsn-%u@mx.example.org>\n"
		    "MIME-Version: 1.0\n"
		    "Content-Type: multipart/report; "
		    "report-type=delivery-status; boundary=\"D\"\n\n"
		    "--D\nContent-Type: text/plain\n\nNot delivered.\n\n"
		    "--D\nContent-Type: message/delivery-status\n\n"
		    "Reporting-MTA: dns; mx.example.org\n\n"
		    "Final-Recipient: rfc822; user%u@example.org\n"
		    "Action: failed\nStatus: %s\n"
		    "Diagnostic-Code: smtp; %s\n\n"
		    "--D\nContent-Type: text/rfc822-headers\n\n"
		    "From: Shop <orders@shop%u.example.com>\n"
		    "Date: Sat, 01 Jun 2024 10:00:00 +0000\n"
		    "To: user%u@example.org\n"
		    "Subject: order %u\n"
		    "Message-ID: <order-%u@shop%u.example.com>\n\n"
		    "--D--\n",
		    id, i, user, hard ? "5.1.1" : "4.2.2",
		    hard ? "550 5.1.1 user unknown" : "452 4.2.2 mailbox full",
		    id, user, i, i, id);
	}
	if (fclose(fp) != 0) {
		perror(path);
		exit(1);
	}
}

static int
cmd_gen(const char *dir, const char *count)
{
	char sub[4096];
	uint64_t n, i;

	if (parse_u64(count, &n) < 0)
		return 2;
	(void)mkdir(dir, 0755);
	(void)snprintf(sub, sizeof(sub), "%s/new", dir);
	(void)mkdir(sub, 0755);
	(void)snprintf(sub, sizeof(sub), "%s/cur", dir);
	(void)mkdir(sub, 0755);
	(void)snprintf(sub, sizeof(sub), "%s/tmp", dir);
	(void)mkdir(sub, 0755);
	for (i = 0; i < n; i++)
		write_msg(dir, (unsigned)i);
	return 0;
}

/* ---- broker, publish, consume ---------------------------------------------
 */

static int
cmd_broker(const char *n_arg)
{
	struct config *cfg = load_config();
	struct publish_broker *b;
	struct rb_error err;
	uint64_t n = 1;
	char line[64];

	if (n_arg != NULL && parse_u64(n_arg, &n) < 0)
		return 2;
	if (publish_broker_start(cfg, (unsigned)n, &b, &err) < 0) {
		fprintf(stderr, "kafkatool: %s\n", err.msg);
		return 1;
	}
	printf("broker %s\n", publish_broker_address(b));
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		int rc = 0;

		if (strncmp(line, "down", 4) == 0)
			rc = publish_broker_set_down(b, 1, &err);
		else if (strncmp(line, "up", 2) == 0)
			rc = publish_broker_set_down(b, 0, &err);
		else if (strncmp(line, "quit", 4) == 0)
			break;
		printf("%s\n", rc == 0 ? "ok" : err.msg);
		fflush(stdout);
	}
	publish_broker_stop(&b);
	config_free(&cfg);
	return 0;
}

static int
cmd_publish(const char *addr, const char *ms)
{
	struct config *cfg = load_config();
	struct publisher *p;
	struct publish_stats s;
	struct rb_error err;
	uint64_t timeout = 0;
	int rc = 0;

	if (ms != NULL && parse_u64(ms, &timeout) < 0)
		return 2;
	if (publish_start(cfg, addr, &p, &err) < 0) {
		fprintf(stderr, "kafkatool: %s\n", err.msg);
		return 1;
	}
	config_free(&cfg);
	if (ms != NULL) {
		rc = publish_drain(p, (unsigned)timeout) == 0 ? 0 : 1;
	} else {
		char line[64];

		while (fgets(line, sizeof(line), stdin) != NULL)
			;
	}
	publish_get_stats(p, &s);
	publish_stop(&p, 5000);
	printf("produced %llu delivered %llu failed %llu removed %llu%s\n",
	    (unsigned long long)s.produced, (unsigned long long)s.delivered,
	    (unsigned long long)s.failed, (unsigned long long)s.removed,
	    rc == 0 ? "" : " (not drained in time)");
	return rc;
}

static int
cmd_consume(const char *addr, const char *ms)
{
	struct config *cfg = load_config();
	struct publish_consumer *c;
	struct publish_consumer_stats s;
	struct rb_error err;
	uint64_t t;

	if (parse_u64(ms, &t) < 0)
		return 2;
	if (publish_consumer_start(cfg, addr, &c, &err) < 0 || c == NULL) {
		fprintf(stderr, "kafkatool: %s\n",
		    c == NULL ? "no sends topic" : err.msg);
		return 1;
	}
	config_free(&cfg);
	(void)usleep((useconds_t)(t * 1000));
	publish_consumer_get_stats(c, &s);
	publish_consumer_stop(&c);
	printf("records %llu sends %llu replayed %llu skipped %llu "
	       "malformed %llu\n",
	    (unsigned long long)s.records, (unsigned long long)s.sends,
	    (unsigned long long)s.replayed, (unsigned long long)s.skipped,
	    (unsigned long long)s.malformed);
	return 0;
}

static int
cmd_status(void)
{
	struct config *cfg = load_config();
	struct store *st;
	struct store_outbox_stats s;
	struct rb_error err;

	if (store_open(cfg, &st, &err) < 0 ||
	    store_outbox_stats(st, &s, &err) < 0) {
		fprintf(stderr, "kafkatool: %s\n", err.msg);
		return 1;
	}
	printf("%llu\n", (unsigned long long)s.depth);
	store_close(&st);
	config_free(&cfg);
	return 0;
}

/* ---- reading a topic over TCP ----------------------------------------------
 */

typedef void record_fn(const rd_kafka_message_t *m, void *ctx);

/* Every record of topic from the beginning to its end (as it is when
 * the read starts), through a plain librdkafka consumer. */
static int
read_topic(const char *addr, const char *topic, record_fn *fn, void *ctx)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_topic_t *rkt;
	rd_kafka_t *rk;
	char why[512];
	int i, eofs = 0, n_parts;
	int64_t t0 = (int64_t)time(NULL);

	if (rd_kafka_conf_set(conf, "bootstrap.servers", addr, why,
	        sizeof(why)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "group.id", "kafkatool", why,
	        sizeof(why)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "enable.partition.eof", "true", why,
	        sizeof(why)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "kafkatool: %s\n", why);
		return -1;
	}
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
	if (rk == NULL) {
		fprintf(stderr, "kafkatool: %s\n", why);
		return -1;
	}
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) !=
	        RD_KAFKA_RESP_ERR_NO_ERROR ||
	    md->topic_cnt != 1 || md->topics[0].err) {
		fprintf(stderr, "kafkatool: no metadata of %s\n", topic);
		if (md != NULL)
			rd_kafka_metadata_destroy(md);
		rd_kafka_topic_destroy(rkt);
		rd_kafka_destroy(rk);
		return -1;
	}
	n_parts = md->topics[0].partition_cnt;
	parts = rd_kafka_topic_partition_list_new(n_parts);
	for (i = 0; i < n_parts; i++)
		rd_kafka_topic_partition_list_add(
		    parts, topic, md->topics[0].partitions[i].id)
		    ->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	(void)rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	while (
	    eofs < n_parts && (int64_t)time(NULL) - t0 < TOOL_READ_MS / 1000) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);

		if (m == NULL)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			eofs++;
		else if (m->err)
			fprintf(stderr, "kafkatool: %s\n",
			    rd_kafka_message_errstr(m));
		else
			fn(m, ctx);
		rd_kafka_message_destroy(m);
	}
	(void)rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	if (eofs < n_parts) {
		fprintf(stderr, "kafkatool: %s not read to its end\n", topic);
		return -1;
	}
	return 0;
}

/* ---- events ------------------------------------------------------------ */

struct ev_ctx {
	GHashTable *seen; /* eventId -> count */
	GHashTable *want; /* eventId -> stored JSON */
	GHashTable *keys; /* eventId -> identity ("" none) */
	uint64_t records, bad;
};

static void
bad(struct ev_ctx *x, const char *why, const char *id)
{
	if (x->bad++ < 10)
		fprintf(
		    stderr, "kafkatool: event %s: %s\n", id ? id : "?", why);
}

static void
on_event(const rd_kafka_message_t *m, void *ctx)
{
	struct ev_ctx *x = ctx;
	json_t *root, *rb, *mail;
	const char *id, *type, *want, *key, *nt;
	char *val = g_strndup(m->payload, m->len);
	gpointer n;

	x->records++;
	root = json_loads(val, 0, NULL);
	rb = json_object_get(root, "rebound");
	id = json_string_value(json_object_get(rb, "eventId"));
	type = json_string_value(json_object_get(root, "eventType"));
	mail = json_object_get(root, "mail");
	if (!json_is_object(root) || id == NULL || type == NULL) {
		bad(x, "no JSON object with eventType and rebound.eventId", id);
		goto out;
	}
	if (!json_is_object(mail) ||
	    !json_is_string(json_object_get(mail, "messageId")) ||
	    !json_is_array(json_object_get(mail, "destination")))
		bad(x, "no SES mail object", id);
	nt = json_string_value(json_object_get(root, "notificationType"));
	if (strcmp(type, "Bounce") == 0 || strcmp(type, "Complaint") == 0 ||
	    strcmp(type, "Delivery") == 0) {
		const char *body = strcmp(type, "Bounce") == 0 ? "bounce"
		                   : strcmp(type, "Complaint") == 0
		                       ? "complaint"
		                       : "delivery";

		if (nt == NULL || strcmp(nt, type) != 0)
			bad(x, "notificationType is not eventType", id);
		if (!json_is_object(json_object_get(root, body)))
			bad(x, "no event body", id);
	} else if (nt != NULL) {
		bad(x, "notificationType on a type SES does not notify", id);
	}
	want = g_hash_table_lookup(x->want, id);
	if (want == NULL) {
		bad(x, "not in the events table", id);
		goto out;
	}
	if (strlen(want) != m->len || memcmp(want, m->payload, m->len) != 0)
		bad(x, "value differs from the stored JSON", id);
	key = g_hash_table_lookup(x->keys, id);
	if ((key[0] == '\0') != (m->key == NULL) ||
	    (m->key != NULL && (strlen(key) != m->key_len ||
	                           memcmp(key, m->key, m->key_len) != 0)))
		bad(x, "key is not the identity", id);
	n = g_hash_table_lookup(x->seen, id);
	g_hash_table_replace(
	    x->seen, g_strdup(id), GUINT_TO_POINTER(GPOINTER_TO_UINT(n) + 1));
out:
	json_decref(root);
	g_free(val);
}

static int
cmd_events(const char *addr, int dups)
{
	struct config *cfg = load_config();
	struct ev_ctx x = {0};
	GHashTableIter it;
	gpointer k, v;
	sqlite3 *db;
	sqlite3_stmt *s;
	uint64_t stored = 0, missing = 0, twice = 0;

	x.seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	x.want = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	x.keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	if (sqlite3_open_v2(config_get(cfg, "store.db"), &db,
	        SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	        "SELECT json ->> '$.rebound.eventId', coalesce(identity, ''),"
	        " json FROM events",
	        -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "kafkatool: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 0);

		if (id == NULL) {
			fprintf(
			    stderr, "kafkatool: a stored event has no id\n");
			return 1;
		}
		g_hash_table_replace(x.want, g_strdup(id),
		    g_strdup((const char *)sqlite3_column_text(s, 2)));
		g_hash_table_replace(x.keys, g_strdup(id),
		    g_strdup((const char *)sqlite3_column_text(s, 1)));
		stored++;
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	if (g_hash_table_size(x.want) != stored) {
		fprintf(stderr, "kafkatool: event ids are not unique\n");
		return 1;
	}
	if (read_topic(
	        addr, config_get(cfg, "kafka.events_topic"), on_event, &x) < 0)
		return 1;
	g_hash_table_iter_init(&it, x.want);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		guint n = GPOINTER_TO_UINT(g_hash_table_lookup(x.seen, k));

		if (n == 0 && missing++ < 10)
			fprintf(stderr, "kafkatool: event %s missing\n",
			    (const char *)k);
		if (n > 1)
			twice++;
	}
	printf("stored %llu records %llu distinct %u missing %llu "
	       "duplicated %llu bad %llu\n",
	    (unsigned long long)stored, (unsigned long long)x.records,
	    g_hash_table_size(x.seen), (unsigned long long)missing,
	    (unsigned long long)twice, (unsigned long long)x.bad);
	g_hash_table_destroy(x.seen);
	g_hash_table_destroy(x.want);
	g_hash_table_destroy(x.keys);
	config_free(&cfg);
	return missing == 0 && x.bad == 0 && (dups || twice == 0) && stored > 0
	           ? 0
	           : 1;
}

/* ---- suppression --------------------------------------------------------- */

/* The mirror: address -> its latest value (NULL: tombstone). */
static void
on_supp(const rd_kafka_message_t *m, void *ctx)
{
	GHashTable *mirror = ctx;

	if (m->key == NULL)
		return;
	g_hash_table_replace(mirror, g_strndup(m->key, m->key_len),
	    m->payload != NULL ? g_strndup(m->payload, m->len) : NULL);
}

/* "list account address reason" lines, sorted, of the store's lists. */
static int
on_entry(const struct store_suppression *e, void *ctx)
{
	GPtrArray *a = ctx;

	g_ptr_array_add(a,
	    g_strdup_printf("%s %s %s %s",
	        e->list == STORE_LIST_GLOBAL ? "global" : "account",
	        e->account != NULL ? e->account : "-", e->address, e->reason));
	return 0;
}

static gint
cmp_line(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmd_suppression(const char *addr)
{
	struct config *cfg = load_config();
	GHashTable *mirror =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	GPtrArray *want = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *got = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter it;
	gpointer k, v;
	struct store *st;
	struct rb_error err;
	guint i, diff = 0;

	if (store_open(cfg, &st, &err) < 0 ||
	    store_suppression_list(
	        st, NULL, NULL, config_now(), on_entry, want, &err) < 0) {
		fprintf(stderr, "kafkatool: %s\n", err.msg);
		return 1;
	}
	store_close(&st);
	if (read_topic(addr, config_get(cfg, "kafka.suppression_topic"),
	        on_supp, mirror) < 0)
		return 1;
	g_hash_table_iter_init(&it, mirror);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		json_t *root, *entries, *e;
		size_t j;

		if (v == NULL)
			continue;
		root = json_loads(v, 0, NULL);
		entries = json_object_get(root, "entries");
		if (!json_is_array(entries) || json_array_size(entries) == 0 ||
		    strcmp(json_string_value(
		               json_object_get(root, "emailAddress")),
		        k) != 0 ||
		    !json_is_string(json_object_get(root, "lastUpdateTime")) ||
		    json_object_get(root, "expiresAt") == NULL ||
		    !json_is_string(json_object_get(root, "list")) ||
		    !json_is_string(json_object_get(root, "reason"))) {
			fprintf(stderr, "kafkatool: bad value of %s: %s\n",
			    (const char *)k, (const char *)v);
			diff++;
		}
		json_array_foreach(entries, j, e)
		{
			const char *acct =
			    json_string_value(json_object_get(e, "account"));

			g_ptr_array_add(got,
			    g_strdup_printf("%s %s %s %s",
			        json_string_value(json_object_get(e, "list")),
			        acct != NULL ? acct : "-", (const char *)k,
			        json_string_value(
			            json_object_get(e, "reason"))));
		}
		json_decref(root);
	}
	g_ptr_array_sort(want, cmp_line);
	g_ptr_array_sort(got, cmp_line);
	if (want->len != got->len)
		diff++;
	for (i = 0; i < want->len && i < got->len; i++) {
		if (strcmp(want->pdata[i], got->pdata[i]) != 0) {
			if (diff++ < 10)
				fprintf(stderr,
				    "kafkatool: store has '%s', topic '%s'\n",
				    (char *)want->pdata[i],
				    (char *)got->pdata[i]);
		}
	}
	printf("entries in the store %u, in the mirror %u, keys %u, "
	       "differences %u\n",
	    want->len, got->len, g_hash_table_size(mirror), diff);
	g_hash_table_destroy(mirror);
	g_ptr_array_free(want, TRUE);
	g_ptr_array_free(got, TRUE);
	config_free(&cfg);
	return diff == 0 ? 0 : 1;
}

/* ---- wait ------------------------------------------------------------- */

static int
cmd_wait(const char *sql, const char *op, const char *n_arg, const char *ms)
{
	struct config *cfg = load_config();
	uint64_t n, t;
	int64_t v = -1;
	int64_t deadline;
	int ge = strcmp(op, "ge") == 0;

	if (parse_u64(n_arg, &n) < 0 || parse_u64(ms, &t) < 0 ||
	    (!ge && strcmp(op, "eq") != 0))
		return 2;
	deadline = (int64_t)time(NULL) * 1000 + (int64_t)t;
	for (;;) {
		sqlite3 *db;
		sqlite3_stmt *s;
		struct timespec ts;

		v = -1;
		if (sqlite3_open_v2(config_get(cfg, "store.db"), &db,
		        SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
		    sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
			if (sqlite3_step(s) == SQLITE_ROW)
				v = sqlite3_column_int64(s, 0);
			sqlite3_finalize(s);
		}
		sqlite3_close(db);
		if (v >= 0 && (ge ? (uint64_t)v >= n : (uint64_t)v == n))
			break;
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		if ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 >=
		    deadline) {
			printf("%s: %lld, not %s %llu\n", sql, (long long)v, op,
			    (unsigned long long)n);
			config_free(&cfg);
			return 1;
		}
		(void)usleep(50000);
	}
	config_free(&cfg);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cmd, "gen") == 0 && argc == 4)
		return cmd_gen(argv[2], argv[3]);
	if (strcmp(cmd, "broker") == 0 && argc <= 3)
		return cmd_broker(argc == 3 ? argv[2] : NULL);
	if (strcmp(cmd, "publish") == 0 && (argc == 3 || argc == 4))
		return cmd_publish(argv[2], argc == 4 ? argv[3] : NULL);
	if (strcmp(cmd, "consume") == 0 && argc == 4)
		return cmd_consume(argv[2], argv[3]);
	if (strcmp(cmd, "status") == 0 && argc == 2)
		return cmd_status();
	if (strcmp(cmd, "events") == 0 && (argc == 3 || argc == 4))
		return cmd_events(argv[2], argc == 4);
	if (strcmp(cmd, "suppression") == 0 && argc == 3)
		return cmd_suppression(argv[2]);
	if (strcmp(cmd, "wait") == 0 && argc == 6)
		return cmd_wait(argv[2], argv[3], argv[4], argv[5]);
	fprintf(stderr, "usage: kafkatool gen DIR N | broker [N] | publish "
	                "ADDR [MS] | consume ADDR MS | status | events ADDR "
	                "[dups] | suppression ADDR | wait SQL ge|eq N MS\n");
	return 2;
}
