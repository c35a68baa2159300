/*
 * sandbox_linux.c: what sockd keeps once it has given up privilege on
 * Linux: two capabilities and the seccomp list that main() in sockd.c
 * enters after backend_open().  Apart from the socket tables
 * (sockd_linux.c) so that a test can enter the very same sandbox
 * (tests/unit/sandbox_test.c).
 */

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
	"readlink", "stat", "lstat", "socket", "connect", "getsockopt",
	"uname", "recvmmsg", "kill", NULL
};

static const struct sandbox_spec sandbox = {
	.name = "sockd",
	.syscalls = sockd_syscalls,
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
