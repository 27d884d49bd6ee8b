/*
 * serve_log: where the lines of `rebound serve` go.  A sink of core's
 * log_msg(): each line is stamped (RFC 3339 UTC, milliseconds) and
 * written with one write(2) to stderr or to log.file (opened O_APPEND,
 * reopened on SIGHUP by dup2 over the same descriptor, so no lock is
 * needed against writers).  As text: "TIME rebound: LEVEL: MSG"; as
 * JSON lines: {"time","level","msg"} or the fields a caller gives
 * (serve_log_fields).  Octets that are not UTF-8 become '?' in JSON.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/serve.h"

/* A stamped line: the message (LOG_LINE_MAX) escaped for JSON (up to 6
 * octets per octet), the time, the level and the newline. */
#define SERVE_LOG_OUT_MAX (6 * LOG_LINE_MAX + 128)

static int log_fd = STDERR_FILENO;
static char *log_path;
static int log_json;

static void
stamp(char *out, size_t outlen)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		base[0] = '\0';
	(void)snprintf(out, outlen, "%s.%03ldZ", base, ts.tv_nsec / 1000000L);
}

/* Length of the valid UTF-8 sequence at p (at most n), 0 if none. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t need, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 1;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		need = 2;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		need = 3;
	else
		return 0;
	if (n <= need)
		return 0;
	for (i = 1; i <= need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	/* Overlongs and surrogates: E0 80..9F, ED A0..BF, F0 80..8F, F4 90.. */
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
		return 0;
	return need + 1;
}

int
serve_json_string(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;
	int r = buf_putc(b, '"');

	while (i < n && r == 0) {
		unsigned char c = p[i];
		size_t k;

		if (c == '"' || c == '\\') {
			r |= buf_putc(b, '\\');
			r |= buf_putc(b, c);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			r |= buf_printf(b, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			r |= buf_putc(b, c);
			i++;
		} else if ((k = utf8_len(p + i, n - i)) > 0) {
			r |= buf_append(b, p + i, k);
			i += k;
		} else {
			r |= buf_putc(b, '?');
			i++;
		}
	}
	r |= buf_putc(b, '"');
	return r;
}

/* Write b and a newline with one write(2). */
static void
emit(struct buf *b)
{
	size_t off = 0;

	if (buf_putc(b, '\n') < 0)
		return; /* cannot happen: callers leave room */
	while (off < b->len) {
		ssize_t w = write(log_fd, b->data + off, b->len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* nowhere to complain to */
		off += (size_t)w;
	}
}

static void
sink(enum log_level level, const char *line, void *ctx)
{
	char ts[48];
	struct buf b;
	int r;

	(void)ctx;
	stamp(ts, sizeof(ts));
	/* The line is at most LOG_LINE_MAX: escaped, it fits (6 x). */
	buf_init(&b, SERVE_LOG_OUT_MAX);
	if (log_json) {
		r = buf_printf(&b,
		    "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", ts,
		    log_level_name(level));
		r |= serve_json_string(&b, line);
		r |= buf_putc(&b, '}');
	} else
		r = buf_printf(
		    &b, "%s rebound: %s: %s", ts, log_level_name(level), line);
	if (r == 0)
		emit(&b);
	buf_free(&b);
}

void
serve_log_fields(enum log_level level, const char *obj, const char *text)
{
	char ts[48];
	struct buf b;
	size_t n = strlen(obj);
	int r;

	if (!log_json || n < 2 || obj[0] != '{' || n > LOG_LINE_MAX) {
		log_msg(level, "%s", text);
		return;
	}
	stamp(ts, sizeof(ts));
	buf_init(&b, SERVE_LOG_OUT_MAX);
	r = buf_printf(
	    &b, "{\"time\":\"%s\",\"level\":\"%s\"", ts, log_level_name(level));
	if (n > 2)
		r |= buf_putc(&b, ',');
	r |= buf_append(&b, obj + 1, n - 1);
	if (r == 0)
		emit(&b);
	buf_free(&b);
}

static int
open_file(const char *path, struct rb_error *err)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return rb_error_set(
		    err, errno, "log file %s: %s", path, strerror(errno));
	return fd;
}

int
serve_log_open(const char *path, int json, struct rb_error *err)
{
	int fd = STDERR_FILENO;

	if (path != NULL && path[0] != '\0') {
		fd = open_file(path, err);
		if (fd < 0)
			return -1;
	}
	serve_log_close();
	log_fd = fd;
	log_json = json;
	if (fd != STDERR_FILENO)
		log_path = xstrdup(path);
	log_set_sink(sink, NULL);
	return 0;
}

int
serve_log_reopen(struct rb_error *err)
{
	int fd;

	if (log_path == NULL)
		return 0;
	fd = open_file(log_path, err);
	if (fd < 0)
		return -1;
	/* Atomic: a writer uses the old file or the new one. */
	if (dup2(fd, log_fd) < 0) {
		int e = errno;

		(void)close(fd);
		return rb_error_set(
		    err, e, "log file %s: %s", log_path, strerror(e));
	}
	(void)close(fd);
	return 0;
}

void
serve_log_close(void)
{
	log_set_sink(NULL, NULL);
	if (log_fd != STDERR_FILENO)
		(void)close(log_fd);
	log_fd = STDERR_FILENO;
	free(log_path);
	log_path = NULL;
	log_json = 0;
}
