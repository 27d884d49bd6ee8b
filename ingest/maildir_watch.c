/*
 * maildir_watch: feedback Maildirs watched with inotify (`rebound serve
 * --maildir`).  One thread: at start, and whenever inotify says so (a
 * message renamed or written into new/, or a queue overflow), new/ of
 * each Maildir is scanned in name order and its messages are handed in
 * batches to the store callback; once it returns 0 (stored for good)
 * each is renamed to cur/NAME:2, (Maildir "seen by a reader").  A crash
 * before the rename stores the message again at the next start: the
 * store is idempotent.  After a failed store the batch stays in new/
 * and is retried after a back-off.  Memory: one batch (MAILDIR_BATCH
 * messages, MAILDIR_BATCH_BYTES).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/ingest.h"

/* Messages and bytes handed to the store at once (one transaction). */
#define MAILDIR_BATCH 256u
#define MAILDIR_BATCH_BYTES (32u * 1024 * 1024)
/* Back-off after a failed store: 1 s doubling to a minute. */
#define MAILDIR_BACKOFF_MIN_MS 1000
#define MAILDIR_BACKOFF_MAX_MS 60000
/* inotify events read at once. */
#define MAILDIR_EVENT_BUF 16384

struct mw_dir {
	char *path; /* the Maildir */
	char *new_dir, *cur_dir;
	int wd;
};

struct mw_item {
	unsigned char *data;
	size_t len;
	int truncated;
	char *path; /* DIR/new/NAME */
	size_t dir;
	char *name;
};

struct maildir_watch {
	struct mw_dir *dirs;
	size_t n_dirs;
	maildir_store_fn *fn;
	void *ctx;
	int ino;
	int evfd;
	pthread_t thread;
	int started;
	struct mw_item batch[MAILDIR_BATCH];
	size_t n_batch, batch_bytes;
	struct mw_item *reading; /* ingest_read_path's target */
	uint64_t stored, failures;
	pthread_mutex_t mu;
	atomic_int stop;
};

static void
item_clear(struct mw_item *it)
{
	free(it->data);
	free(it->path);
	free(it->name);
	memset(it, 0, sizeof(*it));
}

static int
on_message(const struct ingest_message *m, void *ctx)
{
	struct maildir_watch *w = ctx;
	struct mw_item *it = w->reading;

	/* A Maildir file is one message; a second (mbox-like) is cut. */
	if (it->data != NULL)
		return -1;
	it->data = xmalloc(m->len + 1);
	memcpy(it->data, m->data, m->len);
	it->len = m->len;
	it->truncated = m->truncated;
	return 0;
}

static void
on_read_error(const struct rb_error *err, void *ctx)
{
	(void)ctx;
	log_warn("maildir: %s", err->msg);
}

/* Store the batch, then move its files to cur/.  0, or -1 (kept). */
static int
flush_batch(struct maildir_watch *w)
{
	struct ingest_message msgs[MAILDIR_BATCH];
	struct rb_error err;
	size_t i, moved = 0;
	int rc = 0;

	if (w->n_batch == 0)
		return 0;
	for (i = 0; i < w->n_batch; i++) {
		msgs[i].data = w->batch[i].data;
		msgs[i].len = w->batch[i].len;
		msgs[i].path = w->batch[i].path;
		msgs[i].index = -1;
		msgs[i].truncated = w->batch[i].truncated;
	}
	err.code = 0;
	err.msg[0] = '\0';
	if (w->fn(msgs, w->n_batch, w->ctx, &err) < 0) {
		log_warn("maildir: storing %zu messages failed: %s; they stay "
		         "in new/ and are retried",
		    w->n_batch, err.msg);
		rc = -1;
	} else {
		for (i = 0; i < w->n_batch; i++) {
			const struct mw_item *it = &w->batch[i];
			const struct mw_dir *d = &w->dirs[it->dir];
			char to[PATH_MAX];
			int n;

			/* Maildir: "NAME:2,FLAGS" in cur/ (no flags yet). */
			n = strstr(it->name, ":2,") != NULL
			        ? snprintf(to, sizeof(to), "%s/%s", d->cur_dir,
			              it->name)
			        : snprintf(to, sizeof(to), "%s/%s:2,",
			              d->cur_dir, it->name);
			if (n < 0 || (size_t)n >= sizeof(to) ||
			    rename(it->path, to) < 0)
				log_error("maildir: %s stored but not moved to "
				          "cur/: %s",
				    it->path,
				    n < 0 || (size_t)n >= sizeof(to)
				        ? "name too long"
				        : strerror(errno));
			else
				moved++;
		}
		pthread_mutex_lock(&w->mu);
		w->stored += w->n_batch;
		pthread_mutex_unlock(&w->mu);
		log_info("maildir: %zu messages stored, %zu moved to cur/",
		    w->n_batch, moved);
	}
	for (i = 0; i < w->n_batch; i++)
		item_clear(&w->batch[i]);
	w->n_batch = 0;
	w->batch_bytes = 0;
	return rc;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Scan new/ of every Maildir; 0, or -1 after a failed store. */
static int
scan_all(struct maildir_watch *w)
{
	size_t d;

	for (d = 0; d < w->n_dirs; d++) {
		DIR *dh = opendir(w->dirs[d].new_dir);
		struct dirent *de;
		char **names = NULL;
		size_t n = 0, cap = 0, i;
		int rc = 0;

		if (dh == NULL) {
			log_warn("maildir: %s: %s", w->dirs[d].new_dir,
			    strerror(errno));
			continue;
		}
		while ((de = readdir(dh)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				names = xrealloc(names, cap * sizeof(*names));
			}
			names[n++] = xstrdup(de->d_name);
		}
		closedir(dh);
		if (n > 0)
			qsort(names, n, sizeof(*names), cmp_names);
		for (i = 0; i < n && rc == 0 && !atomic_load(&w->stop); i++) {
			struct mw_item *it = &w->batch[w->n_batch];
			char path[PATH_MAX];
			struct stat st;

			if (snprintf(path, sizeof(path), "%s/%s",
			        w->dirs[d].new_dir,
			        names[i]) >= (int)sizeof(path) ||
			    stat(path, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			w->reading = it;
			if (ingest_read_path(
			        path, on_message, on_read_error, w) < 0 ||
			    it->data == NULL) {
				item_clear(it);
				continue; /* vanished or unreadable: logged */
			}
			it->path = xstrdup(path);
			it->name = xstrdup(names[i]);
			it->dir = d;
			w->batch_bytes += it->len;
			w->n_batch++;
			if (w->n_batch == MAILDIR_BATCH ||
			    w->batch_bytes >= MAILDIR_BATCH_BYTES)
				rc = flush_batch(w);
		}
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
		if (rc < 0)
			return -1;
	}
	return flush_batch(w);
}

/* Read the pending inotify events; 1 when new/ changed. */
static int
read_events(struct maildir_watch *w)
{
	_Alignas(struct inotify_event) char buf[MAILDIR_EVENT_BUF];
	int changed = 0;

	for (;;) {
		ssize_t n = read(w->ino, buf, sizeof(buf));
		char *p;

		if (n <= 0)
			break;
		for (p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			if (ev->mask &
			    (IN_MOVED_TO | IN_CLOSE_WRITE | IN_Q_OVERFLOW))
				changed = 1;
			if (ev->mask & IN_IGNORED)
				log_warn("maildir: a watched new/ went away");
			p += sizeof(*ev) + ev->len;
		}
	}
	return changed;
}

static void *
watch_main(void *arg)
{
	struct maildir_watch *w = arg;
	int backoff = 0, pending = 1;

	for (;;) {
		struct pollfd pf[2];
		int r;

		if (pending) {
			pending = 0;
			if (scan_all(w) < 0) {
				backoff = backoff == 0 ? MAILDIR_BACKOFF_MIN_MS
				          : backoff * 2 > MAILDIR_BACKOFF_MAX_MS
				              ? MAILDIR_BACKOFF_MAX_MS
				              : backoff * 2;
				pthread_mutex_lock(&w->mu);
				w->failures++;
				pthread_mutex_unlock(&w->mu);
			} else
				backoff = 0;
		}
		pf[0].fd = w->ino;
		pf[0].events = POLLIN;
		pf[1].fd = w->evfd;
		pf[1].events = POLLIN;
		r = poll(pf, 2, backoff > 0 ? backoff : -1);
		if (r < 0 && errno != EINTR) {
			log_error("maildir: poll: %s", strerror(errno));
			break;
		}
		if (r > 0 && (pf[1].revents & POLLIN))
			break;
		if (r > 0 && (pf[0].revents & POLLIN) && read_events(w))
			pending = 1;
		if (r == 0 && backoff > 0)
			pending = 1; /* retry the failed batch */
	}
	return NULL;
}

static int
is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int
maildir_watch_start(const char *const *dirs, size_t n, maildir_store_fn *fn,
    void *ctx, struct maildir_watch **w_r, struct rb_error *err)
{
	struct maildir_watch *w = xcalloc(1, sizeof(*w));
	size_t i;

	w->fn = fn;
	w->ctx = ctx;
	w->evfd = -1;
	pthread_mutex_init(&w->mu, NULL);
	w->dirs = xcalloc(n > 0 ? n : 1, sizeof(*w->dirs));
	w->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->ino < 0 || w->evfd < 0) {
		rb_error_set(
		    err, errno, "maildir: inotify: %s", strerror(errno));
		goto fail;
	}
	for (i = 0; i < n; i++) {
		struct mw_dir *d = &w->dirs[w->n_dirs];
		size_t len = strlen(dirs[i]) + 5;

		d->path = xstrdup(dirs[i]);
		d->new_dir = xmalloc(len);
		d->cur_dir = xmalloc(len);
		(void)snprintf(d->new_dir, len, "%s/new", dirs[i]);
		(void)snprintf(d->cur_dir, len, "%s/cur", dirs[i]);
		w->n_dirs++;
		if (!is_dir(d->new_dir) || !is_dir(d->cur_dir)) {
			rb_error_set(err, ENOTDIR,
			    "maildir: %s is not a Maildir (no new/ and cur/)",
			    dirs[i]);
			goto fail;
		}
		/* Deliveries write tmp/ then rename into new/ (MOVED_TO);
		 * some write new/ in place (CLOSE_WRITE). */
		d->wd = inotify_add_watch(w->ino, d->new_dir,
		    IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR);
		if (d->wd < 0) {
			rb_error_set(err, errno, "maildir: watch %s: %s",
			    d->new_dir, strerror(errno));
			goto fail;
		}
	}
	if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
		rb_error_set(err, EAGAIN, "maildir: cannot start a thread");
		goto fail;
	}
	w->started = 1;
	for (i = 0; i < w->n_dirs; i++)
		log_info("maildir: watching %s", w->dirs[i].path);
	*w_r = w;
	return 0;
fail:
	maildir_watch_stop(&w);
	return -1;
}

uint64_t
maildir_watch_stored(struct maildir_watch *w)
{
	uint64_t n;

	pthread_mutex_lock(&w->mu);
	n = w->stored;
	pthread_mutex_unlock(&w->mu);
	return n;
}

void
maildir_watch_stop(struct maildir_watch **wp)
{
	struct maildir_watch *w = *wp;
	size_t i;

	if (w == NULL)
		return;
	if (w->started) {
		uint64_t one = 1;

		atomic_store(&w->stop, 1);
		if (write(w->evfd, &one, sizeof(one)) < 0)
			rb_panic("maildir: eventfd: %s", strerror(errno));
		pthread_join(w->thread, NULL);
	}
	for (i = 0; i < w->n_batch; i++)
		item_clear(&w->batch[i]);
	for (i = 0; i < w->n_dirs; i++) {
		free(w->dirs[i].path);
		free(w->dirs[i].new_dir);
		free(w->dirs[i].cur_dir);
	}
	free(w->dirs);
	if (w->ino >= 0)
		(void)close(w->ino);
	if (w->evfd >= 0)
		(void)close(w->evfd);
	pthread_mutex_destroy(&w->mu);
	free(w);
	*wp = NULL;
}
