/*
 * publish: rebound and Kafka (librdkafka).  Three parts, each with its
 * own thread and, for the first two, its own store handle, so they run
 * beside an ingest or a daemon's pipeline on the same database:
 *
 *   publisher   drains the store's outbox in order to the topics with an
 *               idempotent producer (acks=all) and removes the rows the
 *               brokers acknowledged; while the brokers are down the
 *               outbox grows, and it drains when they are back.
 *   consumer    counts the SES Send events of kafka.sends_topic (group
 *               kafka.group) as sends; offsets live in the database in
 *               the transaction that counts, and are committed to Kafka
 *               after it.
 *   broker      the embedded broker for trying rebound out: librdkafka's
 *               mock cluster on 127.0.0.1 (random ports), in memory.
 *
 * Settings come from the [kafka] keys of the config; every
 * "property.NAME" is given to librdkafka as it is (SASL, TLS,
 * compression, timeouts).  Delivery is at least once: a row whose
 * acknowledgement was lost is sent again; consumers drop duplicates by
 * rebound.eventId.  Run one publisher per database.
 */
#ifndef REBOUND_PUBLISH_H
#define REBOUND_PUBLISH_H

#include <stdint.h>

#include "core/core.h"

/* ---- embedded broker ------------------------------------------------- */

struct publish_broker;

/*
 * Start an embedded broker of n_brokers brokers (1 to
 * PUBLISH_MAX_BROKERS) and create the topics named by cfg
 * (kafka.*_topic).  Returns 0 or -1.  Stop with publish_broker_stop().
 */
#define PUBLISH_MAX_BROKERS 9
int publish_broker_start(const struct config *cfg, unsigned n_brokers,
    struct publish_broker **b_r, struct rb_error *err) RB_WUR;
/* "127.0.0.1:PORT,..."; borrowed until publish_broker_stop. */
const char *publish_broker_address(const struct publish_broker *b);
/* Take every broker down (down != 0: connections cut and refused) or
 * bring them back: outages on demand, for tests. */
int publish_broker_set_down(
    struct publish_broker *b, int down, struct rb_error *err) RB_WUR;
/* Stop and free *b (accepts NULL); everything it held is gone. */
void publish_broker_stop(struct publish_broker **b);

/* ---- publisher -------------------------------------------------------- */

struct publisher;

struct publish_stats {
	uint64_t produced;    /* messages handed to librdkafka (retries too) */
	uint64_t delivered;   /* acknowledged by the brokers */
	uint64_t failed;      /* delivery failures (each is retried) */
	uint64_t skipped;     /* rows with nothing to send (event pruned,
	                         topic disabled) */
	uint64_t inflight;    /* produced, not yet acknowledged */
	uint64_t removed;     /* outbox rows removed after delivery */
	uint64_t remove_busy; /* removals put off: the write lock was busy */
	int64_t acked_id;     /* every outbox row up to this id is delivered */
	uint64_t restarts;    /* producers replaced after a fatal error */
};

/*
 * Open the database of cfg, set up the producer for brokers (NULL:
 * kafka.brokers of cfg) and start the thread.  Returns 0, or -1 (no
 * brokers, a property librdkafka refuses, the database).  cfg may be
 * freed afterwards.
 */
int publish_start(const struct config *cfg, const char *brokers,
    struct publisher **p_r, struct rb_error *err) RB_WUR;
/* New outbox rows were committed: look now (otherwise the publisher
 * looks every PUBLISH_IDLE_MS).  Any thread. */
void publish_wake(struct publisher *p);
/* Counters so far; any thread. */
void publish_get_stats(struct publisher *p, struct publish_stats *s_r);
/*
 * Wait until every outbox row committed before this call is delivered
 * and removed, at most timeout_ms.  Returns 0 when drained, -1 when the
 * time ran out (brokers down).  Any thread but the publisher's.
 */
int publish_drain(struct publisher *p, unsigned timeout_ms) RB_WUR;
/*
 * Stop: wait at most timeout_ms for what is in flight, remove what was
 * acknowledged, free *p (accepts NULL).  Rows not delivered stay in the
 * outbox for the next start.
 */
void publish_stop(struct publisher **p, unsigned timeout_ms);

/* ---- sends consumer ------------------------------------------------- */

struct publish_consumer;

struct publish_consumer_stats {
	uint64_t records;   /* records read */
	uint64_t sends;     /* sends counted */
	uint64_t replayed;  /* counted before (offset below the stored one) */
	uint64_t skipped;   /* other event types */
	uint64_t malformed; /* skipped as malformed */
	uint64_t batches;   /* transactions committed */
	uint64_t assigned;  /* partitions assigned now */
};

/*
 * Open the database of cfg and consume kafka.sends_topic from brokers
 * (NULL: kafka.brokers of cfg) in the group kafka.group.  Returns 0 (with
 * *c_r NULL when kafka.sends_topic is empty: nothing to consume) or -1.
 */
int publish_consumer_start(const struct config *cfg, const char *brokers,
    struct publish_consumer **c_r, struct rb_error *err) RB_WUR;
void publish_consumer_get_stats(
    struct publish_consumer *c, struct publish_consumer_stats *s_r);
/* Leave the group, stop and free *c (accepts NULL). */
void publish_consumer_stop(struct publish_consumer **c);

#endif
