# tests/lib_mariadb.sh: a private MariaDB server for tests and benches.
# Sourced after tests/lib.sh, never run.  The server lives in a temporary
# directory, listens on a Unix socket (else --skip-networking; when the
# caller sets MDB_PORT, also on TCP port MDB_PORT of MDB_ADDR, 127.0.0.1
# unless set, in the network namespace MDB_NETNS if set) and is never
# the system instance: nothing here reads /etc/mysql (--no-defaults).
#
#	mariadb_available || { skip ...; exit 0; }
#	mariadb_start DIR [mariadbd options...]	 MDB_SOCK, MDB_DIR set
#	mdb "SQL"			 run SQL as root, tab-separated output
#	mariadb_optfile FILE DB [USER [PASS]]	 a client option file
#	mariadb_stop			 also registered for EXIT by start
#
# The caller owns DIR (usually a tmpdir); mariadb_stop leaves it.

MDB_DIR=
MDB_SOCK=
MDB_PID=

mariadb_available() {
	command -v mariadbd >/dev/null 2>&1 &&
	    command -v mariadb-install-db >/dev/null 2>&1 &&
	    command -v mariadb >/dev/null 2>&1
}

# mariadb_start DIR [OPTIONS...]: install a data directory under DIR and
# start a server on DIR/mysql.sock; returns non-zero (with diagnostics)
# when it does not answer within 60 s.
mariadb_start() {
	MDB_DIR=$1; shift
	MDB_SOCK=$MDB_DIR/mysql.sock
	mkdir -p "$MDB_DIR/data" "$MDB_DIR/tmp"
	_u=
	[ "$(id -u)" = 0 ] && _u=--user=root
	if ! mariadb-install-db --no-defaults --datadir="$MDB_DIR/data" \
	    $_u --auth-root-authentication-method=normal \
	    --skip-test-db >"$MDB_DIR/install.log" 2>&1; then
		echo "# mariadb-install-db failed:"
		tail -5 "$MDB_DIR/install.log" | sed 's/^/#   /'
		return 1
	fi
	_net=--skip-networking _in=
	[ -n "${MDB_PORT:-}" ] &&
	    _net="--bind-address=${MDB_ADDR:-127.0.0.1} --port=$MDB_PORT"
	[ -n "${MDB_NETNS:-}" ] && _in="ip netns exec $MDB_NETNS"
	$_in mariadbd --no-defaults --datadir="$MDB_DIR/data" \
	    --socket="$MDB_SOCK" $_net $_u \
	    --pid-file="$MDB_DIR/mysqld.pid" --tmpdir="$MDB_DIR/tmp" \
	    --log-error="$MDB_DIR/error.log" --innodb-buffer-pool-size=256M \
	    "$@" >/dev/null 2>&1 &
	MDB_PID=$!
	trap mariadb_stop EXIT
	trap 'exit 1' INT TERM HUP
	_end=$(( $(date +%s) + 60 ))
	while ! mariadb --no-defaults -S "$MDB_SOCK" -uroot -e 'SELECT 1' \
	    >/dev/null 2>&1; do
		if ! kill -0 "$MDB_PID" 2>/dev/null ||
		    [ "$(date +%s)" -ge "$_end" ]; then
			echo "# mariadbd did not start:"
			tail -5 "$MDB_DIR/error.log" 2>/dev/null | sed 's/^/#   /'
			return 1
		fi
		sleep 0.1
	done
}

# mariadb_stop: shut the server down (SIGTERM, then SIGKILL after 30 s).
mariadb_stop() {
	[ -n "$MDB_PID" ] || return 0
	kill "$MDB_PID" 2>/dev/null
	_i=0
	while kill -0 "$MDB_PID" 2>/dev/null && [ $_i -lt 300 ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	kill -9 "$MDB_PID" 2>/dev/null
	wait "$MDB_PID" 2>/dev/null
	MDB_PID=
}

# mdb SQL: run SQL as root; batch output (tab-separated, no headers).
mdb() {
	mariadb --no-defaults -S "$MDB_SOCK" -uroot -N -B -e "$1"
}

# mariadb_optfile FILE DB [USER [PASS]]: a MySQL option file with the
# groups [client] (socket, user, password) and [ingestd] (database), as
# `ingestd -m FILE` and `mariadb --defaults-file=FILE` read it.
mariadb_optfile() {
	{
		echo "[client]"
		echo "socket=$MDB_SOCK"
		echo "user=${3:-root}"
		[ -n "${4:-}" ] && echo "password=$4"
		echo "[ingestd]"
		echo "database=$2"
	} >"$1"
	chmod 600 "$1"
}
