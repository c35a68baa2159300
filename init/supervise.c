/*
 * supervise.c: vbsd's table of stages, after s6-supervise.  Each stage is
 * started by fork and exec (always a fresh program) with its sockets as
 * inherited descriptors and a pipe on which it writes "ready" when it is
 * up; a stage that dies is restarted at least restart_min apart, backing
 * off exponentially to restart_max, and its deaths are tallied.  A stage
 * that closes its pipe without "ready", or says nothing for start_timeout,
 * has failed to start: it is stopped and its exit counted as a death.  A
 * stage that exits with EXIT_CONFIG is not restarted: its configuration
 * must be fixed first.  Runs in vbsd, as root; trusts only its own children's
 * exit statuses and readiness pipes.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vbsd.h"

static const char *stage_names[ST__MAX] = {
	[ST_FLOWD] = "flowd", [ST_SOCKD] = "sockd", [ST_CAPD] = "capd",
	[ST_SHIPD] = "shipd"
};

static char	bindir[PATH_MAX];

const char *
stage_state_name(enum stage_state s)
{
	static const char *n[] = { "down", "waiting", "starting", "up",
	    "stopping", "failed" };

	return n[s];
}

int
stage_lookup(const char *name)
{
	int	i;

	for (i = 0; i < ST__MAX; i++)
		if (strcmp(name, stage_names[i]) == 0)
			return i;
	return -1;
}

/* The stages live beside vbsd's own executable. */
static void
find_bindir(void)
{
	ssize_t	 n;
	char	*slash;

	if ((n = readlink("/proc/self/exe", bindir, sizeof(bindir) - 1)) <= 0)
		fatal("readlink /proc/self/exe");
	bindir[n] = '\0';
	if ((slash = strrchr(bindir, '/')) != NULL)
		*slash = '\0';
}

void
stage_init(struct vbsd *v)
{
	int	i;

	find_bindir();
	for (i = 0; i < ST__MAX; i++) {
		memset(&v->st[i], 0, sizeof(v->st[i]));
		v->st[i].name = stage_names[i];
		v->st[i].ready_fd = -1;
		v->st[i].backoff_ms =
		    (uint64_t)conf_int(v->conf, "vbsd", "restart_min");
	}
}

/*
 * In the child: put the descriptors the stage needs at 3, 4, ... and
 * close every other one, so that nothing of vbsd leaks into a stage.
 */
static void
child_fds(const int *fds, int n)
{
	int	high[8], i, fd, max;

	for (i = 0; i < n; i++)
		if ((high[i] = fcntl(fds[i], F_DUPFD, 64)) == -1)
			_exit(EXIT_SYSTEM);
	for (i = 0; i < n; i++)
		if (dup2(high[i], 3 + i) == -1)
			_exit(EXIT_SYSTEM);
	max = (int)sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = 3 + n; fd < max; fd++)
		close(fd);
}

/* Build the argument vector of a stage; fds go at 3, 4, ... */
static int
stage_argv(struct vbsd *v, enum stage_id id, char **argv, char *path,
    size_t pathlen, int *fds, int readyfd)
{
	static char	 fdarg[4][8];
	int		 a = 0, n = 0;

	snprintf(path, pathlen, "%s/%s", bindir, stage_names[id]);
	argv[a++] = (char *)(uintptr_t)stage_names[id];
	if (v->foreground)
		argv[a++] = "-d";
	if (v->verbose)
		argv[a++] = "-v";
	argv[a++] = "-f";
	argv[a++] = (char *)(uintptr_t)v->conf_path;
	switch (id) {
	case ST_CAPD:
		fds[n++] = v->cap_w;
		argv[a++] = "-S";
		argv[a++] = "3";
		break;
	case ST_SOCKD:
		fds[n++] = v->sock_s;
		argv[a++] = "-S";
		argv[a++] = "3";
		break;
	case ST_FLOWD:
		fds[n++] = v->cap_r;
		fds[n++] = v->sock_f;
		argv[a++] = "-C";
		argv[a++] = "3";
		argv[a++] = "-S";
		argv[a++] = "4";
		break;
	default:
		break;
	}
	fds[n++] = readyfd;
	snprintf(fdarg[0], sizeof(fdarg[0]), "%d", 3 + n - 1);
	argv[a++] = "-R";
	argv[a++] = fdarg[0];
	argv[a] = NULL;
	return n;
}

void
stage_start(struct vbsd *v, enum stage_id id)
{
	struct stage		*s = &v->st[id];
	char			*argv[20], path[PATH_MAX + 16];
	int			 fds[8], n, p[2];
	const char		*user = NULL;
	struct priv_spec	 spec;
	sigset_t		 all, old;

	if (s->pid > 0)
		return;
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("%s: pipe", s->name);
		s->state = SS_WAITING;
		s->next_start = mono_us() + s->backoff_ms * 1000;
		return;
	}
	n = stage_argv(v, id, argv, path, sizeof(path), fds, p[1]);
	if (id == ST_FLOWD || id == ST_SHIPD)
		user = conf_str(v->conf, "vbsd", "user");
	/*
	 * Signals stay blocked across fork until the child has put back the
	 * default handlers: a SIGTERM sent to a stage that has not reached
	 * exec yet must not be eaten by a copy of vbsd's handler.
	 */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	switch (s->pid = fork()) {
	case -1:
		sigprocmask(SIG_SETMASK, &old, NULL);
		log_warn("%s: fork", s->name);
		close(p[0]);
		close(p[1]);
		s->pid = 0;
		s->state = SS_WAITING;
		s->next_start = mono_us() + s->backoff_ms * 1000;
		return;
	case 0:
		/* The child: default signals, its fds, its user, exec. */
		signal(SIGPIPE, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		/*
		 * Except SIGHUP, which no stage handles: a reload is vbsd's
		 * (reload.c), and a SIGHUP sent to a stage by hand, or by a
		 * terminal that goes away under `vbsd -d`, must not kill
		 * it (it once killed stages still starting).
		 */
		signal(SIGHUP, SIG_IGN);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		child_fds(fds, n);
		if (user != NULL) {
			memset(&spec, 0, sizeof(spec));
			spec.user = user;
			priv_drop(&spec);
		}
		execv(path, argv);
		fprintf(stderr, "vbsd: exec %s: %s\n", path, strerror(errno));
		_exit(EXIT_SYSTEM);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	s->ready_fd = p[0];
	s->state = SS_STARTING;
	s->started_us = mono_us();
	s->up_since = 0;
	log_info("%s: started, pid %ld", s->name, (long)s->pid);
}

/* SIGTERM to a running stage, SIGKILL after stop_grace: once. */
static void
stage_term(struct vbsd *v, struct stage *s)
{
	if (s->state == SS_STOPPING)
		return;
	kill(s->pid, SIGTERM);
	s->state = SS_STOPPING;
	s->stop_deadline = mono_us() + (uint64_t)conf_int(v->conf, "vbsd",
	    "stop_grace") * 1000;
	log_info("%s: stopping, pid %ld", s->name, (long)s->pid);
}

void
stage_stop(struct vbsd *v, enum stage_id id)
{
	struct stage	*s = &v->st[id];

	s->wanted = 0;
	if (s->pid > 0)
		stage_term(v, s);
	else if (s->state != SS_FAILED)
		s->state = SS_DOWN;
}

/*
 * Down then up again at once, as an admin asks (`vbsctl restart`, or a
 * reload that changed the stage's settings): not counted as a death, and
 * a stage that had failed is tried again.
 */
void
stage_restart(struct vbsd *v, enum stage_id id)
{
	struct stage	*s = &v->st[id];

	s->wanted = 1;
	s->backoff_ms = (uint64_t)conf_int(v->conf, "vbsd", "restart_min");
	if (s->pid > 0) {
		stage_term(v, s);
		s->asked_restart = 1;
	} else {
		if (s->state == SS_FAILED || s->state == SS_DOWN)
			s->state = SS_DOWN;
		s->next_start = 0;
	}
	stage_tick(v);
}

/*
 * A start that failed while its process lives on: it closed its
 * readiness pipe without "ready", or stayed silent for start_timeout.
 * It is stopped, and stage_reaped counts its exit as a death, so that it
 * is restarted with the usual backoff and the stages after it no longer
 * wait for it (deps_ready).
 */
static void
stage_start_failed(struct vbsd *v, enum stage_id id, const char *why)
{
	struct stage	*s = &v->st[id];

	snprintf(s->fail_why, sizeof(s->fail_why), "%s", why);
	log_warnx("%s: %s", s->name, why);
	stage_term(v, s);
}

static void
describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited %d%s", WEXITSTATUS(status),
		    WEXITSTATUS(status) == EXIT_CONFIG ?
		    " (configuration error)" : "");
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status %d", status);
}

/* A child is gone: note why, and plan its restart unless told not to. */
static void
stage_reaped(struct vbsd *v, pid_t pid, int status)
{
	struct stage	*s = NULL;
	uint64_t	 now = mono_us(), ran_ms, min, max;
	char		 why[96];
	int		 i, failed_start;

	for (i = 0; i < ST__MAX; i++)
		if (v->st[i].pid == pid)
			s = &v->st[i];
	if (s == NULL)
		return;
	describe_exit(status, why, sizeof(why));
	if (s->fail_why[0] != '\0')
		snprintf(s->last_exit, sizeof(s->last_exit), "%s, then %s",
		    s->fail_why, why);
	else
		snprintf(s->last_exit, sizeof(s->last_exit), "%s", why);
	failed_start = s->fail_why[0] != '\0';
	s->fail_why[0] = '\0';
	s->pid = 0;
	if (s->ready_fd != -1) {
		close(s->ready_fd);
		s->ready_fd = -1;
	}
	ran_ms = (now - s->started_us) / 1000;
	min = (uint64_t)conf_int(v->conf, "vbsd", "restart_min");
	max = (uint64_t)conf_int(v->conf, "vbsd", "restart_max");
	if (!s->wanted || v->shutting_down) {
		s->state = SS_DOWN;
		log_info("%s: %s", s->name, s->last_exit);
		return;
	}
	if (s->asked_restart) {
		/* vbsctl restart: up again at once, and not a death. */
		s->asked_restart = 0;
		s->state = SS_WAITING;
		s->next_start = now;
		log_info("%s: %s; restarting as asked", s->name, s->last_exit);
		return;
	}
	s->restarts++;
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_CONFIG) {
		s->state = SS_FAILED;
		s->wanted = 0;
		log_warnx("%s: %s; not restarting until it is fixed and "
		    "started again (vbsctl start %s)", s->name, s->last_exit,
		    s->name);
		return;
	}
	/*
	 * A stage that ran for a while starts over at the shortest delay;
	 * one that never got as far as ready did not run.
	 */
	if (ran_ms > max && !failed_start)
		s->backoff_ms = min;
	s->state = SS_WAITING;
	s->next_start = now + s->backoff_ms * 1000;
	log_warnx("%s: %s; restart %u in %llu ms", s->name, s->last_exit,
	    s->restarts, (unsigned long long)s->backoff_ms);
	s->backoff_ms = s->backoff_ms * 2 > max ? max : s->backoff_ms * 2;
}

/*
 * Collect every child that has exited.  Called on SIGCHLD, and before
 * each control command, so that no answer names as running a process
 * that has already exited and whose SIGCHLD is still on its way.
 */
void
stages_reap(struct vbsd *v)
{
	pid_t	pid;
	int	status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		stage_reaped(v, pid, status);
}

void
stage_ready_input(struct vbsd *v, enum stage_id id)
{
	struct stage	*s = &v->st[id];
	char		 buf[64];
	ssize_t		 n;

	n = read(s->ready_fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		if (strstr(buf, "ready") != NULL && s->state == SS_STARTING) {
			s->state = SS_UP;
			s->up_since = now_us();
			log_info("%s: ready", s->name);
		}
		return;
	}
	/* EOF or error: the stage closed it. */
	close(s->ready_fd);
	s->ready_fd = -1;
	if (s->state == SS_STARTING)
		stage_start_failed(v, id, "closed its readiness pipe without "
		    "a ready line");
}

/* When a stage that is starting must have said ready, mono_us(). */
static uint64_t
start_deadline(struct vbsd *v, const struct stage *s)
{
	return s->started_us + (uint64_t)conf_int(v->conf, "vbsd",
	    "start_timeout") * 1000;
}

/*
 * May stage id start now?  At boot each stage waits for the ones before
 * it in the table (flowd, sockd, capd, shipd) to be up or given up on.
 */
static int
deps_ready(struct vbsd *v, enum stage_id id)
{
	int	i;

	for (i = 0; i < (int)id; i++) {
		struct stage *d = &v->st[i];

		if (d->enabled && d->wanted && d->state != SS_UP &&
		    d->restarts == 0)
			return 0;
	}
	return 1;
}

/*
 * Would stage_tick start stage id once its delay is over?  stage_tick and
 * stage_next_timer both ask here, so that the loop never wakes for a
 * start that will not happen.
 */
static int
stage_may_start(struct vbsd *v, enum stage_id id)
{
	struct stage	*s = &v->st[id];

	if (v->shutting_down || !s->wanted || s->pid > 0)
		return 0;
	if (s->state != SS_DOWN && s->state != SS_WAITING)
		return 0;
	return deps_ready(v, id);
}

void
stage_tick(struct vbsd *v)
{
	uint64_t	now = mono_us();
	int		i;

	for (i = 0; i < ST__MAX; i++) {
		struct stage *s = &v->st[i];

		if (s->state == SS_STOPPING && s->pid > 0 &&
		    now >= s->stop_deadline) {
			log_warnx("%s: no exit after SIGTERM, sending SIGKILL",
			    s->name);
			kill(s->pid, SIGKILL);
			s->stop_deadline = UINT64_MAX;
		}
		if (s->state == SS_STARTING && s->pid > 0 &&
		    now >= start_deadline(v, s)) {
			char why[64];

			snprintf(why, sizeof(why), "not ready %lld s after "
			    "its start", conf_int(v->conf, "vbsd",
			    "start_timeout") / 1000);
			stage_start_failed(v, (enum stage_id)i, why);
		}
		if (stage_may_start(v, (enum stage_id)i) &&
		    now >= s->next_start)
			stage_start(v, (enum stage_id)i);
	}
}

/*
 * Milliseconds until the next timer, or UINT64_MAX when none is pending.
 * Only a start stage_tick would make counts: a stage held back by the
 * ones before it has no timer of its own, as whatever frees it (a ready
 * line, a death, a command) wakes the loop anyway.  A timer that is due
 * but leads nowhere would make the loop spin.
 */
uint64_t
stage_next_timer(struct vbsd *v)
{
	uint64_t	now = mono_us(), next = UINT64_MAX;
	int		i;

	for (i = 0; i < ST__MAX; i++) {
		struct stage *s = &v->st[i];

		if (stage_may_start(v, (enum stage_id)i) &&
		    s->next_start < next)
			next = s->next_start;
		if (s->state == SS_STOPPING && s->pid > 0 &&
		    s->stop_deadline < next)
			next = s->stop_deadline;
		if (s->state == SS_STARTING && s->pid > 0 &&
		    start_deadline(v, s) < next)
			next = start_deadline(v, s);
	}
	if (next == UINT64_MAX)
		return UINT64_MAX;
	return next <= now ? 0 : (next - now) / 1000 + 1;
}

int
stages_all_down(struct vbsd *v)
{
	int	i;

	for (i = 0; i < ST__MAX; i++)
		if (v->st[i].pid > 0)
			return 0;
	return 1;
}
