/*
 * sha256: SHA-256 (FIPS 180-4) for the dedupe key, incremental.  On x86
 * CPUs with the SHA extensions (cpuid 7.0:EBX bit 29; Intel since Ice
 * Lake / Goldmont, AMD since Zen) the block function uses them, about 8x
 * the plain C one (GLib's GChecksum is plain C: 17 us of a 4.4 KB
 * message, a tenth of an ingest's CPU, before this).  Otherwise, and on
 * other architectures, portable C.  Both are checked against GChecksum
 * by tests/unit/store/test_sha256.c.  No state but the caller's.
 */
#include <pthread.h>
#include <string.h>

#include "store_int.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SHA256_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* clang-format off */
static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};
/* clang-format on */

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void
blocks_c(uint32_t st[8], const unsigned char *p, size_t n)
{
	uint32_t w[64], a, b, c, d, e, f, g, h, t1, t2;
	size_t i;

	for (; n > 0; n--, p += 64) {
		for (i = 0; i < 16; i++)
			w[i] = (uint32_t)p[4 * i] << 24 |
			       (uint32_t)p[4 * i + 1] << 16 |
			       (uint32_t)p[4 * i + 2] << 8 |
			       (uint32_t)p[4 * i + 3];
		for (i = 16; i < 64; i++) {
			uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^
			              (w[i - 15] >> 3);
			uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^
			              (w[i - 2] >> 10);

			w[i] = w[i - 16] + s0 + w[i - 7] + s1;
		}
		a = st[0];
		b = st[1];
		c = st[2];
		d = st[3];
		e = st[4];
		f = st[5];
		g = st[6];
		h = st[7];
		for (i = 0; i < 64; i++) {
			t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
			     ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
			t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
			     ((a & b) ^ (a & c) ^ (b & c));
			h = g;
			g = f;
			f = e;
			e = d + t1;
			d = c;
			c = b;
			b = a;
			a = t1 + t2;
		}
		st[0] += a;
		st[1] += b;
		st[2] += c;
		st[3] += d;
		st[4] += e;
		st[5] += f;
		st[6] += g;
		st[7] += h;
	}
}

#ifdef SHA256_X86
/*
 * The SHA extensions: 4 rounds per pair of sha256rnds2, the message
 * schedule by sha256msg1/msg2 (Intel, "New Instructions Supporting the
 * Secure Hash Algorithm on Intel Architecture Processors", 2013).  State
 * kept as ABEF / CDGH; W[i % 4] holds message words 4i..4i+3.
 */
__attribute__((target("sha,sse4.1,ssse3"))) static void
blocks_shani(uint32_t st[8], const unsigned char *p, size_t n)
{
	const __m128i bswap =
	    _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i s0, s1, t, w[4], m, save0, save1;
	int i;

	t = _mm_loadu_si128((const __m128i *)(const void *)&st[0]);
	s1 = _mm_loadu_si128((const __m128i *)(const void *)&st[4]);
	t = _mm_shuffle_epi32(t, 0xb1);    /* CDAB */
	s1 = _mm_shuffle_epi32(s1, 0x1b);  /* EFGH */
	s0 = _mm_alignr_epi8(t, s1, 8);    /* ABEF */
	s1 = _mm_blend_epi16(s1, t, 0xf0); /* CDGH */
	for (; n > 0; n--, p += 64) {
		save0 = s0;
		save1 = s1;
		for (i = 0; i < 16; i++) {
			__m128i *cur = &w[i % 4];

			if (i < 4)
				*cur = _mm_shuffle_epi8(
				    _mm_loadu_si128((
				        const __m128i *)(const void *)(p +
				                                       16 * i)),
				    bswap);
			m = _mm_add_epi32(
			    *cur, _mm_loadu_si128((const __m128i *)(const void
			                  *)&sha256_k[4 * i]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, m);
			if (i >= 3 && i <= 14) {
				__m128i *next = &w[(i + 1) % 4];

				t = _mm_alignr_epi8(*cur, w[(i + 3) % 4], 4);
				*next = _mm_sha256msg2_epu32(
				    _mm_add_epi32(*next, t), *cur);
			}
			m = _mm_shuffle_epi32(m, 0x0e);
			s0 = _mm_sha256rnds2_epu32(s0, s1, m);
			if (i >= 1 && i <= 12)
				w[(i + 3) % 4] =
				    _mm_sha256msg1_epu32(w[(i + 3) % 4], *cur);
		}
		s0 = _mm_add_epi32(s0, save0);
		s1 = _mm_add_epi32(s1, save1);
	}
	t = _mm_shuffle_epi32(s0, 0x1b);   /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xb1);  /* DCHG */
	s0 = _mm_blend_epi16(t, s1, 0xf0); /* DCBA */
	s1 = _mm_alignr_epi8(s1, t, 8);    /* HGFE */
	_mm_storeu_si128((__m128i *)(void *)&st[0], s0);
	_mm_storeu_si128((__m128i *)(void *)&st[4], s1);
}

/* cpuid 1:ECX SSSE3 (9), SSE4.1 (19); 7.0:EBX SHA (29). */
static int
have_shani(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) ||
	    !(c & (1u << 19)))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b & (1u << 29)) != 0;
}

static pthread_once_t shani_once = PTHREAD_ONCE_INIT;
static int shani_known;

static void
probe_shani(void)
{
	shani_known = have_shani();
}
#endif

static void
blocks(struct sha256 *c, const unsigned char *p, size_t n)
{
#ifdef SHA256_X86
	if (c->shani)
		blocks_shani(c->h, p, n);
	else
#endif
		blocks_c(c->h, p, n);
}

void
sha256_init(struct sha256 *c, int portable)
{
	static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
	    0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

	memcpy(c->h, h0, sizeof(h0));
	c->n = 0;
	c->len = 0;
	c->shani = 0;
#ifdef SHA256_X86
	/* cpuid costs a few hundred cycles: asked once per process. */
	if (pthread_once(&shani_once, probe_shani) != 0)
		rb_panic("pthread_once");
	c->shani = !portable && shani_known;
#else
	(void)portable;
#endif
}

void
sha256_update(struct sha256 *c, const void *data, size_t len)
{
	const unsigned char *p = data;

	c->len += len;
	if (c->n > 0) {
		size_t take = 64 - c->n < len ? 64 - c->n : len;

		memcpy(c->buf + c->n, p, take);
		c->n += take;
		p += take;
		len -= take;
		if (c->n < 64)
			return;
		blocks(c, c->buf, 1);
		c->n = 0;
	}
	if (len >= 64) {
		blocks(c, p, len / 64);
		p += len & ~(size_t)63;
		len &= 63;
	}
	if (len > 0) {
		memcpy(c->buf, p, len);
		c->n = len;
	}
}

void
sha256_final(struct sha256 *c, unsigned char out[32])
{
	uint64_t bits = c->len * 8;
	size_t i;

	c->buf[c->n++] = 0x80;
	if (c->n > 56) {
		memset(c->buf + c->n, 0, 64 - c->n);
		blocks(c, c->buf, 1);
		c->n = 0;
	}
	memset(c->buf + c->n, 0, 56 - c->n);
	for (i = 0; i < 8; i++)
		c->buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	blocks(c, c->buf, 1);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(c->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)c->h[i];
	}
}
