/*
 * config: every setting of rebound, its default and its source.  The
 * file is read with GLib's GKeyFile (INI: [section], key = value, #
 * comments); REBOUND_<SECTION>_<KEY> in the environment overrides the
 * file, config_set() (a flag) overrides both.  Effective values are
 * resolved once at load, so lookups are a table walk and a config may be
 * shared read-only by threads.  Unknown keys are errors: a typo must not
 * silently fall back to a default.  The table below is the reference;
 * data/rebound.conf.example documents the same keys and defaults (a test
 * checks that they agree).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>

#include "core.h"

/* Longest "section.key" name; the table's names are far shorter. */
#define CONFIG_MAX_NAME 64
/* Longest duration accepted: a century is already no retention limit. */
#define CONFIG_MAX_DURATION (100ull * 366 * 86400)
/* Free-form pairs kept per section ([accounts] maps identities). */
#define CONFIG_MAX_PAIRS 10000

struct config_key {
	const char *name;
	const char *def;
	const char *help;
};

/* clang-format off */
static const struct config_key config_keys[] = {
	{"store.db", "rebound.db",
	    "SQLite database file (--db overrides)"},
	{"store.batch_size", "5000",
	    "new feedback messages per transaction"},
	{"store.busy_timeout", "5s",
	    "how long to wait for a database locked by another process"},
	{"store.workers", "auto",
	    "classifier threads of an ingest: auto (one per CPU, at most 8) or N (0: none)"},
	{"store.compress", "true",
	    "keep raw feedback messages compressed (LZ4)"},
	{"retention.raw", "30d",
	    "how long raw feedback messages are kept"},
	{"retention.events", "400d",
	    "how long events (and the dedupe memory) are kept"},
	{"retention.prune_batch", "1000",
	    "rows deleted per transaction when pruning"},
	{"identity.mode", "domain",
	    "identity of a sender: domain (of the sender address) or address"},
	{"identity.addresses", "",
	    "addresses that are identities of their own (comma separated)"},
	{"account.default", "default",
	    "account (tenant) of identities not listed in [accounts]"},
	{"rates.window", "24h",
	    "rolling window of the rates"},
	{"rates.min_sends", "200",
	    "sends in the window below which the status stays ok"},
	{"rates.bounce_warning", "5%",
	    "bounce rate (Permanent bounces / sends) of the warning status"},
	{"rates.bounce_critical", "10%",
	    "bounce rate of the critical status"},
	{"rates.complaint_warning", "0.1%",
	    "complaint rate (complaints / sends) of the warning status"},
	{"rates.complaint_critical", "0.5%",
	    "complaint rate of the critical status"},
	{"suppression.ttl", "14d",
	    "global suppression period after a Permanent bounce"},
	{"suppression.max_ttl", "180d",
	    "longest global suppression period after escalation"},
	{"suppression.escalation", "2",
	    "factor of the period when an address hard-bounces again after expiry"},
	{"suppression.forget", "400d",
	    "how long an expired global entry is remembered for escalation"},
	{"suppression.local_part", "insensitive",
	    "compare local parts of addresses: insensitive or sensitive"},
	{"suppression.account_auto", "bounce,complaint",
	    "events that add to the account-level list: bounce, complaint, both or none"},
	{"stats.providers", "",
	    "mailbox-provider table (empty: providers.tsv of the data directory)"},
	{"verp.secret", "",
	    "secret of signed VERP tokens (HMAC-SHA256)"},
	{"geoip.country_db", "",
	    "MaxMind country database (.mmdb); empty: no country lookups"},
	{"geoip.asn_db", "",
	    "MaxMind ASN database (.mmdb); empty: no ASN lookups"},
	{"smtp.listen", "127.0.0.1:2525",
	    "addresses the SMTP server listens on, comma separated (--smtp)"},
	{"smtp.domains", "localhost",
	    "feedback domains whose mail is accepted, comma separated (--domain)"},
	{"smtp.local_parts", "bounces,fbl,postmaster",
	    "local parts accepted at each feedback domain, comma separated"},
	{"smtp.spool", "",
	    "spool directory (--spool; empty: store.db with .db replaced by .spool)"},
	{"smtp.hostname", "",
	    "name in the greeting and EHLO reply (empty: the host name)"},
	{"smtp.tls_cert", "",
	    "PEM certificate (chain) for STARTTLS; empty: no STARTTLS"},
	{"smtp.tls_key", "",
	    "PEM private key of smtp.tls_cert"},
	{"smtp.max_message", "10485760",
	    "largest message in bytes (552 5.3.4 beyond)"},
	{"smtp.max_recipients", "100",
	    "recipients per message (452 4.5.3 beyond)"},
	{"smtp.max_line", "512",
	    "longest command line in bytes with its CRLF (500 5.5.2 beyond)"},
	{"smtp.max_connections", "1000",
	    "open connections in all (421 4.7.0 beyond)"},
	{"smtp.max_per_ip", "50",
	    "open connections per client address (421 4.7.0 beyond)"},
	{"smtp.command_timeout", "5m",
	    "how long a client may take to send a command (421 4.4.2 after)"},
	{"smtp.data_timeout", "3m",
	    "how long between two blocks of message data (421 4.4.2 after)"},
	{"smtp.max_errors", "20",
	    "bad commands of a session before 421 4.7.0 and a disconnect"},
	{"smtp.max_backlog", "10000",
	    "messages spooled but not stored above which MAIL gets 451 4.3.1"},
	{"smtp.max_memory", "268435456",
	    "bytes of messages held in memory (451 4.3.1 near it)"},
	{"smtp.stop_timeout", "10s",
	    "how long a stop lets sessions finish and the pipeline drain"},
	{"http.listen", "127.0.0.1:8025",
	    "address of the HTTP server (--http)"},
	{"http.read_tokens", "",
	    "bearer tokens of the read scope (comma separated)"},
	{"http.admin_tokens", "",
	    "bearer tokens of the admin scope: writes, and reads (comma separated)"},
	{"http.threads", "auto",
	    "HTTP worker threads: auto (one per CPU, at least 2) or N"},
	{"http.max_connections", "1000",
	    "open HTTP connections at most"},
	{"http.timeout", "30s",
	    "idle HTTP connections are closed after this"},
	{"http.metrics_identities", "100",
	    "identities with series of their own in /metrics (most sends first)"},
	{"http.web_root", "",
	    "directory of the dashboard's static files (empty: the built-in one)"},
	{"http.cache_entries", "10000",
	    "computed reputations kept while the database is unchanged (0: none)"},
	{"serve.user", "",
	    "user to run as after binding the ports (empty: stay as started)"},
	{"serve.rules", "",
	    "directory of rules files that take precedence (--rules)"},
	{"serve.maildirs", "",
	    "Maildirs to watch for feedback, comma separated (--maildir)"},
	{"log.file", "",
	    "log file of rebound serve (empty: stderr); reopened on SIGHUP"},
	{"log.format", "text",
	    "log lines as text or json (--log-format)"},
	{"log.level", "info",
	    "least important level logged: debug, info, warn or error"},
	{"kafka.enabled", "true",
	    "publish events, suppression changes and alerts to Kafka (an outbox in the database)"},
	{"kafka.brokers", "",
	    "bootstrap brokers host:port,...; empty: rebound serve starts an embedded broker"},
	{"kafka.events_topic", "rebound.events",
	    "topic of the events (key: identity); empty: not published"},
	{"kafka.suppression_topic", "rebound.suppression",
	    "compacted topic mirroring the suppression lists (key: address); empty: not published"},
	{"kafka.alerts_topic", "rebound.alerts",
	    "topic of the alert transitions (key: identity); empty: not published"},
	{"kafka.sends_topic", "rebound.sends",
	    "topic of SES Send events counted as sends; empty: not consumed"},
	{"kafka.group", "rebound",
	    "consumer group of the sends topic"},
};
/* clang-format on */

#define N_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/* Sections whose keys are free-form (not in the table). */
static const char *const config_free_sections[] = {"accounts"};
/* Keys of [kafka] starting with this are librdkafka properties, passed
 * through as they are: kept as the pairs of section "kafka.property". */
#define CONFIG_KAFKA_PROPERTY "property."
#define CONFIG_KAFKA_SECTION "kafka.property"
/* Environment variables of librdkafka properties: the rest of the name
 * in lower case with '_' as '.' (librdkafka names use dots only). */
#define CONFIG_KAFKA_ENV "REBOUND_KAFKA_PROPERTY_"

struct config_pair {
	char *section;
	char *key;
	char *value;
};

struct config {
	char *values[N_KEYS];  /* effective value, never NULL */
	char *sources[N_KEYS]; /* "default", "FILE", "$REBOUND_..." */
	struct config_pair *pairs;
	size_t n_pairs;
};

static int
key_index(const char *name)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++) {
		if (strcmp(config_keys[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

static int
is_free_section(const char *section)
{
	size_t i;

	for (i = 0;
	     i < sizeof(config_free_sections) / sizeof(config_free_sections[0]);
	     i++) {
		if (strcmp(config_free_sections[i], section) == 0)
			return 1;
	}
	return 0;
}

static int
known_section(const char *section)
{
	size_t i, n = strlen(section);

	if (is_free_section(section))
		return 1;
	for (i = 0; i < N_KEYS; i++) {
		if (strncmp(config_keys[i].name, section, n) == 0 &&
		    config_keys[i].name[n] == '.')
			return 1;
	}
	return 0;
}

/* "store.batch_size" -> "REBOUND_STORE_BATCH_SIZE". */
static void
env_name(const char *name, char *out, size_t len)
{
	size_t i, o;

	o = (size_t)snprintf(out, len, "REBOUND_");
	for (i = 0; name[i] != '\0' && o + 1 < len; i++) {
		unsigned char c = (unsigned char)name[i];

		out[o++] = (c == '.' || c == '-') ? '_' : (char)toupper(c);
	}
	out[o] = '\0';
}

static void
set_value(struct config *cfg, size_t i, const char *value, const char *src)
{
	free(cfg->values[i]);
	free(cfg->sources[i]);
	cfg->values[i] = xstrdup(value);
	cfg->sources[i] = xstrdup(src);
}

static void
add_pair(
    struct config *cfg, const char *section, const char *key, const char *value)
{
	struct config_pair *p;

	cfg->pairs =
	    xrealloc(cfg->pairs, (cfg->n_pairs + 1) * sizeof(*cfg->pairs));
	p = &cfg->pairs[cfg->n_pairs++];
	p->section = xstrdup(section);
	p->key = xstrdup(key);
	p->value = xstrdup(value);
}

/* A pair of section that replaces one of the same key (a later source
 * overrides an earlier one); -1 over CONFIG_MAX_PAIRS. */
static int
set_pair(
    struct config *cfg, const char *section, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < cfg->n_pairs; i++) {
		if (strcmp(cfg->pairs[i].section, section) == 0 &&
		    strcmp(cfg->pairs[i].key, key) == 0) {
			free(cfg->pairs[i].value);
			cfg->pairs[i].value = xstrdup(value);
			return 0;
		}
	}
	if (cfg->n_pairs >= CONFIG_MAX_PAIRS)
		return -1;
	add_pair(cfg, section, key, value);
	return 0;
}

/* "property.NAME" of [kafka]: NAME, or NULL for any other key. */
static const char *
kafka_property(const char *section, const char *key)
{
	size_t n = sizeof(CONFIG_KAFKA_PROPERTY) - 1;

	if (strcmp(section, "kafka") != 0 ||
	    strncmp(key, CONFIG_KAFKA_PROPERTY, n) != 0)
		return NULL;
	return key + n;
}

/* Read the file into cfg; -1 with err set. */
static int
load_file(struct config *cfg, const char *path, struct rb_error *err)
{
	GKeyFile *kf = g_key_file_new();
	GError *gerr = NULL;
	gchar **groups = NULL;
	struct stat st;
	size_t g;
	int rc = -1;

	if (stat(path, &st) < 0) {
		rb_error_set(err, errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_size > (off_t)CONFIG_MAX_FILE) {
		rb_error_set(err, EFBIG, "%s: larger than %u bytes", path,
		    CONFIG_MAX_FILE);
		goto out;
	}
	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &gerr)) {
		rb_error_set(err, EINVAL, "%s: %s", path, gerr->message);
		goto out;
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (g = 0; groups[g] != NULL; g++) {
		gchar **keys;
		size_t k;

		if (!known_section(groups[g])) {
			rb_error_set(err, EINVAL, "%s: unknown section [%s]",
			    path, groups[g]);
			goto out;
		}
		keys = g_key_file_get_keys(kf, groups[g], NULL, NULL);
		for (k = 0; keys != NULL && keys[k] != NULL; k++) {
			char name[CONFIG_MAX_NAME];
			gchar *val;
			int idx;

			val = g_key_file_get_string(
			    kf, groups[g], keys[k], &gerr);
			if (val == NULL) {
				rb_error_set(err, EINVAL, "%s: [%s] %s: %s",
				    path, groups[g], keys[k], gerr->message);
				g_strfreev(keys);
				goto out;
			}
			if (strlen(val) >= CONFIG_MAX_VALUE) {
				rb_error_set(err, EINVAL,
				    "%s: [%s] %s: value longer than %d bytes",
				    path, groups[g], keys[k],
				    CONFIG_MAX_VALUE - 1);
				g_free(val);
				g_strfreev(keys);
				goto out;
			}
			if (is_free_section(groups[g])) {
				if (cfg->n_pairs >= CONFIG_MAX_PAIRS) {
					rb_error_set(err, EINVAL,
					    "%s: more than %d keys in [%s]",
					    path, CONFIG_MAX_PAIRS, groups[g]);
					g_free(val);
					g_strfreev(keys);
					goto out;
				}
				add_pair(cfg, groups[g], keys[k], val);
				g_free(val);
				continue;
			}
			if (kafka_property(groups[g], keys[k]) != NULL) {
				const char *prop =
				    kafka_property(groups[g], keys[k]);

				if (prop[0] == '\0' ||
				    set_pair(cfg, CONFIG_KAFKA_SECTION, prop,
				        val) < 0) {
					rb_error_set(err, EINVAL,
					    "%s: [kafka] %s: %s", path, keys[k],
					    prop[0] == '\0'
					        ? "no librdkafka property name"
					        : "too many properties");
					g_free(val);
					g_strfreev(keys);
					goto out;
				}
				g_free(val);
				continue;
			}
			(void)snprintf(
			    name, sizeof(name), "%s.%s", groups[g], keys[k]);
			idx = key_index(name);
			if (idx < 0) {
				rb_error_set(err, EINVAL,
				    "%s: unknown key '%s' in [%s]", path,
				    keys[k], groups[g]);
				g_free(val);
				g_strfreev(keys);
				goto out;
			}
			set_value(cfg, (size_t)idx, val, path);
			g_free(val);
		}
		g_strfreev(keys);
	}
	rc = 0;
out:
	if (gerr != NULL)
		g_error_free(gerr);
	g_strfreev(groups);
	g_key_file_free(kf);
	return rc;
}

/* REBOUND_KAFKA_PROPERTY_SASL_PASSWORD=x -> sasl.password = x. */
static int
load_env_properties(struct config *cfg, struct rb_error *err)
{
	extern char **environ;
	size_t n = sizeof(CONFIG_KAFKA_ENV) - 1;
	char **e;

	for (e = environ; e != NULL && *e != NULL; e++) {
		const char *eq = strchr(*e, '=');
		char prop[CONFIG_MAX_NAME];
		size_t len, i;

		if (eq == NULL || strncmp(*e, CONFIG_KAFKA_ENV, n) != 0)
			continue;
		len = (size_t)(eq - *e) - n;
		if (len == 0 || len >= sizeof(prop) ||
		    strlen(eq + 1) >= CONFIG_MAX_VALUE)
			return rb_error_set(err, EINVAL,
			    "$%.*s: a property name of 1 to %d bytes and a "
			    "value shorter than %d bytes are needed",
			    (int)(eq - *e), *e, CONFIG_MAX_NAME - 1,
			    CONFIG_MAX_VALUE);
		for (i = 0; i < len; i++) {
			char c = (*e)[n + i];

			prop[i] =
			    c == '_' ? '.' : (char)tolower((unsigned char)c);
		}
		prop[len] = '\0';
		if (set_pair(cfg, CONFIG_KAFKA_SECTION, prop, eq + 1) < 0)
			return rb_error_set(
			    err, EINVAL, "too many Kafka properties");
	}
	return 0;
}

int
config_load(const char *path, struct config **cfg_r, struct rb_error *err)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	size_t i;

	for (i = 0; i < N_KEYS; i++)
		set_value(cfg, i, config_keys[i].def, "default");
	if (path != NULL && load_file(cfg, path, err) < 0) {
		config_free(&cfg);
		return -1;
	}
	{
		/* A clock that silently fell back to the real one would make
		 * every test with a mistyped REBOUND_NOW pass or fail by the
		 * day it runs. */
		const char *now = getenv("REBOUND_NOW");
		time_t t;

		if (now != NULL && now[0] != '\0' &&
		    config_parse_time(now, &t) < 0) {
			rb_error_set(err, EINVAL,
			    "$REBOUND_NOW '%s': not unix seconds or RFC 3339 "
			    "(2024-06-01T12:00:00Z)",
			    now);
			config_free(&cfg);
			return -1;
		}
	}
	for (i = 0; i < N_KEYS; i++) {
		char name[CONFIG_MAX_NAME + 16];
		const char *v;

		env_name(config_keys[i].name, name, sizeof(name));
		v = getenv(name);
		if (v == NULL)
			continue;
		if (strlen(v) >= CONFIG_MAX_VALUE) {
			rb_error_set(err, EINVAL, "$%s: longer than %d bytes",
			    name, CONFIG_MAX_VALUE - 1);
			config_free(&cfg);
			return -1;
		}
		{
			char src[CONFIG_MAX_NAME + 20];

			(void)snprintf(src, sizeof(src), "$%s", name);
			set_value(cfg, i, v, src);
		}
	}
	if (load_env_properties(cfg, err) < 0) {
		config_free(&cfg);
		return -1;
	}
	*cfg_r = cfg;
	return 0;
}

void
config_free(struct config **cfgp)
{
	struct config *cfg = cfgp != NULL ? *cfgp : NULL;
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < N_KEYS; i++) {
		free(cfg->values[i]);
		free(cfg->sources[i]);
	}
	for (i = 0; i < cfg->n_pairs; i++) {
		free(cfg->pairs[i].section);
		free(cfg->pairs[i].key);
		free(cfg->pairs[i].value);
	}
	free(cfg->pairs);
	free(cfg);
	*cfgp = NULL;
}

int
config_set(struct config *cfg, const char *name, const char *value,
    struct rb_error *err)
{
	static const char prefix[] = "kafka." CONFIG_KAFKA_PROPERTY;
	int idx = key_index(name);

	if (idx < 0 && strncmp(name, prefix, sizeof(prefix) - 1) == 0 &&
	    name[sizeof(prefix) - 1] != '\0' &&
	    strlen(value) < CONFIG_MAX_VALUE) {
		if (set_pair(cfg, CONFIG_KAFKA_SECTION,
		        name + sizeof(prefix) - 1, value) < 0)
			return rb_error_set(
			    err, EINVAL, "too many Kafka properties");
		return 0;
	}
	if (idx < 0)
		return rb_error_set(err, EINVAL, "unknown setting '%s'", name);
	if (strlen(value) >= CONFIG_MAX_VALUE)
		return rb_error_set(err, EINVAL, "%s: longer than %d bytes",
		    name, CONFIG_MAX_VALUE - 1);
	set_value(cfg, (size_t)idx, value, "command line");
	return 0;
}

const char *
config_get(const struct config *cfg, const char *name)
{
	int idx = key_index(name);

	if (idx < 0)
		rb_panic("unknown config key '%s'", name);
	return cfg->values[idx];
}

/* err: "NAME (from SOURCE): WHY 'VALUE'". */
static int
bad_value(const struct config *cfg, const char *name, const char *why,
    struct rb_error *err)
{
	int idx = key_index(name);

	return rb_error_set(err, EINVAL, "%s (from %s): %s: '%s'", name,
	    cfg->sources[idx], why, cfg->values[idx]);
}

int
config_get_u64(const struct config *cfg, const char *name, uint64_t *v_r,
    struct rb_error *err)
{
	if (parse_u64(config_get(cfg, name), v_r) < 0)
		return bad_value(cfg, name, "not a whole number", err);
	return 0;
}

int
config_get_bool(
    const struct config *cfg, const char *name, int *v_r, struct rb_error *err)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	const char *v = config_get(cfg, name);
	size_t i;

	for (i = 0; i < 4; i++) {
		if (g_ascii_strcasecmp(v, yes[i]) == 0) {
			*v_r = 1;
			return 0;
		}
		if (g_ascii_strcasecmp(v, no[i]) == 0) {
			*v_r = 0;
			return 0;
		}
	}
	return bad_value(cfg, name, "not true or false", err);
}

int
config_get_duration(const struct config *cfg, const char *name,
    uint64_t *secs_r, struct rb_error *err)
{
	if (config_parse_duration(config_get(cfg, name), secs_r) < 0)
		return bad_value(cfg, name,
		    "not a duration (like 30s, 15m, 24h, 14d, 2w)", err);
	return 0;
}

int
config_get_ratio(const struct config *cfg, const char *name, double *v_r,
    struct rb_error *err)
{
	if (config_parse_ratio(config_get(cfg, name), v_r) < 0)
		return bad_value(
		    cfg, name, "not a ratio (like 5% or 0.05)", err);
	return 0;
}

void
config_section_foreach(const struct config *cfg, const char *section,
    config_pair_fn *fn, void *ctx)
{
	size_t i;

	for (i = 0; i < cfg->n_pairs; i++) {
		if (strcmp(cfg->pairs[i].section, section) == 0)
			fn(cfg->pairs[i].key, cfg->pairs[i].value, ctx);
	}
}

void
config_keys_foreach(config_key_fn *fn, void *ctx)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++)
		fn(config_keys[i].name, config_keys[i].def, config_keys[i].help,
		    ctx);
}

int
config_parse_duration(const char *s, uint64_t *secs_r)
{
	char num[32];
	size_t n;
	uint64_t v, unit = 1;

	if (s == NULL)
		return -1;
	n = strlen(s);
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	case 'w':
		unit = 7 * 86400;
		break;
	default:
		unit = 0;
		break;
	}
	if (unit != 0)
		num[--n] = '\0';
	else
		unit = 1;
	if (parse_u64(num, &v) < 0 || v > CONFIG_MAX_DURATION / unit)
		return -1;
	*secs_r = v * unit;
	return 0;
}

int
config_parse_ratio(const char *s, double *v_r)
{
	char *end;
	double v;
	size_t n;

	if (s == NULL || s[0] == '\0' || isspace((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || !isfinite(v) || v < 0)
		return -1;
	n = strlen(end);
	if (n == 1 && end[0] == '%')
		v /= 100;
	else if (n != 0)
		return -1;
	if (v > 1)
		return -1;
	*v_r = v;
	return 0;
}

/* n decimal digits at s into *v_r; 0 or -1. */
static int
digits(const char *s, int n, int *v_r)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*v_r = v;
	return 0;
}

int
config_parse_time(const char *s, time_t *t_r)
{
	struct tm tm;
	uint64_t u;
	int y, mo, d, h, mi, sec, oh, om, sign;
	time_t t;
	const char *p;

	if (s == NULL)
		return -1;
	if (parse_u64(s, &u) == 0) {
		if (u > (uint64_t)INT32_MAX * 4)
			return -1;
		*t_r = (time_t)u;
		return 0;
	}
	/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM). */
	if (strlen(s) < 20 || digits(s, 4, &y) < 0 || s[4] != '-' ||
	    digits(s + 5, 2, &mo) < 0 || s[7] != '-' ||
	    digits(s + 8, 2, &d) < 0 ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) < 0 || s[13] != ':' ||
	    digits(s + 14, 2, &mi) < 0 || s[16] != ':' ||
	    digits(s + 17, 2, &sec) < 0)
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	oh = om = 0;
	sign = 0;
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		sign = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 &&
	           digits(p + 1, 2, &oh) == 0 && p[3] == ':' &&
	           digits(p + 4, 2, &om) == 0 && oh <= 23 && om <= 59) {
		sign = *p == '+' ? 1 : -1;
	} else {
		return -1;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*t_r = t - (time_t)sign * (oh * 3600 + om * 60);
	return 0;
}

time_t
config_now(void)
{
	const char *env = getenv("REBOUND_NOW");
	time_t t;

	if (env != NULL && env[0] != '\0' && config_parse_time(env, &t) == 0)
		return t;
	return time(NULL);
}
