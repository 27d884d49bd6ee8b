/*
 * Logging to stderr, one line per call, with a level filter.  The
 * classifier never logs (it is pure); the deciding layer logs once.
 */
#include <stdio.h>

#include "core.h"

static enum log_level log_min = LOG_INFO;

void
log_set_level(enum log_level level)
{
	log_min = level;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	va_list ap;

	if (level < log_min)
		return;
	fprintf(stderr, "rebound: %s: ", names[level]);
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
