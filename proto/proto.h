/*
 * proto.h: the contract between VBS stages.  Every process links
 * libvbsproto.a and includes this header: message types and records,
 * their msgpack codec, SOCK_SEQPACKET transport, recordings, the bounded
 * output queue, logging, configuration and privilege dropping.
 *
 * Numbers in this file are part of the wire format (proto/PROTOCOL.md)
 * and never change meaning; new ones are added at the end.
 */

#ifndef VBS_PROTO_H
#define VBS_PROTO_H

#include <sys/types.h>
#include <sys/uio.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VBS_VERSION		"0.1.0"
#define VBS_PROTO_VERSION	1	/* messages and recordings */

/* Largest message, in bytes, on a socket or in a recording. */
#define VBS_MSG_MAX		65536
/* Largest record count in one message. */
#define VBS_MSG_MAXREC		4096

/* Field limits; the decoder rejects anything longer. */
#define VBS_NAME_MAX		64	/* producer, os, software, counter */
#define VBS_HOST_MAX		256
#define VBS_COMM_MAX		16	/* TASK_COMM_LEN, with the NUL */
#define VBS_EXE_MAX		1024	/* with the NUL */
#define VBS_IFNAME_MAX		32
#define VBS_MAX_IFACES		64
#define VBS_MAX_NETS		64
#define VBS_MAX_COUNTERS	64
#define VBS_REASON_MAX		256

/* Message types: stable numbers, as OpenSSH's monitor.h keeps them. */
enum msg_type {
	MSG_HELLO = 1,		/* first message of every stream */
	MSG_PACKETS = 2,	/* capd: packet records */
	MSG_SOCKETS = 3,	/* sockd: socket events */
	MSG_LOOKUP = 4,		/* flowd -> sockd: who owns this? */
	MSG_ANSWER = 5,		/* sockd -> flowd: the owner, or none */
	MSG_STATS = 6,		/* any producer: counters */
	MSG_BYE = 7,		/* last message of a stream */
	MSG__MAX
};

/* Packet direction relative to the local side. */
enum pkt_dir {
	DIR_OUT = 0,		/* sent by the local side */
	DIR_IN = 1,
	DIR_UNKNOWN = 2		/* file with no -L: flowd decides */
};

/* Fragment facts of a packet (bit set). */
#define FRAG_MORE	0x01	/* more fragments follow */
#define FRAG_LATER	0x02	/* not the first fragment: no ports */
#define FRAG_PORTS	0x04	/* later fragment, ports from the first */

/* TCP flag byte as in the TCP header. */
#define TH_FIN		0x01
#define TH_SYN		0x02
#define TH_RST		0x04
#define TH_PUSH		0x08
#define TH_ACK		0x10
#define TH_URG		0x20
#define TH_ECE		0x40
#define TH_CWR		0x80

/*
 * Addresses are 16 bytes; an IPv4 address uses the first 4 and leaves
 * the rest zero.  On the wire they are bin 4 or bin 16.
 */
struct pkt_rec {
	uint64_t	ts_us;		/* microseconds since the epoch */
	uint32_t	iface;		/* index into the hello's ifaces */
	uint32_t	iplen;		/* IP total length on the wire */
	uint32_t	fragid;		/* IPv4 id or IPv6 fragment id */
	uint16_t	sport, dport;	/* 0 where there are none */
	uint8_t		dir;		/* enum pkt_dir */
	uint8_t		ipver;		/* 4 or 6 */
	uint8_t		proto;		/* IP protocol number */
	uint8_t		tcpflags;	/* TH_* (TCP only) */
	uint8_t		frag;		/* FRAG_* */
	uint8_t		src[16], dst[16];
};

/* Socket event kinds. */
enum sock_event {
	SOCK_OPEN = 1,		/* first seen */
	SOCK_CLOSE = 2,		/* gone, with its last known owner */
	SOCK_SNAPSHOT = 3	/* present in a full snapshot */
};

/* How sockd learned of a socket. */
enum sock_source {
	SRC_DUMP = 1,		/* periodic sock_diag or pcblist dump */
	SRC_DESTROY = 2,	/* sock_diag destroy multicast */
	SRC_LOOKUP = 3,		/* targeted query for flowd */
	SRC_EBPF = 4		/* eBPF hook */
};

struct sock_rec {
	uint64_t	ts_us;
	uint64_t	inode;		/* 0 unknown */
	uint64_t	cookie;		/* kernel socket cookie, 0 unknown */
	uint32_t	uid;		/* socket owner uid */
	int32_t		pid;		/* -1 unknown */
	uint16_t	lport, rport;
	uint8_t		event;		/* enum sock_event */
	uint8_t		source;		/* enum sock_source */
	uint8_t		ipver;
	uint8_t		proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t		state;		/* kernel TCP state, 0 for UDP */
	uint8_t		laddr[16], raddr[16];
	char		comm[VBS_COMM_MAX];	/* process name, "" unknown */
	char		exe[VBS_EXE_MAX];	/* executable path, "" unknown */
};

struct lookup_rec {
	uint64_t	ts_us;
	uint32_t	id;		/* echoed in the answer */
	uint16_t	lport, rport;	/* rport 0: any remote (UDP) */
	uint8_t		ipver;
	uint8_t		proto;
	uint8_t		laddr[16], raddr[16];
};

struct answer_rec {
	uint64_t	ts_us;
	uint32_t	id;
	uint32_t	latency_us;	/* look-up received to answer sent */
	uint8_t		found;
	struct sock_rec	sock;		/* valid when found */
};

struct local_net {
	uint8_t		ipver;
	uint8_t		prefixlen;
	uint8_t		addr[16];
};

struct hello_rec {
	uint64_t	ts_us;
	uint32_t	version;	/* VBS_PROTO_VERSION of the producer */
	char		producer[VBS_NAME_MAX];
	char		host[VBS_HOST_MAX];
	char		os[VBS_NAME_MAX];
	char		software[VBS_NAME_MAX];
	uint32_t	nifaces;
	char		ifaces[VBS_MAX_IFACES][VBS_IFNAME_MAX];
	uint32_t	nnets;
	struct local_net nets[VBS_MAX_NETS];
};

struct counter {
	char		name[VBS_NAME_MAX];
	uint64_t	value;
};

struct stats_rec {
	uint64_t	ts_us;
	uint32_t	ncounters;
	struct counter	counters[VBS_MAX_COUNTERS];
};

struct bye_rec {
	uint64_t	ts_us;
	char		reason[VBS_REASON_MAX];
};

/* One decoded record of any type. */
struct vbs_rec {
	int		type;		/* enum msg_type */
	union {
		struct hello_rec	hello;
		struct pkt_rec		pkt;
		struct sock_rec		sock;
		struct lookup_rec	lookup;
		struct answer_rec	answer;
		struct stats_rec	stats;
		struct bye_rec		bye;
	} u;
};

/*
 * mpack.c: a bounds-checked msgpack reader, as tcpdump reads packets
 * through GET_* macros.  Every getter checks the type and the remaining
 * length before it reads, and on failure writes an error that names the
 * offset and the field into cur->err.  Returns 0 on success, -1 on error.
 */
struct mp_cur {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
	const char	*field;		/* name of the field being read */
	char		*err;
	size_t		 errlen;
};
int	 mp_array(struct mp_cur *, uint32_t *);
int	 mp_map(struct mp_cur *, uint32_t *);
int	 mp_uint(struct mp_cur *, uint64_t, uint64_t *);
int	 mp_int(struct mp_cur *, int64_t, int64_t, int64_t *);
int	 mp_bool(struct mp_cur *, int *);
int	 mp_is_nil(struct mp_cur *);
int	 mp_str(struct mp_cur *, char *, size_t);
int	 mp_bin(struct mp_cur *, const uint8_t **, uint32_t *);
int	 mp_fail(struct mp_cur *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
const char *mp_type_name(uint8_t);

/* msg.c: building messages */
struct msg_builder {
	uint8_t		*buf;
	size_t		 len;		/* bytes used */
	size_t		 cap;
	int		 type;
	uint32_t	 nrec;
	int		 full;		/* a write did not fit */
	void		*pk;		/* msgpack_packer, private */
};
int	 msg_init(struct msg_builder *);
void	 msg_free(struct msg_builder *);
void	 msg_start(struct msg_builder *, int);
int	 msg_add(struct msg_builder *, const struct vbs_rec *);
size_t	 msg_finish(struct msg_builder *);	/* patches the count */
int	 msg_would_fit(const struct msg_builder *, size_t);
int	 msg_encode1(struct msg_builder *, const struct vbs_rec *);

/* msg.c: strict decoding */
struct msg_reader {
	const uint8_t	*buf;
	size_t		 len;
	size_t		 off;
	int		 type;
	uint32_t	 nrec;		/* records in this message */
	uint32_t	 index;		/* records read so far */
	char		 err[256];
};
int	 msg_open(struct msg_reader *, const void *, size_t);
int	 msg_next(struct msg_reader *, struct vbs_rec *);
const char *msg_type_name(int);
int	 msg_peek_ts(const void *, size_t, uint64_t *);

/* record.c: recording files */
#define REC_MAGIC	"\x89VBSREC\n"
#define REC_MAGIC_LEN	8
#define REC_HDR_LEN	16
struct rec_writer {
	FILE		*fp;
	int		 fd;
	uint64_t	 messages;
};
int	 rec_create(struct rec_writer *, const char *);
int	 rec_write(struct rec_writer *, const void *, size_t);
int	 rec_close(struct rec_writer *);

struct rec_reader {
	FILE		*fp;
	char		*path;
	uint8_t		*buf;		/* VBS_MSG_MAX */
	uint64_t	 off;		/* file offset of the current frame */
	uint64_t	 messages;
	char		 err[512];
};
int	 rec_open(struct rec_reader *, const char *);
int	 rec_open_fp(struct rec_reader *, FILE *, const char *);
int	 rec_read(struct rec_reader *, const uint8_t **, size_t *);
void	 rec_close_reader(struct rec_reader *);

/* merge.c: several recordings, one record at a time, in time order */
struct rec_merge;
struct rec_merge *merge_open(char * const *, int, char *, size_t);
int	 merge_next(struct rec_merge *, struct vbs_rec *, int *);
const char *merge_error(struct rec_merge *);
void	 merge_close(struct rec_merge *);

/* wire.c: SOCK_SEQPACKET transport */
int	 wire_listen(const char *);
int	 wire_connect(const char *);
ssize_t	 wire_send(int, const void *, size_t);
ssize_t	 wire_recv(int, void *, size_t);
int	 wire_peer(int, uid_t *, gid_t *, pid_t *);
int	 wire_peer_allowed(int, uid_t, char *, size_t);
int	 wire_nonblock(int);

/* outq.c: bounded queue of messages that a producer has not sent yet */
struct outq;
struct outq *outq_new(size_t);
void	 outq_free(struct outq *);
int	 outq_push(struct outq *, const void *, size_t, uint32_t);
int	 outq_flush(struct outq *, int);
size_t	 outq_bytes(const struct outq *);
uint64_t outq_dropped_records(const struct outq *);
uint64_t outq_dropped_messages(const struct outq *);

/* log.c */
void	 log_init(const char *, int, int);
void	 log_setverbose(int);
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/* util.c */
uint64_t now_us(void);
uint64_t mono_us(void);
int	 poll_ms(uint64_t, uint64_t, int);
const char *addr_ntop(uint8_t, const uint8_t *, char *, size_t);
int	 addr_pton(const char *, uint8_t *, uint8_t *);
int	 prefix_parse(const char *, struct local_net *);
int	 prefix_match(const struct local_net *, uint8_t, const uint8_t *);
void	 host_facts(struct hello_rec *, const char *);
void	 ready_notify(int);
int	 hex_digit(int);
uint64_t proc_stat(pid_t, char *, size_t, char *);

/* batch.c: the SQLite batch schema (proto/batch.sql, compiled in) */
#define BATCH_SCHEMA_VERSION	1
const char *batch_schema(void);
/*
 * The largest zstd window of an upload, log2: shipd compresses with at
 * most this (2 MB, what level 3 picks for any batch over 2 MB), and
 * ingestd refuses a frame that asks a bigger one, which it would have
 * to hold in memory for each connection.
 */
#define BATCH_ZSTD_WINDOW_LOG	21

/*
 * config.c: vbs.conf, INI with a section per process.  Every key has
 * an entry (type, default, doc) in one table in config.c; an unknown
 * section or key, or a value of the wrong type, fails with file:line.
 * Look-ups of a key that is not in the table are a programming error
 * and call fatalx().
 */
struct vbs_conf;
struct vbs_conf *conf_load(const char *, char *, size_t);
struct vbs_conf *conf_defaults(void);
void	 conf_free(struct vbs_conf *);
int	 conf_set(struct vbs_conf *, const char *, const char *,
	    const char *, char *, size_t);
const char *conf_str(const struct vbs_conf *, const char *, const char *);
long long conf_int(const struct vbs_conf *, const char *, const char *);
int	 conf_bool(const struct vbs_conf *, const char *, const char *);
void	 conf_print(const struct vbs_conf *, const char *, FILE *);
const char *conf_changed(const struct vbs_conf *, const struct vbs_conf *,
	    const char *);

/*
 * privdrop.c and sandbox_<os>.c: give up privileges in the order of
 * STYLE.md, fatal() on any failure.  keep_caps lists the capability
 * numbers to keep (CAP_* on Linux), ended by -1; NULL keeps none.
 */
struct priv_spec {
	const char	*user;		/* NULL: keep the current user */
	const char	*chroot;	/* NULL: no chroot */
	const int	*keep_caps;
};
void	 priv_drop(const struct priv_spec *);
/* sandbox_<os>.c: the system's part of priv_drop(), called only by it */
void	 sandbox_priv_prepare(const struct priv_spec *); /* before setuid */
void	 sandbox_priv_finish(const struct priv_spec *);	/* caps, no_new_privs */

/*
 * The seccomp allow-list (Linux), pledge promises (OpenBSD); each
 * process passes its own.  Syscalls named that this kernel or libseccomp
 * does not know are skipped.
 *
 * args (Linux): system calls allowed only when one argument equals a
 * value, one entry per value (an ioctl allowed for two requests has two
 * entries); with a mask, when the argument's bits under it equal the
 * value.  A call named here must not also be in syscalls, where any
 * argument would do: sandbox_enter() refuses that.
 *
 * paths (Linux, Landlock): where files may still be opened; NULL leaves
 * the file system to seccomp.  Where the kernel has no Landlock the
 * stage says so once and goes on.
 */
struct sandbox_arg {
	const char	*syscall;	/* NULL ends the list */
	unsigned int	 arg;		/* which argument, from 0 */
	uint64_t	 value;
	uint64_t	 mask;		/* 0: the whole argument */
};

#define SANDBOX_READ	0x1	/* open files, list directories */
#define SANDBOX_WRITE	0x2	/* and write, create, remove, rename */
struct sandbox_path {
	const char	*path;		/* NULL ends the list */
	int		 access;	/* SANDBOX_READ or SANDBOX_WRITE */
};

struct sandbox_spec {
	const char		*name;		/* for messages */
	const char * const	*syscalls;	/* NULL-terminated */
	const char		*pledge;
	const struct sandbox_arg *args;		/* NULL: none */
	const struct sandbox_path *paths;	/* NULL: no Landlock */
	/*
	 * Calls that fail with ENOSYS instead of killing, so that a
	 * library falls back to one whose arguments can be checked
	 * (clone3 to clone).  Linux only.
	 */
	const char * const	*nosys;
};
void	 sandbox_enter(const struct sandbox_spec *);
/*
 * Files only under these paths from now on (Linux: no_new_privs, then
 * Landlock; OpenBSD: unveil), for a process with no system call list
 * (ingestd on the BSDs, where Capsicum and pledge would forbid what its
 * libraries do).  Threads made afterwards inherit it; those made before
 * do not.
 */
void	 sandbox_paths(const char *, const struct sandbox_path *);

/* Built with AddressSanitizer (make sanitize), whose run-time needs more. */
#if defined(__SANITIZE_ADDRESS__)
#define VBS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VBS_ASAN 1
#endif
#endif

/*
 * Exit codes, documented in every man page (s6's habit).  EXIT_CONFIG
 * tells vbsd not to restart the stage.
 */
#define EXIT_OK		0
#define EXIT_INPUT	1	/* bad input file: read what could be */
#define EXIT_ADDRS	3	/* capd: host addresses changed */
#define EXIT_CONFIG	78	/* configuration error: do not restart */
#define EXIT_USAGE	100
#define EXIT_SYSTEM	111	/* a system call failed */

#endif /* VBS_PROTO_H */
