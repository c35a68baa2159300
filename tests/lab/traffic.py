#!/usr/bin/env python3
# tests/lab/traffic.py: the lab's traffic mix, run in the client
# namespace as root (a test tool, not part of VBS).  Real programs
# (curl, wget, dig, ncat, openssl s_client, python3 sockets), as root
# and as a second user, over IPv4 and IPv6, against the servers of
# servers.py, dnsmasq and openssl s_server in the server namespace.
#
# Ground truth is by construction: each (program, user) talks to server
# ports of its own, so (protocol, server port) names the program and the
# uid that own the client's socket.  The expected program name is what
# /proc/PID/comm of the real process says (python3 may be a wrapper that
# execs the interpreter), found by asking the program itself.
#
#   traffic.py mix OUTDIR JOBS SECONDS [CONCURRENCY [SEED]]
#       run JOBS jobs (shuffled with SEED), CONCURRENCY at a time, none
#       started after SECONDS; write OUTDIR/truth.tsv and OUTDIR/jobs.tsv
#   traffic.py steady OUTDIR PPS SECONDS
#       python3 UDP requests to the echo server, PPS packets a second
#       counting both ways, a new socket each second
#   traffic.py truth OUTDIR
#       only write OUTDIR/truth.tsv
#
# Environment: LAB_S4, LAB_S6 (server addresses), LAB_USER2 (second
# user, default nobody), LAB_PY (python for root, default python3 from
# PATH), LAB_PY2 (python for the second user, default /usr/bin/python3).
import os, pwd, random, shutil, socket, subprocess, sys, threading, time

S4 = os.environ.get("LAB_S4", "198.18.4.2")
S6 = os.environ.get("LAB_S6", "fd00:4::2")
USER2 = os.environ.get("LAB_USER2", "nobody")
PY = os.environ.get("LAB_PY") or shutil.which("python3") or "/usr/bin/python3"
PY2 = os.environ.get("LAB_PY2", "/usr/bin/python3")
UID2 = pwd.getpwnam(USER2).pw_uid
GID2 = pwd.getpwnam(USER2).pw_gid
AS2 = ["setpriv", "--reuid=%d" % UID2, "--regid=%d" % GID2,
       "--clear-groups", "--"]

# (protocol, server port) -> (program, user).  Ports with no listener
# make refused TCP connections and UDP one-shots.
PORTS = {
    ("tcp", 8001): ("curl", "root"),
    ("tcp", 8002): ("wget", "root"),
    ("tcp", 8003): ("curl", "user2"),
    ("tcp", 8004): ("python3", "root"),
    ("tcp", 7001): ("ncat", "root"),
    ("tcp", 7101): ("python3", "user2"),
    ("tcp", 4433): ("openssl", "root"),
    ("tcp", 53): ("dig", "root"),
    ("tcp", 9001): ("curl", "root"),
    ("tcp", 9002): ("python3", "root"),
    ("tcp", 9003): ("ncat", "user2"),
    ("udp", 53): ("dig", "root"),
    ("udp", 7002): ("ncat", "root"),
    ("udp", 7003): ("python3", "root"),
    ("udp", 7103): ("python3", "user2"),
    ("udp", 9004): ("python3", "root"),
    ("udp", 9005): ("ncat", "user2"),
}
SERVERS = ["http:8001", "http:8002", "http:8003", "http:8004",
           "echo:7001", "echo:7101", "udp:7002", "udp:7003", "udp:7103"]

PY_TCP = r'''
import socket, sys
h, p, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((h, p), timeout=5)
if p == 8004:
    s.sendall(b"GET /%d HTTP/1.1\r\nHost: lab\r\n\r\n" % n)
    while s.recv(65536):
        pass
else:
    for i in range(n):
        s.sendall(b"line %d\n" % i)
        s.recv(100)
s.close()
'''
PY_REFUSED = r'''
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
except OSError:
    pass
'''
PY_UDP = r'''
import socket, sys
h, p, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in h else socket.AF_INET,
                  socket.SOCK_DGRAM)
s.settimeout(1)
for i in range(n):
    s.sendto(b"ping %d" % i, (h, p))
    if p != 9004:
        try:
            s.recv(100)
        except OSError:
            pass
s.close()
'''


def comm_of(argv):
    """The name the real process of argv has in /proc."""
    out = subprocess.run(argv + ["-c",
        "print(open('/proc/self/comm').read().strip())"],
        capture_output=True, text=True, timeout=30)
    return out.stdout.strip() or os.path.basename(argv[-1])[:15]


def truth(outdir):
    names = {"python3": {"root": comm_of([PY]),
                         "user2": comm_of(AS2 + [PY2])}}
    uids = {"root": 0, "user2": UID2}
    with open(os.path.join(outdir, "truth.tsv"), "w") as f:
        f.write("proto\tport\tapp\tuid\tprogram\n")
        for (proto, port), (prog, user) in sorted(PORTS.items()):
            app = names.get(prog, {}).get(user, prog)
            f.write("%s\t%d\t%s\t%d\t%s/%s\n" % (proto, port, app,
                    uids[user], prog, user))


def url(h, port, path):
    return "http://%s:%d/%s" % ("[%s]" % h if ":" in h else h, port, path)


def hostport(h, port):
    return "%s:%d" % ("[%s]" % h if ":" in h else h, port)


# Job kinds: name -> (weight, function(host, rnd) -> (argv, stdin)).
def k_curl(h, r):
    return ["curl", "-s", "-o", "/dev/null", "--max-time", "10",
            url(h, 8001, r.choice([500, 3000, 20000, 150000]))], None
def k_curl2(h, r):
    return AS2 + ["curl", "-s", "-o", "/dev/null", "--max-time", "10",
                  url(h, 8003, r.choice([800, 5000, 100000]))], None
def k_curl_refused(h, r):
    return ["curl", "-s", "-o", "/dev/null", "--max-time", "5",
            url(h, 9001, "")], None
def k_wget(h, r):
    return ["wget", "-q", "-O", "/dev/null", "-t", "1", "-T", "10",
            url(h, 8002, r.choice([1000, 10000, 200000]))], None
def k_py_tcp(h, r):
    return [PY, "-c", PY_TCP, h, "8004", str(r.choice([300, 60000,
                                                      250000]))], None
def k_py2_tcp(h, r):
    return AS2 + [PY2, "-c", PY_TCP, h, "7101", str(r.choice([1, 5, 40]))], None
def k_py_refused(h, r):
    return [PY, "-c", PY_REFUSED, h, "9002"], None
def k_py_udp(h, r):
    return [PY, "-c", PY_UDP, h, "7003", str(r.choice([1, 2, 10, 40]))], None
def k_py2_udp(h, r):
    return AS2 + [PY2, "-c", PY_UDP, h, "7103", str(r.choice([1, 4, 30]))], None
def k_py_oneshot(h, r):
    return [PY, "-c", PY_UDP, h, "9004", "1"], None
def k_ncat_tcp(h, r):
    n = r.choice([1, 10, 200])
    return ["ncat", "-w", "5", "-i", "5", h, "7001"], \
        "".join("line %d\n" % i for i in range(n)) * (40 if n == 200 else 1)
def k_ncat2_refused(h, r):
    return AS2 + ["ncat", "-w", "5", h, "9003"], ""
def k_ncat_udp(h, r):
    n = r.choice([1, 3, 8])
    return ["ncat", "-u", "-i", "1", h, "7002"], \
        "".join("datagram %d\n" % i for i in range(n))
def k_ncat2_oneshot(h, r):
    return AS2 + ["ncat", "-u", "--send-only", h, "9005"], "one\n"
def k_dig(h, r):
    return ["dig", "+tries=1", "+time=3", "@" + h, "-p", "53",
            r.choice(["a.lab.test", "b.lab.test"]),
            r.choice(["A", "AAAA"])], None
def k_dig_tcp(h, r):
    return ["dig", "+tcp", "+tries=1", "+time=3", "@" + h, "-p", "53",
            "c.lab.test", "A"], None
def k_openssl(h, r):
    return ["openssl", "s_client", "-quiet", "-connect",
            hostport(h, 4433)], ""

KINDS = [
    (k_curl, 10, "tcp", 8001), (k_curl2, 5, "tcp", 8003),
    (k_curl_refused, 5, "tcp", 9001), (k_wget, 6, "tcp", 8002),
    (k_py_tcp, 5, "tcp", 8004), (k_py2_tcp, 5, "tcp", 7101),
    (k_py_refused, 4, "tcp", 9002), (k_py_udp, 8, "udp", 7003),
    (k_py2_udp, 5, "udp", 7103), (k_py_oneshot, 5, "udp", 9004),
    (k_ncat_tcp, 6, "tcp", 7001), (k_ncat2_refused, 4, "tcp", 9003),
    (k_ncat_udp, 6, "udp", 7002), (k_ncat2_oneshot, 4, "udp", 9005),
    (k_dig, 12, "udp", 53), (k_dig_tcp, 3, "tcp", 53),
    (k_openssl, 5, "tcp", 4433),
]


def mix(outdir, njobs, seconds, conc, seed):
    truth(outdir)
    r = random.Random(seed)
    weights = [k[1] for k in KINDS]
    jobs = []
    for i in range(njobs):
        k = r.choices(KINDS, weights)[0]
        h = S4 if i % 2 == 0 else S6
        argv, stdin = k[0](h, r)
        jobs.append((i, k[0].__name__[2:], k[2], k[3], 4 if h == S4 else 6,
                     argv, stdin))
    end = time.monotonic() + seconds
    lock = threading.Lock()
    results = []
    nxt = [0]

    def worker():
        while True:
            with lock:
                if nxt[0] >= len(jobs) or time.monotonic() > end:
                    return
                j = jobs[nxt[0]]
                nxt[0] += 1
            t0 = time.monotonic()
            try:
                p = subprocess.run(j[5], input=j[6], text=True,
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL,
                                   stdin=None if j[6] is not None
                                   else subprocess.DEVNULL, timeout=20)
                rc = p.returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
            with lock:
                results.append((j, rc, time.monotonic() - t0))

    ts = [threading.Thread(target=worker) for _ in range(conc)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with open(os.path.join(outdir, "jobs.tsv"), "w") as f:
        f.write("job\tkind\tproto\tport\tipver\trc\tseconds\n")
        for j, rc, d in sorted(results, key=lambda x: x[0][0]):
            f.write("%d\t%s\t%s\t%d\t%d\t%s\t%.3f\n" % (j[0], j[1], j[2],
                    j[3], j[4], rc, d))
    print("# %d of %d jobs run" % (len(results), njobs))


def steady(outdir, pps, seconds):
    """pps/2 requests a second, each answered: pps packets a second."""
    truth(outdir)
    rate = pps / 2.0
    t0 = time.monotonic()
    sent = 0
    socks = []
    for h in (S4, S6):
        socks.append([h, None, 0])
    while True:
        now = time.monotonic() - t0
        if now >= seconds:
            break
        sec = int(now)
        for s in socks:
            if s[1] is None or s[2] != sec:
                if s[1] is not None:
                    s[1].close()
                s[1] = socket.socket(socket.AF_INET6 if ":" in s[0]
                                     else socket.AF_INET, socket.SOCK_DGRAM)
                s[1].setblocking(False)
                s[2] = sec
        due = int(now * rate)
        while sent < due:
            s = socks[sent % 2]
            try:
                s[1].sendto(b"steady %d" % sent, (s[0], 7003))
            except OSError:
                pass
            sent += 1
        for s in socks:
            try:
                while s[1].recv(100):
                    pass
            except OSError:
                pass
        time.sleep(0.002)
    print("# steady: %d requests in %.1f s" % (sent, seconds))


if __name__ == "__main__":
    mode, outdir = sys.argv[1], sys.argv[2]
    if mode == "servers":
        print(" ".join(SERVERS))
    elif mode == "truth":
        truth(outdir)
    elif mode == "mix":
        mix(outdir, int(sys.argv[3]), float(sys.argv[4]),
            int(sys.argv[5]) if len(sys.argv) > 5 else 6,
            int(sys.argv[6]) if len(sys.argv) > 6 else 1)
    elif mode == "steady":
        steady(outdir, float(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit("traffic.py: unknown mode " + mode)
