/*
 * core/geo.c against data/geoip/test.mmdb (made by make-test-db.pl):
 * each documentation range, IPv6, both field styles (flat country_code
 * and nested country.iso_code), an ASN without a country, unknown and
 * private addresses, garbage text, the file given as country, AS or both
 * databases, a missing file and a file that is not a database.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "test.h"

static char db_path[4096];

static const char *
source_dir(void)
{
	const char *d = getenv("REBOUND_SOURCE_DIR");

	return d != NULL && d[0] != '\0' ? d : REBOUND_SOURCE_DIR;
}

/* clang-format off */
static const struct {
	const char *ip;
	int want;
	const char *country;
	uint32_t asn;
	const char *as_org;
} cases[] = {
	{"192.0.2.77", 1, "DE", 64496, "Example Documentation Net One"},
	{"192.0.2.0", 1, "DE", 64496, "Example Documentation Net One"},
	{"192.0.2.255", 1, "DE", 64496, "Example Documentation Net One"},
	{"198.51.100.1", 1, "FR", 64497, "Example Documentation Net Two"},
	{"203.0.113.9", 1, "JP", 64498, "Example Documentation Net Three"},
	{"2001:db8::5", 1, "NL", 64499, "Example Documentation Net Six"},
	{"2001:DB8:ffff::1", 1, "NL", 64499, "Example Documentation Net Six"},
	{"8.8.8.8", 1, "US", 15169, "GOOGLE"},
	{"1.1.1.1", 1, "AU", 13335, "CLOUDFLARENET"},
	{"198.19.255.1", 1, "", 64500, "Example Benchmark Net"},
	/* IPv4-mapped IPv6 and the leniencies of geo_parse_ip */
	{"::ffff:192.0.2.1", 1, "DE", 64496, "Example Documentation Net One"},
	{"[203.0.113.9]", 1, "JP", 64498, "Example Documentation Net Three"},
	{" 8.8.8.8\t", 1, "US", 15169, "GOOGLE"},
	{"[IPv6:2001:db8::1]", 1, "NL", 64499, "Example Documentation Net Six"},
	{"2001:db8::1%eth0", 1, "NL", 64499, "Example Documentation Net Six"},
	/* unknown: private, loopback, outside every range */
	{"10.1.2.3", 0, "", 0, ""},
	{"192.168.1.1", 0, "", 0, ""},
	{"127.0.0.1", 0, "", 0, ""},
	{"192.0.3.1", 0, "", 0, ""},
	{"::1", 0, "", 0, ""},
	{"2001:db9::1", 0, "", 0, ""},
	/* not IP addresses */
	{"", -1, "", 0, ""},
	{"not-an-ip", -1, "", 0, ""},
	{"8.8.8", -1, "", 0, ""},
	{"0x8.8.8.8", -1, "", 0, ""},
	{"8.8.8.8.8", -1, "", 0, ""},
	{"256.1.1.1", -1, "", 0, ""},
	{"192.0.2.1/24", -1, "", 0, ""},
	{"[]", -1, "", 0, ""},
	{"IPv6:", -1, "", 0, ""},
	{"mx.example.com", -1, "", 0, ""},
	{"2001:db8:::1", -1, "", 0, ""},
	{"1.2.3.4 5.6.7.8", -1, "", 0, ""},
	{"\xff\xfe\x01", -1, "", 0, ""},
	{"11111111111111111111111111111111111111111111111111111111111111111"
	 "11111111111111111111111111111111111111111111111111111111111111111",
	 -1, "", 0, ""},
};
/* clang-format on */

static void
check_cases(const struct geo_db *db, int country, int asn)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct geo_result r;
		int got;

		memset(&r, 'x', sizeof(r));
		got = geo_lookup(db, cases[i].ip, &r);
		test_assert_idx(got == cases[i].want, i);
		test_assert_idx(
		    strcmp(r.country, country ? cases[i].country : "") == 0, i);
		test_assert_idx(r.asn == (asn ? cases[i].asn : 0), i);
		test_assert_idx(
		    strcmp(r.as_org, asn ? cases[i].as_org : "") == 0, i);
	}
}

static void
test_open_variants(void)
{
	struct geo_db *db = NULL;
	struct rb_error err;

	/* One combined file named in either place, or in both. */
	test_assert(geo_open(db_path, NULL, &db, &err) == 0);
	check_cases(db, 1, 1);
	geo_close(&db);
	test_assert(db == NULL);
	test_assert(geo_open(NULL, db_path, &db, &err) == 0);
	check_cases(db, 1, 1);
	geo_close(&db);
	test_assert(geo_open(db_path, db_path, &db, &err) == 0);
	check_cases(db, 1, 1);
	geo_close(&db);
	test_assert(geo_open("", db_path, &db, &err) == 0);
	check_cases(db, 1, 1);
	geo_close(&db);

	/* No file: knows nothing, still tells garbage from addresses. */
	test_assert(geo_open(NULL, NULL, &db, &err) == 0);
	test_assert(db != NULL);
	{
		struct geo_result r;

		test_assert(geo_lookup(db, "8.8.8.8", &r) == 0);
		test_assert(r.country[0] == '\0' && r.asn == 0);
		test_assert(geo_lookup(db, "garbage", &r) == -1);
		test_assert(geo_lookup(NULL, "8.8.8.8", &r) == 0);
		test_assert(geo_lookup(NULL, NULL, &r) == -1);
	}
	geo_close(&db);
	geo_close(&db); /* NULL is fine */
	geo_close(NULL);
}

static void
test_open_errors(void)
{
	struct geo_db *db = NULL;
	struct rb_error err;
	char path[4096];

	memset(&err, 0, sizeof(err));
	test_assert(geo_open("/nonexistent/GeoLite2-Country.mmdb", NULL, &db,
	                &err) == -1);
	test_assert(db == NULL);
	test_assert(
	    strstr(err.msg, "/nonexistent/GeoLite2-Country.mmdb") != NULL);
	test_assert(strstr(err.msg, "No such file") != NULL);
	test_assert(err.code != 0);

	/* A good country file and a missing AS file: fails, leaks nothing. */
	memset(&err, 0, sizeof(err));
	test_assert(
	    geo_open(db_path, "/nonexistent/asn.mmdb", &db, &err) == -1);
	test_assert(db == NULL);
	test_assert(strstr(err.msg, "/nonexistent/asn.mmdb") != NULL);

	/* A file that is not a MaxMind DB. */
	(void)snprintf(
	    path, sizeof(path), "%s/data/geoip/README.md", source_dir());
	memset(&err, 0, sizeof(err));
	test_assert(geo_open(path, NULL, &db, &err) == -1);
	test_assert(db == NULL);
	test_assert(strstr(err.msg, "not a MaxMind DB file") != NULL);
	test_assert(geo_open(NULL, NULL, &db, NULL) == 0);
	geo_close(&db);
	test_assert(geo_open("/nonexistent", NULL, &db, NULL) == -1);
}

int
main(void)
{
	(void)snprintf(
	    db_path, sizeof(db_path), "%s/data/geoip/test.mmdb", source_dir());
	test_open_variants();
	test_open_errors();
	return test_exit();
}
