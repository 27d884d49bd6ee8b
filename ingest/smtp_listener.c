/*
 * smtp_listener: the SMTP daemon core.  Sockets, one non-blocking epoll
 * loop thread, connection limits (total and per client IP), timeouts,
 * back-pressure and graceful stop; the protocol is smtp_session.c's and
 * the disk work spool.c's threads', so the loop never blocks on a file.
 *
 * A connection reads only while its session can take input: not while
 * its message is at the spool (the 250 waits for the fsync; pipelined
 * commands behind it wait in the connection's pending bytes, at most
 * one read), and not while its replies are not being read.  Memory per
 * idle connection: the session (~1 KB with its line buffer).  Messages
 * being received count toward max_memory; above it, or above
 * max_backlog undelivered messages, new transactions get 451 4.3.1.
 * STARTTLS: after the "220" is written, the plaintext read beyond the
 * command is dropped (the session says where), the handshake runs in
 * the loop like any other I/O, and the session starts over on TLS.
 */
#define _GNU_SOURCE /* accept4: one call instead of accept + 2 fcntl */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingest/ingest_int.h"

/* Bytes read from a socket at once (one shared buffer in the loop). */
#define LISTENER_READ_CHUNK (64u * 1024)
/* Events taken per epoll_wait. */
#define LISTENER_MAX_EVENTS 256
/* Timeouts are checked this often (milliseconds); a deadline is
 * honoured within a second. */
#define LISTENER_TICK_MS 1000
/* listen(2) backlog: bursts of a few hundred MTAs connecting at once. */
#define LISTENER_BACKLOG 511
/* Seconds a closing connection may take to read its last reply. */
#define LISTENER_LINGER 10
/* Buckets of the per-IP connection table (chained). */
#define LISTENER_IP_BUCKETS 1024u
/* A client address as text, and "[addr]:port". */
#define LISTENER_ADDR_MAX 64
/* epoll data of the eventfd; listeners use 0..SMTP_MAX_LISTEN-1, and
 * connections their (never that small) address. */
#define LISTENER_TAG_EVENTFD ((uint64_t)SMTP_MAX_LISTEN)

struct ip_entry {
	struct ip_entry *next;
	unsigned count;
	char ip[LISTENER_ADDR_MAX];
};

/* Where a connection is with TLS. */
enum conn_tls {
	CONN_PLAIN,
	CONN_TLS_WANT,      /* STARTTLS accepted: writing the "220" */
	CONN_TLS_HANDSHAKE, /* the handshake is under way */
	CONN_TLS_ON,
};

struct conn {
	struct conn *prev, *next;
	struct smtp_tls *tls;
	enum conn_tls tls_state;
	struct smtp_server *srv;
	int fd;
	struct smtp_session *s;
	struct ip_entry *ip;
	unsigned char *pending; /* input the session has not taken yet */
	size_t pending_len;
	size_t pending_cap;
	size_t memory; /* session memory counted in srv->memory */
	int waiting;   /* its message is at the spool */
	int mute;      /* input came while waiting: EPOLLIN off till then */
	int dead;      /* socket gone while waiting */
	int closing;   /* writing the last replies */
	time_t close_by;
	uint32_t events; /* registered with epoll */
	char id[32];
};

struct smtp_server {
	struct smtp_config cfg;
	char hostname[256];
	int ep;
	int evfd;
	int lfd[SMTP_MAX_LISTEN];
	char laddr[SMTP_MAX_LISTEN][LISTENER_ADDR_MAX];
	size_t n_listen;
	int spare_fd;
	struct smtp_tls_ctx *tls; /* NULL: no STARTTLS */
	struct spool *spool;
	struct conn *conns;
	struct conn *dead; /* freed after the current batch of events */
	size_t n_conns;
	size_t expected; /* told to the spool */
	struct ip_entry *ips[LISTENER_IP_BUCKETS];
	size_t memory;
	unsigned busy; /* SMTP_BUSY* for the sessions */
	time_t started;
	uint64_t seq;
	pthread_t loop;
	int running; /* the loop thread was started */
	atomic_int stop;
	unsigned stop_timeout;
	time_t stop_deadline;
	int stopping;
	atomic_uint_fast64_t n_accepted, n_refused, n_active, n_messages;
	atomic_uint_fast64_t n_timeouts, n_tls;
	atomic_uint_fast64_t n_rejections[SMTP_N_REJECT_CODES + 1];
	unsigned char rbuf[LISTENER_READ_CHUNK];
};

static const unsigned reject_codes[SMTP_N_REJECT_CODES] = {SMTP_REJECT_CODES};

unsigned
smtp_reject_code(size_t i)
{
	return i < SMTP_N_REJECT_CODES ? reject_codes[i] : 0;
}

/* cfg.on_reject of every session: count the reply by its code. */
static void
count_reject(unsigned code, void *ctx)
{
	struct smtp_server *srv = ctx;
	size_t i;

	for (i = 0; i < SMTP_N_REJECT_CODES; i++)
		if (reject_codes[i] == code)
			break;
	atomic_fetch_add(&srv->n_rejections[i], 1);
}

/* ---- per-IP counts ------------------------------------------------------ */

static unsigned
ip_hash(const char *ip)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *ip != '\0'; ip++)
		h = (h ^ (unsigned char)*ip) * 16777619u;
	return h % LISTENER_IP_BUCKETS;
}

static struct ip_entry *
ip_find(struct smtp_server *srv, const char *ip, int create)
{
	unsigned h = ip_hash(ip);
	struct ip_entry *e;

	for (e = srv->ips[h]; e != NULL; e = e->next) {
		if (strcmp(e->ip, ip) == 0)
			return e;
	}
	if (!create)
		return NULL;
	e = xcalloc(1, sizeof(*e));
	(void)snprintf(e->ip, sizeof(e->ip), "%s", ip);
	e->next = srv->ips[h];
	srv->ips[h] = e;
	return e;
}

static void
ip_release(struct smtp_server *srv, struct ip_entry *e)
{
	struct ip_entry **pp;

	if (--e->count > 0)
		return;
	for (pp = &srv->ips[ip_hash(e->ip)]; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			free(e);
			return;
		}
	}
}

/* ---- the transaction log ------------------------------------------------ */

/* Append v to out at *off with control octets as '?'. */
static void
log_put(char *out, size_t outlen, size_t *off, const char *v)
{
	for (; *v != '\0' && *off + 1 < outlen; v++) {
		unsigned char c = (unsigned char)*v;

		out[(*off)++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[*off] = '\0';
}

void
smtp_txn_format(const struct smtp_txn *t, char *line, size_t len)
{
	char num[64];
	size_t off = 0, i;

	if (len == 0)
		return;
	line[0] = '\0';
	log_put(line, len, &off, "smtp: session=");
	log_put(line, len, &off, t->env->session_id);
	log_put(line, len, &off, " client=");
	log_put(line, len, &off, t->env->client);
	log_put(line, len, &off, " helo=");
	log_put(line, len, &off, t->env->helo);
	log_put(line, len, &off, " from=<");
	log_put(line, len, &off, t->env->mail_from);
	log_put(line, len, &off, "> rcpts=");
	for (i = 0; i < t->env->n_rcpts; i++) {
		if (off > len / 2) {
			(void)snprintf(
			    num, sizeof(num), "...(+%zu)", t->env->n_rcpts - i);
			log_put(line, len, &off, num);
			break;
		}
		log_put(line, len, &off, i > 0 ? ",<" : "<");
		log_put(line, len, &off, t->env->rcpts[i].address);
		log_put(line, len, &off, ">");
		if (t->env->rcpts[i].verp == SMTP_VERP_UNTRUSTED)
			log_put(line, len, &off, "(untrusted)");
	}
	(void)snprintf(num, sizeof(num), " rejected=%zu size=%llu",
	    t->n_rejected, (unsigned long long)t->size);
	log_put(line, len, &off, num);
	log_put(line, len, &off, " queue=");
	log_put(line, len, &off, t->queue_id != NULL ? t->queue_id : "-");
	log_put(line, len, &off, " result=\"");
	log_put(line, len, &off, t->result);
	log_put(line, len, &off, "\"");
	if (t->env->tls)
		log_put(line, len, &off, " tls=yes");
}

static void
txn_log(const struct smtp_txn *t, void *ctx)
{
	struct smtp_server *srv = ctx;
	char line[SMTP_TXN_LINE_MAX];

	if (srv->cfg.txn_log != NULL) {
		srv->cfg.txn_log(t, srv->cfg.txn_log_ctx);
		return;
	}
	smtp_txn_format(t, line, sizeof(line));
	log_info("%s", line);
}

/* ---- connections -------------------------------------------------------- */

static void
conn_events(struct conn *c)
{
	uint32_t want = 0;
	size_t out;
	struct epoll_event ev;

	if (c->fd < 0)
		return;
	(void)smtp_session_output(c->s, &out);
	if (c->tls_state == CONN_TLS_HANDSHAKE)
		want = smtp_tls_wants_write(c->tls) ? EPOLLOUT : EPOLLIN;
	else {
		/* While the message is at the spool EPOLLIN stays on (no
		 * epoll_ctl per message) until input does arrive. */
		if (!c->mute && !c->closing && c->pending_len == 0)
			want |= EPOLLIN;
		if (out > 0)
			want |= EPOLLOUT;
	}
	if (want == c->events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = want;
	ev.data.ptr = c;
	if (epoll_ctl(c->srv->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
}

/* Take the socket out; the struct is freed after this batch of events
 * (or, when its message is at the spool, once the result is in). */
static void
conn_close(struct conn *c)
{
	struct smtp_server *srv = c->srv;

	if (c->fd >= 0) {
		if (c->tls_state == CONN_TLS_ON)
			smtp_tls_bye(c->tls);
		(void)close(c->fd);
		c->fd = -1;
	}
	if (c->waiting) {
		c->dead = 1;
		return;
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->n_conns--;
	atomic_fetch_sub(&srv->n_active, 1);
	ip_release(srv, c->ip);
	srv->memory -= c->memory;
	c->memory = 0;
	c->next = srv->dead;
	srv->dead = c;
}

static void
conn_free(struct conn *c)
{
	smtp_session_free(&c->s);
	smtp_tls_free(&c->tls);
	free(c->pending);
	free(c);
}

/* send(2), or TLS once it is on; -1 with errno EAGAIN when it would
 * block, another errno when the connection is broken. */
static ssize_t
conn_send(struct conn *c, const unsigned char *p, size_t len)
{
	ssize_t w;

	if (c->tls_state != CONN_TLS_ON)
		return send(c->fd, p, len, MSG_NOSIGNAL);
	w = smtp_tls_write(c->tls, p, len);
	if (w == SMTP_TLS_AGAIN)
		errno = EAGAIN;
	else if (w < 0)
		errno = EPIPE;
	return w < 0 ? -1 : w;
}

/* recv(2), or TLS once it is on: bytes, 0 at the end, -1 (errno). */
static ssize_t
conn_recv(struct conn *c, unsigned char *p, size_t len)
{
	ssize_t n;

	if (c->tls_state != CONN_TLS_ON)
		return recv(c->fd, p, len, 0);
	n = smtp_tls_read(c->tls, p, len);
	if (n == SMTP_TLS_AGAIN)
		errno = EAGAIN;
	else if (n < 0)
		errno = ECONNRESET;
	return n < 0 ? -1 : n;
}

static int tls_begin(struct conn *c);

/* Write what the session has; 0, or -1 when the connection is gone. */
static int
conn_flush(struct conn *c)
{
	for (;;) {
		size_t len;
		const unsigned char *p = smtp_session_output(c->s, &len);
		ssize_t w;

		if (len == 0)
			break;
		w = conn_send(c, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_close(c);
			return -1;
		}
		smtp_session_output_consume(c->s, (size_t)w);
	}
	if (c->tls_state == CONN_TLS_WANT) {
		size_t len;

		(void)smtp_session_output(c->s, &len);
		if (len == 0)
			return tls_begin(c);
	}
	if (c->closing || smtp_session_closing(c->s)) {
		size_t len;

		(void)smtp_session_output(c->s, &len);
		if (len == 0) {
			conn_close(c);
			return -1;
		}
		if (!c->closing) {
			c->closing = 1;
			c->close_by = time(NULL) + LISTENER_LINGER;
		}
	}
	conn_events(c);
	return 0;
}

static void
set_pending(struct conn *c, const unsigned char *p, size_t len)
{
	if (len == 0) {
		c->pending_len = 0;
		return;
	}
	if (c->pending != NULL && p >= c->pending &&
	    p < c->pending + c->pending_cap) {
		memmove(c->pending, p, len);
	} else {
		if (c->pending_cap < len) {
			free(c->pending);
			c->pending = xmalloc(len);
			c->pending_cap = len;
		}
		memcpy(c->pending, p, len);
	}
	c->pending_len = len;
}

static void
conn_memory(struct conn *c)
{
	size_t m = smtp_session_memory(c->s);

	c->srv->memory = c->srv->memory - c->memory + m;
	c->memory = m;
}

static void
submit(struct conn *c)
{
	size_t len;
	unsigned char *data = smtp_session_take_message(c->s, &len);
	char id[SPOOL_ID_SIZE];

	conn_memory(c);
	c->waiting = 1;
	spool_submit(
	    c->srv->spool, smtp_session_envelope(c->s), data, len, c, id);
}

/* Feed p[0..len) to the session (p may be c->pending). */
static void
conn_input(struct conn *c, const unsigned char *p, size_t len, time_t now)
{
	for (;;) {
		size_t used = 0;
		enum smtp_event ev;

		smtp_session_set_busy(c->s, c->srv->busy);
		ev = smtp_session_input(c->s, p, len, now, &used);
		p += used;
		len -= used;
		conn_memory(c);
		switch (ev) {
		case SMTP_EV_NEED_INPUT:
			set_pending(c, p, 0);
			(void)conn_flush(c);
			return;
		case SMTP_EV_WRITE: {
			size_t out;

			if (conn_flush(c) < 0)
				return;
			(void)smtp_session_output(c->s, &out);
			if (out > 0) {
				/* The client is not reading: EPOLLOUT
				 * resumes the input. */
				set_pending(c, p, len);
				conn_events(c);
				return;
			}
			break;
		}
		case SMTP_EV_MESSAGE:
			set_pending(c, p, len);
			submit(c);
			(void)conn_flush(c);
			return;
		case SMTP_EV_CLOSE:
			set_pending(c, p, 0);
			(void)conn_flush(c);
			return;
		case SMTP_EV_STARTTLS:
			/* The rest was sent in the clear after STARTTLS:
			 * never read as commands (RFC 3207 5). */
			set_pending(c, p, 0);
			c->tls_state = CONN_TLS_WANT;
			c->mute = 1;
			(void)conn_flush(c);
			return;
		}
	}
}

static void conn_read(struct conn *c, time_t now);

/* Go on with the handshake; 0, or -1 when the connection is gone. */
static int
tls_step(struct conn *c, time_t now)
{
	const char *why = "";
	int r = smtp_tls_handshake(c->tls, &why);
	char desc[64];

	if (r == SMTP_TLS_AGAIN) {
		conn_events(c);
		return 0;
	}
	if (r < 0) {
		log_info(
		    "smtp: session=%s: TLS handshake failed: %s", c->id, why);
		conn_close(c);
		return -1;
	}
	c->tls_state = CONN_TLS_ON;
	atomic_fetch_add(&c->srv->n_tls, 1);
	smtp_tls_describe(c->tls, desc, sizeof(desc));
	log_debug("smtp: session=%s: TLS %s", c->id, desc);
	smtp_session_tls_started(c->s, now);
	if (conn_flush(c) < 0)
		return -1;
	/* The client's first command may have come with its last
	 * handshake record and be read already: the socket would not
	 * signal it again.  A read finds it (or EAGAIN). */
	conn_read(c, now);
	return c->fd >= 0 ? 0 : -1;
}

/* The "220" is out: start the handshake on the socket. */
static int
tls_begin(struct conn *c)
{
	c->tls = smtp_tls_new(c->srv->tls, c->fd);
	c->tls_state = CONN_TLS_HANDSHAKE;
	c->mute = 0;
	return tls_step(c, time(NULL));
}

/* Input may go on: TLS may hold decrypted bytes the socket no longer
 * signals.  Defined below. */
static void conn_resume(struct conn *c, time_t now);

static void
conn_read(struct conn *c, time_t now)
{
	struct smtp_server *srv = c->srv;
	ssize_t n;

	if (c->tls_state == CONN_TLS_HANDSHAKE) {
		(void)tls_step(c, now);
		return;
	}
	if (c->waiting || c->tls_state == CONN_TLS_WANT) {
		c->mute = 1; /* taken after the 250 (or the handshake) */
		conn_events(c);
		return;
	}
	if (c->closing || c->pending_len > 0)
		return;
	n = conn_recv(c, srv->rbuf, sizeof(srv->rbuf));
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		conn_close(c);
		return;
	}
	if (n == 0) {
		conn_close(c); /* the session logs an aborted transaction */
		return;
	}
	conn_input(c, srv->rbuf, (size_t)n, now);
	conn_resume(c, now);
}

static void
conn_resume(struct conn *c, time_t now)
{
	if (c->fd >= 0 && c->tls_state == CONN_TLS_ON && !c->waiting &&
	    !c->closing && c->pending_len == 0 && smtp_tls_pending(c->tls) > 0)
		conn_read(c, now);
}

static void
conn_writable(struct conn *c, time_t now)
{
	if (c->tls_state == CONN_TLS_HANDSHAKE) {
		(void)tls_step(c, now);
		return;
	}
	if (conn_flush(c) < 0)
		return;
	/* Input stopped for SMTP_EV_WRITE goes on once replies are out. */
	if (c->pending_len > 0 && !c->waiting && !c->closing) {
		size_t out;

		(void)smtp_session_output(c->s, &out);
		if (out == 0)
			conn_input(c, c->pending, c->pending_len, now);
	}
	conn_resume(c, now);
}

static void
spool_result(void *tag, const char *queue_id, void *ctx)
{
	struct conn *c = tag;
	time_t now = *(const time_t *)ctx;

	c->waiting = 0;
	c->mute = 0;
	smtp_session_message_done(c->s, queue_id, now);
	if (queue_id != NULL)
		atomic_fetch_add(&c->srv->n_messages, 1);
	if (c->dead) {
		conn_close(c);
		return;
	}
	if (conn_flush(c) < 0)
		return;
	if (c->pending_len > 0 && !c->closing)
		conn_input(c, c->pending, c->pending_len, now);
	else
		conn_events(c);
	conn_resume(c, now);
}

/* ---- accepting ---------------------------------------------------------- */

static void
addr_text(
    const struct sockaddr_storage *sa, char *out, size_t outlen, int with_port)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port = 0;

	host[0] = '\0';
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		(void)inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			(void)inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12],
			    host, sizeof(host));
		else
			(void)inet_ntop(
			    AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		if (with_port && !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			(void)snprintf(out, outlen, "[%s]:%u", host, port);
			return;
		}
	}
	if (with_port)
		(void)snprintf(out, outlen, "%s:%u", host, port);
	else
		(void)snprintf(out, outlen, "%s", host);
}

/* Refuse with 421 4.7.0 at once: the reply fits any socket buffer. */
static void
refuse(struct smtp_server *srv, int fd, const char *ip, time_t now)
{
	struct smtp_session *s =
	    smtp_session_new(&srv->cfg, ip, "-", 1, now, NULL, NULL);
	size_t len;
	const unsigned char *p = smtp_session_output(s, &len);

	(void)send(fd, p, len, MSG_NOSIGNAL);
	(void)close(fd);
	smtp_session_free(&s);
	atomic_fetch_add(&srv->n_refused, 1);
}

static void
accept_one(struct smtp_server *srv, int fd, time_t now)
{
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	char ip[LISTENER_ADDR_MAX];
	struct ip_entry *e;
	struct conn *c;
	struct epoll_event ev;
	int one = 1;

	if (getpeername(fd, (struct sockaddr *)&sa, &salen) < 0) {
		(void)close(fd);
		return;
	}
	addr_text(&sa, ip, sizeof(ip), 0);
	e = ip_find(srv, ip, 0);
	if (srv->n_conns >= srv->cfg.max_connections ||
	    (e != NULL && e->count >= srv->cfg.max_per_ip)) {
		refuse(srv, fd, ip, now);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->fd = fd;
	(void)snprintf(c->id, sizeof(c->id), "%llx.%llx",
	    (unsigned long long)srv->started, (unsigned long long)++srv->seq);
	c->s = smtp_session_new(&srv->cfg, ip, c->id, 0, now, txn_log, srv);
	c->ip = ip_find(srv, ip, 1);
	c->ip->count++;
	memset(&ev, 0, sizeof(ev));
	ev.events = 0;
	ev.data.ptr = c;
	if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_error("smtp: epoll: %s", strerror(errno));
		ip_release(srv, c->ip);
		(void)close(fd);
		conn_free(c);
		return;
	}
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->n_conns++;
	atomic_fetch_add(&srv->n_accepted, 1);
	atomic_fetch_add(&srv->n_active, 1);
	(void)conn_flush(c); /* the greeting; registers EPOLLIN */
}

static void
accept_all(struct smtp_server *srv, int lfd, time_t now)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			accept_one(srv, fd, now);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if ((errno == EMFILE || errno == ENFILE) &&
		    srv->spare_fd >= 0) {
			/* Out of descriptors: take the client with the spare
			 * one and close it, rather than spin on a listener
			 * that stays readable. */
			(void)close(srv->spare_fd);
			fd = accept(lfd, NULL, NULL);
			if (fd >= 0)
				(void)close(fd);
			srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			log_warn("smtp: out of file descriptors; raise "
			         "ulimit -n or lower max_connections");
			atomic_fetch_add(&srv->n_refused, 1);
		} else if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("smtp: accept: %s", strerror(errno));
		return;
	}
}

/* ---- the loop ----------------------------------------------------------- */

/*
 * Back-pressure for the sessions.  A quarter of max_memory is the
 * pipeline's (spool_config.max_memory); the rest holds messages being
 * received or committed.  At three quarters of that, or with
 * max_backlog messages undelivered, no new transaction starts; at all
 * of it, messages being received stop growing (and are refused).
 */
static void
update_busy(struct smtp_server *srv)
{
	struct spool_stats st;
	size_t budget = srv->cfg.max_memory - srv->cfg.max_memory / 4;
	size_t used;

	spool_get_stats(srv->spool, &st);
	used = srv->memory + (size_t)st.memory;
	srv->busy = 0;
	if (st.backlog >= srv->cfg.max_backlog || used >= budget - budget / 4)
		srv->busy |= SMTP_BUSY;
	if (used >= budget)
		srv->busy |= SMTP_BUSY_MEMORY;
}

static void
sweep(struct smtp_server *srv, time_t now)
{
	struct conn *c, *next;

	for (c = srv->conns; c != NULL; c = next) {
		time_t dl;

		next = c->next;
		if (c->closing) {
			if (now >= c->close_by)
				conn_close(c);
			continue;
		}
		if (c->fd < 0)
			continue;
		dl = smtp_session_deadline(c->s);
		if (dl != 0 && now >= dl) {
			atomic_fetch_add(&srv->n_timeouts, 1);
			smtp_session_timeout(c->s);
			(void)conn_flush(c);
		}
	}
}

static void
begin_stop(struct smtp_server *srv, time_t now)
{
	struct conn *c, *next;
	size_t i;

	srv->stopping = 1;
	srv->stop_deadline = now + (time_t)srv->stop_timeout;
	for (i = 0; i < srv->n_listen; i++) {
		(void)close(srv->lfd[i]);
		srv->lfd[i] = -1;
	}
	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (c->fd < 0 || c->closing)
			continue;
		if (smtp_session_shutdown(c->s))
			(void)conn_flush(c);
	}
}

static void
cut_all(struct smtp_server *srv)
{
	struct conn *c, *next;

	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (!c->waiting)
			conn_close(c);
	}
}

static void *
loop_main(void *arg)
{
	struct smtp_server *srv = arg;
	struct epoll_event evs[LISTENER_MAX_EVENTS];
	time_t last_sweep = time(NULL);

	for (;;) {
		int n = epoll_wait(
		    srv->ep, evs, LISTENER_MAX_EVENTS, LISTENER_TICK_MS);
		time_t now = time(NULL);
		int i;

		if (n < 0 && errno != EINTR) {
			log_error("smtp: epoll_wait: %s", strerror(errno));
			break;
		}
		update_busy(srv);
		for (i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag < srv->n_listen) {
				if (!srv->stopping)
					accept_all(srv, srv->lfd[tag], now);
			} else if (tag == LISTENER_TAG_EVENTFD) {
				uint64_t v;

				/* Reset the counter; EAGAIN is no news. */
				if (read(srv->evfd, &v, sizeof(v)) < 0 &&
				    errno != EAGAIN)
					log_warn("smtp: eventfd: %s",
					    strerror(errno));
				(void)spool_collect(
				    srv->spool, spool_result, &now);
			} else {
				struct conn *c = evs[i].data.ptr;

				if (c->fd < 0)
					continue;
				if (evs[i].events & EPOLLOUT)
					conn_writable(c, now);
				if (c->fd >= 0 &&
				    (evs[i].events &
				        (EPOLLIN | EPOLLHUP | EPOLLERR)))
					conn_read(c, now);
				if (c->fd >= 0 &&
				    (evs[i].events & (EPOLLHUP | EPOLLERR)) &&
				    (c->waiting || c->pending_len > 0 ||
				        c->closing))
					conn_close(c);
			}
		}
		while (srv->dead != NULL) {
			struct conn *c = srv->dead;

			srv->dead = c->next;
			conn_free(c);
		}
		if (srv->n_conns != srv->expected) {
			srv->expected = srv->n_conns;
			spool_set_expected(srv->spool, (unsigned)srv->n_conns);
		}
		if (!srv->stopping && atomic_load(&srv->stop))
			begin_stop(srv, now);
		if (now != last_sweep) {
			sweep(srv, now);
			last_sweep = now;
		}
		if (srv->stopping) {
			if (now >= srv->stop_deadline)
				cut_all(srv);
			if (srv->n_conns == 0)
				break;
		}
		while (srv->dead != NULL) {
			struct conn *c = srv->dead;

			srv->dead = c->next;
			conn_free(c);
		}
	}
	return NULL;
}

static void
wake(void *ctx)
{
	struct smtp_server *srv = ctx;
	uint64_t one = 1;

	/* Fails only when the counter is full: a wake-up is pending. */
	if (write(srv->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("smtp: eventfd: %s", strerror(errno));
}

/* ---- start and stop ----------------------------------------------------- */

/* Split "host:port" / "[v6]:port" / ":port" (all addresses). */
static int
split_addr(
    const char *a, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon;
	size_t hl;

	if (a[0] == '[') {
		const char *end = strchr(a, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		hl = (size_t)(end - a - 1);
		if (hl >= hostlen)
			return -1;
		memcpy(host, a + 1, hl);
		host[hl] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(a, ':');
		if (colon == NULL || memchr(a, ':', (size_t)(colon - a)))
			return -1;
		hl = (size_t)(colon - a);
		if (hl >= hostlen)
			return -1;
		memcpy(host, a, hl);
		host[hl] = '\0';
	}
	if (colon[1] == '\0' || strlen(colon + 1) >= portlen)
		return -1;
	memcpy(port, colon + 1, strlen(colon + 1) + 1);
	return 0;
}

static int
bind_one(struct smtp_server *srv, const char *a, struct rb_error *err)
{
	char host[256], port[16];
	struct addrinfo hints, *res = NULL, *ai;
	int rc, bound = 0;

	if (split_addr(a, host, sizeof(host), port, sizeof(port)) < 0)
		return rb_error_set(err, EINVAL,
		    "smtp: bad listen address "
		    "\"%s\" (want HOST:PORT or [IPV6]:PORT)",
		    a);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &res);
	if (rc != 0)
		return rb_error_set(err, EINVAL,
		    "smtp: listen address "
		    "\"%s\": %s",
		    a, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int fd, one = 1;
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);
		struct epoll_event ev;

		if (srv->n_listen >= SMTP_MAX_LISTEN) {
			freeaddrinfo(res);
			return rb_error_set(err, EINVAL,
			    "smtp: more than %d "
			    "listen addresses",
			    SMTP_MAX_LISTEN);
		}
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		(void)setsockopt(
		    fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			(void)setsockopt(
			    fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		    listen(fd, LISTENER_BACKLOG) < 0 ||
		    getsockname(fd, (struct sockaddr *)&sa, &salen) < 0) {
			int e = errno;

			(void)close(fd);
			freeaddrinfo(res);
			return rb_error_set(
			    err, e, "smtp: listen on %s: %s", a, strerror(e));
		}
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.u64 = srv->n_listen;
		if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			int e = errno;

			(void)close(fd);
			freeaddrinfo(res);
			return rb_error_set(
			    err, e, "smtp: epoll: %s", strerror(e));
		}
		addr_text(
		    &sa, srv->laddr[srv->n_listen], sizeof(srv->laddr[0]), 1);
		srv->lfd[srv->n_listen++] = fd;
		bound++;
	}
	freeaddrinfo(res);
	if (bound == 0)
		return rb_error_set(err, EADDRNOTAVAIL,
		    "smtp: listen on %s: "
		    "no usable address",
		    a);
	return 0;
}

static void
server_free(struct smtp_server *srv)
{
	size_t i;

	spool_close(&srv->spool, 0);
	for (i = 0; i < srv->n_listen; i++) {
		if (srv->lfd[i] >= 0)
			(void)close(srv->lfd[i]);
	}
	if (srv->ep >= 0)
		(void)close(srv->ep);
	if (srv->evfd >= 0)
		(void)close(srv->evfd);
	if (srv->spare_fd >= 0)
		(void)close(srv->spare_fd);
	smtp_tls_ctx_free(&srv->tls);
	free(srv);
}

int
smtp_server_listen(const struct smtp_config *cfg, struct smtp_server **srv_r,
    struct rb_error *err)
{
	struct smtp_server *srv = xcalloc(1, sizeof(*srv));
	struct epoll_event ev;
	size_t i;

	srv->ep = srv->evfd = srv->spare_fd = -1;
	srv->cfg = *cfg;
	smtp_config_defaults(&srv->cfg);
	srv->cfg.on_reject = count_reject;
	srv->cfg.on_reject_ctx = srv;
	if (srv->cfg.hostname == NULL) {
		if (gethostname(srv->hostname, sizeof(srv->hostname) - 1) < 0 ||
		    srv->hostname[0] == '\0')
			(void)snprintf(
			    srv->hostname, sizeof(srv->hostname), "localhost");
		srv->cfg.hostname = srv->hostname;
	}
	srv->started = time(NULL);
	if (srv->cfg.spool_dir == NULL || srv->cfg.spool_dir[0] == '\0') {
		rb_error_set(err, EINVAL, "smtp: no spool directory");
		goto fail;
	}
	srv->ep = epoll_create1(EPOLL_CLOEXEC);
	srv->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (srv->ep < 0 || srv->evfd < 0) {
		rb_error_set(err, errno, "smtp: %s", strerror(errno));
		goto fail;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = LISTENER_TAG_EVENTFD;
	if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, srv->evfd, &ev) < 0) {
		rb_error_set(err, errno, "smtp: epoll: %s", strerror(errno));
		goto fail;
	}
	if ((srv->cfg.tls_cert != NULL) != (srv->cfg.tls_key != NULL)) {
		rb_error_set(err, EINVAL,
		    "smtp: STARTTLS needs both a certificate and a key");
		goto fail;
	}
	/* Before the privileges go: the key may be readable by root only. */
	if (srv->cfg.tls_cert != NULL &&
	    smtp_tls_ctx_new(
	        srv->cfg.tls_cert, srv->cfg.tls_key, &srv->tls, err) < 0)
		goto fail;
	for (i = 0; i < srv->cfg.n_listen; i++) {
		if (bind_one(srv, srv->cfg.listen[i], err) < 0)
			goto fail;
	}
	*srv_r = srv;
	return 0;
fail:
	server_free(srv);
	return -1;
}

int
smtp_server_run(struct smtp_server *srv, smtp_deliver_fn *deliver, void *ctx,
    struct rb_error *err)
{
	struct spool_config sc;
	size_t i;

	rb_assert(srv->spool == NULL && !srv->running);
	if (srv->cfg.n_domains == 0)
		log_warn("smtp: no feedback domain configured: every "
		         "recipient will be refused");
	memset(&sc, 0, sizeof(sc));
	sc.dir = srv->cfg.spool_dir;
	sc.deliver = deliver;
	sc.deliver_ctx = ctx;
	sc.sync = srv->cfg.sync;
	sc.deliver_batch = srv->cfg.deliver_batch;
	sc.max_memory = srv->cfg.max_memory / 4;
	sc.notify = wake;
	sc.notify_ctx = srv;
	if (spool_open(&sc, &srv->spool, err) < 0)
		return -1;
	if (pthread_create(&srv->loop, NULL, loop_main, srv) != 0)
		return rb_error_set(err, EAGAIN, "smtp: cannot start a thread");
	srv->running = 1;
	for (i = 0; i < srv->n_listen; i++)
		log_info("smtp: listening on %s", srv->laddr[i]);
	return 0;
}

int
smtp_server_start(const struct smtp_config *cfg, smtp_deliver_fn *deliver,
    void *ctx, struct smtp_server **srv_r, struct rb_error *err)
{
	struct smtp_server *srv = NULL;

	if (smtp_server_listen(cfg, &srv, err) < 0)
		return -1;
	if (smtp_server_run(srv, deliver, ctx, err) < 0) {
		smtp_server_stop(&srv, 0);
		return -1;
	}
	*srv_r = srv;
	return 0;
}

int
smtp_server_address(
    const struct smtp_server *srv, size_t i, char *out, size_t outlen)
{
	if (i >= srv->n_listen)
		return -1;
	(void)snprintf(out, outlen, "%s", srv->laddr[i]);
	return 0;
}

void
smtp_server_get_stats(struct smtp_server *srv, struct smtp_server_stats *st)
{
	size_t i;

	memset(st, 0, sizeof(*st));
	st->connections = atomic_load(&srv->n_accepted);
	st->refused = atomic_load(&srv->n_refused);
	st->active = atomic_load(&srv->n_active);
	st->messages = atomic_load(&srv->n_messages);
	st->timeouts = atomic_load(&srv->n_timeouts);
	st->tls = atomic_load(&srv->n_tls);
	for (i = 0; i <= SMTP_N_REJECT_CODES; i++)
		st->rejections[i] = atomic_load(&srv->n_rejections[i]);
	if (srv->spool != NULL)
		spool_get_stats(srv->spool, &st->spool);
}

void
smtp_server_stop(struct smtp_server **srvp, unsigned timeout)
{
	struct smtp_server *srv = *srvp;
	time_t t0 = time(NULL), left;

	if (srv == NULL)
		return;
	if (srv->running) {
		srv->stop_timeout = timeout;
		atomic_store(&srv->stop, 1);
		wake(srv);
		pthread_join(srv->loop, NULL);
	}
	left = t0 + (time_t)timeout - time(NULL);
	spool_close(&srv->spool, left > 0 ? (unsigned)left * 1000u : 0);
	server_free(srv);
	*srvp = NULL;
}
