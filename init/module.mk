# init/module.mk: the master (vbsd), the admin command (vbsctl) and the
# service files.

PROGRAMS += vbsctl
vbsctl_SRCS = init/vbsctl.c init/top.c init/stats.c init/enroll.c \
	shipd/https.c shipd/httpreply.c
vbsctl_PKGS = libssl libcrypto

PROGRAMS += vbsd
vbsd_SRCS = init/vbsd.c init/supervise.c init/control.c init/reload.c
vbsd_PKGS =
MANPAGES += init/vbsd.8 init/vbsctl.8

UNIT_TESTS += supervise_test
supervise_test_SRCS = tests/unit/supervise_test.c init/supervise.c
