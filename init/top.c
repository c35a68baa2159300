/*
 * top.c: `vbsctl top`, the volunteer's view of their own traffic by
 * application.  Runs as any user who may read flowd's work directory.
 * It reads WORK_DIR/apps.tsv, the table flowd rewrites atomically (day,
 * app, flows, packets, bytes out, bytes in, per UTC day), and shows
 * today's rows, largest first, with the rate since the previous refresh
 * as "now".  The file is flowd's: each line is checked, and a line that
 * does not parse is skipped, never trusted.
 */

#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vbsd.h"

#define TOP_MAX		4096

struct top_row {
	char		app[64];
	uint64_t	flows, packets, out, in;
	uint64_t	prev;		/* bytes at the previous refresh */
};

static struct top_row	rows[TOP_MAX];
static size_t		nrows;

static struct top_row *
find(const char *app)
{
	size_t	i;

	for (i = 0; i < nrows; i++)
		if (strcmp(rows[i].app, app) == 0)
			return &rows[i];
	if (nrows == TOP_MAX)
		return NULL;
	memset(&rows[nrows], 0, sizeof(rows[nrows]));
	snprintf(rows[nrows].app, sizeof(rows[nrows].app), "%s", app);
	return &rows[nrows++];
}

/* Today's rows of apps.tsv; 0 when read (or absent), -1 on error. */
static int
load(const char *path, const char *today)
{
	FILE		*fp;
	char		 line[512], day[16], app[64];
	unsigned long long f, p, o, i;
	struct top_row	*r;
	size_t		 k;

	for (k = 0; k < nrows; k++) {
		rows[k].prev = rows[k].out + rows[k].in;
		rows[k].flows = rows[k].packets = rows[k].out = rows[k].in = 0;
	}
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%15[^\t]\t%63[^\t]\t%llu\t%llu\t%llu\t%llu",
		    day, app, &f, &p, &o, &i) != 6)
			continue;
		if (strcmp(day, today) != 0 || (r = find(app)) == NULL)
			continue;
		r->flows = f;
		r->packets = p;
		r->out = o;
		r->in = i;
	}
	fclose(fp);
	return 0;
}

static int
by_bytes(const void *a, const void *b)
{
	const struct top_row	*x = a, *y = b;
	uint64_t		 bx = x->out + x->in, by = y->out + y->in;

	return bx < by ? 1 : bx > by ? -1 : strcmp(x->app, y->app);
}

static const char *
human(uint64_t v, char *buf, size_t len)
{
	const char	*u = "kMGTP";
	double		 d = (double)v;
	int		 i = -1;

	if (v < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", v);
		return buf;
	}
	while (d >= 1024 && i < 4) {
		d /= 1024;
		i++;
	}
	snprintf(buf, len, "%.1f %cB", d, u[i]);
	return buf;
}

static void
show(const char *path, const char *today, double secs, int clear)
{
	char		a[32], b[32], c[32];
	uint64_t	tot = 0;
	size_t		i;

	qsort(rows, nrows, sizeof(rows[0]), by_bytes);
	if (clear)
		printf("\033[H\033[2J");
	printf("VBS: your traffic by application, %s (UTC), from %s\n\n",
	    today, path);
	printf("%-16s %8s %10s %11s %11s %11s\n", "APPLICATION", "FLOWS",
	    "PACKETS", "SENT", "RECEIVED", "NOW");
	for (i = 0; i < nrows; i++) {
		uint64_t	bytes = rows[i].out + rows[i].in;
		uint64_t	rate = 0;

		if (bytes == 0)
			continue;
		if (secs > 0 && bytes >= rows[i].prev && rows[i].prev > 0)
			rate = (uint64_t)((double)(bytes - rows[i].prev) / secs);
		tot += bytes;
		printf("%-16s %8" PRIu64 " %10" PRIu64 " %11s %11s %9s/s\n",
		    strcmp(rows[i].app, "-") == 0 ? "(unlabelled)" :
		    rows[i].app, rows[i].flows, rows[i].packets,
		    human(rows[i].out, a, sizeof(a)),
		    human(rows[i].in, b, sizeof(b)),
		    human(rate, c, sizeof(c)));
	}
	printf("\n%s today in flows that have ended.%s\n",
	    human(tot, a, sizeof(a)), clear ? "  Ctrl-C to leave." : "");
	fflush(stdout);
}

/*
 * vbsctl top [-n count] [-i seconds]: refresh every interval, count
 * times (0: until interrupted).  argv[0] is "top".
 */
int
cmd_top(struct vbs_conf *conf, int argc, char **argv)
{
	char		 path[1024], today[16];
	struct tm	 tm;
	time_t		 now;
	long		 count = 0, n, interval = 2;
	int		 ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "i:n:")) != -1) {
		switch (ch) {
		case 'i':
			interval = strtol(optarg, NULL, 10);
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: vbsctl top [-i seconds] "
			    "[-n count]\n");
			return EXIT_USAGE;
		}
	}
	if (interval < 1 || interval > 3600 || count < 0)
		errx(EXIT_USAGE, "top: bad -i or -n");
	snprintf(path, sizeof(path), "%s/apps.tsv",
	    conf_str(conf, "flowd", "work_dir"));
	for (n = 0; count == 0 || n < count; n++) {
		if (n > 0)
			sleep((unsigned)interval);
		now = time(NULL);
		gmtime_r(&now, &tm);
		strftime(today, sizeof(today), "%Y-%m-%d", &tm);
		if (load(path, today) == -1 && n == 0)
			warnx("%s: no traffic counted yet (flowd writes it)",
			    path);
		show(path, today, n > 0 ? (double)interval : 0,
		    count != 1 && isatty(STDOUT_FILENO));
	}
	return EXIT_OK;
}
