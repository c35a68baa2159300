/*
 * stats.c: `vbsctl stats`, the live counters of the client.  Runs as any
 * user who may read flowd's work directory and the outbox.  Reads three
 * small files the stages replace whole every few seconds: flowd's
 * WORK_DIR/stats.tsv (its own counters and capd's and sockd's latest),
 * shipd's OUTBOX/.status (the last upload and its result) and
 * OUTBOX/.lost (batches dropped at the disk bound), and counts the
 * batches waiting in the outbox.  Lines that do not parse are skipped.
 */

#include <dirent.h>
#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "vbsd.h"

#define STAT_MAX	256

struct stat_kv {
	char		key[80];
	char		val[320];
};

struct stat_file {
	struct stat_kv	kv[STAT_MAX];
	int		n;
	int		found;
};

/* "key<TAB or space>value" lines; # starts a comment. */
static void
stat_load(struct stat_file *f, const char *path)
{
	FILE	*fp;
	char	 line[512], *sep;

	memset(f, 0, sizeof(*f));
	if ((fp = fopen(path, "r")) == NULL)
		return;
	f->found = 1;
	while (f->n < STAT_MAX && fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || (sep = strpbrk(line, "\t ")) == NULL)
			continue;
		*sep++ = '\0';
		snprintf(f->kv[f->n].key, sizeof(f->kv[f->n].key), "%.79s",
		    line);
		snprintf(f->kv[f->n].val, sizeof(f->kv[f->n].val), "%.319s",
		    sep);
		f->n++;
	}
	fclose(fp);
}

static const char *
stat_str(const struct stat_file *f, const char *key)
{
	int	i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->kv[i].key, key) == 0)
			return f->kv[i].val;
	return NULL;
}

static uint64_t
stat_u64(const struct stat_file *f, const char *key)
{
	const char	*v = stat_str(f, key);

	return v != NULL ? strtoull(v, NULL, 10) : 0;
}

/* The sum of capd's counters of undecodable packets, by reason. */
static uint64_t
capd_malformed(const struct stat_file *f)
{
	static const char *ok[] = { "capd_received", "capd_emitted",
	    "capd_not_ip", "capd_frag_first", "capd_frag_later",
	    "capd_frag_matched", "capd_kernel_received",
	    "capd_kernel_dropped", "capd_interface_dropped",
	    "capd_queue_dropped_records", "capd_queue_dropped_messages",
	    "capd_queue_bytes", NULL };
	uint64_t	 sum = 0;
	int		 i, k, skip;

	for (i = 0; i < f->n; i++) {
		if (strncmp(f->kv[i].key, "capd_", 5) != 0)
			continue;
		for (skip = 0, k = 0; ok[k] != NULL; k++)
			if (strcmp(f->kv[i].key, ok[k]) == 0)
				skip = 1;
		if (!skip)
			sum += strtoull(f->kv[i].val, NULL, 10);
	}
	return sum;
}

static void
outbox_waiting(const char *dir, uint64_t *n, uint64_t *bytes)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	char		 p[1200];
	size_t		 l;

	*n = *bytes = 0;
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l < 8 ||
		    strcmp(de->d_name + l - 7, ".sqlite") != 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (stat(p, &sb) == 0) {
			(*n)++;
			*bytes += (uint64_t)sb.st_size;
		}
	}
	closedir(d);
}

static const char *
when(uint64_t us, char *buf, size_t len)
{
	time_t		t = (time_t)(us / 1000000);
	struct tm	tm;

	if (us == 0)
		return "never";
	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

static void
json_kv(const char *k, const char *v, int *first)
{
	const char	*p;

	printf("%s\"%s\":", *first ? "" : ",", k);
	*first = 0;
	for (p = v; *p >= '0' && *p <= '9'; p++)
		;
	if (*v != '\0' && *p == '\0') {
		printf("%s", v);
		return;
	}
	putchar('"');
	for (p = v; *p != '\0'; p++)
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if ((unsigned char)*p >= 0x20)
			putchar(*p);
	putchar('"');
}

/* vbsctl [-j] stats: argv[0] is "stats". */
int
cmd_stats(struct vbs_conf *conf, int json, int argc, char **argv)
{
	static struct stat_file	 fl, sh, lost;
	char			 path[1200], t1[32], t2[32], num[32];
	const char		*outbox = conf_str(conf, "flowd", "outbox");
	uint64_t		 waiting, wbytes, ended, lab;
	int			 i, first = 1;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: vbsctl [-j] stats\n");
		return EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "%s/stats.tsv",
	    conf_str(conf, "flowd", "work_dir"));
	stat_load(&fl, path);
	snprintf(path, sizeof(path), "%s/.status", outbox);
	stat_load(&sh, path);
	snprintf(path, sizeof(path), "%s/.lost", outbox);
	stat_load(&lost, path);
	outbox_waiting(outbox, &waiting, &wbytes);
	if (json) {
		printf("{");
		for (i = 0; i < fl.n; i++)
			json_kv(fl.kv[i].key, fl.kv[i].val, &first);
		for (i = 0; i < sh.n; i++) {
			snprintf(path, sizeof(path), "shipd_%s", sh.kv[i].key);
			json_kv(path, sh.kv[i].val, &first);
		}
		for (i = 0; i < lost.n; i++) {
			snprintf(path, sizeof(path), "shipd_%s",
			    lost.kv[i].key);
			json_kv(path, lost.kv[i].val, &first);
		}
		snprintf(num, sizeof(num), "%" PRIu64, waiting);
		json_kv("outbox_batches", num, &first);
		snprintf(num, sizeof(num), "%" PRIu64, wbytes);
		json_kv("outbox_bytes", num, &first);
		printf("}\n");
		return fl.found ? EXIT_OK : 1;
	}
	if (!fl.found)
		warnx("%s: no counters yet (flowd writes them every 5 s)",
		    path);
	ended = stat_u64(&fl, "flowd_flows_ended");
	lab = stat_u64(&fl, "flowd_flows_labelled");
	printf("counters as of %s\n", when(stat_u64(&fl, "time_us"), t1,
	    sizeof(t1)));
	printf("capture   %" PRIu64 " packets received, %" PRIu64
	    " emitted, %" PRIu64 " not IP, %" PRIu64 " undecodable\n",
	    stat_u64(&fl, "capd_received"), stat_u64(&fl, "capd_emitted"),
	    stat_u64(&fl, "capd_not_ip"), capd_malformed(&fl));
	printf("drops     kernel %" PRIu64 ", interface %" PRIu64
	    ", capd queue %" PRIu64 ", sockd queue %" PRIu64 "\n",
	    stat_u64(&fl, "capd_kernel_dropped"),
	    stat_u64(&fl, "capd_interface_dropped"),
	    stat_u64(&fl, "capd_queue_dropped_records"),
	    stat_u64(&fl, "sockd_dropped_records"));
	printf("flows     %" PRIu64 " seen, %" PRIu64 " ended, %" PRIu64
	    " labelled (%.1f%%); %" PRIu64 " packets stored\n",
	    stat_u64(&fl, "flowd_flows"), ended, lab,
	    ended ? 100.0 * (double)lab / (double)ended : 0.0,
	    stat_u64(&fl, "flowd_packets"));
	printf("sockets   %" PRIu64 " open, %" PRIu64 " look-ups (%" PRIu64
	    " found), %" PRIu64 " seen by eBPF\n",
	    stat_u64(&fl, "sockd_sockets"), stat_u64(&fl, "sockd_lookups"),
	    stat_u64(&fl, "sockd_lookups_found"),
	    stat_u64(&fl, "sockd_ebpf_opens"));
	printf("batches   %" PRIu64 " waiting in %s (%" PRIu64 " bytes); %"
	    PRIu64 " lost to the disk bound, %" PRIu64 " recovered after a "
	    "crash\n", waiting, outbox, wbytes,
	    stat_u64(&lost, "lost_batches"),
	    stat_u64(&fl, "flowd_recovered_batches"));
	if (sh.found)
		printf("upload    last %s: %s -> %s %s; %" PRIu64
		    " uploaded (%" PRIu64 " bytes), %" PRIu64 " refused\n",
		    when(stat_u64(&sh, "time_us"), t2, sizeof(t2)),
		    stat_str(&sh, "batch") ? stat_str(&sh, "batch") : "?",
		    stat_str(&sh, "http_status") ?
		    stat_str(&sh, "http_status") : "?",
		    stat_str(&sh, "result") ? stat_str(&sh, "result") : "",
		    stat_u64(&sh, "uploaded"), stat_u64(&sh, "uploaded_bytes"),
		    stat_u64(&sh, "refused"));
	else
		printf("upload    none yet\n");
	return fl.found ? EXIT_OK : 1;
}
