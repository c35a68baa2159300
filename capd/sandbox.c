/*
 * sandbox.c: what capd may still do once it has given up privilege,
 * the seccomp list (Linux) and pledge promises (OpenBSD) that
 * drop_privileges() in capd.c enters last.  Apart here so that a test
 * can enter the very same sandbox (tests/unit/sandbox_test.c).
 */

#include <sys/ioctl.h>
#include <sys/socket.h>

#include "capd.h"

/* What capd calls after the sandbox is in place, beyond the base. */
static const char *const capd_syscalls[] = {
	"getsockopt",		/* pcap_stats: PACKET_STATISTICS */
	"setsockopt",
	"connect",		/* --connect: reconnecting */
	"getsockname", "getpeername",
	"uname",
	"fsync", "fdatasync", "ftruncate",
	NULL
};

/*
 * A socket only of the family capd reconnects to flowd (and syslog)
 * over; the one ioctl libpcap makes when an interface goes down, to
 * see whether it is up.  No other request: TIOCSTI on a terminal
 * (root running capd -r by hand) would type commands into its shell.
 */
static const struct sandbox_arg capd_args[] = {
	{ "socket", 0, AF_UNIX, 0 },
	{ "ioctl", 1, SIOCGIFFLAGS, 0 },
	{ NULL, 0, 0, 0 }
};

static const struct sandbox_spec capd_spec = {
	.name = "capd",
	.syscalls = capd_syscalls,
	.pledge = "stdio unix",
	.args = capd_args,
};

const struct sandbox_spec *
capd_sandbox(void)
{
	return &capd_spec;
}
