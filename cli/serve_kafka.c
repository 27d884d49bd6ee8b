/*
 * serve_kafka: Kafka as a component of `rebound serve`: the publisher
 * that drains the outbox (woken by each committed batch), the consumer
 * of the sends topic, and, when kafka.brokers is empty, the embedded
 * broker, whose address is logged as "kafka: embedded broker at
 * ADDRESS" (for kcat -C -b ADDRESS -t rebound.events).  The embedded
 * broker is for trying rebound out: it keeps nothing across restarts
 * (the outbox keeps what was not delivered).  kafka.enabled = false: off.
 * At stop the outbox is drained within the stop timeout; what is left
 * is sent at the next start.
 */
#include <stdlib.h>

#include "cli/serve.h"
#include "publish/publish.h"

/* Brokers of the embedded cluster: one is all a try-out needs. */
#define SERVE_KAFKA_BROKERS 1

struct serve_kafka {
	struct publish_broker *broker; /* NULL: kafka.brokers given */
	struct publisher *pub;
	struct publish_consumer *sends;
};

static void
kafka_stop(void *state, unsigned timeout)
{
	struct serve_kafka *k = state;
	struct publish_stats s;

	if (k == NULL)
		return;
	if (k->pub != NULL) {
		if (publish_drain(k->pub, timeout * 1000) < 0)
			log_warn("kafka: the outbox was not drained within "
			         "%us; the rest is sent at the next start",
			    timeout);
		publish_get_stats(k->pub, &s);
		publish_stop(&k->pub, 1000);
		log_info("kafka: stopped; %llu messages delivered, %llu "
		         "failed and sent again",
		    (unsigned long long)s.delivered,
		    (unsigned long long)s.failed);
	}
	publish_consumer_stop(&k->sends);
	publish_broker_stop(&k->broker);
	free(k);
}

static int
kafka_start(struct serve *sv, void **state_r, struct rb_error *err)
{
	const struct config *cfg = serve_config(sv);
	const char *brokers = config_get(cfg, "kafka.brokers");
	struct serve_kafka *k;
	int enabled;

	if (config_get_bool(cfg, "kafka.enabled", &enabled, err) < 0)
		return -1;
	if (!enabled)
		return 0;
	k = xcalloc(1, sizeof(*k));
	*state_r = k;
	if (brokers[0] == '\0') {
		if (publish_broker_start(
		        cfg, SERVE_KAFKA_BROKERS, &k->broker, err) < 0)
			return -1;
		brokers = publish_broker_address(k->broker);
		log_info("kafka: embedded broker at %s", brokers);
		log_info("kafka: the embedded broker is for trying rebound "
		         "out and keeps nothing across restarts; set "
		         "kafka.brokers for a real cluster");
	}
	if (publish_start(cfg, brokers, &k->pub, err) < 0)
		return -1;
	if (publish_consumer_start(cfg, brokers, &k->sends, err) < 0)
		return -1;
	log_info("kafka: publishing to %s (topics %s, %s, %s)%s%s", brokers,
	    config_get(cfg, "kafka.events_topic"),
	    config_get(cfg, "kafka.suppression_topic"),
	    config_get(cfg, "kafka.alerts_topic"),
	    k->sends != NULL ? "; counting the sends of " : "",
	    k->sends != NULL ? config_get(cfg, "kafka.sends_topic") : "");
	return 0;
}

static void
kafka_committed(void *state, const struct serve_commit *c)
{
	struct serve_kafka *k = state;

	(void)c;
	if (k->pub != NULL)
		publish_wake(k->pub);
}

/* GET /metrics: the producer's and the sends consumer's counters (the
 * outbox depth comes from the database, in http/metrics.c). */
static void
kafka_metrics(void *state, struct http_metrics *m)
{
	struct serve_kafka *k = state;
	struct publish_stats ps;
	struct publish_consumer_stats cs;

	if (k->pub != NULL) {
		publish_get_stats(k->pub, &ps);
		http_metrics_add(m, "rebound_kafka_delivered_total", "counter",
		    "messages acknowledged by the Kafka brokers since start",
		    NULL, (double)ps.delivered);
		http_metrics_add(m, "rebound_kafka_failed_total", "counter",
		    "Kafka deliveries that failed since start (each is sent "
		    "again)",
		    NULL, (double)ps.failed);
		http_metrics_add(m, "rebound_kafka_inflight", "gauge",
		    "messages produced, not yet acknowledged", NULL,
		    (double)ps.inflight);
	}
	if (k->sends != NULL) {
		publish_consumer_get_stats(k->sends, &cs);
		http_metrics_add(m, "rebound_kafka_sends_counted_total",
		    "counter", "sends counted from the sends topic since start",
		    NULL, (double)cs.sends);
		http_metrics_add(m, "rebound_kafka_partitions_assigned",
		    "gauge", "partitions of the sends topic assigned now", NULL,
		    (double)cs.assigned);
	}
}

const struct serve_component serve_kafka_component = {
    "kafka",
    NULL,
    kafka_start,
    NULL,
    kafka_committed,
    kafka_stop,
    NULL,
    kafka_metrics,
};
