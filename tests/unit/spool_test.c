/*
 * spool_test.c: unit tests of ingestd's spool (ingestd/spool.c): which
 * claims spool_recover() gives back to incoming/.  A claim of this host
 * goes back when its loader is gone (its pid free, or another process's
 * that started after the claim), never while it lives, however long its
 * load takes; another host's, whose loader cannot be asked, once it is
 * older than the stale time.  And spool_late(): a batch whose validation
 * ran out of time is given back, counted, until the bound quarantines it.
 * And spool_confine(): what a receiver or loader taken over may open.
 */

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/landlock.h>

#include <errno.h>
#include <fcntl.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../ingestd/ingestd.h"

static char	dir[64];
static char	host[128];

/* A claim of the file c.NAME by loader HOST~PID, made now. */
static void
claim(const char *name, const char *h, long pid)
{
	char	path[512];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/claim/c.%s~%s~%ld", dir, name, h,
	    pid);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
}

static int
waiting(const char *name)
{
	char		path[512];
	struct stat	st;

	snprintf(path, sizeof(path), "%s/incoming/c.%s", dir, name);
	return stat(path, &st) == 0;
}

/* The host name as spool_open() makes it for claims. */
static void
own_host(void)
{
	char	*c;

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	for (c = host; *c != '\0'; c++)
		if (*c == '~' || *c == '/')
			*c = '_';
}

/*
 * The claim "reused", of this host's pid ns_last_pid + 100: 0 unless
 * root may hand out pids.
 */
static pid_t
reuse_claim(void)
{
	FILE	*fp;
	long	 last;

	if (geteuid() != 0 ||
	    (fp = fopen("/proc/sys/kernel/ns_last_pid", "r")) == NULL)
		return 0;
	if (fscanf(fp, "%ld", &last) != 1)
		last = -1;
	fclose(fp);
	if (last < 0)
		return 0;
	claim("reused", host, last + 100);
	return (pid_t)(last + 100);
}

/* A child that waits, with pid want if no other fork took it first. */
static pid_t
reuse_fork(pid_t want)
{
	FILE	*fp;
	pid_t	 pid;

	if ((fp = fopen("/proc/sys/kernel/ns_last_pid", "w")) == NULL)
		return -1;
	fprintf(fp, "%ld", (long)want - 1);
	if (fclose(fp) != 0)
		return -1;
	if ((pid = fork()) == 0) {
		pause();
		_exit(0);
	}
	return pid;
}

static void
test_recover(void **state)
{
	struct spool	*sp;
	char		 err[256], cmd[128];
	pid_t		 dead, want, other;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vbs-spool-test.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_non_null(sp = spool_open(dir, err, sizeof(err)));
	own_host();

	/* A loader of this host that lives: the test's parent. */
	claim("alive", host, (long)getppid());
	/* One that is gone: a child reaped at once. */
	if ((dead = fork()) == 0)
		_exit(0);
	assert_true(dead > 0);
	waitpid(dead, NULL, 0);
	claim("dead", host, (long)dead);
	/* Another host's. */
	claim("far", "otherhost", 1234);

	/* Nothing is stale yet: only the gone loader's claim goes back. */
	assert_int_equal(spool_recover(sp, 1), 1);
	assert_true(waiting("dead"));
	assert_false(waiting("alive"));
	assert_false(waiting("far"));

	/*
	 * As root: a claim whose pid, once its loader is gone, a process
	 * started seconds later has (ns_last_pid hands it out; 0 when
	 * another fork on the host took it first).
	 */
	want = reuse_claim();

	/*
	 * Past the stale time: the other host's claim goes back too, and
	 * the one whose pid is now another process's; the living one never.
	 */
	sleep(4);
	if (want > 0 && (other = reuse_fork(want)) != want) {
		print_message("pid %ld was taken first: reuse not tried\n",
		    (long)want);
		if (other > 0) {
			kill(other, SIGKILL);
			waitpid(other, NULL, 0);
		}
		other = -1;
		want = 0;
	}
	assert_int_equal(spool_recover(sp, 1), want > 0 ? 2 : 1);
	assert_true(waiting("far"));
	assert_false(waiting("alive"));
	if (want > 0) {
		assert_true(waiting("reused"));
		kill(other, SIGKILL);
		waitpid(other, NULL, 0);
	}

	spool_free(sp);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* Is there a file sub/name in the spool? */
static int
exists(const char *sub, const char *name)
{
	char		path[512];
	struct stat	st;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	return stat(path, &st) == 0;
}

/*
 * A batch whose validation runs out of time goes back to incoming/,
 * counted, twice; the third time it is quarantined with a reason that
 * says so.  A batch loaded after a late try leaves no count behind.
 */
static void
test_late(void **state)
{
	struct spool	*sp;
	char		 err[256], path[512], name[256], cmd[128], line[512];
	FILE		*fp;
	int		 i;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vbs-spool-test.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_non_null(sp = spool_open(dir, err, sizeof(err)));
	snprintf(path, sizeof(path), "%s/incoming/c.slow", dir);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);

	for (i = 1; i <= 3; i++) {
		assert_int_equal(spool_claim(sp, path, sizeof(path), name,
		    sizeof(name)), 1);
		assert_string_equal(name, "c.slow");
		assert_int_equal(spool_late(sp, path, "integrity: "
		    "interrupted", 3), i);
		if (i < 3) {
			assert_true(waiting("slow"));
			assert_true(exists("incoming", ".c.slow.late"));
		}
	}
	assert_false(waiting("slow"));
	assert_false(exists("incoming", ".c.slow.late"));
	assert_true(exists("quarantine", "c.slow"));
	snprintf(path, sizeof(path), "%s/quarantine/c.slow.reason", dir);
	assert_non_null(fp = fopen(path, "r"));
	assert_non_null(fgets(line, sizeof(line), fp));
	fclose(fp);
	print_message("reason: %s", line);
	assert_non_null(strstr(line, "ran out of time 3 times"));
	assert_int_equal(spool_quarantined(sp), 1);

	/* Late once, then loaded: its count goes with it. */
	snprintf(path, sizeof(path), "%s/incoming/c.once", dir);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	assert_int_equal(spool_claim(sp, path, sizeof(path), name,
	    sizeof(name)), 1);
	assert_int_equal(spool_late(sp, path, "interrupted", 3), 1);
	assert_true(exists("incoming", ".c.once.late"));
	assert_int_equal(spool_claim(sp, path, sizeof(path), name,
	    sizeof(name)), 1);
	assert_int_equal(spool_finish(sp, path, 0), 0);
	assert_false(exists("incoming", ".c.once.late"));
	assert_int_equal(spool_claim(sp, path, sizeof(path), name,
	    sizeof(name)), 0);

	spool_free(sp);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* 0 opened, 1 refused, 2 another error. */
static int
opens(const char *path, int flags)
{
	int	 fd;

	if ((fd = open(path, flags | O_CLOEXEC, 0600)) != -1) {
		close(fd);
		return 0;
	}
	return errno == EACCES ? 1 : 2;
}

static void
touch(const char *path)
{
	FILE	*fp;

	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
}

/*
 * In a child confined by spool_confine(): the spool may be written, the
 * option file and what lies beside it read, and /etc; a file of the
 * same user elsewhere may not be read, nor one made there, nor /etc
 * written.  Each failed check is a bit of the child's exit status.
 */
static void
test_confine(void **state)
{
	struct spool	*sp;
	char		 base[64], spool[128], opt[128], beside[128];
	char		 secret[128], fresh[128], made[160], cmd[128];
	const char	*t;
	pid_t		 pid;
	int		 st, bits;

	(void)state;
	if (syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION) < 2)
		skip();
	snprintf(base, sizeof(base), "/tmp/vbs-confine-test.XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(spool, sizeof(spool), "%s/spool", base);
	snprintf(opt, sizeof(opt), "%s/etc", base);
	assert_int_equal(mkdir(opt, 0700), 0);
	snprintf(opt, sizeof(opt), "%s/etc/ingestd.cnf", base);
	snprintf(beside, sizeof(beside), "%s/etc/ca.pem", base);
	snprintf(secret, sizeof(secret), "%s/secret", base);
	snprintf(fresh, sizeof(fresh), "%s/fresh", base);
	snprintf(made, sizeof(made), "%s/tmp/upload.part", spool);
	touch(opt);
	touch(beside);
	touch(secret);
	assert_non_null(sp = spool_open(spool, cmd, sizeof(cmd)));
	spool_free(sp);

	fflush(NULL);
	if ((pid = fork()) == 0) {
		spool_confine("test", spool, opt);
		bits = 0;
		bits |= (opens(made, O_WRONLY | O_CREAT) != 0) << 0;
		bits |= (opens(opt, O_RDONLY) != 0) << 1;
		bits |= (opens(beside, O_RDONLY) != 0) << 2;
		bits |= (opens("/etc/passwd", O_RDONLY) != 0) << 3;
		bits |= (opens(secret, O_RDONLY) != 1) << 4;
		bits |= (opens(fresh, O_WRONLY | O_CREAT) != 1) << 5;
		bits |= (opens("/etc/passwd", O_WRONLY) != 1) << 6;
		t = getenv("SQLITE_TMPDIR");
		bits |= (t == NULL || strncmp(t, spool, strlen(spool)) != 0)
		    << 7;
		_exit(bits);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) != 0)
		print_error("failed checks: %#x\n", WEXITSTATUS(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_late),
		cmocka_unit_test(test_recover),
		cmocka_unit_test(test_confine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
