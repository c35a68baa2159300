/*
 * receive.c: ingestd's HTTPS receiver, which fills the spool that the
 * loader workers empty.  Runs in its own process under `ingestd serve`
 * (receive_spawn), with libmicrohttpd over TLS, one thread per
 * connection, so that a slow disk or MySQL holds up only its own
 * client.
 *
 *   PUT /v1/batches/ID	a batch, authenticated with HTTP Basic (client
 *			id, secret); X-VBS-SHA256 is the batch's hash;
 *			Content-Encoding: zstd optional, its window at
 *			most BATCH_ZSTD_WINDOW_LOG
 *   POST /v1/enroll	Authorization: Bearer TOKEN; answers the new
 *			client's id and secret as JSON
 *
 * Everything a client sends is hostile.  At most CONN_PER_IP connections
 * come from one IPv4 address or IPv6 /64 (on_accept).  A request with
 * Transfer-Encoding is refused (411) whatever it asks.  Before any body
 * byte is accepted the receiver checks, in order: the credentials (401,
 * or 403 when revoked), the batch id (400), the hash header (400), the
 * encoding (415), the length against max_batch (411, 413), the client's
 * rate (429), whether the batch is known already (200, the body is
 * never read) or was refused by a loader (422), and the client's
 * uploads under way (429 past PUT_PER_CLIENT).  The body, never more
 * than its length, is then hashed and written to a temporary file in
 * spool/tmp; only when it is whole, its hash matches (422), it is a
 * batch whose meta names this id and this client or no client (422,
 * 403), and it is fsynced, is it renamed into spool/incoming as
 * CLIENT.ID, the directory fsynced, and 201 sent.  A connection that
 * does not send its headers within `timeout`, or whose body then
 * averages less than `min_rate`, is closed by a watchdog thread, as is,
 * near CONN_LIMIT, one with no request going for SHED_US; an idle one
 * by libmicrohttpd.  MySQL and the batch file are given a few seconds
 * each (DB_SECONDS, META_SECONDS), so that every request is answered;
 * past them the answer is 503 with Retry-After, and nothing of the
 * upload is kept.
 *
 * Trusts vbs.conf, the certificate and key, the spool and MySQL.
 */

#include <sys/types.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "proto.h"
#include "ingestd.h"
#include "receive.h"

#define PEM_MAX		(1024 * 1024)
#define RATE_SLOTS	4096		/* clients tracked for the rate */
#define RATE_WINDOW_US	(60ULL * 1000000)
#define WATCH_TICK_US	200000
#define CONN_LIMIT	512
#define CONN_PER_IP	64
/*
 * Bodies of one client at once: shipd sends one batch at a time, and an
 * enrolled client that sent many at min_rate would hold a slot each for
 * max_batch / min_rate (over an hour at 16 MB).
 */
#define PUT_PER_CLIENT	4
/*
 * With fewer than CONN_SPARE slots free, a connection with no request
 * going (a TLS handshake, headers, or idle) for SHED_US is closed: else
 * connections that never send a byte hold every slot for `timeout`.
 */
#define CONN_SPARE	CONN_PER_IP
#define SHED_US		(2ULL * 1000000)
#define ZBUF		(64 * 1024)
#define MSG_MAX		512
#define META_SECONDS	2		/* to read an upload's meta */
#define DB_SECONDS	3		/* to wait for MySQL, each time */
/* Their MHD_ names changed across libmicrohttpd versions. */
#define HTTP_TOO_LARGE		413
#define HTTP_UNPROCESSABLE	422

/* One TCP connection, watched for slowness. */
struct conn_watch {
	struct conn_watch *next, *prev;
	int		 fd;
	uint8_t		 origin[16];	/* conn_origin(); all 0 unknown */
	char		 client[HTTP_CLIENT_MAX + 1]; /* its PUT's, or "" */
	uint64_t	 since;		/* mono_us: connection or request start */
	uint64_t	 bytes;		/* body bytes of the current request */
	int		 in_request;	/* its headers are in */
	int		 in_body;
	int		 killed;
};

struct rate_slot {
	char		 client[HTTP_CLIENT_MAX + 1];
	uint64_t	 window;	/* mono_us start of the minute */
	uint32_t	 count;
};

struct rcv {
	const struct receive_opts *o;
	int		 tmpfd, incfd, donefd, claimfd, quarfd; /* spool */
	long		 rate;		/* per client per minute; 0 none */
	uint64_t	 timeout_us;
	uint64_t	 min_rate;	/* bytes per second */
	pthread_mutex_t	 dblock;
	MYSQL		*my;
	pthread_mutex_t	 lock;		/* conns, rates, counters */
	struct conn_watch *conns;
	unsigned int	 nconns;
	struct rate_slot *rates;
	volatile int	 stopping;
	uint64_t	 stored, dups, refused, slow, shed, crowded;
};

enum req_kind { REQ_PUT = 1, REQ_ENROLL = 2 };

/* One request, from its headers to its answer. */
struct req {
	enum req_kind	 kind;
	char		 client[HTTP_CLIENT_MAX + 1];
	char		 id[HTTP_BATCH_ID_MAX + 1];
	char		 tmpname[HTTP_CLIENT_MAX + HTTP_BATCH_ID_MAX + 32];
	uint8_t		 want[32];
	int		 fd;		/* temporary file, -1 when none */
	EVP_MD_CTX	*md;
	ZSTD_DStream	*zd;
	size_t		 zlast;		/* last ZSTD_decompressStream() hint */
	uint64_t	 length;	/* Content-Length, checked */
	uint64_t	 received;	/* body bytes, as sent */
	uint64_t	 bytes;		/* batch bytes written */
	int		 status;	/* an error found in the body, or 0 */
	char		 why[MSG_MAX];
	struct conn_watch *cw;
};

/*
 * Answer with a line of text: 401 names the scheme, 405 the one method
 * allowed (allow, else NULL), 429 and 503 when to try again.
 */
static enum MHD_Result
answer(struct MHD_Connection *c, unsigned int status, const char *allow,
    char *msg)
{
	struct MHD_Response *resp;
	enum MHD_Result	 ret;

	resp = MHD_create_response_from_buffer(strlen(msg), msg,
	    MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, "WWW-Authenticate",
		    "Basic realm=\"vbs\"");
	if (allow != NULL)
		MHD_add_response_header(resp, "Allow", allow);
	if (status == MHD_HTTP_TOO_MANY_REQUESTS ||
	    status == MHD_HTTP_SERVICE_UNAVAILABLE)
		MHD_add_response_header(resp, "Retry-After",
		    status == MHD_HTTP_SERVICE_UNAVAILABLE ? "30" : "60");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned int status, const char *fmt, ...)
{
	char		 msg[MSG_MAX];
	va_list		 ap;
	int		 n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(msg) - 2)
		n = (int)sizeof(msg) - 2;
	msg[n++] = '\n';
	msg[n] = '\0';
	return answer(c, status, NULL, msg);
}

/* 405, with the Allow header that RFC 9110 asks for. */
static enum MHD_Result
not_allowed(struct MHD_Connection *c, const char *method)
{
	char	 msg[64];

	snprintf(msg, sizeof(msg), "%s only\n", method);
	return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, method, msg);
}

static const char *
peer(struct MHD_Connection *c, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(buf, len, "?");
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return buf;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr, buf, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr, buf, (socklen_t)len);
	return buf;
}

/* A refusal: counted, logged with who, answered. */
static enum MHD_Result
refuse(struct rcv *r, struct MHD_Connection *c, const char *client,
    unsigned int status, const char *why)
{
	char	 ip[64];

	pthread_mutex_lock(&r->lock);
	r->refused++;
	pthread_mutex_unlock(&r->lock);
	log_info("refused %u from %s (client %s): %s", status,
	    peer(c, ip, sizeof(ip)), client[0] ? client : "-", why);
	return reply(c, status, "%s", why);
}

/*
 * The shared MySQL session of the receiver's threads, made on demand;
 * NULL (answer 503) when MySQL cannot be asked now.  A MySQL that stops
 * answering holds a thread at most DB_SECONDS in each read, write or
 * connection, and the threads queued behind it as long for the lock:
 * every request gets an answer, none piles up.
 */
static MYSQL *
db_get(struct rcv *r)
{
	struct timespec	 ts;
	char		 err[512];
	int		 e;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += DB_SECONDS;
	if ((e = pthread_mutex_timedlock(&r->dblock, &ts)) != 0) {
		log_warnx("receiver: MySQL busy for %d s: %s", DB_SECONDS,
		    strerror(e));
		return NULL;
	}
	if (r->my != NULL && mysql_ping(r->my) != 0) {
		mysql_close(r->my);
		r->my = NULL;
	}
	if (r->my == NULL && (r->my = db_connect(r->o->optfile, DB_SECONDS,
	    err, sizeof(err))) == NULL)
		log_warnx("receiver: %s", err);
	if (r->my == NULL)
		pthread_mutex_unlock(&r->dblock);
	return r->my;
}

static void
db_put(struct rcv *r)
{
	pthread_mutex_unlock(&r->dblock);
}

/*
 * One more upload this minute for the client: 0 allowed, -1 over.
 * Fixed one-minute windows per client, in this process only (several
 * ingestd processes each allow the rate).
 */
static int
rate_take(struct rcv *r, const char *client)
{
	struct rate_slot *s, *free_slot = NULL;
	uint64_t	 now = mono_us(), h = 5381;
	size_t		 i, k;
	const char	*p;
	int		 ret = 0;

	if (r->rate <= 0)
		return 0;
	for (p = client; *p != '\0'; p++)
		h = h * 33 + (unsigned char)*p;
	pthread_mutex_lock(&r->lock);
	for (i = 0; i < RATE_SLOTS; i++) {
		k = (size_t)((h + i) % RATE_SLOTS);
		s = &r->rates[k];
		if (strcmp(s->client, client) == 0) {
			free_slot = NULL;
			goto found;
		}
		if (free_slot == NULL && (s->client[0] == '\0' ||
		    now - s->window >= RATE_WINDOW_US))
			free_slot = s;
		if (s->client[0] == '\0')
			break;
	}
	if ((s = free_slot) == NULL)
		goto out;		/* table full: no limit rather than none */
	snprintf(s->client, sizeof(s->client), "%s", client);
	s->window = now;
	s->count = 0;
found:
	if (now - s->window >= RATE_WINDOW_US) {
		s->window = now;
		s->count = 0;
	}
	if (s->count >= (uint32_t)r->rate)
		ret = -1;
	else
		s->count++;
out:
	pthread_mutex_unlock(&r->lock);
	return ret;
}

/*
 * CLIENT.ID waiting, claimed, kept or loaded?  1 yes; 2 no, refused by
 * a loader (quarantined); 0 neither; -1 ?.
 */
static int
known_batch(struct rcv *r, const char *client, const char *id)
{
	MYSQL		*my;
	MYSQL_RES	*res;
	char		 name[HTTP_CLIENT_MAX + HTTP_BATCH_ID_MAX + 2], q[512];
	int		 found;

	snprintf(name, sizeof(name), "%s.%s", client, id);
	/*
	 * In the order a batch moves: waiting, claimed by a loader (in
	 * MySQL only once its transaction commits), kept after loading.
	 */
	if (faccessat(r->incfd, name, F_OK, 0) == 0 ||
	    (r->claimfd != -1 && spool_claimed(r->claimfd, name)) ||
	    (r->donefd != -1 && faccessat(r->donefd, name, F_OK, 0) == 0))
		return 1;
	if ((my = db_get(r)) == NULL)
		return -1;
	snprintf(q, sizeof(q), "SELECT 1 FROM batches b JOIN clients c ON "
	    "c.client_id = b.client_id WHERE c.client_name = '%s' AND "
	    "b.batch_name = '%s'", client, id);
	if (mysql_query(my, q) != 0 || (res = mysql_store_result(my)) ==
	    NULL) {
		log_warnx("receiver: batches: %s", mysql_error(my));
		db_put(r);
		return -1;
	}
	found = mysql_fetch_row(res) != NULL;
	mysql_free_result(res);
	db_put(r);
	if (!found && r->quarfd != -1 &&
	    spool_quarantine_holds(r->quarfd, name))
		return 2;
	return found;
}

static struct conn_watch *
conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

static void
req_free(struct rcv *r, struct req *q)
{
	if (q == NULL)
		return;
	if (q->fd != -1) {
		close(q->fd);
		(void)unlinkat(r->tmpfd, q->tmpname, 0);
	}
	EVP_MD_CTX_free(q->md);
	ZSTD_freeDStream(q->zd);
	free(q);
}

/*
 * A new temporary file CLIENT.ID.RANDOM.part in spool/tmp, 0640;
 * -1 with errno.  The random part lets two uploads of one batch (a
 * retry that overtook a slow first try) never share a file.
 */
static int
tmp_create(int dirfd, const char *client, const char *id, char *name,
    size_t len)
{
	uint8_t	 rnd[8];
	int	 fd, tries;

	for (tries = 0; tries < 8; tries++) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			errno = EIO;
			return -1;
		}
		snprintf(name, len, "%s.%s.%02x%02x%02x%02x%02x%02x%02x%02x"
		    ".part", client, id, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
		    rnd[5], rnd[6], rnd[7]);
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC | O_NOFOLLOW, 0640);
		if (fd != -1 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/*
 * This connection's PUT is one of its client's bodies under way: -1
 * when PUT_PER_CLIENT are already (on_completed() gives the place back).
 */
static int
put_take(struct rcv *r, struct MHD_Connection *c, const char *client)
{
	struct conn_watch	*cw = conn_of(c), *o;
	int			 n = 0;

	if (cw == NULL)
		return 0;
	pthread_mutex_lock(&r->lock);
	for (o = r->conns; o != NULL; o = o->next)
		if (o != cw && strcmp(o->client, client) == 0)
			n++;
	if (n < PUT_PER_CLIENT)
		snprintf(cw->client, sizeof(cw->client), "%s", client);
	pthread_mutex_unlock(&r->lock);
	return n < PUT_PER_CLIENT ? 0 : -1;
}

/*
 * The headers of a PUT: every check that needs no body.  Returns NULL
 * when a response has been queued (refusal or duplicate), else the new
 * request, its temporary file open.
 */
static struct req *
put_begin(struct rcv *r, struct MHD_Connection *c, const char *id,
    enum MHD_Result *ret)
{
	struct req	*q;
	MYSQL		*my;
	char		*user = NULL, *pass = NULL, why[MSG_MAX];
	const char	*h, *enc;
	char		*end;
	unsigned long long len;
	enum cred_result cr;
	int		 k;

	user = MHD_basic_auth_get_username_password(c, &pass);
	if (user == NULL || pass == NULL) {
		free(user);
		free(pass);
		*ret = refuse(r, c, "", MHD_HTTP_UNAUTHORIZED,
		    "credentials required");
		return NULL;
	}
	if (!http_client_ok(user)) {
		cr = CRED_BAD;
	} else if ((my = db_get(r)) == NULL) {
		cr = CRED_DBERR;
	} else {
		cr = cred_check(my, user, pass);
		db_put(r);
	}
	OPENSSL_cleanse(pass, strlen(pass));
	free(pass);
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		free(user);
		*ret = MHD_NO;
		return NULL;
	}
	q->fd = -1;
	q->kind = REQ_PUT;
	if (http_client_ok(user))
		snprintf(q->client, sizeof(q->client), "%s", user);
	free(user);
	switch (cr) {
	case CRED_OK:
		break;
	case CRED_REVOKED:
		*ret = refuse(r, c, q->client, MHD_HTTP_FORBIDDEN,
		    "client revoked");
		goto done;
	case CRED_DBERR:
		*ret = refuse(r, c, q->client, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "credentials cannot be checked now");
		goto done;
	default:
		*ret = refuse(r, c, q->client, MHD_HTTP_UNAUTHORIZED,
		    "wrong client id or secret");
		goto done;
	}
	if (!http_batch_id_ok(id)) {
		*ret = refuse(r, c, q->client, MHD_HTTP_BAD_REQUEST,
		    "bad batch id: [A-Za-z0-9][A-Za-z0-9_-]* expected");
		goto done;
	}
	snprintf(q->id, sizeof(q->id), "%s", id);
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-VBS-SHA256");
	if (http_hex256(h, q->want) == -1) {
		*ret = refuse(r, c, q->client, MHD_HTTP_BAD_REQUEST,
		    "X-VBS-SHA256: 64 hex digits expected");
		goto done;
	}
	enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_ENCODING);
	if (enc != NULL && strcmp(enc, "identity") != 0 &&
	    strcmp(enc, "zstd") != 0) {
		*ret = refuse(r, c, q->client,
		    MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "Content-Encoding: identity or zstd only");
		goto done;
	}
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (h == NULL) {
		*ret = refuse(r, c, q->client, MHD_HTTP_LENGTH_REQUIRED,
		    "Content-Length required");
		goto done;
	}
	errno = 0;
	len = strtoull(h, &end, 10);
	if (*h < '0' || *h > '9' || *end != '\0' || errno != 0) {
		*ret = refuse(r, c, q->client, MHD_HTTP_BAD_REQUEST,
		    "bad Content-Length");
		goto done;
	}
	if (len > r->o->max_batch || len == 0) {
		snprintf(why, sizeof(why), "body of %llu bytes: the limit is "
		    "%" PRIu64, len, r->o->max_batch);
		*ret = refuse(r, c, q->client, len ?
		    HTTP_TOO_LARGE : MHD_HTTP_BAD_REQUEST, why);
		goto done;
	}
	q->length = len;
	if (rate_take(r, q->client) == -1) {
		snprintf(why, sizeof(why), "more than %ld uploads a minute",
		    r->rate);
		*ret = refuse(r, c, q->client, MHD_HTTP_TOO_MANY_REQUESTS,
		    why);
		goto done;
	}
	if ((k = known_batch(r, q->client, q->id)) != 0) {
		if (k == 1) {
			pthread_mutex_lock(&r->lock);
			r->dups++;
			pthread_mutex_unlock(&r->lock);
			log_debug("batch %s.%s: already here", q->client,
			    q->id);
			*ret = reply(c, MHD_HTTP_OK, "already stored");
		} else if (k == 2)
			/* Each copy would be refused and kept again. */
			*ret = refuse(r, c, q->client, HTTP_UNPROCESSABLE,
			    "batch refused by the server's checks before");
		else
			*ret = refuse(r, c, q->client,
			    MHD_HTTP_SERVICE_UNAVAILABLE, "database away");
		goto done;
	}
	if (put_take(r, c, q->client) == -1) {
		snprintf(why, sizeof(why), "more than %d uploads at once",
		    PUT_PER_CLIENT);
		*ret = refuse(r, c, q->client, MHD_HTTP_TOO_MANY_REQUESTS,
		    why);
		goto done;
	}
	if ((q->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(q->md, EVP_sha256(), NULL) != 1)
		goto fail;
	/*
	 * zstd would take a window of up to 128 MB a connection, asked
	 * for by a few bytes of frame header; shipd never sends more than
	 * BATCH_ZSTD_WINDOW_LOG.
	 */
	if (enc != NULL && strcmp(enc, "zstd") == 0 &&
	    ((q->zd = ZSTD_createDStream()) == NULL ||
	    ZSTD_isError(ZSTD_initDStream(q->zd)) ||
	    ZSTD_isError(ZSTD_DCtx_setParameter(q->zd, ZSTD_d_windowLogMax,
	    BATCH_ZSTD_WINDOW_LOG))))
		goto fail;
	if ((q->fd = tmp_create(r->tmpfd, q->client, q->id, q->tmpname,
	    sizeof(q->tmpname))) == -1) {
		log_warn("receiver: spool tmp");
		*ret = refuse(r, c, q->client, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "spool unavailable");
		goto done;
	}
	return q;
fail:
	*ret = refuse(r, c, q->client, MHD_HTTP_INTERNAL_SERVER_ERROR,
	    "out of memory");
done:
	req_free(r, q);
	return NULL;
}

/* Batch bytes to the file and the hash; past max_batch: 413. */
static void
put_write(struct rcv *r, struct req *q, const uint8_t *p, size_t n)
{
	ssize_t	 w;

	if (q->status != 0 || n == 0)
		return;
	if (q->bytes + n > r->o->max_batch) {
		q->status = HTTP_TOO_LARGE;
		snprintf(q->why, sizeof(q->why), "batch larger than %" PRIu64
		    " bytes", r->o->max_batch);
		return;
	}
	q->bytes += n;
	if (EVP_DigestUpdate(q->md, p, n) != 1) {
		q->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		snprintf(q->why, sizeof(q->why), "hash failed");
		return;
	}
	while (n > 0) {
		w = write(q->fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_warn("receiver: spool write");
			q->status = MHD_HTTP_SERVICE_UNAVAILABLE;
			snprintf(q->why, sizeof(q->why), "spool write failed");
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* A piece of the body as it arrives: through zstd when it is on. */
static void
put_data(struct rcv *r, struct req *q, const char *data, size_t n)
{
	uint8_t		 out[ZBUF];
	ZSTD_inBuffer	 in = { data, n, 0 };
	ZSTD_outBuffer	 ob;

	if (q->cw != NULL) {
		pthread_mutex_lock(&r->lock);
		q->cw->bytes += n;
		pthread_mutex_unlock(&r->lock);
	}
	if (q->zd == NULL) {
		put_write(r, q, (const uint8_t *)data, n);
		return;
	}
	while (q->status == 0 && in.pos < in.size) {
		ob.dst = out;
		ob.size = sizeof(out);
		ob.pos = 0;
		q->zlast = ZSTD_decompressStream(q->zd, &ob, &in);
		if (ZSTD_getErrorCode(q->zlast) ==
		    ZSTD_error_frameParameter_windowTooLarge) {
			q->status = HTTP_TOO_LARGE;
			snprintf(q->why, sizeof(q->why), "zstd window too "
			    "large: the limit is %u bytes (windowLog %d)",
			    1U << BATCH_ZSTD_WINDOW_LOG, BATCH_ZSTD_WINDOW_LOG);
			return;
		}
		if (ZSTD_isError(q->zlast)) {
			q->status = MHD_HTTP_BAD_REQUEST;
			snprintf(q->why, sizeof(q->why), "bad zstd body: %s",
			    ZSTD_getErrorName(q->zlast));
			return;
		}
		put_write(r, q, out, ob.pos);
	}
}

/*
 * The stored file must be a batch with this id, of this client or of
 * none (flowd not told its id: the uploader names it).  The loader
 * validates all of it later; this is what decides the answer.  A read
 * that runs out of time says nothing of the batch: 503, and the client
 * sends it again later (a 422 would make it set the batch aside).
 */
static unsigned int
put_meta(struct rcv *r, struct req *q)
{
	char	 path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/tmp/%s", r->o->spool,
	    q->tmpname) >= (int)sizeof(path))
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	switch (batch_meta(path, META_SECONDS, q->id, q->client, q->why,
	    sizeof(q->why))) {
	case META_OK:
		return 0;
	case META_FOREIGN:
		return MHD_HTTP_FORBIDDEN;
	case META_LATE:
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	default:
		return HTTP_UNPROCESSABLE;
	}
}

/* The whole body is in: check it, make it durable, hand it over. */
static enum MHD_Result
put_finish(struct rcv *r, struct MHD_Connection *c, struct req *q)
{
	uint8_t		 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, st;
	char		 name[HTTP_CLIENT_MAX + HTTP_BATCH_ID_MAX + 2];

	if (q->status == 0 && q->zd != NULL && q->zlast != 0) {
		q->status = MHD_HTTP_BAD_REQUEST;
		snprintf(q->why, sizeof(q->why), "zstd body cut short");
	}
	if (q->status != 0)
		return refuse(r, c, q->client, (unsigned int)q->status, q->why);
	if (EVP_DigestFinal_ex(q->md, md, &mdlen) != 1 || mdlen != 32 ||
	    CRYPTO_memcmp(md, q->want, 32) != 0)
		return refuse(r, c, q->client, HTTP_UNPROCESSABLE,
		    "SHA-256 of the body does not match X-VBS-SHA256");
	if (fsync(q->fd) == -1) {
		log_warn("receiver: fsync %s", q->tmpname);
		return refuse(r, c, q->client, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "spool fsync failed");
	}
	if ((st = put_meta(r, q)) != 0)
		return refuse(r, c, q->client, st, q->why);
	snprintf(name, sizeof(name), "%s.%s", q->client, q->id);
	if (renameat(r->tmpfd, q->tmpname, r->incfd, name) == -1 ||
	    fsync(r->incfd) == -1) {
		log_warn("receiver: spool incoming/%s", name);
		return refuse(r, c, q->client, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "spool rename failed");
	}
	close(q->fd);
	q->fd = -1;		/* it is the loader's now */
	pthread_mutex_lock(&r->lock);
	r->stored++;
	pthread_mutex_unlock(&r->lock);
	log_debug("batch %s stored (%" PRIu64 " bytes)", name, q->bytes);
	return reply(c, MHD_HTTP_CREATED, "stored");
}

/* POST /v1/enroll: a token for a client id and a secret, once. */
static enum MHD_Result
enroll(struct rcv *r, struct MHD_Connection *c)
{
	struct MHD_Response *resp;
	MYSQL		*my;
	char		 tok[HTTP_TOKEN_MAX + 1], client[HTTP_CLIENT_MAX + 1];
	char		 secret[2 * SECRET_BYTES + 1], err[512], body[256];
	enum MHD_Result	 ret;
	int		 rc, n;

	if (http_bearer(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION), tok, sizeof(tok)) == -1)
		return refuse(r, c, "", MHD_HTTP_UNAUTHORIZED,
		    "Authorization: Bearer TOKEN required");
	if ((my = db_get(r)) == NULL)
		return refuse(r, c, "", MHD_HTTP_SERVICE_UNAVAILABLE,
		    "database away");
	rc = enroll_redeem(my, tok, client, sizeof(client), secret,
	    sizeof(secret), err, sizeof(err));
	db_put(r);
	if (rc == 1)
		return refuse(r, c, "", MHD_HTTP_UNAUTHORIZED, err);
	if (rc != 0) {
		log_warnx("receiver: enrolment: %s", err);
		return refuse(r, c, "", MHD_HTTP_SERVICE_UNAVAILABLE,
		    "enrolment failed");
	}
	n = snprintf(body, sizeof(body), "{\"client_id\":\"%s\","
	    "\"secret\":\"%s\"}\n", client, secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	resp = MHD_create_response_from_buffer((size_t)n, body,
	    MHD_RESPMEM_MUST_COPY);
	OPENSSL_cleanse(body, sizeof(body));
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, MHD_HTTP_CREATED, resp);
	MHD_destroy_response(resp);
	log_info("enrolled client %s", client);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data,
    size_t *size, void **req_cls)
{
	struct rcv	*r = cls;
	struct req	*q = *req_cls;
	struct conn_watch *cw;
	enum MHD_Result	 ret = MHD_NO;
	const char	*id;

	(void)version;
	if (q == NULL) {
		if ((cw = conn_of(c)) != NULL) {
			pthread_mutex_lock(&r->lock);
			cw->in_request = 1;
			pthread_mutex_unlock(&r->lock);
		}
		/*
		 * libmicrohttpd reads a chunked body to its end whatever
		 * Content-Length says: only a body it cuts at that length
		 * is bounded by the checks below.
		 */
		if (MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
			return refuse(r, c, "", MHD_HTTP_LENGTH_REQUIRED,
			    "Content-Length required, not Transfer-Encoding");
		if (strcmp(url, "/v1/enroll") == 0) {
			if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
				return not_allowed(c, MHD_HTTP_METHOD_POST);
			if ((q = calloc(1, sizeof(*q))) == NULL)
				return MHD_NO;
			q->fd = -1;
			q->kind = REQ_ENROLL;
			*req_cls = q;
			return MHD_YES;
		}
		if ((id = http_batch_path(url, "/v1/batches/")) == NULL)
			return reply(c, MHD_HTTP_NOT_FOUND, "no such resource");
		if (strcmp(method, MHD_HTTP_METHOD_PUT) != 0)
			return not_allowed(c, MHD_HTTP_METHOD_PUT);
		if ((q = put_begin(r, c, id, &ret)) == NULL)
			return ret;
		q->cw = conn_of(c);
		if (q->cw != NULL) {
			pthread_mutex_lock(&r->lock);
			q->cw->in_body = 1;
			q->cw->bytes = 0;
			pthread_mutex_unlock(&r->lock);
		}
		*req_cls = q;
		return MHD_YES;
	}
	if (*size > 0) {
		/*
		 * An enrolment's body means nothing: it is dropped.  A PUT's
		 * is read to its checked length even once refused, so that
		 * the client hears why; never beyond it.
		 */
		if (q->kind == REQ_PUT) {
			if (*size > q->length - q->received)
				return MHD_NO;
			q->received += *size;
			put_data(r, q, data, *size);
		}
		*size = 0;
		return MHD_YES;
	}
	if (q->kind == REQ_ENROLL)
		return enroll(r, c);
	return put_finish(r, c, q);
}

/* A request ended, answered or not: drop what it left. */
static void
on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct rcv		*r = cls;
	struct conn_watch	*cw = conn_of(c);

	(void)toe;
	req_free(r, *req_cls);
	*req_cls = NULL;
	if (cw != NULL) {
		pthread_mutex_lock(&r->lock);
		cw->since = mono_us();
		cw->in_request = 0;
		cw->in_body = 0;
		cw->bytes = 0;
		cw->client[0] = '\0';
		pthread_mutex_unlock(&r->lock);
	}
}

/*
 * Where a connection comes from, for the limit of CONN_PER_IP: an IPv4
 * address, or the /64 of an IPv6 address, since a host is given a /64
 * and may use any address in it.  IPv4-mapped addresses are IPv4; the
 * two kinds of key never meet (an IPv4 one has 0xffff at 10 and 11, a
 * /64 has zeros after 8).
 */
static void
conn_origin(const struct sockaddr *sa, uint8_t key[16])
{
	const struct sockaddr_in	*s4;
	const struct sockaddr_in6	*s6;

	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		s4 = (const struct sockaddr_in *)(const void *)sa;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &s4->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			memcpy(key, &s6->sin6_addr, 16);
		else
			memcpy(key, &s6->sin6_addr, 8);
	}
}

/*
 * libmicrohttpd's accept policy: at most CONN_PER_IP connections from
 * one origin (conn_origin).  Called in its listening thread, which also
 * adds each accepted connection (on_connection) before the next accept.
 */
static enum MHD_Result
on_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
	static const uint8_t	 none[16];
	struct rcv		*r = cls;
	struct conn_watch	*cw;
	uint8_t			 key[16];
	unsigned int		 n = 0;

	if (len < (socklen_t)sizeof(struct sockaddr_in))
		return MHD_YES;
	conn_origin(sa, key);
	if (memcmp(key, none, 16) == 0)
		return MHD_YES;
	pthread_mutex_lock(&r->lock);
	for (cw = r->conns; cw != NULL; cw = cw->next)
		if (memcmp(cw->origin, key, 16) == 0)
			n++;
	if (n >= CONN_PER_IP)
		r->crowded++;
	pthread_mutex_unlock(&r->lock);
	return n < CONN_PER_IP ? MHD_YES : MHD_NO;
}

static void
on_connection(void *cls, struct MHD_Connection *c, void **sock_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	struct rcv			*r = cls;
	struct conn_watch		*cw;
	const union MHD_ConnectionInfo	*ci;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(c,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci == NULL || (cw = calloc(1, sizeof(*cw))) == NULL)
			return;
		cw->fd = ci->connect_fd;
		ci = MHD_get_connection_info(c,
		    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci != NULL && ci->client_addr != NULL)
			conn_origin(ci->client_addr, cw->origin);
		cw->since = mono_us();
		pthread_mutex_lock(&r->lock);
		cw->next = r->conns;
		if (r->conns != NULL)
			r->conns->prev = cw;
		r->conns = cw;
		r->nconns++;
		pthread_mutex_unlock(&r->lock);
		*sock_ctx = cw;
		return;
	}
	if ((cw = *sock_ctx) == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	if (cw->prev != NULL)
		cw->prev->next = cw->next;
	else
		r->conns = cw->next;
	if (cw->next != NULL)
		cw->next->prev = cw->prev;
	r->nconns--;
	pthread_mutex_unlock(&r->lock);
	free(cw);
	*sock_ctx = NULL;
}

/* Temporary files of uploads cut off by a crash, older than an hour. */
static void
tmp_sweep(struct rcv *r)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	size_t		 n;
	int		 fd;

	if ((fd = dup(r->tmpfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (de->d_name[0] == '.' || n < 5 ||
		    strcmp(de->d_name + n - 5, ".part") != 0)
			continue;
		if (fstatat(r->tmpfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    0 && st.st_mtime < time(NULL) - 3600)
			(void)unlinkat(r->tmpfd, de->d_name, 0);
	}
	closedir(d);
}

/*
 * The watchdog: libmicrohttpd's timeout is for idle connections only,
 * and a client sending a byte a second is never idle.  So a connection
 * whose request has not got its headers in within timeout, or whose
 * body averages less than min_rate after that, is shut down; its
 * thread then sees the end of the stream and cleans up.  Near the
 * connection limit, one with no request going is shut down after
 * SHED_US: a client that is not slow to start has nothing to fear, and
 * bare connections must come over 100 times faster to hold every slot.
 */
static void *
watchdog(void *arg)
{
	struct rcv		*r = arg;
	struct conn_watch	*cw;
	uint64_t		 now, age, last_sweep = 0;
	unsigned int		 shed, n;

	while (!r->stopping) {
		usleep(WATCH_TICK_US);
		now = mono_us();
		shed = 0;
		pthread_mutex_lock(&r->lock);
		n = r->nconns;
		for (cw = r->conns; cw != NULL; cw = cw->next) {
			age = now - cw->since;
			if (!cw->killed && !cw->in_request && age > SHED_US &&
			    n + CONN_SPARE > CONN_LIMIT) {
				cw->killed = 1;
				shed++;
				(void)shutdown(cw->fd, SHUT_RDWR);
				continue;
			}
			if (cw->killed || age <= r->timeout_us)
				continue;
			if (cw->in_body &&
			    cw->bytes * 1000000 / age >= r->min_rate)
				continue;
			cw->killed = 1;
			r->slow++;
			log_info("closing a slow connection: %" PRIu64 " bytes "
			    "in %" PRIu64 " ms", cw->bytes, age / 1000);
			(void)shutdown(cw->fd, SHUT_RDWR);
		}
		r->shed += shed;
		pthread_mutex_unlock(&r->lock);
		if (shed > 0)
			log_info("%u connections of %d: closed %u with no "
			    "request for %llu s", n, CONN_LIMIT, shed,
			    SHED_US / 1000000);
		if (now - last_sweep > 600ULL * 1000000) {
			tmp_sweep(r);
			last_sweep = now;
		}
	}
	return NULL;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	 buf[512];
	size_t	 n;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_debug("libmicrohttpd: %s", buf);
}

static char *
read_pem(const char *path)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || st.st_size <= 0 || st.st_size > PEM_MAX ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		errno = EIO;
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static int
spool_dir(const char *spool, const char *sub)
{
	char	 path[PATH_MAX];
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", spool, sub);
	(void)mkdir(path, 0750);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd;
}

/*
 * The receiver, in the calling process, until SIGTERM or SIGINT.
 * Exit codes: EXIT_CONFIG for what a restart cannot fix (certificate,
 * key, listen address), EXIT_SYSTEM otherwise.
 */
int
receive_run(const struct receive_opts *o)
{
	static struct rcv r;
	struct vbs_conf	*conf;
	struct MHD_Daemon *d;
	struct sockaddr_storage ss;
	socklen_t	 sslen;
	pthread_t	 wd;
	sigset_t	 set;
	char		 err[512], *cert, *key;
	const char	*listen;
	unsigned int	 flags, tmo;
	int		 sig;

	if (o->conf_path != NULL && access(o->conf_path, F_OK) == 0)
		conf = conf_load(o->conf_path, err, sizeof(err));
	else
		conf = conf_defaults();
	if (conf == NULL) {
		log_warnx("receiver: %s", err);
		return EXIT_CONFIG;
	}
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.rate = (long)conf_int(conf, "ingestd", "rate_per_client");
	r.timeout_us = (uint64_t)conf_int(conf, "ingestd", "timeout") * 1000;
	r.min_rate = (uint64_t)conf_int(conf, "ingestd", "min_rate");
	listen = conf_str(conf, "ingestd", "listen");
	if (listen[0] == '\0') {
		log_info("receiver: listen is empty: loading only");
		conf_free(conf);
		return EXIT_OK;
	}
	if (http_listen(listen, &ss, &sslen) == -1) {
		log_warnx("receiver: listen %s: ADDR:PORT or [ADDR6]:PORT "
		    "expected", listen);
		return EXIT_CONFIG;
	}
	if ((cert = read_pem(conf_str(conf, "ingestd", "cert_file"))) ==
	    NULL || (key = read_pem(conf_str(conf, "ingestd", "key_file"))) ==
	    NULL) {
		log_warn("receiver: cannot read cert_file or key_file");
		return EXIT_CONFIG;
	}
	if ((r.tmpfd = spool_dir(o->spool, "tmp")) == -1 ||
	    (r.incfd = spool_dir(o->spool, "incoming")) == -1) {
		log_warn("receiver: spool %s", o->spool);
		return EXIT_SYSTEM;
	}
	r.donefd = spool_dir(o->spool, "done");
	r.claimfd = spool_dir(o->spool, "claim");
	r.quarfd = spool_dir(o->spool, "quarantine");
	if ((r.rates = calloc(RATE_SLOTS, sizeof(*r.rates))) == NULL)
		fatal("calloc");
	pthread_mutex_init(&r.lock, NULL);
	pthread_mutex_init(&r.dblock, NULL);
	tmp_sweep(&r);
	/* The certificate and key are in memory: the spool from now on. */
	spool_confine("receiver", o->spool, o->optfile);

	/* Threads inherit the mask: only this one takes the signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
		log_warnx("receiver: libmicrohttpd has no TLS");
		return EXIT_CONFIG;
	}
	flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_TLS | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_DUAL_STACK;
	tmo = (unsigned int)((r.timeout_us + 999999) / 1000000);
	d = MHD_start_daemon(flags, 0, on_accept, &r, on_request, &r,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_HTTPS_MEM_CERT, cert,
	    MHD_OPTION_HTTPS_MEM_KEY, key,
	    MHD_OPTION_HTTPS_PRIORITIES,
	    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
	    MHD_OPTION_CONNECTION_TIMEOUT, tmo,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONN_LIMIT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, &r,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, &r,
	    MHD_OPTION_END);
	OPENSSL_cleanse(key, strlen(key));
	free(key);
	free(cert);
	if (d == NULL) {
		log_warnx("receiver: cannot serve HTTPS on %s (address in "
		    "use, or a bad certificate or key)", listen);
		return EXIT_CONFIG;
	}
	if (pthread_create(&wd, NULL, watchdog, &r) != 0)
		fatalx("receiver: pthread_create");
	log_info("receiver: HTTPS on %s, spool %s, max_batch %" PRIu64
	    ", %ld uploads a minute a client", listen, o->spool, o->max_batch,
	    r.rate);
	do {
		if (sigwait(&set, &sig) != 0)
			sig = SIGTERM;
	} while (sig == SIGHUP);
	r.stopping = 1;
	MHD_stop_daemon(d);
	pthread_join(wd, NULL);
	log_info("receiver: stopping: %" PRIu64 " stored, %" PRIu64
	    " duplicates, %" PRIu64 " refused, %" PRIu64 " slow closed, %"
	    PRIu64 " closed near the limit, %" PRIu64 " over %d from one "
	    "address or /64", r.stored, r.dups, r.refused, r.slow, r.shed,
	    r.crowded, CONN_PER_IP);
	if (r.my != NULL)
		mysql_close(r.my);
	conf_free(conf);
	return EXIT_OK;
}

static volatile sig_atomic_t	 rcv_quit;

static void
rcv_on_signal(int sig)
{
	(void)sig;
	rcv_quit = 1;
}

/*
 * Start the receiver beside the loader workers: a small keeper process
 * that runs receive_run() in a child and restarts it (a second apart)
 * unless it failed on its configuration.  It goes when its parent goes
 * (PDEATHSIG) or on SIGTERM, taking the receiver with it.  Returns the
 * keeper's pid, or -1.
 */
pid_t
receive_spawn(const struct receive_opts *o)
{
	struct sigaction sa;
	pid_t		 keeper, child;
	int		 st;

	if ((keeper = fork()) != 0)
		return keeper;
#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
	if (getppid() == 1)
		_exit(EXIT_OK);		/* serve died before we were set */
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = rcv_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!rcv_quit) {
		if ((child = fork()) == -1)
			fatal("receiver: fork");
		if (child == 0) {
#ifdef __linux__
			prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			_exit(receive_run(o));
		}
		while (waitpid(child, &st, 0) == -1) {
			if (errno != EINTR)
				fatal("receiver: waitpid");
			if (rcv_quit)
				kill(child, SIGTERM);
		}
		if (rcv_quit)
			break;
		if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_OK)
			break;
		if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_CONFIG) {
			log_warnx("receiver: configuration error: not "
			    "restarted; the loaders go on");
			_exit(EXIT_CONFIG);
		}
		log_warnx("receiver (pid %ld) died: status %d; restarting",
		    (long)child, st);
		sleep(1);
	}
	_exit(EXIT_OK);
}

/* Stop the keeper and its receiver; wait for both. */
void
receive_stop(pid_t keeper)
{
	if (keeper <= 0)
		return;
	kill(keeper, SIGTERM);
	while (waitpid(keeper, NULL, 0) == -1 && errno == EINTR)
		;
}
