/*
 * sockd_table_test.c: unit tests of sockd's socket table (table.c): which
 * events the dumps, destroy events, eBPF records and look-ups make, with
 * which owner, and what the ring of recently closed sockets answers.  The
 * kernel side (backend_dump, backend_lookup) and the owner cache are
 * stubbed: each test says what the kernel shows and who owns what.
 *
 * table.c keeps its state in statics with no reset, so the tests share
 * one table and each uses its own cookies and ports.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <netinet/in.h>

#include "../../sockd/sockd.h"

struct sockd_stats stats;

/* What the kernel shows: the next dump, the next look-up's answer. */
static struct sock_rec	kern[8];
static int		nkern;
static struct sock_rec	kern_lookup[2];
static int		nkern_lookup;

/* What the table emitted, newest last (the first 64 of a test). */
static struct sock_rec	emitted[64];
static int		nemitted;

int
backend_dump(sock_cb cb, void *arg)
{
	struct sock_rec	r;
	int		i;

	for (i = 0; i < nkern; i++) {
		r = kern[i];
		cb(arg, &r);
	}
	return 0;
}

int
backend_lookup(const struct lookup_rec *q, struct sock_rec *out, int max)
{
	int i;

	(void)q;
	for (i = 0; i < nkern_lookup && i < max; i++)
		out[i] = kern_lookup[i];
	return i;
}

/*
 * A socket with an inode (< 1000) is owned by pid 1000 + inode, named
 * "p<inode>", running /bin/p<inode>.
 */
void
owner_resolve(struct sock_rec **v, size_t n, int hint)
{
	size_t i;

	(void)hint;
	for (i = 0; i < n; i++) {
		if (v[i]->inode == 0)
			continue;
		v[i]->pid = (int32_t)(1000 + v[i]->inode);
		snprintf(v[i]->comm, sizeof(v[i]->comm), "p%u",
		    (unsigned)(v[i]->inode % 1000));
		snprintf(v[i]->exe, sizeof(v[i]->exe), "/bin/%s", v[i]->comm);
	}
}

void
owner_forget(const struct sock_rec *r)
{
	(void)r;
}

void
emit_sock(const struct sock_rec *r)
{
	if (nemitted < (int)(sizeof(emitted) / sizeof(emitted[0])))
		emitted[nemitted] = *r;
	nemitted++;
}

void
sockd_lookups_pending(void)
{
}

/* What the loop has not read yet; sockd_news() hands it to the table. */
static struct sock_rec	queued[4];
static int		nqueued;

void
sockd_news(void)
{
	int	i, n = nqueued;

	nqueued = 0;
	for (i = 0; i < n; i++) {
		if (queued[i].source == SRC_EBPF)
			table_ebpf(&queued[i]);
		else
			table_destroy(&queued[i]);
	}
}

/* A TCP socket 198.18.0.1:lport -> 198.18.0.2:443 as the kernel has it. */
static struct sock_rec
tcp(uint64_t cookie, uint64_t inode, uint16_t lport)
{
	struct sock_rec r;

	memset(&r, 0, sizeof(r));
	r.cookie = cookie;
	r.inode = inode;
	r.pid = -1;
	r.ipver = 4;
	r.proto = IPPROTO_TCP;
	r.state = 1;	/* ESTABLISHED */
	r.lport = lport;
	r.rport = 443;
	memcpy(r.laddr, "\xc6\x12\x00\x01", 4);
	memcpy(r.raddr, "\xc6\x12\x00\x02", 4);
	return r;
}

/* A destroy event as sockd_linux.c makes it. */
static struct sock_rec
gone(uint64_t cookie, uint16_t lport)
{
	struct sock_rec r = tcp(cookie, 0, lport);

	r.event = SOCK_CLOSE;
	r.source = SRC_DESTROY;
	r.state = 7;	/* CLOSE */
	return r;
}

static struct lookup_rec
ask(const struct sock_rec *r)
{
	struct lookup_rec q;

	memset(&q, 0, sizeof(q));
	q.id = 7;
	q.ipver = r->ipver;
	q.proto = r->proto;
	q.lport = r->lport;
	q.rport = r->rport;
	memcpy(q.laddr, r->laddr, sizeof(q.laddr));
	memcpy(q.raddr, r->raddr, sizeof(q.raddr));
	return q;
}

/*
 * A look-up of r's socket, which the kernel no longer has: answered from
 * the closed, with this owner.
 */
static void
answered_closed(const struct sock_rec *r, int32_t pid, const char *comm,
    const char *exe)
{
	struct lookup_rec	q = ask(r);
	struct answer_rec	a;

	assert_int_equal(nkern_lookup, 0);
	table_lookup(&q, &a);
	assert_int_equal(a.id, q.id);
	assert_int_equal(a.found, 1);
	assert_int_equal(a.sock.cookie, r->cookie);
	assert_int_equal(a.sock.pid, pid);
	assert_string_equal(a.sock.comm, comm);
	assert_string_equal(a.sock.exe, exe);
}

static int
setup(void **state)
{
	(void)state;
	table_init(1);		/* with destroy events: two dumps to close */
	return 0;
}

static void
reset(void)
{
	nkern = nkern_lookup = nemitted = nqueued = 0;
}

/* A dump opens what it first sees; a socket missing twice is closed. */
static void
test_dump(void **state)
{
	struct sock_rec	r;

	(void)state;
	reset();
	kern[nkern++] = tcp(0x100, 10, 40000);
	table_dump(0);
	assert_int_equal(nemitted, 1);
	assert_int_equal(emitted[0].event, SOCK_OPEN);
	assert_int_equal(emitted[0].source, SRC_DUMP);
	assert_int_equal(emitted[0].pid, 1010);
	assert_string_equal(emitted[0].comm, "p10");

	table_dump(0);			/* still there: nothing */
	assert_int_equal(nemitted, 1);
	nkern = 0;
	table_dump(0);			/* missed once: its destroy may come */
	assert_int_equal(nemitted, 1);
	table_dump(0);
	assert_int_equal(nemitted, 2);
	assert_int_equal(emitted[1].event, SOCK_CLOSE);
	assert_int_equal(emitted[1].cookie, 0x100);
	assert_int_equal(emitted[1].pid, 1010);

	/* Gone from the kernel: a look-up is answered from the closed. */
	r = tcp(0x100, 10, 40000);
	answered_closed(&r, 1010, "p10", "/bin/p10");
}

/* A destroy closes a known socket once; a late one is only counted. */
static void
test_destroy(void **state)
{
	struct sock_rec	r;
	uint64_t	late;

	(void)state;
	reset();
	kern[nkern++] = tcp(0x200, 20, 40001);
	table_dump(0);
	assert_int_equal(nemitted, 1);
	r = gone(0x200, 40001);
	table_destroy(&r);
	assert_int_equal(nemitted, 2);
	assert_int_equal(emitted[1].event, SOCK_CLOSE);
	assert_int_equal(emitted[1].source, SRC_DESTROY);
	assert_int_equal(emitted[1].pid, 1020);
	assert_int_equal(emitted[1].state, 7);

	late = stats.destroy_late;
	table_destroy(&r);
	assert_int_equal(nemitted, 2);
	assert_int_equal(stats.destroy_late, late + 1);
}

/*
 * A destroy of a socket never seen: reported without an owner if it was
 * bound, dropped if not, and one without a cookie is taken for neither
 * a known nor a closed socket (the ring holds owned sockets by now).
 */
static void
test_destroy_unknown(void **state)
{
	struct sock_rec	r;
	uint64_t	unbound;

	(void)state;
	reset();
	unbound = stats.destroy_unbound;
	r = gone(0x300, 0);
	table_destroy(&r);
	assert_int_equal(nemitted, 0);
	assert_int_equal(stats.destroy_unbound, unbound + 1);

	r = gone(0x301, 40002);
	table_destroy(&r);
	assert_int_equal(nemitted, 1);
	assert_int_equal(emitted[0].event, SOCK_CLOSE);
	assert_int_equal(emitted[0].pid, -1);

	r = gone(0, 40003);
	table_destroy(&r);
	assert_int_equal(nemitted, 2);
	assert_int_equal(emitted[1].cookie, 0);
}

/*
 * eBPF names a socket whose destroy came first: the open event goes out
 * with the owner, and a look-up after it finds the closed socket owned.
 */
static void
test_ebpf_after_destroy(void **state)
{
	struct sock_rec	r;

	(void)state;
	reset();
	r = gone(0x400, 40004);
	table_destroy(&r);
	assert_int_equal(nemitted, 1);
	assert_int_equal(emitted[0].pid, -1);

	r.state = 1;
	r.pid = 4242;
	r.source = SRC_EBPF;
	r.event = SOCK_OPEN;
	strcpy(r.comm, "curl");
	strcpy(r.exe, "/usr/bin/curl");
	table_ebpf(&r);
	assert_int_equal(nemitted, 2);
	assert_int_equal(emitted[1].event, SOCK_OPEN);
	assert_int_equal(emitted[1].pid, 4242);
	table_ebpf(&r);			/* again: nothing new */
	assert_int_equal(nemitted, 2);

	answered_closed(&r, 4242, "curl", "/usr/bin/curl");
}

/* A look-up of a socket the table lacks adds it, with its owner. */
static void
test_lookup(void **state)
{
	struct sock_rec		r;
	struct lookup_rec	q;
	struct answer_rec	a;

	(void)state;
	reset();
	r = tcp(0x500, 50, 40005);
	kern_lookup[nkern_lookup++] = r;
	q = ask(&r);
	table_lookup(&q, &a);
	assert_int_equal(a.found, 1);
	assert_int_equal(a.sock.source, SRC_LOOKUP);
	assert_int_equal(a.sock.pid, 1050);
	assert_int_equal(nemitted, 1);
	assert_int_equal(emitted[0].event, SOCK_OPEN);

	/* Known now: answered from the table, no second open event. */
	table_lookup(&q, &a);
	assert_int_equal(a.found, 1);
	assert_int_equal(a.sock.pid, 1050);
	assert_int_equal(nemitted, 1);

	/* Nowhere, and no closed socket on that port: not found. */
	nkern_lookup = 0;
	q.lport = 40999;
	table_lookup(&q, &a);
	assert_int_equal(a.found, 0);
	assert_int_equal(a.sock.pid, -1);
}

/*
 * A UDP socket connected to 198.18.0.2:53 closes, and another program
 * binds its local port for any remote: a look-up of the closed socket's
 * flow names the closed socket's owner, not the newcomer; a look-up of
 * another remote end gets the newcomer.
 */
static void
test_lookup_closed_exact(void **state)
{
	struct sock_rec		r, other;
	struct lookup_rec	q;
	struct answer_rec	a;

	(void)state;
	reset();
	r = tcp(0x600, 60, 40006);
	r.proto = IPPROTO_UDP;
	r.rport = 53;
	kern[nkern++] = r;
	table_dump(0);
	assert_int_equal(nemitted, 1);
	assert_int_equal(emitted[0].pid, 1060);
	r.event = SOCK_CLOSE;
	r.source = SRC_DESTROY;
	r.inode = 0;
	table_destroy(&r);
	assert_int_equal(nemitted, 2);

	other = tcp(0x601, 61, 40006);
	other.proto = IPPROTO_UDP;
	other.state = 7;
	other.rport = 0;
	memset(other.laddr, 0, sizeof(other.laddr));
	memset(other.raddr, 0, sizeof(other.raddr));
	kern_lookup[nkern_lookup++] = other;
	q = ask(&r);
	table_lookup(&q, &a);
	assert_int_equal(a.found, 1);
	assert_int_equal(a.sock.cookie, 0x600);
	assert_int_equal(a.sock.pid, 1060);
	assert_string_equal(a.sock.comm, "p60");

	q.rport = 54;
	table_lookup(&q, &a);
	assert_int_equal(a.found, 1);
	assert_int_equal(a.sock.cookie, 0x601);
	assert_int_equal(a.sock.pid, 1061);
}

/*
 * The ring of closed sockets wraps: an evicted socket is news again to
 * eBPF (an open, and a socket in the table), one still in it only gets
 * its owner (an open, no socket).
 */
static void
test_closed_wrap(void **state)
{
	struct sock_rec	r;
	size_t		n;
	int		i;

	(void)state;
	reset();
	for (i = 0; i < 2048 + 10; i++) {
		r = gone(0x10000 + (uint64_t)i, 41000);
		table_destroy(&r);
	}
	assert_int_equal(nemitted, 2048 + 10);
	n = table_count();

	r = gone(0x10000 + 2048 + 9, 41000);	/* the newest */
	r.event = SOCK_OPEN;
	r.source = SRC_EBPF;
	r.state = 1;
	r.pid = 77;
	table_ebpf(&r);
	assert_int_equal(nemitted, 2048 + 11);
	assert_int_equal(table_count(), n);
	table_destroy(&r);			/* late: nothing */
	assert_int_equal(nemitted, 2048 + 11);

	r.cookie = 0x10000 + 5;			/* evicted */
	table_ebpf(&r);
	assert_int_equal(nemitted, 2048 + 12);
	assert_int_equal(table_count(), n + 1);
}

/* An owned socket that eBPF saw and that then closed. */
static void
owned_closed(uint64_t cookie, uint16_t lport, int32_t pid, uint32_t uid,
    const char *comm)
{
	struct sock_rec	r = tcp(cookie, 0, lport);

	r.source = SRC_EBPF;
	r.event = SOCK_OPEN;
	r.pid = pid;
	r.uid = uid;
	snprintf(r.comm, sizeof(r.comm), "%s", comm);
	snprintf(r.exe, sizeof(r.exe), "/usr/bin/%s", comm);
	table_ebpf(&r);
	r = gone(cookie, lport);
	table_destroy(&r);
}

/*
 * A socket whose eBPF open and destroy event still wait to be read when
 * flowd asks about it: the look-up reads them, and answers with it, not
 * with an older closed socket of another process on the same port.
 */
static void
test_lookup_news(void **state)
{
	struct sock_rec	r;

	(void)state;
	reset();
	owned_closed(0x40000, 44000, 7000, 1000, "old");
	r = tcp(0x40001, 0, 44000);
	r.source = SRC_EBPF;
	r.event = SOCK_OPEN;
	r.pid = 7001;
	r.uid = 1000;
	snprintf(r.comm, sizeof(r.comm), "new");
	snprintf(r.exe, sizeof(r.exe), "/usr/bin/new");
	queued[nqueued++] = r;
	queued[nqueued++] = gone(0x40001, 44000);
	answered_closed(&r, 7001, "new", "/usr/bin/new");
}

/*
 * A user who opens and closes thousands of sockets pushes out their own
 * closed records, not another user's: the victim's short connections
 * are still answered after 6,144 of the flooder's, the flooder's newest
 * too, the flooder's oldest no longer.
 */
static void
test_closed_fair(void **state)
{
	struct sock_rec		r;
	struct lookup_rec	q;
	struct answer_rec	a;
	int			i;

	(void)state;
	reset();
	for (i = 0; i < 20; i++)
		owned_closed(0x20000 + (uint64_t)i, (uint16_t)(42000 + i),
		    5000, 1000, "victim");
	for (i = 0; i < 3 * 2048; i++)
		owned_closed(0x30000 + (uint64_t)i, (uint16_t)(43000 + i),
		    6000, 2000, "flood");
	for (i = 0; i < 20; i++) {
		r = tcp(0x20000 + (uint64_t)i, 0, (uint16_t)(42000 + i));
		answered_closed(&r, 5000, "victim", "/usr/bin/victim");
	}
	r = tcp(0x30000 + 3 * 2048 - 1, 0, 43000 + 3 * 2048 - 1);
	answered_closed(&r, 6000, "flood", "/usr/bin/flood");
	r = tcp(0x30000, 0, 43000);
	q = ask(&r);
	table_lookup(&q, &a);
	assert_int_equal(a.found, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_destroy),
		cmocka_unit_test(test_destroy_unknown),
		cmocka_unit_test(test_ebpf_after_destroy),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_lookup_closed_exact),
		cmocka_unit_test(test_closed_wrap),
		cmocka_unit_test(test_closed_fair),
		cmocka_unit_test(test_lookup_news),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
