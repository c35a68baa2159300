/*
 * batch.c: flowd's SQLite batch writer.  Runs in flowd and trusts only
 * its own work directory; what it writes is the contract of
 * proto/batch.sql, read by shipd and ingestd.
 *
 * Packets go into the working batch (WORK_DIR/flowd-current.sqlite) as
 * they arrive, through prepared statements, many rows per transaction.
 * Each commit also rewrites the row of every flow that got packets since
 * the last one, so a committed batch always has a row for each of its
 * packets.  When the batch passes batch_size bytes, or batch_age after
 * its first row, it gets its open flows' rows (ended = 0), its meta
 * table, a last commit, a checkpoint back to a plain rollback-journal
 * file and an fsync, and is renamed into the outbox as BATCH_ID.sqlite.
 *
 * Live, a commit happens only between two input messages, and it
 * carries, in the table flowd_input, the list of the messages whose
 * records it holds (live.c consumes them from their sockets only after
 * the commit).  So every message taken from a socket is in a committed
 * transaction, and a flowd that dies between the commit and the
 * consumption learns from the list which messages not to take twice.
 * The table is dropped before the batch is published.
 *
 * kill -9 at any instant: the outbox only ever gains whole files by
 * rename.  At the next start a working batch left behind is opened
 * (SQLite rolls back the unfinished transaction), its flowd_input list
 * is kept for live.c, its open flows are marked ended by 'restart', it
 * gets its meta table and is published.  One with no commit at all
 * (no tables: flowd died before its first commit, and so before it
 * consumed any message whose rows it held) is removed.  One that fails
 * its integrity check is moved aside and counted as lost.
 * In replay the left-over working batch is simply removed: the replay
 * produces it again, and batches already in the outbox are not written
 * twice (same input, same batch ids, same bytes).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "flowd.h"

#define WORK_NAME	"flowd-current.sqlite"
#define COMMIT_ROWS	16384		/* rows per transaction */
#define COMMIT_US	2000000ULL	/* live: at least this often (WIN_US) */
#define SIZE_ROWS	1024		/* rows before the first size check */
#define SIZE_ROWS_MIN	64		/* rows between size checks, at least */
#define ROW_BYTES_MIN	16		/* bytes a row is assumed to take, at least */
/*
 * 8 KiB pages.  A commit writes each page it touched to the WAL, two
 * system calls a page, and the checkpoint at the close copies each page
 * once more: twice the page, half the calls for the same bytes, and a
 * 700 kB batch still holds as many rows (its four small tables take a
 * page each).  In a C model of the live batch (64-row INSERTs, a commit
 * every 4,000 rows, closes at 700 kB), 0.36 to 0.38 us a row against
 * 0.39 to 0.44 at 4 KiB; 16 KiB was cheaper a row but held a tenth
 * fewer rows a batch, which shipd and ingestd would pay for.
 */
#define BATCH_PAGE	8192
#define PKT_MULTI	64		/* packet rows per INSERT */
#define MSG_ID_LEN	20		/* a struct msg_id in flowd_input */

struct batch {
	sqlite3		*db;
	sqlite3_stmt	*ins_pkt;
	sqlite3_stmt	*ins_pkts;	/* PKT_MULTI rows at once */
	int64_t		 pbuf[PKT_MULTI][6];
	int		 npbuf;
	sqlite3_stmt	*ins_flow;
	sqlite3_stmt	*del_pkt;
	sqlite3_stmt	*del_flow;
	sqlite3_stmt	*page_count;
	sqlite3_stmt	*ins_input;	/* live: the inputs' windows */
	sqlite3_stmt	*begin, *commit;
	uint64_t	 page_size;
	int		 due;		/* live: commit at the next boundary */
	int		 full;		/* reached batch_size: close it */
	struct flowq	 flows;		/* flows with a row here, dirty last */
	char		 path[PATH_MAX];
	char		 id[160];
	uint64_t	 seq;		/* batches closed by this run */
	uint64_t	 rows;		/* since the last commit */
	uint64_t	 size_rows;	/* rows since the size was looked at */
	uint64_t	 size_next;	/* look again after this many */
	uint64_t	 size_all;	/* rows up to that look */
	uint64_t	 start_us;	/* record time of the first row */
	uint64_t	 first_us, last_us;	/* packet times */
	uint64_t	 packets;
	uint64_t	 flow_rows;
	uint64_t	 ended, labelled;
	uint64_t	 commit_mono;
	uint64_t	 recovered;	/* counted into the next meta */
};

static void	batch_close(struct flowd *);
static int	batch_full(struct flowd *, int);

static void
dbfatal(sqlite3 *db, const char *what)
{
	fatalx("batch: %s: %s (%d)", what, sqlite3_errmsg(db),
	    sqlite3_extended_errcode(db));
}

static void
exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fatalx("batch: %s: %s", sql, msg != NULL ? msg : "?");
}

/* BEGIN or COMMIT, prepared once a batch: exec() parses its SQL anew. */
static void
step_tx(sqlite3 *db, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		dbfatal(db, sqlite3_sql(st));
	sqlite3_reset(st);
}

static void
unlink_db(const char *path)
{
	char p[PATH_MAX + 16];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-journal", path);
	unlink(p);
}

static int
fsync_path(const char *path, int dir)
{
	int fd, rc;

	if ((fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC)) ==
	    -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Copy for an outbox on another file system; the rename stays atomic. */
static int
copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in, out, rc = -1;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto done;
	if (n == 0 && fsync(out) == 0)
		rc = 0;
done:
	close(in);
	if (close(out) == -1)
		rc = -1;
	return rc;
}

/*
 * Move a closed, fsynced batch into the outbox under its id.  In replay
 * a batch already there is the same batch (determinism): keep that one.
 */
static void
publish(struct flowd *fd, const char *path, const char *id)
{
	char dst[PATH_MAX], tmp[PATH_MAX];

	if (snprintf(dst, sizeof(dst), "%s/%s.sqlite", fd->conf.outbox, id) >=
	    (int)sizeof(dst))
		fatalx("batch: outbox path too long");
	if (fd->conf.replay && access(dst, F_OK) == 0) {
		unlink_db(path);
		return;
	}
	/* replay skips fsync: a dead process loses nothing, see above */
	if (!fd->conf.replay && fsync_path(path, 0) == -1)
		fatal("batch: fsync %s", path);
	if (rename(path, dst) == -1) {
		if (errno != EXDEV)
			fatal("batch: rename %s to %s", path, dst);
		snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", fd->conf.outbox, id);
		if (copy_file(path, tmp) == -1 || rename(tmp, dst) == -1)
			fatal("batch: copy %s to %s", path, dst);
		unlink(path);
	}
	if (!fd->conf.replay && fsync_path(fd->conf.outbox, 1) == -1)
		fatal("batch: fsync %s", fd->conf.outbox);
	log_debug("batch %s published", id);
}

static void
make_id(struct flowd *fd, char *buf, size_t len, uint64_t seq, int recovered)
{
	const struct flowd_conf *c = &fd->conf;
	char cid[64];
	size_t i;

	if (c->replay) {
		snprintf(buf, len, "r%016" PRIx64 "-%06" PRIu64,
		    c->replay_hash, seq);
		return;
	}
	snprintf(cid, sizeof(cid), "%s", c->client_id != NULL &&
	    c->client_id[0] != '\0' ? c->client_id : "local");
	for (i = 0; cid[i] != '\0'; i++)
		if (!((cid[i] >= 'a' && cid[i] <= 'z') ||
		    (cid[i] >= 'A' && cid[i] <= 'Z') ||
		    (cid[i] >= '0' && cid[i] <= '9') || cid[i] == '-' ||
		    cid[i] == '_'))
			cid[i] = '_';
	snprintf(buf, len, "%s-%06" PRIu32 "-%06" PRIu64 "%s", cid, c->run, seq,
	    recovered ? "-recovered" : "");
}

/* The meta insert, prepared once per batch file (see meta_end). */
static sqlite3		*meta_db;
static sqlite3_stmt	*meta_st;

static void
meta_put(sqlite3 *db, const char *key, const char *val)
{
	if (meta_db != db) {
		if (meta_st != NULL)
			fatalx("batch: meta statement of another file");
		if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO "
		    "meta(key, value) VALUES (?, ?)", -1, &meta_st, NULL) !=
		    SQLITE_OK)
			dbfatal(db, "meta");
		meta_db = db;
	}
	sqlite3_bind_text(meta_st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(meta_st, 2, val, -1, SQLITE_STATIC);
	if (sqlite3_step(meta_st) != SQLITE_DONE)
		dbfatal(db, "meta");
	sqlite3_reset(meta_st);
}

/* Before the file closes: its meta statement goes. */
static void
meta_end(void)
{
	sqlite3_finalize(meta_st);
	meta_st = NULL;
	meta_db = NULL;
}

static void
meta_u64(sqlite3 *db, const char *key, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	meta_put(db, key, buf);
}

/*
 * Every counter flowd keeps, its own and the producers' latest, by name:
 * the batch meta and WORK_DIR/stats.tsv (vbsctl stats) list the same.
 */
void
counters_each(struct flowd *fd, void (*put)(void *, const char *, uint64_t),
    void *arg)
{
	const struct flowd_counters *c = &fd->cnt;
	const struct stats_rec *src[2] = { &fd->capd_stats, &fd->sockd_stats };
	const char *prefix[2] = { "capd", "sockd" };
	char key[VBS_NAME_MAX + 16];
	uint32_t i, k;

	put(arg, "flowd_packets", c->packets);
	put(arg, "flowd_flows", c->flows);
	put(arg, "flowd_flows_ended", c->flows_ended);
	put(arg, "flowd_flows_labelled", c->flows_labelled);
	put(arg, "flowd_flows_evicted", c->flows_evicted);
	put(arg, "flowd_excluded_flows", c->excluded_flows);
	put(arg, "flowd_excluded_packets", c->excluded_packets);
	put(arg, "flowd_lookups", c->lookups);
	put(arg, "flowd_answers", c->answers);
	put(arg, "flowd_sock_events", c->sock_events);
	put(arg, "flowd_bad_records", c->bad_records);
	put(arg, "flowd_lost_batches", c->lost_batches);
	put(arg, "flowd_recovered_batches", c->recovered_batches);
	for (k = 0; k < 2; k++)
		for (i = 0; i < src[k]->ncounters && i < VBS_MAX_COUNTERS;
		    i++) {
			snprintf(key, sizeof(key), "%s_%.*s", prefix[k],
			    VBS_NAME_MAX - 1, src[k]->counters[i].name);
			put(arg, key, src[k]->counters[i].value);
		}
}

static void
meta_put_u64(void *db, const char *key, uint64_t v)
{
	meta_u64(db, key, v);
}

/*
 * What shipd dropped at the outbox's disk bound (OUTBOX/.lost, see
 * shipd.8): counted in the next batch, so the server learns of it.
 */
static void
meta_shipd_lost(struct flowd *fd, sqlite3 *db)
{
	char			 path[PATH_MAX], line[128];
	unsigned long long	 v;
	FILE			*fp;

	snprintf(path, sizeof(path), "%s/.lost", fd->conf.outbox);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "lost_batches %llu", &v) == 1)
			meta_u64(db, "shipd_lost_batches", v);
		else if (sscanf(line, "lost_bytes %llu", &v) == 1)
			meta_u64(db, "shipd_lost_bytes", v);
	}
	fclose(fp);
}

/* Facts common to a normal and a recovered batch. */
static void
meta_common(struct flowd *fd, sqlite3 *db, const char *id)
{
	meta_put(db, "batch_id", id);
	meta_put(db, "client_id", fd->conf.client_id != NULL ?
	    fd->conf.client_id : "");
	meta_u64(db, "schema_version", BATCH_SCHEMA_VERSION);
	meta_put(db, "os", fd->capd_hello.os);
	meta_put(db, "software", "vbs-flowd " VBS_VERSION);
	meta_put(db, "privacy", privacy_name(fd->conf.privacy));
	meta_put(db, "mode", fd->conf.replay ? "replay" : "live");
	counters_each(fd, meta_put_u64, db);
	if (!fd->conf.replay)
		meta_shipd_lost(fd, db);
}

static void
share(char *buf, size_t len, uint64_t part, uint64_t whole)
{
	if (whole == 0)
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "%.4f", (double)part / (double)whole);
}

/*
 * Leave a file that any reader opens alone: no WAL, no journal.  The
 * checkpoint syncs the WAL, copies it into the file and syncs that.
 * What is left is one page, the header's flip back to a rollback
 * journal, which its own journal would sync five times over (journal,
 * directory, file, journal twice): unsynced, a crash before publish()'s
 * fsync leaves either header, or a hot journal that restores the old,
 * and the data are in the file either way.
 */
static void
db_close_clean(sqlite3 *db, int wal)
{
	if (wal) {
		exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
		exec(db, "PRAGMA synchronous=OFF; PRAGMA journal_mode=DELETE");
	}
	if (sqlite3_close(db) != SQLITE_OK)
		dbfatal(db, "close");
}

static int
db_count(sqlite3 *db, const char *sql, uint64_t *v)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*v = (uint64_t)sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * The inputs' windows of the last commit of a working batch left by a
 * flowd that died: the messages whose rows it holds, which may still be
 * at the head of their sockets.  A row that does not decode is ignored
 * (its input's messages are then taken again, never lost).
 */
static void
read_resume(struct flowd *fd, sqlite3 *db)
{
	struct in_window *w;
	sqlite3_stmt *st;
	const uint8_t *p;
	int64_t in;
	int klen, mlen;
	uint32_t i;

	memset(fd->resume, 0, sizeof(fd->resume));
	if (sqlite3_prepare_v2(db, "SELECT input, key, msgs FROM flowd_input",
	    -1, &st, NULL) != SQLITE_OK)
		return;		/* no table: a batch from before it */
	while (sqlite3_step(st) == SQLITE_ROW) {
		in = sqlite3_column_int64(st, 0);
		klen = sqlite3_column_bytes(st, 1);
		mlen = sqlite3_column_bytes(st, 2);
		if (in < 0 || in >= LIVE_INPUTS || klen != 16 || mlen < 0 ||
		    mlen % MSG_ID_LEN != 0 || mlen / MSG_ID_LEN > WIN_MAX) {
			log_warnx("batch: flowd_input row %lld ignored",
			    (long long)in);
			continue;
		}
		w = &fd->resume[in];
		memcpy(w->key, sqlite3_column_blob(st, 1), 16);
		w->n = (uint32_t)(mlen / MSG_ID_LEN);
		p = sqlite3_column_blob(st, 2);
		for (i = 0; i < w->n; i++, p += MSG_ID_LEN) {
			memcpy(&w->m[i].h[0], p, 8);
			memcpy(&w->m[i].h[1], p + 8, 8);
			memcpy(&w->m[i].len, p + 16, 4);
		}
	}
	sqlite3_finalize(st);
}

/*
 * A working batch left by a flowd that died.  Complete (it has its
 * batch_id): publish it.  Never committed (no tables): remove it.
 * Otherwise close what it holds as a recovered batch; if SQLite cannot
 * make sense of it, move it aside, count it.
 */
static void
recover(struct flowd *fd, const char *path)
{
	struct batch *b = fd->batch;
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	char id[160], lost[PATH_MAX + 32], buf[32];
	uint64_t n = 0, nflows = 0, ntables = 0, ended = 0, lab = 0;
	uint64_t first = 0, last = 0;
	const unsigned char *t;
	int ok = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st,
		    NULL) == SQLITE_OK) {
			if (sqlite3_step(st) == SQLITE_ROW &&
			    (t = sqlite3_column_text(st, 0)) != NULL &&
			    strcmp((const char *)t, "ok") == 0)
				ok = 1;
			sqlite3_finalize(st);
		}
	}
	if (ok && db_count(db, "SELECT count(*) FROM sqlite_master",
	    &ntables) == -1)
		ok = 0;
	if (ok && ntables == 0) {
		/* died before its first commit: nothing was taken */
		sqlite3_close(db);
		unlink_db(path);
		log_info("batch: working batch had no commit: removed");
		return;
	}
	if (ok && (db_count(db, "SELECT count(*) FROM packets", &n) == -1 ||
	    db_count(db, "SELECT count(*) FROM flows", &nflows) == -1))
		ok = 0;
	if (ok)
		read_resume(fd, db);
	if (!ok) {
		if (db != NULL)
			sqlite3_close(db);
		snprintf(lost, sizeof(lost), "%s/flowd-lost-%06" PRIu32
		    ".sqlite", fd->conf.work_dir, fd->conf.run);
		if (rename(path, lost) == -1)
			unlink_db(path);
		fd->cnt.lost_batches++;
		log_warnx("batch: working batch unreadable, moved to %s",
		    lost);
		return;
	}
	if (n == 0 && nflows == 0) {
		sqlite3_close(db);
		unlink_db(path);
		return;
	}
	id[0] = '\0';
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE "
	    "key = 'batch_id'", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW &&
		    (t = sqlite3_column_text(st, 0)) != NULL)
			snprintf(id, sizeof(id), "%s", (const char *)t);
		sqlite3_finalize(st);
	}
	if (id[0] == '\0') {
		make_id(fd, id, sizeof(id), b->seq, 1);
		exec(db, "BEGIN");
		exec(db, "DROP TABLE IF EXISTS flowd_input");
		exec(db, "UPDATE flows SET ended = 1, end_reason = 'restart' "
		    "WHERE ended = 0");
		db_count(db, "SELECT count(*) FROM flows", &ended);
		db_count(db, "SELECT count(*) FROM flows WHERE app IS NOT "
		    "NULL", &lab);
		db_count(db, "SELECT coalesce(min(start_us), 0) FROM flows",
		    &first);
		db_count(db, "SELECT coalesce(max(end_us), 0) FROM flows",
		    &last);
		fd->cnt.recovered_batches++;
		meta_common(fd, db, id);
		meta_u64(db, "recovered", 1);
		meta_u64(db, "packets", n);
		meta_u64(db, "flows", ended);
		meta_u64(db, "flows_ended", ended);
		meta_u64(db, "flows_labelled", lab);
		share(buf, sizeof(buf), lab, ended);
		meta_put(db, "labelled_share", buf);
		meta_u64(db, "first_us", first);
		meta_u64(db, "last_us", last);
		exec(db, "COMMIT");
		meta_end();
		log_warnx("batch: recovered working batch as %s", id);
	}
	db_close_clean(db, 1);
	publish(fd, path, id);
}

static void
prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
	    NULL) != SQLITE_OK)
		dbfatal(db, sql);
}

/*
 * One INSERT of PKT_MULTI packet rows: SQLite's per-statement cost,
 * paid once for many rows, is most of what a packet costs.
 */
static void
prepare_multi(struct batch *b)
{
	char sql[PKT_MULTI * 16 + 128];
	size_t len;
	int i;

	len = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO packets(flow_id, "
	    "seq, direction, size, tcp_flags, rel_us) VALUES ");
	for (i = 0; i < PKT_MULTI; i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
		    "%s(?,?,?,?,?,?)", i ? "," : "");
	prepare(b->db, sql, &b->ins_pkts);
	b->npbuf = 0;
}

/* Write the buffered packet rows (before a commit, delete or close). */
static void
pkt_flush(struct batch *b)
{
	sqlite3_stmt *st;
	int i, j;

	if (b->npbuf == PKT_MULTI) {
		st = b->ins_pkts;
		for (i = 0; i < PKT_MULTI; i++)
			for (j = 0; j < 6; j++)
				sqlite3_bind_int64(st, i * 6 + j + 1,
				    b->pbuf[i][j]);
		if (sqlite3_step(st) != SQLITE_DONE)
			dbfatal(b->db, "insert packets");
		sqlite3_reset(st);
		b->npbuf = 0;
		return;
	}
	st = b->ins_pkt;
	for (i = 0; i < b->npbuf; i++) {
		for (j = 0; j < 6; j++)
			sqlite3_bind_int64(st, j + 1, b->pbuf[i][j]);
		if (sqlite3_step(st) != SQLITE_DONE)
			dbfatal(b->db, "insert packet");
		sqlite3_reset(st);
	}
	b->npbuf = 0;
}

#define FLOW_COLUMNS	"(flow_id, start_us, end_us, ip_version, protocol, " \
	"local_ip, local_port, remote_ip, remote_port, packets_out, " \
	"packets_in, bytes_out, bytes_in, app, pid, uid, exe, label_source, " \
	"label_delay_us, end_reason, ended, first_seq, iface) VALUES (?, ?, " \
	"?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

static void
batch_start(struct flowd *fd)
{
	struct batch *b = fd->batch;
	char pragma[64];

	unlink_db(b->path);
	/* one thread: SQLite's mutexes are pure cost here */
	if (sqlite3_open_v2(b->path, &b->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		dbfatal(b->db, b->path);
	/*
	 * Live, WAL: a commit is one append, and a process killed at any
	 * point leaves the last commit intact for recovery.  Nobody else
	 * opens a working batch: exclusive locking spares the file locks
	 * of every transaction and keeps the WAL index in memory, not in
	 * a -shm file.  Replay needs neither journal nor fsync: its
	 * working batch is thrown away after a crash and made again by
	 * the next replay, and only the rename of a finished file ever
	 * reaches the outbox.
	 *
	 * Live, the file is made and its schema committed with
	 * synchronous=OFF, then NORMAL, which syncs only checkpoints.  A
	 * working batch without rows is removed at recovery whatever it
	 * holds, and syncing its making (a rollback journal to write the
	 * WAL header's mode, the new WAL's header, their directory) cost
	 * seven fsyncs a batch.
	 */
	snprintf(pragma, sizeof(pragma), "PRAGMA page_size=%d", BATCH_PAGE);
	exec(b->db, pragma);
	if (fd->conf.replay)
		exec(b->db, "PRAGMA locking_mode=EXCLUSIVE; "
		    "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF");
	else
		exec(b->db, "PRAGMA locking_mode=EXCLUSIVE; "
		    "PRAGMA synchronous=OFF; PRAGMA journal_mode=WAL");
	/*
	 * The schema's CHECKs are for other writers and for readers:
	 * every value flowd binds is in range by its C type or by
	 * construction (direction, ended), and evaluating them was a
	 * twentieth of a replay.  The file keeps them.
	 */
	exec(b->db, "PRAGMA ignore_check_constraints=ON");
	exec(b->db, "BEGIN");
	exec(b->db, batch_schema());
	if (!fd->conf.replay) {
		exec(b->db, "CREATE TABLE flowd_input (input INTEGER PRIMARY "
		    "KEY, key BLOB NOT NULL, msgs BLOB NOT NULL)");
		exec(b->db, "COMMIT; PRAGMA synchronous=NORMAL; BEGIN");
		prepare(b->db, "INSERT OR REPLACE INTO flowd_input(input, key, "
		    "msgs) VALUES (?, ?, ?)", &b->ins_input);
	}
	prepare(b->db, "BEGIN", &b->begin);
	prepare(b->db, "COMMIT", &b->commit);
	prepare(b->db, "INSERT INTO packets(flow_id, seq, direction, size, "
	    "tcp_flags, rel_us) VALUES (?, ?, ?, ?, ?, ?)", &b->ins_pkt);
	prepare(b->db, "INSERT OR REPLACE INTO flows" FLOW_COLUMNS,
	    &b->ins_flow);
	prepare_multi(b);
	prepare(b->db, "DELETE FROM packets WHERE flow_id = ?", &b->del_pkt);
	prepare(b->db, "DELETE FROM flows WHERE flow_id = ?", &b->del_flow);
	prepare(b->db, "PRAGMA page_count", &b->page_count);
	if (db_count(b->db, "PRAGMA page_size", &b->page_size) == -1)
		dbfatal(b->db, "page_size");
	b->rows = 0;
	b->size_rows = b->size_all = 0;
	b->size_next = SIZE_ROWS;
	b->start_us = fd->now_us;
	b->first_us = UINT64_MAX;
	b->last_us = 0;
	b->packets = b->flow_rows = b->ended = b->labelled = 0;
	b->due = b->full = 0;
	b->commit_mono = mono_us();
}

/*
 * Open the batch writer: recover what a previous run left, then wait
 * for the first row before creating a working batch.
 */
int
batch_open(struct flowd *fd, char *err, size_t errlen)
{
	struct batch *b;
	struct stat sb;

	if (mkdir(fd->conf.outbox, 0755) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", fd->conf.outbox,
		    strerror(errno));
		return -1;
	}
	if (mkdir(fd->conf.work_dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", fd->conf.work_dir,
		    strerror(errno));
		return -1;
	}
	/*
	 * flowd has one thread: no mutexes and no memory statistics,
	 * which cost a lock per allocation.  Before SQLite's first use.
	 */
	sqlite3_config(SQLITE_CONFIG_SINGLETHREAD);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		return -1;
	}
	TAILQ_INIT(&b->flows);
	fd->batch = b;
	if (snprintf(b->path, sizeof(b->path), "%s/%s", fd->conf.work_dir,
	    WORK_NAME) >= (int)sizeof(b->path)) {
		snprintf(err, errlen, "%s: path too long", fd->conf.work_dir);
		return -1;
	}
	if (stat(b->path, &sb) == 0) {
		if (fd->conf.replay)
			unlink_db(b->path);
		else
			recover(fd, b->path);
	} else
		unlink_db(b->path);
	return 0;
}

uint64_t
batch_count(const struct flowd *fd)
{
	return fd->batches;
}

/* Text bound as static: it outlives the step that reads it. */
static void
bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static void
write_flow(struct flowd *fd, struct flow *f, int ended)
{
	struct batch *b = fd->batch;
	sqlite3_stmt *st = b->ins_flow;
	char la[64], ra[64];
	const struct hello_rec *h = &fd->capd_hello;
	int lab = f->label_src != LSRC_NONE;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)f->id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)f->start_us);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)(ended ? f->end_us :
	    f->last_us));
	sqlite3_bind_int(st, 4, f->key.ipver);
	sqlite3_bind_int(st, 5, f->key.proto);
	sqlite3_bind_text(st, 6, privacy_addr(fd->priv, f->key.ipver,
	    f->key.laddr, la, sizeof(la)), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, f->key.lport);
	sqlite3_bind_text(st, 8, privacy_addr(fd->priv, f->key.ipver,
	    f->key.raddr, ra, sizeof(ra)), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 9, f->key.rport);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)f->pkts_out);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)(f->pkts - f->pkts_out));
	sqlite3_bind_int64(st, 12, (sqlite3_int64)f->bytes_out);
	sqlite3_bind_int64(st, 13, (sqlite3_int64)f->bytes_in);
	bind_text_or_null(st, 14, lab ? f->app : NULL);
	if (lab && f->pid >= 0)
		sqlite3_bind_int64(st, 15, f->pid);
	else
		sqlite3_bind_null(st, 15);
	if (lab)
		sqlite3_bind_int64(st, 16, f->uid);
	else
		sqlite3_bind_null(st, 16);
	bind_text_or_null(st, 17, lab ? f->exe : NULL);
	sqlite3_bind_text(st, 18, label_src_name(f->label_src), -1,
	    SQLITE_STATIC);
	if (lab)
		sqlite3_bind_int64(st, 19, (sqlite3_int64)(f->label_us -
		    f->start_us));
	else
		sqlite3_bind_null(st, 19);
	sqlite3_bind_text(st, 20, end_reason_name(ended ? f->end_reason :
	    END_OPEN), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 21, ended);
	sqlite3_bind_int64(st, 22, (sqlite3_int64)((f->flags & FF_INBATCH) ?
	    f->first_seq : f->pkts));
	bind_text_or_null(st, 23, f->iface < h->nifaces &&
	    f->iface < VBS_MAX_IFACES ? h->ifaces[f->iface] : NULL);
	if (sqlite3_step(st) != SQLITE_DONE)
		dbfatal(b->db, "insert flow");
	sqlite3_reset(st);
	b->rows++;
	b->size_rows++;
}

/* Rows of the flows that got packets since the last commit. */
static void
write_dirty(struct flowd *fd)
{
	struct batch *b = fd->batch;
	struct flow *f;

	pkt_flush(b);
	/* replay never recovers a working batch: rows wait for the close */
	TAILQ_FOREACH_REVERSE(f, &b->flows, flowq, blink) {
		if ((f->flags & FF_DIRTY) == 0 || fd->conf.replay)
			break;
		write_flow(fd, f, 0);
		f->flags &= (uint16_t)~FF_DIRTY;
	}
}

/*
 * Commit, then close the batch if it is full.  Live, only when no
 * message is in flight: rows of a message not yet committed with its
 * window must not be committed without it (see batch_sync).
 */
static void
batch_commit(struct flowd *fd)
{
	struct batch *b = fd->batch;

	if (!fd->conf.replay && fd->inflight > 0)
		fatalx("batch: commit with %" PRIu32 " messages in flight",
		    fd->inflight);
	write_dirty(fd);
	step_tx(b->db, b->commit);
	b->rows = 0;
	b->commit_mono = mono_us();
	if (batch_full(fd, 0))
		batch_close(fd);
	else
		step_tx(b->db, b->begin);
}

/*
 * Commit every COMMIT_ROWS rows; look at the size more often, so that
 * a batch passes batch_size by little.
 */
static void
maybe_commit(struct flowd *fd)
{
	struct batch *b = fd->batch;

	if (b->rows >= COMMIT_ROWS || batch_full(fd, 0)) {
		/* live: the rest of the message first (batch_sync) */
		if (fd->conf.replay)
			batch_commit(fd);
		else
			b->due = 1;
	}
}

/* Live: enough rows wait that the input should commit its window. */
int
batch_due(const struct flowd *fd)
{
	const struct batch *b = fd->batch;

	return b != NULL && b->db != NULL && b->due;
}

static void
put_window(struct batch *b, int in, const struct in_window *w)
{
	uint8_t buf[WIN_MAX * MSG_ID_LEN], *p = buf;
	sqlite3_stmt *st = b->ins_input;
	uint32_t i;

	for (i = 0; i < w->n && i < WIN_MAX; i++, p += MSG_ID_LEN) {
		memcpy(p, &w->m[i].h[0], 8);
		memcpy(p + 8, &w->m[i].h[1], 8);
		memcpy(p + 16, &w->m[i].len, 4);
	}
	sqlite3_bind_int(st, 1, in);
	sqlite3_bind_blob(st, 2, w->key, 16, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, buf, (int)(p - buf), SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		dbfatal(b->db, "flowd_input");
	sqlite3_reset(st);
}

/*
 * Live: commit every row written so far together with the inputs'
 * windows (fd->win), the messages those rows came from.  After it
 * returns the caller may consume them.  0: no working batch, so no
 * row came from them and there was nothing to commit.
 */
int
batch_sync(struct flowd *fd)
{
	struct batch *b = fd->batch;
	int i;

	if (b == NULL || b->db == NULL)
		return 0;
	write_dirty(fd);
	for (i = 0; i < LIVE_INPUTS; i++)
		put_window(b, i, &fd->win[i]);
	step_tx(b->db, b->commit);
	b->rows = 0;
	b->due = 0;
	b->commit_mono = mono_us();
	/* the first commit looks, as a small batch_size closes there */
	(void)batch_full(fd, b->size_all == 0);
	step_tx(b->db, b->begin);
	return 1;
}

void
batch_packet(struct flowd *fd, struct flow *f, const struct pkt_rec *p,
    int out, uint64_t rel)
{
	struct batch *b = fd->batch;
	int64_t *row;

	if (b->db == NULL)
		batch_start(fd);
	if ((f->flags & FF_INBATCH) == 0) {
		f->flags |= FF_INBATCH | FF_DIRTY;
		f->first_seq = f->pkts - 1;
		TAILQ_INSERT_TAIL(&b->flows, f, blink);
		b->flow_rows++;
	} else if ((f->flags & FF_DIRTY) == 0) {
		/* dirty flows gather at the tail, for the commit */
		TAILQ_REMOVE(&b->flows, f, blink);
		TAILQ_INSERT_TAIL(&b->flows, f, blink);
		f->flags |= FF_DIRTY;
	}
	row = b->pbuf[b->npbuf++];
	row[0] = (int64_t)f->id;
	row[1] = (int64_t)(f->pkts - 1);
	row[2] = out ? 0 : 1;
	row[3] = p->iplen;
	row[4] = p->proto == IPPROTO_TCP_NUM ? p->tcpflags : 0;
	row[5] = (int64_t)rel;
	if (b->npbuf == PKT_MULTI)
		pkt_flush(b);
	if (p->ts_us < b->first_us)
		b->first_us = p->ts_us;
	if (p->ts_us > b->last_us)
		b->last_us = p->ts_us;
	b->packets++;
	b->rows++;
	b->size_rows++;
	maybe_commit(fd);
}

/* The ended flow's final row, in whichever batch is current. */
void
batch_flow_end(struct flowd *fd, struct flow *f)
{
	struct batch *b = fd->batch;

	if (b->db == NULL)
		batch_start(fd);
	if ((f->flags & FF_INBATCH) == 0)
		b->flow_rows++;
	write_flow(fd, f, 1);
	if ((f->flags & FF_INBATCH) != 0)
		TAILQ_REMOVE(&b->flows, f, blink);
	f->flags &= (uint16_t)~(FF_INBATCH | FF_DIRTY);
	b->ended++;
	if (f->label_src != LSRC_NONE)
		b->labelled++;
	maybe_commit(fd);
}

/* A flow found to be VBS's own: take back what the batch has of it. */
void
batch_forget(struct flowd *fd, struct flow *f)
{
	struct batch *b = fd->batch;

	if ((f->flags & FF_INBATCH) == 0 || b->db == NULL)
		return;
	pkt_flush(b);
	sqlite3_bind_int64(b->del_pkt, 1, (sqlite3_int64)f->id);
	if (sqlite3_step(b->del_pkt) != SQLITE_DONE)
		dbfatal(b->db, "delete packets");
	sqlite3_reset(b->del_pkt);
	sqlite3_bind_int64(b->del_flow, 1, (sqlite3_int64)f->id);
	if (sqlite3_step(b->del_flow) != SQLITE_DONE)
		dbfatal(b->db, "delete flow");
	sqlite3_reset(b->del_flow);
	fd->cnt.excluded_packets += f->pkts - f->first_seq;
	b->packets -= f->pkts - f->first_seq;
	b->flow_rows--;
	TAILQ_REMOVE(&b->flows, f, blink);
	f->flags &= (uint16_t)~(FF_INBATCH | FF_DIRTY);
}

static uint64_t
batch_bytes(struct batch *b)
{
	uint64_t pages = 0;

	if (sqlite3_step(b->page_count) == SQLITE_ROW)
		pages = (uint64_t)sqlite3_column_int64(b->page_count, 0);
	sqlite3_reset(b->page_count);
	return pages * b->page_size;
}

/*
 * Has the batch reached batch_size?  Once it has, it stays full until
 * closed.  SQLite prepares PRAGMA page_count anew at each step (a
 * pragma runs once per preparation), and looking every 1,024 rows and
 * at every commit was 3% of flowd's CPU in the lab's steady run.  So it
 * looks first after SIZE_ROWS rows (or at the first commit, when now
 * says so), then when the rows since the last look could have filled
 * what was left, were each twice the batch's average row so far: a few
 * looks a batch, closer together as it fills.  A batch passes
 * batch_size by less than what is left at a look, unless its rows grow
 * suddenly.  A batch_size below an empty batch (a page for each table:
 * 32 kB) closes each batch at its first look.
 */
static int
batch_full(struct flowd *fd, int now)
{
	struct batch *b = fd->batch;
	uint64_t bytes, row;

	if (b->full)
		return 1;
	if (b->size_rows == 0 || (!now && b->size_rows < b->size_next))
		return 0;
	bytes = batch_bytes(b);
	b->size_all += b->size_rows;
	b->size_rows = 0;
	if (bytes >= fd->conf.batch_size)
		return b->full = 1;
	row = b->size_all > 0 ? bytes / b->size_all : 0;
	if (row < ROW_BYTES_MIN)
		row = ROW_BYTES_MIN;
	b->size_next = (fd->conf.batch_size - bytes) / (2 * row);
	if (b->size_next < SIZE_ROWS_MIN)
		b->size_next = SIZE_ROWS_MIN;
	return 0;
}

/*
 * Close the working batch: rows for its open flows, its meta table, a
 * last commit, a clean file, then the rename into the outbox.
 */
static void
batch_close(struct flowd *fd)
{
	struct batch *b = fd->batch;
	struct flow *f;
	char buf[32];

	if (b->db == NULL)
		return;
	if (!fd->conf.replay && fd->inflight > 0)
		fatalx("batch: close with %" PRIu32 " messages in flight",
		    fd->inflight);
	if (sqlite3_get_autocommit(b->db))
		step_tx(b->db, b->begin);
	if (b->ins_input != NULL) {
		/* every message is consumed: the list has done its work */
		sqlite3_finalize(b->ins_input);
		b->ins_input = NULL;
		exec(b->db, "DROP TABLE flowd_input");
	}
	pkt_flush(b);
	while ((f = TAILQ_FIRST(&b->flows)) != NULL) {
		write_flow(fd, f, 0);
		TAILQ_REMOVE(&b->flows, f, blink);
		f->flags &= (uint16_t)~(FF_INBATCH | FF_DIRTY);
		f->flags |= FF_EARLIER;
	}
	make_id(fd, b->id, sizeof(b->id), b->seq, 0);
	meta_common(fd, b->db, b->id);
	meta_u64(b->db, "batch_seq", b->seq);
	meta_u64(b->db, "recovered", 0);
	meta_u64(b->db, "packets", b->packets);
	meta_u64(b->db, "flows", b->flow_rows);
	meta_u64(b->db, "flows_ended", b->ended);
	meta_u64(b->db, "flows_labelled", b->labelled);
	share(buf, sizeof(buf), b->labelled, b->ended);
	meta_put(b->db, "labelled_share", buf);
	meta_u64(b->db, "first_us", b->first_us == UINT64_MAX ? 0 :
	    b->first_us);
	meta_u64(b->db, "last_us", b->last_us);
	step_tx(b->db, b->commit);
	meta_end();
	sqlite3_finalize(b->ins_pkt);
	sqlite3_finalize(b->ins_pkts);
	b->ins_pkts = NULL;
	sqlite3_finalize(b->ins_flow);
	sqlite3_finalize(b->del_pkt);
	sqlite3_finalize(b->del_flow);
	sqlite3_finalize(b->page_count);
	sqlite3_finalize(b->begin);
	sqlite3_finalize(b->commit);
	b->ins_pkt = b->ins_flow = b->del_pkt = b->del_flow = NULL;
	b->page_count = b->begin = b->commit = NULL;
	db_close_clean(b->db, !fd->conf.replay);
	b->db = NULL;
	publish(fd, b->path, b->id);
	log_info("batch %s: %" PRIu64 " packets, %" PRIu64 " flows", b->id,
	    b->packets, b->flow_rows);
	b->seq++;
	fd->batches++;
}

/*
 * Timers of the live batch, called only when no message is in flight:
 * its age (batch_age bounds how long data waits before shipd sees it),
 * its size (found by batch_sync), and a commit at least every
 * COMMIT_US of the rows that timers wrote (flow ends).  Replay closes
 * batches by size only: it has nobody waiting, and a capture replayed
 * faster than it was taken would otherwise make a file per few minutes
 * of capture.
 */
void
batch_tick(struct flowd *fd, uint64_t now, uint64_t mono)
{
	struct batch *b = fd->batch;

	if (b == NULL || b->db == NULL || fd->conf.replay)
		return;
	if ((fd->conf.batch_age_us > 0 && now >= b->start_us +
	    fd->conf.batch_age_us) || b->full) {
		batch_close(fd);
		return;
	}
	if (!fd->conf.replay && b->rows > 0 && mono >= b->commit_mono +
	    COMMIT_US)
		batch_commit(fd);
}

/* Close the last batch (shutdown, end of input) and free the writer. */
void
batch_finish(struct flowd *fd)
{
	struct batch *b = fd->batch;

	if (b == NULL)
		return;
	batch_close(fd);
	free(b);
	fd->batch = NULL;
}
