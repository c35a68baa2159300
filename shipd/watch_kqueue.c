/*
 * watch_kqueue.c: wake shipd when a batch arrives in the outbox, on the
 * BSDs, with a kqueue EVFILT_VNODE filter on the directory: a rename
 * into it is a NOTE_WRITE.  Runs in shipd.  Events only make shipd list
 * the directory again; when kqueue cannot be set up, watch_fd() returns
 * -1 and shipd falls back to a slow poll.
 */

#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "proto.h"
#include "shipd.h"

struct watch {
	int	 kq;
	int	 dfd;
};

struct watch *
watch_open(const char *dir)
{
	struct watch	*w;
	struct kevent	 ev;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->kq = -1;
	if ((w->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (w->kq = kqueue()) == -1) {
		log_warn("kqueue on %s: falling back to polling", dir);
		goto fallback;
	}
	EV_SET(&ev, w->dfd, EVFILT_VNODE, EV_ADD | EV_CLEAR,
	    NOTE_WRITE | NOTE_DELETE | NOTE_RENAME, 0, NULL);
	if (kevent(w->kq, &ev, 1, NULL, 0, NULL) == -1) {
		log_warn("kevent %s: falling back to polling", dir);
		goto fallback;
	}
	return w;
fallback:
	if (w->kq != -1)
		close(w->kq);
	if (w->dfd != -1)
		close(w->dfd);
	w->kq = w->dfd = -1;
	return w;
}

int
watch_fd(const struct watch *w)
{
	return w->kq;
}

/* Collect and forget every pending event: the caller rescans anyway. */
void
watch_drain(struct watch *w)
{
	struct kevent	 ev[8];
	struct timespec	 zero = { 0, 0 };

	if (w->kq == -1)
		return;
	while (kevent(w->kq, NULL, 0, ev, 8, &zero) > 0)
		;
}

void
watch_close(struct watch *w)
{
	if (w == NULL)
		return;
	if (w->kq != -1)
		close(w->kq);
	if (w->dfd != -1)
		close(w->dfd);
	free(w);
}
