/*
 * spool: the envelope header round trip, commit and delivery through
 * the two threads, rounds appended to one segment, replay after a stop
 * (and after a crash: t.* files of the older format, a record cut by
 * the end, zeros), the lock, a damaged or foreign file set aside,
 * messages read back from disk past max_memory, a failing callback
 * retried, a failing commit.
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/spool.c"
#include "test.h"

struct rec {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct buf log; /* "<id> <from> <rcpt> <bytes>\n" per message */
	unsigned calls;
	unsigned fail;       /* fail this many calls first */
	unsigned fail_after; /* then fail every call after this many */
	unsigned delivered;
	unsigned notified;
	unsigned missing; /* messages whose spool file was not there */
};

static int
rec_deliver(
    const struct smtp_message *m, size_t n, void *ctx, struct rb_error *err)
{
	struct rec *r = ctx;
	size_t i;

	pthread_mutex_lock(&r->mu);
	r->calls++;
	if (r->calls <= r->fail ||
	    (r->fail_after > 0 && r->calls > r->fail + r->fail_after)) {
		pthread_mutex_unlock(&r->mu);
		return rb_error_set(err, 1, "failing on purpose");
	}
	for (i = 0; i < n; i++) {
		if (access(m[i].path, F_OK) != 0)
			r->missing++;
		if (buf_printf(&r->log, "%s %s %s %d ", m[i].queue_id,
		        m[i].env->mail_from, m[i].env->rcpts[0].address,
		        m[i].env->untrusted) < 0 ||
		    buf_append(&r->log, m[i].data, m[i].len) < 0 ||
		    buf_putc(&r->log, '\n') < 0)
			abort();
	}
	r->delivered += (unsigned)n;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

static void
rec_notify(void *ctx)
{
	struct rec *r = ctx;

	pthread_mutex_lock(&r->mu);
	r->notified++;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void
rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	buf_init(&r->log, 64u * 1024 * 1024);
}

static void
rec_free(struct rec *r)
{
	buf_free(&r->log);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
}

/* Wait (up to 10 s) until r->delivered >= n. */
static int
rec_wait(struct rec *r, unsigned n)
{
	struct timespec ts;
	int ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&r->mu);
	while (r->delivered < n) {
		if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) != 0)
			break;
	}
	ok = r->delivered >= n;
	pthread_mutex_unlock(&r->mu);
	return ok;
}

struct results {
	unsigned ok, failed;
	char last_id[SPOOL_ID_SIZE];
};

static void
on_result(void *tag, const char *queue_id, void *ctx)
{
	struct results *res = ctx;

	test_assert(tag == res);
	if (queue_id != NULL) {
		res->ok++;
		memcpy(res->last_id, queue_id, SPOOL_ID_SIZE);
	} else
		res->failed++;
}

/* Collect until n results came (up to 10 s). */
static void
collect(struct spool *sp, struct results *res, unsigned n)
{
	int i;

	for (i = 0; i < 10000 && res->ok + res->failed < n; i++) {
		if (spool_collect(sp, on_result, res) == 0)
			usleep(1000);
	}
}

static unsigned
count_files(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static const struct smtp_rcpt t_rcpts[] = {
    {"bounces@fb.example", SMTP_VERP_NONE},
    {"b+tok%en x@fb.example", SMTP_VERP_UNTRUSTED},
};

static void
t_env(struct smtp_envelope *e)
{
	memset(e, 0, sizeof(*e));
	e->session_id = "S1";
	e->client = "::1";
	e->helo = "evil host\r\n%41";
	e->mail_from = "";
	e->rcpts = t_rcpts;
	e->n_rcpts = 1;
	e->received = 1717232400;
}

/* The counters after the callback returned (up to 10 s). */
static void
wait_stats(struct spool *sp, uint64_t delivered, struct spool_stats *st)
{
	int i;

	for (i = 0; i < 10000; i++) {
		spool_get_stats(sp, st);
		if (st->delivered >= delivered)
			return;
		usleep(1000);
	}
}

static void
test_header(void)
{
	struct smtp_envelope e;
	struct parsed p;
	unsigned char *h;
	size_t len;

	t_env(&e);
	e.n_rcpts = 2;
	e.smtputf8 = 1;
	e.mail_from = "j\xc3\xb6rg@example.de";
	h = header_make("00000000000000ab", &e,
	    (const unsigned char *)"0123456789012345678901234567890123456789"
	                           "01",
	    42, &len);
	test_assert(header_parse(h, len, &p) == 0);
	test_assert(p.hdr_len == len);
	test_assert_streq(p.id, "00000000000000ab");
	test_assert_streq(p.env.helo, "evil host\r\n%41");
	test_assert_streq(p.env.mail_from, "j\xc3\xb6rg@example.de");
	test_assert(p.env.n_rcpts == 2);
	test_assert_streq(p.env.rcpts[1].address, "b+tok%en x@fb.example");
	test_assert(p.env.rcpts[1].verp == SMTP_VERP_UNTRUSTED);
	test_assert(p.env.untrusted == 1);
	test_assert(p.env.smtputf8 == 1 && p.env.eightbit == 0);
	test_assert(p.env.received == 1717232400);
	test_assert(p.size == 42);
	test_assert(
	    p.have_crc &&
	    p.crc ==
	        crc32_of(
	            (const unsigned char *)"0123456789012345678901234567890"
	                                   "12345678901",
	            42));
	parsed_free(&p);
	/* CRC-32 check value (the zlib one). */
	test_assert(
	    crc32_of((const unsigned char *)"123456789", 9) == 0xcbf43926u);
	/* Every cut of the header is refused. */
	for (size_t k = 0; k < len; k++)
		test_assert_idx(header_parse(h, k, &p) < 0, k);
	free(h);
	test_assert(header_parse((const unsigned char *)"REBOUND-SPOOL 1\n"
	                                                "id x\nid y\n\n",
	                27, &p) < 0);
	test_assert(header_parse((const unsigned char *)"REBOUND-SPOOL 1\n"
	                                                "bogus 1\n\n",
	                25, &p) < 0);
}

/* A spool config on dir delivering to r. */
static void
t_cfg(struct spool_config *cfg, const char *dir, struct rec *r)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->dir = dir;
	cfg->deliver = rec_deliver;
	cfg->deliver_ctx = r;
}

static void
make_dir(char *dir, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	(void)snprintf(
	    dir, len, "%s/rebound-spool-XXXXXX", tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
}

/* Remove dir, its files and its subdirectories' files. */
static void
rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[PATH_MAX];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		(void)snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (unlink(p) < 0)
			rm_dir(p);
	}
	closedir(d);
	(void)rmdir(dir);
}

static void
submit_n(struct spool *sp, unsigned n, struct results *res, unsigned first)
{
	struct smtp_envelope e;
	char id[SPOOL_ID_SIZE];
	unsigned i;

	t_env(&e);
	for (i = 0; i < n; i++) {
		char body[64];
		int len =
		    snprintf(body, sizeof(body), "message %u\r\n", first + i);

		spool_submit(sp, &e,
		    (unsigned char *)xstrndup(body, (size_t)len), (size_t)len,
		    res, id);
		test_assert(strlen(id) == SPOOL_ID_SIZE - 1);
	}
}

static void
test_flow(void)
{
	char dir[PATH_MAX];
	struct spool_config cfg;
	struct spool *sp = NULL, *sp2 = NULL;
	struct rec r;
	struct results res;
	struct rb_error err;
	struct spool_stats st;

	make_dir(dir, sizeof(dir));
	rec_init(&r);
	t_cfg(&cfg, dir, &r);
	cfg.deliver_batch = 7;
	cfg.notify = rec_notify;
	cfg.notify_ctx = &r;
	test_assert(spool_open(&cfg, &sp, &err) == 0);
	/* A second process (here: a second open) is kept out. */
	test_assert(spool_open(&cfg, &sp2, &err) < 0 &&
	            strstr(err.msg, "in use") != NULL);
	memset(&res, 0, sizeof(res));
	submit_n(sp, 50, &res, 0);
	collect(sp, &res, 50);
	test_assert(res.ok == 50 && res.failed == 0);
	test_assert(rec_wait(&r, 50));
	test_assert(r.missing == 0);
	wait_stats(sp, 50, &st);
	test_assert(strstr((const char *)r.log.data, " message 0\r\n") != NULL);
	test_assert(
	    strstr((const char *)r.log.data, " message 49\r\n") != NULL);
	test_assert(st.committed == 50 && st.commit_rounds >= 1);
	spool_close(&sp, 1000);
	test_assert(sp == NULL);
	test_assert(count_files(dir, "m.") == 0);
	rec_free(&r);
	rm_dir(dir);
}

/* Stop with messages undelivered; a crash leaves a t.* file; a corrupt
 * m.* file.  The next open delivers the messages in order, removes the
 * t.* file, sets the corrupt one aside, and new ids sort after. */
static void
test_replay(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	struct spool_config cfg;
	struct spool *sp = NULL;
	struct rec r;
	struct results res;
	struct rb_error err;
	struct spool_stats st;
	char first_new[SPOOL_ID_SIZE];
	FILE *fp;
	const char *log, *p0, *p4;

	make_dir(dir, sizeof(dir));
	rec_init(&r);
	r.fail = 1000000;
	t_cfg(&cfg, dir, &r);
	test_assert(spool_open(&cfg, &sp, &err) == 0);
	memset(&res, 0, sizeof(res));
	submit_n(sp, 5, &res, 0);
	collect(sp, &res, 5);
	test_assert(res.ok == 5);
	spool_close(&sp, 0);
	test_assert(count_files(dir, "m.") >= 1);
	(void)snprintf(path, sizeof(path), "%s/tmp/t.0000000000000001", dir);
	fp = fopen(path, "w");
	test_assert(fp != NULL);
	fputs("REBOUND-SPOOL 1\nid 00000000000000", fp);
	fclose(fp);
	(void)snprintf(path, sizeof(path), "%s/m.0000000000000002", dir);
	fp = fopen(path, "w");
	test_assert(fp != NULL);
	fputs("this is not a spool segment\n", fp);
	fclose(fp);

	rec_free(&r);
	rec_init(&r);
	test_assert(spool_open(&cfg, &sp, &err) == 0);
	(void)snprintf(path, sizeof(path), "%s/tmp", dir);
	test_assert(count_files(path, "t.") == 0);
	test_assert(rec_wait(&r, 5));
	memset(&res, 0, sizeof(res));
	submit_n(sp, 1, &res, 5);
	collect(sp, &res, 1);
	memcpy(first_new, res.last_id, sizeof(first_new));
	test_assert(rec_wait(&r, 6));
	wait_stats(sp, 6, &st);
	test_assert(st.replayed == 5);
	test_assert(st.backlog == 0);
	spool_close(&sp, 1000);
	log = (const char *)r.log.data;
	p0 = strstr(log, " message 0\r\n");
	p4 = strstr(log, " message 4\r\n");
	test_assert(p0 != NULL && p4 != NULL && p0 < p4);
	test_assert(strstr(log, " message 5\r\n") > p4);
	/* The replayed messages came with their envelope from the file. */
	test_assert(strstr(log, "  bounces@fb.example 0 message 0") != NULL);
	test_assert(count_files(dir, "m.") == 0);
	test_assert(count_files(dir, "bad.") == 1);
	rec_free(&r);
	rm_dir(dir);
}

/* Write records for ids "00000000000000<x>0".. with bodies "<word> N"
 * to fp. */
static void
write_records(FILE *fp, unsigned n, char x, const char *word)
{
	struct smtp_envelope e;
	unsigned i;

	t_env(&e);
	for (i = 0; i < n; i++) {
		char id[SPOOL_ID_SIZE], body[32];
		size_t hl;
		unsigned char *h;
		int bl = snprintf(body, sizeof(body), "%s %u\r\n", word, i);

		(void)snprintf(id, sizeof(id), "00000000000000%c%u", x, i);
		h = header_make(
		    id, &e, (const unsigned char *)body, (size_t)bl, &hl);
		fwrite(h, 1, hl, fp);
		fwrite(body, 1, (size_t)bl, fp);
		free(h);
	}
}

/*
 * The ends a crash leaves: a record cut in its header or its body, or
 * zeros (a size written before the data): the whole records before it
 * are delivered, the tail ignored, nothing set aside.  A whole record
 * whose CRC fails, or garbage after good records: the good ones are
 * delivered, then the file is set aside.
 */
static void
test_torn(void)
{
	static const struct {
		const char *tail;
		size_t tail_len;
		int bad;
	} cases[] = {
	    {"REBOUND-SPOOL 1\nid 00000000000000d0\nsess", 40, 0},
	    {"REBOUND-SPOOL 1\nid 00000000000000d0\nsession S\nclient c\n"
	     "helo h\nfrom \nrcpt 0 a@b\nreceived 1\ncrc 1\nsize 50\n\nab",
	        107, 0},
	    {"\0\0\0\0\0\0\0\0\0\0\0\0", 12, 0},
	    {"REBOUND-SPOOL 1\nid 00000000000000d0\nsession S\nclient c\n"
	     "helo h\nfrom \nrcpt 0 a@b\nreceived 1\ncrc 1\nsize 2\n\nab",
	        106, 1},
	    {"garbage, not a record at all\n", 29, 1},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char dir[PATH_MAX], path[PATH_MAX + 32];
		struct spool_config cfg;
		struct spool *sp = NULL;
		struct rec r;
		struct rb_error err;
		FILE *fp;

		make_dir(dir, sizeof(dir));
		(void)snprintf(
		    path, sizeof(path), "%s/m.00000000000000c0", dir);
		fp = fopen(path, "w");
		test_assert(fp != NULL);
		write_records(fp, 2, 'c', "torn");
		fwrite(cases[i].tail, 1, cases[i].tail_len, fp);
		fclose(fp);
		rec_init(&r);
		t_cfg(&cfg, dir, &r);
		test_assert_idx(spool_open(&cfg, &sp, &err) == 0, i);
		test_assert_idx(rec_wait(&r, 2), i);
		spool_close(&sp, 1000);
		test_assert_idx(r.delivered == 2, i);
		test_assert_idx(
		    strstr((const char *)r.log.data, " torn 1\r\n") != NULL, i);
		test_assert_idx(count_files(dir, "m.") == 0, i);
		test_assert_idx(count_files(dir, "bad.") == cases[i].bad, i);
		rec_free(&r);
		rm_dir(dir);
	}
}

/* Rounds append to the open segment: many rounds, one file; a closed
 * segment goes once delivered, the idle open one soon after. */
static void
test_append(void)
{
	char dir[PATH_MAX];
	struct spool_config cfg;
	struct spool *sp = NULL;
	struct rec r;
	struct results res;
	struct rb_error err;
	struct spool_stats st;
	unsigned round, i;

	make_dir(dir, sizeof(dir));
	rec_init(&r);
	r.fail = 1000000; /* nothing is delivered: the files stay */
	t_cfg(&cfg, dir, &r);
	test_assert(spool_open(&cfg, &sp, &err) == 0);
	memset(&res, 0, sizeof(res));
	for (round = 0; round < 5; round++) {
		submit_n(sp, 3, &res, round * 3);
		collect(sp, &res, (round + 1) * 3);
	}
	spool_get_stats(sp, &st);
	test_assert(st.commit_rounds >= 2 && st.committed == 15);
	test_assert(count_files(dir, "m.") == 1);
	spool_close(&sp, 0);
	rec_free(&r);

	/* The next open delivers all 15 from the one file, then the
	 * spool is empty (the new open segment closed when idle). */
	rec_init(&r);
	test_assert(spool_open(&cfg, &sp, &err) == 0);
	test_assert(rec_wait(&r, 15));
	memset(&res, 0, sizeof(res));
	submit_n(sp, 1, &res, 100);
	collect(sp, &res, 1);
	test_assert(rec_wait(&r, 16));
	for (i = 0; i < 100 && count_files(dir, "m.") > 0; i++)
		usleep(20000);
	test_assert(count_files(dir, "m.") == 0);
	spool_close(&sp, 1000);
	rec_free(&r);
	rm_dir(dir);
}

/* The sync hook: segments are deleted only after a sync succeeded; a
 * failing sync keeps them (and is tried again). */
static unsigned sync_calls, sync_fail;

static int
rec_sync(void *ctx, struct rb_error *err)
{
	(void)ctx;
	sync_calls++;
	if (sync_fail > 0) {
		sync_fail--;
		return rb_error_set(err, EIO, "sync failing on purpose");
	}
	return 0;
}

static void
test_sync(void)
{
	char dir[PATH_MAX];
	struct spool_config cfg;
	struct spool *sp = NULL;
	struct rec r;
	struct results res;
	struct rb_error err;
	unsigned i;

	make_dir(dir, sizeof(dir));
	rec_init(&r);
	t_cfg(&cfg, dir, &r);
	cfg.sync = rec_sync;
	sync_calls = 0;
	sync_fail = 1;
	test_assert(spool_open(&cfg, &sp, &err) == 0);
	memset(&res, 0, sizeof(res));
	submit_n(sp, 4, &res, 0);
	collect(sp, &res, 4);
	test_assert(rec_wait(&r, 4));
	/* The first sync fails: the segment stays; the retry deletes it. */
	for (i = 0; i < 150 && count_files(dir, "m.") > 0; i++)
		usleep(20000);
	test_assert(count_files(dir, "m.") == 0);
	test_assert(sync_calls >= 2);
	spool_close(&sp, 1000);
	rec_free(&r);

	/* Always failing: after the stop the file is still there. */
	rec_init(&r);
	sync_fail = 1000000;
	test_assert(spool_open(&cfg, &sp, &err) == 0);
	memset(&res, 0, sizeof(res));
	submit_n(sp, 2, &res, 10);
	collect(sp, &res, 2);
	test_assert(rec_wait(&r, 2));
	usleep(300000);
	spool_close(&sp, 1000);
	test_assert(count_files(dir, "m.") == 1);
	rec_free(&r);
	rm_dir(dir);
}

/* max_memory of 1 byte: every message is read back from its file. */
static void
test_read_back(void)
{
	char dir[PATH_MAX];
	struct spool_config cfg;
	struct spool *sp = NULL;
	struct rec r;
	struct results res;
	struct rb_error err;

	make_dir(dir, sizeof(dir));
	rec_init(&r);
	t_cfg(&cfg, dir, &r);
	cfg.max_memory = 1;
	test_assert(spool_open(&cfg, &sp, &err) == 0);
	memset(&res, 0, sizeof(res));
	submit_n(sp, 20, &res, 100);
	collect(sp, &res, 20);
	test_assert(rec_wait(&r, 20));
	spool_close(&sp, 1000);
	test_assert(
	    strstr((const char *)r.log.data, " message 119\r\n") != NULL);
	test_assert(count_files(dir, "m.") == 0);
	rec_free(&r);
	rm_dir(dir);
}

/* The callback fails once: the batch comes again after the back-off. */
static void
test_retry(void)
{
	char dir[PATH_MAX];
	struct spool_config cfg;
	struct spool *sp = NULL;
	struct rec r;
	struct results res;
	struct rb_error err;
	struct spool_stats st;

	make_dir(dir, sizeof(dir));
	rec_init(&r);
	r.fail = 1;
	t_cfg(&cfg, dir, &r);
	test_assert(spool_open(&cfg, &sp, &err) == 0);
	memset(&res, 0, sizeof(res));
	submit_n(sp, 3, &res, 0);
	collect(sp, &res, 3);
	test_assert(rec_wait(&r, 3));
	wait_stats(sp, 3, &st);
	test_assert(st.deliver_failures == 1 && st.delivered == 3);
	test_assert(r.calls >= 2);
	spool_close(&sp, 1000);
	rec_free(&r);
	rm_dir(dir);
}

/* The directory is gone: the commit fails, the client gets no 250. */
static void
test_commit_failure(void)
{
	char dir[PATH_MAX], lock[PATH_MAX + 8];
	struct spool_config cfg;
	struct spool *sp = NULL;
	struct rec r;
	struct results res;
	struct rb_error err;
	struct spool_stats st;

	make_dir(dir, sizeof(dir));
	rec_init(&r);
	t_cfg(&cfg, dir, &r);
	test_assert(spool_open(&cfg, &sp, &err) == 0);
	(void)snprintf(lock, sizeof(lock), "%s/lock", dir);
	test_assert(unlink(lock) == 0);
	rm_dir(dir);
	memset(&res, 0, sizeof(res));
	submit_n(sp, 2, &res, 0);
	collect(sp, &res, 2);
	test_assert(res.failed == 2 && res.ok == 0);
	spool_get_stats(sp, &st);
	test_assert(st.commit_failures == 2 && st.backlog == 0);
	spool_close(&sp, 0);
	rec_free(&r);
}

/* A segment of three messages is deleted only once all three are
 * delivered; cut short, the next open delivers all three again. */
static void
test_segment(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	struct spool_config cfg;
	struct spool *sp = NULL;
	struct smtp_envelope e;
	struct rec r;
	struct rb_error err;
	FILE *fp;
	unsigned i;

	make_dir(dir, sizeof(dir));
	(void)snprintf(path, sizeof(path), "%s/m.00000000000000a0", dir);
	fp = fopen(path, "w");
	test_assert(fp != NULL);
	write_records(fp, 3, 'a', "seg");
	fclose(fp);
	rec_init(&r);
	r.fail_after = 1;
	t_cfg(&cfg, dir, &r);
	cfg.deliver_batch = 1;
	cfg.max_memory = 1;
	test_assert(spool_open(&cfg, &sp, &err) == 0);
	test_assert(rec_wait(&r, 1));
	spool_close(&sp, 0);
	test_assert(r.delivered == 1);
	test_assert(strstr((const char *)r.log.data,
	                "00000000000000a0  "
	                "bounces@fb.example 0 seg 0\r\n") != NULL);
	test_assert(count_files(dir, "m.") == 1);
	rec_free(&r);

	rec_init(&r);
	test_assert(spool_open(&cfg, &sp, &err) == 0);
	test_assert(rec_wait(&r, 3));
	spool_close(&sp, 1000);
	test_assert(strstr((const char *)r.log.data, " seg 2\r\n") != NULL);
	test_assert(count_files(dir, "m.") == 0);
	rec_free(&r);
	rm_dir(dir);
}

int
main(void)
{
	/* The spool logs what it sets aside; the tests provoke it. */
	log_set_level(LOG_ERROR);
	test_header();
	test_flow();
	test_replay();
	test_segment();
	test_torn();
	test_append();
	test_sync();
	test_read_back();
	test_retry();
	test_commit_failure();
	return test_exit();
}
