/*
 * record.c: recording files.  capd -w and sockd -w write one; flowd -r
 * and vbsctl dump read them.  A recording is a 16-byte header (magic,
 * format version, flags) and then the same messages that travel on the
 * sockets, each behind a 4-byte big-endian length.  The reader trusts
 * nothing in the file: a length out of range, a short frame or a wrong
 * header stops it with an error naming the file and the offset, and
 * every message before that point has already been handed out.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

#define REC_FORMAT	1

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Create (or truncate) a recording; "-" is standard output. */
int
rec_create(struct rec_writer *w, const char *path)
{
	uint8_t	hdr[REC_HDR_LEN];

	memset(w, 0, sizeof(*w));
	if (strcmp(path, "-") == 0)
		w->fp = fdopen(dup(STDOUT_FILENO), "w");
	else
		w->fp = fopen(path, "w");
	if (w->fp == NULL)
		return -1;
	setvbuf(w->fp, NULL, _IOFBF, 1 << 20);
	w->fd = fileno(w->fp);
	memcpy(hdr, REC_MAGIC, REC_MAGIC_LEN);
	put32(hdr + 8, REC_FORMAT);
	put32(hdr + 12, 0);
	if (fwrite(hdr, sizeof(hdr), 1, w->fp) != 1) {
		fclose(w->fp);
		w->fp = NULL;
		return -1;
	}
	return 0;
}

int
rec_write(struct rec_writer *w, const void *msg, size_t len)
{
	uint8_t	l[4];

	if (len == 0 || len > VBS_MSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	put32(l, (uint32_t)len);
	if (fwrite(l, 4, 1, w->fp) != 1 || fwrite(msg, len, 1, w->fp) != 1)
		return -1;
	w->messages++;
	return 0;
}

/* Flush and close; an error here means the recording is incomplete. */
int
rec_close(struct rec_writer *w)
{
	int	rc = 0;

	if (w->fp == NULL)
		return 0;
	if (fflush(w->fp) == EOF)
		rc = -1;
	if (fclose(w->fp) == EOF)
		rc = -1;
	w->fp = NULL;
	return rc;
}

static int reader_err(struct rec_reader *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static int
reader_err(struct rec_reader *r, const char *fmt, ...)
{
	char	msg[256];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->err, sizeof(r->err), "%s: offset %llu: %s",
	    r->path ? r->path : "?",
	    (unsigned long long)r->off, msg);
	return -1;
}

int
rec_open(struct rec_reader *r, const char *path)
{
	FILE	*fp;

	if (strcmp(path, "-") == 0)
		fp = fdopen(dup(STDIN_FILENO), "r");
	else
		fp = fopen(path, "r");
	if (fp == NULL) {
		memset(r, 0, sizeof(*r));
		snprintf(r->err, sizeof(r->err), "%s: %s", path,
		    strerror(errno));
		return -1;
	}
	return rec_open_fp(r, fp, path);
}

/* Read a recording from an open stream, which the reader then owns. */
int
rec_open_fp(struct rec_reader *r, FILE *fp, const char *name)
{
	uint8_t	hdr[REC_HDR_LEN];
	size_t	n;

	memset(r, 0, sizeof(*r));
	r->fp = fp;
	if ((r->path = strdup(name)) == NULL ||
	    (r->buf = malloc(VBS_MSG_MAX)) == NULL) {
		snprintf(r->err, sizeof(r->err), "%s: %s", name,
		    strerror(errno));
		return -1;
	}
	n = fread(hdr, 1, sizeof(hdr), r->fp);
	if (n < sizeof(hdr))
		return reader_err(r, "not a VBS recording: %zu-byte file", n);
	if (memcmp(hdr, REC_MAGIC, REC_MAGIC_LEN) != 0)
		return reader_err(r, "not a VBS recording: bad magic");
	if (get32(hdr + 8) != REC_FORMAT)
		return reader_err(r, "recording format %u, this reads %d",
		    get32(hdr + 8), REC_FORMAT);
	r->off = REC_HDR_LEN;
	return 0;
}

/*
 * The next message: 1 with *msg and *len set (valid until the next
 * call), 0 at a clean end of file, -1 on a damaged frame.
 */
int
rec_read(struct rec_reader *r, const uint8_t **msg, size_t *len)
{
	uint8_t		l[4];
	size_t		n;
	uint32_t	want;

	if (r->fp == NULL || r->err[0] != '\0')
		return -1;	/* an error is final: never resync */
	n = fread(l, 1, 4, r->fp);
	if (n == 0 && feof(r->fp))
		return 0;
	if (n < 4)
		return ferror(r->fp) ? reader_err(r, "read error") :
		    reader_err(r, "truncated frame header (%zu of 4 bytes)", n);
	want = get32(l);
	if (want == 0 || want > VBS_MSG_MAX)
		return reader_err(r, "message length %u out of range "
		    "(1 to %d)", want, VBS_MSG_MAX);
	n = fread(r->buf, 1, want, r->fp);
	if (n < want)
		return reader_err(r, "truncated message: %zu of %u bytes",
		    n, want);
	*msg = r->buf;
	*len = want;
	r->off += 4 + want;
	r->messages++;
	return 1;
}

void
rec_close_reader(struct rec_reader *r)
{
	if (r->fp != NULL)
		fclose(r->fp);
	free(r->buf);
	free(r->path);
	memset(r, 0, sizeof(*r));
}
