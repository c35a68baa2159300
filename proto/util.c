/*
 * util.c: small helpers every process shares: clocks, addresses as text,
 * network prefixes, and the host facts that go into a hello.
 */

#include <sys/socket.h>
#include <sys/utsname.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

/* Microseconds since the epoch: every record's timestamp. */
uint64_t
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Microseconds of a clock that never jumps: for timers and latencies. */
uint64_t
mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * A poll(2) timeout: milliseconds from now until at (microseconds of
 * one clock), at most max.  Rounded up: rounded down, the last
 * millisecond before every deadline was a busy loop of zero timeouts.
 */
int
poll_ms(uint64_t now, uint64_t at, int max)
{
	uint64_t	ms;

	if (at <= now)
		return 0;
	ms = (at - now + 999) / 1000;
	return ms < (uint64_t)max ? (int)ms : max;
}

const char *
addr_ntop(uint8_t ipver, const uint8_t *a, char *buf, size_t len)
{
	if (inet_ntop(ipver == 6 ? AF_INET6 : AF_INET, a, buf,
	    (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

/* Text to a 16-byte address; *ipver is 4 or 6.  -1 if not an address. */
int
addr_pton(const char *s, uint8_t *a, uint8_t *ipver)
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET, s, a) == 1) {
		*ipver = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a) == 1) {
		*ipver = 6;
		return 0;
	}
	return -1;
}

/* "198.18.0.0/15", "fd00::/8" or a bare address (a host prefix). */
int
prefix_parse(const char *s, struct local_net *n)
{
	char		 buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	long		 len;
	unsigned	 max, i;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	memset(n, 0, sizeof(*n));
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (addr_pton(buf, n->addr, &n->ipver) == -1)
		return -1;
	max = n->ipver == 6 ? 128 : 32;
	len = max;
	if (slash != NULL) {
		len = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || len < 0 ||
		    len > (long)max)
			return -1;
	}
	n->prefixlen = (uint8_t)len;
	/* Clear the host bits so that equal prefixes compare equal. */
	for (i = 0; i < 16; i++) {
		unsigned bits = i * 8 >= (unsigned)len ? 0 :
		    (unsigned)len - i * 8 >= 8 ? 8 : (unsigned)len - i * 8;
		n->addr[i] &= (uint8_t)(0xff00 >> bits);
	}
	return 0;
}

int
prefix_match(const struct local_net *n, uint8_t ipver, const uint8_t *a)
{
	unsigned	full = n->prefixlen / 8, rest = n->prefixlen % 8;

	if (n->ipver != ipver)
		return 0;
	if (memcmp(n->addr, a, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[full] ^ n->addr[full]) & (0xff00 >> rest)) == 0;
}

/* The hello every producer sends first: who, what version, which host. */
void
host_facts(struct hello_rec *h, const char *producer)
{
	struct utsname	u;

	memset(h, 0, sizeof(*h));
	h->ts_us = now_us();
	h->version = VBS_PROTO_VERSION;
	snprintf(h->producer, sizeof(h->producer), "%s", producer);
	snprintf(h->software, sizeof(h->software), "vbs %s", VBS_VERSION);
	if (uname(&u) == 0) {
		snprintf(h->host, sizeof(h->host), "%s", u.nodename);
		snprintf(h->os, sizeof(h->os), "%.20s %.40s", u.sysname, u.release);
	}
}

/*
 * Tell vbsd this stage is up: one line "ready" on the inherited pipe
 * (-R fd), which is then closed.  -1 means no one asked.
 */
void
ready_notify(int fd)
{
	if (fd < 0)
		return;
	if (write(fd, "ready\n", 6) != 6)
		log_warn("readiness pipe");
	close(fd);
}

/* The value of a hexadecimal digit, either case; -1 if it is none. */
int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
