/*
 * sockd_freebsd.c: the FreeBSD socket tables, in sockd; compiled only
 * on FreeBSD (sockd/module.mk picks it).  The net.inet.tcp.pcblist and
 * net.inet.udp.pcblist sysctls, as netstat(1) and sockstat(1) read
 * them: a struct xinpgen, then one record per socket (struct xtcpcb or
 * struct xinpcb, each with its own length), then a closing xinpgen.
 * The kernel address of the socket (xso_so) is the cookie: it names the
 * socket for its life, and kern.file names its owner by it
 * (owner_freebsd.c).  FreeBSD has no destroy events and no query for one
 * socket: a look-up reads the protocol's list, and closes are seen by
 * the next dump.
 *
 * Trusts: the kernel's records, still length-checked; a list whose
 * generation changed while it was read is read again (bounded).
 */

#include <sys/param.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/socketvar.h>
#include <sys/sysctl.h>

#include <netinet/in.h>
#include <netinet/in_pcb.h>
#include <netinet/tcp_fsm.h>
#include <netinet/tcp_var.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sockd.h"

#define READ_TRIES	5

static uint8_t	*listbuf;
static size_t	 listcap;

int
backend_open(const char *netns)
{
	if (netns != NULL) {
		errno = EOPNOTSUPP;	/* jails: run sockd in the jail */
		return -1;
	}
	return 0;
}

void
backend_close(void)
{
	free(listbuf);
	listbuf = NULL;
	listcap = 0;
}

int
backend_event_fd(void)
{
	return -1;
}

int
backend_events(sock_cb cb, void *arg)
{
	(void)cb;
	(void)arg;
	return 0;
}

/* FreeBSD's TCP states in Linux's numbering (sockd.h). */
static uint8_t
tcp_state(int32_t s)
{
	static const uint8_t map[] = {
		[TCPS_CLOSED] = 7, [TCPS_LISTEN] = SOCK_TCP_LISTEN,
		[TCPS_SYN_SENT] = 2, [TCPS_SYN_RECEIVED] = 3,
		[TCPS_ESTABLISHED] = SOCK_TCP_ESTABLISHED,
		[TCPS_CLOSE_WAIT] = 8, [TCPS_FIN_WAIT_1] = 4,
		[TCPS_CLOSING] = 11, [TCPS_LAST_ACK] = 9,
		[TCPS_FIN_WAIT_2] = 5, [TCPS_TIME_WAIT] = 6
	};

	if (s < 0 || (size_t)s >= sizeof(map))
		return 0;
	return map[s];
}

/* A whole pcblist, read again while it changes under us. */
static int
read_list(const char *name, size_t *len)
{
	size_t	 need;
	int	 tries;
	uint8_t	*nb;

	for (tries = 0; tries < READ_TRIES; tries++) {
		need = 0;
		if (sysctlbyname(name, NULL, &need, NULL, 0) == -1)
			return -1;
		need += need / 4 + 4096;
		if (need > listcap) {
			if ((nb = realloc(listbuf, need)) == NULL)
				return -1;
			listbuf = nb;
			listcap = need;
		}
		*len = listcap;
		if (sysctlbyname(name, listbuf, len, NULL, 0) == 0)
			return 0;
		if (errno != ENOMEM)
			return -1;
	}
	errno = EAGAIN;
	return -1;
}

static int
xinp_to_rec(const struct xinpcb *xi, int proto, int32_t state,
    struct sock_rec *r)
{
	const struct in_conninfo	*inc = &xi->inp_inc;

	memset(r, 0, offsetof(struct sock_rec, comm));
	r->comm[0] = r->exe[0] = '\0';
	r->ts_us = now_us();
	r->pid = -1;
	r->cookie = (uint64_t)xi->xi_socket.xso_so;
	r->uid = xi->xi_socket.so_uid;
	r->proto = (uint8_t)proto;
	r->state = proto == IPPROTO_TCP ? tcp_state(state) : 0;
	r->lport = ntohs(inc->inc_lport);
	r->rport = ntohs(inc->inc_fport);
	if (xi->inp_vflag & INP_IPV4) {
		r->ipver = 4;
		memcpy(r->laddr, &inc->inc_laddr, 4);
		memcpy(r->raddr, &inc->inc_faddr, 4);
	} else if (xi->inp_vflag & INP_IPV6) {
		r->ipver = 6;
		memcpy(r->laddr, &inc->inc6_laddr, 16);
		memcpy(r->raddr, &inc->inc6_faddr, 16);
	} else
		return -1;
	return 0;
}

/* Every socket of one protocol, cb once each. */
static int
dump_proto(int proto, sock_cb cb, void *arg)
{
	const struct xinpgen	*xig;
	const struct xtcpcb	*xt;
	const struct xinpcb	*xi;
	struct sock_rec		 rec;
	size_t			 len, off;
	int			 count = 0;

	if (read_list(proto == IPPROTO_TCP ? "net.inet.tcp.pcblist" :
	    "net.inet.udp.pcblist", &len) == -1)
		return -1;
	if (len < sizeof(*xig))
		return 0;
	xig = (const struct xinpgen *)(const void *)listbuf;
	if (xig->xig_len < sizeof(*xig) || xig->xig_len > len) {
		errno = EPROTO;
		return -1;
	}
	for (off = xig->xig_len; off + sizeof(ksize_t) <= len; ) {
		xig = (const struct xinpgen *)(const void *)(listbuf + off);
		/* The closing xinpgen is shorter than any record. */
		if (xig->xig_len <= sizeof(struct xinpgen))
			break;
		if (xig->xig_len > len - off) {
			errno = EPROTO;
			return -1;
		}
		if (proto == IPPROTO_TCP) {
			if (xig->xig_len < sizeof(*xt))
				break;
			xt = (const struct xtcpcb *)(const void *)xig;
			xi = &xt->xt_inp;
			if (xinp_to_rec(xi, proto, xt->t_state, &rec) == 0 &&
			    xt->t_state != TCPS_TIME_WAIT) {
				count++;
				cb(arg, &rec);
			}
		} else {
			if (xig->xig_len < sizeof(*xi))
				break;
			xi = (const struct xinpcb *)(const void *)xig;
			if (xinp_to_rec(xi, proto, 0, &rec) == 0) {
				count++;
				cb(arg, &rec);
			}
		}
		off += xig->xig_len;
	}
	return count;
}

int
backend_dump(sock_cb cb, void *arg)
{
	int	 t, u;

	if ((t = dump_proto(IPPROTO_TCP, cb, arg)) == -1 ||
	    (u = dump_proto(IPPROTO_UDP, cb, arg)) == -1)
		return -1;
	return t + u;
}

struct lookup_acc {
	const struct lookup_rec	*q;
	struct sock_rec		*out;
	int			 n, max;
	int			 exact;	/* out[0] matched both ends */
};

static int
addr_is(const uint8_t *a, const uint8_t *b, int ipver)
{
	return memcmp(a, b, ipver == 4 ? 4 : 16) == 0;
}

static int
addr_zero(const uint8_t *a)
{
	static const uint8_t	z[16];

	return memcmp(a, z, sizeof(z)) == 0;
}

/* The exact 4-tuple first; then a listener or unconnected socket. */
static void
lookup_cb(void *arg, struct sock_rec *r)
{
	struct lookup_acc	*acc = arg;
	const struct lookup_rec	*q = acc->q;
	int			 exact;

	if (r->ipver != q->ipver || r->lport != q->lport)
		return;
	if (!addr_zero(r->laddr) && !addr_is(r->laddr, q->laddr, q->ipver))
		return;
	exact = q->rport != 0 && r->rport == q->rport &&
	    addr_is(r->raddr, q->raddr, q->ipver);
	if (!exact && r->rport != 0)
		return;		/* another connection on this port */
	if (exact && !acc->exact) {
		if (acc->n == acc->max)
			acc->n--;
		memmove(&acc->out[1], &acc->out[0],
		    (size_t)acc->n * sizeof(*r));
		acc->out[0] = *r;
		acc->n++;
		acc->exact = 1;
	} else if (acc->n < acc->max)
		acc->out[acc->n++] = *r;
}

int
backend_lookup(const struct lookup_rec *q, struct sock_rec *out, int max)
{
	struct lookup_acc	acc = { q, out, 0, max, 0 };

	if (q->proto != IPPROTO_TCP && q->proto != IPPROTO_UDP)
		return 0;
	if (q->ipver != 4 && q->ipver != 6)
		return 0;
	if (dump_proto(q->proto, lookup_cb, &acc) == -1)
		return -1;
	return acc.n;
}
