/*
 * emit.c: capd's output.  Packet records are batched into MSG_PACKETS
 * messages (proto/msg.c); each finished message goes to the recording
 * of -w and/or into the bounded output queue (proto/outq.c) towards
 * flowd.  The capture loop never waits here: when flowd is slow or
 * gone, messages wait in the queue up to its bound, and past it they
 * are dropped and counted.  With --connect, a lost flowd is reconnected
 * with exponential backoff and gets a fresh hello first.
 */

#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "capd.h"

#define BACKOFF_MIN_US	(100ULL * 1000)
#define BACKOFF_MAX_US	(10ULL * 1000000)

/* A finished message goes to every sink. */
static void
ship(struct emitter *e, const uint8_t *buf, size_t len, uint32_t nrec)
{
	e->messages++;
	if (e->have_rw && rec_write(&e->rw, buf, len) == -1)
		fatal("write recording");
	if (e->q == NULL)
		return;
	/* Dropped when full: counted in the queue, reported in stats. */
	(void)outq_push(e->q, buf, len, nrec);
	emit_service(e, 0);
}

static void
try_connect(struct emitter *e, uint64_t now)
{
	struct vbs_rec	 r;
	struct msg_builder hb;
	int		 fd;

	if ((fd = wire_connect(e->connect_path)) == -1) {
		if (e->backoff_us == 0)
			log_warn("connect %s", e->connect_path);
		e->backoff_us = e->backoff_us ? e->backoff_us * 2 :
		    BACKOFF_MIN_US;
		if (e->backoff_us > BACKOFF_MAX_US)
			e->backoff_us = BACKOFF_MAX_US;
		e->next_connect_us = now + e->backoff_us;
		return;
	}
	/* A new stream starts with a hello, before anything queued. */
	memset(&r, 0, sizeof(r));
	r.type = MSG_HELLO;
	r.u.hello = e->hello;
	if (msg_init(&hb) == -1)
		fatal("msg_init");
	if (msg_encode1(&hb, &r) == -1 ||
	    wire_send(fd, hb.buf, hb.len) == -1) {
		log_warn("hello to %s", e->connect_path);
		close(fd);
		msg_free(&hb);
		e->next_connect_us = now + BACKOFF_MIN_US;
		return;
	}
	msg_free(&hb);
	if (wire_nonblock(fd) == -1)
		fatal("nonblock");
	e->fd = fd;
	e->backoff_us = 0;
	e->connects++;
	log_info("connected to %s", e->connect_path);
}

/*
 * Send what the queue holds, as far as the socket takes it now; notice
 * a reader that went away.  now is 0 when the caller has no time.
 */
void
emit_service(struct emitter *e, uint64_t now)
{
	if (e->q == NULL)
		return;
	if (e->fd == -1) {
		if (e->connect_path == NULL || now == 0 ||
		    now < e->next_connect_us)
			return;
		try_connect(e, now);
		if (e->fd == -1)
			return;
	}
	if (outq_bytes(e->q) == 0)
		return;
	if (outq_flush(e->q, e->fd) == -1) {
		if (e->connect_path == NULL)
			fatal("send to flowd");
		log_warn("send to flowd");
		emit_lost(e);
	}
}

/* flowd hung up: reconnect later, or end when the socket was given. */
void
emit_lost(struct emitter *e)
{
	if (e->fd == -1)
		return;
	if (e->connect_path == NULL)
		fatalx("flowd closed the connection");
	log_warnx("flowd closed the connection; reconnecting");
	close(e->fd);
	e->fd = -1;
	e->next_connect_us = 0;
}

/* The descriptor to poll and for what, or -1. */
int
emit_pollfd(const struct emitter *e, short *events)
{
	if (e->q == NULL || e->fd == -1)
		return -1;
	*events = outq_bytes(e->q) > 0 ? POLLOUT : 0;
	return e->fd;
}

/* When emit_service() next has something to do without I/O, or 0. */
uint64_t
emit_next_wakeup(const struct emitter *e)
{
	if (e->q != NULL && e->fd == -1 && e->connect_path != NULL)
		return e->next_connect_us ? e->next_connect_us : 1;
	return 0;
}

/*
 * Open the sinks: a recording (wfile), an inherited socket (fd) or one
 * to connect to (path), with a queue of qsize bytes for the socket.
 */
void
emit_open(struct emitter *e, const char *wfile, int fd, const char *path,
    size_t qsize)
{
	memset(e, 0, sizeof(*e));
	e->fd = -1;
	if (msg_init(&e->mb) == -1)
		fatal("msg_init");
	msg_start(&e->mb, MSG_PACKETS);
	e->rec.type = MSG_PACKETS;
	if (wfile != NULL) {
		if (rec_create(&e->rw, wfile) == -1)
			fatal("cannot create recording %s", wfile);
		e->have_rw = 1;
	}
	if (fd != -1 || path != NULL) {
		if ((e->q = outq_new(qsize)) == NULL)
			fatal("outq_new");
		e->connect_path = path;
		if (fd != -1) {
			if (wire_nonblock(fd) == -1)
				fatal("inherited fd %d", fd);
			e->fd = fd;
		}
	}
}

/* The hello: first message of the recording and of every connection. */
void
emit_hello(struct emitter *e, const struct hello_rec *h)
{
	struct vbs_rec	 r;

	e->hello = *h;
	if (e->fd == -1 && e->connect_path != NULL) {
		try_connect(e, now_us());	/* sends the hello itself */
		if (e->have_rw) {
			memset(&r, 0, sizeof(r));
			r.type = MSG_HELLO;
			r.u.hello = *h;
			if (msg_encode1(&e->mb, &r) == -1)
				fatalx("hello does not fit a message");
			if (rec_write(&e->rw, e->mb.buf, e->mb.len) == -1)
				fatal("write recording");
			msg_start(&e->mb, MSG_PACKETS);
		}
		return;
	}
	memset(&r, 0, sizeof(r));
	r.type = MSG_HELLO;
	r.u.hello = *h;
	emit_record(e, &r);
}

/* Finish the current packet message, if it holds any, and ship it. */
void
emit_flush(struct emitter *e)
{
	if (e->mb.nrec == 0)
		return;
	msg_finish(&e->mb);
	ship(e, e->mb.buf, e->mb.len, e->mb.nrec);
	msg_start(&e->mb, MSG_PACKETS);
}

/* A record of another type (hello, stats, bye): a message of its own. */
void
emit_record(struct emitter *e, const struct vbs_rec *r)
{
	emit_flush(e);
	if (msg_encode1(&e->mb, r) == -1)
		fatalx("%s record does not fit a message",
		    msg_type_name(r->type));
	ship(e, e->mb.buf, e->mb.len, 1);
	msg_start(&e->mb, MSG_PACKETS);
}

static void
counter(struct stats_rec *s, const char *name, uint64_t v)
{
	if (s->ncounters >= VBS_MAX_COUNTERS)
		return;
	snprintf(s->counters[s->ncounters].name, VBS_NAME_MAX, "%s", name);
	s->counters[s->ncounters].value = v;
	s->ncounters++;
}

/*
 * The counters: frames received, records emitted, not IP and malformed
 * by reason, fragments, kernel drops (pcap_stats), messages, queue
 * drops.
 */
void
emit_stats(struct capd *c, uint64_t ts)
{
	struct vbs_rec	 r;
	struct stats_rec *s = &r.u.stats;
	uint64_t	 krecv = 0, kdrop = 0, ifdrop = 0;
	int		 i;

	capture_stats(c);
	for (i = 0; i < c->nifs; i++) {
		krecv += c->ifs[i].kernel_recv;
		kdrop += c->ifs[i].kernel_drop;
		ifdrop += c->ifs[i].if_drop;
	}
	memset(&r, 0, sizeof(r));
	r.type = MSG_STATS;
	s->ts_us = ts;
	counter(s, "received", c->received);
	counter(s, "emitted", c->dec.reasons[DEC_OK]);
	for (i = 1; i < DEC__MAX; i++)
		counter(s, decode_reason_name(i), c->dec.reasons[i]);
	counter(s, "frag_first", c->dec.frag_first);
	counter(s, "frag_later", c->dec.frag_later);
	counter(s, "frag_matched", c->dec.frag_matched);
	if (c->rfile == NULL) {
		counter(s, "kernel_received", krecv);
		counter(s, "kernel_dropped", kdrop);
		counter(s, "interface_dropped", ifdrop);
		/* Messages to flowd, and those the hold let go early. */
		counter(s, "messages", c->em.messages);
		counter(s, "messages_early", c->sent_early);
	}
	if (c->em.q != NULL) {
		counter(s, "queue_dropped_records",
		    outq_dropped_records(c->em.q));
		counter(s, "queue_dropped_messages",
		    outq_dropped_messages(c->em.q));
		counter(s, "queue_bytes", outq_bytes(c->em.q));
	}
	emit_record(&c->em, &r);
}

/*
 * The end: a bye, then up to a short grace for flowd to take what is
 * queued, then the recording is closed.
 */
void
emit_close(struct emitter *e, uint64_t ts, const char *reason)
{
	struct vbs_rec	 r;
	uint64_t	 end;

	memset(&r, 0, sizeof(r));
	r.type = MSG_BYE;
	r.u.bye.ts_us = ts;
	snprintf(r.u.bye.reason, sizeof(r.u.bye.reason), "%s", reason);
	emit_record(e, &r);
	if (e->q != NULL) {
		end = mono_us() + 2000000;
		while (outq_bytes(e->q) > 0 && mono_us() < end &&
		    (e->fd != -1 || e->connect_path != NULL)) {
			emit_service(e, now_us());
			if (outq_bytes(e->q) > 0)
				usleep(10000);
		}
		if (outq_bytes(e->q) > 0)
			log_warnx("%zu bytes not taken by flowd at exit",
			    outq_bytes(e->q));
	}
	if (e->have_rw && rec_close(&e->rw) == -1)
		fatal("close recording");
	e->have_rw = 0;
}
