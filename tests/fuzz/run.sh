#!/bin/sh
# tests/fuzz/run.sh FUZZER...: run each libFuzzer target of `make fuzz`
# for FUZZ_SECONDS (default 60) on a scratch copy of its seed corpus in
# tests/fuzz/corpus/NAME, and print executions, coverage and the verdict.
# A crash leaves its input in build/fuzz/crash-NAME-* and fails the run.

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 111
FUZZ_O=${FUZZ_O:-build/fuzz}
secs=${FUZZ_SECONDS:-60}
status=0
for f in "$@"; do
	work=$(mktemp -d "${TMPDIR:-/tmp}/vbs-fuzz-$f.XXXXXX")
	[ -d "tests/fuzz/corpus/$f" ] && cp -r "tests/fuzz/corpus/$f/." "$work/"
	log="$FUZZ_O/$f.log"
	"$FUZZ_O/$f" -max_total_time="$secs" -print_final_stats=1 \
	    -artifact_prefix="$FUZZ_O/crash-$f-" -max_len=70000 \
	    "$work" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1)
	if [ "$rc" -eq 0 ]; then
		echo "fuzz: $f: ${secs}s, $execs executions, $cov, $ft, corpus $(ls "$work" | wc -l): ok"
	else
		echo "fuzz: $f: FAILED (status $rc), see $log"
		grep -E 'ERROR|SUMMARY' "$log" | head -5
		status=1
	fi
	rm -rf "$work"
done
exit $status
