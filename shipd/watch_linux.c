/*
 * watch_linux.c: wake shipd when a batch arrives in the outbox, with
 * inotify.  flowd publishes a batch by rename, so IN_MOVED_TO is the
 * event that matters; IN_CLOSE_WRITE covers a batch copied in by hand.
 * Runs in shipd.  Events carry no data that is trusted: any event only
 * makes shipd list the directory again.  When inotify is not available
 * (watch_fd() returns -1) shipd falls back to a slow poll.
 */

#include <sys/inotify.h>

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "proto.h"
#include "shipd.h"

struct watch {
	int	 fd;
};

struct watch *
watch_open(const char *dir)
{
	struct watch	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd == -1) {
		log_warn("inotify_init1: falling back to polling %s", dir);
		return w;
	}
	if (inotify_add_watch(w->fd, dir, IN_MOVED_TO | IN_CLOSE_WRITE |
	    IN_DELETE_SELF | IN_MOVE_SELF) == -1) {
		log_warn("inotify_add_watch %s: falling back to polling", dir);
		close(w->fd);
		w->fd = -1;
	}
	return w;
}

int
watch_fd(const struct watch *w)
{
	return w->fd;
}

/* Read and forget every pending event: the caller rescans anyway. */
void
watch_drain(struct watch *w)
{
	char	 buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t	 n;

	if (w->fd == -1)
		return;
	do {
		n = read(w->fd, buf, sizeof(buf));
	} while (n > 0 || (n == -1 && errno == EINTR));
}

void
watch_close(struct watch *w)
{
	if (w == NULL)
		return;
	if (w->fd != -1)
		close(w->fd);
	free(w);
}
