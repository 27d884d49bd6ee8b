/*
 * core: the small pieces every folder may use.  Errors for the environment
 * (struct rb_error), allocation that dies on failure (x*), a growable byte
 * buffer with a mandatory cap (buf_*), bounded number parsing (parse_u64),
 * logging (log_*), and always-on assertions.  No third-party types here.
 */
#ifndef REBOUND_CORE_H
#define REBOUND_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define REBOUND_VERSION "0.1.0"

#if defined(__GNUC__)
#define RB_WUR __attribute__((warn_unused_result))
#define RB_NORETURN __attribute__((noreturn))
#define RB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RB_WUR
#define RB_NORETURN
#define RB_PRINTF(f, a)
#endif

/* Environment failure (disk, database, broker): bounded, caller-owned. */
struct rb_error {
	int code;
	char msg[256];
};

/* Fill err (may be NULL) with a formatted message; returns -1 for tail calls. */
int rb_error_set(struct rb_error *err, int code, const char *fmt, ...)
    RB_PRINTF(3, 4);

/* Bugs: abort with file and line.  Always on, also in release builds. */
RB_NORETURN void rb_panic_at(const char *file, int line, const char *fmt, ...)
    RB_PRINTF(3, 4);
#define rb_panic(...) rb_panic_at(__FILE__, __LINE__, __VA_ARGS__)
#define rb_assert(cond)                                                        \
	((cond) ? (void)0 : rb_panic_at(__FILE__, __LINE__, "assertion %s", #cond))

/* Allocation: these never return NULL; out of memory aborts. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/*
 * Growable byte buffer with a cap: appending past max fails (returns -1)
 * and leaves the buffer unchanged.  The data is always NUL-terminated for
 * convenience, but may contain NULs.
 */
struct buf {
	unsigned char *data;
	size_t len;
	size_t cap;
	size_t max;
};

void buf_init(struct buf *b, size_t max);
int buf_append(struct buf *b, const void *p, size_t n) RB_WUR;
int buf_putc(struct buf *b, int c) RB_WUR;
int buf_printf(struct buf *b, const char *fmt, ...) RB_PRINTF(2, 3) RB_WUR;
void buf_reset(struct buf *b);
/* Caller frees the returned pointer with free(); the buffer is emptied. */
unsigned char *buf_take(struct buf *b, size_t *len_r);
void buf_free(struct buf *b);

/*
 * Parse a whole decimal string into *v_r.  Rejects empty strings, signs,
 * spaces, trailing garbage and overflow; *v_r is untouched on failure.
 */
int parse_u64(const char *s, uint64_t *v_r) RB_WUR;

/* Logging to stderr.  Level names: debug, info, warn, error. */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) RB_PRINTF(2, 3);
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Format t as RFC 3339 UTC with milliseconds ("2024-05-01T10:00:00.000Z"). */
void time_format_iso(time_t t, char *out, size_t outlen);

#endif
