#!/bin/sh
# tests/integration/ingestd_load.sh: ingestd against a private MariaDB.
# Migrations; batches whose flows span batches loaded into exactly the
# counts they hold, in order or not, by either packet path; loading again
# changes nothing; the packets view reads back every packet of the
# batches as they hold it (also rel_us too long for a chunk's 31 bits);
# corrupt batches quarantined from the spool with the right reason and
# nothing of them in MySQL, never over an earlier copy; the documented
# least-privilege account is enough to load, and a researcher's SELECT
# enough to read.

. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lib_ingestd.sh"

if ! mariadb_available; then
	skip "ingestd load" "no mariadbd"; exit 0
fi
[ -x "$BIN/ingestd" ] || { not_ok "ingestd built"; exit 1; }
T=$(tmpdir)
cleanup() { mariadb_stop; rm -rf "$T"; }
mariadb_start "$T/db" --innodb-flush-log-at-trx-commit=2 ||
    { not_ok "mariadb starts"; rm -rf "$T"; exit 1; }
trap cleanup EXIT
MK="python3 $TOP/tests/integration/ingestd_mkbatch.py"
mdb "CREATE DATABASE vbs"
mariadb_optfile "$T/root.cnf" vbs
ING="$BIN/ingestd -m $T/root.cnf"

# -- migrations
$ING load /dev/null >"$T/out" 2>&1
equal "load before migrate refused" "$?" 111
check "  and says how" grep -q 'run `ingestd migrate`' "$T/out"
check "migrate" $ING migrate >/dev/null 2>&1
check "migrate again is a no-op" $ING migrate >/dev/null 2>&1
nmig=$(ls "$TOP"/ingestd/sql/[0-9][0-9][0-9]_*.sql | wc -l)
equal "schema_version: every migration once" \
    "$(mdb 'SELECT GROUP_CONCAT(version ORDER BY version) FROM vbs.schema_version')" \
    "$(seq -s, 1 "$nmig")"

# -- load: four batches, 300 flows, 6000 packets, flows spanning batches
$MK make "$T/a" --client alice --batches 4 --flows 300 --packets 6000 \
    --seed 1 >"$T/want"
$ING load "$T"/a/*.sqlite >"$T/out" 2>&1
equal "load exits 0" "$?" 0
equal "4 loaded" "$(grep -c ': loaded ' "$T/out")" 4
q() { mdb "USE vbs; $1"; }
equal "ledger rows" "$(q 'SELECT COUNT(*), SUM(packets) FROM batches')" "4	6000"
equal "flows joined across batches" "$(q 'SELECT COUNT(*) FROM flows')" 300
equal "packets" "$(q 'SELECT COUNT(*) FROM packets')" 6000
equal "latest totals kept" \
    "$(q 'SELECT SUM(packets_out + packets_in), SUM(next_seq), SUM(ended) FROM flows')" \
    "6000	6000	300"
equal "each flow's packets all there, seq 0..n-1" "$(q "SELECT COUNT(*) FROM
    (SELECT f.flow_id, f.next_seq, COUNT(p.seq) n, MAX(p.seq) m FROM flows f
     LEFT JOIN packets p USING (client_id, flow_id) GROUP BY f.flow_id)
     x WHERE n <> next_seq OR m <> next_seq - 1")" 0
equal "addresses are 4 or 16 bytes" \
    "$(q "SELECT COUNT(*) FROM flows WHERE LENGTH(local_ip) <> IF(ip_version = 4, 4, 16)")" 0
equal "an address reads back" \
    "$(q "SELECT COUNT(*) FROM flows WHERE INET6_NTOA(local_ip) LIKE '198.18.%' OR INET6_NTOA(local_ip) LIKE 'fd00::%'")" 300

sum_all() {
	q "CHECKSUM TABLE flows, packet_chunks, batches, clients" | cut -f2 | tr '\n' ' '
}
before=$(sum_all)
$ING load "$T"/a/*.sqlite >"$T/out" 2>&1
equal "load again exits 0" "$?" 0
equal "  all duplicates" "$(grep -c ': duplicate ' "$T/out")" 4
equal "  and nothing changed" "$(sum_all)" "$before"

# -- out of order, and the other packet path, give the same flows
$MK make "$T/b" --client bob --batches 4 --flows 300 --packets 6000 \
    --seed 1 >/dev/null
for f in $(ls "$T"/b/*.sqlite | sort -r); do
	$ING -P insert load "$f" >>"$T/outb" 2>&1
done
equal "reverse order, -P insert: 4 loaded" "$(grep -c ': loaded ' "$T/outb")" 4
digest() {
	q "SELECT MD5(GROUP_CONCAT(CONCAT_WS(',', flow_id, start_us, end_us,
	    packets_out, packets_in, bytes_out, bytes_in, end_reason, ended,
	    next_seq, HEX(app)) ORDER BY flow_id)) FROM flows f JOIN clients c
	    USING (client_id) WHERE client_name = '$1'"
}
pdigest() {
	q "SELECT MD5(GROUP_CONCAT(CONCAT_WS(',', flow_id, seq, direction,
	    size, tcp_flags, rel_us) ORDER BY flow_id, seq)) FROM packets p
	    JOIN clients c USING (client_id) WHERE client_name = '$1'"
}
q "SET SESSION group_concat_max_len = 100000000" >/dev/null
equal "same flows whatever the order" "$(digest bob)" "$(digest alice)"
equal "same packets whatever the path" "$(pdigest bob)" "$(pdigest alice)"
# What the batches hold, digested as pdigest digests the view.
bdigest() {
	python3 - "$@" <<'EOF'
import hashlib, sqlite3, sys
rows = []
for p in sys.argv[1:]:
    db = sqlite3.connect("file:%s?mode=ro" % p, uri=True)
    rows += db.execute("SELECT flow_id, seq, direction, size, tcp_flags, "
                       "rel_us FROM packets").fetchall()
    db.close()
rows.sort()
print(hashlib.md5(",".join(",".join(map(str, r)) for r in rows)
                  .encode()).hexdigest())
EOF
}
equal "packets view: the batches' packets, in order" \
    "$(pdigest alice)" "$(bdigest "$T"/a/*.sqlite)"
# Packets rows in any order (a flow's too) load as the same packets,
# and a flow named only by packets loads when MySQL has its flow.
$MK make "$T/d" --client dave --batches 4 --flows 300 --packets 6000 \
    --seed 1 >/dev/null
for f in "$T"/d/*.sqlite; do
	$MK corrupt shuffle "$f" "$f.s" && mv "$f.s" "$f"
done
set -- "$T"/d/*.sqlite
$MK corrupt knownorphan "$2" "$2.o" && mv "$2.o" "$2"
equal "  the copy has a packet out of seq order" "$(sqlite3 "$1" "SELECT
    COUNT(*) > 0 FROM packets a JOIN packets b ON a.flow_id = b.flow_id
    AND a.seq < b.seq AND a.rowid > b.rowid")" 1
$ING -P infile load "$T"/d/*.sqlite >"$T/outd" 2>&1
equal "-P infile, shuffled rows, a known orphan flow: 4 loaded" \
    "$(grep -c ': loaded ' "$T/outd")" 4
equal "  the same packets" "$(pdigest dave)" "$(pdigest alice)"
$MK corrupt dupseq "$T/a/$(ls "$T/a" | head -1)" "$T/dup.sqlite"
$ING -c alice load "$T/dup.sqlite" >"$T/outd" 2>&1
check "a seq twice in a flow is refused" grep -q \
    'refused: packets: flow [0-9]*: seq [0-9]* where [0-9]* was due' "$T/outd"
# Long idle gaps (rel_us > 2^31 - 1) start a chunk of their own.
$MK make "$T/e" --client erin --batches 3 --flows 40 --packets 3000 \
    --seed 9 --idle 7 >/dev/null
$ING -P bulk load "$T"/e/*.sqlite >"$T/oute" 2>&1
equal "-P bulk, long idle gaps: 3 loaded" "$(grep -c ': loaded ' "$T/oute")" 3
equal "  rel_us read back whole" "$(pdigest erin)" "$(bdigest "$T"/e/*.sqlite)"
check "  some rel_us beyond 31 bits" [ "$(q "SELECT COUNT(*) FROM packets
    p JOIN clients c USING (client_id) WHERE client_name = 'erin' AND
    rel_us > 2147483647")" -gt 300 ]
equal "  a flow's packets in order, seq 0..n-1" "$(q "SELECT
    GROUP_CONCAT(seq ORDER BY seq) = (SELECT GROUP_CONCAT(seq) FROM
    seq_0_to_9999 WHERE seq < f.next_seq) FROM flows f JOIN packets p
    USING (client_id, flow_id) JOIN clients c USING (client_id) WHERE
    client_name = 'erin' AND f.flow_id = (SELECT MIN(flow_id) FROM flows
    JOIN clients USING (client_id) WHERE client_name = 'erin')")" 1

# -- corrupt batches through the spool: quarantined with their reason
S="$T/spool"
mkdir -p "$S/incoming"
$MK make "$T/c" --client carol --batches 2 --flows 50 --packets 800 \
    --seed 7 >/dev/null
good=$(ls "$T"/c/*.sqlite | head -1)
for m in flip truncate version foreign orphan schema meta seqwrap; do
	$MK corrupt $m "$good" "$S/incoming/carol.bad-$m.sqlite"
done
printf 'not sqlite' >"$S/incoming/carol.bad-garbage.sqlite"
cp "$good" "$S/incoming/bad~name"
cp "$good" "$S/incoming/nodot"
before=$(sum_all)
$ING -d -s "$S" -w 2 -x serve >"$T/serve.log" 2>&1
equal "serve -x drains the spool" "$?" 0
equal "  incoming empty" "$(ls "$S/incoming" | wc -l)" 1
equal "  a name with ~ is never claimed" "$(ls "$S/incoming")" "bad~name"
rm -f "$S/incoming/bad~name"
equal "  claim empty" "$(ls "$S/claim" | wc -l)" 0
reason() { cat "$S/quarantine/$1.reason" 2>/dev/null; }
expect() {
	if reason "$1" | grep -q "$2"; then ok "quarantined $1: $2"
	else not_ok "quarantined $1: $2"; diag "reason: $(reason "$1")"; fi
}
expect carol.bad-flip.sqlite "^integrity"
expect carol.bad-truncate.sqlite "^truncated"
expect carol.bad-version.sqlite "^schema version: file has 2"
expect carol.bad-foreign.sqlite "^foreign client: meta client_id 'mallory'"
expect carol.bad-orphan.sqlite "^packets without their flow"
expect carol.bad-schema.sqlite "^schema differs"
expect carol.bad-meta.sqlite "^meta: no batch_id"
expect carol.bad-seqwrap.sqlite "^flows: flow .* go past seq 4294967295"
expect carol.bad-garbage.sqlite "^not an SQLite database"
expect nodot "^bad spool name"
for f in "$S"/quarantine/*.reason; do
	[ -f "${f%.reason}" ] || not_ok "quarantined file beside $f"
done
equal "nothing of them in MySQL" "$(sum_all)" "$before"
equal "no carol batch in the ledger" \
    "$(q "SELECT COUNT(*) FROM batches JOIN clients USING (client_id) WHERE client_name='carol'")" 0

# -- a name quarantined 1000 times (NAME, NAME.1 ... NAME.999): another
# copy stays claimed, it replaces none of them
for i in "" $(seq 1 999); do
	echo "copy $i" >"$S/quarantine/carol.full${i:+.$i}"
	echo "reason $i" >"$S/quarantine/carol.full${i:+.$i}.reason"
done
$MK corrupt meta "$good" "$S/incoming/carol.full"
$ING -d -s "$S" -w 1 -x serve >"$T/full.log" 2>&1
equal "a name quarantined 1000 times: no reason replaced" \
    "$(cat "$S/quarantine/carol.full.999.reason")" "reason 999"
check "  no copy replaced" grep -qx "copy 999" "$S/quarantine/carol.full.999"
equal "  none added" "$(ls "$S/quarantine" | grep -c '^carol\.full')" 2000
equal "  the file stays claimed" "$(ls "$S/claim" | grep -c '^carol\.full~')" 1
check "  and the log says so" grep -q 'carol.full: not quarantined' "$T/full.log"
rm -f "$S"/quarantine/carol.full* "$S"/claim/carol.full~*

# -- the least-privilege account of ingestd.8 loads (and migrate needs more)
mdb "CREATE USER ingest@localhost IDENTIFIED BY 'pw'"
ingestd_grant ingest@localhost
mariadb_optfile "$T/ingest.cnf" vbs ingest pw
# -- the option file holds the password: others may not read it
chmod 644 "$T/ingest.cnf"
$BIN/ingestd -m "$T/ingest.cnf" load "$T"/c/*.sqlite >"$T/out" 2>&1
equal "an option file others may read is refused (exit 78)" "$?" 78
check "  saying so" grep -q 'ingest.cnf: mode 644: other users may read' \
    "$T/out"
chmod 640 "$T/ingest.cnf"
cp "$T"/c/*.sqlite "$S/incoming/"
$BIN/ingestd -m "$T/ingest.cnf" -d -s "$S" -w 1 -x -k serve >"$T/lp.log" 2>&1
equal "least-privilege account loads" "$(ls "$S/done" | wc -l)" 2
equal "  carol's packets in" "$(q "SELECT COUNT(*) FROM packets JOIN clients USING (client_id) WHERE client_name='carol'")" 800
$BIN/ingestd -m "$T/ingest.cnf" load "$T"/c/*.sqlite >"$T/out" 2>&1
equal "  and acknowledges duplicates" "$(grep -c ': duplicate ' "$T/out")" 2
mdb "CREATE TABLE vbs.sv_save AS SELECT * FROM vbs.schema_version;
DELETE FROM vbs.schema_version"
$BIN/ingestd -m "$T/ingest.cnf" migrate >"$T/out" 2>&1
check "  but cannot migrate" [ $? -ne 0 ]
mdb "INSERT INTO vbs.schema_version SELECT * FROM vbs.sv_save;
DROP TABLE vbs.sv_save"

# -- an account whose authentication plugin the connector loads (a shared
# object): it must be loaded before the worker's sandbox forbids
# executable memory (ingestd/sandbox.c), or the worker's connection
# kills it.  (serve's own first connection loads it before the workers
# are forked, and spool_confine() loads every one there is.)
if mdb "INSTALL SONAME 'auth_ed25519'" 2>/dev/null; then
	mdb "CREATE USER ingest2@localhost IDENTIFIED VIA ed25519
	    USING PASSWORD('pw')"
	ingestd_grant ingest2@localhost
	mariadb_optfile "$T/ingest2.cnf" vbs ingest2 pw
	rm -f "$S"/done/*
	cp "$T"/c/*.sqlite "$S/incoming/"
	$BIN/ingestd -m "$T/ingest2.cnf" -d -s "$S" -w 1 -x -k serve \
	    >"$T/ed.log" 2>&1
	equal "an ed25519 account's worker connects in its sandbox" "$?" 0
	check "  and acknowledges the two batches" \
	    grep -q ': 0 loaded, 2 duplicates,' "$T/ed.log"
	equal "  which it keeps" "$(ls "$S/done" | wc -l)" 2
else
	skip "an ed25519 account's worker connects" "no auth_ed25519 plugin"
fi

# -- a researcher with the SELECT grant of ingestd.8 reads the packets view
mdb "CREATE USER researcher@localhost IDENTIFIED BY 'pw';
GRANT SELECT ON vbs.* TO researcher@localhost;"
mariadb_optfile "$T/research.cnf" vbs researcher pw
equal "a researcher reads the packets view" "$(mariadb \
    --defaults-file="$T/research.cnf" -N -B vbs -e "SELECT COUNT(*) FROM
    packets JOIN clients USING (client_id) WHERE client_name = 'carol'")" 800

# -- limits: a batch larger than max_batch
printf '[ingestd]\nmax_batch = 4k\n' >"$T/vbs.conf"
$BIN/ingestd -f "$T/vbs.conf" -m "$T/root.cnf" load "$good" >"$T/out" 2>&1
equal "max_batch refuses (exit 1)" "$?" 1
check "  as too large" grep -q 'refused: too large' "$T/out"
