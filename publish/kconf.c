/*
 * kconf: librdkafka configurations built from rebound's config (the
 * defaults of rebound, then every kafka.property.NAME as it is), the log
 * and error callbacks every handle shares, and the rate limit of their
 * lines: while the brokers are down librdkafka reports each refused
 * connection, so at most one line per PUBLISH_LOG_INTERVAL goes out.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "publish_int.h"

/* Longest log line of ours (librdkafka's lines are shorter). */
#define KCONF_MAX_LINE 1024

void
plog_init(struct plog *l)
{
	memset(l, 0, sizeof(*l));
	(void)pthread_mutex_init(&l->mu, NULL);
}

void
plog_destroy(struct plog *l)
{
	(void)pthread_mutex_destroy(&l->mu);
}

void
plog_msg(struct plog *l, enum log_level level, const char *fmt, ...)
{
	char line[KCONF_MAX_LINE];
	time_t now = time(NULL);
	uint64_t left_out;
	va_list ap;

	(void)pthread_mutex_lock(&l->mu);
	if (l->last != 0 && now - l->last < PUBLISH_LOG_INTERVAL) {
		l->suppressed++;
		(void)pthread_mutex_unlock(&l->mu);
		return;
	}
	l->last = now;
	left_out = l->suppressed;
	l->suppressed = 0;
	(void)pthread_mutex_unlock(&l->mu);
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (left_out > 0)
		log_msg(level, "%s (and %llu similar lines in the last %ds)",
		    line, (unsigned long long)left_out, PUBLISH_LOG_INTERVAL);
	else
		log_msg(level, "%s", line);
}

int64_t
kconf_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* librdkafka's own lines: errors and warnings (syslog levels 0 to 4)
 * rate-limited, the rest at debug. */
static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	struct kctx *kc = rd_kafka_opaque(rk);

	if (kc == NULL)
		return;
	/* kafka.property.* goes to the producer and the consumer alike:
	 * that one of them ignores a property of the other is no news. */
	if (strcmp(fac, "CONFWARN") == 0 &&
	    strstr(buf, "will be ignored by this") != NULL) {
		log_debug("%s: %s", kc->who, buf);
		return;
	}
	if (level <= 4)
		plog_msg(&kc->log, LOG_WARN, "%s: %s: %s", kc->who, fac, buf);
	else
		log_debug("%s: %s: %s", kc->who, fac, buf);
}

static void
on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
	struct kctx *kc = opaque;

	if (code == RD_KAFKA_RESP_ERR__FATAL) {
		char why[512];

		kc->fatal = 1;
		(void)rd_kafka_fatal_error(rk, why, sizeof(why));
		log_error("%s: fatal error: %s", kc->who, why);
		return;
	}
	plog_msg(&kc->log, LOG_WARN, "%s: %s", kc->who, reason);
}

struct prop_ctx {
	rd_kafka_conf_t *conf;
	struct rb_error *err;
	int failed;
};

static void
on_property(const char *key, const char *value, void *ctx)
{
	struct prop_ctx *pc = ctx;
	char why[512];

	if (pc->failed)
		return;
	if (rd_kafka_conf_set(pc->conf, key, value, why, sizeof(why)) !=
	    RD_KAFKA_CONF_OK) {
		rb_error_set(
		    pc->err, EINVAL, "kafka.property.%s: %s", key, why);
		pc->failed = 1;
	}
}

const char *
kconf_brokers(
    const struct config *cfg, const char *brokers, struct rb_error *err)
{
	if (brokers == NULL || brokers[0] == '\0')
		brokers = config_get(cfg, "kafka.brokers");
	if (brokers[0] == '\0') {
		rb_error_set(err, EINVAL,
		    "kafka.brokers: no brokers given (rebound serve starts an "
		    "embedded broker when there are none)");
		return NULL;
	}
	return brokers;
}

rd_kafka_conf_t *
kconf_new(const struct config *cfg, const char *brokers,
    const char *const *defaults, struct kctx *kc, struct rb_error *err)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	struct prop_ctx pc = {conf, err, 0};
	char why[512];
	size_t i;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, why,
	        sizeof(why)) != RD_KAFKA_CONF_OK) {
		rb_error_set(err, EINVAL, "kafka.brokers: %s", why);
		goto fail;
	}
	for (i = 0; defaults != NULL && defaults[i] != NULL; i += 2) {
		if (rd_kafka_conf_set(conf, defaults[i], defaults[i + 1], why,
		        sizeof(why)) != RD_KAFKA_CONF_OK)
			rb_panic("librdkafka refuses %s=%s: %s", defaults[i],
			    defaults[i + 1], why);
	}
	config_section_foreach(cfg, "kafka.property", on_property, &pc);
	if (pc.failed)
		goto fail;
	rd_kafka_conf_set_log_cb(conf, on_log);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_opaque(conf, kc);
	return conf;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}
