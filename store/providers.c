/*
 * providers: recipient domain -> mailbox provider ("Gmail",
 * "Microsoft", ...), for the breakdown of rates.  The table is
 * data/providers.tsv: "PATTERN<TAB>PROVIDER" lines, # comments.  A
 * pattern is a domain ("gmail.com"), a domain and its subdomains
 * ("*.onmicrosoft.com"), or a first label with any public suffix
 * ("hotmail.*": hotmail.com, hotmail.co.uk, not hotmail.example.org).  Exact
 * beats subdomain beats label; a longer subdomain pattern beats a shorter one.
 * Unknown: "Other".  The fingerprint is a SHA-256 of the entries in the
 * order read (a later entry of a pattern replaces an earlier one), so two
 * tables that map alike but are written differently may differ.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "store_int.h"

/* Lines of the table; real tables have a few hundred. */
#define PROVIDERS_MAX_LINES 100000
/* A line longer than this is not a domain and a name. */
#define PROVIDERS_MAX_LINE 1024
/* RFC 1035 2.3.4: a DNS label has at most 63 octets. */
#define PROVIDERS_MAX_LABEL 63

struct providers {
	GHashTable *exact;  /* domain -> provider */
	GHashTable *suffix; /* "example.com" of "*.example.com" */
	GHashTable *label;  /* "hotmail" of "hotmail.*" */
	GStringChunk *names;
	char fingerprint[PROVIDERS_FINGERPRINT_LEN + 1];
};

void
providers_free(struct providers **pp)
{
	struct providers *p = pp != NULL ? *pp : NULL;

	if (p == NULL)
		return;
	g_hash_table_destroy(p->exact);
	g_hash_table_destroy(p->suffix);
	g_hash_table_destroy(p->label);
	g_string_chunk_free(p->names);
	free(p);
	*pp = NULL;
}

int
providers_load(const char *path, struct providers **p_r, struct rb_error *err)
{
	FILE *fp = fopen(path, "r");
	struct providers *p;
	GChecksum *sum;
	char line[PROVIDERS_MAX_LINE];
	unsigned lineno = 0;

	if (fp == NULL)
		return rb_error_set(
		    err, errno, "%s: %s", path, strerror(errno));
	p = xcalloc(1, sizeof(*p));
	p->exact = g_hash_table_new(g_str_hash, g_str_equal);
	p->suffix = g_hash_table_new(g_str_hash, g_str_equal);
	p->label = g_hash_table_new(g_str_hash, g_str_equal);
	p->names = g_string_chunk_new(4096);
	sum = g_checksum_new(G_CHECKSUM_SHA256);
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *tab, *name, *pat, *nl;
		size_t i;

		if (++lineno > PROVIDERS_MAX_LINES) {
			rb_error_set(err, EINVAL, "%s: more than %d lines",
			    path, PROVIDERS_MAX_LINES);
			goto fail;
		}
		nl = strchr(line, '\n');
		if (nl == NULL && !feof(fp)) {
			rb_error_set(
			    err, EINVAL, "%s:%u: line too long", path, lineno);
			goto fail;
		}
		if (nl != NULL)
			*nl = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		tab = strchr(line, '\t');
		if (tab == NULL || tab == line || tab[1] == '\0') {
			rb_error_set(err, EINVAL,
			    "%s:%u: want "
			    "PATTERN<TAB>PROVIDER",
			    path, lineno);
			goto fail;
		}
		*tab = '\0';
		name = g_string_chunk_insert_const(p->names, tab + 1);
		for (i = 0; line[i] != '\0'; i++)
			line[i] = g_ascii_tolower(line[i]);
		/* "pattern NUL name NUL": what the mapping is made of. */
		g_checksum_update(sum, (const guchar *)line, strlen(line) + 1);
		g_checksum_update(sum, (const guchar *)name, strlen(name) + 1);
		if (strncmp(line, "*.", 2) == 0) {
			pat = g_string_chunk_insert(p->names, line + 2);
			g_hash_table_insert(p->suffix, pat, name);
		} else if (strlen(line) > 2 &&
		           strcmp(line + strlen(line) - 2, ".*") == 0) {
			line[strlen(line) - 2] = '\0';
			pat = g_string_chunk_insert(p->names, line);
			g_hash_table_insert(p->label, pat, name);
		} else {
			pat = g_string_chunk_insert(p->names, line);
			g_hash_table_insert(p->exact, pat, name);
		}
	}
	if (ferror(fp)) {
		rb_error_set(err, EIO, "%s: read error", path);
		goto fail;
	}
	fclose(fp);
	(void)snprintf(p->fingerprint, sizeof(p->fingerprint), "%s",
	    g_checksum_get_string(sum));
	g_checksum_free(sum);
	*p_r = p;
	return 0;
fail:
	fclose(fp);
	g_checksum_free(sum);
	providers_free(&p);
	return -1;
}

const char *
providers_fingerprint(const struct providers *p)
{
	return p != NULL ? p->fingerprint : "none";
}

/*
 * Is s a public suffix, roughly: "com", "fr", "co.uk", "com.br" (one
 * label, or two whose first is short)?  Keeps "hotmail.*" from matching
 * hotmail.example.org.
 */
static int
looks_like_suffix(const char *s)
{
	const char *dot = strchr(s, '.');

	if (dot == NULL)
		return s[0] != '\0';
	return dot - s <= 3 && dot[1] != '\0' && strchr(dot + 1, '.') == NULL;
}

const char *
providers_lookup(const struct providers *p, const char *domain)
{
	const char *name, *dot;
	char first[PROVIDERS_MAX_LABEL + 1];
	size_t n;

	if (p == NULL || domain == NULL || domain[0] == '\0')
		return "Other";
	if ((name = g_hash_table_lookup(p->exact, domain)) != NULL)
		return name;
	for (dot = strchr(domain, '.'); dot != NULL;
	     dot = strchr(dot + 1, '.')) {
		if ((name = g_hash_table_lookup(p->suffix, dot + 1)) != NULL)
			return name;
	}
	dot = strchr(domain, '.');
	n = dot != NULL ? (size_t)(dot - domain) : strlen(domain);
	if (dot != NULL && n < sizeof(first) && looks_like_suffix(dot + 1)) {
		memcpy(first, domain, n);
		first[n] = '\0';
		if ((name = g_hash_table_lookup(p->label, first)) != NULL)
			return name;
	}
	return "Other";
}
