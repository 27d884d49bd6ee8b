/*
 * store/address.c: normalisation of addresses (suppression lists) and
 * identities.  Domains in lower case, local parts per the setting; a
 * malformed address is an error that says why, never a row.
 */
#include "fixtures.h"
#include "test.h"

int
main(void)
{
	/* clang-format off */
	static const struct {
		const char *in;
		const char *insensitive; /* NULL: refused */
		const char *sensitive;
	} cases[] = {
		{"Anna@Example.NET", "anna@example.net", "Anna@example.net"},
		{"<bob@example.org>", "bob@example.org", "bob@example.org"},
		{"Bob Ross <Bob@Example.org>", "bob@example.org",
		    "Bob@example.org"},
		{"  c@example.com  ", "c@example.com", "c@example.com"},
		{"d@example.com.", "d@example.com", "d@example.com"},
		{"first.last+tag@sub.example.co.uk",
		    "first.last+tag@sub.example.co.uk",
		    "first.last+tag@sub.example.co.uk"},
		{"\"quoted name\"@example.com", "\"quoted name\"@example.com",
		    "\"quoted name\"@example.com"},
		{"j\xc3\xbcrgen@b\xc3\xbc" "cher.example", "j\xc3\xbcrgen@b\xc3\xbc"
		    "cher.example", "j\xc3\xbcrgen@b\xc3\xbc" "cher.example"},
		{"", NULL, NULL},
		{"plainaddress", NULL, NULL},
		{"@example.com", NULL, NULL},
		{"user@", NULL, NULL},
		{"user@localhost", NULL, NULL},
		{"us er@example.com", NULL, NULL},
		{"user@exa mple.com", NULL, NULL},
		{".user@example.com", NULL, NULL},
		{"user.@example.com", NULL, NULL},
		{"us..er@example.com", NULL, NULL},
		{"user@-example.com", NULL, NULL},
		{"user@example-.com", NULL, NULL},
		{"user@example..com", NULL, NULL},
		{"user@[192.0.2.1]", NULL, NULL},
		{"<user@example.com", NULL, NULL},
		{"user@example.com\n", "user@example.com", "user@example.com"},
		{"a\"b@example.com", NULL, NULL},
		{"x@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    ".com", NULL, NULL},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "@example.com", NULL, NULL},
	};
	/* clang-format on */
	static const char *const sens[] = {
	    "suppression.local_part=sensitive", NULL};
	static const char *const addr_ids[] = {
	    "identity.addresses=CEO@Shop.Example.com", NULL};
	static const char *const addr_mode[] = {"identity.mode=address", NULL};
	struct store *st_i, *st_s, *st;
	struct rb_error err;
	char out[STORE_MAX_ADDRESS];
	size_t i;

	fx_tmpdir();
	st_i = fx_open("i.db", NULL);
	st_s = fx_open("s.db", sens);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = store_address_normalize(
		    st_i, cases[i].in, out, sizeof(out), &err);

		test_assert_idx(r == (cases[i].insensitive ? 0 : -1), i);
		if (r == 0)
			test_assert_idx(
			    strcmp(out, cases[i].insensitive) == 0, i);
		else
			test_assert_idx(strstr(err.msg, "address") != NULL, i);
		r = store_address_normalize(
		    st_s, cases[i].in, out, sizeof(out), &err);
		test_assert_idx(r == (cases[i].sensitive ? 0 : -1), i);
		if (r == 0)
			test_assert_idx(
			    strcmp(out, cases[i].sensitive) == 0, i);
	}
	/* A buffer too small is an error, not an overflow. */
	test_assert(
	    store_address_normalize(st_i, "abc@example.com", out, 8, &err) < 0);

	/* Identities: domain by default, listed addresses, address mode. */
	test_assert(store_identity_normalize(
	                st_i, "Shop.Example.COM", out, sizeof(out), &err) == 0);
	test_assert_streq(out, "shop.example.com");
	test_assert(store_identity_normalize(st_i, "orders@Shop.Example.com",
	                out, sizeof(out), &err) == 0);
	test_assert_streq(out, "shop.example.com");
	test_assert(store_identity_normalize(
	                st_i, "not a domain", out, sizeof(out), &err) < 0);
	test_assert(
	    store_identity_normalize(st_i, "", out, sizeof(out), &err) < 0);
	store_close(&st_i);
	store_close(&st_s);

	st = fx_open("a.db", addr_ids);
	test_assert(store_identity_normalize(st, "ceo@shop.example.com", out,
	                sizeof(out), &err) == 0);
	test_assert_streq(out, "ceo@shop.example.com");
	test_assert(store_identity_normalize(st, "orders@shop.example.com", out,
	                sizeof(out), &err) == 0);
	test_assert_streq(out, "shop.example.com");
	store_close(&st);
	st = fx_open("m.db", addr_mode);
	test_assert(store_identity_normalize(st, "Orders@Shop.example.com", out,
	                sizeof(out), &err) == 0);
	test_assert_streq(out, "orders@shop.example.com");
	store_close(&st);
	fx_cleanup();
	return test_exit();
}
