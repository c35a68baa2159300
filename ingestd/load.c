/*
 * load.c: writes one validated batch into MySQL, exactly once.  Runs in
 * every ingestd loader, after validate.c has accepted the file; the
 * rows come from what validate.c kept in memory (the file is not read
 * again), and MySQL is trusted.
 *
 * One transaction per batch, and its first write is the batch's ledger
 * row (primary key: client and batch id).  So a batch is either wholly
 * in MySQL with its ledger row or not at all; a second loader of the
 * same batch blocks on that row until the first commits, then gets a
 * duplicate key and acknowledges the batch as already loaded; a loader
 * killed mid-load leaves an open transaction that MySQL rolls back when
 * the connection drops.  Nothing here assumes it is the only loader.
 *
 * Flows spanning batches are joined by an upsert that keeps the latest
 * totals whatever order the batches arrive in; on MariaDB it is sent
 * array-bound (flows_bulk), elsewhere and with -P insert as multi-row
 * VALUES text.  Packets are written as
 * the packet_chunks rows validate.c packed (runs of a flow's packets in
 * this batch; ingestd/sql/003_packet_chunks.sql), through one of three
 * paths (tests/bench/ingestd.sh measures them): MariaDB's array-bound
 * bulk INSERT (the default; on a server without array binding, the
 * next), LOAD DATA LOCAL INFILE fed from memory through the client
 * library's infile handler, or multi-row prepared INSERTs.  Bulk is
 * the default because the bench found it the faster and the cheaper
 * for MariaDB (docs/ARCHITECTURE.md has the runs).
 */

#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mysql.h>
#include <mysqld_error.h>
#include <errmsg.h>

#include "proto.h"
#include "ingestd.h"

#define FLOW_SQL_MAX	(1024 * 1024)	/* bytes of one flows statement */
#define INSERT_ROWS	200		/* chunk rows of one prepared INSERT */
#define BULK_ROWS	10000		/* chunk rows of one array-bound INSERT */
#define ATTEMPTS	5		/* deadlocks before giving up */

uint64_t	load_packet_rows;
static unsigned int last_errno;	/* of the last failure; ROLLBACK clears */

/* A growing string for the statements built here. */
struct sbuf {
	char	*p;
	size_t	 len, cap;
};

static void
sb_need(struct sbuf *s, size_t n)
{
	if (s->len + n + 1 <= s->cap)
		return;
	while (s->len + n + 1 > s->cap)
		s->cap = s->cap == 0 ? 4096 : s->cap * 2;
	if ((s->p = realloc(s->p, s->cap)) == NULL)
		fatal("sbuf");
}

static void
sb_add(struct sbuf *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_add(struct sbuf *s, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	sb_need(s, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(s->p + s->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	s->len += (size_t)n;
}

/* Bytes as a hex literal: exact for any content, no escaping rules. */
static void
sb_hex(struct sbuf *s, const void *v, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = v;
	size_t			 i;

	sb_need(s, 2 * n + 3);
	s->p[s->len++] = 'X';
	s->p[s->len++] = '\'';
	for (i = 0; i < n; i++) {
		s->p[s->len++] = hex[p[i] >> 4];
		s->p[s->len++] = hex[p[i] & 15];
	}
	s->p[s->len++] = '\'';
	s->p[s->len] = '\0';
}

/* A text column of a flow, as a hex literal or NULL. */
static void
sb_str(struct sbuf *s, const struct batch *b, const struct vstr *v)
{
	if (v->len < 0)
		sb_add(s, "NULL");
	else
		sb_hex(s, b->text + v->off, (size_t)v->len);
}

static int	stmt_fail(MYSQL_STMT *, const char *, char *, size_t);

/* Outcome of a failed MySQL call, with the reason for the log. */
static int
db_fail(MYSQL *my, const char *what, char *reason, size_t rlen)
{
	unsigned int	e = mysql_errno(my);

	last_errno = e;
	snprintf(reason, rlen, "%s: MySQL error %u: %s", what, e,
	    mysql_error(my));
	return db_error_is_data(e) ? LOAD_BAD : LOAD_RETRY;
}

/* The client's number, made on first sight (enrolment may add it too). */
static int
client_number(MYSQL *my, const char *name, int create, unsigned long *id,
    char *reason, size_t rlen)
{
	static char		 cached[MAX_CLIENT + 1];
	static unsigned long	 cached_id;
	MYSQL_RES		*res;
	MYSQL_ROW		 row;
	char			 q[256];
	int			 pass;

	if (cached[0] != '\0' && strcmp(cached, name) == 0) {
		*id = cached_id;
		return 0;
	}
	/* name is [A-Za-z0-9_-]: validate.c checked it. */
	for (pass = 0; pass < 2; pass++) {
		snprintf(q, sizeof(q), "SELECT client_id FROM clients WHERE "
		    "client_name = '%s'", name);
		if (mysql_query(my, q) != 0 ||
		    (res = mysql_store_result(my)) == NULL)
			return db_fail(my, "clients", reason, rlen);
		row = mysql_fetch_row(res);
		if (row != NULL && row[0] != NULL) {
			*id = strtoul(row[0], NULL, 10);
			mysql_free_result(res);
			snprintf(cached, sizeof(cached), "%s", name);
			cached_id = *id;
			return 0;
		}
		mysql_free_result(res);
		if (!create) {
			*id = 0;
			return 0;
		}
		snprintf(q, sizeof(q), "INSERT IGNORE INTO clients "
		    "(client_name) VALUES ('%s')", name);
		if (mysql_query(my, q) != 0)
			return db_fail(my, "clients", reason, rlen);
	}
	snprintf(reason, rlen, "clients: cannot register '%s'", name);
	return LOAD_RETRY;
}

/* Is the batch in the ledger already?  1 yes, 0 no, <0 LOAD_* error. */
static int
in_ledger(MYSQL *my, unsigned long cid, const char *name, char *reason,
    size_t rlen)
{
	MYSQL_RES	*res;
	char		 q[512];
	int		 found;

	snprintf(q, sizeof(q), "SELECT 1 FROM batches WHERE client_id = %lu "
	    "AND batch_name = '%s'", cid, name);
	if (mysql_query(my, q) != 0 || (res = mysql_store_result(my)) == NULL)
		return -db_fail(my, "batches", reason, rlen);
	found = mysql_fetch_row(res) != NULL;
	mysql_free_result(res);
	return found;
}

/*
 * Packets whose flow has no row in the batch must name a flow this
 * client already has in MySQL; otherwise the batch is refused.
 */
static int
check_orphans(MYSQL *my, struct batch *b, unsigned long cid, char *reason,
    size_t rlen)
{
	struct sbuf	 s = { 0 };
	MYSQL_RES	*res;
	size_t		 i;
	uint64_t	 found;

	if (b->norphans == 0)
		return LOAD_OK;
	sb_add(&s, "SELECT COUNT(*) FROM flows WHERE client_id = %lu AND "
	    "flow_id IN (", cid);
	for (i = 0; i < b->norphans; i++)
		sb_add(&s, "%s%" PRId64, i ? "," : "", b->orphans[i]);
	sb_add(&s, ")");
	if (mysql_query(my, s.p) != 0 ||
	    (res = mysql_store_result(my)) == NULL) {
		free(s.p);
		return db_fail(my, "flows", reason, rlen);
	}
	free(s.p);
	{
		MYSQL_ROW row = mysql_fetch_row(res);
		found = row != NULL && row[0] != NULL ?
		    strtoull(row[0], NULL, 10) : 0;
	}
	mysql_free_result(res);
	if (found != b->norphans) {
		snprintf(reason, rlen, "packets without their flow: %zu "
		    "flow(s) named by packets (first %" PRId64 ") have no "
		    "row in this batch, and %" PRIu64 " of them are in MySQL",
		    b->norphans, b->orphans[0], found);
		return LOAD_BAD;
	}
	return LOAD_OK;
}

/*
 * The upsert's rule for a flow seen before: the row with the higher
 * next_seq is the later one (totals are cumulative), and at equal
 * next_seq an ended row beats an open one.  MySQL assigns left to right
 * and later assignments see earlier ones, so ended and next_seq, which
 * the rule reads, are assigned last.
 */
#define LATER	"(VALUES(next_seq) > next_seq OR (VALUES(next_seq) = " \
		"next_seq AND VALUES(ended) > ended))"
#define UPD(c)	c " = IF(" LATER ", VALUES(" c "), " c ")"

static const char flows_upsert_tail[] =
    " ON DUPLICATE KEY UPDATE "
    UPD("batch_id") ", " UPD("end_us") ", "
    UPD("packets_out") ", " UPD("packets_in") ", "
    UPD("bytes_out") ", " UPD("bytes_in") ", "
    UPD("app") ", " UPD("pid") ", " UPD("uid") ", " UPD("exe") ", "
    UPD("label_source") ", " UPD("label_delay_us") ", "
    UPD("end_reason") ", " UPD("iface") ", "
    "start_us = LEAST(start_us, VALUES(start_us)), "
    UPD("ended") ", " UPD("next_seq");

static const char flows_insert_head[] =
    "INSERT INTO flows (client_id, flow_id, batch_id, first_batch_id, "
    "start_us, end_us, ip_version, protocol, local_ip, local_port, "
    "remote_ip, remote_port, packets_out, packets_in, bytes_out, "
    "bytes_in, app, pid, uid, exe, label_source, label_delay_us, "
    "end_reason, ended, iface, next_seq) VALUES ";

/*
 * The flows' columns in the order flows_bulk() binds them: integers
 * first (FLOW_INTS of them), then byte strings.
 */
#define FLOW_INTS	16
#define FLOW_STRS	7
#define FLOW_BIND_COLUMNS "flow_id, start_us, end_us, ip_version, " \
	"protocol, local_port, remote_port, packets_out, packets_in, " \
	"bytes_out, bytes_in, pid, uid, label_delay_us, ended, next_seq, " \
	"local_ip, remote_ip, app, exe, label_source, end_reason, iface"
#define FLOW_BULK_ROWS	2048	/* flows of one array-bound execution */

/* Column-wise arrays of FLOW_BULK_ROWS values for flows_bulk(). */
struct flow_arrays {
	long long	 v[FLOW_INTS][FLOW_BULK_ROWS];
	const void	*p[FLOW_STRS][FLOW_BULK_ROWS];
	unsigned long	 len[FLOW_STRS][FLOW_BULK_ROWS];
	char		 ind[FLOW_INTS + FLOW_STRS][FLOW_BULK_ROWS];
};

static void
flow_str(struct flow_arrays *a, int c, size_t i, const struct batch *b,
    const struct vstr *v)
{
	a->p[c][i] = b->text + v->off;
	a->len[c][i] = v->len < 0 ? 0 : (unsigned long)v->len;
	a->ind[FLOW_INTS + c][i] = v->len < 0 ? STMT_INDICATOR_NULL :
	    STMT_INDICATOR_NONE;
}

/*
 * The flows upsert through MariaDB's array binding: one prepared
 * single-row INSERT ... ON DUPLICATE KEY UPDATE executed for up to
 * FLOW_BULK_ROWS flows at once, binary values, no SQL text to build
 * or parse per row.  Measured (tests/bench/ingestd.sh, per-phase log)
 * to cost MariaDB about a third less than multi-row VALUES text, and
 * less than LOAD DATA into a temporary table merged by INSERT ...
 * SELECT (which also needs the CREATE TEMPORARY TABLES grant).  Nor
 * does LOAD DATA LOCAL of a batch's new flows straight into flows pay
 * (tried 27 November 2026 on the bench's 20 batches, runs interleaved
 * with this): even told which flows are new for free, MariaDB spent as
 * much on it as on this (server CPU 0.96 s against 0.91 s, flows 34.6
 * ms a batch against 34.4), and asking MySQL which are new costs more
 * (IN lists of at most 999 ids, so that MariaDB looks each up: about
 * 3 us an id, 15 ms for a batch of 4,550 flows).
 */
static int
flows_bulk(MYSQL *my, struct batch *b, unsigned long cid, unsigned long bid,
    char *reason, size_t rlen)
{
	struct flow_arrays *a;
	struct sbuf	 s = { 0 };
	MYSQL_STMT	*ps;
	MYSQL_BIND	 bd[FLOW_INTS + FLOW_STRS];
	size_t		 k = 0, i;
	unsigned int	 n;
	int		 c, ret = LOAD_OK;

	if (b->nflows == 0)
		return LOAD_OK;
	if ((a = malloc(sizeof(*a))) == NULL)
		fatal("flows");
	memset(bd, 0, sizeof(bd));
	for (c = 0; c < FLOW_INTS; c++) {
		bd[c].buffer_type = MYSQL_TYPE_LONGLONG;
		bd[c].buffer = a->v[c];
		bd[c].u.indicator = a->ind[c];
	}
	for (c = 0; c < FLOW_STRS; c++) {
		bd[FLOW_INTS + c].buffer_type = MYSQL_TYPE_BLOB;
		bd[FLOW_INTS + c].buffer = a->p[c];
		bd[FLOW_INTS + c].length = a->len[c];
		bd[FLOW_INTS + c].u.indicator = a->ind[FLOW_INTS + c];
	}
	sb_add(&s, "INSERT INTO flows (client_id, batch_id, first_batch_id, "
	    FLOW_BIND_COLUMNS ") VALUES (%lu, %lu, %lu", cid, bid, bid);
	for (c = 0; c < FLOW_INTS + FLOW_STRS; c++)
		sb_add(&s, ",?");
	sb_add(&s, ")%s", flows_upsert_tail);
	if ((ps = mysql_stmt_init(my)) == NULL)
		fatal("mysql_stmt_init");
	if (mysql_stmt_prepare(ps, s.p, s.len) != 0) {
		ret = db_fail(my, "flows", reason, rlen);
		goto out;
	}
	memset(a->ind, STMT_INDICATOR_NONE, sizeof(a->ind));
	while (k < b->nflows) {
		n = b->nflows - k > FLOW_BULK_ROWS ? FLOW_BULK_ROWS :
		    (unsigned int)(b->nflows - k);
		for (i = 0; i < n; i++) {
			const struct vflow *f = &b->flows[k + i];
			long long x[FLOW_INTS] = { f->flow_id, f->start_us,
			    f->end_us, f->ip_version, f->protocol,
			    f->local_port, f->remote_port, f->packets_out,
			    f->packets_in, f->bytes_out, f->bytes_in, f->pid,
			    f->uid, f->label_delay_us, f->ended,
			    f->first_seq + (long long)f->npackets };

			for (c = 0; c < FLOW_INTS; c++)
				a->v[c][i] = x[c];
			a->ind[11][i] = f->nulls & NULL_PID ?
			    STMT_INDICATOR_NULL : STMT_INDICATOR_NONE;
			a->ind[12][i] = f->nulls & NULL_UID ?
			    STMT_INDICATOR_NULL : STMT_INDICATOR_NONE;
			a->ind[13][i] = f->nulls & NULL_DELAY ?
			    STMT_INDICATOR_NULL : STMT_INDICATOR_NONE;
			a->p[0][i] = f->local_ip;
			a->p[1][i] = f->remote_ip;
			a->len[0][i] = a->len[1][i] =
			    f->ip_version == 4 ? 4 : 16;
			flow_str(a, 2, i, b, &f->app);
			flow_str(a, 3, i, b, &f->exe);
			flow_str(a, 4, i, b, &f->label_source);
			flow_str(a, 5, i, b, &f->end_reason);
			flow_str(a, 6, i, b, &f->iface);
		}
		if (mysql_stmt_attr_set(ps, STMT_ATTR_ARRAY_SIZE, &n) ||
		    mysql_stmt_bind_param(ps, bd) != 0 ||
		    mysql_stmt_execute(ps) != 0) {
			ret = stmt_fail(ps, "flows", reason, rlen);
			break;
		}
		k += n;
	}
out:
	mysql_stmt_close(ps);
	free(a);
	free(s.p);
	return ret;
}

/*
 * Does the server take array-bound executions (MariaDB 10.2.6 and
 * later)?  MySQL does not: flows then go as multi-row VALUES text.
 */
static int
server_bulk(MYSQL *my)
{
	return mariadb_connection(my) &&
	    mysql_get_server_version(my) >= 100206;
}

/*
 * The flows upsert as multi-row INSERT ... VALUES text, of at most
 * FLOW_SQL_MAX bytes each: plain SQL that any MySQL takes (-P insert,
 * and servers without array binding).
 */
static int
flows_text(MYSQL *my, struct batch *b, unsigned long cid, unsigned long bid,
    char *reason, size_t rlen)
{
	struct sbuf	 s = { 0 };
	size_t		 i;
	int		 rows = 0, ret = LOAD_OK, alen;

	for (i = 0; i < b->nflows; i++) {
		const struct vflow *f = &b->flows[i];

		if (rows == 0) {
			s.len = 0;
			sb_add(&s, "%s", flows_insert_head);
		} else
			sb_add(&s, ",");
		alen = f->ip_version == 4 ? 4 : 16;
		sb_add(&s, "(%lu,%" PRId64 ",%lu,%lu,%" PRId64 ",%" PRId64
		    ",%d,%d,", cid, f->flow_id, bid, bid, f->start_us,
		    f->end_us, f->ip_version, f->protocol);
		sb_hex(&s, f->local_ip, (size_t)alen);
		sb_add(&s, ",%d,", f->local_port);
		sb_hex(&s, f->remote_ip, (size_t)alen);
		sb_add(&s, ",%d,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
		    ",", f->remote_port, f->packets_out, f->packets_in,
		    f->bytes_out, f->bytes_in);
		sb_str(&s, b, &f->app);
		if (f->nulls & NULL_PID)
			sb_add(&s, ",NULL");
		else
			sb_add(&s, ",%" PRId64, f->pid);
		if (f->nulls & NULL_UID)
			sb_add(&s, ",NULL,");
		else
			sb_add(&s, ",%" PRId64 ",", f->uid);
		sb_str(&s, b, &f->exe);
		sb_add(&s, ",");
		sb_str(&s, b, &f->label_source);
		if (f->nulls & NULL_DELAY)
			sb_add(&s, ",NULL,");
		else
			sb_add(&s, ",%" PRId64 ",", f->label_delay_us);
		sb_str(&s, b, &f->end_reason);
		sb_add(&s, ",%d,", f->ended);
		sb_str(&s, b, &f->iface);
		sb_add(&s, ",%" PRId64 ")", f->first_seq +
		    (int64_t)f->npackets);
		rows++;
		if (i + 1 == b->nflows || s.len >= FLOW_SQL_MAX) {
			sb_add(&s, "%s", flows_upsert_tail);
			if (mysql_real_query(my, s.p, s.len) != 0) {
				ret = db_fail(my, "flows", reason, rlen);
				break;
			}
			rows = 0;
		}
	}
	free(s.p);
	return ret;
}

/* Decimal digits of v, backwards from end; returns the first digit. */
static char *
utoa_back(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}

/* A number, then a tab. */
static size_t
put_num(char *out, int64_t v)
{
	char	 tmp[24], *d;
	size_t	 n;

	if (v < 0) {
		*out = '-';
		return 1 + put_num(out + 1, -v);
	}
	d = utoa_back(tmp + sizeof(tmp), (uint64_t)v);
	n = (size_t)(tmp + sizeof(tmp) - d);
	memcpy(out, d, n);
	out[n] = '\t';
	return n + 1;
}

/* The LOAD DATA NULL, then a tab. */
static size_t
put_null(char *out)
{
	out[0] = '\\';
	out[1] = 'N';
	out[2] = '\t';
	return 3;
}

/*
 * Bytes escaped as LOAD DATA's default ESCAPED BY '\\' reads them
 * back, then a tab: at most 2 n + 1 bytes.
 */
static size_t
put_bytes(char *out, const void *v, size_t n)
{
	const uint8_t	*p = v;
	size_t		 i, o = 0;

	for (i = 0; i < n; i++) {
		switch (p[i]) {
		case '\0':
			out[o++] = '\\';
			out[o++] = '0';
			break;
		case '\t':
			out[o++] = '\\';
			out[o++] = 't';
			break;
		case '\n':
			out[o++] = '\\';
			out[o++] = 'n';
			break;
		case '\\':
			out[o++] = '\\';
			out[o++] = '\\';
			break;
		default:
			out[o++] = (char)p[i];
		}
	}
	out[o++] = '\t';
	return o;
}

#define LINE_MAX_BYTES	(3 * 22 + 3 + 2 * CHUNK_MAX * CHUNK_BYTES + 1)

/*
 * One packet_chunks row as a LOAD DATA line: flow_id, seq, rel0 (\N
 * when none) and the packed bytes.  Returns its length, at most
 * LINE_MAX_BYTES.
 */
static size_t
chunk_line(const struct batch *b, size_t k, char *out)
{
	const struct chunk	*c = &b->chunks[k];
	size_t			 o = 0;

	o += put_num(out + o, c->flow_id);
	o += put_num(out + o, c->seq);
	o += c->rel0 < 0 ? put_null(out + o) : put_num(out + o, c->rel0);
	o += put_bytes(out + o, b->pk + c->off, (size_t)c->n * CHUNK_BYTES);
	out[o - 1] = '\n';
	return o;
}

/*
 * The infile handler: LOAD DATA LOCAL asks for a "file", and gets the
 * batch's chunk rows, made on the fly from what validate.c packed.  It
 * never opens a file, whatever name the server asks for.
 */
struct infile {
	const struct batch *b;
	size_t		 next;		/* chunk */
	int		 armed;		/* our own LOAD DATA is running */
	char		 pend[LINE_MAX_BYTES];	/* a line that did not fit */
	size_t		 plen, poff;
	char		 err[256];
};

static int
infile_init(void **ptr, const char *name, void *userdata)
{
	struct infile	*in = userdata;

	(void)name;
	*ptr = in;
	if (!in->armed) {
		snprintf(in->err, sizeof(in->err), "no local file is offered");
		return 1;
	}
	return 0;
}

static int
infile_read(void *ptr, char *buf, unsigned int len)
{
	struct infile	*in = ptr;
	unsigned int	 o = 0;
	size_t		 n;

	while (o < len) {
		if (in->poff < in->plen) {
			n = in->plen - in->poff;
			if (n > len - o)
				n = len - o;
			memcpy(buf + o, in->pend + in->poff, n);
			in->poff += n;
			o += (unsigned int)n;
			continue;
		}
		if (in->next == in->b->nchunks)
			break;
		if (len - o >= LINE_MAX_BYTES)
			o += (unsigned int)chunk_line(in->b, in->next, buf + o);
		else {
			in->plen = chunk_line(in->b, in->next, in->pend);
			in->poff = 0;
		}
		in->next++;
	}
	return (int)o;
}

static void
infile_end(void *ptr)
{
	(void)ptr;
}

static int
infile_error(void *ptr, char *msg, unsigned int len)
{
	struct infile	*in = ptr;

	snprintf(msg, len, "%s", in->err[0] != '\0' ? in->err :
	    "infile error");
	return CR_UNKNOWN_ERROR;
}

static struct infile	infile;

static int
packets_infile(MYSQL *my, struct batch *b, unsigned long cid,
    unsigned long bid, char *reason, size_t rlen)
{
	char		q[512];
	uint64_t	n;

	memset(&infile, 0, sizeof(infile));
	infile.b = b;
	infile.armed = 1;
	mysql_set_local_infile_handler(my, infile_init, infile_read,
	    infile_end, infile_error, &infile);
	snprintf(q, sizeof(q), "LOAD DATA LOCAL INFILE 'vbs-packets' INTO "
	    "TABLE packet_chunks CHARACTER SET binary FIELDS TERMINATED BY "
	    "'\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (flow_id, "
	    "seq, rel0, pk) SET client_id = %lu, batch_id = %lu", cid, bid);
	if (mysql_query(my, q) != 0) {
		infile.armed = 0;
		return db_fail(my, "packets", reason, rlen);
	}
	infile.armed = 0;
	/*
	 * LOAD DATA LOCAL turns a duplicate key into a warning and skips
	 * the row, and a value out of range into a warning and clips it:
	 * every row must have gone in, and none with a warning.
	 */
	n = mysql_affected_rows(my);
	if (n != b->nchunks || mysql_warning_count(my) != 0) {
		snprintf(reason, rlen, "packets: %" PRIu64 " of %zu chunk "
		    "rows loaded, %u warnings (a flow's seq already in "
		    "MySQL?)", n, b->nchunks, mysql_warning_count(my));
		return LOAD_BAD;
	}
	load_packet_rows += b->npackets;
	return LOAD_OK;
}

/* The parameters of chunk row k, bound from the batch's own memory. */
static void
bind_chunk(MYSQL_BIND *bd, struct batch *b, struct chunk *c,
    unsigned long *len, my_bool *isnull)
{
	bd[0].buffer_type = MYSQL_TYPE_LONGLONG;
	bd[0].buffer = &c->flow_id;
	bd[0].is_unsigned = 1;
	bd[1].buffer_type = MYSQL_TYPE_LONGLONG;
	bd[1].buffer = &c->seq;
	bd[1].is_unsigned = 1;
	bd[2].buffer_type = MYSQL_TYPE_LONGLONG;
	bd[2].buffer = &c->rel0;
	bd[2].is_unsigned = 1;
	*isnull = c->rel0 < 0;
	bd[2].is_null = isnull;
	*len = (unsigned long)c->n * CHUNK_BYTES;
	bd[3].buffer_type = MYSQL_TYPE_BLOB;
	bd[3].buffer = b->pk + c->off;
	bd[3].buffer_length = *len;
	bd[3].length = len;
}

/* Prepare a multi-row INSERT of nrows chunk rows, 4 parameters each. */
static MYSQL_STMT *
prepare_insert(MYSQL *my, unsigned long cid, unsigned long bid, int nrows)
{
	struct sbuf	 s = { 0 };
	MYSQL_STMT	*ps;
	int		 i;

	sb_add(&s, "INSERT INTO packet_chunks (client_id, batch_id, flow_id, "
	    "seq, rel0, pk) VALUES ");
	for (i = 0; i < nrows; i++)
		sb_add(&s, "%s(%lu,%lu,?,?,?,?)", i ? "," : "", cid, bid);
	if ((ps = mysql_stmt_init(my)) == NULL)
		fatal("mysql_stmt_init");
	if (mysql_stmt_prepare(ps, s.p, s.len) != 0) {
		free(s.p);
		mysql_stmt_close(ps);
		return NULL;
	}
	free(s.p);
	return ps;
}

static int
stmt_fail(MYSQL_STMT *ps, const char *what, char *reason, size_t rlen)
{
	last_errno = mysql_stmt_errno(ps);
	snprintf(reason, rlen, "%s: MySQL error %u: %s", what,
	    mysql_stmt_errno(ps), mysql_stmt_error(ps));
	return db_error_is_data(mysql_stmt_errno(ps)) ? LOAD_BAD : LOAD_RETRY;
}

/* Multi-row prepared INSERTs of INSERT_ROWS chunk rows. */
static int
packets_insert(MYSQL *my, struct batch *b, unsigned long cid,
    unsigned long bid, char *reason, size_t rlen)
{
	MYSQL_STMT	*full = NULL, *part = NULL, *ps;
	MYSQL_BIND	*bind;
	unsigned long	 len[INSERT_ROWS];
	my_bool		 isnull[INSERT_ROWS];
	size_t		 k = 0, n;
	int		 i, ret = LOAD_OK;

	if ((bind = calloc(INSERT_ROWS * 4, sizeof(*bind))) == NULL)
		fatal("packets");
	while (k < b->nchunks) {
		n = b->nchunks - k;
		if (n > INSERT_ROWS)
			n = INSERT_ROWS;
		memset(bind, 0, INSERT_ROWS * 4 * sizeof(*bind));
		for (i = 0; i < (int)n; i++)
			bind_chunk(&bind[i * 4], b, &b->chunks[k + (size_t)i],
			    &len[i], &isnull[i]);
		if (n == INSERT_ROWS) {
			if (full == NULL && (full = prepare_insert(my, cid,
			    bid, (int)n)) == NULL) {
				ret = db_fail(my, "packets", reason, rlen);
				break;
			}
			ps = full;
		} else {
			if ((part = prepare_insert(my, cid, bid, (int)n)) ==
			    NULL) {
				ret = db_fail(my, "packets", reason, rlen);
				break;
			}
			ps = part;
		}
		if (mysql_stmt_bind_param(ps, bind) != 0 ||
		    mysql_stmt_execute(ps) != 0) {
			ret = stmt_fail(ps, "packets", reason, rlen);
			break;
		}
		k += n;
	}
	if (ret == LOAD_OK)
		load_packet_rows += b->npackets;
	if (full != NULL)
		mysql_stmt_close(full);
	if (part != NULL)
		mysql_stmt_close(part);
	free(bind);
	return ret;
}

/*
 * MariaDB's array binding: one single-row INSERT executed for up to
 * BULK_ROWS chunk rows at once (COM_STMT_BULK_EXECUTE), column arrays
 * of binary values, no text for the server to parse.
 */
static int
packets_bulk(MYSQL *my, struct batch *b, unsigned long cid,
    unsigned long bid, char *reason, size_t rlen)
{
	MYSQL_STMT	*ps;
	MYSQL_BIND	 bind[4];
	long long	*flow, *seq, *rel0;
	char		*ind;
	void		**data;
	unsigned long	*len;
	char		 q[256];
	unsigned int	 n;
	size_t		 k = 0, i;
	int		 ret = LOAD_OK;

	if ((flow = calloc(BULK_ROWS, sizeof(*flow))) == NULL ||
	    (seq = calloc(BULK_ROWS, sizeof(*seq))) == NULL ||
	    (rel0 = calloc(BULK_ROWS, sizeof(*rel0))) == NULL ||
	    (ind = calloc(BULK_ROWS, sizeof(*ind))) == NULL ||
	    (data = calloc(BULK_ROWS, sizeof(*data))) == NULL ||
	    (len = calloc(BULK_ROWS, sizeof(*len))) == NULL)
		fatal("packets");
	memset(bind, 0, sizeof(bind));
	bind[0].buffer_type = MYSQL_TYPE_LONGLONG;
	bind[0].buffer = flow;
	bind[0].is_unsigned = 1;
	bind[1].buffer_type = MYSQL_TYPE_LONGLONG;
	bind[1].buffer = seq;
	bind[1].is_unsigned = 1;
	bind[2].buffer_type = MYSQL_TYPE_LONGLONG;
	bind[2].buffer = rel0;
	bind[2].is_unsigned = 1;
	bind[2].u.indicator = ind;
	/* Variable length, column-wise: an array of pointers. */
	bind[3].buffer_type = MYSQL_TYPE_BLOB;
	bind[3].buffer = data;
	bind[3].length = len;
	snprintf(q, sizeof(q), "INSERT INTO packet_chunks (client_id, "
	    "batch_id, flow_id, seq, rel0, pk) VALUES (%lu,%lu,?,?,?,?)",
	    cid, bid);
	if ((ps = mysql_stmt_init(my)) == NULL)
		fatal("mysql_stmt_init");
	if (mysql_stmt_prepare(ps, q, strlen(q)) != 0) {
		ret = db_fail(my, "packets", reason, rlen);
		goto out;
	}
	while (k < b->nchunks) {
		n = b->nchunks - k > BULK_ROWS ? BULK_ROWS :
		    (unsigned int)(b->nchunks - k);
		for (i = 0; i < n; i++) {
			const struct chunk *c = &b->chunks[k + i];

			flow[i] = c->flow_id;
			seq[i] = c->seq;
			rel0[i] = c->rel0 < 0 ? 0 : c->rel0;
			ind[i] = c->rel0 < 0 ? STMT_INDICATOR_NULL :
			    STMT_INDICATOR_NONE;
			data[i] = b->pk + c->off;
			len[i] = (unsigned long)c->n * CHUNK_BYTES;
		}
		if (mysql_stmt_attr_set(ps, STMT_ATTR_ARRAY_SIZE, &n) ||
		    mysql_stmt_bind_param(ps, bind) != 0 ||
		    mysql_stmt_execute(ps) != 0) {
			ret = stmt_fail(ps, "packets", reason, rlen);
			break;
		}
		k += n;
	}
	if (ret == LOAD_OK)
		load_packet_rows += b->npackets;
out:
	mysql_stmt_close(ps);
	free(flow);
	free(seq);
	free(rel0);
	free(ind);
	free(data);
	free(len);
	return ret;
}

static int
load_once(MYSQL *my, struct batch *b, enum pkt_method method,
    const char *loader, unsigned long cid, char *reason, size_t rlen)
{
	struct sbuf	 s = { 0 };
	unsigned long	 bid;
	uint64_t	 t0 = mono_us(), t1, t2, t3;
	int		 ret;

	if (mysql_query(my, "START TRANSACTION") != 0)
		return db_fail(my, "start", reason, rlen);
	sb_add(&s, "INSERT INTO batches (client_id, batch_name, loader, "
	    "file_bytes, flows, packets, first_us, last_us, meta) VALUES "
	    "(%lu, '%s', ", cid, b->batch_id);
	sb_hex(&s, loader, strlen(loader));
	sb_add(&s, ", %" PRIu64 ", %" PRIu64 ", %" PRIu64 ", ", b->file_bytes,
	    b->nflows, b->npackets);
	if (b->first_us > 0)
		sb_add(&s, "%" PRId64 ", ", b->first_us);
	else
		sb_add(&s, "NULL, ");
	if (b->last_us > 0)
		sb_add(&s, "%" PRId64 ", ", b->last_us);
	else
		sb_add(&s, "NULL, ");
	sb_hex(&s, b->meta_json, strlen(b->meta_json));
	sb_add(&s, ")");
	if (mysql_real_query(my, s.p, s.len) != 0) {
		free(s.p);
		if (mysql_errno(my) == ER_DUP_ENTRY) {
			/* Another loader got there first and committed. */
			mysql_query(my, "ROLLBACK");
			return LOAD_DUP;
		}
		ret = db_fail(my, "batches", reason, rlen);
		goto rollback;
	}
	free(s.p);
	bid = (unsigned long)mysql_insert_id(my);

	t1 = mono_us();
	if (method != PKT_INSERT && server_bulk(my))
		ret = flows_bulk(my, b, cid, bid, reason, rlen);
	else
		ret = flows_text(my, b, cid, bid, reason, rlen);
	if (ret != LOAD_OK)
		goto rollback;
	t2 = mono_us();
	if (b->nchunks > 0) {
		if (method == PKT_INSERT)
			ret = packets_insert(my, b, cid, bid, reason, rlen);
		else if (method == PKT_BULK && server_bulk(my))
			ret = packets_bulk(my, b, cid, bid, reason, rlen);
		else
			ret = packets_infile(my, b, cid, bid, reason, rlen);
		if (ret != LOAD_OK)
			goto rollback;
	}
	t3 = mono_us();
	if (mysql_commit(my) != 0)
		return db_fail(my, "commit", reason, rlen);
	/* tenths of ms: a batch's packets take a few ms (the bench sums them) */
	log_debug("%s: loaded as batch %lu: %" PRIu64 " flows, %" PRIu64
	    " packets; ms: ledger %.1f, flows %.1f, packets %.1f, commit %.1f",
	    b->batch_id, bid, b->nflows, b->npackets, (t1 - t0) / 1e3,
	    (t2 - t1) / 1e3, (t3 - t2) / 1e3, (mono_us() - t3) / 1e3);
	return LOAD_OK;
rollback:
	mysql_query(my, "ROLLBACK");
	return ret;
}

/*
 * Load a validated batch.  LOAD_OK: committed.  LOAD_DUP: already in
 * MySQL.  LOAD_BAD: the batch's data is refused (reason says why) and
 * nothing of it was written.  LOAD_RETRY: MySQL failed; nothing of the
 * batch is committed unless the commit itself was cut off, in which
 * case loading again finds it in the ledger.
 */
int
load_batch(MYSQL *my, struct batch *b, enum pkt_method method,
    const char *loader, char *reason, size_t rlen)
{
	unsigned long	cid;
	int		ret, attempt, found;

	/*
	 * A client seen for the first time is registered, but not before
	 * its batch has passed the checks that need MySQL: a refused
	 * batch leaves nothing behind.
	 */
	if ((ret = client_number(my, b->client_id, 0, &cid, reason,
	    rlen)) != 0)
		return ret;
	if (cid == 0) {
		if (b->norphans > 0) {
			snprintf(reason, rlen, "packets without their flow: "
			    "%zu flow(s) named by packets (first %" PRId64
			    ") have no row in this batch, and the client is "
			    "new", b->norphans, b->orphans[0]);
			return LOAD_BAD;
		}
		if ((ret = client_number(my, b->client_id, 1, &cid, reason,
		    rlen)) != 0)
			return ret;
	}
	/* The cheap answer for a batch sent again: no locks taken. */
	if ((found = in_ledger(my, cid, b->batch_id, reason, rlen)) < 0)
		return -found;
	if (found)
		return LOAD_DUP;
	if ((ret = check_orphans(my, b, cid, reason, rlen)) != LOAD_OK)
		return ret;
	for (attempt = 1; attempt <= ATTEMPTS; attempt++) {
		last_errno = 0;
		ret = load_once(my, b, method, loader, cid, reason, rlen);
		if (ret != LOAD_RETRY || (last_errno != ER_LOCK_DEADLOCK &&
		    last_errno != ER_LOCK_WAIT_TIMEOUT))
			break;
		log_info("%s: %s; attempt %d", b->batch_id, reason, attempt);
	}
	return ret;
}
