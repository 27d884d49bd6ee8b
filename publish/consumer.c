/*
 * consumer: SES Send events from kafka.sends_topic (consumer group
 * kafka.group) into the hourly send counters.  The database is the
 * reference for offsets: each batch of records is counted and the next
 * offset of each partition stored in one transaction
 * (store_sends_consume), and only then committed to Kafka (for lag
 * monitoring and the other members); on assignment a partition starts
 * at the offset of the database.  A record replayed all the same (a
 * commit lost in a crash, a rebalance) is below the stored offset and
 * counts nothing.  A malformed record is counted, logged (rate-limited)
 * and passed: it never stops the partition.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "publish_int.h"
#include "store/store.h"

/* Records per transaction at most. */
#define CONSUMER_BATCH 1000
/* How long a poll waits for the first record of a batch (and how soon
 * a stop is seen). */
#define CONSUMER_POLL_MS 100
/* A batch closes this long after its first record at the latest, so a
 * trickle is counted soon. */
#define CONSUMER_BATCH_MS 50
/* Wait before reading again after the database failed. */
#define CONSUMER_RETRY_MS 1000

struct publish_consumer {
	struct kctx kc; /* first: the opaque of the callbacks */
	struct plog bad_log;
	struct store *st;
	rd_kafka_t *rk;
	char *topic;
	rd_kafka_message_t *msgs[CONSUMER_BATCH];
	struct store_send_record recs[CONSUMER_BATCH];
	struct publish_consumer_stats ls;
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	int stop;
	struct publish_consumer_stats stats;
};

struct offsets_ctx {
	rd_kafka_topic_partition_list_t *parts;
};

static int
on_offset(const char *topic, int32_t partition, int64_t next, void *ctx)
{
	struct offsets_ctx *oc = ctx;
	int i;

	(void)topic;
	for (i = 0; i < oc->parts->cnt; i++) {
		if (oc->parts->elems[i].partition == partition)
			oc->parts->elems[i].offset = next;
	}
	return 0;
}

static void
on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct publish_consumer *c = opaque;
	int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	rd_kafka_error_t *kerr = NULL;
	rd_kafka_resp_err_t ke = RD_KAFKA_RESP_ERR_NO_ERROR;
	int i;

	if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		struct offsets_ctx oc = {parts};
		struct rb_error err;

		/* No offset in the database: Kafka's committed one (never
		 * past the database's) or auto.offset.reset. */
		for (i = 0; i < parts->cnt; i++)
			parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
		if (store_sends_offsets(c->st, c->topic, on_offset, &oc, &err) <
		    0)
			plog_msg(&c->kc.log, LOG_WARN, "kafka consumer: %s",
			    err.msg);
		if (coop)
			kerr = rd_kafka_incremental_assign(rk, parts);
		else
			ke = rd_kafka_assign(rk, parts);
		c->ls.assigned += (uint64_t)parts->cnt;
	} else {
		if (coop) {
			kerr = rd_kafka_incremental_unassign(rk, parts);
			c->ls.assigned -= (uint64_t)parts->cnt < c->ls.assigned
			                      ? (uint64_t)parts->cnt
			                      : c->ls.assigned;
		} else {
			ke = rd_kafka_assign(rk, NULL);
			c->ls.assigned = 0;
		}
	}
	if (kerr != NULL) {
		plog_msg(&c->kc.log, LOG_WARN, "kafka consumer: assignment: %s",
		    rd_kafka_error_string(kerr));
		rd_kafka_error_destroy(kerr);
	}
	if (ke != RD_KAFKA_RESP_ERR_NO_ERROR)
		plog_msg(&c->kc.log, LOG_WARN, "kafka consumer: assignment: %s",
		    rd_kafka_err2str(ke));
}

static void
on_bad(const struct store_send_record *r, const char *why, void *ctx)
{
	struct publish_consumer *c = ctx;

	c->ls.malformed++;
	plog_msg(&c->bad_log, LOG_WARN,
	    "kafka consumer: %s [%d] offset %lld: malformed send record "
	    "skipped: %s (%llu so far)",
	    c->topic, (int)r->partition, (long long)r->offset, why,
	    (unsigned long long)c->ls.malformed);
}

/* Partitions of the batch with offset (first: the first record's; else
 * the one after the last). */
static rd_kafka_topic_partition_list_t *
batch_offsets(struct publish_consumer *c, size_t n, int first)
{
	rd_kafka_topic_partition_list_t *l =
	    rd_kafka_topic_partition_list_new(8);
	size_t i;

	for (i = 0; i < n; i++) {
		rd_kafka_topic_partition_t *tp =
		    rd_kafka_topic_partition_list_find(
		        l, c->topic, c->recs[i].partition);

		if (tp == NULL) {
			tp = rd_kafka_topic_partition_list_add(
			    l, c->topic, c->recs[i].partition);
			tp->offset =
			    first ? c->recs[i].offset : c->recs[i].offset + 1;
		} else if (!first) {
			tp->offset = c->recs[i].offset + 1;
		}
	}
	return l;
}

/* Read up to CONSUMER_BATCH records into msgs/recs; their number. */
static size_t
collect(struct publish_consumer *c)
{
	rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, CONSUMER_POLL_MS);
	int64_t until = kconf_now_ms() + CONSUMER_BATCH_MS;
	size_t n = 0;

	while (m != NULL) {
		if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				plog_msg(&c->kc.log, LOG_WARN,
				    "kafka consumer: %s: %s", c->topic,
				    rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
		} else {
			struct store_send_record *r = &c->recs[n];

			r->partition = m->partition;
			r->offset = m->offset;
			r->data = m->payload;
			r->len = m->payload != NULL ? m->len : 0;
			c->msgs[n++] = m;
		}
		if (n == CONSUMER_BATCH || kconf_now_ms() >= until)
			break;
		m = rd_kafka_consumer_poll(c->rk, 0);
	}
	return n;
}

static void *
run(void *arg)
{
	struct publish_consumer *c = arg;

	for (;;) {
		struct store_consume_summary sum;
		struct rb_error err;
		rd_kafka_topic_partition_list_t *l;
		rd_kafka_error_t *kerr;
		uint64_t malformed;
		size_t n, i;
		int stop;

		(void)pthread_mutex_lock(&c->mu);
		stop = c->stop;
		c->stats = c->ls;
		(void)pthread_mutex_unlock(&c->mu);
		if (stop)
			break;
		if ((n = collect(c)) == 0)
			continue;
		malformed = c->ls.malformed;
		if (store_sends_consume(c->st, c->topic, c->recs, n,
		        config_now(), on_bad, c, &sum, &err) < 0) {
			/* Nothing of the batch is kept: read it again. */
			log_error("kafka consumer: %s; reading the records "
			          "again in %d ms",
			    err.msg, CONSUMER_RETRY_MS);
			c->ls.malformed = malformed;
			l = batch_offsets(c, n, 1);
			kerr = rd_kafka_seek_partitions(
			    c->rk, l, CONSUMER_RETRY_MS);
			if (kerr != NULL)
				rd_kafka_error_destroy(kerr);
			rd_kafka_topic_partition_list_destroy(l);
			(void)usleep(CONSUMER_RETRY_MS * 1000);
		} else {
			c->ls.records += sum.records;
			c->ls.sends += sum.sends;
			c->ls.replayed += sum.replayed;
			c->ls.skipped += sum.skipped;
			c->ls.batches++;
			l = batch_offsets(c, n, 0);
			(void)rd_kafka_commit(c->rk, l, 1);
			rd_kafka_topic_partition_list_destroy(l);
		}
		for (i = 0; i < n; i++)
			rd_kafka_message_destroy(c->msgs[i]);
	}
	(void)rd_kafka_consumer_close(c->rk);
	(void)pthread_mutex_lock(&c->mu);
	c->stats = c->ls;
	(void)pthread_mutex_unlock(&c->mu);
	return NULL;
}

int
publish_consumer_start(const struct config *cfg, const char *brokers,
    struct publish_consumer **c_r, struct rb_error *err)
{
	const char *defaults[] = {
	    "client.id",
	    "rebound",
	    "enable.auto.commit",
	    "false",
	    "enable.auto.offset.store",
	    "false",
	    "auto.offset.reset",
	    "earliest",
	    NULL,
	    NULL, /* group.id */
	    NULL,
	};
	const char *topic = config_get(cfg, "kafka.sends_topic");
	struct publish_consumer *c;
	rd_kafka_conf_t *conf;
	rd_kafka_topic_partition_list_t *sub;
	rd_kafka_resp_err_t e;
	const char *b;
	char why[512];

	*c_r = NULL;
	if (topic[0] == '\0')
		return 0;
	if ((b = kconf_brokers(cfg, brokers, err)) == NULL)
		return -1;
	defaults[8] = "group.id";
	defaults[9] = config_get(cfg, "kafka.group");
	if (defaults[9][0] == '\0')
		return rb_error_set(err, EINVAL, "kafka.group: empty");
	c = xcalloc(1, sizeof(*c));
	c->kc.who = "kafka consumer";
	plog_init(&c->kc.log);
	plog_init(&c->bad_log);
	(void)pthread_mutex_init(&c->mu, NULL);
	c->topic = xstrdup(topic);
	if (store_open(cfg, &c->st, err) < 0)
		goto fail;
	if ((conf = kconf_new(cfg, b, defaults, &c->kc, err)) == NULL)
		goto fail;
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
	if (c->rk == NULL) {
		rd_kafka_conf_destroy(conf);
		rb_error_set(err, EINVAL, "kafka consumer: %s", why);
		goto fail;
	}
	(void)rd_kafka_poll_set_consumer(c->rk);
	sub = rd_kafka_topic_partition_list_new(1);
	(void)rd_kafka_topic_partition_list_add(
	    sub, topic, RD_KAFKA_PARTITION_UA);
	e = rd_kafka_subscribe(c->rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rb_error_set(err, EINVAL, "kafka consumer: subscribe to %s: %s",
		    topic, rd_kafka_err2str(e));
		goto fail;
	}
	if (pthread_create(&c->thread, NULL, run, c) != 0) {
		rb_error_set(err, errno, "kafka consumer: no thread");
		goto fail;
	}
	c->started = 1;
	*c_r = c;
	return 0;
fail:
	publish_consumer_stop(&c);
	return -1;
}

void
publish_consumer_get_stats(
    struct publish_consumer *c, struct publish_consumer_stats *s_r)
{
	(void)pthread_mutex_lock(&c->mu);
	*s_r = c->stats;
	(void)pthread_mutex_unlock(&c->mu);
}

void
publish_consumer_stop(struct publish_consumer **cp)
{
	struct publish_consumer *c = cp != NULL ? *cp : NULL;

	if (c == NULL)
		return;
	if (c->started) {
		(void)pthread_mutex_lock(&c->mu);
		c->stop = 1;
		(void)pthread_mutex_unlock(&c->mu);
		(void)pthread_join(c->thread, NULL);
	}
	if (c->rk != NULL)
		rd_kafka_destroy(c->rk);
	store_close(&c->st);
	free(c->topic);
	(void)pthread_mutex_destroy(&c->mu);
	plog_destroy(&c->kc.log);
	plog_destroy(&c->bad_log);
	free(c);
	*cp = NULL;
}
