/*
 * smtp_testd: the SMTP server of ingest/ with a deliver callback that
 * classifies each message and appends one JSON line per message to a
 * file, so that tests (and `rebound serve` before the store) can see
 * what was received and delivered.  Built for tests only.
 *
 * A line: {"queueId", "session", "client", "helo", "mailFrom", "rcpts":
 * [{"address", "verp"}], "untrusted", "size", "events": [SES events]}.
 * --ready FILE is written (atomically) with the bound addresses, one a
 * line, once the server listens.  SIGTERM or SIGINT stops gracefully;
 * the counters are then printed to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "classify/classify.h"
#include "core/core.h"
#include "ingest/ingest.h"

/* Addresses, domains and local parts given on the command line. */
#define TESTD_MAX_LIST 16

struct testd {
	const struct classify_rules *rules;
	int out_fd;
	int classify;
	unsigned delay_ms;
	unsigned fail_first;
	unsigned calls;
};

static const char *const verp_names[] = {
    "none", "trusted", "untrusted", "unchecked"};

static int
append_message(
    struct buf *b, const struct testd *t, const struct smtp_message *m)
{
	const struct smtp_envelope *e = m->env;
	json_t *o = json_object(), *rc = json_array();
	char *env_js;
	size_t i, n;
	int r = 0;

	json_object_set_new(o, "queueId", json_string(m->queue_id));
	json_object_set_new(o, "session", json_string(e->session_id));
	json_object_set_new(o, "client", json_string(e->client));
	json_object_set_new(o, "helo", json_string(e->helo));
	json_object_set_new(o, "mailFrom", json_string(e->mail_from));
	for (i = 0; i < e->n_rcpts; i++) {
		json_t *r1 = json_object();

		json_object_set_new(
		    r1, "address", json_string(e->rcpts[i].address));
		json_object_set_new(
		    r1, "verp", json_string(verp_names[e->rcpts[i].verp]));
		json_array_append_new(rc, r1);
	}
	json_object_set_new(o, "rcpts", rc);
	json_object_set_new(o, "untrusted", json_boolean(e->untrusted));
	json_object_set_new(o, "smtputf8", json_boolean(e->smtputf8));
	json_object_set_new(o, "size", json_integer((json_int_t)m->len));
	env_js = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (env_js == NULL)
		return -1;
	n = strlen(env_js);
	/* Splice the events in before the closing brace. */
	r |= buf_append(b, env_js, n - 1);
	free(env_js);
	r |= buf_printf(b, ",\"events\":[");
	if (t->classify) {
		struct classify_verdict v;
		struct classify_source src = {
		    m->path, -1, e->session_id, "smtp"};

		(void)classify_message(
		    t->rules, m->data, m->len, e->received, &v);
		for (i = 0; i < v.n_events; i++) {
			char *js = classify_event_json(&v, i, &src);

			if (js == NULL)
				continue;
			if (i > 0)
				r |= buf_putc(b, ',');
			r |= buf_append(b, js, strlen(js));
			free(js);
		}
		classify_verdict_clear(&v);
	}
	r |= buf_printf(b, "]}\n");
	return r;
}

static int
deliver(
    const struct smtp_message *msgs, size_t n, void *ctx, struct rb_error *err)
{
	struct testd *t = ctx;
	struct buf b;
	size_t i, off = 0;

	t->calls++;
	if (t->delay_ms > 0) {
		struct timespec ts = {(time_t)(t->delay_ms / 1000),
		    (long)(t->delay_ms % 1000) * 1000000L};

		nanosleep(&ts, NULL);
	}
	if (t->calls <= t->fail_first)
		return rb_error_set(err, EAGAIN,
		    "testd: failing on purpose "
		    "(call %u of %u)",
		    t->calls, t->fail_first);
	buf_init(&b, (size_t)1 << 30);
	for (i = 0; i < n; i++) {
		if (append_message(&b, t, &msgs[i]) < 0) {
			buf_free(&b);
			return rb_error_set(err, ENOMEM, "testd: output");
		}
	}
	/* One write per batch: lines of a batch are never torn by a kill. */
	while (off < b.len) {
		ssize_t w = write(t->out_fd, b.data + off, b.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;

			buf_free(&b);
			return rb_error_set(
			    err, e, "testd: write: %s", strerror(e));
		}
		off += (size_t)w;
	}
	buf_free(&b);
	return 0;
}

static int
write_ready(const char *path, const struct smtp_server *srv)
{
	char tmp[4096], addr[128];
	FILE *fp;
	size_t i;

	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fp = fopen(tmp, "w");
	if (fp == NULL)
		return -1;
	for (i = 0; smtp_server_address(srv, i, addr, sizeof(addr)) == 0; i++)
		fprintf(fp, "%s\n", addr);
	if (fclose(fp) != 0)
		return -1;
	return rename(tmp, path);
}

static unsigned
num(const char *s, const char *what)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0 || v > 0xffffffffu) {
		fprintf(stderr, "smtp_testd: bad %s: %s\n", what, s);
		exit(2);
	}
	return (unsigned)v;
}

static void
usage(void)
{
	fputs(
	    "usage: smtp_testd --spool DIR --out FILE [--ready FILE]\n"
	    "  [--listen ADDR]... [--domain D]... [--local-part L]...\n"
	    "  [--hostname H] [--verp-secret S] [--rules DIR] [--no-classify]\n"
	    "  [--max-message N] [--max-recipients N] [--max-line N]\n"
	    "  [--max-connections N] [--max-per-ip N] [--command-timeout S]\n"
	    "  [--data-timeout S] [--max-errors N] [--max-backlog N]\n"
	    "  [--max-memory N] [--deliver-batch N] [--deliver-delay-ms N]\n"
	    "  [--fail-deliver N] [--stop-timeout S] [--quiet]\n",
	    stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"domain", required_argument, NULL, 'd'},
	    {"local-part", required_argument, NULL, 'L'},
	    {"spool", required_argument, NULL, 's'},
	    {"out", required_argument, NULL, 'o'},
	    {"ready", required_argument, NULL, 'r'},
	    {"hostname", required_argument, NULL, 'H'},
	    {"verp-secret", required_argument, NULL, 'V'},
	    {"rules", required_argument, NULL, 'R'},
	    {"no-classify", no_argument, NULL, 'n'},
	    {"max-message", required_argument, NULL, 1},
	    {"max-recipients", required_argument, NULL, 2},
	    {"max-line", required_argument, NULL, 3},
	    {"max-connections", required_argument, NULL, 4},
	    {"max-per-ip", required_argument, NULL, 5},
	    {"command-timeout", required_argument, NULL, 6},
	    {"data-timeout", required_argument, NULL, 7},
	    {"max-errors", required_argument, NULL, 8},
	    {"max-backlog", required_argument, NULL, 9},
	    {"max-memory", required_argument, NULL, 10},
	    {"deliver-batch", required_argument, NULL, 11},
	    {"deliver-delay-ms", required_argument, NULL, 12},
	    {"fail-deliver", required_argument, NULL, 13},
	    {"stop-timeout", required_argument, NULL, 14},
	    {"quiet", no_argument, NULL, 'q'},
	    {NULL, 0, NULL, 0},
	};
	const char *listen[TESTD_MAX_LIST], *domains[TESTD_MAX_LIST];
	const char *locals[TESTD_MAX_LIST];
	const char *out = NULL, *ready = NULL, *rules_dir = NULL;
	struct smtp_config cfg;
	struct testd t;
	struct classify_rules *rules = NULL;
	struct smtp_server *srv = NULL;
	struct smtp_server_stats st;
	struct rb_error err;
	sigset_t set;
	unsigned stop_timeout = SMTP_DEFAULT_STOP_TIMEOUT;
	int c, sig;

	/* One write per log line (stderr is unbuffered: log_msg would make
	 * three), and lines of threads do not interleave. */
	setvbuf(stderr, NULL, _IOLBF, BUFSIZ);
	memset(&cfg, 0, sizeof(cfg));
	memset(&t, 0, sizeof(t));
	t.classify = 1;
	while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (cfg.n_listen == TESTD_MAX_LIST)
				usage();
			listen[cfg.n_listen++] = optarg;
			break;
		case 'd':
			if (cfg.n_domains == TESTD_MAX_LIST)
				usage();
			domains[cfg.n_domains++] = optarg;
			break;
		case 'L':
			if (cfg.n_local_parts == TESTD_MAX_LIST)
				usage();
			locals[cfg.n_local_parts++] = optarg;
			break;
		case 's':
			cfg.spool_dir = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'r':
			ready = optarg;
			break;
		case 'H':
			cfg.hostname = optarg;
			break;
		case 'V':
			cfg.verp_secret = optarg;
			break;
		case 'R':
			rules_dir = optarg;
			break;
		case 'n':
			t.classify = 0;
			break;
		case 'q':
			log_set_level(LOG_WARN);
			break;
		case 1:
			cfg.max_message = num(optarg, "size");
			break;
		case 2:
			cfg.max_recipients = num(optarg, "count");
			break;
		case 3:
			cfg.max_line = num(optarg, "length");
			break;
		case 4:
			cfg.max_connections = num(optarg, "count");
			break;
		case 5:
			cfg.max_per_ip = num(optarg, "count");
			break;
		case 6:
			cfg.command_timeout = num(optarg, "seconds");
			break;
		case 7:
			cfg.data_timeout = num(optarg, "seconds");
			break;
		case 8:
			cfg.max_errors = num(optarg, "count");
			break;
		case 9:
			cfg.max_backlog = num(optarg, "count");
			break;
		case 10:
			cfg.max_memory = num(optarg, "bytes");
			break;
		case 11:
			cfg.deliver_batch = num(optarg, "count");
			break;
		case 12:
			t.delay_ms = num(optarg, "milliseconds");
			break;
		case 13:
			t.fail_first = num(optarg, "count");
			break;
		case 14:
			stop_timeout = num(optarg, "seconds");
			break;
		default:
			usage();
		}
	}
	if (optind != argc || cfg.spool_dir == NULL || out == NULL)
		usage();
	cfg.listen = cfg.n_listen > 0 ? listen : NULL;
	cfg.domains = domains;
	cfg.local_parts = cfg.n_local_parts > 0 ? locals : NULL;
	t.out_fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (t.out_fd < 0) {
		fprintf(stderr, "smtp_testd: %s: %s\n", out, strerror(errno));
		return 1;
	}
	classify_global_init();
	if (t.classify) {
		const char *dirs[1];

		dirs[0] = rules_dir != NULL ? rules_dir
		                            : REBOUND_SOURCE_DIR "/data/rules";
		if (classify_rules_load(dirs, 1, &rules, &err) < 0) {
			fprintf(stderr, "smtp_testd: %s\n", err.msg);
			return 1;
		}
		t.rules = rules;
	}
	/* Every thread inherits the mask; main waits for the signal. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (smtp_server_start(&cfg, deliver, &t, &srv, &err) < 0) {
		fprintf(stderr, "smtp_testd: %s\n", err.msg);
		classify_rules_free(&rules);
		return 1;
	}
	if (ready != NULL && write_ready(ready, srv) < 0) {
		fprintf(stderr, "smtp_testd: %s: %s\n", ready, strerror(errno));
		smtp_server_stop(&srv, 0);
		return 1;
	}
	if (sigwait(&set, &sig) != 0)
		sig = SIGTERM;
	log_info("smtp_testd: signal %d, stopping", sig);
	smtp_server_get_stats(srv, &st);
	smtp_server_stop(&srv, stop_timeout);
	fprintf(stderr,
	    "smtp_testd: connections=%llu refused=%llu "
	    "messages=%llu timeouts=%llu committed=%llu rounds=%llu "
	    "delivered_before_stop=%llu\n",
	    (unsigned long long)st.connections, (unsigned long long)st.refused,
	    (unsigned long long)st.messages, (unsigned long long)st.timeouts,
	    (unsigned long long)st.spool.committed,
	    (unsigned long long)st.spool.commit_rounds,
	    (unsigned long long)st.spool.delivered);
	classify_rules_free(&rules);
	classify_global_shutdown();
	(void)close(t.out_fd);
	return 0;
}
