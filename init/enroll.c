/*
 * enroll.c: `vbsctl enroll URL TOKEN`, run once by the volunteer (as
 * root) to join a VBS server.  It redeems the one-time token the server's
 * admin made (`ingestd enroll-token`) at POST URL/v1/enroll over HTTPS,
 * verifying the server by the configured CA file or pinned key, and
 * stores the client id and secret it gets in the credentials file of
 * vbs.conf ([shipd] credentials), mode 0600, owned by the user shipd
 * runs as: nobody else can read it.  It trusts vbs.conf and, once TLS
 * has verified it, the server; the server's answer is still checked
 * character by character before a byte of it is written.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vbsd.h"
#include "../shipd/https.h"

#define ENROLL_CONF	"/etc/vbs/vbs.conf"
#define ID_MAX		64
#define SECRET_MIN	43	/* 256 bits, base64 at the shortest */
#define SECRET_MAX	128

/*
 * The string value of "key" in the server's flat JSON object, when it
 * is [A-Za-z0-9_-] only and between min and max long.
 */
static int
json_field(const char *json, const char *key, char *out, size_t min,
    size_t max)
{
	char		 pat[64];
	const char	*p;
	size_t		 n;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	if ((p = strstr(json, pat)) == NULL)
		return -1;
	p += strlen(pat);
	for (n = 0; p[n] != '"'; n++) {
		if (n >= max || !((p[n] >= 'a' && p[n] <= 'z') ||
		    (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' &&
		    p[n] <= '9') || p[n] == '-' || p[n] == '_'))
			return -1;
	}
	if (n < min)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* Write the credentials whole (temporary file, fsync, rename), 0600. */
static void
store(const char *path, const char *user, const char *url, const char *id,
    const char *secret, int force)
{
	struct passwd	*pw = NULL;
	char		 tmp[PATH_MAX], dir[PATH_MAX];
	FILE		*fp;
	int		 fd;

	if (!force && access(path, F_OK) == 0)
		errx(EXIT_USAGE, "%s exists: this machine is enrolled already "
		    "(-F replaces it)", path);
	if (geteuid() == 0 && (pw = getpwnam(user)) == NULL)
		errx(EXIT_CONFIG, "no user %s: shipd could not read the "
		    "credentials", user);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		errx(EXIT_USAGE, "%s: path too long", path);
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		err(EXIT_SYSTEM, "%s", tmp);
	if (pw != NULL && fchown(fd, pw->pw_uid, pw->pw_gid) == -1)
		err(EXIT_SYSTEM, "chown %s to %s", tmp, user);
	if ((fp = fdopen(fd, "w")) == NULL)
		err(EXIT_SYSTEM, "%s", tmp);
	fprintf(fp, "# VBS client credentials from %s, for shipd only.\n"
	    "client_id = %s\nsecret = %s\n", url, id, secret);
	if (fflush(fp) == EOF || fsync(fd) == -1 || fclose(fp) == EOF)
		err(EXIT_SYSTEM, "%s", tmp);
	if (rename(tmp, path) == -1)
		err(EXIT_SYSTEM, "rename %s to %s", tmp, path);
	snprintf(dir, sizeof(dir), "%s", path);
	if ((fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1) {
		(void)fsync(fd);
		close(fd);
	}
}

static void __attribute__((noreturn))
enroll_usage(void)
{
	fprintf(stderr, "usage: vbsctl enroll [-F] [-c cafile] [-f config] "
	    "[-o credentials] [-p pin]\n"
	    "                     [-u user] URL TOKEN\n");
	exit(EXIT_USAGE);
}

/*
 * vbsctl enroll: argv[0] is "enroll".  Exit 0 when the credentials are
 * stored; EXIT_INPUT when the server refused the token.
 */
int
cmd_enroll(int argc, char **argv)
{
	struct vbs_conf	*conf;
	struct https_reply r;
	struct https	*h;
	const char	*cfile = ENROLL_CONF, *ca = NULL, *pin = NULL;
	const char	*out = NULL, *user = NULL, *url, *token;
	char		 errbuf[1024], ep[2048], auth[256], id[ID_MAX + 1];
	char		 secret[SECRET_MAX + 1];
	long		 code = 0;
	int		 ch, force = 0, conf_given = 0;
	size_t		 n;

	optind = 1;
	while ((ch = getopt(argc, argv, "Fc:f:o:p:u:")) != -1) {
		switch (ch) {
		case 'F':
			force = 1;
			break;
		case 'c':
			ca = optarg;
			break;
		case 'f':
			cfile = optarg;
			conf_given = 1;
			break;
		case 'o':
			out = optarg;
			break;
		case 'p':
			pin = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		default:
			enroll_usage();
		}
	}
	if (argc - optind != 2)
		enroll_usage();
	url = argv[optind];
	token = argv[optind + 1];
	if (!conf_given && access(cfile, F_OK) == -1)
		conf = conf_defaults();
	else
		conf = conf_load(cfile, errbuf, sizeof(errbuf));
	if (conf == NULL)
		errx(EXIT_CONFIG, "%s", errbuf);
	if (ca == NULL)
		ca = conf_str(conf, "shipd", "ca_file");
	if (pin == NULL)
		pin = conf_str(conf, "shipd", "pin");
	if (out == NULL)
		out = conf_str(conf, "shipd", "credentials");
	if (user == NULL)
		user = conf_str(conf, "vbsd", "user");
	if (strncmp(url, "https://", 8) != 0)
		errx(EXIT_USAGE, "%s: only https:// is allowed", url);
	if (strlen(token) > 128 || strspn(token, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != strlen(token))
		errx(EXIT_USAGE, "the token has letters, digits, - and _ only");
	n = strlen(url);
	while (n > 8 && url[n - 1] == '/')
		n--;
	snprintf(ep, sizeof(ep), "%.*s/v1/enroll", (int)n, url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", token);

	if ((h = https_new(url, ca, pin, "vbsctl/" VBS_VERSION, 60, errbuf,
	    sizeof(errbuf))) == NULL)
		errx(EXIT_USAGE, "%s", errbuf);
	if (https_request(h, "POST", "/v1/enroll", auth, "", 0, &r, errbuf,
	    sizeof(errbuf)) == -1)
		errx(EXIT_SYSTEM, "%s: %s", ep, errbuf);
	https_free(h);
	explicit_bzero(auth, sizeof(auth));
	code = r.status;
	if (code == 401 || code == 403)
		errx(EXIT_INPUT, "%s: the server refused the token (HTTP %ld: "
		    "unknown, used or expired)", ep, code);
	if (code != 201 || r.body_cut ||
	    json_field(r.body, "client_id", id, 1, ID_MAX) == -1 ||
	    json_field(r.body, "secret", secret, SECRET_MIN, SECRET_MAX) == -1)
		errx(EXIT_SYSTEM, "%s: unexpected answer (HTTP %ld)", ep, code);
	store(out, user, url, id, secret, force);
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(&r, sizeof(r));
	printf("enrolled as client %s; credentials in %s\n", id, out);
	conf_free(conf);
	return EXIT_OK;
}
