/*
 * sandbox.c: what flowd may still do once it has opened its inputs
 * and its first batch, the seccomp list and Landlock paths (Linux) and
 * pledge promises (OpenBSD) that main() in flowd.c enters last.  Apart
 * here so that a test can enter the very same sandbox
 * (tests/unit/sandbox_test.c).
 */

#include <sys/socket.h>

#include "flowd.h"

/*
 * What flowd calls after the sandbox is in place, beyond the base:
 * files, and connect for syslog (below).
 */
static const char *const flowd_syscalls[] = {
	"open", "openat", "unlink", "unlinkat", "link", "linkat", "rename",
	"renameat", "renameat2", "mkdir", "mkdirat", "fsync", "fdatasync",
	"ftruncate", "fallocate", "access", "faccessat",
	"faccessat2", "stat", "lstat", "readlink", "readlinkat", "getcwd",
	"fchown", "fchmod", "uname", "getdents64", "getsockopt", "connect",
	NULL
};

/*
 * Under vbsd flowd logs to syslog, and glibc makes a new AF_UNIX socket
 * and connects it when the old one broke (syslogd restarted): without
 * this the first log line after that killed flowd.  No other family.
 */
static const struct sandbox_arg flowd_args[] = {
	{ "socket", 0, AF_UNIX, 0 },
	{ NULL, 0, 0, 0 }
};

/*
 * Files only in the work directory (the batch being written, SQLite's
 * journals and temporary files, apps.tsv, stats.tsv) and the outbox
 * (finished batches, .lost).
 */
static struct sandbox_path flowd_paths[] = {
	{ NULL, SANDBOX_WRITE },	/* the work directory */
	{ NULL, SANDBOX_WRITE },	/* the outbox */
	{ NULL, 0 }
};

static struct sandbox_spec flowd_spec = {
	.name = "flowd",
	.syscalls = flowd_syscalls,
	.pledge = "stdio rpath wpath cpath flock",
	.args = flowd_args,
	.paths = flowd_paths,
};

const struct sandbox_spec *
flowd_sandbox(const char *work_dir, const char *outbox)
{
	flowd_paths[0].path = work_dir;
	flowd_paths[1].path = outbox;
	return &flowd_spec;
}
