/*
 * ebpf.bpf.c: sockd's BPF programs, on tracepoints the kernel runs in
 * the context of the process that sends (UDP) or connects (TCP).  They
 * name the owner of sockets that live too briefly for sock_diag and
 * /proc: once per socket, a record (cookie, tgid, uid, comm, start time,
 * the executable's inode and device, addresses) goes to a ring buffer
 * that sockd reads.  A small LRU hash of cookies keeps each socket to
 * one record.  Only sockets of one network namespace (conf[0], its
 * inode number) are reported.
 *
 * tp_btf programs, not fentry: kernels without ftrace direct calls
 * refuse fentry (EPERM) but keep BTF tracepoints.
 *  - UDP: net:net_dev_queue sees the first datagram leave (inside
 *    sendmsg) and keeps its addresses, which an unconnected socket
 *    never stores; sock:sock_send_length (end of sendmsg, the sender's
 *    context, Linux 6.3) reports the socket with them.
 *  - TCP: sock:inet_sock_set_state to SYN_SENT (in connect(), before a
 *    port is chosen) keeps the owner; leaving SYN_SENT (established or
 *    refused, often in softirq) reports it with the final addresses.
 *
 * Compiled by clang -target bpf; the kernel structures are declared
 * here with just the fields read, relocated by CO-RE against the
 * running kernel's BTF, so no vmlinux.h is needed.
 *
 * Trusts: the kernel's structures (read with bpf_core_read only).
 */

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "ebpf_event.h"

#define AF_INET		2
#define AF_INET6	10
#define PROTO_TCP	6
#define PROTO_UDP	17
#define TCP_SYN_SENT	2

struct ns_common {
	unsigned int	inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
	struct net	*net;
} possible_net_t;

struct in6_addr {
	union {
		__u8	u6_addr8[16];
	} in6_u;
} __attribute__((preserve_access_index));

struct sock_common {
	__be32		skc_daddr;
	__be32		skc_rcv_saddr;
	__be16		skc_dport;
	__u16		skc_num;
	unsigned short	skc_family;
	possible_net_t	skc_net;
	struct in6_addr	skc_v6_daddr;
	struct in6_addr	skc_v6_rcv_saddr;
	struct {
		__s64	counter;
	} skc_cookie;
} __attribute__((preserve_access_index));

struct super_block {
	__u32		s_dev;
} __attribute__((preserve_access_index));

struct inode {
	unsigned long	i_ino;
	struct super_block *i_sb;
} __attribute__((preserve_access_index));

struct file {
	struct inode	*f_inode;
} __attribute__((preserve_access_index));

struct socket {
	struct file	*file;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16		sk_protocol;
	struct socket	*sk_socket;
} __attribute__((preserve_access_index));

struct inet_sock {
	__be16		inet_sport;
} __attribute__((preserve_access_index));

struct sk_buff {
	struct sock	*sk;
	unsigned char	*head;
	__u16		network_header;
	__u16		transport_header;
} __attribute__((preserve_access_index));

struct mm_struct {
	struct file		*exe_file;
} __attribute__((preserve_access_index));

struct task_struct {
	struct task_struct	*group_leader;
	struct mm_struct	*mm;
	char			 comm[16];
	__u64			 start_boottime;
} __attribute__((preserve_access_index));

/*
 * The process's name, not the thread's: a program that sends from a
 * worker thread (dig's "isc-net-0000") is still the program /proc
 * names.  Falls back to the thread's name if the leader cannot be read.
 * With it, the leader's start time (what /proc/PID/stat gives in clock
 * ticks) and its executable's inode and device, 0 if unknown: the same
 * process running the same image, so that sockd reads the executable's
 * path once, not for every socket; an exec changes the image.
 */
static __always_inline void
process_id(char *dst, struct ebpf_who *id)
{
	struct task_struct	*t = (struct task_struct *)bpf_get_current_task();
	struct task_struct	*leader = BPF_CORE_READ(t, group_leader);

	__builtin_memset(id, 0, sizeof(*id));
	if (leader == 0 || bpf_core_read_str(dst, 16, &leader->comm) <= 1) {
		bpf_get_current_comm(dst, 16);
		return;
	}
	if (bpf_core_field_exists(leader->start_boottime))
		id->start_ns = BPF_CORE_READ(leader, start_boottime);
	id->exe_ino = BPF_CORE_READ(leader, mm, exe_file, f_inode, i_ino);
	id->exe_dev = BPF_CORE_READ(leader, mm, exe_file, f_inode, i_sb,
	    s_dev);
}

/* The first datagram of a socket, or the owner of a connecting one. */
struct pending {
	struct ebpf_who who;
	__u32	tgid;
	__u32	uid;
	char	comm[16];
	__u8	ver;
	__u8	src[16], dst[16];
	__u16	sport, dport;
};

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} seen SEC(".maps");

/* Keyed by the socket's address: written and read within one call. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct pending);
} pending SEC(".maps");

/* conf[0]: inode of the network namespace to report, 0 for all. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} conf SEC(".maps");

static __always_inline int
wanted(const struct sock *sk)
{
	__u32	k = 0, *want, inum;

	want = bpf_map_lookup_elem(&conf, &k);
	if (want != 0 && *want != 0) {
		inum = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
		if (inum != *want)
			return 0;
	}
	return 1;
}

static __always_inline void
fill_sock(struct ebpf_event *e, const struct sock *sk)
{
	e->inode = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	/* A refused connection has given its port back: the header's. */
	if (e->lport == 0)
		e->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk,
		    inet_sport));
	e->dport = BPF_CORE_READ(sk, __sk_common.skc_dport);
	e->saddr4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
	e->daddr4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	if (e->family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->saddr6, sk,
		    __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->daddr6, sk,
		    __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
}

/* Reserve a record for a socket not yet reported, or NULL. */
static __always_inline struct ebpf_event *
first(__u64 cookie)
{
	struct ebpf_event	*e;
	__u8			 one = 1;

	if (bpf_map_lookup_elem(&seen, &cookie) != 0)
		return 0;
	if (bpf_map_update_elem(&seen, &cookie, &one, BPF_NOEXIST) != 0)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e == 0) {
		/* Full: let a later call try again. */
		bpf_map_delete_elem(&seen, &cookie);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->cookie = cookie;
	return e;
}

static __always_inline int
is_user_udp(const struct sock *sk)
{
	unsigned short	fam;

	if (sk == 0 || BPF_CORE_READ(sk, sk_protocol) != PROTO_UDP)
		return 0;
	fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (fam != AF_INET && fam != AF_INET6)
		return 0;
	/* Kernel sockets (tunnels) have no file: not ours to name. */
	return BPF_CORE_READ(sk, sk_socket, file) != 0;
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(sockd_dev_queue, struct sk_buff *skb)
{
	struct pending	 p;
	struct sock	*sk;
	unsigned char	*head, *nh;
	__u16		 ports[2];
	__u8		 v;
	__u64		 key;

	sk = BPF_CORE_READ(skb, sk);
	if (!is_user_udp(sk) || !wanted(sk))
		return 0;
	/* Reported already: its cookie exists once it was. */
	key = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (key != 0 && bpf_map_lookup_elem(&seen, &key) != 0)
		return 0;
	key = (__u64)(unsigned long)sk;
	__builtin_memset(&p, 0, sizeof(p));
	head = BPF_CORE_READ(skb, head);
	nh = head + BPF_CORE_READ(skb, network_header);
	if (bpf_probe_read_kernel(&v, 1, nh) != 0)
		return 0;
	v >>= 4;
	if (v == 4) {
		if (bpf_probe_read_kernel(p.src, 4, nh + 12) != 0 ||
		    bpf_probe_read_kernel(p.dst, 4, nh + 16) != 0)
			return 0;
	} else if (v == 6) {
		if (bpf_probe_read_kernel(p.src, 16, nh + 8) != 0 ||
		    bpf_probe_read_kernel(p.dst, 16, nh + 24) != 0)
			return 0;
	} else
		return 0;
	if (bpf_probe_read_kernel(ports, sizeof(ports),
	    head + BPF_CORE_READ(skb, transport_header)) != 0)
		return 0;
	p.ver = v;
	p.sport = ports[0];
	p.dport = ports[1];
	bpf_map_update_elem(&pending, &key, &p, BPF_ANY);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sockd_send, struct sock *sk, int ret, int flags)
{
	struct ebpf_event	*e;
	struct pending		*p;
	__u64			 key, id;

	if (!is_user_udp(sk) || !wanted(sk))
		return 0;
	key = (__u64)(unsigned long)sk;
	e = first(bpf_get_socket_cookie(sk));
	if (e == 0) {
		bpf_map_delete_elem(&pending, &key);
		return 0;
	}
	e->hook = EBPF_HOOK_UDP;
	id = bpf_get_current_pid_tgid();
	e->tgid = (__u32)(id >> 32);
	e->uid = (__u32)bpf_get_current_uid_gid();
	process_id(e->comm, &e->who);
	fill_sock(e, sk);
	/*
	 * Only this socket's own datagram: an entry left by a datagram
	 * sent later (after ARP) for a socket freed since at the same
	 * address has another port.
	 */
	if ((p = bpf_map_lookup_elem(&pending, &key)) != 0 &&
	    bpf_ntohs(p->sport) == e->lport) {
		e->pkt_ver = p->ver;
		__builtin_memcpy(e->pkt_src, p->src, 16);
		__builtin_memcpy(e->pkt_dst, p->dst, 16);
		e->pkt_sport = p->sport;
		e->pkt_dport = p->dport;
		bpf_map_delete_elem(&pending, &key);
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sockd_tcp_state, struct sock *sk, int oldstate, int newstate)
{
	struct ebpf_event	*e;
	struct pending		 p, *q;
	__u64			 key, id;

	if (BPF_CORE_READ(sk, sk_protocol) != PROTO_TCP)
		return 0;
	key = (__u64)(unsigned long)sk;
	if (newstate == TCP_SYN_SENT) {
		if (!wanted(sk))
			return 0;
		__builtin_memset(&p, 0, sizeof(p));
		id = bpf_get_current_pid_tgid();
		p.tgid = (__u32)(id >> 32);
		p.uid = (__u32)bpf_get_current_uid_gid();
		process_id(p.comm, &p.who);
		bpf_map_update_elem(&pending, &key, &p, BPF_ANY);
		return 0;
	}
	if (oldstate != TCP_SYN_SENT)
		return 0;
	if ((q = bpf_map_lookup_elem(&pending, &key)) == 0)
		return 0;
	e = first(bpf_get_socket_cookie(sk));
	if (e != 0) {
		e->hook = EBPF_HOOK_TCP;
		e->tgid = q->tgid;
		e->uid = q->uid;
		__builtin_memcpy(e->comm, q->comm, sizeof(e->comm));
		e->who = q->who;
		fill_sock(e, sk);
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&pending, &key);
	return 0;
}
