/*
 * input.c: flowd's two ways in.  Runs in flowd.  Replay reads recordings
 * through libvbsproto's merge reader, which yields their records in
 * time order (a piped recording through a relay child, so that its
 * first bytes can name it); live reads capd's and sockd's SOCK_SEQPACKET
 * sockets, whose peers flowd.c has checked, and sends look-ups back to
 * sockd.
 * Every message is decoded strictly by msg_open/msg_next; a message
 * that fails is counted and dropped, never half used.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

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
static int	hello_seen[MAX_SOURCES];	/* 2: none, and said so */

#define DIGEST_PREFIX	65536

/* Children that feed a piped recording back to the reader (relay). */
static pid_t	relays[MAX_SOURCES];
static int	relay_fds[MAX_SOURCES];
static int	nrelays;
static char	relay_paths[MAX_SOURCES][32];

/* Read up to len bytes, stopping only at the end or an error. */
static ssize_t
read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, buf + got, len - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int
write_full(int fd, const uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A recording that is not a regular file (capd -w - | flowd -r -, a
 * FIFO) cannot be read twice, and its first bytes, read for the digest,
 * are gone from it.  A child gives them back: it writes them into a
 * new pipe, then copies the rest of the input after them, and the
 * reader opens that pipe as /dev/fd/N.  The child ends at the input's
 * end (0) or a read error (1), or when flowd stops reading.  NULL if
 * the relay cannot be made.
 */
static char *
relay_start(int in, const uint8_t *pre, size_t npre, uint8_t *buf)
{
	int p[2];
	pid_t pid;
	ssize_t n;

	if (nrelays == MAX_SOURCES || pipe(p) == -1)
		return NULL;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return NULL;
	}
	if (pid == 0) {
		close(p[0]);
		signal(SIGPIPE, SIG_DFL);
		if (write_full(p[1], pre, npre) == -1)
			_exit(0);
		/* the child's copy of buf: the prefix is written */
		while ((n = read(in, buf, DIGEST_PREFIX)) != 0) {
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1)
				_exit(1);
			if (write_full(p[1], buf, (size_t)n) == -1)
				_exit(0);
		}
		_exit(0);
	}
	close(p[1]);
	relays[nrelays] = pid;
	relay_fds[nrelays] = p[0];
	snprintf(relay_paths[nrelays], sizeof(relay_paths[nrelays]),
	    "/dev/fd/%d", p[0]);
	return relay_paths[nrelays++];
}

/*
 * A digest of the input for replay's batch and flow ids: each file's
 * size and first 64 KiB.  Cheap, and the same recordings give the same
 * ids.  A recording that is not a regular file has no size: its first
 * 64 KiB alone name it, and it is read through a relay (above), whose
 * path replaces it in paths.
 */
uint64_t
input_digest(char **paths, int n)
{
	static const uint8_t key[16] = "vbs-flowd-replay";
	char *relay;
	uint8_t *buf;
	uint64_t h = 0, part[2];
	struct stat sb;
	ssize_t got;
	int i, fd;

	if ((buf = malloc(DIGEST_PREFIX + 16)) == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		memset(buf, 0, 16);
		got = 0;
		if (strcmp(paths[i], "-") == 0)
			fd = dup(STDIN_FILENO);
		else
			fd = open(paths[i], O_RDONLY | O_CLOEXEC);
		if (fd != -1 && fstat(fd, &sb) == 0) {
			part[0] = S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size :
			    UINT64_MAX;
			part[1] = h;
			memcpy(buf, part, 16);
			got = read_full(fd, buf + 16, DIGEST_PREFIX);
			if (!S_ISREG(sb.st_mode) && got >= 0) {
				if ((relay = relay_start(fd, buf + 16,
				    (size_t)got, buf + 16)) == NULL)
					fatal("relay for %s", paths[i]);
				paths[i] = relay;
			}
		}
		if (fd != -1)
			close(fd);
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

	/*
	 * A stream may begin without its hello: a flowd restarted on the
	 * same sockets gets what capd and sockd send after the hello that
	 * went to the one before.  The records are good; only the hello's
	 * facts (capd's interface names, the OS) wait for the next one.
	 */
	if (r->type != MSG_HELLO && src >= 0 && src < MAX_SOURCES &&
	    hello_seen[src] == 0) {
		hello_seen[src] = 2;
		log_info("%s stream began without a hello (a restart?): "
		    "taking its records", prod[0] != '\0' ? prod :
		    "a producer's");
	}
	switch (r->type) {
	case MSG_HELLO:
		if (src >= 0 && src < MAX_SOURCES) {
			snprintf(producers[src], sizeof(producers[src]), "%s",
			    r->u.hello.producer);
			hello_seen[src] = 1;
		}
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

/*
 * Reap the relays, after closing their pipes so that none waits on a
 * reader that stopped early: -1 if one could not read its input.
 */
static int
relay_wait(void)
{
	int i, st, rc = 0;

	for (i = 0; i < nrelays; i++) {
		close(relay_fds[i]);
		while (waitpid(relays[i], &st, 0) == -1)
			if (errno != EINTR) {
				st = 0;
				break;
			}
		if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
			log_warnx("relay of a piped recording failed");
			rc = -1;
		}
	}
	nrelays = 0;
	return rc;
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
		relay_wait();
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
	return relay_wait() == -1 ? EXIT_INPUT : ret;
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

	/* the sockets' roles name their producers before any hello */
	snprintf(producers[0], sizeof(producers[0]), "capd");
	snprintf(producers[1], sizeof(producers[1]), "sockd");
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
