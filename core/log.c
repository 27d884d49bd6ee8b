/*
 * Logging to stderr, one line per call, with a level filter, or to a
 * sink set by the daemon (a log file, JSON lines).  The classifier
 * never logs (it is pure); the deciding layer logs once.
 */
#include <stdio.h>

#include "core.h"

static enum log_level log_min = LOG_INFO;
static log_sink_fn *log_sink;
static void *log_sink_ctx;
static const char *const log_names[] = {"debug", "info", "warn", "error"};

void
log_set_level(enum log_level level)
{
	log_min = level;
}

void
log_set_sink(log_sink_fn *fn, void *ctx)
{
	log_sink = fn;
	log_sink_ctx = ctx;
}

const char *
log_level_name(enum log_level level)
{
	return level <= LOG_ERROR ? log_names[level] : "error";
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level < log_min)
		return;
	if (log_sink != NULL) {
		char line[LOG_LINE_MAX];

		va_start(ap, fmt);
		(void)vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		log_sink(level, line, log_sink_ctx);
		return;
	}
	fprintf(stderr, "rebound: %s: ", log_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
time_format_iso(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%dT%H:%M:%S.000Z", &tm) == 0) {
		if (outlen > 0)
			out[0] = '\0';
	}
}
