/*
 * raise_in_wait.c: a test shim, never installed, loaded with LD_PRELOAD
 * into shipd by tests/integration/shipd_odd.sh.  It lands a SIGTERM in
 * the one place a test cannot aim at: after the program has looked at
 * its stop flag and before its wait begins.  It wraps poll() and
 * ppoll(); for a wait of a second or more (or no limit) it raises
 * SIGTERM just before handing over, as VBS_RAISE_IN_WAIT says:
 *
 *	first	before the first such wait
 *	eintr	before the first such wait that follows one a signal
 *		ended (EINTR): the test sends a first SIGTERM, the shim
 *		the second, in the gap
 *
 * Once only.  A program that blocks the signal but for its waits gets
 * it when the wait begins; one that does not runs its handler in the
 * gap and then waits the wait out.
 */

#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int	(*real_poll)(struct pollfd *, nfds_t, int);
static int	(*real_ppoll)(struct pollfd *, nfds_t, const struct timespec *,
		    const sigset_t *);
static int	 mode;		/* 0 none, 1 first, 2 eintr */
static int	 done;
static int	 last_eintr;

static void __attribute__((constructor))
shim_init(void)
{
	const char	*m = getenv("VBS_RAISE_IN_WAIT");

	real_poll = (int (*)(struct pollfd *, nfds_t, int))dlsym(RTLD_NEXT,
	    "poll");
	real_ppoll = (int (*)(struct pollfd *, nfds_t,
	    const struct timespec *, const sigset_t *))dlsym(RTLD_NEXT,
	    "ppoll");
	if (m != NULL && strcmp(m, "first") == 0)
		mode = 1;
	else if (m != NULL && strcmp(m, "eintr") == 0)
		mode = 2;
}

/* Before a wait of ms (-1: no limit): raise, if this is the one. */
static void
before(long long ms)
{
	if (done || mode == 0 || (ms >= 0 && ms < 1000))
		return;
	if (mode == 2 && !last_eintr)
		return;
	done = 1;
	raise(SIGTERM);
}

static int
after(int r)
{
	last_eintr = r == -1 && errno == EINTR;
	return r;
}

int
poll(struct pollfd *pfd, nfds_t n, int ms)
{
	before(ms);
	return after(real_poll(pfd, n, ms));
}

int
ppoll(struct pollfd *pfd, nfds_t n, const struct timespec *ts,
    const sigset_t *mask)
{
	before(ts == NULL ? -1 : (long long)ts->tv_sec * 1000 +
	    ts->tv_nsec / 1000000);
	return after(real_ppoll(pfd, n, ts, mask));
}
