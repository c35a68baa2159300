/*
 * sandbox_linux.c: what sockd keeps once it has given up privilege on
 * Linux: two capabilities and the seccomp list that main() in sockd.c
 * enters after backend_open().  Apart from the socket tables
 * (sockd_linux.c) so that a test can enter the very same sandbox
 * (tests/unit/sandbox_test.c).
 */

#include <sys/socket.h>

#include <linux/capability.h>

#include "sockd.h"

/*
 * After the drop: another user's /proc/PID/fd is a directory of mode
 * 0500 (CAP_DAC_READ_SEARCH) whose links need ptrace read access
 * (CAP_SYS_PTRACE); neither alone is enough.  sock_diag and the
 * already subscribed proc connector need nothing.
 */
static const int keep_caps[] = { CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE, -1 };

/* On top of proto/sandbox_linux.c's base list. */
static const char *const sockd_syscalls[] = {
	"openat", "open", "getdents64", "getdents", "readlinkat",
	"readlink", "stat", "lstat", "connect", "getsockopt",
	"uname", "recvmmsg", NULL
};

/*
 * Its netlink sockets are open before the drop: after it, sockd only
 * reconnects to flowd (and syslog) over AF_UNIX.  kill() only asks
 * whether a process lives (signal 0).  No ioctl at all.
 */
static const struct sandbox_arg sockd_args[] = {
	{ "socket", 0, AF_UNIX },
	{ "kill", 1, 0 },
	{ NULL, 0, 0 }
};

/*
 * No Landlock paths: in a Landlock domain sockd would lose ptrace access
 * to every process outside it, capabilities or not, and with it the
 * links above (sandbox_test shows it; sockd(8), BUGS).
 */
static const struct sandbox_spec sandbox = {
	.name = "sockd",
	.syscalls = sockd_syscalls,
	.args = sockd_args,
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
