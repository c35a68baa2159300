#!/bin/sh
# tests/integration/ingestd_kill.sh: exactly once under crashes and
# concurrency.  ingestd is killed with SIGKILL at 30 random moments while
# it loads (`serve` and its workers, or `load`), with batches sent again
# under other names meanwhile; then the spool is drained and every batch
# must be in MySQL exactly once, with exactly its rows.  Then several
# loaders at once (two `serve` on one spool and a `load` of the same
# files) must load each batch once.

. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lib_mariadb.sh"

if ! mariadb_available; then
	skip "ingestd kill" "no mariadbd"; exit 0
fi
[ -x "$BIN/ingestd" ] || { not_ok "ingestd built"; exit 1; }
T=$(tmpdir)
cleanup() { mariadb_stop; rm -rf "$T"; }
mariadb_start "$T/db" --innodb-flush-log-at-trx-commit=2 ||
    { not_ok "mariadb starts"; rm -rf "$T"; exit 1; }
trap cleanup EXIT
MK="python3 $TOP/tests/integration/ingestd_mkbatch.py"
mdb "CREATE DATABASE vbs"
mariadb_optfile "$T/my.cnf" vbs
ING="$BIN/ingestd -m $T/my.cnf"
$ING migrate >/dev/null 2>&1 || { not_ok "migrate"; exit 1; }
q() { mdb "USE vbs; $1"; }

# 40 batches, 4000 flows spanning them, 600000 packets.
$MK make "$T/a" --client alice --batches 40 --flows 4000 \
    --packets 600000 --seed 3 >"$T/want" || { not_ok "mkbatch"; exit 1; }
set -- $(cat "$T/want")
NB=$2 NF=$4 NP=$6
S="$T/spool"
mkdir -p "$S/incoming" "$S/claim"
cp "$T"/a/*.sqlite "$S/incoming/"

# rand N: a number in 0..N-1.
rand() { od -An -N2 -tu2 /dev/urandom | awk -v n="$1" '{ print $1 % n }'; }

kills=0 midway=0 round=0 resent=0
while [ $kills -lt 30 ] && [ $round -lt 100 ]; do
	round=$((round + 1))
	# Batches sent again under new names: they must be acknowledged.
	# Enough of them that a worker is still loading when it is killed.
	if [ "$(ls "$S/incoming" "$S/claim" | grep -c sqlite)" -lt 10 ]; then
		for f in $(ls "$T"/a/*.sqlite | sort -R | head -12); do
			b=${f##*/}
			cp "$f" "$S/incoming/alice.again$round-${b#alice.}"
			resent=$((resent + 1))
		done
	fi
	if [ $((round % 3)) -eq 0 ]; then
		$ING load "$T"/a/*.sqlite >/dev/null 2>&1 &
	else
		$ING -d -s "$S" -w 2 serve >/dev/null 2>&1 &
	fi
	pid=$!
	# serve: a random moment after a worker first claims a batch, so
	# that most kills land while batches load; load claims nothing.
	if [ $((round % 3)) -ne 0 ]; then
		i=0
		while [ $i -lt 300 ] && ! ls "$S/claim" | grep -q '~'; do
			sleep 0.01; i=$((i + 1))
		done
		sleep "0.$(rand 3)$(rand 10)"
	else
		sleep "0.$(rand 8)$(rand 10)"
	fi
	# Only a kill of a loader still at work counts.
	kids=$(pgrep -P $pid)
	kill -9 $kids $pid 2>/dev/null && kills=$((kills + 1))
	wait $pid 2>/dev/null
	# A claim of a killed worker: that kill landed mid-batch.
	for k in $kids; do
		ls "$S/claim" | grep -q "~$k\$" && midway=$((midway + 1))
	done
done
diag "$kills kills in $round rounds ($midway claims left behind by killed workers), $resent batches resent"
equal "30 loaders killed with SIGKILL" "$kills" 30
check "some kills landed mid-batch" [ "$midway" -gt 0 ]
$ING -d -s "$S" -w 2 -x serve >"$T/drain.log" 2>&1
equal "the spool drains after the kills" "$?" 0
equal "  nothing left in incoming/ or claim/" \
    "$(ls "$S/incoming" "$S/claim" | grep -c sqlite)" 0
equal "  nothing quarantined" "$(ls "$S/quarantine" | wc -l)" 0
equal "every batch exactly once" \
    "$(q 'SELECT COUNT(*), COUNT(DISTINCT batch_name) FROM batches')" "$NB	$NB"
equal "flows exactly once" "$(q 'SELECT COUNT(*) FROM flows')" "$NF"
equal "packets exactly once" "$(q 'SELECT COUNT(*) FROM packets')" "$NP"
equal "ledger agrees" "$(q 'SELECT SUM(packets) FROM batches')" "$NP"
equal "latest totals" "$(q 'SELECT SUM(packets_out + packets_in), SUM(ended) FROM flows')" "$NP	$NF"
before=$(q "CHECKSUM TABLE flows, packet_chunks, batches" | cut -f2 | tr '\n' ' ')
$ING load "$T"/a/*.sqlite >"$T/out" 2>&1
equal "loading again: all duplicates" "$(grep -c ': duplicate ' "$T/out")" "$NB"
equal "  and nothing changed" \
    "$(q "CHECKSUM TABLE flows, packet_chunks, batches" | cut -f2 | tr '\n' ' ')" "$before"

# -- loaders at once: two serve on one spool, each batch there twice,
# and a load of the same files, all at the same time.
$MK make "$T/d" --client dave --batches 30 --flows 3000 \
    --packets 150000 --seed 4 >/dev/null
for f in "$T"/d/*.sqlite; do
	b=${f##*/}
	cp "$f" "$S/incoming/$b"
	cp "$f" "$S/incoming/dave.twin-${b#dave.}"
done
$ING -d -s "$S" -w 3 -x serve >"$T/s1.log" 2>&1 &
p1=$!
$ING -d -s "$S" -w 3 -x serve >"$T/s2.log" 2>&1 &
p2=$!
$ING load "$T"/d/*.sqlite >"$T/l.log" 2>&1 &
p3=$!
wait $p1; r1=$?
wait $p2; r2=$?
wait $p3; r3=$?
equal "three loaders at once exit 0" "$r1 $r2 $r3" "0 0 0"
equal "  spool empty" "$(ls "$S/incoming" "$S/claim" "$S/quarantine" | grep -c sqlite)" 0
dq() { q "SELECT $1 FROM $2 JOIN clients USING (client_id) WHERE client_name = 'dave'"; }
equal "  each batch once" "$(dq 'COUNT(*), COUNT(DISTINCT batch_name)' batches)" "30	30"
equal "  flows once" "$(dq 'COUNT(*)' flows)" 3000
equal "  packets once" "$(dq 'COUNT(*)' packets)" 150000
n=$(grep -c ': loaded ' "$T/l.log")
diag "the load command loaded $n of 30; the serve workers the rest"
