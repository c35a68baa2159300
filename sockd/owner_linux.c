/*
 * owner_linux.c: which process owns a socket inode, in sockd.
 *
 * Linux does not say which process holds a socket: only the fd tables
 * in /proc/PID/fd do ("socket:[INODE]").  Reading all of them for every
 * new socket would cost milliseconds, so sockd keeps two maps: inode to
 * pid, filled whenever a process's fd table is read, and pid to process
 * (name, executable, uid, when it last did something).  The proc
 * connector (fork, exec, exit, uid and comm changes; it needs
 * CAP_NET_ADMIN and works only from the initial network namespace) keeps
 * the process map fresh.  A socket not in the cache is looked for in
 * the processes most likely to own it first: the hinted pid (the owner
 * of a listener on the same port), processes of the socket's uid, the
 * ones that started or opened a socket last; the sweep stops as soon as
 * every wanted inode is found.  Without the connector the process list
 * is re-read from /proc before a sweep.
 *
 * Trusts: the kernel (the connector's messages are length-checked).
 * Reading the fd tables and exe links of other users' processes needs
 * CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE, which only the keeper thread
 * holds (sandbox_linux.c): those reads run there, through priv_call();
 * /proc/PID/stat and the list of processes are read here.
 */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockd.h"

struct proc {
	pid_t		 pid;
	uid_t		 uid;		/* effective uid, -1 not yet known */
	int		 info_ok;	/* comm and exe are current */
	uint64_t	 info_us;	/* when they were read */
	uint64_t	 start;		/* start time, clock ticks; 0 unknown */
	uint64_t	 active_us;	/* started, exec'd or opened a socket */
	uint32_t	 swept;		/* the last sweep that read it */
	int		 stale;		/* its scan found sockets new to it */
	char		 comm[VBS_COMM_MAX];
	char		*exe;
	/* The image the eBPF backend last named, and its path. */
	char		*img_exe;
	uint64_t	 img_start;	/* start_boottime, ns */
	uint64_t	 img_ino;
	uint32_t	 img_dev;
};

/* An inode that no sweep found: when to look again. */
struct unresolved {
	uint64_t	 retry_us;
	unsigned int	 tries;
};

#define INODES_MAX	(1024 * 1024)	/* cache bound: cleared past it */
#define INFO_TTL_US	1000000		/* without the connector */
#define RETRY_MAX	3

static struct hmap	 procs;		/* pid -> struct proc */
static struct hmap	 inodes;	/* inode -> pid */
static struct hmap	 unresolved;	/* inode -> struct unresolved */
static int		 cn_fd = -1;
static uint32_t		 sweep_gen;

static struct proc *
proc_new(pid_t pid, uint64_t active, uid_t uid)
{
	struct proc	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("proc_new");
	p->pid = pid;
	p->active_us = active;
	p->uid = uid;
	hmap_put(&procs, (uint64_t)pid, p);
	return p;
}

/* A process first seen in /proc: its uid is learned when it is read. */
static struct proc *
proc_add(pid_t pid, uint64_t active)
{
	struct proc	*p;

	if ((p = hmap_get(&procs, (uint64_t)pid)) != NULL) {
		if (active > p->active_us)
			p->active_us = active;
		return p;
	}
	return proc_new(pid, active, (uid_t)-1);
}

static void
proc_free(struct proc *p)
{
	free(p->exe);
	free(p->img_exe);
	free(p);
}

static void
proc_del(pid_t pid)
{
	struct proc	*p;

	if ((p = hmap_del(&procs, (uint64_t)pid)) != NULL)
		proc_free(p);
}

struct list_ctx {
	struct hmap	seen;
};

static int
proc_unseen(uint64_t key, void *val, void *arg)
{
	struct list_ctx	*lc = arg;
	struct proc	*p = val;

	if (hmap_get(&lc->seen, key) != NULL)
		return 0;
	proc_free(p);
	return 1;
}

/*
 * Re-read the process list from /proc: new pids count as just started
 * (they are the likeliest owners of a new socket), gone ones are
 * dropped.  On the first call nothing is "new".
 */
static void
proc_list(int initial)
{
	struct list_ctx	 lc;
	struct dirent	*de;
	DIR		*d;
	uint64_t	 now = initial ? 0 : mono_us();
	char		*end;
	long		 pid;

	if ((d = opendir("/proc")) == NULL)
		fatal("opendir /proc");
	hmap_init(&lc.seen);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 0)
			continue;
		if (hmap_get(&procs, (uint64_t)pid) == NULL)
			proc_add((pid_t)pid, now);
		hmap_put(&lc.seen, (uint64_t)pid, (void *)1);
	}
	closedir(d);
	hmap_walk(&procs, proc_unseen, &lc);
	hmap_free(&lc.seen);
}

struct exe_read {
	pid_t		 pid;
	char		*buf;
	size_t		 len;
	ssize_t		 n;
};

/* In the keeper: another user's exe link needs CAP_SYS_PTRACE. */
static void
exe_read(void *arg)
{
	struct exe_read	*e = arg;
	char		 path[48];

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)e->pid);
	e->n = readlinkat(AT_FDCWD, path, e->buf, e->len - 1);
	e->buf[e->n > 0 ? e->n : 0] = '\0';
}

/* The executable of pid into buf, "" if unknown; the link's length. */
static ssize_t
proc_exe(pid_t pid, char *buf, size_t len)
{
	struct exe_read	 e = { pid, buf, len, -1 };

	priv_call(exe_read, &e);
	return e.n;
}

/*
 * Name, executable and start time: /proc/PID/stat (world-readable,
 * read here) and the /proc/PID/exe link (read by the keeper).
 */
static void
proc_info(struct proc *p)
{
	char	 buf[VBS_EXE_MAX];

	if (p->info_ok && (cn_fd != -1 ||
	    mono_us() - p->info_us < INFO_TTL_US))
		return;
	p->comm[0] = '\0';
	p->start = proc_stat(p->pid, p->comm, sizeof(p->comm), NULL);
	proc_exe(p->pid, buf, sizeof(buf));
	free(p->exe);
	if ((p->exe = strdup(buf)) == NULL)
		fatal("proc_info");
	p->info_ok = 1;
	p->info_us = mono_us();
}

/*
 * Read one process's fd table into the inode cache, in the keeper (the
 * main thread waits meanwhile, so the maps are still one thread's).
 * Returns how many of the wanted inodes it held.  A socket already
 * known to belong to a live process keeps that owner: the first found
 * in a sweep is the likeliest.
 */
static size_t
proc_scan(struct proc *p, struct hmap *wanted)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		 path[40], link[64];
	uint64_t	 ino, old;
	ssize_t		 n;
	size_t		 found = 0, added = 0;
	int		 dfd;

	stats.procs_scanned++;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)p->pid);
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return 0;
	/* The directory belongs to the process's effective uid. */
	if (fstat(dfd, &st) == 0)
		p->uid = st.st_uid;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		n = readlinkat(dfd, de->d_name, link, sizeof(link) - 1);
		if (n < 10 || memcmp(link, "socket:[", 8) != 0)
			continue;
		link[n] = '\0';
		ino = strtoull(link + 8, NULL, 10);
		old = (uint64_t)(uintptr_t)hmap_get(&inodes, ino);
		if (old != 0 && old != (uint64_t)p->pid &&
		    hmap_get(&procs, old) != NULL)
			continue;
		if (old != (uint64_t)p->pid) {
			hmap_put(&inodes, ino, (void *)(uintptr_t)p->pid);
			added++;
		}
		if (wanted != NULL && hmap_del(wanted, ino) != NULL)
			found++;
	}
	closedir(d);
	if (added > 0)
		p->stale = 1;
	return found;
}

/*
 * After a scan, in the main thread: is this still the process whose
 * name we hold?  Without fork and exit events, a pid freed and taken
 * again by a fork that does not exec (before owner_gc() saw it gone)
 * would keep the first process's name and executable for good.  Asked
 * only when the scan found sockets new to this pid, which a newcomer's
 * are.
 */
static void
proc_recheck(struct proc *p)
{
	uint64_t	 start;

	if (!p->stale)
		return;
	p->stale = 0;
	if ((start = proc_stat(p->pid, NULL, 0, NULL)) != p->start) {
		p->info_ok = 0;
		p->start = start;
	}
}

/*
 * The connector's filter (Linux 6.6 and later): only exec, uid and comm
 * events, not the fork and exit of every thread on the host, which on
 * a busy machine are most of its traffic.  Exits are then found by
 * owner_gc(), and children that never exec by a sweep that re-reads
 * /proc when the known processes did not hold a socket.  Older kernels
 * ignore a request of this length: then everything is asked for.
 */
#define CN_WANTED	(PROC_EVENT_EXEC | PROC_EVENT_UID | PROC_EVENT_COMM)

static int		 cn_filtered;	/* no fork and exit events */

static int
cn_subscribe(int filtered)
{
	struct {
		struct nlmsghdr	nh;
		struct cn_msg	cn;
		uint32_t	op;
		uint32_t	event_type;	/* struct proc_input */
	} __attribute__((packed)) msg;
	size_t	len = filtered ? 8 : 4;

	memset(&msg, 0, sizeof(msg));
	msg.nh.nlmsg_len = (uint32_t)(NLMSG_LENGTH(sizeof(msg.cn)) + len);
	msg.nh.nlmsg_type = NLMSG_DONE;
	msg.cn.id.idx = CN_IDX_PROC;
	msg.cn.id.val = CN_VAL_PROC;
	msg.cn.len = (uint16_t)len;
	msg.op = PROC_CN_MCAST_LISTEN;
	msg.event_type = CN_WANTED;
	return send(cn_fd, &msg, msg.nh.nlmsg_len, 0) == -1 ? -1 : 0;
}

/*
 * Does the connector speak to us?  It is silent outside the initial
 * network namespace, and to an old kernel that ignored the filter: a
 * child renames itself (a comm event) and exits, and we wait a little.
 */
static int
cn_probe(void)
{
	struct pollfd	 pfd;
	uint64_t	 before = stats.proc_events, end;
	pid_t		 pid;
	int		 status;

	if ((pid = fork()) == -1)
		return 0;
	if (pid == 0) {
		prctl(PR_SET_NAME, "sockd-probe", 0, 0, 0);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	end = mono_us() + 500000;
	pfd.fd = cn_fd;
	pfd.events = POLLIN;
	while (stats.proc_events == before && mono_us() < end) {
		if (poll(&pfd, 1, (int)((end - mono_us()) / 1000) + 1) <= 0)
			break;
		owner_events();
	}
	return stats.proc_events != before;
}

int
owner_init(int use_events)
{
	struct sockaddr_nl	sa;
	int			rcvbuf = 4 * 1024 * 1024;

	hmap_init(&procs);
	hmap_init(&inodes);
	hmap_init(&unresolved);
	if (use_events)
		cn_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, NETLINK_CONNECTOR);
	if (cn_fd != -1) {
		memset(&sa, 0, sizeof(sa));
		sa.nl_family = AF_NETLINK;
		sa.nl_groups = CN_IDX_PROC;
		if (bind(cn_fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
		    cn_subscribe(1) == -1) {
			log_info("proc connector unavailable (it needs "
			    "CAP_NET_ADMIN and the initial network "
			    "namespace): %s", strerror(errno));
			close(cn_fd);
			cn_fd = -1;
		} else if (setsockopt(cn_fd, SOL_SOCKET, SO_RCVBUFFORCE,
		    &rcvbuf, sizeof(rcvbuf)) == -1)
			setsockopt(cn_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
			    sizeof(rcvbuf));
	}
	proc_list(1);
	if (cn_fd != -1) {
		cn_filtered = 1;
		if (!cn_probe()) {
			cn_filtered = 0;
			if (cn_subscribe(0) == -1 || !cn_probe()) {
				log_info("proc connector is silent (it speaks "
				    "only in the initial network namespace: "
				    "use -N there)");
				close(cn_fd);
				cn_fd = -1;
			}
		}
	}
	if (cn_fd != -1)
		log_debug("proc connector: %s", cn_filtered ?
		    "exec, uid and comm events" : "all events");
	return cn_fd != -1;
}

int
owner_event_fd(void)
{
	return cn_fd;
}

static void
proc_event(const struct proc_event *ev)
{
	struct proc	*p, *parent;
	uint64_t	 now = ev->timestamp_ns / 1000;

	stats.proc_events++;
	switch (ev->what) {
	case PROC_EVENT_FORK:
		if (ev->event_data.fork.child_pid !=
		    ev->event_data.fork.child_tgid)
			break;		/* a thread */
		proc_del(ev->event_data.fork.child_tgid);
		parent = hmap_get(&procs,
		    (uint64_t)ev->event_data.fork.parent_tgid);
		if (parent != NULL)
			proc_new(ev->event_data.fork.child_tgid, now,
			    parent->uid);
		else
			proc_add(ev->event_data.fork.child_tgid, now);
		break;
	case PROC_EVENT_EXEC:
		p = proc_add(ev->event_data.exec.process_tgid, now);
		p->info_ok = 0;
		break;
	case PROC_EVENT_EXIT:
		if (ev->event_data.exit.process_pid ==
		    ev->event_data.exit.process_tgid)
			proc_del(ev->event_data.exit.process_tgid);
		break;
	case PROC_EVENT_UID:
		p = hmap_get(&procs, (uint64_t)ev->event_data.id.process_tgid);
		if (p != NULL)
			p->uid = ev->event_data.id.e.euid;
		break;
	case PROC_EVENT_COMM:
		p = hmap_get(&procs,
		    (uint64_t)ev->event_data.comm.process_tgid);
		if (p != NULL)
			p->info_ok = 0;
		break;
	default:
		break;
	}
}

/*
 * Drain the connector.  It is not polled: on a busy host it speaks
 * hundreds of times a second, and waking for each would cost more than
 * everything else sockd does.  The loop drains it once a turn and
 * owner_resolve() before every sweep; the kernel keeps what comes
 * between (a lost event only makes the next sweep re-read /proc).
 */
#define CN_BATCH	64
#define CN_MSGLEN	256

void
owner_events(void)
{
	static uint8_t		 bufs[CN_BATCH][CN_MSGLEN]
				     __attribute__((aligned(8)));
	struct mmsghdr		 mm[CN_BATCH];
	struct iovec		 iov[CN_BATCH];
	const struct nlmsghdr	*nh;
	const struct cn_msg	*cn;
	struct proc_event	 ev;
	size_t			 left;
	int			 n, i, rounds;

	for (rounds = 0; rounds < 256 && cn_fd != -1; rounds++) {
		memset(mm, 0, sizeof(mm));
		for (i = 0; i < CN_BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = CN_MSGLEN;
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(cn_fd, mm, CN_BATCH, MSG_DONTWAIT, NULL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			if (errno == ENOBUFS) {
				/* Events lost: the process list is stale. */
				stats.proc_overruns++;
				proc_list(0);
				continue;
			}
			fatal("proc connector");
		}
		for (i = 0; i < n; i++) {
			left = mm[i].msg_len;
			nh = (const struct nlmsghdr *)(const void *)bufs[i];
			if (!NLMSG_OK(nh, left) ||
			    nh->nlmsg_len < NLMSG_LENGTH(sizeof(*cn)))
				continue;
			cn = NLMSG_DATA(nh);
			if (cn->id.idx != CN_IDX_PROC ||
			    cn->id.val != CN_VAL_PROC ||
			    nh->nlmsg_len < NLMSG_LENGTH(sizeof(*cn) + cn->len))
				continue;
			memset(&ev, 0, sizeof(ev));
			memcpy(&ev, cn->data, cn->len < sizeof(ev) ? cn->len :
			    sizeof(ev));
			proc_event(&ev);
		}
		if (n < CN_BATCH)
			return;
	}
}

static void
fill(struct sock_rec *r, struct proc *p)
{
	proc_info(p);
	r->pid = p->pid;
	memcpy(r->comm, p->comm, sizeof(r->comm));
	strncpy(r->exe, p->exe != NULL ? p->exe : "", sizeof(r->exe) - 1);
	r->exe[sizeof(r->exe) - 1] = '\0';
}

/* Owner of a cached inode, or NULL. */
static struct proc *
cached(uint64_t ino)
{
	uint64_t	 pid;

	pid = (uint64_t)(uintptr_t)hmap_get(&inodes, ino);
	if (pid == 0)
		return NULL;
	return hmap_get(&procs, pid);
}

struct sweep_ctx {
	struct proc	**v;
	size_t		  n, cap;
	uid_t		 *uids;
	size_t		  nuids;
	pid_t		  hint;
	struct hmap	 *wanted;
	uint64_t	  now;
};

static int
sweep_collect(uint64_t key, void *val, void *arg)
{
	struct sweep_ctx	*sc = arg;

	(void)key;
	if (sc->n < sc->cap)
		sc->v[sc->n++] = val;
	return 0;
}

static int
sweep_rank(const struct proc *p, const struct sweep_ctx *sc)
{
	size_t	 i;

	if (p->pid == sc->hint)
		return 2;
	if (p->uid == (uid_t)-1)
		return 1;	/* never read: new, so a likely owner */
	for (i = 0; i < sc->nuids; i++)
		if (p->uid == sc->uids[i])
			return 1;
	return 0;
}

static struct sweep_ctx *sort_ctx;

static int
sweep_cmp(const void *a, const void *b)
{
	const struct proc	*pa = *(struct proc * const *)a;
	const struct proc	*pb = *(struct proc * const *)b;
	int			 ra = sweep_rank(pa, sort_ctx);
	int			 rb = sweep_rank(pb, sort_ctx);

	if (ra != rb)
		return rb - ra;
	if (pa->active_us != pb->active_us)
		return pa->active_us < pb->active_us ? 1 : -1;
	return pb->pid - pa->pid;
}

/* In the keeper: the fd tables in order, until all wanted are found. */
static void
sweep_scan(void *arg)
{
	struct sweep_ctx	*sc = arg;
	size_t			 i;

	for (i = 0; i < sc->n && sc->wanted->n > 0; i++) {
		if (sc->v[i]->swept == sweep_gen)
			continue;
		sc->v[i]->swept = sweep_gen;
		if (proc_scan(sc->v[i], sc->wanted) > 0)
			sc->v[i]->active_us = sc->now;
	}
}

/*
 * Look for the wanted inodes in the likeliest processes first, until
 * all are found or every process was read once: one call to the keeper
 * for the whole pass.
 */
static void
sweep_pass(struct sweep_ctx *sc)
{
	size_t	 i;

	sc->n = 0;
	sc->cap = procs.n;
	if ((sc->v = calloc(sc->cap + 1, sizeof(*sc->v))) == NULL)
		fatal("sweep");
	hmap_walk(&procs, sweep_collect, sc);
	sort_ctx = sc;
	qsort(sc->v, sc->n, sizeof(*sc->v), sweep_cmp);
	priv_call(sweep_scan, sc);
	for (i = 0; i < sc->n; i++)
		proc_recheck(sc->v[i]);
	free(sc->v);
	sc->v = NULL;
}

/*
 * Look for the wanted inodes in the likeliest processes first, until
 * all are found or every process was read once.  With a filtered
 * connector, processes it did not announce (a fork without exec) are
 * found by re-reading /proc when the known ones did not do.
 */
static void
sweep(struct hmap *wanted, uid_t *uids, size_t nuids, pid_t hint)
{
	struct sweep_ctx	 sc;
	uint64_t		 now = mono_us();

	stats.sweeps++;
	sweep_gen++;
	if (cn_fd == -1)
		proc_list(0);
	else
		owner_events();
	memset(&sc, 0, sizeof(sc));
	sc.uids = uids;
	sc.nuids = nuids;
	sc.hint = hint;
	sc.wanted = wanted;
	sc.now = now;
	sweep_pass(&sc);
	if (wanted->n > 0 && cn_fd != -1 && cn_filtered) {
		proc_list(0);
		sweep_pass(&sc);
	}
}

void
owner_resolve(struct sock_rec **recs, size_t n, int hint)
{
	struct hmap		 wanted;
	struct unresolved	*u;
	struct proc		*p;
	uid_t			 uids[8];
	size_t			 i, j, nuids = 0, misses = 0;
	uint64_t		 now = mono_us();

	hmap_init(&wanted);
	for (i = 0; i < n; i++) {
		recs[i]->pid = -1;
		if (recs[i]->inode == 0)
			continue;
		if ((p = cached(recs[i]->inode)) != NULL) {
			stats.owner_hits++;
			fill(recs[i], p);
			continue;
		}
		u = hmap_get(&unresolved, recs[i]->inode);
		if (u != NULL && (u->tries >= RETRY_MAX || now < u->retry_us))
			continue;
		stats.owner_misses++;
		hmap_put(&wanted, recs[i]->inode, (void *)1);
		misses++;
		for (j = 0; j < nuids; j++)
			if (uids[j] == recs[i]->uid)
				break;
		if (j == nuids && nuids < sizeof(uids) / sizeof(uids[0]))
			uids[nuids++] = recs[i]->uid;
	}
	if (misses > 0) {
		sweep(&wanted, uids, nuids, hint);
		for (i = 0; i < n; i++) {
			if (recs[i]->pid != -1 || recs[i]->inode == 0)
				continue;
			if ((p = cached(recs[i]->inode)) != NULL) {
				fill(recs[i], p);
				free(hmap_del(&unresolved, recs[i]->inode));
				continue;
			}
			if ((u = hmap_get(&unresolved, recs[i]->inode)) ==
			    NULL) {
				if ((u = calloc(1, sizeof(*u))) == NULL)
					fatal("owner_resolve");
				hmap_put(&unresolved, recs[i]->inode, u);
				stats.owner_unresolved++;
			}
			u->tries++;
			u->retry_us = now + (1000000ULL << u->tries);
		}
	}
	hmap_free(&wanted);
	if (inodes.n > INODES_MAX) {
		hmap_free(&inodes);
		hmap_init(&inodes);
	}
}

void
owner_forget(const struct sock_rec *r)
{
	if (r->inode != 0) {
		hmap_del(&inodes, r->inode);
		free(hmap_del(&unresolved, r->inode));
	}
}

static int
gc_inode(uint64_t key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	return hmap_get(&procs, (uint64_t)(uintptr_t)val) == NULL;
}

static int
gc_unresolved(uint64_t key, void *val, void *arg)
{
	struct unresolved	*u = val;
	uint64_t		 now = *(uint64_t *)arg;

	(void)key;
	if (u->tries >= RETRY_MAX && now > u->retry_us + 600000000ULL) {
		free(u);
		return 1;
	}
	return 0;
}

/* Without exit events: a process that is gone has no pid to signal. */
static int
gc_proc(uint64_t key, void *val, void *arg)
{
	struct proc	*p = val;

	(void)key;
	(void)arg;
	if (kill(p->pid, 0) == 0 || errno != ESRCH)
		return 0;
	proc_free(p);
	return 1;
}

void
owner_gc(void)
{
	uint64_t	 now = mono_us();

	if (cn_fd == -1)
		proc_list(0);
	else if (cn_filtered)
		hmap_walk(&procs, gc_proc, NULL);
	hmap_walk(&inodes, gc_inode, NULL);
	hmap_walk(&unresolved, gc_unresolved, &now);
}

/*
 * An owner the eBPF backend named (pid, comm, start time and the
 * executable's inode and device from the kernel, in the process's own
 * context): its executable while the process lives, else none; and its
 * inode in the cache, so that later look-ups need no sweep.  The path
 * is read (by the keeper) once per process and image: while an event
 * names the start time, inode and device of the last read for its pid,
 * that read's path is the answer.  A pid reused by another process has
 * another start time; an exec, another image.  A program that opens a
 * socket a second so costs one read, not one a socket.  An executable
 * other than the one proc_info() holds for that pid means the pid is
 * another process's now (see proc_scan): read it again.
 */
void
owner_exe(struct sock_rec *r, const struct owner_image *im)
{
	struct proc	*p;
	ssize_t		 n;

	p = hmap_get(&procs, (uint64_t)r->pid);
	if (im->ino != 0 && p != NULL && p->img_exe != NULL &&
	    p->img_start == im->start_ns && p->img_ino == im->ino &&
	    p->img_dev == im->dev) {
		strncpy(r->exe, p->img_exe, sizeof(r->exe) - 1);
		r->exe[sizeof(r->exe) - 1] = '\0';
		stats.exe_reused++;
	} else {
		if ((n = proc_exe(r->pid, r->exe, sizeof(r->exe))) <= 0)
			return;
		if (p == NULL)
			p = proc_add(r->pid, mono_us());
		if (p->info_ok && strcmp(p->exe, r->exe) != 0)
			p->info_ok = 0;
		if (im->ino != 0) {
			free(p->img_exe);
			if ((p->img_exe = strdup(r->exe)) == NULL)
				fatal("owner_exe");
			p->img_start = im->start_ns;
			p->img_ino = im->ino;
			p->img_dev = im->dev;
		}
	}
	if (r->inode != 0)
		hmap_put(&inodes, r->inode, (void *)(uintptr_t)r->pid);
}
