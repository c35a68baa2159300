#!/bin/sh
# tests/integration/capd_connect.sh: capd's stream to flowd over
# SOCK_SEQPACKET with --connect.  A stand-in for flowd (python3) accepts,
# stores every message it receives as a recording; the stream must start
# with a hello and hold exactly the records that `capd -w` writes for the
# same capture.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 111
for b in capd vbsctl; do
	[ -x "$BIN/$b" ] || { skip "capd connect" "$BIN/$b not built"; exit 0; }
done
t=$(tmpdir)
chmod 755 "$t"
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$t"' EXIT INT TERM
[ "$(id -u)" = 0 ] && { ensure_users || exit 1; }

# reader SOCK OUT DROP_AFTER: accept up to two connections; store the
# messages as a recording; with DROP_AFTER > 0, close the first
# connection after that many messages.
cat >"$t/reader.py" <<'PY'
import os, socket, struct, sys
path, out, drop = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path); os.chmod(path, 0o666); s.listen(1)
s.settimeout(20)
f = open(out, 'wb')
f.write(b'\x89VBSREC\n' + struct.pack('>II', 1, 0))
conns = 0
while conns < 2:
    c, _ = s.accept(); c.settimeout(10); conns += 1
    n = 0
    while True:
        try:
            m = c.recv(70000)
        except socket.timeout:
            break
        if not m:
            break
        f.write(struct.pack('>I', len(m)) + m); f.flush(); n += 1
        if conns == 1 and drop and n >= drop:
            break
        if m[5:6] == b'\x07':          # bye
            f.close(); sys.exit(0)
    c.close()
    if not drop:
        break
f.close()
PY

# The hello's time and the queue counters differ between the two runs.
stable() { sed -E '/"type":"hello"/s/"ts":[0-9]+,//; s/,"queue_[a-z_]+":[0-9]+//g'; }

"$BIN/capd" -r tests/pcaps/eth_tcp4.pcap -w "$t/direct.rec" 2>"$t/err1"
python3 "$t/reader.py" "$t/sock" "$t/got.rec" 0 &
rp=$!; pids="$pids $rp"
wait_for 5 test -S "$t/sock" || { not_ok "reader socket"; exit 1; }
"$BIN/capd" -r tests/pcaps/eth_tcp4.pcap --connect "$t/sock" 2>"$t/err2"
rc=$?
wait $rp
equal "capd --connect exits 0" "$rc" "0"
[ -s "$t/err2" ] && diag "$(cat "$t/err2")"
"$BIN/vbsctl" dump "$t/direct.rec" | stable >"$t/direct.txt"
"$BIN/vbsctl" dump "$t/got.rec" | stable >"$t/got.txt"
equal "the stream starts with a hello" "$(head -1 "$t/got.txt" | cut -c1-16)" '{"type":"hello",'
if diff -u "$t/direct.txt" "$t/got.txt" >"$t/diff"; then
	ok "the socket carries what the recording holds"
else
	not_ok "the socket carries what the recording holds"; diag "$(head -20 "$t/diff")"
fi
