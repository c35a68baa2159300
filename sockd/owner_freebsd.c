/*
 * owner_freebsd.c: which process owns a socket, in sockd; compiled
 * only on FreeBSD.  kern.file lists every open descriptor of every
 * process with its type and the kernel address of what it refers to;
 * for a socket that is the address pcblist gives as xso_so, the
 * socket's cookie here.  The table is read once for all the sockets a
 * dump or a look-up did not know; a socket the last read did not find
 * either is tried again at most every REREAD_US: reading the table
 * costs about as much as a dump.  Name
 * and executable come from kern.proc.pid and kern.proc.pathname.
 * FreeBSD has no proc connector: there are no process events.
 *
 * Trusts: the kernel's records, length-checked.
 */

#include <sys/param.h>
#include <sys/types.h>
#include <sys/file.h>
#include <sys/sysctl.h>
#include <sys/user.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sockd.h"

#define REREAD_US	100000	/* kern.file at most this often on misses */
#define READ_TRIES	5

struct owner {
	pid_t	 pid;
	char	 comm[VBS_COMM_MAX];
	char	*exe;
};

static struct hmap	 owners;	/* socket address -> struct owner */
static struct hmap	 names;		/* pid -> struct owner (shared) */
static struct hmap	 tried;		/* sockets the last read missed */
static uint64_t		 last_read;

int
owner_init(int use_events)
{
	(void)use_events;
	hmap_init(&owners);
	hmap_init(&names);
	hmap_init(&tried);
	return 0;
}

int
owner_event_fd(void)
{
	return -1;
}

void
owner_events(void)
{
}

/* The name and executable of pid, read once per pid. */
static struct owner *
owner_of(pid_t pid)
{
	struct owner		*o;
	struct kinfo_proc	 kp;
	char			 path[VBS_EXE_MAX];
	size_t			 len;
	int			 mib[4];

	if ((o = hmap_get(&names, (uint64_t)pid)) != NULL)
		return o;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		fatal("owner_of");
	o->pid = pid;
	mib[0] = CTL_KERN;
	mib[1] = KERN_PROC;
	mib[2] = KERN_PROC_PID;
	mib[3] = pid;
	len = sizeof(kp);
	if (sysctl(mib, 4, &kp, &len, NULL, 0) == 0 && len >= sizeof(kp))
		snprintf(o->comm, sizeof(o->comm), "%s", kp.ki_comm);
	mib[2] = KERN_PROC_PATHNAME;
	len = sizeof(path);
	if (sysctl(mib, 4, path, &len, NULL, 0) == -1 || len == 0)
		path[0] = '\0';
	path[sizeof(path) - 1] = '\0';
	if ((o->exe = strdup(path)) == NULL)
		fatal("owner_of");
	hmap_put(&names, (uint64_t)pid, o);
	return o;
}

static int
drop_name(uint64_t key, void *val, void *arg)
{
	struct owner	*o = val;

	(void)key;
	(void)arg;
	free(o->exe);
	free(o);
	return 1;
}

static int
drop_ref(uint64_t key, void *val, void *arg)
{
	(void)key;
	(void)val;
	(void)arg;
	return 1;
}

/* Read kern.file: every socket descriptor's owner. */
static int
read_files(void)
{
	const struct xfile	*xf;
	uint8_t			*buf = NULL, *nb;
	size_t			 len = 0, off;
	int			 tries;

	for (tries = 0; tries < READ_TRIES; tries++) {
		if (sysctlbyname("kern.file", NULL, &len, NULL, 0) == -1)
			return -1;
		len += len / 4 + 4096;
		if ((nb = realloc(buf, len)) == NULL) {
			free(buf);
			return -1;
		}
		buf = nb;
		if (sysctlbyname("kern.file", buf, &len, NULL, 0) == 0)
			break;
		if (errno != ENOMEM) {
			free(buf);
			return -1;
		}
	}
	if (tries == READ_TRIES) {
		free(buf);
		errno = EAGAIN;
		return -1;
	}
	/* Names may belong to pids that exited or exec'd: read anew. */
	hmap_walk(&owners, drop_ref, NULL);
	hmap_walk(&names, drop_name, NULL);
	hmap_walk(&tried, drop_ref, NULL);
	for (off = 0; off + sizeof(*xf) <= len; off += xf->xf_size) {
		xf = (const struct xfile *)(const void *)(buf + off);
		if (xf->xf_size < sizeof(*xf) || xf->xf_size > len - off)
			break;
		if (xf->xf_type != DTYPE_SOCKET || xf->xf_data == 0)
			continue;
		/* The first descriptor found keeps the socket. */
		if (hmap_get(&owners, (uint64_t)xf->xf_data) == NULL)
			hmap_put(&owners, (uint64_t)xf->xf_data,
			    (void *)(uintptr_t)xf->xf_pid);
	}
	free(buf);
	last_read = mono_us();
	return 0;
}

static void
fill(struct sock_rec *r, pid_t pid)
{
	struct owner	*o = owner_of(pid);

	r->pid = pid;
	memcpy(r->comm, o->comm, sizeof(r->comm));
	snprintf(r->exe, sizeof(r->exe), "%s", o->exe);
}

void
owner_resolve(struct sock_rec **recs, size_t n, int hint)
{
	uintptr_t	 pid;
	size_t		 i, misses = 0, fresh = 0;

	(void)hint;
	for (i = 0; i < n; i++) {
		recs[i]->pid = -1;
		pid = (uintptr_t)hmap_get(&owners, recs[i]->cookie);
		if (pid != 0) {
			stats.owner_hits++;
			fill(recs[i], (pid_t)pid);
			continue;
		}
		misses++;
		if (hmap_get(&tried, recs[i]->cookie) == NULL)
			fresh++;
	}
	if (misses == 0 ||
	    (fresh == 0 && mono_us() - last_read < REREAD_US))
		return;
	stats.owner_misses += misses;
	stats.sweeps++;
	if (read_files() == -1) {
		log_warn("kern.file");
		return;
	}
	for (i = 0; i < n; i++) {
		if (recs[i]->pid != -1)
			continue;
		pid = (uintptr_t)hmap_get(&owners, recs[i]->cookie);
		if (pid != 0)
			fill(recs[i], (pid_t)pid);
		else if (hmap_put(&tried, recs[i]->cookie, (void *)1))
			stats.owner_unresolved++;
	}
}

void
owner_forget(const struct sock_rec *r)
{
	hmap_del(&owners, r->cookie);
	hmap_del(&tried, r->cookie);
}

void
owner_gc(void)
{
}
