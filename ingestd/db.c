/*
 * db.c: ingestd's MySQL connection and schema migrations.  Runs in every
 * ingestd process.  The connection comes from a MySQL option file, as
 * MySQL's own tools take it (groups [client] and [ingestd]), so that the
 * password never appears on a command line or in vbs.conf.  MySQL is
 * trusted; its answers are still checked for the types we expect.
 *
 * Migrations are ingestd/sql/NNN_*.sql, compiled in.  They run under a
 * named lock (GET_LOCK), so that several ingestd starting at once on one
 * MySQL apply each exactly once; each is written so that running it
 * again after a crash half-way is harmless (IF NOT EXISTS).
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <mysqld_error.h>
#include <errmsg.h>

#include "proto.h"
#include "ingestd.h"

struct migration {
	int		 version;
	const char	*name;
	const char	*sql;
};

#include "ingestd_sql.h"

#define NMIGRATIONS	(sizeof(migrations) / sizeof(migrations[0]))
#define LOCK_NAME	"vbs_ingestd_migrate"

int
db_latest_version(void)
{
	return migrations[NMIGRATIONS - 1].version;
}

/*
 * Is the option file fit to use?  ingestd checks it at start (a
 * configuration error), db_connect() at each connection (it may have
 * changed).  It is refused if users other than its owner and group may
 * read it, or others than its owner change it.
 *
 * MariaDB Connector/C reads a boolean key written without a value as
 * false, where MySQL's own tools read it as true: a bare
 * "ssl-verify-server-cert", as MySQL's manual writes it, turns the
 * check of the server's name off without a word.  So such a line in a
 * group the connector reads ([client], [client-server],
 * [client-mariadb], [ingestd]) is refused, by its number.  (Files it
 * !includes are not looked into; tls_checked() below catches the effect
 * whatever caused it.)
 */
int
db_optfile_check(const char *optfile, char *err, size_t errlen)
{
	static const char key[] = "ssl-verify-server-cert";
	struct stat	 st;
	char	 line[1024], *p;
	FILE	*fp;
	size_t	 i;
	int	 n = 0, bad = 0, ours = 0;

	if ((fp = fopen(optfile, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", optfile, strerror(errno));
		return -1;
	}
	/* It holds the MySQL password: as shipd's credentials, kept close. */
	if (fstat(fileno(fp), &st) == -1 ||
	    (st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) != 0) {
		snprintf(err, errlen, "%s: mode %03o: other users may read "
		    "or change it, and the MySQL password in it: chmod 600 "
		    "(or 640 for a group)", optfile,
		    (unsigned)(st.st_mode & 0777));
		fclose(fp);
		return -1;
	}
	while (!bad && fgets(line, sizeof(line), fp) != NULL) {
		n++;
		for (p = line; isspace((unsigned char)*p); p++)
			;
		if (*p == '[') {
			p[strcspn(p, "]")] = '\0';
			ours = strcmp(p, "[client") == 0 ||
			    strcmp(p, "[client-server") == 0 ||
			    strcmp(p, "[client-mariadb") == 0 ||
			    strcmp(p, "[ingestd") == 0;
			continue;
		}
		if (!ours)
			continue;
		for (i = 0; i < sizeof(key) - 1; i++)
			if (p[i] != key[i] && !(key[i] == '-' && p[i] == '_'))
				break;
		if (i < sizeof(key) - 1)
			continue;
		for (p += i; *p == ' ' || *p == '\t'; p++)
			;
		bad = *p == '\0' || *p == '\n' || *p == '\r' || *p == '#';
	}
	fclose(fp);
	if (bad) {
		snprintf(err, errlen, "%s line %d: ssl-verify-server-cert "
		    "without a value turns the check off in MariaDB "
		    "Connector/C: write ssl-verify-server-cert=1", optfile, n);
		return -1;
	}
	return 0;
}

/* Is the connection's peer on this host (a Unix socket or loopback)? */
static int
peer_is_local(MYSQL *my)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	const struct in6_addr	*a6;
	const unsigned char	*a;

	if (getpeername(mysql_get_socket(my), (struct sockaddr *)&ss,
	    &len) == -1)
		return 0;
	switch (ss.ss_family) {
	case AF_UNIX:
		return 1;
	case AF_INET:
		a = (const unsigned char *)
		    &((struct sockaddr_in *)&ss)->sin_addr;
		return a[0] == 127;
	case AF_INET6:
		a6 = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a6) ||
		    (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127);
	}
	return 0;
}

/*
 * MySQL on another host is reached only over TLS with its certificate
 * checked (ssl-ca and ssl-verify-server-cert=1): the session carries
 * the password's exchange and every volunteer's flows, and anyone on
 * the path could read them in clear, or pose as the server to an
 * unchecked TLS.  On this host (a Unix socket, loopback) nothing is
 * asked.
 */
static int
tls_checked(MYSQL *my, const char *optfile, char *err, size_t errlen)
{
	my_bool	verify = 0;

	if (peer_is_local(my))
		return 0;
	if (mysql_get_ssl_cipher(my) == NULL) {
		snprintf(err, errlen, "%s: MySQL is on another host and the "
		    "connection is not TLS: add ssl-ca=FILE and "
		    "ssl-verify-server-cert=1 to [client]", optfile);
		return -1;
	}
	if (mysql_get_optionv(my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT,
	    &verify) != 0 || !verify) {
		snprintf(err, errlen, "%s: MySQL is on another host and its "
		    "certificate's name is not checked: add "
		    "ssl-verify-server-cert=1 to [client]", optfile);
		return -1;
	}
	return 0;
}

/*
 * Connect as the option file says.  The session is made strict (a value
 * that does not fit is an error, never a silent truncation), in UTC,
 * READ COMMITTED (no gap locks between loaders of different batches),
 * with LOAD DATA LOCAL allowed for our own in-memory rows only (the
 * infile handler in load.c never opens a file).  With a timeout (in
 * seconds), connecting and every read and write of the session fail
 * after it, so that a MySQL that stops answering holds up no one for
 * longer (the receiver's short questions).  Without (0), connecting
 * gives up after 30 s and the session waits as long as MySQL works on
 * a statement (a loader's transaction of a large batch).
 */
MYSQL *
db_connect(const char *optfile, unsigned int timeout, char *err,
    size_t errlen)
{
	MYSQL		*my;
	unsigned int	 connect_timeout = timeout > 0 ? timeout : 30;
	my_bool		 on = 1;

	if (db_optfile_check(optfile, err, errlen) == -1)
		return NULL;
	if ((my = mysql_init(NULL)) == NULL) {
		snprintf(err, errlen, "mysql_init: out of memory");
		return NULL;
	}
	mysql_options(my, MYSQL_READ_DEFAULT_FILE, optfile);
	mysql_options(my, MYSQL_READ_DEFAULT_GROUP, "ingestd");
	mysql_options(my, MYSQL_OPT_LOCAL_INFILE, &on);
	mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
	if (timeout > 0) {
		mysql_options(my, MYSQL_OPT_READ_TIMEOUT, &timeout);
		mysql_options(my, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
	}
	mysql_options(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (mysql_real_connect(my, NULL, NULL, NULL, NULL, 0, NULL, 0) ==
	    NULL) {
		snprintf(err, errlen, "%s: cannot connect: %s", optfile,
		    mysql_error(my));
		mysql_close(my);
		return NULL;
	}
	if (tls_checked(my, optfile, err, errlen) == -1) {
		mysql_close(my);
		return NULL;
	}
	if (mysql_query(my, "SELECT DATABASE()") == 0) {
		MYSQL_RES *res = mysql_store_result(my);
		MYSQL_ROW row = res != NULL ? mysql_fetch_row(res) : NULL;
		int none = row == NULL || row[0] == NULL;

		mysql_free_result(res);
		if (none) {
			snprintf(err, errlen, "%s: no database: add "
			    "database=NAME to [ingestd]", optfile);
			mysql_close(my);
			return NULL;
		}
	}
	if (mysql_query(my, "SET SESSION sql_mode = 'STRICT_ALL_TABLES,"
	    "NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO'"
	    ", SESSION time_zone = '+00:00'") != 0 ||
	    mysql_query(my, "SET SESSION TRANSACTION ISOLATION LEVEL "
	    "READ COMMITTED") != 0 ||
	    mysql_autocommit(my, 1) != 0) {
		snprintf(err, errlen, "session setup: %s", mysql_error(my));
		mysql_close(my);
		return NULL;
	}
	return my;
}

/* Run one statement; 0, or -1 with mysql_error() for the caller. */
int
db_exec(MYSQL *my, const char *sql)
{
	if (mysql_query(my, sql) != 0)
		return -1;
	/* Statements that return rows are not run through here. */
	do {
		MYSQL_RES *res = mysql_store_result(my);
		mysql_free_result(res);
	} while (mysql_next_result(my) == 0);
	return 0;
}

/*
 * MySQL errors that a batch's own data causes: the batch is refused.
 * Everything else (connection lost, deadlock, lock wait, disk full) is
 * MySQL's trouble, and the batch is tried again later.
 */
int
db_error_is_data(unsigned int e)
{
	switch (e) {
	case ER_DUP_ENTRY:
	case ER_WARN_DATA_OUT_OF_RANGE:
	case ER_DATA_TOO_LONG:
	case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
	case ER_TRUNCATED_WRONG_VALUE:
	case ER_BAD_NULL_ERROR:
		return 1;
	default:
		return 0;
	}
}

/* MAX(version) of schema_version; 0 when the table does not exist. */
static int
current_version(MYSQL *my, int *v, char *err, size_t errlen)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 row;

	*v = 0;
	if (mysql_query(my, "SELECT COALESCE(MAX(version), 0) FROM "
	    "schema_version") != 0) {
		if (mysql_errno(my) == ER_NO_SUCH_TABLE)
			return 0;
		snprintf(err, errlen, "schema_version: %s", mysql_error(my));
		return -1;
	}
	if ((res = mysql_store_result(my)) == NULL ||
	    (row = mysql_fetch_row(res)) == NULL || row[0] == NULL) {
		snprintf(err, errlen, "schema_version: no answer");
		mysql_free_result(res);
		return -1;
	}
	*v = atoi(row[0]);
	mysql_free_result(res);
	return 0;
}

/*
 * Run a migration's text one statement at a time: a statement ends with
 * a semicolon at the end of a line; lines starting with "--" are
 * comments.  (No multi-statement mode: an option file cannot turn it on
 * for the loader's own queries.)
 */
static int
run_migration(MYSQL *my, const struct migration *m, char *err,
    size_t errlen)
{
	const char	*p = m->sql, *nl;
	char		*stmt;
	size_t		 len = 0, n;

	if ((stmt = malloc(strlen(m->sql) + 1)) == NULL)
		fatal("migration");
	while (*p != '\0') {
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (!(n >= 2 && p[0] == '-' && p[1] == '-')) {
			memcpy(stmt + len, p, n);
			len += n;
			stmt[len++] = '\n';
			while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' ||
			    p[n - 1] == '\r'))
				n--;
			if (n > 0 && p[n - 1] == ';') {
				stmt[len] = '\0';
				if (db_exec(my, stmt) == -1) {
					snprintf(err, errlen, "%s: %s", m->name,
					    mysql_error(my));
					free(stmt);
					return -1;
				}
				len = 0;
			}
		}
		p += n;
		while (*p != '\0' && *p != '\n')
			p++;
		if (*p == '\n')
			p++;
	}
	free(stmt);
	return 0;
}

/* Apply every migration newer than MySQL's schema_version. */
int
db_migrate(MYSQL *my, char *err, size_t errlen)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	char		 q[256];
	size_t		 i;
	int		 v, got, rc = -1;

	if (mysql_query(my, "SELECT GET_LOCK('" LOCK_NAME "', 120)") != 0 ||
	    (res = mysql_store_result(my)) == NULL) {
		snprintf(err, errlen, "GET_LOCK: %s", mysql_error(my));
		return -1;
	}
	row = mysql_fetch_row(res);
	got = row != NULL && row[0] != NULL && strcmp(row[0], "1") == 0;
	mysql_free_result(res);
	if (!got) {
		snprintf(err, errlen, "another ingestd holds the migration "
		    "lock");
		return -1;
	}
	if (current_version(my, &v, err, errlen) == -1)
		goto out;
	if (v > db_latest_version()) {
		snprintf(err, errlen, "MySQL schema version %d is newer than "
		    "this ingestd's %d", v, db_latest_version());
		goto out;
	}
	for (i = 0; i < NMIGRATIONS; i++) {
		if (migrations[i].version <= v)
			continue;
		log_info("migration %s", migrations[i].name);
		if (run_migration(my, &migrations[i], err, errlen) == -1)
			goto out;
		snprintf(q, sizeof(q), "INSERT INTO schema_version (version, "
		    "name) VALUES (%d, '%s')", migrations[i].version,
		    migrations[i].name);
		if (db_exec(my, q) == -1) {
			snprintf(err, errlen, "schema_version: %s",
			    mysql_error(my));
			goto out;
		}
	}
	rc = 0;
out:
	db_exec(my, "DO RELEASE_LOCK('" LOCK_NAME "')");
	return rc;
}

/*
 * Before loading: MySQL's schema must be the one this ingestd was built
 * for.  Older: migrate when allowed, else say how.  Newer: refuse, an
 * older loader must not write into tables it does not know.
 */
int
db_check_version(MYSQL *my, int migrate, char *err, size_t errlen)
{
	int	v;

	if (current_version(my, &v, err, errlen) == -1)
		return -1;
	if (v == db_latest_version())
		return 0;
	if (v < db_latest_version() && migrate)
		return db_migrate(my, err, errlen);
	if (v < db_latest_version())
		snprintf(err, errlen, "MySQL schema version %d, this ingestd "
		    "needs %d: run `ingestd migrate`", v, db_latest_version());
	else
		snprintf(err, errlen, "MySQL schema version %d is newer than "
		    "this ingestd's %d", v, db_latest_version());
	return -1;
}
