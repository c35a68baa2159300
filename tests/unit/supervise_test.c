/*
 * supervise_test.c: vbsd's timers (init/supervise.c).  The poll timeout
 * the loop uses must agree with what stage_tick would do: a stage that
 * waits but may not start yet (held back by a stage before it that is
 * still starting, or by a shutdown) must not make the timeout zero, or
 * vbsd spins.  The stage table is filled by hand; nothing is started.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../init/vbsd.h"

/* Never signalled: stage_next_timer only reads the table. */
#define FAKE_PID	0x7ffffff0

static void
table(struct vbsd *v)
{
	static const char *names[ST__MAX] = { "flowd", "sockd", "capd",
	    "shipd" };
	int	i;

	memset(v, 0, sizeof(*v));
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

	(void)state;
	table(&v);
	v.st[ST_FLOWD].state = SS_STARTING;
	v.st[ST_FLOWD].restarts = 0;
	died(&v.st[ST_SHIPD]);
	assert_true(stage_next_timer(&v) == UINT64_MAX);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_due_restart),
		cmocka_unit_test(test_held_by_starting_stage),
		cmocka_unit_test(test_shutdown),
		cmocka_unit_test(test_not_wanted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
