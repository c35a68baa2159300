#!/usr/bin/env python3
# tests/flowd/golden.py: per-packet golden rows of flowd's packets table.
#
#   golden.py tshark CAPTURE REF.tsv tcp|udp   rows as tshark shows them
#   golden.py flowd OUTDIR PROTO EP_A EP_B     rows as flowd wrote them
#
# A golden file is "# proto ep_a ep_b stream" then one line per packet:
# "direction size tcp_flags rel_us", direction 0 for packets sent by the
# endpoint that sent the conversation's first packet (capd -r with no
# local networks makes that side local), size the IP total length,
# tcp_flags the low 8 bits of the TCP flags, rel_us the microseconds
# since the previous packet (0 for the first).  The conversation picked
# is the one with the most packets (at most 400) lasting under 60 s, so
# that it is one VBS flow (no idle timeout splits it).
import glob, ipaddress, sqlite3, subprocess, sys


def us(t):
    s, _, f = t.partition('.')
    return int(s) * 1000000 + int((f + '000000')[:6])


def ep(s):
    h, p = s.rsplit(':', 1)
    return ipaddress.ip_address(h.strip('[]')), int(p)


def pick(ref, proto):
    best = None
    with open(ref) as f:
        hdr = f.readline().rstrip('\n').split('\t')
        for line in f:
            r = dict(zip(hdr, line.rstrip('\n').split('\t')))
            n = int(r['packets'])
            if r['proto'] != proto or n > 400 or n < 2:
                continue
            if float(r['last_ts']) - float(r['first_ts']) >= 60:
                continue
            if best is None or n > int(best['packets']):
                best = r
    return best


def tshark_rows(cap, ref, proto):
    r = pick(ref, proto)
    if r is None:
        return None
    fields = ['frame.time_epoch', 'ip.src', 'ipv6.src', 'ip.len',
              'ipv6.plen', 'tcp.flags', proto + '.srcport']
    cmd = ['tshark', '-r', cap, '-Y', '%s.stream == %s && !icmp && !icmpv6' % (proto, r['stream']),
           '-T', 'fields', '-E', 'occurrence=f']
    for x in fields:
        cmd += ['-e', x]
    out = subprocess.run(cmd, capture_output=True, text=True,
                         check=True).stdout
    lines = ['# %s %s %s %s' % (proto, r['ep_a'], r['ep_b'], r['stream'])]
    first = prev = None
    for line in out.splitlines():
        t, s4, s6, l4, pl6, fl, sport = line.split('\t')
        src = (s4 or s6, sport)
        size = int(l4) if l4 else 40 + int(pl6)
        flags = int(fl, 16) & 0xff if (proto == 'tcp' and fl) else 0
        ts = us(t)
        if first is None:
            first = src
        rel = 0 if prev is None else ts - prev
        prev = ts
        lines.append('%d %d %d %d' % (0 if src == first else 1, size, flags,
                                       rel))
    return '\n'.join(lines) + '\n'


def flowd_rows(outdir, proto, a, b):
    pnum = {'tcp': 6, 'udp': 17}[proto]
    ea, eb = ep(a), ep(b)
    rows = []
    for db in sorted(glob.glob(outdir + '/*.sqlite')):
        c = sqlite3.connect(db)
        q = ('SELECT p.flow_id, p.seq, p.direction, p.size, p.tcp_flags, '
             'p.rel_us, f.local_ip, f.local_port FROM packets p JOIN flows f '
             'ON f.flow_id = p.flow_id WHERE f.protocol = ? AND '
             '((f.local_ip = ? AND f.local_port = ? AND f.remote_ip = ? AND '
             'f.remote_port = ?) OR (f.local_ip = ? AND f.local_port = ? AND '
             'f.remote_ip = ? AND f.remote_port = ?))')
        rows += c.execute(q, (pnum, str(ea[0]), ea[1], str(eb[0]), eb[1],
                              str(eb[0]), eb[1], str(ea[0]), ea[1])).fetchall()
    rows.sort()
    lines = ['# %s %s %s' % (proto, a, b)]
    for r in rows:
        lines.append('%d %d %d %d' % (r[2], r[3], r[4], r[5]))
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    if sys.argv[1] == 'tshark':
        g = tshark_rows(sys.argv[2], sys.argv[3], sys.argv[4])
        if g is None:
            sys.exit(2)
        sys.stdout.write(g)
    else:
        sys.stdout.write(flowd_rows(*sys.argv[2:6]))
