/*
 * outq.c: the bounded queue between a producer and its reader.  capd and
 * sockd put every finished message here and flush it without blocking,
 * so the capture loop never waits on flowd.  When the queue holds its
 * bound, new messages are dropped and counted (the records in them too),
 * and what is queued drains in order when the reader comes back.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

struct qmsg {
	struct qmsg	*next;
	size_t		 len;
	uint32_t	 nrec;
	uint8_t		 data[];
};

struct outq {
	struct qmsg	*head, *tail;
	size_t		 bytes, limit;
	uint64_t	 drop_msgs, drop_recs;
};

struct outq *
outq_new(size_t limit)
{
	struct outq	*q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->limit = limit;
	return q;
}

void
outq_free(struct outq *q)
{
	struct qmsg	*m, *n;

	if (q == NULL)
		return;
	for (m = q->head; m != NULL; m = n) {
		n = m->next;
		free(m);
	}
	free(q);
}

/* Queue a copy of a message; -1 when it is dropped (full, no memory). */
int
outq_push(struct outq *q, const void *buf, size_t len, uint32_t nrec)
{
	struct qmsg	*m;

	if (q->bytes + len > q->limit ||
	    (m = malloc(sizeof(*m) + len)) == NULL) {
		q->drop_msgs++;
		q->drop_recs += nrec;
		return -1;
	}
	m->next = NULL;
	m->len = len;
	m->nrec = nrec;
	memcpy(m->data, buf, len);
	if (q->tail != NULL)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	q->bytes += len;
	return 0;
}

/*
 * Send queued messages on a non-blocking socket until it would block.
 * Returns the number sent, or -1 when the reader is gone (the queue is
 * kept for the next one).
 */
int
outq_flush(struct outq *q, int fd)
{
	struct qmsg	*m;
	int		 sent = 0;

	while ((m = q->head) != NULL) {
		if (wire_send(fd, m->data, m->len) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == ENOBUFS)
				return sent;
			return -1;
		}
		q->head = m->next;
		if (q->head == NULL)
			q->tail = NULL;
		q->bytes -= m->len;
		free(m);
		sent++;
	}
	return sent;
}

size_t
outq_bytes(const struct outq *q)
{
	return q->bytes;
}

uint64_t
outq_dropped_records(const struct outq *q)
{
	return q->drop_recs;
}

uint64_t
outq_dropped_messages(const struct outq *q)
{
	return q->drop_msgs;
}
