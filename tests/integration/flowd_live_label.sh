#!/bin/sh
# tests/integration/flowd_live_label.sh: issue 5's live labelling, shown
# on replay.  In the lab of tests/lab/lab.sh (198.18.4.0/24, fd00:4::/64,
# answers 20 ms late), a live flowd reads capd and sockd over socket
# pairs while capd -w and sockd -w record their streams, so that sockd's
# answers to flowd's look-ups are in sockd's recording
# (tests/lab/livepipe.py).  Real curl, wget, dig, ncat, openssl and
# python3 make a few hundred flows.  Then
#   flowd -r capd.rec -r sockd.rec -o DIR -P clear
# twice: at least 99% of the flows carry the right program and uid, the
# two outboxes are byte for byte the same, and their flows are the live
# flowd's, flow by flow (tests/lab/flowdiff.py).

. "${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$TOP/tests/lab/lab.sh"

N="flowd live label"
lab_need "$N"
lab_init
JOBS=${LAB_JOBS:-300}
L=$LAB_T/live
mkdir -p "$L"

lab_net || { not_ok "$N: namespaces"; exit 1; }
lab_servers 150 || { not_ok "$N: servers"; exit 1; }
lab_conf
lab_cx "$LAB_PY" "$LAB/livepipe.py" "$BIN" "$LAB_T/vbs.conf" "$L" 120 \
    >"$L/pipe.out" 2>&1 &
pipe=$!
if ! lab_wait_file 30 "$L/pipe.out" '^ready'; then
	not_ok "$N: live capd, sockd and flowd"
	sed 's/^/# /' "$L/pipe.out" "$L/live.log" | tail -20
	exit 1
fi
ok "$N: live flowd with capd -w and sockd -w in $LAB_C"

lab_cx env PATH="$PATH" "$LAB_PY" "$LAB/traffic.py" mix "$LAB_T/out" \
    "$JOBS" 80 8 2 | grep '^#'
sleep 3
touch "$L/stop"
wait "$pipe"
equal "$N: ordered stop, every stage exits 0" "$(tail -1 "$L/pipe.out")" \
    "exit capd=0 flowd=0 sockd=0"
# The answers flowd took (its counter, cumulative, in the last batch's
# meta) are those in sockd's recording, so a replay has them too.  With
# eBPF a run may need few look-ups or none (in the runs of 27 November,
# 1 to 47 for 300 flows).
answers=$("$BIN/vbsctl" dump "$L/sockd.rec" | grep -c '"answer"')
meta() {
	for _f in "$L"/outbox/*.sqlite; do
		sqlite3 "$_f" "SELECT value FROM meta WHERE key = '$1'"
	done | sort -n | tail -1
}
took=$(meta flowd_answers)
equal "$N: sockd's recording holds every answer flowd took ($took; look-ups $(meta flowd_lookups))" \
    "$answers" "$took"
# scored as the replay is below, jobs included: without them "missing"
# is 0 whatever, and a run where two UDP jobs drew one 5-tuple (one
# flow, missing=1 with them) made the two lines differ
live=$("$LAB_PY" "$LAB/score.py" "$LAB_T/out/truth.tsv" \
    "$LAB_T/out/jobs.tsv" "$L/outbox" | grep '^SCORE')
diag "live outbox: $live"

for i in 1 2; do
	"$BIN/flowd" -r "$L/capd.rec" -r "$L/sockd.rec" -o "$LAB_T/replay$i" \
	    -P clear 2>"$LAB_T/replay$i.log"
	equal "$N: replay $i exits 0" "$?" 0
done
same=yes
( cd "$LAB_T/replay1" && ls ) >"$LAB_T/l1"
( cd "$LAB_T/replay2" && ls ) >"$LAB_T/l2"
cmp -s "$LAB_T/l1" "$LAB_T/l2" || same=no
for f in $(cat "$LAB_T/l1"); do
	cmp -s "$LAB_T/replay1/$f" "$LAB_T/replay2/$f" || same=no
done
equal "$N: two replays give identical batches ($(wc -l <"$LAB_T/l1") files)" "$same" yes

"$LAB_PY" "$LAB/score.py" "$LAB_T/out/truth.tsv" "$LAB_T/out/jobs.tsv" \
    "$LAB_T/replay1" >"$LAB_T/score.txt"
grep -v '^SCORE' "$LAB_T/score.txt"
line=$(grep '^SCORE' "$LAB_T/score.txt")
diag "replay: $line"
equal "$N: the replay labels as the live flowd did" "$line" "$live"
if "$LAB_PY" "$LAB/flowdiff.py" "$L/outbox" "$LAB_T/replay1" \
    >"$LAB_T/flowdiff.txt"; then
	ok "$N: the replay's flows are the live flowd's (packets, bytes, end, label)"
else
	not_ok "$N: the replay's flows are the live flowd's (packets, bytes, end, label)"
	cat "$LAB_T/flowdiff.txt"
fi
eval "$(echo "$line" | sed 's/^SCORE //; s/\([a-z]*\)=/LS_\1=/g')"
check "$N: a few hundred flows on replay ($LS_flows)" [ "${LS_flows:-0}" -ge $((JOBS * 9 / 10)) ]
check "$N: no TCP/UDP flow outside the ground truth ($LS_stray)" [ "${LS_stray:-1}" -eq 0 ]
if [ "${LS_flows:-0}" -gt 0 ] && [ $((LS_right * 100)) -ge $((LS_flows * 99)) ]; then
	ok "$N: >= 99% of flows labelled right on replay ($LS_right of $LS_flows)"
else
	not_ok "$N: >= 99% of flows labelled right on replay (${LS_right:-0} of ${LS_flows:-0})"
fi
