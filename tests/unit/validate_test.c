/*
 * validate_test.c: unit tests of what ingestd (ingestd/validate.c)
 * makes of a batch it could not read in time.  The receiver's look at
 * an upload's meta (batch_meta) and the loader's validation
 * (validate_batch) each run under a deadline; running out of it is the
 * server's state, not a verdict on the batch, so it must come back as
 * "late" (the receiver answers 503, the loader tries again later),
 * never as a refusal (422, quarantine).  A deadline of 0 s is passed at
 * SQLite's first look at the clock, which a file of 100,000 rows is
 * sure to reach; the same file with time enough gets its real verdict.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../ingestd/ingestd.h"

#define ROWS	100000

static char	path[64];

/*
 * A file whose meta is a table of ROWS rows, with no index: finding
 * batch_id "b1" and client_id "c" in it reads every row.
 */
static int
setup(void **state)
{
	sqlite3	*db;
	int	 fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/vbs-validate-test.XXXXXX");
	if ((fd = mkstemp(path)) == -1)
		return -1;
	close(fd);
	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	if (sqlite3_exec(db, "CREATE TABLE meta (key TEXT, value TEXT);"
	    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r "
	    "LIMIT 100000) INSERT INTO meta SELECT 'k' || n, 'v' FROM r;"
	    "INSERT INTO meta VALUES ('batch_id', 'b1'), ('client_id', 'c');",
	    NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	return sqlite3_close(db) == SQLITE_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

/* The receiver: out of time is META_LATE (503), not META_BAD (422). */
static void
test_meta_late(void **state)
{
	char	 why[REASON_MAX];

	(void)state;
	why[0] = '\0';
	assert_int_equal(batch_meta(path, 0, "b1", "c", why, sizeof(why)),
	    META_LATE);
	print_message("deadline 0 s: %s\n", why);
	assert_non_null(strstr(why, "within 0 s"));

	/* With time enough, the verdicts of before. */
	assert_int_equal(batch_meta(path, 10, "b1", "c", why, sizeof(why)),
	    META_OK);
	assert_int_equal(batch_meta(path, 10, "b2", "c", why, sizeof(why)),
	    META_BAD);
	assert_non_null(strstr(why, "not the URL's b2"));
	assert_int_equal(batch_meta(path, 10, "b1", "d", why, sizeof(why)),
	    META_FOREIGN);
}

/* The loader: out of time is VALIDATE_LATE, not a refusal (-1). */
static void
test_validate_late(void **state)
{
	struct batch	*b;
	char		 reason[REASON_MAX];

	(void)state;
	assert_non_null(b = malloc(sizeof(*b)));
	reason[0] = '\0';
	assert_int_equal(validate_batch(b, path, "c", 1 << 30, 0, reason,
	    sizeof(reason)), VALIDATE_LATE);
	print_message("deadline 0 s: %s\n", reason);
	assert_non_null(strstr(reason, "ran out of time"));

	/* With time enough it is refused for what it is. */
	assert_int_equal(validate_batch(b, path, "c", 1 << 30, 10, reason,
	    sizeof(reason)), -1);
	print_message("deadline 10 s: %s\n", reason);
	assert_null(strstr(reason, "ran out of time"));
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta_late),
		cmocka_unit_test(test_validate_late),
	};

	validate_quiet();
	return cmocka_run_group_tests(tests, setup, teardown);
}
