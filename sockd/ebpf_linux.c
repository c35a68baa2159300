/*
 * ebpf_linux.c: sockd's eBPF backend, Linux only, optional.  Loads the
 * programs of ebpf.bpf.c (embedded in sockd at build time) on BTF
 * tracepoints that run in the context of the process that sends or
 * connects: they name the owner of sockets that close before a dump or
 * a look-up can reach them, and before /proc could tell.  Loading needs
 * CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) and is done before
 * priv_drop(); afterwards sockd keeps only the ring buffer, mapped in
 * its memory and read without a system call (its fd is polled).
 *
 * Anything that refuses (the kernel, the privileges, a missing hook)
 * makes ebpf_open() fail with a reason; sockd logs it once and goes on
 * with sock_diag and the proc connector.
 *
 * Trusts: the ring buffer's records (written by our own programs; still
 * size-checked).
 */

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sockd.h"
#include "ebpf_event.h"
#include "sockd_bpf.h"		/* generated: sockd_bpf_obj[] */
#include "sockd_btf.h"		/* generated: SOCKD_MIN_BTF, ... */
#include "btfsum.h"

static struct bpf_object	*obj;
static struct bpf_link		*links[8];
static int			 nlinks;
static struct ring_buffer	*rb;
static int			 rb_fd = -1;
static sock_cb			 ev_cb;
static void			*ev_arg;
static char			 last_msg[256];
static int			 tp_handler = -1;	/* our tp_btf/ */

/* libbpf's own messages: kept (the last warning gives the reason). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int
ebpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char	buf[256];

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	if (buf[0] != '\0')
		snprintf(last_msg, sizeof(last_msg), "%s", buf);
	log_debug("ebpf: libbpf: %s", buf);
	return 0;
}
#pragma GCC diagnostic pop

static void
fail(char *why, size_t len, const char *what, int e)
{
	const char	*hint = "";

	if (e == EPERM || e == EACCES)
		hint = " (needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)";
	snprintf(why, len, "%s: %s%s", what, strerror(e), hint);
}

/* An IPv4-mapped IPv6 address: reported as IPv4, as the packets are. */
static int
v4mapped(const uint8_t *a)
{
	static const uint8_t	pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };

	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

/*
 * The first datagram's addresses: an unconnected socket stores no peer,
 * and an unbound one no local address.
 */
static void
from_packet(const struct ebpf_event *e, struct sock_rec *r)
{
	size_t	alen = e->pkt_ver == 4 ? 4 : 16;

	memset(r->laddr, 0, sizeof(r->laddr));
	memset(r->raddr, 0, sizeof(r->raddr));
	r->ipver = e->pkt_ver;
	memcpy(r->laddr, e->pkt_src, alen);
	memcpy(r->raddr, e->pkt_dst, alen);
	r->lport = ntohs(e->pkt_sport);
	r->rport = ntohs(e->pkt_dport);
}

static void
event_to_rec(const struct ebpf_event *e, struct sock_rec *r)
{
	struct owner_image	 im;

	memset(r, 0, sizeof(*r));
	r->ts_us = now_us();
	r->inode = e->inode;
	r->cookie = e->cookie;
	r->uid = e->uid;
	r->pid = (int32_t)e->tgid;
	r->event = SOCK_OPEN;
	r->source = SRC_EBPF;
	r->lport = e->lport;
	if (e->hook == EBPF_HOOK_TCP) {
		r->proto = IPPROTO_TCP;
		r->state = 2;		/* SYN_SENT */
	} else
		r->proto = IPPROTO_UDP;
	if (e->family != AF_INET6) {
		r->ipver = 4;
		memcpy(r->laddr, &e->saddr4, 4);
		memcpy(r->raddr, &e->daddr4, 4);
	} else if (e->dport != 0 && !v4mapped(e->daddr6)) {
		r->ipver = 6;
		memcpy(r->laddr, e->saddr6, 16);
		memcpy(r->raddr, e->daddr6, 16);
	} else {
		r->ipver = 4;
		memcpy(r->raddr, e->daddr6 + 12, 4);
	}
	r->rport = ntohs(e->dport);
	/* Local address of an IPv6 socket: as its peer's family. */
	if (e->family == AF_INET6) {
		memset(r->laddr, 0, sizeof(r->laddr));
		if (r->ipver == 6)
			memcpy(r->laddr, e->saddr6, 16);
		else if (v4mapped(e->saddr6))
			memcpy(r->laddr, e->saddr6 + 12, 4);
	}
	if (e->pkt_ver == 4 || e->pkt_ver == 6)
		from_packet(e, r);
	memcpy(r->comm, e->comm, sizeof(e->comm) < sizeof(r->comm) ?
	    sizeof(e->comm) : sizeof(r->comm));
	r->comm[sizeof(r->comm) - 1] = '\0';
	im.start_ns = e->who.start_ns;
	im.ino = e->who.exe_ino;
	im.dev = e->who.exe_dev;
	owner_exe(r, &im);
}

static int
on_event(void *ctx, void *data, size_t size)
{
	struct ebpf_event	e;
	struct sock_rec		r;

	(void)ctx;
	if (size < sizeof(e)) {
		log_warnx("ebpf: short record (%zu bytes)", size);
		return 0;
	}
	memcpy(&e, data, sizeof(e));
	event_to_rec(&e, &r);
	stats.ebpf_events++;
	ev_cb(ev_arg, &r);
	return 0;
}

#if SOCKD_MIN_BTF
/*
 * libbpf 1.1 reads the kernel's whole BTF (5.5 MB here) for CO-RE and to
 * find each tracepoint's BTF id, and holds it twice while it loads:
 * that was sockd's peak memory.  When the running kernel's BTF is the
 * one sockd was built against (same size and checksum), the build's
 * minimal BTF of our programs (bpftool gen min_core_btf, a few KB)
 * serves CO-RE, and the ids come from the build (genbtf.sh).  The BTF
 * is read once, through a small buffer, to check that.
 */
static int
kernel_btf_is_builds(void)
{
	uint64_t	sum, size;
	int		fd, r;

	if ((fd = open("/sys/kernel/btf/vmlinux", O_RDONLY | O_CLOEXEC)) ==
	    -1)
		return 0;
	r = btfsum_fd(fd, &sum, &size);
	close(fd);
	return r == 0 && size == SOCKD_BTF_SIZE && sum == SOCKD_BTF_SUM;
}

/*
 * tp_btf programs, with the tracepoint's BTF id from the build.  They
 * are opened as raw tracepoints and become tracing programs only here,
 * just before the kernel gets them: libbpf 1.1 reads the kernel's BTF
 * for any tracing program it sees when the load begins.  Should a
 * later libbpf differ, the load fails and ebpf_open() loads the usual
 * way.
 */
static int
tp_prepare(struct bpf_program *prog, struct bpf_prog_load_opts *lo,
    long cookie)
{
	const char	*tp = strchr(bpf_program__section_name(prog), '/');
	size_t		 i;

	(void)cookie;
	for (i = 0; tp != NULL && i < sizeof(sockd_btf_ids) /
	    sizeof(sockd_btf_ids[0]); i++)
		if (strcmp(sockd_btf_ids[i].tp, tp + 1) == 0) {
			lo->attach_btf_id = sockd_btf_ids[i].id;
			return bpf_program__set_type(prog,
			    BPF_PROG_TYPE_TRACING);
		}
	return -ENOENT;
}

static int
tp_attach(const struct bpf_program *prog, long cookie, struct bpf_link **l)
{
	(void)cookie;
	*l = bpf_program__attach_trace(prog);
	return *l != NULL ? 0 : -errno;
}

/*
 * The minimal BTF, in a memory file that libbpf opens by name; and our
 * handler of tp_btf sections.  Returns the memory file, or -1 (then
 * libbpf does it all, reading the kernel's BTF).
 */
static int
min_btf_setup(char *path, size_t len)
{
	LIBBPF_OPTS(libbpf_prog_handler_opts, ho,
	    .prog_prepare_load_fn = tp_prepare,
	    .prog_attach_fn = tp_attach);
	int	fd;

	if (!kernel_btf_is_builds()) {
		log_info("ebpf: the kernel's BTF is not the one sockd was "
		    "built with: reading it whole (about 8 MB more memory "
		    "while loading)");
		return -1;
	}
	if ((fd = memfd_create("sockd-btf", MFD_CLOEXEC)) == -1)
		return -1;
	if (write(fd, sockd_min_btf, sizeof(sockd_min_btf)) !=
	    (ssize_t)sizeof(sockd_min_btf) ||
	    (tp_handler = libbpf_register_prog_handler("tp_btf/",
	    BPF_PROG_TYPE_RAW_TRACEPOINT, BPF_TRACE_RAW_TP, &ho)) < 0) {
		log_warnx("ebpf: minimal BTF: %s", strerror(errno));
		tp_handler = -1;
		close(fd);
		return -1;
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}
#endif

/*
 * Opens and loads the programs into obj; with btf_path, CO-RE relocates
 * against that BTF.  -1 with errno, and *what says which step refused.
 */
static int
load_obj(const char *btf_path, const char **what)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "sockd",
	    .btf_custom_path = btf_path);

	last_msg[0] = '\0';
	*what = "open";
	if ((obj = bpf_object__open_mem(sockd_bpf_obj, sizeof(sockd_bpf_obj),
	    &oo)) == NULL)
		return -1;
	*what = "load";
	return bpf_object__load(obj) == 0 ? 0 : -1;
}

int
ebpf_open(const char *netns, char *why, size_t len)
{
	struct bpf_program	*prog;
	struct bpf_map		*m;
	struct stat		 st;
	const char		*what;
	uint32_t		 k = 0, ino;
	int			 attached = 0, e = 0, r = -1, minimal = 0;

	libbpf_set_print(ebpf_print);
	if (stat(netns != NULL ? netns : "/proc/self/ns/net", &st) == -1) {
		fail(why, len, "network namespace", errno);
		return -1;
	}
	ino = (uint32_t)st.st_ino;
#if SOCKD_MIN_BTF
	{
		char	path[64];
		int	btf_fd;

		if ((btf_fd = min_btf_setup(path, sizeof(path))) != -1) {
			r = load_obj(path, &what);
			e = errno;
			close(btf_fd);
			minimal = r == 0 || e == EPERM || e == EACCES;
			if (!minimal) {
				log_info("ebpf: with the build's minimal BTF: "
				    "%s: %s%s%s; loading the usual way", what,
				    strerror(e), last_msg[0] ? ": " : "",
				    last_msg);
				ebpf_close();
			}
		}
	}
#endif
	if (!minimal) {
		r = load_obj(NULL, &what);
		e = errno;
	}
	if (r == -1) {
		if (e == EPERM || e == EACCES || last_msg[0] == '\0')
			fail(why, len, what, e);
		else
			snprintf(why, len, "%s: %s: %s", what, strerror(e),
			    last_msg);
		goto bad;
	}
	if ((m = bpf_object__find_map_by_name(obj, "conf")) == NULL ||
	    bpf_map_update_elem(bpf_map__fd(m), &k, &ino, BPF_ANY) != 0) {
		fail(why, len, "conf map", errno);
		goto bad;
	}
	bpf_object__for_each_program(prog, obj) {
		struct bpf_link *l;

		if (nlinks == (int)(sizeof(links) / sizeof(links[0])))
			break;
		if ((l = bpf_program__attach(prog)) == NULL) {
			log_warnx("ebpf: cannot attach %s: %s",
			    bpf_program__name(prog), strerror(errno));
			continue;
		}
		links[nlinks++] = l;
		attached++;
	}
	if (attached == 0) {
		snprintf(why, len, "attach: no hook accepted%s%s",
		    last_msg[0] ? ": " : "", last_msg);
		goto bad;
	}
	if ((m = bpf_object__find_map_by_name(obj, "events")) == NULL ||
	    (rb = ring_buffer__new(bpf_map__fd(m), on_event, NULL,
	    NULL)) == NULL) {
		fail(why, len, "ring buffer", errno);
		goto bad;
	}
	rb_fd = bpf_map__fd(m);
	log_debug("ebpf: %d hooks, namespace %u", attached, ino);
	return 0;
bad:
	ebpf_close();
	return -1;
}

/* Detach every hook and free what libbpf holds. */
void
ebpf_close(void)
{
	if (rb != NULL)
		ring_buffer__free(rb);
	rb = NULL;
	rb_fd = -1;
	while (nlinks > 0)
		bpf_link__destroy(links[--nlinks]);
	if (obj != NULL)
		bpf_object__close(obj);
	obj = NULL;
	/* After the object: its programs point into libbpf's handlers. */
	if (tp_handler >= 0)
		libbpf_unregister_prog_handler(tp_handler);
	tp_handler = -1;
}

int
ebpf_fd(void)
{
	return rb_fd;
}

/* Everything in the ring buffer now; no system call. */
int
ebpf_events(sock_cb cb, void *arg)
{
	int	n;

	if (rb == NULL)
		return 0;
	ev_cb = cb;
	ev_arg = arg;
	if ((n = ring_buffer__consume(rb)) < 0) {
		errno = -n;
		return -1;
	}
	return n;
}
