#!/bin/sh
# tests/bench/capd.sh: capd's decoding rate against libpcap's read
# ceiling.  On the big capture of $SHARED/tools/mkbig.sh (built once,
# cached in build/bench/), times `capd -r big.pcap -w` a recording on
# tmpfs and `tcpdump -r big.pcap -w /dev/null` in the same run, and
# prints both rates and their ratio.  Target: at least 40%.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 111
[ -x "$BIN/capd" ] || { skip "capd bench" "$BIN/capd not built"; exit 0; }
command -v tcpdump >/dev/null || { skip "capd bench" "no tcpdump"; exit 0; }
if [ -z "${SHARED:-}" ] && [ -d ../shared/tools ]; then SHARED=$(cd ../shared && pwd); fi
mk=${SHARED:-}/tools/mkbig.sh
big=build/bench/big.pcap
if [ ! -s "$big" ]; then
	[ -x "$mk" ] || [ -f "$mk" ] || { skip "capd bench" "no \$SHARED/tools/mkbig.sh"; exit 0; }
	mkdir -p build/bench
	diag "building $big with $mk"
	bash "$mk" "$big.tmp" ${BENCH_COPIES:-} && mv "$big.tmp" "$big" ||
		{ not_ok "capd bench: mkbig.sh"; exit 1; }
fi
out=${BENCH_OUT:-/dev/shm}/vbs-capd-bench.$$.rec
trap 'rm -f "$out"' EXIT INT TERM
pkts=$(capinfos -M -c "$big" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}')
[ -n "$pkts" ] || pkts=$(tcpdump -r "$big" -w /dev/null 2>&1 | awk '/packets? /{print $1}' | tail -1)
bytes=$(stat -c %s "$big")

# Warm the page cache, then the best of three runs of each.
cat "$big" >/dev/null
best() {
	b=0
	for _ in 1 2 3; do
		s=$(date +%s.%N)
		"$@" >/dev/null 2>&1 || return 1
		e=$(date +%s.%N)
		b=$(echo "$s $e $b" | awk '{d=$2-$1; if ($3 == 0 || d < $3) print d; else print $3}')
	done
	echo "$b"
}
tc=$(best "$BIN/capd" -r "$big" -w "$out") || { not_ok "capd bench: capd failed"; exit 1; }
tt=$(best tcpdump -r "$big" -w /dev/null) || { not_ok "capd bench: tcpdump failed"; exit 1; }
recsize=$(stat -c %s "$out")
echo "$pkts $bytes $tc $tt $recsize" | awk '{
	printf "# capture: %d packets, %.1f MB\n", $1, $2 / 1e6
	printf "# capd -r -w tmpfs:       %.3f s  %.2f Mpkt/s  %.0f MB/s  (recording %.1f MB)\n", $3, $1 / $3 / 1e6, $2 / $3 / 1e6, $5 / 1e6
	printf "# tcpdump -r -w /dev/null: %.3f s  %.2f Mpkt/s  %.0f MB/s\n", $4, $1 / $4 / 1e6, $2 / $4 / 1e6
	printf "# capd / tcpdump = %d%% (target >= 40%%)\n", 100 * $4 / $3
}'
ratio=$(echo "$tc $tt" | awk '{printf "%d", 100 * $2 / $1}')
if [ "$ratio" -ge 40 ]; then ok "capd at $ratio% of libpcap's read rate"
else not_ok "capd at $ratio% of libpcap's read rate (target 40%)"; fi
