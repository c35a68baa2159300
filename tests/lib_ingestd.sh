# tests/lib_ingestd.sh: the server side of an upload path for tests and
# benches: a private MariaDB (tests/lib_mariadb.sh) with the VBS schema,
# the [ingestd] part of a vbs.conf, and enrolment of a client.  Sourced
# after tests/lib.sh, never run; the caller makes the certificate
# (tests/lib_tls.sh tls_make) and starts `ingestd serve` where it wants
# it (loopback, or a lab namespace).
#
#	ingestd_available		 ING, mariadbd and openssl are there
#	ingestd_setup DIR LISTEN [key=value ...]
#		MariaDB in DIR/db, database vbs, DIR/my.cnf, DIR/vbs.conf
#		(ING_CONF) serving LISTEN with DIR/tls/server.{crt,key} and
#		the spool DIR/spool, migrated; non-zero with diagnostics
#	ingestd_grant ACCOUNT [receiver] the least-privilege grants of
#		ingestd.8 to ACCOUNT (user@host): a loader's, and with
#		"receiver" also the receiver's
#	ingestd_enroll_cmd DIR		 ENROLL, the enrolment command
#	ingestd_enroll URL CA OUT LOG [CMD...]
#		a token, then ENROLL (run through CMD, e.g. a namespace)
#		writes the credentials OUT; prints the client id

. "$TOP/tests/lib_mariadb.sh"
. "$TOP/tests/lib_tls.sh"

ING=${INGESTD:-$BIN/ingestd}
ING_CONF=

ingestd_available() {
	[ -x "$ING" ] && mariadb_available && tls_available
}

# mariadb_start sets its own EXIT trap: a caller with a cleanup of its
# own sets it again after this returns, and stops MariaDB there.
ingestd_setup() {
	_igd=$1 _igl=$2; shift 2
	mariadb_start "$_igd/db" --innodb-flush-log-at-trx-commit=2 || return 1
	mdb "CREATE DATABASE vbs" || return 1
	mariadb_optfile "$_igd/my.cnf" vbs
	ING_CONF=$_igd/vbs.conf
	{
		echo "[ingestd]"
		echo "listen = $_igl"
		echo "cert_file = $_igd/tls/server.crt"
		echo "key_file = $_igd/tls/server.key"
		echo "spool = $_igd/spool"
		echo "mysql_options = $_igd/my.cnf"
		for _kv in "$@"; do echo "$_kv"; done
	} >"$ING_CONF"
	if ! $ING -f "$ING_CONF" migrate >"$_igd/migrate.log" 2>&1; then
		echo "# ingestd migrate failed:"
		sed 's/^/#   /' "$_igd/migrate.log"
		return 1
	fi
}

ingestd_grant() {
	mdb "GRANT SELECT, INSERT ON vbs.clients TO $1;
GRANT SELECT, INSERT ON vbs.batches TO $1;
GRANT SELECT, INSERT, UPDATE ON vbs.flows TO $1;
GRANT INSERT ON vbs.packet_chunks TO $1;
GRANT SELECT ON vbs.schema_version TO $1;" || return 1
	[ "${2:-}" != receiver ] ||
	    mdb "GRANT SELECT, UPDATE ON vbs.enroll_tokens TO $1"
}

# The enrolment command: vbsctl's, or one built in DIR from init/enroll.c
# while vbsctl does not have it yet.
ingestd_enroll_cmd() {
	if "$BIN/vbsctl" enroll 2>&1 | grep -q 'usage: vbsctl enroll'; then
		ENROLL="$BIN/vbsctl enroll"
		return 0
	fi
	[ -f "$TOP/$O/init/enroll.o" ] || return 1
	echo 'int cmd_enroll(int, char **); int main(int c, char **v) { return cmd_enroll(c - 1, v + 1); }' >"$1/em.c"
	_san=
	[ -n "${VBS_SANITIZE:-}" ] && _san=-fsanitize=address,undefined
	cc $_san -o "$1/vbsctl-enroll" "$1/em.c" "$TOP/$O/init/enroll.o" \
	    "$TOP/$O/libvbsproto.a" $(pkg-config --libs libcurl msgpack inih \
	    sqlite3 libseccomp libcap-ng) -lm 2>"$1/em.log" || return 1
	ENROLL="$1/vbsctl-enroll enroll"
	diag "vbsctl has no enroll yet: built $1/vbsctl-enroll from init/enroll.o"
}

# ingestd_enroll URL CA OUT LOG [CMD...]: the credentials are chowned to
# the enrolling user's [vbsd] user (vbs) by the enrolment itself.
ingestd_enroll() {
	_igu=$1 _igca=$2 _igo=$3 _iglg=$4; shift 4
	_igtok=$($ING -f "$ING_CONF" enroll-token 1h 2>/dev/null) || return 1
	"$@" $ENROLL -f "$ING_CONF" -c "$_igca" -o "$_igo" "$_igu" "$_igtok" \
	    >"$_iglg" 2>&1 || { sed 's/^/# /' "$_iglg"; return 1; }
	sed -n 's/^client_id = //p' "$_igo"
}
