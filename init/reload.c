/*
 * reload.c: what vbsd makes of vbs.conf, at start and on a reload
 * (`vbsctl reload` or SIGHUP).  Runs in vbsd, as root.
 *
 * No stage re-reads vbs.conf while it runs: each reads it once, when it
 * starts.  So a reload reads the file again and restarts exactly the
 * stages whose settings changed, in the way `vbsctl restart` does (not
 * counted as a death); stages added to or taken from `stages` are
 * started or stopped.  A reload is whole or nothing: a file with an
 * error, a directory that cannot be made, or a change to what only a
 * new vbsd can apply (the users, the directories and the control
 * socket it made at start) is refused with the reason, and vbsd goes on
 * with the configuration it had.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vbsd.h"

/* [vbsd] keys that only a new vbsd applies. */
static const char *const fixed_at_start[] = {
	"user", "capd_user", "sockd_user", "runtime_dir", "data_dir",
	"control_socket", "admin_group", NULL
};

/*
 * What each stage reads of vbs.conf beside those (grep conf_ in its
 * directory): a section, or one key of another stage's.
 */
static const struct {
	enum stage_id	 id;
	const char	*section;
	const char	*key;		/* NULL: every key of the section */
} stage_reads[] = {
	{ ST_FLOWD, "flowd", NULL },
	{ ST_FLOWD, "shipd", "server_url" },	/* its own traffic */
	{ ST_SOCKD, "sockd", NULL },
	{ ST_CAPD, "capd", NULL },
	{ ST_CAPD, "shipd", "server_url" },
	{ ST_SHIPD, "shipd", NULL },
	{ ST_SHIPD, "flowd", "outbox" },
};

/* mkdir of one level with owner and mode, fixing them if it exists. */
static int
make_dir(const char *path, uid_t uid, gid_t gid, mode_t mode, char *err,
    size_t len)
{
	struct stat	sb;

	if (mkdir(path, mode) == -1 && errno != EEXIST) {
		snprintf(err, len, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	if (lstat(path, &sb) == -1) {
		snprintf(err, len, "stat %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, len, "%s exists and is not a directory", path);
		return -1;
	}
	if (chown(path, uid, gid) == -1 || chmod(path, mode) == -1) {
		snprintf(err, len, "set owner and mode of %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The directories conf names, with their owners: 0, or -1 with why in
 * err.
 */
int
vbsd_make_dirs(const struct vbs_conf *conf, char *err, size_t len)
{
	const char	*user = conf_str(conf, "vbsd", "user");
	struct passwd	*pw;
	const char	*dirs[] = {
		conf_str(conf, "flowd", "outbox"),
		conf_str(conf, "flowd", "work_dir"),
	};
	const char	*chroot_dir = conf_str(conf, "capd", "chroot");
	size_t		 i;

	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, len, "user %s does not exist (make install "
		    "creates it)", user);
		return -1;
	}
	if (make_dir(conf_str(conf, "vbsd", "runtime_dir"), 0, 0, 0755, err,
	    len) == -1 || make_dir(conf_str(conf, "vbsd", "data_dir"), 0,
	    pw->pw_gid, 0750, err, len) == -1)
		return -1;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (make_dir(dirs[i], pw->pw_uid, pw->pw_gid, 0750, err,
		    len) == -1)
			return -1;
	if (chroot_dir[0] != '\0' &&
	    make_dir(chroot_dir, 0, 0, 0755, err, len) == -1)
		return -1;
	return 0;
}

/* Is the stage called name in conf's `stages`? */
int
vbsd_stage_listed(const struct vbs_conf *conf, const char *name)
{
	char	 buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", conf_str(conf, "vbsd", "stages"));
	for (tok = strtok_r(buf, " ,", &save); tok != NULL;
	    tok = strtok_r(NULL, " ,", &save))
		if (strcmp(tok, name) == 0)
			return 1;
	return 0;
}

/* Does the change from a to b concern stage id? */
static int
stage_concerned(const struct vbs_conf *a, const struct vbs_conf *b,
    enum stage_id id)
{
	size_t	 i;

	for (i = 0; i < sizeof(stage_reads) / sizeof(stage_reads[0]); i++) {
		if (stage_reads[i].id != id)
			continue;
		if (stage_reads[i].key == NULL ?
		    conf_changed(a, b, stage_reads[i].section) != NULL :
		    strcmp(conf_str(a, stage_reads[i].section,
		    stage_reads[i].key), conf_str(b, stage_reads[i].section,
		    stage_reads[i].key)) != 0)
			return 1;
	}
	return 0;
}

static void
note(char *msg, size_t len, const char *what, const char *name)
{
	size_t	 n = strlen(msg);

	snprintf(msg + n, len - n, "%s%s %s", n > 0 ? ", " : "", what, name);
}

/*
 * Read vbs.conf again and apply it.  0 with what was done in msg, or
 * -1 with why nothing was in msg.
 */
int
vbsd_reload(struct vbsd *v, char *msg, size_t len)
{
	struct vbs_conf	*nc, *old = v->conf;
	char		 err[512];
	int		 i, listed, concerned[ST__MAX];
	size_t		 k;

	msg[0] = '\0';
	if (v->shutting_down) {
		snprintf(msg, len, "vbsd is shutting down");
		return -1;
	}
	if ((nc = conf_load(v->conf_path, err, sizeof(err))) == NULL) {
		snprintf(msg, len, "%s", err);
		return -1;
	}
	for (k = 0; fixed_at_start[k] != NULL; k++) {
		if (strcmp(conf_str(old, "vbsd", fixed_at_start[k]),
		    conf_str(nc, "vbsd", fixed_at_start[k])) != 0) {
			snprintf(msg, len, "[vbsd] %s changed: only a new "
			    "vbsd applies it", fixed_at_start[k]);
			conf_free(nc);
			return -1;
		}
	}
	if (vbsd_make_dirs(nc, err, sizeof(err)) == -1) {
		snprintf(msg, len, "%s", err);
		conf_free(nc);
		return -1;
	}
	for (i = 0; i < ST__MAX; i++)
		concerned[i] = stage_concerned(old, nc, (enum stage_id)i);
	v->conf = nc;
	conf_free(old);
	for (i = 0; i < ST__MAX; i++) {
		struct stage *s = &v->st[i];

		listed = vbsd_stage_listed(nc, s->name);
		if (s->enabled && !listed) {
			s->enabled = 0;
			stage_stop(v, (enum stage_id)i);
			note(msg, len, "stopped", s->name);
		} else if (!s->enabled && listed) {
			s->enabled = 1;
			stage_restart(v, (enum stage_id)i);
			note(msg, len, "started", s->name);
		} else if (listed && concerned[i] && s->wanted) {
			stage_restart(v, (enum stage_id)i);
			note(msg, len, "restarted", s->name);
		}
	}
	if (msg[0] == '\0')
		snprintf(msg, len, "no stage's settings changed");
	return 0;
}
