/*
 * store/sha256.c: FIPS 180-4 test vectors, and for random data of every
 * length up to 1100 bytes fed in random pieces, the SHA-extension and the
 * portable block functions agree with GLib's GChecksum.
 */
#include <glib.h>

#include "store/store_int.h"
#include "test.h"

static void
hex(const unsigned char *d, char *out)
{
	int i;

	for (i = 0; i < 32; i++)
		(void)snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int
main(void)
{
	/* clang-format off */
	static const struct {
		const char *in;
		const char *want;
	} vectors[] = {
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	};
	/* clang-format on */
	static unsigned char data[1100];
	unsigned char d1[32], d2[32];
	char h[65], *g;
	struct sha256 c;
	size_t i, len;
	int portable;
	GRand *r = g_rand_new_with_seed(42);

	for (portable = 0; portable < 2; portable++) {
		for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
			sha256_init(&c, portable);
			sha256_update(&c, vectors[i].in, strlen(vectors[i].in));
			sha256_final(&c, d1);
			hex(d1, h);
			test_assert_idx(strcmp(h, vectors[i].want) == 0, i);
		}
		/* A million 'a', 1000 at a time. */
		memset(data, 'a', 1000);
		sha256_init(&c, portable);
		for (i = 0; i < 1000; i++)
			sha256_update(&c, data, 1000);
		sha256_final(&c, d1);
		hex(d1, h);
		test_assert_streq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48"
		                     "a497200e046d39ccc7112cd0");
	}
	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)g_rand_int_range(r, 0, 256);
	for (len = 0; len <= sizeof(data); len++) {
		g = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, len);
		for (portable = 0; portable < 2; portable++) {
			size_t off = 0;

			sha256_init(&c, portable);
			while (off < len) {
				size_t n = (size_t)g_rand_int_range(r, 0, 130);

				if (n > len - off)
					n = len - off;
				sha256_update(&c, data + off, n);
				off += n;
			}
			sha256_final(&c, d1);
			hex(d1, h);
			test_assert_idx(strcmp(h, g) == 0, len);
		}
		g_free(g);
	}
	/* Both ways, same digest of a big buffer in one call. */
	sha256_init(&c, 0);
	sha256_update(&c, data, sizeof(data));
	sha256_final(&c, d1);
	sha256_init(&c, 1);
	sha256_update(&c, data, sizeof(data));
	sha256_final(&c, d2);
	test_assert(memcmp(d1, d2, 32) == 0);
	g_rand_free(r);
	return test_exit();
}
