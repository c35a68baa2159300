/*
 * decode.c: capd's packet decoder.  Turns one captured frame (link
 * type, captured bytes, length on the wire) into a struct pkt_rec, or
 * into the reason it was not one.  It trusts nothing in the frame:
 * every read goes through a getter that checks the captured length,
 * and every length field is checked before it is used.  It is pure
 * apart from the small bounded fragment table in struct decoder, and it
 * never allocates.  Fuzzed by tests/fuzz/fuzz_decode.c.
 *
 * The outermost IP header and the TCP/UDP header right after it key a
 * flow, as the socket table does: tunnels are not entered.
 */

#include <pcap/dlt.h>
#include <string.h>

#include "capd.h"

#define ETH_IPV4	0x0800
#define ETH_IPV6	0x86dd
#define ETH_VLAN	0x8100
#define ETH_QINQ	0x88a8
#define ETH_QINQ_OLD	0x9100
#define ETH_PPPOE_SESS	0x8864
#define ETH_MPLS	0x8847
#define ETH_MPLS_MC	0x8848
#define PPP_IPV4	0x0021
#define PPP_IPV6	0x0057

#define LINKTYPE_RAW	101	/* files: libpcap maps it to DLT_RAW */

#define IPPROTO_TCP_NUM		6
#define IPPROTO_UDP_NUM		17
#define IPPROTO_UDPLITE_NUM	136

static const char *reason_names[DEC__MAX] = {
	[DEC_OK] = "emitted",
	[DEC_NOT_IP] = "not_ip",
	[DEC_LINK_UNSUPPORTED] = "link_unsupported",
	[DEC_LINK_TRUNCATED] = "link_truncated",
	[DEC_VLAN_DEPTH] = "vlan_too_deep",
	[DEC_IP_TRUNCATED] = "ip_truncated",
	[DEC_IP_VERSION] = "ip_bad_version",
	[DEC_IP_HEADER] = "ip_bad_header_length",
	[DEC_IP_LENGTH] = "ip_bad_total_length",
	[DEC_IP6_EXT_TRUNCATED] = "ip6_ext_truncated",
	[DEC_IP6_EXT_DEPTH] = "ip6_ext_too_long",
	[DEC_L4_TRUNCATED] = "l4_truncated",
	[DEC_TCP_HEADER] = "tcp_bad_header_length",
};

/* Bounds-checked big-endian getters: the caller has checked off + n. */
static inline uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3];
}

static inline uint32_t
le32(const uint8_t *p)
{
	return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) |
	    ((uint32_t)p[1] << 8) | p[0];
}

/* Does the frame hold n more bytes at off? Never overflows. */
static inline int
have(uint32_t caplen, uint32_t off, uint32_t n)
{
	return off <= caplen && caplen - off >= n;
}

const char *
decode_reason_name(int r)
{
	if (r < 0 || r >= DEC__MAX)
		return "unknown";
	return reason_names[r];
}

void
decode_init(struct decoder *d)
{
	memset(d, 0, sizeof(*d));
}

/* Link types decode_packet() understands. */
int
decode_linktype_ok(int dlt)
{
	switch (dlt) {
	case DLT_NULL:
	case DLT_LOOP:
	case DLT_EN10MB:
	case DLT_RAW:
	case LINKTYPE_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_PPP:
	case DLT_PPP_SERIAL:
	case DLT_PPP_ETHER:
	case DLT_C_HDLC:
	case DLT_PPI:
		return 1;
	}
	return 0;
}

static uint32_t
frag_hash(const struct frag_ent *k)
{
	uint32_t h = 2166136261u;
	int i, n = k->ipver == 4 ? 4 : 16;

	for (i = 0; i < n; i++)
		h = (h ^ k->src[i]) * 16777619u;
	for (i = 0; i < n; i++)
		h = (h ^ k->dst[i]) * 16777619u;
	h = (h ^ k->proto) * 16777619u;
	h = (h ^ k->id) * 16777619u;
	return h ^ (h >> 15);
}

static int
frag_same(const struct frag_ent *a, const struct frag_ent *b)
{
	return a->id == b->id && a->proto == b->proto &&
	    a->ipver == b->ipver && memcmp(a->src, b->src, 16) == 0 &&
	    memcmp(a->dst, b->dst, 16) == 0;
}

/*
 * The key of a fragment's datagram: addresses, id and the protocol every
 * fragment carries: IPv4's, or the next header of IPv6's fragment
 * header, which names the first header of the fragmented part (an
 * extension header may come before the transport's).
 */
static uint32_t
frag_key(const struct pkt_rec *r, uint8_t proto, struct frag_ent *k)
{
	memset(k, 0, sizeof(*k));
	k->id = r->fragid;
	k->ipver = r->ipver;
	k->proto = proto;
	memcpy(k->src, r->src, 16);
	memcpy(k->dst, r->dst, 16);
	return frag_hash(k);
}

/*
 * Remember the ports of a first fragment.  The table is bounded: a
 * stale or the oldest entry among FRAG_PROBE slots is replaced.
 */
static void
frag_remember(struct decoder *d, const struct pkt_rec *r, uint8_t proto)
{
	struct frag_ent k, *e, *victim = NULL;
	uint32_t h;
	int i;

	h = frag_key(r, proto, &k);
	for (i = 0; i < FRAG_PROBE; i++) {
		e = &d->frags[(h + i) % FRAG_SLOTS];
		if (e->ts_us == 0 || frag_same(e, &k) ||
		    (r->ts_us > e->ts_us &&
		    r->ts_us - e->ts_us > FRAG_TTL_US)) {
			victim = e;
			break;
		}
		if (victim == NULL || e->ts_us < victim->ts_us)
			victim = e;
	}
	k.l4proto = r->proto;
	k.sport = r->sport;
	k.dport = r->dport;
	k.ts_us = r->ts_us ? r->ts_us : 1;
	*victim = k;
}

/*
 * Give a later fragment the transport and ports of its first, when it
 * was seen.  Its r->proto is the key's protocol until then.
 */
static void
frag_lookup(struct decoder *d, struct pkt_rec *r)
{
	struct frag_ent k, *e;
	uint32_t h;
	int i;

	h = frag_key(r, r->proto, &k);
	for (i = 0; i < FRAG_PROBE; i++) {
		e = &d->frags[(h + i) % FRAG_SLOTS];
		if (e->ts_us == 0)
			return;
		if (frag_same(e, &k)) {
			if (r->ts_us >= e->ts_us &&
			    r->ts_us - e->ts_us > FRAG_TTL_US)
				return;
			r->proto = e->l4proto;
			r->sport = e->sport;
			r->dport = e->dport;
			r->frag |= FRAG_PORTS;
			d->frag_matched++;
			return;
		}
	}
}

/*
 * The length to count of an IP datagram at off whose header claims hdr
 * bytes.  On live capture a header may claim more than was on the wire
 * (a broken or forged length, which the kernel drops), and flowd would
 * count every byte it claims; so it is cut to the frame.  The frame is
 * its length on the wire, or the captured length if that says less.
 */
static uint32_t
cut_to_frame(const struct decoder *d, uint32_t caplen, uint32_t wirelen,
    uint32_t off, uint32_t hdr)
{
	uint32_t frame = wirelen > caplen ? wirelen : caplen;
	uint32_t room = frame > off ? frame - off : 0;

	return d->wire_true && hdr > room ? room : hdr;
}

/*
 * The transport header at off: ports and TCP flags.  A fragment that
 * is not the first has none.
 */
static int
decode_l4(const uint8_t *p, uint32_t caplen, uint32_t off,
    struct pkt_rec *r)
{
	switch (r->proto) {
	case IPPROTO_TCP_NUM:
		if (!have(caplen, off, 20))
			return DEC_L4_TRUNCATED;
		if ((p[off + 12] >> 4) < 5)
			return DEC_TCP_HEADER;
		r->sport = be16(p + off);
		r->dport = be16(p + off + 2);
		r->tcpflags = p[off + 13];
		break;
	case IPPROTO_UDP_NUM:
	case IPPROTO_UDPLITE_NUM:
		if (!have(caplen, off, 8))
			return DEC_L4_TRUNCATED;
		r->sport = be16(p + off);
		r->dport = be16(p + off + 2);
		break;
	}
	return DEC_OK;
}

static int
decode_ip4(struct decoder *d, const uint8_t *p, uint32_t caplen,
    uint32_t wirelen, uint32_t off, struct pkt_rec *r)
{
	uint32_t hlen, tot;
	uint16_t fo;

	if (!have(caplen, off, 1))
		return DEC_IP_TRUNCATED;
	if ((p[off] >> 4) != 4)
		return DEC_IP_VERSION;
	if (!have(caplen, off, 20))
		return DEC_IP_TRUNCATED;
	hlen = (uint32_t)(p[off] & 0x0f) * 4;
	if (hlen < 20)
		return DEC_IP_HEADER;
	if (!have(caplen, off, hlen))
		return DEC_IP_TRUNCATED;
	tot = be16(p + off + 2);
	/* 0 is what TCP segmentation offload leaves: use the frame. */
	if (tot == 0 && wirelen > off)
		tot = wirelen - off;
	tot = cut_to_frame(d, caplen, wirelen, off, tot);
	if (tot < hlen)
		return DEC_IP_LENGTH;
	r->ipver = 4;
	r->iplen = tot;
	r->proto = p[off + 9];
	r->fragid = be16(p + off + 4);
	memcpy(r->src, p + off + 12, 4);
	memcpy(r->dst, p + off + 16, 4);
	fo = be16(p + off + 6);
	if (fo & 0x2000)
		r->frag |= FRAG_MORE;
	if (fo & 0x1fff) {
		r->frag |= FRAG_LATER;
		d->frag_later++;
		frag_lookup(d, r);
		return DEC_OK;
	}
	if (r->frag & FRAG_MORE) {
		int rc = decode_l4(p, caplen, off + hlen, r);

		d->frag_first++;
		if (rc == DEC_OK)
			frag_remember(d, r, r->proto);
		return rc;
	}
	return decode_l4(p, caplen, off + hlen, r);
}

static int
decode_ip6(struct decoder *d, const uint8_t *p, uint32_t caplen,
    uint32_t wirelen, uint32_t off, struct pkt_rec *r)
{
	uint32_t plen, hlen;
	uint8_t nh, fnh = 0;
	int n, rc;

	if (!have(caplen, off, 1))
		return DEC_IP_TRUNCATED;
	if ((p[off] >> 4) != 6)
		return DEC_IP_VERSION;
	if (!have(caplen, off, 40))
		return DEC_IP_TRUNCATED;
	plen = be16(p + off + 4);
	/* 0 is a jumbogram or offload: use the frame. */
	if (plen == 0 && wirelen > off + 40)
		plen = wirelen - off - 40;
	r->ipver = 6;
	r->iplen = cut_to_frame(d, caplen, wirelen, off, 40 + plen);
	nh = p[off + 6];
	memcpy(r->src, p + off + 8, 16);
	memcpy(r->dst, p + off + 24, 16);
	off += 40;
	for (n = 0; ; n++) {
		if (n >= DEC_MAX_EXT) {
			r->proto = nh;
			return DEC_IP6_EXT_DEPTH;
		}
		switch (nh) {
		case 0:		/* hop-by-hop */
		case 43:	/* routing */
		case 60:	/* destination options */
		case 135:	/* mobility */
		case 139:	/* HIP */
		case 140:	/* shim6 */
			if (!have(caplen, off, 8))
				return DEC_IP6_EXT_TRUNCATED;
			hlen = ((uint32_t)p[off + 1] + 1) * 8;
			nh = p[off];
			off += hlen;
			continue;
		case 51:	/* AH */
			if (!have(caplen, off, 8))
				return DEC_IP6_EXT_TRUNCATED;
			hlen = ((uint32_t)p[off + 1] + 2) * 4;
			nh = p[off];
			off += hlen;
			continue;
		case 44:	/* fragment */
			if (!have(caplen, off, 8))
				return DEC_IP6_EXT_TRUNCATED;
			nh = fnh = p[off];
			r->fragid = be32(p + off + 4);
			if (p[off + 3] & 1)
				r->frag |= FRAG_MORE;
			if (be16(p + off + 2) & 0xfff8) {
				r->frag |= FRAG_LATER;
				r->proto = nh;
				d->frag_later++;
				frag_lookup(d, r);
				return DEC_OK;
			}
			off += 8;
			continue;
		}
		break;
	}
	r->proto = nh;
	rc = decode_l4(p, caplen, off, r);
	if (r->frag & FRAG_MORE) {
		d->frag_first++;
		if (rc == DEC_OK)
			frag_remember(d, r, fnh);
	}
	return rc;
}

/* IP of either version, by its first nibble. */
static int
decode_ip(struct decoder *d, const uint8_t *p, uint32_t caplen,
    uint32_t wirelen, uint32_t off, struct pkt_rec *r)
{
	if (!have(caplen, off, 1))
		return DEC_IP_TRUNCATED;
	switch (p[off] >> 4) {
	case 4:
		return decode_ip4(d, p, caplen, wirelen, off, r);
	case 6:
		return decode_ip6(d, p, caplen, wirelen, off, r);
	}
	return DEC_IP_VERSION;
}

/* A PPP protocol field at off (1 byte when compressed), then IP. */
static int
decode_ppp_at(struct decoder *d, const uint8_t *p, uint32_t caplen,
    uint32_t wirelen, uint32_t off, struct pkt_rec *r)
{
	uint16_t proto;

	if (!have(caplen, off, 1))
		return DEC_LINK_TRUNCATED;
	if (p[off] & 1) {
		proto = p[off];
		off += 1;
	} else {
		if (!have(caplen, off, 2))
			return DEC_LINK_TRUNCATED;
		proto = be16(p + off);
		off += 2;
	}
	switch (proto) {
	case PPP_IPV4:
		return decode_ip4(d, p, caplen, wirelen, off, r);
	case PPP_IPV6:
		return decode_ip6(d, p, caplen, wirelen, off, r);
	}
	return DEC_NOT_IP;
}

/*
 * From an Ethernet type field on: VLAN tags (802.1Q, 802.1ad, stacked),
 * PPPoE session, MPLS, then IP.
 */
static int
decode_ethertype(struct decoder *d, const uint8_t *p, uint32_t caplen,
    uint32_t wirelen, uint32_t off, uint16_t type, struct pkt_rec *r)
{
	int tags = 0;

	for (;;) {
		switch (type) {
		case ETH_IPV4:
			return decode_ip4(d, p, caplen, wirelen, off, r);
		case ETH_IPV6:
			return decode_ip6(d, p, caplen, wirelen, off, r);
		case ETH_VLAN:
		case ETH_QINQ:
		case ETH_QINQ_OLD:
			if (++tags > DEC_MAX_TAGS)
				return DEC_VLAN_DEPTH;
			if (!have(caplen, off, 4))
				return DEC_LINK_TRUNCATED;
			type = be16(p + off + 2);
			off += 4;
			continue;
		case ETH_PPPOE_SESS:
			/* ver/type, code, session, length, PPP protocol */
			if (!have(caplen, off, 6))
				return DEC_LINK_TRUNCATED;
			return decode_ppp_at(d, p, caplen, wirelen, off + 6,
			    r);
		case ETH_MPLS:
		case ETH_MPLS_MC:
			/* labels to the bottom of the stack, then IP */
			for (;;) {
				if (++tags > DEC_MAX_TAGS)
					return DEC_VLAN_DEPTH;
				if (!have(caplen, off, 4))
					return DEC_LINK_TRUNCATED;
				off += 4;
				if (p[off - 2] & 1)
					break;
			}
			return decode_ip(d, p, caplen, wirelen, off, r);
		}
		return DEC_NOT_IP;
	}
}

/* PPP in HDLC-like framing, or Cisco HDLC, as tcpdump's ppp_print. */
static int
decode_ppp(struct decoder *d, const uint8_t *p, uint32_t caplen,
    uint32_t wirelen, struct pkt_rec *r)
{
	if (!have(caplen, 0, 2))
		return DEC_LINK_TRUNCATED;
	if (p[0] == 0x0f || p[0] == 0x8f) {	/* Cisco HDLC */
		if (!have(caplen, 0, 4))
			return DEC_LINK_TRUNCATED;
		return decode_ethertype(d, p, caplen, wirelen, 4,
		    be16(p + 2), r);
	}
	if (p[0] == 0xff && p[1] == 0x03)
		return decode_ppp_at(d, p, caplen, wirelen, 2, r);
	return decode_ppp_at(d, p, caplen, wirelen, 0, r);
}

/* BSD loopback: the address family, host order (NULL) or big (LOOP). */
static int
decode_null(struct decoder *d, const uint8_t *p, uint32_t caplen,
    uint32_t wirelen, int loop, struct pkt_rec *r)
{
	uint32_t af;

	if (!have(caplen, 0, 4))
		return DEC_LINK_TRUNCATED;
	af = loop ? be32(p) : le32(p);
	if (!loop && (af & 0xffff) == 0)	/* written big-endian */
		af = be32(p);
	switch (af) {
	case 2:				/* AF_INET everywhere */
		return decode_ip4(d, p, caplen, wirelen, 4, r);
	case 10:			/* Linux */
	case 24:			/* NetBSD, OpenBSD */
	case 28:			/* FreeBSD */
	case 30:			/* macOS */
		return decode_ip6(d, p, caplen, wirelen, 4, r);
	}
	return DEC_NOT_IP;
}

static int
decode_link(struct decoder *d, int dlt, const uint8_t *p,
    uint32_t caplen, uint32_t wirelen, int depth, struct pkt_rec *r)
{
	uint32_t hl;

	switch (dlt) {
	case DLT_EN10MB:
		if (!have(caplen, 0, 14))
			return DEC_LINK_TRUNCATED;
		return decode_ethertype(d, p, caplen, wirelen, 14,
		    be16(p + 12), r);
	case DLT_RAW:
	case LINKTYPE_RAW:
		return decode_ip(d, p, caplen, wirelen, 0, r);
	case DLT_IPV4:
		return decode_ip4(d, p, caplen, wirelen, 0, r);
	case DLT_IPV6:
		return decode_ip6(d, p, caplen, wirelen, 0, r);
	case DLT_LINUX_SLL:
		if (!have(caplen, 0, 16))
			return DEC_LINK_TRUNCATED;
		return decode_ethertype(d, p, caplen, wirelen, 16,
		    be16(p + 14), r);
	case DLT_LINUX_SLL2:
		if (!have(caplen, 0, 20))
			return DEC_LINK_TRUNCATED;
		return decode_ethertype(d, p, caplen, wirelen, 20,
		    be16(p), r);
	case DLT_NULL:
		return decode_null(d, p, caplen, wirelen, 0, r);
	case DLT_LOOP:
		return decode_null(d, p, caplen, wirelen, 1, r);
	case DLT_PPP:
	case DLT_PPP_SERIAL:
	case DLT_C_HDLC:
		return decode_ppp(d, p, caplen, wirelen, r);
	case DLT_PPP_ETHER:
		/* PPPoE header without the Ethernet one */
		if (!have(caplen, 0, 6))
			return DEC_LINK_TRUNCATED;
		return decode_ppp_at(d, p, caplen, wirelen, 6, r);
	case DLT_PPI:
		/* version, flags, length (LE), inner link type (LE) */
		if (depth > 0)
			return DEC_LINK_UNSUPPORTED;
		if (!have(caplen, 0, 8))
			return DEC_LINK_TRUNCATED;
		hl = (uint32_t)p[2] | ((uint32_t)p[3] << 8);
		if (hl < 8 || !have(caplen, 0, hl))
			return DEC_LINK_TRUNCATED;
		if (wirelen < hl)
			return DEC_LINK_TRUNCATED;
		return decode_link(d, (int)le32(p + 4), p + hl, caplen - hl,
		    wirelen - hl, depth + 1, r);
	}
	return DEC_LINK_UNSUPPORTED;
}

/*
 * Decode one frame of link type dlt into r.  The caller sets r->ts_us
 * and r->iface; everything else is filled here.  Returns DEC_OK when r
 * is a packet to emit, else the reason (counted in d).  Reads nothing
 * at or past caplen.
 */
int
decode_packet(struct decoder *d, int dlt, const uint8_t *p,
    uint32_t caplen, uint32_t wirelen, struct pkt_rec *r)
{
	int rc;

	r->iplen = r->fragid = 0;
	r->sport = r->dport = 0;
	r->dir = DIR_UNKNOWN;
	r->ipver = r->proto = r->tcpflags = r->frag = 0;
	memset(r->src, 0, sizeof(r->src));
	memset(r->dst, 0, sizeof(r->dst));
	if (wirelen < caplen)
		wirelen = caplen;
	rc = decode_link(d, dlt, p, caplen, wirelen, 0, r);
	d->reasons[rc]++;
	return rc;
}
