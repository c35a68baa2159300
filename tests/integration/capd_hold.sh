#!/bin/sh
# tests/integration/capd_hold.sh: capd's hold (capture.c).  With the short
# block timeout advised without sockd's eBPF backend (5 ms), capd must
# still hand each flow's first packet to flowd at once, but send the
# rest of a steady flow in few messages, each at most 250 ms late.
# Two network namespaces joined by a veth pair (198.18.10.0/24); in A,
# capd --connect to a stand-in for flowd (python3) that notes when each
# message arrives; python3 sends one steady UDP flow (200 datagrams a
# second for 3 s, to a UDP sink in B) and, every half second, one
# datagram from a new socket (a "probe", a flow of one packet).
# Checks: every packet arrives; the messages are fewer than 60 (one a
# wake-up, as before the hold, is about 600); each probe arrives within
# 60 ms of its capture; no packet waits more than 400 ms.
. "$(dirname "$0")/../lib.sh"
N="capd hold"
need_root "$N"
[ -x "$BIN/capd" ] && [ -x "$BIN/vbsctl" ] ||
	{ skip "$N" "capd or vbsctl not built"; exit 0; }
for c in ip python3; do
	command -v $c >/dev/null 2>&1 || { skip "$N" "no $c"; exit 0; }
done
ensure_users || { not_ok "$N: users"; exit 1; }

t=$(tmpdir)
chmod 755 "$t"
A=vbs-hold-a$$ B=vbs-hold-b$$ VA=vholda$$ VB=vholdb$$
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	ns_delete "$A" "$B"
	rm -rf "$t"
}
trap cleanup EXIT INT TERM
ns_pair "$A" "$B" "$VA" "$VB" 198.18.10 fd00:10 ||
	{ not_ok "$N: namespaces"; exit 1; }

mkdir -p "$t/empty" "$t/msg"
cat >"$t/capd.conf" <<CONF
[vbsd]
capd_user = vbs-capd
[capd]
chroot = $t/empty
local_subnet_traffic = true
timeout = 5ms
CONF

# The stand-in for flowd: each message as a recording of its own,
# msg/NNNNN.rec, and its arrival (microseconds since the epoch) in
# arrivals.tsv; until the bye or 30 s.
cat >"$t/reader.py" <<'PY'
import os, socket, struct, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path); os.chmod(path, 0o666); s.listen(1); s.settimeout(30)
c, _ = s.accept(); c.settimeout(1)
end = time.monotonic() + 30
n = 0
with open(out + "/arrivals.tsv", "w") as arr:
    while time.monotonic() < end:
        try:
            m = c.recv(70000)
        except socket.timeout:
            continue
        t = int(time.time() * 1e6)
        if not m:
            break
        n += 1
        with open("%s/msg/%05d.rec" % (out, n), "wb") as f:
            f.write(b'\x89VBSREC\n' + struct.pack('>II', 1, 0))
            f.write(struct.pack('>I', len(m)) + m)
        arr.write("%05d\t%d\n" % (n, t)); arr.flush()
        if m[5:6] == b'\x07':          # bye
            break
PY
# The sink in B, and the traffic in A: probe source ports in probes.txt.
cat >"$t/sink.py" <<'PY'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.10.2", 7000)); s.settimeout(0.5)
end = time.monotonic() + 15
while time.monotonic() < end:
    try:
        s.recv(2048)
    except socket.timeout:
        pass
PY
cat >"$t/send.py" <<'PY'
import socket, sys, time
dst = ("198.18.10.2", 7000)
steady = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probes = []
t0 = time.monotonic()
for i in range(600):
    due = t0 + i / 200.0
    while time.monotonic() < due:
        time.sleep(max(0.0, due - time.monotonic()))
    steady.sendto(b"steady %d" % i, dst)
    if i % 100 == 50:
        p = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        p.sendto(b"probe", dst)
        probes.append(p.getsockname()[1])
        p.close()
print(steady.getsockname()[1])
print(" ".join(str(p) for p in probes))
PY

ip netns exec "$B" python3 "$t/sink.py" &
pids="$pids $!"
python3 "$t/reader.py" "$t/sock" "$t" &
rp=$!
pids="$pids $rp"
wait_for 5 test -S "$t/sock" || { not_ok "$N: reader socket"; exit 1; }
ip netns exec "$A" "$BIN/capd" -d -f "$t/capd.conf" -i "$VA" \
    --connect "$t/sock" 2>"$t/capd.err" &
cp=$!
pids="$pids $cp"
wait_for 10 grep -q 'capturing on' "$t/capd.err" ||
	{ not_ok "$N: capd starts"; diag "$(cat "$t/capd.err")"; exit 1; }
sleep 0.5
ip netns exec "$A" python3 "$t/send.py" >"$t/ports" ||
	{ not_ok "$N: traffic"; exit 1; }
sleep 1
kill -TERM "$cp"
wait "$cp"
equal "$N: capd exits 0 on SIGTERM" "$?" 0
wait "$rp"

# One line a packet: arrival, capture time, source port.
for f in "$t"/msg/*.rec; do
	n=$(basename "$f" .rec)
	a=$(awk -v n="$n" '$1 == n { print $2 }' "$t/arrivals.tsv")
	"$BIN/vbsctl" dump "$f" | grep '"type":"packet"' |
	    sed -E 's/.*"ts":([0-9]+),.*"sport":([0-9]+),.*/\1 \2/' |
	    sed "s/^/$n $a /"
done >"$t/packets"
steady=$(sed -n 1p "$t/ports")
probes=$(sed -n 2p "$t/ports")
got=$(awk -v p="$steady" '$4 == p' "$t/packets" | wc -l)
equal "$N: the steady flow's 600 packets arrive" "$got" 600
msgs=$(cut -d' ' -f1 "$t/packets" | sort -u | wc -l)
check "$N: they come in few messages ($msgs; < 60)" [ "$msgs" -lt 60 ]
for p in $probes; do
	lat=$(awk -v p="$p" '$4 == p { print $2 - $3; exit }' "$t/packets")
	if [ -n "$lat" ] && [ "$lat" -lt 60000 ]; then
		ok "$N: probe $p arrives at once ($lat us; < 60 ms)"
	else
		not_ok "$N: probe $p arrives at once (${lat:-none} us; < 60 ms)"
	fi
done
equal "$N: 6 probes sent" "$(echo $probes | wc -w)" 6
max=$(awk '{ d = $2 - $3; if (d > m) m = d } END { print m + 0 }' \
    "$t/packets")
check "$N: no packet waits long (max ${max} us; < 400 ms)" \
    [ "$max" -lt 400000 ]
early=$("$BIN/vbsctl" dump "$t"/msg/*.rec |
    sed -n 's/.*"messages_early":\([0-9]*\).*/\1/p' | tail -1)
check "$N: capd counts the early messages (${early:-none}; >= 6)" \
    [ "${early:-0}" -ge 6 ]
