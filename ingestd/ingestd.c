/*
 * ingestd.c: main() of the VBS server, and its commands.
 *
 *   ingestd load BATCH ...   validate and load files, then exit
 *   ingestd serve            loader workers on the spool, and the
 *                            HTTPS receiver that fills it (receive.c)
 *   ingestd migrate          create or upgrade the MySQL tables
 *   ingestd enroll-token     a one-time enrolment token (enroll.c)
 *   ingestd revoke CLIENT    refuse a client's uploads (enroll.c)
 *
 * Runs as an unprivileged server user: it needs no privilege at all,
 * only its spool and the MySQL account of its option file.  Trusts
 * vbs.conf, the option file and the spool; batch files are hostile
 * until validate.c accepts them.  `serve` is a small parent that keeps
 * `workers` loader processes running (at least a second between
 * restarts) and stops them on SIGTERM; each worker claims files from
 * the spool on its own, so workers of several hosts can share it.
 */

#include <sys/types.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "ingestd.h"
#include "receive.h"

#define DEFAULT_CONF	"/etc/vbs/vbs.conf"
#define STALE_CLAIM	900	/* seconds before any claim is taken back */
#define IDLE_POLL_US	200000	/* spool empty: look again after this */
#define RETRY_MAX_S	60	/* longest wait after MySQL failed */
#define LATE_TRIES	3	/* validations out of time before quarantine */

struct opts {
	const char	*conf_path;
	const char	*optfile;
	const char	*spool;
	const char	*client;
	int		 workers;
	int		 foreground;
	int		 verbose;
	int		 check_only;
	int		 keep;
	int		 drain;
	int		 migrate;
	uint64_t	 max_batch;
	enum pkt_method	 method;
};

static volatile sig_atomic_t	quit;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: ingestd [-dknvx] [-c client] [-f config] "
	    "[-m optfile] [-P bulk|infile|insert]\n"
	    "               [-s spool] [-w workers] load batch ... | serve | "
	    "migrate |\n"
	    "               enroll-token [expiry [note]] | revoke client\n");
	exit(EXIT_USAGE);
}

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

/* No SA_RESTART: a signal must interrupt waitpid() and sleep(). */
static void
set_signal(int sig, void (*fn)(int))
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void
loader_name(char *buf, size_t len)
{
	char	host[128];

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, len, "%s:%ld", host, (long)getpid());
}

static MYSQL *
connect_checked(const struct opts *o, int migrate, char *err, size_t errlen)
{
	MYSQL	*my;

	if ((my = db_connect(o->optfile, 0, err, errlen)) == NULL)
		return NULL;
	if (db_check_version(my, migrate, err, errlen) == -1) {
		mysql_close(my);
		return NULL;
	}
	return my;
}

/*
 * load validates batch i + 1 in a second thread while batch i loads:
 * the checks are ingestd's own work, the load is mostly MySQL's, and
 * the two overlap on a machine of two cores or more.  Two slots, used
 * in turn; a file's outcome is still printed in the order given.
 */
struct slot {
	struct batch	*b;
	int		 state;		/* SLOT_* */
	char		 err[REASON_MAX];
};
#define SLOT_FREE	0
#define SLOT_VALID	1
#define SLOT_REFUSED	2
#define SLOT_LATE	3	/* validation out of time: no verdict */

struct pipeline {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct slot	 slot[2];
	const struct opts *o;
	char		**argv;
	int		 argc;
	int		 stop;		/* the loader gave up: validate no more */
};

static void *
validator(void *arg)
{
	struct pipeline	*p = arg;
	struct slot	*s;
	int		 i, r;

	for (i = 0; i < p->argc; i++) {
		s = &p->slot[i % 2];
		pthread_mutex_lock(&p->mu);
		while (s->state != SLOT_FREE && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		pthread_mutex_unlock(&p->mu);
		if (p->stop)
			break;
		r = validate_batch(s->b, p->argv[i], p->o->client,
		    p->o->max_batch, VALIDATE_SECONDS, s->err, sizeof(s->err));
		pthread_mutex_lock(&p->mu);
		s->state = r == 0 ? SLOT_VALID : r == VALIDATE_LATE ?
		    SLOT_LATE : SLOT_REFUSED;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

/*
 * load: one line per file on stdout (loaded, duplicate, refused,
 * failed).  Exit 0 when every file is in MySQL, EXIT_INPUT when any was
 * refused, EXIT_SYSTEM when MySQL failed.
 */
static int
cmd_load(const struct opts *o, int argc, char **argv)
{
	struct pipeline	 p;
	struct slot	*s;
	struct batch	*b;
	pthread_t	 th;
	MYSQL		*my;
	char		 err[REASON_MAX], loader[192];
	int		 i, r, status = EXIT_OK, tries;

	if (argc == 0)
		usage();
	if ((my = connect_checked(o, o->migrate, err, sizeof(err))) == NULL) {
		fprintf(stderr, "ingestd: %s\n", err);
		return EXIT_SYSTEM;
	}
	memset(&p, 0, sizeof(p));
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	p.o = o;
	p.argv = argv;
	p.argc = argc;
	for (i = 0; i < 2; i++)
		if ((p.slot[i].b = malloc(sizeof(*p.slot[i].b))) == NULL)
			fatal("malloc");
	if ((errno = pthread_create(&th, NULL, validator, &p)) != 0)
		fatal("pthread_create");
	loader_name(loader, sizeof(loader));
	for (i = 0; i < argc && !quit; i++) {
		s = &p.slot[i % 2];
		b = s->b;
		pthread_mutex_lock(&p.mu);
		while (s->state == SLOT_FREE)
			pthread_cond_wait(&p.cv, &p.mu);
		pthread_mutex_unlock(&p.mu);
		if (s->state == SLOT_REFUSED) {
			printf("%s: refused: %s\n", argv[i], s->err);
			status = status == EXIT_OK ? EXIT_INPUT : status;
			goto next;
		}
		if (s->state == SLOT_LATE) {
			printf("%s: failed: %s\n", argv[i], s->err);
			status = EXIT_SYSTEM;
			goto next;
		}
		for (tries = 0; ; tries++) {
			r = load_batch(my, b, o->method, loader, err,
			    sizeof(err));
			if (r != LOAD_RETRY || tries == 2)
				break;
			/* Reconnect: the ledger makes a second try safe. */
			log_warnx("%s: %s; trying again", argv[i], err);
			mysql_close(my);
			sleep(1);
			if ((my = connect_checked(o, 0, err, sizeof(err))) ==
			    NULL)
				break;
		}
		if (my == NULL) {
			fprintf(stderr, "ingestd: %s\n", err);
			batch_close(b);
			status = EXIT_SYSTEM;
			break;
		}
		switch (r) {
		case LOAD_OK:
			printf("%s: loaded %s: %" PRIu64 " flows, %" PRIu64
			    " packets\n", argv[i], b->batch_id, b->nflows,
			    b->npackets);
			break;
		case LOAD_DUP:
			printf("%s: duplicate %s: already loaded\n", argv[i],
			    b->batch_id);
			break;
		case LOAD_BAD:
			printf("%s: refused: %s\n", argv[i], err);
			status = status == EXIT_OK ? EXIT_INPUT : status;
			break;
		default:
			printf("%s: failed: %s\n", argv[i], err);
			status = EXIT_SYSTEM;
			break;
		}
		fflush(stdout);
		batch_close(b);
next:
		pthread_mutex_lock(&p.mu);
		s->state = SLOT_FREE;
		pthread_cond_broadcast(&p.cv);
		pthread_mutex_unlock(&p.mu);
	}
	pthread_mutex_lock(&p.mu);
	p.stop = 1;
	pthread_cond_broadcast(&p.cv);
	pthread_mutex_unlock(&p.mu);
	pthread_join(th, NULL);
	for (i = 0; i < 2; i++) {
		if (p.slot[i].state == SLOT_VALID)
			batch_close(p.slot[i].b);
		free(p.slot[i].b);
	}
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv);
	if (my != NULL)
		mysql_close(my);
	return status;
}

/*
 * Our claim of a file is gone: another host's loader took it back as
 * stale while this one worked on it (only another host's can: see
 * spool_recover).  The file is in incoming/ again; whoever loads it
 * next finds it in the ledger, or loads it if this one gave it back.
 * Anything else is the spool failing under us.
 */
static void
claim_lost(const char *path)
{
	if (errno != ENOENT)
		fatal("spool: %s", path);
	log_warnx("%s: claim taken back by another host's loader while "
	    "this one held it; the ledger keeps the batch once", path);
}

/*
 * One worker: claim, validate, load, then delete (or keep) or
 * quarantine, until told to stop (or, with -x, until the spool is
 * empty).  A MySQL failure gives the file back and waits, longer each
 * time.
 */
static int
worker(const struct opts *o, int id)
{
	struct spool	*sp;
	struct batch	*b;
	MYSQL		*my = NULL;
	char		 err[REASON_MAX], path[8192], name[512];
	char		 client[MAX_CLIENT + 1], loader[192];
	time_t		 last_recover = 0;
	int		 r, backoff = 1;
	uint64_t	 loaded = 0, dups = 0, late = 0;

	set_signal(SIGTERM, on_signal);
	set_signal(SIGINT, on_signal);
#ifdef __linux__
	/* Workers go with their parent, whatever killed it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
	if (getppid() == 1)
		return EXIT_SYSTEM;
	if ((sp = spool_open(o->spool, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	spool_confine("worker", o->spool, o->optfile);
	if ((b = malloc(sizeof(*b))) == NULL)
		fatal("malloc");
	loader_name(loader, sizeof(loader));
	while (!quit) {
		if (my == NULL) {
			my = connect_checked(o, 0, err, sizeof(err));
			if (my == NULL) {
				log_warnx("worker %d: %s", id, err);
				if (o->drain)
					return EXIT_SYSTEM;
				sleep((unsigned int)backoff);
				backoff = backoff * 2 > RETRY_MAX_S ?
				    RETRY_MAX_S : backoff * 2;
				continue;
			}
		}
		if (time(NULL) - last_recover >= 10) {
			spool_recover(sp, STALE_CLAIM);
			last_recover = time(NULL);
		}
		r = spool_claim(sp, path, sizeof(path), name, sizeof(name));
		if (r == -1)
			fatal("spool %s", o->spool);
		if (r == 0) {
			if (o->drain)
				break;
			usleep(IDLE_POLL_US);
			continue;
		}
		if (spool_client_of(name, client, sizeof(client)) == -1) {
			spool_quarantine(sp, path, "bad spool name: not "
			    "CLIENT.NAME");
			continue;
		}
		r = validate_batch(b, path, client, o->max_batch,
		    VALIDATE_SECONDS, err, sizeof(err));
		if (r == VALIDATE_LATE) {
			late++;
			if (spool_late(sp, path, err, LATE_TRIES) == -1)
				claim_lost(path);
			continue;
		}
		if (r != 0) {
			spool_quarantine(sp, path, err);
			continue;
		}
		r = load_batch(my, b, o->method, loader, err, sizeof(err));
		switch (r) {
		case LOAD_OK:
		case LOAD_DUP:
			if (r == LOAD_OK)
				loaded++;
			else
				dups++;
			log_debug("%s: %s", name, r == LOAD_OK ? "loaded" :
			    "already loaded");
			if (spool_finish(sp, path, o->keep) == -1)
				claim_lost(path);
			backoff = 1;
			break;
		case LOAD_BAD:
			spool_quarantine(sp, path, err);
			break;
		default:
			log_warnx("%s: %s; given back", name, err);
			if (spool_release(sp, path) == -1)
				claim_lost(path);
			mysql_close(my);
			my = NULL;
			sleep((unsigned int)backoff);
			backoff = backoff * 2 > RETRY_MAX_S ? RETRY_MAX_S :
			    backoff * 2;
			break;
		}
		batch_close(b);
	}
	log_info("worker %d: %" PRIu64 " loaded, %" PRIu64 " duplicates, %"
	    PRIu64 " out of time, %" PRIu64 " quarantined", id, loaded, dups,
	    late, spool_quarantined(sp));
	if (my != NULL)
		mysql_close(my);
	free(b);
	spool_free(sp);
	return EXIT_OK;
}

/* serve: keep the workers running; stop them on SIGTERM or SIGINT. */
static int
cmd_serve(const struct opts *o)
{
	struct spool	*sp;
	MYSQL		*my;
	pid_t		*pids;
	time_t		*started;
	char		 err[REASON_MAX];
	int		 i, st, running = 0, status = EXIT_OK;
	pid_t		 pid, rpid;
	struct receive_opts ro;

	if ((sp = spool_open(o->spool, err, sizeof(err))) == NULL) {
		fprintf(stderr, "ingestd: %s\n", err);
		return EXIT_CONFIG;
	}
	spool_recover(sp, STALE_CLAIM);
	spool_free(sp);
	/* Fail early, and migrate once here rather than in each worker. */
	if ((my = connect_checked(o, o->migrate, err, sizeof(err))) == NULL) {
		fprintf(stderr, "ingestd: %s\n", err);
		return EXIT_SYSTEM;
	}
	mysql_close(my);
	if (!o->foreground && daemon(0, 0) == -1)
		fatal("daemon");
	/* The HTTPS receiver that fills the spool, unless draining it. */
	ro.conf_path = o->conf_path;
	ro.spool = o->spool;
	ro.optfile = o->optfile;
	ro.max_batch = o->max_batch;
	ro.foreground = o->foreground;
	rpid = o->drain ? 0 : receive_spawn(&ro);
	set_signal(SIGTERM, on_signal);
	set_signal(SIGINT, on_signal);
	signal(SIGHUP, SIG_IGN);
	if ((pids = calloc((size_t)o->workers, sizeof(*pids))) == NULL ||
	    (started = calloc((size_t)o->workers, sizeof(*started))) == NULL)
		fatal("calloc");
	log_info("serving spool %s with %d workers", o->spool, o->workers);
	for (;;) {
		for (i = 0; i < o->workers && !quit; i++) {
			if (pids[i] != 0 || started[i] < 0)
				continue;
			if (time(NULL) - started[i] < 1)
				continue;	/* a second between restarts */
			started[i] = time(NULL);
			if ((pid = fork()) == -1)
				fatal("fork");
			if (pid == 0) {
				free(pids);
				free(started);
				_exit(worker(o, i));
			}
			pids[i] = pid;
			running++;
		}
		if (running == 0)
			break;
		pid = waitpid(-1, &st, 0);
		if (pid == -1) {
			if (errno != EINTR)
				fatal("waitpid");
			if (quit)
				for (i = 0; i < o->workers; i++)
					if (pids[i] != 0)
						kill(pids[i], SIGTERM);
			continue;
		}
		for (i = 0; i < o->workers; i++) {
			if (pids[i] != pid)
				continue;
			pids[i] = 0;
			running--;
			if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_OK &&
			    o->drain)
				started[i] = -1;	/* done */
			else if (!quit) {
				log_warnx("worker %d (pid %ld) died: status "
				    "%d", i, (long)pid, st);
				if (o->drain) {
					status = EXIT_SYSTEM;
					started[i] = -1;
				}
			}
		}
	}
	receive_stop(rpid);
	free(pids);
	free(started);
	return status;
}

static int
cmd_migrate(const struct opts *o)
{
	MYSQL	*my;
	char	 err[REASON_MAX];

	if ((my = db_connect(o->optfile, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "ingestd: %s\n", err);
		return EXIT_SYSTEM;
	}
	if (db_migrate(my, err, sizeof(err)) == -1) {
		fprintf(stderr, "ingestd: migrate: %s\n", err);
		mysql_close(my);
		return EXIT_SYSTEM;
	}
	printf("MySQL schema version %d\n", db_latest_version());
	mysql_close(my);
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	struct opts	 o;
	struct vbs_conf	*conf;
	char		 err[512];
	const char	*cmd;
	int		 ch, conf_given = 0, rc;

	memset(&o, 0, sizeof(o));
	o.conf_path = DEFAULT_CONF;
	o.method = PKT_BULK;
	o.workers = -1;
	while ((ch = getopt(argc, argv, "c:df:km:nP:s:vw:x")) != -1) {
		switch (ch) {
		case 'c':
			o.client = optarg;
			break;
		case 'd':
			o.foreground = 1;
			break;
		case 'f':
			o.conf_path = optarg;
			conf_given = 1;
			break;
		case 'k':
			o.keep = 1;
			break;
		case 'm':
			o.optfile = optarg;
			break;
		case 'n':
			o.check_only = 1;
			break;
		case 'P':
			if (strcmp(optarg, "infile") == 0)
				o.method = PKT_INFILE;
			else if (strcmp(optarg, "insert") == 0)
				o.method = PKT_INSERT;
			else if (strcmp(optarg, "bulk") == 0)
				o.method = PKT_BULK;
			else
				usage();
			break;
		case 's':
			o.spool = optarg;
			break;
		case 'v':
			o.verbose++;
			break;
		case 'w':
			o.workers = atoi(optarg);
			if (o.workers < 1 || o.workers > 64)
				usage();
			break;
		case 'x':
			o.drain = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 && !o.check_only)
		usage();
	cmd = argc > 0 ? argv[0] : "";

	/* No vbs.conf at the default place: the defaults (and options). */
	if (!conf_given && access(o.conf_path, F_OK) == -1)
		conf = conf_defaults();
	else
		conf = conf_load(o.conf_path, err, sizeof(err));
	if (conf == NULL) {
		fprintf(stderr, "ingestd: %s\n", err);
		return EXIT_CONFIG;
	}
	if (o.optfile == NULL)
		o.optfile = conf_str(conf, "ingestd", "mysql_options");
	if (o.spool == NULL)
		o.spool = conf_str(conf, "ingestd", "spool");
	if (o.workers < 0)
		o.workers = (int)conf_int(conf, "ingestd", "workers");
	o.max_batch = (uint64_t)conf_int(conf, "ingestd", "max_batch");
	o.migrate = conf_bool(conf, "ingestd", "migrate_at_start");
	if (o.check_only) {
		conf_print(conf, "ingestd", stdout);
		printf("# effective: mysql_options=%s spool=%s workers=%d "
		    "packets=%s\n", o.optfile, o.spool, o.workers,
		    o.method == PKT_INSERT ? "insert" : o.method == PKT_BULK ?
	    "bulk" : "infile");
		return EXIT_OK;
	}
	/* A configuration error: said once, where the admin sees it. */
	if (db_optfile_check(o.optfile, err, sizeof(err)) == -1) {
		fprintf(stderr, "ingestd: %s\n", err);
		conf_free(conf);
		return EXIT_CONFIG;
	}
	/* load and migrate are commands: their messages go to stderr. */
	log_init("ingestd", o.foreground || strcmp(cmd, "serve") != 0,
	    o.verbose);
	signal(SIGPIPE, SIG_IGN);
	if (mysql_library_init(0, NULL, NULL) != 0)
		fatalx("mysql_library_init");

	if (strcmp(cmd, "load") == 0) {
		set_signal(SIGTERM, on_signal);
		set_signal(SIGINT, on_signal);
		rc = cmd_load(&o, argc - 1, argv + 1);
	} else if (strcmp(cmd, "serve") == 0 && argc == 1)
		rc = cmd_serve(&o);
	else if (strcmp(cmd, "migrate") == 0 && argc == 1)
		rc = cmd_migrate(&o);
	else if (strcmp(cmd, "enroll-token") == 0)
		rc = cmd_enroll_token(o.optfile, argc, argv);
	else if (strcmp(cmd, "revoke") == 0)
		rc = cmd_revoke(o.optfile, argc, argv);
	else
		usage();
	conf_free(conf);
	mysql_library_end();
	return rc;
}
