/*
 * Errors: the environment-failure struct and the always-on panic used by
 * rb_assert().  Panics print file and line to stderr and abort so that
 * sanitizers and core dumps show the stack.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core.h"

int
rb_error_set(struct rb_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	(void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void
rb_panic_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "rebound: panic at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
