/*
 * shipd.h: the upload stage.  shipd watches the outbox that flowd
 * renames closed batches into, uploads each over HTTPS to ingestd, and
 * deletes a batch only once the server has said it is stored.  Internal
 * to shipd; prototypes are grouped by the file that defines them.
 * shipd trusts its configuration, its credentials file and the files
 * flowd leaves in the outbox; the server is trusted only after TLS has
 * verified it, and then only for the status it answers.
 */

#ifndef SHIPD_H
#define SHIPD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define BATCH_SUFFIX	".sqlite"
#define BATCH_ID_MAX	160		/* as ingestd accepts */
#define LOST_FILE	".lost"		/* loss counters, read by flowd */
#define FULL_FILE	".full"		/* over the bound, policy stop */
#define STATUS_FILE	".status"	/* the last upload, for vbsctl stats */
#define REJECT_DIR	".rejected"	/* batches the server refused */
#define CLIENT_ID_MAX	64
#define SECRET_MAX	128

enum full_policy {
	FULL_STOP = 0,		/* newest batches beyond the bound are lost */
	FULL_DROP_OLDEST = 1	/* oldest batches go to make room */
};

struct shipd_conf {
	const char	*outbox;
	const char	*server_url;	/* https://host[:port][/prefix] */
	const char	*ca_file;	/* "" system CAs */
	const char	*pin;		/* "" none */
	const char	*cred_path;
	uint64_t	 limit;		/* bytes */
	enum full_policy policy;
	uint64_t	 retry_min_ms;
	uint64_t	 retry_max_ms;
	int		 compress;
	int		 once;		/* -1: upload what is there, exit */
};

/* The client's identity, from the credentials file (vbsctl enroll). */
struct cred {
	char		 client_id[CLIENT_ID_MAX + 1];
	char		 secret[SECRET_MAX + 1];
};

/* One batch waiting in the outbox. */
struct ob_entry {
	char		 id[BATCH_ID_MAX + 1];	/* file name less suffix */
	uint64_t	 size;
	struct timespec	 mtime;
	int		 rejected;	/* lives in REJECT_DIR */
};

struct outbox {
	const char	*dir;
	int		 dirfd;
	struct ob_entry	*ents;		/* waiting batches, oldest first */
	size_t		 n, cap;
	uint64_t	 bytes;		/* waiting and rejected batches */
	uint64_t	 lost_batches;	/* since the outbox was made */
	uint64_t	 lost_bytes;
	int		 full;		/* over the bound at the last scan;
					   -1 before the first */
	uint8_t		*buf;		/* outbox_read's, kept between reads */
	size_t		 bufcap;
};

/* Outcome of one upload. */
enum up_result {
	UP_OK = 0,		/* 2xx: stored on the server */
	UP_RETRY = 1,		/* network, 5xx, 408, 429: try again */
	UP_AUTH = 2,		/* 401/403: credentials; keep everything */
	UP_REJECT = 3		/* 4xx about this request: set it aside */
};

/* outbox.c */
void	 outbox_put_file(struct outbox *, const char *, const char *, int);
int	 outbox_open(struct outbox *, const char *, char *, size_t);
int	 outbox_scan(struct outbox *);
void	 outbox_enforce(struct outbox *, const struct shipd_conf *);
int	 outbox_remove(struct outbox *, const char *);
int	 outbox_reject(struct outbox *, const char *);
int	 outbox_valid_id(const char *);
int	 outbox_read(struct outbox *, const char *, const uint8_t **,
	    size_t *, char *, size_t);

/* watch_<os>.c: wake up when the outbox changes */
struct watch;
struct watch *watch_open(const char *);
int	 watch_fd(const struct watch *);	/* -1: poll only */
void	 watch_drain(struct watch *);
void	 watch_close(struct watch *);

/* upload.c */
struct uploader;
int	 cred_load(const char *, struct cred *, char *, size_t);
struct uploader *upload_new(const struct shipd_conf *, const struct cred *,
	    char *, size_t);
enum up_result upload_batch(struct uploader *, const char *,
	    const uint8_t *, size_t, long *, uint64_t *, char *, size_t);
void	 upload_set_stop(struct uploader *, volatile sig_atomic_t *,
	    const sigset_t *);
void	 upload_free(struct uploader *);
uint64_t upload_wire_bytes(const struct uploader *);

/* sandbox.c */
struct sandbox_spec;
const struct sandbox_spec *shipd_sandbox(const char *);

#endif /* SHIPD_H */
