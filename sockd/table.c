/*
 * table.c: the sockets sockd knows, in sockd.  Keyed by the kernel's
 * socket cookie, which names one socket for its whole life and is in
 * dumps, destroy events and query replies alike.  A socket first seen
 * (in a dump or by a look-up) is an open event with its owner; one that
 * a destroy event reports, or that a dump no longer shows, is a close
 * event with the owner it had.  Closed sockets are kept for a while
 * (the last 2,048, shared fairly between users), so that a look-up that
 * comes just after a short connection closed is still answered.
 *
 * Trusts: the backends' records.
 */

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "sockd.h"

struct sock_ent {
	struct sock_rec	 rec;
	uint32_t	 gen;		/* last dump that showed it */
	uint32_t	 missed;	/* dumps in a row that did not */
};

#define CLOSED_MAX	2048		/* the recently closed */
#define LOOKUP_MAX	4

static struct hmap	 socks;		/* cookie -> struct sock_ent */
static struct hmap	 listeners;	/* proto << 16 | lport -> pid */
static uint32_t		 gen;
static uint32_t		 miss_max = 1;	/* 2 with destroy events */
/*
 * The recently closed, CLOSED_MAX slots.  Each record is cut after its
 * exe path's NUL (exe is the last member of struct sock_rec): a whole
 * one is over 1 kB, most of it an empty path buffer, and a full set of
 * them was 2.3 MB, faulted in page by page (adding was 8% of sockd's
 * samples in the lab's steady run, most of it page faults).  Only
 * closed_get() reads one out, whole.
 *
 * Each record is in two lists by age: all of them, and those of its
 * owner (its uid; the records of sockets closed before anyone named
 * their owner share one more list).  When the slots are full, the
 * oldest record of the owner that holds the most goes.  One owner alone
 * has every slot, as in a ring; but a user who opens and closes sockets
 * by the thousand pushes out only their own records, never another
 * user's, which a ring let any local user do to everyone's.
 */
#define NIL		UINT32_MAX
#define UNNAMED		((uint64_t)1 << 32)	/* owner key: no owner yet */

struct closed_slot {
	struct sock_rec	*rec;
	uint64_t	 key;		/* owner: uid, or UNNAMED */
	uint64_t	 seq;		/* order of adding */
	uint32_t	 prev, next;	/* all, oldest first */
	uint32_t	 oprev, onext;	/* this owner's, oldest first */
};

struct closed_owner {
	uint32_t	 head, tail;	/* oldest, newest */
	uint32_t	 n;
};

static struct closed_slot	*closed;	/* CLOSED_MAX */
static uint32_t			 closed_head = NIL, closed_tail = NIL;
static uint32_t			 closed_n;
static uint64_t			 closed_seq;
static struct hmap		 closed_owners;	/* key -> closed_owner */
/*
 * cookie -> 1 + the slot of its newest record in closed.  Every eBPF
 * record of a socket the table lacks asks whether it closed already: a
 * walk of them all was 2,048 records of 1 kB (the exe path) to read.
 */
static struct hmap	 closed_ix;

static int	 closed_find(const struct lookup_rec *, uint64_t,
		    struct sock_rec *);
static long	 closed_cookie(uint64_t);
static void	 copy_owner(struct sock_rec *, const struct sock_rec *);

/* new sockets of the dump in progress */
static struct sock_ent	**fresh;
static size_t		  nfresh, capfresh;
static int		  in_dump;	/* fresh[] points into socks */

/*
 * With destroy events, a socket a dump no longer shows is closed by the
 * next dump only: its destroy event (sent from a kernel work queue) may
 * still be on its way, and it is the better report.
 */
void
table_init(int destroy_events)
{
	miss_max = destroy_events ? 2 : 1;
	hmap_init(&socks);
	hmap_init(&listeners);
	hmap_init(&closed_ix);
	hmap_init(&closed_owners);
	if ((closed = calloc(CLOSED_MAX, sizeof(*closed))) == NULL)
		fatal("table_init");
}

size_t
table_count(void)
{
	return socks.n;
}

/* A listener, or an unconnected UDP socket: owner of its port. */
static int
is_listener(const struct sock_rec *r)
{
	if (r->proto == IPPROTO_TCP)
		return r->state == SOCK_TCP_LISTEN;
	return r->rport == 0;
}

static uint64_t
listen_key(const struct sock_rec *r)
{
	return (uint64_t)r->proto << 16 | r->lport;
}

static void
listen_note(const struct sock_rec *r)
{
	if (is_listener(r) && r->pid > 0)
		hmap_put(&listeners, listen_key(r), (void *)(uintptr_t)r->pid);
}

static int
hint_for(const struct sock_rec *r)
{
	uintptr_t	pid;

	pid = (uintptr_t)hmap_get(&listeners, listen_key(r));
	return pid != 0 ? (int)pid : -1;
}

/* A copy of r cut after its exe's NUL. */
static struct sock_rec *
closed_cut(const struct sock_rec *r)
{
	struct sock_rec	*c;
	size_t		 len = strnlen(r->exe, sizeof(r->exe) - 1);
	size_t		 n = offsetof(struct sock_rec, exe) + len + 1;

	if ((c = malloc(n)) == NULL)
		fatal("closed_cut");
	memcpy(c, r, n - 1);
	c->exe[len] = '\0';
	return c;
}

/* The closed record in slot k, whole, into out. */
static void
closed_get(size_t k, struct sock_rec *out)
{
	const struct sock_rec *c = closed[k].rec;

	memset(out, 0, sizeof(*out));
	memcpy(out, c, offsetof(struct sock_rec, exe) + strlen(c->exe) + 1);
}

static uint64_t
closed_key(const struct sock_rec *r)
{
	return r->pid != -1 ? (uint64_t)r->uid : UNNAMED;
}

/*
 * Put slot k in its owner's list, after the newest of them added before
 * it (at the end, but for a record whose owner was learnt late).
 */
static void
owner_link(uint32_t k)
{
	struct closed_slot	*c = &closed[k];
	struct closed_owner	*o;
	uint32_t		 after;

	if ((o = hmap_get(&closed_owners, c->key)) == NULL) {
		if ((o = malloc(sizeof(*o))) == NULL)
			fatal("closed owner");
		o->head = o->tail = NIL;
		o->n = 0;
		hmap_put(&closed_owners, c->key, o);
	}
	for (after = o->tail; after != NIL && closed[after].seq > c->seq;
	    after = closed[after].oprev)
		;
	c->oprev = after;
	c->onext = after == NIL ? o->head : closed[after].onext;
	if (c->onext == NIL)
		o->tail = k;
	else
		closed[c->onext].oprev = k;
	if (after == NIL)
		o->head = k;
	else
		closed[after].onext = k;
	o->n++;
}

static void
owner_unlink(uint32_t k)
{
	struct closed_slot	*c = &closed[k];
	struct closed_owner	*o = hmap_get(&closed_owners, c->key);

	if (c->oprev == NIL)
		o->head = c->onext;
	else
		closed[c->oprev].onext = c->onext;
	if (c->onext == NIL)
		o->tail = c->oprev;
	else
		closed[c->onext].oprev = c->oprev;
	if (--o->n == 0)
		free(hmap_del(&closed_owners, c->key));
}

struct biggest {
	uint32_t	 n, head;
};

/* The owner with the most records; of equals, the one with the oldest. */
static int
biggest_one(uint64_t key, void *val, void *arg)
{
	const struct closed_owner	*o = val;
	struct biggest			*b = arg;

	(void)key;
	if (o->n > b->n || (o->n == b->n &&
	    closed[o->head].seq < closed[b->head].seq)) {
		b->n = o->n;
		b->head = o->head;
	}
	return 0;
}

/* Empty the slot of the oldest record of the owner that holds the most. */
static uint32_t
closed_evict(void)
{
	struct biggest	 b = { 0, NIL };
	struct closed_slot *c;
	uint32_t	 k;

	/* One owner alone (the usual case): its oldest is the oldest. */
	k = closed_head;
	if (((struct closed_owner *)hmap_get(&closed_owners,
	    closed[k].key))->n != closed_n) {
		hmap_walk(&closed_owners, biggest_one, &b);
		k = b.head;
	}
	c = &closed[k];
	if (c->rec->cookie != 0 &&
	    (uintptr_t)hmap_get(&closed_ix, c->rec->cookie) == k + 1)
		hmap_del(&closed_ix, c->rec->cookie);
	owner_unlink(k);
	if (c->prev == NIL)
		closed_head = c->next;
	else
		closed[c->prev].next = c->next;
	if (c->next == NIL)
		closed_tail = c->prev;
	else
		closed[c->next].prev = c->prev;
	free(c->rec);
	c->rec = NULL;
	closed_n--;
	return k;
}

static void
closed_add(const struct sock_rec *r)
{
	struct closed_slot	*c;
	uint32_t		 k;

	/* Slots fill in order; after that each add follows an eviction. */
	k = closed_n < CLOSED_MAX ? closed_n : closed_evict();
	c = &closed[k];
	c->rec = closed_cut(r);
	c->key = closed_key(r);
	c->seq = ++closed_seq;
	c->prev = closed_tail;
	c->next = NIL;
	if (closed_tail == NIL)
		closed_head = k;
	else
		closed[closed_tail].next = k;
	closed_tail = k;
	owner_link(k);
	closed_n++;
	if (r->cookie != 0)
		hmap_put(&closed_ix, r->cookie, (void *)(uintptr_t)(k + 1));
}

/* The closed record in slot k learns its owner from r. */
static void
closed_name(uint32_t k, const struct sock_rec *r)
{
	struct sock_rec	 c;

	closed_get(k, &c);
	copy_owner(&c, r);
	c.uid = r->uid;
	free(closed[k].rec);
	closed[k].rec = closed_cut(&c);
	owner_unlink(k);
	closed[k].key = closed_key(&c);
	owner_link(k);
}

/* Forget a socket: a close event with its last owner. */
static void
sock_gone(struct sock_ent *e, const struct sock_rec *kern, int source)
{
	struct sock_rec	*r = &e->rec;

	if (kern != NULL) {
		/*
		 * What the kernel said last, with the owner we knew.  Not
		 * its uid: a socket detached from its file reads as root.
		 */
		r->ts_us = kern->ts_us;
		r->state = kern->state;
	} else
		r->ts_us = now_us();
	r->event = SOCK_CLOSE;
	r->source = (uint8_t)source;
	if (is_listener(r) && hint_for(r) == r->pid)
		hmap_del(&listeners, listen_key(r));
	emit_sock(r);
	closed_add(r);
	owner_forget(r);
	if (source == SRC_DESTROY)
		stats.closes_destroy++;
	else
		stats.closes_dump++;
	free(e);
}

static struct sock_ent *
sock_new(const struct sock_rec *r)
{
	struct sock_ent	*e;

	if ((e = malloc(sizeof(*e))) == NULL)
		fatal("sock_new");
	e->rec = *r;
	e->gen = gen;
	e->missed = 0;
	hmap_put(&socks, r->cookie, e);
	return e;
}

static void
dump_one(void *arg, struct sock_rec *r)
{
	struct sock_ent	*e;

	(void)arg;
	if ((e = hmap_get(&socks, r->cookie)) != NULL) {
		e->gen = gen;
		e->missed = 0;
		e->rec.state = r->state;
		/* A UDP socket that connected since: its peer now. */
		e->rec.rport = r->rport;
		memcpy(e->rec.raddr, r->raddr, sizeof(r->raddr));
		return;
	}
	/* Closed by its process before we saw it: destroy will report. */
	if (r->inode == 0)
		return;
	if (nfresh == capfresh) {
		capfresh = capfresh ? capfresh * 2 : 256;
		if ((fresh = reallocarray(fresh, capfresh,
		    sizeof(*fresh))) == NULL)
			fatal("dump_one");
	}
	fresh[nfresh++] = sock_new(r);
}

static int
sweep_gone(uint64_t key, void *val, void *arg)
{
	struct sock_ent	*e = val;

	(void)key;
	(void)arg;
	if (e->gen == gen || ++e->missed < miss_max)
		return 0;
	sock_gone(e, NULL, SRC_DUMP);
	return 1;
}

static int
snap_one(uint64_t key, void *val, void *arg)
{
	struct sock_ent	*e = val;

	(void)key;
	(void)arg;
	if (e->rec.event == SOCK_SNAPSHOT)
		return 0;	/* new in this dump: already emitted */
	e->rec.ts_us = now_us();
	e->rec.event = SOCK_SNAPSHOT;
	e->rec.source = SRC_DUMP;
	emit_sock(&e->rec);
	return 0;
}

static int
snap_reset(uint64_t key, void *val, void *arg)
{
	struct sock_ent	*e = val;

	(void)key;
	(void)arg;
	e->rec.event = SOCK_OPEN;
	return 0;
}

/*
 * One full dump: new sockets get their owners (one sweep for all of
 * them) and an open event, or a snapshot event when snapshot is set, in
 * which case every known socket is reported too.  Sockets the dump no
 * longer shows are closed.
 */
void
table_dump(int snapshot)
{
	struct sock_rec	**v;
	uint64_t	  t0 = mono_us(), dt;
	size_t		  i;

	gen++;
	nfresh = 0;
	if (backend_dump(dump_one, NULL) == -1)
		fatal("socket dump");
	/* A look-up waiting now must not wait for this dump's owners. */
	if (nfresh > 0) {
		in_dump = 1;
		sockd_lookups_pending();
		in_dump = 0;
	}
	if (nfresh > 0) {
		if ((v = calloc(nfresh, sizeof(*v))) == NULL)
			fatal("table_dump");
		for (i = 0; i < nfresh; i++)
			v[i] = &fresh[i]->rec;
		owner_resolve(v, nfresh, -1);
		free(v);
		for (i = 0; i < nfresh; i++) {
			fresh[i]->rec.event = snapshot ? SOCK_SNAPSHOT :
			    SOCK_OPEN;
			fresh[i]->rec.source = SRC_DUMP;
			listen_note(&fresh[i]->rec);
			emit_sock(&fresh[i]->rec);
		}
		stats.opens += nfresh;
	}
	hmap_walk(&socks, sweep_gone, NULL);
	if (snapshot) {
		hmap_walk(&socks, snap_one, NULL);
		hmap_walk(&socks, snap_reset, NULL);
	}
	stats.sockets = socks.n;
	stats.dumps++;
	dt = mono_us() - t0;
	stats.dump_us_last = dt;
	if (dt > stats.dump_us_max)
		stats.dump_us_max = dt;
}

void
table_destroy(struct sock_rec *r)
{
	struct sock_ent	*e;

	if ((e = hmap_del(&socks, r->cookie)) != NULL) {
		sock_gone(e, r, SRC_DESTROY);
		return;
	}
	/* Closed by a dump already: the first report stands. */
	if (closed_cookie(r->cookie) != -1) {
		stats.destroy_late++;
		return;
	}
	/*
	 * Never bound (local port 0): it never sent, connected or
	 * listened, so no flow is its.  Programs open such sockets for
	 * their ioctls, and resolvers some that they close unused.  Not a
	 * sign that the events missed a socket, which would bring the
	 * dumps back to their shortest interval, and nothing for flowd.
	 */
	if (r->lport == 0) {
		stats.destroy_unbound++;
		return;
	}
	/* Never seen: all the kernel still knows, no owner. */
	stats.destroy_unknown++;
	stats.closes_destroy++;
	emit_sock(r);
	closed_add(r);
}

/*
 * A socket the eBPF backend saw send or connect, with its owner.  New:
 * an open event.  Known without an owner (a dump that could not name
 * it): the owner is added.  Already closed without one (its destroy
 * event came first): the closed record learns it, so that look-ups
 * find it, and the open event still goes out.
 */
void
table_ebpf(struct sock_rec *r)
{
	struct sock_ent	*e;
	long		 k;

	if ((e = hmap_get(&socks, r->cookie)) != NULL) {
		if (e->rec.pid == -1) {
			copy_owner(&e->rec, r);
			if (e->rec.inode == 0)
				e->rec.inode = r->inode;
			listen_note(&e->rec);
		}
		return;
	}
	if ((k = closed_cookie(r->cookie)) != -1) {
		if (closed[k].rec->pid != -1)
			return;
		closed_name((uint32_t)k, r);
	}
	stats.ebpf_opens++;
	stats.opens++;
	emit_sock(r);
	if (k != -1)
		return;
	sock_new(r);
	listen_note(r);
	stats.sockets = socks.n;
}

static int
addr_eq(const uint8_t *a, const uint8_t *b, int ipver)
{
	return memcmp(a, b, ipver == 4 ? 4 : 16) == 0;
}

static int
addr_any(const uint8_t *a)
{
	static const uint8_t	zero[16];

	return memcmp(a, zero, sizeof(zero)) == 0;
}

/* Does a socket serve this look-up?  Unconnected UDP: any remote. */
static int
rec_matches(const struct sock_rec *r, const struct lookup_rec *q)
{
	if (r->proto != q->proto || r->ipver != q->ipver ||
	    r->lport != q->lport)
		return 0;
	if (!addr_any(r->laddr) && !addr_eq(r->laddr, q->laddr, q->ipver))
		return 0;
	if (q->rport == 0 || r->rport == 0)
		return q->proto == IPPROTO_UDP || r->state == SOCK_TCP_LISTEN;
	return r->rport == q->rport && addr_eq(r->raddr, q->raddr, q->ipver);
}

/*
 * The slot of the newest closed record with an owner that serves the
 * look-up, or -1; with exact, only one connected to the look-up's very
 * remote end.
 */
static long
closed_match(const struct lookup_rec *q, int exact)
{
	const struct sock_rec	*c;
	uint32_t		 k;

	/* rec_matches reads none of a cut record's exe */
	for (k = closed_tail; k != NIL; k = closed[k].prev) {
		c = closed[k].rec;
		if (c->pid != -1 && (!exact || c->rport != 0) &&
		    rec_matches(c, q))
			return (long)k;
	}
	return -1;
}

/*
 * The newest closed record of the socket with this cookie, or without
 * one, the newest with an owner that serves the look-up: 1 with it in
 * out, else 0.
 */
static int
closed_find(const struct lookup_rec *q, uint64_t cookie,
    struct sock_rec *out)
{
	long	c;

	if (cookie != 0) {
		if ((c = closed_cookie(cookie)) == -1)
			return 0;
		closed_get((size_t)c, out);
		return 1;
	}
	if ((c = closed_match(q, 0)) == -1)
		return 0;
	closed_get((size_t)c, out);
	return 1;
}

/* The slot of the newest closed record of a socket, or -1. */
static long
closed_cookie(uint64_t cookie)
{
	uintptr_t k;

	if (cookie == 0 || (k = (uintptr_t)hmap_get(&closed_ix, cookie)) == 0 ||
	    closed[k - 1].rec->cookie != cookie)
		return -1;
	return (long)k - 1;
}

static void
copy_owner(struct sock_rec *to, const struct sock_rec *from)
{
	to->pid = from->pid;
	memcpy(to->comm, from->comm, sizeof(to->comm));
	memcpy(to->exe, from->exe, sizeof(to->exe));
}

/*
 * Answer a look-up: ask the kernel for exactly this socket, then name
 * its owner from the table, the cache, or a sweep.  A socket the kernel
 * no longer has is looked for among the recently closed.  When the
 * kernel has only a socket on the same local port for any remote (an
 * unconnected UDP socket, a TCP listener), a closed socket that was
 * connected to exactly this remote end answers first: the flow was
 * its, and whoever binds a port its owner just let go must not inherit
 * the flow.
 */
void
table_lookup(const struct lookup_rec *q, struct answer_rec *ans)
{
	struct sock_rec		 found[LOOKUP_MAX], *r, *v[1], c;
	struct sock_ent		*e;
	long			 k;
	int			 n;

	stats.lookups++;
	ans->id = q->id;
	ans->found = 0;
	memset(&ans->sock, 0, sizeof(ans->sock));
	ans->sock.pid = -1;
	if ((n = backend_lookup(q, found, LOOKUP_MAX)) == -1) {
		log_warn("look-up %u", q->id);
		n = 0;
	}
	/* Not (or not only) the exact socket: the closed may know it. */
	if ((n == 0 || (q->rport != 0 && found[0].rport == 0)) && !in_dump)
		sockd_news();
	if ((n == 0 || (q->rport != 0 && found[0].rport == 0)) &&
	    (k = closed_match(q, n > 0)) != -1) {
		closed_get((size_t)k, &ans->sock);
		ans->found = 1;
		stats.lookups_found++;
		stats.lookups_closed++;
		return;
	}
	if (n == 0)
		return;
	r = &found[0];
	r->event = SOCK_OPEN;
	r->source = SRC_LOOKUP;
	if ((e = hmap_get(&socks, r->cookie)) != NULL) {
		if (e->rec.pid == -1 && e->rec.inode != 0) {
			v[0] = &e->rec;
			owner_resolve(v, 1, hint_for(&e->rec));
		}
		copy_owner(r, &e->rec);
		r->inode = e->rec.inode;
	} else if (r->inode == 0) {
		/* Time-wait or a connection not yet accepted. */
		if (closed_find(q, r->cookie, &c))
			copy_owner(r, &c);
		else if (n > 1 && found[1].inode != 0) {
			v[0] = &found[1];
			owner_resolve(v, 1, hint_for(&found[1]));
			copy_owner(r, &found[1]);
		}
	} else {
		v[0] = r;
		owner_resolve(v, 1, hint_for(r));
		e = sock_new(r);
		listen_note(r);
		emit_sock(r);
		stats.opens++;
		stats.sockets = socks.n;
	}
	ans->found = 1;
	ans->sock = *r;
	stats.lookups_found++;
}

void
table_snapshot(void)
{
	table_dump(1);
}
