/*
 * fuzz_decode.c: libFuzzer driver for capd's packet decoder.  The first
 * byte picks the link type, the next two add to the wire length, the
 * rest is the captured frame.  The decoder's fragment table lives
 * across inputs, so sequences of fragments are exercised too.
 */

#include <pcap/dlt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../capd/capd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const int dlts[] = {
	DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, 101, DLT_IPV4,
	DLT_IPV6, DLT_NULL, DLT_LOOP, DLT_PPP, DLT_PPP_SERIAL, DLT_PPP_ETHER,
	DLT_C_HDLC, DLT_PPI, 147
};

static struct decoder dec;
static uint64_t ts;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt_rec r;
	uint8_t *copy;
	uint32_t caplen, wirelen;
	int dlt, rc;

	if (size < 3 || size > 65535 + 3)
		return 0;
	dlt = dlts[data[0] % (sizeof(dlts) / sizeof(dlts[0]))];
	caplen = (uint32_t)(size - 3);
	wirelen = caplen + (uint32_t)((data[1] << 8) | data[2]);
	/* an exact-size copy, so ASan sees any read past caplen */
	copy = malloc(caplen ? caplen : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data + 3, caplen);
	r.ts_us = ++ts * 1000;
	r.iface = 0;
	rc = decode_packet(&dec, dlt, copy, caplen, wirelen, &r);
	if (rc < 0 || rc >= DEC__MAX)
		abort();
	if (rc == DEC_OK && r.ipver != 4 && r.ipver != 6)
		abort();
	if (rc == DEC_OK && r.ipver == 6 && r.iplen < 40)
		abort();
	free(copy);
	return 0;
}
