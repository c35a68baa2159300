/*
 * input.c: flowd's records, whichever way they come in.  Runs in flowd.
 * Replay reads recordings through libvbsproto's merge reader, which
 * yields their records in time order (a piped recording through a relay
 * child, so that its first bytes can name it); live input (live.c)
 * hands its records to input_record too.  Live, each producer's last
 * hello is kept in the work directory, so that a flowd restarted on the
 * sockets vbsd keeps knows capd's interfaces and OS before capd says
 * hello again.
 * Every message is decoded strictly by msg_open/msg_next; a message
 * that fails is counted and dropped, never half used.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flowd.h"

#define MAX_SOURCES	16

static char	producers[MAX_SOURCES][VBS_NAME_MAX];
/* 0 none yet, 1 seen, 2 none and said so, 3 the one kept from before */
static int	hello_seen[MAX_SOURCES];
static const char *const live_names[LIVE_INPUTS] = { "capd", "sockd" };

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

/*
 * sockd's news fire the timers TIMER_LAG_US back.  Live, flowd reads
 * sockd's input first, and a socket's news are younger than the packets
 * still in capd's buffer: fired at the news' time, an idle or closing
 * flow ended before its last packets came, and the live flowd split
 * flows its replay (in time order) did not.
 */
static void
news_expire(struct flowd *fd, uint64_t ts)
{
	if (ts > TIMER_LAG_US)
		flow_expire(fd, ts - TIMER_LAG_US);
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
	 * went to the one before.  The records are good; the hello's facts
	 * (capd's interface names, the OS) are those of the hello kept
	 * from before, if any, until the next one.
	 */
	if (r->type != MSG_HELLO && src >= 0 && src < MAX_SOURCES &&
	    (hello_seen[src] == 0 || hello_seen[src] == 3)) {
		log_info("%s stream began without a hello (a restart?): "
		    "taking its records%s", prod[0] != '\0' ? prod :
		    "a producer's", hello_seen[src] == 3 ?
		    ", with its last hello" : "");
		hello_seen[src] = 2;
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
		if (!fd->conf.replay)
			input_hello_save(fd, r, src);
		break;
	case MSG_PACKETS:
		flow_expire(fd, r->u.pkt.ts_us);
		flow_packet(fd, &r->u.pkt);
		break;
	case MSG_SOCKETS:
		news_expire(fd, r->u.sock.ts_us);
		if (r->u.sock.source == SRC_EBPF &&
		    (r->u.sock.proto == IPPROTO_TCP_NUM ||
		    r->u.sock.proto == IPPROTO_UDP_NUM))
			fd->ebpf_us[r->u.sock.proto == IPPROTO_UDP_NUM] =
			    r->u.sock.ts_us;
		label_sock(fd, &r->u.sock, 0);
		break;
	case MSG_ANSWER:
		fd->cnt.answers++;
		news_expire(fd, r->u.answer.ts_us);
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

static void
hello_path(const struct flowd *fd, int src, char *buf, size_t len)
{
	snprintf(buf, len, "%s/hello-%s.msg", fd->conf.work_dir,
	    live_names[src]);
}

/*
 * Live: keep a producer's hello in the work directory (one message,
 * written whole by rename) for the next flowd.
 */
void
input_hello_save(struct flowd *fd, const struct vbs_rec *r, int src)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	struct msg_builder mb;
	int f;

	if (src < 0 || src >= LIVE_INPUTS)
		return;
	hello_path(fd, src, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (msg_init(&mb) == -1)
		fatal("msg_init");
	if (msg_encode1(&mb, r) == -1)
		fatalx("hello does not fit a message");
	if ((f = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || write_full(f, mb.buf, mb.len) == -1 ||
	    fsync(f) == -1 || close(f) == -1 || rename(tmp, path) == -1)
		log_warn("%s", path);
	msg_free(&mb);
}

/*
 * Live, at start: name the sockets' producers and take the hellos kept
 * by the flowd before, as if they had just come (before the recovery of
 * its batch, whose meta names the OS).  A file that does not decode to
 * one hello from the right producer is ignored.
 */
void
input_hello_load(struct flowd *fd)
{
	char path[PATH_MAX];
	struct msg_reader mr;
	struct vbs_rec *r;
	uint8_t *buf;
	ssize_t n;
	int src, f;

	if ((buf = malloc(VBS_MSG_MAX)) == NULL ||
	    (r = malloc(sizeof(*r))) == NULL)
		fatal("malloc");
	for (src = 0; src < LIVE_INPUTS; src++) {
		snprintf(producers[src], sizeof(producers[src]), "%s",
		    live_names[src]);
		hello_path(fd, src, path, sizeof(path));
		if ((f = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		n = read_full(f, buf, VBS_MSG_MAX);
		close(f);
		if (n <= 0 || msg_open(&mr, buf, (size_t)n) == -1 ||
		    msg_next(&mr, r) != 1 || r->type != MSG_HELLO ||
		    strcmp(r->u.hello.producer, live_names[src]) != 0) {
			log_warnx("%s: not a hello from %s: ignored", path,
			    live_names[src]);
			continue;
		}
		if (src == 0)
			fd->capd_hello = r->u.hello;
		hello_seen[src] = 3;
		log_debug("%s: %s's last hello", path, live_names[src]);
	}
	free(r);
	free(buf);
}
