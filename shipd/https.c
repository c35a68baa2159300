/*
 * https.c: the client side of HTTPS, on OpenSSL's libssl alone: one
 * request at a time over one kept connection.  Run by shipd, for its
 * uploads, and by vbsctl, to enrol.  libcurl did this before and
 * brought 31 shared libraries (GnuTLS, Kerberos, LDAP, SSH...) into
 * shipd for a client that only ever PUTs to one server: 4.6 MB of its
 * peak memory.
 *
 * https_new() reads every file it needs (the CA bundle, OpenSSL's
 * configuration), so that the caller can close the sandbox after it.
 * The server is trusted only once TLS has verified it: chained to the
 * given CA (or the system's) and named as the URL's host, or holding
 * the pinned public key, or both.  Even then its reply is parsed as
 * outside input (httpreply.c), and at most HTTPS_BODY_MAX bytes of its
 * body are kept.
 *
 * Time: connecting may take CONNECT_S; after that, any wait of more
 * than the caller's timeout fails the request, and the whole request
 * may last CONNECT_S + timeout + one second per KB of body (libcurl's
 * low-speed limit, which shipd used, was 1 KB/s over 60 s).  A caller
 * may also end every wait at once with a flag (https_set_stop()); with
 * the signal that sets it blocked but for the waits, none is missed.
 *
 * A request above EXPECT_MIN goes with Expect: 100-continue; if the
 * server answers 417, it is sent once more without (RFC 9110, 10.1.1),
 * and whatever comes then is the answer.
 */

#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "https.h"

volatile sig_atomic_t	https_resolving;

#define CONNECT_S	30		/* s to connect and shake hands */
#define LOW_SPEED	1024		/* B/s of body the deadline allows */
#define EXPECT_MIN	(1024 * 1024)	/* Expect: 100-continue above it */
#define EXPECT_WAIT_MS	1000		/* then wait this for the 100 */
#define REPLY_BODY_MAX	(1024 * 1024)	/* a longer reply is refused */
#define LINE_MAX_	1024		/* a chunk's size line */

struct https {
	SSL_CTX		*ctx;
	SSL		*ssl;
	int		 fd;
	int		 verify;	/* CA and host name checked */
	int		 numeric;	/* host is an IP address */
	int		 timeout;	/* s, any one wait */
	int64_t		 deadline;	/* ms, this request's */
	int		 got;		/* reply bytes came on this connection */
	int		 timedout;	/* the last failed wait ran out */
	volatile sig_atomic_t *stop;	/* the caller's: set, give up */
	int		 masked;	/* wait under waitmask (ppoll) */
	sigset_t	 waitmask;
	char		*pins;		/* "sha256//B64;..." or NULL */
	char		*base;		/* path of the URL, no trailing / */
	char		 host[256];	/* no brackets */
	char		 port[8];
	char		 hosthdr[272];
	char		 agent[64];
	char		 why[640];	/* the last failure */
	char		 rbuf[HTTPS_HEAD_MAX];
	size_t		 rlen;
};

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* OpenSSL's reason for the last failure, or errno's. */
static void
tls_why(struct https *h, const char *what, int e)
{
	unsigned long	 code = ERR_peek_last_error();
	long		 vr;
	const char	*r = NULL;

	if (h->ssl != NULL && h->verify &&
	    (vr = SSL_get_verify_result(h->ssl)) != X509_V_OK)
		r = X509_verify_cert_error_string(vr);
	else if (code != 0)
		r = ERR_reason_error_string(code);
	if (r == NULL)
		r = strerror(e != 0 ? e : ECONNRESET);
	snprintf(h->why, sizeof(h->why), "%s %s: %s", what, h->host, r);
	ERR_clear_error();
}

/* When a wait that starts now must be over. */
static int64_t
wait_end(const struct https *h)
{
	int64_t	 end = now_ms() + (int64_t)h->timeout * 1000;

	return end < h->deadline ? end : h->deadline;
}

/*
 * The caller wants every wait to end now.  A signal that comes between
 * this test and the wait is seen at once only when the caller keeps it
 * blocked but for the waits (https_set_stop's mask): see wait_fd().
 */
static int
stopping(const struct https *h)
{
	return h->stop != NULL && *h->stop != 0;
}

/*
 * poll() for one descriptor, at most ms.  Under the caller's wait mask,
 * ppoll(): its stop signal, blocked elsewhere, is let in only during
 * the wait, so one sent after stopping() looked ends the wait (EINTR)
 * instead of landing before it and going unseen until it times out.
 */
static int
wait_fd(const struct https *h, struct pollfd *pfd, int64_t ms)
{
	struct timespec	ts;

	if (!h->masked)
		return poll(pfd, 1, (int)ms);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	return ppoll(pfd, 1, &ts, &h->waitmask);
}

/*
 * Wait for what the last SSL call wants, until the time until (ms) at
 * the latest; -1 when the call failed instead, the time ran out
 * (h->timedout) or the caller is stopping.
 */
static int
tls_wait(struct https *h, int ret, const char *what, int64_t until)
{
	struct pollfd	 pfd;
	int64_t		 left;
	int		 e = errno, se = SSL_get_error(h->ssl, ret), n;

	if (se == SSL_ERROR_WANT_READ)
		pfd.events = POLLIN;
	else if (se == SSL_ERROR_WANT_WRITE)
		pfd.events = POLLOUT;
	else {
		if (se == SSL_ERROR_ZERO_RETURN)
			snprintf(h->why, sizeof(h->why), "%s %s: the server "
			    "closed the connection", what, h->host);
		else
			tls_why(h, what, se == SSL_ERROR_SYSCALL ? e : 0);
		return -1;
	}
	pfd.fd = h->fd;
	for (;;) {
		if (stopping(h)) {
			snprintf(h->why, sizeof(h->why), "%s %s: given up, "
			    "stopping", what, h->host);
			return -1;
		}
		if ((left = until - now_ms()) <= 0 ||
		    (n = wait_fd(h, &pfd, left)) == 0) {
			snprintf(h->why, sizeof(h->why), "%s %s: timed out",
			    what, h->host);
			h->timedout = 1;
			return -1;
		}
		if (n > 0)
			return 0;
		if (errno != EINTR) {
			tls_why(h, what, errno);
			return -1;
		}
	}
}

static int
tls_write(struct https *h, const void *p, size_t len)
{
	const char	*s = p;
	int		 n;

	while (len > 0) {
		ERR_clear_error();	/* SSL_get_error() reads the queue */
		n = SSL_write(h->ssl, s, len > 65536 ? 65536 : (int)len);
		if (n > 0) {
			s += n;
			len -= (size_t)n;
		} else if (tls_wait(h, n, "send to", wait_end(h)) == -1)
			return -1;
	}
	return 0;
}

/* Some bytes into rbuf; 0 at the end of the stream, -1 on failure. */
static int
tls_fill(struct https *h)
{
	int	n;

	if (h->rlen == sizeof(h->rbuf)) {
		snprintf(h->why, sizeof(h->why), "reply from %s: head over "
		    "%zu bytes", h->host, sizeof(h->rbuf));
		return -1;
	}
	for (;;) {
		ERR_clear_error();
		n = SSL_read(h->ssl, h->rbuf + h->rlen,
		    (int)(sizeof(h->rbuf) - h->rlen));
		if (n > 0) {
			h->rlen += (size_t)n;
			h->got = 1;
			return n;
		}
		if (SSL_get_error(h->ssl, n) == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (tls_wait(h, n, "receive from", wait_end(h)) == -1)
			return -1;
	}
}

static void
conn_close(struct https *h)
{
	if (h->ssl != NULL) {
		(void)SSL_shutdown(h->ssl);	/* no wait for the peer's */
		SSL_free(h->ssl);
	}
	if (h->fd != -1)
		close(h->fd);
	h->ssl = NULL;
	h->fd = -1;
	h->rlen = 0;
}

/* The peer's public key is one of the pins (sha256//BASE64;...). */
static int
pin_ok(struct https *h)
{
	X509		*crt;
	unsigned char	*der = NULL, md[32], b64[64];
	unsigned int	 mdlen = 0;
	const char	*p, *e;
	size_t		 blen;
	int		 n, ok = 0;

	if ((crt = SSL_get_peer_certificate(h->ssl)) == NULL)
		return 0;
	n = i2d_PUBKEY(X509_get0_pubkey(crt), &der);
	X509_free(crt);
	if (n <= 0 || EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen != 32) {
		OPENSSL_free(der);
		return 0;
	}
	OPENSSL_free(der);
	blen = (size_t)EVP_EncodeBlock(b64, md, 32);
	for (p = h->pins; *p != '\0'; p = *e == ';' ? e + 1 : e) {
		p += strspn(p, " \t");
		e = p + strcspn(p, ";");
		if (strncmp(p, "sha256//", 8) == 0 &&
		    (size_t)(e - p) - 8 == blen &&
		    memcmp(p + 8, b64, blen) == 0)
			ok = 1;
	}
	return ok;
}

/* A TCP connection to one of the host's addresses, then TLS over it. */
static int
conn_open(struct https *h)
{
	struct addrinfo	 hints, *res, *ai;
	struct pollfd	 pfd;
	sigset_t	 omask;
	socklen_t	 sl;
	int64_t		 until = now_ms() + CONNECT_S * 1000, left;
	int		 fd = -1, e = 0, r, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	/*
	 * A name's look-up cannot be cut short: glibc's resolver resumes
	 * its waits after a signal, and a name server that does not
	 * answer holds it for its timeout times its attempts (10 s and
	 * more).  Nothing of the request has been sent yet, so the
	 * caller's stop signal is let in meanwhile, and its handler, seeing
	 * https_resolving, ends the process there and then.
	 */
	if (h->masked && !h->numeric) {
		https_resolving = 1;
		sigprocmask(SIG_SETMASK, &h->waitmask, &omask);
	}
	r = getaddrinfo(h->host, h->port, &hints, &res);
	if (h->masked && !h->numeric) {
		sigprocmask(SIG_SETMASK, &omask, NULL);
		https_resolving = 0;
	}
	if (r != 0) {
		snprintf(h->why, sizeof(h->why), "resolve %s: %s", h->host,
		    gai_strerror(r));
		return -1;
	}
	if (until > h->deadline)
		until = h->deadline;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol)) == -1) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		if (e == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			do {
				left = until - now_ms();
				r = left > 0 && !stopping(h) ?
				    wait_fd(h, &pfd, left) : 0;
			} while (r == -1 && errno == EINTR);
			sl = sizeof(e);
			if (stopping(h))
				e = EINTR;
			else if (r == 0)
				e = ETIMEDOUT;
			else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR,
			    &e, &sl) == -1)
				e = errno;
			if (e == 0)
				break;
		}
		close(fd);
		fd = -1;
		if (stopping(h))
			break;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		snprintf(h->why, sizeof(h->why), "connect to %s port %s: %s",
		    h->host, h->port, strerror(e));
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	h->fd = fd;
	h->got = 0;
	h->rlen = 0;
	if ((h->ssl = SSL_new(h->ctx)) == NULL || SSL_set_fd(h->ssl, fd) != 1)
		goto tls;
	if (h->verify && (h->numeric ?
	    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(h->ssl),
	    h->host) != 1 : SSL_set1_host(h->ssl, h->host) != 1))
		goto tls;
	/* "*.example.org" may name a host; "w*.example.org" may not. */
	SSL_set_hostflags(h->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (!h->numeric && SSL_set_tlsext_host_name(h->ssl, h->host) != 1)
		goto tls;
	ERR_clear_error();
	while ((r = SSL_connect(h->ssl)) != 1) {
		if (tls_wait(h, r, "TLS with", until) == -1) {
			conn_close(h);
			return -1;
		}
	}
	if (h->pins != NULL && !pin_ok(h)) {
		snprintf(h->why, sizeof(h->why), "TLS with %s: its public key "
		    "is not the pinned one", h->host);
		conn_close(h);
		return -1;
	}
	return 0;
tls:
	tls_why(h, "TLS with", 0);
	conn_close(h);
	return -1;
}

/*
 * A kept connection is usable while it has nothing to say: bytes the
 * server sent beyond its last reply, read already or not, would be
 * taken for the answer to the next request.
 */
static int
conn_idle(struct https *h)
{
	struct pollfd	pfd = { .fd = h->fd, .events = POLLIN };

	return h->rlen == 0 && SSL_pending(h->ssl) == 0 &&
	    poll(&pfd, 1, 0) == 0;
}

static void
keep_body(struct https_reply *r, const char *p, size_t n)
{
	size_t	m = n;

	if (m > HTTPS_BODY_MAX - r->body_len) {
		m = HTTPS_BODY_MAX - r->body_len;
		r->body_cut = 1;
	}
	memcpy(r->body + r->body_len, p, m);
	r->body_len += m;
	r->body[r->body_len] = '\0';
}

static void
drop(struct https *h, size_t n)
{
	memmove(h->rbuf, h->rbuf + n, h->rlen - n);
	h->rlen -= n;
}

/* The next header block into *hd; -1 on failure. */
static int
read_head(struct https *h, struct https_head *hd)
{
	char	*e;
	size_t	 n;
	int	 r;

	for (;;) {
		if ((e = memmem(h->rbuf, h->rlen, "\r\n\r\n", 4)) != NULL) {
			n = (size_t)(e - h->rbuf) + 4;
			if (https_head(h->rbuf, n, hd, h->why,
			    sizeof(h->why)) == -1)
				return -1;
			drop(h, n);
			return 0;
		}
		if ((r = tls_fill(h)) == 0)
			snprintf(h->why, sizeof(h->why), "%s closed the "
			    "connection before its reply was whole", h->host);
		if (r <= 0)
			return -1;
	}
}

/*
 * The head a server sends before the body of an Expect: 100-continue
 * request, if a whole one comes within EXPECT_WAIT_MS: 1 when it did,
 * 0 when it did not (the body is to be sent), -1 on failure.  Whatever
 * came of a head stays in rbuf for the next read_head().
 */
static int
read_early_head(struct https *h, struct https_head *hd)
{
	int64_t	 deadline = h->deadline, until = now_ms() + EXPECT_WAIT_MS;
	int	 rc;

	if (until < deadline)
		h->deadline = until;
	h->timedout = 0;
	rc = read_head(h, hd);
	h->deadline = deadline;
	if (rc == 0)
		return 1;
	/* Out of the short wait's time, not of the request's. */
	return h->timedout && now_ms() < deadline ? 0 : -1;
}

/* n bytes of body (all that comes if n is -1); -1 on failure. */
static int
read_body(struct https *h, struct https_reply *r, long long n,
    size_t *total)
{
	size_t	m;
	int	f;

	while (n != 0) {
		if (h->rlen == 0) {
			if ((f = tls_fill(h)) == 0 && n < 0)
				return 0;
			if (f == 0)
				snprintf(h->why, sizeof(h->why), "%s closed "
				    "the connection within its reply",
				    h->host);
			if (f <= 0)
				return -1;
		}
		m = n < 0 || (unsigned long long)n > h->rlen ? h->rlen :
		    (size_t)n;
		if ((*total += m) > REPLY_BODY_MAX) {
			snprintf(h->why, sizeof(h->why), "reply from %s: "
			    "body over %d bytes", h->host, REPLY_BODY_MAX);
			return -1;
		}
		keep_body(r, h->rbuf, m);
		drop(h, m);
		if (n > 0)
			n -= (long long)m;
	}
	return 0;
}

/* One CRLF-ended line of a chunked body, into line (NUL ended). */
static int
read_line(struct https *h, char *line, size_t len)
{
	char	*e;
	size_t	 n;
	int	 f;

	while ((e = memmem(h->rbuf, h->rlen, "\r\n", 2)) == NULL) {
		if (h->rlen >= len) {
			snprintf(h->why, sizeof(h->why), "reply from %s: "
			    "chunk line too long", h->host);
			return -1;
		}
		if ((f = tls_fill(h)) <= 0) {
			if (f == 0)
				snprintf(h->why, sizeof(h->why), "%s closed "
				    "the connection within its reply",
				    h->host);
			return -1;
		}
	}
	if ((n = (size_t)(e - h->rbuf)) >= len) {
		snprintf(h->why, sizeof(h->why), "reply from %s: chunk line "
		    "too long", h->host);
		return -1;
	}
	memcpy(line, h->rbuf, n);
	line[n] = '\0';
	drop(h, n + 2);
	return (int)n;
}

static int
read_chunked(struct https *h, struct https_reply *r, size_t *total)
{
	char		line[LINE_MAX_];
	uint64_t	size;
	int		n;

	for (;;) {
		if ((n = read_line(h, line, sizeof(line))) == -1)
			return -1;
		if (https_chunk_size(line, (size_t)n, &size) == -1) {
			snprintf(h->why, sizeof(h->why), "reply from %s: bad "
			    "chunk size", h->host);
			return -1;
		}
		if (size == 0)
			break;
		if (size > REPLY_BODY_MAX || read_body(h, r, (long long)size,
		    total) == -1) {
			if (size > REPLY_BODY_MAX)
				snprintf(h->why, sizeof(h->why), "reply from "
				    "%s: body over %d bytes", h->host,
				    REPLY_BODY_MAX);
			return -1;
		}
		if ((n = read_line(h, line, sizeof(line))) != 0) {
			if (n > 0)
				snprintf(h->why, sizeof(h->why), "reply from "
				    "%s: chunk longer than its size", h->host);
			return -1;
		}
	}
	/* Trailer fields, read and ignored, to the blank line. */
	while ((n = read_line(h, line, sizeof(line))) > 0)
		;
	return n;
}

/*
 * Send the request (with Expect: 100-continue when expect is set) and
 * read its reply.  *keep says whether the connection may carry the next
 * one.
 */
static int
exchange(struct https *h, const char *method, const char *path,
    const char *hdrs, const void *body, size_t len, int expect,
    struct https_reply *r, int *keep)
{
	struct https_head hd;
	char		*head;
	size_t		 hlen, total = 0;
	int		 send_body = 1, n, rc;

	*keep = 0;
	memset(&hd, 0, sizeof(hd));
	hlen = strlen(method) + strlen(h->base) + strlen(path) +
	    strlen(h->hosthdr) + strlen(h->agent) + strlen(hdrs) + 160;
	if ((head = malloc(hlen)) == NULL) {
		snprintf(h->why, sizeof(h->why), "out of memory");
		return -1;
	}
	n = snprintf(head, hlen, "%s %s%s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: %s\r\n%sContent-Length: %zu\r\n%s\r\n", method,
	    h->base, path, h->hosthdr, h->agent, hdrs, len,
	    expect ? "Expect: 100-continue\r\n" : "");
	rc = n > 0 && (size_t)n < hlen ? tls_write(h, head, (size_t)n) : -1;
	explicit_bzero(head, hlen);	/* it held the credentials */
	free(head);
	if (rc == -1)
		return -1;
	/*
	 * A refusal (credentials, a known batch) costs no body.  The wait
	 * for it is bounded as a whole, not only until something comes:
	 * that may be no head at all (a TLS 1.3 session ticket) from a
	 * server that will not send 100 Continue.
	 */
	if (expect) {
		if ((n = read_early_head(h, &hd)) == -1)
			return -1;
		if (n == 1 && hd.status >= 200)
			send_body = 0;
	}
	if (send_body && len > 0) {
		if (tls_write(h, body, len) == -1)
			return -1;
		r->sent = len;
	}
	if (send_body) {
		do {
			if (read_head(h, &hd) == -1)
				return -1;
		} while (hd.status >= 100 && hd.status < 200);
	}
	r->status = hd.status;
	r->retry_after = hd.retry_after;
	if (hd.status == 204 || hd.status == 304)
		rc = 0;
	else if (hd.chunked)
		rc = read_chunked(h, r, &total);
	else
		rc = read_body(h, r, hd.length, &total);
	/*
	 * Unsent body: the server may still be reading it.  Bytes past
	 * the reply's end (a body longer than its length, a second reply):
	 * the server and we disagree on where replies end.  Start anew.
	 */
	*keep = rc == 0 && send_body && hd.minor >= 1 && !hd.close &&
	    (hd.chunked || hd.length >= 0) && h->rlen == 0;
	return rc;
}

/* A request with len bytes of body has until then, in all. */
static void
request_deadline(struct https *h, size_t len)
{
	h->deadline = now_ms() + ((int64_t)CONNECT_S + h->timeout +
	    (int64_t)(len / LOW_SPEED)) * 1000;
}

int
https_request(struct https *h, const char *method, const char *path,
    const char *hdrs, const void *body, size_t len, struct https_reply *r,
    char *err, size_t errlen)
{
	int	attempt, reused, keep = 0, expect = len > EXPECT_MIN;

	memset(r, 0, sizeof(*r));
	request_deadline(h, len);
	for (attempt = 0; attempt < 2; attempt++) {
		reused = h->ssl != NULL;
		if (reused && !conn_idle(h)) {
			conn_close(h);
			reused = 0;
		}
		if (h->ssl == NULL && conn_open(h) == -1)
			break;
		h->got = 0;
		if (exchange(h, method, path, hdrs, body, len, expect, r,
		    &keep) == 0) {
			if (!keep)
				conn_close(h);
			if (r->status != 417 || !expect)
				return 0;
			/* The same request once more, without Expect. */
			expect = 0;
			memset(r, 0, sizeof(*r));
			request_deadline(h, len);
			attempt = -1;
			continue;
		}
		conn_close(h);
		/* A kept connection the server closed meanwhile: anew. */
		if (!reused || h->got || r->status != 0)
			break;
		memset(r, 0, sizeof(*r));
	}
	snprintf(err, errlen, "%s", h->why);
	return -1;
}

/* "https://HOST[:PORT][/PATH]", HOST a name, IPv4 or [IPv6]. */
static int
parse_url(struct https *h, const char *url, char *err, size_t errlen)
{
	const char	*p = url + 8, *e, *path;
	unsigned char	 a[16];
	size_t		 n;
	long		 port = 443;
	char		*end;

	if (strncmp(url, "https://", 8) != 0)
		goto bad;
	path = p + strcspn(p, "/?#");
	if (*p == '[') {
		if ((e = memchr(p, ']', (size_t)(path - p))) == NULL)
			goto bad;
		n = (size_t)(e - p - 1);
		if (n >= sizeof(h->host))
			goto bad;
		memcpy(h->host, p + 1, n);
		h->host[n] = '\0';
		if (inet_pton(AF_INET6, h->host, a) != 1)
			goto bad;
		e++;
	} else {
		e = p + strcspn(p, ":/?#");
		n = (size_t)(e - p);
		if (n == 0 || n >= sizeof(h->host) || strspn(p,
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789.-") < n)
			goto bad;
		memcpy(h->host, p, n);
		h->host[n] = '\0';
	}
	if (*e == ':') {
		errno = 0;
		port = strtol(e + 1, &end, 10);
		if (end != path || end == e + 1 || errno != 0 || port < 1 ||
		    port > 65535)
			goto bad;
	} else if (e != path)
		goto bad;
	if (*path != '\0' && *path != '/')
		goto bad;
	n = strlen(path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	if (strcspn(path, "?# \t\r\n") < n || (h->base = strndup(path, n)) ==
	    NULL)
		goto bad;
	snprintf(h->port, sizeof(h->port), "%ld", port);
	h->numeric = inet_pton(AF_INET, h->host, a) == 1 ||
	    inet_pton(AF_INET6, h->host, a) == 1;
	snprintf(h->hosthdr, sizeof(h->hosthdr), "%s%s%s%s%s",
	    strchr(h->host, ':') != NULL ? "[" : "", h->host,
	    strchr(h->host, ':') != NULL ? "]" : "", port == 443 ? "" : ":",
	    port == 443 ? "" : h->port);
	return 0;
bad:
	snprintf(err, errlen, "%s: not https://HOST[:PORT][/PATH]", url);
	return -1;
}

/*
 * A client for url, checking the server by ca_file (PEM; empty: the
 * system's CAs unless a pin is given) and pin ("sha256//B64[;...]";
 * empty: none).  timeout: s, the longest any one wait may last.
 */
struct https *
https_new(const char *url, const char *ca_file, const char *pin,
    const char *agent, int timeout, char *err, size_t errlen)
{
	struct https	*h;
	struct sigaction sa;
	const char	*ca, *why;

	/*
	 * A server gone away must make a write fail with EPIPE, not kill
	 * the process: OpenSSL writes with write(2), without MSG_NOSIGNAL.
	 */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		(void)sigaction(SIGPIPE, &sa, NULL);
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->fd = -1;
	h->timeout = timeout > 0 ? timeout : 60;
	snprintf(h->agent, sizeof(h->agent), "%s", agent);
	if (parse_url(h, url, err, errlen) == -1)
		goto fail;
	if (pin != NULL && pin[0] != '\0' && (h->pins = strdup(pin)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((h->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(h->ctx, TLS1_2_VERSION) != 1) {
		snprintf(err, errlen, "OpenSSL cannot start: %s",
		    ERR_reason_error_string(ERR_get_error()));
		goto fail;
	}
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* A body read to the close ends at a close without close_notify. */
	SSL_CTX_set_options(h->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	/* A pin alone stands for the whole check: a self-signed key. */
	h->verify = (ca_file != NULL && ca_file[0] != '\0') || h->pins == NULL;
	/*
	 * The CA file (ours, or the system's) is read now, whole: no file
	 * is opened once sandboxed.  One without a certificate fails here.
	 */
	if (h->verify) {
		if (ca_file != NULL && ca_file[0] != '\0')
			ca = ca_file;
		else if ((ca = getenv(X509_get_default_cert_file_env())) ==
		    NULL)
			ca = X509_get_default_cert_file();
		errno = 0;
		if (SSL_CTX_load_verify_locations(h->ctx, ca, NULL) != 1) {
			/* a file not opened: a system error, no reason */
			if ((why = ERR_reason_error_string(ERR_get_error())) ==
			    NULL)
				why = strerror(errno != 0 ? errno : EINVAL);
			snprintf(err, errlen, "%s %s: %s", ca == ca_file ?
			    "ca_file" : "the system's CAs,", ca, why);
			goto fail;
		}
	}
	SSL_CTX_set_verify(h->ctx, h->verify ? SSL_VERIFY_PEER :
	    SSL_VERIFY_NONE, NULL);
	ERR_clear_error();
	return h;
fail:
	https_free(h);
	return NULL;
}

/*
 * Once *stop is non-zero, any wait gives up and fails its request: the
 * caller's signal handler sets it to abandon a request under way.  With
 * waitmask, every wait is made under that signal mask (ppoll): a caller
 * that blocks its stop signal except there sees it at once, wherever it
 * lands.  NULL: plain poll(), as for a caller without such a signal.
 */
void
https_set_stop(struct https *h, volatile sig_atomic_t *stop,
    const sigset_t *waitmask)
{
	h->stop = stop;
	h->masked = waitmask != NULL;
	if (waitmask != NULL)
		h->waitmask = *waitmask;
}

void
https_free(struct https *h)
{
	if (h == NULL)
		return;
	conn_close(h);
	SSL_CTX_free(h->ctx);
	free(h->pins);
	free(h->base);
	free(h);
}
