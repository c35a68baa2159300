/*
 * validate.c: decides whether a batch file may be loaded.  Runs in every
 * ingestd loader before anything is written to MySQL.  The file is
 * hostile: it came over the network from a client that may be broken,
 * compromised or simply cut off mid-upload.  Nothing in it is trusted
 * until every check below has passed, and SQLite itself is only asked
 * to read it in a defensive mode (batch_open, which the receiver uses
 * too): read-only, immutable, no trusted schema, no views or triggers,
 * cell size checks on, and a deadline.
 *
 * The checks, in order, each with its own reason for the .reason file:
 * file size and SQLite header (truncation), PRAGMA quick_check,
 * schema version, the exact schema text of proto/batch.sql, meta (ids,
 * version, the uploader), then every flow and packet row: SQL type,
 * range, lengths, limits, and that each packet's flow is in this batch
 * (flows named only by packets are left for load.c to find in MySQL).
 * The receiver, before it answers an upload, reads only its meta here
 * (batch_meta), opened the same way.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "ingestd.h"

#define SQLITE_HDR	"SQLite format 3"
#define PROGRESS_OPS	10000	/* VM steps between looks at the clock */

static int	quiet;

/* The fuzz driver calls this: refusals are its normal case. */
void
validate_quiet(void)
{
	quiet = 1;
}

static int
refuse(char *reason, size_t rlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
refuse(char *reason, size_t rlen, const char *fmt, ...)
{
	va_list	ap;
	char	*c;

	va_start(ap, fmt);
	vsnprintf(reason, rlen, fmt, ap);
	va_end(ap);
	/* One line: it goes into a .reason file and a log line. */
	for (c = reason; *c != '\0'; c++)
		if (*c == '\n' || *c == '\r' || *c == '\t')
			*c = ' ';
	return -1;
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * The 100-byte SQLite header: magic, page size, and the page count that
 * SQLite keeps in the header, which must match the file's length.  This
 * is what names a truncated upload as truncated, before SQLite sees it.
 */
static int
check_header(const char *path, uint64_t max_bytes, uint64_t *size,
    char *reason, size_t rlen)
{
	unsigned char	 h[100];
	struct stat	 st;
	uint64_t	 pagesize, pages;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return refuse(reason, rlen, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return refuse(reason, rlen, "not a regular file");
	}
	*size = (uint64_t)st.st_size;
	if (*size > max_bytes) {
		close(fd);
		return refuse(reason, rlen, "too large: %" PRIu64
		    " bytes, limit %" PRIu64, *size, max_bytes);
	}
	n = read(fd, h, sizeof(h));
	close(fd);
	if (n != (ssize_t)sizeof(h) || memcmp(h, SQLITE_HDR "\0", 16) != 0)
		return refuse(reason, rlen, "not an SQLite database "
		    "(bad header at offset 0)");
	pagesize = (uint64_t)h[16] << 8 | h[17];
	if (pagesize == 1)
		pagesize = 65536;
	if (pagesize < 512 || (pagesize & (pagesize - 1)) != 0)
		return refuse(reason, rlen, "bad page size %" PRIu64
		    " at offset 16", pagesize);
	/* The header's page count is valid when offsets 24 and 92 agree. */
	pages = be32(h + 28);
	if (be32(h + 24) == be32(h + 92) && pages != 0 &&
	    pages * pagesize != *size)
		return refuse(reason, rlen, "truncated: %" PRIu64 " bytes, "
		    "header says %" PRIu64 " pages of %" PRIu64, *size, pages,
		    pagesize);
	if (*size % pagesize != 0)
		return refuse(reason, rlen, "truncated: %" PRIu64 " bytes is "
		    "not a whole number of %" PRIu64 "-byte pages", *size,
		    pagesize);
	return 0;
}

/*
 * Past the deadline (CLOCK_MONOTONIC seconds, carried in the pointer:
 * SQLite keeps it for as long as the connection is open) every
 * statement stops with SQLITE_INTERRUPT.
 */
static int
past_deadline(void *deadline)
{
	return mono_us() / 1000000 >= (uint64_t)(uintptr_t)deadline;
}

/*
 * Open a batch as every query on an uploaded file must see it: the
 * receiver and the loader both open batches here.  Read-only and
 * immutable (no journal, no locks, no writes), no trusted schema, no
 * views and no triggers (the file's own SQL never runs: a recursive
 * view would never end), values and statements of at most 1 MB, cell
 * sizes checked, and every statement cut off once `seconds` (to within
 * a second) have passed since the open.
 */
sqlite3 *
batch_open(const char *path, int seconds, char *reason, size_t rlen)
{
	char		*uri;
	sqlite3		*db = NULL;
	size_t		 i, o;
	int		 rc;

	if ((uri = malloc(strlen(path) * 3 + 32)) == NULL) {
		refuse(reason, rlen, "out of memory");
		return NULL;
	}
	o = (size_t)sprintf(uri, "file:");
	for (i = 0; path[i] != '\0'; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c == '%' || c == '?' || c == '#' || c <= ' ' || c >= 0x7f)
			o += (size_t)sprintf(uri + o, "%%%02X", c);
		else
			uri[o++] = (char)c;
	}
	strcpy(uri + o, "?immutable=1");
	/* NOMUTEX: a connection is only ever used by one thread. */
	rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
	    SQLITE_OPEN_NOMUTEX, NULL);
	free(uri);
	if (rc != SQLITE_OK) {
		refuse(reason, rlen, "cannot open as SQLite: %s",
		    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return NULL;
	}
	if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL) !=
	    SQLITE_OK ||
	    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL) !=
	    SQLITE_OK ||
	    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL) !=
	    SQLITE_OK ||
	    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL) !=
	    SQLITE_OK) {
		refuse(reason, rlen, "cannot set SQLite's defensive mode");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 1 << 20);
	sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 1 << 20);
	sqlite3_progress_handler(db, PROGRESS_OPS, past_deadline,
	    (void *)(uintptr_t)(mono_us() / 1000000 + (uint64_t)seconds));
	sqlite3_exec(db, "PRAGMA cell_size_check = ON", NULL, NULL, NULL);
	return db;
}

/*
 * Did the last call on db stop at batch_open's deadline?  Then nothing
 * is known of the batch: running out of time is the server's state
 * (load, a slow disk), not the file's fault.
 */
static int
timed_out(sqlite3 *db)
{
	return db != NULL && sqlite3_errcode(db) == SQLITE_INTERRUPT;
}

/*
 * What the receiver must know of an upload before it answers: is the
 * file a batch named id, of client or of no client (flowd not told its
 * id: the uploader names it)?  The loader validates all of it later.
 * The file is opened as the loader opens it, and meta must be a table:
 * nothing of the file's own SQL runs, and no query runs past `seconds`
 * (META_LATE).  why says what was wrong, in one line.
 */
enum meta_check
batch_meta(const char *path, int seconds, const char *id,
    const char *client, char *why, size_t wlen)
{
	sqlite3		*db = NULL;
	sqlite3_stmt	*st = NULL;
	const unsigned char *k, *v;
	int		 have_id = 0, rc;
	enum meta_check	 ret = META_BAD;

	if ((db = batch_open(path, seconds, why, wlen)) == NULL)
		return META_BAD;
	snprintf(why, wlen, "not a VBS batch");
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'table' AND name = 'meta' AND sql LIKE 'CREATE TABLE %'",
	    -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		goto out;
	if (sqlite3_column_int(st, 0) != 1) {
		snprintf(why, wlen, "meta is not a table");
		goto out;
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db, "SELECT key, value FROM meta WHERE key IN "
	    "('batch_id', 'client_id')", -1, &st, NULL) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		k = sqlite3_column_text(st, 0);
		v = sqlite3_column_text(st, 1);
		if (k == NULL || v == NULL)
			goto out;
		if (strcmp((const char *)k, "batch_id") == 0) {
			if (strcmp((const char *)v, id) != 0) {
				refuse(why, wlen, "meta batch_id is not the "
				    "URL's %s", id);
				goto out;
			}
			have_id = 1;
		} else if (v[0] != '\0' &&
		    strcmp((const char *)v, client) != 0) {
			ret = META_FOREIGN;
			snprintf(why, wlen, "batch of another client");
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		refuse(why, wlen, "meta unreadable: %s", sqlite3_errmsg(db));
	else if (have_id)
		ret = META_OK;
	else
		snprintf(why, wlen, "meta has no batch_id");
out:
	/* Our time ran out, not the client's: ask it to come back. */
	if (ret == META_BAD && timed_out(db)) {
		ret = META_LATE;
		refuse(why, wlen, "meta not read within %d s", seconds);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ret;
}

/* One-value query; -1 with reason on any SQLite error. */
static int
query_int(sqlite3 *db, const char *sql, int64_t *v, char *reason,
    size_t rlen)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return refuse(reason, rlen, "malformed: %s", sqlite3_errmsg(db));
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW ||
	    sqlite3_column_type(st, 0) != SQLITE_INTEGER) {
		refuse(reason, rlen, "malformed: %s", rc == SQLITE_ROW ?
		    "not an integer" : sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -1;
	}
	*v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

static int
check_integrity(sqlite3 *db, char *reason, size_t rlen)
{
	sqlite3_stmt		*st;
	const unsigned char	*msg;
	int			 rc;

	/*
	 * quick_check: b-tree structure, NOT NULL and CHECK.  What
	 * integrity_check adds is that indexes match their tables and
	 * UNIQUE holds: the batch schema has no index (every table is
	 * clustered on its key) and one key that rowid order does not
	 * make unique, meta's, which check_meta checks.
	 */
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st,
	    NULL) != SQLITE_OK)
		return refuse(reason, rlen, "integrity: %s", sqlite3_errmsg(db));
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		refuse(reason, rlen, "integrity: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -1;
	}
	msg = sqlite3_column_text(st, 0);
	if (msg == NULL || strcmp((const char *)msg, "ok") != 0) {
		refuse(reason, rlen, "integrity: %.200s",
		    msg != NULL ? (const char *)msg : "(null)");
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

/*
 * The schema must be proto/batch.sql to the byte: sqlite_master of the
 * file against that of an in-memory database made from batch_schema().
 * This rules out views, triggers and columns of other types before any
 * row is read.
 */
static char *
schema_text(sqlite3 *db)
{
	sqlite3_stmt	*st;
	char		*out = NULL;
	size_t		 len = 0, n;
	FILE		*fp;
	int		 rc;

	if (sqlite3_prepare_v2(db, "SELECT type, name, tbl_name, "
	    "coalesce(sql, '') FROM sqlite_master ORDER BY type, name",
	    -1, &st, NULL) != SQLITE_OK)
		return NULL;
	if ((fp = open_memstream(&out, &len)) == NULL) {
		sqlite3_finalize(st);
		return NULL;
	}
	for (n = 0; (rc = sqlite3_step(st)) == SQLITE_ROW && n < 64; n++)
		fprintf(fp, "%s|%s|%s|%s\n", sqlite3_column_text(st, 0),
		    sqlite3_column_text(st, 1), sqlite3_column_text(st, 2),
		    sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	fclose(fp);
	if (rc != SQLITE_DONE) {
		free(out);
		return NULL;
	}
	return out;
}

static int
check_schema(sqlite3 *db, char *reason, size_t rlen)
{
	static char	*want;
	sqlite3		*ref;
	char		*got;
	int		 rc;

	if (want == NULL) {
		if (sqlite3_open(":memory:", &ref) != SQLITE_OK ||
		    sqlite3_exec(ref, batch_schema(), NULL, NULL, NULL) !=
		    SQLITE_OK)
			fatalx("batch schema: %s", sqlite3_errmsg(ref));
		want = schema_text(ref);
		sqlite3_close(ref);
		if (want == NULL)
			fatalx("batch schema: cannot read it back");
	}
	if ((got = schema_text(db)) == NULL)
		return refuse(reason, rlen, "malformed: cannot read the "
		    "schema: %s", sqlite3_errmsg(db));
	rc = strcmp(got, want) == 0 ? 0 :
	    refuse(reason, rlen, "schema differs from proto/batch.sql "
	    "version %d", BATCH_SCHEMA_VERSION);
	free(got);
	return rc;
}

/* Client and batch ids: the characters flowd and the spool use. */
static int
id_ok(const char *s, size_t max, int dots)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    (dots && c == '.')))
			return 0;
	}
	return i > 0 && i <= max;
}

static void
json_str(FILE *fp, const unsigned char *s, int n)
{
	int	i;

	fputc('"', fp);
	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			fprintf(fp, "\\%c", s[i]);
		else if (s[i] < 0x20 || s[i] >= 0x7f)
			fprintf(fp, "\\u%04x", s[i]);
		else
			fputc(s[i], fp);
	}
	fputc('"', fp);
}

static int
parse_i64(const char *s, int64_t *v)
{
	char		*end;
	long long	 x;

	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || x < 0)
		return -1;
	*v = x;
	return 0;
}

/*
 * meta: every row a short printable key and a text value; the ids and
 * the schema version present and right; client_id that of the uploader.
 * Keeps all of meta as JSON for the ledger.
 */
static int
check_meta(struct batch *b, const char *uploader, int64_t *want_flows,
    int64_t *want_packets, char *reason, size_t rlen)
{
	sqlite3_stmt	*st;
	FILE		*fp;
	char		*json = NULL;
	size_t		 jlen = 0;
	int		 rc, n = 0, have_version = 0, bad = 0;
	int		 have_client = 0;
	char		 prev[65];

	*want_flows = *want_packets = -1;
	b->batch_id[0] = '\0';
	if (sqlite3_prepare_v2(b->db, "SELECT key, value FROM meta ORDER BY "
	    "key", -1, &st, NULL) != SQLITE_OK)
		return refuse(reason, rlen, "meta: %s", sqlite3_errmsg(b->db));
	if ((fp = open_memstream(&json, &jlen)) == NULL)
		fatal("open_memstream");
	fputc('{', fp);
	while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *k = sqlite3_column_text(st, 0);
		const unsigned char *v = sqlite3_column_text(st, 1);
		int kl = sqlite3_column_bytes(st, 0);
		int vl = sqlite3_column_bytes(st, 1);

		if (++n > MAX_META) {
			bad = refuse(reason, rlen, "meta: more than %d rows",
			    MAX_META);
			break;
		}
		if (sqlite3_column_type(st, 0) != SQLITE_TEXT ||
		    sqlite3_column_type(st, 1) != SQLITE_TEXT || k == NULL ||
		    v == NULL || kl < 1 || kl > 64 || vl > MAX_META_VALUE ||
		    (int)strlen((const char *)k) != kl ||
		    (int)strlen((const char *)v) != vl ||
		    !id_ok((const char *)k, 64, 1)) {
			bad = refuse(reason, rlen, "meta: row %d is not a "
			    "short text key and value", n);
			break;
		}
		/*
		 * Keys strictly increasing: quick_check does not check
		 * UNIQUE, and a key twice must not let a second batch_id
		 * pass for the first.
		 */
		if (n > 1 && strcmp((const char *)k, prev) <= 0) {
			bad = refuse(reason, rlen, "meta: key %.64s twice or "
			    "out of order", k);
			break;
		}
		snprintf(prev, sizeof(prev), "%s", k);
		if (n > 1)
			fputc(',', fp);
		json_str(fp, k, kl);
		fputc(':', fp);
		json_str(fp, v, vl);

		if (strcmp((const char *)k, "batch_id") == 0) {
			if (!id_ok((const char *)v, MAX_ID, 1))
				bad = refuse(reason, rlen, "meta: bad batch_id");
			else
				snprintf(b->batch_id, sizeof(b->batch_id),
				    "%s", v);
		} else if (strcmp((const char *)k, "client_id") == 0) {
			have_client = 1;
			if (vl != 0 && !id_ok((const char *)v, MAX_CLIENT, 0))
				bad = refuse(reason, rlen,
				    "meta: bad client_id");
			else
				snprintf(b->client_id, sizeof(b->client_id),
				    "%s", v);
		} else if (strcmp((const char *)k, "schema_version") == 0) {
			have_version = 1;
			if (strcmp((const char *)v, "1") != 0 ||
			    BATCH_SCHEMA_VERSION != 1)
				bad = refuse(reason, rlen, "schema version: "
				    "meta says %.20s, this ingestd knows %d",
				    v, BATCH_SCHEMA_VERSION);
		} else if (strcmp((const char *)k, "first_us") == 0) {
			if (parse_i64((const char *)v, &b->first_us) == -1)
				bad = refuse(reason, rlen, "meta: bad first_us");
		} else if (strcmp((const char *)k, "last_us") == 0) {
			if (parse_i64((const char *)v, &b->last_us) == -1)
				bad = refuse(reason, rlen, "meta: bad last_us");
		} else if (strcmp((const char *)k, "flows") == 0) {
			if (parse_i64((const char *)v, want_flows) == -1)
				bad = refuse(reason, rlen, "meta: bad flows");
		} else if (strcmp((const char *)k, "packets") == 0) {
			if (parse_i64((const char *)v, want_packets) == -1)
				bad = refuse(reason, rlen, "meta: bad packets");
		}
	}
	if (!bad && rc != SQLITE_DONE)
		bad = refuse(reason, rlen, "meta: %s", sqlite3_errmsg(b->db));
	sqlite3_finalize(st);
	fputc('}', fp);
	fclose(fp);
	if (!bad && jlen >= sizeof(b->meta_json))
		bad = refuse(reason, rlen, "meta: too large");
	if (!bad)
		memcpy(b->meta_json, json, jlen + 1);
	free(json);
	if (bad)
		return -1;
	if (!have_version)
		return refuse(reason, rlen, "meta: no schema_version");
	if (b->batch_id[0] == '\0')
		return refuse(reason, rlen, "meta: no batch_id");
	if (!have_client)
		return refuse(reason, rlen, "meta: no client_id");
	/*
	 * An empty client_id is a client that was not told its id (flowd
	 * without client_id): the uploader names it.  Otherwise the two
	 * must agree: one client never loads another's data.
	 */
	if (uploader != NULL && uploader[0] != '\0') {
		if (b->client_id[0] != '\0' &&
		    strcmp(b->client_id, uploader) != 0)
			return refuse(reason, rlen, "foreign client: meta "
			    "client_id '%s' is not the uploader '%s'",
			    b->client_id, uploader);
		snprintf(b->client_id, sizeof(b->client_id), "%s", uploader);
	}
	if (b->client_id[0] == '\0')
		return refuse(reason, rlen, "meta: empty client_id and no "
		    "uploader to name the client");
	return 0;
}

/* An address column: text as inet_ntop writes it, of the flow's family. */
int
addr_text_to_bin(int ipver, const unsigned char *s, int n, uint8_t *out)
{
	char	buf[64];

	if (s == NULL || n <= 0 || n >= (int)sizeof(buf))
		return -1;
	memcpy(buf, s, (size_t)n);
	buf[n] = '\0';
	if (inet_pton(ipver == 4 ? AF_INET : AF_INET6, buf, out) != 1)
		return -1;
	return ipver == 4 ? 4 : 16;
}

/*
 * An integer column within [lo, hi] (or NULL when nullok).  Read through
 * sqlite3_column_value(): one call into SQLite instead of two, which
 * counts at tens of millions of values.
 */
static int
col_int(sqlite3_stmt *st, int i, int64_t lo, int64_t hi, int nullok,
    int64_t *v)
{
	sqlite3_value	*sv = sqlite3_column_value(st, i);
	int		 t = sqlite3_value_type(sv);

	if (t == SQLITE_NULL && nullok)
		return 0;
	if (t != SQLITE_INTEGER)
		return -1;
	*v = sqlite3_value_int64(sv);
	return *v >= lo && *v <= hi ? 0 : -1;
}

static int
col_text(sqlite3_stmt *st, int i, int max, int nullok, int word)
{
	const unsigned char	*s;
	int			 t = sqlite3_column_type(st, i), n, k;

	if (t == SQLITE_NULL && nullok)
		return 0;
	if (t != SQLITE_TEXT)
		return -1;
	s = sqlite3_column_text(st, i);
	n = sqlite3_column_bytes(st, i);
	if (s == NULL || n > max || (word && n == 0))
		return -1;
	for (k = 0; k < n; k++) {
		if (s[k] == '\0')
			return -1;
		if (word && !((s[k] >= 'a' && s[k] <= 'z') || s[k] == '_' ||
		    s[k] == '-'))
			return -1;
	}
	return 0;
}

/* The flows, in the order the loader wants them. */
static const char flows_select[] =
    "SELECT flow_id, start_us, end_us, ip_version, protocol, local_ip, "
    "local_port, remote_ip, remote_port, packets_out, packets_in, "
    "bytes_out, bytes_in, app, pid, uid, exe, label_source, "
    "label_delay_us, end_reason, ended, first_seq, iface FROM flows "
    "ORDER BY flow_id";

#define I64MAX	INT64_MAX
#define U32MAX	4294967295LL

#define NO_FLOW		UINT32_MAX	/* a packet's flow is not in the batch */

/* Keep a checked text column (or NULL) of a flow in the batch's arena. */
static void
keep_text(struct batch *b, sqlite3_stmt *st, int i, struct vstr *v)
{
	const unsigned char	*s;
	size_t			 n;
	char			*t;

	v->off = 0;
	v->len = -1;
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return;
	s = sqlite3_column_text(st, i);
	n = (size_t)sqlite3_column_bytes(st, i);
	while (b->textlen + n > b->text_cap) {
		b->text_cap = b->text_cap == 0 ? 65536 : b->text_cap * 2;
		if ((t = realloc(b->text, b->text_cap)) == NULL)
			fatal("flows");
		b->text = t;
	}
	memcpy(b->text + b->textlen, s, n);
	v->off = b->textlen;
	v->len = (int)n;
	b->textlen += n;
}

/*
 * flows: SQL type, range and length of every column, flow_id strictly
 * increasing.  Each accepted row is kept in b->flows as MySQL will take
 * it (addresses binary), so that load.c never reads the file again.
 */
static int
check_flows(struct batch *b, char *reason, size_t rlen)
{
	sqlite3_stmt	*st;
	struct vflow	*f;
	size_t		 cap = 0;
	int64_t		 v[23], prev = -1;
	uint8_t		 a[16], r[16];
	int		 rc, bad = 0, ipver;

	if (sqlite3_prepare_v2(b->db, flows_select, -1, &st, NULL) !=
	    SQLITE_OK)
		return refuse(reason, rlen, "flows: %s", sqlite3_errmsg(b->db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *col = NULL;

		memset(v, 0, sizeof(v));
		if (b->nflows >= MAX_FLOWS) {
			bad = refuse(reason, rlen, "flows: more than %d rows",
			    MAX_FLOWS);
			break;
		}
		if (col_int(st, 0, 0, I64MAX, 0, &v[0]) == -1)
			col = "flow_id";
		else if (col_int(st, 1, 0, I64MAX, 0, &v[1]) == -1)
			col = "start_us";
		else if (col_int(st, 2, v[1], I64MAX, 0, &v[2]) == -1)
			col = "end_us";
		else if (col_int(st, 3, 4, 6, 0, &v[3]) == -1 || v[3] == 5)
			col = "ip_version";
		else if (col_int(st, 4, 0, 255, 0, &v[4]) == -1)
			col = "protocol";
		else if (col_int(st, 6, 0, 65535, 0, &v[6]) == -1)
			col = "local_port";
		else if (col_int(st, 8, 0, 65535, 0, &v[8]) == -1)
			col = "remote_port";
		else if (col_int(st, 9, 0, I64MAX, 0, &v[9]) == -1)
			col = "packets_out";
		else if (col_int(st, 10, 0, I64MAX, 0, &v[10]) == -1)
			col = "packets_in";
		else if (col_int(st, 11, 0, I64MAX, 0, &v[11]) == -1)
			col = "bytes_out";
		else if (col_int(st, 12, 0, I64MAX, 0, &v[12]) == -1)
			col = "bytes_in";
		else if (col_text(st, 13, MAX_APP, 1, 0) == -1)
			col = "app";
		else if (col_int(st, 14, -2147483648LL, 2147483647LL, 1,
		    &v[14]) == -1)
			col = "pid";
		else if (col_int(st, 15, 0, U32MAX, 1, &v[15]) == -1)
			col = "uid";
		else if (col_text(st, 16, MAX_EXE, 1, 0) == -1)
			col = "exe";
		else if (col_text(st, 17, MAX_WORD, 0, 1) == -1)
			col = "label_source";
		else if (col_int(st, 18, 0, I64MAX, 1, &v[18]) == -1)
			col = "label_delay_us";
		else if (col_text(st, 19, MAX_WORD, 0, 1) == -1)
			col = "end_reason";
		else if (col_int(st, 20, 0, 1, 0, &v[20]) == -1)
			col = "ended";
		else if (col_int(st, 21, 0, U32MAX, 0, &v[21]) == -1)
			col = "first_seq";
		else if (col_text(st, 22, MAX_IFACE, 1, 0) == -1)
			col = "iface";
		else {
			ipver = (int)v[3];
			if (addr_text_to_bin(ipver, sqlite3_column_text(st, 5),
			    sqlite3_column_bytes(st, 5), a) == -1)
				col = "local_ip";
			else if (addr_text_to_bin(ipver,
			    sqlite3_column_text(st, 7),
			    sqlite3_column_bytes(st, 7), r) == -1)
				col = "remote_ip";
		}
		if (col == NULL && v[0] <= prev)
			col = "flow_id (order)";
		if (col != NULL) {
			bad = refuse(reason, rlen, "flows: row %" PRIu64 ": "
			    "bad %s", b->nflows + 1, col);
			break;
		}
		prev = v[0];
		if (b->nflows == cap) {
			struct vflow *nf;

			cap = cap == 0 ? 256 : cap * 2;
			if ((nf = reallocarray(b->flows, cap,
			    sizeof(*nf))) == NULL)
				fatal("flows");
			b->flows = nf;
		}
		f = &b->flows[b->nflows++];
		memset(f, 0, sizeof(*f));
		f->flow_id = v[0];
		f->first_seq = v[21];
		f->start_us = v[1];
		f->end_us = v[2];
		f->ip_version = (uint8_t)v[3];
		f->protocol = (uint8_t)v[4];
		memcpy(f->local_ip, a, sizeof(a));
		memcpy(f->remote_ip, r, sizeof(r));
		f->local_port = (uint16_t)v[6];
		f->remote_port = (uint16_t)v[8];
		f->packets_out = v[9];
		f->packets_in = v[10];
		f->bytes_out = v[11];
		f->bytes_in = v[12];
		f->pid = v[14];
		f->uid = v[15];
		f->label_delay_us = v[18];
		f->ended = (uint8_t)v[20];
		if (sqlite3_column_type(st, 14) == SQLITE_NULL)
			f->nulls |= NULL_PID;
		if (sqlite3_column_type(st, 15) == SQLITE_NULL)
			f->nulls |= NULL_UID;
		if (sqlite3_column_type(st, 18) == SQLITE_NULL)
			f->nulls |= NULL_DELAY;
		keep_text(b, st, 13, &f->app);
		keep_text(b, st, 16, &f->exe);
		keep_text(b, st, 17, &f->label_source);
		keep_text(b, st, 19, &f->end_reason);
		keep_text(b, st, 22, &f->iface);
	}
	if (!bad && rc != SQLITE_DONE)
		bad = refuse(reason, rlen, "flows: %s", sqlite3_errmsg(b->db));
	sqlite3_finalize(st);
	return bad ? -1 : 0;
}

/*
 * The index of a flow of the batch by id, or NO_FLOW.  ids are the
 * flows' ids, sorted: a compact copy that stays in cache, where the
 * flows themselves would not.
 */
static uint32_t
find_flow(const int64_t *ids, size_t n, int64_t id)
{
	size_t	lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ids[mid] == id)
			return (uint32_t)mid;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NO_FLOW;
}

/* A checked packet row, kept until its flow's packets are in order. */
struct vpkt {
	int64_t		 rel_us;
	uint32_t	 seq;
	uint32_t	 size;
	uint32_t	 flow;		/* index in b->flows, or NO_FLOW */
	uint8_t		 direction;
	uint8_t		 tcp_flags;
};

/* A packet whose flow has no row in the batch. */
struct orphan {
	int64_t		 flow_id;
	uint32_t	 seq;
	uint32_t	 pkt;		/* index of its struct vpkt */
};

static int
orphan_cmp(const void *a, const void *b)
{
	const struct orphan *x = a, *y = b;

	if (x->flow_id != y->flow_id)
		return x->flow_id < y->flow_id ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Put one flow's packets (indexes into pk) in seq order.  flowd writes
 * them in order, so this is usually one pass that finds nothing to do.
 */
static void
sort_by_seq(const struct vpkt *pk, uint32_t *idx, size_t n)
{
	uint64_t	*key;
	size_t		 i;

	for (i = 1; i < n; i++)
		if (pk[idx[i]].seq < pk[idx[i - 1]].seq)
			break;
	if (i >= n)
		return;
	if ((key = reallocarray(NULL, n, sizeof(*key))) == NULL)
		fatal("packets");
	for (i = 0; i < n; i++)
		key[i] = (uint64_t)pk[idx[i]].seq << 32 | idx[i];
	qsort(key, n, sizeof(*key), u64_cmp);
	for (i = 0; i < n; i++)
		idx[i] = (uint32_t)key[i];
	free(key);
}

/*
 * Pack one flow's packets, in seq order, into the chunk rows load.c
 * writes (ingestd.h: struct chunk): a new chunk every CHUNK_MAX packets
 * and at each packet whose rel_us does not fit in 31 bits.
 */
static void
pack_flow(struct batch *b, int64_t flow_id, const struct vpkt *pk,
    const uint32_t *idx, size_t n)
{
	struct chunk	*c;
	uint8_t		*p;
	size_t		 k = 0, m, i;

	while (k < n) {
		const struct vpkt *first = &pk[idx[k]];
		int big = first->rel_us > CHUNK_REL_MAX;

		for (m = 1; k + m < n && m < CHUNK_MAX &&
		    pk[idx[k + m]].rel_us <= CHUNK_REL_MAX; m++)
			;
		if (b->nchunks == b->chunks_cap) {
			b->chunks_cap = b->chunks_cap == 0 ? 1024 :
			    b->chunks_cap * 2;
			if ((c = reallocarray(b->chunks, b->chunks_cap,
			    sizeof(*c))) == NULL)
				fatal("chunks");
			b->chunks = c;
		}
		c = &b->chunks[b->nchunks++];
		c->flow_id = flow_id;
		c->seq = first->seq;
		c->rel0 = big ? first->rel_us : -1;
		c->off = b->pklen;
		c->n = (uint32_t)m;
		p = b->pk + b->pklen;
		for (i = 0; i < m; i++, p += 4) {
			const struct vpkt *q = &pk[idx[k + i]];
			uint32_t w = (uint32_t)q->direction << 31 |
			    (i == 0 && big ? 0 : (uint32_t)q->rel_us);

			p[0] = (uint8_t)(w >> 24);
			p[1] = (uint8_t)(w >> 16);
			p[2] = (uint8_t)(w >> 8);
			p[3] = (uint8_t)w;
		}
		for (i = 0; i < m; i++, p += 3) {
			uint32_t s = pk[idx[k + i]].size;

			p[0] = (uint8_t)(s >> 16);
			p[1] = (uint8_t)(s >> 8);
			p[2] = (uint8_t)s;
		}
		for (i = 0; i < m; i++)
			*p++ = pk[idx[k + i]].tcp_flags;
		b->pklen += m * CHUNK_BYTES;
		k += m;
	}
}

/* Are a flow's packets (in seq order) numbered from first, no gap? */
static int
check_seqs(int64_t flow_id, int64_t first, const struct vpkt *pk,
    const uint32_t *idx, size_t n, char *reason, size_t rlen)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if ((int64_t)pk[idx[i]].seq != first + (int64_t)i)
			return refuse(reason, rlen, "packets: flow %" PRId64
			    ": seq %" PRIu32 " where %" PRId64 " was due",
			    flow_id, pk[idx[i]].seq, first + (int64_t)i);
	return 0;
}

/*
 * packets: SQL types and ranges; a flow's packets here are numbered on
 * from its first_seq with no gap.  Packets whose flow has no row here
 * are collected as orphans for load.c to look up in MySQL; their seqs
 * must have no gap either.
 *
 * The rows are read in the file's order (flowd appends them as seen,
 * flows interleaved), which costs SQLite no sort, and put in flow and
 * seq order here: a counting sort by flow, then per flow a check that
 * is nearly always all the sorting needed.  Then they are packed into
 * chunks, flows in flow_id order, so that load.c need not read them
 * again.
 */
static int
check_packets(struct batch *b, char *reason, size_t rlen)
{
	sqlite3_stmt	*st;
	struct vpkt	*pk = NULL, *np;
	struct orphan	*orph = NULL, *no;
	uint32_t	*order = NULL, *start = NULL, *oidx = NULL;
	int64_t		*ids, v[6], lastid = -1;
	uint32_t	 lastflow = NO_FLOW;
	size_t		 npk = 0, cap = 0, norph = 0, ocap = 0, i, j, g;
	int		 rc, bad = 0;

	if (sqlite3_prepare_v2(b->db, "SELECT flow_id, seq, direction, size, "
	    "tcp_flags, rel_us FROM packets", -1, &st, NULL) != SQLITE_OK)
		return refuse(reason, rlen, "packets: %s",
		    sqlite3_errmsg(b->db));
	if ((ids = reallocarray(NULL, b->nflows + 1, sizeof(*ids))) == NULL)
		fatal("packets");
	for (i = 0; i < b->nflows; i++)
		ids[i] = b->flows[i].flow_id;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *col = NULL;

		if (npk >= MAX_PACKETS) {
			bad = refuse(reason, rlen, "packets: more than %d rows",
			    MAX_PACKETS);
			break;
		}
		if (col_int(st, 0, 0, I64MAX, 0, &v[0]) == -1)
			col = "flow_id";
		else if (col_int(st, 1, 0, U32MAX, 0, &v[1]) == -1)
			col = "seq";
		else if (col_int(st, 2, 0, 1, 0, &v[2]) == -1)
			col = "direction";
		else if (col_int(st, 3, 0, 16777215, 0, &v[3]) == -1)
			col = "size";
		else if (col_int(st, 4, 0, 255, 0, &v[4]) == -1)
			col = "tcp_flags";
		else if (col_int(st, 5, 0, I64MAX, 0, &v[5]) == -1)
			col = "rel_us";
		if (col != NULL) {
			bad = refuse(reason, rlen, "packets: row %zu: bad %s",
			    npk + 1, col);
			break;
		}
		if (npk == cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			if ((np = reallocarray(pk, cap, sizeof(*pk))) == NULL)
				fatal("packets");
			pk = np;
		}
		if (v[0] != lastid) {
			lastid = v[0];
			lastflow = find_flow(ids, b->nflows, v[0]);
		}
		pk[npk].rel_us = v[5];
		pk[npk].seq = (uint32_t)v[1];
		pk[npk].size = (uint32_t)v[3];
		pk[npk].flow = lastflow;
		pk[npk].direction = (uint8_t)v[2];
		pk[npk].tcp_flags = (uint8_t)v[4];
		if (lastflow != NO_FLOW)
			b->flows[lastflow].npackets++;
		else {
			/* Known to MySQL, or refused by load.c. */
			if (norph == ocap) {
				ocap = ocap == 0 ? 64 : ocap * 2;
				if ((no = reallocarray(orph, ocap,
				    sizeof(*orph))) == NULL)
					fatal("orphans");
				orph = no;
			}
			orph[norph].flow_id = v[0];
			orph[norph].seq = (uint32_t)v[1];
			orph[norph].pkt = (uint32_t)npk;
			norph++;
		}
		npk++;
	}
	if (!bad && rc != SQLITE_DONE)
		bad = refuse(reason, rlen, "packets: %s",
		    sqlite3_errmsg(b->db));
	sqlite3_finalize(st);
	if (bad)
		goto out;
	b->npackets = npk;

	/* Each flow's packets together, in file order, then by seq. */
	if ((start = calloc(b->nflows + 1, sizeof(*start))) == NULL ||
	    (order = reallocarray(NULL, npk + 1, sizeof(*order))) == NULL ||
	    (oidx = reallocarray(NULL, norph + 1, sizeof(*oidx))) == NULL ||
	    (b->pk = malloc(npk * CHUNK_BYTES + 1)) == NULL)
		fatal("packets");
	b->pk_cap = npk * CHUNK_BYTES + 1;
	for (i = 0; i < b->nflows; i++)
		start[i + 1] = start[i] + b->flows[i].npackets;
	for (i = 0; i < npk; i++)
		if (pk[i].flow != NO_FLOW)
			order[start[pk[i].flow]++] = (uint32_t)i;
	/* start[i] is now the end of flow i's packets. */
	for (i = 0; i < b->nflows; i++) {
		uint32_t *idx = order + start[i] - b->flows[i].npackets;

		/* MySQL's next_seq, first_seq + packets, is 32 bits too. */
		if (b->flows[i].first_seq + (int64_t)b->flows[i].npackets >
		    U32MAX) {
			bad = refuse(reason, rlen, "flows: flow %" PRId64
			    ": first_seq %" PRId64 " and %" PRIu32 " packets go past "
			    "seq %" PRId64, b->flows[i].flow_id,
			    b->flows[i].first_seq, b->flows[i].npackets,
			    (int64_t)U32MAX);
			goto out;
		}
		sort_by_seq(pk, idx, b->flows[i].npackets);
		if ((bad = check_seqs(b->flows[i].flow_id,
		    b->flows[i].first_seq, pk, idx, b->flows[i].npackets,
		    reason, rlen)) != 0)
			goto out;
	}
	/* Orphans by flow and seq: each run of one flow is one group. */
	if (norph > 0)
		qsort(orph, norph, sizeof(*orph), orphan_cmp);
	for (i = 0; i < norph; i++)
		oidx[i] = orph[i].pkt;
	for (i = 0; i < norph; i = j) {
		for (j = i + 1; j < norph && orph[j].flow_id == orph[i].flow_id;
		    j++)
			;
		if (b->norphans >= MAX_ORPHANS) {
			bad = refuse(reason, rlen, "packets: more than %d "
			    "flows without a flow row", MAX_ORPHANS);
			goto out;
		}
		if ((bad = check_seqs(orph[i].flow_id, orph[i].seq, pk,
		    oidx + i, j - i, reason, rlen)) != 0)
			goto out;
		if ((b->orphans = reallocarray(b->orphans, b->norphans + 1,
		    sizeof(*b->orphans))) == NULL)
			fatal("orphans");
		b->orphans[b->norphans++] = orph[i].flow_id;
	}
	/* Chunks in flow_id order: the batch's flows and orphans merged. */
	for (i = 0, g = 0; i < b->nflows || g < norph; ) {
		if (g < norph && (i == b->nflows ||
		    orph[g].flow_id < b->flows[i].flow_id)) {
			for (j = g + 1; j < norph &&
			    orph[j].flow_id == orph[g].flow_id; j++)
				;
			pack_flow(b, orph[g].flow_id, pk, oidx + g, j - g);
			g = j;
		} else {
			pack_flow(b, b->flows[i].flow_id, pk, order +
			    start[i] - b->flows[i].npackets,
			    b->flows[i].npackets);
			i++;
		}
	}
out:
	free(ids);
	free(pk);
	free(orph);
	free(order);
	free(start);
	free(oidx);
	return bad ? -1 : 0;
}

void
batch_close(struct batch *b)
{
	if (b->db != NULL)
		sqlite3_close(b->db);
	free(b->flows);
	free(b->orphans);
	free(b->chunks);
	free(b->pk);
	free(b->text);
	b->db = NULL;
	b->text = NULL;
	b->flows = NULL;
	b->orphans = NULL;
	b->chunks = NULL;
	b->pk = NULL;
	b->nflows = b->npackets = b->norphans = 0;
	b->textlen = b->text_cap = 0;
	b->nchunks = b->chunks_cap = b->pklen = b->pk_cap = 0;
}

/*
 * Accept or refuse the batch at path, uploaded by uploader (NULL: the
 * client its meta names), in at most `seconds`.  0: accepted, and b
 * holds the open database and what load.c needs.  -1: refused, reason
 * says why.  VALIDATE_LATE: the time ran out first, which says nothing
 * of the batch; reason says so.  Unless accepted, b is closed.
 */
int
validate_batch(struct batch *b, const char *path, const char *uploader,
    uint64_t max_bytes, int seconds, char *reason, size_t rlen)
{
	int64_t	 uv = 0, want_flows, want_packets;
	uint64_t t0 = mono_us(), t1, t2, t3, t4;
	char	 was[REASON_MAX];

	memset(b, 0, offsetof(struct batch, meta_json));
	b->meta_json[0] = '\0';
	snprintf(b->path, sizeof(b->path), "%s", path);
	if (check_header(path, max_bytes, &b->file_bytes, reason, rlen) == -1)
		goto bad;
	if ((b->db = batch_open(path, seconds, reason, rlen)) == NULL)
		goto bad;
	if (check_integrity(b->db, reason, rlen) == -1)
		goto bad;
	t1 = mono_us();
	if (query_int(b->db, "PRAGMA user_version", &uv, reason, rlen) == -1)
		goto bad;
	if (uv != BATCH_SCHEMA_VERSION) {
		refuse(reason, rlen, "schema version: file has %" PRId64
		    ", this ingestd knows %d", uv, BATCH_SCHEMA_VERSION);
		goto bad;
	}
	if (check_schema(b->db, reason, rlen) == -1 ||
	    check_meta(b, uploader, &want_flows, &want_packets, reason,
	    rlen) == -1)
		goto bad;
	t2 = mono_us();
	if (check_flows(b, reason, rlen) == -1)
		goto bad;
	t3 = mono_us();
	if (check_packets(b, reason, rlen) == -1)
		goto bad;
	t4 = mono_us();
	if (want_flows >= 0 && (uint64_t)want_flows != b->nflows) {
		refuse(reason, rlen, "meta: flows says %" PRId64 ", the batch "
		    "has %" PRIu64, want_flows, b->nflows);
		goto bad;
	}
	if (want_packets >= 0 && (uint64_t)want_packets != b->npackets) {
		refuse(reason, rlen, "meta: packets says %" PRId64 ", the "
		    "batch has %" PRIu64, want_packets, b->npackets);
		goto bad;
	}
	/* All that load.c needs is in b now. */
	sqlite3_close(b->db);
	b->db = NULL;
	if (!quiet)
		log_debug("%s: validated in %.1f ms: integrity %.1f, "
		    "schema and meta %.1f, flows %.1f, packets %.1f", path,
		    (mono_us() - t0) / 1e3, (t1 - t0) / 1e3, (t2 - t1) / 1e3,
		    (t3 - t2) / 1e3, (t4 - t3) / 1e3);
	return 0;
bad:
	if (timed_out(b->db)) {
		snprintf(was, sizeof(was), "%s", reason);
		refuse(reason, rlen, "validation ran out of time (%d s): %s",
		    seconds, was);
		batch_close(b);
		return VALIDATE_LATE;
	}
	if (!quiet)
		log_debug("%s: refused: %s", path, reason);
	batch_close(b);
	return -1;
}
