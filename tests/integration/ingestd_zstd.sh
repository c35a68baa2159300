#!/bin/sh
# tests/integration/ingestd_zstd.sh: the receiver takes zstd bodies
# with a window of at most 2 MB (BATCH_ZSTD_WINDOW_LOG), the most shipd
# asks.  A frame of 466 bytes whose header asks 128 MB (zstd's own
# limit) and then fills 15 MB of it is refused (413, the answer naming
# the window) before the receiver's peak resident size grows; one that
# asks 4 MB too; a frame of 2 MB is decoded; a 4 MB batch compressed by
# the zstd tool and by shipd (compress = true: 2 MB windows, several of
# them) is stored and loaded.  Real TLS on loopback with a test CA, the
# default max_batch (16 MB).

. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/shipd_fixture.inc"

need_root "ingestd zstd"
mariadb_available || { skip "ingestd zstd" "no mariadbd"; exit 0; }
tls_available || { skip "ingestd zstd" "no openssl"; exit 0; }
command -v zstd >/dev/null || { skip "ingestd zstd" "no zstd tool"; exit 0; }
[ -x "$BIN/shipd" ] || { not_ok "shipd built"; exit 1; }
ensure_users || { not_ok "users"; exit 1; }
fx_setup "rate_per_client = 0"
fx_serve_start
fx_enroll a || { not_ok "enrol a"; exit 1; }
AUTH="$CID_a:$(secret a)"

# frame WINDOWLOG BYTES: a zstd frame whose header asks 2^WINDOWLOG
# bytes of window, of RLE blocks that decode to BYTES bytes.
frame() {
	python3 - "$1" "$2" <<'EOF'
import struct, sys
wlog, total = int(sys.argv[1]), int(sys.argv[2])
out = bytearray(b"\x28\xb5\x2f\xfd\x00")	# magic; no size, no checksum
out.append((wlog - 10) << 3)			# window descriptor
bmax = min(1 << wlog, 128 * 1024)
left, byte = total, 1
while left > 0:
    n = min(bmax, left)
    left -= n
    out += struct.pack("<I", (left == 0) | 1 << 1 | n << 3)[:3]
    out.append(byte & 0xff)
    byte += 1
sys.stdout.buffer.write(out)
EOF
}
# zput ID FILE [HASH]: the status of a PUT of FILE as a zstd body.
zput() {
	curl -s -o "$T/body" -w '%{http_code}' --cacert "$T/tls/ca.crt" \
	    --max-time 30 -X PUT -u "$AUTH" -H 'Content-Encoding: zstd' \
	    -H "X-VBS-SHA256: ${3:-$(printf '%064d' 0)}" \
	    -H 'Content-Type: application/vnd.sqlite3' \
	    --data-binary "@$2" "$URL/v1/batches/$1"
}
# The receiver is the process that listens on the port.
RPID=$(ss -Hltnp "sport = :$PORT" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' |
    head -1)
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$RPID/status"; }
[ -n "$RPID" ] || { not_ok "the receiver's pid"; exit 1; }

frame 27 15000000 >"$T/w27.zst"
frame 22 300000 >"$T/w22.zst"
frame 21 300000 >"$T/w21.zst"
diag "frames: $(stat -c %s "$T/w27.zst") bytes asking 128 MB of window" \
    "for 15 MB; $(stat -c %s "$T/w22.zst") asking 4 MB"
h0=$(hwm)
equal "a zstd frame asking a 128 MB window: 413" \
    "$(zput wide "$T/w27.zst")" 413
h1=$(hwm)
diag "answer: $(cat "$T/body")"
check "  the answer names the window" \
    grep -q 'zstd window too large: the limit is 2097152 bytes' "$T/body"
diag "the receiver's peak resident size: $h0 kB before, $h1 kB after"
check "  the receiver's peak resident size grew by less than 4 MB" \
    [ $(( ${h1:-999999} - ${h0:-0} )) -lt 4096 ]
equal "a zstd frame asking a 4 MB window: 413" \
    "$(zput wide "$T/w22.zst")" 413
equal "a zstd frame of a 2 MB window is decoded (then its hash is wrong)" \
    "$(zput wide "$T/w21.zst")" 422
check "  the answer is the hash's" grep -q 'SHA-256' "$T/body"
equal "  no partial file left" "$(ls "$T/spool/tmp" | grep -c '\.part$')" 0

# -- real batches of 4 MB, compressed with 2 MB windows
fx_batches "$T/bz" "$CID_a" 2 2000 300000 7 || { not_ok "batches"; exit 1; }
set -- "$T"/bz/*.sqlite
Z1=$1 Z2=$2
zstd -q -3 -c <"$Z1" >"$T/z1.zst"
diag "a batch of $(stat -c %s "$Z1") bytes, $(stat -c %s "$T/z1.zst")" \
    "compressed; $(zstd -lv "$T/z1.zst" 2>&1 | grep -i 'window size')"
equal "a 4 MB batch compressed by zstd -3: 201" \
    "$(zput "$(id_of "$Z1")" "$T/z1.zst" "$(sha "$Z1")")" 201
OB=$T/outbox-a
fx_shipd_start a "$OB" "compress = true"
publish "$Z2" "$OB"
wait_for 30 test ! -e "$OB/${Z2##*/}"
fx_shipd_stop
check "  one by shipd, compressed: uploaded" test ! -e "$OB/${Z2##*/}"
line=$(grep 'stopping:' "$T/shipd-a.log" | tail -1)
diag "shipd: ${line#*stopping: }"
wire=$(echo "$line" | sed -n 's/.*bytes, \([0-9]*\) on the wire.*/\1/p')
check "  it went compressed (under 3 MB on the wire)" \
    [ "${wire:-99999999}" -lt 3000000 ]
# loaded N: MySQL's ledger holds N batches (asked again on each try).
loaded() { test "$(q 'SELECT count(*) FROM batches' | tail -1)" = "$1"; }
wait_for 60 loaded 2
equal "  both loaded" "$(q 'SELECT count(*) FROM batches' | tail -1)" 2
fx_sanitizer_check
exit 0
