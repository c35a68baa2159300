/*
 * sandbox_linux.c: what sockd keeps once it has given up privilege on
 * Linux, and the thread that keeps it.  Two capabilities are needed to
 * read other users' /proc/PID/fd and /proc/PID/exe, and with them a
 * process may read any file.  So after priv_drop() sockd_split() starts
 * one thread, the keeper, which alone holds them and whose seccomp list
 * opens nothing but directories; the main thread then gives them up and
 * enters its own list, with Landlock keeping it to /proc.  Credentials,
 * seccomp filters and Landlock domains are per thread, and a thread
 * cannot change another's: a main thread taken over shares the keeper's
 * memory and may steer it, but then reads directory listings and links,
 * never a file's bytes.  owner_linux.c runs its reads of those
 * directories and links in the keeper through priv_call().
 *
 * Apart from the socket tables (sockd_linux.c) so that a test can enter
 * the very same sandboxes (tests/unit/sandbox_test.c).
 */

#include <sys/socket.h>
#include <sys/syscall.h>

#include <linux/capability.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "sockd.h"

/*
 * After the drop: another user's /proc/PID/fd is a directory of mode
 * 0500 (CAP_DAC_READ_SEARCH) whose links need ptrace read access
 * (CAP_SYS_PTRACE); neither alone is enough.  sock_diag and the
 * already subscribed proc connector need nothing.
 */
static const int keep_caps[] = { CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE, -1 };

/*
 * On top of proto/sandbox_linux.c's base list, for the main thread.
 * The links are the keeper's to read.
 */
static const char *const sockd_syscalls[] = {
	"openat", "open", "getdents64", "getdents", "stat", "lstat",
	"connect", "getsockopt", "uname", "recvmmsg", NULL
};

/*
 * Its netlink sockets are open before the drop: after it, sockd only
 * reconnects to flowd (and syslog) over AF_UNIX.  kill() only asks
 * whether a process lives (signal 0).  No ioctl at all.
 */
static const struct sandbox_arg sockd_args[] = {
	{ "socket", 0, AF_UNIX, 0 },
	{ "kill", 1, 0, 0 },
	{ NULL, 0, 0, 0 }
};

/*
 * The main thread holds no capability and reads only under /proc
 * (/proc/PID/stat, the list of processes).  Landlock is for it alone:
 * in a Landlock domain the keeper would lose ptrace access to every
 * process outside it, capabilities or not, and with it the links it
 * reads (sandbox_test shows it).
 */
static const struct sandbox_path sockd_paths[] = {
	{ "/proc", SANDBOX_READ },
	{ NULL, 0 }
};

static const struct sandbox_spec sandbox = {
	.name = "sockd",
	.syscalls = sockd_syscalls,
	.args = sockd_args,
	.paths = sockd_paths,
};

/*
 * The keeper: lists directories (opendir: openat with O_DIRECTORY, then
 * getdents64) and reads links (readlinkat).  An openat without
 * O_DIRECTORY, or asking to write, or O_TMPFILE (which carries the
 * O_DIRECTORY bit) kills sockd.  No socket, no signal.
 */
#define KEEPER_OPEN_MASK	(O_DIRECTORY | (O_TMPFILE & ~O_DIRECTORY) | \
				 O_ACCMODE)
static const char *const keeper_syscalls[] = {
	"getdents64", "readlinkat", NULL
};

static const struct sandbox_arg keeper_args[] = {
	{ "openat", 2, O_DIRECTORY | O_RDONLY, KEEPER_OPEN_MASK },
	{ NULL, 0, 0, 0 }
};

static const struct sandbox_spec keeper_sandbox = {
	.name = "sockd keeper",
	.syscalls = keeper_syscalls,
	.args = keeper_args,
};

static struct {
	pthread_t	 thread;
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cv;
	int		 on;		/* sockd_split() ran */
	int		 ready;		/* the keeper is in its sandbox */
	int		 posted, done;	/* one call at a time */
	uint64_t	 calls;
	void		(*fn)(void *);
	void		*arg;
} keeper = {
	.mtx = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

const int *
backend_keep_caps(void)
{
	return keep_caps;
}

const struct sandbox_spec *
backend_sandbox(void)
{
	return &sandbox;
}

const struct sandbox_spec *
backend_keeper_sandbox(void)
{
	return &keeper_sandbox;
}

/* This thread's capabilities (capget of pid 0 is the calling thread). */
static void
thread_caps(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = {
		_LINUX_CAPABILITY_VERSION_3, 0
	};

	if (syscall(SYS_capget, &h, d) == -1)
		fatal("capget");
}

static int
cap_in(const struct __user_cap_data_struct d[2], int cap)
{
	return (d[cap / 32].effective & (1U << (cap % 32))) != 0;
}

static void *
keeper_main(void *unused)
{
	struct __user_cap_data_struct d[2];
	const int	*c;

	(void)unused;
	thread_caps(d);
	for (c = keep_caps; *c != -1; c++)
		if (!cap_in(d, *c))
			fatalx("keeper: capability %d missing", *c);
	sandbox_enter(&keeper_sandbox);
	pthread_mutex_lock(&keeper.mtx);
	keeper.ready = 1;
	pthread_cond_broadcast(&keeper.cv);
	for (;;) {
		while (!keeper.posted)
			pthread_cond_wait(&keeper.cv, &keeper.mtx);
		keeper.posted = 0;
		pthread_mutex_unlock(&keeper.mtx);
		keeper.fn(keeper.arg);
		pthread_mutex_lock(&keeper.mtx);
		keeper.done = 1;
		pthread_cond_broadcast(&keeper.cv);
	}
	/* NOTREACHED */
	return NULL;
}

/*
 * After priv_drop(), before sandbox_enter(backend_sandbox()): start the
 * keeper with every signal blocked (they are the main thread's), wait
 * until it is in its sandbox, then give up this thread's capabilities,
 * permitted ones too, so that they cannot be taken back.
 */
void
sockd_split(void)
{
	struct __user_cap_header_struct h = {
		_LINUX_CAPABILITY_VERSION_3, 0
	};
	struct __user_cap_data_struct d[2];
	sigset_t	 all, old;
	int		 rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&keeper.thread, NULL, keeper_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		fatalx("keeper: pthread_create: %s", strerror(rc));
	pthread_mutex_lock(&keeper.mtx);
	while (!keeper.ready)
		pthread_cond_wait(&keeper.cv, &keeper.mtx);
	pthread_mutex_unlock(&keeper.mtx);

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) == -1)
		fatal("capset");
	thread_caps(d);
	if (d[0].effective | d[0].permitted | d[0].inheritable |
	    d[1].effective | d[1].permitted | d[1].inheritable)
		fatalx("main thread still holds capabilities");
	keeper.on = 1;
	log_debug("keeper: started; main thread holds no capability");
}

/* Run fn(arg) in the keeper and wait for it; in place without one. */
void
priv_call(void (*fn)(void *), void *arg)
{
	if (!keeper.on) {
		fn(arg);
		return;
	}
	pthread_mutex_lock(&keeper.mtx);
	keeper.fn = fn;
	keeper.arg = arg;
	keeper.done = 0;
	keeper.posted = 1;
	pthread_cond_broadcast(&keeper.cv);
	while (!keeper.done)
		pthread_cond_wait(&keeper.cv, &keeper.mtx);
	keeper.calls++;
	pthread_mutex_unlock(&keeper.mtx);
}

uint64_t
priv_calls(void)
{
	return keeper.calls;
}
