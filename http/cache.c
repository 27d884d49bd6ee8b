/*
 * cache: computed answers (the reputation of an identity: a covering
 * index scan of its events of the window and the sums of its hourly
 * counters) kept as their JSON bytes, and served again only while the
 * database is unchanged: each entry holds the database's data version
 * (store_data_version on a handle of the cache's own, which sees every
 * commit of any connection or process) and the hour it was computed
 * in.  So an answer from the cache is byte for byte the one a fresh
 * computation would give; a commit anywhere makes every entry stale.
 * Bounded: at http.cache_entries entries the stale ones go, then all.
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "http_int.h"

struct cache_entry {
	uint64_t version;
	int64_t hour;
	size_t len;
	unsigned char data[]; /* the answer */
};

struct http_cache {
	size_t max;
	pthread_mutex_t watch_mu; /* the watcher handle, one at a time */
	struct store *watcher;
	pthread_rwlock_t mu; /* the table */
	GHashTable *t;       /* key -> struct cache_entry */
};

int
cache_new(const struct config *cfg, size_t max, struct http_cache **c_r,
    struct rb_error *err)
{
	struct http_cache *c = xcalloc(1, sizeof(*c));

	c->max = max;
	pthread_mutex_init(&c->watch_mu, NULL);
	pthread_rwlock_init(&c->mu, NULL);
	c->t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, free);
	if (max > 0 && store_open_reader(cfg, &c->watcher, err) < 0) {
		cache_free(&c);
		return -1;
	}
	*c_r = c;
	return 0;
}

void
cache_free(struct http_cache **cp)
{
	struct http_cache *c = cp != NULL ? *cp : NULL;

	if (c == NULL)
		return;
	store_close(&c->watcher);
	g_hash_table_destroy(c->t);
	pthread_rwlock_destroy(&c->mu);
	pthread_mutex_destroy(&c->watch_mu);
	free(c);
	*cp = NULL;
}

int
cache_version(struct http_cache *c, uint64_t *v_r)
{
	struct rb_error err;
	int rc;

	if (c == NULL || c->max == 0)
		return -1;
	pthread_mutex_lock(&c->watch_mu);
	rc = store_data_version(c->watcher, v_r, &err);
	pthread_mutex_unlock(&c->watch_mu);
	return rc;
}

int
cache_get(struct http_cache *c, const char *key, uint64_t version, int64_t hour,
    struct buf *out)
{
	struct cache_entry *e;
	int hit = 0;

	pthread_rwlock_rdlock(&c->mu);
	e = g_hash_table_lookup(c->t, key);
	if (e != NULL && e->version == version && e->hour == hour) {
		buf_reset(out);
		hit = buf_append(out, e->data, e->len) == 0;
	}
	pthread_rwlock_unlock(&c->mu);
	return hit;
}

static gboolean
stale(gpointer key, gpointer value, gpointer ctx)
{
	const struct cache_entry *e = value;

	(void)key;
	return e->version != *(const uint64_t *)ctx;
}

void
cache_put(struct http_cache *c, const char *key, uint64_t version, int64_t hour,
    const void *data, size_t len)
{
	struct cache_entry *e = xmalloc(sizeof(*e) + len);

	e->version = version;
	e->hour = hour;
	e->len = len;
	memcpy(e->data, data, len);
	pthread_rwlock_wrlock(&c->mu);
	if (g_hash_table_size(c->t) >= c->max &&
	    g_hash_table_lookup(c->t, key) == NULL) {
		(void)g_hash_table_foreach_remove(c->t, stale, &version);
		if (g_hash_table_size(c->t) >= c->max)
			g_hash_table_remove_all(c->t);
	}
	g_hash_table_replace(c->t, g_strdup(key), e);
	pthread_rwlock_unlock(&c->mu);
}
