/*
 * apps.c: per-application traffic counters for the volunteer's view and
 * `vbsctl stats`.  Runs in flowd.  Every written flow adds its flows,
 * packets and bytes to the row of its application and its UTC day; the
 * table is rewritten atomically as WORK_DIR/apps.tsv:
 *
 *   # day	app	flows	packets	bytes_out	bytes_in
 *   2024-05-01	curl	12	340	20211	401223
 *
 * Unlabelled flows count under "-".  The table is bounded: past
 * APPS_MAX rows a new application is counted under "(other)".
 */

#include <sys/types.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flowd.h"

#define APPS_MAX	4096

struct app_row {
	uint32_t	 day;		/* days since the epoch */
	char		 app[VBS_COMM_MAX];
	uint64_t	 flows, packets, bytes_out, bytes_in;
};

struct appstats {
	struct app_row	*rows;
	size_t		 n;
};

static struct app_row *
row_find(struct appstats *as, uint32_t day, const char *app)
{
	size_t i;

	/* newest first: today's rows are at the end */
	for (i = as->n; i > 0; i--)
		if (as->rows[i - 1].day == day &&
		    strcmp(as->rows[i - 1].app, app) == 0)
			return &as->rows[i - 1];
	if (as->n == APPS_MAX) {
		if (strcmp(app, "(other)") == 0)
			return &as->rows[as->n - 1];
		return row_find(as, day, "(other)");
	}
	memset(&as->rows[as->n], 0, sizeof(as->rows[0]));
	as->rows[as->n].day = day;
	snprintf(as->rows[as->n].app, sizeof(as->rows[0].app), "%s", app);
	return &as->rows[as->n++];
}

void
appstats_flow(struct flowd *fd, const struct flow *f)
{
	struct appstats *as = fd->apps;
	struct app_row *r;

	if (as == NULL) {
		if ((as = calloc(1, sizeof(*as))) == NULL ||
		    (as->rows = calloc(APPS_MAX, sizeof(*as->rows))) == NULL)
			fatal("calloc");
		fd->apps = as;
	}
	r = row_find(as, (uint32_t)(f->start_us / 86400000000ULL),
	    f->label_src != LSRC_NONE && f->app[0] != '\0' ? f->app : "-");
	r->flows++;
	r->packets += f->pkts;
	r->bytes_out += f->bytes_out;
	r->bytes_in += f->bytes_in;
}

static int
row_cmp(const void *a, const void *b)
{
	const struct app_row *x = a, *y = b;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return strcmp(x->app, y->app);
}

/* Rewrite apps.tsv: a temporary file renamed over the old one. */
void
appstats_write(struct flowd *fd)
{
	struct appstats *as = fd->apps;
	char path[1024], tmp[1100], day[16];
	struct tm tm;
	time_t t;
	FILE *fp;
	size_t i;

	if (as == NULL)
		return;
	snprintf(path, sizeof(path), "%s/apps.tsv", fd->conf.work_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fp = fopen(tmp, "w")) == NULL) {
		log_warn("%s", tmp);
		return;
	}
	qsort(as->rows, as->n, sizeof(as->rows[0]), row_cmp);
	fprintf(fp, "# day\tapp\tflows\tpackets\tbytes_out\tbytes_in\n");
	for (i = 0; i < as->n; i++) {
		t = (time_t)as->rows[i].day * 86400;
		gmtime_r(&t, &tm);
		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
		fprintf(fp, "%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
		    "\t%" PRIu64 "\n", day, as->rows[i].app, as->rows[i].flows,
		    as->rows[i].packets, as->rows[i].bytes_out,
		    as->rows[i].bytes_in);
	}
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
		log_warn("%s", tmp);
		fclose(fp);
		unlink(tmp);
		return;
	}
	fclose(fp);
	if (rename(tmp, path) == -1)
		log_warn("rename %s", tmp);
}

void
appstats_free(struct flowd *fd)
{
	if (fd->apps == NULL)
		return;
	free(fd->apps->rows);
	free(fd->apps);
	fd->apps = NULL;
}
