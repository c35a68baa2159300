/*
 * vbsd.c: the master.  Runs as root: reads vbs.conf, makes the runtime
 * and data directories with their owners, makes the socket pairs between
 * capd and flowd and between sockd and flowd and keeps its own copies
 * (so a restarted flowd finds what the producers wrote meanwhile), starts
 * the stages, restarts the ones that die, and obeys vbsctl.  One poll
 * loop over a self-pipe for signals, the control socket and its clients
 * (control.c: none may make the loop wait) and the stages' readiness
 * pipes; no threads.  SIGHUP or "vbsctl reload" read vbs.conf again
 * (reload.c).  SIGTERM or "vbsctl shutdown" stop the stages in order:
 * capd and sockd, then flowd (which writes every open flow), then shipd
 * (one last upload), then vbsd.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vbsd.h"

static int	sigpipe_fds[2] = { -1, -1 };

static void
on_signal(int sig)
{
	int		saved = errno;
	unsigned char	c = (unsigned char)sig;

	(void)!write(sigpipe_fds[1], &c, 1);
	errno = saved;
}

static void
usage(void)
{
	fprintf(stderr, "usage: vbsd [-dnv] [-f config]\n");
	exit(EXIT_USAGE);
}

/*
 * The socket pairs.  Their buffers are made large (root may pass the
 * system's limit) so that a flowd restart loses nothing that fits.
 */
static void
make_sockets(struct vbsd *v)
{
	int	sv[2], size = 8 << 20;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("socketpair capd/flowd");
	v->cap_w = sv[0];
	v->cap_r = sv[1];
	setsockopt(v->cap_w, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	setsockopt(v->cap_r, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("socketpair sockd/flowd");
	v->sock_s = sv[0];
	v->sock_f = sv[1];
	/* Both directions carry messages: look-ups one way, events back. */
	setsockopt(v->sock_s, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	setsockopt(v->sock_s, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	setsockopt(v->sock_f, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	setsockopt(v->sock_f, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
}

static void
begin_shutdown(struct vbsd *v)
{
	int	i;

	if (v->shutting_down)
		return;
	log_info("shutting down: capd and sockd first");
	v->shutting_down = 1;
	/*
	 * A stage waiting for its restart is not started again: it is down
	 * now, not waiting, in the status and in the loop's timers.
	 */
	for (i = 0; i < ST__MAX; i++)
		if (v->st[i].pid == 0)
			stage_stop(v, (enum stage_id)i);
	stage_stop(v, ST_CAPD);
	stage_stop(v, ST_SOCKD);
}

/* Ordered shutdown: each phase starts when the one before is down. */
static void
shutdown_step(struct vbsd *v)
{
	if (!v->shutting_down)
		return;
	if (v->st[ST_CAPD].pid > 0 || v->st[ST_SOCKD].pid > 0)
		return;
	if (v->st[ST_FLOWD].pid > 0) {
		if (v->st[ST_FLOWD].state != SS_STOPPING)
			log_info("shutting down: flowd writes its open flows");
		stage_stop(v, ST_FLOWD);
		return;
	}
	if (v->st[ST_SHIPD].pid > 0) {
		if (v->st[ST_SHIPD].state != SS_STOPPING)
			log_info("shutting down: shipd's last upload");
		stage_stop(v, ST_SHIPD);
	}
}

static void
handle_signals(struct vbsd *v)
{
	unsigned char	buf[32];
	char		msg[600];
	ssize_t		n, i;

	n = read(sigpipe_fds[0], buf, sizeof(buf));
	for (i = 0; i < n; i++) {
		switch (buf[i]) {
		case SIGCHLD:
			stages_reap(v);
			break;
		case SIGTERM:
		case SIGINT:
			begin_shutdown(v);
			break;
		case SIGHUP:
			if (vbsd_reload(v, msg, sizeof(msg)) == -1)
				log_warnx("reload refused: %s", msg);
			else
				log_info("reload: %s", msg);
			break;
		}
	}
}

static void
loop(struct vbsd *v, int ctl)
{
	struct pollfd	pfd[2 + ST__MAX + CONTROL_CLIENTS];
	int		map[2 + ST__MAX];
	pid_t		pidof[2 + ST__MAX];
	int		n, nc, i, timeout;
	uint64_t	t, tc;

	for (;;) {
		stage_tick(v);
		shutdown_step(v);
		if (v->shutting_down && stages_all_down(v))
			return;
		tc = control_tick();
		n = 0;
		pfd[n].fd = sigpipe_fds[0];
		pfd[n].events = POLLIN;
		map[n++] = -1;
		pfd[n].fd = ctl;
		pfd[n].events = POLLIN;
		map[n++] = -2;
		for (i = 0; i < ST__MAX; i++) {
			if (v->st[i].ready_fd == -1)
				continue;
			pfd[n].fd = v->st[i].ready_fd;
			pfd[n].events = POLLIN;
			pidof[n] = v->st[i].pid;
			map[n++] = i;
		}
		/* The control clients last, past the end of map. */
		nc = control_pollfds(pfd + n);
		t = stage_next_timer(v);
		if (tc < t)
			t = tc;
		timeout = t == UINT64_MAX ? -1 : t > 60000 ? 60000 : (int)t;
		if (poll(pfd, (nfds_t)(n + nc), timeout) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		for (i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (map[i] == -1)
				handle_signals(v);
			else if (map[i] == -2)
				control_accept(v, ctl);
			/*
			 * Unless the stage was reaped (and maybe started
			 * again) since the poll: the entry is stale then.
			 */
			else if (v->st[map[i]].pid == pidof[i] &&
			    v->st[map[i]].ready_fd == pfd[i].fd)
				stage_ready_input(v, (enum stage_id)map[i]);
		}
		control_events(v, pfd + n, nc);
	}
}

int
main(int argc, char **argv)
{
	struct vbsd		 v;
	struct sigaction	 sa;
	char			 ebuf[512];
	int			 ch, check = 0, ctl, i;

	memset(&v, 0, sizeof(v));
	v.conf_path = "/etc/vbs/vbs.conf";
	while ((ch = getopt(argc, argv, "df:nv")) != -1) {
		switch (ch) {
		case 'd':
			v.foreground = 1;
			break;
		case 'f':
			v.conf_path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			v.verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if ((v.conf = conf_load(v.conf_path, ebuf, sizeof(ebuf))) == NULL)
		errx(EXIT_CONFIG, "%s", ebuf);
	if (check) {
		conf_print(v.conf, NULL, stdout);
		return EXIT_OK;
	}
	if (geteuid() != 0)
		errx(EXIT_USAGE, "must run as root: it starts capd and sockd");
	log_init("vbsd", v.foreground, v.verbose);
	stage_init(&v);
	for (i = 0; i < ST__MAX; i++)
		if (vbsd_stage_listed(v.conf, v.st[i].name))
			v.st[i].enabled = v.st[i].wanted = 1;
	if (vbsd_make_dirs(v.conf, ebuf, sizeof(ebuf)) == -1)
		errx(EXIT_CONFIG, "%s", ebuf);
	make_sockets(&v);
	if (!v.foreground && daemon(0, 0) == -1)
		err(EXIT_SYSTEM, "daemon");
	if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ctl = control_listen(&v);
	v.started_us = now_us();
	log_info("started; control socket %s",
	    conf_str(v.conf, "vbsd", "control_socket"));
	loop(&v, ctl);
	unlink(conf_str(v.conf, "vbsd", "control_socket"));
	log_info("all stages down; exiting");
	conf_free(v.conf);
	return EXIT_OK;
}
