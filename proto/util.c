/*
 * util.c: small helpers every process shares: clocks, addresses as text,
 * network prefixes, the host facts that go into a hello, and what
 * /proc/PID/stat says of a process.
 */

#include <sys/socket.h>
#include <sys/utsname.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <fcntl.h>

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

/*
 * From /proc/PID/stat (Linux): the process's start time in clock ticks
 * after boot (field 22) and, when asked, its name (field 2, which may
 * hold spaces and parentheses: it ends at the last ')') and its state
 * letter (field 3).  0 when it cannot be read.  A pid and its start
 * time name one process for the life of the host; a pid alone may be a
 * later process's.
 */
uint64_t
proc_stat(pid_t pid, char *comm, size_t commlen, char *state)
{
	char	 path[32], buf[1024], *lp, *rp, *f;
	ssize_t	 n;
	int	 fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((lp = strchr(buf, '(')) == NULL ||
	    (rp = strrchr(buf, ')')) == NULL || rp < lp || rp[1] == '\0')
		return 0;
	if (comm != NULL) {
		n = rp - lp - 1;
		if ((size_t)n >= commlen)
			n = (ssize_t)commlen - 1;
		memcpy(comm, lp + 1, (size_t)n);
		comm[n] = '\0';
	}
	if (state != NULL)
		*state = rp[2];
	/* Fields 3 to 21, then the start time. */
	for (f = rp + 1, i = 3; i < 22 && f != NULL; i++)
		f = strchr(f + 1, ' ');
	return f == NULL ? 0 : strtoull(f + 1, NULL, 10);
}
