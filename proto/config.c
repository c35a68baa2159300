/*
 * config.c: vbs.conf, the one configuration file of every VBS process.
 * Every process reads it at start, before it drops privileges; vbsd and
 * the stages each look only at their own section.  The file is trusted
 * as much as root trusts it, but it is written by people, so every line
 * is checked: an unknown section or key, a value of the wrong type or
 * out of range, a repeated key or a line that is not "key = value" is
 * an error naming the file and the line, and nothing is half-loaded.
 *
 * Every key lives in keys[] below with its type, range, default and a
 * one-line doc; vbs.conf.5 documents the same table.  Add a key there
 * and in the man page, nowhere else.
 */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "proto.h"

enum conf_type {
	CT_STR,			/* any text, "" allowed */
	CT_ENUM,		/* one of choices, "a|b|c" */
	CT_INT,			/* decimal integer */
	CT_BOOL,		/* true/false, yes/no, on/off, 1/0 */
	CT_SIZE,		/* bytes, suffix k, M, G (powers of 1024) */
	CT_DUR			/* milliseconds, suffix ms, s, m, h */
};

struct conf_key {
	const char	*section;
	const char	*name;
	enum conf_type	 type;
	long long	 min, max;	/* in base units: bytes, ms */
	const char	*def;		/* as it would be written in the file */
	const char	*choices;	/* CT_ENUM only */
	const char	*doc;
};

#define KB	1024LL
#define MB	(1024LL * KB)
#define GB	(1024LL * MB)
#define SEC	1000LL
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)
#define DAY	(24 * HOUR)

#define K_STR(s, n, d, doc)		{ s, n, CT_STR, 0, 0, d, NULL, doc }
#define K_ENUM(s, n, c, d, doc)		{ s, n, CT_ENUM, 0, 0, d, c, doc }
#define K_INT(s, n, lo, hi, d, doc)	{ s, n, CT_INT, lo, hi, d, NULL, doc }
#define K_BOOL(s, n, d, doc)		{ s, n, CT_BOOL, 0, 1, d, NULL, doc }
#define K_SIZE(s, n, lo, hi, d, doc)	{ s, n, CT_SIZE, lo, hi, d, NULL, doc }
#define K_DUR(s, n, lo, hi, d, doc)	{ s, n, CT_DUR, lo, hi, d, NULL, doc }

/* Sections appear in this order in conf_print(). */
static const struct conf_key keys[] = {
	K_STR("vbsd", "user", "vbs", "user that flowd and shipd run as"),
	K_STR("vbsd", "capd_user", "vbs-capd", "user that capd runs as"),
	K_STR("vbsd", "sockd_user", "vbs-sockd", "user that sockd runs as"),
	K_STR("vbsd", "runtime_dir", "/run/vbs",
	    "directory of the sockets and pid file, made at start"),
	K_STR("vbsd", "data_dir", "/var/lib/vbs",
	    "directory of batches, keys and credentials, made at start"),
	K_STR("vbsd", "control_socket", "/run/vbs/vbsd.sock",
	    "Unix socket that vbsctl talks to"),
	K_STR("vbsd", "admin_group", "",
	    "group allowed to use the control socket; empty: root only"),
	K_DUR("vbsd", "restart_min", 1 * SEC, HOUR, "1s",
	    "first delay before a dead stage is restarted"),
	K_DUR("vbsd", "restart_max", 1 * SEC, DAY, "60s",
	    "longest delay between restarts as they back off"),
	K_DUR("vbsd", "stop_grace", 0, 10 * MIN, "5s",
	    "time between SIGTERM and SIGKILL when stopping a stage"),
	K_DUR("vbsd", "start_timeout", 1 * SEC, HOUR, "60s",
	    "time a starting stage has to say ready before it is stopped"),
	K_STR("vbsd", "stages", "flowd sockd capd shipd",
	    "the stages vbsd runs, started in this order"),

	K_STR("capd", "interfaces", "",
	    "space-separated interfaces, or any; empty: every up interface"),
	K_BOOL("capd", "loopback", "false",
	    "also capture loopback interfaces when interfaces is empty"),
	K_INT("capd", "snaplen", 64, 262144, "256",
	    "bytes captured of each packet; only headers are decoded"),
	K_SIZE("capd", "buffer_size", 1 * MB, 1 * GB, "4M",
	    "kernel capture buffer of each interface"),
	K_BOOL("capd", "immediate", "false",
	    "deliver packets as they arrive rather than in blocks"),
	K_DUR("capd", "timeout", 1, 10 * SEC, "500ms",
	    "longest a packet waits in the kernel buffer"),
	K_SIZE("capd", "queue_size", 64 * KB, 1 * GB, "16M",
	    "bound of the records waiting for flowd; beyond it they drop"),
	K_BOOL("capd", "local_subnet_traffic", "false",
	    "keep traffic between two hosts of a local subnet"),
	K_BOOL("capd", "exclude_server", "true",
	    "leave out VBS's own uploads to the server"),
	K_STR("capd", "chroot", "/run/vbs/empty",
	    "empty root-owned directory capd chroots to; empty: none"),
	K_DUR("capd", "stats_interval", 0, HOUR, "10s",
	    "how often counters are sent; 0: never"),
	K_STR("capd", "local_networks", "",
	    "space-separated extra local prefixes, as 10.0.0.0/8"),

	K_DUR("sockd", "dump_interval", 10, MIN, "100ms",
	    "how often the full socket tables are read"),
	K_BOOL("sockd", "destroy_events", "true",
	    "listen to the kernel's socket-destroy events (Linux)"),
	K_BOOL("sockd", "cmdline", "false",
	    "record each owner's command line (may hold private data)"),
	K_SIZE("sockd", "queue_size", 64 * KB, 1 * GB, "16M",
	    "bound of the events waiting for flowd; beyond it they drop"),
	K_BOOL("sockd", "ebpf", "true",
	    "use the eBPF backend where the kernel allows it"),
	K_DUR("sockd", "stats_interval", 0, HOUR, "10s",
	    "how often counters are sent; 0: never"),

	K_STR("flowd", "outbox", "/var/lib/vbs/outbox",
	    "directory closed batches are renamed into, for shipd"),
	K_STR("flowd", "work_dir", "/var/lib/vbs/work",
	    "directory of the batch being written; same file system"),
	K_SIZE("flowd", "batch_size", 16 * KB, 1 * GB, "700k",
	    "a batch this large is closed and moved to the outbox"),
	K_DUR("flowd", "batch_age", 1 * SEC, DAY, "5m",
	    "a batch this old is closed even when small"),
	K_DUR("flowd", "tcp_idle", 1 * SEC, DAY, "5m",
	    "a TCP flow with no packet for this long ends"),
	K_DUR("flowd", "udp_idle", 1 * SEC, DAY, "2m",
	    "a UDP flow with no packet for this long ends"),
	K_DUR("flowd", "other_idle", 1 * SEC, DAY, "1m",
	    "a flow of another protocol with no packet for this long ends"),
	K_DUR("flowd", "fin_grace", 0, MIN, "2s",
	    "wait after FIN both ways or RST before a TCP flow ends"),
	K_DUR("flowd", "label_grace", 0, MIN, "1s",
	    "wait for sockd's answer before a flow is left unlabelled"),
	K_ENUM("flowd", "privacy", "clear|prefix|hash|truncate", "prefix",
	    "how remote addresses are written"),
	K_STR("flowd", "privacy_key_file", "/var/lib/vbs/work/privacy.key",
	    "secret key of the prefix and hash policies, made if missing"),
	K_BOOL("flowd", "exclude_self", "true",
	    "leave out flows of VBS's own processes"),
	K_STR("flowd", "client_id", "",
	    "client id written in each batch; empty: from credentials"),

	K_STR("shipd", "server_url", "",
	    "HTTPS URL of the server, as https://host:8443; empty: keep them"),
	K_STR("shipd", "ca_file", "",
	    "CA certificates of the server; empty: the system's"),
	K_STR("shipd", "pin", "",
	    "server public key pin, sha256//BASE64; empty: none"),
	K_STR("shipd", "credentials", "/var/lib/vbs/credentials",
	    "file of the client id and secret issued at enrolment"),
	K_SIZE("shipd", "outbox_limit", 1 * MB, 1024 * GB, "256M",
	    "most disk the outbox may use"),
	K_ENUM("shipd", "full_policy", "stop|drop-oldest", "stop",
	    "at outbox_limit: stop new batches, or delete the oldest"),
	K_DUR("shipd", "retry_min", 1 * SEC, HOUR, "5s",
	    "first delay before a failed upload is retried"),
	K_DUR("shipd", "retry_max", 1 * SEC, DAY, "1h",
	    "longest delay between retries as they back off"),
	K_BOOL("shipd", "compress", "false",
	    "compress uploads"),

	K_STR("ingestd", "listen", "0.0.0.0:8443",
	    "address and port to serve HTTPS on; IPv6 as [addr]:port"),
	K_STR("ingestd", "cert_file", "/etc/vbs/ingestd.crt",
	    "server certificate chain, PEM"),
	K_STR("ingestd", "key_file", "/etc/vbs/ingestd.key",
	    "server private key, PEM"),
	K_STR("ingestd", "spool", "/var/lib/vbs-ingest/spool",
	    "directory uploads are stored in before they are loaded"),
	K_STR("ingestd", "mysql_options", "/etc/vbs/ingestd.cnf",
	    "MySQL option file: server, database, user, password"),
	K_SIZE("ingestd", "max_batch", 1 * KB, 1 * GB, "16M",
	    "largest upload accepted"),
	K_INT("ingestd", "rate_per_client", 0, 1000000, "60",
	    "uploads accepted per client per minute; 0: no limit"),
	K_DUR("ingestd", "timeout", 1 * SEC, HOUR, "30s",
	    "a request must send its headers within this; idle connections close"),
	K_SIZE("ingestd", "min_rate", 0, 1 * GB, "4k",
	    "slowest body, bytes a second, averaged after timeout; 0: any"),
	K_INT("ingestd", "workers", 1, 64, "2",
	    "loader processes"),
	K_BOOL("ingestd", "migrate_at_start", "false",
	    "create or upgrade the MySQL tables at start"),
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

struct conf_val {
	char		*str;		/* CT_STR, CT_ENUM */
	long long	 num;		/* the other types */
	int		 line;		/* line that set it; 0: default */
};

struct vbs_conf {
	struct conf_val	 val[NKEYS];
};

/* State of one conf_load(): the reader and handler share it. */
struct conf_parse {
	struct vbs_conf	*conf;
	const char	*path;
	FILE		*fp;
	char		*line;
	size_t		 linecap;
	int		 lineno;
	int		 failed;
	char		*err;
	size_t		 errlen;
};

static int
key_index(const char *section, const char *name)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int
section_known(const char *section)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0)
			return 1;
	return 0;
}

/*
 * Units of sizes and durations, largest first; of two spellings the
 * first is the one conf_print() writes.
 */
static const struct unit {
	enum conf_type	 type;
	const char	*suffix;
	long long	 mult;
} units[] = {
	{ CT_SIZE, "G", GB }, { CT_SIZE, "g", GB },
	{ CT_SIZE, "M", MB }, { CT_SIZE, "m", MB },
	{ CT_SIZE, "k", KB }, { CT_SIZE, "K", KB },
	{ CT_SIZE, "", 1 },
	{ CT_DUR, "h", HOUR }, { CT_DUR, "m", MIN }, { CT_DUR, "s", SEC },
	{ CT_DUR, "ms", 1 },
};

/* Largest unit that divides v exactly, so the text parses back to v. */
static void
fmt_num(enum conf_type type, long long v, char *buf, size_t len)
{
	size_t	 i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (units[i].type != type || v % units[i].mult != 0 ||
		    (v == 0 && units[i].mult != 1))
			continue;
		snprintf(buf, len, "%lld%s", v / units[i].mult,
		    units[i].suffix);
		return;
	}
	snprintf(buf, len, "%lld", v);
}

/* Digits, with a leading '-' when neg is allowed; *end is what follows. */
static int
parse_ll(const char *s, int neg, long long *v, const char **end)
{
	char	*e;

	if (!(isdigit((unsigned char)s[0]) ||
	    (neg && s[0] == '-' && isdigit((unsigned char)s[1]))))
		return -1;
	errno = 0;
	*v = strtoll(s, &e, 10);
	if (errno == ERANGE)
		return -1;
	*end = e;
	return 0;
}

static int
parse_suffixed(const char *s, enum conf_type type, long long *v)
{
	const char	*end;
	long long	 n;
	size_t		 i;

	if (parse_ll(s, 0, &n, &end) == -1)
		return -1;
	/* A bare number is bytes; a duration needs its unit unless 0. */
	if (type == CT_DUR && *end == '\0' && n == 0) {
		*v = 0;
		return 0;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (units[i].type != type || strcmp(end, units[i].suffix) != 0)
			continue;
		if (n > LLONG_MAX / units[i].mult)
			return -1;
		*v = n * units[i].mult;
		return 0;
	}
	return -1;
}

static int
parse_bool(const char *s, long long *v)
{
	static const char *yes[] = { "true", "yes", "on", "1" };
	static const char *no[] = { "false", "no", "off", "0" };
	size_t	 i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v = 0;
			return 0;
		}
	}
	return -1;
}

static int
enum_ok(const char *choices, const char *s)
{
	size_t	 n = strlen(s);
	const char *p = choices, *bar;

	for (;;) {
		bar = strchr(p, '|');
		if ((size_t)(bar ? bar - p : (ptrdiff_t)strlen(p)) == n &&
		    strncmp(p, s, n) == 0)
			return 1;
		if (bar == NULL)
			return 0;
		p = bar + 1;
	}
}

/*
 * Check text against key k and store it in *out.  On error, why gets
 * a reason that a person can act on; *out is unchanged.
 */
static int
parse_value(const struct conf_key *k, const char *text, struct conf_val *out,
    char *why, size_t whylen)
{
	char		 buf[1024], lo[32], hi[32];
	size_t		 len = strlen(text);
	long long	 v = 0;
	char		*s;
	const char	*end;

	/* "..." around the whole value is removed, so "" is empty. */
	if (len >= sizeof(buf)) {
		snprintf(why, whylen, "value longer than %zu bytes",
		    sizeof(buf) - 1);
		return -1;
	}
	memcpy(buf, text, len + 1);
	if (buf[0] == '"') {
		if (len < 2 || buf[len - 1] != '"') {
			snprintf(why, whylen, "unterminated quote in '%.100s'",
			    text);
			return -1;
		}
		buf[len - 1] = '\0';
		memmove(buf, buf + 1, len - 1);
	}

	switch (k->type) {
	case CT_STR:
	case CT_ENUM:
		if (k->type == CT_ENUM && !enum_ok(k->choices, buf)) {
			snprintf(why, whylen, "'%.100s' is not one of %s", buf,
			    k->choices);
			return -1;
		}
		if ((s = strdup(buf)) == NULL) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		free(out->str);
		out->str = s;
		return 0;
	case CT_BOOL:
		if (parse_bool(buf, &v) == -1) {
			snprintf(why, whylen, "'%.100s' is not a boolean "
			    "(true/false, yes/no, on/off, 1/0)", buf);
			return -1;
		}
		out->num = v;
		return 0;
	case CT_INT:
		if (parse_ll(buf, 1, &v, &end) == -1 || *end != '\0') {
			snprintf(why, whylen, "'%.100s' is not an integer",
			    buf);
			return -1;
		}
		break;
	case CT_SIZE:
		if (parse_suffixed(buf, CT_SIZE, &v) == -1) {
			snprintf(why, whylen, "'%.100s' is not a size "
			    "(a number with k, M or G)", buf);
			return -1;
		}
		break;
	case CT_DUR:
		if (parse_suffixed(buf, CT_DUR, &v) == -1) {
			snprintf(why, whylen, "'%.100s' is not a duration "
			    "(a number with ms, s, m or h)", buf);
			return -1;
		}
		break;
	}
	if (v < k->min || v > k->max) {
		fmt_num(k->type, k->min, lo, sizeof(lo));
		fmt_num(k->type, k->max, hi, sizeof(hi));
		snprintf(why, whylen, "'%.100s' is out of range (%s to %s)",
		    buf, lo, hi);
		return -1;
	}
	out->num = v;
	return 0;
}

static void
parse_error(struct conf_parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
parse_error(struct conf_parse *p, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	if (p->failed)
		return;
	p->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%d: %s", p->path, p->lineno, msg);
}

static int
conf_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct conf_parse	*p = arg;
	struct conf_val		*cv;
	char			 why[256];
	int			 i;

	if (*section == '\0') {
		parse_error(p, "key '%s' outside any section", name);
		return 0;
	}
	if ((i = key_index(section, name)) == -1) {
		parse_error(p, "unknown key '%s' in section [%s]", name,
		    section);
		return 0;
	}
	cv = &p->conf->val[i];
	if (cv->line > 0) {
		parse_error(p, "duplicate key '%s' in section [%s] "
		    "(first set on line %d)", name, section, cv->line);
		return 0;
	}
	if (parse_value(&keys[i], value, cv, why, sizeof(why)) == -1) {
		parse_error(p, "[%s] %s: %s", section, name, why);
		return 0;
	}
	cv->line = p->lineno;
	return 1;
}

static int
is_comment(const char *s)
{
	return *s == '\0' || *s == ';' || *s == '#';
}

/*
 * inih's line reader.  Counting lines here is how errors get their line
 * number (the handler of this libinih has none).  Each line is checked
 * and handed on in a plain form: no leading blanks, so that inih never
 * joins lines as a multi-line value; sections as "[name]".
 */
static char *
conf_reader(char *str, int num, void *arg)
{
	struct conf_parse	*p = arg;
	ssize_t			 n;
	char			*s, *e, *eq, *colon;
	size_t			 len;

	if (p->failed)
		return NULL;
	if ((n = getline(&p->line, &p->linecap, p->fp)) == -1) {
		if (ferror(p->fp)) {
			p->lineno++;
			parse_error(p, "read error: %s", strerror(errno));
		}
		return NULL;
	}
	p->lineno++;
	if (strlen(p->line) != (size_t)n) {
		parse_error(p, "NUL byte in line");
		return NULL;
	}
	s = p->line;
	if (p->lineno == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;		/* UTF-8 byte order mark */
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	while (isspace((unsigned char)*s))
		s++;

	if (is_comment(s)) {
		s = "";
	} else if (*s == '[') {
		if ((e = strchr(s, ']')) == NULL) {
			parse_error(p, "missing ']' in section header");
			return NULL;
		}
		*e++ = '\0';
		while (isspace((unsigned char)*e))
			e++;
		if (!is_comment(e)) {
			parse_error(p, "text after section header");
			return NULL;
		}
		for (s++; isspace((unsigned char)*s); s++)
			;
		for (e = s + strlen(s); e > s &&
		    isspace((unsigned char)e[-1]); )
			*--e = '\0';
		if (!section_known(s)) {
			parse_error(p, "unknown section [%s]", s);
			return NULL;
		}
		/* Room was left by the '[' and ']' just skipped. */
		len = strlen(s);
		memmove(p->line + 1, s, len);
		p->line[0] = '[';
		p->line[len + 1] = ']';
		p->line[len + 2] = '\0';
		s = p->line;
	} else {
		/* inih splits at the first '=' or ':'; we allow only '='. */
		eq = strchr(s, '=');
		colon = strchr(s, ':');
		if (eq == NULL || (colon != NULL && colon < eq)) {
			parse_error(p, "expected 'key = value'");
			return NULL;
		}
		if (eq == s) {
			parse_error(p, "missing key before '='");
			return NULL;
		}
	}
	len = strlen(s);
	if (num < 2 || len + 2 > (size_t)num) {
		parse_error(p, "line longer than %d characters", num - 2);
		return NULL;
	}
	memcpy(str, s, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

struct vbs_conf *
conf_defaults(void)
{
	struct vbs_conf	*conf;
	char		 why[256];
	size_t		 i;

	if ((conf = calloc(1, sizeof(*conf))) == NULL)
		return NULL;
	for (i = 0; i < NKEYS; i++) {
		if (parse_value(&keys[i], keys[i].def, &conf->val[i], why,
		    sizeof(why)) == -1) {
			if (strcmp(why, "out of memory") == 0) {
				conf_free(conf);
				return NULL;
			}
			fatalx("config.c: default of [%s] %s: %s",
			    keys[i].section, keys[i].name, why);
		}
	}
	return conf;
}

struct vbs_conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct conf_parse	 p;
	int			 rc;

	memset(&p, 0, sizeof(p));
	p.path = path;
	p.err = err;
	p.errlen = errlen;
	if ((p.fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((p.conf = conf_defaults()) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		fclose(p.fp);
		return NULL;
	}
	rc = ini_parse_stream(conf_reader, &p, conf_handler, &p);
	if (!p.failed && rc != 0) {
		/* Something the reader let through and inih refused. */
		if (rc > 0) {
			p.lineno = rc;
			parse_error(&p, "syntax error");
		} else
			parse_error(&p, "out of memory");
	}
	free(p.line);
	fclose(p.fp);
	if (p.failed) {
		conf_free(p.conf);
		return NULL;
	}
	return p.conf;
}

void
conf_free(struct vbs_conf *conf)
{
	size_t	 i;

	if (conf == NULL)
		return;
	for (i = 0; i < NKEYS; i++)
		free(conf->val[i].str);
	free(conf);
}

int
conf_set(struct vbs_conf *conf, const char *section, const char *name,
    const char *value, char *err, size_t errlen)
{
	char	 why[256];
	int	 i;

	if ((i = key_index(section, name)) == -1) {
		snprintf(err, errlen, "unknown key '%s' in section [%s]",
		    name, section);
		return -1;
	}
	if (parse_value(&keys[i], value, &conf->val[i], why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "[%s] %s: %s", section, name, why);
		return -1;
	}
	conf->val[i].line = -1;		/* from the command line */
	return 0;
}

/*
 * The first key of section whose value differs between a and b, or NULL
 * when the section is the same in both: how vbsd tells which stages a
 * new vbs.conf concerns.
 */
const char *
conf_changed(const struct vbs_conf *a, const struct vbs_conf *b,
    const char *section)
{
	size_t	 i;

	if (a == NULL || b == NULL)
		fatalx("conf_changed: no configuration");
	for (i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		if (keys[i].type == CT_STR || keys[i].type == CT_ENUM ?
		    strcmp(a->val[i].str, b->val[i].str) != 0 :
		    a->val[i].num != b->val[i].num)
			return keys[i].name;
	}
	return NULL;
}

#define TYPE(t)	(1u << (t))

/* A look-up the table cannot answer is a bug in the caller. */
static const struct conf_val *
conf_get(const struct vbs_conf *conf, const char *section, const char *name,
    const char *fn, unsigned types)
{
	int	 i;

	if (conf == NULL)
		fatalx("%s: no configuration", fn);
	if ((i = key_index(section, name)) == -1)
		fatalx("%s: no key [%s] %s in the table", fn, section, name);
	if ((TYPE(keys[i].type) & types) == 0)
		fatalx("%s: key [%s] %s has another type", fn, section, name);
	return &conf->val[i];
}

const char *
conf_str(const struct vbs_conf *conf, const char *section, const char *name)
{
	return conf_get(conf, section, name, __func__,
	    TYPE(CT_STR) | TYPE(CT_ENUM))->str;
}

/* Sizes are in bytes, durations in milliseconds. */
long long
conf_int(const struct vbs_conf *conf, const char *section, const char *name)
{
	return conf_get(conf, section, name, __func__,
	    TYPE(CT_INT) | TYPE(CT_SIZE) | TYPE(CT_DUR))->num;
}

int
conf_bool(const struct vbs_conf *conf, const char *section, const char *name)
{
	return conf_get(conf, section, name, __func__, TYPE(CT_BOOL))->num
	    != 0;
}

/* Quote a string when the file would not read it back as it is. */
static void
print_str(FILE *fp, const char *s)
{
	size_t	 len = strlen(s);

	if (len == 0 || isspace((unsigned char)s[0]) ||
	    isspace((unsigned char)s[len - 1]) || s[0] == '"')
		fprintf(fp, "\"%s\"", s);
	else
		fputs(s, fp);
}

void
conf_print(const struct vbs_conf *conf, const char *section, FILE *fp)
{
	const char	*cur = NULL;
	char		 buf[32];
	size_t		 i;
	int		 found = 0;

	if (conf == NULL)
		fatalx("conf_print: no configuration");
	for (i = 0; i < NKEYS; i++) {
		if (section != NULL && strcmp(keys[i].section, section) != 0)
			continue;
		if (cur == NULL || strcmp(cur, keys[i].section) != 0) {
			fprintf(fp, "%s[%s]\n", found ? "\n" : "",
			    keys[i].section);
			cur = keys[i].section;
			found = 1;
		}
		fprintf(fp, "%s = ", keys[i].name);
		switch (keys[i].type) {
		case CT_STR:
		case CT_ENUM:
			print_str(fp, conf->val[i].str);
			break;
		case CT_BOOL:
			fputs(conf->val[i].num ? "true" : "false", fp);
			break;
		default:
			fmt_num(keys[i].type, conf->val[i].num, buf,
			    sizeof(buf));
			fputs(buf, fp);
			break;
		}
		fputc('\n', fp);
	}
	if (!found)
		fatalx("conf_print: no section [%s] in the table", section);
}
