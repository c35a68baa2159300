/*
 * wire.c: the stage-to-stage transport, Unix sockets of type
 * SOCK_SEQPACKET.  Linked by every process.  One send is one message, so
 * a reader that dies never leaves half a message for its successor.  A
 * process may be handed its socket by vbsd (an inherited descriptor) or
 * find it by path; either way it checks who is on the other end
 * (SO_PEERCRED, getpeereid) before it trusts a byte.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

static int
unix_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strncpy(sun->sun_path, path, sizeof(sun->sun_path) - 1);
	return 0;
}

/* A listening socket at path, mode 0600, replacing a stale one. */
int
wire_listen(const char *path)
{
	struct sockaddr_un	sun;
	int			fd, saved;
	mode_t			old;

	if (unix_addr(path, &sun) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (unlink(path) == -1 && errno != ENOENT)
		goto fail;
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		goto fail;
	}
	umask(old);
	if (listen(fd, 16) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
wire_connect(const char *path)
{
	struct sockaddr_un	sun;
	int			fd, saved;

	if (unix_addr(path, &sun) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
wire_nonblock(int fd)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * Send one message.  Whether it blocks is the descriptor's business;
 * a peer that went away is EPIPE, never SIGPIPE.
 */
ssize_t
wire_send(int fd, const void *buf, size_t len)
{
	ssize_t	n;

	do
		n = send(fd, buf, len, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	return n;
}

/*
 * Receive one message into buf.  0 means the peer closed.  A message
 * longer than cap is an error (EMSGSIZE), never silently cut.
 */
ssize_t
wire_recv(int fd, void *buf, size_t cap)
{
	ssize_t	n;

	do
		n = recv(fd, buf, cap, MSG_TRUNC);
	while (n == -1 && errno == EINTR);
	if (n > (ssize_t)cap) {
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}

int
wire_peer(int fd, uid_t *uid, gid_t *gid, pid_t *pid)
{
#ifdef SO_PEERCRED
	struct ucred	cr;
	socklen_t	len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		return -1;
	*uid = cr.uid;
	*gid = cr.gid;
	if (pid != NULL)
		*pid = cr.pid;
	return 0;
#else
	if (pid != NULL)
		*pid = -1;
	return getpeereid(fd, uid, gid);
#endif
}

/*
 * Is the peer root or the expected user?  Anything else is refused, with
 * the reason in err.
 */
int
wire_peer_allowed(int fd, uid_t want, char *err, size_t errlen)
{
	uid_t	uid;
	gid_t	gid;
	pid_t	pid;

	if (wire_peer(fd, &uid, &gid, &pid) == -1) {
		snprintf(err, errlen, "cannot read peer credentials: %s",
		    strerror(errno));
		return 0;
	}
	if (uid == 0 || uid == want)
		return 1;
	snprintf(err, errlen, "peer uid %lu (pid %ld) is neither root nor "
	    "uid %lu", (unsigned long)uid, (long)pid, (unsigned long)want);
	return 0;
}
