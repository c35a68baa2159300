/*
 * capd.c: the capture daemon's entry.  Parses options and vbs.conf,
 * opens the capture (a file with -r, else live interfaces), the output
 * (a recording with -w, an inherited socket with -S, or --connect),
 * then gives up every privilege: chroot to an empty directory, its own
 * user, no capabilities, no_new_privs and a seccomp allow-list.  Only
 * then does it read a packet.  capd trusts nothing it captures; it
 * trusts its configuration and the master that started it.
 */

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "capd.h"

#ifdef VBS_ASAN
/* LeakSanitizer needs /proc at exit, which the chroot hides: check now. */
#include <sanitizer/lsan_interface.h>
#define leak_check_before_chroot()	__lsan_do_leak_check()
#else
#define leak_check_before_chroot()	do { } while (0)
#endif

#define DEFAULT_CONF	"/usr/local/etc/vbs.conf"

static struct capd	capd;

static void __attribute__((noreturn))
nomem(void)
{
	fprintf(stderr, "capd: out of memory\n");
	exit(EXIT_SYSTEM);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: capd [-dnv] [-f config] [-i interface] [-L prefix] "
	    "[-R fd] [-S fd]\n"
	    "            [--connect path] [-r capture] [-w recording]\n");
	exit(EXIT_USAGE);
}

static void
add_prefix(struct capd *c, const char *s, const char *what)
{
	struct local_net n;

	if (prefix_parse(s, &n) == -1) {
		fprintf(stderr, "capd: %s: not a prefix: %s\n", what, s);
		exit(what[0] == '-' ? EXIT_USAGE : EXIT_CONFIG);
	}
	if (c->ndirnets >= VBS_MAX_NETS) {
		fprintf(stderr, "capd: more than %d local networks\n",
		    VBS_MAX_NETS);
		exit(EXIT_USAGE);
	}
	c->dirnets[c->ndirnets++] = n;
	if (n.prefixlen < (n.ipver == 4 ? 32 : 128) &&
	    c->nsubnets < VBS_MAX_NETS)
		c->subnets[c->nsubnets++] = n;
}

/* Space-separated words of a configuration value, each to fn. */
static void
each_word(struct capd *c, const char *value, const char *what,
    void (*fn)(struct capd *, const char *, const char *))
{
	char	*copy, *w, *save = NULL;

	if (value == NULL || value[0] == '\0')
		return;
	if ((copy = strdup(value)) == NULL)
		nomem();
	for (w = strtok_r(copy, " \t,", &save); w != NULL;
	    w = strtok_r(NULL, " \t,", &save))
		fn(c, w, what);
	/* copy stays: interface names point into it */
}

static void
add_iface(struct capd *c, const char *name, const char *what)
{
	(void)what;
	if (c->nifnames >= VBS_MAX_IFACES) {
		fprintf(stderr, "capd: more than %d interfaces\n",
		    VBS_MAX_IFACES);
		exit(EXIT_USAGE);
	}
	c->ifnames[c->nifnames++] = name;
}

static void
load_config(struct capd *c)
{
	struct vbs_conf	*conf;
	char		 err[512];
	long long	 v;

	if (c->conf_path != NULL) {
		if ((conf = conf_load(c->conf_path, err, sizeof(err))) ==
		    NULL) {
			fprintf(stderr, "capd: %s\n", err);
			exit(EXIT_CONFIG);
		}
	} else if (access(DEFAULT_CONF, R_OK) == 0) {
		c->conf_path = DEFAULT_CONF;
		if ((conf = conf_load(c->conf_path, err, sizeof(err))) ==
		    NULL) {
			fprintf(stderr, "capd: %s\n", err);
			exit(EXIT_CONFIG);
		}
	} else
		conf = conf_defaults();
	if (conf == NULL) {
		fprintf(stderr, "capd: no configuration\n");
		exit(EXIT_CONFIG);
	}
	if (c->check_only) {
		conf_print(conf, "capd", stdout);
	}
	if (c->nifnames == 0 && c->rfile == NULL) {
		each_word(c, conf_str(conf, "capd", "interfaces"),
		    "interfaces", add_iface);
		if (c->nifnames == 0 && conf_bool(conf, "capd", "loopback"))
			c->nifnames = -1;	/* default set plus loopback */
	}
	if (c->rfile == NULL)
		each_word(c, conf_str(conf, "capd", "local_networks"),
		    "local_networks", add_prefix);
	c->snaplen = (int)conf_int(conf, "capd", "snaplen");
	c->buffer_size = (int)conf_int(conf, "capd", "buffer_size");
	c->immediate = conf_bool(conf, "capd", "immediate");
	v = conf_int(conf, "capd", "timeout");	/* milliseconds */
	c->timeout_ms = (int)(v > 0 ? v : 1);
	c->queue_size = (size_t)conf_int(conf, "capd", "queue_size");
	c->local_subnet_traffic = conf_bool(conf, "capd",
	    "local_subnet_traffic");
	c->exclude_server = conf_bool(conf, "capd", "exclude_server");
	c->chroot_dir = strdup(conf_str(conf, "capd", "chroot"));
	c->stats_interval_us = (uint64_t)conf_int(conf, "capd",
	    "stats_interval") * 1000;
	c->user = strdup(conf_str(conf, "vbsd", "capd_user"));
	c->server_url = strdup(conf_str(conf, "shipd", "server_url"));
	if (c->chroot_dir == NULL || c->user == NULL || c->server_url == NULL)
		nomem();
	conf_free(conf);
}

/*
 * Give up everything.  Live capture insists on the user and the chroot
 * of vbs.conf; reading a file as root uses them when they exist (a
 * hostile file is decoded unprivileged), and as another user keeps it.
 * The seccomp filter is always entered.
 */
static void
drop_privileges(struct capd *c)
{
	struct priv_spec	 ps;
	struct stat		 st;
	static char		 jail[PATH_MAX];
	int			 root = geteuid() == 0;

	memset(&ps, 0, sizeof(ps));
	if (root) {
		ps.user = c->user;
		if (c->rfile != NULL && getpwnam(c->user) == NULL) {
			log_debug("no user %s: reading as root", c->user);
			ps.user = NULL;
		}
		if (c->connect_path != NULL) {
			/* Reconnecting needs the socket inside the jail. */
			snprintf(jail, sizeof(jail), "%s", c->connect_path);
			if (strrchr(jail, '/') != NULL)
				*strrchr(jail, '/') = '\0';
			if (jail[0] == '\0')
				snprintf(jail, sizeof(jail), "/");
			ps.chroot = jail;
			c->connect_path = c->connect_path +
			    strlen(jail) - (strcmp(jail, "/") == 0);
			c->em.connect_path = c->connect_path;
		} else if (c->chroot_dir[0] != '\0') {
			ps.chroot = c->chroot_dir;
			if (c->rfile != NULL && stat(ps.chroot, &st) == -1) {
				log_debug("no %s: no chroot", ps.chroot);
				ps.chroot = NULL;
			}
		}
	}
	if (ps.chroot != NULL)
		leak_check_before_chroot();
	priv_drop(&ps);
	sandbox_enter(capd_sandbox());
}

static void
hello(struct capd *c)
{
	struct hello_rec h;
	int		 i;

	host_facts(&h, "capd");
	if (c->rfile != NULL && c->last_ts_us != 0)
		h.ts_us = c->last_ts_us;
	for (i = 0; i < c->nifs && i < VBS_MAX_IFACES; i++)
		snprintf(h.ifaces[i], VBS_IFNAME_MAX, "%s", c->ifs[i].name);
	h.nifaces = (uint32_t)i;
	for (i = 0; i < c->ndirnets && i < VBS_MAX_NETS; i++)
		h.nets[i] = c->dirnets[i];
	h.nnets = (uint32_t)i;
	emit_hello(&c->em, &h);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "connect", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct capd	*c = &capd;
	char		*end;
	long		 fd;
	int		 ch, rc, i, ready_fd = -1;
	uint64_t	 ts;

	c->inherit_fd = -1;
	c->addr_fd = -1;
	while ((ch = getopt_long(argc, argv, "df:hi:L:nr:R:S:vw:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'd':
			c->foreground = 1;
			break;
		case 'f':
			c->conf_path = optarg;
			break;
		case 'i':
			add_iface(c, optarg, "-i");
			break;
		case 'L':
			add_prefix(c, optarg, "-L");
			break;
		case 'n':
			c->check_only = 1;
			break;
		case 'r':
			c->rfile = optarg;
			break;
		case 'R':
			errno = 0;
			fd = strtol(optarg, &end, 10);
			if (errno || *end || fd < 0 || fd > INT_MAX)
				usage();
			ready_fd = (int)fd;
			break;
		case 'S':
			errno = 0;
			fd = strtol(optarg, &end, 10);
			if (errno || *end || fd < 0 || fd > INT_MAX)
				usage();
			c->inherit_fd = (int)fd;
			break;
		case 'C':
			c->connect_path = optarg;
			break;
		case 'v':
			c->verbose++;
			break;
		case 'w':
			c->wfile = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (c->inherit_fd != -1 && c->connect_path != NULL) {
		fprintf(stderr, "capd: -S and --connect exclude each other\n");
		exit(EXIT_USAGE);
	}
	/* A file run is a command: its messages go to stderr. */
	log_init("capd", c->foreground || c->rfile != NULL, c->verbose);
	load_config(c);
	if (c->check_only) {
		printf("# command line\n");
		printf("read = %s\nwrite = %s\nconnect = %s\nsocket_fd = %d\n",
		    c->rfile ? c->rfile : "", c->wfile ? c->wfile : "",
		    c->connect_path ? c->connect_path : "", c->inherit_fd);
		for (i = 0; i < c->nifnames; i++)
			printf("interface = %s\n", c->ifnames[i]);
		for (i = 0; i < c->ndirnets; i++) {
			char a[64];

			addr_ntop(c->dirnets[i].ipver, c->dirnets[i].addr, a,
			    sizeof(a));
			printf("local = %s/%u\n", a, c->dirnets[i].prefixlen);
		}
		exit(EXIT_OK);
	}
	if (c->wfile == NULL && c->inherit_fd == -1 &&
	    c->connect_path == NULL) {
		fprintf(stderr, "capd: no output: give -w, -S or --connect\n");
		usage();
	}
	decode_init(&c->dec);

	if (c->rfile != NULL) {
		if (capture_open_file(c, c->rfile) == -1)
			exit(EXIT_INPUT);
	} else {
		if (c->nifnames == -1) {
			c->nifnames = 0;
			capture_default_ifaces(c, 1);
		}
		filter_host_addrs(c);
		capture_open_live(c);
		c->dec.wire_true = 1;
		c->addr_fd = filter_watch_open();
	}
	emit_open(&c->em, c->wfile, c->inherit_fd, c->connect_path,
	    c->queue_size);
	drop_privileges(c);

	hello(c);
	ready_notify(ready_fd);
	if (c->rfile != NULL) {
		rc = capture_file_loop(c);
		ts = c->last_ts_us;
	} else {
		log_info("capturing on %d interface%s", c->nifs,
		    c->nifs == 1 ? "" : "s");
		rc = capture_live_loop(c);
		ts = now_us();
	}
	emit_flush(&c->em);
	emit_stats(c, ts);
	emit_close(&c->em, ts, rc == EXIT_OK ? "end of capture" :
	    rc == EXIT_INPUT ? "capture file damaged" :
	    rc == EXIT_ADDRS ? "host addresses changed" : "error");
	for (i = 0; i < c->nifs; i++)
		if (c->ifs[i].pcap != NULL)
			pcap_close(c->ifs[i].pcap);
	return rc;
}
