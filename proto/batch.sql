-- proto/batch.sql: the SQLite batch that flowd writes, shipd uploads and
-- ingestd loads.  Schema version 1 (meta key schema_version and
-- PRAGMA user_version).  Change it only with a new version number and a
-- note in proto/PROTOCOL.md; ingestd refuses versions it does not know.

PRAGMA user_version = 1;

-- One row per fact about the batch.  Keys are documented in PROTOCOL.md:
-- batch_id, client_id, schema_version, os, software, privacy (the address
-- policy), mode (live or replay), batch_seq, recovered (1: a working
-- batch recovered after flowd died), first_us, last_us (packet times),
-- packets, flows (rows), flows_ended, flows_labelled, labelled_share
-- (flows_labelled / flows_ended, 4 decimals), flowd's cumulative
-- counters (flowd_packets, flowd_flows, flowd_flows_evicted,
-- flowd_excluded_flows, flowd_lookups, flowd_lost_batches, ...), and the
-- producers' last counters as capd_NAME and sockd_NAME (capd_received,
-- capd_emitted, capd_not_ip, one capd_REASON per kind of undecodable
-- packet, capd_kernel_dropped, capd_interface_dropped,
-- capd_queue_dropped_records, sockd_dropped_records, ...), and in live
-- mode what shipd dropped at the outbox's disk bound (shipd_lost_batches,
-- shipd_lost_bytes; shipd.8).
CREATE TABLE meta (
	key		TEXT PRIMARY KEY NOT NULL,
	value		TEXT NOT NULL
) WITHOUT ROWID;

-- One row per flow that has packets in this batch, or that ended while
-- this batch was open.  flow_id is unique per client across batches.  A
-- flow still open when the batch closed has ended = 0 and end_reason
-- 'open'; every row carries the flow's totals so far (cumulative, not
-- per batch), and the flow's one row with ended = 1 (in the batch open
-- when it ended, possibly with no packets there: first_seq = its packet
-- count) has the final totals and label.  A loader keeps, per flow_id,
-- the row with ended = 1, or else the one with the largest end_us.
-- first_seq is the seq of the flow's first packet in this batch.
-- end_reason: closed (socket closed), fin (FIN both ways), rst, idle,
-- shutdown, eof (end of replayed input), evicted (flow table full),
-- restart (flowd died; the row was recovered), open (ended = 0).
-- label_source: event, lookup, dump, destroy, none; app, pid, uid, exe
-- and label_delay_us are NULL when none.
CREATE TABLE flows (
	flow_id		INTEGER PRIMARY KEY NOT NULL,
	start_us	INTEGER NOT NULL,
	end_us		INTEGER NOT NULL,
	ip_version	INTEGER NOT NULL CHECK (ip_version IN (4, 6)),
	protocol	INTEGER NOT NULL CHECK (protocol BETWEEN 0 AND 255),
	local_ip	TEXT NOT NULL,
	local_port	INTEGER NOT NULL CHECK (local_port BETWEEN 0 AND 65535),
	remote_ip	TEXT NOT NULL,
	remote_port	INTEGER NOT NULL CHECK (remote_port BETWEEN 0 AND 65535),
	packets_out	INTEGER NOT NULL,
	packets_in	INTEGER NOT NULL,
	bytes_out	INTEGER NOT NULL,
	bytes_in	INTEGER NOT NULL,
	app		TEXT,
	pid		INTEGER,
	uid		INTEGER,
	exe		TEXT,
	label_source	TEXT NOT NULL,	-- event, lookup, dump, destroy, none
	label_delay_us	INTEGER,	-- first packet to label; NULL if none
	end_reason	TEXT NOT NULL,	-- closed, fin, rst, idle, shutdown, open
	ended		INTEGER NOT NULL CHECK (ended IN (0, 1)),
	first_seq	INTEGER NOT NULL,	-- seq of its first packet here
	iface		TEXT
);

-- One row per packet, in the order seen.  seq counts from 0 per flow and
-- goes on across batches; (flow_id, seq) is unique across all batches of
-- a client.  No index enforces it here: rows are appended in time order
-- (the cheapest insert SQLite has), and the server's table keys on it.
CREATE TABLE packets (
	flow_id		INTEGER NOT NULL,
	seq		INTEGER NOT NULL,
	direction	INTEGER NOT NULL CHECK (direction IN (0, 1)),
	size		INTEGER NOT NULL,
	tcp_flags	INTEGER NOT NULL CHECK (tcp_flags BETWEEN 0 AND 255),
	rel_us		INTEGER NOT NULL
);
