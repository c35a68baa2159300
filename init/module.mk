# init/module.mk: the master (vbsd), the admin command (vbsctl) and the
# service files.

PROGRAMS += vbsctl
vbsctl_SRCS = init/vbsctl.c init/top.c init/stats.c init/enroll.c
vbsctl_PKGS = libcurl

PROGRAMS += vbsd
vbsd_SRCS = init/vbsd.c init/supervise.c init/control.c
vbsd_PKGS =
MANPAGES += init/vbsd.8 init/vbsctl.8
