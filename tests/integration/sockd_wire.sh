#!/bin/sh
# tests/integration/sockd_wire.sh: sockd's socket to flowd, with a small
# flowd stand-in in python3 (its own msgpack reader and writer, so the
# test does not trust the codec it checks).  SOCK_SEQPACKET inherited
# with -S, as vbsd hands it: hello first, socket events, a look-up
# answered with the owner and the id echoed, "not found" answered too, a
# malformed message refused without harm.  Then --connect: sockd finds
# flowd's socket again after flowd went away, with a new hello.
# Everything on 198.18.2.0/24 in a namespace of the test's own.

. "${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"

need_root "sockd wire"
command -v python3 >/dev/null 2>&1 || { skip "sockd wire" "no python3"; exit 0; }
[ -x "$BIN/sockd" ] || { not_ok "sockd wire: build sockd first"; exit 1; }
ensure_users || { not_ok "sockd wire: users"; exit 1; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

NS=vbs-sockd-w$$
T=$(tmpdir)
cleanup() {
	for pid in $(ip netns pids "$NS" 2>/dev/null); do
		kill "$pid" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
ip netns add "$NS" || { not_ok "sockd wire: netns"; exit 1; }
ip -n "$NS" link set lo up
ip -n "$NS" addr add 198.18.2.1/24 dev lo
ip -n "$NS" addr add 198.18.2.2/24 dev lo
# sockd connects after it dropped to vbs-sockd: the path must be open
# to it (as vbsd's runtime directory is).
chmod 711 "$T"

cat >"$T/flowd.py" <<'EOF'
import os, select, socket, struct, subprocess, sys, time

ns, sockd, tmp = sys.argv[1:4]
fails = 0

def ok(c, name, why=""):
    global fails
    print(("ok - " if c else "not ok - ") + name, flush=True)
    if not c:
        fails += 1
        if why:
            print("# %s" % (why,), flush=True)

# A strict-enough msgpack reader for what sockd sends.
def unpack(b, i=0):
    t = b[i]
    if t <= 0x7f: return t, i + 1
    if 0x80 <= t <= 0x8f: return unpack_map(b, i + 1, t & 15)
    if 0x90 <= t <= 0x9f: return unpack_arr(b, i + 1, t & 15)
    if 0xa0 <= t <= 0xbf:
        n = t & 31; return b[i+1:i+1+n].decode(), i + 1 + n
    if t == 0xc0: return None, i + 1
    if t == 0xc2: return False, i + 1
    if t == 0xc3: return True, i + 1
    if t == 0xc4: n = b[i+1]; return bytes(b[i+2:i+2+n]), i + 2 + n
    if t == 0xc5:
        n = struct.unpack(">H", b[i+1:i+3])[0]
        return bytes(b[i+3:i+3+n]), i + 3 + n
    for code, fmt, size in ((0xcc, ">B", 1), (0xcd, ">H", 2),
                            (0xce, ">I", 4), (0xcf, ">Q", 8),
                            (0xd0, ">b", 1), (0xd1, ">h", 2),
                            (0xd2, ">i", 4), (0xd3, ">q", 8)):
        if t == code:
            return struct.unpack(fmt, b[i+1:i+1+size])[0], i + 1 + size
    if t == 0xd9: n = b[i+1]; return b[i+2:i+2+n].decode(), i + 2 + n
    if t == 0xdc: return unpack_arr(b, i + 3, struct.unpack(">H", b[i+1:i+3])[0])
    if t == 0xdd: return unpack_arr(b, i + 5, struct.unpack(">I", b[i+1:i+5])[0])
    if t == 0xde: return unpack_map(b, i + 3, struct.unpack(">H", b[i+1:i+3])[0])
    if t >= 0xe0: return t - 256, i + 1
    raise ValueError("msgpack type 0x%02x at %d" % (t, i))

def unpack_arr(b, i, n):
    out = []
    for _ in range(n):
        v, i = unpack(b, i); out.append(v)
    return out, i

def unpack_map(b, i, n):
    out = {}
    for _ in range(n):
        k, i = unpack(b, i); v, i = unpack(b, i); out[k] = v
    return out, i

def lookup(qid, proto, laddr, lport, raddr, rport):
    rec = bytes([0x98]) + b"\xcf" + struct.pack(">Q", int(time.time() * 1e6))
    rec += b"\xce" + struct.pack(">I", qid) + bytes([4, proto])
    rec += b"\xc4\x04" + socket.inet_aton(laddr) + b"\xcd" + struct.pack(">H", lport)
    rec += b"\xc4\x04" + socket.inet_aton(raddr) + b"\xcd" + struct.pack(">H", rport)
    return b"\xdd" + struct.pack(">I", 2) + bytes([4]) + rec

def recv_until(s, want, timeout=5):
    """Messages until one of type want; returns (it, everything)."""
    end = time.monotonic() + timeout
    seen = []
    while time.monotonic() < end:
        r, _, _ = select.select([s], [], [], max(0, end - time.monotonic()))
        if not r:
            break
        b = s.recv(65536)
        if not b:
            break
        m, _ = unpack(b)
        seen.append(m)
        if m[0] == want:
            return m, seen
    return None, seen

SOCK = 3; ANSWER = 5; HELLO = 1

# Record fields: ts event source ipver proto state laddr lport raddr
# rport inode cookie uid pid comm exe (proto/PROTOCOL.md).
# A connection for sockd to find: python itself holds both ends.
srv = socket.socket()
srv.bind(("198.18.2.1", 9300)); srv.listen()
cli = socket.socket(); cli.bind(("198.18.2.2", 0))
cli.connect(("198.18.2.1", 9300)); acc, _ = srv.accept()
cport = cli.getsockname()[1]

# 1. -S FD: a socket pair, as vbsd makes it.
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
p = subprocess.Popen([sockd, "-d", "-N", ns, "-S", str(b.fileno())],
                     pass_fds=[b.fileno()],
                     stderr=open(os.path.join(tmp, "sockd.log"), "a"))
b.close()
first, _ = recv_until(a, HELLO)
ok(first is not None and first[1][2] == "sockd",
   "-S: the stream starts with sockd's hello", first)
snap, seen = recv_until(a, SOCK)
recs = [r for m in seen if m[0] == SOCK for r in m[1:]]
mine = [r for r in recs if r[7] == cport or r[9] == cport]
ok(mine and all(r[1] == 3 and r[13] == os.getpid() for r in mine),
   "-S: the snapshot has this test's connection with its pid", mine)

a.send(lookup(7, 6, "198.18.2.2", cport, "198.18.2.1", 9300))
ans, _ = recv_until(a, ANSWER)
rec = ans[1] if ans else None
ok(rec is not None and rec[1] == 7 and rec[3] is True and
   rec[4][13] == os.getpid() and rec[4][14] == open("/proc/self/comm").read().strip(),
   "-S: a look-up is answered with its id and the owner (latency %s us)" %
   (rec[2] if rec else "?"), rec)

a.send(b"\x93\x01\x02\x03garbage")
a.send(lookup(8, 6, "198.18.2.2", 1, "198.18.2.1", 9300))
ans, _ = recv_until(a, ANSWER)
rec = ans[1] if ans else None
ok(rec is not None and rec[1] == 8 and rec[3] is False and p.poll() is None,
   "-S: a malformed message is refused; sockd answers the next: not found",
   rec)

cli.close(); acc.close()
end = time.monotonic() + 3
closes = []
while time.monotonic() < end and not closes:
    m, seen = recv_until(a, SOCK, 1)
    closes += [r for mm in seen if mm[0] == SOCK for r in mm[1:]
               if r[1] == 2 and r[7] == cport]
ok(closes and closes[0][13] == os.getpid(),
   "-S: the close follows over the socket, with its owner", closes)
p.terminate(); p.wait(10)

# 2. --connect: flowd goes away and comes back.
path = os.path.join(tmp, "flowd.sock")
def listener():
    l = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    if os.path.exists(path):
        os.unlink(path)
    l.bind(path); os.chmod(path, 0o666); l.listen(1)
    return l
l = listener()
p = subprocess.Popen([sockd, "-d", "-N", ns, "--connect", path],
                     stderr=open(os.path.join(tmp, "sockd.log"), "a"))
r, _, _ = select.select([l], [], [], 5)
c = l.accept()[0] if r else None
h, _ = recv_until(c, HELLO) if c else (None, None)
ok(h is not None, "--connect: sockd connects and says hello")
if c: c.close()
l.close()
time.sleep(0.5)
l = listener()
r, _, _ = select.select([l], [], [], 8)
c = l.accept()[0] if r else None
h, _ = recv_until(c, HELLO) if c else (None, None)
ok(h is not None, "--connect: after flowd went away, sockd connects again "
   "with a new hello")
p.terminate(); p.wait(10)
sys.exit(1 if fails else 0)
EOF
timeout -k 5 120 ip netns exec "$NS" $PY "$T/flowd.py" "$NS" "$BIN/sockd" "$T" ||
    { diag "flowd stand-in failed"; tail -5 "$T/sockd.log" | sed 's/^/# /'; }
