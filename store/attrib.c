/*
 * attrib: which sending identity a feedback message belongs to, and
 * whether to trust it (DESIGN.md "Attribution and trust").  In order:
 *
 *  1. verp: a signed VERP token in the envelope recipient of the
 *     feedback, else in its Delivered-To, X-Original-To or To header.
 *     A token whose signature fails makes the message untrusted: it is
 *     stored and counted, but moves no rate and no list.  A valid token
 *     also names (as a hash) the one recipient its message was sent
 *     to: a report row for another address (neither its Final- nor its
 *     Original-Recipient) is untrusted too (attrib_row_trusted), or a
 *     single bounce address seen once would let anyone suppress any
 *     address with a made-up report sent to it.
 *  2. envid: the DSN Original-Envelope-Id names a known identity: the
 *     whole value, or the domain after its last "@" or a parent of it
 *     ("q1x2@bounces.shop.example.com" -> shop.example.com).
 *  3. feedback-id: a ":"-separated field of the Feedback-ID header of the
 *     original message names a known identity (the SenderId field of
 *     "campaign:customer:type:shop.example.com").
 *  4. headers: the sender of the returned or reported message (From, or
 *     the ARF Original-Mail-From).
 *  5. none: unattributed (kept and counted as such).
 *
 * Known identities (for 2 and 3) are those with sends in the counters
 * and the addresses of identity.addresses, loaded once per ingest: an
 * ENVID or Feedback-ID is only believed when it names a sender rebound
 * knows, since MTAs fill both with values of their own.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <glib.h>
#include <jansson.h>

#include "store_int.h"

/* Header bytes searched for Delivered-To / X-Original-To / To. */
#define ATTRIB_MAX_HEADER_SCAN CLASSIFY_MAX_HEADER_BYTES

struct idset {
	GHashTable *set; /* identity -> itself, owned */
};

struct idset *
idset_load(sqlite3 *db, const struct store_conf *conf, struct rb_error *err)
{
	struct idset *s = xcalloc(1, sizeof(*s));
	sqlite3_stmt *q;
	size_t i;
	int rc;

	s->set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (sqlite3_prepare_v2(db,
	        "SELECT DISTINCT identity FROM counters"
	        " WHERE sends > 0",
	        -1, &q, NULL) != SQLITE_OK) {
		rb_error_set(err, sqlite3_errcode(db), "known identities: %s",
		    sqlite3_errmsg(db));
		idset_free(&s);
		return NULL;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *id = col_text(q, 0);

		if (id != NULL)
			g_hash_table_add(s->set, g_strdup(id));
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		rb_error_set(err, sqlite3_errcode(db), "known identities: %s",
		    sqlite3_errmsg(db));
		idset_free(&s);
		return NULL;
	}
	for (i = 0; i < conf->n_id_addresses; i++)
		g_hash_table_add(s->set, g_strdup(conf->id_addresses[i]));
	return s;
}

void
idset_free(struct idset **sp)
{
	struct idset *s = sp != NULL ? *sp : NULL;

	if (s == NULL)
		return;
	g_hash_table_destroy(s->set);
	free(s);
	*sp = NULL;
}

static int
idset_has(const struct idset *s, const char *id)
{
	return s != NULL && g_hash_table_contains(s->set, id);
}

/*
 * Does value name a known identity?  Tries the value itself (lower
 * case), then, after its last '@', the domain and each parent domain.
 */
static int
known_in(const struct idset *known, const char *value, char *out, size_t outlen)
{
	char buf[STORE_MAX_IDENTITY];
	const char *d;
	size_t n, i;

	if (value == NULL || known == NULL ||
	    g_hash_table_size(known->set) == 0)
		return 0;
	while (isspace((unsigned char)*value) || *value == '<')
		value++;
	n = strlen(value);
	while (n > 0 &&
	       (isspace((unsigned char)value[n - 1]) || value[n - 1] == '>'))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return 0;
	for (i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)value[i]);
	buf[n] = '\0';
	if (idset_has(known, buf)) {
		(void)snprintf(out, outlen, "%s", buf);
		return 1;
	}
	d = strrchr(buf, '@');
	d = d != NULL ? d + 1 : buf;
	while (d != NULL && *d != '\0') {
		if (strchr(d, '.') == NULL)
			break; /* a bare TLD is nobody's identity */
		if (idset_has(known, d)) {
			(void)snprintf(out, outlen, "%s", d);
			return 1;
		}
		d = strchr(d, '.');
		if (d != NULL)
			d++;
	}
	return 0;
}

static int
feedback_id_known(
    const struct idset *known, const char *fbid, char *out, size_t outlen)
{
	char buf[CONFIG_MAX_VALUE];
	char *save = NULL, *tok;
	char *fields[16];
	size_t n = 0;

	if (fbid == NULL || strlen(fbid) >= sizeof(buf))
		return 0;
	(void)snprintf(buf, sizeof(buf), "%s", fbid);
	for (tok = strtok_r(buf, ":", &save); tok != NULL && n < 16;
	     tok = strtok_r(NULL, ":", &save))
		fields[n++] = tok;
	/* The SenderId is the last field; try it first. */
	while (n > 0) {
		if (known_in(known, fields[--n], out, outlen))
			return 1;
	}
	return 0;
}

/*
 * Value of the first top-level header `name` of msg into out (unfolded,
 * trimmed); 0 found, -1 not.
 */
static int
top_header(const unsigned char *msg, size_t len, const char *name, char *out,
    size_t outlen)
{
	const unsigned char *p = msg, *end;
	size_t nlen = strlen(name);

	if (len > ATTRIB_MAX_HEADER_SCAN)
		len = ATTRIB_MAX_HEADER_SCAN;
	end = msg + len;
	while (p < end && *p != '\n' &&
	       !(*p == '\r' && p + 1 < end && p[1] == '\n')) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		const unsigned char *le = nl != NULL ? nl : end;

		if ((size_t)(le - p) > nlen && p[nlen] == ':' &&
		    strncasecmp((const char *)p, name, nlen) == 0) {
			size_t o = 0;
			const unsigned char *v = p + nlen + 1;

			/* Unfold: continuation lines join with a space. */
			for (;;) {
				for (; v < le && o + 1 < outlen; v++) {
					if (*v != '\r')
						out[o++] = (char)*v;
				}
				if (le >= end || le + 1 >= end ||
				    (le[1] != ' ' && le[1] != '\t'))
					break;
				v = le + 1;
				nl = memchr(v, '\n', (size_t)(end - v));
				le = nl != NULL ? nl : end;
			}
			out[o] = '\0';
			g_strstrip(out);
			return 0;
		}
		p = nl != NULL ? nl + 1 : end;
		/* Skip continuation lines of the header just passed. */
		while (p < end && (*p == ' ' || *p == '\t')) {
			nl = memchr(p, '\n', (size_t)(end - p));
			p = nl != NULL ? nl + 1 : end;
		}
	}
	return -1;
}

/* A token that carries only the hash of its identity: find it among the
 * known identities. */
static int
known_by_hash(const struct idset *known, const struct classify_verp *f,
    char *out, size_t outlen)
{
	GHashTableIter it;
	gpointer k;

	if (known == NULL)
		return 0;
	g_hash_table_iter_init(&it, known->set);
	while (g_hash_table_iter_next(&it, &k, NULL)) {
		if (classify_verp_match_identity(f, k)) {
			(void)snprintf(out, outlen, "%s", (const char *)k);
			return 1;
		}
	}
	return 0;
}

/*
 * The signed VERP token of address (classify_verp_decode, classify/verp.c,
 * secret verp.secret).  Returns 1 valid (identity in out, "" when the
 * token names none rebound knows; the recipient's hash in rcpt_hash),
 * -1 a well-formed token whose signature fails, 0 no token (or VERP not
 * configured).
 */
static int
verp_check(const struct store_conf *conf, const struct idset *known,
    const char *address, char *out, size_t outlen, char *rcpt_hash)
{
	struct classify_verp f;
	int r;

	out[0] = '\0';
	if (conf->verp_secret[0] == '\0' || address == NULL)
		return 0;
	r = classify_verp_decode(
	    address, conf->verp_secret, strlen(conf->verp_secret), &f, NULL);
	if (r < 0)
		return 0;
	if (r == CLASSIFY_VERP_FORGED || !f.trusted)
		return -1;
	if (f.identity[0] != '\0')
		(void)snprintf(out, outlen, "%s", f.identity);
	else if (!known_by_hash(known, &f, out, outlen))
		out[0] = '\0';
	memcpy(rcpt_hash, f.recipient_hash, sizeof(f.recipient_hash));
	return 1;
}

/* Step 1: the envelope recipient and the delivery headers. */
static int
attrib_verp(const struct store_conf *conf, const struct idset *known,
    const unsigned char *msg, size_t len, const char *envelope_to, char *out,
    size_t outlen, char *rcpt_hash)
{
	static const char *const names[] = {
	    "Delivered-To", "X-Original-To", "To"};
	char value[STORE_MAX_ADDRESS * 4];
	size_t i;
	int r;

	if (conf->verp_secret[0] == '\0')
		return 0; /* nothing can verify a token */
	if (envelope_to != NULL && envelope_to[0] != '\0' &&
	    (r = verp_check(
	         conf, known, envelope_to, out, outlen, rcpt_hash)) != 0)
		return r;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *comma;

		if (top_header(msg, len, names[i], value, sizeof(value)) < 0)
			continue;
		/* To may list several; the return path is one address. */
		if ((comma = strchr(value, ',')) != NULL)
			*comma = '\0';
		if ((r = verp_check(
		         conf, known, value, out, outlen, rcpt_hash)) != 0)
			return r;
	}
	return 0;
}

void
attrib_find(const struct store_conf *conf, const struct idset *known,
    const struct classify_verdict *v, const unsigned char *msg, size_t len,
    const char *envelope_to, struct attrib_result *r)
{
	const char *sender;
	int verp;

	memset(r, 0, sizeof(*r));
	r->trusted = 1;
	r->attribution = "none";
	verp = attrib_verp(conf, known, msg, len, envelope_to, r->identity,
	    sizeof(r->identity), r->rcpt_hash);
	if (verp <= 0)
		r->rcpt_hash[0] = '\0';
	if (verp > 0 && r->identity[0] != '\0') {
		r->attribution = "verp";
		return;
	}
	/* A valid token naming no identity we know: trusted, and the rest
	 * of the chain says whose it is. */
	r->identity[0] = '\0';
	if (verp < 0) {
		/* Forged or damaged token: the rest of the chain still says
		 * whom it concerns, but nothing of it is believed. */
		r->trusted = 0;
	}
	if (known_in(known, v->envid, r->identity, sizeof(r->identity))) {
		r->attribution = verp < 0 ? "verp" : "envid";
		return;
	}
	if (feedback_id_known(known, v->original.feedback_id, r->identity,
	        sizeof(r->identity))) {
		r->attribution = verp < 0 ? "verp" : "feedback-id";
		return;
	}
	sender = v->original.from_addr;
	if (sender == NULL && v->kind == CLASSIFY_KIND_ARF)
		sender = v->original_mail_from;
	address_identity(conf, sender, r->identity, sizeof(r->identity));
	if (r->identity[0] == '\0' && v->identity != NULL &&
	    v->identity[0] != '\0' && !conf->address_identities) {
		size_t i;

		(void)snprintf(
		    r->identity, sizeof(r->identity), "%s", v->identity);
		for (i = 0; r->identity[i] != '\0'; i++)
			r->identity[i] =
			    (char)tolower((unsigned char)r->identity[i]);
	}
	if (r->identity[0] != '\0')
		r->attribution = verp < 0 ? "verp" : "headers";
	else if (verp < 0)
		r->attribution = "verp";
}

int
attrib_row_trusted(
    const struct attrib_result *at, const struct classify_recipient *r)
{
	struct classify_verp f;

	if (!at->trusted)
		return 0;
	if (at->rcpt_hash[0] == '\0' || r == NULL || r->address == NULL ||
	    r->address[0] == '\0')
		return 1;
	memset(&f, 0, sizeof(f));
	memcpy(f.recipient_hash, at->rcpt_hash, sizeof(f.recipient_hash));
	return classify_verp_match_recipient(&f, r->address) ||
	       (r->original != NULL &&
	           classify_verp_match_recipient(&f, r->original));
}

/* {"ip", "country", "asn", "asOrg"} of ip, or NULL when unknown. */
static json_t *
geo_json(const struct geo_db *db, const char *ip)
{
	struct geo_result g;
	json_t *o;

	if (ip == NULL || geo_lookup(db, ip, &g) != 1)
		return NULL;
	o = json_object();
	json_object_set_new(o, "ip", json_string(ip));
	if (g.country[0] != '\0')
		json_object_set_new(o, "country", json_string(g.country));
	if (g.asn != 0)
		json_object_set_new(o, "asn", json_integer(g.asn));
	if (g.as_org[0] != '\0')
		json_object_set_new(o, "asOrg", json_string(g.as_org));
	return o;
}

/*
 * rebound.geo (core/geo.c; geoip.country_db, geoip.asn_db): country and
 * AS of the remote MTA (the first recipient's remote IP) and of the ARF
 * Source-IP, as {"remoteMta": {...}, "sourceIp": {...}}.  A new jansson
 * object, or NULL when there is nothing to say (no database, unknown
 * addresses): the classifier's empty object stays.
 */
void *
attrib_geo(const struct store_conf *conf, const struct classify_verdict *v)
{
	const char *mta_ip = NULL;
	json_t *geo, *m, *src;
	size_t i;

	if (conf->geo == NULL)
		return NULL;
	for (i = 0; i < v->n_recipients && mta_ip == NULL; i++)
		mta_ip = v->recipients[i].remote_ip;
	m = geo_json(conf->geo, mta_ip);
	src = geo_json(conf->geo, v->source_ip);
	if (m == NULL && src == NULL)
		return NULL;
	geo = json_object();
	if (m != NULL)
		json_object_set_new(geo, "remoteMta", m);
	if (src != NULL)
		json_object_set_new(geo, "sourceIp", src);
	return geo;
}
