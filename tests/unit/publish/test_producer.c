/*
 * publish/producer.c against the embedded broker, in one process: an
 * outbox drained (the brokers' high watermarks hold as many messages as
 * rows were written, the outbox is empty); brokers down: a drain times
 * out, the rows stay, a stop keeps them for the next start, which
 * delivers them; deliveries that fail (message.timeout.ms set while the
 * brokers are down) are produced again; a fatal error of the
 * idempotent producer replaces it and loses nothing.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#include "../../../publish/producer.c"

static char dir[256], db[300];

static struct config *
make_config(const char *const *sets)
{
	struct config *cfg;
	struct rb_error err;

	if (config_load(NULL, &cfg, &err) < 0 ||
	    config_set(cfg, "store.db", db, &err) < 0 ||
	    config_set(cfg, "kafka.property.reconnect.backoff.max.ms", "200",
	        &err) < 0)
		exit(1);
	for (; sets != NULL && *sets != NULL; sets += 2) {
		if (config_set(cfg, sets[0], sets[1], &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			exit(1);
		}
	}
	return cfg;
}

/* n outbox rows: manual suppressions of n addresses (tag makes them
 * new ones). */
static void
add_rows(struct config *cfg, const char *tag, int n)
{
	struct store *st;
	struct rb_error err;
	int i;

	if (store_open(cfg, &st, &err) < 0)
		exit(1);
	for (i = 0; i < n; i++) {
		char addr[64];

		(void)snprintf(addr, sizeof(addr), "%s%d@example.org", tag, i);
		test_assert_idx(store_suppression_add(st, NULL, addr, "BOUNCE",
		                    1717243200, &err) == 0,
		    i);
	}
	store_close(&st);
}

static uint64_t
depth(struct config *cfg)
{
	struct store *st;
	struct store_outbox_stats s;
	struct rb_error err;

	if (store_open(cfg, &st, &err) < 0 ||
	    store_outbox_stats(st, &s, &err) < 0)
		exit(1);
	store_close(&st);
	return s.depth;
}

/* Messages on the suppression topic: the sum of its high watermarks. */
static int64_t
on_topic(const char *brokers)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char why[256];
	rd_kafka_t *rk;
	int64_t sum = 0;
	int p;

	(void)rd_kafka_conf_set(
	    conf, "bootstrap.servers", brokers, why, sizeof(why));
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	if (rk == NULL)
		return -1;
	for (p = 0; p < 3; p++) {
		int64_t lo = 0, hi = 0;

		if (rd_kafka_query_watermark_offsets(rk, "rebound.suppression",
		        p, &lo, &hi, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
			sum = -1;
			break;
		}
		sum += hi;
	}
	rd_kafka_destroy(rk);
	return sum;
}

static void
test_drain(void)
{
	struct config *cfg = make_config(NULL);
	struct publish_broker *b;
	struct publisher *p;
	struct publish_stats s;
	struct rb_error err;

	test_assert(publish_broker_start(cfg, 3, &b, &err) == 0);
	add_rows(cfg, "a", 500);
	test_assert(
	    publish_start(cfg, publish_broker_address(b), &p, &err) == 0);
	test_assert(publish_drain(p, 20000) == 0);
	publish_get_stats(p, &s);
	test_assert(s.delivered == 500 && s.removed == 500 && s.failed == 0);
	test_assert(depth(cfg) == 0);
	test_assert(on_topic(publish_broker_address(b)) == 500);

	/* Down: the rows wait; a stop keeps them. */
	test_assert(publish_broker_set_down(b, 1, &err) == 0);
	add_rows(cfg, "b", 100);
	publish_wake(p);
	test_assert(publish_drain(p, 700) < 0);
	test_assert(depth(cfg) == 100);
	publish_stop(&p, 300);
	test_assert(p == NULL);
	test_assert(depth(cfg) == 100);
	/* Back up, a new start delivers them. */
	test_assert(publish_broker_set_down(b, 0, &err) == 0);
	test_assert(
	    publish_start(cfg, publish_broker_address(b), &p, &err) == 0);
	test_assert(publish_drain(p, 20000) == 0);
	test_assert(depth(cfg) == 0);
	test_assert(on_topic(publish_broker_address(b)) >= 600);
	publish_stop(&p, 1000);
	publish_broker_stop(&b);
	config_free(&cfg);
}

static void
test_failed_and_fatal(void)
{
	const char *sets[] = {"kafka.property.message.timeout.ms", "500", NULL};
	struct config *cfg = make_config(sets);
	struct publish_broker *b;
	struct publisher *p;
	struct publish_stats s;
	struct rb_error err;
	int i;

	test_assert(publish_broker_start(cfg, 1, &b, &err) == 0);
	test_assert(
	    publish_start(cfg, publish_broker_address(b), &p, &err) == 0);
	test_assert(publish_broker_set_down(b, 1, &err) == 0);
	add_rows(cfg, "c", 50);
	publish_wake(p);
	/* The deliveries time out and are produced again. */
	for (i = 0; i < 100; i++) {
		publish_get_stats(p, &s);
		if (s.failed > 0)
			break;
		(void)usleep(50000);
	}
	test_assert(s.failed > 0);
	test_assert(publish_broker_set_down(b, 0, &err) == 0);
	test_assert(publish_drain(p, 20000) == 0);
	test_assert(depth(cfg) == 0);
	test_assert(on_topic(publish_broker_address(b)) >= 50);

	/* A fatal error: the producer is replaced, rows still go. */
	(void)rd_kafka_test_fatal_error(
	    p->rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "test");
	add_rows(cfg, "d", 20);
	for (i = 0; i < 100; i++) {
		publish_get_stats(p, &s);
		if (s.restarts > 0)
			break;
		(void)usleep(50000);
	}
	test_assert(s.restarts == 1);
	test_assert(publish_drain(p, 20000) == 0);
	test_assert(depth(cfg) == 0);
	test_assert(on_topic(publish_broker_address(b)) >= 70);
	publish_stop(&p, 1000);
	publish_broker_stop(&b);
	config_free(&cfg);
}

int
main(void)
{
	const char *t = getenv("TMPDIR");
	char cmd[300];

	(void)snprintf(dir, sizeof(dir), "%s/rebound-producer-XXXXXX",
	    t != NULL && t[0] != '\0' ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		return 1;
	(void)snprintf(db, sizeof(db), "%s/p.db", dir);
	test_drain();
	(void)snprintf(db, sizeof(db), "%s/q.db", dir);
	test_failed_and_fatal();
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return test_exit();
}
