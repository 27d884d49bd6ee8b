/*
 * smtp_probe: a raw SMTP client for the SMTP tests, for what swaks does
 * not do.  Built for tests only.
 *
 *   smtp_probe chat ADDR [--src IP] [--wait MS] [--close]
 *       Send stdin as it comes (pipelined: nothing waits for replies),
 *       print every reply byte; after the end of stdin, until the
 *       server closes or is silent for MS (default 2000) milliseconds.
 *       --close: then reset the connection (a client that disappears,
 *       e.g. mid-DATA).
 *   smtp_probe idle ADDR N [--src IP]
 *       Open N connections, read their greetings, print
 *       "accepted=A refused=R failed=F", then hold them open until
 *       killed.
 *   smtp_probe random ADDR LINES SEED
 *       Send LINES random command lines (random verbs, arguments and
 *       octets), reconnecting whenever the server hangs up; print
 *       "lines=N connections=C replies=R".  Exit 1 when a fresh
 *       connection afterwards does not get 220 and 250 to NOOP.
 *
 * ADDR is HOST:PORT or [IPV6]:PORT.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

/* Greeting wait per connection in idle mode (milliseconds). */
#define PROBE_GREETING_MS 10000

static const char *src_ip;

static int
resolve(const char *addr, int passive, const char *host_only,
    struct sockaddr_storage *sa, socklen_t *len)
{
	char host[256], port[16];
	struct addrinfo hints, *res;
	const char *colon;

	if (host_only != NULL) {
		(void)snprintf(host, sizeof(host), "%s", host_only);
		(void)snprintf(port, sizeof(port), "0");
	} else if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		(void)snprintf(host, sizeof(host), "%.*s",
		    (int)(end - addr - 1), addr + 1);
		(void)snprintf(port, sizeof(port), "%s", end + 2);
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL)
			return -1;
		(void)snprintf(
		    host, sizeof(host), "%.*s", (int)(colon - addr), addr);
		(void)snprintf(port, sizeof(port), "%s", colon + 1);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags =
	    AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* A connected socket (blocking unless nonblock), or -1. */
static int
dial(const char *addr, int nonblock)
{
	struct sockaddr_storage sa, la;
	socklen_t len, llen;
	int fd;

	if (resolve(addr, 0, NULL, &sa, &len) < 0) {
		fprintf(stderr, "smtp_probe: bad address %s\n", addr);
		exit(2);
	}
	fd = socket(sa.ss_family,
	    SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	if (src_ip != NULL) {
		if (resolve(NULL, 1, src_ip, &la, &llen) < 0 ||
		    bind(fd, (struct sockaddr *)&la, llen) < 0) {
			fprintf(stderr, "smtp_probe: bind %s: %s\n", src_ip,
			    strerror(errno));
			exit(2);
		}
	}
	if (connect(fd, (struct sockaddr *)&sa, len) < 0 &&
	    errno != EINPROGRESS) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read what arrives until EOF or wait_ms of silence; to out if given. */
static size_t
drain(int fd, int wait_ms, FILE *out)
{
	char buf[65536];
	size_t total = 0;

	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t n;

		if (poll(&p, 1, wait_ms) <= 0)
			break;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		total += (size_t)n;
		if (out != NULL)
			fwrite(buf, 1, (size_t)n, out);
	}
	if (out != NULL)
		fflush(out);
	return total;
}

static int
write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
cmd_chat(const char *addr, int wait_ms, int close_early)
{
	unsigned char chunk[65536];
	int fd, in_open = 1;

	fd = dial(addr, 0);
	if (fd < 0) {
		fprintf(stderr, "smtp_probe: connect %s: %s\n", addr,
		    strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* The greeting first, so that the reply order reads naturally. */
	drain(fd, 200, stdout);
	/* Forward stdin as it comes (a script may pause between parts),
	 * printing replies meanwhile. */
	while (in_open) {
		struct pollfd p[2] = {{0, POLLIN, 0}, {fd, POLLIN, 0}};
		ssize_t n;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(fd, chunk, sizeof(chunk));
			if (n <= 0)
				break;
			fwrite(chunk, 1, (size_t)n, stdout);
			fflush(stdout);
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(0, chunk, sizeof(chunk));
			if (n <= 0)
				in_open = 0;
			else if (write_all(fd, chunk, (size_t)n) < 0)
				break;
		}
	}
	drain(fd, wait_ms, stdout);
	if (close_early) {
		struct linger l = {1, 0};

		/* An abrupt end: RST, as a crashed client. */
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	(void)close(fd);
	return 0;
}

RB_NORETURN static void
cmd_idle(const char *addr, unsigned n)
{
	int *fds = xcalloc(n, sizeof(*fds));
	char *state = xcalloc(n, 1); /* 0 wait, 1 ok, 2 refused, 3 failed */
	unsigned i, acc = 0, ref = 0, fail = 0, pending;
	long deadline;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 64) {
		rl.rlim_cur = rl.rlim_max < n + 64 ? rl.rlim_max : n + 64;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (i = 0; i < n; i++) {
		fds[i] = dial(addr, 1);
		if (fds[i] < 0)
			state[i] = 3;
	}
	deadline = now_ms() + PROBE_GREETING_MS;
	do {
		pending = 0;
		for (i = 0; i < n; i++) {
			struct pollfd p;
			char buf[512];
			ssize_t r;

			if (state[i] != 0)
				continue;
			p.fd = fds[i];
			p.events = POLLIN;
			p.revents = 0;
			if (poll(&p, 1, 0) <= 0) {
				pending++;
				continue;
			}
			r = read(fds[i], buf, sizeof(buf) - 1);
			if (r >= 4 && memcmp(buf, "220 ", 4) == 0)
				state[i] = 1;
			else if (r >= 4 && memcmp(buf, "421 ", 4) == 0)
				state[i] = 2;
			else if (r < 0 && errno == EAGAIN)
				pending++;
			else
				state[i] = 3;
		}
		if (pending > 0)
			usleep(2000);
	} while (pending > 0 && now_ms() < deadline);
	for (i = 0; i < n; i++) {
		if (state[i] == 1)
			acc++;
		else if (state[i] == 2)
			ref++;
		else
			fail++;
	}
	printf("accepted=%u refused=%u failed=%u\n", acc, ref, fail);
	fflush(stdout);
	for (;;)
		pause();
}

static uint32_t rng;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* One random line to b; returns 1 when it is a QUIT. */
static int
random_line(struct buf *b)
{
	static const char *const verbs[] = {"EHLO x", "HELO",
	    "MAIL FROM:", "RCPT TO:", "DATA", "BDAT 5", "RSET", "NOOP", "VRFY",
	    "HELP", "EXPN", "STARTTLS", "AUTH PLAIN",
	    "mail from:", "rcpt to:", ".", "", "BDAT 2 LAST", "QUIT", "EHLO"};
	static const char *const args[] = {"<>", "<bounces@fb.example>",
	    "<b+x@fb.example>", "<a@other.test>", " SIZE=100", " SMTPUTF8",
	    " BODY=8BITMIME", "<\"q u\"@fb.example>", "<@a:b@c>", "\r", "<",
	    ">", " LAST", "\xc3\xa4", "99999999999999999999"};
	unsigned k = rnd() % 4, j, v;
	int r = 0;

	/* QUIT rarely, so that connections see long sequences. */
	do {
		v = rnd() % (sizeof(verbs) / sizeof(verbs[0]));
	} while (v == 18 && rnd() % 8 != 0);
	r |= buf_printf(b, "%s", verbs[v]);
	for (j = 0; j < k && v != 18; j++) {
		if (rnd() % 3 == 0) {
			unsigned n = rnd() % 60, x;

			for (x = 0; x < n; x++)
				r |= buf_putc(b, (int)(rnd() & 0xff));
		} else
			r |= buf_printf(b, "%s",
			    args[rnd() % (sizeof(args) / sizeof(args[0]))]);
	}
	if (v != 18 && rnd() % 50 == 0) {
		unsigned n = 600 + rnd() % 5000, x; /* too long */

		for (x = 0; x < n; x++)
			r |= buf_putc(b, 'a' + (int)(rnd() % 26));
	}
	r |= buf_printf(b, rnd() % 5 ? "\r\n" : "\n");
	if (r != 0)
		abort();
	return v == 18;
}

/* Send b on fd while reading replies; returns bytes sent (all of them
 * unless the server hung up). */
static size_t
send_reading(int fd, const struct buf *b, size_t *replies)
{
	char buf[65536];
	size_t off = 0;

	while (off < b->len) {
		struct pollfd p = {fd, POLLIN | POLLOUT, 0};
		ssize_t n;

		if (poll(&p, 1, 5000) <= 0)
			break;
		if (p.revents & POLLIN) {
			n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				break;
			*replies += (size_t)n;
		}
		if (p.revents & POLLOUT) {
			n = send(fd, b->data + off, b->len - off,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN)
				break;
			if (n > 0)
				off += (size_t)n;
		}
		if (p.revents & (POLLHUP | POLLERR))
			break;
	}
	return off;
}

static int
cmd_random(const char *addr, unsigned lines, unsigned seed)
{
	unsigned sent = 0, conns = 0;
	size_t replies = 0, *ends;
	struct buf b;
	int fd = -1;
	char buf[65536];

	rng = seed ? seed : 1;
	signal(SIGPIPE, SIG_IGN);
	buf_init(&b, 1024 * 1024);
	ends = xcalloc(32, sizeof(*ends));
	while (sent < lines) {
		unsigned i, batch = 1 + rnd() % 20, quit = 0;
		size_t done;

		if (fd < 0) {
			fd = dial(addr, 0);
			if (fd < 0) {
				fprintf(stderr, "smtp_probe: connect: %s\n",
				    strerror(errno));
				return 1;
			}
			conns++;
		}
		buf_reset(&b);
		for (i = 0; i < batch && sent + i < lines && !quit; i++) {
			quit = (unsigned)random_line(&b);
			ends[i] = b.len;
		}
		batch = i;
		done = send_reading(fd, &b, &replies);
		/* Count the lines that went out whole. */
		for (i = 0; i < batch && ends[i] <= done; i++)
			sent++;
		if (quit || done < b.len) {
			replies += drain(fd, 1000, NULL);
			(void)close(fd);
			fd = -1;
		}
	}
	if (fd >= 0) {
		replies += drain(fd, 200, NULL);
		(void)close(fd);
	}
	free(ends);
	buf_free(&b);
	printf("lines=%u connections=%u replies=%zu\n", sent, conns, replies);
	/* The server is still there and sane. */
	fd = dial(addr, 0);
	if (fd < 0)
		return 1;
	{
		struct pollfd p = {fd, POLLIN, 0};
		size_t got = 0;

		if (poll(&p, 1, 5000) > 0)
			got = (size_t)read(fd, buf, sizeof(buf) - 1);
		if (got < 4 || memcmp(buf, "220 ", 4) != 0) {
			fprintf(stderr, "smtp_probe: no greeting after the "
			                "random lines\n");
			return 1;
		}
		if (write_all(fd, (const unsigned char *)"NOOP\r\n", 6) < 0)
			return 1;
		p.revents = 0;
		got = 0;
		if (poll(&p, 1, 5000) > 0)
			got = (size_t)read(fd, buf, sizeof(buf) - 1);
		if (got < 10 || memcmp(buf, "250 2.0.0 ", 10) != 0) {
			fprintf(stderr, "smtp_probe: no reply to NOOP after "
			                "the random lines\n");
			return 1;
		}
	}
	(void)close(fd);
	return 0;
}

static void
usage(void)
{
	fputs("usage: smtp_probe chat ADDR [--src IP] [--wait MS] [--close]\n"
	      "       smtp_probe idle ADDR N [--src IP]\n"
	      "       smtp_probe random ADDR LINES SEED\n",
	    stderr);
	exit(2);
}

static unsigned
num(const char *s)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0 || v > 100000000u)
		usage();
	return (unsigned)v;
}

int
main(int argc, char **argv)
{
	int wait_ms = 2000, close_early = 0, i;
	const char *pos[4];
	int npos = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--src") == 0 && i + 1 < argc)
			src_ip = argv[++i];
		else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc)
			wait_ms = (int)num(argv[++i]);
		else if (strcmp(argv[i], "--close") == 0)
			close_early = 1;
		else if (npos < 4)
			pos[npos++] = argv[i];
		else
			usage();
	}
	if (npos >= 2 && strcmp(pos[0], "chat") == 0 && npos == 2)
		return cmd_chat(pos[1], wait_ms, close_early);
	if (npos == 3 && strcmp(pos[0], "idle") == 0)
		cmd_idle(pos[1], num(pos[2]));
	if (npos == 4 && strcmp(pos[0], "random") == 0)
		return cmd_random(pos[1], num(pos[2]), num(pos[3]));
	usage();
	return 2;
}
