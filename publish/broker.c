/*
 * broker: the embedded broker, librdkafka's mock cluster (an in-process
 * Kafka-protocol broker speaking real TCP on 127.0.0.1, random ports),
 * for trying rebound out with no cluster.  It keeps everything in
 * memory: nothing survives a restart (the outbox does, and is sent
 * again to the next broker only if it was not delivered).  The mock API
 * is experimental in librdkafka; this file is the only user.  The mock
 * creates no topic through the Admin API, so the topics of the config
 * are created here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "publish_int.h"

#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h (publish_int.h) */

/* Partitions of each topic: a few, so keys spread as on a cluster. */
#define BROKER_PARTITIONS 3

struct publish_broker {
	struct kctx kc;
	rd_kafka_t *rk; /* hosts the cluster's thread */
	rd_kafka_mock_cluster_t *mc;
	char *address;
};

static const char *const topic_keys[] = {
    "kafka.events_topic",
    "kafka.suppression_topic",
    "kafka.alerts_topic",
    "kafka.sends_topic",
};

int
publish_broker_start(const struct config *cfg, unsigned n_brokers,
    struct publish_broker **b_r, struct rb_error *err)
{
	struct publish_broker *b;
	rd_kafka_conf_t *conf;
	char why[512];
	size_t i;

	if (n_brokers < 1 || n_brokers > PUBLISH_MAX_BROKERS)
		return rb_error_set(err, EINVAL,
		    "embedded broker: 1 to %d brokers", PUBLISH_MAX_BROKERS);
	b = xcalloc(1, sizeof(*b));
	b->kc.who = "kafka embedded broker";
	plog_init(&b->kc.log);
	conf = rd_kafka_conf_new();
	rd_kafka_conf_set_opaque(conf, &b->kc);
	/* The host handle connects nowhere: its own lines say nothing. */
	if (rd_kafka_conf_set(conf, "log_level", "0", why, sizeof(why)) !=
	    RD_KAFKA_CONF_OK)
		rb_panic("log_level: %s", why);
	b->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	if (b->rk == NULL) {
		rd_kafka_conf_destroy(conf);
		rb_error_set(err, EIO, "embedded broker: %s", why);
		goto fail;
	}
	b->mc = rd_kafka_mock_cluster_new(b->rk, (int)n_brokers);
	if (b->mc == NULL) {
		rb_error_set(err, EIO,
		    "embedded broker: the mock cluster did not start");
		goto fail;
	}
	b->address = xstrdup(rd_kafka_mock_cluster_bootstraps(b->mc));
	for (i = 0; i < sizeof(topic_keys) / sizeof(topic_keys[0]); i++) {
		const char *t = config_get(cfg, topic_keys[i]);
		rd_kafka_resp_err_t e;

		if (t[0] == '\0')
			continue;
		e = rd_kafka_mock_topic_create(b->mc, t, BROKER_PARTITIONS,
		    n_brokers < 3 ? (int)n_brokers : 3);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR &&
		    e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
			rb_error_set(err, EIO, "embedded broker: topic %s: %s",
			    t, rd_kafka_err2str(e));
			goto fail;
		}
	}
	*b_r = b;
	return 0;
fail:
	publish_broker_stop(&b);
	return -1;
}

const char *
publish_broker_address(const struct publish_broker *b)
{
	return b->address;
}

int
publish_broker_set_down(
    struct publish_broker *b, int down, struct rb_error *err)
{
	rd_kafka_resp_err_t e = down ? rd_kafka_mock_broker_set_down(b->mc, -1)
	                             : rd_kafka_mock_broker_set_up(b->mc, -1);

	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		return rb_error_set(
		    err, EIO, "embedded broker: %s", rd_kafka_err2str(e));
	return 0;
}

void
publish_broker_stop(struct publish_broker **bp)
{
	struct publish_broker *b = bp != NULL ? *bp : NULL;

	if (b == NULL)
		return;
	if (b->mc != NULL)
		rd_kafka_mock_cluster_destroy(b->mc);
	if (b->rk != NULL)
		rd_kafka_destroy(b->rk);
	plog_destroy(&b->kc.log);
	free(b->address);
	free(b);
	*bp = NULL;
}
