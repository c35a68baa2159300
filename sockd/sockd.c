/*
 * sockd.c: the socket daemon's main: options, configuration, the order
 * in which privileges are given up, and the poll loop.  sockd is
 * started as root (by vbsd, or by hand), opens what the backend needs
 * (Linux: the netlink sockets and the proc connector), becomes its own
 * user keeping only what the backend names (Linux: what reading other
 * users' /proc/PID/fd needs), and enters the backend's sandbox before
 * it reads a byte from flowd.
 *
 * The loop: process events (so that new processes are known), owners
 * named by the eBPF backend when it runs, destroy events (closes),
 * flowd's look-ups (answered at once), a full dump every
 * dump_interval, counters every stats_interval.
 */

#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockd.h"

struct sockd_stats stats;

static int	sigpipe_fds[2] = { -1, -1 };
static int	stdin_mode;		/* -q -: look-ups on stdin */
static volatile sig_atomic_t got_stop, got_snapshot;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: sockd [-dnPv] [-b count] [-c count] [-f config] "
	    "[-N netns]\n"
	    "             [-q lookup | -q -] [-R fd] [-S fd | --connect path] "
	    "[-w recording]\n");
	exit(EXIT_USAGE);
}

static void
on_signal(int sig)
{
	int	saved = errno;
	char	c = (char)sig;

	if (sig == SIGUSR1)
		got_snapshot = 1;
	else
		got_stop = 1;
	(void)!write(sigpipe_fds[1], &c, 1);
	errno = saved;
}

static void
signals(void)
{
	struct sigaction	sa;

	if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe2");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

/* -q -: one look-up a line on standard input, the answer on stdout. */
static int
stdin_queries(void)
{
	static char		 line[512];
	static size_t		 have;
	struct lookup_rec	 q;
	struct answer_rec	 a;
	char			 err[128], *nl;
	ssize_t			 n;
	uint64_t		 rx;

	n = read(STDIN_FILENO, line + have, sizeof(line) - 1 - have);
	if (n <= 0)
		return n == 0 || errno != EAGAIN ? -1 : 0;
	rx = mono_us();
	have += (size_t)n;
	line[have] = '\0';
	while ((nl = strchr(line, '\n')) != NULL) {
		*nl = '\0';
		if (query_parse(line, &q, err, sizeof(err)) == -1) {
			printf("error %s\n", err);
			fflush(stdout);
		} else {
			query_run(&q, &a);
			emit_flush();
			query_print(stdout, &a, rx);
		}
		have -= (size_t)(nl + 1 - line);
		memmove(line, nl + 1, have + 1);
	}
	if (have == sizeof(line) - 1)
		have = 0;	/* a line too long: dropped */
	return 0;
}

/*
 * Anything that suggests sockets are changing: the dump goes back to
 * dump_interval.  When a dump changed nothing and nothing happened,
 * the interval doubles up to IDLE_MAX_MS: the kernel walks its whole
 * TCP hash for every dump, and an idle sockd must cost next to nothing.
 *
 * While eBPF is attached its events name each socket as it is used,
 * and the dump is only a safety net: what counts then is a sign that
 * the events missed something (a socket first found by a dump or a
 * look-up, a close of a socket never seen, lost destroy events), and
 * the interval doubles up to EBPF_IDLE_MAX_MS.  At 1 s the dumps were
 * most of sockd's CPU in the lab's steady run, where eBPF named every
 * socket; at 8 s still 45% of it (a TCP dump walks the kernel's whole
 * established hash, 262,144 buckets on a machine of 24 GB).  A flow
 * whose socket the events missed does not wait for the dump: flowd
 * asks for it.
 */
#define IDLE_MAX_MS	1000
#define EBPF_DUMP_MS	1000	/* shortest dump interval with eBPF */
#define EBPF_IDLE_MAX_MS 32000

static int	use_ebpf;

static uint64_t
activity(void)
{
	if (use_ebpf)
		return stats.opens - stats.ebpf_opens + stats.closes_dump +
		    stats.destroy_unknown + stats.destroy_overruns +
		    stats.lookups;
	return stats.opens + stats.closes_dump + stats.closes_destroy +
	    stats.lookups;
}

/*
 * Called in the middle of a dump, before its owner sweep: whatever
 * flowd (or stdin) asked meanwhile is answered first.
 */
void
sockd_lookups_pending(void)
{
	struct pollfd	pfd[2];
	int		n = 0, i_peer = -1, i_in = -1;

	if (emit_peer_fd() != -1)
		pfd[i_peer = n++] = (struct pollfd){ emit_peer_fd(), POLLIN, 0 };
	if (stdin_mode)
		pfd[i_in = n++] = (struct pollfd){ STDIN_FILENO, POLLIN, 0 };
	if (n == 0 || poll(pfd, (nfds_t)n, 0) <= 0)
		return;
	if (i_peer != -1 && (pfd[i_peer].revents & POLLIN))
		emit_peer_ready(POLLIN);
	if (i_in != -1 && pfd[i_in].revents && stdin_queries() == -1)
		stdin_mode = 0;
}

static void
on_destroy(void *arg, struct sock_rec *r)
{
	(void)arg;
	table_destroy(r);
}

static void
on_ebpf(void *arg, struct sock_rec *r)
{
	(void)arg;
	table_ebpf(r);
}

static int	 news_destroy;		/* destroy events are read */

/*
 * What the kernel told and the loop has not read yet: the eBPF ring
 * buffer and queued destroy events.  A look-up whose socket is gone
 * reads them first, else a socket whose open and close still wait
 * there leaves the answer to an older closed socket on its port.
 */
void
sockd_news(void)
{
	if (ebpf_events(on_ebpf, NULL) == -1)
		fatal("ebpf ring buffer");
	if (news_destroy && backend_event_fd() != -1 &&
	    backend_events(on_destroy, NULL) == -1)
		fatal("destroy events");
}

static void
loop(int dump_ms, int stats_ms, int use_destroy)
{
	struct pollfd	 pfd[6];
	uint64_t	 now, next_dump, next_stats, next_gc, act, last_act;
	int		 cur_ms = dump_ms, idle_ms;
	int		 n, timeout, r, fd_dest, fd_peer, fd_bpf;
	int		 i_sig, i_dest, i_peer, i_in, i_bpf;
	char		 buf[64];

	idle_ms = use_ebpf ? EBPF_IDLE_MAX_MS : IDLE_MAX_MS;
	if (idle_ms < dump_ms)
		idle_ms = dump_ms;
	last_act = activity();
	now = mono_us();
	next_dump = now + (uint64_t)dump_ms * 1000;
	next_stats = stats_ms > 0 ? now + (uint64_t)stats_ms * 1000 :
	    UINT64_MAX;
	next_gc = now + 10000000;
	while (!got_stop) {
		n = 0;
		i_dest = i_peer = i_in = i_bpf = -1;
		pfd[i_sig = n++] = (struct pollfd){ sigpipe_fds[0], POLLIN, 0 };
		if ((fd_bpf = ebpf_fd()) != -1)
			pfd[i_bpf = n++] = (struct pollfd){ fd_bpf, POLLIN, 0 };
		news_destroy = use_destroy;
		if (use_destroy && (fd_dest = backend_event_fd()) != -1)
			pfd[i_dest = n++] = (struct pollfd){ fd_dest, POLLIN,
			    0 };
		if ((fd_peer = emit_peer_fd()) != -1)
			pfd[i_peer = n++] = (struct pollfd){ fd_peer,
			    emit_peer_events(), 0 };
		if (stdin_mode)
			pfd[i_in = n++] = (struct pollfd){ STDIN_FILENO,
			    POLLIN, 0 };
		now = mono_us();
		timeout = poll_ms(now, next_dump, INT_MAX);
		if (next_stats != UINT64_MAX)
			timeout = poll_ms(now, next_stats, timeout);
		if ((r = emit_reconnect()) >= 0 && r < timeout)
			timeout = r;
		if (poll(pfd, (nfds_t)n, timeout) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[i_sig].revents & POLLIN)
			while (read(sigpipe_fds[0], buf, sizeof(buf)) > 0)
				;
		if (got_stop)
			break;
		/* New processes first: the look-ups may need them. */
		owner_events();
		/*
		 * Owners named by BPF before closes: a destroy event then
		 * finds the socket with its owner.  Read whenever polled:
		 * the ring buffer's wake-ups are batched.
		 */
		if (i_bpf != -1 && ebpf_events(on_ebpf, NULL) == -1)
			fatal("ebpf ring buffer");
		if (i_dest != -1 && pfd[i_dest].revents) {
			if (backend_events(on_destroy, NULL) == -1)
				fatal("destroy events");
		}
		if (i_peer != -1 && pfd[i_peer].revents)
			emit_peer_ready(pfd[i_peer].revents);
		if (i_in != -1 && pfd[i_in].revents && stdin_queries() == -1)
			stdin_mode = 0;
		now = mono_us();
		if ((act = activity()) != last_act) {
			last_act = act;
			cur_ms = dump_ms;
			if (next_dump > now + (uint64_t)dump_ms * 1000)
				next_dump = now + (uint64_t)dump_ms * 1000;
		}
		if (got_snapshot || now >= next_dump) {
			table_dump(got_snapshot);
			got_snapshot = 0;
			if ((act = activity()) != last_act) {
				last_act = act;
				cur_ms = dump_ms;
			} else if ((cur_ms *= 2) > idle_ms)
				cur_ms = idle_ms;
			/* A dump never takes more than 2% of a core. */
			if (cur_ms < (int)(stats.dump_us_last / 20))
				cur_ms = (int)(stats.dump_us_last / 20);
			next_dump = mono_us() + (uint64_t)cur_ms * 1000;
		}
		if (now >= next_stats) {
			emit_stats();
			next_stats = now + (uint64_t)stats_ms * 1000;
		}
		if (now >= next_gc) {
			owner_gc();
			next_gc = now + 10000000;
		}
		emit_flush();
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "connect", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 }
	};
	struct emit_conf	 ec;
	struct vbs_conf		*conf;
	struct priv_spec	 ps;
	const struct sandbox_spec *ss;
	const char		*cfile = NULL, *netns = NULL, *query = NULL;
	const char		*user;
	char			 err[512], path[256], *end;
	int			 ch, foreground = 0, verbose = 0, check = 0;
	int			 nodrop = 0, count = 1, bench = 0, dump_ms;
	int			 stats_ms, use_destroy, ready_fd = -1;
	int			 rc;
	long			 l;
	static char		 outbuf[BUFSIZ];

	memset(&ec, 0, sizeof(ec));
	ec.fd = -1;
	while ((ch = getopt_long(argc, argv, "b:c:df:nN:Pq:R:S:vw:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'b':
		case 'c':
		case 'R':
		case 'S':
			errno = 0;
			l = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || errno != 0 ||
			    l < (ch == 'S' || ch == 'R' ? 0 : 1) ||
			    l > 10000000)
				errx(EXIT_USAGE, "-%c %s: not a number in "
				    "range", ch, optarg);
			if (ch == 'b')
				bench = (int)l;
			else if (ch == 'c')
				count = (int)l;
			else if (ch == 'R')
				ready_fd = (int)l;
			else
				ec.fd = (int)l;
			break;
		case 'C':
			ec.connect = optarg;
			break;
		case 'd':
			foreground = 1;
			break;
		case 'f':
			cfile = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'N':
			/* A name as ip-netns(8) makes them, or a path. */
			if (strchr(optarg, '/') == NULL) {
				snprintf(path, sizeof(path), "/run/netns/%s",
				    optarg);
				netns = path;
			} else
				netns = optarg;
			break;
		case 'P':
			nodrop = 1;
			break;
		case 'q':
			query = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'w':
			ec.record = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (ec.fd != -1 && ec.connect != NULL)
		errx(EXIT_USAGE, "-S and --connect: choose one");
	if (query != NULL && strcmp(query, "-") != 0 && (ec.record != NULL ||
	    ec.fd != -1 || ec.connect != NULL))
		errx(EXIT_USAGE, "-q LOOKUP answers one look-up and exits: "
		    "use -q - to answer them while recording");

	if (cfile != NULL) {
		if ((conf = conf_load(cfile, err, sizeof(err))) == NULL)
			errx(EXIT_CONFIG, "%s", err);
	} else if ((conf = conf_defaults()) == NULL)
		errx(EXIT_CONFIG, "no default configuration");
	if (check) {
		conf_print(conf, "sockd", stdout);
		return EXIT_OK;
	}
	dump_ms = (int)conf_int(conf, "sockd", "dump_interval");
	stats_ms = (int)conf_int(conf, "sockd", "stats_interval");
	use_destroy = conf_bool(conf, "sockd", "destroy_events");
	ec.queue_size = (size_t)conf_int(conf, "sockd", "queue_size");
	ec.peer_user = conf_str(conf, "vbsd", "user");
	user = conf_str(conf, "vbsd", "sockd_user");

	if (query != NULL || bench > 0)
		foreground = 1;
	log_init("sockd", foreground, verbose);
	if (conf_bool(conf, "sockd", "cmdline"))
		log_info("cmdline: command lines are not recorded by this "
		    "version");

	/* Everything that needs privileges, before they go. */
	owner_init(1);
	/* BPF before backend_open(): it may enter another namespace. */
	use_ebpf = conf_bool(conf, "sockd", "ebpf");
	if (use_ebpf && ebpf_open(netns, err, sizeof(err)) == -1) {
		log_warnx("ebpf: %s; using sock_diag and the proc connector",
		    err);
		use_ebpf = 0;
	}
	/*
	 * With the hooks in place every socket is named as it is used,
	 * and look-ups read the kernel directly: the dump is only the
	 * safety net for what no hook saw.  At 100 ms it was most of
	 * sockd's CPU under steady traffic, for nothing.
	 */
	if (use_ebpf && dump_ms < EBPF_DUMP_MS)
		dump_ms = EBPF_DUMP_MS;
	if (backend_open(netns) == -1)
		fatal("sock_diag%s%s", netns ? " in " : "",
		    netns ? netns : "");
	table_init(use_destroy);
	emit_init(&ec);
	signals();
	/* Never detaches: vbsd (or the shell) watches this very process. */

	if (!nodrop && geteuid() == 0) {
		memset(&ps, 0, sizeof(ps));
		ps.user = user;
		ps.keep_caps = backend_keep_caps();
		priv_drop(&ps);
		/*
		 * stdio asks isatty() (an ioctl) when it allocates a
		 * stream's buffer, at the first write to a character
		 * device such as /dev/null; setvbuf() without a buffer
		 * leaves that to later.  stdout gets its buffer now, before
		 * seccomp.  stdin is read with read(2), never with stdio.
		 */
		setvbuf(stdout, outbuf, _IOLBF, sizeof(outbuf));
		sockd_split();
		if ((ss = backend_sandbox()) != NULL)
			sandbox_enter(ss);
	}

	emit_hello();
	table_dump(1);
	emit_flush();
	if (query != NULL && strcmp(query, "-") != 0) {
		rc = query_repeat(query, count);
		conf_free(conf);
		return rc;
	}
	if (bench > 0) {
		rc = query_bench(bench);
		conf_free(conf);
		return rc;
	}
	ready_notify(ready_fd);
	log_info("running: %zu sockets, dumps every %d ms, destroy events "
	    "%s, process events %s, ebpf %s", table_count(), dump_ms,
	    use_destroy ? "on" : "off", owner_event_fd() != -1 ? "on" : "off",
	    use_ebpf ? "on" : "off");
	if (query != NULL && fcntl(STDIN_FILENO, F_SETFL, O_NONBLOCK) == -1)
		fatal("stdin");
	stdin_mode = query != NULL;
	loop(dump_ms, stats_ms, use_destroy);
	log_info("stopping");
	emit_stats();
	emit_bye("stopped by signal");
	emit_close();
	/*
	 * The BPF hooks are left to the exit: libbpf's teardown makes
	 * system calls the sandbox does not allow, and the kernel detaches
	 * them with the process.  Their links stay reachable (static).
	 */
	conf_free(conf);
	return EXIT_OK;
}
