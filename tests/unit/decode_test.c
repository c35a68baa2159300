/*
 * decode_test.c: cmocka tests of capd's decoder (capd/decode.c).  Each
 * test builds a frame byte by byte and checks the record or the reason,
 * and that nothing past the captured length is read (the frame is
 * copied to the end of a guarded heap buffer, so ASan catches a read
 * past it).
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pcap/dlt.h>

#include "../../capd/capd.h"

static struct decoder dec;

/* A frame under construction. */
struct frame {
	uint8_t		b[2048];
	uint32_t	len;
};

static void
put(struct frame *f, const void *p, uint32_t n)
{
	assert_true(f->len + n <= sizeof(f->b));
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void
put8(struct frame *f, uint8_t v)
{
	put(f, &v, 1);
}

static void
put16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(f, b, 2);
}

static void
put32(struct frame *f, uint32_t v)
{
	put16(f, (uint16_t)(v >> 16));
	put16(f, (uint16_t)v);
}

static void
eth(struct frame *f, uint16_t type)
{
	static const uint8_t mac[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };

	put(f, mac, sizeof(mac));
	put16(f, type);
}

/* IPv4 header 192.0.2.1 -> 198.51.100.7; optlen a multiple of 4. */
static void
ip4(struct frame *f, uint8_t proto, uint16_t tot, uint16_t id,
    uint16_t frag, uint8_t optlen)
{
	static const uint8_t a[8] = { 192, 0, 2, 1, 198, 51, 100, 7 };
	uint8_t z[40] = { 0 };

	put8(f, (uint8_t)(0x45 + optlen / 4));
	put8(f, 0);
	put16(f, tot);
	put16(f, id);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put(f, a, 8);
	put(f, z, optlen);
}

static void
ip6(struct frame *f, uint8_t nh, uint16_t plen)
{
	uint8_t a[32] = { 0x20, 0x01, 0x0d, 0xb8 };

	a[15] = 1;
	a[16] = 0x20;
	a[17] = 0x01;
	a[18] = 0x0d;
	a[19] = 0xb8;
	a[31] = 7;
	put32(f, 6u << 28);
	put16(f, plen);
	put8(f, nh);
	put8(f, 64);
	put(f, a, 32);
}

static void
tcp(struct frame *f, uint16_t sport, uint16_t dport, uint8_t flags)
{
	put16(f, sport);
	put16(f, dport);
	put32(f, 1);
	put32(f, 2);
	put8(f, 5 << 4);
	put8(f, flags);
	put16(f, 65535);
	put32(f, 0);
}

static void
udp(struct frame *f, uint16_t sport, uint16_t dport, uint16_t len)
{
	put16(f, sport);
	put16(f, dport);
	put16(f, len);
	put16(f, 0);
}

/*
 * Decode f cut to caplen, from a buffer that ends right there, as a
 * frame of wirelen bytes on the wire.
 */
static int
run_wire(int dlt, const struct frame *f, uint32_t caplen, uint32_t wirelen,
    struct pkt_rec *r)
{
	uint8_t *copy;
	int rc;

	if (caplen > f->len)
		caplen = f->len;
	copy = malloc(caplen ? caplen : 1);
	assert_non_null(copy);
	memcpy(copy, f->b, caplen);
	memset(r, 0xa5, sizeof(*r));
	r->ts_us = 1000000;
	r->iface = 0;
	rc = decode_packet(&dec, dlt, copy, caplen, wirelen, r);
	free(copy);
	return rc;
}

/* The same, f being the whole frame that was on the wire. */
static int
run(int dlt, const struct frame *f, uint32_t caplen, struct pkt_rec *r)
{
	return run_wire(dlt, f, caplen, f->len, r);
}

static int
setup(void **state)
{
	(void)state;
	decode_init(&dec);
	return 0;
}

static void
test_eth_tcp4(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;
	static const uint8_t src[16] = { 192, 0, 2, 1 };

	(void)state;
	eth(&f, 0x0800);
	ip4(&f, 6, 40, 7, 0, 0);
	tcp(&f, 40000, 80, 0x12);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.ipver, 4);
	assert_int_equal(r.proto, 6);
	assert_int_equal(r.iplen, 40);
	assert_int_equal(r.sport, 40000);
	assert_int_equal(r.dport, 80);
	assert_int_equal(r.tcpflags, 0x12);
	assert_int_equal(r.fragid, 7);
	assert_int_equal(r.frag, 0);
	assert_int_equal(r.dir, DIR_UNKNOWN);
	assert_memory_equal(r.src, src, 16);
	assert_int_equal(r.dst[0], 198);
}

static void
test_eth_udp6(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;
	static const uint8_t zero[12];

	(void)state;
	eth(&f, 0x86dd);
	ip6(&f, 17, 20);
	udp(&f, 53, 50000, 20);
	put(&f, zero, 12);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.ipver, 6);
	assert_int_equal(r.proto, 17);
	assert_int_equal(r.iplen, 60);
	assert_int_equal(r.sport, 53);
	assert_int_equal(r.dport, 50000);
	assert_int_equal(r.src[0], 0x20);
	assert_int_equal(r.dst[31 - 16], 7);
}

/* IP length from the header, not the captured length. */
static void
test_iplen_beyond_caplen(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;

	(void)state;
	eth(&f, 0x0800);
	ip4(&f, 6, 1500, 1, 0, 0);
	tcp(&f, 1, 2, 0x10);
	assert_int_equal(run_wire(DLT_EN10MB, &f, f.len, 14 + 1500, &r),
	    DEC_OK);
	assert_int_equal(r.iplen, 1500);
	f.len = 0;
	eth(&f, 0x86dd);
	ip6(&f, 6, 1460);
	tcp(&f, 1, 2, 0x10);
	assert_int_equal(run_wire(DLT_EN10MB, &f, f.len, 14 + 1500, &r),
	    DEC_OK);
	assert_int_equal(r.iplen, 1500);
}

/*
 * On live capture, a header that claims more than the frame held (the
 * kernel drops such a packet) counts what was on the wire, or a sender
 * could swell any flow's byte counts with small frames.  Ethernet's
 * padding of a short packet is not counted.  From a file, whose record
 * lengths a cutting tool may have written, the header is believed.
 */
static void
test_iplen_beyond_frame(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;

	(void)state;
	eth(&f, 0x0800);
	ip4(&f, 6, 65535, 1, 0, 0);
	tcp(&f, 1, 2, 0x10);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.iplen, 65535);
	dec.wire_true = 1;
	f.len = 0;
	eth(&f, 0x0800);
	ip4(&f, 6, 65535, 1, 0, 0);
	tcp(&f, 1, 2, 0x10);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.iplen, 40);
	f.len = 0;
	eth(&f, 0x86dd);
	ip6(&f, 17, 65535);
	udp(&f, 1, 2, 8);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.iplen, 48);
	f.len = 0;
	eth(&f, 0x0800);
	ip4(&f, 17, 28, 1, 0, 0);
	udp(&f, 1, 2, 8);
	assert_int_equal(run_wire(DLT_EN10MB, &f, f.len, 60, &r), DEC_OK);
	assert_int_equal(r.iplen, 28);
	dec.wire_true = 0;
}

static void
test_vlan_qinq(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;

	(void)state;
	eth(&f, 0x88a8);
	put16(&f, 100);
	put16(&f, 0x8100);
	put16(&f, 10);
	put16(&f, 0x0800);
	ip4(&f, 17, 28, 1, 0, 0);
	udp(&f, 5000, 6000, 8);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.sport, 5000);
	/* cut inside the second tag */
	assert_int_equal(run(DLT_EN10MB, &f, 19, &r), DEC_LINK_TRUNCATED);
}

static void
test_vlan_too_deep(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;
	int i;

	(void)state;
	eth(&f, 0x8100);
	for (i = 0; i < DEC_MAX_TAGS + 1; i++) {
		put16(&f, 1);
		put16(&f, 0x8100);
	}
	put16(&f, 1);
	put16(&f, 0x0800);
	ip4(&f, 6, 40, 1, 0, 0);
	tcp(&f, 1, 2, 2);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_VLAN_DEPTH);
}

static void
test_pppoe(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;

	(void)state;
	eth(&f, 0x8864);
	put8(&f, 0x11);
	put8(&f, 0);
	put16(&f, 0x2d);
	put16(&f, 42);
	put8(&f, 0x21);			/* compressed PPP protocol */
	ip4(&f, 6, 40, 1, 0, 0);
	tcp(&f, 1234, 80, 0x02);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.sport, 1234);
	f.len = 0;
	eth(&f, 0x8863);		/* discovery */
	put32(&f, 0x11090000);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_NOT_IP);
}

static void
test_sll_sll2(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;

	(void)state;
	put16(&f, 4);
	put16(&f, 1);
	put16(&f, 6);
	put32(&f, 0);
	put32(&f, 0);
	put16(&f, 0x0800);
	ip4(&f, 6, 40, 1, 0, 0);
	tcp(&f, 1, 443, 0x10);
	assert_int_equal(run(DLT_LINUX_SLL, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.dport, 443);
	f.len = 0;
	put16(&f, 0x86dd);
	put16(&f, 0);
	put32(&f, 2);
	put16(&f, 1);
	put8(&f, 0);
	put8(&f, 6);
	put32(&f, 0);
	put32(&f, 0);
	ip6(&f, 6, 20);
	tcp(&f, 1, 443, 0x10);
	assert_int_equal(run(DLT_LINUX_SLL2, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.ipver, 6);
	assert_int_equal(run(DLT_LINUX_SLL2, &f, 19, &r), DEC_LINK_TRUNCATED);
}

static void
test_raw_and_null(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;

	(void)state;
	ip4(&f, 17, 28, 1, 0, 0);
	udp(&f, 1, 2, 8);
	assert_int_equal(run(DLT_RAW, &f, f.len, &r), DEC_OK);
	assert_int_equal(run(101, &f, f.len, &r), DEC_OK);
	assert_int_equal(run(DLT_IPV4, &f, f.len, &r), DEC_OK);
	assert_int_equal(run(DLT_IPV6, &f, f.len, &r), DEC_IP_VERSION);
	f.len = 0;
	put32(&f, 0x02000000);		/* AF_INET, little-endian */
	ip4(&f, 17, 28, 1, 0, 0);
	udp(&f, 1, 2, 8);
	assert_int_equal(run(DLT_NULL, &f, f.len, &r), DEC_OK);
	f.len = 0;
	put32(&f, 30);			/* AF_INET6 (macOS), big-endian */
	ip6(&f, 17, 8);
	udp(&f, 1, 2, 8);
	assert_int_equal(run(DLT_LOOP, &f, f.len, &r), DEC_OK);
	assert_int_equal(run(DLT_NULL, &f, f.len, &r), DEC_OK);
	assert_int_equal(run(DLT_NULL, &f, 3, &r), DEC_LINK_TRUNCATED);
}

static void
test_ppp(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;

	(void)state;
	put32(&f, 0xff030021);
	ip4(&f, 6, 40, 1, 0, 0);
	tcp(&f, 1, 2, 2);
	assert_int_equal(run(DLT_PPP, &f, f.len, &r), DEC_OK);
	f.len = 0;
	put32(&f, 0x0f000800);		/* Cisco HDLC */
	ip4(&f, 6, 40, 1, 0, 0);
	tcp(&f, 1, 2, 2);
	assert_int_equal(run(DLT_PPP, &f, f.len, &r), DEC_OK);
	assert_int_equal(run(DLT_C_HDLC, &f, f.len, &r), DEC_OK);
	f.len = 0;
	put32(&f, 0xff03c021);		/* LCP */
	assert_int_equal(run(DLT_PPP, &f, f.len, &r), DEC_NOT_IP);
}

static void
test_ipv4_options(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;

	(void)state;
	eth(&f, 0x0800);
	ip4(&f, 6, 60 + 20, 1, 0, 40);
	tcp(&f, 7, 8, 0x02);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.sport, 7);
	assert_int_equal(r.iplen, 80);
	/* options cut by the snap length */
	assert_int_equal(run(DLT_EN10MB, &f, 14 + 40, &r), DEC_IP_TRUNCATED);
}

static void
test_ipv6_ext_chain(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;
	uint8_t hbh[8] = { 60, 0 }, dst[16] = { 43, 1 };
	uint8_t rt[8] = { 51, 0 }, ah[12] = { 6, 1 };

	(void)state;
	eth(&f, 0x86dd);
	ip6(&f, 0, 8 + 16 + 8 + 12 + 20);
	put(&f, hbh, sizeof(hbh));
	put(&f, dst, sizeof(dst));
	put(&f, rt, sizeof(rt));
	put(&f, ah, sizeof(ah));
	tcp(&f, 40004, 443, 0x02);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.proto, 6);
	assert_int_equal(r.sport, 40004);
	assert_int_equal(r.iplen, 40 + 64);
	assert_int_equal(run(DLT_EN10MB, &f, 14 + 40 + 20, &r),
	    DEC_IP6_EXT_TRUNCATED);
}

static void
test_fragments_v4(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;

	(void)state;
	eth(&f, 0x0800);
	ip4(&f, 17, 20 + 16, 0x4242, 0x2000, 0);
	udp(&f, 5353, 40005, 100);
	put32(&f, 0);
	put32(&f, 0);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.frag, FRAG_MORE);
	assert_int_equal(r.sport, 5353);
	f.len = 0;
	eth(&f, 0x0800);
	ip4(&f, 17, 20 + 84, 0x4242, 2, 0);
	put32(&f, 0xdeadbeef);
	assert_int_equal(run_wire(DLT_EN10MB, &f, f.len, 14 + 104, &r),
	    DEC_OK);
	assert_int_equal(r.frag, FRAG_LATER | FRAG_PORTS);
	assert_int_equal(r.sport, 5353);
	assert_int_equal(r.dport, 40005);
	assert_int_equal(r.iplen, 104);
	/* another id: no first seen, no ports */
	f.len = 0;
	eth(&f, 0x0800);
	ip4(&f, 17, 20 + 84, 0x4343, 2, 0);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.frag, FRAG_LATER);
	assert_int_equal(r.sport, 0);
}

static void
test_fragments_v6(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;

	(void)state;
	eth(&f, 0x86dd);
	ip6(&f, 44, 8 + 8);
	put32(&f, (17u << 24) | 1);	/* next UDP, offset 0, M */
	put32(&f, 0xabcdef01);
	udp(&f, 5353, 40006, 500);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.frag, FRAG_MORE);
	assert_int_equal(r.fragid, 0xabcdef01);
	assert_int_equal(r.sport, 5353);
	f.len = 0;
	eth(&f, 0x86dd);
	ip6(&f, 44, 8 + 100);
	put32(&f, (17u << 24) | (75 << 3));
	put32(&f, 0xabcdef01);
	assert_int_equal(run_wire(DLT_EN10MB, &f, f.len, 14 + 148, &r),
	    DEC_OK);
	assert_int_equal(r.frag, FRAG_LATER | FRAG_PORTS);
	assert_int_equal(r.proto, 17);
	assert_int_equal(r.dport, 40006);
	assert_int_equal(r.iplen, 148);
}

/*
 * A destination-options header after the fragment header is part of
 * what is fragmented: a later fragment's header names it (60), not
 * TCP, and must still find its first fragment and take TCP and its
 * ports from there.
 */
static void
test_fragments_v6_ext(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;

	(void)state;
	eth(&f, 0x86dd);
	ip6(&f, 44, 8 + 8 + 20);
	put32(&f, (60u << 24) | 1);	/* next dest. options, offset 0, M */
	put32(&f, 0x5eed);
	put32(&f, 6u << 24);		/* dest. options: next TCP, 8 bytes */
	put32(&f, 0);
	tcp(&f, 443, 40007, 0x10);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.frag, FRAG_MORE);
	assert_int_equal(r.proto, 6);
	assert_int_equal(r.dport, 40007);
	f.len = 0;
	eth(&f, 0x86dd);
	ip6(&f, 44, 8 + 64);
	put32(&f, (60u << 24) | (4 << 3));
	put32(&f, 0x5eed);
	assert_int_equal(run_wire(DLT_EN10MB, &f, f.len, 14 + 40 + 72, &r),
	    DEC_OK);
	assert_int_equal(r.frag, FRAG_LATER | FRAG_PORTS);
	assert_int_equal(r.proto, 6);
	assert_int_equal(r.sport, 443);
	assert_int_equal(r.dport, 40007);
	/* Another datagram's later fragment finds nothing. */
	f.len = 0;
	eth(&f, 0x86dd);
	ip6(&f, 44, 8 + 64);
	put32(&f, (60u << 24) | (4 << 3));
	put32(&f, 0x5eee);
	assert_int_equal(run_wire(DLT_EN10MB, &f, f.len, 14 + 40 + 72, &r),
	    DEC_OK);
	assert_int_equal(r.frag, FRAG_LATER);
	assert_int_equal(r.proto, 60);
}

static void
test_portless(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;

	(void)state;
	eth(&f, 0x0800);
	ip4(&f, 1, 28, 1, 0, 0);
	put32(&f, 0x08000000);
	put32(&f, 0);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.proto, 1);
	assert_int_equal(r.sport, 0);
	assert_int_equal(r.dport, 0);
	assert_int_equal(r.tcpflags, 0);
}

static void
test_not_ip_and_unsupported(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;

	(void)state;
	eth(&f, 0x0806);
	put32(&f, 0);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_NOT_IP);
	assert_int_equal(run(147, &f, f.len, &r), DEC_LINK_UNSUPPORTED);
	assert_false(decode_linktype_ok(147));
	assert_true(decode_linktype_ok(DLT_LINUX_SLL2));
	assert_string_equal(decode_reason_name(DEC_NOT_IP), "not_ip");
	assert_string_equal(decode_reason_name(-1), "unknown");
}

static void
test_malformed(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;

	(void)state;
	eth(&f, 0x0800);
	ip4(&f, 6, 10, 1, 0, 0);		/* total < header */
	tcp(&f, 1, 2, 2);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_IP_LENGTH);
	f.b[14] = 0x43;				/* IHL 3 */
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_IP_HEADER);
	f.b[14] = 0x55;				/* version 5 */
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_IP_VERSION);
	f.b[14] = 0x45;
	f.b[16] = 0;
	f.b[17] = 40;
	f.b[14 + 20 + 12] = 0x20;		/* data offset 2 */
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_TCP_HEADER);
	assert_int_equal(run(DLT_EN10MB, &f, 14 + 20 + 19, &r),
	    DEC_L4_TRUNCATED);
	assert_int_equal(run(DLT_EN10MB, &f, 13, &r), DEC_LINK_TRUNCATED);
	assert_int_equal(run(DLT_EN10MB, &f, 0, &r), DEC_LINK_TRUNCATED);
}

/* Every prefix of a frame decodes without reading past it. */
static void
test_every_prefix(void **state)
{
	struct frame f = { .len = 0 };
	struct pkt_rec r;
	uint32_t n;
	static const int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2,
	    DLT_RAW, DLT_NULL, DLT_PPP, DLT_PPI, DLT_IPV6 };
	size_t i;

	(void)state;
	eth(&f, 0x86dd);
	ip6(&f, 0, 8 + 8 + 20);
	put32(&f, 0x2c000000);			/* hop-by-hop -> fragment */
	put32(&f, 0);
	put32(&f, 0x06000001);
	put32(&f, 9);
	tcp(&f, 1, 2, 2);
	for (i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++)
		for (n = 0; n <= f.len; n++)
			(void)run(dlts[i], &f, n, &r);
	assert_int_equal(run(DLT_EN10MB, &f, f.len, &r), DEC_OK);
	assert_int_equal(r.dport, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_eth_tcp4, setup),
		cmocka_unit_test_setup(test_eth_udp6, setup),
		cmocka_unit_test_setup(test_iplen_beyond_caplen, setup),
		cmocka_unit_test_setup(test_iplen_beyond_frame, setup),
		cmocka_unit_test_setup(test_vlan_qinq, setup),
		cmocka_unit_test_setup(test_vlan_too_deep, setup),
		cmocka_unit_test_setup(test_pppoe, setup),
		cmocka_unit_test_setup(test_sll_sll2, setup),
		cmocka_unit_test_setup(test_raw_and_null, setup),
		cmocka_unit_test_setup(test_ppp, setup),
		cmocka_unit_test_setup(test_ipv4_options, setup),
		cmocka_unit_test_setup(test_ipv6_ext_chain, setup),
		cmocka_unit_test_setup(test_fragments_v4, setup),
		cmocka_unit_test_setup(test_fragments_v6, setup),
		cmocka_unit_test_setup(test_fragments_v6_ext, setup),
		cmocka_unit_test_setup(test_portless, setup),
		cmocka_unit_test_setup(test_not_ip_and_unsupported, setup),
		cmocka_unit_test_setup(test_malformed, setup),
		cmocka_unit_test_setup(test_every_prefix, setup),
	};

	return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
