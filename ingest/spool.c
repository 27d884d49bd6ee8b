/*
 * spool: the durable queue between "250 OK" and the store.
 *
 * Files, in one directory: segments "m.<id>", each an append-only log
 * of the messages of many commit rounds; "bad.<id>" for a segment found
 * corrupt (kept for a human); "lock".  (tmp/ held the temporary files
 * of an older format; leftovers there are removed at open.)
 * A segment is a sequence of records: an envelope header (text lines,
 * values %-escaped, a CRC-32 of the message, the message size, a blank
 * line), then the message.
 *
 * Group commit: the committer thread takes every message submitted
 * since its last round, appends them all to the open segment and
 * fdatasyncs it: one data sync for all the sessions that finished at
 * that moment (the file's new size goes with it).  Only then are they
 * committed and their clients told 250.  A new segment is made when
 * the open one is large or old (SPOOL_SEGMENT_BYTES, _AGE): created,
 * then the directory fsync'd before any record in it counts.  A crash
 * in the middle of a round leaves an unfinished record at the end of
 * the segment, whose client never had its 250: the next open ignores
 * such a tail (a record cut short, or zeros); a record that is whole
 * but fails its CRC, or garbage, makes the segment set aside once its
 * good records are delivered.
 *
 * The pipeline thread hands committed messages, at most deliver_batch at
 * a time, to the deliver callback, and deletes a segment once it is
 * closed and all its messages were delivered (an idle open segment is
 * closed after SPOOL_IDLE_CLOSE_MS); after a failure it retries the
 * same batch after a back-off.  A crash between a delivery and the
 * deletion of its segment delivers that segment's messages again at the
 * next open (at-least-once; the store is idempotent).  Message bytes
 * stay in memory for the pipeline up to max_memory, beyond which they
 * are read back from their segment.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "ingest/ingest.h"

/* First line of a record: the format version. */
#define SPOOL_MAGIC "REBOUND-SPOOL 1\n"
/* Header bytes: 256-octet paths, %-escaped (x3), times max_recipients
 * would be large; a header past this is corrupt, not big. */
#define SPOOL_MAX_HEADER (4u * 1024 * 1024)
/* Header bytes read at once when scanning a segment at open. */
#define SPOOL_SCAN_CHUNK (64u * 1024)
/* A commit round takes at most this many messages or bytes (a bigger
 * message makes a round of its own): the rest waits for the next round,
 * so no round holds its sessions for long. */
#define SPOOL_ROUND_MAX 1024u
#define SPOOL_ROUND_MAX_BYTES (64u * 1024 * 1024)
/* Committer threads: one, the only writer of the open segment (rounds
 * append in order, so an unfinished record can only be the last). */
#define SPOOL_COMMITTERS 1
/* A new segment after this many bytes or seconds: a segment is deleted
 * only when all its messages are stored, so a segment that lived long
 * would be delivered again in full after a crash; a new one costs one
 * directory fsync. */
#define SPOOL_SEGMENT_BYTES (16u * 1024 * 1024)
#define SPOOL_SEGMENT_AGE 2
/* Before a round, the committer waits up to this long (microseconds)
 * for messages of the other open sessions (spool_set_expected): with
 * many sessions they otherwise split into two groups that take turns,
 * each waiting for the other's fsync (~2 ms on a VM disk); waiting for
 * the stragglers makes one group and about doubles the messages per
 * fsync.  A lone session never waits (it is all that is expected). */
#define SPOOL_GATHER_US 1000u
/* An open segment whose messages are all delivered is closed (and
 * deleted) after this long without a round: an idle spool is empty. */
#define SPOOL_IDLE_CLOSE_MS 100u
/* iovecs per writev (IOV_MAX is 1024 on Linux). */
#define SPOOL_IOV_BATCH 512
/* Back-off after a failed delivery: from 1 s, doubling, to a minute
 * (the store is down or the disk full; senders retry for days). */
#define SPOOL_BACKOFF_MIN_MS 1000u
#define SPOOL_BACKOFF_MAX_MS 60000u
/* Spool file names: "bad." + id. */
#define SPOOL_NAME_MAX (SPOOL_ID_SIZE + 8)

/* A segment file and how many of its messages are not delivered yet. */
struct spool_seg {
	struct spool_seg *next; /* in the list of segments to delete */
	char id[SPOOL_ID_SIZE];
	size_t pending;
	int bad;  /* a record could not be read back: keep the file */
	int open; /* the committer appends to it: not deleted yet */
};

struct spool_item {
	struct spool_item *next;
	char id[SPOOL_ID_SIZE];
	unsigned char *hdr; /* the serialized envelope */
	size_t hdr_len;
	unsigned char *data; /* the message; NULL: read it from seg */
	size_t len;
	struct spool_seg *seg; /* once committed */
	off_t offset;          /* of the message bytes in seg */
	void *tag;
	int ok;
};

struct itemq {
	struct spool_item *head, *tail;
	size_t n;
};

struct spool {
	char *dir;
	int dirfd;
	int tmpfd; /* dir/tmp */
	int lockfd;
	smtp_deliver_fn *deliver;
	void *deliver_ctx;
	spool_sync_fn *sync;
	unsigned batch;
	size_t max_memory;
	spool_notify_fn *notify;
	void *notify_ctx;

	pthread_mutex_t mu;
	pthread_cond_t commit_cv;
	pthread_cond_t deliver_cv;
	struct itemq submitted; /* -> committer */
	struct itemq done;      /* committer -> spool_collect */
	struct itemq queued;    /* -> pipeline */
	size_t queued_memory;   /* bytes of data held by queued */
	uint64_t last_id;       /* ids are increasing microseconds */
	int stop_commit;
	int stop_deliver;
	struct timespec drain_deadline;
	struct spool_stats st;
	pthread_t committer[SPOOL_COMMITTERS];
	pthread_t pipeline;
	int n_committers; /* started */
	int pipeline_started;
	/* The open segment (committer only, but seg->open/pending under
	 * mu). */
	struct spool_seg *cur;
	struct spool_seg *deleting; /* delivered: to delete after a sync */
	unsigned expected;          /* senders at most (under mu) */
	int cur_fd;
	off_t cur_size;
	time_t cur_born;
};

static void
q_push(struct itemq *q, struct spool_item *it)
{
	it->next = NULL;
	if (q->tail != NULL)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->n++;
}

static struct spool_item *
q_pop(struct itemq *q)
{
	struct spool_item *it = q->head;

	if (it == NULL)
		return NULL;
	q->head = it->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->n--;
	it->next = NULL;
	return it;
}

/* Put items[0..n) (in order) back at the head of q. */
static void
q_unshift_list(struct itemq *q, struct spool_item **items, size_t n)
{
	size_t i;

	for (i = n; i-- > 0;) {
		items[i]->next = q->head;
		q->head = items[i];
		if (q->tail == NULL)
			q->tail = items[i];
		q->n++;
	}
}

static void
item_free(struct spool_item *it)
{
	free(it->hdr);
	free(it->data);
	free(it);
}

static void
spool_name(char *out, size_t outlen, const char *prefix, const char *id)
{
	int n = snprintf(out, outlen, "%s.%s", prefix, id);

	rb_assert(n > 0 && (size_t)n < outlen);
}

static struct timespec ts_after(unsigned ms);
static struct timespec ts_after_us(unsigned us);

/* ---- the header --------------------------------------------------------- */

/* CRC-32 of the message (zlib's: several GB/s), to tell a damaged
 * record from a good one at replay. */
static uint32_t
crc32_of(const unsigned char *p, size_t n)
{
	uLong c = crc32(0L, Z_NULL, 0);

	/* zlib takes uInt lengths: feed a large message in pieces. */
	while (n > 0) {
		uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;

		c = crc32(c, p, k);
		p += k;
		n -= k;
	}
	return (uint32_t)c;
}

/* Octets that would break a header line or a field are %XX. */
static int
escape_into(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c == '%' || c == 0x7f) {
			if (buf_putc(b, '%') < 0 ||
			    buf_putc(b, hex[c >> 4]) < 0 ||
			    buf_putc(b, hex[c & 15]) < 0)
				return -1;
		} else if (buf_putc(b, c) < 0)
			return -1;
	}
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Unescape s[0..n) into a new string; NULL when malformed. */
static char *
unescape(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			int h, l;

			if (i + 2 >= n) {
				free(out);
				return NULL;
			}
			h = hexval((unsigned char)s[i + 1]);
			l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0)) {
				free(out);
				return NULL;
			}
			out[o++] = (char)(h << 4 | l);
			i += 2;
		} else
			out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

static unsigned char *
header_make(const char *id, const struct smtp_envelope *env,
    const unsigned char *data, size_t len, size_t *hdr_len_r)
{
	struct buf b;
	size_t i;
	int r = 0;

	buf_init(&b, SPOOL_MAX_HEADER);
	r |= buf_printf(&b, SPOOL_MAGIC "id %s\nsession ", id);
	r |= escape_into(&b, env->session_id);
	r |= buf_printf(&b, "\nclient ");
	r |= escape_into(&b, env->client);
	r |= buf_printf(&b, "\nhelo ");
	r |= escape_into(&b, env->helo);
	r |= buf_printf(&b, "\nfrom ");
	r |= escape_into(&b, env->mail_from);
	r |= buf_printf(&b, "\n");
	for (i = 0; i < env->n_rcpts; i++) {
		r |= buf_printf(&b, "rcpt %d ", (int)env->rcpts[i].verp);
		r |= escape_into(&b, env->rcpts[i].address);
		r |= buf_printf(&b, "\n");
	}
	r |= buf_printf(&b,
	    "received %lld\nutf8 %d\n8bit %d\ntls %d\ncrc %lu\nsize %zu\n\n",
	    (long long)env->received, env->smtputf8 ? 1 : 0,
	    env->eightbit ? 1 : 0, env->tls ? 1 : 0,
	    (unsigned long)crc32_of(data, len), len);
	/* An envelope is bounded by the session's limits. */
	rb_assert(r == 0);
	return buf_take(&b, hdr_len_r);
}

/* A parsed header: the envelope and the strings it points to. */
struct parsed {
	struct smtp_envelope env;
	char *id, *session, *client, *helo, *from;
	struct smtp_rcpt *rcpts; /* .address points into addrs */
	char **addrs;
	size_t n_rcpts;
	uint64_t size;
	uint32_t crc;
	int have_crc;   /* older records have none */
	size_t hdr_len; /* bytes up to and including the blank line */
};

static void
parsed_free(struct parsed *p)
{
	size_t i;

	for (i = 0; i < p->n_rcpts; i++)
		free(p->addrs[i]);
	free(p->addrs);
	free(p->rcpts);
	free(p->id);
	free(p->session);
	free(p->client);
	free(p->helo);
	free(p->from);
	memset(p, 0, sizeof(*p));
}

static int
set_field(char **field, const char *v, size_t n)
{
	if (*field != NULL)
		return -1;
	*field = unescape(v, n);
	return *field != NULL ? 0 : -1;
}

/*
 * Parse the header at the start of p[0..len).  Returns 0 with *out
 * filled (free with parsed_free), -1 when it is not a complete header.
 */
static int
header_parse(const unsigned char *p, size_t len, struct parsed *out)
{
	size_t off, ml = strlen(SPOOL_MAGIC);
	uint64_t v;
	int flags_utf8 = 0, flags_8bit = 0, flags_tls = 0, have_size = 0;

	memset(out, 0, sizeof(*out));
	if (len < ml || memcmp(p, SPOOL_MAGIC, ml) != 0)
		return -1;
	off = ml;
	for (;;) {
		const unsigned char *nl = memchr(p + off, '\n', len - off);
		const char *line = (const char *)p + off, *val, *sp;
		size_t n, kn, vn;
		char num[32];

		if (nl == NULL)
			goto bad;
		n = (size_t)(nl - (p + off));
		off += n + 1;
		if (n == 0)
			break;
		sp = memchr(line, ' ', n);
		if (sp == NULL)
			goto bad;
		kn = (size_t)(sp - line);
		val = sp + 1;
		vn = n - kn - 1;
#define KEY(k) (kn == strlen(k) && memcmp(line, k, kn) == 0)
		if (KEY("id")) {
			if (set_field(&out->id, val, vn) < 0)
				goto bad;
		} else if (KEY("session")) {
			if (set_field(&out->session, val, vn) < 0)
				goto bad;
		} else if (KEY("client")) {
			if (set_field(&out->client, val, vn) < 0)
				goto bad;
		} else if (KEY("helo")) {
			if (set_field(&out->helo, val, vn) < 0)
				goto bad;
		} else if (KEY("from")) {
			if (set_field(&out->from, val, vn) < 0)
				goto bad;
		} else if (KEY("rcpt")) {
			char *a;

			if (vn < 3 || val[0] < '0' || val[0] > '3' ||
			    val[1] != ' ')
				goto bad;
			a = unescape(val + 2, vn - 2);
			if (a == NULL)
				goto bad;
			out->rcpts = xrealloc(out->rcpts,
			    (out->n_rcpts + 1) * sizeof(*out->rcpts));
			out->addrs = xrealloc(out->addrs,
			    (out->n_rcpts + 1) * sizeof(*out->addrs));
			out->addrs[out->n_rcpts] = a;
			out->rcpts[out->n_rcpts].address = a;
			out->rcpts[out->n_rcpts].verp =
			    (enum smtp_verp)(val[0] - '0');
			out->n_rcpts++;
		} else {
			if (vn == 0 || vn >= sizeof(num))
				goto bad;
			memcpy(num, val, vn);
			num[vn] = '\0';
			if (parse_u64(num, &v) < 0)
				goto bad;
			if (KEY("received"))
				out->env.received = (time_t)v;
			else if (KEY("utf8"))
				flags_utf8 = v != 0;
			else if (KEY("8bit"))
				flags_8bit = v != 0;
			else if (KEY("tls"))
				flags_tls = v != 0;
			else if (KEY("crc") && v <= 0xffffffffu) {
				out->crc = (uint32_t)v;
				out->have_crc = 1;
			} else if (KEY("size")) {
				out->size = v;
				have_size = 1;
			} else
				goto bad;
		}
#undef KEY
	}
	if (out->id == NULL || out->session == NULL || out->client == NULL ||
	    out->helo == NULL || out->from == NULL || out->n_rcpts == 0 ||
	    !have_size)
		goto bad;
	out->hdr_len = off;
	out->env.session_id = out->session;
	out->env.client = out->client;
	out->env.helo = out->helo;
	out->env.mail_from = out->from;
	out->env.rcpts = out->rcpts;
	out->env.n_rcpts = out->n_rcpts;
	out->env.smtputf8 = flags_utf8;
	out->env.eightbit = flags_8bit;
	out->env.tls = flags_tls;
	for (size_t i = 0; i < out->n_rcpts; i++) {
		if (out->rcpts[i].verp == SMTP_VERP_UNTRUSTED)
			out->env.untrusted = 1;
	}
	return 0;
bad:
	parsed_free(out);
	return -1;
}

/* ---- committing --------------------------------------------------------- */

/* writev all of iov[0..n); 0 or -1 (errno set). */
static int
writev_all(int fd, struct iovec *iov, size_t n)
{
	size_t i = 0;

	while (i < n) {
		int cnt =
		    (int)(n - i > SPOOL_IOV_BATCH ? SPOOL_IOV_BATCH : n - i);
		ssize_t w = writev(fd, iov + i, cnt);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (i < n && (size_t)w >= iov[i].iov_len) {
			w -= (ssize_t)iov[i].iov_len;
			i++;
		}
		if (i < n) {
			iov[i].iov_base = (char *)iov[i].iov_base + w;
			iov[i].iov_len -= (size_t)w;
		}
	}
	return 0;
}

static void set_aside(struct spool *sp, const char *id, const char *why);

/* A closed segment whose messages are all delivered: deleted (or set
 * aside when one could not be read), freed.  Called with mu held. */
static void
seg_done(struct spool *sp, struct spool_seg *seg)
{
	char name[SPOOL_NAME_MAX];

	if (seg->bad)
		set_aside(sp, seg->id, "damaged");
	else if (sp->sync != NULL) {
		/* Deleted by the pipeline thread after the sync. */
		seg->next = sp->deleting;
		sp->deleting = seg;
		pthread_cond_signal(&sp->deliver_cv);
		return;
	} else {
		/* No directory fsync: an unlink lost in a crash is a second,
		 * idempotent delivery. */
		spool_name(name, sizeof(name), "m", seg->id);
		if (unlinkat(sp->dirfd, name, 0) < 0 && errno != ENOENT)
			log_error(
			    "spool %s: %s: %s", sp->dir, name, strerror(errno));
	}
	free(seg);
}

/*
 * Delete the delivered segments once the sync callback made what was
 * delivered durable.  Called without mu, by the pipeline thread (or at
 * close); on a failed sync they wait for the next one.
 */
static int
delete_delivered(struct spool *sp)
{
	struct spool_seg *list, *seg;
	struct rb_error err;
	char name[SPOOL_NAME_MAX];

	pthread_mutex_lock(&sp->mu);
	list = sp->deleting;
	sp->deleting = NULL;
	pthread_mutex_unlock(&sp->mu);
	if (list == NULL)
		return 0;
	err.code = 0;
	err.msg[0] = '\0';
	if (sp->sync(sp->deliver_ctx, &err) < 0) {
		log_error("spool %s: what was stored is not durable yet (%s): "
		          "its segments stay",
		    sp->dir, err.msg);
		pthread_mutex_lock(&sp->mu);
		for (seg = list; seg->next != NULL; seg = seg->next)
			;
		seg->next = sp->deleting;
		sp->deleting = list;
		pthread_mutex_unlock(&sp->mu);
		return -1;
	}
	while ((seg = list) != NULL) {
		list = seg->next;
		spool_name(name, sizeof(name), "m", seg->id);
		if (unlinkat(sp->dirfd, name, 0) < 0 && errno != ENOENT)
			log_error(
			    "spool %s: %s: %s", sp->dir, name, strerror(errno));
		free(seg);
	}
	return 0;
}

/* Close the open segment (committer; called with mu held): done at
 * once when all its messages are delivered, else by the last one. */
static void
seg_close_cur(struct spool *sp)
{
	if (sp->cur == NULL)
		return;
	(void)close(sp->cur_fd);
	sp->cur_fd = -1;
	sp->cur->open = 0;
	if (sp->cur->pending == 0)
		seg_done(sp, sp->cur);
	sp->cur = NULL;
}

/* A new open segment named id: created, the directory synced (its
 * name must survive a crash before any record in it is acknowledged).
 * 0, or -1 with *what_r saying which step failed (errno set). */
static int
seg_open_new(struct spool *sp, const char *id, const char **what_r)
{
	char name[SPOOL_NAME_MAX];
	struct spool_seg *seg;
	int fd;

	spool_name(name, sizeof(name), "m", id);
	*what_r = "create";
	fd = openat(sp->dirfd, name,
	    O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (fsync(sp->dirfd) < 0) {
		int e = errno;

		*what_r = "fsync of the directory";
		(void)close(fd);
		(void)unlinkat(sp->dirfd, name, 0);
		errno = e;
		return -1;
	}
	seg = xcalloc(1, sizeof(*seg));
	memcpy(seg->id, id, sizeof(seg->id));
	seg->open = 1;
	pthread_mutex_lock(&sp->mu);
	sp->cur = seg;
	pthread_mutex_unlock(&sp->mu);
	sp->cur_fd = fd;
	sp->cur_size = 0;
	sp->cur_born = time(NULL);
	return 0;
}

/*
 * Append items[0..n) to the open segment (a new one when there is none,
 * or it is large or old) and fdatasync it.  Sets ok and, on success,
 * seg and offset of every item (pending counted under mu by the
 * caller).  After a failure the segment is closed (nothing more goes
 * after a record that may be half written) and cut back.  Errors are
 * logged here: the committer is the layer that decides (the clients get
 * 451).
 */
static void
commit_round(struct spool *sp, struct spool_item **items, size_t n)
{
	struct iovec *iov = xcalloc(2 * n, sizeof(*iov));
	size_t i, k = 0;
	off_t off;
	int ok = 0;
	const char *what = "write";

	if (sp->cur != NULL &&
	    (sp->cur_size >= (off_t)SPOOL_SEGMENT_BYTES ||
	        time(NULL) - sp->cur_born >= SPOOL_SEGMENT_AGE)) {
		pthread_mutex_lock(&sp->mu);
		seg_close_cur(sp);
		pthread_mutex_unlock(&sp->mu);
	}
	if (sp->cur == NULL && seg_open_new(sp, items[0]->id, &what) < 0)
		goto out;
	off = sp->cur_size;
	for (i = 0; i < n; i++) {
		iov[k].iov_base = items[i]->hdr;
		iov[k++].iov_len = items[i]->hdr_len;
		off += (off_t)items[i]->hdr_len;
		items[i]->offset = off;
		if (items[i]->len > 0) {
			iov[k].iov_base = items[i]->data;
			iov[k++].iov_len = items[i]->len;
			off += (off_t)items[i]->len;
		}
	}
	what = "write";
	if (writev_all(sp->cur_fd, iov, k) == 0) {
		what = "fdatasync";
		if (fdatasync(sp->cur_fd) == 0)
			ok = 1;
	}
	if (!ok) {
		int e = errno;

		/* Best effort: the next open ignores a cut record anyway. */
		if (ftruncate(sp->cur_fd, sp->cur_size) < 0)
			log_warn("spool %s: m.%s: cannot cut back: %s", sp->dir,
			    sp->cur->id, strerror(errno));
		pthread_mutex_lock(&sp->mu);
		seg_close_cur(sp);
		pthread_mutex_unlock(&sp->mu);
		errno = e;
	} else
		sp->cur_size = off;
out:
	if (!ok)
		log_error("spool %s: %s m.%s: %s", sp->dir, what, items[0]->id,
		    strerror(errno));
	free(iov);
	for (i = 0; i < n; i++) {
		items[i]->ok = ok;
		items[i]->seg = ok ? sp->cur : NULL;
	}
}

/* A result for spool_collect: the item itself, without its bytes. */
static struct spool_item *
result_of(const struct spool_item *it)
{
	struct spool_item *r = xcalloc(1, sizeof(*r));

	memcpy(r->id, it->id, sizeof(r->id));
	r->tag = it->tag;
	r->ok = it->ok;
	return r;
}

static void *
committer_main(void *arg)
{
	struct spool *sp = arg;
	struct spool_item *items[SPOOL_ROUND_MAX];

	pthread_mutex_lock(&sp->mu);
	for (;;) {
		size_t n = 0, i, bytes = 0;

		while (sp->submitted.n == 0 && !sp->stop_commit) {
			struct timespec until;

			if (sp->cur == NULL || sp->cur->pending > 0) {
				/* Delivering: seg_release wakes us. */
				pthread_cond_wait(&sp->commit_cv, &sp->mu);
				continue;
			}
			/* All delivered: close the segment when idle. */
			until = ts_after(SPOOL_IDLE_CLOSE_MS);
			if (pthread_cond_timedwait(
			        &sp->commit_cv, &sp->mu, &until) == ETIMEDOUT &&
			    sp->submitted.n == 0 && sp->cur != NULL &&
			    sp->cur->pending == 0)
				seg_close_cur(sp);
		}
		if (sp->submitted.n == 0)
			break;
		if (sp->submitted.n < sp->expected && !sp->stop_commit) {
			struct timespec until = ts_after_us(SPOOL_GATHER_US);

			while (sp->submitted.n < sp->expected &&
			       !sp->stop_commit &&
			       pthread_cond_timedwait(&sp->commit_cv, &sp->mu,
			           &until) != ETIMEDOUT)
				;
		}
		while (sp->submitted.head != NULL && n < SPOOL_ROUND_MAX &&
		       (n == 0 || bytes + sp->submitted.head->len <=
		                      SPOOL_ROUND_MAX_BYTES)) {
			items[n] = q_pop(&sp->submitted);
			bytes += items[n++]->len;
		}
		pthread_mutex_unlock(&sp->mu);

		commit_round(sp, items, n);

		pthread_mutex_lock(&sp->mu);
		sp->st.commit_rounds++;
		if (items[0]->ok)
			items[0]->seg->pending += n;
		for (i = 0; i < n; i++) {
			struct spool_item *it = items[i];

			q_push(&sp->done, result_of(it));
			if (!it->ok) {
				sp->st.commit_failures++;
				sp->st.backlog--;
				item_free(it);
				continue;
			}
			sp->st.committed++;
			it->tag = NULL;
			if (sp->queued_memory + it->len > sp->max_memory) {
				free(it->data); /* read back when due */
				it->data = NULL;
			} else
				sp->queued_memory += it->len;
			q_push(&sp->queued, it);
		}
		sp->st.memory -= bytes;
		pthread_cond_signal(&sp->deliver_cv);
		pthread_mutex_unlock(&sp->mu);
		if (sp->notify != NULL)
			sp->notify(sp->notify_ctx);
		pthread_mutex_lock(&sp->mu);
	}
	pthread_mutex_unlock(&sp->mu);
	return NULL;
}

/* ---- delivering --------------------------------------------------------- */

/* Read len bytes at off of segment id; caller frees. NULL on error. */
static unsigned char *
read_back(struct spool *sp, const char *id, off_t off, size_t len)
{
	char name[SPOOL_NAME_MAX];
	unsigned char *p;
	size_t got = 0;
	int fd;

	spool_name(name, sizeof(name), "m", id);
	fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	p = xmalloc(len + 1);
	while (got < len) {
		ssize_t r = pread(fd, p + got, len - got, off + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	(void)close(fd);
	if (got < len) {
		free(p);
		if (errno == 0)
			errno = EIO;
		return NULL;
	}
	return p;
}

/* Move a segment aside so that it is neither lost nor retried. */
static void
set_aside(struct spool *sp, const char *id, const char *why)
{
	char from[SPOOL_NAME_MAX], to[SPOOL_NAME_MAX];

	spool_name(from, sizeof(from), "m", id);
	spool_name(to, sizeof(to), "bad", id);
	log_error("spool %s: %s: %s; moved to %s", sp->dir, from, why, to);
	(void)renameat(sp->dirfd, from, sp->dirfd, to);
}

/* One message of this batch of the pipeline is done with (delivered or
 * unreadable): the last one of a segment deletes it.  Called with the
 * lock held. */
static void
seg_release(struct spool *sp, struct spool_seg *seg)
{
	rb_assert(seg->pending > 0);
	if (--seg->pending > 0)
		return;
	if (seg->open) {
		/* The committer closes it when idle. */
		pthread_cond_signal(&sp->commit_cv);
		return;
	}
	seg_done(sp, seg);
}

static struct timespec
ts_after(unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static struct timespec
ts_after_us(unsigned us)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)us * 1000L;
	while (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static int
ts_passed(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return now.tv_sec > t->tv_sec ||
	       (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static int
ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static int
past_deadline(const struct spool *sp)
{
	return sp->stop_deliver && ts_passed(&sp->drain_deadline);
}

static void *
pipeline_main(void *arg)
{
	struct spool *sp = arg;
	struct spool_item **items = xcalloc(sp->batch, sizeof(*items));
	struct parsed *hdrs = xcalloc(sp->batch, sizeof(*hdrs));
	unsigned char **read = xcalloc(sp->batch, sizeof(*read));
	struct smtp_message *msgs = xcalloc(sp->batch, sizeof(*msgs));
	char(*paths)[PATH_MAX] = xcalloc(sp->batch, sizeof(*paths));
	unsigned backoff = 0;
	struct timespec retry_at, sync_retry = {0, 0};

	pthread_mutex_lock(&sp->mu);
	for (;;) {
		size_t n = 0, k = 0, i;
		struct rb_error err;
		int r;

		while (sp->queued.n == 0 && !sp->stop_deliver &&
		       !(sp->deleting != NULL && ts_passed(&sync_retry))) {
			if (sp->deleting != NULL)
				(void)pthread_cond_timedwait(
				    &sp->deliver_cv, &sp->mu, &sync_retry);
			else
				pthread_cond_wait(&sp->deliver_cv, &sp->mu);
		}
		if (sp->deleting != NULL && ts_passed(&sync_retry)) {
			pthread_mutex_unlock(&sp->mu);
			if (delete_delivered(sp) < 0)
				sync_retry = ts_after(SPOOL_BACKOFF_MIN_MS);
			pthread_mutex_lock(&sp->mu);
			continue;
		}
		if (sp->queued.n == 0 || past_deadline(sp))
			break;
		/* After a failure, new messages do not hasten the retry. */
		if (backoff > 0 && !ts_passed(&retry_at)) {
			struct timespec until = retry_at;

			if (sp->stop_deliver &&
			    ts_before(&sp->drain_deadline, &until))
				until = sp->drain_deadline;
			(void)pthread_cond_timedwait(
			    &sp->deliver_cv, &sp->mu, &until);
			continue;
		}
		while (n < sp->batch && sp->queued.n > 0)
			items[n++] = q_pop(&sp->queued);
		pthread_mutex_unlock(&sp->mu);

		for (i = 0; i < n; i++) {
			struct spool_item *it = items[i];
			const unsigned char *data = it->data;

			read[k] = NULL;
			if (header_parse(it->hdr, it->hdr_len, &hdrs[k]) < 0)
				rb_panic("spool: a header does not parse");
			if (data == NULL && it->len > 0) {
				read[k] = read_back(
				    sp, it->seg->id, it->offset, it->len);
				if (read[k] == NULL) {
					log_error("spool %s: m.%s: message %s: "
					          "%s",
					    sp->dir, it->seg->id, it->id,
					    strerror(errno));
					parsed_free(&hdrs[k]);
					pthread_mutex_lock(&sp->mu);
					it->seg->bad = 1;
					seg_release(sp, it->seg);
					sp->st.backlog--;
					pthread_mutex_unlock(&sp->mu);
					item_free(it);
					continue;
				}
				data = read[k];
			}
			(void)snprintf(paths[k], sizeof(paths[k]), "%s/m.%s",
			    sp->dir, it->seg->id);
			msgs[k].queue_id = it->id;
			msgs[k].path = paths[k];
			msgs[k].data =
			    data != NULL ? data : (const unsigned char *)"";
			msgs[k].len = it->len;
			msgs[k].env = &hdrs[k].env;
			items[k++] = it;
		}
		err.code = 0;
		err.msg[0] = '\0';
		r = k > 0 ? sp->deliver(msgs, k, sp->deliver_ctx, &err) : 0;
		for (i = 0; i < k; i++) {
			free(read[i]);
			parsed_free(&hdrs[i]);
		}
		pthread_mutex_lock(&sp->mu);
		if (r == 0) {
			for (i = 0; i < k; i++) {
				if (items[i]->data != NULL)
					sp->queued_memory -= items[i]->len;
				seg_release(sp, items[i]->seg);
				item_free(items[i]);
			}
			sp->st.delivered += k;
			sp->st.backlog -= k;
			backoff = 0;
			continue;
		}
		sp->st.deliver_failures++;
		log_warn("spool %s: delivery of %zu messages failed: %s; "
		         "retrying",
		    sp->dir, k, err.msg[0] ? err.msg : "error");
		q_unshift_list(&sp->queued, items, k);
		backoff = backoff == 0 ? SPOOL_BACKOFF_MIN_MS
		          : backoff * 2 > SPOOL_BACKOFF_MAX_MS
		              ? SPOOL_BACKOFF_MAX_MS
		              : backoff * 2;
		retry_at = ts_after(backoff);
	}
	pthread_mutex_unlock(&sp->mu);
	free(items);
	free(hdrs);
	free(read);
	free(msgs);
	free(paths);
	return NULL;
}

/* ---- open, submit, close ------------------------------------------------ */

static int
mkdir_p(const char *dir)
{
	char path[PATH_MAX];
	size_t n = strlen(dir), i;

	if (n == 0 || n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -1;
		path[i] = dir[i];
	}
	return 0;
}

static int
is_id(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return i == SPOOL_ID_SIZE - 1;
}

static int
cmp_ids(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
all_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] != 0)
			return 0;
	}
	return 1;
}

/* Read exactly len bytes at off; caller frees; NULL when short. */
static unsigned char *
pread_all(int fd, off_t off, size_t len)
{
	unsigned char *p = xmalloc(len + 1);
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(fd, p + got, len - got, off + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			free(p);
			return NULL;
		}
		got += (size_t)r;
	}
	return p;
}

/* What follows the last good record of a segment. */
enum spool_tail {
	TAIL_NONE, /* nothing: the segment is whole */
	TAIL_CUT,  /* an unfinished round of a crash (never acknowledged) */
	TAIL_BAD,  /* damage or garbage */
};

/*
 * Queue the records of segment id (m.<id>).  Returns how many, or -1
 * when it cannot be read at all.  What follows the last good record is
 * an unfinished write (a record cut short, or zeros: ignored) or damage
 * (the segment is set aside once its good records are delivered).
 */
static long
replay_segment(struct spool *sp, const char *id)
{
	char name[SPOOL_NAME_MAX];
	struct itemq q;
	struct spool_seg *seg;
	struct spool_item *it;
	struct stat st;
	unsigned char *buf = NULL;
	enum spool_tail tail = TAIL_NONE;
	size_t ml = strlen(SPOOL_MAGIC);
	off_t off = 0;
	long n = 0;
	int fd;

	memset(&q, 0, sizeof(q));
	spool_name(name, sizeof(name), "m", id);
	fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_error("spool %s: %s: %s", sp->dir, name, strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		return -1;
	}
	seg = xcalloc(1, sizeof(*seg));
	memcpy(seg->id, id, sizeof(seg->id));
	while (off < st.st_size && tail == TAIL_NONE) {
		size_t want = SPOOL_SCAN_CHUNK, got;
		struct parsed p;
		unsigned char *data;
		ssize_t r;

		/* Read more of the header until it parses (or cannot). */
		for (;;) {
			if ((off_t)want > st.st_size - off)
				want = (size_t)(st.st_size - off);
			buf = xrealloc(buf, want);
			r = pread(fd, buf, want, off);
			got = r > 0 ? (size_t)r : 0;
			if (header_parse(buf, got, &p) == 0)
				break;
			/* At the end: zeros, or our header cut short. */
			if (got == want && off + (off_t)want >= st.st_size &&
			    (all_zero(buf, got) ||
			        memcmp(buf, SPOOL_MAGIC, got < ml ? got : ml) ==
			            0)) {
				tail = TAIL_CUT;
				break;
			}
			if (got < want || want >= SPOOL_MAX_HEADER ||
			    off + (off_t)want >= st.st_size) {
				tail = TAIL_BAD;
				break;
			}
			want *= 2;
		}
		if (tail != TAIL_NONE)
			break;
		if ((uint64_t)(st.st_size - off) - p.hdr_len < p.size) {
			tail = TAIL_CUT; /* the message cut by the end */
			parsed_free(&p);
			break;
		}
		if (p.have_crc) {
			data = pread_all(
			    fd, off + (off_t)p.hdr_len, (size_t)p.size);
			if (data == NULL ||
			    crc32_of(data, (size_t)p.size) != p.crc) {
				tail = data != NULL &&
				               all_zero(data, (size_t)p.size)
				           ? TAIL_CUT
				           : TAIL_BAD;
				free(data);
				parsed_free(&p);
				break;
			}
			free(data);
		}
		it = xcalloc(1, sizeof(*it));
		(void)snprintf(it->id, sizeof(it->id), "%s", p.id);
		it->hdr = xmalloc(p.hdr_len);
		memcpy(it->hdr, buf, p.hdr_len);
		it->hdr_len = p.hdr_len;
		it->len = (size_t)p.size;
		it->offset = off + (off_t)p.hdr_len;
		it->seg = seg;
		it->ok = 1;
		q_push(&q, it);
		off += (off_t)(p.hdr_len + p.size);
		parsed_free(&p);
		n++;
	}
	free(buf);
	(void)close(fd);
	if (tail == TAIL_CUT)
		log_info("spool %s: %s: the last %lld bytes are an unfinished "
		         "write (no client had its 250): ignored",
		    sp->dir, name, (long long)(st.st_size - off));
	else if (tail == TAIL_BAD) {
		log_error("spool %s: %s: damaged at byte %lld; its %ld good "
		          "messages are delivered, then it is set aside",
		    sp->dir, name, (long long)off, n);
		seg->bad = 1;
	}
	if (n == 0) {
		if (seg->bad)
			set_aside(sp, id, "no readable message");
		else
			(void)unlinkat(sp->dirfd, name, 0);
		free(seg);
		return 0;
	}
	seg->pending = (size_t)n;
	while ((it = q_pop(&q)) != NULL)
		q_push(&sp->queued, it);
	return n;
}

/* Remove the temporary files of a previous run (never acknowledged). */
static void
clean_tmp(struct spool *sp)
{
	int fd = openat(sp->tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (d == NULL) {
		if (fd >= 0)
			(void)close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			(void)unlinkat(sp->tmpfd, de->d_name, 0);
	}
	closedir(d);
}

/* Queue the segments of a previous run (in id order: arrival order). */
static int
replay(struct spool *sp, struct rb_error *err)
{
	int fd = openat(sp->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	char **ids = NULL;
	size_t n = 0, cap = 0, i;
	uint64_t msgs = 0;

	clean_tmp(sp);
	if (d == NULL) {
		if (fd >= 0)
			(void)close(fd);
		return rb_error_set(
		    err, errno, "spool %s: %s", sp->dir, strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;

		if (!(nm[0] == 'm' && nm[1] == '.' && is_id(nm + 2)))
			continue;
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			ids = xrealloc(ids, cap * sizeof(*ids));
		}
		ids[n++] = xstrdup(nm + 2);
	}
	closedir(d);
	if (n > 0)
		qsort(ids, n, sizeof(*ids), cmp_ids);
	for (i = 0; i < n; i++) {
		long got = replay_segment(sp, ids[i]);

		if (got > 0)
			msgs += (uint64_t)got;
		free(ids[i]);
	}
	free(ids);
	/* Every id of a new message sorts after every id of the spool, so
	 * no new segment can be named as an old one. */
	{
		struct spool_item *it;

		for (it = sp->queued.head; it != NULL; it = it->next) {
			uint64_t v = strtoull(it->id, NULL, 16);

			if (v > sp->last_id)
				sp->last_id = v;
		}
	}
	sp->st.replayed = msgs;
	sp->st.backlog = msgs;
	if (msgs > 0)
		log_info("spool %s: %llu messages of a previous run queued",
		    sp->dir, (unsigned long long)msgs);
	return 0;
}

int
spool_open(
    const struct spool_config *cfg, struct spool **sp_r, struct rb_error *err)
{
	struct spool *sp;

	rb_assert(cfg->dir != NULL && cfg->deliver != NULL);
	if (mkdir_p(cfg->dir) < 0)
		return rb_error_set(
		    err, errno, "spool %s: %s", cfg->dir, strerror(errno));
	sp = xcalloc(1, sizeof(*sp));
	sp->dir = xstrdup(cfg->dir);
	sp->lockfd = sp->tmpfd = sp->cur_fd = -1;
	sp->deliver = cfg->deliver;
	sp->deliver_ctx = cfg->deliver_ctx;
	sp->sync = cfg->sync;
	sp->batch = cfg->deliver_batch ? cfg->deliver_batch
	                               : SMTP_DEFAULT_DELIVER_BATCH;
	sp->max_memory =
	    cfg->max_memory ? cfg->max_memory : SMTP_DEFAULT_MAX_MEMORY / 4;
	sp->notify = cfg->notify;
	sp->notify_ctx = cfg->notify_ctx;
	pthread_mutex_init(&sp->mu, NULL);
	pthread_cond_init(&sp->commit_cv, NULL);
	pthread_cond_init(&sp->deliver_cv, NULL);
	sp->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd >= 0 &&
	    (mkdirat(sp->dirfd, "tmp", 0700) == 0 || errno == EEXIST))
		sp->tmpfd = openat(
		    sp->dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd < 0 || sp->tmpfd < 0) {
		rb_error_set(
		    err, errno, "spool %s: %s", cfg->dir, strerror(errno));
		goto fail;
	}
	/* flock, not fcntl: it also keeps a second open in this process
	 * out, and closing that one cannot drop our lock. */
	sp->lockfd =
	    openat(sp->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->lockfd < 0 || flock(sp->lockfd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		if (e == EWOULDBLOCK)
			rb_error_set(err, e,
			    "spool %s: in use by another "
			    "process",
			    cfg->dir);
		else
			rb_error_set(err, e, "spool %s: lock: %s", cfg->dir,
			    strerror(e));
		goto fail;
	}
	if (replay(sp, err) < 0)
		goto fail;
	while (sp->n_committers < SPOOL_COMMITTERS) {
		if (pthread_create(&sp->committer[sp->n_committers], NULL,
		        committer_main, sp) != 0) {
			rb_error_set(err, EAGAIN,
			    "spool: cannot start a "
			    "thread");
			goto fail;
		}
		sp->n_committers++;
	}
	if (pthread_create(&sp->pipeline, NULL, pipeline_main, sp) != 0) {
		rb_error_set(err, EAGAIN, "spool: cannot start a thread");
		goto fail;
	}
	sp->pipeline_started = 1;
	*sp_r = sp;
	return 0;
fail:
	spool_close(&sp, 0);
	return -1;
}

void
spool_submit(struct spool *sp, const struct smtp_envelope *env,
    unsigned char *data, size_t len, void *tag, char id_r[SPOOL_ID_SIZE])
{
	struct spool_item *it = xcalloc(1, sizeof(*it));
	struct timespec ts;
	uint64_t us;

	clock_gettime(CLOCK_REALTIME, &ts);
	us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	it->data = data;
	it->len = len;
	it->tag = tag;
	pthread_mutex_lock(&sp->mu);
	/* Increasing ids, also past a clock set back and past the ids of a
	 * previous run (replay() noted the largest): a segment, named after
	 * its first message, never takes the name of another. */
	if (us <= sp->last_id)
		us = sp->last_id + 1;
	sp->last_id = us;
	pthread_mutex_unlock(&sp->mu);
	(void)snprintf(
	    it->id, sizeof(it->id), "%016llx", (unsigned long long)us);
	/* The header is made before the committer can see the item. */
	it->hdr = header_make(it->id, env, data, len, &it->hdr_len);
	memcpy(id_r, it->id, SPOOL_ID_SIZE);
	pthread_mutex_lock(&sp->mu);
	q_push(&sp->submitted, it);
	sp->st.backlog++;
	sp->st.memory += len;
	pthread_cond_signal(&sp->commit_cv);
	pthread_mutex_unlock(&sp->mu);
}

size_t
spool_collect(struct spool *sp, spool_result_fn *fn, void *ctx)
{
	struct itemq q;
	struct spool_item *it;
	size_t n = 0;

	pthread_mutex_lock(&sp->mu);
	q = sp->done;
	memset(&sp->done, 0, sizeof(sp->done));
	pthread_mutex_unlock(&sp->mu);
	while ((it = q_pop(&q)) != NULL) {
		fn(it->tag, it->ok ? it->id : NULL, ctx);
		item_free(it);
		n++;
	}
	return n;
}

void
spool_set_expected(struct spool *sp, unsigned n)
{
	pthread_mutex_lock(&sp->mu);
	sp->expected = n;
	pthread_mutex_unlock(&sp->mu);
}

void
spool_get_stats(struct spool *sp, struct spool_stats *st_r)
{
	pthread_mutex_lock(&sp->mu);
	*st_r = sp->st;
	pthread_mutex_unlock(&sp->mu);
}

void
spool_close(struct spool **spp, unsigned drain_ms)
{
	struct spool *sp = *spp;
	struct spool_item *it;

	if (sp == NULL)
		return;
	pthread_mutex_lock(&sp->mu);
	sp->stop_commit = 1;
	pthread_cond_broadcast(&sp->commit_cv);
	pthread_mutex_unlock(&sp->mu);
	while (sp->n_committers > 0)
		pthread_join(sp->committer[--sp->n_committers], NULL);
	/* No more rounds: the open segment goes once delivered. */
	pthread_mutex_lock(&sp->mu);
	seg_close_cur(sp);
	pthread_mutex_unlock(&sp->mu);
	if (sp->pipeline_started) {
		pthread_mutex_lock(&sp->mu);
		sp->drain_deadline = ts_after(drain_ms);
		sp->stop_deliver = 1;
		pthread_cond_signal(&sp->deliver_cv);
		pthread_mutex_unlock(&sp->mu);
		pthread_join(sp->pipeline, NULL);
	}
	if (sp->deleting != NULL)
		(void)delete_delivered(sp);
	while (sp->deleting != NULL) {
		struct spool_seg *seg = sp->deleting;

		/* Not synced: the files stay for the next open. */
		sp->deleting = seg->next;
		free(seg);
	}
	while ((it = q_pop(&sp->submitted)) != NULL)
		item_free(it);
	while ((it = q_pop(&sp->done)) != NULL)
		item_free(it);
	while ((it = q_pop(&sp->queued)) != NULL) {
		/* Undelivered: the segment stays on disk for the next open. */
		if (it->seg != NULL && --it->seg->pending == 0)
			free(it->seg);
		item_free(it);
	}
	if (sp->lockfd >= 0)
		(void)close(sp->lockfd);
	if (sp->tmpfd >= 0)
		(void)close(sp->tmpfd);
	if (sp->dirfd >= 0)
		(void)close(sp->dirfd);
	pthread_mutex_destroy(&sp->mu);
	pthread_cond_destroy(&sp->commit_cv);
	pthread_cond_destroy(&sp->deliver_cv);
	free(sp->dir);
	free(sp);
	*spp = NULL;
}
