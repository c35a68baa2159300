/*
 * ingestd.h: the server that loads clients' SQLite batches into MySQL.
 * Internal to ingestd; prototypes are grouped by the file that defines
 * them.  A batch file is hostile input until validate.c has accepted it;
 * MySQL (reached through the option file) and the spool directory are
 * trusted.
 */

#ifndef INGESTD_H
#define INGESTD_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>
#include <sqlite3.h>

/* Limits a batch must respect (checked before anything is written). */
#define MAX_FLOWS	1000000		/* flow rows in one batch */
#define MAX_PACKETS	20000000	/* packet rows in one batch */
#define MAX_META	256		/* meta rows */
#define MAX_META_VALUE	1024		/* bytes of a meta value */
#define MAX_ID		160		/* batch_id, bytes */
#define MAX_CLIENT	64		/* client_id, bytes */
#define MAX_APP		255		/* flows.app */
#define MAX_EXE		1024		/* flows.exe */
#define MAX_WORD	16		/* label_source, end_reason */
#define MAX_IFACE	32		/* flows.iface */
#define MAX_ORPHANS	10000		/* flows named only by packets */

#define REASON_MAX	512

/*
 * The longest a loader may spend validating one batch, about ten times
 * what a batch at the row limits takes (20 million packets: some 30 s
 * on a 2-core test machine, which does 3 million in 4.5 s); past it the
 * batch is refused.
 */
#define VALIDATE_SECONDS 300

/*
 * MySQL keeps a flow's packets in chunks (ingestd/sql/003_*.sql): one
 * packet_chunks row per run of up to CHUNK_MAX consecutive packets of a
 * flow in one batch, packed CHUNK_BYTES a packet.  A packet whose rel_us
 * exceeds CHUNK_REL_MAX starts a chunk and its rel_us goes in rel0.
 */
#define CHUNK_MAX	256
#define CHUNK_BYTES	8
#define CHUNK_REL_MAX	0x7fffffffLL

/* Ways of sending packet rows to MySQL; measured by tests/bench. */
enum pkt_method {
	PKT_INFILE = 0,		/* LOAD DATA LOCAL INFILE from memory */
	PKT_INSERT = 1,		/* multi-row prepared INSERT; plain SQL */
	PKT_BULK = 2		/* MariaDB array-bound INSERT; the default */
};

/* A text column of a flow: len bytes at batch.text + off; len -1: NULL. */
struct vstr {
	size_t		 off;
	int		 len;
};

/* Which of a flow's nullable integers are NULL. */
#define NULL_PID	0x01
#define NULL_UID	0x02
#define NULL_DELAY	0x04

/*
 * One flow row as validated, with every value as MySQL takes it, so
 * that load.c writes it without reading the file again.
 */
struct vflow {
	int64_t		 flow_id;
	int64_t		 first_seq;
	uint32_t	 npackets;	/* its packet rows in this batch */
	int64_t		 start_us, end_us;
	int64_t		 packets_out, packets_in, bytes_out, bytes_in;
	int64_t		 pid, uid, label_delay_us;	/* see nulls */
	uint16_t	 local_port, remote_port;
	uint8_t		 ip_version, protocol, ended, nulls;
	uint8_t		 local_ip[16], remote_ip[16];	/* 4 for IPv4 */
	struct vstr	 app, exe, label_source, end_reason, iface;
};

/*
 * One packet_chunks row: pk holds n packets at batch.pk + off, as
 * columns: n 4-byte words (direction << 31 | rel_us), n 3-byte sizes,
 * n tcp_flags bytes, all big-endian.
 */
struct chunk {
	int64_t		 flow_id;
	int64_t		 seq;		/* of its first packet */
	int64_t		 rel0;		/* rel_us of its first, or -1 */
	size_t		 off;
	uint32_t	 n;
};

/* A batch that validate_batch() has opened and accepted. */
struct batch {
	char		 path[4096];
	sqlite3		*db;		/* while validating; read-only */
	char		 batch_id[MAX_ID + 1];	/* meta batch_id */
	char		 client_id[MAX_CLIENT + 1];	/* meta client_id */
	uint64_t	 file_bytes;
	uint64_t	 nflows;
	uint64_t	 npackets;
	int64_t		 first_us, last_us;	/* meta, 0 when absent */
	struct vflow	*flows;		/* sorted by flow_id */
	char		*text;		/* the flows' text columns */
	size_t		 textlen, text_cap;
	int64_t		*orphans;	/* flows of packets, not in flows */
	size_t		 norphans;
	struct chunk	*chunks;	/* the packets, packed, in order */
	size_t		 nchunks, chunks_cap;
	uint8_t		*pk;
	size_t		 pklen, pk_cap;
	char		 meta_json[65536];	/* all of meta, as a JSON object */
};

/* Outcome of loading one batch. */
enum load_result {
	LOAD_OK = 0,		/* loaded, committed */
	LOAD_DUP = 1,		/* already in MySQL: acknowledged, skipped */
	LOAD_BAD = 2,		/* refused: quarantine, nothing written */
	LOAD_RETRY = 3		/* MySQL trouble: try again later */
};

/* What the receiver reads in an upload's meta (batch_meta). */
enum meta_check {
	META_OK = 0,
	META_BAD = 1,		/* not a batch of this id */
	META_FOREIGN = 2,	/* another client's */
	META_LATE = 3		/* not read in time: ask again later */
};

#define VALIDATE_LATE	1	/* validate_batch(): out of time, no verdict */

/* validate.c */
sqlite3	*batch_open(const char *, int, char *, size_t);
enum meta_check batch_meta(const char *, int, const char *, const char *,
	    char *, size_t);
int	 validate_batch(struct batch *, const char *, const char *, uint64_t,
	    int, char *, size_t);
void	 batch_close(struct batch *);
void	 validate_quiet(void);
int	 addr_text_to_bin(int, const unsigned char *, int, uint8_t *);

/* load.c */
int	 load_batch(MYSQL *, struct batch *, enum pkt_method, const char *,
	    char *, size_t);
extern uint64_t	load_packet_rows;	/* rows sent, for -v statistics */

/* db.c */
int	 db_optfile_check(const char *, char *, size_t);
MYSQL	*db_connect(const char *, unsigned int, char *, size_t);
int	 db_migrate(MYSQL *, char *, size_t);
int	 db_check_version(MYSQL *, int, char *, size_t);
int	 db_latest_version(void);
int	 db_exec(MYSQL *, const char *);
int	 db_error_is_data(unsigned int);

/* spool.c */
struct spool;
struct spool *spool_open(const char *, char *, size_t);
void	 spool_free(struct spool *);
int	 spool_recover(struct spool *, int);
int	 spool_claim(struct spool *, char *, size_t, char *, size_t);
int	 spool_finish(struct spool *, const char *, int);
int	 spool_quarantine(struct spool *, const char *, const char *);
int	 spool_release(struct spool *, const char *);
int	 spool_late(struct spool *, const char *, const char *, int);
int	 spool_claimed(int, const char *);
int	 spool_quarantine_holds(int, const char *);
int	 spool_client_of(const char *, char *, size_t);
void	 spool_confine(const char *, const char *, const char *);
uint64_t spool_quarantined(const struct spool *);

/* sandbox.c */
struct sandbox_path;
struct sandbox_spec;
const struct sandbox_spec *ingestd_sandbox(const char *,
	    const struct sandbox_path *);
void	 ingestd_preload(void);

#endif /* INGESTD_H */
