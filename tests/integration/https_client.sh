#!/bin/sh
# tests/integration/https_client.sh: the HTTPS client of shipd and
# vbsctl enroll (shipd/https.c), through tests/tools/https_client,
# against a Python TLS server on loopback that answers in the ways a
# server may: a length, chunks, a body up to the close, a kept
# connection the server drops, a refusal before the body of an
# Expect: 100-continue, a 417 to it, no answer at all, a reply too long or
# malformed or with bytes past its end.  And who it trusts: the CA and
# the host name, the pin, both, or neither.

. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lib_tls.sh"

tls_available || { skip "https client" "no openssl"; exit 0; }
command -v python3 >/dev/null 2>&1 || { skip "https client" "no python3"; exit 0; }
C=$BIN/https_client
[ -x "$C" ] || { not_ok "https client: build the test tools first"; exit 1; }
T=$(tmpdir)
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
tls_make "$T/tls" || { not_ok "https client: test CA"; exit 1; }

# A second certificate of the same CA, for another name only.
(
cd "$T/tls" || exit 1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout other.key -out other.csr -subj "/CN=other.example" \
    >/dev/null 2>&1 &&
printf 'subjectAltName=DNS:other.example\n' >other.ext &&
openssl x509 -req -in other.csr -CA ca.crt -CAkey ca.key \
    -CAcreateserial -out other.crt -days 2 -extfile other.ext \
    >/dev/null 2>&1
) || { not_ok "https client: second certificate"; exit 1; }

cat >"$T/server.py" <<'EOF'
# The test server: HTTP/1.1 over TLS on 127.0.0.1, answers by path.
import http.server, socket, ssl, sys

crt, key, portfile, host = sys.argv[1:5]
conns = 0
n417 = 0

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        global conns
        conns += 1
        super().setup()

    def log_message(self, *a):
        pass

    def handle_expect_100(self):
        if self.path == "/refuse":
            # The final answer before any of the body.
            self.send_response_only(401)
            self.send_header("Content-Length", "5")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"nope!")
            self.close_connection = True
            return False
        if self.path == "/toolarge":
            # The same, keeping the connection.
            self.send_response_only(413)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"too large")
            return False
        if self.path == "/nocontinue":
            # No 100 Continue: the body is read all the same.
            return True
        if self.path in ("/expect417", "/always417"):
            # The expectation refused, before the body.
            global n417
            n417 += 1
            self.send_response_only(417)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        return super().handle_expect_100()

    def reply(self, code, body, *hdrs):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        for h in hdrs:
            self.send_header(*h)
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        self.do_GET()

    def do_POST(self):
        self.do_GET()

    def do_GET(self):
        global conns, n417
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        p = self.path
        if p in ("/len", "/nocontinue", "/expect417"):
            self.reply(200, b"got %d" % len(data))
        elif p == "/always417":
            n417 += 1
            self.reply(417, b"no")
        elif p == "/n417":
            self.reply(200, b"%d" % n417)
        elif p == "/conns":
            self.reply(200, b"%d" % conns)
        elif p == "/zero":
            conns = 1
            self.reply(200, b"")
        elif p == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\nT: t\r\n\r\n")
        elif p == "/toclose":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until the close")
            self.close_connection = True
        elif p == "/drop":
            # Says nothing of closing, then closes.
            self.reply(200, b"dropped")
            self.close_connection = True
        elif p == "/retry":
            self.reply(503, b"", ("Retry-After", "7"))
        elif p == "/big":
            self.reply(200, b"x" * (2 * 1024 * 1024))
        elif p == "/cut":
            self.reply(200, b"y" * 5000)
        elif p == "/silent":
            # Never answers: waits for the client to go.
            self.rfile.read(1)
            self.close_connection = True
        elif p == "/twice":
            # Two replies in one write: the second answers nothing.
            r = b"HTTP/1.1 201 Created\r\nContent-Length: 6\r\n\r\nstored"
            self.wfile.write(r + r)
        elif p == "/longer":
            # A body longer than its Content-Length.
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                             b"\r\nokHTTP/1.1 201 Created\r\n"
                             b"Content-Length: 5\r\n\r\nstale")
        elif p == "/bad":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                             b"Content-Length: 2\r\n\r\nx")
            self.close_connection = True
        else:
            self.reply(404, b"no such path")

class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

srv = S((host, 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(crt, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
import os
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
EOF

start() {
	python3 "$T/server.py" "$T/tls/$1.crt" "$T/tls/$1.key" "$T/$1$3.port" \
	    "$3" 2>"$T/$1$3.log" &
	PIDS="$PIDS $!"
	wait_for 10 test -s "$T/$1$3.port" || return 1
	read -r "$2" <"$T/$1$3.port"
}
start server P 127.0.0.1 || { not_ok "https client: test server"; exit 1; }
start other Q 127.0.0.1 || { not_ok "https client: second server"; exit 1; }
start server P6 ::1 || { not_ok "https client: IPv6 server"; exit 1; }
U=https://127.0.0.1:$P
CA=$T/tls/ca.crt

# expect NAME WANT OUTPUT: OUTPUT's lines are WANT's (grep -E patterns,
# one a line, in order).
expect() {
	_got=$(printf '%s\n' "$3" | wc -l)
	_want=$(printf '%s\n' "$2" | wc -l)
	_i=1
	_ok=1
	[ "$_got" = "$_want" ] || _ok=0
	while [ "$_ok" = 1 ] && [ "$_i" -le "$_want" ]; do
		_w=$(printf '%s\n' "$2" | sed -n "${_i}p")
		printf '%s\n' "$3" | sed -n "${_i}p" | grep -Eq "$_w" || _ok=0
		_i=$((_i + 1))
	done
	if [ "$_ok" = 1 ]; then
		ok "https client: $1"
	else
		not_ok "https client: $1"
		diag "want:
$2
got:
$3"
	fi
}

expect "a length, chunks with extensions and trailer, kept connection" \
"^status 200 sent 0 len 5 cut 0 retry 0 body got 0$
^status 200 sent 0 len 5 cut 0 retry 0 body hello$
^status 200 sent 11 len 6 cut 0 retry 0 body got 11$
^status 200 sent 0 len 1 cut 0 retry 0 body 1$" \
    "$("$C" -c "$CA" "$U" /len /chunked PUT:/len:11 /conns)"

expect "a body up to the close, then a new connection" \
"^status 200 sent 0 len 0 cut 0 retry 0 body $
^status 200 sent 0 len 15 cut 0 retry 0 body until the close$
^status 200 sent 0 len 1 cut 0 retry 0 body 2$" \
    "$("$C" -c "$CA" "https://localhost:$P" /zero /toclose /conns)"

expect "a kept connection the server dropped: the next request on a new one" \
"^status 200 .* body dropped$
^status 200 .* body got 3$
^status 200 .* body [0-9]+$" \
    "$("$C" -c "$CA" "$U" /drop PUT:/len:3 /conns)"

expect "Retry-After, and a 404 that keeps the connection" \
"^status 503 sent 0 len 0 cut 0 retry 7 body $
^status 404 sent 0 len 12 cut 0 retry 0 body no such path$" \
    "$("$C" -c "$CA" "$U" /retry /nothing)"

# Above 1 MB: Expect: 100-continue.  A refusal costs no body.
expect "Expect: 100-continue: a refusal before the body, then the body sent" \
"^status 401 sent 0 len 5 cut 0 retry 0 body nope!$
^status 200 sent 2000000 len 11 cut 0 retry 0 body got 2000000$" \
    "$("$C" -c "$CA" "$U" PUT:/refuse:2000000 PUT:/len:2000000)"
expect "Expect: 100-continue: a refusal that keeps the connection, then a new one" \
"^status 413 sent 0 len 9 cut 0 retry 0 body too large$
^status 200 sent 0 len 5 cut 0 retry 0 body got 0$" \
    "$("$C" -c "$CA" "$U" PUT:/toolarge:2000000 /len)"

# RFC 9110, 10.1.1: a 417 to Expect: 100-continue: the same request
# again without it, once.  A 417 to that is the answer.  3 417s in all.
expect "Expect: 100-continue refused (417): sent again without, once" \
"^status 200 sent 2000000 len 11 cut 0 retry 0 body got 2000000$
^status 417 sent 2000000 len 2 cut 0 retry 0 body no$
^status 200 sent 0 len 1 cut 0 retry 0 body 3$" \
    "$("$C" -c "$CA" "$U" PUT:/expect417:2000000 PUT:/always417:2000000 /n417)"

# A server that sends no 100 Continue gets the body after the 1 s wait
# for it, even though TLS 1.3 session tickets came within that wait.
t0=$(date +%s)
out=$(timeout 15 "$C" -t 10 -c "$CA" "$U" PUT:/nocontinue:2000000)
t=$(( $(date +%s) - t0 ))
expect "Expect: 100-continue: no 100 from the server, the body sent all the same" \
"^status 200 sent 2000000 len 11 cut 0 retry 0 body got 2000000$" "$out"
check "https client: no 100 from the server: the body sent after the 1 s wait, not the timeout" \
    test "$t" -le 5
diag "answered after $t s"

expect "a long body is cut where kept, a longer one refused" \
"^status 200 sent 0 len 4096 cut 1 retry 0 body y+$
^error reply from 127.0.0.1: body over 1048576 bytes$" \
    "$("$C" -c "$CA" "$U" /cut /big)"

# Bytes past a reply's end: the connection is not reused, lest they
# be taken for the next request's answer (shipd would delete a batch
# the server refused).
expect "a second reply, or a body past its length: the next on a new connection" \
"^status 201 sent 0 len 6 cut 0 retry 0 body stored$
^status 200 sent 0 len 5 cut 0 retry 0 body got 0$
^status 200 sent 0 len 2 cut 0 retry 0 body ok$
^status 200 sent 0 len 5 cut 0 retry 0 body got 0$" \
    "$("$C" -c "$CA" "$U" /twice /len /longer /len)"

# Any one wait longer than the timeout fails the request, long before
# the request's deadline (30 s to connect, plus the timeout).
t0=$(date +%s)
out=$(timeout 15 "$C" -t 2 -c "$CA" "$U" /silent)
t=$(( $(date +%s) - t0 ))
expect "a server that never answers: timed out" \
"^error receive from 127.0.0.1: timed out$" "$out"
check "https client: a server that never answers: given up after the 2 s timeout" \
    test "$t" -le 5
diag "given up after $t s"

expect "a malformed reply is refused, with why" \
"^error reply Content-Length invalid or given twice$" \
    "$("$C" -c "$CA" "$U" /bad)"

# -- whom it trusts
expect "another CA: refused" \
"^error TLS with 127.0.0.1: .*(unable to get local issuer|certificate verify failed)" \
    "$("$C" -c "$T/tls/other-ca.crt" "$U" /len)"
expect "the system's CAs do not know the test CA" \
"^error TLS with 127.0.0.1: .*(unable to get local issuer|certificate verify failed)" \
    "$("$C" "$U" /len)"
expect "the right CA, the wrong host name: refused" \
"^error TLS with 127.0.0.1: .*(hostname mismatch|IP address mismatch|certificate verify failed)" \
    "$("$C" -c "$CA" "https://127.0.0.1:$Q" /len)"
expect "the pin alone: a certificate for another name is accepted" \
"^status 200 .* body got 0$" \
    "$("$C" -p "$(pin_of "$T/tls/other.key")" "https://127.0.0.1:$Q" /len)"
expect "a wrong pin: refused, even with the right CA" \
"^error TLS with 127.0.0.1: its public key is not the pinned one$" \
    "$("$C" -c "$CA" -p "$TLS_BADPIN" "$U" /len)"
expect "CA and pin, either of two pins" \
"^status 200 .* body got 0$" \
    "$("$C" -c "$CA" -p "$TLS_BADPIN;$TLS_PIN" "$U" /len)"
expect "IPv6 literal URL, the CA checking the address" \
"^status 200 .* body got 0$" \
    "$("$C" -c "$CA" "https://[::1]:$P6" /len)"
printf 'not a certificate\n' >"$T/nocert.pem"
expect "a ca_file without a certificate, or none: refused at start" \
"^error ca_file $T/nocert.pem: no certificate or crl found$
^error ca_file $T/none.pem: No such file or directory$" \
    "$("$C" -c "$T/nocert.pem" "$U" /len; "$C" -c "$T/none.pem" "$U" /len)"
expect "nothing listening: why" \
"^error connect to 127.0.0.1 port 1: Connection refused$" \
    "$("$C" -c "$CA" "https://127.0.0.1:1" /len)"
for bad in "http://127.0.0.1/" "https://user@127.0.0.1/" "https://[::1/" \
    "https://127.0.0.1:0/" "https://127.0.0.1:99999/" "https://a b/"; do
	re=$(printf '%s' "$bad" | sed 's/[][\.*^$]/\\&/g')
	expect "URL refused: $bad" "^error $re: not https://HOST\\[:PORT\\]\\[/PATH\\]$" \
	    "$("$C" -c "$CA" "$bad" /len)"
done
