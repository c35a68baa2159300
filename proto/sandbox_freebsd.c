/*
 * sandbox_freebsd.c: the FreeBSD part of giving up privilege, for every
 * stage; compiled only there.  FreeBSD has no capabilities to keep in
 * the Linux sense.  Its sandbox is Capsicum, which limits descriptors
 * rather than system calls: before sandbox_enter() each stage narrows
 * every fd it keeps with cap_rights_limit(2) (and cap_ioctls_limit(2),
 * cap_fcntls_limit(2) where it needs them); cap_enter(2) then closes
 * every global namespace: no open by path, no new socket, no exec.
 */

#include <sys/param.h>
#include <sys/capsicum.h>
#include <sys/procctl.h>

#include <errno.h>
#include <unistd.h>

#include "proto.h"

void
sandbox_priv_prepare(const struct priv_spec *spec)
{
	if (spec->keep_caps != NULL && spec->keep_caps[0] != -1)
		fatalx("capabilities are Linux only: on FreeBSD a stage "
		    "keeps none (fix its priv_spec)");
}

/* no_new_privs exists from FreeBSD 14; older kernels rely on cap_enter. */
void
sandbox_priv_finish(const struct priv_spec *spec)
{
#ifdef PROC_NO_NEW_PRIVS_CTL
	int	 flag = PROC_NO_NEW_PRIVS_ENABLE;

	if (procctl(P_PID, getpid(), PROC_NO_NEW_PRIVS_CTL, &flag) == -1)
		fatal("procctl PROC_NO_NEW_PRIVS_CTL");
#endif
	(void)spec;
}

void
sandbox_enter(const struct sandbox_spec *spec)
{
	if (cap_enter() == -1) {
		if (errno == ENOSYS)
			fatalx("%s: this kernel has no Capsicum "
			    "(options CAPABILITY_MODE)", spec->name);
		fatal("%s: cap_enter", spec->name);
	}
}

/*
 * No path list without Capsicum's descriptor rights, which a process
 * that opens files by name later (ingestd) cannot enter: the user's
 * permissions alone.
 */
void
sandbox_paths(const char *name, const struct sandbox_path *paths)
{
	(void)name;
	(void)paths;
}
