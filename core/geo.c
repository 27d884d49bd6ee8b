/*
 * GeoIP: country and AS of an IP address from MaxMind DB files, through
 * libmaxminddb in MMAP mode (lookups on a shared MMDB_s are thread-safe).
 * Reads country_code (ip-location-db), else country.iso_code, else
 * registered_country.iso_code (GeoLite2, DB-IP), and
 * autonomous_system_number / autonomous_system_organization.  Input is an
 * address from a hostile message: it is parsed strictly with inet_pton
 * (getaddrinfo would take "8.8.8" and "0x8.8.8.8"), never resolved, and
 * anything else is "not an IP address", never an error or a crash.
 * libmaxminddb strings are not NUL-terminated: copied with their length.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <maxminddb.h>

#include "core.h"

/* Longest address text we parse: INET6_ADDRSTRLEN (46) with room for
 * brackets, an "IPv6:" prefix and a zone; anything longer is garbage. */
#define GEO_IP_TEXT_MAX 64

/* At most two files: the country one and the AS one. */
#define GEO_MAX_FILES 2

struct geo_db {
	MMDB_s mmdb[GEO_MAX_FILES];
	int n;
	/* Indexes into mmdb in the order each field is looked for. */
	int country_order[GEO_MAX_FILES];
	int asn_order[GEO_MAX_FILES];
};

static int
geo_open_file(struct geo_db *db, const char *path, struct rb_error *err)
{
	int status, saved;

	status = MMDB_open(path, MMDB_MODE_MMAP, &db->mmdb[db->n]);
	saved = errno;
	if (status == MMDB_FILE_OPEN_ERROR || status == MMDB_IO_ERROR)
		return rb_error_set(err, saved != 0 ? saved : EIO,
		    "GeoIP database %s: %s", path,
		    saved != 0 ? strerror(saved) : MMDB_strerror(status));
	if (status != MMDB_SUCCESS)
		return rb_error_set(err, EINVAL,
		    "GeoIP database %s: not a MaxMind DB file (%s)", path,
		    MMDB_strerror(status));
	return db->n++;
}

int
geo_open(const char *country_path, const char *asn_path, struct geo_db **db_r,
    struct rb_error *err)
{
	struct geo_db *db = xcalloc(1, sizeof(*db));
	int c = -1, a = -1, i;

	if (country_path != NULL && country_path[0] == '\0')
		country_path = NULL;
	if (asn_path != NULL && asn_path[0] == '\0')
		asn_path = NULL;
	if (country_path != NULL &&
	    (c = geo_open_file(db, country_path, err)) < 0)
		goto fail;
	if (asn_path != NULL) {
		if (c >= 0 && strcmp(asn_path, country_path) == 0)
			a = c;
		else if ((a = geo_open_file(db, asn_path, err)) < 0)
			goto fail;
	}
	/* Own file first, then the other one (a combined file). */
	for (i = 0; i < GEO_MAX_FILES; i++)
		db->country_order[i] = db->asn_order[i] = -1;
	if (c >= 0) {
		db->country_order[0] = c;
		if (a >= 0 && a != c)
			db->country_order[1] = a;
	} else if (a >= 0)
		db->country_order[0] = a;
	if (a >= 0) {
		db->asn_order[0] = a;
		if (c >= 0 && c != a)
			db->asn_order[1] = c;
	} else if (c >= 0)
		db->asn_order[0] = c;
	*db_r = db;
	return 0;
fail:
	geo_close(&db);
	return -1;
}

void
geo_close(struct geo_db **dbp)
{
	struct geo_db *db;
	int i;

	if (dbp == NULL || *dbp == NULL)
		return;
	db = *dbp;
	for (i = 0; i < db->n; i++)
		MMDB_close(&db->mmdb[i]);
	free(db);
	*dbp = NULL;
}

/*
 * Parse text as an address into ss.  Leniencies, because addresses come
 * from Remote-MTA fields and Received lines: surrounding blanks, "[...]"
 * and the RFC 5321 4.1.3 "IPv6:" tag; a "%zone" suffix is dropped (no
 * database has link-local entries).
 */
static int
geo_parse_ip(const char *text, struct sockaddr_storage *ss)
{
	char buf[GEO_IP_TEXT_MAX + 1];
	const char *p = text, *end;
	char *pct;
	size_t len;

	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end - p >= 2 && *p == '[' && end[-1] == ']') {
		p++;
		end--;
	}
	if (end - p > 5 && strncasecmp(p, "IPv6:", 5) == 0)
		p += 5;
	len = (size_t)(end - p);
	if (len == 0 || len > GEO_IP_TEXT_MAX)
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	if ((pct = strchr(buf, '%')) != NULL)
		*pct = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, buf, &((struct sockaddr_in *)ss)->sin_addr) ==
	    1) {
		ss->ss_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, &((struct sockaddr_in6 *)ss)->sin6_addr) ==
	    1) {
		ss->ss_family = AF_INET6;
		return 0;
	}
	return -1;
}

/* The string at path (NULL-terminated), or NULL; *len_r its length. */
static const char *
geo_string(MMDB_entry_s *entry, size_t *len_r, const char *k1, const char *k2)
{
	MMDB_entry_data_s d;

	if (MMDB_get_value(entry, &d, k1, k2, NULL) != MMDB_SUCCESS ||
	    !d.has_data || d.type != MMDB_DATA_TYPE_UTF8_STRING)
		return NULL;
	*len_r = d.data_size;
	return d.utf8_string;
}

static int
geo_country(MMDB_entry_s *entry, struct geo_result *r)
{
	static const char *const paths[][2] = {
	    {"country_code", NULL},
	    {"country", "iso_code"},
	    {"registered_country", "iso_code"},
	};
	const char *s;
	size_t i, len;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		s = geo_string(entry, &len, paths[i][0], paths[i][1]);
		/* Only two ASCII letters are a country code. */
		if (s == NULL || len != GEO_COUNTRY_LEN ||
		    !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z') ||
		    !((s[1] | 0x20) >= 'a' && (s[1] | 0x20) <= 'z'))
			continue;
		r->country[0] = (char)(s[0] & ~0x20);
		r->country[1] = (char)(s[1] & ~0x20);
		r->country[2] = '\0';
		return 1;
	}
	return 0;
}

static int
geo_asn(MMDB_entry_s *entry, struct geo_result *r)
{
	MMDB_entry_data_s d;
	uint64_t asn = 0;
	const char *s;
	size_t len, i;

	if (MMDB_get_value(entry, &d, "autonomous_system_number", NULL) !=
	        MMDB_SUCCESS ||
	    !d.has_data)
		return 0;
	switch (d.type) {
	case MMDB_DATA_TYPE_UINT16:
		asn = d.uint16;
		break;
	case MMDB_DATA_TYPE_UINT32:
		asn = d.uint32;
		break;
	case MMDB_DATA_TYPE_UINT64:
		asn = d.uint64;
		break;
	case MMDB_DATA_TYPE_INT32:
		asn = d.int32 > 0 ? (uint64_t)d.int32 : 0;
		break;
	default:
		break;
	}
	if (asn == 0 || asn > UINT32_MAX)
		return 0;
	r->asn = (uint32_t)asn;
	s = geo_string(entry, &len, "autonomous_system_organization", NULL);
	if (s == NULL)
		return 1;
	if (len > GEO_AS_ORG_MAX) {
		len = GEO_AS_ORG_MAX;
		/* Do not cut a UTF-8 sequence: back off continuation bytes. */
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	for (i = 0; i < len && s[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)s[i];

		/* The text ends up in logs and JSON: no control bytes. */
		r->as_org[i] = (char)(ch < 0x20 || ch == 0x7f ? ' ' : ch);
	}
	r->as_org[i] = '\0';
	return 1;
}

int
geo_lookup(const struct geo_db *db, const char *ip, struct geo_result *r)
{
	MMDB_lookup_result_s res[GEO_MAX_FILES];
	struct sockaddr_storage ss;
	int i, ix, mmerr, found = 0;

	memset(r, 0, sizeof(*r));
	if (ip == NULL || geo_parse_ip(ip, &ss) < 0)
		return -1;
	if (db == NULL)
		return 0;
	for (i = 0; i < db->n; i++) {
		res[i] = MMDB_lookup_sockaddr(
		    &db->mmdb[i], (const struct sockaddr *)&ss, &mmerr);
		/* An IPv6 address in an IPv4-only file is simply unknown. */
		if (mmerr == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
			res[i].found_entry = false;
		else if (mmerr != MMDB_SUCCESS) {
			memset(r, 0, sizeof(*r));
			return -1;
		}
		if (res[i].found_entry)
			found = 1;
	}
	for (i = 0; i < GEO_MAX_FILES; i++) {
		ix = db->country_order[i];
		if (ix >= 0 && res[ix].found_entry &&
		    geo_country(&res[ix].entry, r))
			break;
	}
	for (i = 0; i < GEO_MAX_FILES; i++) {
		ix = db->asn_order[i];
		if (ix >= 0 && res[ix].found_entry &&
		    geo_asn(&res[ix].entry, r))
			break;
	}
	return found;
}
