#!/bin/sh
# tests/bench/sockd.sh: what sockd costs.  In a namespace of its own
# (vbs-sockd-bench-*, 198.18.2.0/24 on its loopback) it holds 100, 1,000
# and 10,000 open TCP sockets (half as many connections) and measures
# one full dump (sock_diag, both families, TCP and UDP, table update)
# and one look-up (the targeted query and the owner), beside `ss -tanp`
# (a dump plus a /proc scan) as the peer.  First, sockd's CPU with the
# default configuration, idle, over IDLE_SECONDS (default 30).
# Bounded: at most 10,000 sockets, every wait has a limit; cleaned up.

. "${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"

need_root "sockd bench"
[ -x "$BIN/sockd" ] || { not_ok "sockd bench: build sockd first"; exit 1; }
ensure_users || { not_ok "sockd bench: users"; exit 1; }
IDLE=${IDLE_SECONDS:-30}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
NS=vbs-sockd-bench-$$
T=$(tmpdir)
cleanup() {
	ns_delete "$NS"
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

ip netns add "$NS" || { not_ok "sockd bench: netns"; exit 1; }
ip -n "$NS" link set lo up
ip -n "$NS" addr add 198.18.2.1/24 dev lo
ip -n "$NS" addr add 198.18.2.2/24 dev lo

# Holds N sockets: N/2 connections to a listener of its own.
cat >"$T/hold.py" <<'EOF'
import resource, socket, sys, time
n = int(sys.argv[1]) // 2
resource.setrlimit(resource.RLIMIT_NOFILE, (n * 2 + 64, n * 2 + 64))
port = int(sys.argv[2])
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("198.18.2.1", port))
l.listen(1024)
keep = []
for i in range(n):
    c = socket.socket()
    c.bind(("198.18.2.2", 0))
    c.connect(("198.18.2.1", port))
    a, _ = l.accept()
    keep += [c, a]
print(keep[-2].getsockname()[1], flush=True)
time.sleep(600)
EOF


# Idle CPU with the defaults: CPU time (/proc/PID/task/*/schedstat, in
# ns, every thread: the keeper too) over IDLE seconds while sockd runs
# as under vbsd (its own user).
cpu_ns() {
	cat /proc/"$1"/task/*/schedstat | awk '{ n += $1 } END { print n }'
}
idle() {
	label=$1; shift
	"$@" >/dev/null 2>&1 &
	sp=$!
	sleep 2
	pid=$(pgrep -n -x sockd -P "$sp" 2>/dev/null || echo "$sp")
	[ -r "/proc/$pid/schedstat" ] || { not_ok "sockd idle ($label)"; return; }
	a=$(cpu_ns "$pid")
	sleep "$IDLE"
	b=$(cpu_ns "$pid")
	pct=$(awk -v a="$a" -v b="$b" -v s="$IDLE" \
	    'BEGIN { printf "%.3f", (b - a) / 1e9 / s * 100 }')
	kill "$sp" 2>/dev/null
	wait "$sp" 2>/dev/null
	echo "# idle CPU ($label): $pct% of a core over $IDLE s" \
	    "(target <= 0.1%)"
	if awk -v p="$pct" 'BEGIN { exit !(p <= 0.1) }'; then
		ok "sockd idle CPU ($label) <= 0.1%"
	else
		not_ok "sockd idle CPU ($label) <= 0.1%"
	fi
}
# First, before the sockets below: their TIME-WAIT remains sit for a
# minute in the TCP hash, which every namespace shares and every dump
# walks.
idle "namespace, process events" "$BIN/sockd" -d -N "$NS"
idle "host namespace" "$BIN/sockd" -d

lp=9100
for n in 100 1000 10000; do
	lp=$((lp + 1))
	ip netns exec "$NS" "$PY" "$T/hold.py" "$n" "$lp" >"$T/port" &
	hp=$!
	if ! wait_for 60 test -s "$T/port"; then
		not_ok "sockd bench: $n sockets"; kill $hp; continue
	fi
	port=$(cat "$T/port")
	out=$(ip netns exec "$NS" "$BIN/sockd" -P -b 50 2>/dev/null)
	first=$(echo "$out" | sed -n 's/.*first_dump_us=\([0-9]*\).*/\1/p')
	dump=$(echo "$out" | sed -n 's/^dump:.*median_us=\([0-9]*\).*/\1/p')
	sockets=$(echo "$out" | sed -n 's/^sockets=\([0-9]*\).*/\1/p')
	out=$(ip netns exec "$NS" "$BIN/sockd" -P -c 1000 \
	    -q "tcp 198.18.2.2:$port 198.18.2.1:$lp" 2>/dev/null)
	look=$(echo "$out" | sed -n 's/^lookup:.*median_us=\([0-9]*\).*/\1/p')
	look99=$(echo "$out" | sed -n 's/^lookup:.*p99_us=\([0-9]*\).*/\1/p')
	found=$(echo "$out" | sed -n '1s/.* comm=\([^ ]*\) .*/\1/p')
	t0=$(date +%s%N)
	for i in 1 2 3 4 5; do
		ip netns exec "$NS" ss -tanp >/dev/null
	done
	t1=$(date +%s%N)
	ssus=$(( (t1 - t0) / 5000 ))
	echo "# $n sockets (sockd saw $sockets): full dump ${dump} us" \
	    "(first, owners included: ${first} us); look-up median" \
	    "${look} us, p99 ${look99} us (owner $found);" \
	    "ss -tanp ${ssus} us, ratio dump/ss" \
	    "$(awk -v a="$dump" -v b="$ssus" 'BEGIN{printf "%.2f", a/b}')"
	if [ -n "$dump" ] && [ -n "$look" ] && [ "$found" != "" ]; then
		ok "sockd bench: $n sockets measured"
	else
		not_ok "sockd bench: $n sockets"; diag "$out"
	fi
	kill $hp 2>/dev/null
	wait $hp 2>/dev/null
	rm -f "$T/port"
done

