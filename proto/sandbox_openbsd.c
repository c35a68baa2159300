/*
 * sandbox_openbsd.c: the OpenBSD part of giving up privilege, for every
 * stage; compiled only there.  OpenBSD has no capabilities to keep and
 * no no_new_privs: pledge(2) without "exec" is what stops a stage from
 * running anything, and its promises are the allow-list that seccomp is
 * on Linux.  Stages that read files unveil(2) them before this and lock
 * the list with unveil(NULL, NULL).
 */

#include <unistd.h>

#include "proto.h"

void
sandbox_priv_prepare(const struct priv_spec *spec)
{
	if (spec->keep_caps != NULL && spec->keep_caps[0] != -1)
		fatalx("capabilities are Linux only: on OpenBSD a stage "
		    "keeps none (fix its priv_spec)");
}

void
sandbox_priv_finish(const struct priv_spec *spec)
{
	(void)spec;
}

void
sandbox_enter(const struct sandbox_spec *spec)
{
	if (spec->pledge == NULL)
		fatalx("%s: no pledge promises in its sandbox_spec",
		    spec->name);
	if (pledge(spec->pledge, NULL) == -1)
		fatal("%s: pledge \"%s\"", spec->name, spec->pledge);
}

void
sandbox_paths(const char *name, const struct sandbox_path *paths)
{
	const struct sandbox_path *p;

	for (p = paths; p->path != NULL; p++)
		if (unveil(p->path, p->access & SANDBOX_WRITE ? "rwc" : "r") ==
		    -1)
			fatal("%s: unveil %s", name, p->path);
	if (unveil(NULL, NULL) == -1)
		fatal("%s: unveil", name);
}
