#!/bin/sh
# tests/integration/lab_fallback.sh: labelling without sockd's eBPF
# backend (issue 9), as on a kernel that refuses it or on the BSDs.  The
# lab of tests/lab/lab.sh (198.18.4.0/24, fd00:4::/64, answers 20 ms
# late), the client under vbsd without shipd, with
#   [sockd] ebpf = false        sockets only from dumps and look-ups
#   [capd]  timeout = 5ms       what vbs.conf(5) advises without eBPF
# and a few hundred flows of real programs.  Without eBPF a flow is
# named only by a look-up that reaches sockd while its socket is open,
# so flowd must read each message of capd's as it comes, even while
# older ones wait for their commit.  Fails when fewer than 99% of the
# TCP flows, or of dig's UDP flows (a socket that waits for its answer),
# carry the right program and uid.  UDP sockets that send and close at
# once (ncat -u, one-shots) cannot be named without eBPF: their share is
# reported, not bounded.  No label may claim to come from eBPF.
#
# LAB_JOBS (default 250), LAB_KEEP=1 keeps the scratch directory.

. "${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$TOP/tests/lab/lab.sh"

N="lab fallback"
LAB_NEED_MORE=tcpdump
lab_need "$N"
lab_init
JOBS=${LAB_JOBS:-250}

lab_net || { not_ok "$N: namespaces"; exit 1; }
lab_servers 150 || { not_ok "$N: servers"; exit 1; }
lab_conf "$(printf '[sockd]\nebpf = false\n[capd]\ntimeout = 5ms')"
lab_vbsd_start || { not_ok "$N: vbsd"; exit 1; }
ok "$N: vbsd runs flowd, sockd (no eBPF) and capd in $LAB_C"

check "$N: the server's side of the wire is recorded" lab_wire_start 150
lab_cx env PATH="$PATH" "$LAB_PY" "$LAB/traffic.py" mix "$LAB_T/out" \
    "$JOBS" 80 8 4 | grep '^#'
check "$N: the wire recording ends" lab_wire_stop
ran=$(($(wc -l <"$LAB_T/out/jobs.tsv") - 1))
check "$N: the traffic mix ran ($ran of $JOBS jobs)" [ "$ran" -ge $((JOBS * 9 / 10)) ]
sleep 3
lab_vbsd_stop; rc=$?
equal "$N: ordered shutdown, vbsd exit status" "$rc" 0

lab_score "$N" || exit 1
check "$N: every job's flow reached a batch" [ "$LS_missing" -eq 0 ]
check "$N: no TCP/UDP flow outside the ground truth ($LS_stray)" [ "$LS_stray" -eq 0 ]
ev=$(grep '^# provenance:' "$LAB_T/score.txt" | grep -c '[ ,]event ')
equal "$N: no label from eBPF events" "$ev" 0

# bucket NAME: "flows right" of one row of the score's table
bucket() {
	awk -v b="$1" '{ $1 = ""; sub(/^ /, "") }
	    index($0, b " ") == 1 { n = split($0, w, " +"); print w[n - 2], w[n] }' \
	    "$LAB_T/score.txt" | tr -d %
}
for b in "proto tcp" "prog dig/root udp"; do
	set -- $(bucket "$b")
	if [ "${1:-0}" -gt 0 ] &&
	    awk -v p="$2" 'BEGIN { exit !(p >= 99.0) }'; then
		ok "$N: >= 99% of $b flows labelled right ($2% of $1)"
	else
		not_ok "$N: >= 99% of $b flows labelled right (${2:-?}% of ${1:-0})"
	fi
done
diag "all flows: $LS_right of $LS_flows right; UDP: $(bucket 'proto udp' | awk '{print $2 "% of " $1}')"
