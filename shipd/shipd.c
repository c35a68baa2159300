/*
 * shipd.c: the upload stage's entry and loop.  Reads vbs.conf and the
 * credentials that `vbsctl enroll` stored, becomes the vbs user if
 * started as root (vbsd starts it as vbs already), sets up its HTTPS
 * client (https.c) and the outbox watch, enters the sandbox, then
 * uploads batches oldest first for as long as it runs: a batch is
 * deleted only after a 2xx answer, a failure backs off exponentially
 * with jitter up to retry_max and is retried for ever, and the outbox
 * is kept within outbox_limit by full_policy.  shipd trusts its configuration, its
 * credentials and the master; see upload.c for what it trusts of the
 * server and outbox.c for the outbox.
 */

#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "shipd.h"
#include "https.h"

#define DEFAULT_CONF	"/usr/local/etc/vbs.conf"
#define RESCAN_MS	(60 * 1000)	/* a rescan even when nothing woke us */
#define POLL_MS		(5 * 1000)	/* the slow poll without inotify */

static volatile sig_atomic_t	 got_stop;
static volatile sig_atomic_t	 give_up;	/* the upload under way */
/*
 * SIGTERM and SIGINT are blocked but for the waits, which are made
 * under this mask (ppoll): a stop signal ends the wait it comes in, or
 * the next one at once, never only when that wait's time is up.
 */
static sigset_t			 waitmask;
static int			 foreground;	/* -d: stderr is the log */

/*
 * The first signal lets the upload under way finish and asks for one
 * last pass; a second skips the pass and gives that upload up.  One
 * that comes while the server's name is being looked up (the only time
 * it is let in outside a wait; see conn_open in https.c) ends shipd at
 * once: nothing has been sent, the batch stays in the outbox, and the
 * look-up could hold shipd past vbsd's stop_grace.
 */
static void
on_signal(int sig)
{
	static const char msg[] = "shipd: stopped while looking up the "
	    "server's name\n";

	if (https_resolving) {
		if (foreground)
			(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
		_exit(EXIT_INPUT);
	}
	if (++got_stop > 1)
		give_up = 1;
	(void)sig;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: shipd [-1dnv] [-c credentials] [-f config] "
	    "[-o outbox] [-R fd]\n");
	exit(EXIT_USAGE);
}

/*
 * The next wait after the n-th failure in a row: retry_min doubled
 * each time up to retry_max, then a random part of it taken off
 * (half at most), so that clients the server turned away together do
 * not come back together.
 */
static uint64_t
backoff_ms(const struct shipd_conf *c, unsigned int n)
{
	uint64_t	 d = c->retry_min_ms;

	while (n-- > 0 && d < c->retry_max_ms)
		d *= 2;
	if (d > c->retry_max_ms)
		d = c->retry_max_ms;
	return d - (uint64_t)random() % (d / 2 + 1);
}

struct shipd {
	struct shipd_conf	 conf;
	struct outbox		 ob;
	struct uploader		*up;
	unsigned int		 fails;		/* failures in a row */
	uint64_t		 next_try;	/* mono_us; 0: now */
	uint64_t		 sent, sent_bytes, rejected;
};

/* outbox/.status: what vbsctl stats shows of the last upload. */
static void
status_write(struct shipd *s, const char *id, uint64_t status,
    const char *what)
{
	char	buf[1024];

	snprintf(buf, sizeof(buf), "time_us\t%" PRIu64 "\nbatch\t%s\n"
	    "http_status\t%" PRIu64 "\nresult\t%.300s\nuploaded\t%" PRIu64
	    "\nuploaded_bytes\t%" PRIu64 "\nrefused\t%" PRIu64
	    "\nfailures_in_row\t%u\n", now_us(), id, status, what, s->sent,
	    s->sent_bytes, s->rejected, s->fails);
	outbox_put_file(&s->ob, STATUS_FILE, buf, 0);
}

/*
 * Upload every waiting batch, oldest first, until one fails.  Returns
 * the number of batches still waiting.
 */
static size_t
ship_pass(struct shipd *s)
{
	struct shipd_conf *c = &s->conf;
	struct ob_entry	*e;
	const uint8_t	*buf;
	size_t		 i, len, left = 0;
	char		 err[512];
	long		 ra;
	uint64_t	 status, d;
	enum up_result	 r;

	for (i = 0; i < s->ob.n; i++) {
		e = &s->ob.ents[i];
		if (e->rejected)
			continue;
		if (got_stop > 1 || (s->next_try != 0 &&
		    mono_us() < s->next_try)) {
			left++;
			continue;
		}
		if (outbox_read(&s->ob, e->id, &buf, &len, err,
		    sizeof(err)) == -1) {
			/* gone meanwhile (policy, a person): not an upload */
			log_warnx("%s", err);
			continue;
		}
		status = 0;
		r = upload_batch(s->up, e->id, buf, len, &ra, &status, err,
		    sizeof(err));
		switch (r) {
		case UP_OK:
			if (outbox_remove(&s->ob, e->id) == -1)
				fatal("outbox: cannot remove %s%s, stored on "
				    "the server", e->id, BATCH_SUFFIX);
			if (s->fails > 0)
				log_info("server reachable again after %u "
				    "failures", s->fails);
			s->fails = 0;
			s->next_try = 0;
			s->sent++;
			s->sent_bytes += len;
			log_debug("batch %s uploaded (%zu bytes, %s)", e->id,
			    len, err);
			break;
		case UP_REJECT:
			log_warnx("batch %s refused by the server (%s), set "
			    "aside in %s/%s", e->id, err, c->outbox,
			    REJECT_DIR);
			if (outbox_reject(&s->ob, e->id) == -1)
				fatal("outbox: cannot set %s aside", e->id);
			s->rejected++;
			break;
		case UP_AUTH:
		case UP_RETRY:
			d = backoff_ms(c, s->fails);
			if ((uint64_t)ra * 1000 > d)
				d = (uint64_t)ra * 1000;
			s->fails++;
			s->next_try = mono_us() + d * 1000;
			if (r == UP_AUTH)
				log_warnx("batch %s: %s: the server does not "
				    "accept our credentials (revoked? enrol "
				    "again); retry in %" PRIu64 " ms", e->id,
				    err, d);
			else if (s->fails == 1 || s->fails % 10 == 0)
				log_warnx("batch %s: %s; retry in %" PRIu64
				    " ms (failure %u)", e->id, err, d, s->fails);
			else
				log_debug("batch %s: %s; retry in %" PRIu64
				    " ms", e->id, err, d);
			left++;
			break;
		}
		status_write(s, e->id, status, r == UP_OK ? "stored" : err);
	}
	return left;
}

static int
ship_loop(struct shipd *s, struct watch *w)
{
	struct pollfd	 pfd[1];
	struct timespec	 ts;
	uint64_t	 now;
	size_t		 left = 0;
	int		 timeout, n, draining = 0, wfd = watch_fd(w);

	for (;;) {
		if (outbox_scan(&s->ob) == -1)
			fatal("outbox %s", s->conf.outbox);
		outbox_enforce(&s->ob, &s->conf);
		if (s->up != NULL)
			left = ship_pass(s);
		if (draining || got_stop > 1)
			break;
		if (got_stop) {
			/* one last pass for what flowd flushed at its end */
			draining = 1;
			continue;
		}
		if (s->conf.once && (left == 0 || s->up == NULL))
			break;
		timeout = wfd == -1 ? POLL_MS : RESCAN_MS;
		now = mono_us();
		if (left > 0 && s->next_try > now)
			timeout = poll_ms(now, s->next_try, timeout);
		n = 0;
		if (wfd != -1) {
			pfd[n].fd = wfd;
			pfd[n++].events = POLLIN;
		}
		ts.tv_sec = timeout / 1000;
		ts.tv_nsec = (long)(timeout % 1000) * 1000000;
		if (ppoll(pfd, (nfds_t)n, &ts, &waitmask) == -1 &&
		    errno != EINTR)
			fatal("ppoll");
		watch_drain(w);
	}
	log_info("stopping: %" PRIu64 " batches (%" PRIu64 " bytes, %"
	    PRIu64 " on the wire) uploaded, %" PRIu64 " refused, %zu "
	    "waiting, %" PRIu64 " lost to the bound", s->sent, s->sent_bytes,
	    s->up != NULL ? upload_wire_bytes(s->up) : 0, s->rejected, left,
	    s->ob.lost_batches);
	return left == 0 ? EXIT_OK : EXIT_INPUT;
}

static void
signals_setup(void)
{
	struct sigaction sa;
	sigset_t	 stop;

	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	if (sigprocmask(SIG_BLOCK, &stop, &waitmask) == -1)
		err(EXIT_SYSTEM, "sigprocmask");
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int
main(int argc, char *argv[])
{
	static struct shipd s;
	struct shipd_conf *c = &s.conf;
	struct vbs_conf	*conf;
	struct priv_spec ps;
	struct watch	*w;
	struct cred	 cred;
	const char	*cfile = DEFAULT_CONF, *outbox = NULL, *cpath = NULL;
	const char	*policy;
	char		 errbuf[512], *end;
	int		 ch, debug = 0, verbose = 0, checkonly = 0, readyfd = -1;
	int		 rc;
	long		 l;

	while ((ch = getopt(argc, argv, "1c:df:no:R:v")) != -1) {
		switch (ch) {
		case '1':
			c->once = 1;
			break;
		case 'c':
			cpath = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'f':
			cfile = optarg;
			break;
		case 'n':
			checkonly = 1;
			break;
		case 'o':
			outbox = optarg;
			break;
		case 'R':
			l = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || l < 0 ||
			    l > INT_MAX)
				usage();
			readyfd = (int)l;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("shipd", debug || checkonly, verbose);
	foreground = debug;

	if ((conf = conf_load(cfile, errbuf, sizeof(errbuf))) == NULL)
		errx(EXIT_CONFIG, "%s", errbuf);
	c->outbox = outbox != NULL ? outbox : conf_str(conf, "flowd",
	    "outbox");
	c->server_url = conf_str(conf, "shipd", "server_url");
	c->ca_file = conf_str(conf, "shipd", "ca_file");
	c->pin = conf_str(conf, "shipd", "pin");
	c->cred_path = cpath != NULL ? cpath : conf_str(conf, "shipd",
	    "credentials");
	c->limit = (uint64_t)conf_int(conf, "shipd", "outbox_limit");
	policy = conf_str(conf, "shipd", "full_policy");
	c->policy = strcmp(policy, "drop-oldest") == 0 ? FULL_DROP_OLDEST :
	    FULL_STOP;
	c->retry_min_ms = (uint64_t)conf_int(conf, "shipd", "retry_min");
	c->retry_max_ms = (uint64_t)conf_int(conf, "shipd", "retry_max");
	if (c->retry_max_ms < c->retry_min_ms)
		c->retry_max_ms = c->retry_min_ms;
	c->compress = conf_bool(conf, "shipd", "compress");
	if (c->server_url[0] != '\0' &&
	    strncmp(c->server_url, "https://", 8) != 0)
		errx(EXIT_CONFIG, "%s: server_url %s: only https:// is "
		    "allowed", cfile, c->server_url);
	if (checkonly) {
		conf_print(conf, "shipd", stdout);
		printf("# outbox %s\n", c->outbox);
		exit(EXIT_OK);
	}

	/* Nothing here needs root: become vbs before reading anything. */
	memset(&ps, 0, sizeof(ps));
	ps.user = geteuid() == 0 ? conf_str(conf, "vbsd", "user") : NULL;
	priv_drop(&ps);

	srandom((unsigned int)(now_us() ^ (uint64_t)getpid() << 16));
	signals_setup();
	if (outbox_open(&s.ob, c->outbox, errbuf, sizeof(errbuf)) == -1)
		errx(EXIT_SYSTEM, "%s", errbuf);
	if (c->server_url[0] == '\0') {
		log_warnx("server_url is empty: batches are kept in %s",
		    c->outbox);
	} else {
		if (cred_load(c->cred_path, &cred, errbuf, sizeof(errbuf)) ==
		    -1)
			errx(EXIT_CONFIG, "%s", errbuf);
		if ((s.up = upload_new(c, &cred, errbuf, sizeof(errbuf))) ==
		    NULL)
			errx(EXIT_CONFIG, "%s", errbuf);
		upload_set_stop(s.up, &give_up, &waitmask);
		explicit_bzero(&cred, sizeof(cred));
	}
	if ((w = watch_open(c->outbox)) == NULL)
		err(EXIT_SYSTEM, "watch %s", c->outbox);

	sandbox_enter(shipd_sandbox(c->outbox));

	ready_notify(readyfd);
	log_info("running: outbox %s, server %s, bound %" PRIu64 " bytes "
	    "(%s)", c->outbox, c->server_url[0] ? c->server_url : "none",
	    c->limit, policy);
	rc = ship_loop(&s, w);
	watch_close(w);
	upload_free(s.up);
	conf_free(conf);
	return rc;
}
