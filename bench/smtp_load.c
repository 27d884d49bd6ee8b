/*
 * smtp_load: an SMTP load generator that sends given message files (the
 * dev corpus), which Postfix's smtp-source cannot (it makes its own
 * body).  S sessions (threads), each one connection kept open: EHLO,
 * then per message MAIL, RCPT and DATA pipelined (RFC 2920), the body
 * dot-stuffed with CRLF line ends, one wait for the final reply.  Every
 * message gets a unique "X-Bench-Seq: N" first header, so that a
 * store's deduplication sees N distinct messages.  A temporary refusal
 * (4xx: the server's back-pressure) ends the session, as an MTA does:
 * QUIT, then after SMTP_LOAD_RETRY_MS a new connection tries the same
 * message again; a permanent one (5xx) counts as refused.  Prints one line:
 * "sent=N acked=A deferred=D refused=R failed_sessions=F seconds=S rate=A/S".
 *
 *   smtp_load [-s SESSIONS] [-m MESSAGES] [-f FROM] [-t TO] [-H HELO] [-1]
 *             HOST:PORT FILE|DIR...
 *
 * -1: send each file once, as it is (no X-Bench-Seq header): a client
 * for `make demo`.
 *
 * Limits: files up to SMTP_LOAD_MAX_FILE, at most SMTP_LOAD_MAX_FILES.
 */
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

/* A corpus message is a few KB; a returned attachment can be larger. */
#define SMTP_LOAD_MAX_FILE (16u * 1024 * 1024)
#define SMTP_LOAD_MAX_FILES 100000
/* Sessions at once (threads). */
#define SMTP_LOAD_MAX_SESSIONS 1000
/* Longest -H name (a domain is at most 255 octets). */
#define SMTP_MAX_HELO_ARG 255
/* Pause before a message refused with 4xx is tried again. */
#define SMTP_LOAD_RETRY_MS 20
/* A reply line (RFC 5321 4.5.3.1.5: 512 octets) and a multi-line one. */
#define SMTP_LOAD_REPLY_MAX 8192

struct msg {
	unsigned char *data; /* CRLF, dot-stuffed, ends in CRLF */
	size_t len;
};

static struct msg *msgs;
static size_t n_msgs;
static const char *host, *port, *mail_from = "<>", *rcpt_to;
static const char *helo = "load.bench";
static unsigned long total = 1000;
static int once; /* -1 */
static atomic_ulong next_seq, acked, refused, deferred, failed;

/* Normalise to CRLF and dot-stuff (RFC 5321 4.5.2). */
static void
load_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	struct buf b;
	int c, bol = 1, prev = 0;
	long n = 0;

	if (fp == NULL) {
		fprintf(stderr, "smtp_load: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	buf_init(&b, 2 * SMTP_LOAD_MAX_FILE);
	while ((c = getc(fp)) != EOF && n++ < (long)SMTP_LOAD_MAX_FILE) {
		int r = 0;

		if (c == '\n') {
			if (prev != '\r')
				r |= buf_putc(&b, '\r');
			r |= buf_putc(&b, '\n');
			bol = 1;
		} else {
			if (bol && c == '.')
				r |= buf_putc(&b, '.');
			r |= buf_putc(&b, c);
			bol = 0;
		}
		if (r != 0)
			abort();
		prev = c;
	}
	fclose(fp);
	if (!bol && (buf_printf(&b, "\r\n") < 0))
		abort();
	if (n_msgs == SMTP_LOAD_MAX_FILES) {
		fprintf(stderr, "smtp_load: more than %d files\n",
		    SMTP_LOAD_MAX_FILES);
		exit(1);
	}
	msgs = xrealloc(msgs, (n_msgs + 1) * sizeof(*msgs));
	msgs[n_msgs].data = buf_take(&b, &msgs[n_msgs].len);
	n_msgs++;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
load_path(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "smtp_load: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (!S_ISDIR(st.st_mode)) {
		load_file(path);
		return;
	}
	d = opendir(path);
	if (d == NULL) {
		fprintf(stderr, "smtp_load: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l > 4 && strcmp(de->d_name + l - 4, ".eml") == 0) {
			names = xrealloc(names, (n + 1) * sizeof(*names));
			names[n++] = xstrdup(de->d_name);
		}
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		char p[4096];

		(void)snprintf(p, sizeof(p), "%s/%s", path, names[i]);
		load_file(p);
		free(names[i]);
	}
	free(names);
}

static int
dial(void)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		(void)close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		(void)setsockopt(
		    fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int
send_all(int fd, const void *p, size_t len)
{
	const unsigned char *q = p;

	while (len > 0) {
		ssize_t w = send(fd, q, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		q += w;
		len -= (size_t)w;
	}
	return 0;
}

/* A connection's reply reader: n final replies, the code of the last. */
struct reader {
	int fd;
	char buf[SMTP_LOAD_REPLY_MAX];
	size_t len;
};

static int
read_reply(struct reader *r)
{
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);

		if (nl != NULL) {
			size_t line = (size_t)(nl - r->buf) + 1;
			int code = -1, last = line >= 4 && r->buf[3] == ' ';

			if (line >= 3)
				code = (r->buf[0] - '0') * 100 +
				       (r->buf[1] - '0') * 10 +
				       (r->buf[2] - '0');
			memmove(r->buf, r->buf + line, r->len - line);
			r->len -= line;
			if (last || line < 4)
				return code;
			continue;
		}
		if (r->len == sizeof(r->buf))
			return -1;
		{
			ssize_t n = recv(
			    r->fd, r->buf + r->len, sizeof(r->buf) - r->len, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return -1;
			r->len += (size_t)n;
		}
	}
}

/* Connect and say EHLO; 0, or -1 (r->fd then -1 or open). */
static int
open_session(struct reader *r)
{
	char ehlo[SMTP_MAX_HELO_ARG + 16];
	int n = snprintf(ehlo, sizeof(ehlo), "EHLO %s\r\n", helo);

	r->len = 0;
	r->fd = dial();
	if (r->fd < 0 || read_reply(r) != 220 ||
	    send_all(r->fd, ehlo, (size_t)n) < 0 || read_reply(r) != 250)
		return -1;
	return 0;
}

/* After a 4xx: QUIT, wait, connect again.  0, or -1. */
static int
reconnect(struct reader *r)
{
	struct timespec ts = {0, SMTP_LOAD_RETRY_MS * 1000000L};

	(void)send_all(r->fd, "QUIT\r\n", 6);
	(void)close(r->fd);
	nanosleep(&ts, NULL);
	return open_session(r);
}

static void *
session_main(void *arg)
{
	struct reader *r = xcalloc(1, sizeof(*r));
	char env[1024];
	int n;

	(void)arg;
	if (open_session(r) < 0)
		goto out;
	n = snprintf(env, sizeof(env),
	    "MAIL FROM:%s\r\nRCPT TO:<%s>\r\nDATA\r\n", mail_from, rcpt_to);
	for (;;) {
		unsigned long seq = atomic_fetch_add(&next_seq, 1);
		const struct msg *m;
		char hdr[64];
		int h, c1, c2, c3, c4;

		if (seq >= total)
			break;
	again:
		m = &msgs[seq % n_msgs];
		h = once ? 0
		         : snprintf(
		               hdr, sizeof(hdr), "X-Bench-Seq: %lu\r\n", seq);
		/* MAIL, RCPT, DATA in one write (PIPELINING). */
		if (send_all(r->fd, env, (size_t)n) < 0)
			break;
		c1 = read_reply(r);
		c2 = read_reply(r);
		c3 = read_reply(r);
		if (c3 != 354) {
			if (c1 < 0 || c2 < 0 || c3 < 0)
				break;
			if (c1 / 100 == 4 || c2 / 100 == 4 || c3 / 100 == 4) {
				atomic_fetch_add(&deferred, 1);
				if (reconnect(r) < 0)
					break;
				goto again;
			}
			atomic_fetch_add(&refused, 1);
			continue;
		}
		if (send_all(r->fd, hdr, (size_t)h) < 0 ||
		    send_all(r->fd, m->data, m->len) < 0 ||
		    send_all(r->fd, ".\r\n", 3) < 0)
			break;
		c4 = read_reply(r);
		if (c4 == 250)
			atomic_fetch_add(&acked, 1);
		else if (c4 < 0)
			break;
		else if (c4 / 100 == 4) {
			atomic_fetch_add(&deferred, 1);
			if (reconnect(r) < 0)
				break;
			goto again;
		} else
			atomic_fetch_add(&refused, 1);
		(void)c1;
		(void)c2;
	}
	(void)send_all(r->fd, "QUIT\r\n", 6);
out:
	if (r->fd < 0 || atomic_load(&next_seq) < total)
		atomic_fetch_add(&failed, 1);
	if (r->fd >= 0)
		(void)close(r->fd);
	free(r);
	return NULL;
}

static void
usage(void)
{
	fputs("usage: smtp_load [-s SESSIONS] [-m MESSAGES] [-f FROM] "
	      "[-t TO] [-H HELO] [-1] HOST:PORT FILE|DIR...\n",
	    stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	static char hostbuf[256];
	unsigned long sessions = 20, i;
	pthread_t *th;
	struct timespec t0, t1;
	double secs;
	const char *colon;
	uint64_t v;
	int c;

	rcpt_to = "bounces@bench.example";
	while ((c = getopt(argc, argv, "s:m:f:t:H:1")) != -1) {
		switch (c) {
		case 'H':
			if (strlen(optarg) > SMTP_MAX_HELO_ARG)
				usage();
			helo = optarg;
			break;
		case '1':
			once = 1;
			break;
		case 's':
			if (parse_u64(optarg, &v) < 0 || v == 0 ||
			    v > SMTP_LOAD_MAX_SESSIONS)
				usage();
			sessions = (unsigned long)v;
			break;
		case 'm':
			if (parse_u64(optarg, &v) < 0 || v == 0)
				usage();
			total = (unsigned long)v;
			break;
		case 'f':
			mail_from = optarg;
			break;
		case 't':
			rcpt_to = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 2)
		usage();
	colon = strrchr(argv[optind], ':');
	if (colon == NULL || (size_t)(colon - argv[optind]) >= sizeof(hostbuf))
		usage();
	memcpy(hostbuf, argv[optind], (size_t)(colon - argv[optind]));
	host = hostbuf;
	if (host[0] == '[') {
		host++;
		hostbuf[strlen(hostbuf) - 1] = '\0';
	}
	port = colon + 1;
	for (i = (unsigned long)optind + 1; i < (unsigned long)argc; i++)
		load_path(argv[i]);
	if (n_msgs == 0) {
		fprintf(stderr, "smtp_load: no messages\n");
		return 1;
	}
	if (once)
		total = (unsigned long)n_msgs;
	th = xcalloc(sessions, sizeof(*th));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < sessions; i++) {
		if (pthread_create(&th[i], NULL, session_main, NULL) != 0) {
			fprintf(stderr, "smtp_load: cannot start a thread\n");
			return 1;
		}
	}
	for (i = 0; i < sessions; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("sent=%lu acked=%lu deferred=%lu refused=%lu "
	       "failed_sessions=%lu seconds=%.3f rate=%.0f\n",
	    (unsigned long)atomic_load(&next_seq) < total
	        ? (unsigned long)atomic_load(&next_seq)
	        : total,
	    (unsigned long)atomic_load(&acked),
	    (unsigned long)atomic_load(&deferred),
	    (unsigned long)atomic_load(&refused),
	    (unsigned long)atomic_load(&failed), secs,
	    (double)atomic_load(&acked) / secs);
	for (i = 0; i < n_msgs; i++)
		free(msgs[i].data);
	free(msgs);
	free(th);
	return atomic_load(&acked) == total ? 0 : 1;
}
