/*
 * spool.c: the directory where uploads wait to be loaded.  Runs in each
 * ingestd loader.  The spool is trusted (only ingestd writes it); the
 * names of the files in it come from clients' ids and are checked.
 * Several ingestd processes, on several hosts, may share one spool:
 * every hand-over is a rename(2), which is atomic on one file system
 * (and on NFS, server-side), so a file is always in exactly one place.
 *
 *   tmp/         the receiver writes an upload here, fsyncs it, then
 *                renames it into incoming/
 *   incoming/    CLIENT.NAME: waiting; CLIENT is the uploader's id;
 *                .CLIENT.NAME.late: how often its validation ran out
 *                of time (spool_late)
 *   claim/       CLIENT.NAME~HOST~PID: one loader's, by rename
 *   quarantine/  CLIENT.NAME refused, and CLIENT.NAME.reason
 *   done/        loaded files, when they are kept (-k); else deleted
 *
 * A loader that dies leaves its claim behind.  Claims of a dead process
 * on this host go back to incoming/ at once, and never those of a
 * living one; another host's claim, whose process cannot be asked, goes
 * back once older than the stale limit: loading twice is safe, because
 * MySQL's ledger makes the second load a no-op.
 */

#include <sys/types.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "ingestd.h"

struct spool {
	char		 dir[PATH_MAX];
	char		 host[128];
	pid_t		 pid;
	uint64_t	 quarantined;
};

#define QUARANTINE_COPIES	1000	/* of one name: NAME, NAME.1 ... */

static const char *const subdirs[] = {
	"tmp", "incoming", "claim", "quarantine", "done"
};

static int
mkdir_p(const char *path, mode_t mode)
{
	char	buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

struct spool *
spool_open(const char *dir, char *err, size_t errlen)
{
	struct spool	*sp;
	char		 path[PATH_MAX + 32];
	size_t		 i;
	char		*c;

	if ((sp = calloc(1, sizeof(*sp))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(sp->dir, sizeof(sp->dir), "%s", dir);
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		if (mkdir_p(path, 0750) == -1 || access(path, W_OK) == -1) {
			snprintf(err, errlen, "spool %s: %s", path,
			    strerror(errno));
			free(sp);
			return NULL;
		}
	}
	if (gethostname(sp->host, sizeof(sp->host)) == -1)
		snprintf(sp->host, sizeof(sp->host), "localhost");
	sp->host[sizeof(sp->host) - 1] = '\0';
	/* The claim suffix is split on '~': keep the host name free of it. */
	for (c = sp->host; *c != '\0'; c++)
		if (*c == '~' || *c == '/')
			*c = '_';
	sp->pid = getpid();
	return sp;
}

void
spool_free(struct spool *sp)
{
	free(sp);
}

uint64_t
spool_quarantined(const struct spool *sp)
{
	return sp->quarantined;
}

/*
 * The uploader of a spooled file is the part of its name before the
 * first dot.  -1 when the name is not CLIENT.NAME with CLIENT of
 * [A-Za-z0-9_-] and NAME of [A-Za-z0-9_.-].
 */
int
spool_client_of(const char *name, char *client, size_t len)
{
	const char	*dot = strchr(name, '.');
	size_t		 i, n;

	if (dot == NULL || dot == name || dot[1] == '\0' ||
	    (size_t)(dot - name) > MAX_CLIENT || strlen(name) > 200)
		return -1;
	for (i = 0; name[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    (c == '.' && name + i >= dot)))
			return -1;
	}
	n = (size_t)(dot - name);
	if (n >= len)
		return -1;
	memcpy(client, name, n);
	client[n] = '\0';
	return 0;
}

/* The spool name of a claimed path: strip the directory and ~HOST~PID. */
static int
claimed_name(const char *claimed, char *name, size_t len)
{
	const char	*base = strrchr(claimed, '/');
	char		*t;

	base = base != NULL ? base + 1 : claimed;
	if (snprintf(name, len, "%s", base) >= (int)len)
		return -1;
	if ((t = strrchr(name, '~')) == NULL)
		return -1;
	*t = '\0';
	if ((t = strrchr(name, '~')) == NULL)
		return -1;
	*t = '\0';
	return 0;
}

/*
 * Does the directory open as dirfd hold an entry that match() says is
 * NAME's?  0 also when it cannot be read.
 */
static int
dir_holds(int dirfd, int (*match)(const char *, const char *),
    const char *name)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd, found = 0;

	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return 0;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return 0;
	}
	while (!found && (de = readdir(d)) != NULL)
		found = match(de->d_name, name);
	closedir(d);
	return found;
}

/* A loader's claim of NAME (NAME~HOST~PID). */
static int
is_claim_of(const char *ent, const char *name)
{
	char	 n[NAME_MAX + 1];

	return claimed_name(ent, n, sizeof(n)) == 0 && strcmp(n, name) == 0;
}

/* NAME kept in quarantine, a copy NAME.N, or the reason of either. */
static int
is_quarantine_of(const char *ent, const char *name)
{
	size_t		 n = strlen(name);
	const char	*p;

	if (strncmp(ent, name, n) != 0)
		return 0;
	p = ent + n;
	if (*p == '.' && p[1] >= '0' && p[1] <= '9')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	return *p == '\0' || strcmp(p, ".reason") == 0;
}

/*
 * Is the spool file NAME claimed by a loader now, in the claim/ directory
 * open as dirfd?  The receiver asks: a loader holds a batch there,
 * neither waiting nor in MySQL yet, for as long as its load takes.
 */
int
spool_claimed(int dirfd, const char *name)
{
	return dir_holds(dirfd, is_claim_of, name);
}

/*
 * Does quarantine/, open as dirfd, hold NAME: the file, a copy that
 * spool_quarantine named NAME.N, or the reason of either?  The
 * receiver asks, to refuse again at once what the loader refused.
 */
int
spool_quarantine_holds(int dirfd, const char *name)
{
	return dir_holds(dirfd, is_quarantine_of, name);
}

/*
 * Claim the next waiting file: rename it into claim/ under a name that
 * only this process uses.  1 with its path and spool name, 0 when
 * nothing waits, -1 on a system error.
 */
int
spool_claim(struct spool *sp, char *path, size_t plen, char *name,
    size_t nlen)
{
	char		 from[PATH_MAX + 300];
	DIR		*d;
	struct dirent	*de;
	int		 rc = 0;

	snprintf(from, sizeof(from), "%s/incoming", sp->dir);
	if ((d = opendir(from)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strchr(de->d_name, '~') != NULL)
			continue;
		snprintf(from, sizeof(from), "%s/incoming/%s", sp->dir,
		    de->d_name);
		if (snprintf(path, plen, "%s/claim/%s~%s~%ld", sp->dir,
		    de->d_name, sp->host, (long)sp->pid) >= (int)plen)
			continue;
		if (rename(from, path) == -1) {
			if (errno == ENOENT)
				continue;	/* another loader's now */
			rc = -1;
			break;
		}
		snprintf(name, nlen, "%s", de->d_name);
		rc = 1;
		break;
	}
	closedir(d);
	return rc;
}

/* Forget the tries of NAME that ran out of time: it is decided. */
static void
late_forget(struct spool *sp, const char *name)
{
	char	path[PATH_MAX + 300];

	snprintf(path, sizeof(path), "%s/incoming/.%s.late", sp->dir, name);
	(void)unlink(path);
}

/*
 * A claimed file whose validation ran out of time (why): that is the
 * server's state, not a verdict on the file, so it goes back to
 * incoming/ for a later try, its tries counted in incoming/.NAME.late.
 * At the max-th try it is quarantined with a reason that says so: a
 * batch that always takes too long must not hold loaders for ever.
 * Returns the tries so far, or -1.
 */
int
spool_late(struct spool *sp, const char *claimed, const char *why, int max)
{
	char	 name[NAME_MAX + 1], path[PATH_MAX + 300], tmp[PATH_MAX + 320];
	char	 reason[REASON_MAX + 64];
	FILE	*fp;
	int	 n = 0;

	if (claimed_name(claimed, name, sizeof(name)) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/incoming/.%s.late", sp->dir, name);
	if ((fp = fopen(path, "re")) != NULL) {
		if (fscanf(fp, "%d", &n) != 1 || n < 0)
			n = 0;
		fclose(fp);
	}
	n++;
	if (n >= max) {
		snprintf(reason, sizeof(reason), "validation ran out of time "
		    "%d times; the last: %s", n, why);
		/* When it cannot be, it stays claimed: see there. */
		(void)spool_quarantine(sp, claimed, reason);
		return n;
	}
	snprintf(tmp, sizeof(tmp), "%s/tmp/.late.%s.%ld", sp->dir, sp->host,
	    (long)sp->pid);
	if ((fp = fopen(tmp, "w")) == NULL)
		return -1;
	fprintf(fp, "%d\n", n);
	if (fclose(fp) == EOF || rename(tmp, path) == -1) {
		(void)unlink(tmp);
		return -1;
	}
	log_warnx("%s: %s; try %d of %d, given back", name, why, n, max);
	if (spool_release(sp, claimed) == -1)
		return -1;
	return n;
}

/* Put a claimed file back in incoming/, for this or another loader. */
int
spool_release(struct spool *sp, const char *claimed)
{
	char	name[NAME_MAX + 1], to[PATH_MAX + 300];

	if (claimed_name(claimed, name, sizeof(name)) == -1)
		return -1;
	snprintf(to, sizeof(to), "%s/incoming/%s", sp->dir, name);
	return rename(claimed, to);
}

/* A loaded (or already loaded) file: into done/ when kept, else gone. */
int
spool_finish(struct spool *sp, const char *claimed, int keep)
{
	char	name[NAME_MAX + 1], to[PATH_MAX + 300];

	if (claimed_name(claimed, name, sizeof(name)) == -1)
		return keep ? -1 : unlink(claimed);
	late_forget(sp, name);
	if (!keep)
		return unlink(claimed);
	snprintf(to, sizeof(to), "%s/done/%s", sp->dir, name);
	return rename(claimed, to);
}

/*
 * A refused file goes to quarantine/ with NAME.reason beside it (one
 * line: the reason).  The reason is written first, by rename, so a file
 * in quarantine always has one.  A name already there gets a suffix,
 * NAME.1 to NAME.999; when all are taken the file stays claimed (until
 * its claim goes back, then it is tried again) rather than replace an
 * earlier copy and its reason: -1 with EEXIST.
 */
int
spool_quarantine(struct spool *sp, const char *claimed, const char *reason)
{
	char	 name[NAME_MAX + 1], to[PATH_MAX + 300], rs[PATH_MAX + 320];
	char	 tmp[PATH_MAX + 320];
	FILE	*fp;
	int	 i;

	if (claimed_name(claimed, name, sizeof(name)) == -1) {
		const char *b = strrchr(claimed, '/');
		snprintf(name, sizeof(name), "%s", b != NULL ? b + 1 : claimed);
	}
	for (i = 0; i < QUARANTINE_COPIES; i++) {
		if (i == 0)
			snprintf(to, sizeof(to), "%s/quarantine/%s", sp->dir,
			    name);
		else
			snprintf(to, sizeof(to), "%s/quarantine/%s.%d",
			    sp->dir, name, i);
		snprintf(rs, sizeof(rs), "%s.reason", to);
		if (access(to, F_OK) == -1 && access(rs, F_OK) == -1)
			break;
	}
	if (i == QUARANTINE_COPIES) {
		log_warnx("%s: not quarantined: %d copies are there already; "
		    "left in claim/", name, i);
		errno = EEXIST;
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s/tmp/.reason.%s.%ld", sp->dir,
	    sp->host, (long)sp->pid);
	if ((fp = fopen(tmp, "w")) == NULL)
		return -1;
	fprintf(fp, "%s\n", reason);
	if (fflush(fp) == EOF || fsync(fileno(fp)) == -1) {
		fclose(fp);
		unlink(tmp);
		return -1;
	}
	fclose(fp);
	if (rename(tmp, rs) == -1 || rename(claimed, to) == -1)
		return -1;
	late_forget(sp, name);
	sp->quarantined++;
	log_warnx("%s: quarantined: %s", name, reason);
	return 0;
}

/*
 * From now on this process opens files only in the spool (and SQLite
 * makes its temporary files there), beside the MySQL option file (the
 * connector reads it again at each connection, and the files it names
 * are usually beside it), and for reading under /etc, /usr (the
 * connector's plugins and character sets, time zones) and /proc
 * (spool_recover's look at a claimer's process).  For the receiver and
 * the loader workers, which read what clients sent: taken over, they
 * cannot read the server's other files, nor write outside the spool.
 * On Linux they also enter their system call lists (sandbox.c).
 * Before any thread is made.
 */
void
spool_confine(const char *who, const char *spool, const char *optfile)
{
	/* Landlock reads them when the sandbox is entered: kept till then */
	static struct sandbox_path paths[8];
	static char		 opt[PATH_MAX];
	char			 tmp[PATH_MAX + 8], *slash;
	size_t			 n = 0;
#ifdef __linux__
	const struct sandbox_spec *spec;
#endif

	snprintf(tmp, sizeof(tmp), "%s/tmp", spool);
	if (setenv("SQLITE_TMPDIR", tmp, 1) == -1)
		fatal("setenv");
	paths[n].path = spool;
	paths[n++].access = SANDBOX_WRITE;
	/* An option file that cannot be found now cannot be read later. */
	if (optfile != NULL && realpath(optfile, opt) != NULL &&
	    (slash = strrchr(opt, '/')) != NULL) {
		slash[slash == opt ? 1 : 0] = '\0';
		paths[n].path = opt;
		paths[n++].access = SANDBOX_READ;
	}
	paths[n].path = "/etc";
	paths[n++].access = SANDBOX_READ;
	paths[n].path = "/usr";
	paths[n++].access = SANDBOX_READ;
	paths[n].path = "/proc";
	paths[n++].access = SANDBOX_READ;
	paths[n].path = "/dev/urandom";
	paths[n++].access = SANDBOX_READ;
	paths[n].path = NULL;
	paths[n].access = 0;
#ifdef __linux__
	/* the receiver and the workers: a system call list too */
	if ((spec = ingestd_sandbox(who, paths)) != NULL) {
		ingestd_preload();
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
			fatal("%s: prctl PR_SET_NO_NEW_PRIVS", who);
		sandbox_enter(spec);
		return;
	}
#endif
	sandbox_paths(who, paths);
}

/* When the host booted, in seconds of the wall clock; 0 unknown. */
static time_t
boot_time(void)
{
	char		 line[128];
	FILE		*fp;
	long long	 t = 0;

	if ((fp = fopen("/proc/stat", "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "btime %lld", &t) == 1)
			break;
	fclose(fp);
	return (time_t)t;
}

/*
 * Is the loader that claimed a file at `since` (the claim's ctime) as
 * process pid of this host gone?  A zombie counts as gone: a killed
 * loader's workers may wait unreaped under an init that does not reap.
 * So does a process that started after the claim: the pid is another's
 * now.  A loader that lives keeps its claim however long its load takes.
 */
static int
claimer_gone(long pid, time_t since)
{
	uint64_t	 start;
	long		 hz;
	time_t		 boot;
	char		 state = 0;

	if (kill((pid_t)pid, 0) == -1)
		return errno == ESRCH;
	if ((start = proc_stat((pid_t)pid, NULL, 0, &state)) == 0)
		return 0;
	if (state == 'Z' || state == 'X')
		return 1;
	if ((hz = sysconf(_SC_CLK_TCK)) <= 0 || (boot = boot_time()) == 0)
		return 0;
	/* A second's slack: both times are whole seconds of the clock. */
	return boot + (time_t)(start / (uint64_t)hz) > since + 1;
}

/*
 * Give back claims whose loader is gone: one of this host's at once
 * when its process is gone, never while it lives; another host's,
 * whose process cannot be asked, after stale seconds.  Returns how many
 * went back.
 */
int
spool_recover(struct spool *sp, int stale)
{
	char		 dir[PATH_MAX + 16], path[PATH_MAX + 300];
	char		 host[128];
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	const char	*t1, *t2;
	long		 pid;
	int		 n = 0, give;

	snprintf(dir, sizeof(dir), "%s/claim", sp->dir);
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((t2 = strrchr(de->d_name, '~')) == NULL)
			continue;
		for (t1 = t2 - 1; t1 > de->d_name && *t1 != '~'; t1--)
			;
		if (*t1 != '~' || (size_t)(t2 - t1 - 1) >= sizeof(host))
			continue;
		memcpy(host, t1 + 1, (size_t)(t2 - t1 - 1));
		host[t2 - t1 - 1] = '\0';
		pid = strtol(t2 + 1, NULL, 10);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == -1)
			continue;
		if (strcmp(host, sp->host) == 0 && pid > 0)
			give = pid != (long)sp->pid &&
			    claimer_gone(pid, st.st_ctime);
		else
			give = stale > 0 && st.st_ctime + stale < time(NULL);
		if (give && spool_release(sp, path) == 0) {
			log_info("%s: claim of a gone loader given back",
			    de->d_name);
			n++;
		}
	}
	closedir(d);
	return n;
}
