/*
 * capd.h: the capture daemon's internal interfaces.  capd is the only
 * VBS process that captures: it opens libpcap handles, decodes each
 * packet's link, IP and TCP/UDP headers into a struct pkt_rec, and
 * hands batches of records to flowd (or to a recording).  Nothing here
 * keeps payload.
 */

#ifndef CAPD_H
#define CAPD_H

#include <stdint.h>

#include "proto.h"

/*
 * Why a frame was not emitted.  Each reason is a counter in the stats
 * message, by the name decode_reason_name() gives.
 */
enum dec_reason {
	DEC_OK = 0,
	DEC_NOT_IP,		/* ARP, STP, LLC, PPPoE discovery, ... */
	DEC_LINK_UNSUPPORTED,	/* link type capd does not decode */
	DEC_LINK_TRUNCATED,	/* link header past the captured bytes */
	DEC_VLAN_DEPTH,		/* more stacked tags than DEC_MAX_TAGS */
	DEC_IP_TRUNCATED,	/* IP header past the captured bytes */
	DEC_IP_VERSION,		/* version nibble not 4 or 6 */
	DEC_IP_HEADER,		/* IPv4 header length < 20 */
	DEC_IP_LENGTH,		/* total length shorter than the header */
	DEC_IP6_EXT_TRUNCATED,	/* extension header past captured bytes */
	DEC_IP6_EXT_DEPTH,	/* longer chain than DEC_MAX_EXT */
	DEC_L4_TRUNCATED,	/* TCP/UDP header past the captured bytes */
	DEC_TCP_HEADER,		/* TCP data offset < 5 */
	DEC__MAX
};

#define DEC_MAX_TAGS	8	/* stacked VLAN tags */
#define DEC_MAX_EXT	16	/* IPv6 extension headers */
#define FRAG_SLOTS	1024	/* first fragments remembered */
#define FRAG_PROBE	8
#define FRAG_TTL_US	(60ULL * 1000000)	/* as the Linux reassembly timeout */

struct frag_ent {
	uint64_t	ts_us;		/* 0: free */
	uint32_t	id;
	uint16_t	sport, dport;
	uint8_t		ipver;
	uint8_t		proto;		/* key: IPv6's fragment header's next */
	uint8_t		l4proto;	/* the first fragment's transport */
	uint8_t		src[16], dst[16];
};

/*
 * A decoder holds the fragment table and the counters; it allocates
 * nothing per packet.  wire_true: the frame lengths are the kernel's
 * (live capture), so an IP length beyond the frame is cut to it; a
 * file's may be those of a tool that cut its records, and there the
 * header is believed, as tcpdump and tshark do.
 */
struct decoder {
	int		wire_true;
	uint64_t	reasons[DEC__MAX];	/* DEC_OK counts emitted */
	uint64_t	frag_first, frag_later, frag_matched;
	struct frag_ent	frags[FRAG_SLOTS];
};

struct pcap;

/* One capture handle: a live interface or the file of -r. */
struct capd_iface {
	char		 name[VBS_IFNAME_MAX];
	struct pcap	*pcap;
	int		 dlt;
	int		 fd;		/* selectable, -1 for files */
	uint32_t	 index;		/* in the hello's ifaces */
	uint64_t	 kernel_recv, kernel_drop, if_drop;
};

/*
 * The output side: packet records batched into messages, written to a
 * recording and/or queued for flowd on a SOCK_SEQPACKET socket.
 */
struct emitter {
	struct msg_builder mb;
	struct vbs_rec	 rec;		/* the record being filled */
	struct rec_writer rw;
	int		 have_rw;
	struct outq	*q;
	int		 fd;		/* to flowd, -1 none */
	const char	*connect_path;	/* reconnect here, or NULL */
	uint64_t	 next_connect_us, backoff_us;
	struct hello_rec hello;		/* resent on every new connection */
	uint64_t	 emitted, messages, connects;
};

/* An answer of capture.c's is_local(), cached. */
#define DIRCACHE_BITS	6
struct dirslot {
	uint64_t	 a[2];		/* the address, 16 bytes */
	uint8_t		 ver;		/* its IP version, 0: empty */
	uint8_t		 local;		/* in dirnets */
};

/*
 * Flows capd saw lately, for the live loop's hold (capture.c): a hash
 * of the flow's two ends and protocol, either way round, and when
 * (packet time, in 1024-microsecond units).  Direct-mapped: a flow that
 * loses its slot only looks new again, which costs one early message.
 */
#define SEEN_BITS	12
struct seenslot {
	uint32_t	 hash;
	uint32_t	 when;
};

/* Everything capd knows: options, configuration, handles, counters. */
struct capd {
	int		 foreground, verbose, check_only;
	const char	*conf_path;
	const char	*rfile, *wfile, *connect_path;
	int		 inherit_fd;
	const char	*ifnames[VBS_MAX_IFACES];
	int		 nifnames;
	struct local_net dirnets[VBS_MAX_NETS];	/* local side, direction */
	int		 ndirnets;
	struct dirslot dircache[1 << DIRCACHE_BITS];
	struct local_net subnets[VBS_MAX_NETS];	/* for the filter */
	int		 nsubnets;
	int		 snaplen, buffer_size, immediate, timeout_ms;
	size_t		 queue_size;
	int		 local_subnet_traffic, exclude_server;
	const char	*server_url, *chroot_dir, *user;
	uint64_t	 stats_interval_us;
	struct capd_iface ifs[VBS_MAX_IFACES];
	int		 nifs;
	int		 addr_fd;		/* address changes, -1 none */
	uint64_t	 received, last_ts_us;
	struct decoder	 dec;
	struct emitter	 em;
	struct seenslot	 seen[1 << SEEN_BITS];
	int		 hold;		/* live, timeout < HOLD_US */
	int		 hold_fresh;	/* the held message starts a flow */
	uint64_t	 hold_since;	/* monotonic; 0: nothing held */
	uint64_t	 sent_early;	/* messages sent before HOLD_US */
};

/* capture.c */
int	 capture_open_file(struct capd *, const char *);
void	 capture_open_live(struct capd *);
void	 capture_default_ifaces(struct capd *, int);
int	 capture_file_loop(struct capd *);
int	 capture_live_loop(struct capd *);
void	 capture_stats(struct capd *);

/* emit.c */
void	 emit_open(struct emitter *, const char *, int, const char *, size_t);
void	 emit_hello(struct emitter *, const struct hello_rec *);
void	 emit_flush(struct emitter *);
void	 emit_record(struct emitter *, const struct vbs_rec *);
void	 emit_service(struct emitter *, uint64_t);
void	 emit_lost(struct emitter *);
int	 emit_pollfd(const struct emitter *, short *);
uint64_t emit_next_wakeup(const struct emitter *);
void	 emit_close(struct emitter *, uint64_t, const char *);
void	 emit_stats(struct capd *, uint64_t);

/* Add the record in em->rec (a packet) to the current message. */
static inline void
emit_packet(struct emitter *e)
{
	if (!msg_would_fit(&e->mb, 96))
		emit_flush(e);
	if (msg_add(&e->mb, &e->rec) == -1) {
		emit_flush(e);
		(void)msg_add(&e->mb, &e->rec);
	}
	e->emitted++;
}

/* filter.c */
int	 filter_host_addrs(struct capd *);
char	*filter_build(const struct capd *);
int	 filter_watch_open(void);
int	 filter_watch_changed(struct capd *, int);

/* sandbox.c */
const struct sandbox_spec *capd_sandbox(void);

/* decode.c */
void	 decode_init(struct decoder *);
int	 decode_packet(struct decoder *, int, const uint8_t *, uint32_t,
	    uint32_t, struct pkt_rec *);
const char *decode_reason_name(int);
int	 decode_linktype_ok(int);

#endif /* CAPD_H */
