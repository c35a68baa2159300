#!/bin/sh
# tests/flowd/regen.sh: remake the per-packet golden files of flowd from
# tshark, on purpose (as `make golden-regen` does for the golden list):
# one TCP and one UDP conversation per capture of ../shared/pcaps, except
# tunnels, fragments and broken files, where tshark's conversations are
# not VBS's flows (tests/integration/flowd_conformance.sh lists them).
here=$(cd "$(dirname "$0")" && pwd)
pcaps=${SHARED:-$here/../../../shared}/pcaps
exc='4in4tunnel|6in4tunnel|vxlan|teredo|sv_gre-sample|syslog|false_positives|dns_fragmented|ip_fragmented_garbage|defrag|badpackets|truncated|fuzz-2021|reasm_segv|ossfuzz|dnscrypt'
rm -f "$here"/golden/*.golden
for f in "$pcaps"/*.pcap "$pcaps"/*.pcapng; do
	n=${f##*/}
	echo "$n" | grep -Eq "$exc" && continue
	[ -f "$pcaps/ref/$n.tsv" ] || continue
	for p in tcp udp; do
		python3 "$here/golden.py" tshark "$f" "$pcaps/ref/$n.tsv" $p \
		    >"$here/golden/$n.$p.golden" 2>/dev/null ||
		    rm -f "$here/golden/$n.$p.golden"
	done
done
ls "$here"/golden | wc -l
