#!/bin/sh
# tests/integration/lab_short.sh: the ground-truth lab's short run (issue
# 9), in `make check`.  The whole VBS client under vbsd (flowd, sockd,
# capd, shipd) in one network namespace; real servers answering 20 ms
# late in another (tests/lab/lab.sh, 198.18.4.0/24 and fd00:4::/64),
# with ingestd and a private MariaDB as the VBS server; a few hundred
# flows of real programs (curl, wget, dig, ncat TCP/UDP, openssl
# s_client, python3 sockets; refused connections and UDP one-shots; IPv4
# and IPv6; root and a second user); while the client runs, `vbsctl
# -j stats` and `vbsctl top` show its counters and curl's flows (the
# only test of the two); an ordered shutdown, shipd's last
# upload; then the batches as ingestd loaded them are scored against the
# ground truth, and MySQL must hold all of them; every job must have
# its flow (UDP jobs that reused a 5-tuple, as tcpdump on the server's
# side saw it, have one).  Fails when fewer than
# 99% of the flows of any protocol, IP version or length bucket (1-5,
# 6-50, >50 packets) carry the right program and uid.  Without MariaDB
# the shipping is skipped (said so) and the outbox is scored.
#
# LAB_JOBS (default 400), LAB_DELAY_MS (20), LAB_KEEP=1 keeps the
# scratch directory.

. "${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$TOP/tests/lab/lab.sh"

N="lab short"
LAB_NEED_MORE=tcpdump
lab_need "$N"
lab_ship_need "$N"
lab_init
JOBS=${LAB_JOBS:-400}

lab_net || { not_ok "$N: namespaces"; exit 1; }
lab_servers 170 || { not_ok "$N: servers"; tail "$LAB_T"/*.log | sed 's/^/# /'; exit 1; }
if [ -n "$LAB_SHIP" ]; then
	lab_ingest 170 || { not_ok "$N: ingestd and MariaDB"; exit 1; }
fi
lab_conf
lab_vbsd_start || { not_ok "$N: vbsd"; exit 1; }
if [ -n "$LAB_SHIP" ]; then
	ok "$N: vbsd runs flowd, sockd, capd and shipd in $LAB_C"
else
	ok "$N: vbsd runs flowd, sockd and capd in $LAB_C"
fi

check "$N: the server's side of the wire is recorded" lab_wire_start 170
t0=$(date +%s)
lab_cx env PATH="$PATH" "$LAB_PY" "$LAB/traffic.py" mix "$LAB_T/out" \
    "$JOBS" 90 8 1 | grep '^#'
check "$N: the wire recording ends" lab_wire_stop
ran=$(($(wc -l <"$LAB_T/out/jobs.tsv") - 1))
diag "traffic: $ran jobs in $(( $(date +%s) - t0 )) s, answers ${LAB_DELAY_MS} ms late"
check "$N: the traffic mix ran ($ran of $JOBS jobs)" [ "$ran" -ge $((JOBS * 9 / 10)) ]
# let the last flows' sockets close and their labels arrive
sleep 3

# The admin's and the volunteer's views of the running client: vbsctl
# stats and top read the counters and apps.tsv that flowd rewrites
# every 5 s.  curl's connections end at their FIN, so once a rewrite
# came after them, top has a curl row.
VC="$BIN/vbsctl -f $LAB_T/vbs.conf"
views_stats() {
	$VC -j stats >"$LAB_T/stats.json" && "$LAB_PY" -c '
import json, sys
c = json.load(open(sys.argv[1]))
sys.exit(not (int(c["capd_received"]) >= int(sys.argv[2]) and
    int(c["flowd_flows_ended"]) > 0 and
    int(c["flowd_flows_labelled"]) > 0))' "$LAB_T/stats.json" "$ran"
}
check "$N: vbsctl -j stats: capd received and flowd ended and labelled flows" \
    wait_for 12 views_stats
views_top() {
	$VC top -n 1 >"$LAB_T/top.txt" &&
	    grep -Eq '^curl +[1-9][0-9]* ' "$LAB_T/top.txt"
}
check "$N: vbsctl top: curl's flows, by application" wait_for 12 views_top
$VC stats | sed 's/^/# /'

lab_vbsd_stop; rc=$?
equal "$N: ordered shutdown, vbsd exit status" "$rc" 0
if [ -n "$LAB_SHIP" ]; then
	check "$N: shipd uploaded every batch and ingestd loaded it" lab_shipped 30
fi

lab_score "$N" || exit 1
check "$N: every job's flow reached a batch" [ "$LS_missing" -eq 0 ]
check "$N: no TCP/UDP flow outside the ground truth ($LS_stray)" [ "$LS_stray" -eq 0 ]
check "$N: several hundred flows scored ($LS_flows)" [ "$LS_flows" -ge $((JOBS * 9 / 10)) ]
# the bound: 99% right in every protocol, IP version and length bucket
if [ "$LS_flows" -gt 0 ] &&
    awk -v w="$LS_worst" 'BEGIN { exit !(w >= 99.0) }'; then
	ok "$N: >= 99% labelled right in every bucket (worst $LS_worst% $LS_bucket)"
else
	not_ok "$N: >= 99% labelled right in every bucket (worst $LS_worst% $LS_bucket)"
fi
