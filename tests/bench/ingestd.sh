#!/bin/sh
# tests/bench/ingestd.sh: how fast ingestd loads packet rows, and how many
# bytes a packet row takes on disk, against peers measured in the same
# run on the same private MariaDB (the machine is shared and noisy):
#
#   ceiling   the mariadb client's LOAD DATA LOCAL INFILE of the same rows
#             from one TSV file into a table identical to packets
#   infile    `ingestd load` of the batches (validation, flows, ledger and
#             packets through LOAD DATA LOCAL fed from memory)
#   insert    the same with -P insert (multi-row prepared INSERTs)
#   bulk      the same with -P bulk (MariaDB array-bound INSERT)
#
# Then bytes per packet row (InnoDB data + indexes, allocated on disk,
# after a flush) for the packets layouts tried: as shipped, without page
# compression, ROW_FORMAT=COMPRESSED, and a denser row (no batch_id,
# rel_us and size in 4 and 2 bytes) with and without page compression.
# Targets: infile >= 0.8 x ceiling; <= 19 B per row (original: 38.6 B).
# BENCH_PACKETS (default 1000000) sets the size.

. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lib_mariadb.sh"

mariadb_available || { echo "ingestd bench: no mariadbd, skipped"; exit 0; }
NP=${BENCH_PACKETS:-1000000}
NBATCH=$((NP / 50000))
[ $NBATCH -ge 1 ] || NBATCH=1
T=$(tmpdir)
cleanup() { mariadb_stop; rm -rf "$T"; }
mariadb_start "$T/db" --innodb-buffer-pool-size=1G --local-infile=1 ||
    { echo "ingestd bench: mariadb did not start"; rm -rf "$T"; exit 1; }
trap cleanup EXIT
MK="python3 $TOP/tests/integration/ingestd_mkbatch.py"
mdb "CREATE DATABASE vbs"
mariadb_optfile "$T/my.cnf" vbs
ING="$BIN/ingestd -m $T/my.cnf"
$ING migrate >/dev/null 2>&1 || { echo "migrate failed"; exit 1; }
q() { mdb "USE vbs; $1"; }

echo "making $NBATCH batches of $NP packets..."
$MK make "$T/b" --client bench --batches $NBATCH --flows $((NP / 20)) \
    --packets $NP --seed 5 >"$T/want"
$MK tsv "$T"/b/*.sqlite >"$T/packets.tsv"
echo "batches: $(cat "$T/want"); $(du -sh "$T/b" | cut -f1) of SQLite," \
    "TSV $(du -sh "$T/packets.tsv" | cut -f1)"

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
reset() { q "TRUNCATE packets; TRUNCATE flows; TRUNCATE batches; DELETE FROM clients; DROP TABLE IF EXISTS ceiling; CREATE TABLE ceiling LIKE packets"; }

ceiling() {
	reset
	t0=$(now)
	mariadb --no-defaults -S "$MDB_SOCK" -uroot --local-infile=1 vbs -e \
	    "LOAD DATA LOCAL INFILE '$T/packets.tsv' INTO TABLE ceiling
	     FIELDS TERMINATED BY '\t' (flow_id, seq, direction, size,
	     tcp_flags, rel_us) SET client_id = 1, batch_id = 1"
	t1=$(now)
	[ "$(q 'SELECT COUNT(*) FROM ceiling')" = "$NP" ] ||
	    echo "ceiling: wrong count"
	rate "$NP" "$t0" "$t1"
}

ingest() {
	reset
	t0=$(now)
	$ING -P "$1" load "$T"/b/*.sqlite >/dev/null || echo "load failed" >&2
	t1=$(now)
	[ "$(q 'SELECT COUNT(*) FROM packets')" = "$NP" ] ||
	    echo "$1: wrong count" >&2
	rate "$NP" "$t0" "$t1"
}

# Allocated bytes of a table's .ibd (holes punched by page compression
# are not counted) per row, after its dirty pages are flushed.
bytes_per_row() {
	n=$(q "SELECT COUNT(*) FROM $1")
	# Steady state: purge done (it resets DB_TRX_ID), pages flushed.
	q "SET GLOBAL innodb_max_purge_lag_wait = 0"
	q "FLUSH TABLES $1 FOR EXPORT; UNLOCK TABLES" >/dev/null
	sync
	alloc=$(du -B1 "$T/db/data/vbs/$1.ibd" | cut -f1)
	q "ANALYZE TABLE $1" >/dev/null
	dl=$(q "SELECT DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'vbs' AND TABLE_NAME = '$1'")
	awk -v a="$alloc" -v d="$dl" -v n="$n" \
	    'BEGIN { printf "%.1f B/row on disk (%.1f B/row of pages)", a / n, d / n }'
}

echo "== load rate (packet rows/s), best of 3 interleaved runs each"
best() { printf '%s\n' "$@" | sort -n | tail -1; }
C="" I="" S="" B=""
for r in 1 2 3; do
	C="$C $(ceiling)"; I="$I $(ingest infile)"
	B="$B $(ingest bulk)"; S="$S $(ingest insert)"
done
c=$(best $C)
ratio() { awk -v a="$1" -v b="$c" 'BEGIN { printf "%.2f", a / b }'; }
echo "ceiling (mariadb LOAD DATA LOCAL of a TSV): $c rows/s (runs:$C)"
echo "ingestd -P infile: $(best $I) rows/s = $(ratio "$(best $I)") x ceiling (runs:$I)"
echo "ingestd -P bulk:   $(best $B) rows/s = $(ratio "$(best $B)") x ceiling (runs:$B)"
echo "ingestd -P insert: $(best $S) rows/s = $(ratio "$(best $S)") x ceiling (runs:$S)"
# serve: the deployed form, its default two workers on one spool.
served() {
	reset
	rm -rf "$T/spool"; mkdir -p "$T/spool/incoming"
	cp "$T"/b/*.sqlite "$T/spool/incoming/"
	t0=$(now)
	$ING -d -s "$T/spool" -w 2 -x serve 2>/dev/null
	t1=$(now)
	rate "$NP" "$t0" "$t1"
}
W="$(served) $(served)"
echo "ingestd serve -w 2 (infile): $(best $W) rows/s = $(ratio "$(best $W)") x ceiling (runs: $W)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== bytes per packet row ($NP rows; original VBS: 38.6 B; target <= 19 B)"
reset
$ING load "$T"/b/*.sqlite >/dev/null
echo "packets as shipped (PAGE_COMPRESSED=1, zlib): $(bytes_per_row packets)"
variant() {
	name=$1; shift
	q "DROP TABLE IF EXISTS v; CREATE TABLE v LIKE packets"
	q "$1"
	t0=$(now)
	q "INSERT INTO v SELECT * FROM packets"
	t1=$(now)
	echo "$name: $(bytes_per_row v), copy $(rate "$NP" "$t0" "$t1") rows/s"
}
variant "plain DYNAMIC (no compression)" "ALTER TABLE v PAGE_COMPRESSED=0"
variant "ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8" \
    "ALTER TABLE v PAGE_COMPRESSED=0, ROW_FORMAT=COMPRESSED, KEY_BLOCK_SIZE=8"
variant "ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=4" \
    "ALTER TABLE v PAGE_COMPRESSED=0, ROW_FORMAT=COMPRESSED, KEY_BLOCK_SIZE=4"
dense() {
	q "DROP TABLE IF EXISTS v; CREATE TABLE v (client_id INT UNSIGNED NOT NULL,
	    flow_id BIGINT UNSIGNED NOT NULL, seq INT UNSIGNED NOT NULL,
	    direction TINYINT UNSIGNED NOT NULL, size SMALLINT UNSIGNED NOT NULL,
	    tcp_flags TINYINT UNSIGNED NOT NULL, rel_us INT UNSIGNED NOT NULL,
	    PRIMARY KEY (client_id, flow_id, seq)) ENGINE=InnoDB $1"
	q "INSERT INTO v SELECT client_id, flow_id, seq, direction, size,
	    tcp_flags, LEAST(rel_us, 4294967295) FROM packets"
	echo "$2: $(bytes_per_row v)"
}
dense "" "denser row, no compression"
dense "PAGE_COMPRESSED=1" "denser row, PAGE_COMPRESSED=1"
echo "page compression level $(q 'SELECT @@innodb_compression_level'), algorithm $(q 'SELECT @@innodb_compression_algorithm')"
