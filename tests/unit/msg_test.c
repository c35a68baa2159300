/*
 * msg_test.c: the message codec of proto/msg.c and proto/mpack.c.  Every
 * message type goes through encode and decode unchanged; every class of
 * bad input (wrong type, missing or extra field, out of range, oversize,
 * truncated, unknown version or type, garbage) is refused with an error
 * that names what was wrong and where.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "proto.h"

static struct msg_builder	b;

static int
setup(void **state)
{
	(void)state;
	return msg_init(&b);
}

static int
teardown(void **state)
{
	(void)state;
	msg_free(&b);
	return 0;
}

static void
fill_sock(struct sock_rec *s)
{
	memset(s, 0, sizeof(*s));
	s->ts_us = 1700000000123456ULL;
	s->inode = 987654321;
	s->cookie = 0x1122334455667788ULL;
	s->uid = 1000;
	s->pid = 4242;
	s->lport = 51000;
	s->rport = 443;
	s->event = SOCK_CLOSE;
	s->source = SRC_DESTROY;
	s->ipver = 6;
	s->proto = 6;
	s->state = 7;
	s->laddr[0] = 0xfd;
	s->laddr[15] = 1;
	s->raddr[0] = 0xfd;
	s->raddr[15] = 2;
	strcpy(s->comm, "curl");
	strcpy(s->exe, "/usr/bin/curl");
}

/* Encode one record, decode it, compare field by field. */
static void
roundtrip(const struct vbs_rec *in, size_t cmplen)
{
	struct msg_reader	 m;
	struct vbs_rec		*out = calloc(1, sizeof(*out));

	assert_non_null(out);
	assert_int_equal(msg_encode1(&b, in), 0);
	assert_int_equal(msg_open(&m, b.buf, b.len), 0);
	assert_int_equal(m.type, in->type);
	assert_int_equal(m.nrec, 1);
	assert_int_equal(msg_next(&m, out), 1);
	assert_int_equal(out->type, in->type);
	assert_memory_equal(&out->u, &in->u, cmplen);
	assert_int_equal(msg_next(&m, out), 0);
	free(out);
}

static void
test_hello(void **state)
{
	struct vbs_rec	*r = calloc(1, sizeof(*r));

	(void)state;
	r->type = MSG_HELLO;
	host_facts(&r->u.hello, "capd");
	r->u.hello.nifaces = 2;
	strcpy(r->u.hello.ifaces[0], "eth0");
	strcpy(r->u.hello.ifaces[1], "any");
	r->u.hello.nnets = 2;
	assert_int_equal(prefix_parse("198.18.0.0/15", &r->u.hello.nets[0]), 0);
	assert_int_equal(prefix_parse("fd00::/8", &r->u.hello.nets[1]), 0);
	roundtrip(r, sizeof(r->u.hello));
	free(r);
}

static void
test_packets(void **state)
{
	struct vbs_rec		 r, out;
	struct msg_reader	 m;
	int			 i;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.type = MSG_PACKETS;
	msg_start(&b, MSG_PACKETS);
	for (i = 0; i < 100; i++) {
		r.u.pkt.ts_us = 1700000000000000ULL + (uint64_t)i;
		r.u.pkt.iface = (uint32_t)(i % 3);
		r.u.pkt.dir = (uint8_t)(i % 3);
		r.u.pkt.ipver = i % 2 ? 6 : 4;
		r.u.pkt.proto = i % 2 ? 17 : 6;
		memset(r.u.pkt.src, 0, 16);
		memset(r.u.pkt.dst, 0, 16);
		r.u.pkt.src[0] = 198;
		r.u.pkt.src[3] = (uint8_t)i;
		r.u.pkt.dst[0] = 198;
		r.u.pkt.dst[1] = 18;
		if (r.u.pkt.ipver == 6)
			r.u.pkt.src[15] = 9;
		r.u.pkt.sport = (uint16_t)(1024 + i);
		r.u.pkt.dport = 65535;
		r.u.pkt.iplen = i == 7 ? 100000 : (uint32_t)(40 + i);
		r.u.pkt.tcpflags = (uint8_t)(0xff - i);
		r.u.pkt.frag = (uint8_t)(i % 8);
		r.u.pkt.fragid = (uint32_t)i * 77777u;
		assert_int_equal(msg_add(&b, &r), 0);
	}
	msg_finish(&b);
	assert_int_equal(msg_open(&m, b.buf, b.len), 0);
	assert_int_equal(m.nrec, 100);
	for (i = 0; i < 100; i++) {
		assert_int_equal(msg_next(&m, &out), 1);
		assert_int_equal(out.u.pkt.ts_us, 1700000000000000ULL + (uint64_t)i);
		assert_int_equal(out.u.pkt.sport, 1024 + i);
		assert_int_equal(out.u.pkt.frag, i % 8);
		assert_int_equal(out.u.pkt.iplen, i == 7 ? 100000 : 40 + i);
		assert_int_equal(out.u.pkt.src[3], i);
	}
	assert_int_equal(msg_next(&m, &out), 0);
}

/* The record as msgpack-c's packer writes it: the bytes add_pkt() must give. */
static void
oracle_pkt(msgpack_sbuffer *sb, const struct pkt_rec *p)
{
	msgpack_packer	pk;
	size_t		n = p->ipver == 6 ? 16 : 4;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 13);
	msgpack_pack_uint64(&pk, p->ts_us);
	msgpack_pack_uint32(&pk, p->iface);
	msgpack_pack_uint8(&pk, p->dir);
	msgpack_pack_uint8(&pk, p->ipver);
	msgpack_pack_uint8(&pk, p->proto);
	msgpack_pack_bin(&pk, n);
	msgpack_pack_bin_body(&pk, p->src, n);
	msgpack_pack_uint16(&pk, p->sport);
	msgpack_pack_bin(&pk, n);
	msgpack_pack_bin_body(&pk, p->dst, n);
	msgpack_pack_uint16(&pk, p->dport);
	msgpack_pack_uint32(&pk, p->iplen);
	msgpack_pack_uint8(&pk, p->tcpflags);
	msgpack_pack_uint8(&pk, p->frag);
	msgpack_pack_uint32(&pk, p->fragid);
}

/* A value near one of msgpack's size boundaries, or any value. */
static uint64_t
edge(uint64_t *x)
{
	static const uint64_t e[] = { 0, 1, 127, 128, 255, 256, 65535, 65536,
	    UINT32_MAX, (uint64_t)UINT32_MAX + 1, UINT64_MAX };

	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x % 3 == 0 ? *x >> 3 : e[(*x >> 8) % (sizeof(e) / sizeof(e[0]))];
}

/*
 * Packets records are encoded without msgpack-c (capd's hot path):
 * byte for byte what msgpack-c writes, at every integer size boundary.
 */
static void
test_packets_bytes(void **state)
{
	struct vbs_rec	 r;
	msgpack_sbuffer	 sb;
	uint64_t	 x = 0x9e3779b97f4a7c15ULL;
	size_t		 before;
	int		 i, j;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.type = MSG_PACKETS;
	msg_start(&b, MSG_PACKETS);
	for (i = 0; i < 20000; i++) {
		struct pkt_rec *p = &r.u.pkt;

		if (!msg_would_fit(&b, 96))
			msg_start(&b, MSG_PACKETS);
		p->ts_us = edge(&x);
		p->iface = (uint32_t)edge(&x);
		p->dir = (uint8_t)edge(&x);
		p->ipver = i % 2 ? 6 : 4;
		p->proto = (uint8_t)edge(&x);
		p->sport = (uint16_t)edge(&x);
		p->dport = (uint16_t)edge(&x);
		p->iplen = (uint32_t)edge(&x);
		p->tcpflags = (uint8_t)edge(&x);
		p->frag = (uint8_t)edge(&x);
		p->fragid = (uint32_t)edge(&x);
		for (j = 0; j < 16; j++) {
			p->src[j] = (uint8_t)edge(&x);
			p->dst[j] = (uint8_t)edge(&x);
		}
		msgpack_sbuffer_init(&sb);
		oracle_pkt(&sb, p);
		before = b.len;
		assert_int_equal(msg_add(&b, &r), 0);
		assert_int_equal(b.len - before, sb.size);
		assert_memory_equal(b.buf + before, sb.data, sb.size);
		msgpack_sbuffer_destroy(&sb);
	}
}

static void
test_sockets_lookup_answer(void **state)
{
	struct vbs_rec	*r = calloc(1, sizeof(*r));

	(void)state;
	r->type = MSG_SOCKETS;
	fill_sock(&r->u.sock);
	roundtrip(r, sizeof(r->u.sock));

	memset(r, 0, sizeof(*r));
	r->type = MSG_LOOKUP;
	r->u.lookup.ts_us = 5;
	r->u.lookup.id = 77;
	r->u.lookup.ipver = 4;
	r->u.lookup.proto = 17;
	r->u.lookup.laddr[0] = 198;
	r->u.lookup.lport = 53;
	roundtrip(r, sizeof(r->u.lookup));

	memset(r, 0, sizeof(*r));
	r->type = MSG_ANSWER;
	r->u.answer.ts_us = 6;
	r->u.answer.id = 77;
	r->u.answer.latency_us = 31;
	r->u.answer.found = 1;
	fill_sock(&r->u.answer.sock);
	r->u.answer.sock.source = SRC_LOOKUP;
	roundtrip(r, sizeof(r->u.answer));

	memset(r, 0, sizeof(*r));
	r->type = MSG_ANSWER;
	r->u.answer.id = 78;
	roundtrip(r, sizeof(r->u.answer));
	free(r);
}

static void
test_stats_bye(void **state)
{
	struct vbs_rec	*r = calloc(1, sizeof(*r));
	int		 i;

	(void)state;
	r->type = MSG_STATS;
	r->u.stats.ts_us = 99;
	r->u.stats.ncounters = VBS_MAX_COUNTERS;
	for (i = 0; i < VBS_MAX_COUNTERS; i++) {
		snprintf(r->u.stats.counters[i].name, VBS_NAME_MAX, "c%d", i);
		r->u.stats.counters[i].value = (uint64_t)i << 40;
	}
	roundtrip(r, sizeof(r->u.stats));

	memset(r, 0, sizeof(*r));
	r->type = MSG_BYE;
	r->u.bye.ts_us = 100;
	strcpy(r->u.bye.reason, "SIGTERM");
	roundtrip(r, sizeof(r->u.bye));
	free(r);
}

/* Builders of hand-made bad messages. */
static msgpack_sbuffer	sb;
static msgpack_packer	pk;

static void
bad_start(uint32_t n, int type)
{
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, n);
	msgpack_pack_int(&pk, type);
}

/* Fill a record's remaining fields with nils. */
static void
pad(int n)
{
	while (n-- > 0)
		msgpack_pack_nil(&pk);
}

static void
pack_s(const char *s)
{
	msgpack_pack_str(&pk, strlen(s));
	msgpack_pack_str_body(&pk, s, strlen(s));
}

/* Decode sb; expect a failure whose text contains want. */
static void
expect_error(const char *want)
{
	struct msg_reader	 m;
	struct vbs_rec		*r = malloc(sizeof(*r));
	int			 rc;

	assert_non_null(r);
	if ((rc = msg_open(&m, sb.data, sb.size)) == 0)
		while ((rc = msg_next(&m, r)) == 1)
			;
	assert_int_equal(rc, -1);
	if (strstr(m.err, want) == NULL)
		fail_msg("error '%s' does not contain '%s'", m.err, want);
	msgpack_sbuffer_destroy(&sb);
	free(r);
}

/* A good packet record with field i replaced by a string. */
static void
pkt_fields(int nfields, int bad_field)
{
	static const uint8_t	a4[4] = { 198, 18, 0, 1 };
	int			i;

	msgpack_pack_array(&pk, (size_t)nfields);
	for (i = 0; i < nfields; i++) {
		if (i == bad_field) {
			pack_s("x");
			continue;
		}
		switch (i) {
		case 3:		/* ipver */
			msgpack_pack_int(&pk, 4);
			break;
		case 5: case 7:	/* addresses */
			msgpack_pack_bin(&pk, 4);
			msgpack_pack_bin_body(&pk, a4, 4);
			break;
		default:
			msgpack_pack_int(&pk, 1);
		}
	}
}

static void
test_wrong_type(void **state)
{
	(void)state;
	bad_start(2, MSG_PACKETS);
	pkt_fields(13, 6);
	expect_error("record 0: offset 14: field 'sport': expected uint, got str");

	bad_start(2, MSG_PACKETS);
	pkt_fields(13, 5);
	expect_error("field 'src': expected bin, got str");

	/* The envelope itself is not an array. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 0);
	expect_error("message envelope: offset 0: expected array, got map");
}

static void
test_missing_extra_field(void **state)
{
	(void)state;
	bad_start(2, MSG_PACKETS);
	pkt_fields(12, -1);
	expect_error("record has 12 fields, want 13");
	bad_start(2, MSG_PACKETS);
	pkt_fields(14, -1);
	expect_error("record has 14 fields, want 13");
	/* The second record is the bad one: the error says which. */
	bad_start(3, MSG_PACKETS);
	pkt_fields(13, -1);
	pkt_fields(12, -1);
	expect_error("packets message: record 1:");
}

static void
test_range(void **state)
{
	struct vbs_rec	r;

	(void)state;
	/* ipver 5, port 70000, bad address length, unknown event. */
	bad_start(2, MSG_PACKETS);
	msgpack_pack_array(&pk, 13);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_int(&pk, 0);
	msgpack_pack_int(&pk, 0);
	msgpack_pack_int(&pk, 5);
	pad(9);
	expect_error("IP version 5");

	memset(&r, 0, sizeof(r));
	r.type = MSG_PACKETS;
	r.u.pkt.ipver = 4;
	msg_encode1(&b, &r);
	/* Patch dport (uint16 encoded as fixint 0) is hard: build by hand. */
	bad_start(2, MSG_PACKETS);
	msgpack_pack_array(&pk, 13);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_int(&pk, 0);
	msgpack_pack_int(&pk, 0);
	msgpack_pack_int(&pk, 4);
	msgpack_pack_int(&pk, 6);
	msgpack_pack_bin(&pk, 4);
	msgpack_pack_bin_body(&pk, "abcd", 4);
	msgpack_pack_int(&pk, 70000);
	pad(6);
	expect_error("field 'sport': 70000 out of range (max 65535)");

	bad_start(2, MSG_PACKETS);
	msgpack_pack_array(&pk, 13);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_int(&pk, 0);
	msgpack_pack_int(&pk, 0);
	msgpack_pack_int(&pk, 6);
	msgpack_pack_int(&pk, 6);
	msgpack_pack_bin(&pk, 4);
	msgpack_pack_bin_body(&pk, "abcd", 4);
	pad(7);
	expect_error("field 'src': address of 4 bytes for IPv6");

	bad_start(2, MSG_SOCKETS);
	msgpack_pack_array(&pk, 16);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_int(&pk, 9);
	pad(14);
	expect_error("unknown socket event 9");

	bad_start(2, MSG_PACKETS);
	msgpack_pack_array(&pk, 13);
	msgpack_pack_int(&pk, -1);
	pad(12);
	expect_error("field 'ts': expected uint, got int");
}

static void
test_oversize(void **state)
{
	struct msg_reader	 m;
	struct vbs_rec		 r;
	uint8_t			*big;
	char			 longname[VBS_EXE_MAX + 10];
	int			 i, n = 0;

	(void)state;
	big = calloc(1, VBS_MSG_MAX + 1);
	assert_int_equal(msg_open(&m, big, VBS_MSG_MAX + 1), -1);
	assert_non_null(strstr(m.err, "limit 65536"));
	free(big);

	/* A string longer than its field is refused, never cut. */
	memset(longname, 'a', sizeof(longname));
	longname[sizeof(longname) - 1] = '\0';
	bad_start(2, MSG_BYE);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int(&pk, 1);
	pack_s(longname);
	expect_error("field 'reason': string of 1033 bytes, limit 255");

	/* Too many counters. */
	bad_start(2, MSG_STATS);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_map(&pk, VBS_MAX_COUNTERS + 1);
	for (i = 0; i <= VBS_MAX_COUNTERS; i++) {
		pack_s("n");
		msgpack_pack_int(&pk, i);
	}
	expect_error("65 counters, limit 64");

	/* The builder stops at VBS_MSG_MAX: msg_add says no, nothing lost. */
	memset(&r, 0, sizeof(r));
	r.type = MSG_PACKETS;
	r.u.pkt.ipver = 6;
	r.u.pkt.ts_us = UINT64_MAX;
	r.u.pkt.iplen = UINT32_MAX;
	msg_start(&b, MSG_PACKETS);
	while (msg_add(&b, &r) == 0)
		n++;
	assert_true(n > 100);
	assert_true(b.len <= VBS_MSG_MAX);
	msg_finish(&b);
	assert_int_equal(msg_open(&m, b.buf, b.len), 0);
	assert_int_equal(m.nrec, (uint32_t)n);
	while ((i = msg_next(&m, &r)) == 1)
		;
	assert_int_equal(i, 0);
}

static void
test_truncated(void **state)
{
	struct vbs_rec		*r = calloc(1, sizeof(*r));
	struct msg_reader	 m;
	struct vbs_rec		*out = malloc(sizeof(*out));
	size_t			 cut;
	int			 rc;

	(void)state;
	r->type = MSG_SOCKETS;
	fill_sock(&r->u.sock);
	assert_int_equal(msg_encode1(&b, r), 0);
	/* Every proper prefix of a good message is refused. */
	for (cut = 0; cut < b.len; cut++) {
		if ((rc = msg_open(&m, b.buf, cut)) == 0)
			while ((rc = msg_next(&m, out)) == 1)
				;
		assert_int_equal(rc, -1);
		assert_true(strstr(m.err, "truncated") != NULL ||
		    strstr(m.err, "elements in") != NULL ||
		    strstr(m.err, "want 2 to") != NULL);
	}
	/* Trailing bytes after the last record are refused too. */
	b.buf[b.len] = 0;
	assert_int_equal(msg_open(&m, b.buf, b.len + 1), 0);
	assert_int_equal(msg_next(&m, out), 1);
	assert_int_equal(msg_next(&m, out), -1);
	assert_non_null(strstr(m.err, "1 bytes after the last record"));
	free(r);
	free(out);
}

static void
test_version_and_type(void **state)
{
	(void)state;
	bad_start(2, MSG_HELLO);
	msgpack_pack_array(&pk, 8);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_int(&pk, 2);
	pad(6);
	expect_error("field 'version': unknown protocol version 2 (this is 1)");

	bad_start(2, 99);
	msgpack_pack_array(&pk, 0);
	expect_error("unknown message type 99");

	bad_start(2, 0);
	msgpack_pack_array(&pk, 0);
	expect_error("unknown message type 0");

	bad_start(3, MSG_HELLO);
	pad(2);
	expect_error("hello with 2 records, want 1");

	bad_start(1, MSG_PACKETS);
	pad(1);
	expect_error("1 elements, want 2 to");
}

static void
test_garbage(void **state)
{
	struct msg_reader	 m;
	struct vbs_rec		*r = malloc(sizeof(*r));
	uint8_t			 buf[512];
	unsigned		 seed = 12345;
	int			 i, k, rc;

	(void)state;
	/* Random bytes never crash the decoder and mostly fail. */
	for (i = 0; i < 20000; i++) {
		size_t len = (size_t)(i % 200) + 1;

		for (k = 0; k < (int)len; k++) {
			seed = seed * 1103515245 + 12345;
			buf[k] = (uint8_t)(seed >> 16);
		}
		if (i % 2)
			buf[0] = 0x93;	/* an array, to go deeper */
		if ((rc = msg_open(&m, buf, len)) == 0)
			while ((rc = msg_next(&m, r)) == 1)
				;
		assert_true(rc == 0 || m.err[0] != '\0');
	}
	/* A NUL inside a string is refused. */
	bad_start(2, MSG_BYE);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_str(&pk, 3);
	msgpack_pack_str_body(&pk, "a\0b", 3);
	expect_error("with a NUL inside");
	free(r);
}

static void
test_peek_ts(void **state)
{
	struct vbs_rec	r;
	uint64_t	ts;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.type = MSG_BYE;
	r.u.bye.ts_us = 1234567890123ULL;
	assert_int_equal(msg_encode1(&b, &r), 0);
	assert_int_equal(msg_peek_ts(b.buf, b.len, &ts), 0);
	assert_int_equal(ts, 1234567890123ULL);
	assert_int_equal(msg_peek_ts(b.buf, 3, &ts), -1);
}

static void
test_prefix(void **state)
{
	struct local_net	n;
	uint8_t			a[16], v;

	(void)state;
	assert_int_equal(prefix_parse("198.18.7.9/15", &n), 0);
	assert_int_equal(n.prefixlen, 15);
	assert_int_equal(addr_pton("198.19.255.1", a, &v), 0);
	assert_true(prefix_match(&n, v, a));
	assert_int_equal(addr_pton("198.20.0.1", a, &v), 0);
	assert_false(prefix_match(&n, v, a));
	assert_int_equal(prefix_parse("fd00::/8", &n), 0);
	assert_int_equal(addr_pton("fd12::1", a, &v), 0);
	assert_true(prefix_match(&n, v, a));
	assert_int_equal(addr_pton("fe80::1", a, &v), 0);
	assert_false(prefix_match(&n, v, a));
	assert_int_equal(prefix_parse("198.18.0.0/33", &n), -1);
	assert_int_equal(prefix_parse("nonsense", &n), -1);
	assert_int_equal(prefix_parse("1.2.3.4/", &n), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_packets),
		cmocka_unit_test(test_packets_bytes),
		cmocka_unit_test(test_sockets_lookup_answer),
		cmocka_unit_test(test_stats_bye),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_missing_extra_field),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_version_and_type),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_peek_ts),
		cmocka_unit_test(test_prefix),
	};

	return cmocka_run_group_tests_name("msg", tests, setup, teardown);
}
