/*
 * sandbox_freebsd.c: what sockd keeps once it has given up privilege on
 * FreeBSD: no capability and no sandbox (see below).  Compiled only on
 * FreeBSD (sockd/module.mk picks it).
 */

#include "sockd.h"

/*
 * No capabilities to keep: pcblist and kern.file show other users'
 * sockets to an unprivileged user unless security.bsd.see_other_uids
 * is 0.  No Capsicum either: capability mode forbids these sysctls.
 */
static const int keep_none[] = { -1 };

const int *
backend_keep_caps(void)
{
	return keep_none;
}

const struct sandbox_spec *
backend_sandbox(void)
{
	return NULL;
}

/* No capabilities, so nothing to keep apart: see sandbox_linux.c. */
void
sockd_split(void)
{
}

void
priv_call(void (*fn)(void *), void *arg)
{
	fn(arg);
}

uint64_t
priv_calls(void)
{
	return 0;
}
