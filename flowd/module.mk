# flowd/module.mk: the flow daemon, its unit tests and man page.

PROGRAMS += flowd
FLOWD_CORE = flowd/flow.c flowd/label.c flowd/batch.c flowd/privacy.c \
	flowd/input.c flowd/live.c flowd/apps.c
flowd_SRCS = flowd/flowd.c flowd/sandbox.c $(FLOWD_CORE)
flowd_PKGS = sqlite3

UNIT_TESTS += flow_test privacy_test
flow_test_SRCS = tests/unit/flow_test.c $(FLOWD_CORE)
flow_test_PKGS = sqlite3
privacy_test_SRCS = tests/unit/privacy_test.c flowd/privacy.c

MANPAGES += flowd/flowd.8
