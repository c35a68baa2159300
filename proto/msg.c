/*
 * msg.c: VBS messages, encoded with msgpack-c and decoded strictly.
 * Linked by every process: capd and sockd build messages, flowd and
 * vbsctl read them, sockd reads flowd's look-ups.  A message is one
 * msgpack array [type, record, record, ...]; each record is an array of
 * fixed fields in the order of proto/PROTOCOL.md.  The decoder trusts
 * nothing: it checks the type, the field count, every field's type and
 * range and the protocol version before the caller sees a record, and
 * names the record and the offset when it refuses one.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "proto.h"

/* Field counts of each record type, protocol version 1. */
#define NF_HELLO	8
#define NF_PKT		13
#define NF_SOCK		16
#define NF_LOOKUP	8
#define NF_ANSWER	5
#define NF_STATS	2
#define NF_BYE		2

/* The count is patched in at msg_finish: array32 header, 5 bytes. */
#define HDR_LEN		5

static const char *type_names[MSG__MAX] = {
	[MSG_HELLO] = "hello", [MSG_PACKETS] = "packets",
	[MSG_SOCKETS] = "sockets", [MSG_LOOKUP] = "lookup",
	[MSG_ANSWER] = "answer", [MSG_STATS] = "stats", [MSG_BYE] = "bye"
};

const char *
msg_type_name(int type)
{
	if (type <= 0 || type >= MSG__MAX)
		return "unknown";
	return type_names[type];
}

/* msgpack-c write callback: append, never past VBS_MSG_MAX. */
static int
builder_write(void *data, const char *buf, size_t len)
{
	struct msg_builder	*b = data;
	uint8_t			*nb;
	size_t			 ncap;

	if (b->full || b->len + len > VBS_MSG_MAX) {
		b->full = 1;
		return -1;
	}
	if (b->len + len > b->cap) {
		ncap = b->cap * 2;
		while (ncap < b->len + len)
			ncap *= 2;
		if (ncap > VBS_MSG_MAX)
			ncap = VBS_MSG_MAX;
		if ((nb = realloc(b->buf, ncap)) == NULL) {
			b->full = 1;
			return -1;
		}
		b->buf = nb;
		b->cap = ncap;
	}
	memcpy(b->buf + b->len, buf, len);
	b->len += len;
	return 0;
}

int
msg_init(struct msg_builder *b)
{
	memset(b, 0, sizeof(*b));
	b->cap = 4096;
	if ((b->buf = malloc(b->cap)) == NULL)
		return -1;
	if ((b->pk = malloc(sizeof(msgpack_packer))) == NULL) {
		free(b->buf);
		b->buf = NULL;
		return -1;
	}
	msgpack_packer_init(b->pk, b, builder_write);
	return 0;
}

void
msg_free(struct msg_builder *b)
{
	free(b->buf);
	free(b->pk);
	memset(b, 0, sizeof(*b));
}

void
msg_start(struct msg_builder *b, int type)
{
	b->type = type;
	b->nrec = 0;
	memset(b->buf, 0, HDR_LEN);
	b->len = HDR_LEN;
	msgpack_pack_uint8(b->pk, (uint8_t)type);
}

/*
 * Room for a record of about n more bytes?  Producers call this with a
 * bound on their record size and send the message when it says no.
 */
int
msg_would_fit(const struct msg_builder *b, size_t n)
{
	return b->len + n <= VBS_MSG_MAX && b->nrec < VBS_MSG_MAXREC;
}

size_t
msg_finish(struct msg_builder *b)
{
	uint32_t	n = b->nrec + 1;

	b->buf[0] = 0xdd;
	b->buf[1] = (uint8_t)(n >> 24);
	b->buf[2] = (uint8_t)(n >> 16);
	b->buf[3] = (uint8_t)(n >> 8);
	b->buf[4] = (uint8_t)n;
	return b->len;
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
	size_t	n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void
pack_addr(msgpack_packer *pk, uint8_t ipver, const uint8_t *a)
{
	size_t	n = ipver == 6 ? 16 : 4;

	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, a, n);
}

static void
pack_sock(msgpack_packer *pk, const struct sock_rec *s)
{
	msgpack_pack_array(pk, NF_SOCK);
	msgpack_pack_uint64(pk, s->ts_us);
	msgpack_pack_uint8(pk, s->event);
	msgpack_pack_uint8(pk, s->source);
	msgpack_pack_uint8(pk, s->ipver);
	msgpack_pack_uint8(pk, s->proto);
	msgpack_pack_uint8(pk, s->state);
	pack_addr(pk, s->ipver, s->laddr);
	msgpack_pack_uint16(pk, s->lport);
	pack_addr(pk, s->ipver, s->raddr);
	msgpack_pack_uint16(pk, s->rport);
	msgpack_pack_uint64(pk, s->inode);
	msgpack_pack_uint64(pk, s->cookie);
	msgpack_pack_uint32(pk, s->uid);
	msgpack_pack_int32(pk, s->pid);
	pack_str(pk, s->comm);
	pack_str(pk, s->exe);
}

static void
pack_record(msgpack_packer *pk, const struct vbs_rec *r)
{
	const struct hello_rec	*h;
	const struct lookup_rec	*l;
	const struct answer_rec	*a;
	const struct stats_rec	*s;
	uint32_t		 i;

	switch (r->type) {	/* packets: add_pkt() */
	case MSG_HELLO:
		h = &r->u.hello;
		msgpack_pack_array(pk, NF_HELLO);
		msgpack_pack_uint64(pk, h->ts_us);
		msgpack_pack_uint32(pk, h->version);
		pack_str(pk, h->producer);
		pack_str(pk, h->host);
		pack_str(pk, h->os);
		pack_str(pk, h->software);
		msgpack_pack_array(pk, h->nifaces);
		for (i = 0; i < h->nifaces; i++)
			pack_str(pk, h->ifaces[i]);
		msgpack_pack_array(pk, h->nnets);
		for (i = 0; i < h->nnets; i++) {
			msgpack_pack_array(pk, 2);
			pack_addr(pk, h->nets[i].ipver, h->nets[i].addr);
			msgpack_pack_uint8(pk, h->nets[i].prefixlen);
		}
		break;
	case MSG_SOCKETS:
		pack_sock(pk, &r->u.sock);
		break;
	case MSG_LOOKUP:
		l = &r->u.lookup;
		msgpack_pack_array(pk, NF_LOOKUP);
		msgpack_pack_uint64(pk, l->ts_us);
		msgpack_pack_uint32(pk, l->id);
		msgpack_pack_uint8(pk, l->ipver);
		msgpack_pack_uint8(pk, l->proto);
		pack_addr(pk, l->ipver, l->laddr);
		msgpack_pack_uint16(pk, l->lport);
		pack_addr(pk, l->ipver, l->raddr);
		msgpack_pack_uint16(pk, l->rport);
		break;
	case MSG_ANSWER:
		a = &r->u.answer;
		msgpack_pack_array(pk, NF_ANSWER);
		msgpack_pack_uint64(pk, a->ts_us);
		msgpack_pack_uint32(pk, a->id);
		msgpack_pack_uint32(pk, a->latency_us);
		if (a->found)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		if (a->found)
			pack_sock(pk, &a->sock);
		else
			msgpack_pack_nil(pk);
		break;
	case MSG_STATS:
		s = &r->u.stats;
		msgpack_pack_array(pk, NF_STATS);
		msgpack_pack_uint64(pk, s->ts_us);
		msgpack_pack_map(pk, s->ncounters);
		for (i = 0; i < s->ncounters; i++) {
			pack_str(pk, s->counters[i].name);
			msgpack_pack_uint64(pk, s->counters[i].value);
		}
		break;
	case MSG_BYE:
		msgpack_pack_array(pk, NF_BYE);
		msgpack_pack_uint64(pk, r->u.bye.ts_us);
		pack_str(pk, r->u.bye.reason);
		break;
	}
}

/*
 * Bytes of the largest packets record: array header 1, ts_us 9, iface
 * 5, dir, ipver and proto 2 each, two addresses 18 each, two ports 3
 * each, iplen 5, tcpflags and frag 2 each, fragid 5.
 */
#define PKT_REC_MAX	77

/* An unsigned integer in msgpack's shortest form, as msgpack-c packs it. */
static uint8_t *
put_uint(uint8_t *p, uint64_t v)
{
	int	n;

	if (v < 128) {
		*p++ = (uint8_t)v;
		return p;
	}
	if (v < 256) {
		*p++ = 0xcc;
		n = 1;
	} else if (v < 65536) {
		*p++ = 0xcd;
		n = 2;
	} else if (v <= UINT32_MAX) {
		*p++ = 0xce;
		n = 4;
	} else {
		*p++ = 0xcf;
		n = 8;
	}
	while (n-- > 0)
		*p++ = (uint8_t)(v >> (8 * n));
	return p;
}

static uint8_t *
put_addr(uint8_t *p, uint8_t ipver, const uint8_t *a)
{
	uint8_t	n = ipver == 6 ? 16 : 4;

	*p++ = 0xc4;		/* bin 8 */
	*p++ = n;
	memcpy(p, a, n);
	return p + n;
}

/*
 * A packets record encoded here and appended with one copy: the same
 * bytes as msgpack-c's packer gives (msg_test compares them), without
 * its write callback and copy for each of the 13 fields.  capd adds one
 * record per captured packet, and those calls were a third of its CPU
 * in the lab's steady run (perf).
 */
static int
add_pkt(struct msg_builder *b, const struct pkt_rec *r)
{
	uint8_t	 rec[PKT_REC_MAX], *p = rec;

	*p++ = 0x90 | NF_PKT;		/* fixarray */
	p = put_uint(p, r->ts_us);
	p = put_uint(p, r->iface);
	p = put_uint(p, r->dir);
	p = put_uint(p, r->ipver);
	p = put_uint(p, r->proto);
	p = put_addr(p, r->ipver, r->src);
	p = put_uint(p, r->sport);
	p = put_addr(p, r->ipver, r->dst);
	p = put_uint(p, r->dport);
	p = put_uint(p, r->iplen);
	p = put_uint(p, r->tcpflags);
	p = put_uint(p, r->frag);
	p = put_uint(p, r->fragid);
	if (builder_write(b, (const char *)rec, (size_t)(p - rec)) == -1) {
		b->full = 0;
		errno = EMSGSIZE;
		return -1;
	}
	b->nrec++;
	return 0;
}

/*
 * Append a record of the message's type.  Returns -1 (and leaves the
 * message as it was) when the record does not fit; the producer then
 * sends what it has and starts a new message.
 */
int
msg_add(struct msg_builder *b, const struct vbs_rec *r)
{
	size_t	before = b->len;

	if (r->type != b->type || b->nrec >= VBS_MSG_MAXREC) {
		errno = EINVAL;
		return -1;
	}
	if (r->type == MSG_PACKETS)
		return add_pkt(b, &r->u.pkt);
	/*
	 * msgpack-c's packer goes on after a write fails: the flag tells,
	 * and the partial record is cut off again.
	 */
	b->full = 0;
	pack_record(b->pk, r);
	if (b->full) {
		b->full = 0;
		b->len = before;
		errno = EMSGSIZE;
		return -1;
	}
	b->nrec++;
	return 0;
}

/* A message of one record, for hello, stats, bye and look-ups. */
int
msg_encode1(struct msg_builder *b, const struct vbs_rec *r)
{
	msg_start(b, r->type);
	if (msg_add(b, r) == -1)
		return -1;
	msg_finish(b);
	return 0;
}

static int
get_addr(struct mp_cur *c, uint8_t ipver, uint8_t *dst, const char *name)
{
	const uint8_t	*p;
	uint32_t	 n;
	size_t		 start = c->off;

	c->field = name;
	if (mp_bin(c, &p, &n) == -1)
		return -1;
	if (n != (ipver == 6 ? 16u : 4u)) {
		c->off = start;
		return mp_fail(c, "address of %u bytes for IPv%u", n, ipver);
	}
	memset(dst, 0, 16);
	memcpy(dst, p, n);
	return 0;
}

/*
 * A positive fixint within range, as most fields of a packet record
 * are, is read here without a call (decoding capd's records was 7 to
 * 9% of flowd's CPU in the lab's steady run).  Anything else, and every
 * error, is mp_uint's.
 */
static int
get_u(struct mp_cur *c, const char *name, uint64_t max, uint64_t *v)
{
	c->field = name;
	if (c->off < c->len && c->p[c->off] <= 0x7f && c->p[c->off] <= max) {
		*v = c->p[c->off++];
		return 0;
	}
	return mp_uint(c, max, v);
}

static int
fields(struct mp_cur *c, uint32_t want)
{
	uint32_t	n;
	size_t		start = c->off;

	c->field = NULL;
	if (mp_array(c, &n) == -1)
		return -1;
	if (n != want) {
		c->off = start;
		return mp_fail(c, "record has %u fields, want %u", n, want);
	}
	return 0;
}

static int
get_ipver(struct mp_cur *c, uint8_t *ipver)
{
	uint64_t	v;

	if (get_u(c, "ipver", 6, &v) == -1)
		return -1;
	if (v != 4 && v != 6)
		return mp_fail(c, "IP version %llu", (unsigned long long)v);
	*ipver = (uint8_t)v;
	return 0;
}

static int
dec_sock(struct mp_cur *c, struct sock_rec *s)
{
	uint64_t	v;
	int64_t		i;

	memset(s, 0, sizeof(*s));
	if (fields(c, NF_SOCK) == -1 ||
	    get_u(c, "ts", UINT64_MAX, &s->ts_us) == -1)
		return -1;
	if (get_u(c, "event", 255, &v) == -1)
		return -1;
	if (v < SOCK_OPEN || v > SOCK_SNAPSHOT)
		return mp_fail(c, "unknown socket event %llu",
		    (unsigned long long)v);
	s->event = (uint8_t)v;
	if (get_u(c, "source", 255, &v) == -1)
		return -1;
	if (v < SRC_DUMP || v > SRC_EBPF)
		return mp_fail(c, "unknown source %llu",
		    (unsigned long long)v);
	s->source = (uint8_t)v;
	if (get_ipver(c, &s->ipver) == -1 ||
	    get_u(c, "proto", 255, &v) == -1)
		return -1;
	s->proto = (uint8_t)v;
	if (get_u(c, "state", 255, &v) == -1)
		return -1;
	s->state = (uint8_t)v;
	if (get_addr(c, s->ipver, s->laddr, "laddr") == -1 ||
	    get_u(c, "lport", 65535, &v) == -1)
		return -1;
	s->lport = (uint16_t)v;
	if (get_addr(c, s->ipver, s->raddr, "raddr") == -1 ||
	    get_u(c, "rport", 65535, &v) == -1)
		return -1;
	s->rport = (uint16_t)v;
	if (get_u(c, "inode", UINT64_MAX, &s->inode) == -1 ||
	    get_u(c, "cookie", UINT64_MAX, &s->cookie) == -1 ||
	    get_u(c, "uid", UINT32_MAX, &v) == -1)
		return -1;
	s->uid = (uint32_t)v;
	c->field = "pid";
	if (mp_int(c, -1, INT32_MAX, &i) == -1)
		return -1;
	s->pid = (int32_t)i;
	c->field = "comm";
	if (mp_str(c, s->comm, sizeof(s->comm)) == -1)
		return -1;
	c->field = "exe";
	return mp_str(c, s->exe, sizeof(s->exe));
}

static int
dec_hello(struct mp_cur *c, struct hello_rec *h)
{
	uint64_t	v;
	uint32_t	n, i, k;
	size_t		start;

	memset(h, 0, sizeof(*h));
	if (fields(c, NF_HELLO) == -1 ||
	    get_u(c, "ts", UINT64_MAX, &h->ts_us) == -1)
		return -1;
	start = c->off;
	if (get_u(c, "version", UINT32_MAX, &v) == -1)
		return -1;
	if (v != VBS_PROTO_VERSION) {
		c->off = start;
		return mp_fail(c, "unknown protocol version %llu (this is %d)",
		    (unsigned long long)v, VBS_PROTO_VERSION);
	}
	h->version = (uint32_t)v;
	c->field = "producer";
	if (mp_str(c, h->producer, sizeof(h->producer)) == -1)
		return -1;
	c->field = "host";
	if (mp_str(c, h->host, sizeof(h->host)) == -1)
		return -1;
	c->field = "os";
	if (mp_str(c, h->os, sizeof(h->os)) == -1)
		return -1;
	c->field = "software";
	if (mp_str(c, h->software, sizeof(h->software)) == -1)
		return -1;
	c->field = "ifaces";
	if (mp_array(c, &n) == -1)
		return -1;
	if (n > VBS_MAX_IFACES)
		return mp_fail(c, "%u interfaces, limit %d", n, VBS_MAX_IFACES);
	for (i = 0; i < n; i++)
		if (mp_str(c, h->ifaces[i], sizeof(h->ifaces[i])) == -1)
			return -1;
	h->nifaces = n;
	c->field = "nets";
	if (mp_array(c, &n) == -1)
		return -1;
	if (n > VBS_MAX_NETS)
		return mp_fail(c, "%u networks, limit %d", n, VBS_MAX_NETS);
	for (i = 0; i < n; i++) {
		const uint8_t	*p;

		c->field = "nets";
		if (mp_array(c, &k) == -1)
			return -1;
		if (k != 2)
			return mp_fail(c, "network of %u fields, want 2", k);
		if (mp_bin(c, &p, &k) == -1)
			return -1;
		if (k != 4 && k != 16)
			return mp_fail(c, "network address of %u bytes", k);
		h->nets[i].ipver = k == 4 ? 4 : 6;
		memcpy(h->nets[i].addr, p, k);
		if (mp_uint(c, k * 8, &v) == -1)
			return -1;
		h->nets[i].prefixlen = (uint8_t)v;
	}
	h->nnets = n;
	return 0;
}

static int
dec_pkt(struct mp_cur *c, struct pkt_rec *p)
{
	uint64_t	v;

	if (fields(c, NF_PKT) == -1 ||
	    get_u(c, "ts", UINT64_MAX, &p->ts_us) == -1 ||
	    get_u(c, "iface", VBS_MAX_IFACES - 1, &v) == -1)
		return -1;
	p->iface = (uint32_t)v;
	if (get_u(c, "dir", DIR_UNKNOWN, &v) == -1)
		return -1;
	p->dir = (uint8_t)v;
	if (get_ipver(c, &p->ipver) == -1 ||
	    get_u(c, "proto", 255, &v) == -1)
		return -1;
	p->proto = (uint8_t)v;
	if (get_addr(c, p->ipver, p->src, "src") == -1 ||
	    get_u(c, "sport", 65535, &v) == -1)
		return -1;
	p->sport = (uint16_t)v;
	if (get_addr(c, p->ipver, p->dst, "dst") == -1 ||
	    get_u(c, "dport", 65535, &v) == -1)
		return -1;
	p->dport = (uint16_t)v;
	if (get_u(c, "iplen", UINT32_MAX, &v) == -1)
		return -1;
	p->iplen = (uint32_t)v;
	if (get_u(c, "tcpflags", 255, &v) == -1)
		return -1;
	p->tcpflags = (uint8_t)v;
	if (get_u(c, "frag", FRAG_MORE | FRAG_LATER | FRAG_PORTS, &v) == -1)
		return -1;
	p->frag = (uint8_t)v;
	if (get_u(c, "fragid", UINT32_MAX, &v) == -1)
		return -1;
	p->fragid = (uint32_t)v;
	return 0;
}

static int
dec_lookup(struct mp_cur *c, struct lookup_rec *l)
{
	uint64_t	v;

	memset(l, 0, sizeof(*l));
	if (fields(c, NF_LOOKUP) == -1 ||
	    get_u(c, "ts", UINT64_MAX, &l->ts_us) == -1 ||
	    get_u(c, "id", UINT32_MAX, &v) == -1)
		return -1;
	l->id = (uint32_t)v;
	if (get_ipver(c, &l->ipver) == -1 ||
	    get_u(c, "proto", 255, &v) == -1)
		return -1;
	l->proto = (uint8_t)v;
	if (get_addr(c, l->ipver, l->laddr, "laddr") == -1 ||
	    get_u(c, "lport", 65535, &v) == -1)
		return -1;
	l->lport = (uint16_t)v;
	if (get_addr(c, l->ipver, l->raddr, "raddr") == -1 ||
	    get_u(c, "rport", 65535, &v) == -1)
		return -1;
	l->rport = (uint16_t)v;
	return 0;
}

static int
dec_answer(struct mp_cur *c, struct answer_rec *a)
{
	uint64_t	v;
	int		found;

	memset(a, 0, sizeof(*a));
	if (fields(c, NF_ANSWER) == -1 ||
	    get_u(c, "ts", UINT64_MAX, &a->ts_us) == -1 ||
	    get_u(c, "id", UINT32_MAX, &v) == -1)
		return -1;
	a->id = (uint32_t)v;
	if (get_u(c, "latency", UINT32_MAX, &v) == -1)
		return -1;
	a->latency_us = (uint32_t)v;
	c->field = "found";
	if (mp_bool(c, &found) == -1)
		return -1;
	a->found = (uint8_t)found;
	c->field = "sock";
	if (!found) {
		if (!mp_is_nil(c))
			return mp_fail(c, "expected nil when not found");
		return 0;
	}
	return dec_sock(c, &a->sock);
}

static int
dec_stats(struct mp_cur *c, struct stats_rec *s)
{
	uint32_t	n, i;

	s->ncounters = 0;
	if (fields(c, NF_STATS) == -1 ||
	    get_u(c, "ts", UINT64_MAX, &s->ts_us) == -1)
		return -1;
	c->field = "counters";
	if (mp_map(c, &n) == -1)
		return -1;
	if (n > VBS_MAX_COUNTERS)
		return mp_fail(c, "%u counters, limit %d", n, VBS_MAX_COUNTERS);
	for (i = 0; i < n; i++) {
		c->field = "counter name";
		if (mp_str(c, s->counters[i].name,
		    sizeof(s->counters[i].name)) == -1)
			return -1;
		c->field = "counter value";
		if (mp_uint(c, UINT64_MAX, &s->counters[i].value) == -1)
			return -1;
	}
	s->ncounters = n;
	return 0;
}

static int
dec_bye(struct mp_cur *c, struct bye_rec *b)
{
	if (fields(c, NF_BYE) == -1 ||
	    get_u(c, "ts", UINT64_MAX, &b->ts_us) == -1)
		return -1;
	c->field = "reason";
	return mp_str(c, b->reason, sizeof(b->reason));
}

static int
reader_fail(struct msg_reader *m, const char *detail)
{
	snprintf(m->err, sizeof(m->err), "message envelope: %s", detail);
	return -1;
}

/*
 * Open a message: check the envelope (an array, a known type, a record
 * count within bounds).  Records are then read one by one by msg_next.
 */
int
msg_open(struct msg_reader *m, const void *buf, size_t len)
{
	struct mp_cur	c;
	uint32_t	n;
	uint64_t	type;
	char		e[192];

	memset(m, 0, sizeof(*m));
	m->buf = buf;
	m->len = len;
	memset(&c, 0, sizeof(c));
	c.p = buf;
	c.len = len;
	c.err = e;
	c.errlen = sizeof(e);
	if (len > VBS_MSG_MAX) {
		snprintf(m->err, sizeof(m->err),
		    "message of %zu bytes, limit %d", len, VBS_MSG_MAX);
		return -1;
	}
	if (mp_array(&c, &n) == -1)
		return reader_fail(m, e);
	if (n < 2 || n - 1 > VBS_MSG_MAXREC) {
		snprintf(m->err, sizeof(m->err),
		    "message envelope: %u elements, want 2 to %d", n,
		    VBS_MSG_MAXREC + 1);
		return -1;
	}
	c.field = "type";
	if (mp_uint(&c, 255, &type) == -1)
		return reader_fail(m, e);
	if (type < MSG_HELLO || type >= MSG__MAX) {
		snprintf(m->err, sizeof(m->err),
		    "message envelope: offset %zu: unknown message type %llu",
		    c.off - 1, (unsigned long long)type);
		return -1;
	}
	if ((type == MSG_HELLO || type == MSG_BYE) && n != 2) {
		snprintf(m->err, sizeof(m->err),
		    "message envelope: %s with %u records, want 1",
		    msg_type_name((int)type), n - 1);
		return -1;
	}
	m->type = (int)type;
	m->nrec = n - 1;
	m->off = c.off;
	return 0;
}

/*
 * The next record: 1 with a record, 0 at the end of the message, -1 on
 * a malformed record (m->err names it) or trailing bytes.
 */
int
msg_next(struct msg_reader *m, struct vbs_rec *r)
{
	struct mp_cur	c;
	char		e[192];
	int		rc = -1;

	if (m->index == m->nrec) {
		if (m->off != m->len) {
			snprintf(m->err, sizeof(m->err),
			    "%s message: offset %zu: %zu bytes after the last "
			    "record", msg_type_name(m->type), m->off,
			    m->len - m->off);
			return -1;
		}
		return 0;
	}
	memset(&c, 0, sizeof(c));
	c.p = m->buf;
	c.len = m->len;
	c.off = m->off;
	c.err = e;
	c.errlen = sizeof(e);
	r->type = m->type;
	switch (m->type) {
	case MSG_HELLO:
		rc = dec_hello(&c, &r->u.hello);
		break;
	case MSG_PACKETS:
		rc = dec_pkt(&c, &r->u.pkt);
		break;
	case MSG_SOCKETS:
		rc = dec_sock(&c, &r->u.sock);
		break;
	case MSG_LOOKUP:
		rc = dec_lookup(&c, &r->u.lookup);
		break;
	case MSG_ANSWER:
		rc = dec_answer(&c, &r->u.answer);
		break;
	case MSG_STATS:
		rc = dec_stats(&c, &r->u.stats);
		break;
	case MSG_BYE:
		rc = dec_bye(&c, &r->u.bye);
		break;
	}
	if (rc == -1) {
		snprintf(m->err, sizeof(m->err), "%s message: record %u: %s",
		    msg_type_name(m->type), m->index, e);
		m->index = m->nrec;	/* nothing more from this message */
		m->off = m->len;
		return -1;
	}
	m->off = c.off;
	m->index++;
	return 1;
}

/*
 * The timestamp of a message's first record, without decoding it all:
 * the merge reader orders messages by it.
 */
int
msg_peek_ts(const void *buf, size_t len, uint64_t *ts)
{
	struct mp_cur	c;
	uint32_t	n;
	uint64_t	v;

	memset(&c, 0, sizeof(c));
	c.p = buf;
	c.len = len;
	if (mp_array(&c, &n) == -1 || n < 2 ||
	    mp_uint(&c, 255, &v) == -1 || mp_array(&c, &n) == -1 || n < 1)
		return -1;
	return mp_uint(&c, UINT64_MAX, ts);
}
