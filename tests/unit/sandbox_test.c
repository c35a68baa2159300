/*
 * sandbox_test.c: the stages' own sandboxes on Linux, entered by a
 * forked child exactly as each stage enters it (the specs come from
 * capd/sandbox.c, sockd/sandbox_linux.c, shipd/sandbox.c and
 * flowd/sandbox.c, not from copies).  A system call or argument the
 * stage does not need kills the child (SIGSYS): capd's TIOCSTI and
 * sockets other than AF_UNIX, sockd's signals; what a stage does need
 * still works, including glibc's look-up of a name with several
 * addresses in shipd.  Landlock keeps shipd and flowd to their
 * directories and sockd's main thread to /proc.  ingestd's receiver
 * makes threads and nothing else makes a process; its workers make
 * neither.  sockd's split is
 * shown: its main thread holds no capability, its keeper thread opens
 * only directories, and why the keeper has no Landlock.
 */

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/landlock.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto.h"

/* The stages' specs; their headers do not mix in one file. */
const struct sandbox_spec *capd_sandbox(void);
const struct sandbox_spec *backend_sandbox(void);
const int *backend_keep_caps(void);
void	 sockd_split(void);
void	 priv_call(void (*)(void *), void *);
const struct sandbox_spec *backend_keeper_sandbox(void);
const struct sandbox_spec *shipd_sandbox(const char *);
const struct sandbox_spec *flowd_sandbox(const char *, const char *);
const struct sandbox_spec *ingestd_sandbox(const char *,
	    const struct sandbox_path *);

/* What a child tries once in its sandbox; its return is the exit code. */
typedef int (*try_fn)(const void *);

/*
 * Run try in a child that has dropped to its own user, no capability,
 * and entered spec; return the child's wait status.
 */
static int
in_sandbox(const struct sandbox_spec *spec, try_fn try, const void *arg)
{
	static const struct priv_spec pspec = { NULL, NULL, NULL };
	static const struct rlimit no_core = { 0, 0 };
	pid_t	 pid;
	int	 st;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		/* No core file in the tree when SIGSYS kills it. */
		setrlimit(RLIMIT_CORE, &no_core);
		priv_drop(&pspec);
		sandbox_enter(spec);
		_exit(try(arg));	/* atexit handlers are not allowed */
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void
assert_killed(int st)
{
	if (!WIFSIGNALED(st))
		fail_msg("not killed: exit %d", WEXITSTATUS(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

static void
assert_exit(int st, int code)
{
	if (WIFSIGNALED(st))
		fail_msg("killed by signal %d", WTERMSIG(st));
	assert_int_equal(WEXITSTATUS(st), code);
}

static void
assert_lived(int st)
{
	assert_exit(st, 0);
}

/* Any outcome but the kill is 0: the call was allowed. */
static int
try_socket(const void *arg)
{
	int	 fd;

	fd = socket(*(const int *)arg, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd != -1)
		close(fd);
	return 0;
}

static void
assert_socket(const struct sandbox_spec *spec, int family, int allowed)
{
	int	 st;

	st = in_sandbox(spec, try_socket, &family);
	if (allowed)
		assert_lived(st);
	else
		assert_killed(st);
}

struct ioctl_try {
	int		 fd;
	unsigned long	 req;
};

static int
try_ioctl(const void *arg)
{
	const struct ioctl_try *t = arg;
	char		 c = 'x';
	int		 n = 0;

	if (t->req == TIOCSTI)
		(void)ioctl(t->fd, t->req, &c);
	else
		(void)ioctl(t->fd, t->req, &n);
	return 0;
}

/* A terminal to push characters into, or /dev/null where none is. */
static int
terminal(void)
{
	int	 m, s = -1;

	if ((m = posix_openpt(O_RDWR | O_NOCTTY)) != -1 && grantpt(m) == 0 &&
	    unlockpt(m) == 0)
		s = open(ptsname(m), O_RDWR | O_NOCTTY);
	if (s == -1)
		s = open("/dev/null", O_RDWR);
	assert_true(s != -1);
	return s;
}

/* capd, where root may run it from a terminal: no TIOCSTI. */
static void
test_capd_ioctl(void **state)
{
	struct ioctl_try t;

	(void)state;
	t.fd = terminal();
	t.req = TIOCSTI;
	assert_killed(in_sandbox(capd_sandbox(), try_ioctl, &t));
	/* The bits the kernel ignores do not make another request. */
	t.req = TIOCSTI | (1UL << 32);
	assert_killed(in_sandbox(capd_sandbox(), try_ioctl, &t));
	t.req = TIOCSETD;
	assert_killed(in_sandbox(capd_sandbox(), try_ioctl, &t));
	/* libpcap's look at an interface that went down. */
	t.req = SIOCGIFFLAGS;
	assert_lived(in_sandbox(capd_sandbox(), try_ioctl, &t));
	close(t.fd);
}

static void
test_capd_socket(void **state)
{
	(void)state;
	assert_socket(capd_sandbox(), AF_UNIX, 1);	/* --connect */
	assert_socket(capd_sandbox(), AF_INET, 0);
	assert_socket(capd_sandbox(), AF_INET6, 0);
	assert_socket(capd_sandbox(), AF_PACKET, 0);
	assert_socket(capd_sandbox(), AF_NETLINK, 0);
}

static int
try_kill(const void *arg)
{
	return kill(getpid(), *(const int *)arg) == 0 ? 0 : 1;
}

static void
test_sockd(void **state)
{
	struct ioctl_try t;
	int		 sig;

	(void)state;
	assert_socket(backend_sandbox(), AF_UNIX, 1);
	assert_socket(backend_sandbox(), AF_INET, 0);
	assert_socket(backend_sandbox(), AF_NETLINK, 0);
	sig = 0;
	assert_lived(in_sandbox(backend_sandbox(), try_kill, &sig));
#ifndef VBS_ASAN
	/* LeakSanitizer needs kill() of any kind, in `make sanitize`. */
	sig = SIGUSR1;
	assert_killed(in_sandbox(backend_sandbox(), try_kill, &sig));
#endif
	t.fd = terminal();
	t.req = TIOCSTI;
	assert_killed(in_sandbox(backend_sandbox(), try_ioctl, &t));
	close(t.fd);
}

static char	 outbox[256], elsewhere[256], work[256];

/*
 * sockd as it runs: another user (nobody) with the two capabilities,
 * split into the main thread and the keeper, then in its sandbox; or,
 * to show what the split takes away, the same without it (and without
 * the main thread's Landlock, which would blind it).
 */
static int
in_sockd(int split, try_fn try, const void *arg)
{
	static const struct rlimit no_core = { 0, 0 };
	struct priv_spec ps = { "nobody", NULL, NULL };
	pid_t	 pid;
	int	 st;

	ps.keep_caps = backend_keep_caps();
	fflush(NULL);
	if ((pid = fork()) == 0) {
		setrlimit(RLIMIT_CORE, &no_core);
		priv_drop(&ps);
		if (split) {
			sockd_split();
			sandbox_enter(backend_sandbox());
		}
		_exit(try(arg));
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

/* 0 opened, 1 refused (EACCES or EPERM), 2 anything else. */
static int
open_result(int fd)
{
	if (fd != -1) {
		close(fd);
		return 0;
	}
	return errno == EACCES || errno == EPERM ? 1 : 2;
}

static int
try_main_open(const void *arg)
{
	return open_result(open(arg, O_RDONLY | O_CLOEXEC));
}

/*
 * 0: this thread holds no capability, effective or permitted (from its
 * status file: capget is not in sockd's list).
 */
static int
try_no_caps(const void *arg)
{
	char	 buf[4096], *l;
	ssize_t	 n;
	int	 fd, seen = 0;

	(void)arg;
	if ((fd = open("/proc/thread-self/status", O_RDONLY)) == -1)
		return 2;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 2;
	buf[n] = '\0';
	for (l = buf; l != NULL; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, "CapEff:", 7) != 0 &&
		    strncmp(l, "CapPrm:", 7) != 0)
			continue;
		seen++;
		if (strtoull(l + 7, NULL, 16) != 0)
			return 1;
	}
	return seen == 2 ? 0 : 2;
}

struct keeper_try {
	const char	*path;
	int		 flags;
	int		 link;		/* readlink, not open */
	int		 rc;
};

static void
keeper_job(void *arg)
{
	struct keeper_try	*k = arg;
	char			 buf[PATH_MAX];

	if (k->link)
		k->rc = readlinkat(AT_FDCWD, k->path, buf, sizeof(buf)) > 0 ?
		    0 : open_result(-1);
	else
		k->rc = open_result(openat(AT_FDCWD, k->path, k->flags,
		    0600));
}

static int
try_keeper(const void *arg)
{
	struct keeper_try	 k = *(const struct keeper_try *)arg;

	priv_call(keeper_job, &k);
	return k.rc;
}

static int
sockd_keeper(const char *path, int flags, int link)
{
	struct keeper_try	 k = { path, flags, link, -1 };

	return in_sockd(1, try_keeper, &k);
}

/*
 * The keeper reads other users' fd tables and exe links, and opens
 * nothing but directories; the main thread holds no capability, so
 * this root process's /proc/PID/environ (ptrace access) and a
 * root-only file are refused to it, where an unsplit sockd could read
 * both.
 */
static void
test_sockd_split(void **state)
{
	char	 secret[300], env[64], fds[64], exe[64];
	int	 fd;

	(void)state;
	snprintf(secret, sizeof(secret), "%s/secret", work);
	fd = open(secret, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	close(fd);
	snprintf(env, sizeof(env), "/proc/%d/environ", (int)getpid());
	snprintf(fds, sizeof(fds), "/proc/%d/fd", (int)getpid());
	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)getpid());

	assert_exit(in_sockd(0, try_main_open, env), 0);
	assert_exit(in_sockd(0, try_main_open, secret), 0);

	assert_exit(in_sockd(0, try_no_caps, NULL), 1);
	assert_exit(in_sockd(1, try_no_caps, NULL), 0);
	assert_exit(in_sockd(1, try_main_open, env), 1);
	assert_exit(in_sockd(1, try_main_open, secret), 1);
	assert_exit(in_sockd(1, try_main_open, "/proc/self/stat"), 0);

	assert_lived(sockd_keeper(fds, O_RDONLY | O_DIRECTORY, 0));
	assert_lived(sockd_keeper(exe, 0, 1));
#ifndef VBS_ASAN
	/* LeakSanitizer's run-time needs openat of any kind. */
	assert_killed(sockd_keeper(secret, O_RDONLY, 0));
	assert_killed(sockd_keeper(env, O_RDONLY, 0));
	assert_killed(sockd_keeper(work, O_TMPFILE | O_RDWR, 0));
	assert_killed(sockd_keeper(work, O_RDWR | O_DIRECTORY, 0));
#endif
	unlink(secret);
}

static int
setup_dirs(void **state)
{
	const char	*tmp = getenv("TMPDIR");

	(void)state;
	if (tmp == NULL)
		tmp = "/tmp";
	snprintf(outbox, sizeof(outbox), "%s/vbs_outbox_XXXXXX", tmp);
	snprintf(elsewhere, sizeof(elsewhere), "%s/vbs_else_XXXXXX", tmp);
	snprintf(work, sizeof(work), "%s/vbs_work_XXXXXX", tmp);
	if (mkdtemp(outbox) == NULL || mkdtemp(elsewhere) == NULL ||
	    mkdtemp(work) == NULL)
		return -1;
	return 0;
}

static int
teardown_dirs(void **state)
{
	char	 cmd[3 * PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' '%s'", outbox, elsewhere,
	    work);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_shipd_socket(void **state)
{
	struct ioctl_try t;

	(void)state;
	assert_socket(shipd_sandbox(outbox), AF_INET, 1);
	assert_socket(shipd_sandbox(outbox), AF_INET6, 1);
	assert_socket(shipd_sandbox(outbox), AF_UNIX, 1);	/* nscd */
	assert_socket(shipd_sandbox(outbox), AF_NETLINK, 1);
	assert_socket(shipd_sandbox(outbox), AF_PACKET, 0);
	t.fd = terminal();
	t.req = FIONREAD;				/* the resolver's */
	assert_lived(in_sandbox(shipd_sandbox(outbox), try_ioctl, &t));
	t.req = TIOCSTI;
	assert_killed(in_sandbox(shipd_sandbox(outbox), try_ioctl, &t));
	close(t.fd);
}

static int
try_resolve(const void *arg)
{
	struct addrinfo	 hints, *res;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(arg, "443", &hints, &res) != 0)
		return 1;
	freeaddrinfo(res);
	return 0;
}

/*
 * A server name with an IPv4 and an IPv6 address: glibc sorts them
 * by the host's own addresses, which it asks netlink for (a bound
 * socket).  A private /etc/hosts in a mount namespace names it.
 */
static void
assert_resolves(const struct sandbox_spec *spec)
{
	char	 hosts[PATH_MAX];
	FILE	*fp;
	pid_t	 pid;
	int	 st;

	if (geteuid() != 0)
		skip();
	snprintf(hosts, sizeof(hosts), "%s/hosts", elsewhere);
	assert_non_null(fp = fopen(hosts, "w"));
	fprintf(fp, "127.0.0.1 localhost\n198.18.0.1 vbs-several\n"
	    "fd00::1 vbs-several\n");
	assert_int_equal(fclose(fp), 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		if (unshare(CLONE_NEWNS) == -1 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
		    mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL) == -1)
			_exit(2);
		st = in_sandbox(spec, try_resolve, "vbs-several");
		_exit(WIFSIGNALED(st) ? 100 + WTERMSIG(st) :
		    WEXITSTATUS(st));
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 2)
		skip();		/* no mount namespace here */
	if (WEXITSTATUS(st) == 100 + SIGSYS)
		fail_msg("%s killed by SIGSYS resolving a name with two "
		    "addresses", spec->name);
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
test_shipd_resolve(void **state)
{
	(void)state;
	assert_resolves(shipd_sandbox(outbox));
}

/* Landlock's ABI, 0 where the kernel has none. */
static int
landlock_abi(void)
{
	int	 abi;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	return abi < 0 ? 0 : abi;
}

/* 0 if open(path, flags) did what want says: 1 opened, 0 EACCES. */
static int
opens(const char *dir, const char *name, int flags, int want)
{
	char	 path[PATH_MAX];
	int	 fd;

	if (dir != NULL)
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	else
		snprintf(path, sizeof(path), "%s", name);
	fd = open(path, flags | O_CLOEXEC, 0600);
	if (fd != -1)
		close(fd);
	if (want)
		return fd != -1 ? 0 : 1;
	return fd == -1 && errno == EACCES ? 0 : 1;
}

static int
try_shipd_files(const void *arg)
{
	(void)arg;
	if (opens(outbox, "batch", O_WRONLY | O_CREAT, 1) != 0)
		return 10;
	if (opens(NULL, "/etc/hosts", O_RDONLY, 1) != 0)
		return 11;
	if (opens(elsewhere, "taken", O_WRONLY | O_CREAT, 0) != 0)
		return 12;
	if (opens(NULL, "/proc/1/stat", O_RDONLY, 0) != 0)
		return 13;
	if (opens(NULL, "/etc/hosts", O_WRONLY, 0) != 0)
		return 14;
	return 0;
}

static void
test_shipd_files(void **state)
{
	(void)state;
	if (landlock_abi() < 2)
		skip();
	assert_lived(in_sandbox(shipd_sandbox(outbox), try_shipd_files,
	    NULL));
}

static int
try_flowd_files(const void *arg)
{
	char	 from[PATH_MAX], to[PATH_MAX];

	(void)arg;
	if (opens(work, "flowd-current.sqlite", O_RDWR | O_CREAT, 1) != 0)
		return 10;
	snprintf(from, sizeof(from), "%s/flowd-current.sqlite", work);
	snprintf(to, sizeof(to), "%s/batch.sqlite", outbox);
	if (rename(from, to) == -1)
		return 11;
	if (opens(NULL, "/etc/passwd", O_RDONLY, 0) != 0)
		return 12;
	if (opens(elsewhere, "taken", O_WRONLY | O_CREAT, 0) != 0)
		return 13;
	return 0;
}

static void
test_flowd_files(void **state)
{
	(void)state;
	if (landlock_abi() < 2)
		skip();
	assert_lived(in_sandbox(flowd_sandbox(work, outbox),
	    try_flowd_files, NULL));
}

/*
 * A stage that logs to syslog reconnects when its log socket breaks (a
 * syslogd restart): glibc makes a new AF_UNIX socket and connects it.
 * That must not kill flowd, which has no other socket to make.
 */
static int
try_syslog(const void *arg)
{
	(void)arg;
	closelog();
	openlog("sandbox_test", LOG_NDELAY, LOG_DAEMON);
	syslog(LOG_DEBUG, "sandbox_test: a log line from the sandbox");
	closelog();
	return 0;
}

static void
test_flowd_syslog(void **state)
{
	(void)state;
	assert_lived(in_sandbox(flowd_sandbox(work, outbox), try_syslog,
	    NULL));
	assert_socket(flowd_sandbox(work, outbox), AF_INET, 0);
	assert_socket(flowd_sandbox(work, outbox), AF_NETLINK, 0);
}

/*
 * Why sockd's keeper has no Landlock: in any Landlock domain a process
 * loses ptrace access to every process outside it, whatever its
 * capabilities, and with it the links in /proc/PID/fd and
 * /proc/PID/exe that name a socket's owner.  Here a process of the
 * same user and capabilities (none) has its exe read without Landlock
 * and refused with it.  Should a kernel lift that, the keeper could be
 * given Landlock too.
 */
static int
try_read_exe(const void *arg)
{
	char	 path[64], buf[PATH_MAX];

	snprintf(path, sizeof(path), "/proc/%d/exe", *(const int *)arg);
	if (readlink(path, buf, sizeof(buf)) > 0)
		return 0;
	return errno == EACCES ? 1 : 2;
}

static void
test_landlock_blinds_owner(void **state)
{
	static const struct priv_spec pspec = { NULL, NULL, NULL };
	static const struct sandbox_path proc[] = {
		{ "/proc", SANDBOX_READ }, { NULL, 0 }
	};
	static const char *const more[] = { "readlink", NULL };
	static const struct sandbox_spec plain = {
		.name = "test", .syscalls = more
	};
	static const struct sandbox_spec landlocked = {
		.name = "test", .syscalls = more, .paths = proc
	};
	pid_t	 target;
	int	 pid, st, p[2];
	char	 c;

	(void)state;
	if (landlock_abi() < 1)
		skip();
	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	if ((target = fork()) == 0) {
		priv_drop(&pspec);
		(void)write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	assert_true(target > 0);
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);	/* it has dropped */
	close(p[0]);
	pid = (int)target;
	st = in_sandbox(&plain, try_read_exe, &pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = in_sandbox(&landlocked, try_read_exe, &pid);
	kill(target, SIGKILL);
	waitpid(target, NULL, 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
}

static const struct sandbox_spec *
ingestd_spec(const char *who)
{
	static struct sandbox_path paths[3];

	paths[0].path = work;
	paths[0].access = SANDBOX_WRITE;
	paths[1].path = "/etc";		/* as spool_confine() gives */
	paths[1].access = SANDBOX_READ;
	paths[2].path = NULL;
	return ingestd_sandbox(who, paths);
}

static void *
thread_main(void *arg)
{
	return arg;
}

/* 0: a thread was made and joined; 1: pthread_create failed. */
static int
try_thread(const void *arg)
{
	pthread_t	 t;
	void		*ret;

	(void)arg;
	if (pthread_create(&t, NULL, thread_main, NULL) != 0)
		return 1;
	return pthread_join(t, &ret) == 0 ? 0 : 1;
}

#ifndef VBS_ASAN
/* The fork itself is what is tried: a child that lives exits 0. */
static int
try_fork(const void *arg)
{
	pid_t	 pid;

	(void)arg;
	if ((pid = fork()) == 0)
		_exit(0);
	if (pid > 0)
		(void)waitpid(pid, NULL, 0);
	return 0;
}
#endif

/*
 * ingestd: the receiver (libmicrohttpd's threads) makes threads through
 * clone with CLONE_THREAD, clone3 being refused with ENOSYS; a fork
 * kills it, as any thread made by a worker does.  Sockets of the MySQL
 * connection and of the listener only; both look up a MySQL host's
 * name.
 */
static void
test_ingestd(void **state)
{
	(void)state;
	assert_non_null(ingestd_spec("receiver"));
	assert_non_null(ingestd_spec("worker"));
	assert_null(ingestd_spec("test"));
	assert_lived(in_sandbox(ingestd_spec("receiver"), try_thread, NULL));
#ifndef VBS_ASAN
	/* AddressSanitizer's run-time needs clone of any kind. */
	assert_killed(in_sandbox(ingestd_spec("receiver"), try_fork, NULL));
	assert_killed(in_sandbox(ingestd_spec("worker"), try_fork, NULL));
	assert_killed(in_sandbox(ingestd_spec("worker"), try_thread, NULL));
#endif
	assert_socket(ingestd_spec("receiver"), AF_INET6, 1);
	assert_socket(ingestd_spec("receiver"), AF_UNIX, 1);
	assert_socket(ingestd_spec("worker"), AF_INET, 1);
	assert_socket(ingestd_spec("receiver"), AF_PACKET, 0);
	assert_socket(ingestd_spec("worker"), AF_PACKET, 0);
	assert_resolves(ingestd_spec("worker"));
	assert_resolves(ingestd_spec("receiver"));
}

/* Any outcome but the kill is 0: the call was allowed. */
static int
try_map(const void *arg)
{
	int	 how = *(const int *)arg;
	void	*p;

	p = mmap(NULL, 4096, how == 1 ? PROT_READ | PROT_EXEC :
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (how == 2 && p != MAP_FAILED)
		(void)mprotect(p, 4096, PROT_READ | PROT_EXEC);
	return 0;
}

/*
 * No stage may make memory executable: new code is what an exploit
 * wants.  flowd's list named mmap and mprotect, which allowed them
 * with any protection, PROT_EXEC too; now a list naming them is
 * refused.  0: read-write mmap, 1: PROT_EXEC mmap, 2: mprotect to it.
 */
static void
test_no_exec_memory(void **state)
{
	static const char *const maps[] = { "mmap", NULL };
	static const struct sandbox_spec lists_mmap = {
		.name = "test", .syscalls = maps
	};
	const struct sandbox_spec *specs[8];
	size_t	 i;
	int	 how;

	(void)state;
	specs[0] = capd_sandbox();
	specs[1] = backend_sandbox();
	specs[2] = backend_keeper_sandbox();
	specs[3] = shipd_sandbox(outbox);
	specs[4] = flowd_sandbox(work, outbox);
	specs[5] = ingestd_spec("receiver");
	specs[6] = ingestd_spec("worker");
	specs[7] = NULL;
	for (i = 0; specs[i] != NULL; i++) {
		how = 0;
		assert_lived(in_sandbox(specs[i], try_map, &how));
		how = 1;
		assert_killed(in_sandbox(specs[i], try_map, &how));
#ifndef VBS_ASAN
		/* AddressSanitizer's run-time needs mprotect of any kind. */
		how = 2;
		assert_killed(in_sandbox(specs[i], try_map, &how));
#endif
	}
	how = 0;
	assert_exit(in_sandbox(&lists_mmap, try_map, &how), EXIT_SYSTEM);
}

/* An allow for any argument would win over the checked ones: refused. */
static int
try_nothing(const void *arg)
{
	(void)arg;
	return 0;
}

static void
test_both_ways(void **state)
{
	static const char *const any[] = { "ioctl", NULL };
	static const struct sandbox_arg one[] = {
		{ "ioctl", 1, TCGETS, 0 }, { NULL, 0, 0, 0 }
	};
	static const struct sandbox_spec spec = {
		.name = "test", .syscalls = any, .args = one
	};
	int	 st;

	(void)state;
	st = in_sandbox(&spec, try_nothing, NULL);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), EXIT_SYSTEM);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capd_ioctl),
		cmocka_unit_test(test_capd_socket),
		cmocka_unit_test(test_sockd),
		cmocka_unit_test(test_sockd_split),
		cmocka_unit_test(test_shipd_socket),
		cmocka_unit_test(test_shipd_resolve),
		cmocka_unit_test(test_shipd_files),
		cmocka_unit_test(test_flowd_files),
		cmocka_unit_test(test_flowd_syslog),
		cmocka_unit_test(test_landlock_blinds_owner),
		cmocka_unit_test(test_both_ways),
		cmocka_unit_test(test_ingestd),
		cmocka_unit_test(test_no_exec_memory),
	};

	log_init("sandbox_test", 1, 0);
	return cmocka_run_group_tests(tests, setup_dirs, teardown_dirs);
}
