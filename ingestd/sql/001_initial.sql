-- ingestd/sql/001_initial.sql: the first MySQL schema of the VBS server.
-- Applied by `ingestd migrate` (or at start with migrate_at_start), in a
-- named lock, then recorded in schema_version.  Never edit a migration
-- that has been released: add the next file (002_*.sql).
--
-- Statements end with a semicolon at the end of a line; lines starting
-- with two dashes are comments.  Column names are those of the batch
-- (proto/batch.sql) plus client_id and batch_id, which here are small
-- surrogate numbers; the ids the client wrote are clients.client_name
-- and batches.batch_name.  Addresses are VARBINARY(16), 4 bytes for
-- IPv4 and 16 for IPv6 (INET6_NTOA() shows them).  Times are
-- microseconds since the epoch, as in the batch.

CREATE TABLE IF NOT EXISTS schema_version (
	version		INT UNSIGNED NOT NULL PRIMARY KEY,
	name		VARCHAR(64) NOT NULL,
	applied_at	TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB;

-- One row per volunteer's machine.  client_name is the client id of the
-- batches' meta (and of enrolment).
CREATE TABLE IF NOT EXISTS clients (
	client_id	INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	client_name	VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	created_at	TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
	UNIQUE KEY client_name (client_name)
) ENGINE=InnoDB;

-- The ledger: one row per batch loaded, written first in the batch's
-- own transaction.  Its primary key is what makes a load happen exactly
-- once: a second loader of the same batch waits on the row, then finds
-- it and skips the batch.
CREATE TABLE IF NOT EXISTS batches (
	client_id	INT UNSIGNED NOT NULL,
	batch_name	VARCHAR(160) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	batch_id	INT UNSIGNED NOT NULL AUTO_INCREMENT,
	loaded_at	TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	loader		VARCHAR(128) NOT NULL,
	file_bytes	BIGINT UNSIGNED NOT NULL,
	flows		INT UNSIGNED NOT NULL,
	packets		INT UNSIGNED NOT NULL,
	first_us	BIGINT UNSIGNED NULL,
	last_us		BIGINT UNSIGNED NULL,
	meta		TEXT NOT NULL,
	PRIMARY KEY (client_id, batch_name),
	UNIQUE KEY batch_id (batch_id)
) ENGINE=InnoDB;

-- One row per flow and client, joined across the batches it spans:
-- the totals of its latest row (next_seq, then ended, decide which is
-- latest), first_batch_id where it was first seen, batch_id where its
-- row was last updated.  next_seq is the seq its next packet would
-- have: count(packets of the flow) = next_seq once all are loaded.
CREATE TABLE IF NOT EXISTS flows (
	client_id	INT UNSIGNED NOT NULL,
	flow_id		BIGINT UNSIGNED NOT NULL,
	batch_id	INT UNSIGNED NOT NULL,
	first_batch_id	INT UNSIGNED NOT NULL,
	start_us	BIGINT UNSIGNED NOT NULL,
	end_us		BIGINT UNSIGNED NOT NULL,
	ip_version	TINYINT UNSIGNED NOT NULL,
	protocol	TINYINT UNSIGNED NOT NULL,
	local_ip	VARBINARY(16) NOT NULL,
	local_port	SMALLINT UNSIGNED NOT NULL,
	remote_ip	VARBINARY(16) NOT NULL,
	remote_port	SMALLINT UNSIGNED NOT NULL,
	packets_out	BIGINT UNSIGNED NOT NULL,
	packets_in	BIGINT UNSIGNED NOT NULL,
	bytes_out	BIGINT UNSIGNED NOT NULL,
	bytes_in	BIGINT UNSIGNED NOT NULL,
	app		VARBINARY(255) NULL,
	pid		INT NULL,
	uid		INT UNSIGNED NULL,
	exe		VARBINARY(1024) NULL,
	label_source	VARCHAR(16) CHARACTER SET ascii NOT NULL,
	label_delay_us	BIGINT UNSIGNED NULL,
	end_reason	VARCHAR(16) CHARACTER SET ascii NOT NULL,
	ended		TINYINT UNSIGNED NOT NULL,
	iface		VARBINARY(32) NULL,
	next_seq	INT UNSIGNED NOT NULL,
	PRIMARY KEY (client_id, flow_id),
	KEY app_time (app, start_us),
	KEY start_us (start_us),
	KEY client_time (client_id, start_us)
) ENGINE=InnoDB;

-- One row per packet.  The primary key keeps a flow's packets together
-- and in order (InnoDB clusters rows by it), so no other index is
-- needed.  Types are the narrowest that hold every legal value: size is
-- the IP total length (GSO/BIG TCP captures exceed 65535), rel_us may
-- exceed 2^32 in a long idle flow.  Pages are compressed (zlib, punched
-- holes): tests/bench/ingestd.sh measures what that saves and costs.
CREATE TABLE IF NOT EXISTS packets (
	client_id	INT UNSIGNED NOT NULL,
	flow_id		BIGINT UNSIGNED NOT NULL,
	seq		INT UNSIGNED NOT NULL,
	batch_id	INT UNSIGNED NOT NULL,
	direction	TINYINT UNSIGNED NOT NULL,
	size		MEDIUMINT UNSIGNED NOT NULL,
	tcp_flags	TINYINT UNSIGNED NOT NULL,
	rel_us		BIGINT UNSIGNED NOT NULL,
	PRIMARY KEY (client_id, flow_id, seq)
) ENGINE=InnoDB PAGE_COMPRESSED=1;
