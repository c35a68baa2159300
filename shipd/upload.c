/*
 * upload.c: one batch to the server, over HTTPS (https.c).  Runs in
 * shipd.  It trusts the server only after TLS has verified it (the
 * configured CA and host name, or the pinned public key, or both) and
 * then only for the HTTP status; there is no plain-text mode.
 *
 * The request is PUT SERVER_URL/v1/batches/ID with:
 *   Authorization: Basic (client id : secret), the secret issued at
 *	enrolment; over TLS only.  The server keeps only its hash, which
 *	is why the secret itself, and not a MAC keyed with it, is sent.
 *   X-VBS-SHA256: the SHA-256 of the batch file, lowercase hex; the
 *	server stores nothing that does not match it.
 *   Content-Encoding: zstd, when compression is on and pays (the hash
 *	is still that of the uncompressed batch).
 *   Expect: 100-continue only above 1 MB (as libcurl does), so that
 *	a refusal of a large body (credentials, a batch the server has,
 *	over its limit) costs no body; below it the round trip it adds
 *	cost more than the rare body sent in vain (measured: bench).  A
 *	server that answers it 417 gets the request again without.
 * One connection is kept, so the TLS connection is reused.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "proto.h"
#include "shipd.h"
#include "https.h"

#define IO_TIMEOUT	60	/* s without progress: give up */
#define ZSTD_LEVEL	3
#define REPLY_MAX	256	/* bytes of the server's reason kept */

struct uploader {
	struct https	*https;
	char		 auth[384];	/* the Authorization header line */
	int		 compress;	/* 0 off, 1 on, -1 server refused it */
	uint64_t	 wire_bytes;	/* bodies sent, after compression */
};

static int
cred_valid_id(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return i > 0 && i <= CLIENT_ID_MAX;
}

/*
 * The credentials file that `vbsctl enroll` writes: "client_id = ID"
 * and "secret = HEX" lines, '#' comments.  It must be the caller's
 * alone (mode 0600 or stricter): a secret others can read is refused.
 */
int
cred_load(const char *path, struct cred *c, char *err, size_t errlen)
{
	FILE		*fp;
	struct stat	 st;
	char		 line[512], key[32], val[256];
	int		 lineno = 0;

	memset(c, 0, sizeof(*c));
	if ((fp = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "credentials %s: %s (enrol with "
		    "`vbsctl enroll URL TOKEN`)", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(fp), &st) == -1 || (st.st_mode & 077) != 0 ||
	    st.st_uid != geteuid()) {
		snprintf(err, errlen, "credentials %s: must be mode 0600 and "
		    "owned by uid %u", path, (unsigned)geteuid());
		fclose(fp);
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (sscanf(line, " %31[a-z_] = %255s", key, val) != 2)
			goto bad;
		if (strcmp(key, "client_id") == 0 && cred_valid_id(val))
			memcpy(c->client_id, val, strlen(val) + 1);
		else if (strcmp(key, "secret") == 0 && strlen(val) >= 43 &&
		    strlen(val) <= SECRET_MAX && strchr(val, ':') == NULL)
			memcpy(c->secret, val, strlen(val) + 1);
		else
			goto bad;
	}
	fclose(fp);
	explicit_bzero(line, sizeof(line));
	explicit_bzero(val, sizeof(val));
	if (c->client_id[0] == '\0' || c->secret[0] == '\0') {
		snprintf(err, errlen, "credentials %s: client_id or secret "
		    "missing", path);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "credentials %s:%d: not client_id = ID or "
	    "secret = HEX", path, lineno);
	fclose(fp);
	explicit_bzero(line, sizeof(line));
	explicit_bzero(val, sizeof(val));
	return -1;
}

/*
 * Set up the client once, before the sandbox: OpenSSL's configuration
 * and the CA bundle are read here.
 */
struct uploader *
upload_new(const struct shipd_conf *c, const struct cred *cred, char *err,
    size_t errlen)
{
	struct uploader	*u;
	unsigned char	 up[CLIENT_ID_MAX + SECRET_MAX + 2];
	int		 n;

	if (strncmp(c->server_url, "https://", 8) != 0) {
		snprintf(err, errlen, "server_url %s: only https:// is "
		    "allowed", c->server_url);
		return NULL;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->compress = c->compress;
	memset(up, 0, sizeof(up));
	if ((u->https = https_new(c->server_url, c->ca_file, c->pin,
	    "vbs-shipd/" VBS_VERSION, IO_TIMEOUT, err, errlen)) == NULL)
		goto fail;
	/* Basic: base64 of "id:secret" (neither holds a colon or CRLF). */
	n = snprintf((char *)up, sizeof(up), "%s:%s", cred->client_id,
	    cred->secret);
	if (n <= 0 || (size_t)n >= sizeof(up) ||
	    (size_t)(n + 2) / 3 * 4 + 24 > sizeof(u->auth)) {
		snprintf(err, errlen, "credentials too long");
		goto fail;
	}
	memcpy(u->auth, "Authorization: Basic ", 21);
	n = EVP_EncodeBlock((unsigned char *)u->auth + 21, up, n);
	memcpy(u->auth + 21 + n, "\r\n", 3);
	explicit_bzero(up, sizeof(up));
	return u;
fail:
	explicit_bzero(up, sizeof(up));
	upload_free(u);
	return NULL;
}

/*
 * Once *stop is set, the upload under way gives up at once: shipd sets
 * it on a second SIGTERM, which it keeps blocked but in waits, made
 * under waitmask.
 */
void
upload_set_stop(struct uploader *u, volatile sig_atomic_t *stop,
    const sigset_t *waitmask)
{
	https_set_stop(u->https, stop, waitmask);
}

void
upload_free(struct uploader *u)
{
	if (u == NULL)
		return;
	https_free(u->https);
	explicit_bzero(u->auth, sizeof(u->auth));
	free(u);
}

uint64_t
upload_wire_bytes(const struct uploader *u)
{
	return u->wire_bytes;
}

static void
sha256_hex(const uint8_t *p, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, i;

	if (EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		fatalx("SHA-256 failed");
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

/*
 * The body to send: the batch, or its zstd form when that is at least
 * a tenth smaller (below that the CPU is not worth the bytes).  Its
 * window is at most what ingestd takes (BATCH_ZSTD_WINDOW_LOG), whatever
 * the level.
 */
static uint8_t *
maybe_compress(struct uploader *u, const uint8_t *p, size_t len,
    size_t *outlen)
{
	ZSTD_CCtx *cc;
	uint8_t	*z;
	size_t	 bound, n;

	if (u->compress != 1)
		return NULL;
	bound = ZSTD_compressBound(len);
	if ((z = malloc(bound)) == NULL)
		return NULL;
	if ((cc = ZSTD_createCCtx()) == NULL) {
		free(z);
		return NULL;
	}
	n = ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, ZSTD_LEVEL);
	if (!ZSTD_isError(n))
		n = ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog,
		    BATCH_ZSTD_WINDOW_LOG);
	if (!ZSTD_isError(n))
		n = ZSTD_compress2(cc, z, bound, p, len);
	ZSTD_freeCCtx(cc);
	if (ZSTD_isError(n) || n > len - len / 10) {
		free(z);
		return NULL;
	}
	*outlen = n;
	return z;
}

/*
 * PUT one batch.  *retry_after gets the server's Retry-After in
 * seconds (0 if none), *status the HTTP status (0 if none came).
 * 2xx is the only answer after which the caller may delete the batch.
 */
enum up_result
upload_batch(struct uploader *u, const char *id, const uint8_t *p,
    size_t len, long *retry_after, uint64_t *status, char *err,
    size_t errlen)
{
	struct https_reply rep;
	char		 path[256], hash[65], hdrs[768], reply[REPLY_MAX];
	const uint8_t	*body = p;
	uint8_t		*z = NULL;
	size_t		 zlen = 0, i, rlen = 0;
	long		 code;
	enum up_result	 res;
	int		 zipped, rc;

	*retry_after = 0;
	*status = 0;
	if (snprintf(path, sizeof(path), "/v1/batches/%s", id) >=
	    (int)sizeof(path)) {
		snprintf(err, errlen, "batch id too long");
		return UP_REJECT;
	}
	sha256_hex(p, len, hash);
	zipped = 0;
	if ((z = maybe_compress(u, p, len, &zlen)) != NULL) {
		zipped = 1;
		body = z;
		len = zlen;
	}
	snprintf(hdrs, sizeof(hdrs), "%sX-VBS-SHA256: %s\r\nContent-Type: "
	    "application/vnd.sqlite3\r\n%s", u->auth, hash,
	    zipped ? "Content-Encoding: zstd\r\n" : "");
	rc = https_request(u->https, "PUT", path, hdrs, body, len, &rep, err,
	    errlen);
	explicit_bzero(hdrs, sizeof(hdrs));
	free(z);
	/* No answer, or a server that does not match the pin or CA. */
	if (rc == -1)
		return UP_RETRY;
	code = rep.status;
	*status = (uint64_t)code;
	*retry_after = rep.retry_after;
	/* Keep the start of the server's answer, printable, for the log. */
	for (i = 0; i < rep.body_len && rlen < sizeof(reply) - 1; i++)
		if (rep.body[i] >= 0x20 && rep.body[i] < 0x7f)
			reply[rlen++] = rep.body[i];
	reply[rlen] = '\0';
	snprintf(err, errlen, "HTTP %ld%s%s", code, rlen ? ": " : "", reply);
	if (code >= 200 && code < 300) {
		u->wire_bytes += rep.sent;
		return UP_OK;
	}
	switch (code) {
	case 401:
	case 403:
		res = UP_AUTH;
		break;
	case 415:
		/* A server without zstd: send plain from now on. */
		if (zipped) {
			log_warnx("server refused zstd bodies: compression "
			    "off");
			u->compress = -1;
			res = UP_RETRY;
		} else
			res = UP_REJECT;
		break;
	case 400:
	case 409:
	case 411:
	case 413:
	case 414:
	case 422:
		res = UP_REJECT;
		break;
	case 417:
		/*
		 * https.c has sent it again without Expect already: a 417
		 * now refuses the request itself.  Set aside, not deleted.
		 */
		res = UP_REJECT;
		break;
	default:
		/* 404 (a wrong URL), 408, 429, 5xx: nothing is lost by waiting */
		res = UP_RETRY;
		break;
	}
	return res;
}
