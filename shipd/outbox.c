/*
 * outbox.c: shipd's view of the outbox.  flowd renames each closed,
 * fsynced batch into the outbox as ID.sqlite; shipd lists them oldest
 * first, reads one to upload it, deletes it once the server has it,
 * and keeps the directory within its bound by the configured policy.
 * Runs in shipd, as the vbs user.  It trusts the outbox's files to be
 * whole batches (the rename is atomic) but not their names: a name that
 * the server would refuse is set aside, never sent.
 *
 * With the stop policy the file .full exists in the outbox while it is
 * over its bound, for the volunteer to see.  Loss is counted in the file .lost
 * in the outbox, two cumulative
 * counters ("lost_batches N", "lost_bytes N") replaced atomically, so
 * that flowd can copy them into the meta of its next batch without any
 * exchange with shipd (documented in shipd.8).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "shipd.h"

/*
 * The one rule for a batch id, the same as ingestd's: letters, digits,
 * '-' and '_', starting with a letter or digit; so no id can name a
 * path, hide a file or need escaping in a URL.
 */
int
outbox_valid_id(const char *id)
{
	size_t	 i;
	char	 c;

	for (i = 0; id[i] != '\0'; i++) {
		c = id[i];
		if (i >= BATCH_ID_MAX)
			return 0;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			continue;
		if (i > 0 && (c == '-' || c == '_'))
			continue;
		return 0;
	}
	return i > 0;
}

static void
lost_read(struct outbox *ob)
{
	char	 buf[256], *line, *save = NULL;
	ssize_t	 n;
	int	 fd;
	unsigned long long v;

	if ((fd = openat(ob->dirfd, LOST_FILE, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "lost_batches %llu", &v) == 1)
			ob->lost_batches = v;
		else if (sscanf(line, "lost_bytes %llu", &v) == 1)
			ob->lost_bytes = v;
	}
}

/*
 * Replace a small file of the outbox whole (a temporary file renamed
 * over it), so a reader sees the old or the new text.  durable: fsync
 * the file and the directory, for counts that must survive a crash.
 */
void
outbox_put_file(struct outbox *ob, const char *name, const char *text,
    int durable)
{
	char	 tmp[64];
	size_t	 n = strlen(text);
	int	 fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(ob->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644);
	if (fd == -1 || write(fd, text, n) != (ssize_t)n ||
	    (durable && fsync(fd) == -1) || close(fd) == -1 ||
	    renameat(ob->dirfd, tmp, ob->dirfd, name) == -1) {
		log_warn("outbox: cannot write %s/%s", ob->dir, name);
		return;
	}
	if (durable)
		(void)fsync(ob->dirfd);
}

/* Replace .lost whole, so a reader sees the old or the new counters. */
static void
lost_write(struct outbox *ob)
{
	char	 buf[128];

	snprintf(buf, sizeof(buf), "lost_batches %" PRIu64
	    "\nlost_bytes %" PRIu64 "\n", ob->lost_batches, ob->lost_bytes);
	outbox_put_file(ob, LOST_FILE, buf, 1);
}

int
outbox_open(struct outbox *ob, const char *dir, char *err, size_t errlen)
{
	memset(ob, 0, sizeof(*ob));
	ob->full = -1;
	ob->dir = dir;
	ob->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ob->dirfd == -1) {
		snprintf(err, errlen, "outbox %s: %s", dir, strerror(errno));
		return -1;
	}
	lost_read(ob);
	return 0;
}

static int
ent_cmp(const void *a, const void *b)
{
	const struct ob_entry *x = a, *y = b;

	if (x->rejected != y->rejected)
		return x->rejected ? -1 : 1;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int
ent_add(struct outbox *ob, const char *id, const struct stat *st, int rej)
{
	struct ob_entry	*e;
	size_t		 ncap;

	if (ob->n == ob->cap) {
		ncap = ob->cap ? ob->cap * 2 : 64;
		if ((e = reallocarray(ob->ents, ncap, sizeof(*e))) == NULL)
			return -1;
		ob->ents = e;
		ob->cap = ncap;
	}
	e = &ob->ents[ob->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->size = (uint64_t)st->st_size;
	e->mtime = st->st_mtim;
	e->rejected = rej;
	ob->bytes += e->size;
	return 0;
}

/*
 * List one directory's batches.  A batch whose name the server would
 * refuse is moved aside at once (when rej is 0): it can never upload,
 * but it still counts against the bound until the policy removes it.
 */
static int
scan_dir(struct outbox *ob, int dfd, int rej)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 id[BATCH_ID_MAX + 1];
	size_t		 len, slen = strlen(BATCH_SUFFIX);
	int		 fd;

	if ((fd = dup(dfd)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= slen ||
		    strcmp(de->d_name + len - slen, BATCH_SUFFIX) != 0)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (len - slen > BATCH_ID_MAX)
			continue;	/* not flowd's: left alone */
		memcpy(id, de->d_name, len - slen);
		id[len - slen] = '\0';
		if (!rej && !outbox_valid_id(id)) {
			/* counted when the scan of REJECT_DIR finds it */
			log_warnx("outbox: %s: not a valid batch id, set aside "
			    "in %s", de->d_name, REJECT_DIR);
			(void)outbox_reject(ob, id);
			continue;
		}
		if (ent_add(ob, id, &st, rej) == -1)
			goto fail;
	}
	closedir(d);
	return 0;
fail:
	closedir(d);
	return -1;
}

/* Refresh the list and the bytes used; -1 only on a system error. */
int
outbox_scan(struct outbox *ob)
{
	int	 rfd;

	ob->n = 0;
	ob->bytes = 0;
	if (scan_dir(ob, ob->dirfd, 0) == -1)
		return -1;
	rfd = openat(ob->dirfd, REJECT_DIR, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC);
	if (rfd != -1) {
		if (scan_dir(ob, rfd, 1) == -1) {
			close(rfd);
			return -1;
		}
		close(rfd);
	}
	/* An empty outbox has no array yet: qsort must not see NULL. */
	if (ob->n > 1)
		qsort(ob->ents, ob->n, sizeof(ob->ents[0]), ent_cmp);
	return 0;
}

static int
unlink_entry(struct outbox *ob, const struct ob_entry *e)
{
	char	 name[BATCH_ID_MAX + 32];

	snprintf(name, sizeof(name), "%s%s%s", e->rejected ? REJECT_DIR "/" :
	    "", e->id, BATCH_SUFFIX);
	if (unlinkat(ob->dirfd, name, 0) == -1 && errno != ENOENT) {
		log_warn("outbox: cannot remove %s/%s", ob->dir, name);
		return -1;
	}
	return 0;
}

/*
 * Keep the outbox within the bound.  Batches the server refused go
 * first, as they will never be uploaded; then, by policy, the oldest
 * waiting batch (drop-oldest) or the newest (stop: what arrived after
 * the outbox filled is not accepted).  Every batch removed is logged
 * and counted in .lost.
 */
void
outbox_enforce(struct outbox *ob, const struct shipd_conf *c)
{
	struct ob_entry	*e;
	size_t		 i;
	int		 changed = 0;

	/* ob->full -1 (not known yet): a .full may be an earlier shipd's. */
	if (ob->bytes <= c->limit) {
		if (ob->full != 0)
			(void)unlinkat(ob->dirfd, FULL_FILE, 0);
		if (ob->full == 1)
			log_info("outbox: below its bound again (%" PRIu64
			    " of %" PRIu64 " bytes)", ob->bytes, c->limit);
		ob->full = 0;
		return;
	}
	if (ob->full != 1) {
		log_warnx("outbox: full (%" PRIu64 " of %" PRIu64 " bytes), "
		    "policy %s", ob->bytes, c->limit,
		    c->policy == FULL_STOP ? "stop: new batches are dropped" :
		    "drop-oldest: old batches are dropped");
		if (c->policy != FULL_STOP)
			(void)unlinkat(ob->dirfd, FULL_FILE, 0);
		else if ((int)(i = (size_t)openat(ob->dirfd, FULL_FILE,
		    O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) != -1)
			close((int)i);
	}
	ob->full = 1;
	while (ob->bytes > c->limit && ob->n > 0) {
		if (ob->ents[0].rejected || c->policy == FULL_DROP_OLDEST)
			i = 0;
		else
			i = ob->n - 1;
		e = &ob->ents[i];
		if (unlink_entry(ob, e) == -1)
			break;
		log_warnx("outbox: full, batch %s dropped (%" PRIu64
		    " bytes%s)", e->id, e->size, e->rejected ?
		    ", refused by the server" : "");
		ob->bytes -= e->size;
		ob->lost_batches++;
		ob->lost_bytes += e->size;
		changed = 1;
		memmove(&ob->ents[i], &ob->ents[i + 1],
		    (ob->n - i - 1) * sizeof(ob->ents[0]));
		ob->n--;
	}
	if (changed) {
		(void)fsync(ob->dirfd);
		lost_write(ob);
	}
}

/*
 * The server has the batch: remove it.  Not fsynced: a removal lost in
 * a crash only sends the batch again, and the server acknowledges a
 * batch it has (200) without storing it twice.  (An fsync of the
 * directory per batch cost two thirds of the upload rate.)
 */
int
outbox_remove(struct outbox *ob, const char *id)
{
	char	 name[BATCH_ID_MAX + 16];

	snprintf(name, sizeof(name), "%s%s", id, BATCH_SUFFIX);
	if (unlinkat(ob->dirfd, name, 0) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

/* The server refused the batch itself: keep it, out of the queue. */
int
outbox_reject(struct outbox *ob, const char *id)
{
	char	 from[BATCH_ID_MAX + 16], to[BATCH_ID_MAX + 32];

	if (mkdirat(ob->dirfd, REJECT_DIR, 0700) == -1 && errno != EEXIST) {
		log_warn("outbox: mkdir %s/%s", ob->dir, REJECT_DIR);
		return -1;
	}
	snprintf(from, sizeof(from), "%s%s", id, BATCH_SUFFIX);
	snprintf(to, sizeof(to), "%s/%s%s", REJECT_DIR, id, BATCH_SUFFIX);
	if (renameat(ob->dirfd, from, ob->dirfd, to) == -1) {
		log_warn("outbox: cannot move %s aside", from);
		return -1;
	}
	return fsync(ob->dirfd);
}

/*
 * Read a whole batch into memory.  Batches are small (flowd closes
 * them at batch_size, 700 kB by default) and the body, its hash and
 * its compressed form are all made from this one copy.  The buffer is
 * the outbox's, valid until the next read, and kept: a fresh one for
 * every batch was a sixth of shipd's CPU in the lab's steady run, in
 * page faults on new memory and its unmapping (perf).
 */
#define BUF_KEEP	(8U << 20)	/* a larger buffer is not kept */

int
outbox_read(struct outbox *ob, const char *id, const uint8_t **bufp,
    size_t *lenp, char *err, size_t errlen)
{
	char		 name[BATCH_ID_MAX + 16];
	struct stat	 st;
	uint8_t		*nb;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	snprintf(name, sizeof(name), "%s%s", id, BATCH_SUFFIX);
	if ((fd = openat(ob->dirfd, name, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW)) == -1) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
		snprintf(err, errlen, "%s: not a regular, non-empty file",
		    name);
		close(fd);
		return -1;
	}
	if (ob->bufcap > BUF_KEEP && (size_t)st.st_size <= BUF_KEEP) {
		free(ob->buf);		/* an outsized batch's, not kept */
		ob->buf = NULL;
		ob->bufcap = 0;
	}
	if ((size_t)st.st_size > ob->bufcap) {
		if ((nb = realloc(ob->buf, (size_t)st.st_size)) == NULL) {
			snprintf(err, errlen, "%s: out of memory", name);
			close(fd);
			return -1;
		}
		ob->buf = nb;
		ob->bufcap = (size_t)st.st_size;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, ob->buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: read: %s", name,
			    n == 0 ? "file shrank" : strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	close(fd);
	*bufp = ob->buf;
	*lenp = off;
	return 0;
}
