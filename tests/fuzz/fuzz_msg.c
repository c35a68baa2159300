/*
 * fuzz_msg.c: libFuzzer target for the message decoder (proto/msg.c,
 * proto/mpack.c), the decoder every stage runs on its peers' bytes.
 * Besides "never crash, never read past the buffer", it checks a
 * property: whatever decodes re-encodes (msgpack-c; packets records by
 * msg.c's own encoder) to bytes that decode to the same records.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static size_t
rec_len(int type)
{
	struct vbs_rec	*r = NULL;

	switch (type) {
	case MSG_HELLO: return sizeof(r->u.hello);
	case MSG_PACKETS: return sizeof(r->u.pkt);
	case MSG_SOCKETS: return sizeof(r->u.sock);
	case MSG_LOOKUP: return sizeof(r->u.lookup);
	case MSG_ANSWER: return sizeof(r->u.answer);
	case MSG_STATS: return sizeof(r->u.stats);
	default: return sizeof(r->u.bye);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct msg_builder	 b;
	static struct vbs_rec		*r, *r2;
	struct msg_reader		 m, m2;
	int				 rc;

	if (b.buf == NULL) {
		if (msg_init(&b) == -1)
			abort();
		r = malloc(sizeof(*r));
		r2 = malloc(sizeof(*r2));
	}
	if (msg_open(&m, data, size) == -1)
		return 0;
	for (;;) {
		memset(r, 0, sizeof(*r));
		if ((rc = msg_next(&m, r)) != 1)
			break;
		if (msg_encode1(&b, r) == -1)
			abort();	/* a decoded record always encodes */
		memset(r2, 0, sizeof(*r2));
		if (msg_open(&m2, b.buf, b.len) == -1 ||
		    msg_next(&m2, r2) != 1 || r2->type != r->type ||
		    memcmp(&r->u, &r2->u, rec_len(r->type)) != 0)
			abort();	/* and decodes to the same record */
	}
	return 0;
}
