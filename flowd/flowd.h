/*
 * flowd.h: the internal interface of flowd, the unprivileged stage that
 * merges capd's packet stream and sockd's socket stream into labelled
 * bidirectional flows and writes them, packet by packet, into SQLite
 * batches.  Everything here runs in flowd only; the input it works on
 * has already been decoded strictly by libvbsproto, but its values
 * (addresses, ports, times, counts) are still the producers' word and
 * are treated as data, never as sizes or indexes.
 */

#ifndef FLOWD_H
#define FLOWD_H

#include <sys/queue.h>

#include <stdint.h>

#include "proto.h"

#define IPPROTO_TCP_NUM	6
#define IPPROTO_UDP_NUM	17

/* Why a flow ended; the text is the batch's end_reason. */
enum end_reason {
	END_OPEN = 0,		/* not ended: row of a flow still open */
	END_CLOSED,		/* its socket was reported closed */
	END_FIN,		/* FIN seen both ways, plus fin_grace */
	END_RST,		/* RST seen, plus fin_grace */
	END_IDLE,		/* no packet for the protocol's idle time */
	END_SHUTDOWN,		/* flowd was stopped */
	END_EOF,		/* end of replayed input */
	END_EVICTED,		/* flow table full: least recent ended */
	END_RESTART,		/* recovered after flowd died */
	END_REUSED		/* a new SYN reused the 5-tuple */
};

/* How a flow's label was found; the text is the batch's label_source. */
enum label_src {
	LSRC_NONE = 0,
	LSRC_EVENT,		/* socket event (eBPF, open event) */
	LSRC_LOOKUP,		/* answer to flowd's look-up */
	LSRC_DUMP,		/* periodic socket-table dump */
	LSRC_DESTROY		/* socket destroy event */
};

enum privacy_policy {
	PRIV_CLEAR = 0,
	PRIV_PREFIX,		/* keyed prefix-preserving pseudonyms */
	PRIV_HASH,		/* keyed permutation of the whole address */
	PRIV_TRUNCATE		/* IPv4 /24, IPv6 /48 */
};

/* The 5-tuple seen from the local side; memcmp-able (pad is zero). */
struct flow_key {
	uint8_t		laddr[16];
	uint8_t		raddr[16];
	uint16_t	lport, rport;
	uint8_t		ipver;
	uint8_t		proto;
	uint8_t		pad[2];
};

/* Timer classes: each has its own idle list, ordered by last packet. */
enum { TC_TCP = 0, TC_UDP, TC_OTHER, TC__MAX };

/* Flow states. */
enum { FS_ACTIVE = 1, FS_PENDING };

/* flow->flags */
#define FF_FIN_OUT	0x0001
#define FF_FIN_IN	0x0002
#define FF_CLOSING	0x0004		/* on the closing list */
#define FF_UNLAB	0x0008		/* on the unlabelled index */
#define FF_INBATCH	0x0010		/* has a row in the current batch */
#define FF_DIRTY	0x0020		/* row changed since the last commit */
#define FF_EXCLUDED	0x0040		/* VBS's own traffic: not written */
#define FF_EARLIER	0x0080		/* rows in earlier batches */
#define FF_LOOKUP	0x0100		/* look-up sent */
#define FF_WILDLABEL	0x0200		/* labelled from an unconnected UDP socket */

struct flow {
	struct flow_key		 key;
	struct flow		*hnext;			/* hash chain */
	TAILQ_ENTRY(flow)	 tlink;			/* idle or pending */
	TAILQ_ENTRY(flow)	 clink;			/* closing */
	TAILQ_ENTRY(flow)	 ulink;			/* unlabelled index */
	TAILQ_ENTRY(flow)	 blink;			/* current batch */
	uint64_t		 id;
	uint64_t		 start_us, last_us, end_us;
	uint64_t		 deadline_us;		/* closing */
	uint64_t		 bytes_out, bytes_in;
	uint64_t		 label_us;		/* when labelled */
	uint64_t		 pkts;			/* = next seq */
	uint64_t		 pkts_out;
	uint64_t		 first_seq;		/* in current batch */
	char			*exe;
	int32_t			 pid;
	uint32_t		 uid;
	uint32_t		 iface;
	uint16_t		 flags;
	char			 app[VBS_COMM_MAX];
	uint8_t			 state;
	uint8_t			 tclass;
	uint8_t			 label_src;
	uint8_t			 end_reason;
	uint8_t			 close_reason;		/* while closing */
};

TAILQ_HEAD(flowq, flow);

/*
 * Live: the messages of one input that a commit covers, each named by a
 * keyed 128-bit hash and its length.  They are read with MSG_PEEK, their
 * rows committed with this list, and only then consumed; a flowd that
 * finds the list in a recovered batch consumes, unprocessed, the ones
 * still at the head of its socket.
 */
#define LIVE_INPUTS	2		/* 0 capd, 1 sockd */
/*
 * Timers trail the clock by this: live, for packets still in capd's
 * buffer and the sockets; live and on replay alike, sockd's news fire
 * the timers only this far back, as their time runs ahead of the
 * packets flowd has read.  capd's default timeout (500 ms) is how late
 * a packet may be, and this is four times it, as 1 s was for 250 ms: a
 * busy machine delays capd's reads further.  What the extra second
 * costs is a second more of each ended flow in memory.
 */
#define TIMER_LAG_US	2000000ULL
#define WIN_MAX		64		/* messages peeked per commit */

struct msg_id {
	uint64_t	 h[2];
	uint32_t	 len;
};

struct in_window {
	uint8_t		 key[16];
	uint32_t	 n;
	struct msg_id	 m[WIN_MAX];
};

struct flowd_conf {
	const char	*outbox;
	const char	*work_dir;
	const char	*client_id;
	uint64_t	 batch_size;		/* bytes */
	uint64_t	 batch_age_us;
	uint64_t	 idle_us[TC__MAX];
	uint64_t	 fin_grace_us;
	uint64_t	 label_grace_us;
	uint64_t	 max_flows;
	int		 privacy;		/* enum privacy_policy */
	const char	*privacy_key_file;
	int		 exclude_self;
	uint8_t		 self_addr[16];		/* shipd's server, if literal */
	uint8_t		 self_ipver;		/* 0: none */
	uint16_t	 self_port;
	int		 replay;
	uint64_t	 replay_hash;		/* input digest, replay only */
	uint32_t	 run;			/* flow id high bits */
};

/* Counters kept by flowd itself, reported in every batch's meta. */
struct flowd_counters {
	uint64_t	 packets;
	uint64_t	 flows;
	uint64_t	 flows_ended;
	uint64_t	 flows_labelled;
	uint64_t	 flows_evicted;
	uint64_t	 excluded_flows;
	uint64_t	 excluded_packets;
	uint64_t	 lookups;
	uint64_t	 answers;
	uint64_t	 sock_events;
	uint64_t	 bad_records;
	uint64_t	 lost_batches;
	uint64_t	 recovered_batches;
};

struct socktab;
struct batch;
struct privacy;
struct appstats;

/* Called for each look-up flowd wants to send (live input only). */
typedef void (*lookup_fn)(void *, const struct lookup_rec *);

struct flowd {
	struct flowd_conf	 conf;
	struct flowd_counters	 cnt;
	/* flow table */
	struct flow		**buckets;
	uint64_t		 nbuckets;	/* power of two */
	uint64_t		 nflows;
	uint64_t		 next_id;
	struct flowq		 idle[TC__MAX];
	struct flowq		 closing;
	struct flowq		 pending;
	/* unlabelled flows, indexed by protocol and local port */
	struct flowq		*unlab;
	uint64_t		 nunlab_buckets;
	struct socktab		*st;
	struct batch		*batch;
	uint64_t		 batches;	/* closed by this run */
	struct privacy		*priv;
	struct appstats		*apps;
	uint64_t		 now_us;	/* record time, never backwards */
	lookup_fn		 lookup;
	void			*lookup_arg;
	/* producers' facts and counters, for the meta table */
	struct hello_rec	 capd_hello;
	struct stats_rec	 capd_stats;
	struct stats_rec	 sockd_stats;
	/* live: committed with the rows, consumed after the commit */
	struct in_window	 win[LIVE_INPUTS];
	struct in_window	 resume[LIVE_INPUTS];	/* from a recovered batch */
	uint32_t		 inflight;	/* peeked, not yet committed */
	/* by protocol, 0 TCP, 1 UDP: */
	uint64_t		 ebpf_us[2];	/* last socket sockd's eBPF named */
	uint64_t		 newflow_us[2];	/* last new flow's first packet */
};

/* flow.c */
uint64_t flow_key_hash(const struct flow_key *);
void	 flow_init(struct flowd *);
void	 flow_packet(struct flowd *, const struct pkt_rec *);
void	 flow_expire(struct flowd *, uint64_t);
void	 flow_end_all(struct flowd *, int);
void	 flow_sock_closed(struct flowd *, const struct flow_key *, uint64_t);
void	 flow_labelled(struct flowd *, struct flow *);
struct flow *flow_find(struct flowd *, const struct flow_key *);
void	 flow_free_all(struct flowd *);
const char *end_reason_name(int);

/* label.c */
struct socktab *label_init(void);
void	 label_free(struct socktab *);
int	 label_flow(struct flowd *, struct flow *);
void	 label_sock(struct flowd *, const struct sock_rec *, int);
void	 label_unlab_add(struct flowd *, struct flow *);
void	 label_unlab_del(struct flowd *, struct flow *);
void	 label_expire(struct flowd *, uint64_t);
uint64_t label_nsockets(const struct socktab *);
const char *label_src_name(int);
int	 label_is_self(const struct flow *);

/* batch.c */
int	 batch_open(struct flowd *, char *, size_t);
void	 counters_each(struct flowd *,
	    void (*)(void *, const char *, uint64_t), void *);
void	 batch_packet(struct flowd *, struct flow *, const struct pkt_rec *,
	    int, uint64_t);
void	 batch_flow_end(struct flowd *, struct flow *);
void	 batch_forget(struct flowd *, struct flow *);
void	 batch_tick(struct flowd *, uint64_t, uint64_t);
void	 batch_finish(struct flowd *);
int	 batch_due(const struct flowd *);
int	 batch_sync(struct flowd *);
uint64_t batch_count(const struct flowd *);

/* privacy.c */
struct privacy *privacy_new(int, const uint8_t *);
void	 privacy_free(struct privacy *);
const char *privacy_addr(struct privacy *, uint8_t, const uint8_t *,
	    char *, size_t);
int	 privacy_parse(const char *);
const char *privacy_name(int);
int	 privacy_load_key(const char *, int, uint8_t *, char *, size_t);
uint64_t siphash24(const uint8_t *, const void *, size_t);
void	 siphash24_128(const uint8_t *, const void *, size_t, uint64_t[2]);

/* input.c */
int	 input_replay(struct flowd *, char * const *, int);
uint64_t input_digest(char **, int);
void	 input_record(struct flowd *, const struct vbs_rec *, int);
void	 input_hello_load(struct flowd *);
void	 input_hello_save(struct flowd *, const struct vbs_rec *, int);
void	 appstats_flow(struct flowd *, const struct flow *);
void	 appstats_write(struct flowd *);
void	 stats_write(struct flowd *);
void	 appstats_free(struct flowd *);

/* live.c */
void	 live_prepare(struct flowd *, int, int);
int	 input_live(struct flowd *, int, int);

/* sandbox.c */
const struct sandbox_spec *flowd_sandbox(const char *, const char *);

#endif /* FLOWD_H */
