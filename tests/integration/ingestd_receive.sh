#!/bin/sh
# tests/integration/ingestd_receive.sh: the receiver bounds what a
# client or a stopped MySQL can cost it.  A batch whose meta is a view
# that never ends, or one that makes a 300 MB value, is refused at once
# and small; a body sent chunked is refused before it is read; with
# MySQL stopped (SIGSTOP) every request is answered 503 in a few
# seconds, and uploads go on when it is back; a 405 names the method
# allowed; a batch the loader quarantined is refused (422) when sent
# again, and shipd sets it aside; `ingestd serve` stops on SIGTERM; its
# receiver and loaders run confined to the spool (spool_confine).
# Real TLS on loopback with a test CA.

. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/shipd_fixture.inc"

need_root "ingestd receive"
mariadb_available || { skip "ingestd receive" "no mariadbd"; exit 0; }
tls_available || { skip "ingestd receive" "no openssl"; exit 0; }
[ -x "$BIN/shipd" ] || { not_ok "shipd built"; exit 1; }
ensure_users || { not_ok "users"; exit 1; }
# timeout: longer than a request may wait for a stopped MySQL, so that
# the watchdog does not close it first.
fx_setup "max_batch = 64k" "timeout = 10s" "rate_per_client = 0"
fx_serve_start
fx_enroll a || { not_ok "enrol a"; exit 1; }

# -- the receiver and both loaders are confined (spool_confine: Landlock
# after no_new_privs); the parent and the receiver's keeper are not.
confined() {
	for _p in $(ps -o pid= -g "$SERVE_PID"); do
		grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$_p/status" \
		    2>/dev/null && echo "$_p"
	done | wc -l
}
equal "receiver and 2 workers run confined" "$(confined)" 3
logged() {
	grep -q 'receiver: landlock ABI\|receiver: no Landlock' \
	    "$T/serve.log" &&
	    grep -q 'worker: landlock ABI\|worker: no Landlock' "$T/serve.log"
}
check "the log says how they are confined" logged
fx_batches "$T/ba" "$CID_a" 2 20 200 1 || { not_ok "batches"; exit 1; }
set -- "$T"/ba/*.sqlite
A1=$1 A2=$2
AUTH="$CID_a:$(secret a)"

# -- 405 names the method allowed (RFC 9110)
allow() {
	curl -s -o /dev/null -D - --cacert "$T/tls/ca.crt" -X "$1" \
	    "$URL$2" | tr -d '\r' | sed -n 's/^[Aa]llow: //p'
}
equal "GET of a batch: 405, Allow: PUT" "$(allow GET /v1/batches/x)" PUT
equal "GET of enrolment: 405, Allow: POST" "$(allow GET /v1/enroll)" POST

# -- a body sent chunked, with a Content-Length that passes the checks
cat >"$T/chunky.py" <<'EOF'
import base64, select, socket, ssl, sys, time
port, ca, user = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                    server_hostname="localhost")
s.sendall(("PUT /v1/batches/chunky HTTP/1.1\r\nHost: localhost\r\n"
           "Authorization: Basic %s\r\nX-VBS-SHA256: %s\r\n"
           "Content-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n" %
           (base64.b64encode(user.encode()).decode(), "0" * 64)).encode())
s.settimeout(0.2)


def answer():
    try:
        return s.recv(4096)
    except (socket.timeout, ssl.SSLWantReadError):
        return b""


# An answer before any body, within 2 s; else a body for 3 s more.
chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
sent, t0, reply = 0, time.time(), b""
try:
    while not reply and time.time() - t0 < 2:
        reply = answer()
    while not reply and time.time() - t0 < 5:
        try:
            s.sendall(chunk)
            sent += len(chunk)
        except socket.timeout:
            pass
        if select.select([s], [], [], 0)[0]:
            reply = answer()
except (OSError, ssl.SSLError):
    pass
print(reply.split(b" ")[1].decode() if reply.startswith(b"HTTP/1.1 ")
      else "none", sent)
EOF
r=$(timeout 20 python3 "$T/chunky.py" "$PORT" "$T/tls/ca.crt" "$AUTH")
diag "Content-Length: 100, Transfer-Encoding: chunked: $r (status, bytes sent)"
equal "Transfer-Encoding: refused (411) before any body" "$r" "411 0"

# -- a batch whose meta runs SQL of its own
# hostile FILE SQL: a batch file whose meta is the view SQL.
hostile() {
	python3 - "$1" "$2" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE VIEW meta(key, value) AS " + sys.argv[2])
db.commit()
db.close()
EOF
}
# hwm: the largest peak resident size (kB) of the processes of serve.
hwm() {
	for _p in $(ps -o pid= -s "$SERVE_PID"); do
		awk '/^VmHWM:/ { print $2 }' "/proc/$_p/status"
	done 2>/dev/null | sort -n | tail -1
}
hostile "$T/forever.sqlite" "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL
    SELECT n + 1 FROM r) SELECT 'batch_id', n FROM r WHERE n = 0"
hostile "$T/huge.sqlite" "SELECT 'batch_id', hex(zeroblob(150000000))"
diag "hostile batches of $(stat -c %s "$T/forever.sqlite") and" \
    "$(stat -c %s "$T/huge.sqlite") bytes"
t0=$(date +%s)
equal "meta a view that never ends: 422" \
    "$(put --max-time 15 -u "$AUTH" -- forever "$T/forever.sqlite")" 422
check "  at once (in under 5 s)" [ $(( $(date +%s) - t0 )) -lt 5 ]
check "  as meta is not a table" grep -q 'meta is not a table' "$T/body"
equal "meta a view of a 300 MB value: 422" \
    "$(put --max-time 15 -u "$AUTH" -- huge "$T/huge.sqlite")" 422
m=$(hwm)
diag "largest peak resident size of serve's processes: $m kB"
check "  no process of serve grew past 100 MB" [ "${m:-0}" -lt 102400 ]
equal "  no partial file left" "$(ls "$T/spool/tmp" | grep -c '\.part$')" 0

# -- MySQL stopped: every request answered 503, with Retry-After, soon
equal "a batch (MySQL up): 201" "$(put -u "$AUTH" -- "$(id_of "$A1")" "$A1")" 201
# req N ARGS...: in the background (its pid added to REQS), "STATUS
# SECONDS RETRY-AFTER" in $T/reqN.
req() {
	_n=$1; shift
	(
		_t0=$(date +%s)
		_c=$(curl -s -o /dev/null -D "$T/hdr$_n" -w '%{http_code}' \
		    --max-time 15 --cacert "$T/tls/ca.crt" "$@")
		_ra=$(tr -d '\r' <"$T/hdr$_n" | sed -n 's/^[Rr]etry-[Aa]fter: //p')
		echo "$_c $(( $(date +%s) - _t0 )) ${_ra:--}" >"$T/req$_n"
	) &
	REQS="$REQS $!"
}
REQS=
trap 'kill -CONT "$MDB_PID" 2>/dev/null; fx_cleanup' EXIT
kill -STOP "$MDB_PID"
req 1 -X PUT -u "$CID_a:wrong" -H "X-VBS-SHA256: $(sha "$A2")" \
    --data-binary "@$A2" "$URL/v1/batches/$(id_of "$A2")"
req 2 -X PUT -u "$CID_a:wrong" -H "X-VBS-SHA256: $(sha "$A2")" \
    --data-binary "@$A2" "$URL/v1/batches/$(id_of "$A2")"
req 3 -X PUT -u "$AUTH" -H "X-VBS-SHA256: $(sha "$A2")" \
    --data-binary "@$A2" "$URL/v1/batches/$(id_of "$A2")"
req 4 -X POST -H "Authorization: Bearer nosuchtoken" "$URL/v1/enroll"
wait $REQS
kill -CONT "$MDB_PID"
trap fx_cleanup EXIT
for n in 1 2 3 4; do
	r=$(cat "$T/req$n")
	diag "request $n with MySQL stopped: $r (status, seconds, Retry-After)"
	case $r in
	"503 "[0-9]" 30") ok "request $n with MySQL stopped: 503 in under 10 s" ;;
	*) not_ok "request $n with MySQL stopped: 503 in under 10 s" ;;
	esac
done
equal "MySQL back: a batch is 201" \
    "$(put --max-time 15 -u "$AUTH" -- "$(id_of "$A2")" "$A2")" 201

# -- a batch the loader refuses is refused again at once, and kept once
python3 "$TOP/tests/integration/ingestd_mkbatch.py" corrupt schema "$A1" \
    "$T/refused-1.sqlite"
python3 - "$T/refused-1.sqlite" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE meta SET value = 'refused-1' WHERE key = 'batch_id'")
db.commit()
EOF
Q=$T/spool/quarantine/$CID_a.refused-1
equal "a batch the loader will refuse: 201" \
    "$(put -u "$AUTH" -- refused-1 "$T/refused-1.sqlite")" 201
wait_for 20 test -f "$Q.reason"
check "  quarantined" grep -q '^schema differs' "$Q.reason"
equal "  sent again: 422" "$(put -u "$AUTH" -- refused-1 "$T/refused-1.sqlite")" 422
diag "answer: $(cat "$T/body")"
sleep 1
equal "  kept once" "$(ls "$T/spool/quarantine" | grep -c "^$CID_a\.refused-1")" 2
mv "$Q" "$Q.1"
mv "$Q.reason" "$Q.1.reason"
equal "  a copy of it kept as .1: 422" \
    "$(put -u "$AUTH" -- refused-1 "$T/refused-1.sqlite")" 422
OB=$T/outbox-a
fx_shipd_start a "$OB"
publish "$T/refused-1.sqlite" "$OB"
wait_for 20 test -f "$OB/.rejected/refused-1.sqlite"
check "  shipd sets it aside on 422" test -f "$OB/.rejected/refused-1.sqlite"
fx_shipd_stop

# -- serve stops on SIGTERM, no thread held by what came before
t0=$(date +%s)
fx_serve_stop
t=$(( $(date +%s) - t0 ))
diag "ingestd serve stopped $t s after SIGTERM"
check "ingestd serve stops on SIGTERM within 10 s" [ $t -lt 10 ]
fx_sanitizer_check
exit 0
