/*
 * upload.c: one batch to the server, over HTTPS with libcurl.  Runs in
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
 *   Expect: 100-continue only above 1 MB (libcurl's own rule), so that
 *	a refusal of a large body (credentials, a batch the server has,
 *	over its limit) costs no body; below it the round trip it adds
 *	cost more than the rare body sent in vain (measured: bench).
 * One curl handle is kept, so the TLS connection is reused.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <zstd.h>

#include "proto.h"
#include "shipd.h"

#define CONNECT_TIMEOUT	30L	/* s */
#define LOW_SPEED	1024L	/* B/s, below it for LOW_TIME s: give up */
#define LOW_TIME	60L
#define ZSTD_LEVEL	3
#define REPLY_MAX	256	/* bytes of the server's reason kept */
#define CA_MAX		(1024 * 1024)

struct uploader {
	CURL		*curl;
	char		*base;		/* server_url without a trailing / */
	char		*ca;		/* CA bundle, PEM, read at start */
	size_t		 calen;
	struct cred	 cred;
	int		 compress;	/* 0 off, 1 on, -1 server refused it */
	uint64_t	 wire_bytes;	/* bodies sent, after compression */
};

/* The body being sent and the reply being kept. */
struct xfer {
	const uint8_t	*p;
	size_t		 len, off;
	char		 reply[REPLY_MAX];
	size_t		 rlen;
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

static int
read_ca(struct uploader *u, const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(err, errlen, "ca_file %s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (st.st_size <= 0 || st.st_size > CA_MAX ||
	    (u->ca = malloc((size_t)st.st_size)) == NULL) {
		snprintf(err, errlen, "ca_file %s: empty or too large", path);
		close(fd);
		return -1;
	}
	n = read(fd, u->ca, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		snprintf(err, errlen, "ca_file %s: short read", path);
		return -1;
	}
	u->calen = (size_t)n;
	return 0;
}

/*
 * Set up the handle once, before the sandbox: curl's global state,
 * OpenSSL's configuration and the CA bundle are all read here.
 */
struct uploader *
upload_new(const struct shipd_conf *c, const struct cred *cred, char *err,
    size_t errlen)
{
	struct uploader	*u;
	struct curl_blob blob;
	size_t		 n;
	CURLcode	 rc = CURLE_OK;

	if (strncmp(c->server_url, "https://", 8) != 0) {
		snprintf(err, errlen, "server_url %s: only https:// is "
		    "allowed", c->server_url);
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init failed");
		return NULL;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (u->base = strdup(c->server_url)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(u);
		return NULL;
	}
	n = strlen(u->base);
	while (n > 8 && u->base[n - 1] == '/')
		u->base[--n] = '\0';
	u->cred = *cred;
	u->compress = c->compress;
	if (c->ca_file[0] != '\0' && read_ca(u, c->ca_file, err, errlen) == -1)
		goto fail;
	if ((u->curl = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "curl_easy_init failed");
		goto fail;
	}
#if LIBCURL_VERSION_NUM >= 0x075500
	rc |= curl_easy_setopt(u->curl, CURLOPT_PROTOCOLS_STR, "https");
#else
	rc |= curl_easy_setopt(u->curl, CURLOPT_PROTOCOLS, CURLPROTO_HTTPS);
#endif
	rc |= curl_easy_setopt(u->curl, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(u->curl, CURLOPT_FOLLOWLOCATION, 0L);
	rc |= curl_easy_setopt(u->curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	rc |= curl_easy_setopt(u->curl, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED);
	rc |= curl_easy_setopt(u->curl, CURLOPT_LOW_SPEED_TIME, LOW_TIME);
	rc |= curl_easy_setopt(u->curl, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2);
	rc |= curl_easy_setopt(u->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	rc |= curl_easy_setopt(u->curl, CURLOPT_USERNAME, u->cred.client_id);
	rc |= curl_easy_setopt(u->curl, CURLOPT_PASSWORD, u->cred.secret);
	rc |= curl_easy_setopt(u->curl, CURLOPT_USERAGENT,
	    "vbs-shipd/" VBS_VERSION);
	if (u->ca != NULL) {
		blob.data = u->ca;
		blob.len = u->calen;
		blob.flags = CURL_BLOB_NOCOPY;
		rc |= curl_easy_setopt(u->curl, CURLOPT_CAINFO_BLOB, &blob);
		rc |= curl_easy_setopt(u->curl, CURLOPT_CAPATH, NULL);
	}
	if (c->pin[0] != '\0') {
		rc |= curl_easy_setopt(u->curl, CURLOPT_PINNEDPUBLICKEY, c->pin);
		/* A pin alone stands for the whole check: a self-signed key. */
		if (u->ca == NULL) {
			rc |= curl_easy_setopt(u->curl, CURLOPT_SSL_VERIFYPEER,
			    0L);
			rc |= curl_easy_setopt(u->curl, CURLOPT_SSL_VERIFYHOST,
			    0L);
		}
	}
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "libcurl refused an option (built "
		    "without TLS or too old?)");
		goto fail;
	}
	return u;
fail:
	upload_free(u);
	return NULL;
}

void
upload_free(struct uploader *u)
{
	if (u == NULL)
		return;
	if (u->curl != NULL)
		curl_easy_cleanup(u->curl);
	explicit_bzero(&u->cred, sizeof(u->cred));
	free(u->ca);
	free(u->base);
	free(u);
}

uint64_t
upload_wire_bytes(const struct uploader *u)
{
	return u->wire_bytes;
}

static size_t
read_body(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct xfer	*x = arg;
	size_t		 n = size * nmemb;

	if (n > x->len - x->off)
		n = x->len - x->off;
	memcpy(dst, x->p + x->off, n);
	x->off += n;
	return n;
}

/* Keep the start of the server's answer, printable, for the log. */
static size_t
write_reply(char *src, size_t size, size_t nmemb, void *arg)
{
	struct xfer	*x = arg;
	size_t		 n = size * nmemb, i;

	for (i = 0; i < n && x->rlen < sizeof(x->reply) - 1; i++)
		if (src[i] >= 0x20 && src[i] < 0x7f)
			x->reply[x->rlen++] = src[i];
	x->reply[x->rlen] = '\0';
	return n;
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
 * a tenth smaller (below that the CPU is not worth the bytes).
 */
static uint8_t *
maybe_compress(struct uploader *u, const uint8_t *p, size_t len,
    size_t *outlen)
{
	uint8_t	*z;
	size_t	 bound, n;

	if (u->compress != 1)
		return NULL;
	bound = ZSTD_compressBound(len);
	if ((z = malloc(bound)) == NULL)
		return NULL;
	n = ZSTD_compress(z, bound, p, len, ZSTD_LEVEL);
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
	struct curl_slist *hdr = NULL, *h;
	struct xfer	 x;
	char		 url[2048], hash[65], line[128];
	uint8_t		*z = NULL;
	size_t		 zlen = 0;
	curl_off_t	 ra = 0;
	long		 code = 0;
	CURLcode	 rc;
	enum up_result	 res;
	int		 zipped;

	*retry_after = 0;
	*status = 0;
	if (snprintf(url, sizeof(url), "%s/v1/batches/%s", u->base, id) >=
	    (int)sizeof(url)) {
		snprintf(err, errlen, "URL too long");
		return UP_REJECT;
	}
	sha256_hex(p, len, hash);
	memset(&x, 0, sizeof(x));
	x.p = p;
	x.len = len;
	zipped = 0;
	if ((z = maybe_compress(u, p, len, &zlen)) != NULL) {
		zipped = 1;
		x.p = z;
		x.len = zlen;
	}
	snprintf(line, sizeof(line), "X-VBS-SHA256: %s", hash);
	h = curl_slist_append(hdr, line);
	if (h != NULL)
		h = curl_slist_append(hdr = h, "Content-Type: "
		    "application/vnd.sqlite3");
	if (h != NULL && z != NULL)
		h = curl_slist_append(hdr = h, "Content-Encoding: zstd");
	if (h == NULL) {
		curl_slist_free_all(hdr);
		free(z);
		snprintf(err, errlen, "out of memory");
		return UP_RETRY;
	}
	hdr = h;
	curl_easy_setopt(u->curl, CURLOPT_URL, url);
	curl_easy_setopt(u->curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(u->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x.len);
	curl_easy_setopt(u->curl, CURLOPT_READFUNCTION, read_body);
	curl_easy_setopt(u->curl, CURLOPT_READDATA, &x);
	curl_easy_setopt(u->curl, CURLOPT_WRITEFUNCTION, write_reply);
	curl_easy_setopt(u->curl, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(u->curl, CURLOPT_HTTPHEADER, hdr);
	rc = curl_easy_perform(u->curl);
	curl_easy_setopt(u->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdr);
	free(z);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(rc));
		/* A server that does not match the pin or CA stays refused. */
		return UP_RETRY;
	}
	curl_easy_getinfo(u->curl, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(u->curl, CURLINFO_RETRY_AFTER, &ra);
	*status = (uint64_t)code;
	*retry_after = ra > 0 && ra < 86400 ? (long)ra : 0;
	snprintf(err, errlen, "HTTP %ld%s%s", code, x.rlen ? ": " : "",
	    x.reply);
	if (code >= 200 && code < 300) {
		u->wire_bytes += x.off;
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
	default:
		/* 404 (a wrong URL), 408, 429, 5xx: nothing is lost by waiting */
		res = UP_RETRY;
		break;
	}
	return res;
}
