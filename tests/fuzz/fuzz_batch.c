/*
 * fuzz_batch.c: libFuzzer target for ingestd's batch validator
 * (ingestd/validate.c).  An uploaded batch is an arbitrary file from the
 * network; the validator hands it to SQLite only in defensive mode and
 * then reads every row.  Here any bytes are written to a temporary file
 * and validated as ingestd does after a claim: it must refuse or accept,
 * never crash, and an accepted batch must have its ids.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "../../ingestd/ingestd.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct batch	*b;
	static char		 path[64];
	char			 reason[REASON_MAX];
	FILE			*fp;

	if (b == NULL) {
		int fd;

		if ((b = malloc(sizeof(*b))) == NULL)
			abort();
		snprintf(path, sizeof(path), "/tmp/fuzz_batch.XXXXXX");
		if ((fd = mkstemp(path)) == -1)
			abort();
		close(fd);
		validate_quiet();
	}
	if ((fp = fopen(path, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, fp) != size)
		abort();
	fclose(fp);
	if (validate_batch(b, path, "fuzz", 1 << 20, VALIDATE_SECONDS, reason,
	    sizeof(reason)) == 0) {
		if (b->batch_id[0] == '\0' || b->client_id[0] == '\0')
			abort();
		batch_close(b);
	} else if (reason[0] == '\0')
		abort();
	return 0;
}
