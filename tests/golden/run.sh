#!/bin/sh
# tests/golden/run.sh: capd's golden tests (see TESTLIST).  TAP output.
# With GOLDEN_REGEN=1 (regen.sh) the expected files are rewritten.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 111
list=tests/golden/TESTLIST
exp=tests/golden/expected
t=$(tmpdir)
trap 'rm -rf "$t"' EXIT INT TERM

for b in capd vbsctl; do
	if [ ! -x "$BIN/$b" ]; then
		skip "golden" "$BIN/$b not built"
		exit 0
	fi
done

# The hello's host facts and time differ between machines: drop them.
stable() {
	sed -E '/"type":"hello"/{s/"ts":[0-9]+,//;s/"host":"[^"]*",//;s/"os":"[^"]*",//;s/"software":"[^"]*",//;}'
}

grep -v '^#' "$list" | while read -r name capture expected flags; do
	[ -n "$name" ] || continue
	rm -f "$t/rec"
	# shellcheck disable=SC2086
	"$BIN/capd" -r "tests/pcaps/$capture" -w "$t/rec" $flags \
	    >"$t/capd.out" 2>"$t/capd.err"
	rc=$?
	{
		if [ -s "$t/rec" ]; then
			"$BIN/vbsctl" dump "$t/rec" | stable
		fi
		echo "exit $rc"
	} >"$t/got"
	if [ "${GOLDEN_REGEN:-0}" = 1 ]; then
		cp "$t/got" "$exp/$expected"
		ok "$name # regenerated"
	elif [ ! -f "$exp/$expected" ]; then
		not_ok "$name"
		diag "missing $exp/$expected (run tests/golden/regen.sh)"
	elif diff -u "$exp/$expected" "$t/got" >"$t/diff"; then
		ok "$name"
	else
		not_ok "$name"
		diag "$(head -40 "$t/diff")"
		diag "$(cat "$t/capd.err")"
	fi
done
