-- ingestd/sql/003_packet_chunks.sql: packets stored in chunks, read
-- through a view.  A row per packet took 38.7 bytes on disk even with
-- page compression; a row per run of packets takes under 9
-- (tests/bench/ingestd.sh measures it).
--
-- packet_chunks holds one row per run of up to 256 consecutive packets
-- of one flow in one batch (ingestd.h: CHUNK_MAX).  seq is that of the
-- run's first packet; pk packs the n = LENGTH(pk) / 8 packets as three
-- big-endian columns: n 4-byte words (direction << 31 | rel_us), then n
-- 3-byte sizes, then n tcp_flags bytes.  A packet whose rel_us does not
-- fit in 31 bits starts a run, and its rel_us is rel0 (else NULL).
--
-- Researchers read packets, a view with the columns and the values of
-- 001's packets table, one row per packet: nothing of the packing shows.
-- It expands each chunk against MariaDB's SEQUENCE engine (seq_0_to_255).
--
-- Existing packet rows are converted here, then their table dropped.
-- Every statement may run again after a crash half-way: the conversion
-- inserts the same rows (IGNORE), reading the view if the table is gone.

CREATE TABLE IF NOT EXISTS packet_chunks (
	client_id	INT UNSIGNED NOT NULL,
	flow_id		BIGINT UNSIGNED NOT NULL,
	seq		INT UNSIGNED NOT NULL,
	batch_id	INT UNSIGNED NOT NULL,
	rel0		BIGINT UNSIGNED NULL,
	pk		VARBINARY(2048) NOT NULL,
	PRIMARY KEY (client_id, flow_id, seq)
) ENGINE=InnoDB PAGE_COMPRESSED=1;

SET SESSION group_concat_max_len = 1048576;

-- Runs as the loader cuts them: per flow and batch, a new run at each
-- packet whose rel_us needs more than 31 bits (g counts them), and
-- every 256 packets after that (r).
INSERT IGNORE INTO packet_chunks (client_id, flow_id, seq, batch_id, rel0, pk)
SELECT client_id, flow_id, MIN(seq), MIN(batch_id),
	MAX(IF(r MOD 256 = 0 AND rel_us > 2147483647, rel_us, NULL)),
	UNHEX(CONCAT(
	    GROUP_CONCAT(LPAD(HEX(direction << 31 | IF(r MOD 256 = 0 AND
		rel_us > 2147483647, 0, rel_us)), 8, '0')
		ORDER BY seq SEPARATOR ''),
	    GROUP_CONCAT(LPAD(HEX(size), 6, '0') ORDER BY seq SEPARATOR ''),
	    GROUP_CONCAT(LPAD(HEX(tcp_flags), 2, '0')
		ORDER BY seq SEPARATOR '')))
FROM (SELECT p.*, ROW_NUMBER() OVER (PARTITION BY client_id, flow_id,
	batch_id, g ORDER BY seq) - 1 AS r
    FROM (SELECT client_id, flow_id, seq, batch_id, direction, size,
	tcp_flags, rel_us, SUM(rel_us > 2147483647) OVER (PARTITION BY
	client_id, flow_id, batch_id ORDER BY seq) AS g
	FROM packets) p) x
GROUP BY client_id, flow_id, batch_id, g, r DIV 256;

-- Drop the row-per-packet table only when every row is in a chunk.
-- (Only the last line of a statement may end with a semicolon.)
BEGIN NOT ATOMIC
	IF (SELECT COUNT(*) FROM packets) <>
	    (SELECT COALESCE(SUM(LENGTH(pk) DIV 8), 0) FROM packet_chunks)
	THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT =
	    'packets: not every row went into packet_chunks'; END IF; IF
	    (SELECT TABLE_TYPE FROM information_schema.TABLES WHERE
	    TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'packets') =
	    'BASE TABLE' THEN DROP TABLE packets; END IF; END;

-- The row-per-packet interface, columns as in 001.  SQL SECURITY
-- INVOKER: whoever may read packet_chunks may read packets.
CREATE OR REPLACE SQL SECURITY INVOKER VIEW packets AS
SELECT c.client_id, c.flow_id, c.seq + s.seq AS seq, c.batch_id,
	ORD(SUBSTRING(c.pk, 4 * s.seq + 1, 1)) >> 7 AS direction,
	CAST(CONV(HEX(SUBSTRING(c.pk, (LENGTH(c.pk) DIV 8) * 4 + 3 * s.seq + 1,
	    3)), 16, 10) AS UNSIGNED) AS size,
	ORD(SUBSTRING(c.pk, (LENGTH(c.pk) DIV 8) * 7 + s.seq + 1, 1))
	    AS tcp_flags,
	IF(s.seq = 0 AND c.rel0 IS NOT NULL, c.rel0,
	    CAST(CONV(HEX(SUBSTRING(c.pk, 4 * s.seq + 1, 4)), 16, 10)
	    AS UNSIGNED) & 2147483647) AS rel_us
FROM packet_chunks c JOIN seq_0_to_255 s ON s.seq < LENGTH(c.pk) DIV 8;
