/*
 * control.c: vbsd's control socket, the one way vbsctl talks to it.  A
 * Unix stream socket, mode 0600 (0660 with the configured admin group);
 * every client's credentials are checked again with SO_PEERCRED.  A
 * client sends one command line and reads the answer until vbsd closes:
 * "status", "start NAME", "stop NAME", "restart NAME", "reload" (read
 * vbs.conf again: reload.c), "shutdown".  Answers are JSON, one object
 * per line, the last line {"ok":true} or {"ok":false,"error":"..."}.
 * Runs in vbsd, as root.
 *
 * The master has one thread, so a client must never make it wait: every
 * connection is non-blocking, in the main loop's poll set, with its own
 * buffers and CLIENT_MS for the whole exchange, and at most
 * CONTROL_CLIENTS are served at once.  A client too slow to send its
 * line or to take its answer is dropped when its time is up.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vbsd.h"

#define CLIENT_MS	2000	/* a whole exchange: command in, answer out */
#define COMMAND_MAX	256	/* one command line, its newline included */
#define ANSWER_MAX	4096	/* the longest answer, status: about 2 KB */

struct client {
	int		 fd;		/* -1: a free slot */
	uint64_t	 deadline;	/* mono_us() to drop it */
	size_t		 inlen;
	size_t		 outlen;	/* > 0: answered, being written */
	size_t		 outoff;
	char		 in[COMMAND_MAX];
	char		 out[ANSWER_MAX];
};

static struct client	clients[CONTROL_CLIENTS];

int
control_listen(struct vbsd *v)
{
	const char		*path = conf_str(v->conf, "vbsd", "control_socket");
	const char		*group = conf_str(v->conf, "vbsd", "admin_group");
	struct sockaddr_un	 sun;
	struct group		*gr;
	int			 fd, fd_i;
	mode_t			 old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		fatalx("control socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		fatal("control socket");
	if (unlink(path) == -1 && errno != ENOENT)
		fatal("unlink %s", path);
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", path);
	umask(old);
	if (group[0] != '\0') {
		if ((gr = getgrnam(group)) == NULL)
			fatalx("admin_group %s: no such group", group);
		if (chown(path, 0, gr->gr_gid) == -1 ||
		    chmod(path, 0660) == -1)
			fatal("control socket %s", path);
	}
	if (listen(fd, 8) == -1)
		fatal("listen %s", path);
	for (fd_i = 0; fd_i < CONTROL_CLIENTS; fd_i++)
		clients[fd_i].fd = -1;
	return fd;
}

/* Root, or a member of the admin group. */
static int
peer_is_admin(struct vbsd *v, int fd)
{
	const char	*group = conf_str(v->conf, "vbsd", "admin_group");
	struct group	*gr;
	struct passwd	*pw;
	gid_t		 groups[64];
	int		 n = 64, i;
	uid_t		 uid;
	gid_t		 gid;

	if (wire_peer(fd, &uid, &gid, NULL) == -1)
		return 0;
	if (uid == 0)
		return 1;
	if (group[0] == '\0' || (gr = getgrnam(group)) == NULL)
		return 0;
	if (gid == gr->gr_gid)
		return 1;
	if ((pw = getpwuid(uid)) == NULL ||
	    getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1)
		return 0;
	for (i = 0; i < n; i++)
		if (groups[i] == gr->gr_gid)
			return 1;
	return 0;
}

static void
reply(struct client *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Add to the answer; ANSWER_MAX holds the longest, a status. */
static void
reply(struct client *c, const char *fmt, ...)
{
	size_t	room = sizeof(c->out) - c->outlen;
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(c->out + c->outlen, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->outlen += (size_t)n < room ? (size_t)n : room - 1;
}

static void
json_escape(const char *s, char *out, size_t len)
{
	size_t	o = 0;

	for (; *s != '\0' && o + 7 < len; s++) {
		if (*s == '"' || *s == '\\') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if ((unsigned char)*s < 0x20)
			o += (size_t)snprintf(out + o, len - o, "\\u%04x", *s);
		else
			out[o++] = *s;
	}
	out[o] = '\0';
}

static void
do_status(struct vbsd *v, struct client *c)
{
	uint64_t	now = now_us();
	char		reason[384];
	int		i;

	for (i = 0; i < ST__MAX; i++) {
		struct stage *s = &v->st[i];

		json_escape(s->last_exit, reason, sizeof(reason));
		reply(c, "{\"stage\":\"%s\",\"enabled\":%s,\"state\":\"%s\","
		    "\"pid\":%ld,\"uptime_s\":%llu,\"restarts\":%u,"
		    "\"last_exit\":\"%s\"}\n", s->name,
		    s->enabled ? "true" : "false", stage_state_name(s->state),
		    (long)s->pid, s->state == SS_UP && s->up_since ?
		    (unsigned long long)((now - s->up_since) / 1000000) : 0ULL,
		    s->restarts, reason);
	}
}

/* One command; the answer ends with an ok line, then vbsd closes. */
static void
do_command(struct vbsd *v, struct client *c, char *line)
{
	char	*cmd, *arg;
	int	 id = -1;

	/* Act on what is true now, not on a SIGCHLD not yet read. */
	stages_reap(v);
	line[strcspn(line, "\r\n")] = '\0';
	cmd = strtok(line, " ");
	arg = strtok(NULL, " ");
	if (cmd == NULL) {
		reply(c, "{\"ok\":false,\"error\":\"empty command\"}\n");
		return;
	}
	if (arg != NULL && (id = stage_lookup(arg)) == -1) {
		reply(c, "{\"ok\":false,\"error\":\"no stage named %.32s\"}\n",
		    arg);
		return;
	}
	if (strcmp(cmd, "status") == 0 && arg == NULL) {
		do_status(v, c);
	} else if (strcmp(cmd, "start") == 0 && id != -1) {
		struct stage *s = &v->st[id];

		s->wanted = 1;
		if (s->state == SS_FAILED || s->state == SS_DOWN) {
			s->state = SS_DOWN;
			s->next_start = 0;
		}
		stage_tick(v);
	} else if (strcmp(cmd, "stop") == 0 && id != -1) {
		stage_stop(v, (enum stage_id)id);
	} else if (strcmp(cmd, "restart") == 0 && id != -1) {
		stage_restart(v, (enum stage_id)id);
	} else if (strcmp(cmd, "reload") == 0 && arg == NULL) {
		char	msg[600], esc[700];

		if (vbsd_reload(v, msg, sizeof(msg)) == -1) {
			log_warnx("reload refused: %s", msg);
			json_escape(msg, esc, sizeof(esc));
			reply(c, "{\"ok\":false,\"error\":\"%s\"}\n", esc);
			return;
		}
		log_info("reload: %s", msg);
		json_escape(msg, esc, sizeof(esc));
		reply(c, "{\"ok\":true,\"reload\":\"%s\"}\n", esc);
		return;
	} else if (strcmp(cmd, "shutdown") == 0 && arg == NULL) {
		kill(getpid(), SIGTERM);
	} else {
		reply(c, "{\"ok\":false,\"error\":\"unknown command\"}\n");
		return;
	}
	reply(c, "{\"ok\":true}\n");
}

static void
client_close(struct client *c)
{
	close(c->fd);
	c->fd = -1;
}

/*
 * Write what the socket takes of the answer; closed once all is out.
 * The answer fits any socket buffer, so a client that reads nothing
 * usually gets it whole; one that does not is dropped at its deadline.
 */
static void
client_flush(struct client *c)
{
	ssize_t	n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->outoff += (size_t)n;
	}
	client_close(c);
}

/* A refusal before a slot is given: one try, never a wait. */
static void
refuse(int fd, const char *why)
{
	char	buf[128];
	int	n;

	n = snprintf(buf, sizeof(buf), "{\"ok\":false,\"error\":\"%s\"}\n",
	    why);
	(void)!send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

/*
 * Take the connections waiting on the listening socket (a few at a
 * time: the loop comes back for the rest) into free slots.
 */
void
control_accept(struct vbsd *v, int lfd)
{
	struct client	*c;
	int		 fd, i, k;

	for (k = 0; k < CONTROL_CLIENTS; k++) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC |
		    SOCK_NONBLOCK)) == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("control accept");
			return;
		}
		if (!peer_is_admin(v, fd)) {
			refuse(fd, "permission denied");
			continue;
		}
		for (c = NULL, i = 0; i < CONTROL_CLIENTS && c == NULL; i++)
			if (clients[i].fd == -1)
				c = &clients[i];
		if (c == NULL) {
			log_warnx("control: %d clients already, one refused",
			    CONTROL_CLIENTS);
			refuse(fd, "busy: too many control clients");
			continue;
		}
		memset(c, 0, offsetof(struct client, in));
		c->fd = fd;
		c->deadline = mono_us() + CLIENT_MS * 1000;
	}
}

/*
 * Read what came of the client's line; once it is whole (a newline, or
 * the client's end of sending), act on it and start the answer.
 */
static void
client_input(struct vbsd *v, struct client *c)
{
	ssize_t	 n;
	char	*nl;

	n = read(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1 || (n == 0 && c->inlen == 0)) {
		client_close(c);
		return;
	}
	c->inlen += (size_t)n;
	c->in[c->inlen] = '\0';
	if ((nl = memchr(c->in, '\n', c->inlen)) != NULL)
		*nl = '\0';
	else if (c->inlen == sizeof(c->in) - 1) {
		reply(c, "{\"ok\":false,\"error\":\"command too long\"}\n");
		client_flush(c);
		return;
	} else if (n > 0)
		return;
	do_command(v, c, c->in);
	client_flush(c);
}

/* The clients' descriptors into pfd; returns how many. */
int
control_pollfds(struct pollfd *pfd)
{
	int	i, n = 0;

	for (i = 0; i < CONTROL_CLIENTS; i++) {
		if (clients[i].fd == -1)
			continue;
		pfd[n].fd = clients[i].fd;
		pfd[n].events = clients[i].outlen > 0 ? POLLOUT : POLLIN;
		pfd[n++].revents = 0;
	}
	return n;
}

/*
 * What poll said of the n entries control_pollfds filled.  An entry
 * whose client has gone since (a command closes none but its own) is
 * passed over: its descriptor is in no slot, or in a new one.
 */
void
control_events(struct vbsd *v, const struct pollfd *pfd, int n)
{
	struct client	*c;
	int		 i, j;

	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		for (c = NULL, j = 0; j < CONTROL_CLIENTS; j++)
			if (clients[j].fd == pfd[i].fd)
				c = &clients[j];
		if (c == NULL || (c->outlen > 0) != (pfd[i].events == POLLOUT))
			continue;
		if (c->outlen > 0)
			client_flush(c);
		else
			client_input(v, c);
	}
}

/* Drop the clients whose time is up; ms until the next one's, or max. */
uint64_t
control_tick(void)
{
	uint64_t	now = mono_us(), next = UINT64_MAX;
	int		i;

	for (i = 0; i < CONTROL_CLIENTS; i++) {
		if (clients[i].fd == -1)
			continue;
		if (now >= clients[i].deadline) {
			log_warnx("control: a client %s within %d ms: dropped",
			    clients[i].outlen > 0 ? "did not take its answer" :
			    "sent no whole command", CLIENT_MS);
			client_close(&clients[i]);
		} else if (clients[i].deadline < next)
			next = clients[i].deadline;
	}
	return next == UINT64_MAX ? next : (next - now) / 1000 + 1;
}
