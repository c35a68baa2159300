/*
 * fuzz_http.c: libFuzzer target for the parsers of ingestd's receiver
 * (ingestd/httpparse.c), which see a client's bytes before anything is
 * authenticated: the batch id of the URL, the X-VBS-SHA256 header, the
 * bearer token, and the listen address and durations people type.  Each
 * must answer yes or no and never crash; an id it accepts must be
 * unable to name a path.
 */

#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../ingestd/receive.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			*s, tok[HTTP_TOKEN_MAX + 1];
	const char		*id;
	uint8_t			 h[32];
	long long		 secs;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (http_batch_id_ok(s) &&
	    (strlen(s) > HTTP_BATCH_ID_MAX || strpbrk(s, "./\\%") != NULL ||
	    s[0] == '-'))
		abort();
	if (http_client_ok(s) && strlen(s) > HTTP_CLIENT_MAX)
		abort();
	if ((id = http_batch_path(s, "/v1/batches/")) != NULL)
		(void)http_batch_id_ok(id);
	(void)http_hex256(s, h);
	if (http_bearer(s, tok, sizeof(tok)) == 0 && strlen(tok) == 0)
		abort();
	(void)http_listen(s, &ss, &sslen);
	if (http_duration(s, &secs) == 0 && secs <= 0)
		abort();
	free(s);
	return 0;
}
