#!/bin/sh
# tests/integration/sockd_live.sh: sockd against real programs in a
# network namespace this test makes (vbs-sockd-*, 198.18.2.0/24 and
# fd00:2::/64 on its loopback; nothing leaves the machine).
#
#  1. real programs (a python3 TCP server, an ncat UDP listener, curl
#     clients, a process of another user) appear with the right pid,
#     name, executable and uid, and their closes follow;
#  2. a TCP connection living 30 ms and a UDP socket living 10 ms: a
#     look-up made while each is open names its owner, 20 of 20;
#  3. with no look-up at all, each close is reported by a destroy event
#     with the kernel's uid, cookie and addresses, 20 of 20;
#  4. the running sockd's uid, capabilities, no_new_privs and seccomp;
#  5. a pid freed by one program and taken by a fork of another that
#     does not exec: the newcomer's socket is named after the newcomer.
# Steps 2 and 3 run twice: sockd inside the namespace (ip netns exec, no
# process events) and reading it from outside (-N, with process events).

. "${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"

need_root "sockd live"
for p in ip python3 ncat curl runuser; do
	if ! command -v $p >/dev/null 2>&1; then
		skip "sockd live" "no $p"
		exit 0
	fi
done
[ -x "$BIN/sockd" ] && [ -x "$BIN/vbsctl" ] || {
	not_ok "sockd live: build sockd and vbsctl first"; exit 1; }
ensure_users || { not_ok "sockd live: users"; exit 1; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

NS=vbs-sockd-$$
T=$(tmpdir)
cleanup() {
	# Our own children only: the namespace's processes, by pid.
	ns_delete "$NS"
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

ip netns add "$NS" || { not_ok "sockd live: netns"; exit 1; }
ip -n "$NS" link set lo up
ip -n "$NS" addr add 198.18.2.1/24 dev lo
ip -n "$NS" addr add 198.18.2.2/24 dev lo
ip -n "$NS" addr add fd00:2::1/64 dev lo nodad
ip -n "$NS" addr add fd00:2::2/64 dev lo nodad

cat >"$T/driver.py" <<'EOF'
# The test's driver: starts sockd and the programs, makes the look-ups,
# reads the recording.  Prints TAP.  Every wait is bounded.
import json, os, select, subprocess, sys, time

ns, bindir, tmp, py, mode = sys.argv[1:6]
sockd = os.path.join(bindir, "sockd")
vbsctl = os.path.join(bindir, "vbsctl")
NX = ["ip", "netns", "exec", ns]
procs = []
fails = 0

def ok(cond, name, why=""):
    global fails
    print(("ok - " if cond else "not ok - ") + name, flush=True)
    if not cond:
        fails += 1
        if why:
            print("# " + str(why).replace("\n", "\n# "), flush=True)
    return cond

def diag(s):
    print("# " + s, flush=True)

def spawn(argv, **kw):
    p = subprocess.Popen(argv, **kw)
    procs.append(p)
    return p

def proc_facts(pid):
    try:
        comm = open("/proc/%d/comm" % pid).read().strip()
        exe = os.readlink("/proc/%d/exe" % pid)
        uid = os.stat("/proc/%d" % pid).st_uid
        return comm, exe, uid
    except OSError:
        return None

def readline(f, timeout):
    r, _, _ = select.select([f], [], [], timeout)
    if not r:
        return None
    return f.readline()

def start_sockd(rec):
    if mode == "inside":
        argv = NX + [sockd, "-d", "-w", rec, "-q", "-"]
    else:
        argv = [sockd, "-d", "-N", ns, "-w", rec, "-q", "-"]
    p = spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
              stderr=open(os.path.join(tmp, "sockd-%s.log" % mode), "a"),
              text=True, bufsize=1)
    # Ready when it answers a first look-up.
    p.stdin.write("udp 198.18.2.1:1\n")
    line = readline(p.stdout, 10)
    return p, line

def stop(p, timeout=10):
    if p.poll() is None:
        p.terminate()
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()

def records(rec):
    out = subprocess.run([vbsctl, "dump", rec], capture_output=True,
                         text=True, timeout=60)
    recs = []
    for line in out.stdout.splitlines():
        try:
            recs.append(json.loads(line))
        except ValueError:
            pass
    return out.returncode, recs

def query(p, q):
    t0 = time.monotonic()
    p.stdin.write(q + "\n")
    line = readline(p.stdout, 2)
    rtt = int((time.monotonic() - t0) * 1e6)
    if line is None:
        return None, rtt
    kv = {}
    for w in line.split():
        if "=" in w:
            k, v = w.split("=", 1)
            kv[k] = v
    return kv, rtt

TCP_CLIENT = r'''
import os, socket, sys, time
s = socket.socket()
s.bind(("198.18.2.2", 0))
s.connect(("198.18.2.1", 9000))
exe = os.readlink("/proc/self/exe")
comm = open("/proc/self/comm").read().strip()
print(os.getpid(), s.getsockname()[1], comm, exe, flush=True)
time.sleep(0.030)
s.close()
print(time.clock_gettime(time.CLOCK_MONOTONIC), flush=True)
'''
UDP_CLIENT = r'''
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.2.2", 0))
s.sendto(b"x", ("198.18.2.1", 5353))
exe = os.readlink("/proc/self/exe")
comm = open("/proc/self/comm").read().strip()
print(os.getpid(), s.getsockname()[1], comm, exe, flush=True)
time.sleep(0.010)
s.close()
print(time.clock_gettime(time.CLOCK_MONOTONIC), flush=True)
'''
TCP_SERVER = r'''
import socket, sys, threading
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("198.18.2.1", 9000))
l.listen(64)
print("ready", flush=True)
def serve(c):
    try:
        while c.recv(4096):
            pass
    finally:
        c.close()
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'''

def short_lived(p, user, lookups, n=20):
    """n TCP clients living 30 ms, n UDP sockets living 10 ms.

    Each client prints its pid and port when its socket is open, and
    the time it closed it.  A look-up that left after the close was not
    made while the socket was open (the test, not sockd, was late): it
    is not counted, and the client is run again (bounded)."""
    seen = []
    for kind, code, rport in (("tcp", TCP_CLIENT, 9000),
                              ("udp", UDP_CLIENT, 5353)):
        good = 0
        late = 0
        lat = []
        rtts = []
        done = 0
        tries = 0
        while done < n and tries < n + 10:
            tries += 1
            argv = NX + (["runuser", "-u", user, "--"] if user else []) + \
                [py, "-c", code]
            c = spawn(argv, stdout=subprocess.PIPE, text=True)
            line = readline(c.stdout, 5)
            if line is None or len(line.split()) < 4:
                diag("%s client %d said %r" % (kind, tries, line))
                c.kill()
                continue
            pid, lport, comm, exe = line.split(None, 3)
            exe = exe.strip()
            kv = None
            if lookups:
                sent = time.clock_gettime(time.CLOCK_MONOTONIC)
                kv, rtt = query(p, "%s 198.18.2.2:%s 198.18.2.1:%d" %
                                (kind, lport, rport))
            closed = readline(c.stdout, 5)
            try:
                c.wait(5)
            except subprocess.TimeoutExpired:
                c.kill()
            if lookups and closed and sent > float(closed):
                late += 1
                continue
            if lookups and closed and kv and "read_mono_us" in kv:
                read_at = int(kv["read_mono_us"]) / 1e6
                if read_at > float(closed):
                    # Sent in time, read too late: sockd was held up.
                    diag("%s: sockd read look-up %d %.1f ms after it was "
                         "sent, %.1f ms after the socket closed" %
                         (kind, done + 1, (read_at - sent) * 1e3,
                          (read_at - float(closed)) * 1e3))
                    if os.environ.get("VBS_SANITIZE") == "1":
                        late += 1
                        continue
            done += 1
            seen.append((kind, int(lport), int(pid)))
            if not lookups:
                continue
            if kv and kv.get("found") == "1" and kv.get("pid") == pid \
                    and kv.get("comm") == comm and kv.get("exe") == exe:
                good += 1
                lat.append(int(kv["latency_us"]))
                rtts.append(rtt)
            else:
                diag("%s look-up %d: want pid=%s comm=%s exe=%s, got %r" %
                     (kind, done, pid, comm, exe, kv))
        if lookups:
            ok(good == n and done == n, "%s: %s socket living %s ms: "
               "look-up names its owner %d/%d" %
               (mode, kind, "30" if kind == "tcp" else "10", good, n))
            if late:
                diag("%s %s: %d look-ups reached sockd only after the "
                     "socket had closed (sent late by this test on a "
                     "loaded machine, or read late by sockd under the "
                     "sanitizers): not counted, run again" %
                     (mode, kind, late))
            if lat:
                lat.sort()
                rtts.sort()
                diag("%s %s look-up latency in sockd: median %d us, max %d "
                     "us; round trip through the pipe: median %d us" %
                     (mode, kind, lat[len(lat) // 2], lat[-1],
                      rtts[len(rtts) // 2]))
    return seen

REUSE_PID = r'''
import os, socket, sys
# Fork until a child gets pid WANT (bounded): ns_last_pid makes the
# kernel hand out WANT next, unless another fork on the host wins.
want = int(sys.argv[1])
for attempt in range(20):
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(want - 1))
    pid = os.fork()
    if pid == 0:
        if os.getpid() != want:
            os._exit(3)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("198.18.2.2", 0))
        print(os.getpid(), s.getsockname()[1], flush=True)
        sys.stdin.readline()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        sys.exit(0)
print("nopid", flush=True)
'''

def pid_reuse():
    """A process's pid freed and taken by a fork that does not exec:
    the newcomer's socket is named after the newcomer, not after the
    process that held the pid before (sockd hears no fork or exit)."""
    rec = os.path.join(tmp, "reuse-%s.rec" % mode)
    p, first = start_sockd(rec)
    ok(first is not None, "%s: sockd answers" % mode)
    victim = spawn(NX + ["ncat", "-u", "-l", "198.18.2.2", "47001"],
                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    kv = None
    for _ in range(50):
        time.sleep(0.1)
        kv, _ = query(p, "udp 198.18.2.2:47001")
        if kv and kv.get("found") == "1":
            break
    ok(kv and kv.get("pid") == str(victim.pid) and
       kv.get("comm") == "ncat", "%s: ncat's socket is ncat's" % mode, kv)
    stop(victim)
    newc = spawn(NX + [py, "-c", REUSE_PID, str(victim.pid)],
                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = readline(newc.stdout, 10)
    if line is None or line.strip() == "nopid" or len(line.split()) != 2:
        print("ok - %s: pid reuse # SKIP pid %d was taken by another "
              "fork on the host 20 times" % (mode, victim.pid), flush=True)
    else:
        pid, port = line.split()
        facts = proc_facts(int(pid))
        kv, _ = query(p, "udp 198.18.2.2:%s" % port)
        ok(facts is not None and kv and kv.get("pid") == pid and
           kv.get("comm") == facts[0] and kv.get("exe") == facts[1],
           "%s: pid %s freed by ncat and taken by a fork of %s: its "
           "socket is named %s, %s" % (mode, pid, py, facts and facts[0],
                                       facts and facts[1]), kv)
    newc.stdin.write("\n")
    newc.stdin.flush()
    stop(newc)
    stop(p)

def main():
    rec1 = os.path.join(tmp, "progs-%s.rec" % mode)
    rec2 = os.path.join(tmp, "look-%s.rec" % mode)
    rec3 = os.path.join(tmp, "destroy-%s.rec" % mode)

    srv = spawn(NX + [py, "-c", TCP_SERVER], stdout=subprocess.PIPE,
                text=True)
    ok(readline(srv.stdout, 10) is not None, "%s: python3 TCP server "
       "started" % mode)
    udp = spawn(NX + ["ncat", "-u", "-l", "198.18.2.1", "5353"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)

    # 1. Real programs, while sockd records.
    if mode == "outside":
        p, first = start_sockd(rec1)
        ok(first is not None and first.startswith("found="),
           "sockd started and answers")
        def status(path):
            st = {}
            for line in open(path):
                k, _, v = line.partition(":")
                st[k] = v.strip()
            return st
        st = status("/proc/%d/status" % p.pid)
        uid = str(__import__("pwd").getpwnam("vbs-sockd").pw_uid)
        ok(st.get("Uid", "").split() == [uid] * 4,
           "sockd runs as vbs-sockd", st.get("Uid"))
        # The main thread holds no capability; one other thread, the
        # keeper, holds the two that other users' /proc/PID/fd needs.
        ok(st.get("CapEff") == "0" * 16 and st.get("CapPrm") == "0" * 16,
           "sockd's main thread holds no capability",
           "CapEff %s CapPrm %s" % (st.get("CapEff"), st.get("CapPrm")))
        ok(st.get("NoNewPrivs") == "1", "sockd has no_new_privs")
        ok(st.get("Seccomp") == "2", "sockd is in seccomp filter mode")
        tids = [t for t in os.listdir("/proc/%d/task" % p.pid)
                if int(t) != p.pid]
        ok(len(tids) == 1, "sockd has one other thread", tids)
        kt = status("/proc/%d/task/%s/status" % (p.pid, tids[0])) \
            if len(tids) == 1 else {}
        ok(kt.get("CapEff") == "0000000000080004" and
           kt.get("CapPrm") == "0000000000080004",
           "sockd's keeper thread keeps only CAP_DAC_READ_SEARCH and "
           "CAP_SYS_PTRACE",
           "CapEff %s CapPrm %s" % (kt.get("CapEff"), kt.get("CapPrm")))
        ok(kt.get("Seccomp") == "2" and kt.get("NoNewPrivs") == "1",
           "sockd's keeper thread is in seccomp filter mode")
        hold = spawn(NX + ["ncat", "-l", "198.18.2.1", "8081"],
                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        hold6 = spawn(NX + ["ncat", "-6", "-l", "fd00:2::1", "8082"],
                      stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        curl = spawn(NX + ["curl", "-s", "-m", "2",
                           "http://198.18.2.1:8081/"],
                     stdout=subprocess.DEVNULL)
        curl6 = spawn(NX + ["curl", "-s", "-m", "2",
                            "http://[fd00:2::1]:8082/"],
                      stdout=subprocess.DEVNULL)
        other = spawn(NX + ["runuser", "-u", "nobody", "--", py, "-c",
                      "import os,socket,time\n"
                      "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                      "s.bind(('198.18.2.2',0))\n"
                      "s.sendto(b'x',('198.18.2.1',5353))\n"
                      "print(os.getpid(),s.getsockname()[1],flush=True)\n"
                      "time.sleep(1.5)\n"],
                      stdout=subprocess.PIPE, text=True)
        oline = readline(other.stdout, 5)
        time.sleep(0.4)
        want = {}
        for name, pr in (("python3 server", srv), ("ncat UDP", udp),
                         ("curl", curl), ("curl v6", curl6)):
            want[name] = (pr.pid, proc_facts(pr.pid))
        opid = int(oline.split()[0]) if oline else -1
        oport = int(oline.split()[1]) if oline else -1
        want["nobody's python3"] = (opid, proc_facts(opid))
        for pr in (curl, curl6, other):
            try:
                pr.wait(5)
            except subprocess.TimeoutExpired:
                pr.kill()
        time.sleep(0.5)
        stop(p)
        rc, recs = records(rec1)
        ok(rc == 0 and recs and recs[0].get("type") == "hello" and
           recs[-1].get("type") == "bye", "recording: hello ... bye, "
           "%d records" % len(recs))
        socks = [r for r in recs if r.get("type") == "socket"]
        def match(name, r):
            pid, facts = want[name]
            if name == "python3 server":
                return r["proto"] == 6 and r["lport"] == 9000 and \
                    r["state"] == 10
            if name == "ncat UDP":
                return r["proto"] == 17 and r["lport"] == 5353
            if name == "curl":
                return r["proto"] == 6 and r["rport"] == 8081
            if name == "curl v6":
                return r["proto"] == 6 and r["rport"] == 8082 and \
                    r["ipver"] == 6
            return r["proto"] == 17 and r["lport"] == oport
        for name in want:
            pid, facts = want[name]
            opens = [r for r in socks if match(name, r) and
                     r["event"] in ("open", "snapshot")]
            if facts is None:
                ok(False, "%s: seen alive" % name)
                continue
            comm, exe, uid = facts
            good = [r for r in opens if r["pid"] == pid and
                    r["comm"] == comm and r["exe"] == exe and
                    r["uid"] == uid]
            ok(len(good) > 0, "%s appears: pid %d, %s, %s, uid %d" %
               (name, pid, comm, exe, uid),
               "\n".join(json.dumps(r) for r in opens) or "no open event")
            if name in ("curl", "curl v6", "nobody's python3") and good:
                ck = good[0]["cookie"]
                closes = [r for r in socks if r["cookie"] == ck and
                          r["event"] == "close"]
                ok(closes and closes[0]["pid"] == pid,
                   "%s: its close follows, with its owner" % name,
                   json.dumps(closes))
        stop(hold)
        stop(hold6)
        pid_reuse()

    # 2. Look-ups while short sockets are open.
    p, first = start_sockd(rec2)
    ok(first is not None, "%s: sockd answers" % mode)
    short_lived(p, "nobody", True)
    stop(p)

    # 3. No look-ups: destroy events alone.
    p, first = start_sockd(rec3)
    seen = short_lived(p, "nobody", False)
    time.sleep(0.5)
    stop(p)
    rc, recs = records(rec3)
    closes = [r for r in recs if r.get("type") == "socket" and
              r["event"] == "close" and r["source"] == "destroy"]
    nobody = __import__("pwd").getpwnam("nobody").pw_uid
    for kind in ("tcp", "udp"):
        want = [s for s in seen if s[0] == kind]
        got = 0
        uids = {}
        owners = 0
        for k, lport, pid in want:
            # A TCP client's socket knows its peer; an unconnected UDP
            # socket that used sendto() has none.
            m = [r for r in closes if r["lport"] == lport and
                 r["proto"] == (6 if kind == "tcp" else 17) and
                 r["laddr"] == "198.18.2.2" and r["cookie"] != 0 and
                 (kind == "udp" or (r["raddr"] == "198.18.2.1" and
                                    r["rport"] == 9000))]
            got += bool(m)
            if not m:
                diag("%s port %d: no destroy close; its records: %s" %
                     (kind, lport, [r for r in recs if r.get("type") ==
                                    "socket" and r["lport"] == lport]))
            for r in m[:1]:
                uids[r["uid"]] = uids.get(r["uid"], 0) + 1
                owners += r["pid"] == pid
        ok(got == 20 and len(want) == 20, "%s: %s close reported by a "
           "destroy event with cookie, addresses and ports, no look-up: "
           "%d/20" % (mode, kind, got))
        diag("%s %s destroy events: uid %s (nobody is %d; the kernel "
             "reports 0 for a socket already detached from its file, "
             "sockd the uid it knew); owner known for %d/20 (seen by a "
             "dump first)" % (mode, kind, uids, nobody, owners))
    for x in procs:
        if x.poll() is None:
            x.kill()
    sys.exit(1 if fails else 0)

try:
    main()
finally:
    for x in procs:
        if x.poll() is None:
            x.kill()
EOF

for mode in outside inside; do
	timeout -k 5 300 $PY "$T/driver.py" "$NS" "$BIN" "$T" "$PY" "$mode" ||
	    { diag "driver ($mode) failed"; tail -5 "$T"/sockd-$mode.log |
	      sed 's/^/# /'; }
	for pid in $(ip netns pids "$NS" 2>/dev/null); do
		kill "$pid" 2>/dev/null
	done
	sleep 0.3
done
