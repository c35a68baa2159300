#!/usr/bin/env python3
# tests/lab/livepipe.py BIN CONF OUTDIR SECONDS: a live VBS client that
# also records, for tests (not part of VBS).  Makes the two
# SOCK_SEQPACKET socket pairs as vbsd(8) does and starts
#   flowd -d -f CONF -C 3 -S 4 -o OUTDIR/outbox -W OUTDIR/work
#   sockd -d -f CONF -S 3 -R 4 -w OUTDIR/sockd.rec
#   capd  -d -f CONF -S 3 -R 4 -w OUTDIR/capd.rec
# so that capd's packets and sockd's events and answers to the live
# flowd's look-ups are all in the recordings.  Prints "ready" once capd
# and sockd said so.  When OUTDIR/stop appears (or on SIGTERM, or after
# SECONDS), stops capd and sockd
# first, then flowd, as vbsd's ordered shutdown does, and exits 0 when
# all three exited 0.
import os, pwd, select, signal, socket, subprocess, sys, time

bindir, conf, out, limit = sys.argv[1], sys.argv[2], sys.argv[3], \
    float(sys.argv[4])
vbs = pwd.getpwnam("vbs")
for d in ("outbox", "work"):
    p = os.path.join(out, d)
    os.makedirs(p, exist_ok=True)
    os.chown(p, vbs.pw_uid, vbs.pw_gid)

stop = [False]
signal.signal(signal.SIGTERM, lambda *a: stop.__setitem__(0, True))
signal.signal(signal.SIGINT, lambda *a: stop.__setitem__(0, True))

cap_f, cap_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
sock_f, sock_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
log = open(os.path.join(out, "live.log"), "ab")


def start(argv, fds):
    """argv with fds dup'ed to 3, 4, ... in the child."""
    def child():
        tmp = [os.dup(f) for f in fds]
        for i, f in enumerate(tmp):
            os.dup2(f, 3 + i)
    keep = tuple(set(fds) | set(range(3, 3 + len(fds))))
    return subprocess.Popen(argv, preexec_fn=child, pass_fds=keep,
                            stdout=log, stderr=log)


flowd = start([os.path.join(bindir, "flowd"), "-d", "-f", conf, "-C", "3",
               "-S", "4", "-o", os.path.join(out, "outbox"), "-W",
               os.path.join(out, "work")], [cap_f.fileno(), sock_f.fileno()])
ready = []
procs = {}
for name in ("sockd", "capd"):
    r, w = os.pipe()
    s = sock_c if name == "sockd" else cap_c
    procs[name] = start([os.path.join(bindir, name), "-d", "-f", conf, "-S",
                         "3", "-R", "4", "-w",
                         os.path.join(out, name + ".rec")], [s.fileno(), w])
    os.close(w)
    sel = select.select([r], [], [], 30)[0]
    line = os.read(r, 100) if sel else b""
    os.close(r)
    if not line.startswith(b"ready"):
        print("not ready: " + name, flush=True)
        stop[0] = True
        break
# only the stages hold their ends now
for s in (cap_f, cap_c, sock_f, sock_c):
    s.close()
if not stop[0]:
    print("ready", flush=True)

end = time.monotonic() + limit
stopfile = os.path.join(out, "stop")
while not stop[0] and time.monotonic() < end:
    time.sleep(0.1)
    if os.path.exists(stopfile):
        break
    if flowd.poll() is not None:
        print("flowd exited %s" % flowd.returncode, flush=True)
        break

rcs = {}
for name in procs:
    procs[name].terminate()
for name in procs:
    try:
        rcs[name] = procs[name].wait(20)
    except subprocess.TimeoutExpired:
        procs[name].kill()
        rcs[name] = "killed"
if flowd.poll() is None:
    flowd.terminate()
try:
    rcs["flowd"] = flowd.wait(60)
except subprocess.TimeoutExpired:
    flowd.kill()
    rcs["flowd"] = "killed"
print("exit " + " ".join("%s=%s" % kv for kv in sorted(rcs.items())),
      flush=True)
sys.exit(0 if all(v == 0 for v in rcs.values()) else 1)
