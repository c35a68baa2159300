/*
 * privacy.c: flowd's address-privacy policies, applied to every address
 * before it is written into a batch.  Runs in flowd.  The key comes from
 * a file the volunteer's installation (or a study) owns; addresses come
 * from capd and sockd and are plain data here.
 *
 *   clear     inet_ntop text.
 *   prefix    keyed prefix-preserving pseudonym (Crypto-PAn's idea, with
 *             SipHash-2-4 as the keyed PRF in place of AES): bit i of the
 *             pseudonym is bit i of the address XOR one PRF bit of the
 *             first i bits.  Two addresses sharing a k-bit prefix share a
 *             k-bit pseudonym prefix, and nothing else is revealed
 *             without the key.  IPv4 and IPv6 are keyed apart.
 *   hash      keyed pseudorandom permutation of the whole address (a
 *             4-round Feistel network on SipHash): no prefix relation,
 *             and, being a permutation, no two addresses collide.
 *   truncate  IPv4 /24, IPv6 /48, the rest zero.
 *
 * Pseudonyms keep the address family and are written as addresses, so
 * that the server stores every policy in the same columns.
 */

#include <sys/types.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flowd.h"

#define PRIV_KEYLEN	16
#define PRIV_CACHE	4096	/* direct-mapped pseudonym cache */
#define TEXT_CACHE	1024	/* direct-mapped IPv6 text cache */

struct priv_cache {
	uint8_t		 ipver;
	uint8_t		 addr[16];
	uint8_t		 out[16];
};

/* inet_ntop's text of an IPv6 address (valid when text[0] != 0). */
struct text_cache {
	uint8_t		 addr[16];
	char		 text[INET6_ADDRSTRLEN];
};

struct privacy {
	int			 policy;
	uint8_t			 key[PRIV_KEYLEN];
	struct priv_cache	*cache;
	struct text_cache	*text6;
};

static const char *const policy_names[] = {
	"clear", "prefix", "hash", "truncate"
};

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

static uint64_t
le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	    (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	    (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	    (uint64_t)p[7] << 56;
}

/*
 * SipHash-2-4 (Aumasson and Bernstein), 128-bit key: the state after
 * the compression of data, ready for finalization.  wide starts the
 * 128-bit output variant (v1 ^= 0xee), whose finalization differs.
 */
static void
sip_compress(uint64_t v[4], const uint8_t *key, const void *data, size_t len,
    int wide)
{
	const uint8_t *in = data;
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1 ^ (wide ? 0xee : 0);
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, left = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	switch (left) {
	case 7: b |= (uint64_t)in[i + 6] << 48; /* FALLTHROUGH */
	case 6: b |= (uint64_t)in[i + 5] << 40; /* FALLTHROUGH */
	case 5: b |= (uint64_t)in[i + 4] << 32; /* FALLTHROUGH */
	case 4: b |= (uint64_t)in[i + 3] << 24; /* FALLTHROUGH */
	case 3: b |= (uint64_t)in[i + 2] << 16; /* FALLTHROUGH */
	case 2: b |= (uint64_t)in[i + 1] << 8; /* FALLTHROUGH */
	case 1: b |= (uint64_t)in[i]; break;
	default: break;
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v[0] = v0, v[1] = v1, v[2] = v2, v[3] = v3;
}

/* Four rounds of finalization; xor is 0xff, or 0xee then 0xdd (wide). */
static uint64_t
sip_final(uint64_t v[4], int i, uint64_t x)
{
	uint64_t v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3];

	if (i == 2)
		v2 ^= x;
	else
		v1 ^= x;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	v[0] = v0, v[1] = v1, v[2] = v2, v[3] = v3;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* SipHash-2-4, 64-bit output. */
uint64_t
siphash24(const uint8_t *key, const void *data, size_t len)
{
	uint64_t v[4];

	sip_compress(v, key, data, len, 0);
	return sip_final(v, 2, 0xff);
}

/*
 * SipHash-2-4 with its 128-bit output: one pass over data where two
 * differently keyed 64-bit hashes took two.
 */
void
siphash24_128(const uint8_t *key, const void *data, size_t len,
    uint64_t out[2])
{
	uint64_t v[4];

	sip_compress(v, key, data, len, 1);
	out[0] = sip_final(v, 2, 0xee);
	out[1] = sip_final(v, 1, 0xdd);
}

int
privacy_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++)
		if (strcmp(s, policy_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
privacy_name(int p)
{
	if (p < 0 || p > PRIV_TRUNCATE)
		return "?";
	return policy_names[p];
}

struct privacy *
privacy_new(int policy, const uint8_t *key)
{
	struct privacy *pv;

	if ((pv = calloc(1, sizeof(*pv))) == NULL)
		return NULL;
	pv->policy = policy;
	if ((pv->text6 = calloc(TEXT_CACHE, sizeof(*pv->text6))) == NULL) {
		free(pv);
		return NULL;
	}
	if (key != NULL)
		memcpy(pv->key, key, PRIV_KEYLEN);
	if (policy == PRIV_PREFIX || policy == PRIV_HASH) {
		if ((pv->cache = calloc(PRIV_CACHE, sizeof(*pv->cache))) ==
		    NULL) {
			free(pv->text6);
			free(pv);
			return NULL;
		}
	}
	return pv;
}

void
privacy_free(struct privacy *pv)
{
	if (pv == NULL)
		return;
	explicit_bzero(pv->key, sizeof(pv->key));
	free(pv->cache);
	free(pv->text6);
	free(pv);
}

/*
 * Prefix-preserving pseudonym of an n-bit address.  The PRF input is
 * the family, the bit index and the first i bits (the rest zeroed), so
 * each bit's pad depends on exactly the prefix before it.
 */
static void
prefix_pseudonym(const struct privacy *pv, uint8_t ipver, const uint8_t *a,
    uint8_t *out)
{
	uint8_t buf[18];
	int nbits = ipver == 4 ? 32 : 128, i;

	memset(out, 0, 16);
	memset(buf, 0, sizeof(buf));
	buf[0] = ipver;
	for (i = 0; i < nbits; i++) {
		int byte = i / 8, bit = 7 - i % 8;
		uint8_t abit = (a[byte] >> bit) & 1;
		uint8_t pad;

		buf[1] = (uint8_t)i;
		pad = (uint8_t)(siphash24(pv->key, buf, sizeof(buf)) & 1);
		out[byte] |= (uint8_t)((abit ^ pad) << bit);
		/* extend the prefix by this bit for the next round */
		buf[2 + byte] |= (uint8_t)(abit << bit);
	}
}

/* Feistel round function: a keyed PRF of the half, round and family. */
static uint64_t
feistel_f(const struct privacy *pv, uint8_t ipver, int round, uint64_t half)
{
	uint8_t buf[10];
	int i;

	buf[0] = (uint8_t)(0x80 | ipver);
	buf[1] = (uint8_t)round;
	for (i = 0; i < 8; i++)
		buf[2 + i] = (uint8_t)(half >> (8 * i));
	return siphash24(pv->key, buf, sizeof(buf));
}

static uint64_t
be_get(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void
be_put(uint8_t *p, int n, uint64_t v)
{
	int i;

	for (i = n - 1; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* A keyed permutation: 4 Feistel rounds over the two halves. */
static void
hash_pseudonym(const struct privacy *pv, uint8_t ipver, const uint8_t *a,
    uint8_t *out)
{
	int half = ipver == 4 ? 2 : 8, r;
	uint64_t mask = half == 8 ? ~0ULL : 0xffffULL;
	uint64_t l = be_get(a, half), rr = be_get(a + half, half), t;

	for (r = 0; r < 4; r++) {
		t = l ^ (feistel_f(pv, ipver, r, rr) & mask);
		l = rr;
		rr = t;
	}
	memset(out, 0, 16);
	be_put(out, half, l);
	be_put(out + half, half, rr);
}

static uint64_t
addr_hash(uint8_t ipver, const uint8_t *a)
{
	uint64_t h = 1469598103934665603ULL;
	int i, n = ipver == 4 ? 4 : 16;

	for (i = 0; i < n; i++)
		h = (h ^ a[i]) * 1099511628211ULL;
	return h ^ (h >> 29);
}

static struct priv_cache *
cache_slot(const struct privacy *pv, uint8_t ipver, const uint8_t *a)
{
	return &pv->cache[addr_hash(ipver, a) & (PRIV_CACHE - 1)];
}

/*
 * The text of an address, exactly as inet_ntop writes it.  Every flow
 * row has two, and libc's inet_ntop (a printf per part) was a tenth of
 * a replay: IPv4 is written here, IPv6 goes through a cache of
 * inet_ntop's own text, since its zero-run and embedded-IPv4 rules are
 * libc's to define.
 */
static const char *
addr_text(struct privacy *pv, uint8_t ipver, const uint8_t *a, char *buf,
    size_t len)
{
	struct text_cache *t;
	char *p = buf;
	int i, v;

	if (ipver == 4) {
		if (len < INET_ADDRSTRLEN)
			return "?";
		for (i = 0; i < 4; i++) {
			v = a[i];
			if (v >= 100)
				*p++ = (char)('0' + v / 100);
			if (v >= 10)
				*p++ = (char)('0' + v / 10 % 10);
			*p++ = (char)('0' + v % 10);
			*p++ = i < 3 ? '.' : '\0';
		}
		return buf;
	}
	t = &pv->text6[addr_hash(ipver, a) & (TEXT_CACHE - 1)];
	if (t->text[0] == '\0' || memcmp(t->addr, a, 16) != 0) {
		if (inet_ntop(AF_INET6, a, t->text, sizeof(t->text)) == NULL) {
			t->text[0] = '\0';
			return "?";
		}
		memcpy(t->addr, a, 16);
	}
	if (strlen(t->text) >= len)
		return "?";
	memcpy(buf, t->text, strlen(t->text) + 1);
	return buf;
}

/*
 * The text written for an address under the policy.  Returns buf, or
 * "?" for an address family flowd does not know.
 */
const char *
privacy_addr(struct privacy *pv, uint8_t ipver, const uint8_t *a, char *buf,
    size_t len)
{
	uint8_t out[16];
	struct priv_cache *c;

	if (ipver != 4 && ipver != 6)
		return "?";
	switch (pv->policy) {
	case PRIV_PREFIX:
	case PRIV_HASH:
		c = cache_slot(pv, ipver, a);
		if (c->ipver == ipver && memcmp(c->addr, a, 16) == 0) {
			memcpy(out, c->out, 16);
			break;
		}
		if (pv->policy == PRIV_PREFIX)
			prefix_pseudonym(pv, ipver, a, out);
		else
			hash_pseudonym(pv, ipver, a, out);
		c->ipver = ipver;
		memcpy(c->addr, a, 16);
		memcpy(c->out, out, 16);
		break;
	case PRIV_TRUNCATE:
		memset(out, 0, 16);
		memcpy(out, a, ipver == 4 ? 3 : 6);
		break;
	default:
		memcpy(out, a, 16);
		break;
	}
	return addr_text(pv, ipver, out, buf, len);
}

/*
 * Read the 128-bit key: 32 hex digits (a newline may follow).  With
 * create set, a missing file gets a fresh random key, mode 0600: the
 * key per installation.  A study hands out its own file instead.
 */
int
privacy_load_key(const char *path, int create, uint8_t *key, char *err,
    size_t errlen)
{
	char buf[80], hex[33];
	ssize_t n;
	int fd, i;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT || !create) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		if (getrandom(key, PRIV_KEYLEN, 0) != PRIV_KEYLEN) {
			snprintf(err, errlen, "getrandom: %s",
			    strerror(errno));
			return -1;
		}
		for (i = 0; i < PRIV_KEYLEN; i++)
			snprintf(hex + 2 * i, 3, "%02x", key[i]);
		hex[32] = '\n';
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd == -1 || write(fd, hex, 33) != 33 || fsync(fd) == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			if (fd != -1)
				close(fd);
			return -1;
		}
		close(fd);
		return 0;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 32) {
		snprintf(err, errlen, "%s: key must be 32 hex digits", path);
		return -1;
	}
	for (i = 0; i < PRIV_KEYLEN; i++) {
		int hi = hex_digit(buf[2 * i]), lo = hex_digit(buf[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			snprintf(err, errlen, "%s: key must be 32 hex digits",
			    path);
			return -1;
		}
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	if (n > 32 && buf[32] != '\n' && buf[32] != '\r') {
		snprintf(err, errlen, "%s: key must be 32 hex digits", path);
		return -1;
	}
	return 0;
}
