/*
 * capture.c: capd's libpcap handles and its two loops.  A file (-r) is
 * read to its end, or to the first damage, which is reported in one
 * message.  Live interfaces are opened with pcap_create (not
 * promiscuous; by default the kernel hands packets over in blocks, when
 * one fills or the timeout passes, so that capd wakes a few times a
 * second rather than once per packet; immediate mode on request),
 * filtered, made non-blocking and polled together with flowd's socket
 * and the address-change watch; the loop never blocks on flowd.
 * Everything here runs in capd; after capture_open_live() returns, the
 * caller gives up every privilege.
 */

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/pcap.h>

#include "capd.h"

static struct capd	*cap;		/* for the pcap callback */
static volatile sig_atomic_t quit;

/*
 * The live loop's hold.  flowd needs a flow's first packet at once: it
 * looks the socket up then, and without sockd's eBPF backend a socket
 * that lives 20 ms is named only if that look-up comes in time.  The
 * rest can wait: flowd's timers trail the clock by two seconds.  So a
 * message goes to flowd at once when it holds the first packet of a
 * flow capd has not seen for SEEN_US, and otherwise waits until one
 * does, until it fills, or until it is HOLD_US old.  Each message wakes
 * flowd (about 30 us of CPU on this project's test machines): with a
 * short timeout, as advised without eBPF, that was most of flowd's
 * work.  With a timeout of HOLD_US or more (the default is 500 ms)
 * capd wakes seldom enough, and nothing is held: a packet then reaches
 * flowd at most timeout late, well within flowd's two seconds.
 * Immediate mode asks for every packet at once and gets it.
 */
#define HOLD_US		250000ULL
#define SEEN_US		2000000ULL

/* A hash of a packet's flow, the same both ways. */
static uint32_t
flow_hash(const struct pkt_rec *r)
{
	const uint8_t	*a = r->src, *b = r->dst;
	uint16_t	 pa = r->sport, pb = r->dport;
	uint32_t	 h = 2166136261u;
	size_t		 i, n = r->ipver == 6 ? 16 : 4;
	int		 c;

	if ((c = memcmp(a, b, n)) > 0 || (c == 0 && pa > pb)) {
		a = r->dst, b = r->src;
		pa = r->dport, pb = r->sport;
	}
	for (i = 0; i < n; i++)
		h = (h ^ a[i]) * 16777619u;
	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	h = (h ^ (uint32_t)pa << 16 ^ pb) * 16777619u;
	h = (h ^ r->proto) * 16777619u;
	return h ^ h >> 15;
}

/* Is this the first packet of a flow not seen for SEEN_US? */
static int
flow_new(struct capd *c, const struct pkt_rec *r)
{
	struct seenslot	*s;
	uint32_t	 h = flow_hash(r), now = (uint32_t)(r->ts_us >> 10);
	int		 fresh;

	s = &c->seen[h & ((1u << SEEN_BITS) - 1)];
	fresh = s->hash != h || s->when == 0 ||
	    (uint32_t)(now - s->when) > (uint32_t)(SEEN_US >> 10);
	s->hash = h;
	s->when = now != 0 ? now : 1;
	return fresh;
}

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

/*
 * Is the address local: in -L prefixes or the host's addresses?  Most
 * packets are between a few addresses, so a direct-mapped cache of the
 * answers spares most walks of the prefixes (they were 8% of capd's CPU
 * in the lab's steady run, and a cache of one local and one remote
 * address still missed on every switch between IPv4 and IPv6 flows).
 * The prefixes never change in a capd's life (an address change
 * restarts it), so an answer never goes stale.  Anyone can choose the
 * remote addresses, and so make slots collide: a miss only costs the
 * walk.
 */
static int
is_local(struct capd *c, uint8_t ver, const uint8_t *addr)
{
	uint64_t	 a[2], h;
	int		 i, local = 0;
	struct dirslot	*s;

	memcpy(a, addr, 16);
	h = (a[0] ^ a[1] ^ ver) * 0x9e3779b97f4a7c15ULL;
	s = &c->dircache[h >> (64 - DIRCACHE_BITS)];
	if (s->ver == ver && s->a[0] == a[0] && s->a[1] == a[1])
		return s->local;
	for (i = 0; i < c->ndirnets && !local; i++)
		local = prefix_match(&c->dirnets[i], ver, addr);
	s->a[0] = a[0];
	s->a[1] = a[1];
	s->ver = ver;
	s->local = (uint8_t)local;
	return local;
}

/* The local side of a packet; the source first (local to local is out). */
static uint8_t
direction(struct capd *c, const struct pkt_rec *r)
{
	if (is_local(c, r->ipver, r->src))
		return DIR_OUT;
	if (is_local(c, r->ipver, r->dst))
		return DIR_IN;
	return DIR_UNKNOWN;
}

/* Per frame: decode into the emitter's record, emit if it is one. */
static void
handle(u_char *arg, const struct pcap_pkthdr *h, const u_char *bytes)
{
	const struct capd_iface *ifp = (const struct capd_iface *)arg;
	struct capd	*c = cap;
	struct pkt_rec	*r = &c->em.rec.u.pkt;

	c->received++;
	r->ts_us = (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec;
	r->iface = ifp->index;
	c->last_ts_us = r->ts_us;
	if (decode_packet(&c->dec, ifp->dlt, bytes, h->caplen, h->len, r) !=
	    DEC_OK)
		return;
	if (c->ndirnets > 0)
		r->dir = direction(c, r);
	if (c->hold && flow_new(c, r))
		c->hold_fresh = 1;
	emit_packet(&c->em);
}

/*
 * After a read: send the message now, or hold it (see HOLD_US).  The
 * poll timeout to keep, or -1 when nothing is held.
 */
static int
hold_or_send(struct capd *c, uint64_t now)
{
	if (c->em.mb.nrec == 0) {
		c->hold_since = 0;
		c->hold_fresh = 0;
		return -1;
	}
	if (c->hold_since == 0)
		c->hold_since = now;
	if (!c->hold || c->hold_fresh || now - c->hold_since >= HOLD_US) {
		if (c->hold && c->hold_fresh && now - c->hold_since < HOLD_US)
			c->sent_early++;
		emit_flush(&c->em);
		c->hold_since = 0;
		c->hold_fresh = 0;
		return -1;
	}
	return (int)((c->hold_since + HOLD_US - now + 999) / 1000);
}

/*
 * Open a capture file.  Returns 0, or -1 after one message naming the
 * file and what is wrong with it.
 */
int
capture_open_file(struct capd *c, const char *path)
{
	char		 err[PCAP_ERRBUF_SIZE];
	struct capd_iface *ifp = &c->ifs[0];
	const char	*name;

	err[0] = '\0';
	ifp->pcap = pcap_open_offline_with_tstamp_precision(path,
	    PCAP_TSTAMP_PRECISION_MICRO, err);
	if (ifp->pcap == NULL) {
		log_warnx("%s: %s", path, err);
		return -1;
	}
	ifp->dlt = pcap_datalink(ifp->pcap);
	if (!decode_linktype_ok(ifp->dlt)) {
		name = pcap_datalink_val_to_name(ifp->dlt);
		log_warnx("%s: unsupported link type %d (%s)", path, ifp->dlt,
		    name ? name : "unknown");
		pcap_close(ifp->pcap);
		ifp->pcap = NULL;
		return -1;
	}
	snprintf(ifp->name, sizeof(ifp->name), "file");
	ifp->fd = -1;
	ifp->index = 0;
	c->nifs = 1;
	return 0;
}

/*
 * Read the whole file.  EXIT_OK at its end; EXIT_INPUT when it is cut
 * short or corrupt, after everything before the damage was emitted.
 */
int
capture_file_loop(struct capd *c)
{
	struct capd_iface *ifp = &c->ifs[0];
	int		 rc;

	cap = c;
	rc = pcap_loop(ifp->pcap, -1, handle, (u_char *)ifp);
	emit_flush(&c->em);
	if (rc == -1) {
		log_warnx("%s: %s (after %llu packets)", c->rfile,
		    pcap_geterr(ifp->pcap), (unsigned long long)c->received);
		return EXIT_INPUT;
	}
	return EXIT_OK;
}

/* Interfaces to capture when none are named: every one that is up. */
void
capture_default_ifaces(struct capd *c, int loopback)
{
	char		 err[PCAP_ERRBUF_SIZE];
	pcap_if_t	*all, *d;
	static char	 names[VBS_MAX_IFACES][VBS_IFNAME_MAX];

	if (pcap_findalldevs(&all, err) == -1)
		fatalx("cannot list interfaces: %s", err);
	for (d = all; d != NULL && c->nifnames < VBS_MAX_IFACES; d = d->next) {
		if (!(d->flags & PCAP_IF_UP) || strcmp(d->name, "any") == 0)
			continue;
		if ((d->flags & PCAP_IF_LOOPBACK) && !loopback)
			continue;
		if (d->addresses == NULL && !(d->flags & PCAP_IF_RUNNING))
			continue;
		/* Not network interfaces. */
		if (strncmp(d->name, "nflog", 5) == 0 ||
		    strncmp(d->name, "nfqueue", 7) == 0 ||
		    strncmp(d->name, "usbmon", 6) == 0 ||
		    strncmp(d->name, "dbus", 4) == 0 ||
		    strncmp(d->name, "bluetooth", 9) == 0)
			continue;
		snprintf(names[c->nifnames], VBS_IFNAME_MAX, "%s", d->name);
		c->ifnames[c->nifnames] = names[c->nifnames];
		c->nifnames++;
	}
	pcap_freealldevs(all);
	if (c->nifnames == 0)
		fatalx("no interface is up to capture on");
}

static void
open_one(struct capd *c, const char *name, const char *filter)
{
	char		 err[PCAP_ERRBUF_SIZE];
	struct capd_iface *ifp = &c->ifs[c->nifs];
	struct bpf_program prog;
	pcap_t		*p;
	int		 rc;

	if ((p = pcap_create(name, err)) == NULL)
		fatalx("cannot open %s: %s", name, err);
	if (pcap_set_snaplen(p, c->snaplen) != 0 ||
	    pcap_set_promisc(p, 0) != 0 ||
	    pcap_set_immediate_mode(p, c->immediate) != 0 ||
	    pcap_set_buffer_size(p, c->buffer_size) != 0 ||
	    pcap_set_timeout(p, c->timeout_ms) != 0 ||
	    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_MICRO) != 0)
		fatalx("cannot set up %s: %s", name, pcap_geterr(p));
	rc = pcap_activate(p);
	if (rc < 0)
		fatalx("cannot open %s: %s%s%s", name,
		    pcap_statustostr(rc), rc == PCAP_ERROR ? ": " : "",
		    rc == PCAP_ERROR ? pcap_geterr(p) : "");
	if (rc > 0)
		log_warnx("%s: %s", name, pcap_statustostr(rc));
	ifp->dlt = pcap_datalink(p);
	if (!decode_linktype_ok(ifp->dlt)) {
		log_warnx("%s: link type %d not decoded, skipped", name,
		    ifp->dlt);
		pcap_close(p);
		return;
	}
	if (filter != NULL && filter[0] != '\0') {
		if (pcap_compile(p, &prog, filter, 1,
		    PCAP_NETMASK_UNKNOWN) == -1)
			fatalx("%s: filter \"%s\": %s", name, filter,
			    pcap_geterr(p));
		if (pcap_setfilter(p, &prog) == -1)
			fatalx("%s: setfilter: %s", name, pcap_geterr(p));
		pcap_freecode(&prog);
	}
	if (pcap_setnonblock(p, 1, err) == -1)
		fatalx("%s: nonblock: %s", name, err);
	if ((ifp->fd = pcap_get_selectable_fd(p)) == -1)
		fatalx("%s: no selectable descriptor", name);
	snprintf(ifp->name, sizeof(ifp->name), "%s", name);
	ifp->pcap = p;
	ifp->index = (uint32_t)c->nifs;
	c->nifs++;
	log_debug("capturing on %s, link type %d", name, ifp->dlt);
}

/* Open every configured interface (or every one that is up). */
void
capture_open_live(struct capd *c)
{
	char	*filter;
	int	 i;

	if (c->nifnames == 0)
		capture_default_ifaces(c, 0);
	filter = filter_build(c);
	log_debug("filter: %s", filter[0] ? filter : "(none)");
	for (i = 0; i < c->nifnames && c->nifs < VBS_MAX_IFACES; i++)
		open_one(c, c->ifnames[i], filter);
	free(filter);
	if (c->nifs == 0)
		fatalx("no interface to capture on");
}

/* Kernel counters of the live handles (cumulative since opening). */
void
capture_stats(struct capd *c)
{
	struct pcap_stat st;
	int		 i;

	if (c->rfile != NULL)
		return;
	for (i = 0; i < c->nifs; i++) {
		if (c->ifs[i].pcap == NULL ||
		    pcap_stats(c->ifs[i].pcap, &st) == -1)
			continue;
		c->ifs[i].kernel_recv = st.ps_recv;
		c->ifs[i].kernel_drop = st.ps_drop;
		c->ifs[i].if_drop = st.ps_ifdrop;
	}
}

/*
 * The live loop: poll the handles, flowd's socket and the address
 * watch; decode what arrives and hand it on (a flow's first packet at
 * once, the rest within HOLD_US), send stats on time.  Returns the
 * exit code: EXIT_OK on SIGTERM/SIGINT, EXIT_ADDRS when the host's
 * addresses changed.
 *
 * SIGTERM and SIGINT are blocked but in ppoll(), so that one that comes
 * between the test of quit and the wait ends the wait at once: with no
 * deadline (no stats, nothing held, flowd connected), an idle capd then
 * sleeps until a packet, an address change or a signal.  It used to
 * wake every second to bound that race.
 */
int
capture_live_loop(struct capd *c)
{
	struct pollfd	 pfd[VBS_MAX_IFACES + 2];
	struct sigaction sa;
	struct timespec	 ts;
	sigset_t	 stop, waitmask;
	uint64_t	 now, next_stats, wake;
	int		 i, n, efd = -1, afd = -1, timeout, hold = -1;
	int		 rc = EXIT_OK;
	short		 ev;

	cap = c;
	c->hold = !c->immediate && (uint64_t)c->timeout_ms * 1000 < HOLD_US;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);

	now = mono_us();
	next_stats = c->stats_interval_us ? now + c->stats_interval_us : 0;
	while (!quit) {
		n = 0;
		for (i = 0; i < c->nifs; i++) {
			pfd[n].fd = c->ifs[i].fd;
			pfd[n].events = POLLIN;
			n++;
		}
		efd = -1;
		if (emit_pollfd(&c->em, &ev) != -1) {
			efd = n;
			pfd[n].fd = c->em.fd;
			pfd[n].events = ev;
			n++;
		}
		afd = -1;
		if (c->addr_fd != -1) {
			afd = n;
			pfd[n].fd = c->addr_fd;
			pfd[n].events = POLLIN;
			n++;
		}
		timeout = INT_MAX;	/* none */
		now = mono_us();
		if (next_stats)
			timeout = poll_ms(now, next_stats, timeout);
		if ((wake = emit_next_wakeup(&c->em)) != 0)
			timeout = poll_ms(now_us(), wake, timeout);
		if (hold != -1 && hold < timeout)
			timeout = hold;
		ts.tv_sec = timeout / 1000;
		ts.tv_nsec = (long)(timeout % 1000) * 1000000;
		if (ppoll(pfd, (nfds_t)n, timeout == INT_MAX ? NULL : &ts,
		    &waitmask) == -1) {
			if (errno == EINTR)
				continue;
			fatal("ppoll");
		}
		for (i = 0; i < c->nifs; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			if (pcap_dispatch(c->ifs[i].pcap, -1, handle,
			    (u_char *)&c->ifs[i]) == -1)
				fatalx("%s: %s", c->ifs[i].name,
				    pcap_geterr(c->ifs[i].pcap));
		}
		hold = hold_or_send(c, mono_us());
		if (efd != -1 && pfd[efd].revents & (POLLERR | POLLHUP))
			emit_lost(&c->em);
		emit_service(&c->em, now_us());
		if (afd != -1 && pfd[afd].revents & POLLIN &&
		    filter_watch_changed(c, c->addr_fd)) {
			log_warnx("host addresses changed: exiting with "
			    "status %d to be restarted", EXIT_ADDRS);
			rc = EXIT_ADDRS;
			break;
		}
		now = mono_us();
		if (next_stats && now >= next_stats) {
			emit_stats(c, now_us());
			next_stats = now + c->stats_interval_us;
		}
	}
	sigprocmask(SIG_UNBLOCK, &stop, NULL);
	if (quit)
		log_info("terminating on signal");
	return rc;
}
