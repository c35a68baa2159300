/*
 * input.c: flowd's two ways in.  Runs in flowd.  Replay reads recordings
 * through libvbsproto's merge reader, which yields their records in
 * time order; live reads capd's and sockd's SOCK_SEQPACKET sockets,
 * whose peers flowd.c has checked, and sends look-ups back to sockd.
 * Every message is decoded strictly by msg_open/msg_next; a message
 * that fails is counted and dropped, never half used.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flowd.h"

#define MAX_SOURCES	16
#define LIVE_TICK_MS	250
#define LIVE_LAG_US	1000000ULL	/* timers trail the clock by this */
#define APPS_EVERY_US	60000000ULL

static char	producers[MAX_SOURCES][VBS_NAME_MAX];

/*
 * A digest of the input for replay's batch and flow ids: each file's
 * size and first 64 KiB.  Cheap, and the same recordings give the same
 * ids.
 */
uint64_t
input_digest(char * const *paths, int n)
{
	static const uint8_t key[16] = "vbs-flowd-replay";
	uint8_t *buf;
	uint64_t h = 0, part[2];
	struct stat sb;
	ssize_t got;
	int i, fd;

	if ((buf = malloc(65536 + 16)) == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		memset(buf, 0, 16);
		got = 0;
		if ((fd = open(paths[i], O_RDONLY | O_CLOEXEC)) != -1) {
			if (fstat(fd, &sb) == 0) {
				part[0] = (uint64_t)sb.st_size;
				part[1] = h;
				memcpy(buf, part, 16);
			}
			got = read(fd, buf + 16, 65536);
			close(fd);
		}
		h = siphash24(key, buf, 16 + (size_t)(got > 0 ? got : 0));
	}
	free(buf);
	return h;
}

/* One decoded record, from source src (recording or socket). */
void
input_record(struct flowd *fd, const struct vbs_rec *r, int src)
{
	const char *prod = src >= 0 && src < MAX_SOURCES ? producers[src] : "";
	struct sock_rec s;

	switch (r->type) {
	case MSG_HELLO:
		if (src >= 0 && src < MAX_SOURCES)
			snprintf(producers[src], sizeof(producers[src]), "%s",
			    r->u.hello.producer);
		if (strcmp(r->u.hello.producer, "capd") == 0)
			fd->capd_hello = r->u.hello;
		break;
	case MSG_PACKETS:
		flow_expire(fd, r->u.pkt.ts_us);
		flow_packet(fd, &r->u.pkt);
		break;
	case MSG_SOCKETS:
		flow_expire(fd, r->u.sock.ts_us);
		label_sock(fd, &r->u.sock, 0);
		break;
	case MSG_ANSWER:
		fd->cnt.answers++;
		flow_expire(fd, r->u.answer.ts_us);
		if (r->u.answer.found) {
			s = r->u.answer.sock;
			if (s.ts_us == 0)
				s.ts_us = r->u.answer.ts_us;
			s.event = SOCK_SNAPSHOT;
			label_sock(fd, &s, 1);
		}
		break;
	case MSG_STATS:
		if (strcmp(prod, "capd") == 0)
			fd->capd_stats = r->u.stats;
		else if (strcmp(prod, "sockd") == 0)
			fd->sockd_stats = r->u.stats;
		break;
	case MSG_LOOKUP:
	case MSG_BYE:
		break;
	default:
		fd->cnt.bad_records++;
		break;
	}
}

/* Replay: every record of every recording, then end every flow. */
int
input_replay(struct flowd *fd, char * const *paths, int n)
{
	struct rec_merge *m;
	struct vbs_rec *r;
	char err[512];
	int rc, src, ret = EXIT_OK;

	if ((m = merge_open(paths, n, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return EXIT_INPUT;
	}
	if ((r = malloc(sizeof(*r))) == NULL)
		fatal("malloc");
	while ((rc = merge_next(m, r, &src)) > 0)
		input_record(fd, r, src);
	if (rc < 0) {
		log_warnx("%s", merge_error(m));
		ret = EXIT_INPUT;
	}
	free(r);
	merge_close(m);
	flow_end_all(fd, END_EOF);
	return ret;
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
 * Read one message from a live socket: 2 a message, 1 nothing there
 * (or a bad message, counted), 0 end of stream.
 */
static int
live_read(struct flowd *fd, int sock, int src, uint8_t *buf,
    struct vbs_rec *r)
{
	struct msg_reader mr;
	ssize_t n;
	int rc;

	n = wire_recv(sock, buf, VBS_MSG_MAX);
	if (n == 0)
		return 0;
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 1;
		if (errno == ECONNRESET)
			return 0;
		fatal("read from %s", src == 0 ? "capd" : "sockd");
	}
	if (msg_open(&mr, buf, (size_t)n) == -1) {
		log_warnx("bad message from %s: %s", src == 0 ? "capd" :
		    "sockd", mr.err);
		fd->cnt.bad_records++;
		return 1;
	}
	while ((rc = msg_next(&mr, r)) > 0)
		input_record(fd, r, src);
	if (rc < 0) {
		log_warnx("bad record from %s: %s", src == 0 ? "capd" :
		    "sockd", mr.err);
		fd->cnt.bad_records++;
	}
	return 2;
}

/*
 * Live: poll both sockets; between messages fire the timers on the
 * host clock (less a lag, for records still in the sockets); stop on
 * SIGTERM or SIGINT, ending every flow.
 */
int
input_live(struct flowd *fd, int capfd, int sockfd)
{
	struct live_lookups ll;
	struct pollfd pfd[2];
	struct sigaction sa;
	struct vbs_rec *r;
	uint8_t *buf;
	uint64_t now, last_apps = 0;
	int i, n, k, rc = 2;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

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
	pfd[0].fd = capfd;
	pfd[1].fd = sockfd;
	pfd[0].events = pfd[1].events = POLLIN;
	while (!stop_signal) {
		n = poll(pfd, 2, LIVE_TICK_MS);
		if (n == -1 && errno != EINTR)
			fatal("poll");
		for (i = 0; n > 0 && i < 2; i++) {
			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			/* a bounded burst per socket, then the other */
			for (k = 0; k < 64 && (rc = live_read(fd, pfd[i].fd,
			    i, buf, r)) == 2; k++)
				;
			if (rc == 0) {
				log_warnx("%s closed its stream",
				    i == 0 ? "capd" : "sockd");
				pfd[i].fd = -1;
				if (i == 1) {
					fd->lookup = NULL;
					ll.sock = -1;
				}
			}
		}
		lookup_flush(&ll);
		now = now_us();
		if (now > LIVE_LAG_US)
			flow_expire(fd, now - LIVE_LAG_US);
		batch_tick(fd, fd->now_us, mono_us());
		lookup_flush(&ll);
		if (now >= last_apps + APPS_EVERY_US) {
			appstats_write(fd);
			last_apps = now;
		}
	}
	log_info("signal %d: ending every flow", (int)stop_signal);
	fd->lookup = NULL;
	flow_end_all(fd, END_SHUTDOWN);
	msg_free(&ll.mb);
	free(buf);
	free(r);
	return EXIT_OK;
}
