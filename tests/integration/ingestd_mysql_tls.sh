#!/bin/sh
# tests/integration/ingestd_mysql_tls.sh: ingestd reaches a MySQL on
# another host as a deployment does: over TCP, by host name, with TLS
# and the server's certificate checked against the CA the option file
# names (ingestd/db.c).  Loader workers and the receiver connect from
# inside their sandboxes (Landlock and the seccomp lists of
# ingestd/sandbox.c), where the connector's TLS, the name look-up and
# reading the CA (and a client certificate and key, for an account that
# asks one) must all still work.  What would let someone on the
# path read or pose as MySQL is refused, says why, and loads nothing:
# no TLS, TLS whose name is not checked, a bare ssl-verify-server-cert
# (which MariaDB Connector/C reads as "off"), a CA that did not sign the
# server's certificate, a name it is not for.  TCP on loopback needs
# none of it.
#
# Everything runs in a network namespace of the test's own: MariaDB
# listens on 198.18.7.1 (an address of that namespace's loopback, so not
# a loopback address) and on 127.0.0.1.  The names resolve through a
# hosts file bind-mounted over /etc/hosts in ingestd's mount namespace.

. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/shipd_fixture.inc"

N="ingestd mysql tls"
need_root "$N"
ingestd_available || { skip "$N" "no mariadbd or openssl"; exit 0; }
ensure_users || { not_ok "$N: users"; exit 1; }

T=$(tmpdir)
chmod 755 "$T"
NS=vbs-mytls-$$
cleanup() {
	fx_cleanup
	ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
ip netns add "$NS" && ip -n "$NS" link set lo up &&
    ip -n "$NS" addr add 198.18.7.1/32 dev lo ||
    { not_ok "$N: namespace"; exit 1; }
tls_make "$T/tls" DNS:mysql.vbs.test IP:198.18.7.1 ||
    { not_ok "$N: test CA"; exit 1; }
MDB_NETNS=$NS MDB_ADDR=198.18.7.1,127.0.0.1 MDB_PORT=3306
mariadb_start "$T/db" --innodb-flush-log-at-trx-commit=2 \
    --ssl-cert="$T/tls/server.crt" --ssl-key="$T/tls/server.key" \
    --ssl-ca="$T/tls/ca.crt" --skip-name-resolve || { not_ok "$N: mariadb with TLS"; exit 1; }
trap cleanup EXIT
# ing must use TLS; plain need not (for the refusals of no TLS at all);
# cert must show a certificate of the test CA's for vbs-ingest
mdb "CREATE DATABASE vbs;
    CREATE USER ing@'%' IDENTIFIED BY 'pw' REQUIRE SSL;
    CREATE USER plain@'%' IDENTIFIED BY 'pw';
    CREATE USER cert@'%' IDENTIFIED BY 'pw' REQUIRE SUBJECT
    '/CN=vbs-ingest' AND ISSUER '/CN=VBS test CA'" ||
    { not_ok "$N: database and accounts"; exit 1; }
mariadb_optfile "$T/root.cnf" vbs
$ING -m "$T/root.cnf" migrate >"$T/migrate.log" 2>&1 ||
    { not_ok "$N: migrate"; exit 1; }
for a in "ing@'%'" "plain@'%'" "cert@'%'"; do
	ingestd_grant "$a" receiver || { not_ok "$N: grants"; exit 1; }
done

# The option files, the CA and the client's certificate beside them
# (the one directory outside /etc and /usr that the sandbox lets
# ingestd read).
mkdir -p "$T/etc"
cp "$T/tls/ca.crt" "$T/tls/other-ca.crt" "$T/etc/"
( cd "$T/etc" &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout client.key -out client.csr -subj /CN=vbs-ingest &&
    openssl x509 -req -in client.csr -CA "$T/tls/ca.crt" \
    -CAkey "$T/tls/ca.key" -CAcreateserial -out client.crt -days 2 ) \
    >"$T/client-cert.log" 2>&1 || { not_ok "$N: client certificate"; exit 1; }
optfile() { # NAME HOST USER [LINES...]
	_f=$T/etc/$1.cnf _h=$2 _u=$3
	shift 3
	printf '%s\n' "[client]" "host=$_h" "port=3306" "user=$_u" \
	    "password=pw" "$@" "[ingestd]" "database=vbs" >"$_f"
	chmod 600 "$_f"
}
optfile good mysql.vbs.test ing "ssl-ca=$T/etc/ca.crt" \
    ssl-verify-server-cert=1
# a group ingestd does not read may say what it likes
printf '%s\n' "[mysqldump]" "ssl-verify-server-cert" >>"$T/etc/good.cnf"
optfile other-ca mysql.vbs.test ing "ssl-ca=$T/etc/other-ca.crt" \
    ssl-verify-server-cert=1
optfile other-name other.vbs.test ing "ssl-ca=$T/etc/ca.crt" \
    ssl-verify-server-cert=1
optfile bare mysql.vbs.test ing "ssl-ca=$T/etc/ca.crt" \
    ssl-verify-server-cert
optfile cert mysql.vbs.test cert "ssl-ca=$T/etc/ca.crt" \
    ssl-verify-server-cert=1 "ssl-cert=$T/etc/client.crt" \
    "ssl-key=$T/etc/client.key"
optfile no-cert mysql.vbs.test cert "ssl-ca=$T/etc/ca.crt" \
    ssl-verify-server-cert=1
optfile unchecked mysql.vbs.test ing "ssl-ca=$T/etc/ca.crt"
optfile no-tls mysql.vbs.test plain
optfile loopback 127.0.0.1 plain
printf '198.18.7.1 mysql.vbs.test other.vbs.test\n' >"$T/hosts"
# $IN CMD...: CMD in the namespace, where the two names resolve.
printf '%s\n' '#!/bin/sh' "mount --bind '$T/hosts' /etc/hosts && exec \"\$@\"" \
    >"$T/ns"
chmod 755 "$T/ns"
IN="ip netns exec $NS $T/ns"
accepts() { mdb "SHOW GLOBAL STATUS LIKE 'Ssl_accepts'" | cut -f2; }
batches() { q "SELECT COUNT(*) FROM batches"; }

# -- loader workers: every batch over TLS, by name
MK="python3 $TOP/tests/integration/ingestd_mkbatch.py"
$MK make "$T/b" --client tls1 --batches 4 --flows 80 --packets 1600 \
    --seed 3 >/dev/null || { not_ok "$N: batches"; exit 1; }
S=$T/spool
mkdir -p "$S/incoming"
cp "$T"/b/*.sqlite "$S/incoming/"
a0=$(accepts)
$IN $ING -m "$T/etc/good.cnf" -d -v -s "$S" -w 2 -x serve \
    >"$T/good.log" 2>&1
equal "two workers load over TLS, by host name (exit 0)" "$?" 0
equal "  all 4 batches" "$(batches)" 4
equal "  all 1600 packets" "$(q "SELECT COUNT(*) FROM packets")" 1600
equal "  none left in the spool" "$(ls "$S/incoming" | wc -l)" 0
check "  each connection TLS" [ "$(accepts)" -ge $((a0 + 3)) ]
check "  from inside the workers' sandboxes" \
    grep -q 'worker: landlock ABI\|worker: no Landlock' "$T/good.log"

# -- refused, each with its reason; the batch waits in the spool
$MK make "$T/c" --client tls2 --batches 1 --flows 20 --packets 400 \
    --seed 4 >/dev/null || { not_ok "$N: batches"; exit 1; }
refused() { # NAME REASON
	cp "$T"/c/*.sqlite "$S/incoming/"
	$IN $ING -m "$T/etc/$1.cnf" -d -s "$S" -w 1 -x serve \
	    >"$T/$1.log" 2>&1
	check "$1: refused (exit non-zero)" [ $? -ne 0 ]
	check "  says why: $2" grep -q "$2" "$T/$1.log"
	equal "  nothing loaded" "$(batches)" 4
	equal "  the batch waits in the spool" \
	    "$(ls "$S/incoming" | grep -c '^tls2\.')" 1
	rm -f "$S"/incoming/*
}
refused other-ca 'TLS/SSL error'
refused other-name 'TLS/SSL error'
refused bare 'bare.cnf line 7: ssl-verify-server-cert without a value'
refused unchecked "certificate's name is not checked"
refused no-tls 'the connection is not TLS'
# (the account below is MariaDB's to refuse without its certificate)
refused no-cert 'Access denied'
# -- on loopback, TCP without TLS is this host's own business
cp "$T"/c/*.sqlite "$S/incoming/"
$IN $ING -m "$T/etc/loopback.cnf" -d -s "$S" -w 1 -x serve \
    >"$T/loopback.log" 2>&1
equal "loopback: loads without TLS (exit 0)" "$?" 0
equal "  the batch" "$(batches)" 5

# -- an account that wants a client certificate: the worker reads its
# certificate and key in the sandbox
$MK make "$T/d" --client tls3 --batches 1 --flows 20 --packets 400 \
    --seed 5 >/dev/null || { not_ok "$N: batches"; exit 1; }
cp "$T"/d/*.sqlite "$S/incoming/"
$IN $ING -m "$T/etc/cert.cnf" -d -s "$S" -w 1 -x serve \
    >"$T/cert.log" 2>&1
equal "client certificate: loads (exit 0)" "$?" 0
equal "  the batch" "$(batches)" 6

# -- the receiver: enrolment and an upload ask MySQL, over TLS, by name
PORT=$(free_port)
URL="https://localhost:$PORT"
ING_CONF=$T/admin.conf
printf '%s\n' "[ingestd]" "mysql_options = $T/root.cnf" >"$ING_CONF"
CONF=$T/vbs.conf
printf '%s\n' "[ingestd]" "listen = 127.0.0.1:$PORT" \
    "cert_file = $T/tls/server.crt" "key_file = $T/tls/server.key" \
    "spool = $S" "mysql_options = $T/etc/good.cnf" >"$CONF"
# the fixture's helpers reach the receiver where it listens
curl() { ip netns exec "$NS" curl "$@"; }
setsid $IN $ING -f "$CONF" -d -v -w 1 serve >"$T/serve.log" 2>&1 &
SERVE_PID=$!
wait_for 20 fx_up || diag "ingestd serve did not answer on $URL"
ingestd_enroll_cmd "$T" || { not_ok "$N: an enrolment command"; exit 1; }
CID_r=$(ingestd_enroll "$URL" "$T/tls/ca.crt" "$T/r.cred" \
    "$T/enroll-r.log" ip netns exec "$NS")
check "the receiver enrols a client (its token checked over TLS)" \
    [ -n "$CID_r" ]
fx_batches "$T/br" "${CID_r:-x}" 1 || { not_ok "$N: batches"; exit 1; }
set -- "$T"/br/*.sqlite
equal "  and takes its upload (201)" \
    "$(put -u "$CID_r:$(secret r)" -- "$(id_of "$1")" "$1")" 201
loaded() { [ "$(batches)" = 7 ]; }
check "  which its worker loads" wait_for 20 loaded
fx_serve_stop
check "  no process of serve died" sh -c "! grep -q 'died' '$T/serve.log'"
fx_sanitizer_check
