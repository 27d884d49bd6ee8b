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

/*
 * UTC by arithmetic (the proleptic Gregorian calendar, days from civil
 * as in H. Hinnant's chrono algorithms) rather than gmtime_r(): glibc
 * takes a process-wide lock in every gmtime_r call, which the HTTP
 * threads formatting thousands of times a second contended on.
 */
void
time_format_iso(time_t t, char *out, size_t outlen)
{
	int64_t secs = (int64_t)t, days, sod, era, doe, yoe, doy, mp, y;
	unsigned d, m;
	int n;

	days = secs / 86400;
	sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	y = yoe + era * 400 + (m <= 2);
	n = snprintf(out, outlen, "%04lld-%02u-%02uT%02u:%02u:%02u.000Z",
	    (long long)y, m, d, (unsigned)(sod / 3600),
	    (unsigned)(sod / 60 % 60), (unsigned)(sod % 60));
	if ((n < 0 || (size_t)n >= outlen) && outlen > 0)
		out[0] = '\0';
}
