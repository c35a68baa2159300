#!/bin/sh
# tests/integration/ingestd_pcaps.sh: real batches, made by capd and
# flowd from the captures of ../shared/pcaps (small batches, so that
# flows span batches), loaded by ingestd: the counts in MySQL equal the
# batches' own counts, and loading them again changes nothing.

. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lib_mariadb.sh"

P=$(shared_pcaps)
if [ -z "$P" ]; then skip "ingestd pcaps" "no ../shared/pcaps"; exit 0; fi
if ! mariadb_available; then skip "ingestd pcaps" "no mariadbd"; exit 0; fi
for p in capd flowd ingestd; do
	[ -x "$BIN/$p" ] || { skip "ingestd pcaps" "no $p built"; exit 0; }
done
T=$(tmpdir)
cleanup() { mariadb_stop; rm -rf "$T"; }
mariadb_start "$T/db" --innodb-flush-log-at-trx-commit=2 ||
    { not_ok "mariadb starts"; rm -rf "$T"; exit 1; }
trap cleanup EXIT
mdb "CREATE DATABASE vbs"
mariadb_optfile "$T/my.cnf" vbs
ING="$BIN/ingestd -m $T/my.cnf"
$ING migrate >/dev/null 2>&1 || { not_ok "migrate"; exit 1; }

# flowd with the smallest batches it allows: flows cross batches.
printf '[flowd]\nbatch_size = 16k\n' >"$T/vbs.conf"
mkdir -p "$T/out"
n=0
for f in "$P"/*.pcap "$P"/*.pcapng; do
	[ -f "$f" ] || continue
	b=${f##*/}
	"$BIN/capd" -r "$f" -w "$T/$b.rec" >/dev/null 2>&1
	[ -s "$T/$b.rec" ] || continue
	mkdir -p "$T/o/$b" "$T/w/$b"
	"$BIN/flowd" -f "$T/vbs.conf" -r "$T/$b.rec" -o "$T/o/$b" \
	    -W "$T/w/$b" -P clear >/dev/null 2>&1
	for s in "$T/o/$b"/*.sqlite; do
		[ -f "$s" ] && mv "$s" "$T/out/${b%%.*}-${s##*/}"
	done
	n=$((n + 1))
done
nb=$(ls "$T/out" | wc -l)
diag "$n captures made $nb batches"
check "flowd made batches" [ "$nb" -gt 0 ]

# What the batches hold: rows, distinct flows, ledger entries.
want=$(python3 "$TOP/tests/integration/ingestd_mkbatch.py" count "$T"/out/*.sqlite)
diag "batches, flows, packets in the batches: $want"
$ING -c volunteer load "$T"/out/*.sqlite >"$T/load.out" 2>&1
equal "every batch loads" "$?" 0
grep -v ': loaded ' "$T/load.out" | head -5 | while read -r l; do diag "$l"; done
q() { mdb "USE vbs; $1"; }
got="$(q 'SELECT COUNT(*) FROM batches') $(q 'SELECT COUNT(*) FROM flows') $(q 'SELECT COUNT(*) FROM packets')"
equal "counts in MySQL equal the batches' counts" "$got" "$want"
equal "each flow's next_seq counts its packets" "$(q "SELECT COUNT(*) FROM
    (SELECT f.flow_id, f.next_seq, COUNT(p.seq) n FROM flows f LEFT JOIN
     packets p USING (client_id, flow_id) GROUP BY f.flow_id) x
     WHERE n <> next_seq")" 0
equal "flows spanning batches joined" \
    "$(q 'SELECT SUM(ended) FROM flows')" "$(q 'SELECT COUNT(*) FROM flows')"
multi=$(q "SELECT COUNT(*) FROM flows WHERE first_batch_id <> batch_id")
diag "$multi flows span more than one batch"
check "some flows span batches" [ "$multi" -gt 0 ]
sum() { q "CHECKSUM TABLE flows, packet_chunks, batches" | cut -f2 | tr '\n' ' '; }
before=$(sum)
$ING -c volunteer load "$T"/out/*.sqlite >"$T/again.out" 2>&1
equal "loading again: all duplicates" "$(grep -c ': duplicate ' "$T/again.out")" "$nb"
equal "  and nothing changed" "$(sum)" "$before"
