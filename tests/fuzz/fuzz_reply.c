/*
 * fuzz_reply.c: libFuzzer target for the parsers of a server's reply
 * (shipd/httpreply.c), which shipd and vbsctl enroll run on what the
 * server sends once TLS has verified it.  The input is tried as a
 * header block and as a chunk-size line.  Each parser must answer yes
 * or no, never crash, give a reason when it says no, and accept
 * nothing it cannot stand by: a status outside 100-599, a negative or
 * huge length, a length beside chunked, a chunk over 2^48 bytes.
 */

#include <stdint.h>
#include <stdlib.h>

#include "../../shipd/https.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct https_head	 h;
	char			 why[128];
	uint64_t		 n;

	why[0] = '\0';
	if (https_head((const char *)data, size, &h, why, sizeof(why)) == 0) {
		if (h.status < 100 || h.status > 599 || h.length < -1 ||
		    h.length > 1000000000000000LL || h.retry_after < 0 ||
		    h.retry_after > 86400 || (h.chunked && h.length != -1) ||
		    h.minor < 0 || h.minor > 9)
			abort();
	} else if (why[0] == '\0')
		abort();
	if (https_chunk_size((const char *)data, size, &n) == 0 &&
	    n >= (1ULL << 48))
		abort();
	return 0;
}
