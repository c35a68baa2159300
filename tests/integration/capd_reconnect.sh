#!/bin/sh
# tests/integration/capd_reconnect.sh: capd --connect survives its
# reader going away.  A stand-in reader (tests/lab/seqrec.py) takes capd's
# connection and hangs up after 3 s; a second one then listens on the
# same path.  capd, capturing ping traffic on a veth in a namespace the
# test makes (198.18.7.0/24), reconnects with backoff, and the new
# stream starts with a hello before any packet, as every stream must.
. "$(dirname "$0")/../lib.sh"
need_root "capd reconnect"
for c in ip ping python3; do
	command -v $c >/dev/null 2>&1 || { skip "capd reconnect" "no $c"; exit 0; }
done
ensure_users || { not_ok "capd reconnect: users"; exit 1; }

t=$(tmpdir)
chmod 755 "$t"
A=vbs-rc-a$$ B=vbs-rc-b$$ VA=vrca$$ VB=vrcb$$
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	ip netns del "$A" 2>/dev/null
	ip netns del "$B" 2>/dev/null
	sleep 0.2
	rm -rf "$t"
}
trap cleanup EXIT INT TERM
ns_pair "$A" "$B" "$VA" "$VB" 198.18.7 fd00:7 ||
	{ not_ok "capd reconnect: namespaces"; exit 1; }
cat >"$t/c.conf" <<CONF
[vbsd]
capd_user = vbs-capd
[capd]
local_subnet_traffic = true
CONF
python3 "$TOP/tests/lab/seqrec.py" "$t/f.sock" "$t/one.rec" 0 3 &
r1=$!
wait_for 5 test -S "$t/f.sock" || { not_ok "reader listens"; exit 1; }
ip netns exec "$A" "$BIN/capd" -d -f "$t/c.conf" -i "$VA" \
    --connect "$t/f.sock" 2>"$t/log" &
cp=$!
ip netns exec "$A" ping -q -c 1200 -i 0.01 198.18.7.2 >/dev/null 2>&1 &
pg=$!
pids="$r1 $cp $pg"
wait "$r1"
# The first reader is gone; the second listens on the same path.
python3 "$TOP/tests/lab/seqrec.py" "$t/f.sock" "$t/two.rec" 0 5 &
r2=$!
pids="$r2 $cp $pg"
wait "$r2"
kill "$cp" "$pg" 2>/dev/null
wait "$cp" 2>/dev/null
pids=""
n1=$("$BIN/vbsctl" dump "$t/one.rec" | grep -c '"type":"packet"')
n2=$("$BIN/vbsctl" dump "$t/two.rec" | grep -c '"type":"packet"')
diag "first reader got $n1 packet records, second $n2"
check "the first reader got packets" [ "$n1" -gt 0 ]
check "capd reconnected: the second reader got packets" [ "$n2" -gt 0 ]
equal "the new stream starts with a hello" \
    "$("$BIN/vbsctl" dump "$t/two.rec" | head -1 | sed 's/.*"type":"\([a-z]*\)".*/\1/')" hello
check "capd logged the reconnection" grep -q "connected to" "$t/log"
