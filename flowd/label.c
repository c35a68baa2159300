/*
 * label.c: flowd's socket table and the labelling of flows with the
 * process that owns them.  Runs in flowd.  Socket news comes from sockd
 * (events, dumps, destroy events, answers to look-ups); it is trusted to
 * say who owned a socket, nothing more: every field is copied with its
 * length checked and no value is used as an index.
 *
 * The table keeps open sockets and, for a while, closed ones: a short
 * flow is often over before flowd hears of its socket, and a closed
 * socket's record is what labels it.  TCP flows are labelled by the
 * exact 4-tuple's socket; UDP flows by the local address and port,
 * including sockets bound to the wildcard address, and by connected
 * sockets' remote end when they have one.  A socket only labels a flow
 * whose life overlaps its own.
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "flowd.h"

#define SOCK_BUCKETS_MIN 1024		/* power of two; doubled as needed */
#define SOCK_MAX	262144		/* entries, open and closed */
#define SOCK_KEEP_US	(120ULL * 1000000)	/* closed sockets */
#define SOCK_STALE_US	(3600ULL * 1000000)	/* open, no news */
#define SOCK_SLACK_US	(1000000ULL)	/* TCP: close vs. late packets */
#define UNLAB_BUCKETS	4096		/* power of two */
#define TCP_LISTEN	10		/* kernel TCP state */

struct sock_ent {
	struct flow_key		 key;
	struct sock_ent		*hnext;
	TAILQ_ENTRY(sock_ent)	 olink;		/* open (by news) or closed */
	uint64_t		 open_us;	/* first news, 0 unknown */
	uint64_t		 close_us;	/* 0 while open */
	uint64_t		 seen_us;
	uint64_t		 cookie, inode;
	char			*exe;
	int32_t			 pid;
	uint32_t		 uid;
	uint8_t			 src;		/* enum label_src */
	char			 comm[VBS_COMM_MAX];
};

TAILQ_HEAD(sockq, sock_ent);

struct socktab {
	struct sock_ent		**buckets;
	uint64_t		 nbuckets;	/* at least n, up to SOCK_MAX */
	struct sockq		 open;		/* oldest news first */
	struct sockq		 closed;	/* oldest close first */
	uint64_t		 n;
};

static const char *const lsrc_names[] = {
	"none", "event", "lookup", "dump", "destroy"
};

const char *
label_src_name(int s)
{
	if (s < 0 || s > LSRC_DESTROY)
		return "none";
	return lsrc_names[s];
}

struct socktab *
label_init(void)
{
	struct socktab *st;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	st->nbuckets = SOCK_BUCKETS_MIN;
	if ((st->buckets = calloc(st->nbuckets, sizeof(*st->buckets))) ==
	    NULL) {
		free(st);
		return NULL;
	}
	TAILQ_INIT(&st->open);
	TAILQ_INIT(&st->closed);
	return st;
}

static struct sock_ent **
sock_bucket(struct socktab *st, const struct flow_key *k)
{
	return &st->buckets[flow_key_hash(k) & (st->nbuckets - 1)];
}

/*
 * Double the buckets while the table grows.  A fixed 64 Ki of them made
 * a 512 kB array that every look-up and every forgotten socket touched
 * at random: a cache miss each, and resident pages for a few hundred
 * sockets.
 */
static void
sock_grow(struct socktab *st)
{
	struct sock_ent **nb, *e, *next;
	uint64_t n = st->nbuckets * 2, i, b;

	if (n > SOCK_MAX || (nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < st->nbuckets; i++)
		for (e = st->buckets[i]; e != NULL; e = next) {
			next = e->hnext;
			b = flow_key_hash(&e->key) & (n - 1);
			e->hnext = nb[b];
			nb[b] = e;
		}
	free(st->buckets);
	st->buckets = nb;
	st->nbuckets = n;
}

static void
sock_destroy(struct socktab *st, struct sock_ent *e)
{
	struct sock_ent **pp;

	for (pp = sock_bucket(st, &e->key); *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	if (e->close_us != 0)
		TAILQ_REMOVE(&st->closed, e, olink);
	else
		TAILQ_REMOVE(&st->open, e, olink);
	free(e->exe);
	free(e);
	st->n--;
}

void
label_free(struct socktab *st)
{
	struct sock_ent *e;

	if (st == NULL)
		return;
	while ((e = TAILQ_FIRST(&st->open)) != NULL)
		sock_destroy(st, e);
	while ((e = TAILQ_FIRST(&st->closed)) != NULL)
		sock_destroy(st, e);
	free(st->buckets);
	free(st);
}

uint64_t
label_nsockets(const struct socktab *st)
{
	return st->n;
}

/* Forget closed sockets past their keep time and open ones gone stale. */
void
label_expire(struct flowd *fd, uint64_t now)
{
	struct socktab *st = fd->st;
	struct sock_ent *e;

	while ((e = TAILQ_FIRST(&st->closed)) != NULL &&
	    e->close_us + SOCK_KEEP_US < now)
		sock_destroy(st, e);
	while ((e = TAILQ_FIRST(&st->open)) != NULL &&
	    e->seen_us + SOCK_STALE_US < now)
		sock_destroy(st, e);
}

static int
is_zero(const uint8_t *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != 0)
			return 0;
	return 1;
}

static int
is_v4mapped(const uint8_t *a)
{
	static const uint8_t pfx[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };

	return memcmp(a, pfx, 12) == 0;
}

/*
 * The key a socket labels flows with.  A dual-stack socket that talks
 * IPv4 shows v4-mapped addresses; capd shows the packets as IPv4, so the
 * socket is keyed as IPv4.
 */
static int
sock_key(const struct sock_rec *s, struct flow_key *k)
{
	memset(k, 0, sizeof(*k));
	if ((s->ipver != 4 && s->ipver != 6) ||
	    (s->proto != IPPROTO_TCP_NUM && s->proto != IPPROTO_UDP_NUM))
		return -1;
	k->proto = s->proto;
	k->lport = s->lport;
	k->rport = s->rport;
	if (s->ipver == 6 && is_v4mapped(s->laddr) &&
	    (is_v4mapped(s->raddr) || is_zero(s->raddr, 16))) {
		k->ipver = 4;
		memcpy(k->laddr, s->laddr + 12, 4);
		if (!is_zero(s->raddr, 16))
			memcpy(k->raddr, s->raddr + 12, 4);
	} else {
		k->ipver = s->ipver;
		memcpy(k->laddr, s->laddr, s->ipver == 4 ? 4 : 16);
		memcpy(k->raddr, s->raddr, s->ipver == 4 ? 4 : 16);
	}
	return 0;
}

static int
lsrc_of(const struct sock_rec *s, int answer)
{
	if (answer)
		return LSRC_LOOKUP;
	switch (s->source) {
	case SRC_DUMP:
		return LSRC_DUMP;
	case SRC_DESTROY:
		return LSRC_DESTROY;
	case SRC_LOOKUP:
		return LSRC_LOOKUP;
	default:
		return LSRC_EVENT;
	}
}

static int
has_owner(const struct sock_ent *e)
{
	return e->comm[0] != '\0' || e->pid > 0;
}

/* Fill what the entry does not know yet from a record. */
static void
sock_fill(struct sock_ent *e, const struct sock_rec *s)
{
	if (e->cookie == 0)
		e->cookie = s->cookie;
	if (e->inode == 0)
		e->inode = s->inode;
	if (!has_owner(e) && (s->comm[0] != '\0' || s->pid > 0)) {
		memcpy(e->comm, s->comm, sizeof(e->comm));
		e->comm[sizeof(e->comm) - 1] = '\0';
		e->pid = s->pid;
		e->uid = s->uid;
		free(e->exe);
		e->exe = NULL;
		if (s->exe[0] != '\0')
			e->exe = strndup(s->exe, VBS_EXE_MAX - 1);
	}
}

/*
 * Does the entry describe the flow's socket?  TCP needs the exact
 * 4-tuple; UDP accepts a wildcard local address and an unconnected
 * socket; a dual-stack socket bound to :: hears IPv4 too.
 */
static int
sock_matches(const struct sock_ent *e, const struct flow *f)
{
	const struct flow_key *fk = &f->key, *ek = &e->key;

	if (ek->proto != fk->proto || ek->lport != fk->lport)
		return 0;
	if (!has_owner(e))
		return 0;
	if (fk->proto == IPPROTO_TCP_NUM) {
		if (ek->ipver != fk->ipver || ek->rport != fk->rport ||
		    memcmp(ek->laddr, fk->laddr, 16) != 0 ||
		    memcmp(ek->raddr, fk->raddr, 16) != 0)
			return 0;
		if (e->close_us != 0 && e->close_us + SOCK_SLACK_US <
		    f->start_us)
			return 0;
		return 1;
	}
	if (ek->ipver != fk->ipver && !(fk->ipver == 4 && ek->ipver == 6 &&
	    is_zero(ek->laddr, 16) && is_zero(ek->raddr, 16)))
		return 0;
	if (ek->ipver == fk->ipver && !is_zero(ek->laddr, 16) &&
	    memcmp(ek->laddr, fk->laddr, 16) != 0)
		return 0;
	if (ek->rport != 0 && (ek->rport != fk->rport ||
	    memcmp(ek->raddr, fk->raddr, 16) != 0))
		return 0;
	if (e->close_us != 0 && e->close_us < f->start_us)
		return 0;
	return 1;
}

static void
apply_label(struct flowd *fd, struct flow *f, const struct sock_ent *e,
    uint64_t when)
{
	memcpy(f->app, e->comm, sizeof(f->app));
	f->pid = e->pid;
	f->uid = e->uid;
	free(f->exe);
	f->exe = e->exe != NULL ? strdup(e->exe) : NULL;
	f->label_src = e->src;
	f->label_us = when > f->start_us ? when : f->start_us;
	if (e->key.proto == IPPROTO_UDP_NUM && e->key.rport == 0)
		f->flags |= FF_WILDLABEL;
	else
		f->flags &= ~FF_WILDLABEL;
	if ((f->flags & FF_UNLAB) != 0)
		label_unlab_del(fd, f);
}

/*
 * A UDP socket known with its peer (eBPF sees the first datagram's
 * addresses) names its flow better than an unconnected socket that
 * holds the same local port: ephemeral ports are reused, and a look-up
 * by port can find the next program's socket.  Such a flow is labelled
 * again from the exact socket.
 */
static void
label_exact(struct flowd *fd, const struct sock_ent *e, uint64_t ts)
{
	struct flow *f;

	if (e->key.proto != IPPROTO_UDP_NUM || e->key.rport == 0 ||
	    !has_owner(e) || (f = flow_find(fd, &e->key)) == NULL ||
	    (f->flags & FF_WILDLABEL) == 0 || !sock_matches(e, f))
		return;
	apply_label(fd, f, e, ts);
	f->flags |= FF_DIRTY;
}

/* Best entry under a key for this flow: an open one, else the last closed. */
static struct sock_ent *
probe(struct socktab *st, const struct flow_key *k, const struct flow *f)
{
	struct sock_ent *e, *best = NULL;

	for (e = *sock_bucket(st, k); e != NULL; e = e->hnext) {
		if (memcmp(&e->key, k, sizeof(*k)) != 0 || !sock_matches(e, f))
			continue;
		if (e->close_us == 0)
			return e;
		if (best == NULL || e->close_us > best->close_us)
			best = e;
	}
	return best;
}

/*
 * Label a flow from what the table knows now.  Returns 1 when labelled;
 * otherwise the flow goes on the unlabelled index, where socket news
 * will find it.
 */
int
label_flow(struct flowd *fd, struct flow *f)
{
	struct socktab *st = fd->st;
	struct sock_ent *e;
	struct flow_key k = f->key;

	if (f->key.proto != IPPROTO_TCP_NUM && f->key.proto != IPPROTO_UDP_NUM)
		return 0;
	e = probe(st, &k, f);
	if (e == NULL && k.proto == IPPROTO_UDP_NUM) {
		memset(k.raddr, 0, 16);
		k.rport = 0;
		if ((e = probe(st, &k, f)) == NULL) {
			memset(k.laddr, 0, 16);
			if ((e = probe(st, &k, f)) == NULL && k.ipver == 4) {
				k.ipver = 6;
				e = probe(st, &k, f);
			}
		}
	}
	if (e == NULL) {
		label_unlab_add(fd, f);
		return 0;
	}
	/*
	 * The label dates from the socket's first news (its close, when
	 * that was all), not from when flowd read it: live, flowd reads
	 * sockd's input before capd's, and a TCP socket's news (a round
	 * trip after its SYN) is often read before the SYN is.
	 */
	apply_label(fd, f, e, e->open_us != 0 ? e->open_us : e->close_us);
	return 1;
}

static struct flowq *
unlab_bucket(struct flowd *fd, uint8_t proto, uint16_t lport)
{
	return &fd->unlab[((uint64_t)proto * 65537 + lport) &
	    (fd->nunlab_buckets - 1)];
}

void
label_unlab_add(struct flowd *fd, struct flow *f)
{
	if (fd->unlab == NULL) {
		fd->nunlab_buckets = UNLAB_BUCKETS;
		if ((fd->unlab = calloc(UNLAB_BUCKETS,
		    sizeof(*fd->unlab))) == NULL)
			fatal("calloc");
		for (uint64_t i = 0; i < UNLAB_BUCKETS; i++)
			TAILQ_INIT(&fd->unlab[i]);
	}
	if ((f->flags & FF_UNLAB) != 0)
		return;
	TAILQ_INSERT_TAIL(unlab_bucket(fd, f->key.proto, f->key.lport), f,
	    ulink);
	f->flags |= FF_UNLAB;
}

void
label_unlab_del(struct flowd *fd, struct flow *f)
{
	if ((f->flags & FF_UNLAB) == 0)
		return;
	TAILQ_REMOVE(unlab_bucket(fd, f->key.proto, f->key.lport), f, ulink);
	f->flags &= (uint16_t)~FF_UNLAB;
}

/* The socket of VBS's own uploads: shipd, by name or executable. */
int
label_is_self(const struct flow *f)
{
	const char *b;

	if (strcmp(f->app, "shipd") == 0)
		return 1;
	if (f->exe != NULL) {
		b = strrchr(f->exe, '/');
		b = b != NULL ? b + 1 : f->exe;
		if (strcmp(b, "shipd") == 0)
			return 1;
	}
	return 0;
}

/*
 * Label every waiting flow this socket owns; an ended flow only with
 * news dated within its grace (its timer may not have fired yet).
 */
static void
label_waiting(struct flowd *fd, const struct sock_ent *e, uint64_t ts)
{
	struct flowq *q;
	struct flow *f, *next;

	if (fd->unlab == NULL || !has_owner(e))
		return;
	q = unlab_bucket(fd, e->key.proto, e->key.lport);
	for (f = TAILQ_FIRST(q); f != NULL; f = next) {
		next = TAILQ_NEXT(f, ulink);
		if (!sock_matches(e, f) ||
		    (f->state == FS_PENDING && ts > f->deadline_us))
			continue;
		apply_label(fd, f, e, ts);
		flow_labelled(fd, f);
	}
}

static struct sock_ent *
find_open(struct socktab *st, const struct flow_key *k)
{
	struct sock_ent *e;

	for (e = *sock_bucket(st, k); e != NULL; e = e->hnext)
		if (e->close_us == 0 && memcmp(&e->key, k, sizeof(*k)) == 0)
			return e;
	return NULL;
}

static struct sock_ent *
sock_new(struct flowd *fd, const struct flow_key *k, const struct sock_rec *s,
    int src)
{
	struct socktab *st = fd->st;
	struct sock_ent *e, **bp;

	/* Bounded: the oldest closed record goes first, then the stalest. */
	if (st->n >= SOCK_MAX) {
		if ((e = TAILQ_FIRST(&st->closed)) == NULL)
			e = TAILQ_FIRST(&st->open);
		if (e != NULL)
			sock_destroy(st, e);
	}
	if (st->n >= st->nbuckets)
		sock_grow(st);
	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatal("calloc");
	e->key = *k;
	e->pid = -1;
	e->src = (uint8_t)src;
	e->open_us = s->ts_us;
	e->seen_us = s->ts_us;
	sock_fill(e, s);
	bp = sock_bucket(st, k);
	e->hnext = *bp;
	*bp = e;
	TAILQ_INSERT_TAIL(&st->open, e, olink);
	st->n++;
	return e;
}

static void
sock_close(struct socktab *st, struct sock_ent *e, uint64_t ts)
{
	TAILQ_REMOVE(&st->open, e, olink);
	e->close_us = ts > 0 ? ts : 1;
	TAILQ_INSERT_TAIL(&st->closed, e, olink);
}

/*
 * Socket news from sockd (answer set: an answer to a look-up).  The
 * table learns it, waiting flows that the socket owns are labelled, and
 * a closed TCP socket starts its flow's end.
 */
void
label_sock(struct flowd *fd, const struct sock_rec *s, int answer)
{
	struct socktab *st = fd->st;
	struct flow_key k;
	struct sock_ent *e;
	int src = lsrc_of(s, answer);

	fd->cnt.sock_events++;
	if (sock_key(s, &k) == -1)
		return;
	if (k.proto == IPPROTO_TCP_NUM && s->state == TCP_LISTEN)
		return;
	e = find_open(st, &k);
	/* The same 4-tuple, another socket: the old one is gone. */
	if (e != NULL && ((s->cookie != 0 && e->cookie != 0 &&
	    s->cookie != e->cookie) || (s->inode != 0 && e->inode != 0 &&
	    s->inode != e->inode))) {
		sock_close(st, e, s->ts_us);
		e = NULL;
	}
	if (s->event == SOCK_CLOSE) {
		if (e == NULL) {
			e = sock_new(fd, &k, s, src);
			e->open_us = 0;
		} else
			sock_fill(e, s);
		sock_close(st, e, s->ts_us);
		label_waiting(fd, e, s->ts_us);
		label_exact(fd, e, s->ts_us);
		if (k.proto == IPPROTO_TCP_NUM)
			flow_sock_closed(fd, &k, s->ts_us);
		return;
	}
	if (e == NULL)
		e = sock_new(fd, &k, s, src);
	else {
		sock_fill(e, s);
		e->seen_us = s->ts_us;
		TAILQ_REMOVE(&st->open, e, olink);
		TAILQ_INSERT_TAIL(&st->open, e, olink);
	}
	label_waiting(fd, e, s->ts_us);
	label_exact(fd, e, s->ts_us);
}
