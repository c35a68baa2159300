/*
 * sandbox.c: what ingestd's receiver and its loader workers may still
 * do once they read what clients sent: on Linux a seccomp list for
 * each, beside the Landlock paths of spool_confine() (spool.c).  Runs in
 * the receiver and in each worker, entered before any thread is made,
 * so that every thread has it.  Apart so that a test can enter the very
 * same sandbox (tests/unit/sandbox_test.c).
 *
 * The receiver faces the Internet: TLS, HTTP and the first look at an
 * upload happen before a client is known.  The workers parse uploaded
 * SQLite files.  Neither may exec, make memory executable (the base
 * list's mmap and mprotect), trace, mount or load anything; only the
 * receiver makes threads (libmicrohttpd's, one a connection), and
 * nothing makes a process.  The lists are what strace -f saw the two
 * make after the filter was loaded, over ingestd's and shipd's tests,
 * and what the comments below give reasons for; then run enforced
 * over the whole suite and `make sanitize`.
 */

#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <sched.h>
#include <stddef.h>
#include <string.h>

#include "proto.h"
#include "ingestd.h"

#ifdef __linux__

/*
 * Both: the spool's files (SQLite's too: its journal and temporary
 * files, getcwd and readlink to make a full path of a relative or
 * linked spool), the MySQL connection (the connector reads the option
 * file again with access() and asks uname() at each connection;
 * getpeername tells db.c whether MySQL is on this host),
 * syslog, and glibc's look-up of a MySQL host's name (a bound netlink
 * socket to sort its addresses, sendmmsg for the A and AAAA questions).
 * glibc calls access, unlink, rename and readlink by those names here.
 */
#define INGESTD_COMMON \
	"openat", "access", "faccessat", "faccessat2", "unlink", \
	"unlinkat", "rename", "renameat", "fsync", "fdatasync", \
	"ftruncate", "getdents64", "getcwd", "readlink", "uname", \
	"connect", "bind", "sendmmsg", "setsockopt", "getsockopt", \
	"getsockname", "getpeername"

static const char *const receiver_syscalls[] = {
	INGESTD_COMMON,
	/* libmicrohttpd: its listener, connections, threads, wake-ups */
	"listen", "accept4", "eventfd2", "dup", "set_robust_list", "rseq",
	/* the main thread waits for the signals every other one blocks */
	"rt_sigtimedwait",
	NULL
};

static const char *const worker_syscalls[] = {
	INGESTD_COMMON,
	NULL
};

/*
 * Sockets: TCP or a Unix socket to MySQL, the receiver's TCP listener,
 * syslog (AF_UNIX), and the name look-up's UDP and netlink.  The
 * resolver's one ioctl sizes a DNS answer.  Threads only with
 * CLONE_THREAD: clone3 passes its flags in memory, where seccomp cannot
 * look, so it is refused with ENOSYS and glibc falls back to clone.  A
 * worker asks whether another's claim is still held by a living
 * process, with signal 0.
 */
#define INGESTD_ARGS \
	{ "socket", 0, AF_INET, 0 }, \
	{ "socket", 0, AF_INET6, 0 }, \
	{ "socket", 0, AF_UNIX, 0 }, \
	{ "socket", 0, AF_NETLINK, 0 }, \
	{ "ioctl", 1, FIONREAD, 0 }

static const struct sandbox_arg receiver_args[] = {
	INGESTD_ARGS,
	{ "clone", 0, CLONE_THREAD, CLONE_THREAD },
	/* each of libmicrohttpd's threads names itself */
	{ "prctl", 0, PR_SET_NAME, 0 },
	{ NULL, 0, 0, 0 }
};

static const struct sandbox_arg worker_args[] = {
	INGESTD_ARGS,
	{ "kill", 1, 0, 0 },
	{ NULL, 0, 0, 0 }
};

static const char *const no_clone3[] = { "clone3", NULL };

static struct sandbox_spec receiver_spec = {
	.name = "receiver",
	.syscalls = receiver_syscalls,
	.args = receiver_args,
	.nosys = no_clone3,
};

static struct sandbox_spec worker_spec = {
	.name = "worker",
	.syscalls = worker_syscalls,
	.args = worker_args,
	.nosys = no_clone3,
};

/*
 * The sandbox of who ("receiver" or "worker"; NULL for another name),
 * its files those of paths (spool_confine()).
 */
const struct sandbox_spec *
ingestd_sandbox(const char *who, const struct sandbox_path *paths)
{
	struct sandbox_spec *s;

	if (strcmp(who, "receiver") == 0)
		s = &receiver_spec;
	else if (strcmp(who, "worker") == 0)
		s = &worker_spec;
	else
		return NULL;
	s->paths = paths;
	return s;
}

/*
 * MariaDB Connector/C loads an authentication plugin, a shared object,
 * when a server first asks for it; in the sandbox, which forbids
 * executable memory, that kills the process.  So every one this system
 * has is loaded before (one that is not there is no error: no server
 * will get it).  serve's first connection has loaded the one its
 * account uses already; this is for an account changed to another
 * method while ingestd runs.
 */
void
ingestd_preload(void)
{
	static const char *const auth[] = {
		"caching_sha2_password", "sha256_password", "client_ed25519",
		"dialog", "mysql_clear_password", "auth_gssapi_client", NULL
	};
	MYSQL	*my;
	size_t	 i;

	if ((my = mysql_init(NULL)) == NULL)
		return;
	for (i = 0; auth[i] != NULL; i++)
		/* -1, any type: client_plugin.h, which names the types,
		 * includes a header Debian's package lacks */
		(void)mysql_load_plugin(my, auth[i], -1, 0);
	mysql_close(my);
}
#else
/* The BSDs: Landlock's part only (unveil), by spool_confine(). */
const struct sandbox_spec *
ingestd_sandbox(const char *who, const struct sandbox_path *paths)
{
	(void)who;
	(void)paths;
	return NULL;
}

void
ingestd_preload(void)
{
}
#endif
