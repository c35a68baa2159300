#!/bin/sh
# tests/integration/flowd_crash.sh: kill -9 flowd at 50 random moments of
# a long replay into one outbox.  After every kill each batch in the
# outbox must pass PRAGMA integrity_check and nothing half-written may
# be there; at the end no packet (flow_id, seq) may appear twice across
# all batches, and a replay run to completion into the same outbox must
# leave exactly the batches, byte for byte, of an uninterrupted replay.
# The long input is the mkbig capture (cached under build/bench/).

. "${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"

KILLS=${KILLS:-50}
big=$TOP/build/bench/big.pcap
if [ ! -x "$BIN/capd" ] || [ ! -x "$BIN/flowd" ]; then
	skip "flowd kill -9" "needs capd and flowd"; exit 0
fi
if [ ! -s "$big" ]; then
	if [ -n "${SHARED:-}" ] && [ -x "$SHARED/tools/mkbig.sh" ] &&
	    command -v tcprewrite >/dev/null 2>&1; then
		mkdir -p "$TOP/build/bench"
		bash "$SHARED/tools/mkbig.sh" "$big" >/dev/null 2>&1
	fi
	[ -s "$big" ] || { skip "flowd kill -9" "no mkbig capture"; exit 0; }
fi
t=$(tmpdir)
trap 'rm -rf "$t"' EXIT INT TERM

"$BIN/capd" -r "$big" -w "$t/big.rec" 2>/dev/null
s0=$(date +%s%N)
"$BIN/flowd" -r "$t/big.rec" -o "$t/ref" -P clear 2>/dev/null ||
    { not_ok "flowd kill -9: reference replay failed"; exit 0; }
dur_ms=$(( ($(date +%s%N) - s0) / 1000000 ))
diag "reference replay: ${dur_ms} ms, $(ls "$t/ref" | wc -l) batches"

bad=0
checked=$t/checked
: >"$checked"
i=0
while [ "$i" -lt "$KILLS" ]; do
	i=$((i + 1))
	r=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
	ms=$(( r % (dur_ms + 1) + 10 ))
	"$BIN/flowd" -r "$t/big.rec" -o "$t/out" -P clear 2>/dev/null &
	pid=$!
	sleep "$(awk "BEGIN { printf \"%.3f\", $ms / 1000 }")"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	for f in "$t"/out/*; do
		[ -e "$f" ] || continue
		case $f in
		*.sqlite) ;;
		*) bad=$((bad + 1)); diag "kill $i: stray file $f"; continue ;;
		esac
		grep -qx "$f" "$checked" && continue
		res=$(sqlite3 "$f" "PRAGMA integrity_check" 2>&1)
		if [ "$res" != ok ]; then
			bad=$((bad + 1)); diag "kill $i at ${ms} ms: $f: $res"
		fi
		echo "$f" >>"$checked"
	done
done
equal "flowd kill -9 x$KILLS: every batch passes integrity_check" "$bad" 0

dups=$(python3 - "$t/out" <<'PY'
import glob, sqlite3, sys
seen = set(); dup = 0
for f in sorted(glob.glob(sys.argv[1] + '/*.sqlite')):
    for fid, seq in sqlite3.connect(f).execute('SELECT flow_id, seq FROM packets'):
        k = (fid, seq)
        if k in seen:
            dup += 1
        seen.add(k)
print(dup)
PY
)
equal "flowd kill -9: no packet twice across batches" "$dups" 0
diag "$(ls "$t/out" | wc -l) batches after $KILLS kills"

"$BIN/flowd" -r "$t/big.rec" -o "$t/out" -P clear 2>/dev/null
same=1
for f in "$t"/ref/*.sqlite; do
	cmp -s "$f" "$t/out/${f##*/}" || { same=0; diag "differs: ${f##*/}"; }
done
[ "$(ls "$t/ref" | wc -l)" = "$(ls "$t/out" | wc -l)" ] || same=0
equal "flowd kill -9: finished replay equals an uninterrupted one" "$same" 1
