/*
 * fuzz_record.c: libFuzzer target for the recording reader
 * (proto/record.c) and the decoding of every message in it, as flowd -r
 * and vbsctl dump do with files a tester hands them.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vbs_rec	*r;
	struct rec_reader	 rd;
	struct msg_reader	 m;
	const uint8_t		*msg;
	size_t			 len;
	FILE			*fp;

	if (r == NULL && (r = malloc(sizeof(*r))) == NULL)
		abort();
	if (size == 0 || (fp = fmemopen((void *)(uintptr_t)data, size,
	    "r")) == NULL)
		return 0;
	if (rec_open_fp(&rd, fp, "fuzz") == 0) {
		while (rec_read(&rd, &msg, &len) == 1) {
			if (len == 0 || len > VBS_MSG_MAX)
				abort();
			if (msg_open(&m, msg, len) == 0)
				while (msg_next(&m, r) == 1)
					;
		}
	}
	rec_close_reader(&rd);
	return 0;
}
