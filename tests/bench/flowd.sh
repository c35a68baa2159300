#!/bin/sh
# tests/bench/flowd.sh: end-to-end rate of capd -> flowd on the mkbig
# capture (built once by $SHARED/tools/mkbig.sh, cached in build/bench/),
# beside `argus -r big.pcap -w /dev/null` in the same run, and flowd's
# peak RSS.  End to end is the pipe `capd -r big.pcap -w - | flowd -r -
# -o DIR -P clear`, the two running at once; the same two one after the
# other through a file are shown too, with flowd alone.  Best wall time
# of RUNS (default 3) for each, because the machine is shared; CPU is
# user + system seconds of that run.  Outputs go to tmpfs where there
# is one.  Targets: >= 1.5x argus's packets/s, flowd peak RSS <= 64 MB.

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

# run CMD...: "wall cpu rss_kb" of CMD (cpu: user + system, children
# included; rss: the largest process's peak).
run() {
	/usr/bin/time -f '%e %U %S %M' -o "$t/time" "$@" >/dev/null 2>&1
	awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$t/time"
}
# best: the line with the least wall time.
best() { sort -n | head -1; }

packets() {
	for f in "$1"/*.sqlite; do sqlite3 "$f" "SELECT count(*) FROM packets"
	done | awk '{ s += $1 } END { print s + 0 }'
}

: >"$t/argus"; : >"$t/pipe"; : >"$t/seq"
rss=0
for i in $(seq "$RUNS"); do
	run argus -r "$big" -w /dev/null >>"$t/argus"
	rm -rf "$t/rec" "$t/pout" "$t/out"
	run sh -c '"$1" -r "$2" -w - | "$3" -r - -o "$4" -P clear' sh \
	    "$BIN/capd" "$big" "$BIN/flowd" "$t/pout" >>"$t/pipe"
	set -- $(run "$BIN/capd" -r "$big" -w "$t/rec")
	c_wall=$1 c_cpu=$2
	set -- $(run "$BIN/flowd" -r "$t/rec" -o "$t/out" -P clear)
	[ "$3" -gt "$rss" ] && rss=$3
	echo "$c_wall $c_cpu $1 $2" |
	    awk '{ print $1 + $3, $2 + $4, $1, $2, $3, $4 }' >>"$t/seq"
done
pk=$(packets "$t/out")
ppk=$(packets "$t/pout")
batches=$(ls "$t/out" | wc -l)
set -- $(best <"$t/argus"); a_wall=$1 a_cpu=$2
set -- $(best <"$t/pipe"); p_wall=$1 p_cpu=$2
set -- $(best <"$t/seq")
awk -v p="$pk" -v b="$batches" -v aw="$a_wall" -v ac="$a_cpu" \
    -v pw="$p_wall" -v pc="$p_cpu" -v sw="$1" -v sc="$2" -v cw="$3" \
    -v cc="$4" -v fw="$5" -v fc="$6" -v r="$rss" -v n="$RUNS" 'BEGIN {
	printf "# %d packets, %d batches; best of %d; cpu = user + sys\n", p, b, n
	printf "# argus -r:               %6.2f s (cpu %5.2f s) %9.0f packets/s\n", aw, ac, p / aw
	printf "# capd -w - | flowd -r -: %6.2f s (cpu %5.2f s) %9.0f packets/s\n", pw, pc, p / pw
	printf "# capd; flowd (a file):   %6.2f s (cpu %5.2f s) %9.0f packets/s\n", sw, sc, p / sw
	printf "#   capd -r -w:           %6.2f s (cpu %5.2f s)\n", cw, cc
	printf "#   flowd -r:             %6.2f s (cpu %5.2f s) %9.0f packets/s\n", fw, fc, p / fw
	printf "# ratio to argus: piped %.2fx, one after the other %.2fx (target 1.5x)\n", aw / pw, aw / sw
	printf "# flowd peak RSS: %.1f MB (target 64 MB)\n", r / 1024
}'
equal "flowd bench: the pipe gives every packet the file gives" "$ppk" "$pk"
ratio_ok=$(awk -v p="$p_wall" -v a="$a_wall" 'BEGIN { print (a / p >= 1.5) ? 1 : 0 }')
if [ "$ratio_ok" = 1 ]; then ok "flowd bench: capd | flowd >= 1.5x argus"
else not_ok "flowd bench: capd | flowd >= 1.5x argus"; fi
if [ "$rss" -le 65536 ]; then ok "flowd bench: peak RSS <= 64 MB"
else not_ok "flowd bench: peak RSS <= 64 MB"; fi
