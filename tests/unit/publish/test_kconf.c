/*
 * publish/kconf.c and the kafka.property.* pass-through of core/config.c:
 * properties from the file ([kafka] property.NAME), the environment
 * (REBOUND_KAFKA_PROPERTY_NAME, '_' for '.') and flags, in that order
 * of precedence, reach librdkafka as they are and override rebound's
 * defaults; a property librdkafka refuses is an error naming it; a
 * [kafka] key that is neither known nor a property is refused.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "publish/publish_int.h"
#include "test.h"

static char dir[256];

static const char *
write_conf(const char *name, const char *text)
{
	static char path[512];
	FILE *fp;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0)
		exit(1);
	return path;
}

static int
conf_is(rd_kafka_conf_t *c, const char *name, const char *want)
{
	char v[256];
	size_t n = sizeof(v);

	if (rd_kafka_conf_get(c, name, v, &n) != RD_KAFKA_CONF_OK)
		return 0;
	if (strcmp(v, want) != 0)
		fprintf(stderr, "%s = %s, not %s\n", name, v, want);
	return strcmp(v, want) == 0;
}

static void
test_pass_through(void)
{
	static const char *const defaults[] = {
	    "linger.ms", "5", "client.id", "rebound", NULL};
	struct config *cfg;
	struct rb_error err;
	struct kctx kc = {"test", {0}, 0};
	rd_kafka_conf_t *c;
	const char *path;

	plog_init(&kc.log);
	path = write_conf("a.conf", "[kafka]\n"
	                            "brokers = 127.0.0.1:1\n"
	                            "property.compression.type = lz4\n"
	                            "property.linger.ms = 20\n"
	                            "property.socket.timeout.ms = 1234\n");
	setenv("REBOUND_KAFKA_PROPERTY_SOCKET_TIMEOUT_MS", "4321", 1);
	test_assert(config_load(path, &cfg, &err) == 0);
	unsetenv("REBOUND_KAFKA_PROPERTY_SOCKET_TIMEOUT_MS");
	test_assert(
	    config_set(cfg, "kafka.property.client.id", "mine", &err) == 0);
	test_assert(config_set(cfg, "kafka.property.", "x", &err) < 0);
	test_assert_streq(kconf_brokers(cfg, NULL, &err), "127.0.0.1:1");
	test_assert_streq(kconf_brokers(cfg, "b:2", &err), "b:2");
	c = kconf_new(cfg, "127.0.0.1:1", defaults, &kc, &err);
	test_assert(c != NULL);
	if (c != NULL) {
		test_assert(conf_is(c, "bootstrap.servers", "127.0.0.1:1"));
		test_assert(conf_is(c, "compression.type", "lz4"));
		/* A property beats a default of rebound. */
		test_assert(conf_is(c, "linger.ms", "20"));
		/* Flag over environment over file. */
		test_assert(conf_is(c, "client.id", "mine"));
		test_assert(conf_is(c, "socket.timeout.ms", "4321"));
		rd_kafka_conf_destroy(c);
	}
	config_free(&cfg);

	/* librdkafka refuses: the error names the property. */
	path = write_conf("b.conf", "[kafka]\nproperty.no.such.thing = 1\n");
	test_assert(config_load(path, &cfg, &err) == 0);
	c = kconf_new(cfg, "127.0.0.1:1", NULL, &kc, &err);
	test_assert(c == NULL);
	test_assert(strstr(err.msg, "kafka.property.no.such.thing") != NULL);
	config_free(&cfg);
	path = write_conf("c.conf", "[kafka]\nproperty.linger.ms = many\n");
	test_assert(config_load(path, &cfg, &err) == 0);
	test_assert(kconf_new(cfg, "127.0.0.1:1", NULL, &kc, &err) == NULL);
	test_assert(strstr(err.msg, "linger.ms") != NULL);
	config_free(&cfg);

	/* No brokers anywhere: said so. */
	test_assert(config_load(NULL, &cfg, &err) == 0);
	test_assert(kconf_brokers(cfg, NULL, &err) == NULL);
	test_assert(strstr(err.msg, "kafka.brokers") != NULL);
	config_free(&cfg);
	plog_destroy(&kc.log);
}

static void
test_refused(void)
{
	struct config *cfg = NULL;
	struct rb_error err;

	test_assert(config_load(write_conf("d.conf", "[kafka]\nbrokerz = x\n"),
	                &cfg, &err) < 0);
	test_assert(strstr(err.msg, "brokerz") != NULL);
	test_assert(
	    config_load(write_conf("e.conf", "[kafka]\nproperty. = x\n"), &cfg,
	        &err) < 0);
	test_assert(cfg == NULL);
}

int
main(void)
{
	const char *t = getenv("TMPDIR");
	char cmd[300];

	(void)snprintf(dir, sizeof(dir), "%s/rebound-kconf-XXXXXX",
	    t != NULL && t[0] != '\0' ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		return 1;
	test_pass_through();
	test_refused();
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return test_exit();
}
