#!/usr/bin/env python3
# tests/fuzz/mkseeds.py: writes the seed corpora of fuzz_msg and
# fuzz_record: one good message of each type (proto/PROTOCOL.md), and a
# recording holding them.  Deterministic; run it when the format changes.
import os, struct, sys

def pack(v):
    if v is None: return b'\xc0'
    if v is True: return b'\xc3'
    if v is False: return b'\xc2'
    if isinstance(v, int):
        if v < 0:
            return b'\xd2' + struct.pack('>i', v)
        if v < 128: return bytes([v])
        if v < 1 << 8: return b'\xcc' + bytes([v])
        if v < 1 << 16: return b'\xcd' + struct.pack('>H', v)
        if v < 1 << 32: return b'\xce' + struct.pack('>I', v)
        return b'\xcf' + struct.pack('>Q', v)
    if isinstance(v, str):
        b = v.encode()
        return (bytes([0xa0 | len(b)]) if len(b) < 32 else b'\xd9' + bytes([len(b)])) + b
    if isinstance(v, bytes):
        return b'\xc4' + bytes([len(v)]) + v
    if isinstance(v, list):
        return bytes([0x90 | len(v)]) + b''.join(pack(x) for x in v) if len(v) < 16 else \
            b'\xdc' + struct.pack('>H', len(v)) + b''.join(pack(x) for x in v)
    if isinstance(v, dict):
        return bytes([0x80 | len(v)]) + b''.join(pack(k) + pack(x) for k, x in v.items())
    raise TypeError(v)

T = 1700000000000000
a4 = bytes([198, 18, 0, 1]); b4 = bytes([198, 18, 0, 2])
a6 = bytes([0xfd] + [0] * 14 + [1]); b6 = bytes([0xfd] + [0] * 14 + [2])
sock = [T, 1, 1, 4, 6, 1, a4, 40000, b4, 80, 12345, 99, 1000, 4242, 'curl', '/usr/bin/curl']
msgs = {
    'hello': [1, [T, 1, 'capd', 'host', 'Linux 6.1', 'vbs 0.1.0', ['eth0', 'lo'], [[a4, 24], [a6, 64]]]],
    'packets': [2, [T, 0, 0, 4, 6, a4, 40000, b4, 80, 60, 2, 0, 0],
                   [T + 5, 0, 1, 4, 6, b4, 80, a4, 40000, 60, 0x12, 0, 0],
                   [T + 9, 1, 2, 6, 17, a6, 53, b6, 5353, 1280, 0, 1, 77],
                   [T + 9, 1, 2, 6, 17, a6, 53, b6, 5353, 200, 0, 6, 77]],
    'sockets': [3, sock, [T + 1, 2, 2, 6, 17, 0, a6, 53, b6, 0, 0, 7, 0, -1, '', '']],
    'lookup': [4, [T, 7, 4, 6, a4, 40000, b4, 80]],
    'answer': [5, [T, 7, 31, True, sock], [T, 8, 2, False, None]],
    'stats': [6, [T, {'received': 10, 'emitted': 9, 'not_ip': 1}]],
    'bye': [7, [T, 'SIGTERM']],
}
top = os.path.dirname(os.path.abspath(__file__))
for name in ('fuzz_msg', 'fuzz_record'):
    os.makedirs(os.path.join(top, 'corpus', name), exist_ok=True)
rec = b'\x89VBSREC\n' + struct.pack('>II', 1, 0)
for k, v in msgs.items():
    m = pack(v)
    open(os.path.join(top, 'corpus', 'fuzz_msg', k), 'wb').write(m)
    rec += struct.pack('>I', len(m)) + m
open(os.path.join(top, 'corpus', 'fuzz_record', 'all'), 'wb').write(rec)
open(os.path.join(top, 'corpus', 'fuzz_record', 'cut'), 'wb').write(rec[:-7])
