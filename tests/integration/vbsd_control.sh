#!/bin/sh
# tests/integration/vbsd_control.sh: no control client can make vbsd
# wait.  In a network namespace of its own, vbsd runs flowd and sockd.
# sockd is killed with SIGKILL; before its restart falls due, clients
# that misbehave take connections to the control socket: one sends a
# byte every 0.9 s and never a newline, one connects and never writes,
# one sends "status" and never reads.  vbsd must restart sockd after
# its usual delay (restart_min, 2 s here), and `vbsctl status` from
# another client must answer at once.
# vbsd used to read each command in its only thread, with a 1 s timeout
# per read: the dribbling client alone held it for 18 s.  Then the bound:
# with CONTROL_CLIENTS (8) connections open, a ninth is refused "busy",
# and every slow client is dropped after its 2 s.
. "$(dirname "$0")/../lib.sh"
need_root "vbsd control"
for c in ip python3; do
	command -v $c >/dev/null 2>&1 || { skip "vbsd control" "no $c"; exit 0; }
done
for b in vbsd vbsctl sockd flowd; do
	[ -x "$BIN/$b" ] || { skip "vbsd control" "$BIN/$b not built"; exit 0; }
done
ensure_users || { not_ok "vbsd control: users"; exit 1; }

t=$(tmpdir)
chmod 755 "$t"
NS=vbs-vc$$
vbsd="" pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	[ -n "$vbsd" ] && kill "$vbsd" 2>/dev/null && sleep 1
	[ -n "$vbsd" ] && kill -9 "$vbsd" 2>/dev/null
	ns_delete "$NS"
	[ -n "$KEEP" ] && echo "# kept $t" || rm -rf "$t"
}
trap cleanup EXIT INT TERM
ip netns add "$NS" && ip -n "$NS" link set lo up ||
	{ not_ok "vbsd control: namespace"; exit 1; }

cat >"$t/vbs.conf" <<CONF
[vbsd]
runtime_dir = $t/run
data_dir = $t/data
control_socket = $t/run/vbsd.sock
stages = flowd sockd
restart_min = 2s
restart_max = 4s
[capd]
chroot = $t/run/empty
[flowd]
outbox = $t/data/outbox
work_dir = $t/data/work
privacy = clear
CONF
CTL="$BIN/vbsctl -s $t/run/vbsd.sock"
. "$TOP/tests/integration/vbsd_status.inc"

# client.py SOCKET MODE: one misbehaving client, bounded in time (20 s);
# with GO set, it prints "armed" and connects once that file exists;
# it prints "connected", then how it ended and after how long.
#   dribble: a byte every 0.9 s, 20 at most, never a newline
#   idle: connects and waits
#   noread: sends "status\n" and never reads
#   flood N: N idle connections, then a status request on one more,
#	whose answer it prints; then waits for the N to be closed
cat >"$t/client.py" <<'PY'
import os, socket, sys, time

path, mode = sys.argv[1], sys.argv[2]
go = os.environ.get("GO")
if go:
    print("armed", flush=True)
    end = time.monotonic() + 20
    while not os.path.exists(go) and time.monotonic() < end:
        time.sleep(0.01)

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s

def closed_by_peer(s, until):
    # True once vbsd has closed s (recv sees the end, or a reset).
    s.settimeout(max(0.01, until - time.monotonic()))
    try:
        while s.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False

t0 = time.monotonic()
if mode == "dribble":
    s = conn()
    sent = 0
    try:
        for i in range(20):
            s.send(b"s")
            sent += 1
            if i == 0:
                print("connected", flush=True)
            time.sleep(0.9)
        print("never dropped: %d bytes in %.1f s" %
              (sent, time.monotonic() - t0), flush=True)
    except (BrokenPipeError, ConnectionResetError):
        print("dropped after %d bytes, %.1f s" %
              (sent, time.monotonic() - t0), flush=True)
elif mode in ("idle", "noread"):
    s = conn()
    if mode == "noread":
        s.send(b"status\n")
    print("connected", flush=True)
    if mode == "idle":
        ok = closed_by_peer(s, t0 + 20)
    else:
        time.sleep(20)
        ok = False
    print("closed by vbsd after %.1f s" % (time.monotonic() - t0)
          if ok else "not closed", flush=True)
elif mode == "flood":
    n = int(sys.argv[3])
    held = [conn() for i in range(n)]
    s = conn()
    try:
        s.send(b"status\n")
    except BrokenPipeError:
        # vbsd may have refused it, and closed, before it asked:
        # the answer is waiting all the same.
        pass
    s.settimeout(5)
    print("ninth: " + s.recv(4096).decode().strip(), flush=True)
    t1 = time.monotonic()
    gone = sum(closed_by_peer(h, t1 + 10) for h in held)
    print("%d of %d closed by vbsd within %.1f s" %
          (gone, n, time.monotonic() - t1), flush=True)
PY
client() {
	ip netns exec "$NS" timeout 45 python3 "$t/client.py" \
	    "$t/run/vbsd.sock" "$@"
}
ms() { echo $(( $(date +%s%N) / 1000000 )); }

ip netns exec "$NS" "$BIN/vbsd" -d -f "$t/vbs.conf" >"$t/vbsd.log" 2>&1 &
vbsd=$!
both_up() {
	[ "$(state_of flowd)" = up ] && [ "$(state_of sockd)" = up ]
}
wait_for 20 both_up || { not_ok "vbsd starts flowd and sockd"; cat "$t/vbsd.log"; exit 1; }
ok "vbsd starts flowd and sockd"

# sockd dies first: a signal would end a blocking read of a client.  Its
# restart falls due 2 s later, while the slow clients hold connections,
# the dribbling one first in the queue.  They are started beforehand and
# connect when told, in a few ms.
armed() { grep -q armed "$t/$1.out"; }
connected() { grep -q connected "$t/$1.out"; }
for m in dribble idle noread; do
	GO=$t/go.$m client $m >"$t/$m.out" 2>&1 &
	pids="$pids $!"
	wait_for 20 armed $m || { not_ok "client $m starts"; exit 1; }
done
sp=$(pid_of sockd)
[ -n "$sp" ] || { not_ok "sockd's pid"; exit 1; }
# when: now, in clock ticks since boot, as /proc/PID/stat counts.
when() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", $1 * hz }' /proc/uptime
}
k0=$(when)
kill -9 "$sp"
waiting() { [ "$(state_of sockd)" = waiting ]; }
wait_for 5 waiting || { not_ok "vbsd sees sockd die"; exit 1; }
touch "$t/go.dribble"
wait_for 5 connected dribble || { not_ok "the dribbling client connects"; exit 1; }
touch "$t/go.idle" "$t/go.noread"
wait_for 5 connected idle && wait_for 5 connected noread ||
	{ not_ok "the slow clients connect"; exit 1; }
diag "clients connected $(( ($(when) - k0) * 1000 / $(getconf CLK_TCK) )) ms after sockd's SIGKILL"

t1=$(ms)
out=$(timeout 3 $CTL -j status 2>&1)
t2=$(ms)
diag "status from another client took $((t2 - t1)) ms"
check "vbsctl status answers while slow clients hold connections" \
    sh -c "echo '$out' | grep -q '\"stage\":\"sockd\"'"
check "... at once (under 1 s)" [ $((t2 - t1)) -lt 1000 ]
# sockd started again: a new process, started restart_min (2 s) after
# the death, as /proc says when it started; then up (loading its eBPF
# programs may take seconds).
started() {
	_p=$(stage_num sockd pid)
	[ -n "$_p" ] && [ "$_p" != 0 ] && [ "$_p" != "$sp" ]
}
wait_for 30 started
np=$(stage_num sockd pid)
st=$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$np/stat" 2>/dev/null)
d=$(( (${st:-0} - k0) * 1000 / $(getconf CLK_TCK) ))
diag "sockd started again $d ms after its SIGKILL"
check "sockd restarted while slow clients hold connections" started
check "... after its usual delay (2 s, under 3 s)" [ "$d" -ge 1900 -a "$d" -lt 3000 ]
back() {
	_p=$(pid_of sockd)
	[ -n "$_p" ] && [ "$_p" != "$sp" ]
}
check "sockd up again" wait_for 20 back
equal "sockd's death tallied" "$(restarts_of sockd)" 1

# Each slow client is dropped once its 2 s are up.
# ended CLIENT: it has said how it ended.
ended() { grep -Eq "^(dropped|never dropped|closed|not closed)" "$t/$1.out"; }
wait_for 30 ended dribble
wait_for 30 ended idle
diag "dribbling client: $(tail -1 "$t/dribble.out")"
diag "idle client: $(tail -1 "$t/idle.out")"
check "a client dribbling its command is dropped" \
    grep -Eq "^dropped after [1-4] bytes" "$t/dribble.out"
check "a client that sends nothing is dropped within 3 s" \
    grep -Eq "^closed by vbsd after [0-2]\.[0-9] s" "$t/idle.out"
check "the log names the clients dropped" \
    grep -q "sent no whole command within 2000 ms: dropped" "$t/vbsd.log"

# The bound: with 8 connections held, a ninth is refused, not queued.
client flood 8 >"$t/flood.out" 2>&1
diag "$(cat "$t/flood.out")"
check "a ninth control client is refused while 8 are held" \
    grep -q '^ninth: {"ok":false,"error":"busy: too many control clients"}$' \
    "$t/flood.out"
check "the 8 are dropped after their 2 s" \
    grep -Eq "^8 of 8 closed by vbsd within [0-2]\.[0-9] s" "$t/flood.out"
check "vbsctl status answers again" sh -c "$CTL status >/dev/null"
check "vbsd still runs" kill -0 "$vbsd"

$CTL shutdown >/dev/null
wait_for 30 sh -c "! kill -0 $vbsd 2>/dev/null"
check "vbsd exits after shutdown" sh -c "! kill -0 $vbsd 2>/dev/null"
wait "$vbsd"
vbsd=""
