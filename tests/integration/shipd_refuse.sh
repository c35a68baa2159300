#!/bin/sh
# tests/integration/shipd_refuse.sh: what ingestd's receiver refuses,
# with which status, and that nothing of it is stored: no credentials,
# a wrong secret, a revoked client, a client posting under another's id,
# a batch id like ../x, a body over the limit, a hash mismatch, a
# connection sending one byte a second.  Then what it accepts: a batch
# once (201), the same again (200), zstd; enrolment tokens once only;
# the per-client rate.  Real TLS on loopback with a test CA.

. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/shipd_fixture.inc"

need_root "ingestd receiver"
mariadb_available || { skip "ingestd receiver" "no mariadbd"; exit 0; }
tls_available || { skip "ingestd receiver" "no openssl"; exit 0; }
ensure_users || { not_ok "users"; exit 1; }
fx_setup "max_batch = 64k" "timeout = 2s" "min_rate = 1k" \
    "rate_per_client = 8"
fx_serve_start

fx_enroll a || { not_ok "enrol a"; exit 1; }
fx_enroll b || { not_ok "enrol b"; exit 1; }
fx_enroll r || { not_ok "enrol r"; exit 1; }
fx_batches "$T/ba" "$CID_a" 3 30 300 1 || { not_ok "batches"; exit 1; }
fx_batches "$T/bb" "$CID_b" 1 10 100 2 || { not_ok "batches"; exit 1; }
set -- "$T"/ba/*.sqlite
A1=$1 A2=$2 A3=$3
stored() {
	ls "$T/spool/incoming" "$T/spool/claim" "$T/spool/done" 2>/dev/null |
	    grep -v -e '^/' -e '^$' | grep -c .
}
ledger() { q "SELECT COUNT(*) FROM batches"; }
sleep 1

equal "no credentials: 401" "$(put -- "$(id_of "$A1")" "$A1")" 401
equal "a wrong secret: 401" \
    "$(put -u "$CID_a:$(secret b)" -- "$(id_of "$A1")" "$A1")" 401
equal "another client's id with my secret: 401" \
    "$(put -u "$CID_b:$(secret a)" -- "$(id_of "$A1")" "$A1")" 401
B1=$(ls "$T"/bb/*.sqlite)
equal "a batch of another client under my credentials: 403" \
    "$(put -u "$CID_a:$(secret a)" -- "$(id_of "$B1")" "$B1")" 403
equal "batch id ../x: 400" \
    "$(put --path-as-is -u "$CID_a:$(secret a)" -- "../x" "$A1")" 400
equal "batch id ..%2Fx: 400" \
    "$(put -u "$CID_a:$(secret a)" -- "..%2Fx" "$A1")" 400
equal "batch id .hidden: 400" \
    "$(put -u "$CID_a:$(secret a)" -- ".hidden" "$A1")" 400
head -c 100000 /dev/urandom >"$T/big"
# With Expect: 100-continue, as libcurl (so shipd) sends it above 1 MB:
# the server refuses before any body.  Without it the refusal races
# the body, and the server's close may reset the connection while curl
# is still sending (status 000): TCP's rule, not the receiver's.
equal "a body over max_batch: 413" \
    "$(put -u "$CID_a:$(secret a)" -H Expect:100-continue -- big \
    "$T/big")" 413
equal "a hash mismatch: 422" \
    "$(put -u "$CID_a:$(secret a)" -- "$(id_of "$A1")" "$A1" \
    "$(sha "$A2")")" 422
equal "a batch under another id than its meta's: 422" \
    "$(put -u "$CID_a:$(secret a)" -- "$(id_of "$A2")" "$A1")" 422
head -c 30000 /dev/urandom >"$T/junk"
equal "not a batch: 422" \
    "$(put -u "$CID_a:$(secret a)" -- notabatch "$T/junk")" 422

# One byte a second: in the body, and in the headers.
cat >"$T/slow.py" <<'EOF'
import socket, ssl, sys, time
port, ca, mode, user = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                    server_hostname="localhost")
import base64
auth = base64.b64encode(user.encode()).decode()
head = ("PUT /v1/batches/slow-1 HTTP/1.1\r\nHost: localhost\r\n"
        "Authorization: Basic %s\r\nX-VBS-SHA256: %s\r\n"
        "Content-Length: 20000\r\n\r\n" % (auth, "0" * 64)).encode()
t0 = time.time()
try:
    if mode == "body":
        s.sendall(head)
        data = b"x" * 20000
    else:
        data = head
    for i in range(len(data)):
        s.send(data[i:i + 1])
        time.sleep(1)
        if time.time() - t0 > 30:
            print("open after 30 s"); sys.exit(1)
except (OSError, ssl.SSLError):
    pass
print("closed after %.0f s" % (time.time() - t0))
EOF
for mode in body headers; do
	r=$(timeout 60 python3 "$T/slow.py" "$PORT" "$T/tls/ca.crt" $mode \
	    "$CID_a:$(secret a)")
	diag "one byte a second in the $mode: $r"
	case $r in
	"closed after "[1-9]" s") ok "one byte a second in the $mode: closed" ;;
	*) not_ok "one byte a second in the $mode: closed" ;;
	esac
done

fx_enroll c || { not_ok "enrol c"; exit 1; }
$ING -f "$CONF" revoke "$CID_c" >/dev/null 2>&1
equal "ingestd revoke" "$?" 0
fx_batches "$T/bc" "$CID_c" 1 10 100 3 || { not_ok "batches"; exit 1; }
C1=$(ls "$T"/bc/*.sqlite)
equal "a revoked client: 403" \
    "$(put -u "$CID_c:$(secret c)" -- "$(id_of "$C1")" "$C1")" 403
equal "a revoked client with a wrong secret: 401" \
    "$(put -u "$CID_c:$(secret a)" -- "$(id_of "$C1")" "$C1")" 401
$ING -f "$CONF" revoke nosuchclient >/dev/null 2>&1
equal "revoke of an unknown client: exit 1" "$?" 1

sleep 1
equal "refused: nothing stored in the spool" "$(stored)" 0
equal "refused: no partial file left" \
    "$(ls "$T/spool/tmp" | grep -c '\.part$')" 0
equal "refused: nothing in MySQL" "$(ledger)" 0

# What is accepted.
equal "a batch: 201" "$(put -u "$CID_a:$(secret a)" -- "$(id_of "$A1")" "$A1")" 201
equal "the same batch again: 200" \
    "$(put -u "$CID_a:$(secret a)" -- "$(id_of "$A1")" "$A1")" 200
zstd -q -c "$A2" >"$T/a2.zst" 2>/dev/null
if [ -s "$T/a2.zst" ]; then
	equal "a zstd body: 201" "$(put -u "$CID_a:$(secret a)" \
	    -H 'Content-Encoding:zstd' -- "$(id_of "$A2")" "$T/a2.zst" \
	    "$(sha "$A2")")" 201
else
	skip "a zstd body: 201" "no zstd command"
fi
equal "an unknown encoding: 415" "$(put -u "$CID_a:$(secret a)" \
    -H 'Content-Encoding:gzip' -- "$(id_of "$A3")" "$A3")" 415
# A batch that a loader holds (claim/NAME~HOST~PID) is not yet in
# MySQL, but known: an upload of it again gets 200, as above, and is
# not stored twice.
held="$T/spool/claim/$CID_b.$(id_of "$B1")~otherhost~1"
cp "$B1" "$held"
equal "a batch a loader holds: 200" \
    "$(put -u "$CID_b:$(secret b)" -- "$(id_of "$B1")" "$B1")" 200
equal "  not stored again" \
    "$(ls "$T/spool/incoming" | grep -c "^$CID_b\.")" 0
rm -f "$held"
wait_for 20 sh -c "[ \$(mariadb --no-defaults -S '$MDB_SOCK' -uroot -N -B -e 'SELECT COUNT(*) FROM vbs.batches') = 2 ]"
equal "stored once each in MySQL" "$(ledger)" 2
equal "the duplicate stored once" "$(q "SELECT COUNT(*) FROM batches WHERE batch_name = '$(id_of "$A1")'")" 1

# The rate: 8 uploads a minute for one client, then 429.
fx_batches "$T/br" "$CID_r" 9 90 900 4 || { not_ok "batches"; exit 1; }
codes=
for f in "$T"/br/*.sqlite; do
	codes="$codes $(put -u "$CID_r:$(secret r)" -- "$(id_of "$f")" "$f")"
done
equal "per-client rate: 8 a minute, then 429" "$codes" \
    " 201 201 201 201 201 201 201 201 429"

# Enrolment tokens: once, and not after they expire.
tok=$($ING -f "$CONF" enroll-token 2s 2>/dev/null)
sleep 3
$ENROLL -f "$CONF" -c "$T/tls/ca.crt" -o "$T/x.cred" "$URL" "$tok" >/dev/null 2>&1
equal "an expired token: refused (exit 1)" "$?" 1
tok=$($ING -f "$CONF" enroll-token 1h 2>/dev/null)
$ENROLL -f "$CONF" -c "$T/tls/ca.crt" -o "$T/y.cred" "$URL" "$tok" >/dev/null 2>&1
equal "a token: accepted" "$?" 0
$ENROLL -f "$CONF" -c "$T/tls/ca.crt" -o "$T/z.cred" "$URL" "$tok" >/dev/null 2>&1
equal "the same token again: refused" "$?" 1
$ENROLL -F -f "$CONF" -c "$T/tls/other-ca.crt" -o "$T/z.cred" "$URL" \
    "$tok" >/dev/null 2>&1
equal "enrolment with a server of another CA: refused" "$?" 111
equal "no secret stored in MySQL" \
    "$(q "SELECT COUNT(*) FROM clients WHERE secret_hash NOT LIKE 'sha256:%'")" 0
s=$(secret a)
equal "the server keeps a hash, not the secret" \
    "$(q "SELECT COUNT(*) FROM clients WHERE secret_hash LIKE '%$s%'")" 0
fx_shipd_stop
fx_serve_stop
fx_sanitizer_check
exit 0
