/*
 * ebpf_none.c: sockd built without its eBPF backend (no clang, no
 * libbpf, or not Linux).  ebpf_open() always says why.
 */

#include <stdio.h>

#include "sockd.h"

int
ebpf_open(const char *netns, char *why, size_t len)
{
	(void)netns;
	snprintf(why, len, "not built");
	return -1;
}

int
ebpf_fd(void)
{
	return -1;
}

int
ebpf_events(sock_cb cb, void *arg)
{
	(void)cb;
	(void)arg;
	return 0;
}

void
ebpf_close(void)
{
}
