#!/bin/sh
# tests/bench/run.sh: `make bench`.  Runs every tests/bench/*.sh (never
# part of `make check`).  Each prints its figures beside a peer measured
# in the same run (tcpdump, argus, MySQL's LOAD DATA), as ratios, because
# the machine is shared and noisy.  Output is kept in build/bench/.

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 111
O=${O:-build/default}
export O TOP="$top" BIN="$top/$O/bin"
if [ -z "${SHARED:-}" ] && [ -d "$top/../shared/pcaps" ]; then
	SHARED=$(cd "$top/../shared" && pwd)
fi
export SHARED
mkdir -p build/bench
status=0
for b in tests/bench/*.sh; do
	[ "$b" = tests/bench/run.sh ] && continue
	n=${b##*/}
	echo "== ${n%.sh}"
	sh "$b" 2>&1 | tee "build/bench/${n%.sh}.txt" || status=1
done
exit $status
