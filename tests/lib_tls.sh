# tests/lib_tls.sh: a test certificate authority made at test time, for
# the real TLS of shipd, ingestd and vbsctl enroll.  Sourced after
# tests/lib.sh, never run.  Nothing here is kept: every key is new.
#
#	tls_make DIR [SAN...]
#			DIR/ca.crt, DIR/server.crt, DIR/server.key for
#			127.0.0.1, ::1, localhost and each SAN given (as
#			IP:198.18.4.2); DIR/other-ca.crt, a
#			CA the server does not chain to; TLS_PIN, the
#			server key's sha256// pin; TLS_BADPIN, another
#	tls_available	openssl is there

tls_available() {
	command -v openssl >/dev/null 2>&1
}

# pin_of KEYFILE: the curl pin (sha256//BASE64 of the DER public key).
pin_of() {
	echo "sha256//$(openssl pkey -in "$1" -pubout -outform DER 2>/dev/null |
	    openssl dgst -sha256 -binary | openssl base64 -A)"
}

tls_make() {
	_d=$1; shift
	_san=DNS:localhost,IP:127.0.0.1,IP:::1
	for _ts in "$@"; do _san=$_san,$_ts; done
	mkdir -p "$_d"
	(
	cd "$_d" || exit 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout ca.key -out ca.crt -days 2 \
	    -subj "/CN=VBS test CA" >/dev/null 2>&1 || exit 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout other-ca.key -out other-ca.crt -days 2 \
	    -subj "/CN=VBS other CA" >/dev/null 2>&1 || exit 1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout server.key -out server.csr -subj "/CN=localhost" \
	    >/dev/null 2>&1 || exit 1
	printf '%s\n' "basicConstraints=CA:FALSE" \
	    "keyUsage=digitalSignature,keyEncipherment" \
	    "extendedKeyUsage=serverAuth" \
	    "subjectAltName=$_san" >server.ext
	openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
	    -CAcreateserial -out server.crt -days 2 -extfile server.ext \
	    >/dev/null 2>&1 || exit 1
	chmod 644 server.key ca.crt server.crt other-ca.crt
	) || return 1
	TLS_PIN=$(pin_of "$_d/server.key")
	TLS_BADPIN=$(pin_of "$_d/other-ca.key")
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
