#!/bin/sh
# tests/integration/capd_live.sh: capd on a live interface.  Two network
# namespaces joined by a veth pair (198.18.1.0/24, fd00:1::/64); a real
# HTTP server (python3 -m http.server) in one, real curl in the other.
# In the client namespace capd (local subnet traffic kept) and tcpdump
# capture the same interface in the same run: their counts of the HTTP
# packets must be equal.  A second capd with the default configuration
# must leave that local-subnet traffic out (the BPF filter).  While capd
# runs, /proc shows it unprivileged: its own user, no capabilities,
# no_new_privs, seccomp filter mode, and the empty chroot as its root.
. "$(dirname "$0")/../lib.sh"
need_root "capd live"
for b in capd vbsctl; do
	[ -x "$BIN/$b" ] || { skip "capd live" "$BIN/$b not built"; exit 0; }
done
for c in ip tcpdump curl python3; do
	command -v $c >/dev/null 2>&1 || { skip "capd live" "no $c"; exit 0; }
done
ensure_users || { not_ok "capd live: users"; exit 1; }

t=$(tmpdir)
chmod 755 "$t"
A=vbs-capd-a$$ B=vbs-capd-b$$ VA=vcapa$$ VB=vcapb$$
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	ip netns del "$A" 2>/dev/null
	ip netns del "$B" 2>/dev/null
	rm -rf "$t"
}
trap cleanup EXIT INT TERM

ip netns add "$A" && ip netns add "$B" &&
ip link add "$VA" netns "$A" type veth peer name "$VB" netns "$B" &&
ip -n "$A" addr add 198.18.1.1/24 dev "$VA" &&
ip -n "$B" addr add 198.18.1.2/24 dev "$VB" &&
ip -n "$A" addr add fd00:1::1/64 dev "$VA" nodad &&
ip -n "$B" addr add fd00:1::2/64 dev "$VB" nodad &&
ip -n "$A" link set "$VA" up && ip -n "$B" link set "$VB" up &&
ip -n "$A" link set lo up && ip -n "$B" link set lo up ||
	{ not_ok "capd live: namespaces"; exit 1; }

mkdir -p "$t/empty" "$t/www"
head -c 20000 /dev/zero >"$t/www/file"
cat >"$t/keep.conf" <<CONF
[vbsd]
capd_user = vbs-capd
[capd]
chroot = $t/empty
local_subnet_traffic = true
stats_interval = 1s
CONF
cat >"$t/default.conf" <<CONF
[vbsd]
capd_user = vbs-capd
[capd]
chroot = $t/empty
CONF

(cd "$t/www" && exec ip netns exec "$B" python3 -m http.server 8080 \
    --bind :: >"$t/http.log" 2>&1) &
pids="$pids $!"
ip netns exec "$A" "$BIN/capd" -d -v -f "$t/keep.conf" -i "$VA" \
    -w "$t/keep.rec" 2>"$t/keep.err" &
capd_pid=$!
pids="$pids $capd_pid"
ip netns exec "$A" "$BIN/capd" -d -f "$t/default.conf" -i "$VA" \
    -w "$t/default.rec" 2>"$t/default.err" &
capd2_pid=$!
pids="$pids $capd2_pid"
ip netns exec "$A" tcpdump -p -n -U -i "$VA" -w "$t/td.pcap" \
    2>"$t/td.err" &
td_pid=$!
pids="$pids $td_pid"

wait_for 10 grep -q "capturing on" "$t/keep.err" &&
wait_for 10 grep -q "capturing on" "$t/default.err" &&
wait_for 10 grep -q "listening on" "$t/td.err" &&
wait_for 10 ip netns exec "$A" curl -s -o /dev/null http://198.18.1.2:8080/ ||
	{ not_ok "capd live: start"; diag "$(cat "$t/keep.err" "$t/td.err" "$t/http.log")"; exit 1; }

# The privileges of the running capd, from /proc.
st=/proc/$capd_pid/status
uid=$(id -u vbs-capd) gid=$(id -g vbs-capd)
equal "capd runs as vbs-capd (Uid)" "$(awk '/^Uid:/ {print $2,$3,$4,$5}' "$st")" "$uid $uid $uid $uid"
equal "capd runs as vbs-capd (Gid)" "$(awk '/^Gid:/ {print $2,$3,$4,$5}' "$st")" "$gid $gid $gid $gid"
equal "capd holds no capability (CapEff)" "$(awk '/^CapEff:/ {print $2}' "$st")" "0000000000000000"
equal "capd holds no capability (CapPrm)" "$(awk '/^CapPrm:/ {print $2}' "$st")" "0000000000000000"
equal "capd has no_new_privs" "$(awk '/^NoNewPrivs:/ {print $2}' "$st")" "1"
equal "capd is in seccomp filter mode" "$(awk '/^Seccomp:/ {print $2}' "$st")" "2"
equal "capd's root is the empty chroot" "$(readlink /proc/$capd_pid/root)" "$t/empty"

# Real traffic, bounded: 10 fetches over IPv4 and 10 over IPv6.
i=0
while [ $i -lt 10 ]; do
	ip netns exec "$A" curl -s -o /dev/null --max-time 5 http://198.18.1.2:8080/file
	ip netns exec "$A" curl -s -o /dev/null --max-time 5 'http://[fd00:1::2]:8080/file'
	i=$((i + 1))
done
sleep 1.5
kill -INT $td_pid; kill -TERM $capd_pid $capd2_pid
wait $td_pid; wait $capd_pid; rc1=$?; wait $capd2_pid; rc2=$?
pids=$(echo "$pids" | sed "s/ $capd_pid//; s/ $capd2_pid//; s/ $td_pid//")
equal "capd exits 0 on SIGTERM" "$rc1 $rc2" "0 0"

"$BIN/vbsctl" dump "$t/keep.rec" >"$t/keep.json" 2>"$t/dump.err" ||
	{ not_ok "vbsctl dump"; diag "$(cat "$t/dump.err")"; }
"$BIN/vbsctl" dump "$t/default.rec" >"$t/default.json"
port8080() { grep '"type":"packet"' "$1" | grep -c -E '"(sport|dport)":8080,'; }
got=$(port8080 "$t/keep.json")
want=$(tcpdump -n -r "$t/td.pcap" 'tcp port 8080' 2>/dev/null | wc -l)
got4=$(grep '"ipver":4' "$t/keep.json" | grep -c -E '"(sport|dport)":8080,')
want4=$(tcpdump -n -r "$t/td.pcap" 'ip and tcp port 8080' 2>/dev/null | wc -l)
diag "HTTP packets: capd $got (IPv4 $got4), tcpdump $want (IPv4 $want4)"
if [ "$want" -gt 100 ]; then ok "enough traffic ($want packets)"
else not_ok "enough traffic ($want packets)"; fi
equal "capd and tcpdump count the same HTTP packets" "$got" "$want"
equal "... and the same IPv4 ones" "$got4" "$want4"
gotb=$(grep '"type":"packet"' "$t/keep.json" | grep -E '"(sport|dport)":8080,' |
    sed 's/.*"len":\([0-9]*\).*/\1/' | awk '{s+=$1} END {print s+0}')
wantb=$(tcpdump -n -v -r "$t/td.pcap" 'ip and tcp port 8080' 2>/dev/null |
    sed -n 's/.*, length \([0-9]*\)).*/\1/p' | awk '{s+=$1} END {print s+0}')
gotb4=$(grep '"ipver":4' "$t/keep.json" | grep -E '"(sport|dport)":8080,' |
    sed 's/.*"len":\([0-9]*\).*/\1/' | awk '{s+=$1} END {print s+0}')
equal "capd and tcpdump agree on IPv4 bytes" "$gotb4" "$wantb"
diag "all HTTP IP bytes seen by capd: $gotb"
out=$(grep '"type":"packet"' "$t/keep.json" | grep '"dport":8080,' | grep -c '"dir":"out"')
in=$(grep '"type":"packet"' "$t/keep.json" | grep '"sport":8080,' | grep -c '"dir":"in"')
equal "direction from the host's addresses" "$((out + in))" "$got"
n=$(grep -c '"type":"stats"' "$t/keep.json")
if [ "$n" -ge 2 ]; then ok "periodic stats messages ($n)"
else not_ok "periodic stats messages ($n)"; fi
grep '"type":"stats"' "$t/keep.json" | tail -1 | grep -q '"kernel_dropped":0' &&
	ok "kernel drops reported (0)" || not_ok "kernel drops reported"
d=$(port8080 "$t/default.json")
equal "local subnet traffic left out by default" "$d" "0"
grep -q '"type":"bye"' "$t/keep.json" && ok "bye at the end" || not_ok "bye at the end"
