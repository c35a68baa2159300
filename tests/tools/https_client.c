/*
 * https_client.c: a test tool, never installed.  Drives the HTTPS
 * client of shipd and vbsctl (shipd/https.c) against a test server:
 * one client, then each request of the command line in turn on it, so
 * that kept connections are reused as shipd reuses them.
 *
 * usage: https_client [-c ca_file] [-p pin] [-t timeout] URL
 *     [METHOD:]PATH[:BYTES] ...
 *
 * timeout: s, the longest any one wait may last (10 by default).
 *
 * Prints one line per request: "status S sent N len L cut C retry R
 * body TEXT" (TEXT: the body's printable start) or "error TEXT".
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../shipd/https.h"

int
main(int argc, char *argv[])
{
	struct https		*h;
	struct https_reply	 r;
	const char		*ca = "", *pin = "", *method;
	char			 err[1024], spec[512], *path, *p, text[61];
	size_t			 n, i, t;
	char			*body;
	int			 ch, timeout = 10;

	while ((ch = getopt(argc, argv, "c:p:t:")) != -1) {
		switch (ch) {
		case 'c':
			ca = optarg;
			break;
		case 'p':
			pin = optarg;
			break;
		case 't':
			if ((timeout = atoi(optarg)) <= 0)
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind < 2)
		goto usage;
	if ((h = https_new(argv[optind], ca, pin, "https_client", timeout,
	    err, sizeof(err))) == NULL) {
		printf("error %s\n", err);
		return 1;
	}
	for (i = (size_t)optind + 1; i < (size_t)argc; i++) {
		snprintf(spec, sizeof(spec), "%s", argv[i]);
		method = "GET";
		path = spec;
		if ((p = strchr(spec, ':')) != NULL && spec[0] != '/') {
			*p = '\0';
			method = spec;
			path = p + 1;
		}
		n = 0;
		if ((p = strchr(path, ':')) != NULL) {
			*p = '\0';
			n = strtoul(p + 1, NULL, 10);
		}
		if ((body = malloc(n + 1)) == NULL)
			return 1;
		memset(body, 'b', n);
		if (https_request(h, method, path, "X-Test: 1\r\n", body, n, &r,
		    err, sizeof(err)) == -1)
			printf("error %s\n", err);
		else {
			for (t = 0; t < r.body_len && t < sizeof(text) - 1; t++)
				text[t] = r.body[t] >= 0x20 && r.body[t] < 0x7f ?
				    r.body[t] : '.';
			text[t] = '\0';
			printf("status %d sent %llu len %zu cut %d retry %ld "
			    "body %s\n", r.status, (unsigned long long)r.sent,
			    r.body_len, r.body_cut, r.retry_after, text);
		}
		fflush(stdout);
		free(body);
	}
	https_free(h);
	return 0;
usage:
	fprintf(stderr, "usage: https_client [-c ca_file] [-p pin] "
	    "[-t timeout] URL [METHOD:]PATH[:BYTES] ...\n");
	return 2;
}
