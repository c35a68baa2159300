/*
 * httpparse.c: the small parsers of what a client sends to ingestd's
 * receiver: the batch id in the URL, the SHA-256 header, a bearer
 * token; and of two things a person types (the listen address, a
 * duration).  Runs in the receiver, before anything is authenticated,
 * so every input is hostile: each function checks lengths and
 * characters and answers yes or no, never half.  Fuzzed by
 * tests/fuzz/fuzz_http.c.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto.h"
#include "receive.h"

static int
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/*
 * A batch id: [A-Za-z0-9][A-Za-z0-9_-]*, at most HTTP_BATCH_ID_MAX.
 * No '.', '/', '%' or anything else: an id can never name a path
 * ("../x"), hide a file, or read differently once unescaped.
 */
int
http_batch_id_ok(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= HTTP_BATCH_ID_MAX)
			return 0;
		if (!is_alnum(s[i]) && (i == 0 || (s[i] != '-' && s[i] != '_')))
			return 0;
	}
	return i > 0;
}

/* A client id, as enrolment makes them and the spool names carry. */
int
http_client_ok(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= HTTP_CLIENT_MAX)
			return 0;
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_')
			return 0;
	}
	return i > 0;
}

/* The id in "/v1/batches/ID", or NULL when url is not that shape. */
const char *
http_batch_path(const char *url, const char *prefix)
{
	size_t	 n = strlen(prefix);

	if (strncmp(url, prefix, n) != 0)
		return NULL;
	return url + n;
}

/* Exactly 64 hex digits, either case, into 32 bytes. */
int
http_hex256(const char *s, uint8_t out[32])
{
	int	 i, hi, lo;

	if (s == NULL || strlen(s) != 64)
		return -1;
	for (i = 0; i < 32; i++) {
		if ((hi = hex_digit(s[2 * i])) < 0 ||
		    (lo = hex_digit(s[2 * i + 1])) < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* "Bearer TOKEN" with TOKEN of [A-Za-z0-9_-], shorter than len. */
int
http_bearer(const char *h, char *tok, size_t len)
{
	size_t	 i;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return -1;
	h += 7;
	while (*h == ' ')
		h++;
	for (i = 0; h[i] != '\0'; i++) {
		if (i + 1 >= len || i >= HTTP_TOKEN_MAX)
			return -1;
		if (!is_alnum(h[i]) && h[i] != '-' && h[i] != '_')
			return -1;
		tok[i] = h[i];
	}
	if (i == 0)
		return -1;
	tok[i] = '\0';
	return 0;
}

/* "ADDR:PORT", "[ADDR6]:PORT" or "*:PORT" (every IPv6 and IPv4 address). */
int
http_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sslen)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 host[64];
	const char		*colon, *h;
	size_t			 n;
	char			*end;
	long			 port;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		if ((colon = strstr(s, "]:")) == NULL)
			return -1;
		h = s + 1;
		n = (size_t)(colon - h);
		colon++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		h = s;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 0 ||
	    port > 65535)
		return -1;
	if (strcmp(host, "*") == 0) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*sin6);
	} else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*sin6);
	} else
		return -1;
	return 0;
}

/* "N" seconds, or N with s, m, h, d; positive, at most 10 years. */
int
http_duration(const char *s, long long *secs)
{
	char		*end;
	long long	 n, mult = 1;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || n <= 0)
		return -1;
	if (strcmp(end, "d") == 0)
		mult = 86400;
	else if (strcmp(end, "h") == 0)
		mult = 3600;
	else if (strcmp(end, "m") == 0)
		mult = 60;
	else if (strcmp(end, "s") != 0 && *end != '\0')
		return -1;
	if (n > 10LL * 366 * 86400 / mult)
		return -1;
	*secs = n * mult;
	return 0;
}
