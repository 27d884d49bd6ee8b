/*
 * rebound serve: the daemon.  One process runs the pipeline (classify
 * and store, serve_pipeline.c) and the components of the list below
 * (Kafka publisher, sends consumer and embedded broker, SMTP server,
 * Maildir watcher, HTTP server).  Start-up: settings (flags over
 * environment over file over defaults), logs, components' prepare
 * (binding, as root for port 25), dropping privileges (serve.user),
 * the pipeline, components' start (the spool is replayed).  Then the
 * main thread waits for signals: SIGTERM/SIGINT stop gracefully
 * (components in reverse order, each within smtp.stop_timeout, then the
 * pipeline commits and closes: exit 0); SIGHUP reopens the log file and
 * reloads the rules; a tick each second does the pipeline's upkeep.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/serve.h"
#include "core/core.h"

/* Seconds between two upkeep ticks of the main thread. */
#define SERVE_TICK 1
/* Repeated flags (--smtp, --domain, --maildir) joined for config_set. */
#define SERVE_FLAG_MAX CONFIG_MAX_VALUE
/* Lists split by serve_list() (each setting is split once or twice). */
#define SERVE_MAX_LISTS 32

const char cmd_serve_usage[] =
    "usage: rebound serve [--config FILE] [--db FILE] [--spool DIR]\n"
    "                     [--smtp ADDR:PORT]... [--domain DOMAIN]...\n"
    "                     [--http ADDR:PORT] [--maildir DIR]...\n"
    "                     [--rules DIR] [--user USER]\n"
    "                     [--log-format text|json] [--log-file FILE]\n"
    "\n"
    "Run the SMTP feedback server (the MX of the bounce domains) and the\n"
    "pipeline that classifies and stores what it receives, until SIGTERM\n"
    "or SIGINT.  A message gets \"250\" once it is fsync'd to the spool;\n"
    "it is deleted from there once stored; the spool is replayed at\n"
    "start.  Defaults need no configuration: SMTP on 127.0.0.1:2525 for\n"
    "the domain localhost (bounces@, fbl@, postmaster@ and VERP\n"
    "addresses), database ./rebound.db, spool ./rebound.spool.\n"
    "\n"
    "  --config FILE      settings (default: $REBOUND_CONFIG, else none)\n"
    "  --db FILE          database (store.db; default rebound.db)\n"
    "  --spool DIR        spool directory (smtp.spool; default: the\n"
    "                     database name with .db replaced by .spool)\n"
    "  --smtp ADDR:PORT   listen address, repeatable, [::1]:25 for IPv6\n"
    "                     (smtp.listen; default 127.0.0.1:2525)\n"
    "  --domain DOMAIN    feedback domain, repeatable (smtp.domains;\n"
    "                     default localhost)\n"
    "  --http ADDR:PORT   HTTP address (http.listen; 127.0.0.1:8025)\n"
    "  --maildir DIR      also watch this Maildir, repeatable: new mail\n"
    "                     is stored, then moved to cur/ (serve.maildirs)\n"
    "  --rules DIR        rules that take precedence (serve.rules)\n"
    "  --user USER        run as USER after binding (serve.user)\n"
    "  --log-format FMT   text or json lines (log.format)\n"
    "  --log-file FILE    log here instead of stderr (log.file)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Signals: SIGTERM, SIGINT stop (sessions may finish their message\n"
    "within smtp.stop_timeout, what was received is stored, exit 0);\n"
    "SIGHUP reopens the log file and reloads the rules.\n"
    "Every setting is in data/rebound.conf.example; the environment\n"
    "(REBOUND_SMTP_LISTEN, ...) overrides the file, flags override both.\n"
    "Exit status: 0 stopped by a signal, 1 could not start, 2 usage.\n";

/*
 * The components, started in this order and stopped in the reverse.
 * Producers of messages (SMTP, Maildir, HTTP) stop before the pipeline
 * closes; a consumer of commits (a Kafka publisher) goes first in the
 * list, so that it stops last and sees the last batches.
 */
static const struct serve_component *const components[] = {
    &serve_kafka_component,
    &serve_smtp_component,
    &serve_maildir_component,
    /* Last: it reports on the others (readiness, metrics) and takes
     * messages (POST /v1/messages); it stops first. */
    &serve_http_component,
};
#define N_COMPONENTS (sizeof(components) / sizeof(components[0]))

struct serve_split {
	char *copy;
	const char **items;
};

struct serve {
	struct config *cfg;
	struct serve_pipeline *pl;
	char spool[PATH_MAX];
	int json;
	void *state[N_COMPONENTS];
	struct serve_split lists[SERVE_MAX_LISTS];
	size_t n_lists;
};

const struct config *
serve_config(const struct serve *sv)
{
	return sv->cfg;
}

int
serve_log_json(const struct serve *sv)
{
	return sv->json;
}

const char *
serve_spool_dir(const struct serve *sv)
{
	return sv->spool;
}

int
serve_list(struct serve *sv, const char *name, const char ***items_r,
    struct rb_error *err)
{
	struct serve_split *l;
	char *p, *next;
	int n = 0;

	if (sv->n_lists == SERVE_MAX_LISTS)
		rb_panic("serve_list: more than %d lists", SERVE_MAX_LISTS);
	l = &sv->lists[sv->n_lists++];
	l->copy = xstrdup(config_get(sv->cfg, name));
	l->items = xcalloc(SERVE_MAX_LIST + 1, sizeof(*l->items));
	for (p = l->copy; p != NULL; p = next) {
		char *end;

		next = strchr(p, ',');
		if (next != NULL)
			*next++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*p == '\0')
			continue;
		if (n == SERVE_MAX_LIST)
			return rb_error_set(err, EINVAL,
			    "%s: more than %d items", name, SERVE_MAX_LIST);
		l->items[n++] = p;
	}
	*items_r = l->items;
	return n;
}

int
serve_u32(const struct serve *sv, const char *name, unsigned *v_r,
    struct rb_error *err)
{
	uint64_t v;

	if (config_get_u64(sv->cfg, name, &v, err) < 0)
		return -1;
	if (v == 0 || v > UINT_MAX)
		return rb_error_set(err, EINVAL, "%s: %llu is not in 1..%u",
		    name, (unsigned long long)v, UINT_MAX);
	*v_r = (unsigned)v;
	return 0;
}

int
serve_secs(const struct serve *sv, const char *name, unsigned *v_r,
    struct rb_error *err)
{
	uint64_t v;

	if (config_get_duration(sv->cfg, name, &v, err) < 0)
		return -1;
	if (v > UINT_MAX)
		return rb_error_set(err, EINVAL, "%s: too long", name);
	*v_r = (unsigned)v;
	return 0;
}

int
serve_store(struct serve *sv, const struct serve_input *msgs, size_t n,
    struct rb_error *err)
{
	rb_assert(sv->pl != NULL);
	return serve_pipeline_store(sv->pl, msgs, n, 1, err);
}

int
serve_store_committed(struct serve *sv, const struct serve_input *msgs,
    size_t n, struct rb_error *err)
{
	rb_assert(sv->pl != NULL);
	return serve_pipeline_store(sv->pl, msgs, n, 0, err);
}

int
serve_sync(struct serve *sv, struct rb_error *err)
{
	rb_assert(sv->pl != NULL);
	return serve_pipeline_sync(sv->pl, err);
}

void
serve_ready(struct serve *sv, struct http_ready *r)
{
	size_t i;

	for (i = 0; i < N_COMPONENTS; i++) {
		if (sv->state[i] != NULL && components[i]->ready != NULL)
			components[i]->ready(sv->state[i], r);
	}
}

void
serve_metrics(struct serve *sv, struct http_metrics *m)
{
	size_t i;

	for (i = 0; i < N_COMPONENTS; i++) {
		if (sv->state[i] != NULL && components[i]->metrics != NULL)
			components[i]->metrics(sv->state[i], m);
	}
}

static void
on_commit(const struct serve_commit *c, void *ctx)
{
	struct serve *sv = ctx;
	size_t i;

	for (i = 0; i < N_COMPONENTS; i++) {
		if (sv->state[i] != NULL && components[i]->committed != NULL)
			components[i]->committed(sv->state[i], c);
	}
}

/* smtp.spool, else store.db with ".db" replaced by ".spool". */
static int
spool_path(struct serve *sv, struct rb_error *err)
{
	const char *v = config_get(sv->cfg, "smtp.spool");
	const char *db = config_get(sv->cfg, "store.db");
	size_t n = strlen(db);
	int r;

	if (v[0] != '\0')
		r = snprintf(sv->spool, sizeof(sv->spool), "%s", v);
	else if (n > 3 && strcmp(db + n - 3, ".db") == 0)
		r = snprintf(sv->spool, sizeof(sv->spool), "%.*s.spool",
		    (int)(n - 3), db);
	else
		r = snprintf(sv->spool, sizeof(sv->spool), "%s.spool", db);
	if (r < 0 || (size_t)r >= sizeof(sv->spool))
		return rb_error_set(err, ENAMETOOLONG, "smtp.spool: too long");
	return 0;
}

/* serve.user: drop root for good (groups, gid, uid). */
static int
drop_privileges(const char *user, struct rb_error *err)
{
	struct passwd *pw;

	if (user[0] == '\0')
		return 0;
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL)
		return rb_error_set(err, errno ? errno : ENOENT,
		    "serve.user: no user '%s'", user);
	if (geteuid() == pw->pw_uid)
		return 0;
	if (geteuid() != 0)
		return rb_error_set(err, EPERM,
		    "serve.user = %s: only root can change to it", user);
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		return rb_error_set(
		    err, errno, "serve.user = %s: %s", user, strerror(errno));
	/* Paranoia (OpenSMTPD does the same): root must be gone. */
	if (pw->pw_uid != 0 && setuid(0) == 0)
		rb_panic("serve: could still become root after dropping");
	log_info("serve: running as %s (uid %lu, gid %lu)", user,
	    (unsigned long)pw->pw_uid, (unsigned long)pw->pw_gid);
	return 0;
}

/* Append v to the comma list in buf (a repeated flag). */
static int
join_flag(char *buf, const char *flag, const char *v)
{
	size_t n = strlen(buf);
	int r =
	    snprintf(buf + n, SERVE_FLAG_MAX - n, "%s%s", n > 0 ? "," : "", v);

	if (r < 0 || (size_t)r >= SERVE_FLAG_MAX - n) {
		fprintf(stderr, "rebound serve: too many %s values\n", flag);
		return -1;
	}
	return 0;
}

struct serve_flags {
	struct cli_store_opts so;
	const char *spool, *http, *rules, *user, *log_format, *log_file;
	char smtp[SERVE_FLAG_MAX];
	char domains[SERVE_FLAG_MAX];
	char maildirs[SERVE_FLAG_MAX];
};

/* 0 ok, 1 exit 0 (help), 2 usage error. */
static int
parse_flags(int argc, char **argv, struct serve_flags *f)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"db", required_argument, NULL, 'd'},
	    {"spool", required_argument, NULL, 's'},
	    {"smtp", required_argument, NULL, 'S'},
	    {"domain", required_argument, NULL, 'D'},
	    {"http", required_argument, NULL, 'H'},
	    {"maildir", required_argument, NULL, 'm'},
	    {"rules", required_argument, NULL, 'r'},
	    {"user", required_argument, NULL, 'u'},
	    {"log-format", required_argument, NULL, 'f'},
	    {"log-file", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			f->so.config = optarg;
			break;
		case 'd':
			f->so.db = optarg;
			break;
		case 's':
			f->spool = optarg;
			break;
		case 'S':
			if (join_flag(f->smtp, "--smtp", optarg) < 0)
				return 2;
			break;
		case 'D':
			if (join_flag(f->domains, "--domain", optarg) < 0)
				return 2;
			break;
		case 'H':
			f->http = optarg;
			break;
		case 'm':
			if (join_flag(f->maildirs, "--maildir", optarg) < 0)
				return 2;
			break;
		case 'r':
			f->rules = optarg;
			break;
		case 'u':
			f->user = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "text") != 0 &&
			    strcmp(optarg, "json") != 0) {
				fprintf(stderr,
				    "rebound serve: --log-format: text or "
				    "json, not '%s'\n",
				    optarg);
				return 2;
			}
			f->log_format = optarg;
			break;
		case 'l':
			f->log_file = optarg;
			break;
		case 'h':
			fputs(cmd_serve_usage, stdout);
			return 1;
		default:
			fputs(cmd_serve_usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "rebound serve: unexpected argument '%s'\n",
		    argv[optind]);
		fputs(cmd_serve_usage, stderr);
		return 2;
	}
	return 0;
}

/* Flags over the loaded settings; -1 with err. */
static int
apply_flags(
    struct config *cfg, const struct serve_flags *f, struct rb_error *err)
{
	const struct {
		const char *key;
		const char *v;
	} set[] = {
	    {"smtp.spool", f->spool},
	    {"smtp.listen", f->smtp[0] != '\0' ? f->smtp : NULL},
	    {"smtp.domains", f->domains[0] != '\0' ? f->domains : NULL},
	    {"serve.maildirs", f->maildirs[0] != '\0' ? f->maildirs : NULL},
	    {"http.listen", f->http},
	    {"serve.rules", f->rules},
	    {"serve.user", f->user},
	    {"log.format", f->log_format},
	    {"log.file", f->log_file},
	};
	size_t i;

	for (i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
		if (set[i].v != NULL &&
		    config_set(cfg, set[i].key, set[i].v, err) < 0)
			return -1;
	}
	return 0;
}

static int
setup_logs(struct serve *sv, struct rb_error *err)
{
	static const char *const levels[] = {"debug", "info", "warn", "error"};
	const char *fmt = config_get(sv->cfg, "log.format");
	const char *lvl = config_get(sv->cfg, "log.level");
	size_t i;

	if (strcmp(fmt, "json") == 0)
		sv->json = 1;
	else if (strcmp(fmt, "text") != 0)
		return rb_error_set(
		    err, EINVAL, "log.format: text or json, not '%s'", fmt);
	for (i = 0; i < 4; i++) {
		if (strcmp(lvl, levels[i]) == 0)
			break;
	}
	if (i == 4)
		return rb_error_set(err, EINVAL,
		    "log.level: debug, info, warn or error, not '%s'", lvl);
	log_set_level((enum log_level)i);
	return serve_log_open(config_get(sv->cfg, "log.file"), sv->json, err);
}

/* Wait for SIGTERM/SIGINT, handling SIGHUP and ticks meanwhile. */
static int
serve_loop(struct serve *sv, const sigset_t *set)
{
	for (;;) {
		struct timespec ts = {SERVE_TICK, 0};
		int sig = sigtimedwait(set, NULL, &ts);
		struct rb_error err;
		size_t i;

		if (sig < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_error(
				    "serve: sigtimedwait: %s", strerror(errno));
			serve_pipeline_tick(sv->pl);
			continue;
		}
		if (sig != SIGHUP)
			return sig;
		log_info("serve: SIGHUP: reopening the log, reloading the "
		         "rules");
		if (serve_log_reopen(&err) < 0)
			log_error("serve: %s", err.msg);
		if (serve_pipeline_reload(sv->pl, &err) < 0)
			log_error("serve: rules not reloaded, the old ones "
			          "stay: %s",
			    err.msg);
		for (i = 0; i < N_COMPONENTS; i++) {
			if (sv->state[i] != NULL && components[i]->reload)
				components[i]->reload(sv->state[i]);
		}
	}
}

int
cmd_serve(int argc, char **argv)
{
	struct serve_flags *f = xcalloc(1, sizeof(*f));
	struct serve sv;
	struct rb_error err = {0};
	sigset_t set;
	unsigned stop_timeout = 0;
	size_t i, started = 0;
	int r, status = 1, sig;

	memset(&sv, 0, sizeof(sv));
	r = parse_flags(argc, argv, f);
	if (r != 0) {
		free(f);
		return r == 1 ? 0 : 2;
	}
	if (cli_config_load("serve", &f->so, &sv.cfg) < 0) {
		free(f);
		return 1;
	}
	if (apply_flags(sv.cfg, f, &err) < 0 || spool_path(&sv, &err) < 0 ||
	    serve_secs(&sv, "smtp.stop_timeout", &stop_timeout, &err) < 0 ||
	    setup_logs(&sv, &err) < 0) {
		fprintf(stderr, "rebound serve: %s\n", err.msg);
		goto out;
	}
	/* Every thread inherits the mask; only sigtimedwait takes them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* A log reader that went away must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	classify_global_init();
	log_info("serve: rebound %s starting, database %s, spool %s",
	    REBOUND_VERSION, config_get(sv.cfg, "store.db"), sv.spool);
	for (i = 0; i < N_COMPONENTS; i++) {
		if (components[i]->prepare != NULL &&
		    components[i]->prepare(&sv, &sv.state[i], &err) < 0) {
			log_error(
			    "serve: %s: %s", components[i]->name, err.msg);
			started = i + 1;
			goto stop;
		}
	}
	started = N_COMPONENTS;
	if (drop_privileges(config_get(sv.cfg, "serve.user"), &err) < 0 ||
	    serve_pipeline_open(sv.cfg, config_get(sv.cfg, "serve.rules"),
	        on_commit, &sv, &sv.pl, &err) < 0) {
		log_error("serve: %s", err.msg);
		goto stop;
	}
	for (i = 0; i < N_COMPONENTS; i++) {
		if (components[i]->start != NULL &&
		    (components[i]->prepare == NULL || sv.state[i] != NULL) &&
		    components[i]->start(&sv, &sv.state[i], &err) < 0) {
			log_error(
			    "serve: %s: %s", components[i]->name, err.msg);
			goto stop;
		}
	}
	log_info("serve: ready");
	sig = serve_loop(&sv, &set);
	log_info("serve: %s: stopping (up to %us)",
	    sig == SIGINT ? "SIGINT" : "SIGTERM", stop_timeout);
	status = 0;
stop:
	for (i = started; i-- > 0;) {
		if (sv.state[i] != NULL && components[i]->stop != NULL)
			components[i]->stop(sv.state[i], stop_timeout);
		sv.state[i] = NULL;
	}
	if (sv.pl != NULL) {
		uint64_t stored = serve_pipeline_stored(sv.pl);

		serve_pipeline_close(&sv.pl);
		log_info("serve: stopped; %llu messages stored",
		    (unsigned long long)stored);
	}
	classify_global_shutdown();
out:
	serve_log_close();
	for (i = 0; i < sv.n_lists; i++) {
		free(sv.lists[i].copy);
		free(sv.lists[i].items);
	}
	config_free(&sv.cfg);
	free(f);
	return status;
}
