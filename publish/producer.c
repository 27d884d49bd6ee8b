/*
 * producer: the publisher, which drains the outbox (store_outbox_read)
 * in id order to the topics through an idempotent producer (acks=all,
 * no message timeout: librdkafka keeps retrying, in order, while the
 * brokers are away) and removes rows once every row up to them is
 * acknowledged.
 *
 * One thread does everything: reads, produces, serves the delivery
 * reports (rd_kafka_poll), removes, sweeps expired suppressions.  A ring
 * of PUBLISH_MAX_INFLIGHT slots holds the delivery state of the rows in
 * flight, in produce order; the oldest unacknowledged slot is the
 * watermark below which rows are removed.  A failed delivery (a property
 * that sets message.timeout.ms, a fatal error of the idempotent producer
 * that replaces it) is produced again after PUBLISH_RETRY_MS, read anew
 * from the outbox.  A crash loses nothing: what was not removed is sent
 * again at the next start (at least once).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "publish_int.h"
#include "store/store.h"

/* Rows in flight at most (also librdkafka's queue): while the brokers
 * are down this many events (~2 KB each, ~32 MB) wait in memory, the
 * rest in the outbox; at loopback latency it keeps batches full. */
#define PUBLISH_MAX_INFLIGHT 16384
/* Outbox rows per read: one read transaction per this many. */
#define PUBLISH_READ_BATCH 2048
/* How often an idle publisher looks at the outbox (rows committed by
 * another process; publish_wake() is immediate). */
#define PUBLISH_IDLE_MS 100
/* Delivered rows are removed at most this often (a write transaction
 * each, which waits for the ingest's): small against a batch. */
#define PUBLISH_REMOVE_MS 200
/* How long a removal waits for the write lock before it is put off. */
#define PUBLISH_REMOVE_WAIT_MS 20
/* Wait before producing a failed row again. */
#define PUBLISH_RETRY_MS 1000
/* How often expired global suppressions are looked for. */
#define PUBLISH_SWEEP_MS 1000
/* rd_kafka_poll() wait while rows are in flight. */
#define PUBLISH_POLL_MS 10

enum slot_state { SLOT_INFLIGHT, SLOT_ACKED, SLOT_FAILED };

struct slot {
	int64_t id;
	enum slot_state state;
};

struct publisher {
	struct kctx kc; /* first: the opaque of the callbacks */
	struct store *st;
	rd_kafka_conf_t *conf; /* template, duplicated per producer */
	rd_kafka_t *rk;
	rd_kafka_topic_t *topics[STORE_N_TOPICS]; /* NULL: not published */
	char *topic_names[STORE_N_TOPICS];
	/* Publisher thread only. */
	struct slot *ring;
	uint64_t head, tail; /* produce sequence numbers */
	int64_t cursor;      /* last outbox id read */
	int64_t acked;       /* rows up to here delivered */
	int64_t removed_upto;
	uint64_t to_remove; /* acknowledged rows not yet removed */
	uint64_t n_failed;
	int64_t retry_at, removed_at, swept_at;
	int queue_full;
	struct publish_stats ls; /* the thread's copy of the counters */
	/* Shared, under mu. */
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv_wake, cv_drained;
	int stop, woken;
	uint64_t drain_req, drain_done;
	unsigned stop_ms;
	struct publish_stats stats;
};

static const char *const topic_keys[STORE_N_TOPICS] = {
    "kafka.events_topic",
    "kafka.suppression_topic",
    "kafka.alerts_topic",
};

static struct slot *
slot_of(struct publisher *p, uint64_t seq)
{
	return &p->ring[seq % PUBLISH_MAX_INFLIGHT];
}

/* Delivery report, served by rd_kafka_poll() on the publisher thread. */
static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct publisher *p = opaque;
	uint64_t seq = (uint64_t)(uintptr_t)m->_private;
	struct slot *s;

	(void)rk;
	s = slot_of(p, seq);
	if (seq < p->tail || seq >= p->head || s->state != SLOT_INFLIGHT) {
		/* A report of a producer already given up (its rows are
		 * marked failed and sent again): nothing to change. */
		log_debug("kafka producer: stale delivery report (%llu)",
		    (unsigned long long)seq);
		return;
	}
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		s->state = SLOT_ACKED;
		p->ls.delivered++;
		return;
	}
	s->state = SLOT_FAILED;
	p->n_failed++;
	if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
	    m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
		return; /* our own doing (drop_producer) */
	p->ls.failed++;
	if (p->retry_at == 0)
		p->retry_at = kconf_now_ms() + PUBLISH_RETRY_MS;
	plog_msg(&p->kc.log, LOG_WARN,
	    "kafka producer: outbox row %lld not delivered to %s: %s; "
	    "sending it again",
	    (long long)s->id, rd_kafka_topic_name(m->rkt),
	    rd_kafka_err2str(m->err));
}

static int
make_producer(struct publisher *p, struct rb_error *err)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_dup(p->conf);
	char why[512];
	int t;

	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	if (p->rk == NULL) {
		rd_kafka_conf_destroy(conf);
		return rb_error_set(err, EINVAL, "kafka producer: %s", why);
	}
	for (t = 0; t < STORE_N_TOPICS; t++) {
		if (p->topic_names[t] == NULL)
			continue;
		p->topics[t] =
		    rd_kafka_topic_new(p->rk, p->topic_names[t], NULL);
		if (p->topics[t] == NULL)
			return rb_error_set(err, EINVAL,
			    "kafka producer: topic %s: %s", p->topic_names[t],
			    rd_kafka_err2str(rd_kafka_last_error()));
	}
	return 0;
}

/* Drop the producer; what was in flight is marked failed (sent again). */
static void
drop_producer(struct publisher *p)
{
	uint64_t seq;
	int t;

	if (p->rk == NULL)
		return;
	(void)rd_kafka_purge(
	    p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	(void)rd_kafka_poll(p->rk, 0);
	for (t = 0; t < STORE_N_TOPICS; t++) {
		if (p->topics[t] != NULL)
			rd_kafka_topic_destroy(p->topics[t]);
		p->topics[t] = NULL;
	}
	rd_kafka_destroy(p->rk);
	p->rk = NULL;
	for (seq = p->tail; seq < p->head; seq++) {
		struct slot *s = slot_of(p, seq);

		if (s->state == SLOT_INFLIGHT) {
			s->state = SLOT_FAILED;
			p->n_failed++;
		}
	}
}

/* Hand row m to librdkafka as slot seq: 0, or 1 when its queue is full
 * (nothing done). */
static int
produce(struct publisher *p, const struct store_outbox_msg *m, uint64_t seq)
{
	struct slot *s = slot_of(p, seq);
	rd_kafka_resp_err_t e;

	e = rd_kafka_producev(p->rk, RD_KAFKA_V_RKT(p->topics[m->topic]),
	    RD_KAFKA_V_KEY(m->key, m->key_len),
	    RD_KAFKA_V_VALUE((void *)(uintptr_t)m->value, m->value_len),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_OPAQUE((void *)(uintptr_t)seq), RD_KAFKA_V_END);
	s->id = m->id;
	if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		return 1;
	p->ls.produced++;
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* Refused at once (too large, ...): try again later, so
		 * the order of removal stays and the log says why. */
		s->state = SLOT_FAILED;
		p->n_failed++;
		p->ls.failed++;
		if (p->retry_at == 0)
			p->retry_at = kconf_now_ms() + PUBLISH_RETRY_MS;
		plog_msg(&p->kc.log, LOG_WARN,
		    "kafka producer: outbox row %lld refused: %s",
		    (long long)m->id, rd_kafka_err2str(e));
		return 0;
	}
	s->state = SLOT_INFLIGHT;
	return 0;
}

/* store_outbox_read callback: the next row in order. */
static int
on_row(const struct store_outbox_msg *m, void *ctx)
{
	struct publisher *p = ctx;
	struct slot *s;

	if (p->head - p->tail >= PUBLISH_MAX_INFLIGHT)
		return -1;
	s = slot_of(p, p->head);
	if (m->gone || p->topics[m->topic] == NULL) {
		s->id = m->id;
		s->state = SLOT_ACKED;
		p->ls.skipped++;
	} else if (produce(p, m, p->head) != 0) {
		p->queue_full = 1;
		return -1;
	}
	p->head++;
	p->cursor = m->id;
	return 0;
}

struct retry_ctx {
	struct publisher *p;
	uint64_t seq;
	int full;
};

static int
on_retry(const struct store_outbox_msg *m, void *ctx)
{
	struct retry_ctx *rc = ctx;
	struct publisher *p = rc->p;
	struct slot *s = slot_of(p, rc->seq);

	if (m->id != s->id || m->gone || p->topics[m->topic] == NULL) {
		/* Removed meanwhile (retention): nothing to send. */
		s->state = SLOT_ACKED;
		p->ls.skipped++;
	} else if (produce(p, m, rc->seq) != 0) {
		rc->full = 1;
		return -1;
	}
	p->n_failed--;
	return 0;
}

static void
retry_failed(struct publisher *p, time_t now)
{
	uint64_t seq;

	for (seq = p->tail; seq < p->head && p->n_failed > 0; seq++) {
		struct slot *s = slot_of(p, seq);
		struct retry_ctx rc = {p, seq, 0};
		struct rb_error err;
		int n;

		if (s->state != SLOT_FAILED)
			continue;
		n = store_outbox_read(
		    p->st, s->id - 1, 1, now, on_retry, &rc, &err);
		if (n < 0) {
			plog_msg(&p->kc.log, LOG_WARN, "kafka producer: %s",
			    err.msg);
			break;
		}
		if (rc.full)
			break;
		if (n == 0) {
			/* No row at or after it any more. */
			s->state = SLOT_ACKED;
			p->n_failed--;
			p->ls.skipped++;
		}
	}
	p->retry_at = p->n_failed > 0 ? kconf_now_ms() + PUBLISH_RETRY_MS : 0;
}

/* Move the watermark over the acknowledged slots. */
static void
advance(struct publisher *p)
{
	while (p->tail < p->head && slot_of(p, p->tail)->state == SLOT_ACKED) {
		p->acked = slot_of(p, p->tail)->id;
		p->tail++;
		p->to_remove++;
	}
	p->ls.inflight = p->head - p->tail;
	p->ls.acked_id = p->acked;
}

static void
remove_delivered(struct publisher *p, int force)
{
	struct rb_error err;
	int64_t now = kconf_now_ms();

	if (p->acked <= p->removed_upto)
		return;
	if (!force && now - p->removed_at < PUBLISH_REMOVE_MS &&
	    p->tail != p->head)
		return;
	p->removed_at = now;
	/* The removal waits a little for the write lock, never the whole
	 * busy timeout: a busy ingest would stall the publishing, and the
	 * rows read are not read again whether removed or not. */
	switch (store_outbox_done(
	    p->st, p->acked, force ? 0 : PUBLISH_REMOVE_WAIT_MS, &err)) {
	case 0:
		break;
	case 1:
		p->ls.remove_busy++;
		return;
	default:
		plog_msg(&p->kc.log, LOG_WARN, "kafka producer: %s", err.msg);
		return;
	}
	p->removed_upto = p->acked;
	p->ls.removed += p->to_remove;
	p->to_remove = 0;
}

static void
sweep(struct publisher *p)
{
	struct rb_error err;
	uint64_t n = 0;

	if (kconf_now_ms() - p->swept_at < PUBLISH_SWEEP_MS)
		return;
	p->swept_at = kconf_now_ms();
	if (store_outbox_sweep(p->st, config_now(), &n, &err) < 0)
		plog_msg(&p->kc.log, LOG_WARN, "kafka producer: %s", err.msg);
	else if (n > 0)
		log_debug("kafka producer: %llu expired suppressions to "
		          "publish",
		    (unsigned long long)n);
}

static void
replace_producer(struct publisher *p)
{
	struct rb_error err;

	log_warn("kafka producer: replacing the producer after a fatal "
	         "error; rows in flight are sent again");
	drop_producer(p);
	p->kc.fatal = 0;
	p->ls.restarts++;
	if (make_producer(p, &err) < 0)
		rb_panic("%s", err.msg); /* the same conf worked before */
	p->retry_at = kconf_now_ms();
}

static void
publish_counters(struct publisher *p)
{
	(void)pthread_mutex_lock(&p->mu);
	p->stats = p->ls;
	(void)pthread_mutex_unlock(&p->mu);
}

static void *
run(void *arg)
{
	struct publisher *p = arg;
	int64_t deadline;

	for (;;) {
		uint64_t req;
		int n = 0, stop;
		struct rb_error err;

		(void)pthread_mutex_lock(&p->mu);
		stop = p->stop;
		req = p->drain_req;
		p->woken = 0;
		(void)pthread_mutex_unlock(&p->mu);
		if (stop)
			break;
		if (p->kc.fatal)
			replace_producer(p);
		sweep(p);
		if (p->n_failed > 0 && kconf_now_ms() >= p->retry_at)
			retry_failed(p, config_now());
		p->queue_full = 0;
		if (p->head - p->tail < PUBLISH_MAX_INFLIGHT) {
			n = store_outbox_read(p->st, p->cursor,
			    PUBLISH_READ_BATCH, config_now(), on_row, p, &err);
			if (n < 0)
				plog_msg(&p->kc.log, LOG_WARN,
				    "kafka producer: %s", err.msg);
		}
		(void)rd_kafka_poll(p->rk, n > 0 && !p->queue_full ? 0
		                           : p->head != p->tail
		                               ? PUBLISH_POLL_MS
		                               : 0);
		advance(p);
		remove_delivered(p, 0);
		publish_counters(p);
		if (n == 0 && p->head == p->tail &&
		    p->removed_upto == p->acked) {
			struct timespec ts;
			int64_t ns;

			/* Idle: everything read is delivered and removed. */
			(void)clock_gettime(CLOCK_REALTIME, &ts);
			ns = ts.tv_nsec + (int64_t)PUBLISH_IDLE_MS * 1000000;
			ts.tv_sec += (time_t)(ns / 1000000000);
			ts.tv_nsec = (long)(ns % 1000000000);
			(void)pthread_mutex_lock(&p->mu);
			if (req > p->drain_done) {
				p->drain_done = req;
				(void)pthread_cond_broadcast(&p->cv_drained);
			}
			if (!p->stop && !p->woken && p->drain_req == req)
				(void)pthread_cond_timedwait(
				    &p->cv_wake, &p->mu, &ts);
			(void)pthread_mutex_unlock(&p->mu);
		}
	}
	/* Stopping: what is in flight may still be acknowledged. */
	deadline = kconf_now_ms() + p->stop_ms;
	while (p->head != p->tail && kconf_now_ms() < deadline) {
		(void)rd_kafka_poll(p->rk, PUBLISH_POLL_MS);
		advance(p);
		if (p->n_failed > 0 && p->head - p->tail == p->n_failed)
			break; /* only failed ones left: no retry now */
	}
	advance(p);
	remove_delivered(p, 1);
	publish_counters(p);
	return NULL;
}

int
publish_start(const struct config *cfg, const char *brokers,
    struct publisher **p_r, struct rb_error *err)
{
	char inflight[24];
	const char *defaults[] = {
	    "client.id",
	    "rebound",
	    "enable.idempotence",
	    "true",
	    "acks",
	    "all",
	    /* Keys spread as the Java clients spread them, so other
	     * producers of an identity's events agree on partitions. */
	    "partitioner",
	    "murmur2_random",
	    /* Never give up on a row: order is kept and the outbox holds
	     * the rest. */
	    "message.timeout.ms",
	    "0",
	    "queue.buffering.max.messages",
	    inflight,
	    "linger.ms",
	    "5",
	    NULL,
	};
	struct publisher *p;
	const char *b;
	int t;

	(void)snprintf(inflight, sizeof(inflight), "%d", PUBLISH_MAX_INFLIGHT);
	if ((b = kconf_brokers(cfg, brokers, err)) == NULL)
		return -1;
	p = xcalloc(1, sizeof(*p));
	p->kc.who = "kafka producer";
	plog_init(&p->kc.log);
	(void)pthread_mutex_init(&p->mu, NULL);
	(void)pthread_cond_init(&p->cv_wake, NULL);
	(void)pthread_cond_init(&p->cv_drained, NULL);
	p->ring = xcalloc(PUBLISH_MAX_INFLIGHT, sizeof(*p->ring));
	for (t = 0; t < STORE_N_TOPICS; t++) {
		const char *name = config_get(cfg, topic_keys[t]);

		if (name[0] != '\0')
			p->topic_names[t] = xstrdup(name);
	}
	p->conf = kconf_new(cfg, b, defaults, &p->kc, err);
	if (p->conf == NULL)
		goto fail;
	rd_kafka_conf_set_dr_msg_cb(p->conf, on_delivery);
	if (store_open(cfg, &p->st, err) < 0 || make_producer(p, err) < 0)
		goto fail;
	if (pthread_create(&p->thread, NULL, run, p) != 0) {
		rb_error_set(err, errno, "kafka producer: no thread");
		goto fail;
	}
	p->started = 1;
	*p_r = p;
	return 0;
fail:
	publish_stop(&p, 0);
	return -1;
}

void
publish_wake(struct publisher *p)
{
	(void)pthread_mutex_lock(&p->mu);
	p->woken = 1;
	(void)pthread_cond_signal(&p->cv_wake);
	(void)pthread_mutex_unlock(&p->mu);
}

void
publish_get_stats(struct publisher *p, struct publish_stats *s_r)
{
	(void)pthread_mutex_lock(&p->mu);
	*s_r = p->stats;
	(void)pthread_mutex_unlock(&p->mu);
}

int
publish_drain(struct publisher *p, unsigned timeout_ms)
{
	struct timespec ts;
	uint64_t req;
	int64_t ns;
	int rc = 0;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	ns = ts.tv_nsec + (int64_t)(timeout_ms % 1000) * 1000000;
	ts.tv_sec += (time_t)(timeout_ms / 1000 + ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	(void)pthread_mutex_lock(&p->mu);
	req = ++p->drain_req;
	p->woken = 1;
	(void)pthread_cond_signal(&p->cv_wake);
	while (p->drain_done < req && rc == 0)
		rc = pthread_cond_timedwait(&p->cv_drained, &p->mu, &ts);
	rc = p->drain_done >= req ? 0 : -1;
	(void)pthread_mutex_unlock(&p->mu);
	return rc;
}

void
publish_stop(struct publisher **pp, unsigned timeout_ms)
{
	struct publisher *p = pp != NULL ? *pp : NULL;
	int t;

	if (p == NULL)
		return;
	if (p->started) {
		(void)pthread_mutex_lock(&p->mu);
		p->stop = 1;
		p->stop_ms = timeout_ms;
		(void)pthread_cond_signal(&p->cv_wake);
		(void)pthread_mutex_unlock(&p->mu);
		(void)pthread_join(p->thread, NULL);
	}
	drop_producer(p);
	if (p->conf != NULL)
		rd_kafka_conf_destroy(p->conf);
	store_close(&p->st);
	for (t = 0; t < STORE_N_TOPICS; t++)
		free(p->topic_names[t]);
	free(p->ring);
	(void)pthread_cond_destroy(&p->cv_wake);
	(void)pthread_cond_destroy(&p->cv_drained);
	(void)pthread_mutex_destroy(&p->mu);
	plog_destroy(&p->kc.log);
	free(p);
	*pp = NULL;
}
