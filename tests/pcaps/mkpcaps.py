#!/usr/bin/env python3
"""mkpcaps.py: writes the small captures capd's tests read (tests/pcaps/).

Deterministic: the same bytes every run, so the files are committed
beside this script and regenerated only on purpose:

    python3 tests/pcaps/mkpcaps.py tests/pcaps

Each capture covers one link type or one decoding case; the comments in
main() say which.
Addresses are documentation ranges (192.0.2.0/24, 198.51.100.0/24,
2001:db8::/32).  Checksums are left zero: capd never checks them.
"""
import os
import struct
import sys

T0 = 1700000000  # first timestamp, seconds


def csum(b):
    return 0


def ip4(a):
    return bytes(int(x) for x in a.split('.'))


def ip6(a):
    import ipaddress
    return ipaddress.IPv6Address(a).packed


def tcp(sport, dport, flags, payload=b'', doff=5, opts=b''):
    hdr = struct.pack('!HHIIBBHHH', sport, dport, 1000, 2000,
                      doff << 4, flags, 65535, 0, 0)
    return hdr + opts + payload


def udp(sport, dport, payload=b''):
    return struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload


def icmp4(payload=b'ping'):
    return struct.pack('!BBHHH', 8, 0, 0, 1, 1) + payload


def icmp6(payload=b'ping'):
    return struct.pack('!BBHHH', 128, 0, 0, 1, 1) + payload


def v4(src, dst, proto, l4, ident=1, frag=0, opts=b'', totlen=None,
       ihl=None, ver=4):
    if ihl is None:
        ihl = 5 + len(opts) // 4
    tot = 20 + len(opts) + len(l4) if totlen is None else totlen
    hdr = struct.pack('!BBHHHBBH4s4s', (ver << 4) | ihl, 0, tot, ident,
                      frag, 64, proto, 0, ip4(src), ip4(dst))
    return hdr + opts + l4


def v6(src, dst, nh, l4, plen=None):
    pl = len(l4) if plen is None else plen
    return struct.pack('!IHBB16s16s', 6 << 28, pl, nh, 64,
                       ip6(src), ip6(dst)) + l4


def ext(nh, body_len8=0):
    """hop-by-hop, routing or destination options: (len+1)*8 bytes"""
    return bytes([nh, body_len8]) + bytes(6 + 8 * body_len8)


def eth(ethertype, payload, src=b'\x02\0\0\0\0\x01', dst=b'\x02\0\0\0\0\x02'):
    return dst + src + struct.pack('!H', ethertype) + payload


def vlan(tpid, tag, inner_type, payload):
    return struct.pack('!HH', tag, inner_type) + payload


def pcap(path, linktype, frames, snaplen=65535, nsec=False, big=False,
         trailer=b''):
    """frames: list of bytes, or (bytes, wirelen), or (bytes, wirelen, usec)"""
    e = '>' if big else '<'
    magic = 0xa1b23c4d if nsec else 0xa1b2c3d4
    out = struct.pack(e + 'IHHiIII', magic, 2, 4, 0, 0, snaplen, linktype)
    for i, f in enumerate(frames):
        if isinstance(f, tuple):
            data, wire = f[0], f[1]
        else:
            data, wire = f, len(f)
        sub = 1000 * i + 17
        if nsec:
            sub = sub * 1000 + 123
        cap = min(len(data), snaplen)
        out += struct.pack(e + 'IIII', T0 + i, sub, cap, max(wire, cap))
        out += data[:cap]
    with open(path, 'wb') as fp:
        fp.write(out + trailer)


def pcapng(path, linktype, frames, ifaces=2, tsresol=9):
    def block(btype, body):
        body += bytes((-len(body)) % 4)
        n = 12 + len(body)
        return struct.pack('<II', btype, n) + body + struct.pack('<I', n)
    out = block(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1))
    for _ in range(ifaces):
        opt = struct.pack('<HHB', 9, 1, tsresol) + bytes(3)
        opt += struct.pack('<HH', 0, 0)
        out += block(1, struct.pack('<HHI', linktype, 0, 65535) + opt)
    for i, f in enumerate(frames):
        ts = (T0 + i) * 10 ** tsresol + 1000 * i + 17
        body = struct.pack('<IIIII', i % ifaces, ts >> 32, ts & 0xffffffff,
                           len(f), len(f)) + f
        out += block(6, body)
    with open(path, 'wb') as fp:
        fp.write(out)


A, B = '192.0.2.1', '198.51.100.7'
A6, B6 = '2001:db8::1', '2001:db8:1::7'


def tcp_session4(a=A, b=B, sport=40000, dport=80):
    """a small TCP connection: handshake, data both ways, FIN, RST"""
    return [
        v4(a, b, 6, tcp(sport, dport, 0x02), ident=1),
        v4(b, a, 6, tcp(dport, sport, 0x12), ident=2),
        v4(a, b, 6, tcp(sport, dport, 0x10), ident=3),
        v4(a, b, 6, tcp(sport, dport, 0x18, b'GET / HTTP/1.0\r\n\r\n'), ident=4),
        v4(b, a, 6, tcp(dport, sport, 0x18, b'HTTP/1.0 200 OK\r\n\r\nhello'), ident=5),
        v4(a, b, 6, tcp(sport, dport, 0x11), ident=6),
        v4(b, a, 6, tcp(dport, sport, 0x04), ident=7),
    ]


def udp_pair6(a=A6, b=B6, sport=50000, dport=53):
    return [
        v6(a, b, 17, udp(sport, dport, b'\x12\x34query')),
        v6(b, a, 17, udp(dport, sport, b'\x12\x34answer!')),
    ]


def main(outdir):
    os.makedirs(outdir, exist_ok=True)
    p = lambda n: os.path.join(outdir, n)
    E4 = lambda x: eth(0x0800, x)
    E6 = lambda x: eth(0x86dd, x)

    # Ethernet
    pcap(p('eth_tcp4.pcap'), 1, [E4(f) for f in tcp_session4()])
    pcap(p('eth_udp6.pcap'), 1, [E6(f) for f in udp_pair6()])
    pcap(p('eth_big_endian.pcap'), 1, [E4(f) for f in tcp_session4()[:3]],
         big=True)
    pcap(p('eth_nsec.pcap'), 1, [E6(f) for f in udp_pair6()], nsec=True)
    pcap(p('eth_tso_len0.pcap'), 1,
         [E4(v4(A, B, 6, tcp(40001, 443, 0x10, bytes(1400)), totlen=0))])
    # VLAN: 802.1Q, QinQ (802.1ad outer), old 0x9100, three tags
    t4 = tcp_session4()[0]
    pcap(p('vlan.pcap'), 1, [
        eth(0x8100, vlan(0x8100, 10, 0x0800, t4)),
        eth(0x8100, vlan(0x8100, 10, 0x86dd, udp_pair6()[0])),
    ])
    pcap(p('qinq.pcap'), 1, [
        eth(0x88a8, vlan(0, 100, 0x8100, vlan(0, 10, 0x0800, t4))),
        eth(0x9100, vlan(0, 100, 0x8100, vlan(0, 10, 0x86dd,
                                               udp_pair6()[1]))),
        eth(0x88a8, vlan(0, 1, 0x8100, vlan(0, 2, 0x8100,
                                             vlan(0, 3, 0x0800, t4)))),
    ])
    # PPPoE: session with 2-byte and compressed protocol, discovery
    def pppoe(proto, payload):
        return struct.pack('!BBHH', 0x11, 0, 0x2d, len(proto) + len(payload)) \
            + proto + payload
    pcap(p('pppoe.pcap'), 1, [
        eth(0x8863, struct.pack('!BBHH', 0x11, 0x09, 0, 0)),
        eth(0x8864, pppoe(b'\x00\x21', t4)),
        eth(0x8864, pppoe(b'\x21', tcp_session4()[1])),
        eth(0x8864, pppoe(b'\x00\x57', udp_pair6()[0])),
        eth(0x8864, pppoe(b'\xc0\x21', b'\x01\x01\x00\x04')),  # LCP
    ])
    # MPLS, two labels
    pcap(p('mpls.pcap'), 1, [
        eth(0x8847, struct.pack('!II', (16 << 12) | 64, (17 << 12) | 0x100 | 64) + t4),
    ])
    # Linux cooked v1 and v2: incoming and outgoing
    def sll(ptype, proto, payload):
        return struct.pack('!HHH8sH', ptype, 1, 6, b'\x02\0\0\0\0\x01\0\0',
                           proto) + payload
    def sll2(ptype, proto, payload):
        return struct.pack('!HHIHBB8s', proto, 0, 2, 1, ptype, 6,
                           b'\x02\0\0\0\0\x01\0\0') + payload
    s4 = tcp_session4()
    pcap(p('sll.pcap'), 113, [
        sll(4, 0x0800, s4[0]), sll(0, 0x0800, s4[1]),
        sll(4, 0x86dd, udp_pair6()[0]), sll(0, 0x0806, bytes(28)),
    ])
    pcap(p('sll2.pcap'), 276, [
        sll2(4, 0x0800, s4[0]), sll2(0, 0x0800, s4[1]),
        sll2(0, 0x86dd, udp_pair6()[1]), sll2(0, 0x0806, bytes(28)),
    ])
    # raw IP: 101 (DLT_RAW), 228 (IPv4), 229 (IPv6)
    pcap(p('raw101.pcap'), 101, [s4[0], udp_pair6()[0], b'\x50' + bytes(19)])
    pcap(p('raw228.pcap'), 228, s4[:3])
    pcap(p('raw229.pcap'), 229, udp_pair6())
    # BSD loopback: NULL in host order (little), LOOP in network order
    pcap(p('null.pcap'), 0, [
        struct.pack('<I', 2) + s4[0],
        struct.pack('<I', 30) + udp_pair6()[0],
        struct.pack('<I', 24) + udp_pair6()[1],
        struct.pack('>I', 2) + s4[1],
        struct.pack('<I', 7) + bytes(20),
    ])
    pcap(p('loop.pcap'), 108, [
        struct.pack('>I', 2) + s4[0],
        struct.pack('>I', 28) + udp_pair6()[0],
    ])
    # PPP: HDLC-like, compressed protocol, Cisco HDLC, LCP
    pcap(p('ppp.pcap'), 9, [
        b'\xff\x03\x00\x21' + s4[0],
        b'\x00\x57' + udp_pair6()[0],
        b'\x21' + s4[1],
        b'\x0f\x00\x08\x00' + s4[2],
        b'\x8f\x00\x80\x35' + bytes(28),   # Cisco SLARP
        b'\xff\x03\xc0\x21' + bytes(8),     # LCP
    ])
    # PPI around Ethernet
    ppi = struct.pack('<BBHI', 0, 0, 8, 1)
    pcap(p('ppi.pcap'), 192, [ppi + E4(s4[0]), ppi + E6(udp_pair6()[0])])
    # IPv4 options: 4 and 40 bytes of them
    pcap(p('ipv4_options.pcap'), 1, [
        E4(v4(A, B, 6, tcp(40002, 22, 0x02), opts=b'\x94\x04\x00\x00')),
        E4(v4(A, B, 17, udp(40003, 123, b'ntp'), opts=b'\x01' * 40)),
    ])
    # IPv6 extension headers: hop-by-hop, dest opts, routing, AH, no next
    ah = bytes([6, 4]) + bytes(22)          # (4+2)*4 = 24 bytes
    pcap(p('ipv6_ext.pcap'), 1, [
        E6(v6(A6, B6, 0, ext(60) + ext(43, 1) + ext(6) + tcp(40004, 443, 0x02))),
        E6(v6(A6, B6, 51, ah + tcp(40004, 443, 0x10))),
        E6(v6(A6, B6, 60, ext(59))),
        E6(v6(A6, B6, 0, ext(58) + icmp6())),
    ])
    # IPv4 fragments: first (ports), two later, one later without a first
    data = udp(5353, 40005, bytes(1200))
    pcap(p('frag4.pcap'), 1, [
        E4(v4(A, B, 17, data[:504], ident=0x4242, frag=0x2000)),
        E4(v4(A, B, 17, data[504:1000], ident=0x4242, frag=0x2000 | 63)),
        E4(v4(A, B, 17, data[1000:], ident=0x4242, frag=125)),
        E4(v4(B, A, 17, bytes(100), ident=0x9999, frag=200)),
    ])
    # IPv6 fragments: first after hop-by-hop, later, unmatched later
    d6 = udp(5353, 40006, bytes(1000))
    def fh(nh, off, more, ident):
        return struct.pack('!BBHI', nh, 0, (off << 3) | more, ident)
    pcap(p('frag6.pcap'), 1, [
        E6(v6(A6, B6, 0, ext(44) + fh(17, 0, 1, 0xabcdef01) + d6[:600])),
        E6(v6(A6, B6, 44, fh(17, 75, 0, 0xabcdef01) + d6[600:])),
        E6(v6(B6, A6, 44, fh(6, 10, 0, 0x11111111) + bytes(40))),
    ])
    # port-less protocols: ICMP, ICMPv6, GRE, ESP, SCTP, 6in4, IPIP
    pcap(p('portless.pcap'), 1, [
        E4(v4(A, B, 1, icmp4())),
        E6(v6(A6, B6, 58, icmp6())),
        E4(v4(A, B, 47, struct.pack('!HH', 0, 0x0800) + s4[0])),
        E4(v4(A, B, 50, bytes(32))),
        E4(v4(A, B, 132, struct.pack('!HHI', 2905, 2905, 1) + bytes(20))),
        E4(v4(A, B, 41, udp_pair6()[0])),
        E4(v4(A, B, 4, s4[0])),
    ])
    # not IP: ARP, 802.3/LLC (STP), LLDP, IPX
    pcap(p('nonip.pcap'), 1, [
        eth(0x0806, bytes(28)),
        eth(38, b'\x42\x42\x03' + bytes(35)),
        eth(0x88cc, bytes(30)),
        eth(0x8137, bytes(30)),
    ])
    # truncated by the snap length: IP length beyond the captured bytes
    # (emitted, with the header's length), TCP header cut (counted),
    # IP header cut (counted), Ethernet header cut (counted)
    full = E4(v4(A, B, 6, tcp(40007, 80, 0x18, bytes(1000))))
    pcap(p('truncated.pcap'), 1, [
        (full[:96], len(full)),
        (full[:40], len(full)),
        (full[:20], len(full)),
        (full[:10], len(full)),
        (E6(udp_pair6()[0])[:60], len(E6(udp_pair6()[0]))),
    ], snaplen=96)
    # malformed headers: version 5, IHL 3, total length < header,
    # TCP data offset 2, IPv6 chain too long, VLAN tags too deep
    deep = E4(s4[0])
    for _ in range(9):
        deep = eth(0x8100, vlan(0, 1, struct.unpack('!H', deep[12:14])[0], deep[14:]))
    chain = tcp(1, 2, 2)
    nh = 6
    for _ in range(20):
        chain = ext(nh) + chain
        nh = 60
    pcap(p('malformed.pcap'), 1, [
        E4(v4(A, B, 6, tcp(1, 2, 2), ver=5)),
        E4(v4(A, B, 6, tcp(1, 2, 2), ihl=3)),
        E4(v4(A, B, 6, tcp(1, 2, 2), totlen=12)),
        E4(v4(A, B, 6, tcp(1, 2, 2, doff=2))),
        E6(v6(A6, B6, 60, chain)),
        deep,
        E4(s4[0]),
    ])
    # pcapng, two interfaces, nanosecond resolution
    pcapng(p('pcapng_2if.pcapng'), 1, [E4(f) for f in tcp_session4(sport=40010)])
    pcapng(p('pcapng_usec.pcapng'), 1, [E6(f) for f in udp_pair6()], ifaces=1,
           tsresol=6)
    # broken files: every readable packet first, then the damage
    good = [E4(f) for f in tcp_session4(sport=40020)]
    pcap(p('corrupt_header.pcap'), 1, good[:3],
         trailer=struct.pack('<IIII', T0 + 9, 0, 0xea000000, 0xea000000) + bytes(64))
    pcap(p('cut_short.pcap'), 1, good[:4],
         trailer=struct.pack('<IIII', T0 + 9, 0, 200, 200) + bytes(50))
    with open(p('not_a_capture.pcap'), 'wb') as fp:
        fp.write(b'this is not a capture file\n')
    pcap(p('unknown_linktype.pcap'), 147, good[:2])


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
