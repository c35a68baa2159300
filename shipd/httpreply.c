/*
 * httpreply.c: the parsers of a server's HTTP/1.1 reply, for the HTTPS
 * client of https.c (run by shipd and by vbsctl enroll).  The server is
 * trusted only once TLS has verified it, and even then its bytes are
 * outside input: these functions take a buffer, say yes or no with a
 * reason, and keep nothing.  The fuzz target fuzz_reply feeds them.
 *
 * Only what the client acts on is read: the status, Content-Length,
 * Transfer-Encoding (chunked or none), Connection: close and a
 * Retry-After in seconds.  Anything that could make two readers
 * disagree on where the body ends is refused: folded lines, bare LF,
 * two different lengths, a transfer coding other than chunked.
 */

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "https.h"

#define LENGTH_MAX	1000000000000000LL	/* 10^15: digits, not overflow */

static int
is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* v (vlen bytes) has the comma-separated token tok, any case. */
static int
has_token(const char *v, size_t vlen, const char *tok)
{
	size_t	i = 0, s, e, tlen = strlen(tok);

	while (i < vlen) {
		while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < vlen && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tlen && strncasecmp(v + s, tok, tlen) == 0)
			return 1;
	}
	return 0;
}

/* Decimal digits only, at most LENGTH_MAX; -1 otherwise. */
static long long
digits(const char *v, size_t vlen)
{
	long long	n = 0;
	size_t		i;

	if (vlen == 0)
		return -1;
	for (i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9' || n > LENGTH_MAX / 10)
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	return n <= LENGTH_MAX ? n : -1;
}

/*
 * One header block: status line, headers, and the blank line that ends
 * them, len bytes from p.  0 and *h filled, or -1 and why.
 */
int
https_head(const char *p, size_t len, struct https_head *h, char *why,
    size_t wlen)
{
	const char	*line, *end = p + len, *eol, *colon, *v;
	size_t		 nlen, vlen;
	long long	 n;
	int		 lineno = 1;

	memset(h, 0, sizeof(*h));
	h->length = -1;
	if (len < 4 || memcmp(end - 4, "\r\n\r\n", 4) != 0 ||
	    memchr(p, '\0', len) != NULL) {
		snprintf(why, wlen, "reply head not ended by a blank line");
		return -1;
	}
	if (len < 14 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' ||
	    p[7] > '9' || p[8] != ' ' || p[9] < '1' || p[9] > '5' ||
	    p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' ||
	    (p[12] != ' ' && p[12] != '\r')) {
		snprintf(why, wlen, "reply status line is not HTTP/1.x NNN");
		return -1;
	}
	h->minor = p[7] - '0';
	h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	for (line = p; ; line = eol + 2, lineno++) {
		eol = line;
		while (eol < end - 1 && !(eol[0] == '\r' && eol[1] == '\n')) {
			if (*eol == '\r' || *eol == '\n')
				goto bad;
			eol++;
		}
		if (eol >= end - 1)
			goto bad;
		if (eol == line)
			break;			/* the blank line */
		if (line == p)
			continue;		/* the status line */
		if ((colon = memchr(line, ':', (size_t)(eol - line))) == NULL)
			goto bad;
		for (v = line; v < colon; v++)
			if (!is_tchar(*v))
				goto bad;
		nlen = (size_t)(colon - line);
		if (nlen == 0)
			goto bad;
		v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		vlen = (size_t)(eol - v);
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if (nlen == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
			if ((n = digits(v, vlen)) < 0 ||
			    (h->length >= 0 && h->length != n)) {
				snprintf(why, wlen, "reply Content-Length "
				    "invalid or given twice");
				return -1;
			}
			h->length = n;
		} else if (nlen == 17 &&
		    strncasecmp(line, "Transfer-Encoding", 17) == 0) {
			/* chunked alone: we decode no other coding */
			if (vlen != 7 || strncasecmp(v, "chunked", 7) != 0 ||
			    h->chunked) {
				snprintf(why, wlen, "reply transfer coding "
				    "other than chunked");
				return -1;
			}
			h->chunked = 1;
		} else if (nlen == 10 &&
		    strncasecmp(line, "Connection", 10) == 0) {
			if (has_token(v, vlen, "close"))
				h->close = 1;
		} else if (nlen == 11 &&
		    strncasecmp(line, "Retry-After", 11) == 0) {
			/* An HTTP date is possible; seconds are what we use. */
			if ((n = digits(v, vlen)) >= 0)
				h->retry_after = n > 86400 ? 86400 : (long)n;
		}
	}
	if (line + 2 != end)
		goto bad;
	if (h->chunked)
		h->length = -1;		/* RFC 9112 6.3: chunked wins */
	return 0;
bad:
	snprintf(why, wlen, "reply header line %d malformed", lineno);
	return -1;
}

/*
 * The size of a chunk from its line (without the CRLF): hex digits,
 * then nothing or extensions after ';'.  0 or -1.
 */
int
https_chunk_size(const char *p, size_t len, uint64_t *size)
{
	size_t	i;
	int	d;

	*size = 0;
	for (i = 0; i < len; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			d = p[i] - '0';
		else if (p[i] >= 'a' && p[i] <= 'f')
			d = p[i] - 'a' + 10;
		else if (p[i] >= 'A' && p[i] <= 'F')
			d = p[i] - 'A' + 10;
		else
			break;
		if (i >= 12)
			return -1;		/* over 2^48: not a reply */
		*size = *size * 16 + (uint64_t)d;
	}
	if (i == 0)
		return -1;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i < len && p[i] != ';')
		return -1;
	for (; i < len; i++)
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
			return -1;
	return 0;
}
