#!/bin/sh
# tests/integration/flowd_conformance.sh: for every capture in
# ../shared/pcaps, `capd -r F -w r; flowd -r r -o d -P clear` must give,
# per 5-tuple, the packets and IP bytes of the reference conversations
# (ref/F.tsv, made by tshark).  VBS ends flows that tshark does not, so
# flows are summed per 5-tuple.  Known differences are listed below
# with their reason; for those files a mismatch is reported as a
# diagnostic, not a failure, and the files still must not crash flowd.

. "${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"

pcaps=$(shared_pcaps)
if [ -z "$pcaps" ] || [ ! -x "$BIN/capd" ] || [ ! -x "$BIN/flowd" ]; then
	skip "flowd conformance" "needs ../shared/pcaps, capd and flowd"
	exit 0
fi
t=$(tmpdir)
trap 'rm -rf "$t"' EXIT INT TERM

# FILE<TAB>reason: where VBS's flows and tshark's conversations differ
# by design (see ../shared/pcaps/README.md).
cat >"$t/exceptions" <<'EOF'
4in4tunnel.pcap	tunnel: tshark keys IP-in-IP on the inner headers
6in4tunnel.pcap	tunnel: tshark keys 6in4 on the inner headers
vxlan.pcap	tunnel: tshark also counts the inner conversations
teredo.pcap	tunnel: tshark also counts the inner IPv6 conversations
sv_gre-sample.pcap	tunnel: tshark keys GRE on the inner headers
syslog.pcap	tunnel: one 6in4 conversation, keyed on its inner headers by tshark
false_positives.pcapng	tunnel: GTP-U, tshark keys the inner conversations
dnscrypt-v1-and-resolver-pings.pcap	fragments: tshark counts only the reassembling frame
dns_fragmented.pcap	fragments: tshark counts only the reassembling frame
ip_fragmented_garbage.pcap	fragments: tshark counts only reassembled datagrams
sv_exception-policy-defrag-01_ipv4frags.pcap	fragments: tshark counts only the reassembling frame
sv_defrag_bug-6887-defrag-ipv6-tcp_frag-ip-tcp.pcap	fragments: tshark counts only the reassembling frame
badpackets.pcap	broken: bogus fragment flags and IP lengths beyond the capture
sv_ipv4-truncated_truncated.pcap	broken: IP length beyond the captured bytes
fuzz-2021-10-13.pcap	broken: fuzzed headers tshark and capd read differently
reasm_segv_anon.pcapng	broken: fuzzed fragments
ossfuzz_seed_fake_traces_1.pcapng	broken: fuzzed records
EOF

cat >"$t/cmp.py" <<'EOF'
import sqlite3, sys, glob, ipaddress
ref, outdir = sys.argv[1], sys.argv[2]
def ep(s):
    h, p = s.rsplit(':', 1)
    return (ipaddress.ip_address(h.strip('[]')).packed, int(p))
want = {}
with open(ref) as f:
    hdr = f.readline().rstrip('\n').split('\t')
    for line in f:
        r = dict(zip(hdr, line.rstrip('\n').split('\t')))
        k = (r['proto'], frozenset([ep(r['ep_a']), ep(r['ep_b'])]))
        p, b = want.get(k, (0, 0))
        want[k] = (p + int(r['packets']), b + int(r['ip_bytes']))
got = {}
for db in sorted(glob.glob(outdir + '/*.sqlite')):
    c = sqlite3.connect(db)
    for row in c.execute('SELECT protocol, local_ip, local_port, remote_ip,'
            ' remote_port, packets_out + packets_in, bytes_out + bytes_in'
            ' FROM flows WHERE ended = 1'):
        proto = {6: 'tcp', 17: 'udp'}.get(row[0])
        if proto is None:
            continue
        a = (ipaddress.ip_address(row[1]).packed, row[2])
        b = (ipaddress.ip_address(row[3]).packed, row[4])
        k = (proto, frozenset([a, b]))
        p, y = got.get(k, (0, 0))
        got[k] = (p + row[5], y + row[6])
bad = 0
for k in sorted(set(want) | set(got), key=repr):
    if want.get(k) != got.get(k):
        bad += 1
        if bad <= 5:
            eps = sorted('%s:%d' % (ipaddress.ip_address(a), p) for a, p in k[1])
            print('# %s %s ref %s flowd %s' % (k[0], ' '.join(eps),
                  want.get(k), got.get(k)))
print('# %d tuples in ref, %d in flowd, %d differ' % (len(want), len(got), bad))
sys.exit(1 if bad else 0)
EOF

n=0
for f in "$pcaps"/*.pcap "$pcaps"/*.pcapng; do
	name=${f##*/}
	ref=$pcaps/ref/$name.tsv
	[ -f "$ref" ] || continue
	n=$((n + 1))
	d=$t/$n
	mkdir -p "$d"
	"$BIN/capd" -r "$f" -w "$d/r.rec" 2>"$d/capd.err"
	crc=$?
	if [ ! -s "$d/r.rec" ]; then
		if grep -q "^$name	" "$t/exceptions"; then
			skip "conformance $name" "capd wrote nothing (rc $crc)"
		else
			not_ok "conformance $name: capd wrote nothing (rc $crc)"
			diag "$(head -3 "$d/capd.err")"
		fi
		continue
	fi
	if ! "$BIN/flowd" -r "$d/r.rec" -o "$d/out" -P clear 2>"$d/flowd.err"
	then
		not_ok "conformance $name: flowd failed"
		diag "$(tail -3 "$d/flowd.err")"
		continue
	fi
	if python3 "$t/cmp.py" "$ref" "$d/out" >"$d/cmp" 2>&1; then
		ok "conformance $name"
	elif reason=$(grep "^$name	" "$t/exceptions" | cut -f2) &&
	    [ -n "$reason" ]; then
		skip "conformance $name" "$reason"
		diag "$(tail -1 "$d/cmp")"
	else
		not_ok "conformance $name"
		diag "$(cat "$d/cmp")"
	fi
	rm -rf "$d"
done
[ "$n" -gt 0 ] || not_ok "conformance: no captures with a reference"
