/*
 * control.c: vbsd's control socket, the one way vbsctl talks to it.  A
 * Unix stream socket, mode 0600 (0660 with the configured admin group);
 * every client's credentials are checked again with SO_PEERCRED.  A
 * client sends one command line and reads the answer until vbsd closes:
 * "status", "start NAME", "stop NAME", "restart NAME", "reload" (read
 * vbs.conf again: reload.c), "shutdown".  Answers are JSON, one object per line, the last line
 * {"ok":true} or {"ok":false,"error":"..."}.  Runs in vbsd, as root.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vbsd.h"

int
control_listen(struct vbsd *v)
{
	const char		*path = conf_str(v->conf, "vbsd", "control_socket");
	const char		*group = conf_str(v->conf, "vbsd", "admin_group");
	struct sockaddr_un	 sun;
	struct group		*gr;
	int			 fd;
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
reply(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
reply(int fd, const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)!write(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n :
		    sizeof(buf) - 1);
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
do_status(struct vbsd *v, int fd)
{
	uint64_t	now = now_us();
	char		reason[384];
	int		i;

	for (i = 0; i < ST__MAX; i++) {
		struct stage *s = &v->st[i];

		json_escape(s->last_exit, reason, sizeof(reason));
		reply(fd, "{\"stage\":\"%s\",\"enabled\":%s,\"state\":\"%s\","
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
do_command(struct vbsd *v, int fd, char *line)
{
	char	*cmd, *arg;
	int	 id = -1;

	/* Act on what is true now, not on a SIGCHLD not yet read. */
	stages_reap(v);
	line[strcspn(line, "\r\n")] = '\0';
	cmd = strtok(line, " ");
	arg = strtok(NULL, " ");
	if (cmd == NULL) {
		reply(fd, "{\"ok\":false,\"error\":\"empty command\"}\n");
		return;
	}
	if (arg != NULL && (id = stage_lookup(arg)) == -1) {
		reply(fd, "{\"ok\":false,\"error\":\"no stage named %.32s\"}\n",
		    arg);
		return;
	}
	if (strcmp(cmd, "status") == 0 && arg == NULL) {
		do_status(v, fd);
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
			reply(fd, "{\"ok\":false,\"error\":\"%s\"}\n", esc);
			return;
		}
		log_info("reload: %s", msg);
		json_escape(msg, esc, sizeof(esc));
		reply(fd, "{\"ok\":true,\"reload\":\"%s\"}\n", esc);
		return;
	} else if (strcmp(cmd, "shutdown") == 0 && arg == NULL) {
		kill(getpid(), SIGTERM);
	} else {
		reply(fd, "{\"ok\":false,\"error\":\"unknown command\"}\n");
		return;
	}
	reply(fd, "{\"ok\":true}\n");
}

void
control_accept(struct vbsd *v, int lfd)
{
	int	fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("control accept");
		return;
	}
	if (!peer_is_admin(v, fd)) {
		reply(fd, "{\"ok\":false,\"error\":\"permission denied\"}\n");
		close(fd);
		return;
	}
	control_input(v, fd);
}

/*
 * Read the client's one line (it sends it at once; a slow client gets a
 * short timeout, never the master's attention for long) and answer.
 */
void
control_input(struct vbsd *v, int fd)
{
	struct timeval	tv = { 1, 0 };
	char		line[256];
	ssize_t		n;
	size_t		got = 0;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (got < sizeof(line) - 1) {
		n = read(fd, line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(line, '\n', got) != NULL)
			break;
	}
	line[got] = '\0';
	do_command(v, fd, line);
	close(fd);
}
