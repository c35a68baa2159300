/*
 * sandbox.c: what shipd may still do once it has set up its HTTPS
 * client and the outbox watch, the seccomp list and Landlock paths
 * (Linux) and pledge promises (OpenBSD) that main() in shipd.c enters
 * last.  Apart here so that a test can enter the very same sandbox
 * (tests/unit/sandbox_test.c).
 */

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "shipd.h"

/*
 * What shipd calls after the sandbox is in place, beyond the base list:
 * the outbox's files, inotify, and what a TLS connection needs (sockets;
 * /etc files and a socket for name look-ups).  No threads: the name
 * look-up is glibc's, in shipd's own thread.  Found with
 * VBS_SECCOMP_LOG=1 and strace -f.
 */
static const char *const shipd_syscalls[] = {
	"open", "openat", "unlink", "unlinkat", "rename", "renameat",
	"renameat2", "mkdir", "mkdirat", "fsync", "fdatasync", "getdents64",
	"getdents",	/* LeakSanitizer's tracer, in `make sanitize` */
	"access", "faccessat", "faccessat2", "stat", "lstat", "readlink",
	"inotify_init1", "inotify_add_watch", "inotify_rm_watch",
	"connect", "bind", "getsockname", "getpeername", "setsockopt",
	"getsockopt", "socketpair", "pipe", "pipe2", "sendmmsg",
	"prlimit64", "getrlimit", "uname", "dup", "dup2", "dup3",
	NULL
};

/*
 * The sockets of an upload and of glibc's getaddrinfo(): TCP to the
 * server and UDP to the name server (IPv4 or IPv6), nscd and syslog
 * (AF_UNIX), and, when a name has several addresses, a netlink route
 * socket (bound) to sort them by the host's own.  The resolver's one
 * ioctl sizes a DNS answer (FIONREAD).
 */
static const struct sandbox_arg shipd_args[] = {
	{ "socket", 0, AF_INET, 0 },
	{ "socket", 0, AF_INET6, 0 },
	{ "socket", 0, AF_UNIX, 0 },
#ifdef AF_NETLINK	/* the args are Linux's; OpenBSD has no netlink */
	{ "socket", 0, AF_NETLINK, 0 },
#endif
	{ "ioctl", 1, FIONREAD, 0 },
	{ NULL, 0, 0, 0 }
};

static struct sandbox_path shipd_paths[] = {
	{ NULL, SANDBOX_WRITE },	/* the outbox */
	{ "/etc", SANDBOX_READ },	/* resolv.conf, hosts, nsswitch.conf */
	{ NULL, SANDBOX_READ },		/* where resolv.conf really is */
	{ NULL, 0 }
};

static struct sandbox_spec shipd_spec = {
	.name = "shipd",
	.syscalls = shipd_syscalls,
	.pledge = "stdio rpath wpath cpath inet dns",
	.args = shipd_args,
	.paths = shipd_paths,
};

/*
 * Files: the outbox, and what the resolver reads, which may be a
 * resolv.conf that a link in /etc points to (systemd-resolved,
 * NetworkManager): that file's directory too.
 */
const struct sandbox_spec *
shipd_sandbox(const char *outbox)
{
	static char	 resolv[PATH_MAX];
	char		*slash;

	shipd_paths[0].path = outbox;
	if (realpath("/etc/resolv.conf", resolv) != NULL &&
	    strncmp(resolv, "/etc/", 5) != 0 &&
	    (slash = strrchr(resolv, '/')) != NULL && slash != resolv) {
		*slash = '\0';
		shipd_paths[2].path = resolv;
	}
	return &shipd_spec;
}
