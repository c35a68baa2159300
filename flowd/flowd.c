/*
 * flowd.c: the flow daemon's entry.  Parses options and vbs.conf, opens
 * its inputs (recordings with -r; else the sockets to capd and sockd,
 * whose peers it checks), recovers what a previous run left in the work
 * directory, gives up privileges (the vbs user, no capabilities,
 * no_new_privs, seccomp), tells its master it is ready (-R) and runs.
 * flowd trusts its configuration and the master that started it; its
 * input is the producers' and is decoded strictly.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <err.h>

#include "flowd.h"

#define DEFAULT_CONF	"/usr/local/etc/vbs.conf"
#define MAX_INPUTS	16
#define MAX_FLOWS	262144		/* ~60 MB of flow state at most */
#define RUN_FILE	"flowd.run"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: flowd [-dnv] [-f config] [-P policy] [-K keyfile] "
	    "[-o outbox]\n"
	    "             [-W workdir] [-C capd] [-S sockd] [-R readyfd] "
	    "[-r recording ...]\n");
	exit(EXIT_USAGE);
}

static uint64_t
ms_to_us(long long ms)
{
	return ms > 0 ? (uint64_t)ms * 1000 : 0;
}

/*
 * shipd's server, when server_url names it by a literal address: its
 * flows are VBS's own.  A host name is recognised by the label instead
 * (the socket's owner is shipd), since flowd resolves no names.
 */
static void
self_server(struct flowd_conf *c, const char *url)
{
	char host[256];
	const char *p, *end;
	size_t n;
	long port;

	if ((p = strstr(url, "://")) == NULL)
		return;
	port = strncmp(url, "https", 5) == 0 ? 443 : 80;
	p += 3;
	if (*p == '[') {
		if ((end = strchr(++p, ']')) == NULL)
			return;
		n = (size_t)(end - p);
		end++;
	} else {
		end = p + strcspn(p, ":/");
		n = (size_t)(end - p);
	}
	if (n == 0 || n >= sizeof(host))
		return;
	memcpy(host, p, n);
	host[n] = '\0';
	if (*end == ':')
		port = strtol(end + 1, NULL, 10);
	if (port <= 0 || port > 65535)
		return;
	memset(c->self_addr, 0, sizeof(c->self_addr));
	if (inet_pton(AF_INET, host, c->self_addr) == 1)
		c->self_ipver = 4;
	else if (inet_pton(AF_INET6, host, c->self_addr) == 1)
		c->self_ipver = 6;
	else
		return;
	c->self_port = (uint16_t)port;
}

/*
 * The run number: the high bits of every flow id, so ids stay unique
 * per client across restarts.  Kept in the work directory, written
 * (fsync, rename) before the first flow.
 */
static uint32_t
next_run(const char *work_dir)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], buf[32];
	unsigned long run = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", work_dir, RUN_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			run = strtoul(buf, NULL, 10);
		}
	}
	run = run % 0x3fffff + 1;	/* live runs stay below bit 22 */
	n = snprintf(buf, sizeof(buf), "%lu\n", run);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || write(fd, buf, (size_t)n) != n || fsync(fd) == -1 ||
	    close(fd) == -1 || rename(tmp, path) == -1)
		fatal("%s", path);
	return (uint32_t)run;
}

/* An input: "fd:N" or N inherited from vbsd, else a socket path. */
static int
open_input(const char *spec, const char *what, uid_t want)
{
	char errbuf[256];
	const char *num = strncmp(spec, "fd:", 3) == 0 ? spec + 3 : spec;
	char *end;
	long n;
	int s;

	n = strtol(num, &end, 10);
	if (*num != '\0' && *end == '\0' && n >= 0 && n < INT_MAX)
		s = (int)n;
	else if ((s = wire_connect(spec)) == -1)
		err(EXIT_SYSTEM, "cannot connect to %s at %s", what, spec);
	if (!wire_peer_allowed(s, want, errbuf, sizeof(errbuf)))
		errx(EXIT_CONFIG, "%s socket: %s", what, errbuf);
	return s;
}

static uid_t
user_uid(const char *user)
{
	struct passwd *pw;

	if ((pw = getpwnam(user)) == NULL)
		return (uid_t)-1;
	return pw->pw_uid;
}

int
main(int argc, char *argv[])
{
	static struct flowd fd;
	struct flowd_conf *c = &fd.conf;
	struct vbs_conf *conf;
	struct priv_spec ps;
	char *inputs[MAX_INPUTS], errbuf[512], workbuf[PATH_MAX];
	const char *cfile = NULL, *policy = NULL, *keyfile = NULL;
	const char *outbox = NULL, *workdir = NULL, *capspec = NULL;
	const char *sockspec = NULL, *pstr;
	uint8_t key[16];
	int ch, debug = 0, verbose = 0, checkonly = 0, ninputs = 0, rc;
	int capfd = -1, sockfd = -1, readyfd = -1;
	char *end;
	long l;

	while ((ch = getopt(argc, argv, "C:df:K:no:P:R:r:S:vW:")) != -1) {
		switch (ch) {
		case 'C':
			capspec = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'f':
			cfile = optarg;
			break;
		case 'K':
			keyfile = optarg;
			break;
		case 'n':
			checkonly = 1;
			break;
		case 'o':
			outbox = optarg;
			break;
		case 'P':
			policy = optarg;
			break;
		case 'R':
			l = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || l < 0 ||
			    l >= INT_MAX || fcntl((int)l, F_GETFD) == -1)
				errx(EXIT_USAGE, "-R %s: not an open descriptor",
				    optarg);
			readyfd = (int)l;
			break;
		case 'r':
			if (ninputs == MAX_INPUTS)
				errx(EXIT_USAGE, "at most %d recordings",
				    MAX_INPUTS);
			inputs[ninputs++] = optarg;
			break;
		case 'S':
			sockspec = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'W':
			workdir = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	c->replay = ninputs > 0;
	if (c->replay && (capspec != NULL || sockspec != NULL))
		errx(EXIT_USAGE, "-r replays recordings; -C and -S are live");

	/* Replay needs no configuration file; live reads the default. */
	if (cfile == NULL && !c->replay)
		cfile = DEFAULT_CONF;
	if (cfile != NULL)
		conf = conf_load(cfile, errbuf, sizeof(errbuf));
	else
		conf = conf_defaults();
	if (conf == NULL)
		errx(EXIT_CONFIG, "%s", errbuf);

	c->outbox = outbox != NULL ? outbox : conf_str(conf, "flowd",
	    "outbox");
	if (workdir == NULL && c->replay && outbox != NULL) {
		/* beside the batches, hidden from shipd's *.sqlite */
		snprintf(workbuf, sizeof(workbuf), "%s/.work", outbox);
		workdir = workbuf;
	}
	c->work_dir = workdir != NULL ? workdir : conf_str(conf, "flowd",
	    "work_dir");
	c->client_id = conf_str(conf, "flowd", "client_id");
	c->batch_size = (uint64_t)conf_int(conf, "flowd", "batch_size");
	c->batch_age_us = ms_to_us(conf_int(conf, "flowd", "batch_age"));
	c->idle_us[TC_TCP] = ms_to_us(conf_int(conf, "flowd", "tcp_idle"));
	c->idle_us[TC_UDP] = ms_to_us(conf_int(conf, "flowd", "udp_idle"));
	c->idle_us[TC_OTHER] = ms_to_us(conf_int(conf, "flowd",
	    "other_idle"));
	c->fin_grace_us = ms_to_us(conf_int(conf, "flowd", "fin_grace"));
	c->label_grace_us = ms_to_us(conf_int(conf, "flowd", "label_grace"));
	c->max_flows = MAX_FLOWS;
	pstr = policy != NULL ? policy : conf_str(conf, "flowd", "privacy");
	if ((c->privacy = privacy_parse(pstr)) == -1)
		errx(policy != NULL ? EXIT_USAGE : EXIT_CONFIG,
		    "unknown privacy policy %s (clear, prefix, hash, "
		    "truncate)", pstr);
	c->privacy_key_file = keyfile != NULL ? keyfile : conf_str(conf,
	    "flowd", "privacy_key_file");
	c->exclude_self = conf_bool(conf, "flowd", "exclude_self");
	self_server(c, conf_str(conf, "shipd", "server_url"));

	if (checkonly) {
		conf_print(conf, "flowd", stdout);
		printf("# effective: privacy %s, outbox %s, work_dir %s\n",
		    privacy_name(c->privacy), c->outbox, c->work_dir);
		exit(EXIT_OK);
	}
	if (!c->replay && (capspec == NULL || sockspec == NULL))
		errx(EXIT_USAGE, "live needs -C capd and -S sockd; "
		    "replay needs -r");

	log_init("flowd", debug || c->replay, verbose);
#if defined(__GLIBC__) && defined(M_TRIM_THRESHOLD)
	/*
	 * Keep freed memory at the top of the heap.  glibc gives it back
	 * to the kernel past 128 kB, and the next use faults it in again a
	 * page at a time: SQLite's page cache, freed with each batch, took
	 * 368 page faults in 30 s of the lab's steady run, 232 with this,
	 * on a VM where a fault is dear (page-table isolation).  The next
	 * batch reuses what is kept; the peak resident size was 0.3 MB more.
	 */
	mallopt(M_TRIM_THRESHOLD, 4 << 20);
#endif

	memset(key, 0, sizeof(key));
	if (c->privacy == PRIV_PREFIX || c->privacy == PRIV_HASH) {
		/* replay never invents a key: its output must repeat */
		if (privacy_load_key(c->privacy_key_file, !c->replay, key,
		    errbuf, sizeof(errbuf)) == -1)
			errx(EXIT_CONFIG, "privacy key: %s", errbuf);
	}
	if ((fd.priv = privacy_new(c->privacy, key)) == NULL ||
	    (fd.st = label_init()) == NULL)
		err(EXIT_SYSTEM, "out of memory");
	explicit_bzero(key, sizeof(key));
	flow_init(&fd);

	if (c->replay) {
		c->replay_hash = input_digest(inputs, ninputs) ^
		    (uint64_t)c->privacy;
		c->run = 0x400000 | (uint32_t)(c->replay_hash & 0x3fffff);
		if (batch_open(&fd, errbuf, sizeof(errbuf)) == -1)
			errx(EXIT_SYSTEM, "%s", errbuf);
		ready_notify(readyfd);
		rc = input_replay(&fd, inputs, ninputs);
	} else {
		const char *user = conf_str(conf, "vbsd", "user");
		uid_t me = geteuid();

		capfd = open_input(capspec, "capd", me == 0 ? user_uid(
		    conf_str(conf, "vbsd", "capd_user")) : me);
		sockfd = open_input(sockspec, "sockd", me == 0 ? user_uid(
		    conf_str(conf, "vbsd", "sockd_user")) : me);
		memset(&ps, 0, sizeof(ps));
		ps.user = me == 0 ? user : NULL;
		priv_drop(&ps);
		/* files are made as the user that will own them */
		if (mkdir(c->work_dir, 0700) == -1 && errno != EEXIST)
			fatal("%s", c->work_dir);
		c->run = next_run(c->work_dir);
		input_hello_load(&fd);
		if (batch_open(&fd, errbuf, sizeof(errbuf)) == -1)
			fatalx("%s", errbuf);
		live_prepare(&fd, capfd, sockfd);
		/* SQLite's temporary files, if any, where Landlock allows. */
		if (setenv("SQLITE_TMPDIR", c->work_dir, 1) == -1)
			fatal("setenv");
		sandbox_enter(flowd_sandbox(c->work_dir, c->outbox));
		log_info("running: outbox %s, privacy %s, run %" PRIu32,
		    c->outbox, privacy_name(c->privacy), c->run);
		ready_notify(readyfd);
		rc = input_live(&fd, capfd, sockfd);
	}
	batch_finish(&fd);
	appstats_write(&fd);
	if (!fd.conf.replay)
		stats_write(&fd);
	log_info("%" PRIu64 " packets, %" PRIu64 " flows (%" PRIu64
	    " labelled), %" PRIu64 " batches", fd.cnt.packets, fd.cnt.flows,
	    fd.cnt.flows_labelled, batch_count(&fd));
	flow_free_all(&fd);
	label_free(fd.st);
	privacy_free(fd.priv);
	appstats_free(&fd);
	conf_free(conf);
	return rc;
}
