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

/* Fill err (may be NULL) with a formatted message; returns -1 for tail calls.
 */
int rb_error_set(struct rb_error *err, int code, const char *fmt, ...)
    RB_PRINTF(3, 4);

/* Bugs: abort with file and line.  Always on, also in release builds. */
RB_NORETURN void rb_panic_at(const char *file, int line, const char *fmt, ...)
    RB_PRINTF(3, 4);
#define rb_panic(...) rb_panic_at(__FILE__, __LINE__, __VA_ARGS__)
#define rb_assert(cond)                                                        \
	((cond) ? (void)0                                                      \
	        : rb_panic_at(__FILE__, __LINE__, "assertion %s", #cond))

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
/* A line longer than this is cut (log_msg formats into a stack buffer). */
#define LOG_LINE_MAX 4096
/*
 * Send every line at or above the level to fn instead of stderr (a
 * daemon's log file or JSON lines); fn NULL: back to stderr.  fn gets
 * the formatted line without a newline and may be called by any thread
 * at once.  Set before threads start.
 */
typedef void log_sink_fn(enum log_level level, const char *line, void *ctx);
void log_set_sink(log_sink_fn *fn, void *ctx);
/* "debug", "info", "warn", "error". */
const char *log_level_name(enum log_level level);
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Format t as RFC 3339 UTC with milliseconds ("2024-05-01T10:00:00.000Z"). */
void time_format_iso(time_t t, char *out, size_t outlen);

/*
 * ---- config (core/config.c) ------------------------------------------
 * Settings from an INI file (GLib GKeyFile syntax: [section] and
 * key = value), REBOUND_<SECTION>_<KEY> environment variables and
 * command-line flags.  A value is taken from, first to last: a flag
 * (config_set), the environment, the file, the built-in default.  Every
 * key, with its default, is in the table of config.c and documented in
 * data/rebound.conf.example.  Keys are named "section.key".  A config is
 * read-only after loading (and flags) and may be shared by threads.
 */

/* A config file larger than this is not a config file. */
#define CONFIG_MAX_FILE (1024u * 1024)
/* Longest value kept (a list of identities fits; a path does). */
#define CONFIG_MAX_VALUE 4096

struct config;

/*
 * Load path (NULL: no file, defaults and environment only).  Unknown
 * sections and keys are errors (a typo must not silently become a
 * default), except in the free-form section [accounts] and the
 * librdkafka properties: "property.NAME = VALUE" in [kafka] (or
 * $REBOUND_KAFKA_PROPERTY_NAME with '_' for '.', or the flag
 * "kafka.property.NAME") is the pair NAME = VALUE of the section
 * "kafka.property", passed to librdkafka unchecked.  Returns 0, or -1
 * with err set.  Caller frees with config_free().
 */
int config_load(
    const char *path, struct config **cfg_r, struct rb_error *err) RB_WUR;
void config_free(struct config **cfg);
/* Override "section.key" (a command-line flag; "kafka.property.NAME"
 * sets a librdkafka property); -1 for an unknown key. */
int config_set(struct config *cfg, const char *name, const char *value,
    struct rb_error *err) RB_WUR;
/* The value of "section.key", borrowed until config_free; panics on an
 * unknown name (a bug).  Never NULL. */
const char *config_get(const struct config *cfg, const char *name);
/* Typed getters: -1 with err naming the key and its source when the
 * value does not parse; *v_r is untouched then. */
int config_get_u64(const struct config *cfg, const char *name, uint64_t *v_r,
    struct rb_error *err) RB_WUR;
int config_get_bool(const struct config *cfg, const char *name, int *v_r,
    struct rb_error *err) RB_WUR;
/* "14d", "24h", "30m", "45s", "2w" or plain seconds. */
int config_get_duration(const struct config *cfg, const char *name,
    uint64_t *secs_r, struct rb_error *err) RB_WUR;
/* "5%" or "0.05": a ratio in [0, 1]. */
int config_get_ratio(const struct config *cfg, const char *name, double *v_r,
    struct rb_error *err) RB_WUR;
/* Each key = value of a free-form section, in file order. */
typedef void config_pair_fn(const char *key, const char *value, void *ctx);
void config_section_foreach(const struct config *cfg, const char *section,
    config_pair_fn *fn, void *ctx);
/* Each known key with its default and one line of help, in table order. */
typedef void config_key_fn(
    const char *name, const char *def, const char *help, void *ctx);
void config_keys_foreach(config_key_fn *fn, void *ctx);

/* Parsers behind the getters, for flags and data files; 0 or -1. */
int config_parse_duration(const char *s, uint64_t *secs_r) RB_WUR;
int config_parse_ratio(const char *s, double *v_r) RB_WUR;
/* Unix seconds, or RFC 3339 ("2024-06-01T10:00:00Z", "...+02:00",
 * fractions ignored). */
int config_parse_time(const char *s, time_t *t_r) RB_WUR;
/* The clock of the CLI: REBOUND_NOW (unix seconds or RFC 3339) when set,
 * so tests control time, else time(NULL). */
time_t config_now(void);

/*
 * ---- GeoIP (core/geo.c) ----------------------------------------------
 * Country and autonomous system of an IP address (the remote MTA of a
 * bounce, the Source-IP of a complaint), from MaxMind DB (.mmdb) files:
 * GeoLite2-Country/-ASN, DB-IP Lite country/ASN, or the flat
 * ip-location-db files.  A handle is read-only after geo_open() and may
 * be shared by any number of threads (the files are mmap'ed).
 */

/* ISO 3166-1 alpha-2. */
#define GEO_COUNTRY_LEN 2
/* Bytes of an AS organisation kept ("GOOGLE", "Deutsche Telekom AG"; the
 * longest in GeoLite2-ASN are ~90). */
#define GEO_AS_ORG_MAX 127

struct geo_db;

struct geo_result {
	char country[GEO_COUNTRY_LEN + 1]; /* "DE", upper case; "" unknown */
	uint32_t asn;                      /* 64496; 0 unknown */
	char as_org[GEO_AS_ORG_MAX + 1];   /* UTF-8, truncated; "" unknown */
};

/*
 * Open the databases: country_path for the country, asn_path for the AS
 * (config keys geoip.country_db and geoip.asn_db).  Either may be NULL or
 * "" (none), both may name the same file, and each field is read from
 * the other file too when its own has none, so one combined file works
 * in either place.  Neither given: a handle that knows nothing.  Returns
 * 0, or -1 with err naming the file and the cause.  Caller frees with
 * geo_close().
 */
int geo_open(const char *country_path, const char *asn_path,
    struct geo_db **db_r, struct rb_error *err) RB_WUR;
/*
 * Look up ip (IPv4 or IPv6 text; surrounding "[]" and an "IPv6:" prefix
 * as in RFC 5321 address literals are accepted).  Always fills *r, empty
 * when unknown.  Returns 1 when a database has an entry for ip, 0 when
 * none has (private and unrouted addresses; db NULL), -1 when ip is not
 * an IP address or a database is corrupt.  Thread-safe; no allocation.
 */
int geo_lookup(const struct geo_db *db, const char *ip, struct geo_result *r);
/* Close and NULL *db; accepts NULL and a NULL *db. */
void geo_close(struct geo_db **db);

#endif
