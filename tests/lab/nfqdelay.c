/*
 * nfqdelay.c: a fixed delay for test traffic, since these machines have
 * no netem.  Run inside a test's network namespace with an iptables rule
 * that sends packets to NFQUEUE; every packet is accepted DELAY ms after
 * it arrived, in arrival order, so a socket lives about one round trip
 * after its first packet is seen, as on the Internet.  A test tool, not
 * part of VBS: it runs as root in a namespace the test made, handles
 * only the packets of that namespace, and exits after -t seconds at the
 * latest (every traffic loop in the tests is bounded).
 *
 * usage: nfqdelay [-q queue] [-t seconds] delay_ms
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXQ	65536

static struct {
	uint32_t	id;
	uint64_t	due;
} fifo[MAXQ];
static unsigned		head, tail;
static uint64_t		delay_us;
static volatile sig_atomic_t stop;

static uint64_t
mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int
on_packet(struct nfq_q_handle *qh, struct nfgenmsg *m, struct nfq_data *nfa,
    void *arg)
{
	struct nfqnl_msg_packet_hdr	*ph = nfq_get_msg_packet_hdr(nfa);
	uint32_t			 id;

	(void)m;
	(void)arg;
	if (ph == NULL)
		return 0;
	id = ntohl(ph->packet_id);
	if (tail - head >= MAXQ)	/* full: let it through now */
		return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
	fifo[tail % MAXQ].id = id;
	fifo[tail % MAXQ].due = mono() + delay_us;
	tail++;
	return 0;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(int argc, char **argv)
{
	struct nfq_handle	*h;
	struct nfq_q_handle	*qh;
	struct pollfd		 pfd;
	char			 buf[65536] __attribute__((aligned));
	int			 ch, fd, timeout;
	long			 queue = 0, secs = 600;
	uint64_t		 end, now;
	ssize_t			 n;

	while ((ch = getopt(argc, argv, "q:t:")) != -1) {
		switch (ch) {
		case 'q':
			queue = strtol(optarg, NULL, 10);
			break;
		case 't':
			secs = strtol(optarg, NULL, 10);
			break;
		default:
			errx(100, "usage: nfqdelay [-q queue] [-t seconds] ms");
		}
	}
	if (optind + 1 != argc)
		errx(100, "usage: nfqdelay [-q queue] [-t seconds] ms");
	delay_us = (uint64_t)strtoul(argv[optind], NULL, 10) * 1000;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if ((h = nfq_open()) == NULL)
		err(111, "nfq_open");
	if ((qh = nfq_create_queue(h, (uint16_t)queue, on_packet, NULL)) == NULL)
		err(111, "nfq_create_queue %ld", queue);
	if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0)
		err(111, "nfq_set_mode");
	nfq_set_queue_maxlen(qh, MAXQ);
	fd = nfq_fd(h);
	end = mono() + (uint64_t)secs * 1000000;
	printf("ready\n");
	fflush(stdout);
	while (!stop && (now = mono()) < end) {
		while (head != tail && fifo[head % MAXQ].due <= now) {
			nfq_set_verdict(qh, fifo[head % MAXQ].id, NF_ACCEPT, 0,
			    NULL);
			head++;
		}
		timeout = head == tail ? 100 :
		    (int)((fifo[head % MAXQ].due - now) / 1000) + 1;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, timeout) > 0 &&
		    (n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			nfq_handle_packet(h, buf, (int)n);
	}
	/* Release what is held, so nothing is left queued. */
	while (head != tail) {
		nfq_set_verdict(qh, fifo[head % MAXQ].id, NF_ACCEPT, 0, NULL);
		head++;
	}
	nfq_destroy_queue(qh);
	nfq_close(h);
	return 0;
}
