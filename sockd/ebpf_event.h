/*
 * ebpf_event.h: the record sockd's BPF programs (ebpf.bpf.c) put in
 * their ring buffer, read by ebpf_linux.c.  Shared by the kernel side
 * (clang -target bpf) and sockd; only fixed-size kernel types.
 */

#ifndef EBPF_EVENT_H
#define EBPF_EVENT_H

#include <linux/types.h>

#define EBPF_HOOK_UDP		1	/* sock_send_length */
#define EBPF_HOOK_TCP		2	/* inet_sock_set_state */

/* The process that made a socket, and the image it runs. */
struct ebpf_who {
	__u64	start_ns;	/* the leader's start_boottime, 0 unknown */
	__u64	exe_ino;	/* its executable's inode, 0 unknown */
	__u32	exe_dev;	/* and device (the kernel's dev_t) */
};

struct ebpf_event {
	__u64	cookie;		/* bpf_get_socket_cookie */
	__u64	inode;		/* the socket's inode, 0 unknown */
	struct ebpf_who who;
	__u32	tgid;
	__u32	uid;
	__u16	family;		/* of the socket: AF_INET or AF_INET6 */
	__u16	lport;		/* host order */
	__u16	dport;		/* network order, 0 unconnected */
	__u8	hook;		/* EBPF_HOOK_* */
	__u8	pkt_ver;	/* 4 or 6: the first datagram's header, 0 none */
	__u32	saddr4, daddr4;	/* network order */
	__u8	saddr6[16], daddr6[16];
	__u8	pkt_src[16], pkt_dst[16];
	__u16	pkt_sport, pkt_dport;	/* network order */
	char	comm[16];
};

#endif /* EBPF_EVENT_H */
