/*
 * vbsctl.c: the admin's and the volunteer's command.  `vbsctl dump
 * FILE...` prints every record of recordings as one JSON object per line,
 * with a stable field order, for people, for tests (the golden lists diff
 * this text) and for scripts; it trusts nothing in the file: the strict
 * decoder reads it, and a damaged file ends the dump with a message
 * naming the offset, after every good record has been printed.
 * `vbsctl status|start|stop|restart|reload|shutdown` talk to vbsd over its
 * control socket (root or the admin group).
 */

#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

static void usage(void) __attribute__((noreturn));

#include "vbsd.h"

static const char	*conf_path = "/etc/vbs/vbs.conf";
static const char	*sock_path;
static int		 json_out;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: vbsctl [-j | --json] [-f config] [-s socket] command "
	    "[args]\n"
	    "commands: status, start STAGE, stop STAGE, restart STAGE,\n"
	    "          reload, shutdown, stats, top [-i secs] [-n count],\n"
	    "          enroll URL TOKEN, dump RECORDING ...\n");
	exit(EXIT_USAGE);
}

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void
json_str(const char *s)
{
	const unsigned char	*p;

	putchar('"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void
json_addr(const char *key, uint8_t ipver, const uint8_t *a)
{
	char	buf[64];

	printf(",\"%s\":\"%s\"", key, addr_ntop(ipver, a, buf, sizeof(buf)));
}

static const char *
dir_name(uint8_t d)
{
	return d == DIR_OUT ? "out" : d == DIR_IN ? "in" : "unknown";
}

static const char *
event_name(uint8_t e)
{
	return e == SOCK_OPEN ? "open" : e == SOCK_CLOSE ? "close" :
	    "snapshot";
}

static const char *
source_name(uint8_t s)
{
	static const char *n[] = { "?", "dump", "destroy", "lookup", "ebpf" };

	return s < sizeof(n) / sizeof(n[0]) ? n[s] : "?";
}

static void
dump_sock(const struct sock_rec *s)
{
	printf("\"ts\":%llu,\"event\":\"%s\",\"source\":\"%s\","
	    "\"ipver\":%u,\"proto\":%u,\"state\":%u",
	    (unsigned long long)s->ts_us, event_name(s->event),
	    source_name(s->source), s->ipver, s->proto, s->state);
	json_addr("laddr", s->ipver, s->laddr);
	printf(",\"lport\":%u", s->lport);
	json_addr("raddr", s->ipver, s->raddr);
	printf(",\"rport\":%u,\"inode\":%llu,\"cookie\":%llu,\"uid\":%u,"
	    "\"pid\":%d,\"comm\":", s->rport, (unsigned long long)s->inode,
	    (unsigned long long)s->cookie, s->uid, s->pid);
	json_str(s->comm);
	printf(",\"exe\":");
	json_str(s->exe);
}

static void
dump_record(const struct vbs_rec *r)
{
	const struct hello_rec	*h;
	const struct pkt_rec	*p;
	const struct lookup_rec	*l;
	const struct answer_rec	*a;
	uint32_t		 i;
	char			 buf[64];

	switch (r->type) {
	case MSG_HELLO:
		h = &r->u.hello;
		printf("{\"type\":\"hello\",\"ts\":%llu,\"version\":%u,"
		    "\"producer\":", (unsigned long long)h->ts_us, h->version);
		json_str(h->producer);
		printf(",\"host\":");
		json_str(h->host);
		printf(",\"os\":");
		json_str(h->os);
		printf(",\"software\":");
		json_str(h->software);
		printf(",\"ifaces\":[");
		for (i = 0; i < h->nifaces; i++) {
			printf(i ? "," : "");
			json_str(h->ifaces[i]);
		}
		printf("],\"nets\":[");
		for (i = 0; i < h->nnets; i++)
			printf("%s\"%s/%u\"", i ? "," : "",
			    addr_ntop(h->nets[i].ipver, h->nets[i].addr, buf,
			    sizeof(buf)), h->nets[i].prefixlen);
		printf("]}\n");
		break;
	case MSG_PACKETS:
		p = &r->u.pkt;
		printf("{\"type\":\"packet\",\"ts\":%llu,\"iface\":%u,"
		    "\"dir\":\"%s\",\"ipver\":%u,\"proto\":%u",
		    (unsigned long long)p->ts_us, p->iface, dir_name(p->dir),
		    p->ipver, p->proto);
		json_addr("src", p->ipver, p->src);
		printf(",\"sport\":%u", p->sport);
		json_addr("dst", p->ipver, p->dst);
		printf(",\"dport\":%u,\"len\":%u,\"flags\":\"0x%02x\","
		    "\"frag\":%u,\"fragid\":%u}\n", p->dport, p->iplen,
		    p->tcpflags, p->frag, p->fragid);
		break;
	case MSG_SOCKETS:
		printf("{\"type\":\"socket\",");
		dump_sock(&r->u.sock);
		printf("}\n");
		break;
	case MSG_LOOKUP:
		l = &r->u.lookup;
		printf("{\"type\":\"lookup\",\"ts\":%llu,\"id\":%u,"
		    "\"ipver\":%u,\"proto\":%u", (unsigned long long)l->ts_us,
		    l->id, l->ipver, l->proto);
		json_addr("laddr", l->ipver, l->laddr);
		printf(",\"lport\":%u", l->lport);
		json_addr("raddr", l->ipver, l->raddr);
		printf(",\"rport\":%u}\n", l->rport);
		break;
	case MSG_ANSWER:
		a = &r->u.answer;
		printf("{\"type\":\"answer\",\"ts\":%llu,\"id\":%u,"
		    "\"latency_us\":%u,\"found\":%s",
		    (unsigned long long)a->ts_us, a->id, a->latency_us,
		    a->found ? "true" : "false");
		if (a->found) {
			printf(",\"sock\":{");
			dump_sock(&a->sock);
			printf("}");
		}
		printf("}\n");
		break;
	case MSG_STATS:
		printf("{\"type\":\"stats\",\"ts\":%llu,\"counters\":{",
		    (unsigned long long)r->u.stats.ts_us);
		for (i = 0; i < r->u.stats.ncounters; i++) {
			printf(i ? "," : "");
			json_str(r->u.stats.counters[i].name);
			printf(":%llu", (unsigned long long)
			    r->u.stats.counters[i].value);
		}
		printf("}}\n");
		break;
	case MSG_BYE:
		printf("{\"type\":\"bye\",\"ts\":%llu,\"reason\":",
		    (unsigned long long)r->u.bye.ts_us);
		json_str(r->u.bye.reason);
		printf("}\n");
		break;
	}
}

/* Dump recordings merged in time order; EXIT_INPUT on a damaged one. */
static int
cmd_dump(int argc, char **argv)
{
	struct rec_merge	*m;
	struct vbs_rec		*r;
	char			 ebuf[512];
	int			 rc;

	if (argc < 1)
		usage();
	if ((r = malloc(sizeof(*r))) == NULL)
		err(EXIT_SYSTEM, "malloc");
	if ((m = merge_open(argv, argc, ebuf, sizeof(ebuf))) == NULL)
		errx(EXIT_INPUT, "%s", ebuf);
	while ((rc = merge_next(m, r, NULL)) == 1)
		dump_record(r);
	if (fflush(stdout) == EOF)
		err(EXIT_SYSTEM, "stdout");
	if (rc == -1) {
		warnx("%s", merge_error(m));
		merge_close(m);
		free(r);
		return EXIT_INPUT;
	}
	merge_close(m);
	free(r);
	return EXIT_OK;
}

/* The control socket: -s, else the configuration's control_socket. */
static int
control_connect(void)
{
	struct sockaddr_un	 sun;
	struct vbs_conf		*conf;
	char			 ebuf[512];
	int			 fd;

	if (sock_path == NULL) {
		if ((conf = conf_load(conf_path, ebuf, sizeof(ebuf))) == NULL)
			errx(EXIT_CONFIG, "%s", ebuf);
		sock_path = strdup(conf_str(conf, "vbsd", "control_socket"));
		conf_free(conf);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (sock_path == NULL || strlen(sock_path) >= sizeof(sun.sun_path))
		errx(EXIT_USAGE, "bad control socket path");
	strcpy(sun.sun_path, sock_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		err(EXIT_SYSTEM, "socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		err(EXIT_SYSTEM, "cannot reach vbsd at %s", sock_path);
	return fd;
}

/* Pull "key":value out of one JSON line written by vbsd. */
static void
field(const char *line, const char *key, char *out, size_t len)
{
	char		 pat[64];
	const char	*p, *e;

	out[0] = '\0';
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	if ((p = strstr(line, pat)) == NULL)
		return;
	p += strlen(pat);
	if (*p == '"') {
		p++;
		for (e = p; *e != '\0' && *e != '"'; e++)
			if (*e == '\\' && e[1] != '\0')
				e++;
	} else
		for (e = p; *e != '\0' && *e != ',' && *e != '}'; e++)
			;
	snprintf(out, len, "%.*s", (int)(e - p), p);
}

/*
 * Send one command and print the answer: JSON lines with -j, else a
 * table.  Exit 0 when vbsd said ok, 1 when it refused.
 */
static int
cmd_control(int argc, char **argv)
{
	FILE	*fp;
	char	 line[1024], cmd[256], v[7][160];
	int	 fd, ok = 0, header = 0, i;

	cmd[0] = '\0';
	for (i = 0; i < argc; i++) {
		strncat(cmd, argv[i], sizeof(cmd) - strlen(cmd) - 2);
		strncat(cmd, i + 1 < argc ? " " : "\n",
		    sizeof(cmd) - strlen(cmd) - 1);
	}
	fd = control_connect();
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		err(EXIT_SYSTEM, "write to vbsd");
	if ((fp = fdopen(fd, "r")) == NULL)
		err(EXIT_SYSTEM, "fdopen");
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "{\"ok\":", 6) == 0) {
			ok = strncmp(line, "{\"ok\":true", 10) == 0;
			if (!ok) {
				field(line, "error", v[0], sizeof(v[0]));
				fprintf(stderr, "vbsctl: %s\n", v[0]);
			} else if (json_out && strstr(line, "\"reload\":"))
				fputs(line, stdout);
			else {
				/* what a reload did */
				field(line, "reload", v[0], sizeof(v[0]));
				if (v[0][0] != '\0')
					printf("%s\n", v[0]);
			}
			continue;
		}
		if (json_out) {
			fputs(line, stdout);
			continue;
		}
		if (!header++)
			printf("%-6s %-9s %7s %9s %8s  %s\n", "STAGE", "STATE",
			    "PID", "UPTIME", "RESTARTS", "LAST EXIT");
		field(line, "stage", v[0], sizeof(v[0]));
		field(line, "state", v[1], sizeof(v[1]));
		field(line, "pid", v[2], sizeof(v[2]));
		field(line, "uptime_s", v[3], sizeof(v[3]));
		field(line, "restarts", v[4], sizeof(v[4]));
		field(line, "last_exit", v[5], sizeof(v[5]));
		field(line, "enabled", v[6], sizeof(v[6]));
		if (strcmp(v[6], "false") == 0)
			snprintf(v[1], sizeof(v[1]), "disabled");
		printf("%-6s %-9s %7s %8ss %8s  %s\n", v[0], v[1],
		    strcmp(v[2], "0") ? v[2] : "-", v[3], v[4],
		    v[5][0] ? v[5] : "-");
	}
	fclose(fp);
	return ok ? EXIT_OK : 1;
}

int
main(int argc, char **argv)
{
	int	ch, i;

	/* --json is the long spelling of -j, before the command. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++)
		if (strcmp(argv[i], "--json") == 0)
			argv[i] = "-j";
	while ((ch = getopt(argc, argv, "+f:js:")) != -1) {
		switch (ch) {
		case 'f':
			conf_path = optarg;
			break;
		case 'j':
			json_out = 1;
			break;
		case 's':
			sock_path = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (strcmp(argv[0], "dump") == 0)
		return cmd_dump(argc - 1, argv + 1);
	if (strcmp(argv[0], "top") == 0 || strcmp(argv[0], "stats") == 0) {
		struct vbs_conf	*conf;
		char		 ebuf[512];
		int		 rc;

		if ((conf = conf_load(conf_path, ebuf, sizeof(ebuf))) == NULL)
			errx(EXIT_CONFIG, "%s", ebuf);
		if (argv[0][0] == 's')
			rc = cmd_stats(conf, json_out, argc, argv);
		else
			rc = cmd_top(conf, argc, argv);
		conf_free(conf);
		return rc;
	}
	if (strcmp(argv[0], "enroll") == 0)
		return cmd_enroll(argc, argv);

	if ((strcmp(argv[0], "status") == 0 && argc == 1) ||
	    (strcmp(argv[0], "reload") == 0 && argc == 1) ||
	    (strcmp(argv[0], "shutdown") == 0 && argc == 1) ||
	    ((strcmp(argv[0], "start") == 0 || strcmp(argv[0], "stop") == 0 ||
	    strcmp(argv[0], "restart") == 0) && argc == 2))
		return cmd_control(argc, argv);
	usage();
}
