/*
 * sockd_test.c: unit tests of sockd's own parts that need no kernel:
 * the 64-bit key map (hash.c) and the look-up parser of -q (query.c).
 * The table functions query.c calls are stubbed here.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <netinet/in.h>

#include "../../sockd/sockd.h"

struct sockd_stats stats;

/* query.c's callees, not under test. */
void
table_lookup(const struct lookup_rec *q, struct answer_rec *a)
{
	(void)q;
	memset(a, 0, sizeof(*a));
}

void
table_dump(int snapshot)
{
	(void)snapshot;
}

size_t
table_count(void)
{
	return 0;
}

static int
drop_odd(uint64_t key, void *val, void *arg)
{
	(void)val;
	(*(int *)arg)++;
	return key & 1;
}

static void
test_hmap(void **state)
{
	struct hmap	h;
	uint64_t	k;
	int		visited = 0;

	(void)state;
	hmap_init(&h);
	/* Dense keys (inodes), sparse keys (cookies), and growth. */
	for (k = 1; k <= 5000; k++)
		assert_int_equal(hmap_put(&h, k, (void *)(uintptr_t)(k + 1)), 1);
	for (k = 1; k <= 100; k++)
		assert_int_equal(hmap_put(&h, k << 40, (void *)(uintptr_t)k), 1);
	assert_int_equal(h.n, 5100);
	assert_int_equal(hmap_put(&h, 7, (void *)(uintptr_t)70), 0);
	assert_int_equal((uintptr_t)hmap_get(&h, 7), 70);
	assert_int_equal((uintptr_t)hmap_get(&h, 4999), 5000);
	assert_int_equal((uintptr_t)hmap_get(&h, 3ULL << 40), 3);
	assert_null(hmap_get(&h, 5001));
	assert_int_equal((uintptr_t)hmap_del(&h, 4999), 5000);
	assert_null(hmap_get(&h, 4999));
	assert_null(hmap_del(&h, 4999));
	hmap_walk(&h, drop_odd, &visited);
	assert_int_equal(visited, 5099);
	assert_null(hmap_get(&h, 1));
	assert_non_null(hmap_get(&h, 2));
	assert_int_equal(h.n, 2500 + 100);	/* the even keys */
	hmap_free(&h);
}

static void
test_query_parse(void **state)
{
	struct lookup_rec	q;
	char			err[128];

	(void)state;
	assert_int_equal(query_parse("tcp 198.18.2.2:40000 198.18.2.1:80",
	    &q, err, sizeof(err)), 0);
	assert_int_equal(q.proto, IPPROTO_TCP);
	assert_int_equal(q.ipver, 4);
	assert_int_equal(q.lport, 40000);
	assert_int_equal(q.rport, 80);
	assert_memory_equal(q.laddr, "\xc6\x12\x02\x02", 4);
	assert_memory_equal(q.raddr, "\xc6\x12\x02\x01", 4);

	assert_int_equal(query_parse("udp [fd00:2::1]:53", &q, err,
	    sizeof(err)), 0);
	assert_int_equal(q.proto, IPPROTO_UDP);
	assert_int_equal(q.ipver, 6);
	assert_int_equal(q.lport, 53);
	assert_int_equal(q.rport, 0);
	assert_int_equal(q.laddr[0], 0xfd);
	assert_int_equal(q.laddr[15], 1);

	/* Refused, with a reason. */
	assert_int_equal(query_parse("tcp 198.18.2.2:1", &q, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "remote"));
	assert_int_equal(query_parse("sctp 198.18.2.2:1 198.18.2.1:2", &q,
	    err, sizeof(err)), -1);
	assert_int_equal(query_parse("tcp 198.18.2.2:65536 198.18.2.1:2", &q,
	    err, sizeof(err)), -1);
	assert_int_equal(query_parse("tcp 198.18.2.2:1 [fd00:2::1]:2", &q,
	    err, sizeof(err)), -1);
	assert_int_equal(query_parse("tcp fd00:2::1:1 198.18.2.1:2", &q,
	    err, sizeof(err)), -1);
	assert_int_equal(query_parse("udp 198.18.2.2:x", &q, err,
	    sizeof(err)), -1);
	assert_int_equal(query_parse("udp 198.18.2.2:1 198.18.2.1:2 extra", &q,
	    err, sizeof(err)), -1);
	assert_int_equal(query_parse("", &q, err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hmap),
		cmocka_unit_test(test_query_parse),
	};

	return cmocka_run_group_tests_name("sockd", tests, NULL, NULL);
}
