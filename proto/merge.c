/*
 * merge.c: read several recordings as one stream of records in timestamp
 * order.  flowd -r A -r B replays capd's and sockd's recordings through
 * it, and vbsctl dump reads one.  Each source keeps one decoded record
 * ahead; the earliest goes out first, ties to the source named first,
 * so the same files always give the same sequence.  Within a source the
 * producer's order is kept.  A damaged source stops the merge with an
 * error that names the file, the offset and the record; everything
 * handed out before stays valid.
 */

#include <stdlib.h>
#include <string.h>

#include "proto.h"

struct source {
	struct rec_reader	rd;
	struct msg_reader	msg;
	int			in_msg;	/* msg has records left */
	int			have;	/* head is valid */
	int			done;
	unsigned long long	msg_off;	/* file offset of msg */
	struct vbs_rec		head;
};

struct rec_merge {
	int		 n;
	struct source	*src;
	char		 err[768];
};

/* Advance one source to its next record: 1, 0 at its end, -1 error. */
static int
fill(struct rec_merge *m, struct source *s)
{
	const uint8_t	*buf;
	size_t		 len;
	int		 rc;

	for (;;) {
		if (s->in_msg) {
			rc = msg_next(&s->msg, &s->head);
			if (rc == 1) {
				s->have = 1;
				return 1;
			}
			s->in_msg = 0;
			if (rc == -1) {
				snprintf(m->err, sizeof(m->err),
				    "%s: message at offset %llu: %s", s->rd.path,
				    s->msg_off, s->msg.err);
				return -1;
			}
		}
		rc = rec_read(&s->rd, &buf, &len);
		if (rc == 0) {
			s->done = 1;
			return 0;
		}
		if (rc == -1) {
			snprintf(m->err, sizeof(m->err), "%s", s->rd.err);
			return -1;
		}
		s->msg_off = (unsigned long long)(s->rd.off - 4 - len);
		if (msg_open(&s->msg, buf, len) == -1) {
			snprintf(m->err, sizeof(m->err),
			    "%s: message at offset %llu: %s", s->rd.path,
			    s->msg_off, s->msg.err);
			return -1;
		}
		s->in_msg = 1;
	}
}

static uint64_t
rec_ts(const struct vbs_rec *r)
{
	/* Every record type starts with its timestamp. */
	switch (r->type) {
	case MSG_HELLO:
		return r->u.hello.ts_us;
	case MSG_PACKETS:
		return r->u.pkt.ts_us;
	case MSG_SOCKETS:
		return r->u.sock.ts_us;
	case MSG_LOOKUP:
		return r->u.lookup.ts_us;
	case MSG_ANSWER:
		return r->u.answer.ts_us;
	case MSG_STATS:
		return r->u.stats.ts_us;
	default:
		return r->u.bye.ts_us;
	}
}

/* Copy only the member in use: a hello is 3 kB, a packet 60 bytes. */
static void
rec_copy(struct vbs_rec *dst, const struct vbs_rec *src)
{
	size_t	n;

	switch (src->type) {
	case MSG_HELLO:
		n = sizeof(src->u.hello);
		break;
	case MSG_PACKETS:
		n = sizeof(src->u.pkt);
		break;
	case MSG_SOCKETS:
		n = sizeof(src->u.sock);
		break;
	case MSG_LOOKUP:
		n = sizeof(src->u.lookup);
		break;
	case MSG_ANSWER:
		n = sizeof(src->u.answer);
		break;
	case MSG_STATS:
		n = sizeof(src->u.stats);
		break;
	default:
		n = sizeof(src->u.bye);
		break;
	}
	dst->type = src->type;
	memcpy(&dst->u, &src->u, n);
}

/*
 * Open every recording and read its first record.  NULL on failure,
 * with the reason in err.
 */
struct rec_merge *
merge_open(char * const *paths, int n, char *err, size_t errlen)
{
	struct rec_merge	*m;
	int			 i;

	if (n <= 0 || (m = calloc(1, sizeof(*m))) == NULL)
		goto nomem;
	if ((m->src = calloc((size_t)n, sizeof(*m->src))) == NULL) {
		free(m);
		goto nomem;
	}
	m->n = n;
	for (i = 0; i < n; i++) {
		if (rec_open(&m->src[i].rd, paths[i]) == -1) {
			snprintf(err, errlen, "%s", m->src[i].rd.err);
			m->n = i + 1;
			merge_close(m);
			return NULL;
		}
	}
	return m;
nomem:
	snprintf(err, errlen, "no memory for %d recordings", n);
	return NULL;
}

/*
 * The earliest pending record of all sources: 1 with *rec and *which
 * (the index of its recording), 0 when every source is done, -1 on a
 * damaged source (merge_error tells).
 */
int
merge_next(struct rec_merge *m, struct vbs_rec *rec, int *which)
{
	int		i, best = -1;
	uint64_t	bts = 0, ts;

	for (i = 0; i < m->n; i++) {
		struct source *s = &m->src[i];

		if (!s->have && !s->done && fill(m, s) == -1)
			return -1;
		if (!s->have)
			continue;
		ts = rec_ts(&s->head);
		if (best == -1 || ts < bts) {
			best = i;
			bts = ts;
		}
	}
	if (best == -1)
		return 0;
	rec_copy(rec, &m->src[best].head);
	m->src[best].have = 0;
	if (which != NULL)
		*which = best;
	return 1;
}

const char *
merge_error(struct rec_merge *m)
{
	return m->err;
}

void
merge_close(struct rec_merge *m)
{
	int	i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		rec_close_reader(&m->src[i].rd);
	free(m->src);
	free(m);
}
