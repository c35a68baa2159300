/*
 * flow.c: flowd's flow table.  Runs in flowd.  Packets come from capd
 * (or a recording of it) and are trusted only to be well-formed records;
 * their times may go backwards a little between streams, and nothing
 * they say is used as a size.
 *
 * A flow is keyed by IP version, protocol and the local and remote
 * address and port.  Its packets are not kept: each goes into the
 * current batch as it arrives, so memory is bounded by the number of
 * open flows (itself bounded by max_flows; past it the least recently
 * active flow is ended).  Flows end when their socket closes, after FIN
 * both ways or a RST plus a grace, after the idle time of their
 * protocol, or when flowd stops.  An unlabelled flow that ends waits
 * label_grace for late socket news before its row is written.
 *
 * Time is the records' time, never the wall clock: the same input gives
 * the same flows, and timers fire between records.
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "flowd.h"

#define FLOW_BUCKETS_MIN	65536
#define FLOW_BUCKETS_MAX	(1U << 22)

static const char *const end_names[] = {
	"open", "closed", "fin", "rst", "idle", "shutdown", "eof",
	"evicted", "restart", "reused"
};

const char *
end_reason_name(int r)
{
	if (r < 0 || r > END_REUSED)
		return "open";
	return end_names[r];
}

uint64_t
flow_key_hash(const struct flow_key *k)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL, w;
	size_t i;

	for (i = 0; i < sizeof(*k); i += 8) {
		memcpy(&w, (const uint8_t *)k + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return h;
}

void
flow_init(struct flowd *fd)
{
	int i;

	fd->nbuckets = FLOW_BUCKETS_MIN;
	if ((fd->buckets = calloc(fd->nbuckets, sizeof(*fd->buckets))) ==
	    NULL)
		fatal("calloc");
	for (i = 0; i < TC__MAX; i++)
		TAILQ_INIT(&fd->idle[i]);
	TAILQ_INIT(&fd->closing);
	TAILQ_INIT(&fd->pending);
	fd->next_id = 1;
}

/* Double the buckets while the table grows, to keep chains short. */
static void
flow_grow(struct flowd *fd)
{
	struct flow **nb, *f, *next;
	uint64_t n = fd->nbuckets * 2, i, b;

	if (n > FLOW_BUCKETS_MAX || (nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < fd->nbuckets; i++)
		for (f = fd->buckets[i]; f != NULL; f = next) {
			next = f->hnext;
			b = flow_key_hash(&f->key) & (n - 1);
			f->hnext = nb[b];
			nb[b] = f;
		}
	free(fd->buckets);
	fd->buckets = nb;
	fd->nbuckets = n;
}

struct flow *
flow_find(struct flowd *fd, const struct flow_key *k)
{
	struct flow *f;

	for (f = fd->buckets[flow_key_hash(k) & (fd->nbuckets - 1)];
	    f != NULL; f = f->hnext)
		if (memcmp(&f->key, k, sizeof(*k)) == 0)
			return f;
	return NULL;
}

static void
hash_remove(struct flowd *fd, struct flow *f)
{
	struct flow **pp;

	pp = &fd->buckets[flow_key_hash(&f->key) & (fd->nbuckets - 1)];
	for (; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == f) {
			*pp = f->hnext;
			return;
		}
	fatalx("flow %llu not in the table", (unsigned long long)f->id);
}

static void
flow_destroy(struct flowd *fd, struct flow *f)
{
	label_unlab_del(fd, f);
	free(f->exe);
	free(f);
	fd->nflows--;
}

/* Write the ended flow's last row, count it, and forget it. */
static void
flow_finish(struct flowd *fd, struct flow *f)
{
	if (f->state == FS_PENDING)
		TAILQ_REMOVE(&fd->pending, f, tlink);
	fd->cnt.flows_ended++;
	if ((f->flags & FF_EXCLUDED) == 0) {
		if (f->label_src != LSRC_NONE)
			fd->cnt.flows_labelled++;
		batch_flow_end(fd, f);
		appstats_flow(fd, f);
	}
	flow_destroy(fd, f);
}

/*
 * End a flow: out of the table at once, so the next packet on its
 * 5-tuple starts a new flow; its row waits for a label if it has none.
 * The wait runs from when the flow was due to end, not from when a
 * timer saw it (which depends on what came next), so that live and
 * replay give the same late news the same chance.
 */
static void
flow_end(struct flowd *fd, struct flow *f, int reason, int wait)
{
	uint64_t due = fd->now_us;

	hash_remove(fd, f);
	TAILQ_REMOVE(&fd->idle[f->tclass], f, tlink);
	if ((f->flags & FF_CLOSING) != 0) {
		TAILQ_REMOVE(&fd->closing, f, clink);
		f->flags &= (uint16_t)~FF_CLOSING;
		due = f->deadline_us;
	} else if (reason == END_IDLE)
		due = f->last_us + fd->conf.idle_us[f->tclass];
	if (due > fd->now_us)
		due = fd->now_us;
	f->end_reason = (uint8_t)reason;
	f->end_us = f->last_us;
	if (wait && (f->flags & FF_UNLAB) != 0 &&
	    (f->flags & FF_EXCLUDED) == 0 && fd->conf.label_grace_us > 0) {
		f->state = FS_PENDING;
		f->deadline_us = due + fd->conf.label_grace_us;
		TAILQ_INSERT_TAIL(&fd->pending, f, tlink);
		return;
	}
	flow_finish(fd, f);
}

/*
 * Schedule the end of a flow at deadline; the earliest end wins, not
 * the first read: live, sockd's close of a socket is read before the
 * FIN still in capd's buffer, which a replay (in time order) reads
 * first.
 */
static void
flow_closing(struct flowd *fd, struct flow *f, int reason, uint64_t deadline)
{
	struct flow *p;

	if ((f->flags & FF_CLOSING) != 0) {
		if (deadline >= f->deadline_us)
			return;
		TAILQ_REMOVE(&fd->closing, f, clink);
	}
	f->flags |= FF_CLOSING;
	f->close_reason = (uint8_t)reason;
	f->deadline_us = deadline;
	/* Nearly always the tail: streams are in time order. */
	for (p = TAILQ_LAST(&fd->closing, flowq); p != NULL &&
	    p->deadline_us > deadline; p = TAILQ_PREV(p, flowq, clink))
		;
	if (p == NULL)
		TAILQ_INSERT_HEAD(&fd->closing, f, clink);
	else
		TAILQ_INSERT_AFTER(&fd->closing, p, f, clink);
}

static int
tclass_of(uint8_t proto)
{
	if (proto == IPPROTO_TCP_NUM)
		return TC_TCP;
	if (proto == IPPROTO_UDP_NUM)
		return TC_UDP;
	return TC_OTHER;
}

static int
is_self_addr(const struct flowd *fd, const struct flow_key *k)
{
	const struct flowd_conf *c = &fd->conf;

	return c->exclude_self && c->self_ipver == k->ipver &&
	    k->rport == c->self_port &&
	    memcmp(k->raddr, c->self_addr, 16) == 0;
}

/* The flow's owner is now known (label.c): exclude or write it. */
void
flow_labelled(struct flowd *fd, struct flow *f)
{
	if (fd->conf.exclude_self && (f->flags & FF_EXCLUDED) == 0 &&
	    label_is_self(f)) {
		f->flags |= FF_EXCLUDED;
		fd->cnt.excluded_flows++;
		batch_forget(fd, f);
	}
	if (f->state == FS_PENDING)
		flow_finish(fd, f);
}

static void
send_lookup(struct flowd *fd, struct flow *f)
{
	struct lookup_rec l;

	memset(&l, 0, sizeof(l));
	l.ts_us = f->start_us;
	l.id = (uint32_t)f->id;
	l.ipver = f->key.ipver;
	l.proto = f->key.proto;
	l.lport = f->key.lport;
	l.rport = f->key.rport;
	memcpy(l.laddr, f->key.laddr, 16);
	memcpy(l.raddr, f->key.raddr, 16);
	f->flags |= FF_LOOKUP;
	fd->cnt.lookups++;
	fd->lookup(fd->lookup_arg, &l);
}

static struct flow *
flow_new(struct flowd *fd, const struct flow_key *k, const struct pkt_rec *p)
{
	struct flow *f, *victim;
	uint64_t b;
	int i;

	while (fd->nflows >= fd->conf.max_flows) {
		victim = NULL;
		for (i = 0; i < TC__MAX; i++) {
			f = TAILQ_FIRST(&fd->idle[i]);
			if (f != NULL && (victim == NULL ||
			    f->last_us < victim->last_us))
				victim = f;
		}
		if (victim == NULL) {
			/* only pending flows left: write the oldest */
			if ((victim = TAILQ_FIRST(&fd->pending)) == NULL)
				fatalx("flow table full of nothing");
			flow_finish(fd, victim);
			continue;
		}
		fd->cnt.flows_evicted++;
		flow_end(fd, victim, END_EVICTED, 0);
	}
	if (fd->nflows >= fd->nbuckets * 2)
		flow_grow(fd);
	if ((f = calloc(1, sizeof(*f))) == NULL)
		fatal("calloc");
	f->key = *k;
	f->id = (uint64_t)fd->conf.run << 40 | fd->next_id++;
	f->start_us = f->last_us = p->ts_us;
	f->pid = -1;
	f->iface = p->iface;
	f->state = FS_ACTIVE;
	f->tclass = (uint8_t)tclass_of(k->proto);
	b = flow_key_hash(k) & (fd->nbuckets - 1);
	f->hnext = fd->buckets[b];
	fd->buckets[b] = f;
	TAILQ_INSERT_TAIL(&fd->idle[f->tclass], f, tlink);
	fd->nflows++;
	fd->cnt.flows++;
	if (k->proto == IPPROTO_TCP_NUM || k->proto == IPPROTO_UDP_NUM)
		fd->newflow_us[k->proto == IPPROTO_UDP_NUM] = p->ts_us;
	if (is_self_addr(fd, k)) {
		f->flags |= FF_EXCLUDED;
		fd->cnt.excluded_flows++;
	}
	if (label_flow(fd, f)) {
		if (fd->conf.exclude_self && (f->flags & FF_EXCLUDED) == 0 &&
		    label_is_self(f)) {
			f->flags |= FF_EXCLUDED;
			fd->cnt.excluded_flows++;
		}
	} else if (fd->lookup != NULL && (f->flags & FF_UNLAB) != 0)
		send_lookup(fd, f);
	return f;
}

static void
key_from(struct flow_key *k, const struct pkt_rec *p, int src_local)
{
	size_t n = p->ipver == 4 ? 4 : 16;

	memset(k, 0, sizeof(*k));
	k->ipver = p->ipver;
	k->proto = p->proto;
	if (src_local) {
		memcpy(k->laddr, p->src, n);
		memcpy(k->raddr, p->dst, n);
		k->lport = p->sport;
		k->rport = p->dport;
	} else {
		memcpy(k->laddr, p->dst, n);
		memcpy(k->raddr, p->src, n);
		k->lport = p->dport;
		k->rport = p->sport;
	}
}

/* One packet: find or start its flow, count it, stream it out. */
void
flow_packet(struct flowd *fd, const struct pkt_rec *p)
{
	struct flow_key k;
	struct flow *f;
	uint64_t rel;
	int out;

	if ((p->ipver != 4 && p->ipver != 6) || p->dir > DIR_UNKNOWN) {
		fd->cnt.bad_records++;
		return;
	}
	fd->cnt.packets++;
	out = p->dir != DIR_IN;
	key_from(&k, p, out);
	f = flow_find(fd, &k);
	if (f == NULL && p->dir == DIR_UNKNOWN) {
		/* no local networks known: the first sender is local */
		key_from(&k, p, 0);
		if ((f = flow_find(fd, &k)) != NULL)
			out = 0;
		else
			key_from(&k, p, 1);
	}
	/* A new connection on a 5-tuple whose flow is closing. */
	if (f != NULL && (f->flags & FF_CLOSING) != 0 &&
	    p->proto == IPPROTO_TCP_NUM &&
	    (p->tcpflags & (TH_SYN | TH_ACK)) == TH_SYN) {
		flow_end(fd, f, f->close_reason, 1);
		f = NULL;
		if (p->dir == DIR_UNKNOWN) {
			out = 1;
			key_from(&k, p, 1);
		}
	}
	if (f == NULL)
		f = flow_new(fd, &k, p);

	rel = f->pkts > 0 && p->ts_us > f->last_us ? p->ts_us - f->last_us : 0;
	if (out) {
		f->pkts_out++;
		f->bytes_out += p->iplen;
	} else
		f->bytes_in += p->iplen;
	if (p->ts_us > f->last_us)
		f->last_us = p->ts_us;
	f->pkts++;
	TAILQ_REMOVE(&fd->idle[f->tclass], f, tlink);
	TAILQ_INSERT_TAIL(&fd->idle[f->tclass], f, tlink);
	if ((f->flags & FF_EXCLUDED) == 0)
		batch_packet(fd, f, p, out, rel);
	else
		fd->cnt.excluded_packets++;

	if (p->proto != IPPROTO_TCP_NUM)
		return;
	if ((p->tcpflags & TH_FIN) != 0)
		f->flags |= out ? FF_FIN_OUT : FF_FIN_IN;
	if ((p->tcpflags & TH_RST) != 0)
		flow_closing(fd, f, END_RST, p->ts_us + fd->conf.fin_grace_us);
	else if ((f->flags & (FF_FIN_OUT | FF_FIN_IN)) ==
	    (FF_FIN_OUT | FF_FIN_IN))
		flow_closing(fd, f, END_FIN, p->ts_us + fd->conf.fin_grace_us);
}

/* sockd says a TCP socket closed: its flow ends after the grace. */
void
flow_sock_closed(struct flowd *fd, const struct flow_key *k, uint64_t ts)
{
	struct flow *f;

	if ((f = flow_find(fd, k)) != NULL)
		flow_closing(fd, f, END_CLOSED, ts + fd->conf.fin_grace_us);
}

/* Fire every timer due at now: idle, closing, label grace. */
void
flow_expire(struct flowd *fd, uint64_t now)
{
	struct flow *f;
	int i;

	if (now > fd->now_us)
		fd->now_us = now;
	now = fd->now_us;
	for (i = 0; i < TC__MAX; i++)
		while ((f = TAILQ_FIRST(&fd->idle[i])) != NULL &&
		    f->last_us + fd->conf.idle_us[i] <= now)
			flow_end(fd, f, END_IDLE, 1);
	while ((f = TAILQ_FIRST(&fd->closing)) != NULL &&
	    f->deadline_us <= now)
		flow_end(fd, f, f->close_reason, 1);
	while ((f = TAILQ_FIRST(&fd->pending)) != NULL &&
	    f->deadline_us <= now)
		flow_finish(fd, f);
	label_expire(fd, now);
}

/*
 * End every flow (shutdown, end of input) and write those waiting for
 * a label: nothing more will come.
 */
void
flow_end_all(struct flowd *fd, int reason)
{
	struct flow *f;
	int i;

	for (i = 0; i < TC__MAX; i++)
		while ((f = TAILQ_FIRST(&fd->idle[i])) != NULL)
			flow_end(fd, f, (f->flags & FF_CLOSING) != 0 ?
			    f->close_reason : reason, 0);
	while ((f = TAILQ_FIRST(&fd->pending)) != NULL)
		flow_finish(fd, f);
}

/* Free the table without writing anything (after a fatal error). */
void
flow_free_all(struct flowd *fd)
{
	struct flow *f, *next;
	uint64_t i;

	for (i = 0; i < fd->nbuckets; i++)
		for (f = fd->buckets[i]; f != NULL; f = next) {
			next = f->hnext;
			free(f->exe);
			free(f);
		}
	while ((f = TAILQ_FIRST(&fd->pending)) != NULL) {
		TAILQ_REMOVE(&fd->pending, f, tlink);
		free(f->exe);
		free(f);
	}
	free(fd->buckets);
	fd->buckets = NULL;
	free(fd->unlab);
	fd->unlab = NULL;
	fd->nflows = 0;
}
