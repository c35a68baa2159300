/*
 * query.c: look-ups and dumps from the command line, in sockd, for
 * people, tests and benchmarks.  `sockd -q 'tcp 198.18.2.1:1234
 * 198.18.2.2:80'` answers one look-up exactly as flowd's are answered
 * and prints the owner and the latency; `-q -` reads one look-up a line
 * from standard input while sockd runs as usual; `-b N` times N full
 * dumps.  Input is a person's: parsed strictly, refused with a reason.
 */

#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sockd.h"

/* "ADDR:PORT" or "[ADDR6]:PORT" into a (address, port, version). */
static int
endpoint(const char *s, uint8_t *addr, uint16_t *port, uint8_t *ipver)
{
	char		 buf[INET6_ADDRSTRLEN + 16], *p, *end;
	unsigned long	 n;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	if (buf[0] == '[') {
		if ((p = strstr(buf, "]:")) == NULL)
			return -1;
		*p = '\0';
		p += 2;
		if (addr_pton(buf + 1, addr, ipver) == -1 || *ipver != 6)
			return -1;
	} else {
		if ((p = strrchr(buf, ':')) == NULL)
			return -1;
		*p++ = '\0';
		if (addr_pton(buf, addr, ipver) == -1 || *ipver != 4)
			return -1;
	}
	errno = 0;
	n = strtoul(p, &end, 10);
	if (*p == '\0' || *end != '\0' || errno != 0 || n > 65535)
		return -1;
	*port = (uint16_t)n;
	return 0;
}

/*
 * "tcp|udp LOCAL [REMOTE]": the local side first, as flowd asks.  No
 * remote (UDP only) means any remote.
 */
int
query_parse(const char *line, struct lookup_rec *q, char *err, size_t len)
{
	char		 buf[256], *words[4], *save = NULL, *w;
	uint8_t		 v2;
	int		 n = 0;

	memset(q, 0, sizeof(*q));
	if (strlen(line) >= sizeof(buf)) {
		snprintf(err, len, "look-up too long");
		return -1;
	}
	strcpy(buf, line);
	for (w = strtok_r(buf, " \t\r\n", &save); w != NULL;
	    w = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == 3) {
			snprintf(err, len, "too many words");
			return -1;
		}
		words[n++] = w;
	}
	if (n < 2) {
		snprintf(err, len, "want: tcp|udp LADDR:LPORT [RADDR:RPORT]");
		return -1;
	}
	if (strcmp(words[0], "tcp") == 0)
		q->proto = IPPROTO_TCP;
	else if (strcmp(words[0], "udp") == 0)
		q->proto = IPPROTO_UDP;
	else {
		snprintf(err, len, "%s: not tcp or udp", words[0]);
		return -1;
	}
	if (endpoint(words[1], q->laddr, &q->lport, &q->ipver) == -1) {
		snprintf(err, len, "%s: not ADDR:PORT or [ADDR6]:PORT",
		    words[1]);
		return -1;
	}
	if (n == 3) {
		if (endpoint(words[2], q->raddr, &q->rport, &v2) == -1 ||
		    v2 != q->ipver) {
			snprintf(err, len, "%s: not an address:port of the "
			    "same version", words[2]);
			return -1;
		}
	} else if (q->proto == IPPROTO_TCP) {
		snprintf(err, len, "a TCP look-up needs the remote side");
		return -1;
	}
	q->ts_us = now_us();
	return 0;
}

static const char *
source_name(int s)
{
	switch (s) {
	case SRC_DUMP:
		return "dump";
	case SRC_DESTROY:
		return "destroy";
	case SRC_LOOKUP:
		return "lookup";
	case SRC_EBPF:
		return "ebpf";
	}
	return "?";
}

/*
 * One line a look-up: key=value, for people and for tests.  rx, when
 * not 0, is when the look-up was read (CLOCK_MONOTONIC, microseconds).
 */
void
query_print(FILE *fp, const struct answer_rec *a, uint64_t rx)
{
	const struct sock_rec	*s = &a->sock;
	char			 l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN];

	if (!a->found) {
		fprintf(fp, "found=0 latency_us=%u", a->latency_us);
		if (rx != 0)
			fprintf(fp, " read_mono_us=%llu", (unsigned long long)rx);
		fputc('\n', fp);
		fflush(fp);
		return;
	}
	fprintf(fp, "found=1 %s %s%s%s:%u %s%s%s:%u pid=%d uid=%u "
	    "comm=%s exe=%s inode=%llu cookie=%llu state=%u event=%s "
	    "source=%s latency_us=%u",
	    s->proto == IPPROTO_TCP ? "tcp" : "udp",
	    s->ipver == 6 ? "[" : "", addr_ntop(s->ipver, s->laddr, l,
	    sizeof(l)), s->ipver == 6 ? "]" : "", s->lport,
	    s->ipver == 6 ? "[" : "", addr_ntop(s->ipver, s->raddr, r,
	    sizeof(r)), s->ipver == 6 ? "]" : "", s->rport,
	    (int)s->pid, s->uid, s->comm[0] ? s->comm : "-",
	    s->exe[0] ? s->exe : "-", (unsigned long long)s->inode,
	    (unsigned long long)s->cookie, s->state,
	    s->event == SOCK_CLOSE ? "close" : "open",
	    source_name(s->source), a->latency_us);
	if (rx != 0)
		fprintf(fp, " read_mono_us=%llu", (unsigned long long)rx);
	fputc('\n', fp);
	fflush(fp);
}

/* Answer one look-up now, with its latency, as for flowd. */
void
query_run(const struct lookup_rec *q, struct answer_rec *a)
{
	uint64_t	t0 = mono_us(), dt;

	memset(a, 0, sizeof(*a));
	table_lookup(q, a);
	dt = mono_us() - t0;
	a->ts_us = now_us();
	a->latency_us = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
	stats.lookup_us_last = dt;
	if (dt > stats.lookup_us_max)
		stats.lookup_us_max = dt;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
summary(const char *what, uint64_t *v, int n)
{
	uint64_t	sum = 0;
	int		i;

	for (i = 0; i < n; i++)
		sum += v[i];
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	printf("%s: n=%d min_us=%llu median_us=%llu mean_us=%llu "
	    "p99_us=%llu max_us=%llu\n", what, n,
	    (unsigned long long)v[0], (unsigned long long)v[n / 2],
	    (unsigned long long)(sum / (uint64_t)n),
	    (unsigned long long)v[(n * 99) / 100],
	    (unsigned long long)v[n - 1]);
}

/* -q QUERY [-c COUNT]: the first answer, then latency figures. */
int
query_repeat(const char *line, int count)
{
	struct lookup_rec	 q;
	struct answer_rec	 a;
	uint64_t		*v;
	char			 err[128];
	int			 i, found = 0;

	if (query_parse(line, &q, err, sizeof(err)) == -1) {
		fprintf(stderr, "sockd: -q: %s\n", err);
		return EXIT_USAGE;
	}
	if ((v = calloc((size_t)count, sizeof(*v))) == NULL)
		fatal("query_repeat");
	for (i = 0; i < count; i++) {
		q.id = (uint32_t)i;
		query_run(&q, &a);
		v[i] = a.latency_us;
		found += a.found;
		if (i == 0)
			query_print(stdout, &a, 0);
	}
	if (count > 1)
		summary("lookup", v, count);
	free(v);
	return found == count ? EXIT_OK : EXIT_INPUT;
}

/* -b COUNT: time full dumps of a table that no longer changes. */
int
query_bench(int count)
{
	uint64_t	*v;
	int		 i;

	if ((v = calloc((size_t)count, sizeof(*v))) == NULL)
		fatal("query_bench");
	printf("sockets=%zu first_dump_us=%llu procs_scanned=%llu\n",
	    table_count(), (unsigned long long)stats.dump_us_last,
	    (unsigned long long)stats.procs_scanned);
	for (i = 0; i < count; i++) {
		table_dump(0);
		v[i] = stats.dump_us_last;
	}
	summary("dump", v, count);
	free(v);
	return EXIT_OK;
}
