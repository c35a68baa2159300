#!/usr/bin/env python3
# tests/lab/seqrec.py PATH OUT [STALL] [SECONDS]: a stand-in for flowd in
# tests.  Listens on a SOCK_SEQPACKET socket at PATH, accepts one
# producer, reads nothing for STALL seconds (so the producer's bounded
# queue has to hold what it captures), then saves every message it
# receives as a VBS recording in OUT (proto/PROTOCOL.md), until the
# producer hangs up or SECONDS (default 120) pass.
import os, socket, struct, sys, time

path, out = sys.argv[1], sys.argv[2]
stall = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
limit = float(sys.argv[4]) if len(sys.argv) > 4 else 120.0
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path)
# capd connects after it dropped to its own user: let it write.
os.chmod(path, 0o666)
s.listen(1)
s.settimeout(limit)
c, _ = s.accept()
end = time.monotonic() + limit
time.sleep(stall)
with open(out, 'wb') as f:
    f.write(b'\x89VBSREC\n' + struct.pack('>II', 1, 0))
    c.settimeout(1.0)
    while time.monotonic() < end:
        try:
            m = c.recv(70000)
        except socket.timeout:
            continue
        if not m:
            break
        f.write(struct.pack('>I', len(m)) + m)
        f.flush()
