/*
 * serve_maildir: the Maildir watcher as a component of `rebound serve`
 * (serve.maildirs, --maildir DIR).  New mail in DIR/new is stored
 * through serve_store() in batches and only then moved to DIR/cur, so a
 * crash at any moment loses nothing (a message stored but not yet moved
 * is stored again at the next start: idempotent).  Not configured: the
 * component stays off.
 */
#include <stdlib.h>

#include "cli/serve.h"
#include "ingest/ingest.h"

struct serve_maildir {
	struct serve *sv;
	struct maildir_watch *w;
	/* The batch as serve_input, grown to the largest batch. */
	struct serve_input *in;
	size_t cap;
};

static int
store_batch(const struct ingest_message *msgs, size_t n, void *ctx,
    struct rb_error *err)
{
	struct serve_maildir *m = ctx;
	size_t i;

	if (n > m->cap) {
		m->cap = n;
		m->in = xrealloc(m->in, n * sizeof(*m->in));
	}
	for (i = 0; i < n; i++) {
		m->in[i].data = msgs[i].data;
		m->in[i].len = msgs[i].len;
		m->in[i].src.file = msgs[i].path;
		m->in[i].src.index = -1;
		m->in[i].src.via = "maildir";
		m->in[i].src.envelope_to = NULL;
	}
	return serve_store(m->sv, m->in, n, err);
}

static int
maildir_start(struct serve *sv, void **state_r, struct rb_error *err)
{
	struct serve_maildir *m;
	const char **dirs;
	int n = serve_list(sv, "serve.maildirs", &dirs, err);

	if (n <= 0)
		return n; /* none configured: off */
	m = xcalloc(1, sizeof(*m));
	m->sv = sv;
	*state_r = m;
	return maildir_watch_start(dirs, (size_t)n, store_batch, m, &m->w, err);
}

static void
maildir_stop(void *state, unsigned timeout)
{
	struct serve_maildir *m = state;

	(void)timeout; /* the batch being stored finishes; nothing waits */
	if (m->w != NULL)
		log_info("maildir: stopped; %llu messages stored",
		    (unsigned long long)maildir_watch_stored(m->w));
	maildir_watch_stop(&m->w);
	free(m->in);
	free(m);
}

static void
maildir_metrics(void *state, struct http_metrics *m)
{
	struct serve_maildir *md = state;

	if (md->w != NULL)
		http_metrics_add(m, "rebound_messages_received_total",
		    "counter",
		    "feedback messages received since start, by "
		    "source",
		    "source=\"maildir\"", (double)maildir_watch_stored(md->w));
}

const struct serve_component serve_maildir_component = {"maildir", NULL,
    maildir_start, NULL, NULL, maildir_stop, NULL, maildir_metrics};
