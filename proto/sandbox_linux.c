/*
 * sandbox_linux.c: the Linux part of giving up privilege, for every
 * stage.  Capabilities with libcap-ng around priv_drop()'s change of
 * user, then no_new_privs, then a libseccomp allow-list as the very
 * last step (sandbox_enter), after which any other system call kills
 * the process.  Each stage names what it needs on top of the base list
 * below, some calls only with given arguments (an ioctl request, a
 * socket family), and may name the only files it can still open
 * (Landlock, applied just before seccomp).  It trusts those lists,
 * written by us, and nothing else.
 *
 * VBS_SECCOMP_LOG=1 in the environment turns the kill into a kernel
 * audit log line (see dmesg or journalctl -k): for finding a missing
 * system call, never for production.
 */

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/landlock.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cap-ng.h>
#include <seccomp.h>

#include "proto.h"

/* Highest capability number libcap-ng or the kernel may know. */
#define CAP_SCAN_MAX	63

static int
cap_kept(const int *keep, int cap)
{
	for (; keep != NULL && *keep != -1; keep++)
		if (*keep == cap)
			return 1;
	return 0;
}

/*
 * Before the user changes: check the list, shrink the bounding set
 * while CAP_SETPCAP is still ours, and ask the kernel to keep the
 * permitted set across setresuid() when there is something to keep.
 */
void
sandbox_priv_prepare(const struct priv_spec *spec)
{
	const int	*c;

	for (c = spec->keep_caps; c != NULL && *c != -1; c++) {
		if (*c < 0 || *c > CAP_SCAN_MAX ||
		    capng_capability_to_name((unsigned)*c) == NULL)
			fatalx("unknown capability %d", *c);
		if (*c == CAP_SETUID || *c == CAP_SETGID || *c == CAP_SETPCAP)
			fatalx("refusing to keep %s: it undoes the drop",
			    capng_capability_to_name((unsigned)*c));
	}
	if (capng_get_caps_process() == -1)
		fatal("capng_get_caps_process");
	if (capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP)) {
		capng_clear(CAPNG_SELECT_BOUNDS);
		for (c = spec->keep_caps; c != NULL && *c != -1; c++)
			if (capng_update(CAPNG_ADD, CAPNG_BOUNDING_SET,
			    (unsigned)*c) == -1)
				fatalx("capng_update bounding %d", *c);
		if (capng_apply(CAPNG_SELECT_BOUNDS) != 0)
			fatalx("cannot clear the capability bounding set");
	}
	if (spec->keep_caps != NULL && spec->keep_caps[0] != -1 &&
	    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1)
		fatal("prctl PR_SET_KEEPCAPS");
}

/*
 * After the user changed: exactly the kept capabilities, effective and
 * permitted, none inheritable or ambient; checked, then no_new_privs.
 */
void
sandbox_priv_finish(const struct priv_spec *spec)
{
	const int	*c;
	int		 cap, want, eff, prm;

	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == -1)
		fatal("prctl PR_SET_KEEPCAPS");
	capng_clear(CAPNG_SELECT_CAPS);
	for (c = spec->keep_caps; c != NULL && *c != -1; c++)
		if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
		    (unsigned)*c) == -1)
			fatalx("capng_update %d", *c);
	if (capng_apply(CAPNG_SELECT_CAPS) != 0)
		fatalx("cannot set capabilities: were they permitted before "
		    "the change of user?");

	if (capng_get_caps_process() == -1)
		fatal("capng_get_caps_process");
	for (cap = 0; cap <= CAP_SCAN_MAX; cap++) {
		want = cap_kept(spec->keep_caps, cap);
		eff = capng_have_capability(CAPNG_EFFECTIVE, (unsigned)cap);
		prm = capng_have_capability(CAPNG_PERMITTED, (unsigned)cap);
		if (eff != want || prm != want ||
		    capng_have_capability(CAPNG_INHERITABLE, (unsigned)cap))
			fatalx("capability %d is %s after the drop", cap,
			    want ? "missing" : "still held");
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		fatal("prctl PR_CAP_AMBIENT_CLEAR_ALL");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl PR_SET_NO_NEW_PRIVS");
}

/*
 * What every stage needs: memory, signals, time, its own fds and
 * sockets it already has, and exit.  No open, no socket, no exec.
 */
static const char *const base_syscalls[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "close",
	"lseek", "fstat", "newfstatat", "statx", "fcntl",
	"brk", "munmap", "mremap", "madvise",
	"rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack",
	"restart_syscall",
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
	"gettimeofday", "time",
	"futex", "getpid", "gettid", "getppid", "getuid", "geteuid",
	"getgid", "getegid", "getrandom", "sysinfo",
	"poll", "ppoll", "select", "pselect6",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "shutdown",
	"exit", "exit_group", "tgkill",
	NULL
};

#ifdef VBS_ASAN
/* LeakSanitizer stops the world at exit with ptrace from a clone. */
static const char *const asan_syscalls[] = {
	"clone", "clone3", "ptrace", "wait4", "prctl", "sched_yield",
	"openat", "getdents64", "readlink", "mprotect", "kill",
	/* LeakSanitizer's tracer on x86_64 uses the old calls. */
	"open", "getdents", "stat",
	/* the run-time, in each thread it sees made (ingestd's receiver) */
	"sched_getaffinity",
	NULL
};

/* isatty() of the report, to choose colours. */
static const struct sandbox_arg asan_args[] = {
	{ "ioctl", 1, TCGETS, 0 },
	{ NULL, 0, 0, 0 }
};
#endif

static void
allow_list(scmp_filter_ctx ctx, const char *name, const char *const *list)
{
	int	 nr, rc;

	for (; list != NULL && *list != NULL; list++) {
		nr = seccomp_syscall_resolve_name(*list);
		if (nr == __NR_SCMP_ERROR) {
			log_debug("%s: seccomp: unknown system call %s "
			    "skipped", name, *list);
			continue;
		}
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0)
			fatalx("%s: seccomp: cannot allow %s: %s", name,
			    *list, strerror(-rc));
	}
}

static int
listed(const char *const *list, const char *sc)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(*list, sc) == 0)
			return 1;
	return 0;
}

/*
 * Each entry allows its call for one value of one argument, or of some
 * of its bits.  libseccomp
 * lets an unconditional allow of a call win over its conditions, so a
 * call listed both ways would take any argument: refused.
 */
static void
allow_args(scmp_filter_ctx ctx, const struct sandbox_spec *spec,
    const struct sandbox_arg *a)
{
	int	 nr, rc;

	for (; a != NULL && a->syscall != NULL; a++) {
		if (listed(base_syscalls, a->syscall) ||
		    listed(spec->syscalls, a->syscall))
			fatalx("%s: seccomp: %s is allowed with any argument",
			    spec->name, a->syscall);
		if (a->arg > 5)
			fatalx("%s: seccomp: %s has no argument %u",
			    spec->name, a->syscall, a->arg);
		nr = seccomp_syscall_resolve_name(a->syscall);
		if (nr == __NR_SCMP_ERROR) {
			log_debug("%s: seccomp: unknown system call %s "
			    "skipped", spec->name, a->syscall);
			continue;
		}
		if (a->mask != 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
			    SCMP_CMP(a->arg, SCMP_CMP_MASKED_EQ, a->mask,
			    a->value));
		else
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
			    SCMP_CMP(a->arg, SCMP_CMP_EQ, a->value));
		if (rc < 0)
			fatalx("%s: seccomp: cannot allow %s(A%u = %#llx): %s",
			    spec->name, a->syscall, a->arg,
			    (unsigned long long)a->value, strerror(-rc));
	}
}

/* Calls that fail with ENOSYS, for the library's fallback. */
static void
refuse_nosys(scmp_filter_ctx ctx, const struct sandbox_spec *spec)
{
	const char *const *l;
	int	 nr, rc;

	for (l = spec->nosys; l != NULL && *l != NULL; l++) {
		if (listed(base_syscalls, *l) || listed(spec->syscalls, *l))
			fatalx("%s: seccomp: %s both allowed and refused",
			    spec->name, *l);
#ifdef VBS_ASAN
		/* LeakSanitizer's own clone3 at exit stays allowed */
		if (listed(asan_syscalls, *l))
			continue;
#endif
		if ((nr = seccomp_syscall_resolve_name(*l)) == __NR_SCMP_ERROR)
			continue;
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr,
		    0)) < 0)
			fatalx("%s: seccomp: cannot refuse %s: %s", spec->name,
			    *l, strerror(-rc));
	}
}

/*
 * mmap and mprotect only without PROT_EXEC: nothing loads code after
 * the sandbox, and new executable memory is what an exploit wants.
 */
static void
allow_noexec(scmp_filter_ctx ctx, const char *name, const char *sc)
{
	int	 rc;

	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
	    seccomp_syscall_resolve_name(sc), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (rc < 0)
		fatalx("%s: seccomp: cannot allow %s: %s", name, sc,
		    strerror(-rc));
}

/* Landlock's rights by ABI; this system's header may predate some. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)
#endif
#define LL_FS_V1	((1ULL << 13) - 1)	/* execute to make_sym */
#define LL_READ		(LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_WRITE	(LL_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | \
			 LANDLOCK_ACCESS_FS_REMOVE_DIR | \
			 LANDLOCK_ACCESS_FS_REMOVE_FILE | \
			 LANDLOCK_ACCESS_FS_MAKE_DIR | \
			 LANDLOCK_ACCESS_FS_MAKE_REG | \
			 LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE)
#define LL_FILE		(LANDLOCK_ACCESS_FS_EXECUTE | \
			 LANDLOCK_ACCESS_FS_WRITE_FILE | \
			 LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_TRUNCATE | \
			 LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* One path's rule: a file gets only the rights a file can have. */
static void
landlock_allow(int rfd, const char *name, const char *path, uint64_t rights)
{
	struct landlock_path_beneath_attr pb;
	struct stat			 st;

	memset(&pb, 0, sizeof(pb));
	if ((pb.parent_fd = open(path, O_PATH | O_CLOEXEC)) == -1 ||
	    fstat(pb.parent_fd, &st) == -1)
		fatal("%s: landlock: %s", name, path);
	pb.allowed_access = S_ISDIR(st.st_mode) ? rights : rights & LL_FILE;
	if (syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH,
	    &pb, 0) == -1)
		fatal("%s: landlock: %s", name, path);
	close(pb.parent_fd);
}

/*
 * Every right this kernel's Landlock knows is handled, so each is
 * refused outside the spec's paths.  A kernel without Landlock (before
 * 5.13, or not enabled at boot) leaves the files to seccomp and the
 * user: said once, not fatal, as volunteers run older kernels.  ABI 1
 * refuses every rename between directories, which a writer needs: as
 * if there were no Landlock.  Past that, any failure is fatal.  Files
 * already open are not affected.
 */
static void
landlock_enter(const struct sandbox_spec *spec)
{
	struct landlock_ruleset_attr	 ra;
	const struct sandbox_path	*p;
	uint64_t			 handled;
	int				 abi, rfd, writes = 0;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	for (p = spec->paths; p->path != NULL; p++)
		writes |= p->access & SANDBOX_WRITE;
	if (abi < 1 || (abi < 2 && writes)) {
		if (abi < 1 && errno != ENOSYS && errno != EOPNOTSUPP)
			fatal("%s: landlock", spec->name);
		log_info("%s: no Landlock (%s): files are limited by "
		    "the user and seccomp only", spec->name, abi < 1 ?
		    strerror(errno) : "ABI 1 cannot rename");
		return;
	}
	handled = LL_FS_V1;
	if (abi >= 2)
		handled |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		handled |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		handled |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	memset(&ra, 0, sizeof(ra));
	ra.handled_access_fs = handled;
	if ((rfd = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof(ra),
	    0)) == -1)
		fatal("%s: landlock_create_ruleset", spec->name);
	for (p = spec->paths; p->path != NULL; p++)
		landlock_allow(rfd, spec->name, p->path, handled &
		    (p->access & SANDBOX_WRITE ? LL_WRITE : LL_READ));
#ifdef VBS_ASAN
	/* LeakSanitizer reads /proc/self at exit. */
	landlock_allow(rfd, spec->name, "/proc/self", LL_READ);
#endif
	if (syscall(SYS_landlock_restrict_self, rfd, 0) == -1)
		fatal("%s: landlock_restrict_self", spec->name);
	close(rfd);
	log_debug("%s: landlock ABI %d in place", spec->name, abi);
}

void
sandbox_paths(const char *name, const struct sandbox_path *paths)
{
	struct sandbox_spec	 spec;

	memset(&spec, 0, sizeof(spec));
	spec.name = name;
	spec.paths = paths;
	/* landlock_restrict_self() asks for it without CAP_SYS_ADMIN. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: prctl PR_SET_NO_NEW_PRIVS", name);
	landlock_enter(&spec);
}

void
sandbox_enter(const struct sandbox_spec *spec)
{
	scmp_filter_ctx	 ctx;
	const char	*s;
	uint32_t	 deflt = SCMP_ACT_KILL_PROCESS;
	int		 rc;

	/* Without no_new_privs a filter could be escaped through exec. */
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		fatalx("%s: sandbox_enter before priv_drop", spec->name);
	if ((s = getenv("VBS_SECCOMP_LOG")) != NULL && strcmp(s, "1") == 0) {
		deflt = SCMP_ACT_LOG;
		log_warnx("%s: seccomp violations are logged, not fatal",
		    spec->name);
	}
	/* Listed, they would be allowed with PROT_EXEC: allow_noexec(). */
	if (listed(spec->syscalls, "mmap") || listed(spec->syscalls,
	    "mprotect"))
		fatalx("%s: seccomp: mmap and mprotect are the base list's, "
		    "without PROT_EXEC", spec->name);
	if (spec->paths != NULL)
		landlock_enter(spec);
	if ((ctx = seccomp_init(deflt)) == NULL)
		fatalx("%s: seccomp_init failed", spec->name);
	allow_list(ctx, spec->name, base_syscalls);
	allow_noexec(ctx, spec->name, "mmap");
	allow_noexec(ctx, spec->name, "mprotect");
#ifdef VBS_ASAN
	allow_list(ctx, spec->name, asan_syscalls);
	allow_args(ctx, spec, asan_args);
#endif
	allow_list(ctx, spec->name, spec->syscalls);
	allow_args(ctx, spec, spec->args);
	refuse_nosys(ctx, spec);
	if ((rc = seccomp_load(ctx)) < 0)
		fatalx("%s: seccomp_load: %s", spec->name, strerror(-rc));
	seccomp_release(ctx);
	log_debug("%s: seccomp filter loaded", spec->name);
}
