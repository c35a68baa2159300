#!/bin/sh
# init/run.sh: `make run`, the whole VBS system on this one host, as root.
# Everything lives under ./var and is kept between runs:
#
#   var/mariadb   a private MariaDB (Unix socket only, never the system's)
#   var/tls       a CA made here and the server's certificate
#   var/server    ingestd's configuration, option file and spool
#   var/client    vbs.conf, credentials, outbox, work dir of the client
#   var/log       every process's log
#
# It starts MariaDB and `ingestd serve` (HTTPS on 127.0.0.1), enrols this
# client once, then runs vbsd capturing this host's own traffic on its
# default interface and shipping to that ingestd, and shows `vbsctl top`
# until Ctrl-C; then it shuts everything down in order.  `make deps all`
# has run before.  RUN_SECONDS=N stops by itself after N seconds.

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 111
B=$top/build/default/bin
V=$top/var
[ "$(id -u)" = 0 ] || { echo "make run: run it as root (vbsd starts capd)"; exit 100; }
for p in vbsd vbsctl capd sockd flowd shipd ingestd; do
	[ -x "$B/$p" ] || { echo "make run: $B/$p is missing: make all"; exit 111; }
done
mkdir -p "$V/log" "$V/server" "$V/client" "$V/tls"
chmod 755 "$V" "$V/client"
log() { printf '== %s\n' "$*"; }

# The system users the stages drop to, as `make install` makes them.
for u in vbs-capd vbs-sockd vbs vbs-ingest; do
	id "$u" >/dev/null 2>&1 || useradd --system --no-create-home \
	    --home-dir /nonexistent --shell /usr/sbin/nologin "$u"
done

MDB_SOCK=$V/mariadb/mysql.sock
MDB_PID= SERVE_PID= VBSD_PID=
stop_all() {
	trap - EXIT INT TERM
	if [ -n "$VBSD_PID" ] && kill -0 "$VBSD_PID" 2>/dev/null; then
		log "stopping vbsd: capd and sockd, then flowd, then shipd"
		"$B/vbsctl" -s "$V/client/run/vbsd.sock" shutdown >/dev/null 2>&1 ||
		    kill "$VBSD_PID"
		wait "$VBSD_PID"
	fi
	if [ -n "$SERVE_PID" ]; then
		# shipd's last upload may have just arrived: let it load.
		i=0
		while [ -n "$(ls "$V/server/spool/incoming" 2>/dev/null)" ] &&
		    [ $i -lt 150 ]; do
			sleep 0.2
			i=$((i + 1))
		done
		log "stopping ingestd"
		kill "$SERVE_PID" 2>/dev/null
		wait "$SERVE_PID"
	fi
	if [ -n "$MDB_PID" ]; then
		log "stopping MariaDB"
		kill "$MDB_PID" 2>/dev/null
		wait "$MDB_PID"
	fi
	log "the data stays in var/ and in MariaDB; see the README to query it"
}
trap stop_all EXIT
trap 'exit 0' INT TERM

# 1. MariaDB in var/mariadb.
if [ ! -d "$V/mariadb/data/mysql" ]; then
	log "making a private MariaDB in var/mariadb"
	mkdir -p "$V/mariadb/data" "$V/mariadb/tmp"
	mariadb-install-db --no-defaults --datadir="$V/mariadb/data" \
	    --user=root --auth-root-authentication-method=normal \
	    --skip-test-db >"$V/log/mariadb-install.log" 2>&1 ||
	    { echo "make run: mariadb-install-db failed, see var/log"; exit 111; }
fi
mariadbd --no-defaults --datadir="$V/mariadb/data" --socket="$MDB_SOCK" \
    --skip-networking --user=root --pid-file="$V/mariadb/mysqld.pid" \
    --tmpdir="$V/mariadb/tmp" --log-error="$V/log/mariadb.log" \
    >/dev/null 2>&1 &
MDB_PID=$!
i=0
until mariadb --no-defaults -S "$MDB_SOCK" -uroot -e 'SELECT 1' >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 300 ] && kill -0 "$MDB_PID" 2>/dev/null ||
	    { echo "make run: MariaDB did not start, see var/log/mariadb.log"; exit 111; }
	sleep 0.2
done
mariadb --no-defaults -S "$MDB_SOCK" -uroot -e 'CREATE DATABASE IF NOT EXISTS vbs'
log "MariaDB up on $MDB_SOCK, database vbs"

# 2. A CA and the server's certificate for 127.0.0.1.
if [ ! -f "$V/tls/server.crt" ]; then
	log "making a local CA and a server certificate in var/tls"
	( cd "$V/tls" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout ca.key -out ca.crt -days 3650 -subj "/CN=VBS local CA" &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout server.key -out server.csr -subj "/CN=127.0.0.1" &&
	printf 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n' >ext &&
	openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
	    -CAcreateserial -out server.crt -days 3650 -extfile ext ) \
	    >"$V/log/tls.log" 2>&1 || { echo "make run: openssl failed"; exit 111; }
	chmod 600 "$V/tls/ca.key" "$V/tls/server.key"
fi

# 3. ingestd: configuration, schema, HTTPS receiver and loaders.
PORT=${VBS_PORT:-8443}
URL=https://127.0.0.1:$PORT
cat >"$V/server/my.cnf" <<EOF
[client]
socket=$MDB_SOCK
user=root
[ingestd]
database=vbs
EOF
chmod 600 "$V/server/my.cnf"
cat >"$V/server/vbs.conf" <<EOF
[ingestd]
listen = 127.0.0.1:$PORT
cert_file = $V/tls/server.crt
key_file = $V/tls/server.key
spool = $V/server/spool
mysql_options = $V/server/my.cnf
EOF
ING="$B/ingestd -f $V/server/vbs.conf"
$ING migrate >"$V/log/migrate.log" 2>&1 ||
    { echo "make run: ingestd migrate failed, see var/log/migrate.log"; exit 111; }
setsid $ING -d serve >>"$V/log/ingestd.log" 2>&1 &
SERVE_PID=$!
i=0
until curl -s -o /dev/null --cacert "$V/tls/ca.crt" "$URL/" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] && kill -0 "$SERVE_PID" 2>/dev/null ||
	    { echo "make run: ingestd serve did not answer, see var/log/ingestd.log"; exit 111; }
	sleep 0.2
done
log "ingestd serving $URL (TLS, var/tls/ca.crt), loading into MariaDB"

# 4. The client: the default interface, and an enrolment the first time.
IFACE=${VBS_IFACE:-$(ip route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')}
[ -n "$IFACE" ] || IFACE=any
C=$V/client
cat >"$C/vbs.conf" <<EOF
# Made by make run (init/run.sh); see vbs.conf(5).
[vbsd]
runtime_dir = $C/run
data_dir = $C/data
control_socket = $C/run/vbsd.sock
[capd]
interfaces = $IFACE
chroot = $C/run/empty
[flowd]
outbox = $C/data/outbox
work_dir = $C/data/work
privacy_key_file = $C/data/work/privacy.key
[shipd]
server_url = $URL
ca_file = $V/tls/ca.crt
credentials = $C/data/credentials
EOF
mkdir -p "$C/data"
chgrp vbs "$C/data" && chmod 750 "$C/data"
if [ ! -s "$C/data/credentials" ]; then
	tok=$($ING enroll-token 1h 2>>"$V/log/ingestd.log") ||
	    { echo "make run: no enrolment token"; exit 111; }
	"$B/vbsctl" enroll -f "$C/vbs.conf" -c "$V/tls/ca.crt" -u vbs \
	    -o "$C/data/credentials" "$URL" "$tok" >"$V/log/enroll.log" 2>&1 ||
	    { echo "make run: enrolment failed, see var/log/enroll.log"; exit 111; }
	log "enrolled: $(sed -n 's/^client_id = //p' "$C/data/credentials")"
fi

"$B/vbsd" -d -f "$C/vbs.conf" >>"$V/log/vbsd.log" 2>&1 &
VBSD_PID=$!
i=0
until "$B/vbsctl" -s "$C/run/vbsd.sock" status >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] && kill -0 "$VBSD_PID" 2>/dev/null ||
	    { echo "make run: vbsd did not start, see var/log/vbsd.log"; exit 111; }
	sleep 0.2
done
sleep 2
log "vbsd capturing on $IFACE; stages:"
"$B/vbsctl" -s "$C/run/vbsd.sock" status
log "your traffic by application follows (Ctrl-C to stop)"
sleep 3
if [ -n "${RUN_SECONDS:-}" ]; then
	"$B/vbsctl" -f "$C/vbs.conf" top -i 2 -n $(( (RUN_SECONDS + 1) / 2 ))
else
	"$B/vbsctl" -f "$C/vbs.conf" top -i 2
fi
