/*
 * Logging to stderr, one line per call, with a level filter, or to a
 * sink set by the daemon (a log file, JSON lines).  The classifier
 * never logs (it is pure); the deciding layer logs once.
 */
#include <stdio.h>
#include <string.h>

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

/* Two decimal digits of v (< 100) at p. */
static void
put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
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
	if (y < 0 || y > 9999 || outlen < 25) {
		/* Beyond RFC 3339's four digits: the slow, general way. */
		n = snprintf(out, outlen,
		    "%04lld-%02u-%02uT%02u:%02u:%02u.000Z", (long long)y, m, d,
		    (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60),
		    (unsigned)(sod % 60));
		if ((n < 0 || (size_t)n >= outlen) && outlen > 0)
			out[0] = '\0';
		return;
	}
	/* By hand: snprintf was most of the cost of an API answer's times. */
	memcpy(out, "0000-00-00T00:00:00.000Z", 25);
	put2(out, (unsigned)(y / 100));
	put2(out + 2, (unsigned)(y % 100));
	put2(out + 5, m);
	put2(out + 8, d);
	put2(out + 11, (unsigned)(sod / 3600));
	put2(out + 14, (unsigned)(sod / 60 % 60));
	put2(out + 17, (unsigned)(sod % 60));
}
