/*
 * config_test.c: proto/config.c, proto/privdrop.c and the sandbox.
 * The configuration: defaults, every value type and suffix, command-line
 * overrides, printing that reads back, and every class of error naming
 * file and line; the example file parses and the man page documents
 * every key with its real default.  Privileges (as root only): a forked
 * child drops to nobody and the parent reads its uid, groups,
 * capabilities and no_new_privs from /proc.  The sandbox: a child that
 * makes a system call outside its list is killed by SIGSYS.
 */

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/capability.h>

#include "proto.h"

static char	 tmp_path[PATH_MAX];

/* Write text to a fresh temporary file; its name is in tmp_path. */
static const char *
write_conf(const char *text)
{
	const char	*dir = getenv("TMPDIR");
	int		 fd;
	size_t		 len = strlen(text);

	snprintf(tmp_path, sizeof(tmp_path), "%s/vbs_conf_XXXXXX",
	    dir ? dir : "/tmp");
	fd = mkstemp(tmp_path);
	assert_true(fd != -1);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return tmp_path;
}

static struct vbs_conf *
load_text(const char *text, char *err, size_t errlen)
{
	struct vbs_conf	*conf;

	conf = conf_load(write_conf(text), err, errlen);
	unlink(tmp_path);
	return conf;
}

/* A file in the tree, from the top directory that tests/run.sh uses. */
static const char *
top_path(const char *rel, char *buf, size_t len)
{
	const char	*top = getenv("TOP");

	snprintf(buf, len, "%s/%s", top ? top : ".", rel);
	return buf;
}

static void
test_defaults(void **state)
{
	struct vbs_conf	*conf;

	(void)state;
	assert_non_null(conf = conf_defaults());
	assert_string_equal(conf_str(conf, "vbsd", "user"), "vbs");
	assert_string_equal(conf_str(conf, "vbsd", "capd_user"), "vbs-capd");
	assert_string_equal(conf_str(conf, "vbsd", "admin_group"), "");
	assert_int_equal(conf_int(conf, "vbsd", "restart_min"), 1000);
	assert_int_equal(conf_int(conf, "vbsd", "restart_max"), 60000);
	assert_string_equal(conf_str(conf, "capd", "interfaces"), "");
	assert_int_equal(conf_int(conf, "capd", "snaplen"), 256);
	assert_int_equal(conf_int(conf, "capd", "buffer_size"), 4 << 20);
	assert_int_equal(conf_int(conf, "capd", "timeout"), 500);
	assert_false(conf_bool(conf, "capd", "immediate"));
	assert_false(conf_bool(conf, "capd", "loopback"));
	assert_false(conf_bool(conf, "capd", "local_subnet_traffic"));
	assert_true(conf_bool(conf, "capd", "exclude_server"));
	assert_int_equal(conf_int(conf, "sockd", "dump_interval"), 100);
	assert_int_equal(conf_int(conf, "flowd", "batch_size"), 700 * 1024);
	assert_int_equal(conf_int(conf, "flowd", "batch_age"), 300000);
	assert_string_equal(conf_str(conf, "flowd", "privacy"), "prefix");
	assert_string_equal(conf_str(conf, "shipd", "full_policy"), "stop");
	assert_int_equal(conf_int(conf, "shipd", "retry_max"), 3600000);
	assert_int_equal(conf_int(conf, "ingestd", "workers"), 2);
	assert_false(conf_bool(conf, "ingestd", "migrate_at_start"));
	conf_free(conf);
}

static void
test_types(void **state)
{
	struct vbs_conf	*conf;
	char		 err[512] = "";

	(void)state;
	conf = load_text(
	    "\xef\xbb\xbf# a comment\n"
	    "; another comment\n"
	    "\n"
	    "[capd]\n"
	    "interfaces = eth0 wlan0\n"
	    "  snaplen=128   \n"
	    "buffer_size = 2M ; inline comment\n"
	    "queue_size = 65536\n"
	    "timeout = 250ms\n"
	    "stats_interval = 0\n"
	    "loopback = YES\n"
	    "immediate = on\n"
	    "local_subnet_traffic = 1\n"
	    "exclude_server = False\n"
	    "chroot = \"\"\n"
	    "[ flowd ]\n"
	    "batch_size = 1G\n"
	    "batch_age = 2h\n"
	    "tcp_idle = 90s\n"
	    "udp_idle = 3m\n"
	    "privacy = hash\n"
	    "client_id = \"  spaced  \"\n"
	    "[capd]\n"
	    "local_networks = 10.0.0.0/8 fd00::/8\n"
	    "[shipd]\n"
	    "full_policy = drop-oldest\n"
	    "server_url = https://example.org:8443/upload?a=b\n"
	    "outbox_limit = 512m\n",
	    err, sizeof(err));
	if (conf == NULL)
		fail_msg("%s", err);
	assert_string_equal(conf_str(conf, "capd", "interfaces"),
	    "eth0 wlan0");
	assert_int_equal(conf_int(conf, "capd", "snaplen"), 128);
	assert_int_equal(conf_int(conf, "capd", "buffer_size"), 2 << 20);
	assert_int_equal(conf_int(conf, "capd", "queue_size"), 65536);
	assert_int_equal(conf_int(conf, "capd", "timeout"), 250);
	assert_int_equal(conf_int(conf, "capd", "stats_interval"), 0);
	assert_true(conf_bool(conf, "capd", "loopback"));
	assert_true(conf_bool(conf, "capd", "immediate"));
	assert_true(conf_bool(conf, "capd", "local_subnet_traffic"));
	assert_false(conf_bool(conf, "capd", "exclude_server"));
	assert_string_equal(conf_str(conf, "capd", "chroot"), "");
	assert_string_equal(conf_str(conf, "capd", "local_networks"),
	    "10.0.0.0/8 fd00::/8");
	assert_int_equal(conf_int(conf, "flowd", "batch_size"), 1LL << 30);
	assert_int_equal(conf_int(conf, "flowd", "batch_age"), 7200000);
	assert_int_equal(conf_int(conf, "flowd", "tcp_idle"), 90000);
	assert_int_equal(conf_int(conf, "flowd", "udp_idle"), 180000);
	assert_string_equal(conf_str(conf, "flowd", "privacy"), "hash");
	assert_string_equal(conf_str(conf, "flowd", "client_id"),
	    "  spaced  ");
	assert_string_equal(conf_str(conf, "shipd", "full_policy"),
	    "drop-oldest");
	assert_string_equal(conf_str(conf, "shipd", "server_url"),
	    "https://example.org:8443/upload?a=b");
	assert_int_equal(conf_int(conf, "shipd", "outbox_limit"), 512 << 20);
	/* Untouched keys keep their defaults. */
	assert_int_equal(conf_int(conf, "ingestd", "workers"), 2);
	conf_free(conf);
}

static void
test_override(void **state)
{
	struct vbs_conf	*conf;
	char		 err[512] = "";

	(void)state;
	conf = load_text("[capd]\ninterfaces = eth0\nsnaplen = 100\n",
	    err, sizeof(err));
	assert_non_null(conf);
	/* The command line wins over the file, with the same checks. */
	assert_int_equal(conf_set(conf, "capd", "interfaces", "eth1 eth2",
	    err, sizeof(err)), 0);
	assert_string_equal(conf_str(conf, "capd", "interfaces"),
	    "eth1 eth2");
	assert_int_equal(conf_set(conf, "capd", "timeout", "1s", err,
	    sizeof(err)), 0);
	assert_int_equal(conf_int(conf, "capd", "timeout"), 1000);
	assert_int_equal(conf_set(conf, "capd", "timeout", "1s", err,
	    sizeof(err)), 0);

	assert_int_equal(conf_set(conf, "capd", "snaplen", "huge", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "snaplen"));
	assert_non_null(strstr(err, "not an integer"));
	assert_int_equal(conf_int(conf, "capd", "snaplen"), 100);

	assert_int_equal(conf_set(conf, "capd", "snaplen", "10", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "out of range"));

	assert_int_equal(conf_set(conf, "capd", "colour", "red", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "unknown key 'colour' in section [capd]");
	conf_free(conf);
}

/* conf_changed: by value, whatever way it is written, per section. */
static void
test_changed(void **state)
{
	struct vbs_conf	*a, *b;
	char		 err[512] = "";

	(void)state;
	a = load_text("[flowd]\nbatch_age = 5m\nprivacy = hash\n", err,
	    sizeof(err));
	b = load_text("[flowd]\nbatch_age = 300s\nprivacy = hash\n"
	    "[capd]\ninterfaces = eth0\n", err, sizeof(err));
	assert_non_null(a);
	assert_non_null(b);
	assert_null(conf_changed(a, b, "flowd"));
	assert_null(conf_changed(a, b, "shipd"));
	assert_string_equal(conf_changed(a, b, "capd"), "interfaces");
	assert_int_equal(conf_set(b, "flowd", "privacy", "clear", err,
	    sizeof(err)), 0);
	assert_string_equal(conf_changed(a, b, "flowd"), "privacy");
	assert_int_equal(conf_set(b, "flowd", "batch_size", "701k", err,
	    sizeof(err)), 0);
	assert_string_equal(conf_changed(b, a, "flowd"), "batch_size");
	conf_free(a);
	conf_free(b);
}

/* What conf_print writes, conf_load reads back to the same values. */
static void
test_print_roundtrip(void **state)
{
	struct vbs_conf	*a, *b;
	char		 err[512] = "", *t1 = NULL, *t2 = NULL;
	size_t		 l1 = 0, l2 = 0;
	FILE		*fp;

	(void)state;
	a = load_text("[capd]\ntimeout = 1500ms\nbuffer_size = 3072k\n"
	    "interfaces = \" lo \"\n[vbsd]\nstop_grace = 0\n"
	    "[flowd]\nprivacy = clear\n", err, sizeof(err));
	assert_non_null(a);
	assert_non_null(fp = open_memstream(&t1, &l1));
	conf_print(a, NULL, fp);
	fclose(fp);
	assert_non_null(strstr(t1, "[capd]\n"));
	assert_non_null(strstr(t1, "\ntimeout = 1500ms\n"));
	assert_non_null(strstr(t1, "\nbuffer_size = 3M\n"));
	assert_non_null(strstr(t1, "\ninterfaces = \" lo \"\n"));
	assert_non_null(strstr(t1, "\nadmin_group = \"\"\n"));

	b = load_text(t1, err, sizeof(err));
	assert_non_null(b);
	assert_non_null(fp = open_memstream(&t2, &l2));
	conf_print(b, NULL, fp);
	fclose(fp);
	assert_string_equal(t1, t2);
	assert_string_equal(conf_str(b, "capd", "interfaces"), " lo ");
	free(t2);

	/* One section: its header and its keys only. */
	t2 = NULL;
	assert_non_null(fp = open_memstream(&t2, &l2));
	conf_print(a, "sockd", fp);
	fclose(fp);
	assert_true(strncmp(t2, "[sockd]\n", 8) == 0);
	assert_null(strstr(t2, "[capd]"));
	assert_null(strstr(t2, "snaplen"));
	assert_non_null(strstr(t2, "\ndump_interval = 100ms\n"));
	free(t1);
	free(t2);
	conf_free(a);
	conf_free(b);
}

struct bad_case {
	const char	*text;
	int		 line;
	const char	*msg;		/* after "FILE:LINE: " */
};

static const struct bad_case bad_cases[] = {
	{ "[capd]\n[nosuch]\nx = 1\n", 2, "unknown section [nosuch]" },
	{ "[capd]\nsnaplen = 100\nfoo = 1\n", 3,
	    "unknown key 'foo' in section [capd]" },
	{ "# c\n[capd]\nsnaplen = 12x\n", 3,
	    "[capd] snaplen: '12x' is not an integer" },
	{ "[capd]\nsnaplen = 70000000\n", 2,
	    "[capd] snaplen: '70000000' is out of range (64 to 262144)" },
	{ "[capd]\nbuffer_size = 2G\n", 2,
	    "[capd] buffer_size: '2G' is out of range (1M to 1G)" },
	{ "[capd]\nloopback = maybe\n", 2,
	    "[capd] loopback: 'maybe' is not a boolean" },
	{ "[capd]\nsnaplen = 100\n\n[flowd]\n[capd]\nsnaplen = 200\n", 6,
	    "duplicate key 'snaplen' in section [capd] (first set on line 2)" },
	{ "[capd]\nsnaplen 100\n", 2, "expected 'key = value'" },
	{ "[capd]\nsnaplen: 100\n", 2, "expected 'key = value'" },
	{ "snaplen = 100\n", 1, "key 'snaplen' outside any section" },
	{ "[capd\nsnaplen = 100\n", 1, "missing ']' in section header" },
	{ "[capd]\n= 100\n", 2, "missing key before '='" },
	{ "[capd]\nbuffer_size = 10X\n", 2,
	    "[capd] buffer_size: '10X' is not a size" },
	{ "[capd]\nbuffer_size = 99999999999G\n", 2,
	    "[capd] buffer_size: '99999999999G' is not a size" },
	{ "[capd]\nbuffer_size = -1M\n", 2,
	    "[capd] buffer_size: '-1M' is not a size" },
	{ "[capd] snaplen = 100\n", 1, "text after section header" },
	{ "[capd]\ntimeout = 100\n", 2,
	    "[capd] timeout: '100' is not a duration" },
	{ "[capd]\ntimeout = -5ms\n", 2,
	    "[capd] timeout: '-5ms' is not a duration" },
	{ "[flowd]\nprivacy = none\n", 2,
	    "[flowd] privacy: 'none' is not one of "
	    "clear|prefix|hash|truncate" },
	{ "[capd]\ninterfaces = \"eth0\n", 2,
	    "[capd] interfaces: unterminated quote" },
	{ "[capd]\nsnaplen = 99999999999999999999\n", 2,
	    "[capd] snaplen: '99999999999999999999' is not an integer" },
	{ "[capd]\nsnaplen = \n", 2, "[capd] snaplen: '' is not an integer" },
};

static void
test_errors(void **state)
{
	struct vbs_conf	*conf;
	char		 err[512], want[PATH_MAX + 512];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		err[0] = '\0';
		conf = conf_load(write_conf(bad_cases[i].text), err,
		    sizeof(err));
		snprintf(want, sizeof(want), "%s:%d: %s", tmp_path,
		    bad_cases[i].line, bad_cases[i].msg);
		unlink(tmp_path);
		if (conf != NULL || strncmp(err, want, strlen(want)) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err,
			    want);
	}
}

static void
test_long_line(void **state)
{
	struct vbs_conf	*conf;
	char		 err[512] = "", *text;
	const char	*head = "[capd]\ninterfaces = ";
	size_t		 n = 5000, hl = strlen(head);

	(void)state;
	assert_non_null(text = malloc(hl + n + 2));
	memcpy(text, head, hl);
	memset(text + hl, 'a', n);
	memcpy(text + hl + n, "\n", 2);
	conf = load_text(text, err, sizeof(err));
	assert_null(conf);
	assert_non_null(strstr(err, ":2: line longer than"));
	free(text);
}

static void
test_missing_file(void **state)
{
	char	 err[512] = "";

	(void)state;
	assert_null(conf_load("/nonexistent/vbs.conf", err, sizeof(err)));
	assert_string_equal(err,
	    "/nonexistent/vbs.conf: No such file or directory");
}

/* Asking for a key that is not in the table is a bug: fatalx exits. */
static void
test_lookup_bug(void **state)
{
	struct vbs_conf	*conf;
	pid_t		 pid;
	int		 st, which;

	(void)state;
	for (which = 0; which < 3; which++) {
		assert_non_null(conf = conf_defaults());
		fflush(NULL);
		if ((pid = fork()) == 0) {
			if (which == 0)
				(void)conf_int(conf, "capd", "no_such_key");
			else if (which == 1)
				(void)conf_bool(conf, "capd", "snaplen");
			else
				(void)conf_str(conf, "nosuch", "user");
			_exit(0);
		}
		assert_true(pid > 0);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), EXIT_SYSTEM);
		conf_free(conf);
	}
}

static void
test_example_parses(void **state)
{
	struct vbs_conf	*conf;
	char		 err[512] = "", path[PATH_MAX];

	(void)state;
	conf = conf_load(top_path("proto/vbs.conf.example", path,
	    sizeof(path)), err, sizeof(err));
	if (conf == NULL)
		fail_msg("%s", err);
	conf_free(conf);
}

/*
 * Every key conf_print knows has an entry in vbs.conf.5, under its own
 * section, that names its default as the table has it.
 */
static void
test_manpage(void **state)
{
	struct vbs_conf	*conf;
	char		 path[PATH_MAX], *man = NULL, *keys = NULL, *line;
	char		 section[64] = "", needle[512], *sec, *ent, *end;
	char		 name[64], value[256];
	size_t		 len = 0;
	FILE		*fp;
	long		 sz;

	(void)state;
	assert_non_null(fp = fopen(top_path("proto/vbs.conf.5", path,
	    sizeof(path)), "r"));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	assert_true((sz = ftell(fp)) > 0);
	rewind(fp);
	assert_non_null(man = calloc(1, (size_t)sz + 1));
	assert_int_equal(fread(man, 1, (size_t)sz, fp), (size_t)sz);
	fclose(fp);

	assert_non_null(conf = conf_defaults());
	assert_non_null(fp = open_memstream(&keys, &len));
	conf_print(conf, NULL, fp);
	fclose(fp);
	conf_free(conf);

	for (line = strtok(keys, "\n"); line; line = strtok(NULL, "\n")) {
		if (sscanf(line, "[%63[^]]]", section) == 1)
			continue;
		assert_int_equal(sscanf(line, "%63s = %255[^\n]", name,
		    value), 2);
		snprintf(needle, sizeof(needle), ".Ss \\&[%s]\\&\n", section);
		if ((sec = strstr(man, needle)) == NULL)
			fail_msg("vbs.conf.5: no section [%s]", section);
		end = strstr(sec + 1, "\n.Ss ");
		snprintf(needle, sizeof(needle), "\n.It Ic %s ", name);
		ent = strstr(sec, needle);
		if (ent == NULL || (end != NULL && ent > end))
			fail_msg("vbs.conf.5: no key %s in [%s]", name,
			    section);
		end = strstr(ent + 1, "\n.It ");
		if (strcmp(value, "\"\"") == 0)
			snprintf(needle, sizeof(needle), "Default: empty");
		else
			snprintf(needle, sizeof(needle), "Default:\n.Cm %s",
			    value);
		if ((ent = strstr(ent, needle)) == NULL ||
		    (end != NULL && ent > end))
			fail_msg("vbs.conf.5: [%s] %s: no \"%s\"", section,
			    name, needle);
	}
	free(keys);
	free(man);
}

/*
 * Privileges: a child drops them and waits; the parent reads the
 * child's /proc status, then lets it go.  The child says whether
 * setuid(0) failed with one byte, 'y' or 'n'.
 */
struct proc_status {
	char	uid[64], gid[64], groups[64];
	char	cap_inh[32], cap_prm[32], cap_eff[32], cap_bnd[32],
		cap_amb[32];
	int	nnp;
};

static void
read_status(pid_t pid, struct proc_status *ps)
{
	char	 path[64], line[256];
	FILE	*fp;
	size_t	 len;

	memset(ps, 0, sizeof(*ps));
	ps->nnp = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	assert_non_null(fp = fopen(path, "r"));
	while (fgets(line, sizeof(line), fp) != NULL) {
		sscanf(line, "Uid:\t%63[^\n]", ps->uid);
		sscanf(line, "Gid:\t%63[^\n]", ps->gid);
		sscanf(line, "Groups:\t%63[^\n]", ps->groups);
		sscanf(line, "CapInh:\t%31s", ps->cap_inh);
		sscanf(line, "CapPrm:\t%31s", ps->cap_prm);
		sscanf(line, "CapEff:\t%31s", ps->cap_eff);
		sscanf(line, "CapBnd:\t%31s", ps->cap_bnd);
		sscanf(line, "CapAmb:\t%31s", ps->cap_amb);
		sscanf(line, "NoNewPrivs:\t%d", &ps->nnp);
	}
	fclose(fp);
	/* The kernel ends the Groups line with a blank. */
	len = strlen(ps->groups);
	while (len > 0 && ps->groups[len - 1] == ' ')
		ps->groups[--len] = '\0';
}

/* Fork a child that calls priv_drop(spec); 0 and *ps on success. */
static int
drop_in_child(const struct priv_spec *spec, struct proc_status *ps,
    char *root, size_t rootlen, int *status)
{
	int	 up[2], down[2];
	pid_t	 pid;
	char	 c = 0, path[64];
	ssize_t	 n;

	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(up[0]);
		close(down[1]);
		priv_drop(spec);
		c = setuid(0) == -1 && getuid() != 0 ? 'y' : 'n';
		if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) != 0)
			_exit(2);
		_exit(0);
	}
	assert_true(pid > 0);
	close(up[1]);
	close(down[0]);
	n = read(up[0], &c, 1);
	if (n == 1) {
		read_status(pid, ps);
		snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
		memset(root, 0, rootlen);
		if (readlink(path, root, rootlen - 1) == -1)
			root[0] = '\0';
	}
	close(down[1]);
	close(up[0]);
	assert_int_equal(waitpid(pid, status, 0), pid);
	return n == 1 ? c : -1;
}

static void
test_priv_nobody(void **state)
{
	static const struct priv_spec spec = { "nobody", NULL, NULL };
	struct proc_status	 ps;
	char			 root[PATH_MAX], want[64];
	int			 st;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(drop_in_child(&spec, &ps, root, sizeof(root), &st),
	    'y');
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	snprintf(want, sizeof(want), "65534\t65534\t65534\t65534");
	assert_string_equal(ps.uid, want);
	assert_string_equal(ps.gid, want);
	assert_string_equal(ps.groups, "65534");
	assert_string_equal(ps.cap_eff, "0000000000000000");
	assert_string_equal(ps.cap_prm, "0000000000000000");
	assert_string_equal(ps.cap_inh, "0000000000000000");
	assert_string_equal(ps.cap_bnd, "0000000000000000");
	assert_string_equal(ps.cap_amb, "0000000000000000");
	assert_int_equal(ps.nnp, 1);
	assert_string_equal(root, "/");
}

static void
test_priv_keep_cap(void **state)
{
	static const int caps[] = { CAP_NET_ADMIN, -1 };
	static const struct priv_spec spec = { "nobody", NULL, caps };
	struct proc_status	 ps;
	char			 root[PATH_MAX], want[32];
	int			 st;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(drop_in_child(&spec, &ps, root, sizeof(root), &st),
	    'y');
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	snprintf(want, sizeof(want), "%016llx", 1ULL << CAP_NET_ADMIN);
	assert_string_equal(ps.uid, "65534\t65534\t65534\t65534");
	assert_string_equal(ps.cap_eff, want);
	assert_string_equal(ps.cap_prm, want);
	assert_string_equal(ps.cap_bnd, want);
	assert_string_equal(ps.cap_inh, "0000000000000000");
	assert_string_equal(ps.cap_amb, "0000000000000000");
	assert_int_equal(ps.nnp, 1);
}

static void
test_priv_chroot(void **state)
{
	struct priv_spec	 spec = { "nobody", NULL, NULL };
	struct proc_status	 ps;
	char			 dir[] = "/tmp/vbs_chroot_XXXXXX";
	char			 root[PATH_MAX];
	int			 st;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	spec.chroot = dir;
	assert_int_equal(drop_in_child(&spec, &ps, root, sizeof(root), &st),
	    'y');
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_string_equal(root, dir);
	assert_string_equal(ps.cap_eff, "0000000000000000");

	/* A jail that others could write to is refused. */
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(drop_in_child(&spec, &ps, root, sizeof(root), &st),
	    -1);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == EXIT_SYSTEM);
	assert_int_equal(rmdir(dir), 0);
}

/* No user: stay who we are, but still lose capabilities, gain nnp. */
static void
test_priv_same_user(void **state)
{
	static const struct priv_spec spec = { NULL, NULL, NULL };
	struct proc_status	 ps;
	char			 root[PATH_MAX];
	int			 st;

	(void)state;
	assert_true(drop_in_child(&spec, &ps, root, sizeof(root), &st) != -1);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_string_equal(ps.cap_eff, "0000000000000000");
	assert_string_equal(ps.cap_prm, "0000000000000000");
	assert_int_equal(ps.nnp, 1);
}

enum sandbox_try { TRY_SOCKET, TRY_MMAP_RW, TRY_MMAP_EXEC, TRY_NO_DROP };

/* Run a child in a sandbox that allows only extra; return its status. */
static int
sandboxed(enum sandbox_try what, const char *const *extra)
{
	static const struct priv_spec pspec = { NULL, NULL, NULL };
	static const struct rlimit no_core = { 0, 0 };
	struct sandbox_spec	 sspec = {
		.name = "test", .syscalls = extra, .pledge = "stdio"
	};
	pid_t			 pid;
	int			 st;
	void			*p;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		/* No core file in the tree when SIGSYS kills it. */
		setrlimit(RLIMIT_CORE, &no_core);
		if (what != TRY_NO_DROP)
			priv_drop(&pspec);
		sandbox_enter(&sspec);
		switch (what) {
		case TRY_SOCKET:
			if (socket(AF_UNIX, SOCK_STREAM, 0) == -1)
				_exit(3);
			break;
		case TRY_MMAP_RW:
		case TRY_MMAP_EXEC:
			p = mmap(NULL, 4096, PROT_READ | (what ==
			    TRY_MMAP_EXEC ? PROT_EXEC : PROT_WRITE),
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				_exit(3);
			break;
		case TRY_NO_DROP:
			break;
		}
		_exit(0);	/* no atexit handlers: they are not allowed */
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void
test_sandbox(void **state)
{
	static const char *const with_socket[] = {
		"no_such_syscall_at_all", "socket", "read", NULL
	};
	int	 st;

	(void)state;
	st = sandboxed(TRY_SOCKET, NULL);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);

	/* Named in the list: allowed; unknown names are skipped. */
	st = sandboxed(TRY_SOCKET, with_socket);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);

	st = sandboxed(TRY_MMAP_RW, NULL);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);

	st = sandboxed(TRY_MMAP_EXEC, NULL);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);

	/* Before priv_drop there is no no_new_privs: refused, loudly. */
	st = sandboxed(TRY_NO_DROP, NULL);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), EXIT_SYSTEM);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_override),
		cmocka_unit_test(test_changed),
		cmocka_unit_test(test_print_roundtrip),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_lookup_bug),
		cmocka_unit_test(test_example_parses),
		cmocka_unit_test(test_manpage),
		cmocka_unit_test(test_priv_nobody),
		cmocka_unit_test(test_priv_keep_cap),
		cmocka_unit_test(test_priv_chroot),
		cmocka_unit_test(test_priv_same_user),
		cmocka_unit_test(test_sandbox),
	};

	log_init("config_test", 1, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
