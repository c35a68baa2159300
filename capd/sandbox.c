/*
 * sandbox.c: what capd may still do once it has given up privilege,
 * the seccomp list (Linux) and pledge promises (OpenBSD) that
 * drop_privileges() in capd.c enters last.  Apart here so that a test
 * can enter the very same sandbox (tests/unit/sandbox_test.c).
 */

#include "capd.h"

#if defined(__SANITIZE_ADDRESS__)
#define CAPD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CAPD_ASAN 1
#endif
#endif

/* What capd calls after the sandbox is in place, beyond the base. */
static const char *const capd_syscalls[] = {
	"getsockopt",		/* pcap_stats: PACKET_STATISTICS */
	"setsockopt",
	"socket",		/* --connect: reconnecting */
	"connect",
	"getsockname", "getpeername",
	"ioctl",		/* libpcap on some kernels */
	"uname",
	"fsync", "fdatasync", "ftruncate",
#ifdef CAPD_ASAN
	/* LeakSanitizer at exit: the legacy calls the sandbox's list lacks */
	"open", "getdents", "stat", "readlink",
#endif
	NULL
};

static const struct sandbox_spec capd_spec = {
	.name = "capd",
	.syscalls = capd_syscalls,
	.pledge = "stdio unix",
};

const struct sandbox_spec *
capd_sandbox(void)
{
	return &capd_spec;
}
