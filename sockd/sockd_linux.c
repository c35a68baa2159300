/*
 * sockd_linux.c: the Linux socket tables, read with netlink sock_diag
 * (the interface ss(8) uses), in sockd.  Three things: full dumps of
 * TCP and UDP over IPv4 and IPv6; the destroy multicast groups (Linux
 * 4.2 and later), which report every socket as it is freed, so that a
 * socket that lived between two dumps is still seen closing; and
 * targeted queries for one 4-tuple, which is how look-ups are answered
 * without a dump.  All of it works in the network namespace that was
 * current when backend_open() ran.
 *
 * Trusts: the kernel's replies (still length-checked, never read past).
 */

#include <sys/socket.h>
#include <sys/types.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "sockd.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK	270
#endif
#define TCP_NEW_SYN_RECV	12

/* Sockets not owned by any process: left out of dumps. */
#define DUMP_STATES	(~((1U << TCP_TIME_WAIT) | (1U << TCP_NEW_SYN_RECV)))

#define NL_BUFSIZE	(64 * 1024)

static int	 diag_fd = -1;		/* dumps and queries */
static int	 destroy_fd = -1;	/* destroy multicast */
static uint32_t	 nlseq;
static uint8_t	 nlbuf[NL_BUFSIZE] __attribute__((aligned(8)));

static int
nl_socket(void)
{
	struct sockaddr_nl	sa;
	int			fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
backend_open(const char *netns)
{
	static const int groups[] = { SKNLGRP_INET_TCP_DESTROY,
	    SKNLGRP_INET_UDP_DESTROY, SKNLGRP_INET6_TCP_DESTROY,
	    SKNLGRP_INET6_UDP_DESTROY };
	int	 nsfd, one = 1, rcvbuf = 8 * 1024 * 1024;
	size_t	 i;

	if (netns != NULL) {
		if ((nsfd = open(netns, O_RDONLY | O_CLOEXEC)) == -1)
			return -1;
		if (setns(nsfd, CLONE_NEWNET) == -1) {
			close(nsfd);
			return -1;
		}
		close(nsfd);
	}
	if ((diag_fd = nl_socket()) == -1)
		return -1;
	if ((destroy_fd = nl_socket()) == -1)
		return -1;
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (setsockopt(destroy_fd, SOL_NETLINK,
		    NETLINK_ADD_MEMBERSHIP, &groups[i], sizeof(groups[i])) == -1)
			return -1;
	setsockopt(destroy_fd, SOL_NETLINK, NETLINK_PKTINFO, &one,
	    sizeof(one));
	/* A burst of closes must not overrun: FORCE needs CAP_NET_ADMIN. */
	if (setsockopt(destroy_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
	    sizeof(rcvbuf)) == -1)
		setsockopt(destroy_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		    sizeof(rcvbuf));
	if (fcntl(destroy_fd, F_SETFL, O_NONBLOCK) == -1)
		return -1;
	return 0;
}

void
backend_close(void)
{
	if (diag_fd != -1)
		close(diag_fd);
	if (destroy_fd != -1)
		close(destroy_fd);
	diag_fd = destroy_fd = -1;
}

int
backend_event_fd(void)
{
	return destroy_fd;
}

static int
is_v4mapped(const uint32_t *a)
{
	return a[0] == 0 && a[1] == 0 && a[2] == htonl(0xffff);
}

/*
 * One inet_diag_msg into a record.  An IPv6 socket talking to an IPv4
 * peer is reported as IPv4: the packets flowd sees are.
 */
static int
diag_to_rec(const struct nlmsghdr *nh, int proto, struct sock_rec *r)
{
	const struct inet_diag_msg	*m = NLMSG_DATA(nh);
	const uint32_t			*src, *dst;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -1;
	memset(r, 0, offsetof(struct sock_rec, comm));
	r->comm[0] = r->exe[0] = '\0';
	r->ts_us = now_us();
	r->pid = -1;
	r->inode = m->idiag_inode;
	r->uid = m->idiag_uid;
	r->cookie = (uint64_t)m->id.idiag_cookie[0] |
	    (uint64_t)m->id.idiag_cookie[1] << 32;
	r->lport = ntohs(m->id.idiag_sport);
	r->rport = ntohs(m->id.idiag_dport);
	r->proto = (uint8_t)proto;
	r->state = proto == IPPROTO_TCP ? m->idiag_state : 0;
	src = m->id.idiag_src;
	dst = m->id.idiag_dst;
	if (m->idiag_family == AF_INET) {
		r->ipver = 4;
		memcpy(r->laddr, src, 4);
		memcpy(r->raddr, dst, 4);
	} else if (m->idiag_family == AF_INET6) {
		if (is_v4mapped(src) && (is_v4mapped(dst) ||
		    (dst[0] | dst[1] | dst[2] | dst[3]) == 0) &&
		    (dst[0] | dst[1] | dst[2] | dst[3] | r->rport) != 0) {
			r->ipver = 4;
			memcpy(r->laddr, &src[3], 4);
			memcpy(r->raddr, &dst[3], 4);
		} else {
			r->ipver = 6;
			memcpy(r->laddr, src, 16);
			memcpy(r->raddr, dst, 16);
		}
	} else
		return -1;
	return 0;
}

static int
nl_send(void *msg, size_t len)
{
	struct sockaddr_nl	sa;

	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	if (sendto(diag_fd, msg, len, 0, (struct sockaddr *)&sa,
	    sizeof(sa)) == -1)
		return -1;
	return 0;
}

static int
diag_send(int family, int proto, int flags, const struct inet_diag_sockid *id)
{
	struct {
		struct nlmsghdr		nh;
		struct inet_diag_req_v2	req;
	} msg;

	memset(&msg, 0, sizeof(msg));
	msg.nh.nlmsg_len = sizeof(msg);
	msg.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nh.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
	msg.nh.nlmsg_seq = ++nlseq;
	msg.req.sdiag_family = (uint8_t)family;
	msg.req.sdiag_protocol = (uint8_t)proto;
	msg.req.idiag_states = DUMP_STATES;
	if (id != NULL)
		msg.req.id = *id;
	else
		msg.req.id.idiag_cookie[0] = msg.req.id.idiag_cookie[1] =
		    INET_DIAG_NOCOOKIE;
	return nl_send(&msg, sizeof(msg));
}

/*
 * The kernel walks its whole established hash for each TCP dump
 * (hundreds of microseconds however few sockets there are).  The old
 * TCPDIAG_GETSOCK request dumps IPv4 and IPv6 in one walk, halving it.
 */
static int
diag_send_tcp_compat(void)
{
	struct {
		struct nlmsghdr		nh;
		struct inet_diag_req	req;
	} msg;

	memset(&msg, 0, sizeof(msg));
	msg.nh.nlmsg_len = sizeof(msg);
	msg.nh.nlmsg_type = TCPDIAG_GETSOCK;
	msg.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.nh.nlmsg_seq = ++nlseq;
	msg.req.idiag_states = DUMP_STATES;
	msg.req.id.idiag_cookie[0] = msg.req.id.idiag_cookie[1] =
	    INET_DIAG_NOCOOKIE;
	return nl_send(&msg, sizeof(msg));
}

/*
 * Read the replies to the request just sent until NLMSG_DONE (dumps) or
 * the one reply (queries).  Returns the number of sockets, -1 on error
 * with errno set (ENOENT: a query found nothing).
 */
static int
diag_recv(int proto, int dump, sock_cb cb, void *arg)
{
	struct sock_rec		 rec;
	struct nlmsghdr		*nh;
	struct nlmsgerr		*ne;
	ssize_t			 n;
	size_t			 left;
	int			 count = 0;

	for (;;) {
		n = recv(diag_fd, nlbuf, sizeof(nlbuf), 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		left = (size_t)n;
		for (nh = (struct nlmsghdr *)nlbuf; NLMSG_OK(nh, left);
		    nh = NLMSG_NEXT(nh, left)) {
			if (nh->nlmsg_seq != nlseq)
				continue;	/* an earlier, abandoned request */
			if (nh->nlmsg_type == NLMSG_DONE)
				return count;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				ne = NLMSG_DATA(nh);
				if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ne))) {
					errno = EPROTO;
					return -1;
				}
				if (ne->error == 0)
					return count;
				errno = -ne->error;
				return -1;
			}
			/* The old request's replies keep its type. */
			if (nh->nlmsg_type != SOCK_DIAG_BY_FAMILY &&
			    nh->nlmsg_type != TCPDIAG_GETSOCK)
				continue;
			if (diag_to_rec(nh, proto, &rec) == -1)
				continue;
			count++;
			cb(arg, &rec);
			if (!dump)
				return count;
		}
	}
}

static int	compat_tcp = 1;

int
backend_dump(sock_cb cb, void *arg)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	static const int protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	size_t	 f, p;
	int	 n, total = 0;

	if (compat_tcp) {
		if (diag_send_tcp_compat() == -1)
			return -1;
		if ((n = diag_recv(IPPROTO_TCP, 1, cb, arg)) >= 0)
			total += n;
		else if (errno == EINVAL || errno == ENOENT ||
		    errno == EOPNOTSUPP) {
			log_info("no TCPDIAG_GETSOCK: two TCP dumps");
			compat_tcp = 0;
		} else
			return -1;
	}
	for (f = 0; f < 2; f++)
		for (p = compat_tcp ? 1 : 0; p < 2; p++) {
			if (diag_send(fams[f], protos[p], NLM_F_DUMP,
			    NULL) == -1)
				return -1;
			if ((n = diag_recv(protos[p], 1, cb, arg)) == -1) {
				/* No IPv6 in this kernel is no error. */
				if (fams[f] == AF_INET6 &&
				    (errno == ENOENT || errno == EAFNOSUPPORT))
					continue;
				return -1;
			}
			total += n;
		}
	return total;
}

/*
 * Destroy events: the group says which protocol; newer kernels also put
 * it in INET_DIAG_PROTOCOL.
 */
int
backend_events(sock_cb cb, void *arg)
{
	struct sock_rec		 rec;
	struct nlmsghdr		*nh;
	struct msghdr		 mh;
	struct iovec		 iov;
	struct cmsghdr		*cm;
	struct nl_pktinfo	 pi;
	union {
		struct cmsghdr	c;
		uint8_t		b[CMSG_SPACE(sizeof(struct nl_pktinfo))];
	} cbuf;
	ssize_t			 n;
	size_t			 left;
	int			 proto, count = 0, rounds;

	for (rounds = 0; rounds < 256; rounds++) {
		iov.iov_base = nlbuf;
		iov.iov_len = sizeof(nlbuf);
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = &cbuf;
		mh.msg_controllen = sizeof(cbuf);
		n = recvmsg(destroy_fd, &mh, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return count;
			if (errno == ENOBUFS) {
				/* Lost some: the next dump catches up. */
				stats.destroy_overruns++;
				continue;
			}
			return -1;
		}
		pi.group = 0;
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL;
		    cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_NETLINK &&
			    cm->cmsg_type == NETLINK_PKTINFO &&
			    cm->cmsg_len >= CMSG_LEN(sizeof(pi)))
				memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
		switch (pi.group) {
		case SKNLGRP_INET_TCP_DESTROY:
		case SKNLGRP_INET6_TCP_DESTROY:
			proto = IPPROTO_TCP;
			break;
		case SKNLGRP_INET_UDP_DESTROY:
		case SKNLGRP_INET6_UDP_DESTROY:
			proto = IPPROTO_UDP;
			break;
		default:
			continue;
		}
		left = (size_t)n;
		for (nh = (struct nlmsghdr *)nlbuf; NLMSG_OK(nh, left);
		    nh = NLMSG_NEXT(nh, left)) {
			if (nh->nlmsg_type != SOCK_DIAG_BY_FAMILY)
				continue;
			if (diag_to_rec(nh, proto, &rec) == -1)
				continue;
			rec.event = SOCK_CLOSE;
			rec.source = SRC_DESTROY;
			count++;
			cb(arg, &rec);
		}
	}
	return count;
}

struct lookup_acc {
	struct sock_rec	*out;
	int		 n, max;
};

static void
lookup_add(void *arg, struct sock_rec *r)
{
	struct lookup_acc	*acc = arg;

	if (acc->n < acc->max)
		acc->out[acc->n++] = *r;
}

/*
 * One query for one exact socket.  inet_diag looks TCP up as a packet
 * arriving at the local side would be (src = local); UDP "for
 * historical reasons" the other way round (src = remote).  A query
 * whose remote is all zero finds a listener, or an unconnected UDP
 * socket, including one bound to the wildcard address.
 */
static int
lookup_one(int family, int proto, const uint8_t *laddr, uint16_t lport,
    const uint8_t *raddr, uint16_t rport, struct lookup_acc *acc)
{
	struct inet_diag_sockid	 id;
	size_t			 alen = family == AF_INET ? 4 : 16;
	int			 n;

	memset(&id, 0, sizeof(id));
	id.idiag_cookie[0] = id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (proto == IPPROTO_TCP) {
		id.idiag_sport = htons(lport);
		id.idiag_dport = htons(rport);
		memcpy(id.idiag_src, laddr, alen);
		memcpy(id.idiag_dst, raddr, alen);
	} else {
		id.idiag_sport = htons(rport);
		id.idiag_dport = htons(lport);
		memcpy(id.idiag_src, raddr, alen);
		memcpy(id.idiag_dst, laddr, alen);
	}
	if (diag_send(family, proto, 0, &id) == -1)
		return -1;
	n = diag_recv(proto, 0, lookup_add, acc);
	if (n == -1 && (errno == ENOENT || errno == EAFNOSUPPORT))
		return 0;
	return n;
}

int
backend_lookup(const struct lookup_rec *q, struct sock_rec *out, int max)
{
	static const uint8_t	 any[16];
	struct lookup_acc	 acc = { out, 0, max };
	int			 family, n;

	if (q->ipver == 4)
		family = AF_INET;
	else if (q->ipver == 6)
		family = AF_INET6;
	else
		return 0;
	if (q->proto != IPPROTO_TCP && q->proto != IPPROTO_UDP)
		return 0;
	n = lookup_one(family, q->proto, q->laddr, q->lport, q->raddr,
	    q->rport, &acc);
	if (n == -1)
		return -1;
	/*
	 * Nothing for the exact pair: a UDP socket that is not connected
	 * (look it up by local port), or a TCP connection not yet accepted
	 * (its listener owns it).
	 */
	if (acc.n == 0 && q->rport != 0 &&
	    lookup_one(family, q->proto, q->laddr, q->lport, any, 0,
	    &acc) == -1)
		return -1;
	if (acc.n > 0 && acc.out[0].inode == 0 && q->proto == IPPROTO_TCP &&
	    q->rport != 0 && acc.n < max &&
	    lookup_one(family, q->proto, q->laddr, q->lport, any, 0,
	    &acc) == -1)
		return -1;
	return acc.n;
}
