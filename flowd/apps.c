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
 * Beside it, stats.tsv holds every counter (counter, value) for
 * `vbsctl stats`.
 */

#include <sys/types.h>
#include <sys/stat.h>

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

/* Which of a view's two files is written next; -1: not known yet. */
static int	 apps_side = -1, stats_side = -1;

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

/*
 * Replace WORK_DIR/name whole, as readers see it.  The table is written
 * in place into name.0 or name.1, in turn, and name is then made a hard
 * link to that file by a rename: a reader opens the old table or the
 * new, and the file it holds is rewritten only two rounds later.  No
 * file is made or freed: a new file renamed over the old one each time
 * was 42% of an idle flowd's CPU in the lab, where ext4 (mounted with
 * discard) wrote each new file out at the rename and discarded the old
 * one's blocks.  These are views for vbsctl, rebuilt every few seconds:
 * no fsync.
 */
static void
view_write(struct flowd *fd, const char *name, int *side,
    void (*fill)(struct flowd *, FILE *))
{
	char path[1024], file[1100], tmp[1100];
	struct stat cur, st;
	FILE *fp;
	long len;

	snprintf(path, sizeof(path), "%s/%s", fd->conf.work_dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (*side == -1) {
		/* the side name links to now, left by an earlier flowd */
		snprintf(file, sizeof(file), "%s.0", path);
		*side = stat(path, &cur) == 0 && stat(file, &st) == 0 &&
		    cur.st_ino == st.st_ino && cur.st_dev == st.st_dev;
	}
	snprintf(file, sizeof(file), "%s.%d", path, *side);
	if ((fp = fopen(file, "r+")) == NULL &&
	    (fp = fopen(file, "w")) == NULL) {
		log_warn("%s", file);
		return;
	}
	fill(fd, fp);
	if (fflush(fp) != 0 || (len = ftell(fp)) == -1 ||
	    ftruncate(fileno(fp), (off_t)len) == -1) {
		log_warn("%s", file);
		fclose(fp);
		return;
	}
	if (fclose(fp) != 0) {
		log_warn("%s", file);
		return;
	}
	unlink(tmp);
	if (link(file, tmp) == -1 || rename(tmp, path) == -1)
		log_warn("link %s to %s", file, path);
	*side = !*side;
}

static void
apps_fill(struct flowd *fd, FILE *fp)
{
	struct appstats *as = fd->apps;
	char day[16];
	struct tm tm;
	time_t t;
	size_t i;

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
}

/* apps.tsv: traffic by day and application, for vbsctl top. */
void
appstats_write(struct flowd *fd)
{
	if (fd->apps != NULL)
		view_write(fd, "apps.tsv", &apps_side, apps_fill);
}

static void
stat_line(void *fp, const char *key, uint64_t v)
{
	fprintf(fp, "%s\t%" PRIu64 "\n", key, v);
}

static void
stats_fill(struct flowd *fd, FILE *fp)
{
	fprintf(fp, "# counter\tvalue (flowd's, and capd's and sockd's "
	    "latest)\n");
	stat_line(fp, "time_us", now_us());
	counters_each(fd, stat_line, fp);
}

/* stats.tsv: every counter, for vbsctl stats. */
void
stats_write(struct flowd *fd)
{
	view_write(fd, "stats.tsv", &stats_side, stats_fill);
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
