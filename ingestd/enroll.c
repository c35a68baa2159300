/*
 * enroll.c: who may upload.  The admin makes a one-time enrolment token
 * (`ingestd enroll-token`, with an expiry); a volunteer's `vbsctl
 * enroll` redeems it at POST /v1/enroll for a new client id and a
 * random secret of 256 bits, which the client keeps and the server
 * never stores: MySQL keeps "sha256:" and the SHA-256 of it (no salt or
 * iteration: they defend guessable passwords, and a 256-bit random
 * secret is not one; a fast hash keeps each upload cheap to check).
 * Tokens are stored hashed the same way.  `ingestd revoke CLIENT` ends
 * a client's uploads for good; its data stays.
 *
 * Runs in the receiver (cred_check, enroll_redeem) and in the admin's
 * commands.  Trusts MySQL; the client id and secret of a request and
 * the token are hostile until checked here, and they reach SQL only
 * after httpparse.c has restricted them to [A-Za-z0-9_-].
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "proto.h"
#include "ingestd.h"
#include "receive.h"

#define TOKEN_BYTES	32
#define CLIENT_BYTES	10	/* client ids: "c" and 20 hex digits */
#define DEFAULT_EXPIRY	"24h"

static void
hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t	 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* n random bytes as 2n hex digits; fatal if the system has no entropy. */
static void
random_hex(size_t n, char *out)
{
	uint8_t	 buf[64];

	if (n > sizeof(buf) || RAND_bytes(buf, (int)n) != 1)
		fatalx("RAND_bytes failed");
	hex(buf, n, out);
	OPENSSL_cleanse(buf, sizeof(buf));
}

/* "sha256:" and 64 hex digits: the stored form of a secret. */
static void
secret_hash(const char *secret, char out[72])
{
	uint8_t		 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;

	if (EVP_Digest(secret, strlen(secret), md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen != 32)
		fatalx("SHA-256 failed");
	memcpy(out, "sha256:", 7);
	hex(md, 32, out + 7);
}

/*
 * Check a client's secret.  The secret is checked before revocation,
 * so that only the real client learns that it was revoked.
 */
enum cred_result
cred_check(MYSQL *my, const char *client, const char *secret)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	char		 q[256], want[72];
	enum cred_result r = CRED_BAD;

	if (!http_client_ok(client) || strlen(secret) > 256)
		return CRED_BAD;
	snprintf(q, sizeof(q), "SELECT secret_hash, revoked_at IS NOT NULL "
	    "FROM clients WHERE client_name = '%s'", client);
	if (mysql_query(my, q) != 0 || (res = mysql_store_result(my)) == NULL)
		return CRED_DBERR;
	secret_hash(secret, want);
	row = mysql_fetch_row(res);
	if (row != NULL && row[0] != NULL && strlen(row[0]) == strlen(want) &&
	    CRYPTO_memcmp(row[0], want, strlen(want)) == 0)
		r = row[1] != NULL && strcmp(row[1], "1") == 0 ?
		    CRED_REVOKED : CRED_OK;
	mysql_free_result(res);
	OPENSSL_cleanse(want, sizeof(want));
	return r;
}

static int
sql_fail(MYSQL *my, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, mysql_error(my));
	(void)mysql_query(my, "ROLLBACK");
	return -1;
}

/*
 * Redeem a token for a new client: 0 with its id and secret, 1 when the
 * token is unknown, used or expired, -1 when MySQL failed.  The token is
 * spent and the client made in one transaction, so that of two
 * redeemers (two ingestd behind a balancer) exactly one wins.
 */
int
enroll_redeem(MYSQL *my, const char *token, char *client, size_t clen,
    char *secret, size_t slen, char *err, size_t errlen)
{
	char		 th[72], sh[72], q[512];
	int		 tries;

	if (clen < 2 * CLIENT_BYTES + 2 || slen < 2 * SECRET_BYTES + 1) {
		snprintf(err, errlen, "buffers too small");
		return -1;
	}
	secret_hash(token, th);
	if (mysql_query(my, "START TRANSACTION") != 0)
		return sql_fail(my, "start", err, errlen);
	snprintf(q, sizeof(q), "UPDATE enroll_tokens SET used_at = "
	    "CURRENT_TIMESTAMP WHERE token_hash = '%s' AND used_at IS NULL "
	    "AND expires_at > CURRENT_TIMESTAMP", th + 7);
	if (mysql_query(my, q) != 0)
		return sql_fail(my, "enroll_tokens", err, errlen);
	if (mysql_affected_rows(my) != 1) {
		(void)mysql_query(my, "ROLLBACK");
		snprintf(err, errlen, "token unknown, used or expired");
		return 1;
	}
	random_hex(SECRET_BYTES, secret);
	secret_hash(secret, sh);
	for (tries = 0; ; tries++) {
		client[0] = 'c';
		random_hex(CLIENT_BYTES, client + 1);
		snprintf(q, sizeof(q), "INSERT INTO clients (client_name, "
		    "secret_hash, enrolled_at) VALUES ('%s', '%s', "
		    "CURRENT_TIMESTAMP)", client, sh);
		if (mysql_query(my, q) == 0)
			break;
		/* 1062: a duplicate id, once in 2^80; pick another */
		if (mysql_errno(my) != 1062 || tries == 3)
			return sql_fail(my, "clients", err, errlen);
	}
	snprintf(q, sizeof(q), "UPDATE enroll_tokens SET client_id = "
	    "LAST_INSERT_ID() WHERE token_hash = '%s'", th + 7);
	if (mysql_query(my, q) != 0)
		return sql_fail(my, "enroll_tokens", err, errlen);
	if (mysql_query(my, "COMMIT") != 0)
		return sql_fail(my, "commit", err, errlen);
	return 0;
}

static MYSQL *
admin_connect(const char *optfile)
{
	MYSQL	*my;
	char	 err[512];

	if ((my = db_connect(optfile, 0, err, sizeof(err))) == NULL ||
	    db_check_version(my, 0, err, sizeof(err)) == -1) {
		fprintf(stderr, "ingestd: %s\n", err);
		if (my != NULL)
			mysql_close(my);
		return NULL;
	}
	return my;
}

/*
 * ingestd enroll-token [EXPIRY [NOTE]]: print a new token, good for
 * one enrolment before it expires.  Only its hash is kept.  (Plain
 * arguments, no options: ingestd's own getopt sees the whole line.)
 */
int
cmd_enroll_token(const char *optfile, int argc, char **argv)
{
	MYSQL		*my;
	const char	*expiry = DEFAULT_EXPIRY, *note = "";
	char		 tok[2 * TOKEN_BYTES + 1], th[72], q[512], enote[260];
	long long	 secs;

	if (argc > 3)
		goto usage;
	if (argc > 1)
		expiry = argv[1];
	if (argc > 2)
		note = argv[2];
	if (http_duration(expiry, &secs) == -1 || strlen(note) > 128)
		goto usage;
	if ((my = admin_connect(optfile)) == NULL)
		return EXIT_SYSTEM;
	random_hex(TOKEN_BYTES, tok);
	secret_hash(tok, th);
	mysql_real_escape_string(my, enote, note, strlen(note));
	snprintf(q, sizeof(q), "INSERT INTO enroll_tokens (token_hash, "
	    "expires_at, note) VALUES ('%s', CURRENT_TIMESTAMP + INTERVAL %lld "
	    "SECOND, '%s')", th + 7, secs, enote);
	if (mysql_query(my, q) != 0) {
		fprintf(stderr, "ingestd: enroll_tokens: %s\n",
		    mysql_error(my));
		mysql_close(my);
		return EXIT_SYSTEM;
	}
	mysql_close(my);
	printf("%s\n", tok);
	fprintf(stderr, "ingestd: token valid for one enrolment within %s\n",
	    expiry);
	return EXIT_OK;
usage:
	fprintf(stderr, "usage: ingestd enroll-token [expiry [note]]\n"
	    "  expiry: N[s|m|h|d], default " DEFAULT_EXPIRY "; note: at most "
	    "128 bytes\n");
	return EXIT_USAGE;
}

/*
 * ingestd revoke CLIENT: refuse the client's uploads from now on (403).
 * Exit 0 when it is revoked (now or before), 1 when there is no such
 * enrolled client.
 */
int
cmd_revoke(const char *optfile, int argc, char **argv)
{
	MYSQL		*my;
	MYSQL_RES	*res;
	char		 q[256];
	int		 found;

	if (argc != 2 || !http_client_ok(argv[1])) {
		fprintf(stderr, "usage: ingestd revoke CLIENT\n");
		return EXIT_USAGE;
	}
	if ((my = admin_connect(optfile)) == NULL)
		return EXIT_SYSTEM;
	snprintf(q, sizeof(q), "UPDATE clients SET revoked_at = "
	    "CURRENT_TIMESTAMP WHERE client_name = '%s' AND revoked_at IS NULL",
	    argv[1]);
	if (mysql_query(my, q) != 0)
		goto fail;
	if (mysql_affected_rows(my) == 1) {
		printf("%s: revoked\n", argv[1]);
		mysql_close(my);
		return EXIT_OK;
	}
	snprintf(q, sizeof(q), "SELECT 1 FROM clients WHERE client_name = '%s' "
	    "AND revoked_at IS NOT NULL", argv[1]);
	if (mysql_query(my, q) != 0 || (res = mysql_store_result(my)) == NULL)
		goto fail;
	found = mysql_fetch_row(res) != NULL;
	mysql_free_result(res);
	mysql_close(my);
	if (found) {
		printf("%s: already revoked\n", argv[1]);
		return EXIT_OK;
	}
	fprintf(stderr, "ingestd: %s: no such client\n", argv[1]);
	return EXIT_INPUT;
fail:
	fprintf(stderr, "ingestd: clients: %s\n", mysql_error(my));
	mysql_close(my);
	return EXIT_SYSTEM;
}
