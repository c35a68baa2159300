/*
 * flow_test.c: flowd's flow table, labelling and batch writer, driven
 * with synthetic packet and socket records through input_record() as a
 * replay would, and checked in the SQLite batches they produce: ending
 * (FIN, RST, socket closed, idle, reuse, end of input), labelling (TCP
 * exact, UDP wildcard, late news within the grace, recently closed
 * sockets), direction, flows spanning batches, exclusion of shipd's
 * flows and the bound on the table.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "../../flowd/flowd.h"

#define S(x)	((uint64_t)(x) * 1000000ULL)
#define T0	S(1700000000)

static struct flowd fd;
static char dir[256], out[300], work[300];

static int
setup(void **state)
{
	(void)state;
	memset(&fd, 0, sizeof(fd));
	snprintf(dir, sizeof(dir), "/tmp/flow_test.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(work, sizeof(work), "%s/work", dir);
	fd.conf.outbox = out;
	fd.conf.work_dir = work;
	fd.conf.batch_size = 1 << 30;
	fd.conf.idle_us[TC_TCP] = S(300);
	fd.conf.idle_us[TC_UDP] = S(60);
	fd.conf.idle_us[TC_OTHER] = S(60);
	fd.conf.fin_grace_us = S(2);
	fd.conf.label_grace_us = S(1);
	fd.conf.max_flows = 1000;
	fd.conf.exclude_self = 1;
	fd.conf.replay = 1;
	fd.conf.replay_hash = 0x1234;
	fd.conf.run = 1;
	fd.priv = privacy_new(PRIV_CLEAR, NULL);
	fd.st = label_init();
	flow_init(&fd);
	char err[256];
	return batch_open(&fd, err, sizeof(err));
}

static int
teardown(void **state)
{
	char cmd[400];

	(void)state;
	flow_free_all(&fd);
	label_free(fd.st);
	privacy_free(fd.priv);
	appstats_free(&fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
finish(void)
{
	flow_end_all(&fd, END_EOF);
	batch_finish(&fd);
}

static void
pkt(uint64_t ts, int dir_, int proto, const char *src, int sport,
    const char *dst, int dport, int flags, int len)
{
	struct vbs_rec r;
	struct pkt_rec *p = &r.u.pkt;
	int v6 = strchr(src, ':') != NULL;

	memset(&r, 0, sizeof(r));
	r.type = MSG_PACKETS;
	p->ts_us = ts;
	p->dir = (uint8_t)dir_;
	p->ipver = v6 ? 6 : 4;
	p->proto = (uint8_t)proto;
	p->sport = (uint16_t)sport;
	p->dport = (uint16_t)dport;
	p->tcpflags = (uint8_t)flags;
	p->iplen = (uint32_t)len;
	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, src, p->src), 1);
	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, dst, p->dst), 1);
	input_record(&fd, &r, 0);
}

static void
sock(uint64_t ts, int event, int source, int proto, const char *la, int lp,
    const char *ra, int rp, const char *comm, int pid)
{
	struct vbs_rec r;
	struct sock_rec *s = &r.u.sock;
	int v6 = strchr(la, ':') != NULL;

	memset(&r, 0, sizeof(r));
	r.type = MSG_SOCKETS;
	s->ts_us = ts;
	s->event = (uint8_t)event;
	s->source = (uint8_t)source;
	s->ipver = v6 ? 6 : 4;
	s->proto = (uint8_t)proto;
	s->lport = (uint16_t)lp;
	s->rport = (uint16_t)rp;
	s->pid = pid;
	s->uid = 1000;
	snprintf(s->comm, sizeof(s->comm), "%s", comm);
	snprintf(s->exe, sizeof(s->exe), "/usr/bin/%s", comm);
	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, la, s->laddr), 1);
	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, ra, s->raddr), 1);
	input_record(&fd, &r, 1);
}

static int
filter_sqlite(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 7 && strcmp(d->d_name + n - 7, ".sqlite") == 0;
}

/* Rows of a query over every batch in the outbox, "a|b|c\n" each. */
static char *
query(const char *sql)
{
	static char buf[65536];
	struct dirent **list;
	char path[600];
	size_t len = 0;
	int n, i, c;

	buf[0] = '\0';
	n = scandir(out, &list, filter_sqlite, alphasort);
	for (i = 0; i < n; i++) {
		sqlite3 *db;
		sqlite3_stmt *st;

		snprintf(path, sizeof(path), "%s/%s", out, list[i]->d_name);
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
		    SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			for (c = 0; c < sqlite3_column_count(st); c++) {
				const unsigned char *t =
				    sqlite3_column_text(st, c);
				len += (size_t)snprintf(buf + len,
				    sizeof(buf) - len, "%s%s", c ? "|" : "",
				    t != NULL ? (const char *)t : "NULL");
			}
			len += (size_t)snprintf(buf + len, sizeof(buf) - len,
			    "\n");
		}
		sqlite3_finalize(st);
		sqlite3_close(db);
		free(list[i]);
	}
	free(list);
	return buf;
}

static int
nbatches(void)
{
	struct dirent **list;
	int n, i;

	n = scandir(out, &list, filter_sqlite, alphasort);
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return n;
}

#define FLOWQ	"SELECT local_ip, local_port, remote_ip, remote_port, " \
	"packets_out, packets_in, bytes_out, bytes_in, app, label_source, " \
	"label_delay_us, end_reason FROM flows WHERE ended = 1 " \
	"ORDER BY start_us, flow_id"

/* TCP labelled by an earlier event; FIN both ways plus the grace. */
static void
test_tcp_fin_label(void **state)
{
	(void)state;
	sock(T0, SOCK_OPEN, SRC_EBPF, 6, "10.0.0.1", 40000, "192.0.2.1", 443,
	    "curl", 77);
	pkt(T0 + 10, DIR_OUT, 6, "10.0.0.1", 40000, "192.0.2.1", 443,
	    TH_SYN, 60);
	pkt(T0 + 20, DIR_IN, 6, "192.0.2.1", 443, "10.0.0.1", 40000,
	    TH_SYN | TH_ACK, 60);
	pkt(T0 + 30, DIR_OUT, 6, "10.0.0.1", 40000, "192.0.2.1", 443,
	    TH_ACK | TH_FIN, 52);
	pkt(T0 + 40, DIR_IN, 6, "192.0.2.1", 443, "10.0.0.1", 40000,
	    TH_ACK | TH_FIN, 52);
	pkt(T0 + 50, DIR_OUT, 6, "10.0.0.1", 40000, "192.0.2.1", 443,
	    TH_ACK, 52);
	/* after the grace, the same 5-tuple is a new flow */
	pkt(T0 + S(3), DIR_OUT, 6, "10.0.0.1", 40000, "192.0.2.1", 443,
	    TH_SYN, 60);
	finish();
	assert_string_equal(query(FLOWQ),
	    "10.0.0.1|40000|192.0.2.1|443|3|2|164|112|curl|event|0|fin\n"
	    "10.0.0.1|40000|192.0.2.1|443|1|0|60|0|curl|event|0|eof\n");
	assert_string_equal(query("SELECT seq, direction, size, tcp_flags, "
	    "rel_us FROM packets ORDER BY flow_id, seq"),
	    "0|0|60|2|0\n1|1|60|18|10\n2|0|52|17|10\n3|1|52|17|10\n"
	    "4|0|52|16|10\n0|0|60|2|0\n");
}

/* A SYN on a 5-tuple closing after RST starts a new flow at once. */
static void
test_rst_reuse(void **state)
{
	(void)state;
	pkt(T0, DIR_UNKNOWN, 6, "10.0.0.9", 5555, "10.0.0.2", 22, TH_SYN, 44);
	pkt(T0 + 5, DIR_UNKNOWN, 6, "10.0.0.2", 22, "10.0.0.9", 5555,
	    TH_RST | TH_ACK, 40);
	pkt(T0 + 100, DIR_UNKNOWN, 6, "10.0.0.9", 5555, "10.0.0.2", 22,
	    TH_SYN, 44);
	finish();
	assert_string_equal(query(FLOWQ),
	    "10.0.0.9|5555|10.0.0.2|22|1|1|44|40|NULL|none|NULL|rst\n"
	    "10.0.0.9|5555|10.0.0.2|22|1|0|44|0|NULL|none|NULL|eof\n");
}

/*
 * UDP: a wildcard-bound socket seen after the first packet labels the
 * flow (delay counted); a flow whose socket closed before it started
 * is not labelled by it.
 */
static void
test_udp_wildcard_late(void **state)
{
	(void)state;
	sock(T0, SOCK_CLOSE, SRC_DESTROY, 17, "0.0.0.0", 6000, "0.0.0.0", 0,
	    "old", 5);
	pkt(T0 + 1000, DIR_OUT, 17, "10.0.0.1", 6000, "192.0.2.53", 53, 0,
	    70);
	sock(T0 + 3000, SOCK_SNAPSHOT, SRC_DUMP, 17, "0.0.0.0", 6000,
	    "0.0.0.0", 0, "dig", 9);
	pkt(T0 + 4000, DIR_IN, 17, "192.0.2.53", 53, "10.0.0.1", 6000, 0,
	    120);
	finish();
	assert_string_equal(query(FLOWQ),
	    "10.0.0.1|6000|192.0.2.53|53|1|1|70|120|dig|dump|2000|eof\n");
}

/*
 * An unlabelled flow that ended waits label_grace: a destroy event in
 * time labels it; one that comes too late does not.
 */
static void
test_label_grace(void **state)
{
	(void)state;
	pkt(T0, DIR_OUT, 17, "10.0.0.1", 7000, "192.0.2.9", 123, 0, 76);
	pkt(T0 + 10, DIR_OUT, 17, "10.0.0.1", 7001, "192.0.2.9", 123, 0, 76);
	/* both idle out at T0 + 60 s; the grace runs to T0 + 61 s */
	pkt(T0 + S(60) + 500000, DIR_OUT, 6, "10.0.0.1", 1, "192.0.2.1", 1,
	    TH_SYN, 40);
	sock(T0 + S(60) + 600000, SOCK_CLOSE, SRC_DESTROY, 17, "10.0.0.1",
	    7000, "0.0.0.0", 0, "ntpd", 3);
	sock(T0 + S(62), SOCK_CLOSE, SRC_DESTROY, 17, "10.0.0.1", 7001,
	    "0.0.0.0", 0, "ntpd", 3);
	finish();
	assert_string_equal(query("SELECT local_port, app, label_source, "
	    "end_reason FROM flows WHERE protocol = 17 ORDER BY local_port"),
	    "7000|ntpd|destroy|idle\n7001|NULL|none|idle\n");
}

/*
 * Live, sockd's news are read before packets older than them that were
 * still in capd's buffer: news of another socket, dated past the UDP
 * flow's idle end, must not end it before its late packet comes (one
 * flow, as a replay in time order makes).
 */
static void
test_news_lag(void **state)
{
	(void)state;
	pkt(T0, DIR_OUT, 17, "10.0.0.1", 7000, "192.0.2.9", 123, 0, 76);
	sock(T0 + S(60) + 200000, SOCK_OPEN, SRC_EBPF, 17, "10.0.0.1",
	    7100, "0.0.0.0", 0, "other", 4);
	pkt(T0 + S(60) - 100000, DIR_IN, 17, "192.0.2.9", 123, "10.0.0.1",
	    7000, 0, 76);
	finish();
	assert_string_equal(query("SELECT local_port, packets_out, "
	    "packets_in FROM flows WHERE protocol = 17"), "7000|1|1\n");
}

/* TCP: sockd's close ends the flow after the grace, labelled. */
static void
test_sock_closed(void **state)
{
	(void)state;
	pkt(T0, DIR_OUT, 6, "2001:db8::1", 50000, "2001:db8::2", 80, TH_SYN,
	    80);
	sock(T0 + 100, SOCK_OPEN, SRC_LOOKUP, 6, "2001:db8::1", 50000,
	    "2001:db8::2", 80, "wget", 4);
	sock(T0 + 200, SOCK_CLOSE, SRC_DESTROY, 6, "2001:db8::1", 50000,
	    "2001:db8::2", 80, "wget", 4);
	pkt(T0 + 300, DIR_IN, 6, "2001:db8::2", 80, "2001:db8::1", 50000,
	    TH_ACK, 72);
	pkt(T0 + S(5), DIR_OUT, 17, "2001:db8::1", 1, "2001:db8::2", 1, 0,
	    48);
	finish();
	assert_string_equal(query("SELECT local_ip, packets_out, packets_in, "
	    "app, label_source, label_delay_us, end_reason FROM flows "
	    "WHERE protocol = 6"),
	    "2001:db8::1|1|1|wget|lookup|100|closed\n");
}

/*
 * Live, sockd's close is read before the FINs still in capd's buffer:
 * the earliest end wins whatever is read first, so the flow ends "fin",
 * as a replay in time order has it.
 */
static void
test_close_order(void **state)
{
	(void)state;
	pkt(T0, DIR_OUT, 6, "10.0.0.1", 50001, "192.0.2.80", 80, TH_SYN, 60);
	sock(T0 + 5000, SOCK_CLOSE, SRC_DESTROY, 6, "10.0.0.1", 50001,
	    "192.0.2.80", 80, "curl", 4);
	pkt(T0 + 1000, DIR_OUT, 6, "10.0.0.1", 50001, "192.0.2.80", 80,
	    TH_FIN | TH_ACK, 52);
	pkt(T0 + 2000, DIR_IN, 6, "192.0.2.80", 80, "10.0.0.1", 50001,
	    TH_FIN | TH_ACK, 52);
	pkt(T0 + S(5), DIR_OUT, 17, "10.0.0.1", 1, "192.0.2.1", 1, 0, 48);
	finish();
	assert_string_equal(query("SELECT packets_out, packets_in, "
	    "end_reason FROM flows WHERE protocol = 6"), "2|1|fin\n");
}

/* A dual-stack socket (v4-mapped) labels the IPv4 flow. */
static void
test_v4mapped(void **state)
{
	(void)state;
	sock(T0, SOCK_OPEN, SRC_EBPF, 6, "::ffff:10.0.0.1", 40001,
	    "::ffff:192.0.2.1", 443, "python3", 8);
	pkt(T0 + 10, DIR_OUT, 6, "10.0.0.1", 40001, "192.0.2.1", 443, TH_SYN,
	    60);
	finish();
	assert_string_equal(query("SELECT app, pid, uid, exe FROM flows"),
	    "python3|8|1000|/usr/bin/python3\n");
}

/* Direction unknown: the first sender is local, replies are in. */
static void
test_direction_unknown(void **state)
{
	(void)state;
	pkt(T0, DIR_UNKNOWN, 17, "192.0.2.7", 53, "10.0.0.1", 9999, 0, 100);
	pkt(T0 + 1, DIR_UNKNOWN, 17, "10.0.0.1", 9999, "192.0.2.7", 53, 0,
	    50);
	pkt(T0 + 2, DIR_UNKNOWN, 17, "192.0.2.7", 53, "10.0.0.1", 9999, 0,
	    100);
	finish();
	assert_string_equal(query("SELECT local_ip, local_port, packets_out, "
	    "packets_in FROM flows"), "192.0.2.7|53|2|1\n");
	assert_string_equal(query("SELECT direction FROM packets ORDER BY "
	    "seq"), "0\n1\n0\n");
}

/*
 * Small batches: a long flow spans several; every packet is in exactly
 * one batch, the flow has one ended row with the final totals, and
 * each earlier batch has an open row (ended = 0) with its first seq.
 */
static void
test_spanning(void **state)
{
	int i;

	(void)state;
	fd.conf.batch_size = 16 * 1024;
	for (i = 0; i < 20000; i++)
		pkt(T0 + (uint64_t)i * 1000, i % 3 ? DIR_OUT : DIR_IN, 17,
		    i % 3 ? "10.0.0.1" : "192.0.2.2", i % 3 ? 1111 : 2222,
		    i % 3 ? "192.0.2.2" : "10.0.0.1", i % 3 ? 2222 : 1111, 0,
		    100 + i % 50);
	finish();
	assert_true(nbatches() > 3);
	char *got = query("SELECT count(*), min(seq), max(seq) FROM packets");
	long total = 0, lastmax = -1, n, mn, mx, first, ended, pk;
	char *p = got;
	while (*p != '\0') {
		assert_int_equal(sscanf(p, "%ld|%ld|%ld", &n, &mn, &mx), 3);
		assert_int_equal(mn, lastmax + 1);
		assert_int_equal(mx - mn + 1, n);
		lastmax = mx;
		total += n;
		p = strchr(p, '\n') + 1;
	}
	assert_int_equal(total, 20000);
	/* one row per batch; first_seq is the batch's first packet */
	got = query("SELECT f.first_seq = (SELECT min(seq) FROM packets), "
	    "f.ended, f.packets_out + f.packets_in FROM flows f");
	for (p = got, n = 0; *p != '\0'; p = strchr(p, '\n') + 1, n++) {
		assert_int_equal(sscanf(p, "%ld|%ld|%ld", &first, &ended,
		    &pk), 3);
		assert_int_equal(first, 1);
		assert_int_equal(ended, strchr(p, '\n')[1] == '\0');
		if (ended)
			assert_int_equal(pk, 20000);
	}
	assert_int_equal(n, nbatches());
}

/* shipd's own flows are left out, even when labelled late. */
static void
test_exclude_self(void **state)
{
	(void)state;
	pkt(T0, DIR_OUT, 6, "10.0.0.1", 41000, "198.51.100.1", 443, TH_SYN,
	    60);
	pkt(T0 + 10, DIR_IN, 6, "198.51.100.1", 443, "10.0.0.1", 41000,
	    TH_SYN | TH_ACK, 60);
	sock(T0 + 20, SOCK_OPEN, SRC_LOOKUP, 6, "10.0.0.1", 41000,
	    "198.51.100.1", 443, "shipd", 12);
	pkt(T0 + 30, DIR_OUT, 6, "10.0.0.1", 41000, "198.51.100.1", 443,
	    TH_ACK, 52);
	pkt(T0 + 40, DIR_OUT, 17, "10.0.0.1", 5, "198.51.100.1", 5, 0, 52);
	finish();
	assert_string_equal(query("SELECT protocol FROM flows"), "17\n");
	assert_string_equal(query("SELECT count(*) FROM packets"), "1\n");
	assert_int_equal(fd.cnt.excluded_flows, 1);
}

/* The table is bounded: past max_flows the least recent flow ends. */
static void
test_bounded(void **state)
{
	char a[32];
	int i;

	(void)state;
	fd.conf.max_flows = 100;
	for (i = 0; i < 1000; i++) {
		snprintf(a, sizeof(a), "192.0.2.%d", i % 250);
		pkt(T0 + (uint64_t)i, DIR_OUT, 17, "10.0.0.1", 1000 + i, a,
		    53, 0, 60);
	}
	assert_true(fd.nflows <= 100);
	finish();
	assert_string_equal(query("SELECT count(*), sum(end_reason = "
	    "'evicted') FROM flows WHERE ended = 1"), "1000|900\n");
}

/*
 * Thousands of sockets, news before packets: the socket table grows
 * from its first 1,024 buckets and every flow still finds its own.
 */
static void
test_many_sockets(void **state)
{
	char a[32], comm[16];
	int i;

	(void)state;
	for (i = 0; i < 5000; i++) {
		snprintf(a, sizeof(a), "192.0.2.%d", i % 250);
		snprintf(comm, sizeof(comm), "p%d", i % 7);
		sock(T0 + (uint64_t)i, SOCK_OPEN, SRC_EBPF, 17, "10.0.0.1",
		    20000 + i, a, 53, comm, 100 + i);
	}
	for (i = 0; i < 5000; i++) {
		snprintf(a, sizeof(a), "192.0.2.%d", i % 250);
		pkt(T0 + 5000 + (uint64_t)i, DIR_OUT, 17, "10.0.0.1",
		    20000 + i, a, 53, 0, 60);
	}
	finish();
	assert_string_equal(query("SELECT count(*), sum(app = 'p' || "
	    "((local_port - 20000) % 7)), sum(pid = local_port - 19900) "
	    "FROM flows WHERE ended = 1"), "5000|5000|5000\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tcp_fin_label, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rst_reuse, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_udp_wildcard_late, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_label_grace, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_news_lag, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sock_closed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_close_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_v4mapped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_direction_unknown, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_spanning, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_exclude_self, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bounded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_many_sockets, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
