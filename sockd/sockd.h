/*
 * sockd.h: sockd's internal interfaces.  sockd reads the host's socket
 * tables and knows which process owns each TCP and UDP socket; it
 * reports opens and closes, and answers flowd's look-ups.
 *
 * The parts: sockd.c (main, options, the poll loop), table.c (the
 * sockets sockd knows, open and close events, the recently closed),
 * emit.c (messages to flowd and to a recording), query.c (look-ups
 * from the command line), hash.c (a small map of 64-bit keys),
 * ebpf_linux.c (optional: owners named by BPF programs), and one
 * backend per OS behind the interface below:
 * sockd_<os>.c reads the socket tables, owner_<os>.c finds the process
 * that owns a socket.
 */

#ifndef SOCKD_H
#define SOCKD_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Counters, reported in MSG_STATS and by -q. */
struct sockd_stats {
	uint64_t	dumps;
	uint64_t	dump_us_last;
	uint64_t	dump_us_max;
	uint64_t	sockets;	/* in the table now */
	uint64_t	opens;
	uint64_t	closes_dump;
	uint64_t	closes_destroy;
	uint64_t	destroy_unknown; /* destroy of a socket never seen */
	uint64_t	destroy_unbound; /* never seen and never bound */
	uint64_t	destroy_overruns;
	uint64_t	destroy_late;	/* after a dump had closed it */
	uint64_t	lookups;
	uint64_t	lookups_found;
	uint64_t	lookups_closed;	/* answered from the recently closed */
	uint64_t	lookup_us_last;
	uint64_t	lookup_us_max;
	uint64_t	owner_hits;
	uint64_t	owner_misses;
	uint64_t	owner_unresolved;
	uint64_t	sweeps;
	uint64_t	procs_scanned;
	uint64_t	proc_events;
	uint64_t	proc_overruns;
	uint64_t	ebpf_events;	/* records from the BPF ring buffer */
	uint64_t	ebpf_opens;	/* sockets first seen by them */
	uint64_t	exe_reused;	/* their executable known, not read */
};
extern struct sockd_stats stats;

/* sockd.c: answer the look-ups waiting now, without blocking. */
void	 sockd_lookups_pending(void);
void	 sockd_news(void);

/* hash.c: a map from 64-bit keys to pointers, chained, growing. */
struct hmap_ent {
	uint64_t	 key;
	void		*val;
	struct hmap_ent	*next;
};
struct hmap {
	struct hmap_ent	**b;
	size_t		 nb;		/* a power of two */
	size_t		 n;
};
void	 hmap_init(struct hmap *);
void	 hmap_free(struct hmap *);
void	*hmap_get(const struct hmap *, uint64_t);
int	 hmap_put(struct hmap *, uint64_t, void *);
void	*hmap_del(struct hmap *, uint64_t);
/* Calls fn on every entry; fn returns 1 to delete the entry. */
void	 hmap_walk(struct hmap *, int (*)(uint64_t, void *, void *), void *);

/*
 * sockd_<os>.c: the socket tables of this host (Linux: netlink
 * sock_diag in sockd's network namespace; FreeBSD: the pcblist sysctls).
 * A record the backend hands over has the socket's protocol, addresses,
 * ports, state, inode, cookie and uid filled, pid -1 and no name:
 * owner_resolve() fills those.  IPv4 peers of a dual-stack IPv6 socket
 * are reported as IPv4, as the packets are.
 */
typedef void (*sock_cb)(void *, struct sock_rec *);

/* TCP states are reported in Linux's numbering on every system. */
#define SOCK_TCP_ESTABLISHED	1
#define SOCK_TCP_LISTEN		10

/* netns: path of a network namespace to read, or NULL for our own. */
int	 backend_open(const char *netns);
void	 backend_close(void);
/* A full dump of TCP and UDP, IPv4 and IPv6: cb once per socket. */
int	 backend_dump(sock_cb, void *);
/* The fd to poll for close events (-1: none), and reading them. */
int	 backend_event_fd(void);
int	 backend_events(sock_cb, void *);
/*
 * The sockets that match a look-up, best first: at most max records in
 * out.  Returns the number found, 0 for none, -1 on error.
 */
int	 backend_lookup(const struct lookup_rec *, struct sock_rec *, int max);

/*
 * sandbox_<os>.c: what the backend keeps after priv_drop():
 * capabilities (ended by -1), and its sandbox, or NULL where the
 * system's sandbox would forbid reading the socket tables (Capsicum
 * forbids those sysctls).
 */
const int *backend_keep_caps(void);
const struct sandbox_spec *backend_sandbox(void);
/*
 * Linux: sockd_split(), after priv_drop() and before sandbox_enter(),
 * starts the thread that alone keeps the capabilities and may open
 * nothing but directories (the keeper), and takes them from the main
 * thread; priv_call() runs fn(arg) in the keeper and waits.  Without
 * the split (not root, -P, other systems) priv_call() calls fn itself.
 */
void	 sockd_split(void);
void	 priv_call(void (*)(void *), void *);
uint64_t priv_calls(void);		/* how many went to the keeper */
const struct sandbox_spec *backend_keeper_sandbox(void);

/*
 * owner_<os>.c: who owns a socket.  The cache is kept fresh by process
 * events (Linux: the proc connector) and filled by scanning the
 * processes most likely to own a socket first; it never scans every
 * process for every socket.
 */
/* Open what needs privileges; before backend_open (netns). */
int	 owner_init(int use_events);
int	 owner_event_fd(void);		/* -1: none */
void	 owner_events(void);
/*
 * Fill pid, comm and exe of each record from its inode (Linux) or its
 * cookie (FreeBSD, the kernel address of the socket).  hint is a pid to
 * try first (the owner of a listener on the same port) or -1.  Records
 * whose owner cannot be found keep pid -1.
 */
void	 owner_resolve(struct sock_rec **, size_t, int hint);
/* The socket is gone: forget its inode. */
void	 owner_forget(const struct sock_rec *);
/* Drop state of processes that exited; call now and then. */
void	 owner_gc(void);
/* What the eBPF backend says of a socket's process and its image. */
struct owner_image {
	uint64_t	start_ns;	/* start_boottime; 0 unknown */
	uint64_t	ino;		/* the executable's inode; 0 unknown */
	uint32_t	dev;
};
/* Linux: exe of an owner the eBPF backend named (pid set). */
void	 owner_exe(struct sock_rec *, const struct owner_image *);

/*
 * ebpf_linux.c (or ebpf_none.c where it is not built): sockets named by
 * BPF programs in the sending or connecting process's context.  Open
 * before priv_drop(); on failure why says what refused, and sockd goes
 * on without it.  netns: the namespace to report (NULL: our own).
 */
int	 ebpf_open(const char *netns, char *why, size_t len);
int	 ebpf_fd(void);			/* -1: none */
void	 ebpf_close(void);
/* Hands every record waiting to cb; never blocks. */
int	 ebpf_events(sock_cb, void *);

/* table.c: the sockets sockd knows */
void	 table_init(int);
/* After a full dump: opens for the new, closes for the vanished. */
void	 table_dump(int snapshot);
/* A close event from the backend. */
void	 table_destroy(struct sock_rec *);
/* A socket and its owner, from the eBPF backend. */
void	 table_ebpf(struct sock_rec *);
/* Answer a look-up into ans. */
void	 table_lookup(const struct lookup_rec *, struct answer_rec *);
/* Emit a snapshot of every socket known. */
void	 table_snapshot(void);
size_t	 table_count(void);

/* emit.c: messages out, batched */
struct emit_conf {
	const char	*record;	/* -w FILE or NULL */
	const char	*connect;	/* --connect PATH or NULL */
	int		 fd;		/* -S FD or -1 */
	const char	*peer_user;	/* flowd's user, besides root */
	size_t		 queue_size;	/* bytes */
};
void	 emit_init(const struct emit_conf *);
void	 emit_hello(void);
void	 emit_sock(const struct sock_rec *);
void	 emit_answer(const struct answer_rec *);
void	 emit_stats(void);
void	 emit_flush(void);
void	 emit_bye(const char *);
/* The peer's fd for poll (-1: none), its events, and reading from it. */
int	 emit_peer_fd(void);
short	 emit_peer_events(void);
void	 emit_peer_ready(short);
/* Reconnect when due; returns ms until the next try, or -1. */
int	 emit_reconnect(void);
void	 emit_close(void);

/* query.c: look-ups and dumps from the command line */
int	 query_parse(const char *, struct lookup_rec *, char *, size_t);
void	 query_run(const struct lookup_rec *, struct answer_rec *);
void	 query_print(FILE *, const struct answer_rec *, uint64_t);
int	 query_repeat(const char *, int);
int	 query_bench(int);

#endif /* SOCKD_H */
