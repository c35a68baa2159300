#!/bin/sh
# tests/integration/capd_queue.sh: capd never waits on its reader.  A
# stand-in reader (tests/lab/seqrec.py) accepts capd's connection and
# then reads nothing for a few seconds while real traffic (ping) flows on
# a veth in a namespace the test makes (198.18.9.0/24).  With the default
# queue, everything captured meanwhile waits in capd's bounded queue and
# arrives afterwards, in order, none dropped: the reader gets exactly the
# ICMP packets tcpdump saw on the same interface.  With a 64 kB queue
# the same stall overflows it: the drops are counted, and records
# received + records dropped = records emitted.
. "$(dirname "$0")/../lib.sh"
need_root "capd queue"
for c in ip tcpdump ping python3; do
	command -v $c >/dev/null 2>&1 || { skip "capd queue" "no $c"; exit 0; }
done
ensure_users || { not_ok "capd queue: users"; exit 1; }

t=$(tmpdir)
chmod 755 "$t"
A=vbs-q-a$$ B=vbs-q-b$$ VA=vqa$$ VB=vqb$$
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	ip netns del "$A" 2>/dev/null
	ip netns del "$B" 2>/dev/null
	sleep 0.2
	rm -rf "$t"
}
trap cleanup EXIT INT TERM
ns_pair "$A" "$B" "$VA" "$VB" 198.18.9 fd00:9 ||
	{ not_ok "capd queue: namespaces"; exit 1; }

# run NAME QUEUE_SIZE STALL COUNT INTERVAL: one stalled capture; leaves
# $t/NAME.*
run() {
	cat >"$t/$1.conf" <<CONF
[vbsd]
capd_user = vbs-capd
[capd]
local_subnet_traffic = true
queue_size = $2
stats_interval = 0
CONF
	rm -f "$t/$1.sock"
	python3 "$TOP/tests/lab/seqrec.py" "$t/$1.sock" "$t/$1.rec" "$3" 60 &
	reader=$!
	wait_for 5 test -S "$t/$1.sock" || return 1
	ip netns exec "$A" tcpdump -i "$VA" -nn -U -w "$t/$1.pcap" icmp \
	    2>/dev/null &
	td=$!
	ip netns exec "$A" "$BIN/capd" -d -f "$t/$1.conf" -i "$VA" \
	    --connect "$t/$1.sock" 2>"$t/$1.log" &
	cd_pid=$!
	pids="$reader $td $cd_pid"
	sleep 1
	# Bounded: COUNT echo requests INTERVAL s apart, to our own namespace.
	ip netns exec "$A" ping -q -c "$4" -i "$5" -W 1 198.18.9.2 \
	    >/dev/null 2>&1
	sleep "$3"
	sleep 1
	kill "$cd_pid" "$td"
	wait "$cd_pid"
	cd_rc=$?
	wait "$td"
	wait "$reader"
	pids=""
	return 0
}

count_icmp() { "$BIN/vbsctl" dump "$1" | grep -c '"type":"packet".*"proto":1,'; }
last_stat() {
	"$BIN/vbsctl" dump "$1" | grep '"type":"stats"' | tail -1 |
	    sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"
}

# 1. The default queue holds a 3 s stall: nothing lost, order kept.
run big 16M 3 1000 0.002 || { not_ok "capd queue: reader"; exit 1; }
equal "capd exits 0 on SIGTERM" "$cd_rc" 0
want=$(tcpdump -r "$t/big.pcap" -nn 2>/dev/null | wc -l)
got=$(count_icmp "$t/big.rec")
diag "tcpdump saw $want ICMP packets; the stalled reader got $got"
check "stall: tcpdump saw the traffic" [ "$want" -ge 1900 ]
equal "stall: every captured packet reaches the reader" "$got" "$want"
equal "stall: no queue drops" "$(last_stat "$t/big.rec" queue_dropped_records)" 0
"$BIN/vbsctl" dump "$t/big.rec" | grep '"type":"packet"' |
    sed 's/.*"ts":\([0-9]*\).*/\1/' >"$t/ts"
check "stall: records arrive in capture order" sort -n -c "$t/ts"

# 2. A 64 kB queue overflows during a 4 s stall: drops are counted.
# capd hands the kernel's blocks over whole, so the socket's own buffer
# takes a few thousand records before the queue fills: 12,000 packets.
run small 64k 4 6000 0.0005 || { not_ok "capd queue: reader"; exit 1; }
emitted=$(last_stat "$t/small.rec" emitted)
dropped=$(last_stat "$t/small.rec" queue_dropped_records)
got=$("$BIN/vbsctl" dump "$t/small.rec" | grep -c '"type":"packet"')
diag "emitted $emitted, reader got $got packet records, dropped $dropped"
check "overflow: drops are counted" [ "${dropped:-0}" -gt 0 ]
equal "overflow: received + dropped = emitted" "$((got + dropped))" "$emitted"
