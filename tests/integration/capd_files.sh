#!/bin/sh
# tests/integration/capd_files.sh: capd on real captures.
#  1. Every capture of tests/pcaps and ../shared/pcaps: `capd -r F -w OUT`
#     exits 0, or 1 with exactly one message for the broken ones, keeps
#     every readable frame (the "received" counter against MANIFEST.tsv),
#     and no sanitizer report (run under `make sanitize`, O=build/sanitize).
#  2. Conformance: per 5-tuple, packets and IP bytes equal tshark's
#     reference (../shared/pcaps/ref) for every capture without tunnels
#     and fragments; the exceptions are listed below with their reason.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 111
t=$(tmpdir)
trap 'rm -rf "$t"' EXIT INT TERM
for b in capd vbsctl; do
	[ -x "$BIN/$b" ] || { skip "capd files" "$BIN/$b not built"; exit 0; }
done

# Captures that are broken on purpose: exit 1 and one message.
broken_own="corrupt_header.pcap cut_short.pcap not_a_capture.pcap
unknown_linktype.pcap"
broken_shared="fuzz-2021-10-13.pcap sv_http-mime-truncated_input.pcap
sv_10.7.29.101_49898-178.63.41.150_25.pcap"

# Not compared with tshark, and why (../shared/pcaps/README.md).
exceptions='
4in4tunnel.pcap		IP-in-IP tunnel: tshark keys the inner headers, VBS the outer
6in4tunnel.pcap		6in4 tunnel: tshark keys the inner IPv6 headers
syslog.pcap		carries 6in4-tunnelled syslog: tshark keys the inner headers
false_positives.pcapng	GTP-U tunnel: tshark also counts the inner conversations
reasm_segv_anon.pcapng	GTP-U tunnel: tshark keys the inner TCP
sv_gre-sample.pcap	GRE tunnel: tshark keys the inner headers
vxlan.pcap		VXLAN tunnel: tshark also counts the inner conversations
dns_fragmented.pcap	fragments: tshark counts only the reassembling frame
dnscrypt-v1-and-resolver-pings.pcap	fragments: tshark counts only the reassembling frame
ip_fragmented_garbage.pcap	fragments: tshark counts only the reassembling frame
sv_defrag_bug-6887-defrag-ipv6-tcp_frag-ip-tcp.pcap	IPv6 fragments: tshark counts only the reassembling frame
sv_exception-policy-defrag-01_ipv4frags.pcap	fragments: tshark counts only the reassembling frame
'

is_in() { echo "$2" | tr ' \t' '\n\n' | grep -qx "$1"; }

# run_one FILE BROKEN(0|1) WANT_RECEIVED: the exit-status test.
run_one() {
	f=$1; b=${f##*/}
	rm -f "$t/rec"
	"$BIN/capd" -r "$f" -w "$t/rec" >"$t/out" 2>"$t/err"
	rc=$?
	if grep -Eq 'runtime error|AddressSanitizer|LeakSanitizer|UndefinedBehavior' "$t/err"; then
		not_ok "$b: sanitizer report"
		diag "$(head -20 "$t/err")"
		return
	fi
	nlines=$(wc -l <"$t/err")
	if [ "$2" = 1 ]; then
		if [ "$rc" = 1 ] && [ "$nlines" = 1 ] && grep -q "$b" "$t/err"; then
			ok "$b: broken, exit 1: $(cat "$t/err")"
		else
			not_ok "$b: want exit 1 and one message naming the file"
			diag "exit $rc; stderr:"; diag "$(head -5 "$t/err")"
			return
		fi
	elif [ "$rc" = 0 ] && [ "$nlines" = 0 ]; then
		ok "$b: exit 0"
	else
		not_ok "$b: want exit 0 and no message"
		diag "exit $rc; stderr:"; diag "$(head -5 "$t/err")"
		return
	fi
	if [ -n "$3" ] && [ -s "$t/rec" ]; then
		got=$("$BIN/vbsctl" dump "$t/rec" | sed -n 's/.*"type":"stats".*"received":\([0-9]*\).*/\1/p' | tail -1)
		equal "$b: every readable frame kept" "$got" "$3"
	fi
}

for f in tests/pcaps/*.pcap tests/pcaps/*.pcapng; do
	b=${f##*/}
	if is_in "$b" "$broken_own"; then run_one "$f" 1 ""
	else run_one "$f" 0 ""; fi
done

sp=$(shared_pcaps)
if [ -z "$sp" ]; then
	skip "shared captures and tshark conformance" "SHARED not set or ../shared/pcaps absent"
	exit 0
fi

for f in "$sp"/*.pcap "$sp"/*.pcapng; do
	b=${f##*/}
	want=$(awk -F'\t' -v f="$b" '$1==f {print $8}' "$sp/MANIFEST.tsv" | sed 's/[^0-9].*//')
	if is_in "$b" "$broken_shared"; then run_one "$f" 1 "$want"
	else run_one "$f" 0 "$want"; fi
	ref="$sp/ref/$b.tsv"
	[ -f "$ref" ] || continue
	why=$(echo "$exceptions" | awk -v f="$b" '$1==f {$1=""; sub(/^[ \t]+/, ""); print}')
	if [ -n "$why" ]; then
		skip "$b: per 5-tuple equal to tshark" "$why"
		continue
	fi
	[ -s "$t/rec" ] || { not_ok "$b: no recording"; continue; }
	"$BIN/vbsctl" dump "$t/rec" >"$t/dump"
	if python3 - "$t/dump" "$ref" >"$t/cmp" <<'PY'
import collections, ipaddress, json, sys
def ep(s):
    a, p = (s[1:].split(']:') if s.startswith('[') else s.rsplit(':', 1))
    return (str(ipaddress.ip_address(a)), int(p))
want, wantb = collections.Counter(), collections.Counter()
for i, line in enumerate(open(sys.argv[2])):
    f = line.rstrip('\n').split('\t')
    if i == 0 or len(f) < 10:
        continue
    k = (f[0],) + tuple(sorted([ep(f[1]), ep(f[2])]))
    want[k] += int(f[3]); wantb[k] += int(f[9])
got, gotb = collections.Counter(), collections.Counter()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get('type') != 'packet' or r['proto'] not in (6, 17):
        continue
    k = ({6: 'tcp', 17: 'udp'}[r['proto']],) + tuple(sorted([
        (str(ipaddress.ip_address(r['src'])), r['sport']),
        (str(ipaddress.ip_address(r['dst'])), r['dport'])]))
    got[k] += 1; gotb[k] += r['len']
bad = [k for k in sorted(set(want) | set(got))
       if want[k] != got[k] or wantb[k] != gotb[k]]
for k in bad[:5]:
    print('%s: packets %d want %d, ip_bytes %d want %d' %
          (k, got[k], want[k], gotb[k], wantb[k]))
print('%d 5-tuples, %d differ' % (len(set(want) | set(got)), len(bad)))
sys.exit(1 if bad else 0)
PY
	then ok "$b: per 5-tuple equal to tshark ($(tail -1 "$t/cmp"))"
	else not_ok "$b: per 5-tuple equal to tshark"; diag "$(cat "$t/cmp")"; fi
done
