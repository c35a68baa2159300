/*
 * vbsd.h: the master's internal interface.  vbsd runs as root, makes the
 * sockets and directories the stages need, starts each stage by fork and
 * exec, restarts it when it dies, and obeys vbsctl on its control socket.
 */

#ifndef VBSD_H
#define VBSD_H

#include <sys/types.h>

#include <poll.h>
#include <stdint.h>

#include "proto.h"

enum stage_id {
	ST_FLOWD,
	ST_SOCKD,
	ST_CAPD,
	ST_SHIPD,
	ST__MAX
};

enum stage_state {
	SS_DOWN,		/* not running, not wanted */
	SS_WAITING,		/* wanted, waiting for its restart delay */
	SS_STARTING,		/* running, readiness line not seen yet */
	SS_UP,
	SS_STOPPING,		/* SIGTERM sent */
	SS_FAILED		/* exited with EXIT_CONFIG: not restarted */
};

struct stage {
	const char	*name;
	int		 enabled;	/* configured to run */
	int		 wanted;	/* should be running */
	enum stage_state state;
	pid_t		 pid;
	int		 ready_fd;	/* read end of the readiness pipe */
	uint64_t	 started_us;	/* mono_us() of the last start */
	uint64_t	 up_since;	/* now_us() when it became ready */
	uint64_t	 next_start;	/* mono_us() of the next attempt */
	uint64_t	 stop_deadline;	/* mono_us() to send SIGKILL */
	uint64_t	 backoff_ms;
	unsigned	 restarts;	/* deaths so far: the tally */
	int		 asked_restart;	/* vbsctl restart: not a death */
	char		 last_exit[192];
	char		 fail_why[64];	/* a failed start, for last_exit */
};

struct vbsd {
	struct vbs_conf	*conf;
	const char	*conf_path;
	int		 foreground;
	int		 verbose;
	struct stage	 st[ST__MAX];
	/* Socket pairs: vbsd keeps both ends of each for restarts. */
	int		 cap_w, cap_r;		/* capd -> flowd */
	int		 sock_s, sock_f;	/* sockd <-> flowd */
	int		 shutting_down;
	uint64_t	 started_us;
};

/* supervise.c */
void	 stage_init(struct vbsd *);
void	 stage_start(struct vbsd *, enum stage_id);
void	 stage_stop(struct vbsd *, enum stage_id);
void	 stage_restart(struct vbsd *, enum stage_id);
void	 stages_reap(struct vbsd *);
void	 stage_ready_input(struct vbsd *, enum stage_id);
void	 stage_tick(struct vbsd *);
uint64_t stage_next_timer(struct vbsd *);
int	 stage_lookup(const char *);
const char *stage_state_name(enum stage_state);
int	 stages_all_down(struct vbsd *);

/* control.c */
int	 vbsd_make_dirs(const struct vbs_conf *, char *, size_t);
int	 vbsd_stage_listed(const struct vbs_conf *, const char *);
int	 vbsd_reload(struct vbsd *, char *, size_t);

#define CONTROL_CLIENTS	8	/* control connections served at once */
int	 control_listen(struct vbsd *);
void	 control_accept(struct vbsd *, int);
int	 control_pollfds(struct pollfd *);
void	 control_events(struct vbsd *, const struct pollfd *, int);
uint64_t control_tick(void);

/* enroll.c (vbsctl) */
int	 cmd_enroll(int, char **);

/* stats.c (vbsctl) */
int	 cmd_stats(struct vbs_conf *, int, int, char **);

/* top.c (vbsctl) */
int	 cmd_top(struct vbs_conf *, int, char **);

#endif /* VBSD_H */
