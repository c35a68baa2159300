#!/bin/sh
# tests/integration/sockd_ebpf.sh: sockd's eBPF backend names the owner
# of sockets that close within microseconds, with no look-up at all.
# In a network namespace this test makes (vbs-bpf-*, 198.18.8.0/24 and
# fd00:8::/64 on its loopback; nothing leaves the machine):
#
#  1. 20 UDP one-shots (socket, sendto a closed port, close) and 20 TCP
#     connections refused at once, IPv4 and IPv6, some as user nobody:
#     each is reported by an open event of source ebpf with the right
#     pid, comm and uid, 20/20 each; its close carries that owner;
#     20 sockets closed unused (never bound) are counted in
#     destroy_unbound and not reported;
#     a process that opens 10 UDP sockets has its executable read
#     once, then reused (counter exe_reused), and after it execs a copy
#     of its own program (same name, another executable) its next
#     socket names the copy;
#  2. the same with sockd inside the namespace (ip netns exec);
#  3. without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN, sockd says why
#     once and goes on with sock_diag;
#  4. every sockd the test starts exits with the status its man page
#     gives (not SIGSYS: the sandbox killed nothing), and the kernel's
#     audit log, when it can be read, has no seccomp line for any of
#     them.
# The BPF hooks see every namespace; sockd reports only the one it
# watches, and this test looks only at the namespace's addresses.
# Skipped when this sockd was built without eBPF or the kernel refuses.

. "${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"

need_root "sockd ebpf"
for p in ip python3 runuser setpriv; do
	if ! command -v $p >/dev/null 2>&1; then
		skip "sockd ebpf" "no $p"
		exit 0
	fi
done
[ -x "$BIN/sockd" ] && [ -x "$BIN/vbsctl" ] || {
	not_ok "sockd ebpf: build sockd and vbsctl first"; exit 1; }
ensure_users || { not_ok "sockd ebpf: users"; exit 1; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

NS=vbs-bpf-$$
T=$(tmpdir)
cleanup() {
	ns_delete "$NS"
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
chmod 755 "$T"

ip netns add "$NS" || { not_ok "sockd ebpf: netns"; exit 1; }
ip -n "$NS" link set lo up
ip -n "$NS" addr add 198.18.8.1/24 dev lo
ip -n "$NS" addr add 198.18.8.2/24 dev lo
ip -n "$NS" addr add fd00:8::1/64 dev lo nodad
ip -n "$NS" addr add fd00:8::2/64 dev lo nodad

printf '[sockd]\nebpf = true\n' >"$T/ebpf.conf"
mark=$(seccomp_mark)
: >"$T/pids"

# sockd_status NAME STATUS WANT: the exit status of one sockd is WANT.
sockd_status() {
	if [ "$2" = "$3" ]; then
		ok "$1: sockd exits $3"
	else
		not_ok "$1: sockd exits $3"
		if [ "$2" = 159 ]; then
			diag "got $2: killed by SIGSYS, the seccomp sandbox"
		else
			diag "got $2"
		fi
		rc=1
	fi
}
rc=0

# Is eBPF there at all?  One look-up, then the log says.  stdout is a
# character device, as when a person runs sockd -q >/dev/null.
"$BIN/sockd" -d -f "$T/ebpf.conf" -q "udp 198.18.8.1:1" >/dev/null \
    2>"$T/probe.log" &
echo $! >>"$T/pids"
wait $!
sockd_status "sockd ebpf: probe, no socket matched" $? 1
if grep -q "ebpf: " "$T/probe.log"; then
	why=$(sed -n 's/.*ebpf: \([^;]*\).*/\1/p' "$T/probe.log" | head -1)
	skip "sockd ebpf: one-shots named by eBPF" "$why"
	case $why in
	"not built") exit 0 ;;
	esac
	BPF=0
else
	BPF=1
fi

# Built with the kernel's minimal BTF (sockd/genbtf.sh), sockd loads its
# programs without reading the kernel's whole BTF: its peak memory stays
# far under the 14 MB that reading it costs (ru_maxrss, in kB).
if [ "$BPF" = 0 ]; then
	:
elif ! grep -q 'SOCKD_MIN_BTF 1' "$TOP/$O/gen/sockd_btf.h" 2>/dev/null; then
	skip "sockd ebpf: loads with the minimal BTF" \
	    "built without it (no bpftool or no kernel BTF)"
else
	# VmHWM, not ru_maxrss: that would count the forking parent's.
	mkfifo "$T/q"
	"$BIN/sockd" -d -v -f "$T/ebpf.conf" -q - <"$T/q" >/dev/null \
	    2>"$T/minbtf.log" &
	pid=$!
	echo $pid >>"$T/pids"
	exec 9>"$T/q"
	i=0
	while ! grep -q "running:" "$T/minbtf.log" && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	peak=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' \
	    /proc/$pid/status)
	kill -TERM $pid
	exec 9>&-
	wait $pid
	# ASan's shadow memory and runtime outweigh the BTF: there only
	# the log says which way sockd loaded.
	bound=8000
	[ -n "${VBS_SANITIZE:-}" ] && bound=99999999
	if grep -q "ebpf: 3 hooks" "$T/minbtf.log" &&
	    ! grep -q "reading it whole\|usual way" "$T/minbtf.log" &&
	    [ "${peak:-99999}" -lt "$bound" ]; then
		ok "sockd ebpf: loads with the minimal BTF, peak ${peak} kB"
	else
		not_ok "sockd ebpf: loads with the minimal BTF"
		diag "peak ${peak:-?} kB (bound $bound)"
		sed 's/^/# /' "$T/minbtf.log" | head -10
		rc=1
	fi
fi

cat >"$T/driver.py" <<'EOF'
# Runs sockd, the one-shots, reads the recording; prints TAP.
import json, os, subprocess, sys, time

ns, bindir, tmp, py, conf, mode = sys.argv[1:7]
sockd = os.path.join(bindir, "sockd")
vbsctl = os.path.join(bindir, "vbsctl")
NX = ["ip", "netns", "exec", ns]
fails = 0

def ok(cond, name, why=""):
    global fails
    print(("ok - " if cond else "not ok - ") + name, flush=True)
    if not cond:
        fails += 1
        if why:
            print("# " + str(why).replace("\n", "\n# "), flush=True)

UDP = r'''
import os, socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.sendto(b"x", (sys.argv[1], 9))
port = s.getsockname()[1]
s.close()
print(os.getpid(), open("/proc/self/comm").read().strip(), os.getuid(), port)
'''
TCP = r'''
import os, socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
e = s.connect_ex((sys.argv[1], 1))
port = s.getsockname()[1]
s.close()
print(os.getpid(), open("/proc/self/comm").read().strip(), os.getuid(), port, e)
'''

rec = os.path.join(tmp, "oneshot-%s.rec" % mode)
log = os.path.join(tmp, "sockd-%s.log" % mode)
if mode == "inside":
    argv = NX + [sockd, "-d", "-f", conf, "-w", rec]
else:
    argv = [sockd, "-d", "-f", conf, "-N", ns, "-w", rec]
p = subprocess.Popen(argv, stderr=open(log, "w"))
with open(os.path.join(tmp, "pids"), "a") as f:
    f.write("%d\n" % p.pid)   # ip netns exec execs sockd: the same pid
end = time.monotonic() + 10
while time.monotonic() < end and "running:" not in open(log).read():
    time.sleep(0.05)
ok("running:" in open(log).read() and "ebpf on" in open(log).read(),
   "%s: sockd runs with ebpf on" % mode, open(log).read())

# (proto, lport, pid, comm, uid) of each one-shot.  Two one-shots may
# draw the same ephemeral port, so reports are matched by port and pid.
want = []
for kind, code in (("udp", UDP), ("tcp", TCP)):
    for i in range(20):
        dst = "fd00:8::2" if i % 2 else "198.18.8.2"
        user = ["runuser", "-u", "nobody", "--"] if i % 4 >= 2 else []
        out = subprocess.run(NX + user + [py, "-c", code, dst],
                             capture_output=True, text=True, timeout=10)
        f = out.stdout.split()
        if len(f) < 4:
            ok(False, "%s: %s one-shot %d ran" % (mode, kind, i), out)
            continue
        want.append((kind, int(f[3]), int(f[0]), f[1], int(f[2])))
# Sockets closed unused, never bound (as for an ioctl): 20 of them.
UNBOUND = r'''
import socket
for fam in (socket.AF_INET, socket.AF_INET6):
    for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        socket.socket(fam, typ).close()
'''
for i in range(5):
    subprocess.run(NX + [py, "-c", UNBOUND], timeout=10)
# One process, 10 sockets a few ms apart, then an exec of a copy of
# python3 (same comm) that sends once more: pid, start time and name
# stay, the image changes, and sockd must read the executable anew.
MANY = r'''
import os, socket, sys, time
dst, again = sys.argv[1], sys.argv[2]
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
ports = []
for i in range(int(sys.argv[3])):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.sendto(b"x", (dst, 9))
    ports.append(s.getsockname()[1])
    s.close()
    time.sleep(0.02)
print(os.getpid(), os.path.realpath("/proc/self/exe"), *ports, flush=True)
if again != "-":
    time.sleep(0.2)
    os.execv(again, [again, "-c", sys.argv[4], dst, "-", "1", ""])
'''
alt = os.path.join(tmp, "alt", "python3")
os.makedirs(os.path.dirname(alt), exist_ok=True)
if not os.path.exists(alt):
    subprocess.run(["cp", os.path.realpath(py), alt], check=True)
# the copy finds its library by PYTHONHOME (the driver runs under py)
out = subprocess.run(NX + ["env", "PYTHONHOME=" + sys.base_prefix, py,
                           "-c", MANY,
                           "198.18.8.2", alt, "10", MANY],
                     capture_output=True, text=True, timeout=20)
many = [l.split() for l in out.stdout.splitlines()]
ok(len(many) == 2 and len(many[0]) == 12 and len(many[1]) == 3,
   "%s: one process opened 10 sockets, exec'd a copy, opened 1" % mode,
   out)
time.sleep(1)
p.terminate()
p.wait(10)
ok(p.returncode == 0, "%s: sockd exits 0 after SIGTERM" % mode,
   "got %d%s; %s" % (p.returncode, ": killed by SIGSYS, the seccomp "
   "sandbox" if p.returncode == -31 else "", open(log).read()[-2000:]))

out = subprocess.run([vbsctl, "dump", rec], capture_output=True, text=True,
                     timeout=60)
opens, closes = {}, {}
foreign = []
last_stats = {}
for line in out.stdout.splitlines():
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("type") == "stats":
        last_stats = r.get("counters", {})
    if r.get("type") != "socket":
        continue
    ours = (r.get("raddr", "").startswith("198.18.8.") or
            r.get("raddr", "").startswith("fd00:8::"))
    # The kernel's destroy event of an unconnected UDP socket has no
    # peer: its close is ours by local address and port.
    unconnected = (r.get("event") == "close" and r.get("rport") == 0 and
                   (r.get("laddr", "").startswith("198.18.8.") or
                    r.get("laddr", "").startswith("fd00:8::") or
                    r.get("laddr") in ("0.0.0.0", "::")))
    if not ours and not unconnected:
        if r.get("source") == "ebpf":
            foreign.append(r)
        continue
    kind = {17: "udp", 6: "tcp"}.get(r.get("proto"))
    key = (kind, r.get("lport"))
    if r.get("event") == "open" and r.get("source") == "ebpf":
        opens.setdefault(key, []).append(r)
    elif r.get("event") == "close":
        closes.setdefault(key, []).append(r)

def report(reports, key, pid):
    """The report for key of the socket pid made, else all for key."""
    got = reports.get(key, [])
    return next((r for r in got if r.get("pid") == pid), got or None)

for kind in ("udp", "tcp"):
    good = good_close = n = 0
    for k, port, pid, comm, uid in want:
        if k != kind:
            continue
        key = (kind, port)
        n += 1
        r = report(opens, key, pid)
        if (isinstance(r, dict) and r["comm"] == comm and r["uid"] == uid
                and r["pid"] == pid):
            good += 1
        else:
            print("# %s port %d: want pid=%d comm=%s uid=%d, got %r" %
                  (kind, key[1], pid, comm, uid, r))
        c = report(closes, key, pid)
        if isinstance(c, dict) and c["pid"] == pid and c["comm"] == comm:
            good_close += 1
        else:
            print("# %s port %d: close wants pid=%d comm=%s, got %r" %
                  (kind, key[1], pid, comm, c))
    ok(good == 20 and n == 20, "%s: %s one-shots named by eBPF, no "
       "look-up: %d/20" % (mode, kind, good))
    ok(good_close == 20 and n == 20, "%s: %s one-shots' closes carry that "
       "owner: %d/20" % (mode, kind, good_close))
print("# %s: sockd destroy events: overruns %s, late %s, unknown %s" % (
    mode, last_stats.get("destroy_overruns"), last_stats.get("destroy_late"),
    last_stats.get("destroy_unknown")))
# The 10 sockets name the real executable, the socket after the exec
# the copy.  The link is read for the first of the 10 and after the
# exec, and only then: every other socket of the test is the only one
# of its process, so exactly 9 reuses.
if len(many) == 2 and len(many[0]) == 12 and len(many[1]) == 3:
    pid, exe0 = int(many[0][0]), many[0][1]
    got = [report(opens, ("udp", int(pt)), pid) for pt in many[0][2:]]
    right = sum(1 for r in got if isinstance(r, dict) and r["pid"] == pid
                and r.get("exe") == exe0)
    ok(right == 10, "%s: the 10 sockets name %s: %d/10" % (mode, exe0,
       right), [r for r in got if not (isinstance(r, dict) and
                                         r.get("exe") == exe0)][:2])
    r = report(opens, ("udp", int(many[1][2])), pid)
    ok(isinstance(r, dict) and r["pid"] == int(many[1][0]) == pid and
       r["comm"] == "python3" and r.get("exe") == alt,
       "%s: after the exec, the socket names the copy %s" % (mode, alt), r)
    reused = int(last_stats.get("exe_reused", 0))
    ok(reused == 9, "%s: the executable was reused for %d of the 11 "
       "sockets (9)" % (mode, reused), last_stats)
# Their destroys are counted, not reported: no flow can be theirs.
unbound = closes.get(("udp", 0), []) + closes.get(("tcp", 0), [])
ok(not unbound, "%s: no close reported for a never-bound socket (%d)" %
   (mode, len(unbound)), unbound[:3])
ok(int(last_stats.get("destroy_unbound", 0)) >= 20, "%s: the 20 "
   "never-bound sockets' destroys are counted: %s" % (
       mode, last_stats.get("destroy_unbound")))
# Only this test runs in the namespace: anything else came from another.
ok(not foreign, "%s: no eBPF report from another namespace (%d)" %
   (mode, len(foreign)), foreign[:3])
sys.exit(1 if fails else 0)
EOF

if [ "$BPF" = 1 ]; then
	for mode in outside inside; do
		"$PY" "$T/driver.py" "$NS" "$BIN" "$T" "$PY" "$T/ebpf.conf" \
		    "$mode" || rc=1
	done
fi

# Without the capabilities BPF needs: one line, then sock_diag.
setpriv --bounding-set=-bpf,-perfmon,-sys_admin --inh-caps=-all \
    "$BIN/sockd" -d -f "$T/ebpf.conf" -q "udp 198.18.8.1:1" \
    >"$T/nocap.out" 2>"$T/nocap.log" &
echo $! >>"$T/pids"	# setpriv execs sockd: the same pid
wait $!
sockd_status "sockd ebpf: without CAP_BPF, no socket matched" $? 1
n=$(grep -c "ebpf: .*using sock_diag" "$T/nocap.log")
if [ $? -le 1 ] && [ "$n" = 1 ] && grep -q "^found\|found" "$T/nocap.out"; then
	ok "sockd ebpf: refused without CAP_BPF, one line, carries on"
else
	not_ok "sockd ebpf: refused without CAP_BPF, one line, carries on"
	diag "$(cat "$T/nocap.log" "$T/nocap.out")"
	rc=1
fi

# A kill shows in a status above; a violation let through by
# VBS_SECCOMP_LOG=1 only here.
if [ -z "$mark" ]; then
	skip "sockd ebpf: no seccomp audit line for any sockd" \
	    "the kernel log cannot be read"
else
	audit=$(seccomp_audit "$mark" $(cat "$T/pids"))
	if [ -z "$audit" ]; then
		ok "sockd ebpf: no seccomp audit line for any sockd"
	else
		not_ok "sockd ebpf: no seccomp audit line for any sockd"
		diag "$audit"
		rc=1
	fi
fi
exit $rc
