#!/bin/sh
# tests/bench/shipd.sh: upload throughput over loopback TLS (`make
# bench` only).  100 batches of about 700 kB (flowd's default size)
# go from an outbox through shipd to `ingestd serve` (receiver and
# loaders, a private MariaDB); printed: batches/s, MB/s, and the CPU
# per MB of shipd and of the receiver, plain and with zstd.  The peer,
# measured in the same run on the same files: curl(1) uploading them
# with the same requests over one connection, as ratios (the machine is
# shared and noisy: ratios travel better than absolute figures).

. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/shipd_fixture.inc"

need_root "shipd bench"
mariadb_available || { skip "shipd bench" "no mariadbd"; exit 0; }
tls_available || { skip "shipd bench" "no openssl"; exit 0; }
ensure_users || exit 1
NB=${BENCH_BATCHES:-100}
fx_setup "rate_per_client = 0" "max_batch = 16M"
fx_serve_start
TICK=$(getconf CLK_TCK)

# cpu PID: user+system seconds of a process so far.
cpu() { awk -v t="$TICK" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$1/stat"; }
receiver() { for c in $(pgrep -P "$SERVE_PID"); do pgrep -P "$c"; done | head -1; }
# timed CMD...: "wall user+sys" of CMD (its children included).
timed() {
	python3 -c 'import resource, subprocess, sys, time
t = time.time(); subprocess.run(sys.argv[1:])
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.3f %.3f" % (time.time() - t, r.ru_utime + r.ru_stime))' "$@"
}

# one NAME OUTBOX [shipd key=value]: upload the outbox with shipd -1.
one() {
	_n=$1 _ob=$2; shift 2
	fx_shipd_conf "$_n" "$_ob" "$@"
	_mb=$(du -sbc "$_ob"/*.sqlite | tail -1 | cut -f1)
	_r=$(receiver)
	_r0=$(cpu "$_r")
	set -- $(timed "$BIN/shipd" -d -1 -f "$T/shipd-$_n.conf")
	_r1=$(cpu "$_r")
	awk -v n="$NB" -v b="$_mb" -v w="$1" -v c="$2" -v r0="$_r0" -v r1="$_r1" \
	    -v name="$_n" 'BEGIN { mb = b / 1048576;
	    printf "%-12s %6.1f batches/s %7.1f MB/s  shipd %5.1f ms CPU/MB  receiver %5.1f ms CPU/MB\n",
	    name, n / w, mb / w, c * 1000 / mb, (r1 - r0) * 1000 / mb }'
	echo "$1" >"$T/wall-$_n"
}

fx_enroll plain || exit 1
fx_enroll zstd || exit 1
fx_enroll peer || exit 1
for n in plain zstd peer; do
	eval cid=\$CID_$n
	fx_batches "$T/src-$n" "$cid" "$NB" $((NB * 100)) $((NB * 20000)) 7 ||
	    exit 1
done
diag "$NB batches of $(( $(du -sk "$T/src-plain" | cut -f1) / NB )) kB each (generated)"
mkdir -p "$T/ob-plain" "$T/ob-zstd"
publish "$T"/src-plain/*.sqlite "$T/ob-plain"
publish "$T"/src-zstd/*.sqlite "$T/ob-zstd"
one plain "$T/ob-plain"
one zstd "$T/ob-zstd" "compress = true"

# The peer: curl, the same PUTs, one connection, no shipd.
sec=$(sed -n 's/^secret = //p' "$T/peer.cred")
: >"$T/curl.cfg"
for f in "$T"/src-peer/*.sqlite; do
	b=${f##*/}
	{
		echo "url = \"$URL/v1/batches/${b%.sqlite}\""
		echo "upload-file = \"$f\""
		echo "header = \"X-VBS-SHA256: $(sha256sum "$f" | cut -d' ' -f1)\""
		echo "output = /dev/null"
	} >>"$T/curl.cfg"
done
mb=$(du -sbc "$T"/src-peer/*.sqlite | tail -1 | cut -f1)
r=$(receiver); r0=$(cpu "$r")
set -- $(timed curl -s --cacert "$T/tls/ca.crt" -u "$CID_peer:$sec" -K "$T/curl.cfg")
r1=$(cpu "$r")
awk -v n="$NB" -v b="$mb" -v w="$1" -v c="$2" -v r0="$r0" -v r1="$r1" \
    'BEGIN { mb = b / 1048576;
    printf "%-12s %6.1f batches/s %7.1f MB/s  curl  %5.1f ms CPU/MB  receiver %5.1f ms CPU/MB\n",
    "curl (peer)", n / w, mb / w, c * 1000 / mb, (r1 - r0) * 1000 / mb }'
awk -v s="$(cat "$T/wall-plain")" -v c="$1" \
    'BEGIN { printf "shipd/curl throughput ratio: %.2f\n", c / s }'
echo "loaded into MySQL so far: $(q 'SELECT COUNT(*) FROM batches') of $((NB * 3)) batches (the loaders lag the receiver)"
