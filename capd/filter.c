/*
 * filter.c: what capd keeps, from the host's own addresses.  Reads the
 * addresses and subnets of the interfaces (getifaddrs), builds the BPF
 * filter that leaves out traffic between two hosts of a local subnet
 * and VBS's own uploads to its server, and watches for address changes
 * (a netlink socket on Linux, polling elsewhere).  capd does not
 * re-filter on a change: it exits with EXIT_ADDRS and the master starts
 * it again with the new addresses, which keeps the sandboxed capd free
 * of any need to re-read the system.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#endif

#include "capd.h"

static int
net_known(const struct local_net *v, int n, const struct local_net *x)
{
	int	i;

	for (i = 0; i < n; i++)
		if (v[i].ipver == x->ipver && v[i].prefixlen == x->prefixlen &&
		    memcmp(v[i].addr, x->addr, 16) == 0)
			return 1;
	return 0;
}

static int
mask_len(const uint8_t *m, int n)
{
	int	i, len = 0;

	for (i = 0; i < n; i++) {
		uint8_t b = m[i];

		while (b & 0x80) {
			len++;
			b = (uint8_t)(b << 1);
		}
		if (m[i] != 0xff)
			break;
	}
	return len;
}

/*
 * The host's addresses (for direction) and subnets (for the filter),
 * appended to what -L and local_networks already put there.  Returns
 * the number of host addresses found.
 */
int
filter_host_addrs(struct capd *c)
{
	struct ifaddrs	*all, *a;
	struct local_net h, s;
	const uint8_t	*ad, *mk;
	int		 n = 0, alen, i;

	if (getifaddrs(&all) == -1)
		fatal("getifaddrs");
	for (a = all; a != NULL; a = a->ifa_next) {
		if (a->ifa_addr == NULL)
			continue;
		memset(&h, 0, sizeof(h));
		if (a->ifa_addr->sa_family == AF_INET) {
			h.ipver = 4;
			alen = 4;
			ad = (const uint8_t *)&((const struct sockaddr_in *)
			    (const void *)a->ifa_addr)->sin_addr;
			mk = a->ifa_netmask == NULL ? NULL :
			    (const uint8_t *)&((const struct sockaddr_in *)
			    (const void *)a->ifa_netmask)->sin_addr;
		} else if (a->ifa_addr->sa_family == AF_INET6) {
			h.ipver = 6;
			alen = 16;
			ad = (const uint8_t *)&((const struct sockaddr_in6 *)
			    (const void *)a->ifa_addr)->sin6_addr;
			mk = a->ifa_netmask == NULL ? NULL :
			    (const uint8_t *)&((const struct sockaddr_in6 *)
			    (const void *)a->ifa_netmask)->sin6_addr;
		} else
			continue;
		memcpy(h.addr, ad, (size_t)alen);
		h.prefixlen = (uint8_t)(alen * 8);
		if (!net_known(c->dirnets, c->ndirnets, &h) &&
		    c->ndirnets < VBS_MAX_NETS) {
			c->dirnets[c->ndirnets++] = h;
			n++;
		}
		/* Loopback is never "another host of the subnet". */
		if (mk == NULL || (a->ifa_flags & IFF_LOOPBACK))
			continue;
		s = h;
		s.prefixlen = (uint8_t)mask_len(mk, alen);
		for (i = 0; i < alen; i++)
			s.addr[i] &= mk[i];
		if (s.prefixlen > 0 && s.prefixlen < alen * 8 &&
		    !net_known(c->subnets, c->nsubnets, &s) &&
		    c->nsubnets < VBS_MAX_NETS)
			c->subnets[c->nsubnets++] = s;
	}
	freeifaddrs(all);
	return n;
}

static void
append(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t	n = strlen(s);

	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		if ((*buf = realloc(*buf, *cap)) == NULL)
			fatal("realloc");
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

/* Host and port of an http(s) URL, or -1. */
static int
url_host_port(const char *url, char *host, size_t hlen, char *port,
    size_t plen)
{
	const char	*p, *e, *colon;
	size_t		 n;

	snprintf(port, plen, "%s", strncmp(url, "http:", 5) == 0 ? "80" :
	    "443");
	if ((p = strstr(url, "://")) == NULL)
		return -1;
	p += 3;
	e = p + strcspn(p, "/?#");
	if (*p == '[') {			/* [v6]:port */
		const char *rb = memchr(p, ']', (size_t)(e - p));

		if (rb == NULL)
			return -1;
		n = (size_t)(rb - p - 1);
		colon = rb + 1 < e && rb[1] == ':' ? rb + 1 : NULL;
		p++;
	} else {
		colon = memchr(p, ':', (size_t)(e - p));
		n = (size_t)((colon ? colon : e) - p);
	}
	if (n == 0 || n >= hlen)
		return -1;
	memcpy(host, p, n);
	host[n] = '\0';
	if (colon != NULL) {
		n = (size_t)(e - colon - 1);
		if (n == 0 || n >= plen)
			return -1;
		memcpy(port, colon + 1, n);
		port[n] = '\0';
	}
	return 0;
}

/*
 * The BPF filter, as text (free it): "" keeps everything.  Each local
 * subnet S adds "not (src net S and dst net S)"; the upload server adds
 * "not (host A and tcp port P)" for each of its addresses.
 */
char *
filter_build(const struct capd *c)
{
	char		*buf = NULL, a[INET6_ADDRSTRLEN], part[256];
	char		 host[256], port[16];
	size_t		 len = 0, cap = 0;
	struct addrinfo	 hints, *res, *ai;
	int		 i;

	append(&buf, &len, &cap, "");
	if (!c->local_subnet_traffic)
		for (i = 0; i < c->nsubnets; i++) {
			addr_ntop(c->subnets[i].ipver, c->subnets[i].addr, a,
			    sizeof(a));
			snprintf(part, sizeof(part), "%snot (src net %s/%u and "
			    "dst net %s/%u)", len ? " and " : "", a,
			    c->subnets[i].prefixlen, a,
			    c->subnets[i].prefixlen);
			append(&buf, &len, &cap, part);
		}
	if (c->exclude_server && c->server_url != NULL &&
	    c->server_url[0] != '\0') {
		if (url_host_port(c->server_url, host, sizeof(host), port,
		    sizeof(port)) == -1)
			fatalx("server_url %s: cannot find host and port",
			    c->server_url);
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		if ((i = getaddrinfo(host, port, &hints, &res)) != 0) {
			log_warnx("server %s: %s: its uploads are not left "
			    "out", host, gai_strerror(i));
			return buf;
		}
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			const void *sa = ai->ai_addr;

			if (ai->ai_family == AF_INET)
				inet_ntop(AF_INET, &((const struct sockaddr_in *)
				    sa)->sin_addr, a, sizeof(a));
			else if (ai->ai_family == AF_INET6)
				inet_ntop(AF_INET6, &((const struct
				    sockaddr_in6 *)sa)->sin6_addr, a, sizeof(a));
			else
				continue;
			snprintf(part, sizeof(part), "%snot (host %s and tcp "
			    "port %s)", len ? " and " : "", a, port);
			if (strstr(buf, part + (len ? 5 : 0)) == NULL)
				append(&buf, &len, &cap, part);
		}
		freeaddrinfo(res);
	}
	return buf;
}

#ifdef __linux__
/* A netlink socket that hears of every address added or removed. */
int
filter_watch_open(void)
{
	struct sockaddr_nl sa;
	int		 fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    NETLINK_ROUTE);
	if (fd == -1) {
		log_warn("netlink socket: address changes not followed");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		log_warn("netlink bind: address changes not followed");
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Read what netlink says; 1 when an address the host did not have
 * appeared or one it had went away.  Renewed lifetimes of known
 * addresses change nothing.
 */
int
filter_watch_changed(struct capd *c, int fd)
{
	uint8_t		 buf[8192] __attribute__((aligned(4)));
	struct nlmsghdr	*nh;
	struct ifaddrmsg *ifa;
	struct rtattr	*rta;
	struct local_net h;
	ssize_t		 n;
	int		 len, changed = 0, known, found;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		for (nh = (struct nlmsghdr *)(void *)buf; NLMSG_OK(nh, n);
		    nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type != RTM_NEWADDR &&
			    nh->nlmsg_type != RTM_DELADDR)
				continue;
			if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
				continue;
			ifa = NLMSG_DATA(nh);
			len = (int)IFA_PAYLOAD(nh);
			found = 0;
			memset(&h, 0, sizeof(h));
			for (rta = IFA_RTA(ifa); RTA_OK(rta, len);
			    rta = RTA_NEXT(rta, len)) {
				if (rta->rta_type != IFA_ADDRESS &&
				    rta->rta_type != IFA_LOCAL)
					continue;
				if (ifa->ifa_family == AF_INET &&
				    RTA_PAYLOAD(rta) == 4) {
					h.ipver = 4;
					h.prefixlen = 32;
				} else if (ifa->ifa_family == AF_INET6 &&
				    RTA_PAYLOAD(rta) == 16) {
					h.ipver = 6;
					h.prefixlen = 128;
				} else
					continue;
				memcpy(h.addr, RTA_DATA(rta), RTA_PAYLOAD(rta));
				found = 1;
				if (rta->rta_type == IFA_LOCAL)
					break;
			}
			if (!found)
				continue;
			known = net_known(c->dirnets, c->ndirnets, &h);
			if ((nh->nlmsg_type == RTM_NEWADDR && !known) ||
			    (nh->nlmsg_type == RTM_DELADDR && known))
				changed = 1;
		}
	}
	return changed;
}
#else
int
filter_watch_open(void)
{
	return -1;	/* polled from the live loop's stats timer instead */
}

int
filter_watch_changed(struct capd *c, int fd)
{
	(void)c;
	(void)fd;
	return 0;
}
#endif
