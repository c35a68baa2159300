# sockd/module.mk: the socket daemon.  The backend files are picked by
# OS: sockd_<os>.c reads the socket tables, owner_<os>.c finds owners.

PROGRAMS += sockd
sockd_SRCS = sockd/sockd.c sockd/table.c sockd/emit.c sockd/query.c \
	sockd/hash.c sockd/sockd_$(OS_SRC).c sockd/owner_$(OS_SRC).c
sockd_PKGS =
MANPAGES += sockd/sockd.8

UNIT_TESTS += sockd_test
sockd_test_SRCS = tests/unit/sockd_test.c sockd/hash.c sockd/query.c
