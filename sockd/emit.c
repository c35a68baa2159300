/*
 * emit.c: sockd's output and its one input.  Socket events are batched
 * into MSG_SOCKETS messages, sent when a message is full or at the end
 * of each turn of the loop, to a recording (-w) and to flowd over a
 * SOCK_SEQPACKET socket (inherited with -S, or found with --connect and
 * found again, with backoff, whenever flowd goes away).  What flowd
 * cannot take yet waits in the bounded queue of outq.c; past its bound,
 * messages are dropped and counted.  The same socket carries flowd's
 * MSG_LOOKUP messages, answered at once with MSG_ANSWER.
 *
 * Trusts: nothing from the peer: it must be root or the flowd user
 * (SO_PEERCRED), and its messages are read with the strict decoder.
 */

#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockd.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000
#define SOCK_REC_BOUND	(sizeof(struct sock_rec) + 64)

static struct emit_conf	 ec;
static struct msg_builder socks_b;	/* MSG_SOCKETS being filled */
static struct msg_builder other_b;	/* one-off messages */
static struct rec_writer rw;
static int		 recording;
static struct outq	*q;
static int		 peer = -1;
static uid_t		 peer_uid = (uid_t)-1;	/* flowd's user */
static uint64_t		 retry_at;	/* mono_us of the next connect */
static int		 backoff_ms = BACKOFF_MIN_MS;
static uint8_t		*inbuf;
static uint64_t		 messages_in, messages_bad;

static void
out(const uint8_t *buf, size_t len, uint32_t nrec)
{
	if (recording && rec_write(&rw, buf, len) == -1)
		fatal("write %s", ec.record);
	if (ec.connect != NULL || ec.fd != -1)
		outq_push(q, buf, len, nrec);
}

static void
peer_lost(const char *why)
{
	if (peer == -1)
		return;
	log_warnx("flowd: %s", why);
	close(peer);
	peer = -1;
	if (ec.connect != NULL)
		retry_at = mono_us();
	else
		fatalx("flowd's socket is gone: exiting for vbsd to restart");
}

/* Send what is queued, without blocking. */
static void
peer_flush(void)
{
	if (peer == -1 || outq_bytes(q) == 0)
		return;
	if (outq_flush(q, peer) == -1)
		peer_lost(strerror(errno));
}

static void
hello_build(struct msg_builder *b)
{
	struct vbs_rec	r;

	memset(&r, 0, sizeof(r));
	r.type = MSG_HELLO;
	host_facts(&r.u.hello, "sockd");
	msg_start(b, MSG_HELLO);
	if (msg_add(b, &r) == -1)
		fatalx("hello does not encode");
	msg_finish(b);
}

/* A fresh connection starts with a hello, before anything queued. */
static int
peer_start(int fd)
{
	char	err[256];

	if (!wire_peer_allowed(fd, peer_uid, err, sizeof(err))) {
		log_warnx("flowd: %s", err);
		return -1;
	}
	if (wire_nonblock(fd) == -1)
		return -1;
	hello_build(&other_b);
	if (wire_send(fd, other_b.buf, other_b.len) == -1)
		return -1;
	peer = fd;
	peer_flush();
	return 0;
}

void
emit_init(const struct emit_conf *c)
{
	struct passwd	*pw;

	ec = *c;
	if (msg_init(&socks_b) == -1 || msg_init(&other_b) == -1)
		fatal("msg_init");
	msg_start(&socks_b, MSG_SOCKETS);
	if ((q = outq_new(ec.queue_size)) == NULL)
		fatal("outq_new");
	if ((inbuf = malloc(VBS_MSG_MAX)) == NULL)
		fatal("emit_init");
	if ((pw = getpwnam(ec.peer_user != NULL ? ec.peer_user : "vbs"))
	    != NULL)
		peer_uid = pw->pw_uid;
	endpwent();
	if (ec.record != NULL) {
		if (rec_create(&rw, ec.record) == -1)
			fatal("cannot create %s", ec.record);
		recording = 1;
	}
	if (ec.fd != -1 && peer_start(ec.fd) == -1)
		fatal("flowd socket (fd %d)", ec.fd);
	if (ec.connect != NULL)
		retry_at = mono_us();
}

/*
 * The hello goes to the recording at once and to flowd on every new
 * connection (peer_start), never through the queue.
 */
void
emit_hello(void)
{
	hello_build(&other_b);
	if (recording && rec_write(&rw, other_b.buf, other_b.len) == -1)
		fatal("write %s", ec.record);
}

void
emit_flush(void)
{
	if (socks_b.nrec > 0) {
		msg_finish(&socks_b);
		out(socks_b.buf, socks_b.len, socks_b.nrec);
		msg_start(&socks_b, MSG_SOCKETS);
	}
	if (recording && fflush(rw.fp) == EOF)
		fatal("write %s", ec.record);
	peer_flush();
}

void
emit_sock(const struct sock_rec *s)
{
	struct vbs_rec	r;

	if (!msg_would_fit(&socks_b, SOCK_REC_BOUND))
		emit_flush();
	r.type = MSG_SOCKETS;
	r.u.sock = *s;
	if (msg_add(&socks_b, &r) == -1)
		fatalx("socket record does not encode");
}

/* One answer, one message, sent now: flowd is waiting for it. */
void
emit_answer(const struct answer_rec *a)
{
	struct vbs_rec	r;

	emit_flush();	/* the open events go first */
	r.type = MSG_ANSWER;
	r.u.answer = *a;
	msg_start(&other_b, MSG_ANSWER);
	if (msg_add(&other_b, &r) == -1)
		fatalx("answer does not encode");
	msg_finish(&other_b);
	out(other_b.buf, other_b.len, 1);
	peer_flush();
}

static void
counter(struct stats_rec *s, const char *name, uint64_t v)
{
	if (s->ncounters >= VBS_MAX_COUNTERS)
		return;
	snprintf(s->counters[s->ncounters].name,
	    sizeof(s->counters[0].name), "%s", name);
	s->counters[s->ncounters++].value = v;
}

void
emit_stats(void)
{
	struct vbs_rec	 r;
	struct stats_rec *s = &r.u.stats;

	memset(&r, 0, sizeof(r));
	r.type = MSG_STATS;
	s->ts_us = now_us();
	counter(s, "dumps", stats.dumps);
	counter(s, "dump_us_last", stats.dump_us_last);
	counter(s, "dump_us_max", stats.dump_us_max);
	counter(s, "sockets", stats.sockets);
	counter(s, "opens", stats.opens);
	counter(s, "closes_dump", stats.closes_dump);
	counter(s, "closes_destroy", stats.closes_destroy);
	counter(s, "destroy_unknown", stats.destroy_unknown);
	counter(s, "destroy_unbound", stats.destroy_unbound);
	counter(s, "destroy_overruns", stats.destroy_overruns);
	counter(s, "destroy_late", stats.destroy_late);
	counter(s, "lookups", stats.lookups);
	counter(s, "lookups_found", stats.lookups_found);
	counter(s, "lookups_closed", stats.lookups_closed);
	counter(s, "lookup_us_last", stats.lookup_us_last);
	counter(s, "lookup_us_max", stats.lookup_us_max);
	counter(s, "owner_hits", stats.owner_hits);
	counter(s, "owner_misses", stats.owner_misses);
	counter(s, "owner_unresolved", stats.owner_unresolved);
	counter(s, "sweeps", stats.sweeps);
	counter(s, "procs_scanned", stats.procs_scanned);
	counter(s, "keeper_calls", priv_calls());
	counter(s, "proc_events", stats.proc_events);
	counter(s, "proc_overruns", stats.proc_overruns);
	counter(s, "ebpf_events", stats.ebpf_events);
	counter(s, "ebpf_opens", stats.ebpf_opens);
	counter(s, "exe_reused", stats.exe_reused);
	counter(s, "queue_bytes", outq_bytes(q));
	counter(s, "dropped_messages", outq_dropped_messages(q));
	counter(s, "dropped_records", outq_dropped_records(q));
	counter(s, "messages_in", messages_in);
	counter(s, "messages_bad", messages_bad);
	emit_flush();
	msg_start(&other_b, MSG_STATS);
	if (msg_add(&other_b, &r) == -1)
		fatalx("stats do not encode");
	msg_finish(&other_b);
	out(other_b.buf, other_b.len, 1);
	peer_flush();
}

/* The last message: to the recording, and to flowd if it can take it. */
void
emit_bye(const char *reason)
{
	struct vbs_rec	r;

	emit_flush();
	memset(&r, 0, sizeof(r));
	r.type = MSG_BYE;
	r.u.bye.ts_us = now_us();
	snprintf(r.u.bye.reason, sizeof(r.u.bye.reason), "%s", reason);
	msg_start(&other_b, MSG_BYE);
	if (msg_add(&other_b, &r) == -1)
		fatalx("bye does not encode");
	msg_finish(&other_b);
	out(other_b.buf, other_b.len, 1);
	peer_flush();
}

void
emit_close(void)
{
	if (recording && rec_close(&rw) == -1)
		fatal("close %s", ec.record);
	recording = 0;
	if (peer != -1)
		close(peer);
	peer = -1;
}

int
emit_peer_fd(void)
{
	return peer;
}

short
emit_peer_events(void)
{
	return (short)(POLLIN | (outq_bytes(q) > 0 ? POLLOUT : 0));
}

/* A message from flowd: look-ups only; anything else is refused. */
static void
peer_message(size_t len)
{
	struct msg_reader	 m;
	struct vbs_rec		 r;
	struct answer_rec	 a;
	uint64_t		 t0 = mono_us(), dt;
	int			 rc;

	messages_in++;
	if (msg_open(&m, inbuf, len) == -1 || m.type != MSG_LOOKUP) {
		messages_bad++;
		log_warnx("flowd: message refused: %s", m.type != MSG_LOOKUP &&
		    m.err[0] == '\0' ? "not a look-up" : m.err);
		return;
	}
	while ((rc = msg_next(&m, &r)) == 1) {
		memset(&a, 0, sizeof(a));
		table_lookup(&r.u.lookup, &a);
		dt = mono_us() - t0;
		a.ts_us = now_us();
		a.latency_us = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
		stats.lookup_us_last = dt;
		if (dt > stats.lookup_us_max)
			stats.lookup_us_max = dt;
		emit_answer(&a);
	}
	if (rc == -1) {
		messages_bad++;
		log_warnx("flowd: look-up refused: %s", m.err);
	}
}

void
emit_peer_ready(short revents)
{
	ssize_t	n;
	int	i;

	if (peer == -1)
		return;
	if (revents & POLLOUT)
		peer_flush();
	if ((revents & (POLLIN | POLLHUP | POLLERR)) == 0)
		return;
	/* A bounded number per turn: dumps and events must not starve. */
	for (i = 0; i < 64 && peer != -1; i++) {
		n = recv(peer, inbuf, VBS_MSG_MAX, MSG_DONTWAIT | MSG_TRUNC);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				return;
			peer_lost(strerror(errno));
			return;
		}
		if (n == 0) {
			peer_lost("closed the connection");
			return;
		}
		if (n > VBS_MSG_MAX) {
			messages_bad++;
			log_warnx("flowd: message of %zd bytes refused", n);
			continue;
		}
		peer_message((size_t)n);
	}
}

int
emit_reconnect(void)
{
	uint64_t	now;
	int		fd;

	if (ec.connect == NULL || peer != -1)
		return -1;
	now = mono_us();
	if (now < retry_at)
		return (int)((retry_at - now + 999) / 1000);
	if ((fd = wire_connect(ec.connect)) != -1 && peer_start(fd) == 0) {
		log_info("connected to %s", ec.connect);
		backoff_ms = BACKOFF_MIN_MS;
		return -1;
	}
	if (fd != -1)
		close(fd);
	log_debug("connect %s: %s; again in %d ms", ec.connect,
	    strerror(errno), backoff_ms);
	retry_at = now + (uint64_t)backoff_ms * 1000;
	backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
	    backoff_ms * 2;
	return backoff_ms;
}
