/*
 * receive.h: ingestd's HTTPS side: the receiver that fills the spool
 * (receive.c), enrolment and credentials (enroll.c), and the parsers of
 * what clients send (httpparse.c).  Internal to ingestd, beside
 * ingestd.h; prototypes are grouped by the file that defines them.
 */

#ifndef RECEIVE_H
#define RECEIVE_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#define HTTP_BATCH_ID_MAX	160	/* = MAX_ID */
#define HTTP_CLIENT_MAX		64	/* = MAX_CLIENT */
#define HTTP_TOKEN_MAX		128
#define SECRET_BYTES		32	/* 256 bits */

/* httpparse.c: every byte here came from the network */
int	 http_batch_id_ok(const char *);
int	 http_client_ok(const char *);
int	 http_hex256(const char *, uint8_t [32]);
int	 http_bearer(const char *, char *, size_t);
int	 http_listen(const char *, struct sockaddr_storage *, socklen_t *);
int	 http_duration(const char *, long long *);
const char *http_batch_path(const char *, const char *);

/* enroll.c */
enum cred_result {
	CRED_OK = 0,
	CRED_BAD = 1,		/* unknown client or wrong secret: 401 */
	CRED_REVOKED = 2,	/* 403 */
	CRED_DBERR = -1		/* 503 */
};
enum cred_result cred_check(MYSQL *, const char *, const char *);
int	 enroll_redeem(MYSQL *, const char *, char *, size_t, char *, size_t,
	    char *, size_t);
int	 cmd_enroll_token(const char *, int, char **);
int	 cmd_revoke(const char *, int, char **);

/* receive.c */
struct receive_opts {
	const char	*conf_path;	/* vbs.conf, or NULL: defaults */
	const char	*spool;
	const char	*optfile;
	uint64_t	 max_batch;
	int		 foreground;
};
pid_t	 receive_spawn(const struct receive_opts *);
void	 receive_stop(pid_t);
int	 receive_run(const struct receive_opts *);

#endif /* RECEIVE_H */
