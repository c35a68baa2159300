/*
 * record_test.c: recordings (proto/record.c) and the merge reader
 * (proto/merge.c).  A recording reads back as written; a damaged one
 * (bad magic, unknown format, length out of range, cut mid-frame) is
 * refused with the file and offset named, after every good message;
 * several recordings merge in timestamp order, ties to the first named.
 * Also the bounded output queue (proto/outq.c) over a real socketpair.
 */

#include <sys/socket.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto.h"

static char	dir[64];

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/vbs-record-test.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *
path(const char *name)
{
	static char	p[4][128];
	static int	i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

/* Write a recording of packet messages with the given timestamps. */
static void
write_rec(const char *file, const uint64_t *ts, int n, int per_msg)
{
	struct rec_writer	w;
	struct msg_builder	b;
	struct vbs_rec		r;
	int			i;

	assert_int_equal(msg_init(&b), 0);
	assert_int_equal(rec_create(&w, file), 0);
	memset(&r, 0, sizeof(r));
	r.type = MSG_PACKETS;
	r.u.pkt.ipver = 4;
	for (i = 0; i < n; i++) {
		if (i % per_msg == 0)
			msg_start(&b, MSG_PACKETS);
		r.u.pkt.ts_us = ts[i];
		r.u.pkt.sport = (uint16_t)i;
		assert_int_equal(msg_add(&b, &r), 0);
		if (i % per_msg == per_msg - 1 || i == n - 1) {
			msg_finish(&b);
			assert_int_equal(rec_write(&w, b.buf, b.len), 0);
		}
	}
	assert_int_equal(rec_close(&w), 0);
	msg_free(&b);
}

static void
test_roundtrip(void **state)
{
	struct rec_reader	 rd;
	const uint8_t		*msg;
	size_t			 len;
	uint64_t		 ts[10];
	int			 i, n = 0;

	(void)state;
	for (i = 0; i < 10; i++)
		ts[i] = 1000 + (uint64_t)i;
	write_rec(path("a.rec"), ts, 10, 3);
	assert_int_equal(rec_open(&rd, path("a.rec")), 0);
	while (rec_read(&rd, &msg, &len) == 1)
		n++;
	assert_int_equal(n, 4);
	rec_close_reader(&rd);
}

static void
write_bytes(const char *file, const void *p, size_t n)
{
	FILE	*fp = fopen(file, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	fclose(fp);
}

static void
test_damaged(void **state)
{
	struct rec_reader	 rd;
	const uint8_t		*msg;
	size_t			 len;
	uint64_t		 ts[6] = { 1, 2, 3, 4, 5, 6 };
	uint8_t			 buf[4096];
	FILE			*fp;
	size_t			 n;
	int			 good = 0;

	(void)state;
	write_bytes(path("empty.rec"), "", 0);
	assert_int_equal(rec_open(&rd, path("empty.rec")), -1);
	assert_non_null(strstr(rd.err, "empty.rec: offset 0: not a VBS "
	    "recording: 0-byte file"));
	rec_close_reader(&rd);

	write_bytes(path("magic.rec"), "GARBAGEGARBAGE!!", 16);
	assert_int_equal(rec_open(&rd, path("magic.rec")), -1);
	assert_non_null(strstr(rd.err, "bad magic"));
	rec_close_reader(&rd);

	memcpy(buf, REC_MAGIC, 8);
	memcpy(buf + 8, "\0\0\0\x09\0\0\0\0", 8);
	write_bytes(path("format.rec"), buf, 16);
	assert_int_equal(rec_open(&rd, path("format.rec")), -1);
	assert_non_null(strstr(rd.err, "recording format 9, this reads 1"));
	rec_close_reader(&rd);

	/* Cut the last frame short: the good messages come first. */
	write_rec(path("cut.rec"), ts, 6, 2);
	fp = fopen(path("cut.rec"), "r");
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	write_bytes(path("cut.rec"), buf, n - 5);
	assert_int_equal(rec_open(&rd, path("cut.rec")), 0);
	while (rec_read(&rd, &msg, &len) == 1)
		good++;
	assert_int_equal(good, 2);
	assert_int_equal(rec_read(&rd, &msg, &len), -1);
	assert_non_null(strstr(rd.err, "truncated message"));
	rec_close_reader(&rd);

	/* A frame length past the limit. */
	memcpy(buf + 16, "\x7f\xff\xff\xff", 4);
	write_bytes(path("len.rec"), buf, 40);
	assert_int_equal(rec_open(&rd, path("len.rec")), 0);
	assert_int_equal(rec_read(&rd, &msg, &len), -1);
	assert_non_null(strstr(rd.err, "offset 16: message length 2147483647 "
	    "out of range"));
	rec_close_reader(&rd);
}

static void
test_merge_order(void **state)
{
	uint64_t		 a[5] = { 10, 20, 30, 40, 50 };
	uint64_t		 b[4] = { 5, 20, 35, 60 };
	uint64_t		 want_ts[9] = { 5, 10, 20, 20, 30, 35, 40, 50, 60 };
	int			 want_src[9] = { 1, 0, 0, 1, 0, 1, 0, 0, 1 };
	char			*paths[2];
	char			 err[256];
	struct rec_merge	*m;
	struct vbs_rec		*r = malloc(sizeof(*r));
	int			 i = 0, which;

	(void)state;
	write_rec(path("a.rec"), a, 5, 2);
	write_rec(path("b.rec"), b, 4, 3);
	paths[0] = path("a.rec");
	paths[1] = path("b.rec");
	m = merge_open(paths, 2, err, sizeof(err));
	assert_non_null(m);
	while (merge_next(m, r, &which) == 1) {
		assert_true(i < 9);
		assert_int_equal(r->u.pkt.ts_us, want_ts[i]);
		assert_int_equal(which, want_src[i]);
		i++;
	}
	assert_int_equal(i, 9);
	merge_close(m);
	free(r);
}

static void
test_merge_damaged(void **state)
{
	uint64_t		 a[4] = { 1, 2, 3, 4 };
	char			*paths[2];
	char			 err[256];
	struct rec_merge	*m;
	struct vbs_rec		*r = malloc(sizeof(*r));
	uint8_t			 buf[4096];
	FILE			*fp;
	size_t			 n;
	int			 good = 0, rc;

	(void)state;
	write_rec(path("good.rec"), a, 4, 1);
	write_rec(path("bad.rec"), a, 4, 1);
	/* Flip the type byte of the third message of bad.rec to 99. */
	fp = fopen(path("bad.rec"), "r");
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	{
		size_t off = 16, k;

		for (k = 0; k < 2; k++)
			off += 4 + ((size_t)buf[off + 2] << 8 | buf[off + 3]);
		buf[off + 4 + 5] = 99;
		write_bytes(path("bad.rec"), buf, n);
	}
	paths[0] = path("good.rec");
	paths[1] = path("bad.rec");
	m = merge_open(paths, 2, err, sizeof(err));
	assert_non_null(m);
	while ((rc = merge_next(m, r, NULL)) == 1)
		good++;
	assert_int_equal(rc, -1);
	/* good.rec's 1, 2, 3 and bad.rec's 1, 2 came out before the stop. */
	assert_true(good >= 4);
	if (strstr(merge_error(m), "bad.rec: message at offset") == NULL ||
	    strstr(merge_error(m), "unknown message type 99") == NULL)
		fail_msg("error: %s", merge_error(m));
	merge_close(m);

	paths[1] = path("missing.rec");
	assert_null(merge_open(paths, 2, err, sizeof(err)));
	assert_non_null(strstr(err, "missing.rec: No such file"));
	free(r);
}

static void
test_outq(void **state)
{
	struct outq	*q;
	int		 sv[2], i;
	uint8_t		 msg[1000], got[2000];
	ssize_t		 n;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(wire_nonblock(sv[0]), 0);
	q = outq_new(10 * sizeof(msg));
	for (i = 0; i < 12; i++) {
		memset(msg, i, sizeof(msg));
		assert_int_equal(outq_push(q, msg, sizeof(msg), 5),
		    i < 10 ? 0 : -1);
	}
	assert_int_equal(outq_dropped_messages(q), 2);
	assert_int_equal(outq_dropped_records(q), 10);
	assert_int_equal(outq_flush(q, sv[0]), 10);
	assert_int_equal(outq_bytes(q), 0);
	for (i = 0; i < 10; i++) {
		n = wire_recv(sv[1], got, sizeof(got));
		assert_int_equal(n, sizeof(msg));
		assert_int_equal(got[0], i);	/* in order */
	}
	/* A message larger than the reader's buffer is an error, not cut. */
	assert_int_equal(wire_send(sv[0], got, sizeof(got)), sizeof(got));
	assert_int_equal(wire_recv(sv[1], msg, 10), -1);
	assert_int_equal(errno, EMSGSIZE);
	/* The reader gone: flush says so and keeps the queue. */
	close(sv[1]);
	outq_push(q, msg, 10, 1);
	assert_int_equal(outq_flush(q, sv[0]), -1);
	assert_int_equal(outq_bytes(q), 10);
	close(sv[0]);
	outq_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_merge_order),
		cmocka_unit_test(test_merge_damaged),
		cmocka_unit_test(test_outq),
	};

	return cmocka_run_group_tests_name("record", tests, setup, teardown);
}
