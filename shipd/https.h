/*
 * https.h: the client side of HTTPS that shipd (uploads) and vbsctl
 * (enrolment) share; see https.c.
 */

#ifndef VBS_HTTPS_H
#define VBS_HTTPS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPS_BODY_MAX	4096	/* bytes of a reply's body kept */
#define HTTPS_HEAD_MAX	16384	/* a reply's status line and headers */

struct https;

/* What a reply said. */
struct https_reply {
	int		 status;	/* 0: none came */
	long		 retry_after;	/* Retry-After, s; 0 if none */
	char		 body[HTTPS_BODY_MAX + 1]; /* its start, NUL ended */
	size_t		 body_len;
	int		 body_cut;	/* more came than body holds */
	uint64_t	 sent;		/* request body bytes written */
};

/* One header block, status line to the blank line: https_head(). */
struct https_head {
	int		 status;
	int		 minor;		/* HTTP/1.minor */
	long long	 length;	/* Content-Length; -1 none */
	int		 chunked;	/* Transfer-Encoding: chunked */
	int		 close;		/* Connection: close */
	long		 retry_after;	/* s; 0 none or not seconds */
};

/* Set while a request looks its host's name up under the caller's mask. */
extern volatile sig_atomic_t	https_resolving;

struct https	*https_new(const char *, const char *, const char *,
		    const char *, int, char *, size_t);
int		 https_request(struct https *, const char *, const char *,
		    const char *, const void *, size_t,
		    struct https_reply *, char *, size_t);
void		 https_set_stop(struct https *, volatile sig_atomic_t *,
		    const sigset_t *);
void		 https_free(struct https *);
int		 https_head(const char *, size_t, struct https_head *,
		    char *, size_t);
int		 https_chunk_size(const char *, size_t, uint64_t *);

#endif
