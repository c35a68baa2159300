/*
 * validate.c: decides whether a batch file may be loaded.  Runs in every
 * ingestd loader before anything is written to MySQL.  The file is
 * hostile: it came over the network from a client that may be broken,
 * compromised or simply cut off mid-upload.  Nothing in it is trusted
 * until every check below has passed, and SQLite itself is only asked
 * to read it in a defensive mode: read-only, immutable, no trusted
 * schema, cell size checks on.
 *
 * The checks, in order, each with its own reason for the .reason file:
 * file size and SQLite header (truncation), PRAGMA quick_check,
 * schema version, the exact schema text of proto/batch.sql, meta (ids,
 * version, the uploader), then every flow and packet row: SQL type,
 * range, lengths, limits, and that each packet's flow is in this batch
 * (flows named only by packets are left for load.c to find in MySQL).
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

/* Open read-only and immutable: no journal, no locks, no writes. */
static sqlite3 *
open_db(const char *path, char *reason, size_t rlen)
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
	rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
	    NULL);
	free(uri);
	if (rc != SQLITE_OK) {
		refuse(reason, rlen, "cannot open as SQLite: %s",
		    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 1 << 20);
	sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 1 << 20);
	sqlite3_exec(db, "PRAGMA cell_size_check = ON", NULL, NULL, NULL);
	return db;
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
	 * quick_check: the batch schema has no index (every table is
	 * clustered on its key), so it checks all that integrity_check
	 * would (b-tree structure, NOT NULL, CHECK), in less time.
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

static int
col_int(sqlite3_stmt *st, int i, int64_t lo, int64_t hi, int nullok,
    int64_t *v)
{
	int	t = sqlite3_column_type(st, i);

	if (t == SQLITE_NULL && nullok)
		return 0;
	if (t != SQLITE_INTEGER)
		return -1;
	*v = sqlite3_column_int64(st, i);
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

/* The column list both validate.c and load.c read flows with. */
const char flows_select[] =
    "SELECT flow_id, start_us, end_us, ip_version, protocol, local_ip, "
    "local_port, remote_ip, remote_port, packets_out, packets_in, "
    "bytes_out, bytes_in, app, pid, uid, exe, label_source, "
    "label_delay_us, end_reason, ended, first_seq, iface FROM flows "
    "ORDER BY flow_id";

#define I64MAX	INT64_MAX
#define U32MAX	4294967295LL

static int
check_flows(struct batch *b, char *reason, size_t rlen)
{
	sqlite3_stmt	*st;
	size_t		 cap = 0;
	int64_t		 v[23], prev = -1;
	uint8_t		 a[16];
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
			    sqlite3_column_bytes(st, 7), a) == -1)
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
		b->flows[b->nflows].flow_id = v[0];
		b->flows[b->nflows].first_seq = v[21];
		b->flows[b->nflows].npackets = 0;
		b->nflows++;
	}
	if (!bad && rc != SQLITE_DONE)
		bad = refuse(reason, rlen, "flows: %s", sqlite3_errmsg(b->db));
	sqlite3_finalize(st);
	return bad ? -1 : 0;
}

/* A flow of the batch by id: its flows are sorted by flow_id. */
struct vflow *
batch_find_flow(struct batch *b, int64_t id)
{
	size_t	lo = 0, hi = b->nflows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->flows[mid].flow_id == id)
			return &b->flows[mid];
		if (b->flows[mid].flow_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The packets of the chunk being packed, until it is complete. */
static struct {
	int64_t		 flow_id, seq, rel0;
	uint32_t	 n;
	uint32_t	 word[CHUNK_MAX];	/* direction << 31 | rel_us */
	uint32_t	 size[CHUNK_MAX];
	uint8_t		 flags[CHUNK_MAX];
} stage;

/* Append the staged packets to the batch as one chunk. */
static void
chunk_flush(struct batch *b)
{
	struct chunk	*c;
	uint8_t		*p;
	uint32_t	 i, n = stage.n;

	if (n == 0)
		return;
	if (b->nchunks == b->chunks_cap) {
		b->chunks_cap = b->chunks_cap == 0 ? 1024 : b->chunks_cap * 2;
		if ((c = reallocarray(b->chunks, b->chunks_cap,
		    sizeof(*c))) == NULL)
			fatal("chunks");
		b->chunks = c;
	}
	while (b->pklen + (size_t)n * CHUNK_BYTES > b->pk_cap) {
		b->pk_cap = b->pk_cap == 0 ? 65536 : b->pk_cap * 2;
		if ((p = realloc(b->pk, b->pk_cap)) == NULL)
			fatal("chunks");
		b->pk = p;
	}
	c = &b->chunks[b->nchunks++];
	c->flow_id = stage.flow_id;
	c->seq = stage.seq;
	c->rel0 = stage.rel0;
	c->off = b->pklen;
	c->n = n;
	p = b->pk + b->pklen;
	for (i = 0; i < n; i++, p += 4) {
		p[0] = (uint8_t)(stage.word[i] >> 24);
		p[1] = (uint8_t)(stage.word[i] >> 16);
		p[2] = (uint8_t)(stage.word[i] >> 8);
		p[3] = (uint8_t)stage.word[i];
	}
	for (i = 0; i < n; i++, p += 3) {
		p[0] = (uint8_t)(stage.size[i] >> 16);
		p[1] = (uint8_t)(stage.size[i] >> 8);
		p[2] = (uint8_t)stage.size[i];
	}
	memcpy(p, stage.flags, n);
	b->pklen += (size_t)n * CHUNK_BYTES;
	stage.n = 0;
}

/*
 * Pack a checked packet (flow_id, seq, direction, size, tcp_flags,
 * rel_us; seq follows the previous packet's when the flow is the same)
 * into the chunk rows load.c writes.
 */
static void
chunk_add(struct batch *b, const int64_t *v)
{
	int	big = v[5] > CHUNK_REL_MAX;

	if (stage.n > 0 && (v[0] != stage.flow_id || stage.n == CHUNK_MAX ||
	    big))
		chunk_flush(b);
	if (stage.n == 0) {
		stage.flow_id = v[0];
		stage.seq = v[1];
		stage.rel0 = big ? v[5] : -1;
	}
	stage.word[stage.n] = (uint32_t)v[2] << 31 |
	    (big ? 0 : (uint32_t)v[5]);
	stage.size[stage.n] = (uint32_t)v[3];
	stage.flags[stage.n] = (uint8_t)v[4];
	stage.n++;
}

/*
 * packets: SQL types and ranges; a flow's packets here are numbered on
 * from its first_seq with no gap.  Packets whose flow has no row here
 * are collected as orphans for load.c to look up in MySQL.  The packets
 * are packed into chunks on the way (chunk_add), so that load.c need
 * not read them again.
 */
static int
check_packets(struct batch *b, char *reason, size_t rlen)
{
	sqlite3_stmt	*st;
	struct vflow	*f = NULL;
	int64_t		 v[6], cur = -1, next = 0;
	size_t		 cap = 0;
	int		 rc, bad = 0;

	if (sqlite3_prepare_v2(b->db, "SELECT flow_id, seq, direction, size, "
	    "tcp_flags, rel_us FROM packets ORDER BY flow_id, seq", -1, &st,
	    NULL) != SQLITE_OK)
		return refuse(reason, rlen, "packets: %s",
		    sqlite3_errmsg(b->db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *col = NULL;

		if (b->npackets >= MAX_PACKETS) {
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
			bad = refuse(reason, rlen, "packets: row %" PRIu64
			    ": bad %s", b->npackets + 1, col);
			break;
		}
		if (v[0] != cur) {
			cur = v[0];
			f = batch_find_flow(b, cur);
			if (f != NULL)
				next = f->first_seq;
			else {
				/* Known to MySQL, or refused by load.c. */
				if (b->norphans >= MAX_ORPHANS) {
					bad = refuse(reason, rlen, "packets: "
					    "more than %d flows without a flow "
					    "row", MAX_ORPHANS);
					break;
				}
				if (b->norphans == cap) {
					int64_t *no;

					cap = cap == 0 ? 16 : cap * 2;
					if ((no = reallocarray(b->orphans, cap,
					    sizeof(*no))) == NULL)
						fatal("orphans");
					b->orphans = no;
				}
				b->orphans[b->norphans++] = cur;
				next = v[1];
			}
		}
		if (v[1] != next) {
			bad = refuse(reason, rlen, "packets: flow %" PRId64
			    ": seq %" PRId64 " where %" PRId64 " was due",
			    cur, v[1], next);
			break;
		}
		next++;
		if (f != NULL)
			f->npackets++;
		b->npackets++;
		chunk_add(b, v);
	}
	if (!bad && rc != SQLITE_DONE)
		bad = refuse(reason, rlen, "packets: %s",
		    sqlite3_errmsg(b->db));
	if (!bad)
		chunk_flush(b);
	stage.n = 0;
	sqlite3_finalize(st);
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
	b->db = NULL;
	b->flows = NULL;
	b->orphans = NULL;
	b->chunks = NULL;
	b->pk = NULL;
	b->nflows = b->npackets = b->norphans = 0;
	b->nchunks = b->chunks_cap = b->pklen = b->pk_cap = 0;
}

/*
 * Accept or refuse the batch at path, uploaded by uploader (NULL: the
 * client its meta names).  On acceptance b holds the open database and
 * what load.c needs; on refusal reason says why, and b is closed.
 */
int
validate_batch(struct batch *b, const char *path, const char *uploader,
    uint64_t max_bytes, char *reason, size_t rlen)
{
	int64_t	 uv = 0, want_flows, want_packets;

	memset(b, 0, offsetof(struct batch, meta_json));
	b->meta_json[0] = '\0';
	snprintf(b->path, sizeof(b->path), "%s", path);
	if (check_header(path, max_bytes, &b->file_bytes, reason, rlen) == -1)
		goto bad;
	if ((b->db = open_db(path, reason, rlen)) == NULL)
		goto bad;
	if (check_integrity(b->db, reason, rlen) == -1)
		goto bad;
	if (query_int(b->db, "PRAGMA user_version", &uv, reason, rlen) == -1)
		goto bad;
	if (uv != BATCH_SCHEMA_VERSION) {
		refuse(reason, rlen, "schema version: file has %" PRId64
		    ", this ingestd knows %d", uv, BATCH_SCHEMA_VERSION);
		goto bad;
	}
	if (check_schema(b->db, reason, rlen) == -1 ||
	    check_meta(b, uploader, &want_flows, &want_packets, reason,
	    rlen) == -1 ||
	    check_flows(b, reason, rlen) == -1 ||
	    check_packets(b, reason, rlen) == -1)
		goto bad;
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
	return 0;
bad:
	if (!quiet)
		log_debug("%s: refused: %s", path, reason);
	batch_close(b);
	return -1;
}
