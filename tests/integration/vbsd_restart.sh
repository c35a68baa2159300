#!/bin/sh
# tests/integration/vbsd_restart.sh: vbsd keeps the client running and
# loses nothing.  In a network namespace the test makes (198.18.5.0/24),
# vbsd runs flowd, sockd, capd and shipd on a veth while ping sends
# steady real traffic to the other namespace (shipd's server does not
# answer: batches stay in the outbox to be counted).  flowd is restarted
# with vbsctl 10 times and killed with SIGKILL 10 times; then sockd, capd
# and shipd are killed 10 times each.  Every time the stage comes back, and `vbsctl status`
# names the pid that really runs.  Because vbsd holds both ends of the
# sockets, flowd's restarts lose nothing: every ICMP packet tcpdump saw
# while capd ran is in the batches, or counted as dropped by capd.  A
# shutdown under traffic leaves every flow ended and every batch whole.
. "$(dirname "$0")/../lib.sh"
need_root "vbsd restart"
for c in ip tcpdump ping sqlite3; do
	command -v $c >/dev/null 2>&1 || { skip "vbsd restart" "no $c"; exit 0; }
done
for b in vbsd vbsctl capd sockd flowd; do
	[ -x "$BIN/$b" ] || { skip "vbsd restart" "$BIN/$b not built"; exit 0; }
done
ensure_users || { not_ok "vbsd restart: users"; exit 1; }

t=$(tmpdir)
chmod 755 "$t"
A=vbs-v-a$$ B=vbs-v-b$$ VA=vva$$ VB=vvb$$
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	[ -n "$vbsd" ] && kill "$vbsd" 2>/dev/null && sleep 3
	[ -n "$vbsd" ] && kill -9 "$vbsd" 2>/dev/null
	ip netns del "$A" 2>/dev/null
	ip netns del "$B" 2>/dev/null
	[ -n "$KEEP" ] && echo "# kept $t" || rm -rf "$t"
}
trap cleanup EXIT INT TERM
ns_pair "$A" "$B" "$VA" "$VB" 198.18.5 fd00:5 ||
	{ not_ok "vbsd restart: namespaces"; exit 1; }
. "$TOP/tests/lib_tls.sh"
tls_make "$t/tls" || { not_ok "vbsd restart: test CA"; exit 1; }
printf 'client_id = vbsdtest\nsecret = %s\n' \
    "$(head -c 32 /dev/urandom | base64 | tr -d '=+/')xxxxxxxxxxxx" >"$t/cred"
chown vbs "$t/cred" && chmod 600 "$t/cred"

cat >"$t/vbs.conf" <<CONF
[vbsd]
runtime_dir = $t/run
data_dir = $t/data
control_socket = $t/run/vbsd.sock
stages = flowd sockd capd shipd
restart_min = 1s
restart_max = 2s
[capd]
interfaces = $VA
local_subnet_traffic = true
chroot = $t/run/empty
[flowd]
outbox = $t/data/outbox
work_dir = $t/data/work
privacy = clear
[shipd]
# Nothing listens there: shipd retries, the batches stay to be counted.
server_url = https://198.18.5.2:9
ca_file = $t/tls/ca.crt
credentials = $t/cred
CONF
CTL="$BIN/vbsctl -s $t/run/vbsd.sock"
. "$TOP/tests/integration/vbsd_status.inc"

ip netns exec "$A" "$BIN/vbsd" -d -f "$t/vbs.conf" >"$t/vbsd.log" 2>&1 &
vbsd=$!

all_up() {
	[ -n "$(pid_of flowd)" ] && [ -n "$(pid_of sockd)" ] &&
	    [ -n "$(pid_of capd)" ] && [ -n "$(pid_of shipd)" ]
}
wait_for 20 all_up || { not_ok "vbsd starts every stage"; cat "$t/vbsd.log"; exit 1; }
ok "vbsd starts every stage"

# The status names the process that runs, with the program it should be.
truthful() {
	_p=$(pid_of "$1")
	[ -n "$_p" ] && [ "$(cat /proc/"$_p"/comm 2>/dev/null)" = "$1" ]
}


# stays_up STAGE PID RESTARTS: the stage is up as PID, and has not died
# since vbsd's tally was RESTARTS.
stays_up() {
	[ -n "$2" ] && [ "$(pid_of "$1")" = "$2" ] &&
	    [ "$(restarts_of "$1")" = "$3" ] && truthful "$1"
}

# cycle STAGE HOW N: N times, kill (HOW=kill) or restart (HOW=restart)
# the stage and wait until a new process is up; counts the comebacks.
# Then the last one must still run 3 s later (restart_max is 2 s): a
# stage that dies of itself right after reporting ready fails here even
# when each status happened to be read while it still ran.
cycle() {
	_back=0 _true=0
	for _i in $(seq 1 "$3"); do
		_old=$(pid_of "$1")
		if [ "$2" = kill ]; then
			[ -n "$_old" ] && kill -9 "$_old"
		else
			$CTL restart "$1" >/dev/null
		fi
		if wait_for 15 sh -c "p=\$($CTL -j status | grep '\"stage\":\"$1\"' |
		    grep '\"state\":\"up\"' | sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/');
		    [ -n \"\$p\" ] && [ \"\$p\" != \"$_old\" ]"; then
			_back=$((_back + 1))
			truthful "$1" && _true=$((_true + 1))
		fi
		sleep 0.3
	done
	equal "$1: comes back after $2, $3 times" "$_back" "$3"
	equal "$1: status names the running process after each $2" "$_true" "$3"
	_p=$(pid_of "$1") _r=$(restarts_of "$1")
	sleep 3
	check "$1: still up after the last $2, no death since" \
	    stays_up "$1" "$_p" "$_r"
}

# Steady traffic while flowd is restarted and killed: 200 echo requests
# a second, bounded in count (and so in time).
ip netns exec "$A" tcpdump -i "$VA" -nn -U -w "$t/icmp.pcap" icmp \
    2>"$t/tcpdump.log" &
td=$!
# tcpdump must be listening before the first echo request is sent.
wait_for 10 grep -q "listening on" "$t/tcpdump.log" ||
	{ not_ok "tcpdump starts"; exit 1; }
ip netns exec "$A" ping -q -c 12000 -i 0.005 198.18.5.2 >/dev/null 2>&1 &
pg=$!
pids="$td $pg"
sleep 1
cycle flowd restart ${N:-10}
cycle flowd kill ${N:-10}
equal "restarts are tallied, asked-for restarts are not deaths" \
    "$(restarts_of flowd)" "${N:-10}"
wait "$pg"
sleep 1
kill "$td"; wait "$td"
pids=""

# The shutdown is ordered: capd and sockd first, then flowd.
$CTL shutdown >/dev/null
wait_for 30 sh -c "! kill -0 $vbsd 2>/dev/null"
check "vbsd exits after shutdown" sh -c "! kill -0 $vbsd 2>/dev/null"
wait "$vbsd"
vbsd=""

icmp_stored() {
	for f in "$t"/data/outbox/*.sqlite; do
		sqlite3 "$f" "SELECT count(*) FROM packets p JOIN flows f
		    USING (flow_id) WHERE f.protocol = 1" 2>/dev/null
	done | awk '{s += $1} END {print s + 0}'
}
drops() {
	for f in "$t"/data/outbox/*.sqlite; do
		sqlite3 "$f" "SELECT value FROM meta WHERE key IN
		    ('capd_kernel_dropped', 'capd_queue_dropped_records')"
	done | awk '{s += $1} END {print s + 0}'
}
seen=$(tcpdump -r "$t/icmp.pcap" -nn 2>/dev/null | wc -l)
stored=$(icmp_stored)
dropped=$(drops)
diag "tcpdump saw $seen ICMP packets; batches hold $stored; capd dropped $dropped"
check "traffic flowed" [ "$seen" -ge 20000 ]
equal "flowd restarts lose nothing: stored + dropped = captured" \
    "$((stored + dropped))" "$seen"
equal "no drops while flowd was down for seconds" "$dropped" 0

# sockd and capd under SIGKILL, with traffic, then a shutdown under
# traffic.
rm -rf "$t/data/outbox"/*
ip netns exec "$A" "$BIN/vbsd" -d -f "$t/vbs.conf" >"$t/vbsd2.log" 2>&1 &
vbsd=$!
wait_for 20 all_up || { not_ok "vbsd starts again"; exit 1; }
ip netns exec "$A" ping -q -c 20000 -i 0.005 198.18.5.2 >/dev/null 2>&1 &
pg=$!
pids="$pg"
cycle sockd kill ${N:-10}
cycle capd kill ${N:-10}
cycle shipd kill ${N:-10}
kill -TERM "$vbsd"
wait_for 30 sh -c "! kill -0 $vbsd 2>/dev/null"
check "SIGTERM under traffic: vbsd exits" sh -c "! kill -0 $vbsd 2>/dev/null"
wait "$vbsd"
vbsd=""
kill "$pg" 2>/dev/null
pids=""
bad=0 open=0 dup=0 n=0
for f in "$t"/data/outbox/*.sqlite; do
	n=$((n + 1))
	[ "$(sqlite3 "$f" 'PRAGMA integrity_check')" = ok ] || bad=$((bad + 1))
	sqlite3 "$f" "SELECT flow_id, seq FROM packets" >>"$t/keys"
	sqlite3 "$f" "SELECT flow_id, ended FROM flows" >>"$t/flows"
done
dup=$(sort "$t/keys" | uniq -d | wc -l)
# Every flow has its one ended row somewhere in the batches.
open=$(awk -F'|' '{ if ($2 == 1) e[$1] = 1; seen[$1] = 1 }
    END { n = 0; for (f in seen) if (!(f in e)) n++; print n }' "$t/flows")
diag "$n batches after the shutdown"
check "batches were written" [ "$n" -gt 0 ]
equal "every batch passes integrity_check" "$bad" 0
equal "no packet stored twice across capd and sockd kills" "$dup" 0
equal "shutdown under traffic leaves no flow unended" "$open" 0
check "no working batch left behind" sh -c "! ls $t/data/work/*.sqlite >/dev/null 2>&1"
