/*
 * httpreply_test.c: unit tests of the reply parsers of the HTTPS client
 * (shipd/httpreply.c), run by shipd and vbsctl enroll: what a head and
 * a chunk-size line must give, and what must be refused because two
 * readers could disagree on where the body ends.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../shipd/https.h"

static int
head(const char *s, struct https_head *h)
{
	char	why[128];

	why[0] = '\0';
	if (https_head(s, strlen(s), h, why, sizeof(why)) == 0)
		return 0;
	assert_true(why[0] != '\0');
	return -1;
}

static void
test_head_ok(void **state)
{
	struct https_head	h;

	(void)state;
	assert_int_equal(head("HTTP/1.1 201 Created\r\nContent-Length: 17"
	    "\r\nX-Y:z\r\n\r\n", &h), 0);
	assert_int_equal(h.status, 201);
	assert_int_equal(h.minor, 1);
	assert_int_equal(h.length, 17);
	assert_false(h.chunked);
	assert_false(h.close);
	assert_int_equal(head("HTTP/1.1 503 Busy\r\nretry-after:  30 \r\n"
	    "Connection: keep-alive, Close\r\ntransfer-encoding: Chunked\r\n"
	    "\r\n", &h), 0);
	assert_int_equal(h.status, 503);
	assert_int_equal(h.retry_after, 30);
	assert_true(h.close);
	assert_true(h.chunked);
	assert_int_equal(h.length, -1);
	/* A date in Retry-After is legal; we wait our own back-off. */
	assert_int_equal(head("HTTP/1.0 429 Slow\r\nRetry-After: Wed, 21 Oct "
	    "2015 07:28:00 GMT\r\n\r\n", &h), 0);
	assert_int_equal(h.retry_after, 0);
	assert_int_equal(h.minor, 0);
	assert_int_equal(head("HTTP/1.1 100\r\n\r\n", &h), 0);
	assert_int_equal(h.status, 100);
	/* The same length twice is one length. */
	assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "Content-Length: 5\r\n\r\n", &h), 0);
	assert_int_equal(h.length, 5);
	/* The largest length taken: 10^15. */
	assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: "
	    "1000000000000000\r\n\r\n", &h), 0);
	assert_int_equal(h.length, 1000000000000000LL);
}

static void
test_head_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"HTTP/1.1 200 OK\r\n",			/* no blank line */
		"HTTP/1.1 200 OK\r\n\r\nX",		/* past it */
		"HTTP/2 200\r\n\r\n",
		"HTTP/1.1 99 Low\r\n\r\n",
		"HTTP/1.1 600 High\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n",	/* bare LF */
		"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",	/* bare CR */
		"HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n",	/* folded */
		"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad name: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2"
		    "\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n"
		    "\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000009\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
	};
	struct https_head	h;
	size_t			i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (head(bad[i], &h) != -1)
			fail_msg("accepted: %s", bad[i]);
	/* A NUL inside. */
	assert_int_equal(https_head("HTTP/1.1 200 OK\r\nA: \0\r\n\r\n", 25,
	    &h, (char [64]){ 0 }, 64), -1);
}

static void
test_chunk_size(void **state)
{
	uint64_t	n;

	(void)state;
	assert_int_equal(https_chunk_size("1a", 2, &n), 0);
	assert_int_equal(n, 26);
	assert_int_equal(https_chunk_size("FF ;name=v", 10, &n), 0);
	assert_int_equal(n, 255);
	assert_int_equal(https_chunk_size("0", 1, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(https_chunk_size("", 0, &n), -1);
	assert_int_equal(https_chunk_size("-1", 2, &n), -1);
	assert_int_equal(https_chunk_size("1g", 2, &n), -1);
	assert_int_equal(https_chunk_size("1;a\r", 4, &n), -1);
	assert_int_equal(https_chunk_size("1000000000000", 13, &n), -1);
	assert_int_equal(https_chunk_size("100000000000", 12, &n), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_ok),
		cmocka_unit_test(test_head_refused),
		cmocka_unit_test(test_chunk_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
