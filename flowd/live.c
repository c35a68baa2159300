/*
 * live.c: flowd's live input.  Runs in flowd.  Reads capd's and sockd's
 * SOCK_SEQPACKET sockets, whose peers flowd.c has checked, hands their
 * records to input_record, and sends look-ups back to sockd.
 *
 * A message is consumed from its socket only once its rows are
 * committed, so a flowd killed at any instant loses nothing the next one
 * will not find.  Each message is read with MSG_PEEK, its records go
 * into the open transaction, and it is named (a 128-bit SipHash under a
 * key of this run, and its length) in its input's window.  When a window
 * is full or WIN_US old, or the batch wants a commit, batch_sync commits
 * the rows with the windows, and then the messages are consumed.  Where
 * the socket keeps a peek offset (Linux SO_PEEK_OFF) a window holds up
 * to WIN_MAX messages; elsewhere one, and every message is a commit.
 * At start the windows of a recovered batch name the messages that were
 * committed and perhaps not yet consumed; those still at the head of
 * their socket are consumed without being processed again.
 *
 * The sockets are shared with vbsd, which keeps them across restarts:
 * the peek offset is socket state, and is set to 0 before anything else.
 */

#include <sys/types.h>
#ifdef __linux__
#include <sys/epoll.h>
#endif
#include <sys/random.h>
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flowd.h"

/*
 * Longest sleep with nothing to read.  Inputs wake flowd anyway; the
 * tick only runs the timers (flow and batch ends), which trail the
 * clock by TIMER_LAG_US already.  At 250 ms, ticks were a third of an
 * idle-rate flowd's wake-ups (lab steady run: 155 against 103 context
 * switches in 20 s, and about 10% of its CPU).
 */
#define LIVE_TICK_MS	1000
#define APPS_EVERY_US	5000000ULL	/* vbsctl top refreshes every 2 s */
/*
 * A window waits at most this.  Each commit rewrites the last pages of
 * the packets table into the WAL: at 100 ms, commits were most of an
 * idle-rate flowd's CPU, and 2 s against 1 s took about 7% off flowd's
 * CPU in the lab's steady run (2,000 pkt/s, 30 s, mean of 3 runs
 * against 9).  Unconsumed messages cost nothing meanwhile: they are
 * already read, and the window's byte bound keeps them within the
 * socket's buffer, which vbsd makes 8 MiB.  (With the kernel's default
 * of 208 KiB, about 2 s of that run, a producer's sends wait meanwhile
 * and what it captures waits in its queue: nothing is lost below its
 * queue_size.)
 */
#define WIN_US		2000000ULL
#define WIN_BYTES	(1U << 20)	/* and holds at most this */
#define DRAIN_US	1000000ULL	/* at SIGTERM, read on this long */

struct live_in {
	int		 sock;		/* -1: closed */
	int		 peekoff;	/* the socket keeps a peek offset */
	int		 drained;	/* the last read found nothing */
	uint32_t	 bytes;		/* in the window */
};

static struct live_in	ins[LIVE_INPUTS] = { { -1, 0, 0, 0 }, { -1, 0, 0, 0 } };
static const char *const in_names[LIVE_INPUTS] = { "capd", "sockd" };
/*
 * An edge-triggered epoll on both inputs, where windows hold more than
 * one message (-1 elsewhere).  A drained input whose window awaits its
 * commit still polls readable (its peeked messages are still there), so
 * poll(2) cannot say when a new one comes, and flowd slept until the
 * commit: its packets, hence its look-ups, came up to WIN_US late, after
 * most short sockets had closed (lab without eBPF: 53% of the flows
 * right).  The edge-triggered epoll reports each new message.  While
 * sockd's eBPF names the sockets, look-ups are rare and their lateness
 * costs no label, and flowd keeps to poll(2) and its fewer wake-ups
 * (lab steady run: 94 context switches in 20 s against 173).  That is
 * judged by protocol: sockd goes on with the hooks the kernel attaches,
 * and a protocol whose hook it refused is left to look-ups.
 */
static int		live_ep = -1;
#define EBPF_QUIET_US	60000000ULL	/* no eBPF news this long: prompt */

/*
 * No eBPF news of late, or a protocol has new flows of late and eBPF
 * has not named its sockets.
 */
static int
live_prompt(const struct flowd *fd)
{
	uint64_t now = now_us();
	int p, quiet = 0;

	for (p = 0; p < 2; p++) {
		if (fd->ebpf_us[p] + EBPF_QUIET_US >= now)
			continue;
		quiet++;
		if (fd->newflow_us[p] + EBPF_QUIET_US >= now)
			return 1;
	}
	return quiet == 2;
}

static void
msg_name(const uint8_t *key, const uint8_t *buf, size_t len, struct msg_id *m)
{
	siphash24_128(key, buf, len, m->h);
	m->len = (uint32_t)len;
}

static int
same_msg(const struct msg_id *a, const struct msg_id *b)
{
	return a->h[0] == b->h[0] && a->h[1] == b->h[1] && a->len == b->len;
}

/* The next message not yet peeked: its length, 0 at the end, -1. */
static ssize_t
peek_next(int sock, uint8_t *buf)
{
	ssize_t n;

	do
		n = recv(sock, buf, VBS_MSG_MAX, MSG_PEEK | MSG_DONTWAIT |
		    MSG_TRUNC);
	while (n == -1 && errno == EINTR);
	if (n > VBS_MSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}

/* Take the message at the head of the socket, which was peeked as m. */
static void
consume(int src, const struct msg_id *m)
{
	uint8_t c;
	ssize_t n;

	do
		n = recv(ins[src].sock, &c, 1, MSG_DONTWAIT | MSG_TRUNC);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		fatal("consume from %s", in_names[src]);
	if (n != (ssize_t)m->len)
		fatalx("consume from %s: %zd bytes where %" PRIu32
		    " were read", in_names[src], n, m->len);
}

static int
set_peek_off(int sock)
{
#ifdef SO_PEEK_OFF
	int off = 0;

	return setsockopt(sock, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
#else
	(void)sock;
	errno = EOPNOTSUPP;
	return -1;
#endif
}

/*
 * Consume, unprocessed, the messages of a recovered window that are
 * still at the head of the socket: the longest suffix of the window
 * that the socket begins with.  Without a peek offset a window holds
 * one message, and only the head is compared.
 */
static void
resume_skip(int src, const struct in_window *rw, uint8_t *buf)
{
	struct msg_id got[WIN_MAX];
	uint32_t npeek = 0, j, t;
	ssize_t n;

	if (rw->n == 0 || rw->n > WIN_MAX)
		return;
	while (npeek < (ins[src].peekoff ? rw->n : 1)) {
		if ((n = peek_next(ins[src].sock, buf)) <= 0)
			break;
		msg_name(rw->key, buf, (size_t)n, &got[npeek++]);
	}
	for (j = 0; j < rw->n; j++) {
		if (rw->n - j > npeek)
			continue;
		for (t = 0; t < rw->n - j; t++)
			if (!same_msg(&got[t], &rw->m[j + t]))
				break;
		if (t == rw->n - j)
			break;
	}
	if (ins[src].peekoff && set_peek_off(ins[src].sock) == -1)
		fatal("%s: SO_PEEK_OFF", in_names[src]);
	if (j == rw->n)
		return;
	for (t = 0; t < rw->n - j; t++)
		consume(src, &got[t]);
	log_info("%s: %" PRIu32 " message%s already committed by the flowd "
	    "before: skipped", in_names[src], rw->n - j,
	    rw->n - j == 1 ? "" : "s");
}

/* Watch input i on the edge-triggered epoll, if its window can grow. */
static void
live_watch(int i)
{
#ifdef __linux__
	struct epoll_event ev;

	if (!ins[i].peekoff)
		return;
	if (live_ep == -1 && (live_ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	ev.data.u32 = (uint32_t)i;
	if (epoll_ctl(live_ep, EPOLL_CTL_ADD, ins[i].sock, &ev) == -1)
		fatal("epoll_ctl %s", in_names[i]);
#else
	(void)i;
#endif
}

/*
 * Wait at most timeout ms for input; set ready[i] for each input to
 * read now.  On the epoll: one with news, or not drained (there will be
 * no news of what it already holds).  On poll(2): one with news, or
 * with a window (which the commit may have left more to read).
 */
static void
live_wait(const struct flowd *fd, int timeout, int *ready)
{
	struct pollfd pfd[LIVE_INPUTS];
	int i, n;

#ifdef __linux__
	struct epoll_event ev[LIVE_INPUTS];

	if (live_ep != -1 && live_prompt(fd)) {
		for (i = 0; i < LIVE_INPUTS; i++) {
			ready[i] = ins[i].sock != -1 && !ins[i].drained;
			if (ready[i])
				timeout = 0;
		}
		n = epoll_wait(live_ep, ev, LIVE_INPUTS, timeout);
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		for (i = 0; i < n; i++)
			if (ev[i].data.u32 < LIVE_INPUTS)
				ready[ev[i].data.u32] = 1;
		return;
	}
#endif
	for (i = 0; i < LIVE_INPUTS; i++) {
		pfd[i].fd = ins[i].sock;
		/* a drained socket with a window: wait for the commit */
		pfd[i].events = fd->win[i].n > 0 && ins[i].drained ?
		    0 : POLLIN;
		pfd[i].revents = 0;
	}
	n = poll(pfd, LIVE_INPUTS, timeout);
	if (n == -1 && errno != EINTR)
		fatal("poll");
	for (i = 0; i < LIVE_INPUTS; i++)
		ready[i] = ins[i].sock != -1 && (pfd[i].revents != 0 ||
		    fd->win[i].n > 0);
}

/*
 * Before the sandbox (setsockopt): reset each socket's peek offset,
 * learn whether it has one, and skip what the recovered batch holds.
 */
void
live_prepare(struct flowd *fd, int capfd, int sockfd)
{
	uint8_t *buf;
	int i;

	ins[0].sock = capfd;
	ins[1].sock = sockfd;
	if ((buf = malloc(VBS_MSG_MAX)) == NULL)
		fatal("malloc");
	for (i = 0; i < LIVE_INPUTS; i++) {
		if (ins[i].sock == -1)
			continue;
		ins[i].peekoff = set_peek_off(ins[i].sock) == 0;
		if (!ins[i].peekoff)
			log_info("%s: no peek offset: a commit per message",
			    in_names[i]);
		live_watch(i);
		resume_skip(i, &fd->resume[i], buf);
	}
	/* An input without a peek offset is not on the epoll: poll(2). */
	for (i = 0; i < LIVE_INPUTS; i++)
		if (ins[i].sock != -1 && !ins[i].peekoff && live_ep != -1) {
			close(live_ep);
			live_ep = -1;
		}
	free(buf);
	memset(fd->resume, 0, sizeof(fd->resume));
}

static int
window_full(const struct flowd *fd, int src)
{
	return fd->win[src].n >= (ins[src].peekoff ? WIN_MAX : 1) ||
	    ins[src].bytes >= WIN_BYTES;
}

/*
 * Commit the rows of every message in the windows, with the windows,
 * then consume those messages.  Without a working batch no row came
 * from them: nothing to commit.
 */
static void
live_sync(struct flowd *fd)
{
	uint32_t k;
	int i;

	if (fd->inflight == 0)
		return;
	batch_sync(fd);
	for (i = 0; i < LIVE_INPUTS; i++) {
		for (k = 0; k < fd->win[i].n; k++)
			consume(i, &fd->win[i].m[k]);
		fd->win[i].n = 0;
		ins[i].bytes = 0;
	}
	fd->inflight = 0;
}

struct live_lookups {
	struct msg_builder	 mb;
	int			 sock;
	int			 open;
};

static void
lookup_flush(struct live_lookups *ll)
{
	size_t len;

	if (!ll->open)
		return;
	len = msg_finish(&ll->mb);
	if (ll->sock != -1 && wire_send(ll->sock, ll->mb.buf, len) == -1 &&
	    errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
		log_warn("look-up to sockd");
	ll->open = 0;
}

static void
lookup_queue(void *arg, const struct lookup_rec *l)
{
	struct live_lookups *ll = arg;
	struct vbs_rec r;

	memset(&r, 0, sizeof(r));
	r.type = MSG_LOOKUP;
	r.u.lookup = *l;
	if (ll->open && msg_add(&ll->mb, &r) == 0)
		return;
	lookup_flush(ll);
	msg_start(&ll->mb, MSG_LOOKUP);
	ll->open = 1;
	if (msg_add(&ll->mb, &r) != 0)
		log_warnx("look-up does not fit a message");
}

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

/*
 * Read the next message of input src into its window and take its
 * records: 2 a message (perhaps a bad one, counted), 1 nothing there,
 * 0 end of stream.
 */
static int
live_read(struct flowd *fd, int src, uint8_t *buf, struct vbs_rec *r)
{
	struct in_window *w = &fd->win[src];
	struct msg_reader mr;
	ssize_t n;
	int rc;

	n = peek_next(ins[src].sock, buf);
	if (n == 0)
		return 0;
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 1;
		if (errno == ECONNRESET)
			return 0;
		fatal("read from %s", in_names[src]);
	}
	msg_name(w->key, buf, (size_t)n, &w->m[w->n++]);
	ins[src].bytes += (uint32_t)n;
	fd->inflight++;
	if (msg_open(&mr, buf, (size_t)n) == -1) {
		log_warnx("bad message from %s: %s", in_names[src], mr.err);
		fd->cnt.bad_records++;
		return 2;
	}
	while ((rc = msg_next(&mr, r)) > 0)
		input_record(fd, r, src);
	if (rc < 0) {
		log_warnx("bad record from %s: %s", in_names[src], mr.err);
		fd->cnt.bad_records++;
	}
	return 2;
}

/*
 * Read input src until its window is full or it has nothing more; at
 * its end, commit and consume what was read, and close it.
 */
static void
live_burst(struct flowd *fd, int src, uint8_t *buf, struct vbs_rec *r,
    struct live_lookups *ll)
{
	int rc = 2;

	while (!window_full(fd, src) &&
	    (rc = live_read(fd, src, buf, r)) == 2)
		;
	ins[src].drained = rc == 1;
	if (rc != 0)
		return;
	live_sync(fd);
	log_warnx("%s closed its stream", in_names[src]);
#ifdef __linux__
	if (live_ep != -1)
		(void)epoll_ctl(live_ep, EPOLL_CTL_DEL, ins[src].sock, NULL);
#endif
	ins[src].sock = -1;
	if (src == 1) {
		fd->lookup = NULL;
		ll->sock = -1;
	}
}

/*
 * Live: poll both sockets; between messages fire the timers on the
 * host clock (less a lag, for records still in the sockets); stop on
 * SIGTERM or SIGINT, after reading, for at most DRAIN_US, what the
 * producers sent before they stopped, and end every flow.
 */
int
input_live(struct flowd *fd, int capfd, int sockfd)
{
	struct live_lookups ll;
	struct sigaction sa;
	struct vbs_rec *r;
	uint8_t *buf, key[16];
	uint64_t now, mono, last_apps = 0, win_start = 0, stop_by;
	int i, timeout, more, ready[LIVE_INPUTS];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (ins[0].sock != capfd || ins[1].sock != sockfd)
		fatalx("input_live before live_prepare");
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		fatal("getrandom");
	for (i = 0; i < LIVE_INPUTS; i++) {
		memcpy(fd->win[i].key, key, sizeof(key));
		fd->win[i].n = 0;
	}
	fd->inflight = 0;
	memset(&ll, 0, sizeof(ll));
	ll.sock = sockfd;
	if (msg_init(&ll.mb) == -1)
		fatal("msg_init");
	if (sockfd != -1) {
		fd->lookup = lookup_queue;
		fd->lookup_arg = &ll;
	}
	if ((buf = malloc(VBS_MSG_MAX)) == NULL ||
	    (r = malloc(sizeof(*r))) == NULL)
		fatal("malloc");
	if ((capfd != -1 && wire_nonblock(capfd) == -1) ||
	    (sockfd != -1 && wire_nonblock(sockfd) == -1))
		fatal("wire_nonblock");
	while (!stop_signal) {
		timeout = LIVE_TICK_MS;
		mono = mono_us();
		if (fd->inflight > 0)
			timeout = poll_ms(mono, win_start + WIN_US, timeout);
		live_wait(fd, timeout, ready);
		/*
		 * sockd's input before capd's: a socket's news reach sockd
		 * before its packets leave capd's ring, and read first they
		 * label the flow at its first packet.  Read after, flowd
		 * asked sockd about sockets it was about to be told of (in
		 * the lab's steady run, 45 look-ups for 60 sockets that
		 * eBPF had all named).  So while sockd's window fills before
		 * its input is drained (a second of a busy start can hold
		 * more than WIN_MAX of its messages), capd waits for the
		 * commit and the rest of sockd's news; marked not drained,
		 * it is read then whatever woke flowd.
		 */
		for (i = LIVE_INPUTS - 1; i >= 0; i--) {
			if (!ready[i])
				continue;
			if (fd->inflight == 0)
				win_start = mono_us();
			live_burst(fd, i, buf, r, &ll);
			if (i == 1 && ins[1].sock != -1 && !ins[1].drained) {
				ins[0].drained = 0;
				break;
			}
		}
		lookup_flush(&ll);
		mono = mono_us();
		more = 0;
		for (i = 0; i < LIVE_INPUTS; i++)
			if (ins[i].sock != -1 && window_full(fd, i))
				more = 1;
		if (fd->inflight > 0 && (more || batch_due(fd) ||
		    mono >= win_start + WIN_US))
			live_sync(fd);
		now = now_us();
		if (now > TIMER_LAG_US)
			flow_expire(fd, now - TIMER_LAG_US);
		if (fd->inflight == 0)
			batch_tick(fd, fd->now_us, mono_us());
		lookup_flush(&ll);
		if (now >= last_apps + APPS_EVERY_US) {
			appstats_write(fd);
			stats_write(fd);
			last_apps = now;
		}
	}
	log_info("signal %d: reading what is queued, ending every flow",
	    (int)stop_signal);
	stop_by = mono_us() + DRAIN_US;
	do {
		more = 0;
		for (i = 0; i < LIVE_INPUTS; i++) {
			if (ins[i].sock == -1)
				continue;
			live_burst(fd, i, buf, r, &ll);
			if (ins[i].sock != -1 && !ins[i].drained)
				more = 1;
		}
		live_sync(fd);
	} while (more && mono_us() < stop_by);
	lookup_flush(&ll);
	fd->lookup = NULL;
	fd->lookup_arg = NULL;
	flow_end_all(fd, END_SHUTDOWN);
	msg_free(&ll.mb);
	free(buf);
	free(r);
	return EXIT_OK;
}
