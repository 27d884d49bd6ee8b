/*
 * Per-verdict bump arena (h2o pools, Dovecot data stack): every string
 * and array of one classification comes from here and is freed at once by
 * classify_verdict_clear().  Blocks grow geometrically; a large request
 * gets a block of its own.  Not thread-safe: one arena per verdict.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify_int.h"

/* First block: a typical notice and its strings fit in one. */
#define ARENA_FIRST_BLOCK (16u * 1024)

struct arena_block {
	struct arena_block *next;
	size_t size;
	size_t used;
	max_align_t data[];
};

struct classify_arena {
	struct arena_block *head;
	size_t next_size;
	void *scratch;
	void (*scratch_destroy)(void *);
};

struct classify_arena *
arena_new(void)
{
	struct classify_arena *a = xcalloc(1, sizeof(*a));

	a->next_size = ARENA_FIRST_BLOCK;
	return a;
}

void
arena_free(struct classify_arena **ap)
{
	struct classify_arena *a = *ap;
	struct arena_block *b, *next;

	if (a == NULL)
		return;
	if (a->scratch != NULL && a->scratch_destroy != NULL)
		a->scratch_destroy(a->scratch);
	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
	*ap = NULL;
}

void *
arena_alloc(struct classify_arena *a, size_t n)
{
	struct arena_block *b = a->head;
	size_t align = sizeof(max_align_t);
	size_t need = (n + align - 1) & ~(align - 1);
	void *p;

	if (need < n)
		rb_panic("arena request overflow");
	if (b == NULL || b->size - b->used < need) {
		size_t size = a->next_size;

		if (size < need)
			size = need;
		b = xmalloc(sizeof(*b) + size);
		b->size = size;
		b->used = 0;
		b->next = a->head;
		a->head = b;
		if (a->next_size < 4u * 1024 * 1024)
			a->next_size *= 2;
	}
	p = (char *)b->data + b->used;
	b->used += need;
	return p;
}

char *
arena_strndup(struct classify_arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct classify_arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_printf(struct classify_arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return arena_strdup(a, "");
	p = arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	(void)vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void **
arena_scratch(struct classify_arena *a, void (*destroy)(void *))
{
	a->scratch_destroy = destroy;
	return &a->scratch;
}
