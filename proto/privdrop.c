/*
 * privdrop.c: give up root for good, in the order of STYLE.md.  Every
 * stage that vbsd starts as root calls priv_drop() once, after it has
 * opened what needs privilege and before it reads any input: chroot,
 * then one group and one user, then only the named capabilities, then
 * no_new_privs.  It trusts the password database and the spec from its
 * own caller; nothing else.  Any failure is fatal: a stage that could
 * not drop what it meant to must not run.
 *
 * The capability and no_new_privs steps differ by system and live in
 * sandbox_<os>.c (sandbox_priv_prepare, sandbox_priv_finish).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

/* The directory must be root's alone, or the jail could be changed. */
static void
priv_chroot(const char *dir)
{
	struct stat	 st;

	if (dir[0] != '/')
		fatalx("chroot %s: not an absolute path", dir);
	if (stat(dir, &st) == -1)
		fatal("chroot %s", dir);
	if (!S_ISDIR(st.st_mode))
		fatalx("chroot %s: not a directory", dir);
	if (st.st_uid != 0)
		fatalx("chroot %s: must be owned by root (uid %u)", dir,
		    (unsigned)st.st_uid);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		fatalx("chroot %s: must not be writable by group or others "
		    "(mode %03o)", dir, (unsigned)(st.st_mode & 0777));
	if (chroot(dir) == -1)
		fatal("chroot %s", dir);
	if (chdir("/") == -1)
		fatal("chdir / in %s", dir);
}

static void
priv_setid(const char *user, uid_t uid, gid_t gid)
{
	uid_t	 ru, eu, su;
	gid_t	 rg, eg, sg;

	if (setgroups(1, &gid) == -1)
		fatal("setgroups %u for user %s", (unsigned)gid, user);
	if (setresgid(gid, gid, gid) == -1)
		fatal("setresgid %u for user %s", (unsigned)gid, user);
	if (setresuid(uid, uid, uid) == -1)
		fatal("setresuid %u for user %s", (unsigned)uid, user);
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1)
		fatal("getresuid");
	if (ru != uid || eu != uid || su != uid ||
	    rg != gid || eg != gid || sg != gid)
		fatalx("user %s: ids did not change", user);
}

/*
 * Proof that the change is permanent (OpenSSH's permanently_set_uid):
 * the way back to root must be closed, checked after the capabilities
 * are gone so that a kept one could not reopen it.
 */
static void
priv_prove(const char *user, gid_t gid)
{
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("user %s: could become root again", user);
	if (gid != 0 && (setgid(0) != -1 || setegid(0) != -1))
		fatalx("user %s: could regain group 0", user);
}

void
priv_drop(const struct priv_spec *spec)
{
	struct passwd	*pw;
	const char	*user = spec->user;
	uid_t		 uid = 0;
	gid_t		 gid = 0;
	int		 change = 0;

	/* Look the user up while the password database is in reach. */
	if (user != NULL) {
		errno = 0;
		if ((pw = getpwnam(user)) == NULL) {
			if (errno != 0)
				fatal("getpwnam %s", user);
			fatalx("no such user: %s (create it, or set another "
			    "in vbs.conf)", user);
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		endpwent();
		if (uid == 0)
			fatalx("user %s has uid 0: name an unprivileged "
			    "user", user);
		if (geteuid() == 0)
			change = 1;
		else if (getuid() != uid || geteuid() != uid)
			fatalx("must be started as root to become user %s",
			    user);
		/* else: already that user, with nothing to give up. */
	}

	sandbox_priv_prepare(spec);
	if (spec->chroot != NULL)
		priv_chroot(spec->chroot);
	if (change)
		priv_setid(user, uid, gid);
	sandbox_priv_finish(spec);
	if (user != NULL)
		priv_prove(user, gid);
	log_debug("privileges dropped: uid %u gid %u%s%s",
	    (unsigned)getuid(), (unsigned)getgid(),
	    spec->chroot ? " chroot " : "", spec->chroot ? spec->chroot : "");
}
