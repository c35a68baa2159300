/*
 * mpack.c: the bounds-checked msgpack reader under every VBS decoder.
 * Linked by every process; it reads bytes that came from another process
 * or from a file, so it trusts nothing: each getter checks the type byte
 * and that the whole value lies inside the buffer before reading it, and
 * a failure leaves an error naming the offset and the field.  The
 * encoder side is msgpack-c (msg.c); reading is ours so that a rejection
 * can say exactly where, and so that no allocation happens per value.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

int
mp_fail(struct mp_cur *c, const char *fmt, ...)
{
	char	msg[160];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->err != NULL && c->errlen > 0)
		snprintf(c->err, c->errlen, "offset %zu: %s%s%s", c->off,
		    c->field ? "field '" : "", c->field ? c->field : "",
		    c->field ? "': " : "");
	if (c->err != NULL && c->errlen > 0) {
		size_t n = strlen(c->err);
		snprintf(c->err + n, c->errlen - n, "%s", msg);
	}
	return -1;
}

const char *
mp_type_name(uint8_t b)
{
	if (b <= 0x7f || b == 0xcc || b == 0xcd || b == 0xce || b == 0xcf)
		return "uint";
	if (b >= 0xe0 || (b >= 0xd0 && b <= 0xd3))
		return "int";
	if ((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf)
		return "map";
	if ((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd)
		return "array";
	if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb))
		return "str";
	if (b >= 0xc4 && b <= 0xc6)
		return "bin";
	if (b == 0xc0)
		return "nil";
	if (b == 0xc2 || b == 0xc3)
		return "bool";
	if (b == 0xca || b == 0xcb)
		return "float";
	if ((b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8))
		return "ext";
	return "invalid";
}

/* Is there n more bytes after the current offset? */
static int
have(const struct mp_cur *c, size_t n)
{
	return c->off <= c->len && c->len - c->off >= n;
}

/*
 * Read an n-byte (1, 2, 4 or 8) big-endian number at off+1, after the
 * type byte.  One case per size, which the compiler makes one load and
 * a byte swap, where a loop went byte by byte.
 */
static uint64_t
be(const struct mp_cur *c, size_t n)
{
	const uint8_t	*p = c->p + c->off + 1;

	switch (n) {
	case 1:
		return p[0];
	case 2:
		return (uint64_t)p[0] << 8 | p[1];
	case 4:
		return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 |
		    (uint64_t)p[2] << 8 | p[3];
	default:
		return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 |
		    (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
		    (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
		    (uint64_t)p[6] << 8 | p[7];
	}
}

static int
type_byte(struct mp_cur *c, uint8_t *b)
{
	if (!have(c, 1))
		return mp_fail(c, "truncated: no value");
	*b = c->p[c->off];
	return 0;
}

/* Consume a header of 1+n bytes, after checking they are there. */
static int
take(struct mp_cur *c, size_t n, const char *what)
{
	if (!have(c, 1 + n))
		return mp_fail(c, "truncated %s", what);
	return 0;
}

static int
container(struct mp_cur *c, uint32_t *n, int map)
{
	uint8_t	b = 0;
	uint8_t	fix = map ? 0x80 : 0x90;
	uint8_t	t16 = map ? 0xde : 0xdc;
	size_t	hl;

	if (type_byte(c, &b) == -1)
		return -1;
	if ((b & 0xf0) == fix) {
		*n = b & 0x0f;
		hl = 0;
	} else if (b == t16 || b == t16 + 1) {
		hl = b == t16 ? 2 : 4;
		if (take(c, hl, map ? "map header" : "array header") == -1)
			return -1;
		*n = (uint32_t)be(c, hl);
	} else
		return mp_fail(c, "expected %s, got %s",
		    map ? "map" : "array", mp_type_name(b));
	c->off += 1 + hl;
	/* Each element needs at least one byte: reject absurd counts early. */
	if (*n > c->len - c->off)
		return mp_fail(c, "%s of %u elements in %zu bytes",
		    map ? "map" : "array", *n, c->len - c->off);
	return 0;
}

int
mp_array(struct mp_cur *c, uint32_t *n)
{
	return container(c, n, 0);
}

int
mp_map(struct mp_cur *c, uint32_t *n)
{
	return container(c, n, 1);
}

int
mp_uint(struct mp_cur *c, uint64_t max, uint64_t *v)
{
	uint8_t	b = 0;
	size_t	n;

	if (type_byte(c, &b) == -1)
		return -1;
	if (b <= 0x7f) {
		*v = b;
		n = 0;
	} else if (b >= 0xcc && b <= 0xcf) {
		n = (size_t)1 << (b - 0xcc);
		if (take(c, n, "uint") == -1)
			return -1;
		*v = be(c, n);
	} else
		return mp_fail(c, "expected uint, got %s", mp_type_name(b));
	if (*v > max)
		return mp_fail(c, "%llu out of range (max %llu)",
		    (unsigned long long)*v, (unsigned long long)max);
	c->off += 1 + n;
	return 0;
}

int
mp_int(struct mp_cur *c, int64_t min, int64_t max, int64_t *v)
{
	uint8_t		b = 0;
	uint64_t	u;
	size_t		n;

	if (type_byte(c, &b) == -1)
		return -1;
	if (b <= 0x7f || (b >= 0xcc && b <= 0xcf)) {
		size_t start = c->off;

		if (mp_uint(c, (uint64_t)INT64_MAX, &u) == -1)
			return -1;
		*v = (int64_t)u;
		if (*v > max) {
			c->off = start;	/* point at the value again */
			return mp_fail(c, "%lld out of range", (long long)*v);
		}
		return 0;
	}
	if (b >= 0xe0) {
		*v = (int8_t)b;
		n = 0;
	} else if (b >= 0xd0 && b <= 0xd3) {
		n = (size_t)1 << (b - 0xd0);
		if (take(c, n, "int") == -1)
			return -1;
		u = be(c, n);
		switch (n) {
		case 1: *v = (int8_t)u; break;
		case 2: *v = (int16_t)u; break;
		case 4: *v = (int32_t)u; break;
		default: *v = (int64_t)u; break;
		}
	} else
		return mp_fail(c, "expected int, got %s", mp_type_name(b));
	if (*v < min || *v > max)
		return mp_fail(c, "%lld out of range", (long long)*v);
	c->off += 1 + n;
	return 0;
}

int
mp_bool(struct mp_cur *c, int *v)
{
	uint8_t	b = 0;

	if (type_byte(c, &b) == -1)
		return -1;
	if (b != 0xc2 && b != 0xc3)
		return mp_fail(c, "expected bool, got %s", mp_type_name(b));
	*v = b == 0xc3;
	c->off++;
	return 0;
}

int
mp_is_nil(struct mp_cur *c)
{
	if (have(c, 1) && c->p[c->off] == 0xc0) {
		c->off++;
		return 1;
	}
	return 0;
}

/* Raw bytes of a str or bin, by type family. */
static int
raw(struct mp_cur *c, int want_str, const uint8_t **p, uint32_t *len)
{
	uint8_t	b = 0;
	size_t	hl;

	if (type_byte(c, &b) == -1)
		return -1;
	if (want_str && b >= 0xa0 && b <= 0xbf) {
		*len = b & 0x1f;
		hl = 0;
	} else if (want_str && b >= 0xd9 && b <= 0xdb) {
		hl = (size_t)1 << (b - 0xd9);
		if (take(c, hl, "str header") == -1)
			return -1;
		*len = (uint32_t)be(c, hl);
	} else if (!want_str && b >= 0xc4 && b <= 0xc6) {
		hl = (size_t)1 << (b - 0xc4);
		if (take(c, hl, "bin header") == -1)
			return -1;
		*len = (uint32_t)be(c, hl);
	} else
		return mp_fail(c, "expected %s, got %s",
		    want_str ? "str" : "bin", mp_type_name(b));
	if (!have(c, 1 + hl + *len))
		return mp_fail(c, "truncated %s of %u bytes",
		    want_str ? "str" : "bin", *len);
	*p = c->p + c->off + 1 + hl;
	c->off += 1 + hl + *len;
	return 0;
}

/*
 * A string into a NUL-terminated buffer of size cap.  Longer strings and
 * strings with a NUL inside are refused, never cut.
 */
int
mp_str(struct mp_cur *c, char *dst, size_t cap)
{
	const uint8_t	*p;
	uint32_t	 len;
	size_t		 start = c->off;

	if (raw(c, 1, &p, &len) == -1)
		return -1;
	if (len >= cap || memchr(p, '\0', len) != NULL) {
		c->off = start;
		return mp_fail(c, len >= cap ?
		    "string of %u bytes, limit %zu" :
		    "string of %u bytes with a NUL inside%.0zu", len, cap - 1);
	}
	memcpy(dst, p, len);
	dst[len] = '\0';
	return 0;
}

int
mp_bin(struct mp_cur *c, const uint8_t **p, uint32_t *len)
{
	return raw(c, 0, p, len);
}
