/*
 * publish internals shared by the files of publish/ (nothing outside
 * includes it): rate-limited logging for the callbacks of librdkafka,
 * which may fire thousands of times a second while a broker is down, and
 * the building of a librdkafka configuration from rebound's.
 */
#ifndef REBOUND_PUBLISH_INT_H
#define REBOUND_PUBLISH_INT_H

#include <pthread.h>

#include <librdkafka/rdkafka.h>

#include "publish/publish.h"

/* A repeated log line is written at most once per this many seconds; the
 * next one says how many were left out. */
#define PUBLISH_LOG_INTERVAL 10

struct plog {
	pthread_mutex_t mu;
	time_t last;
	uint64_t suppressed;
};

void plog_init(struct plog *l);
void plog_destroy(struct plog *l);
/* Log at level unless a line went out less than PUBLISH_LOG_INTERVAL
 * ago (then only counted).  Any thread. */
void plog_msg(struct plog *l, enum log_level level, const char *fmt, ...)
    RB_PRINTF(3, 4);

/*
 * What every librdkafka handle of rebound shares as its opaque: the
 * first member of the publisher and of the consumer, so the callbacks
 * find their object.
 */
struct kctx {
	const char *who; /* "kafka producer", "kafka consumer" */
	struct plog log;
	volatile int fatal; /* a fatal error was reported */
};

/*
 * A librdkafka configuration: bootstrap.servers, then the pairs of
 * defaults (name, value, ..., NULL), then every kafka.property.* of cfg
 * (so a property overrides a default), with the log and error callbacks
 * of kc and kc as opaque.  NULL with err naming the property librdkafka
 * refused.  Caller gives it to rd_kafka_new() or destroys it.
 */
rd_kafka_conf_t *kconf_new(const struct config *cfg, const char *brokers,
    const char *const *defaults, struct kctx *kc, struct rb_error *err);
/* The brokers to use: brokers, else kafka.brokers of cfg; NULL with err
 * set when both are empty. */
const char *kconf_brokers(
    const struct config *cfg, const char *brokers, struct rb_error *err);
/* Milliseconds of CLOCK_MONOTONIC. */
int64_t kconf_now_ms(void);

#endif
