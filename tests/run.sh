#!/bin/sh
# tests/run.sh: the whole suite, as `make check` and `make sanitize` run it.
# Every test speaks TAP on stdout ("ok - name", "not ok - name",
# "ok - name # SKIP why"): the cmocka unit tests (CMOCKA_MESSAGE_OUTPUT=TAP),
# the golden list, and each script in tests/integration/.  A program that
# exits non-zero without a "not ok" line counts as one failure.  Logs go to
# tests/out/; the last line is "N passed, N failed, N skipped".

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 111
O=${O:-build/default}
export O TOP="$top" BIN="$top/$O/bin" TESTBIN="$top/$O/tests"
if [ -z "${SHARED:-}" ] && [ -d "$top/../shared/pcaps" ]; then
	SHARED=$(cd "$top/../shared" && pwd)
fi
export SHARED
export CMOCKA_MESSAGE_OUTPUT=TAP
out="$top/tests/out"
mkdir -p "$out"
pass=0 fail=0 skip=0
failed=""

# run NAME CMD...: one test program; its TAP lines are counted.
run() {
	name=$1; shift
	log="$out/$(echo "$name" | tr / _).log"
	start=$(date +%s)
	timeout -k 10 "${TEST_TIMEOUT:-900}" "$@" >"$log" 2>&1
	rc=$?
	# cmocka marks a skipped test "not ok N # SKIP": a skip, not a failure.
	p=$(grep -c '^ok' "$log")
	s=$(grep -c -E '^(not )?ok.*# *SKIP' "$log")
	f=$(grep -c '^not ok' "$log")
	f=$((f - $(grep -c '^not ok.*# *SKIP' "$log")))
	p=$((p - $(grep -c '^ok.*# *SKIP' "$log")))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	[ "$f" -gt 0 ] && failed="$failed $name"
	printf '%-28s %4d passed %4d failed %4d skipped  (%ds)\n' \
	    "$name" "$p" "$f" "$s" $(( $(date +%s) - start ))
	# What failed first, then the test's first remarks: CI shows only
	# this part of the log.
	if [ "$f" -gt 0 ]; then
		{ grep '^not ok' "$log" | grep -v SKIP | head -10
		  grep '^#' "$log" | head -30; } | sed 's/^/    /'
	fi
}

# With arguments: only those test scripts (as `make lab` runs the lab).
if [ $# -gt 0 ]; then
	for t in "$@"; do
		n=${t##*/}
		run "${t%/*}/${n%.sh}" sh "$t"
	done
	[ -n "$failed" ] && echo "failed:$failed (logs in tests/out/)"
	echo "$pass passed, $fail failed, $skip skipped"
	[ "$fail" -eq 0 ]
	exit
fi

for t in "$O"/tests/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	run "unit/${t##*/}" "$t"
done
[ -f tests/golden/run.sh ] && run golden sh tests/golden/run.sh
for t in tests/integration/*.sh; do
	[ -f "$t" ] || continue
	n=${t##*/}
	run "integration/${n%.sh}" sh "$t"
done

[ -n "$failed" ] && echo "failed:$failed (logs in tests/out/)"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
