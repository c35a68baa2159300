#!/bin/sh
# tests/bench/flowd.sh: end-to-end rate of `capd -r big.pcap -w rec`
# then `flowd -r rec -o DIR -P clear` on the mkbig capture (built once by
# $SHARED/tools/mkbig.sh, cached in build/bench/), and flowd's peak RSS,
# beside `argus -r big.pcap -w /dev/null` in the same run.  Best of
# RUNS (default 3) for each, because the machine is shared.  Outputs go
# to tmpfs where there is one.  Targets: >= 1.5x argus's packets/s,
# flowd peak RSS <= 64 MB.

. "${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"

RUNS=${RUNS:-3}
big=$TOP/build/bench/big.pcap
mk=${SHARED:-}/tools/mkbig.sh
if [ ! -s "$big" ]; then
	[ -f "$mk" ] || { skip "flowd bench" "no \$SHARED/tools/mkbig.sh"; exit 0; }
	bash "$mk" "$big.tmp" && mv "$big.tmp" "$big" ||
	    { not_ok "flowd bench: mkbig failed"; exit 1; }
fi
command -v argus >/dev/null 2>&1 || { skip "flowd bench" "no argus"; exit 0; }
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
t=$(mktemp -d "$base/vbs-flowd-bench.XXXXXX")
trap 'rm -rf "$t"' EXIT INT TERM

# secs CMD...: wall seconds of CMD (and %M peak RSS in KB into $t/rss)
secs() {
	/usr/bin/time -f '%e %M' -o "$t/time" "$@" >/dev/null 2>&1
	read -r e m <"$t/time"
	echo "$m" >"$t/rss"
	echo "$e"
}
min() { awk 'BEGIN { m = -1 } { if (m < 0 || $1 < m) m = $1 } END { print m }'; }

a_best=$(for i in $(seq "$RUNS"); do secs argus -r "$big" -w /dev/null; done | min)
rm -f "$t/all"
rss=0
for i in $(seq "$RUNS"); do
	rm -rf "$t/rec" "$t/out"
	c=$(secs "$BIN/capd" -r "$big" -w "$t/rec")
	f=$(secs "$BIN/flowd" -r "$t/rec" -o "$t/out" -P clear)
	r=$(cat "$t/rss")
	[ "$r" -gt "$rss" ] && rss=$r
	echo "$c $f" | awk '{ print $1 + $2, $1, $2 }' >>"$t/all"
done
best=$(sort -n "$t/all" | head -1)
set -- $best
e2e=$1 capd_s=$2 flowd_s=$3
pk=$(for f in "$t"/out/*.sqlite; do sqlite3 "$f" "SELECT count(*) FROM packets"; done |
    awk '{ s += $1 } END { print s }')
batches=$(ls "$t/out" | wc -l)
awk -v p="$pk" -v e="$e2e" -v c="$capd_s" -v f="$flowd_s" -v a="$a_best" \
    -v r="$rss" -v b="$batches" 'BEGIN {
	printf "# packets %d, %d batches\n", p, b
	printf "# capd -r -> flowd: %.2f s (capd %.2f s, flowd %.2f s): %.0f packets/s\n", e, c, f, p / e
	printf "# flowd alone: %.0f packets/s\n", p / f
	printf "# argus -r: %.2f s: %.0f packets/s\n", a, p / a
	printf "# ratio to argus: %.2fx; flowd peak RSS %.1f MB\n", a / e, r / 1024
}'
ratio_ok=$(awk -v e="$e2e" -v a="$a_best" 'BEGIN { print (a / e >= 1.5) ? 1 : 0 }')
if [ "$ratio_ok" = 1 ]; then ok "flowd bench: capd+flowd >= 1.5x argus"
else not_ok "flowd bench: capd+flowd >= 1.5x argus"; fi
if [ "$rss" -le 65536 ]; then ok "flowd bench: peak RSS <= 64 MB"
else not_ok "flowd bench: peak RSS <= 64 MB"; fi
