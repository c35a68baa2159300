#!/bin/sh
# tests/integration/flowd_golden.sh: per-packet rows of flowd's packets
# table (direction, size, tcp_flags, rel_us) for one TCP and one UDP
# conversation of each capture, against golden files made from tshark
# (tests/flowd/regen.sh).  Where tshark is installed the golden files
# are also checked against it again, so they cannot drift from it.

. "${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"

pcaps=$(shared_pcaps)
g=$TOP/tests/flowd
if [ -z "$pcaps" ] || [ ! -x "$BIN/capd" ] || [ ! -x "$BIN/flowd" ]; then
	skip "flowd golden rows" "needs ../shared/pcaps, capd and flowd"
	exit 0
fi
t=$(tmpdir)
trap 'rm -rf "$t"' EXIT INT TERM
have_tshark=0
command -v tshark >/dev/null 2>&1 && have_tshark=1

for gf in "$g"/golden/*.golden; do
	base=${gf##*/}
	proto=${base%.golden}; proto=${proto##*.}
	cap=${base%.$proto.golden}
	d=$t/$cap
	if [ ! -d "$d/out" ]; then
		mkdir -p "$d"
		"$BIN/capd" -r "$pcaps/$cap" -w "$d/r.rec" 2>/dev/null
		"$BIN/flowd" -r "$d/r.rec" -o "$d/out" -P clear 2>/dev/null ||
		    { not_ok "golden $base: flowd failed"; continue; }
	fi
	set -- $(head -1 "$gf")
	python3 "$g/golden.py" flowd "$d/out" "$2" "$3" "$4" |
	    tail -n +2 >"$d/$proto.got.body"
	if tail -n +2 "$gf" | cmp -s - "$d/$proto.got.body"; then
		ok "golden $base ($(($(wc -l <"$gf") - 1)) packets)"
	else
		not_ok "golden $base"
		tail -n +2 "$gf" | diff - "$d/$proto.got.body" | head -10 |
		    while read -r l; do diag "$l"; done
	fi
	if [ "$have_tshark" = 1 ]; then
		python3 "$g/golden.py" tshark "$pcaps/$cap" \
		    "$pcaps/ref/$cap.tsv" "$proto" 2>/dev/null >"$d/$proto.ts"
		if cmp -s "$gf" "$d/$proto.ts"; then
			ok "golden $base matches tshark"
		else
			not_ok "golden $base matches tshark"
		fi
	fi
done
