/*
 * bench_kafka: the publisher's side of bench/run-kafka.sh.
 *
 *   bench_kafka drain --db DB [--repeat K] [--config FILE]
 *       Refill the outbox of DB with every stored event, K times over
 *       (default 3; the events of a bench_ingest or rebound ingest run),
 *       start the embedded broker and the publisher, and time how long
 *       the publisher takes from its start until the outbox is empty
 *       and removed.  Prints drain_rows=, drain_seconds= and
 *       drain_events_per_s=.
 *   bench_kafka publish --db DB [--config FILE]
 *       The embedded broker and a publisher on DB, as rebound serve runs
 *       them beside its pipeline; prints "ready ADDRESS", then for each
 *       stdin line "drain" waits until the outbox is delivered and
 *       prints "drained delivered=N"; stops at EOF.
 *
 * The embedded broker runs in this process (librdkafka's mock cluster,
 * in memory): the figure is the cost of rebound's side plus an
 * in-process broker, not of a real cluster's network and disks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "core/core.h"
#include "publish/publish.h"
#include "store/store.h"

/* Refills at most: 100 copies of a big ingest is plenty of rows. */
#define BENCH_MAX_REPEAT 100
/* How long a drain may take before the bench gives up. */
#define BENCH_DRAIN_MS (30u * 60 * 1000)

static double
now_seconds(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: bench_kafka drain --db DB [--repeat K] "
	            "[--config FILE]\n"
	            "       bench_kafka publish --db DB [--config FILE]\n");
}

/* The outbox of db filled with each event, repeat times; rows or -1. */
static long long
refill(const char *db, uint64_t repeat)
{
	sqlite3 *h;
	sqlite3_stmt *s;
	long long rows = -1;
	uint64_t i;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_exec(h, "BEGIN IMMEDIATE; DELETE FROM outbox", NULL, NULL,
	        NULL) != SQLITE_OK)
		goto out;
	for (i = 0; i < repeat; i++) {
		if (sqlite3_exec(h,
		        "INSERT INTO outbox(topic, key, ref, created)"
		        " SELECT 0, NULL, id, time FROM events ORDER BY id",
		        NULL, NULL, NULL) != SQLITE_OK)
			goto out;
	}
	if (sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(
	        h, "SELECT count(*) FROM outbox", -1, &s, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(s) == SQLITE_ROW)
		rows = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
out:
	if (rows < 0)
		fprintf(stderr, "bench_kafka: %s: %s\n", db, sqlite3_errmsg(h));
	sqlite3_close(h);
	return rows;
}

static int
run_drain(struct config *cfg, uint64_t repeat)
{
	struct publish_broker *b = NULL;
	struct publisher *p = NULL;
	struct publish_stats s;
	struct rb_error err;
	long long rows = refill(config_get(cfg, "store.db"), repeat);
	double t0, el;

	if (rows <= 0) {
		fprintf(stderr, "bench_kafka: no events to publish\n");
		return 1;
	}
	if (publish_broker_start(cfg, 1, &b, &err) < 0) {
		fprintf(stderr, "bench_kafka: %s\n", err.msg);
		return 1;
	}
	t0 = now_seconds();
	if (publish_start(cfg, publish_broker_address(b), &p, &err) < 0) {
		fprintf(stderr, "bench_kafka: %s\n", err.msg);
		publish_broker_stop(&b);
		return 1;
	}
	if (publish_drain(p, BENCH_DRAIN_MS) < 0) {
		fprintf(stderr, "bench_kafka: not drained\n");
		publish_stop(&p, 0);
		publish_broker_stop(&b);
		return 1;
	}
	el = now_seconds() - t0;
	publish_get_stats(p, &s);
	publish_stop(&p, 1000);
	publish_broker_stop(&b);
	printf("drain: %lld outbox rows (events) delivered and removed in "
	       "%.2f s: %.0f events/s (%llu delivered, %llu failed)\n",
	    rows, el, (double)rows / el, (unsigned long long)s.delivered,
	    (unsigned long long)s.failed);
	printf("drain_rows=%lld\ndrain_seconds=%.3f\ndrain_events_per_s=%.0f\n",
	    rows, el, (double)rows / el);
	return s.delivered >= (uint64_t)rows ? 0 : 1;
}

static int
run_publish(struct config *cfg)
{
	struct publish_broker *b = NULL;
	struct publisher *p = NULL;
	struct publish_stats s;
	struct rb_error err;
	char line[64];
	int rc = 0;

	if (publish_broker_start(cfg, 1, &b, &err) < 0 ||
	    publish_start(cfg, publish_broker_address(b), &p, &err) < 0) {
		fprintf(stderr, "bench_kafka: %s\n", err.msg);
		publish_broker_stop(&b);
		return 1;
	}
	printf("ready %s\n", publish_broker_address(b));
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (strncmp(line, "drain", 5) != 0)
			continue;
		if (publish_drain(p, BENCH_DRAIN_MS) < 0)
			rc = 1;
		publish_get_stats(p, &s);
		printf("drained delivered=%llu failed=%llu%s\n",
		    (unsigned long long)s.delivered,
		    (unsigned long long)s.failed, rc ? " (timed out)" : "");
		fflush(stdout);
	}
	publish_stop(&p, 1000);
	publish_broker_stop(&b);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *db = NULL, *config_path = NULL, *mode;
	uint64_t repeat = 3;
	struct config *cfg;
	struct rb_error err;
	int a, rc;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	mode = argv[1];
	for (a = 2; a < argc; a++) {
		if (strcmp(argv[a], "--db") == 0 && a + 1 < argc) {
			db = argv[++a];
		} else if (strcmp(argv[a], "--config") == 0 && a + 1 < argc) {
			config_path = argv[++a];
		} else if (strcmp(argv[a], "--repeat") == 0 && a + 1 < argc) {
			if (parse_u64(argv[++a], &repeat) < 0 || repeat == 0 ||
			    repeat > BENCH_MAX_REPEAT) {
				fprintf(stderr,
				    "bench_kafka: --repeat: 1..%d\n",
				    BENCH_MAX_REPEAT);
				return 2;
			}
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (db == NULL ||
	    (strcmp(mode, "drain") != 0 && strcmp(mode, "publish") != 0)) {
		usage(stderr);
		return 2;
	}
	if (config_load(config_path, &cfg, &err) < 0 ||
	    config_set(cfg, "store.db", db, &err) < 0) {
		fprintf(stderr, "bench_kafka: %s\n", err.msg);
		return 1;
	}
	rc = strcmp(mode, "drain") == 0 ? run_drain(cfg, repeat)
	                                : run_publish(cfg);
	config_free(&cfg);
	return rc;
}
