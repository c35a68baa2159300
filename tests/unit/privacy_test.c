/*
 * privacy_test.c: flowd's address-privacy policies.  SipHash-2-4 against
 * its published test vector; prefix pseudonyms preserve exactly the
 * common prefix of any two addresses, IPv4 and IPv6, and depend on the
 * key; the hash policy is a permutation (no collisions) and keeps no
 * prefix; truncate cuts at /24 and /48; clear is inet_ntop's text,
 * character for character, for random addresses and the special forms.
 */

#include <sys/types.h>

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../flowd/flowd.h"

static const uint8_t key1[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    13, 14, 15, 16 };
static const uint8_t key2[16] = { 16, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    13, 14, 15, 1 };

static uint64_t rng = 88172645463325252ULL;

static uint64_t
xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
test_siphash_vector(void **state)
{
	uint8_t key[16], msg[15];
	int i;

	(void)state;
	for (i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	/* Aumasson and Bernstein, SipHash paper, appendix A */
	assert_int_equal(siphash24(key, msg, 15), 0xa129ca6149be45e5ULL);
	assert_int_equal(siphash24(key, msg, 0), 0x726fdb47dd0e0e31ULL);
}

/*
 * The 128-bit output against the reference implementation's
 * vectors_sip128 (github.com/veorq/SipHash, vectors.h): key 00..0f,
 * message 00..len-1, the two words little-endian.  Lengths 0, 1, 7, 8
 * and 9 take every path through the last block.
 */
static void
test_siphash128_vector(void **state)
{
	static const struct {
		size_t	 len;
		uint64_t h[2];
	} v[] = {
		{ 0, { 0xe6a825ba047f81a3ULL, 0x930255c71472f66dULL } },
		{ 1, { 0x44af996bd8c187daULL, 0x45fc229b11597634ULL } },
		{ 7, { 0x53c1dbd8beebf1a1ULL, 0x3982f01fa64ab8c0ULL } },
		{ 8, { 0x61f55862baa9623bULL, 0xb49714f364e2830fULL } },
		{ 9, { 0xabbad90a06994426ULL, 0xed716dbb028b7fc4ULL } },
	};
	uint8_t key[16], msg[16];
	uint64_t h[2];
	size_t i;

	(void)state;
	for (i = 0; i < 16; i++)
		key[i] = msg[i] = (uint8_t)i;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		siphash24_128(key, msg, v[i].len, h);
		assert_int_equal(h[0], v[i].h[0]);
		assert_int_equal(h[1], v[i].h[1]);
	}
}

static int
common_prefix(const uint8_t *a, const uint8_t *b, int nbits)
{
	int i;

	for (i = 0; i < nbits; i++)
		if (((a[i / 8] >> (7 - i % 8)) & 1) !=
		    ((b[i / 8] >> (7 - i % 8)) & 1))
			return i;
	return nbits;
}

static void
pseudo(struct privacy *pv, int ipver, const uint8_t *a, uint8_t *out)
{
	char buf[64];

	memset(out, 0, 16);
	assert_int_equal(inet_pton(ipver == 4 ? AF_INET : AF_INET6,
	    privacy_addr(pv, (uint8_t)ipver, a, buf, sizeof(buf)), out), 1);
}

static void
check_prefix(int ipver)
{
	struct privacy *pv = privacy_new(PRIV_PREFIX, key1);
	struct privacy *pv2 = privacy_new(PRIV_PREFIX, key2);
	int nbits = ipver == 4 ? 32 : 128, i, j, differ = 0;
	uint8_t a[16], b[16], pa[16], pb[16], pa2[16];

	assert_non_null(pv);
	for (i = 0; i < 2000; i++) {
		memset(a, 0, 16);
		memset(b, 0, 16);
		for (j = 0; j < nbits / 8; j++)
			a[j] = (uint8_t)xorshift();
		memcpy(b, a, 16);
		/* flip one bit, then randomise everything after it */
		j = (int)(xorshift() % (uint64_t)nbits);
		b[j / 8] ^= (uint8_t)(1 << (7 - j % 8));
		for (int k = j + 1; k < nbits; k++)
			if (xorshift() & 1)
				b[k / 8] ^= (uint8_t)(1 << (7 - k % 8));
		pseudo(pv, ipver, a, pa);
		pseudo(pv, ipver, b, pb);
		assert_int_equal(common_prefix(pa, pb, nbits), j);
		pseudo(pv2, ipver, a, pa2);
		if (memcmp(pa, pa2, 16) != 0)
			differ++;
		/* the cache gives the same answer */
		pseudo(pv, ipver, a, pb);
		assert_memory_equal(pa, pb, 16);
	}
	assert_true(differ > 1990);
	privacy_free(pv);
	privacy_free(pv2);
}

static void
test_prefix_v4(void **state)
{
	(void)state;
	check_prefix(4);
}

static void
test_prefix_v6(void **state)
{
	(void)state;
	check_prefix(6);
}

static int
cmp32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

static void
test_hash_permutation(void **state)
{
	struct privacy *pv = privacy_new(PRIV_HASH, key1);
	uint32_t *out = calloc(65536, sizeof(*out));
	uint8_t a[16], p[16];
	int i, same_prefix = 0;

	(void)state;
	assert_non_null(out);
	/* 10.1.0.0/16: a permutation maps it to 65536 distinct addresses */
	for (i = 0; i < 65536; i++) {
		memset(a, 0, 16);
		a[0] = 10;
		a[1] = 1;
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		pseudo(pv, 4, a, p);
		out[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		    (uint32_t)p[2] << 8 | p[3];
		if (p[0] == 10 && p[1] == 1)
			same_prefix++;
	}
	qsort(out, 65536, sizeof(*out), cmp32);
	for (i = 1; i < 65536; i++)
		assert_true(out[i] != out[i - 1]);
	assert_true(same_prefix < 16);
	free(out);
	privacy_free(pv);
}

static void
test_truncate_clear(void **state)
{
	struct privacy *t = privacy_new(PRIV_TRUNCATE, NULL);
	struct privacy *c = privacy_new(PRIV_CLEAR, NULL);
	uint8_t a4[16] = { 192, 0, 2, 77 }, a6[16];
	char buf[64];

	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1234:5678::9", a6), 1);
	assert_string_equal(privacy_addr(t, 4, a4, buf, sizeof(buf)),
	    "192.0.2.0");
	assert_string_equal(privacy_addr(t, 6, a6, buf, sizeof(buf)),
	    "2001:db8:1234::");
	assert_string_equal(privacy_addr(c, 4, a4, buf, sizeof(buf)),
	    "192.0.2.77");
	assert_string_equal(privacy_addr(c, 6, a6, buf, sizeof(buf)),
	    "2001:db8:1234:5678::9");
	assert_string_equal(privacy_addr(c, 5, a6, buf, sizeof(buf)), "?");
	assert_int_equal(privacy_parse("prefix"), PRIV_PREFIX);
	assert_int_equal(privacy_parse("nonsense"), -1);
	privacy_free(t);
	privacy_free(c);
}

/*
 * flowd writes address text itself (IPv4) or through a cache (IPv6):
 * it must be inet_ntop's, every time, cached or not.
 */
static void
test_clear_is_inet_ntop(void **state)
{
	static const char *const special[] = {
		"::", "::1", "::ffff:192.0.2.1", "::192.0.2.1", "1::",
		"1:0:0:1::1", "1::1:0:0:1", "fe80:0:0:1::1",
		"2001:db8::", "0:1:0:1:0:1:0:1", "::ffff:0:0",
		"0.0.0.0", "255.255.255.255", "10.0.0.1", "100.99.9.0"
	};
	struct privacy *c = privacy_new(PRIV_CLEAR, NULL);
	uint8_t a[16];
	char want[64], buf[64];
	uint64_t r;
	size_t i;
	int j, k, v6;

	(void)state;
	for (i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		memset(a, 0, sizeof(a));
		v6 = strchr(special[i], ':') != NULL;
		assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET,
		    special[i], a), 1);
		assert_non_null(inet_ntop(v6 ? AF_INET6 : AF_INET, a, want,
		    sizeof(want)));
		assert_string_equal(privacy_addr(c, v6 ? 6 : 4, a, buf,
		    sizeof(buf)), want);
	}
	for (i = 0; i < 200000; i++) {
		memset(a, 0, sizeof(a));
		for (j = 0; j < 16; j += 8) {
			r = xorshift();
			/* zero words often, so that runs of them occur */
			for (k = 0; k < 8; k += 2)
				if ((r >> (k * 8)) & 1)
					r &= ~(0xffffULL << (k * 8));
			memcpy(a + j, &r, 8);
		}
		if (i % 3 == 0) {
			memset(a + 4, 0, 12);
			assert_non_null(inet_ntop(AF_INET, a, want,
			    sizeof(want)));
			assert_string_equal(privacy_addr(c, 4, a, buf,
			    sizeof(buf)), want);
			continue;
		}
		if (i % 7 == 0)
			a[i % 16] = 0;	/* an address seen again, changed */
		assert_non_null(inet_ntop(AF_INET6, a, want, sizeof(want)));
		assert_string_equal(privacy_addr(c, 6, a, buf, sizeof(buf)),
		    want);
		assert_string_equal(privacy_addr(c, 6, a, buf, sizeof(buf)),
		    want);
	}
	assert_string_equal(privacy_addr(c, 4, a, buf, 8), "?");
	privacy_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vector),
		cmocka_unit_test(test_siphash128_vector),
		cmocka_unit_test(test_prefix_v4),
		cmocka_unit_test(test_prefix_v6),
		cmocka_unit_test(test_hash_permutation),
		cmocka_unit_test(test_truncate_clear),
		cmocka_unit_test(test_clear_is_inet_ntop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
