/*
 * supervise_test.c: vbsd's timers and failed starts (init/supervise.c).
 * The poll timeout the loop uses must agree with what stage_tick would
 * do: a stage that waits but may not start yet (held back by a stage
 * before it that is still starting, or by a shutdown) must not make the
 * timeout zero, or vbsd spins.  A stage that closes its readiness pipe
 * without "ready", or stays silent past start_timeout, must be stopped
 * and counted as a death, so that the stages after it start.  The stage
 * table is filled by hand; the misbehaving stages are children forked
 * here, and nothing is exec'd.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../init/vbsd.h"

/* Never signalled: stage_next_timer only reads the table. */
#define FAKE_PID	0x7ffffff0

static struct vbs_conf	*conf;
static pid_t		 child;	/* a misbehaving stage, killed at teardown */

static void
table(struct vbsd *v)
{
	static const char *names[ST__MAX] = { "flowd", "sockd", "capd",
	    "shipd" };
	int	i;

	memset(v, 0, sizeof(*v));
	v->conf = conf;
	for (i = 0; i < ST__MAX; i++) {
		v->st[i].name = names[i];
		v->st[i].enabled = v->st[i].wanted = 1;
		v->st[i].state = SS_UP;
		v->st[i].pid = FAKE_PID - i;
		v->st[i].ready_fd = -1;
	}
}

/* A stage that died: waiting, with its restart delay long over. */
static void
died(struct stage *s)
{
	s->pid = 0;
	s->state = SS_WAITING;
	s->next_start = 0;
	s->restarts = 1;
}

static void
test_due_restart(void **state)
{
	struct vbsd	v;
	uint64_t	t;

	(void)state;
	table(&v);
	assert_true(stage_next_timer(&v) == UINT64_MAX);
	died(&v.st[ST_SHIPD]);
	assert_true(stage_next_timer(&v) == 0);
	v.st[ST_SHIPD].next_start = mono_us() + 500000;
	t = stage_next_timer(&v);
	assert_true(t >= 1 && t <= 501);
}

/* flowd is starting again after an asked-for restart: not a death. */
static void
test_held_by_starting_stage(void **state)
{
	struct vbsd	v;
	uint64_t	t;

	(void)state;
	table(&v);
	v.st[ST_FLOWD].state = SS_STARTING;
	v.st[ST_FLOWD].started_us = mono_us();
	v.st[ST_FLOWD].restarts = 0;
	died(&v.st[ST_SHIPD]);
	/* Only flowd's start deadline (start_timeout, 60 s) counts. */
	t = stage_next_timer(&v);
	assert_true(t >= 59000 && t <= 60001);
	/* Once flowd is up, shipd's start is due at once. */
	v.st[ST_FLOWD].state = SS_UP;
	assert_true(stage_next_timer(&v) == 0);
}

/* In a shutdown nothing starts; only the SIGKILL deadlines count. */
static void
test_shutdown(void **state)
{
	struct vbsd	v;
	uint64_t	t;

	(void)state;
	table(&v);
	v.shutting_down = 1;
	died(&v.st[ST_FLOWD]);
	v.st[ST_CAPD].pid = v.st[ST_SOCKD].pid = 0;
	v.st[ST_CAPD].state = v.st[ST_SOCKD].state = SS_DOWN;
	v.st[ST_SHIPD].state = SS_STOPPING;
	v.st[ST_SHIPD].stop_deadline = mono_us() + 3000000;
	t = stage_next_timer(&v);
	assert_true(t >= 1 && t <= 3001);
	v.st[ST_SHIPD].stop_deadline = UINT64_MAX;
	assert_true(stage_next_timer(&v) == UINT64_MAX);
}

/* A stage not wanted, or given up on, has no timer. */
static void
test_not_wanted(void **state)
{
	struct vbsd	v;

	(void)state;
	table(&v);
	died(&v.st[ST_CAPD]);
	v.st[ST_CAPD].wanted = 0;
	assert_true(stage_next_timer(&v) == UINT64_MAX);
	v.st[ST_CAPD].state = SS_FAILED;
	assert_true(stage_next_timer(&v) == UINT64_MAX);
}

/*
 * At boot: flowd is starting as a real child, pid in child, its
 * readiness pipe's read end at flowd's ready_fd; the stages after it
 * wait for it.  The child closes its end of the pipe at once when
 * close_pipe is set, else keeps it and says nothing.  Either way it
 * sleeps until killed (or 20 s, should a test fail first).
 */
static void
boot_with_child(struct vbsd *v, int close_pipe)
{
	int	p[2], i;

	table(v);
	for (i = 0; i < ST__MAX; i++) {
		v->st[i].pid = 0;
		v->st[i].state = SS_DOWN;
		v->st[i].backoff_ms = (uint64_t)conf_int(conf, "vbsd",
		    "restart_min");
	}
	assert_int_equal(pipe(p), 0);
	if ((child = fork()) == 0) {
		close(p[0]);
		if (close_pipe)
			close(p[1]);
		alarm(20);
		for (;;)
			pause();
	}
	assert_true(child > 0);
	close(p[1]);
	v->st[ST_FLOWD].pid = child;
	v->st[ST_FLOWD].ready_fd = p[0];
	v->st[ST_FLOWD].state = SS_STARTING;
	v->st[ST_FLOWD].started_us = mono_us();
}

/*
 * flowd, told to stop, has failed to start: once its child has exited
 * and is reaped, its death is tallied with why (in last_exit), its
 * restart waits for the backoff, and sockd's start is due at once.
 */
static void
failed_start_reaped(struct vbsd *v, const char *why)
{
	siginfo_t	si;

	assert_int_equal(v->st[ST_FLOWD].state, SS_STOPPING);
	/* Exited, not yet reaped: stages_reap will find it. */
	assert_int_equal(waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT),
	    0);
	stages_reap(v);
	child = 0;
	assert_int_equal(v->st[ST_FLOWD].state, SS_WAITING);
	assert_int_equal(v->st[ST_FLOWD].restarts, 1);
	assert_non_null(strstr(v->st[ST_FLOWD].last_exit, why));
	assert_true(v->st[ST_FLOWD].next_start > mono_us());
	assert_true(stage_next_timer(v) == 0);
}

static int
kill_child(void **state)
{
	(void)state;
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = 0;
	}
	return 0;
}

/* A stage that closes its readiness pipe without "ready". */
static void
test_pipe_closed_unready(void **state)
{
	struct vbsd	v;
	struct pollfd	pfd;

	(void)state;
	boot_with_child(&v, 1);
	pfd.fd = v.st[ST_FLOWD].ready_fd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	stage_ready_input(&v, ST_FLOWD);
	/* Stopped at once, not left starting for ever. */
	failed_start_reaped(&v, "without a ready line, then killed by "
	    "signal 15");
}

/* A stage that keeps its pipe open and says nothing. */
static void
test_start_timeout(void **state)
{
	struct vbsd	v;
	uint64_t	t;

	(void)state;
	boot_with_child(&v, 0);
	/* The loop wakes for the start deadline (60 s by default). */
	t = stage_next_timer(&v);
	assert_true(t >= 59000 && t <= 60001);
	stage_tick(&v);
	assert_int_equal(v.st[ST_FLOWD].state, SS_STARTING);
	/* Past it: stopped, and sockd still waits for flowd's exit. */
	v.st[ST_FLOWD].started_us = mono_us() - 61 * 1000000ULL;
	assert_true(stage_next_timer(&v) == 0);
	stage_tick(&v);
	assert_int_equal(v.st[ST_SOCKD].pid, 0);
	failed_start_reaped(&v, "not ready 60 s after its start, then killed "
	    "by signal 15");
}

/* A stage that says ready and closes its pipe is up: nothing else. */
static void
test_ready_then_closed(void **state)
{
	struct vbsd	v;
	int		p[2];

	(void)state;
	table(&v);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "ready\n", 6), 6);
	close(p[1]);
	v.st[ST_FLOWD].state = SS_STARTING;
	v.st[ST_FLOWD].started_us = mono_us();
	v.st[ST_FLOWD].ready_fd = p[0];
	stage_ready_input(&v, ST_FLOWD);
	assert_int_equal(v.st[ST_FLOWD].state, SS_UP);
	stage_ready_input(&v, ST_FLOWD);
	assert_int_equal(v.st[ST_FLOWD].state, SS_UP);
	assert_int_equal(v.st[ST_FLOWD].ready_fd, -1);
	assert_true(stage_next_timer(&v) == UINT64_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_due_restart),
		cmocka_unit_test(test_held_by_starting_stage),
		cmocka_unit_test(test_shutdown),
		cmocka_unit_test(test_not_wanted),
		cmocka_unit_test_teardown(test_pipe_closed_unready,
		    kill_child),
		cmocka_unit_test_teardown(test_start_timeout, kill_child),
		cmocka_unit_test(test_ready_then_closed),
	};

	if ((conf = conf_defaults()) == NULL)
		return 1;
	log_init("supervise_test", 1, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
